"""Test-wide setup: an isolated AIRFLOW_HOME per process, and both API emulators on free loopback ports."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Always a fresh home per process (each pytest-xdist worker too): `make` exports the project's airflow_home, and
# two workers sharing one SQLite metadata DB corrupt each other's DAG runs.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(
    prefix=f"calendar-etl-airflow-home-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-"
)
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
for path in (str(ROOT), str(ROOT / "plugins")):
    if path not in sys.path:
        sys.path.insert(0, path)

pytest_plugins = ["tests.emulators.fixtures", "tests.reliability.figures"]
