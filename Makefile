# Two commands matter: `make up` (run it) and `make test` (test it). `make help` lists the rest.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
MODELS_DIR ?= $(or $(MODELS__DIR),models)

.DEFAULT_GOAL := help
.PHONY: help install up down status logs test test-faults test-unit lint format lock clean history models evaluate train-file evaluate-file bench-simulator bench-score bench compose-smoke

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) pip sync -q --python $(PY) requirements.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	@touch $@

install: $(STAMP) ## create .venv and install the locked dependencies

up: $(STAMP) ## start the embedded stack (Kafka, MongoDB, PostgreSQL, Redis) and every service
	@ls $(MODELS_DIR)/v[0-9]*/manifest.json >/dev/null 2>&1 || { echo "no model version in $(MODELS_DIR)/: training the first one (make models, a few minutes)"; $(MAKE) --no-print-directory models; }
	$(PY) -m fraudcore.stack up

down: $(STAMP) ## stop everything `make up` started
	$(PY) -m fraudcore.stack down

status: $(STAMP) ## show each process of the embedded stack and its port
	$(PY) -m fraudcore.stack status

logs: $(STAMP) ## follow the logs of the embedded stack (make logs S=api for one)
	$(PY) -m fraudcore.stack logs $(S)

test: $(STAMP) ## run the test suite (starts its own embedded servers), the fault tests included
	$(PY) -m pytest

test-faults: $(STAMP) ## the fault tests alone
	$(PY) -m pytest -m faults

test-unit: $(STAMP) ## the fast loop: tests that need no server
	$(PY) -m pytest -m unit

history: $(STAMP) ## simulate 1M transactions into data/history (Parquet) for training
	$(PY) -m simulator offline --out data/history --count 1000000 --seed 7

models: $(STAMP) ## train a model version on data/history (simulated first if missing), a few minutes
	@test -f data/history/transactions.parquet || $(MAKE) --no-print-directory history
	$(PY) -m retrainer train --data data/history

evaluate: $(STAMP) ## prequential evaluation on data/history: reports/evaluation/{evaluation.json,pr_curves.png}
	@test -f data/history/transactions.parquet || $(MAKE) --no-print-directory history
	$(PY) -m retrainer evaluate --data data/history --out reports/evaluation

train-file: $(STAMP) ## a version from your own labelled file: make train-file DATA=transfers.csv MAPPING=map.yaml
	@test -n "$(DATA)" -a -n "$(MAPPING)" || { echo "usage: make train-file DATA=FILE MAPPING=MAP (see README, Bring your own data)"; exit 2; }
	$(PY) -m retrainer train --data $(DATA) --mapping $(MAPPING)

evaluate-file: $(STAMP) ## prequential evaluation of your own file: reports/<file>/{evaluation.json,pr_curves.png}
	@test -n "$(DATA)" -a -n "$(MAPPING)" || { echo "usage: make evaluate-file DATA=FILE MAPPING=MAP (see README, Bring your own data)"; exit 2; }
	$(PY) -m retrainer evaluate --data $(DATA) --mapping $(MAPPING) --out reports/$(basename $(notdir $(DATA)))

compose-smoke: $(STAMP) ## Docker Compose: build, start all, wait for health, check the data in every store, down -v
	$(PY) docker/compose_smoke.py

bench-simulator: $(STAMP) ## the simulator's live rate against the running stack (make up first)
	$(PY) bench/simulator_rate.py

bench-score: $(STAMP) ## one scoring process: end to end, scoring core, consume only, MongoDB only (make up first)
	PYTHONPATH=. $(PY) bench/score.py

lint: $(STAMP) ## ruff, and mypy (strict) on fraudcore and the services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy docker/compose_smoke.py

format: $(STAMP) ## ruff format and fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

LOCK_FLAGS := --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	--prerelease=if-necessary-or-explicit --no-header

lock: $(STAMP) ## re-resolve requirements.lock from pyproject.toml, and the Docker images' subsets of it
	$(UV) pip compile pyproject.toml --all-extras $(LOCK_FLAGS) -o requirements.lock
	$(UV) pip compile pyproject.toml -c requirements.lock $(LOCK_FLAGS) -o docker/requirements-app.txt
	$(UV) pip compile pyproject.toml --extra ml -c requirements.lock $(LOCK_FLAGS) -o docker/requirements-ml.txt

clean: ## stop the stack, delete its data (.stack) and the virtualenv
	@if [ -x $(PY) ]; then $(PY) -m fraudcore.stack clean; fi
	rm -rf $(VENV) .stack

bench: $(STAMP) ## the whole pipeline at rising rates + a naive baseline, one run: table, JSON and plot (own stack)
	PYTHONPATH=. $(PY) bench/end_to_end.py --plot-docs
