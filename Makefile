# The two commands of README.md: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install install-mlip install-test-plugins demo test lint pytest api worker dashboard flower clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The optional MLIP packages (torch CPU build first, so nothing pulls a CUDA build).
install-mlip: install
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,mlip]'

## The example adapter plugin the fault tests use (control models that fail on purpose).
install-test-plugins: install
	$(BIN)/python -m pip install --quiet --no-deps -e tests/plugins/faulty_models

## Start (or reuse) Postgres and Redis, API, worker, dashboard, Flower; run the demo campaign.
demo: install
	$(BIN)/mlipm demo

## Lint, type-check, layer contracts, then the whole test suite.
test: install install-mlip install-test-plugins lint pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest

# The same commands docker-compose.yml runs, one service each.
api: install
	$(BIN)/mlipm api
worker: install
	$(BIN)/mlipm worker
dashboard: install
	$(BIN)/mlipm dashboard
flower: install
	$(BIN)/mlipm flower

clean:
	rm -rf $(VENV) .mlipm
