# The two commands of the README: `make playground` and `make test`. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_PACKAGES := openssl prometheus hey nginx

.PHONY: test playground lint types contracts unit integration control-plane crds clean system-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Debian packages the tests and the playground run for real (Prometheus, hey, openssl).
system-deps:
	@command -v prometheus >/dev/null && command -v hey >/dev/null && command -v nginx >/dev/null \
	  || { $(SUDO) apt-get update -qq && \
	       $(SUDO) apt-get install -y -qq --no-install-recommends $(DEBIAN_PACKAGES); }

control-plane:
	bash scripts/build-control-plane.sh

lint: $(STAMP)
	$(BIN)/ruff check .

types: $(STAMP)
	MYPY=$(BIN)/mypy bash scripts/typecheck.sh

contracts: $(STAMP)
	$(BIN)/lint-imports

crds: $(STAMP)
	$(BIN)/flagger crds > deploy/crds/crds.yaml

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP) system-deps control-plane
	$(BIN)/pytest tests/integration

## Lint, types, layering contracts, then the whole test suite on a real local control plane.
test: $(STAMP) system-deps control-plane lint types contracts
	$(BIN)/pytest

## The tutorial on a local control plane.
playground: $(STAMP) system-deps control-plane
	$(BIN)/flagger playground

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
