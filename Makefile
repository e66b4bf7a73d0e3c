# The two commands of README.md: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install install-mlip install-mace install-orb mace-shared orb-shared thin-venv install-test-plugins demo test lint pytest bench api worker dashboard dashboard-dev flower clean

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

## The extra worker environments' packages are built once per recipe and shared by every clone
## of the project: $(ENV_CACHE)/<name>-<key>, where <key> hashes pyproject.toml and the recipe
## of <name>-shared below (a change to either builds a new one: they are the lock files here). A clone's .venv-mace or
## .venv-orb is then a small venv that reads them through a .pth file, with the platform itself
## installed from the clone (editable, no dependencies): seconds instead of minutes. The build
## holds a lock, so clones building at once wait for one build.
ENV_CACHE ?= $(HOME)/.cache/mlipm/worker-envs
env_key = $(shell { cat pyproject.toml; sed -n '/^$(1)-shared:/,/^$$/p' Makefile; } | sha256sum | cut -c1-16)
SITE_PACKAGES := import site; print(site.getsitepackages()[0])

## A second worker environment for the 'mace' family: mace-torch 0.3.16 pins e3nn==0.4.4, which
## conflicts with sevenn (e3nn >= 0.5) in .venv. torch first (the CPU build on local disk), then
## mace-torch, then the platform's dependencies (with torch and e3nn restated, so nothing moves
## them; the platform itself is uninstalled there and comes from each clone).
## Its worker listens on the queue MLIPM_FAMILY_QUEUES routes 'mace' to, e.g.
##   MLIPM_FAMILY_QUEUES='{"mace": "mace"}' .venv-mace/bin/mlipm worker --queue mace
MACE_VENV ?= .venv-mace
MACE_STAMP := $(MACE_VENV)/.installed-stamp
MACE_SHARED := $(ENV_CACHE)/mace-$(call env_key,mace)

$(MACE_STAMP): pyproject.toml
	mkdir -p $(ENV_CACHE)
	flock $(MACE_SHARED).lock $(MAKE) --no-print-directory mace-shared
	$(MAKE) --no-print-directory thin-venv VENV_DIR=$(MACE_VENV) SHARED=$(MACE_SHARED)
	$(MACE_VENV)/bin/python -c "import mace, e3nn, torch, celery, sqlalchemy, backend; \
		assert torch.__version__.split('+')[0] == '2.13.0', torch.__version__; \
		assert e3nn.__version__ == '0.4.4', e3nn.__version__; \
		assert backend.__file__.startswith('$(CURDIR)/'), backend.__file__"
	touch $(MACE_STAMP)

install-mace: $(MACE_STAMP)

mace-shared:
	test -f $(MACE_SHARED)/.complete || ( set -e; rm -rf $(MACE_SHARED); \
		$(PYTHON) -m venv $(MACE_SHARED); \
		$(MACE_SHARED)/bin/python -m pip install --quiet --upgrade pip; \
		$(MACE_SHARED)/bin/python -m pip install --quiet torch==2.13.0; \
		$(MACE_SHARED)/bin/python -m pip install --quiet mace-torch==0.3.16 torch==2.13.0; \
		$(MACE_SHARED)/bin/python -m pip install --quiet -e . torch==2.13.0 e3nn==0.4.4; \
		$(MACE_SHARED)/bin/python -m pip uninstall --quiet -y mlip-metrology; \
		touch $(MACE_SHARED)/.complete )

## A third worker environment for the 'orb' and 'mattersim' families: orb-models 0.5.5 pulls
## cached_path, which downgrades rich, filelock and huggingface_hub below .venv's; mattersim
## 1.2.3 requires torchvision and torchaudio (a CUDA torch) and training/data packages its
## inference path never imports, so it goes in with --no-deps plus exactly what
## mattersim.forcefield.potential imports (e3nn, torch-geometric, torch-ema, torch-runstats,
## torchmetrics, deprecated, loguru). torch==2.13.0 is restated in every pip command.
##   MLIPM_FAMILY_QUEUES='{"orb": "orb", "mattersim": "orb"}' .venv-orb/bin/mlipm worker --queue orb
ORB_VENV ?= .venv-orb
ORB_STAMP := $(ORB_VENV)/.installed-stamp
ORB_SHARED := $(ENV_CACHE)/orb-$(call env_key,orb)

$(ORB_STAMP): pyproject.toml
	mkdir -p $(ENV_CACHE)
	flock $(ORB_SHARED).lock $(MAKE) --no-print-directory orb-shared
	$(MAKE) --no-print-directory thin-venv VENV_DIR=$(ORB_VENV) SHARED=$(ORB_SHARED)
	$(ORB_VENV)/bin/python -c "import sys, torch, orb_models.forcefield.pretrained, \
		mattersim.forcefield.potential, celery, sqlalchemy, backend; \
		assert torch.__version__.split('+')[0] == '2.13.0', torch.__version__; \
		assert 'torchvision' not in sys.modules and 'torchaudio' not in sys.modules; \
		assert backend.__file__.startswith('$(CURDIR)/'), backend.__file__"
	touch $(ORB_STAMP)

install-orb: $(ORB_STAMP)

orb-shared:
	test -f $(ORB_SHARED)/.complete || ( set -e; rm -rf $(ORB_SHARED); \
		$(PYTHON) -m venv $(ORB_SHARED); \
		$(ORB_SHARED)/bin/python -m pip install --quiet --upgrade pip; \
		$(ORB_SHARED)/bin/python -m pip install --quiet torch==2.13.0; \
		$(ORB_SHARED)/bin/python -m pip install --quiet --no-deps mattersim==1.2.3; \
		$(ORB_SHARED)/bin/python -m pip install --quiet torch==2.13.0 orb-models==0.5.5 \
			e3nn==0.6.0 torch-geometric==2.8.1 torch-ema==0.3 torch-runstats==0.2.0 \
			torchmetrics==1.9.0 deprecated loguru -e .; \
		$(ORB_SHARED)/bin/python -m pip uninstall --quiet -y mlip-metrology; \
		touch $(ORB_SHARED)/.complete )

## A clone's venv reading $(SHARED)'s packages (after its own), with the platform from the clone.
thin-venv:
	rm -rf $(VENV_DIR)
	$(PYTHON) -m venv $(VENV_DIR)
	echo "import site; site.addsitedir('$$($(SHARED)/bin/python -c '$(SITE_PACKAGES)')')" \
		> "$$($(VENV_DIR)/bin/python -c '$(SITE_PACKAGES)')/_mlipm_worker_env.pth"
	$(VENV_DIR)/bin/python -m pip install --quiet --no-deps -e .

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

## The shared worker-environment packages stay in $(ENV_CACHE) (other clones read them).
clean:
	rm -rf $(VENV) $(MACE_VENV) $(ORB_VENV) .mlipm
