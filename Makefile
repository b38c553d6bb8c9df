# retailpipe developer tasks. `make` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RP := $(BIN)/retailpipe
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install prereqs test-prereqs jars demo demo-stream test test-slow test-all test-unit test-integration compose-test lint bench kafka-up kafka-down hdfs-up hdfs-down clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

prereqs: ## Check Python 3.11+ and Java 17+
	@PYTHON=$(PYTHON) scripts/check-prereqs.sh

$(STAMP): pyproject.toml
	@PYTHON=$(PYTHON) scripts/check-prereqs.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install retailpipe with its dev extras
	@echo "installed: $(RP)  (activate with: source $(BIN)/activate)"

jars: install ## Resolve Kafka, Spark's Kafka connector and Hadoop with Maven into the cache (once)
	$(RP) kafka fetch
	$(BIN)/python -c "from retailpipe.infra.jars import hadoop_jars; from retailpipe.settings import load_settings; hadoop_jars(load_settings())"

demo: install ## Generate 30 days of sales and run the batch job on embedded defaults
	$(RP) generate --days 30 --force
	$(RP) batch
	@echo ""
	@echo "Open the batch dashboard:  $(RP) serve batch   then http://127.0.0.1:8050/batch/"

demo-stream: install jars ## The whole pipeline (Kafka, batch, stream, replay, dashboards); Ctrl-C stops it
	$(RP) demo

kafka-up: install ## Start the local Kafka broker (KRaft, 127.0.0.1)
	$(RP) kafka up

kafka-down: install ## Stop the local Kafka broker
	$(RP) kafka down

hdfs-up: install ## Start the local HDFS (NameNode + DataNode, 127.0.0.1)
	$(RP) hdfs up

hdfs-down: install ## Stop the local HDFS
	$(RP) hdfs down

test-prereqs: ## Check (as root: install) Maven, Chromium and a Compose CLI for the tests
	@scripts/test-prereqs.sh

test: install test-prereqs jars ## Run the test suite: unit, integration and browser tests (not the slow tier)
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

test-slow: install test-prereqs jars ## The slow tier: kill -9, restarts, signals, a standalone Spark cluster
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

test-all: install test-prereqs jars ## Both tiers in one run (what CI runs, before compose-test)
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: install ## Unit tests only
	$(BIN)/pytest -m "not integration and not browser" $(PYTEST_ARGS)

test-integration: install test-prereqs jars ## Integration tests only (real Kafka, HDFS, Spark jobs)
	$(BIN)/pytest -m "integration or browser" $(PYTEST_ARGS)

test-browser: install test-prereqs ## Headless Chromium dashboard tests only
	$(BIN)/pytest -m browser $(PYTEST_ARGS)

compose-test: install jars ## Build the images and run both Compose stacks end to end (root; starts dockerd)
	BIN=$(BIN) scripts/compose-test.sh $(PYTEST_ARGS)

lint: install ## ruff and mypy
	$(BIN)/ruff check retailpipe tests bench
	$(BIN)/ruff format --check retailpipe tests bench
	$(BIN)/mypy

bench: install ## Run the benchmarks under bench/ and print their ratios
	$(BIN)/python bench/run_all.py

clean: ## Remove generated data and caches (keeps .venv)
	rm -rf data .retailpipe .pytest_cache .mypy_cache .ruff_cache
