# The two commands of README.md: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install install-mlip install-mace install-orb install-test-plugins demo test lint pytest bench api worker dashboard dashboard-dev flower clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The optional MLIP packages (torch CPU build first, so nothing pulls a CUDA build), and the
## landscape benchmark's map packages (dscribe, umap-learn, phate; none needs torch).
MLIP_STAMP := $(VENV)/.installed-mlip-stamp

$(MLIP_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,mlip,landscape]'
	touch $(MLIP_STAMP)

install-mlip: $(MLIP_STAMP)

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

## A third worker environment for the 'orb' and 'mattersim' families: orb-models 0.5.5 pulls
## cached_path, which downgrades rich, filelock and huggingface_hub below .venv's; mattersim
## 1.2.3 requires torchvision and torchaudio (a CUDA torch) and training/data packages its
## inference path never imports, so it goes in with --no-deps plus exactly what
## mattersim.forcefield.potential imports (e3nn, torch-geometric, torch-ema, torch-runstats,
## torchmetrics, deprecated, loguru). torch==2.13.0 is restated in every pip command.
##   MLIPM_FAMILY_QUEUES='{"orb": "orb", "mattersim": "orb"}' .venv-orb/bin/mlipm worker --queue orb
ORB_VENV ?= .venv-orb
ORB_STAMP := $(ORB_VENV)/.installed-stamp

$(ORB_STAMP): pyproject.toml
	test -x $(ORB_VENV)/bin/python || $(PYTHON) -m venv $(ORB_VENV)
	$(ORB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(ORB_VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(ORB_VENV)/bin/python -m pip install --quiet --no-deps mattersim==1.2.3
	$(ORB_VENV)/bin/python -m pip install --quiet torch==2.13.0 orb-models==0.5.5 \
		e3nn==0.6.0 torch-geometric==2.8.1 torch-ema==0.3 torch-runstats==0.2.0 \
		torchmetrics==1.9.0 deprecated loguru -e .
	$(ORB_VENV)/bin/python -c "import sys, torch, orb_models.forcefield.pretrained, \
		mattersim.forcefield.potential, celery, sqlalchemy; \
		assert torch.__version__.split('+')[0] == '2.13.0', torch.__version__; \
		assert 'torchvision' not in sys.modules and 'torchaudio' not in sys.modules"
	touch $(ORB_STAMP)

install-orb: $(ORB_STAMP)

## The example adapter plugin the fault tests use (control models that fail on purpose).
PLUGINS_STAMP := $(VENV)/.installed-test-plugins-stamp

$(PLUGINS_STAMP): tests/plugins/faulty_models/pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps -e tests/plugins/faulty_models
	touch $(PLUGINS_STAMP)

install-test-plugins: $(PLUGINS_STAMP)

## Start (or reuse) Postgres and Redis, API, worker, dashboard, Flower; run the demo campaign.
demo: install install-mlip
	$(BIN)/mlipm demo

## Lint, type-check, layer contracts, dead code (vulture), then the whole test suite.
test: install install-mlip install-mace install-orb install-test-plugins lint pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/vulture

## Two pytest-xdist workers, each with its own throwaway database and Celery queue (tests/
## conftest.py), one test module at a time; PYTEST_WORKERS=0 runs the suite in one process.
PYTEST_WORKERS ?= 2

pytest: install
	$(BIN)/pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile)

## Every performance harness (bench/), quick sizes; `make bench FULL=1` for the published ones
## (docs/performance.md). Each prints its figures and writes JSON under bench/results/.
bench: install install-mlip
	$(BIN)/python -m bench $(if $(FULL),--full)

# The same commands docker-compose.yml runs, one service each. The API is uvicorn with read
# deadlines on slow clients (`mlipm api --help`); the dashboard is gunicorn (gevent workers).
api: install
	$(BIN)/mlipm api
worker: install
	$(BIN)/mlipm worker
dashboard: install
	$(BIN)/mlipm dashboard
## Flask's development server instead of gunicorn: one process, for debugging the dashboard.
dashboard-dev: install
	$(BIN)/mlipm dashboard --dev
flower: install
	$(BIN)/mlipm flower

clean:
	rm -rf $(VENV) $(MACE_VENV) $(ORB_VENV) .mlipm
