# driftaudit: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

# the modules setup.py compiles: editing one rebuilds them (a stale compiled module would shadow it)
COMPILED := $(shell sed -n 's/^    "\(src\/[^"]*\.py\)",$$/\1/p' setup.py)

$(STAMP): pyproject.toml setup.py $(COMPILED)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

.PHONY: install
install: $(STAMP) ## Create .venv (when missing) and install driftaudit with its dev tools

.PHONY: test
test: $(STAMP) ## Run the test suite (unit, property, integration on a real Kafka, performance checks)
	$(PY) -m pytest

.PHONY: lint
lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check src tests deploy
	$(VENV)/bin/ruff format --check src tests deploy
	$(VENV)/bin/mypy

.PHONY: format
format: $(STAMP) ## Apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix src tests deploy
	$(VENV)/bin/ruff format src tests deploy

.PHONY: bench
bench: $(STAMP) ## Run the benchmarks and print their figures
	$(PY) -m pytest -m bench -s -p no:randomly tests/performance

.PHONY: soak
soak: $(STAMP) ## Repeat the chaos run on Apache Kafka (DRIFTAUDIT_SOAK_RUNS, default 20) and print the tally
	$(PY) -m pytest -m soak -s -p no:randomly --timeout 0 tests/integration/test_streams_chaos.py

.PHONY: kafka
kafka: $(STAMP) ## Start a single-node Apache Kafka 3.9 (KRaft) in the foreground
	$(PY) deploy/kafka/launcher.py

.PHONY: run
run: $(STAMP) ## The local demo on embedded defaults (Tansu, simulated fleet, chDB)
	$(VENV)/bin/driftaudit demo

.PHONY: clean
clean: ## Remove the venv, caches and the local history store
	rm -rf $(VENV) .driftaudit .mypy_cache .ruff_cache .pytest_cache build
	find src -name '*.so' -delete
