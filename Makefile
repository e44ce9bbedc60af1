# Watershed: `make run` and `make test` are the two commands; the rest is documented in README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 1,20
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: run test lint bench install

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m local

test: $(STAMP) layer
	$(PY) -m pytest -n 2 --dist loadfile

lint: $(STAMP) lint-cfn
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy layers/core/python/watershed functions local infra app.py

bench: $(STAMP) layer
	$(PY) tests/bench/bench_push.py
	$(PY) tests/bench/bench_infra.py
	$(PY) tests/bench/bench_rollup.py
	$(PY) tests/bench/bench_mqtt.py
	$(PY) tests/bench/bench_local_doors.py
	$(PY) tests/bench/bench_auth.py
	$(PY) tests/bench/bench_websocket.py
	$(PY) tests/bench/bench_facades.py
	$(PY) tests/bench/bench_itwin.py

include infra.mk
