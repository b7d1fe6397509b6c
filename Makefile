# One entry point for setting up, testing and running the project. Needs only python3 (3.11).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export AIRFLOW_HOME ?= $(CURDIR)/airflow_home
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins

.PHONY: install test lint format demo emulators bench-emulators clean

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	$(PIP) install --quiet --no-deps -e .  # registers the lineworks/garoon connection types
	touch $@

install: $(VENV)/.installed  ## create .venv and install everything

test: install  ## run the whole test suite
	$(PY) -m pytest -q

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

bench-emulators: install  ## requests per second the emulators serve (faults off)
	$(PY) bench/emulator_throughput.py

clean:
	rm -rf $(VENV) airflow_home .pytest_cache .mypy_cache .ruff_cache .hypothesis
