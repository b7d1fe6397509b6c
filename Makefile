# One entry point for setting up, testing and running the project. Needs only python3 (3.11).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export AIRFLOW_HOME ?= $(CURDIR)/airflow_home
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins

.PHONY: install test test-e2e browser airflow lint format demo emulators bench bench-emulators clean audit stress

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	$(PIP) install --quiet --no-deps -e .  # registers the lineworks/garoon connection types
	touch $@

install: $(VENV)/.installed  ## create .venv and install everything

test: install browser  ## run the whole test suite (unit, DAG and end-to-end tests in two processes, then the timing tests alone)
	$(PY) -m pytest -q -n 2 --dist loadscope -m "not timing"
	$(PY) -m pytest -q -m timing

test-e2e: install browser  ## only the end-to-end tests (real scheduler, PostgreSQL, Celery, browser)
	$(PY) -m pytest -q -m e2e

browser:  ## Debian's chromium, which Playwright drives in the UI test (no browser download from elsewhere)
	@test -x /usr/bin/chromium || $(SUDO) apt-get install -y chromium || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)

airflow: install  ## emulators + airflow standalone on http://127.0.0.1:8080 for the UI (Ctrl-C stops)
	$(PY) -m include.run_airflow

lint: install  ## ruff (with Airflow's AIR rules) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy plugins include

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

emulators: install  ## serve both API emulators in the foreground (Ctrl-C stops)
	$(PY) -m include.emulators

demo: install  ## start the emulators, run the demo end to end, print the report, stop
	$(PY) -m include.demo

bench: install  ## benchmarks (not part of make test): the five scenarios of BENCHMARKS.md → bench/results/, BENCHMARKS.md
	mkdir -p bench/results
	$(PY) -m bench.transforms --json bench/results/transforms.json
	$(PY) -m bench.suite --transforms-json bench/results/transforms.json --command "make bench"

bench-emulators: install  ## requests per second the emulators serve (faults off)
	$(PY) bench/emulator_throughput.py

stress: install  ## the reliability suite's long variants: 100 kill trials, 3 fault seeds, 5x the fuzzed inputs
	CALENDAR_ETL_STRESS=1 $(PY) -m pytest -q -p no:cacheprovider tests/reliability

AUDIT_VENV := .venv-audit
audit:  ## known vulnerabilities of the pinned dependencies (pip-audit); fails when it could look nothing up
	test -x $(AUDIT_VENV)/bin/pip-audit || ($(PYTHON) -m venv $(AUDIT_VENV) && $(AUDIT_VENV)/bin/pip install --quiet pip-audit==2.10.1)
	$(PYTHON) -m include.audit --pip-audit $(AUDIT_VENV)/bin/pip-audit

clean:
	rm -rf $(VENV) $(AUDIT_VENV) airflow_home .pytest_cache .mypy_cache .ruff_cache .hypothesis
