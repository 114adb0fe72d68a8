# Vigil's two quick-start commands, `make demo` and `make test`, work on a fresh machine with
# Python 3.11 and git: they create .venv, install Vigil with its test extras, then run.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test test-quick lint format setup clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,demo]'
	@# libvirt-python builds from source (libvirt-dev pkg-config gcc): without them the
	@# libvirt tests skip locally and fail in CI, where .ci/run installs the build tools.
	$(BIN)/pip install --quiet -e '.[libvirt]' || echo "make: libvirt-python not built (apt-get install libvirt-dev pkg-config gcc); the libvirt tests will skip"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/vigil demo --serve --database sqlite:///$(CURDIR)/demo/vigil.db

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-quick: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/inventory.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
