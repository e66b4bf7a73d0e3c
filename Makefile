# The two commands of README.md: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install install-mlip install-mace install-test-plugins demo test lint pytest api worker dashboard flower clean

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

## A second worker environment for the 'mace' family: mace-torch 0.3.16 pins e3nn==0.4.4, which
## conflicts with sevenn (e3nn >= 0.5) in .venv. torch first (the CPU build on local disk), then
## mace-torch, then the platform itself (with torch and e3nn restated, so nothing moves them).
## Its worker listens on the queue MLIPM_FAMILY_QUEUES routes 'mace' to, e.g.
##   MLIPM_FAMILY_QUEUES='{"mace": "mace"}' .venv-mace/bin/mlipm worker --queue mace
MACE_VENV ?= .venv-mace
MACE_STAMP := $(MACE_VENV)/.installed-stamp

$(MACE_STAMP): pyproject.toml
	test -x $(MACE_VENV)/bin/python || $(PYTHON) -m venv $(MACE_VENV)
	$(MACE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MACE_VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(MACE_VENV)/bin/python -m pip install --quiet mace-torch==0.3.16 torch==2.13.0
	$(MACE_VENV)/bin/python -m pip install --quiet -e . torch==2.13.0 e3nn==0.4.4
	$(MACE_VENV)/bin/python -c "import mace, e3nn, torch, celery, sqlalchemy; \
		assert torch.__version__.split('+')[0] == '2.13.0', torch.__version__; \
		assert e3nn.__version__ == '0.4.4', e3nn.__version__"
	touch $(MACE_STAMP)

install-mace: $(MACE_STAMP)

## The example adapter plugin the fault tests use (control models that fail on purpose).
install-test-plugins: install
	$(BIN)/python -m pip install --quiet --no-deps -e tests/plugins/faulty_models

## Start (or reuse) Postgres and Redis, API, worker, dashboard, Flower; run the demo campaign.
demo: install install-mlip
	$(BIN)/mlipm demo

## Lint, type-check, layer contracts, then the whole test suite.
test: install install-mlip install-mace install-test-plugins lint pytest

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
