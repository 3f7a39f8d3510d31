# amapi-cosu — every entry point a developer or CI needs. Each target sets itself up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
READY  := $(VENV)/.installed
EMAIL  ?= admin@example.com

.PHONY: run test lint bench stage token clean

$(READY): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(READY)

run: $(READY)  ## start the whole local stack, with the last run's data (Ctrl-C saves and stops it; FRESH=1 starts empty)
	@$(PY) -m devstack $(if $(filter-out 0 no false,$(FRESH)),--fresh)

test: $(READY)  ## run every test against the real emulators
	$(PY) -m pytest

lint: $(READY)  ## ruff everywhere, mypy on shared/ and the CLI
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(READY)  ## benchmarks that print numbers
	$(PY) -m bench

stage: $(READY)  ## self-contained deployable folders in build/staged/
	$(PY) -m devstack.stage build/staged

token: $(READY)  ## print a local bearer token: make token EMAIL=x@example.com
	@$(PY) -m devstack.token $(EMAIL)

clean:
	rm -rf $(VENV) build .devstack .pytest_cache .mypy_cache .ruff_cache
