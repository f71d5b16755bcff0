# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SHARED ?= ../shared/data

.PHONY: run test lint eval bench clean setup

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m mobileid.cli.demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

eval: $(STAMP)
	$(PY) -m mobileid.cli.main eval faces verify --root $(SHARED)/faces/lfw-dev --report reports/lfw-verify
	$(PY) -m mobileid.cli.main eval faces identify --root $(SHARED)/faces/lfw-dev --report reports/lfw-identify
	$(PY) -m mobileid.cli.main eval fingers --root $(SHARED)/fingerprints/FVC2002/DB1_B --report reports/fvc2002-db1b
	$(PY) -m mobileid.cli.main eval fingers --root $(SHARED)/fingerprints/FVC2002/DB4_B --report reports/fvc2002-db4b

bench: $(STAMP)
	$(PY) bench/bench_face.py
	$(PY) bench/bench_records.py
	$(PY) bench/bench_fingers.py
	$(PY) bench/bench_gallery.py --json reports/bench-gallery.json
	$(PY) bench/bench_audit.py
	$(PY) bench/bench_http.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
