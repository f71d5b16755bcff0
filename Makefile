# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SHARED ?= ../shared/data

.PHONY: run test lint eval bench load clean setup eval-fingers-sensors eval-fingers-contactless \
	calibrate-fingers-contactless \
	calibrate-fingers calibrate-faces fuzz eval-fingers-strata

# dlib is built from source against OpenBLAS (its prebuilt wheel, dlib-bin, has no BLAS: each
# face embedding then takes about six times as long). The first build takes about 14 minutes
# on 2 cores; pip keeps the wheel, so later set-ups on the machine reuse it.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	sh deploy/dlib-build-deps.sh $(PY)
	$(PY) -m pip uninstall --quiet -y dlib-bin 2>/dev/null || true
	@$(PY) -c 'import importlib.util as u; u.find_spec("dlib") or print("building dlib with BLAS: about 14 minutes on 2 cores, unless pip built it here before")'
	CMAKE_TOOLCHAIN_FILE=$(CURDIR)/deploy/dlib-nolto.cmake $(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -c 'import dlib; dlib.DLIB_USE_BLAS or print("warning: dlib was built without BLAS: face embeddings run about 6x slower (deploy/dlib-build-deps.sh)")'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m mobileid.cli.demo

test: $(STAMP)
	$(PY) -m pytest -q

# The property tests (decoder, WSQ, ISO/ANSI records, records importer) with thousands of
# inputs each instead of make test's few; prints how many were tried and what failed. Failing
# inputs are kept in .hypothesis/ and tried first next time. FUZZ_EXAMPLES sets the count.
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	HYPOTHESIS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -m property -q \
	  tests/capture tests/finger tests/records \
	  --hypothesis-profile=fuzz --hypothesis-show-statistics

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

eval: $(STAMP)
	$(PY) -m mobileid.cli.main eval faces verify --root $(SHARED)/faces/lfw-dev --splits 10 --report reports/lfw-verify
	$(PY) -m mobileid.cli.main eval faces identify --root $(SHARED)/faces/lfw-dev --splits 20 --seed 1 \
	  --cohort-norm 10,0.5,0 --distractors singletons --report reports/lfw-identify
	$(PY) -m mobileid.cli.main eval faces identify --root $(SHARED)/faces/lfw-dev --splits 10 --seed 1 \
	  --report reports/lfw-identify-plain
	$(PY) -m mobileid.cli.main eval fingers --root $(SHARED)/fingerprints/FVC2002/DB1_B --report reports/fvc2002-db1b
	$(PY) -m mobileid.cli.main eval fingers --root $(SHARED)/fingerprints/FVC2002/DB4_B --report reports/fvc2002-db4b
	$(MAKE) eval-fingers-sensors eval-fingers-strata eval-fingers-contactless

# Fingerprints as other sensors would give them (mobileid.eval.finger_sensors): FTE and EER.
FINGER_SENSORS := capacitive faint dark inverted noisy dry wet small crop300
eval-fingers-sensors: $(STAMP)
	for s in $(FINGER_SENSORS); do \
	  $(PY) -m mobileid.cli.main eval fingers --root $(SHARED)/fingerprints/FVC2002/DB1_B \
	    --sensor $$s --report reports/fvc2002-db1b-$$s || exit 1; done
	for s in capacitive dry wet small crop300; do \
	  $(PY) -m mobileid.cli.main eval fingers --root $(SHARED)/fingerprints/FVC2002/DB4_B \
	    --sensor $$s --report reports/fvc2002-db4b-$$s || exit 1; done

# The quality-stratified finger calibration, measured on DB1_B and its imitations, checked on
# DB4_B's other fingers (observed against predicted FMR per probe stratum).
STRATA_ARGS := --root $(SHARED)/fingerprints/FVC2002/DB1_B --pooled src/mobileid/finger/calibration.json \
	--check-root $(SHARED)/fingerprints/FVC2002/DB4_B \
	--check-sensor capacitive --check-sensor dry --check-sensor small --check-sensor crop300
eval-fingers-strata: $(STAMP)
	$(PY) -m mobileid.cli.main eval fingers-strata $(STRATA_ARGS) --splits 4 --report reports/fvc2002-strata

# Fingertip photos and renders against contact prints; the tables go to reports/, not the data dir.
CONTACTLESS_ARGS := --photos $(SHARED)/contactless/ISPFDv1_samples \
	--root $(SHARED)/fingerprints/FVC2002/DB1_B --root $(SHARED)/fingerprints/FVC2002/DB4_B \
	--renders $(SHARED)/contactless/impose_samples
eval-fingers-contactless: $(STAMP)
	$(PY) -m mobileid.cli.main eval fingers-contactless $(CONTACTLESS_ARGS) \
	  --out reports/contactless --report reports/contactless

# Rebuild the shipped face calibrations, pooled and per quality stratum, for both profiles.
calibrate-faces: $(STAMP)
	$(PY) -m mobileid.cli.main eval faces calibrate --root $(SHARED)/faces/lfw-dev \
	  --out src/mobileid/face/calibration.json --strata-out src/mobileid/face/strata.json \
	  --cohort-out src/mobileid/face/cohort.npz
	MOBILEID_FACE_FLIP_AVERAGE=false $(PY) -m mobileid.cli.main eval faces calibrate \
	  --root $(SHARED)/faces/lfw-dev --out src/mobileid/face/calibration-noflip.json \
	  --strata-out src/mobileid/face/strata-noflip.json \
	  --cohort-out src/mobileid/face/cohort-noflip.npz

# Rebuild the shipped finger calibrations (after any change of the finger pipeline id).
calibrate-fingers: $(STAMP)
	$(PY) -m mobileid.cli.main eval fingers --root $(SHARED)/fingerprints/FVC2002/DB1_B \
	  --calibration-out src/mobileid/finger/calibration.json
	$(PY) -m mobileid.cli.main eval fingers-strata $(STRATA_ARGS) --out src/mobileid/finger/strata.json
	$(MAKE) calibrate-fingers-contactless

# Rebuild only the shipped contactless calibrations (photo -> contact, photo -> photo): after a
# change of the contact pipeline id or of CONTACTLESS_VERSION.
calibrate-fingers-contactless: $(STAMP)
	$(PY) -m mobileid.cli.main eval fingers-contactless $(CONTACTLESS_ARGS) --out src/mobileid/finger

bench: $(STAMP)
	$(PY) bench/bench_face.py
	$(PY) bench/bench_records.py
	$(PY) bench/bench_fingers.py
	$(PY) bench/bench_fingers_scale.py
	$(PY) bench/bench_fingers_changes.py
	$(PY) bench/bench_gallery.py --json reports/bench-gallery.json
	$(PY) bench/bench_index_check.py
	$(PY) bench/bench_audit.py
	$(PY) bench/bench_pg_restart.py
	$(PY) bench/bench_breaker.py
	$(PY) bench/bench_migration.py
	$(PY) bench/bench_gallery_count.py
	$(PY) bench/bench_capture_preview.py
	$(PY) bench/bench_http.py --first-page
	$(PY) bench/bench_load.py

# 50 clients mixing face searches, super queries and dispositions for 60 s against the real
# service on loopback (make test runs a short version)
load: $(STAMP)
	$(PY) bench/bench_load.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
