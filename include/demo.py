"""``make demo``: emulators + a migrated SQLite Airflow + the settings, then one ``garoon_to_lineworks`` run.

Starts both API emulators on the ports ``airflow_settings.yaml`` points at, migrates the metadata DB in
``$AIRFLOW_HOME``, imports the connections, pools and variables, runs the DAG end to end over the demo tenant's
window (today ± 30 days), prints the report, and stops the emulators.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from include.emulators import start_emulators

ROOT = Path(__file__).resolve().parent.parent
LINEWORKS_PORT, GAROON_PORT = 18801, 18802  # the hosts in airflow_settings.yaml
DEMO_DAYS = 30  # the demo tenant's events lie within anchor ± 30 days


def _airflow_env() -> dict[str, str]:
    env = os.environ.copy()
    env.setdefault("AIRFLOW_HOME", str(ROOT / "airflow_home"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
    env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
    return env


def main() -> int:
    os.environ.update(_airflow_env())
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print("migrating the Airflow metadata DB (SQLite) in", os.environ["AIRFLOW_HOME"])
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, env=os.environ.copy(), stdout=subprocess.DEVNULL
    )
    from include.settings_loader import load_settings

    counts = load_settings(ROOT / "airflow_settings.yaml")
    print(f"imported airflow_settings.yaml: {counts}")
    anchor = dt.date.today()
    emulators = start_emulators(anchor=anchor, lineworks_port=LINEWORKS_PORT, garoon_port=GAROON_PORT)
    try:
        garoon = requests.get(f"{emulators.garoon.url}/_emulator/state", timeout=10).json()
        print(f"Garoon emulator at {emulators.garoon.url}: {len(garoon['users'])} users, {garoon['eventCount']} events")
        print(f"LINE WORKS emulator at {emulators.lineworks.url}")
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(ROOT / "dags" / "garoon_to_lineworks.py")).get_dag("garoon_to_lineworks")
        conf = {
            "start": (anchor - dt.timedelta(days=DEMO_DAYS)).isoformat(),
            "end": (anchor + dt.timedelta(days=DEMO_DAYS + 1)).isoformat(),
        }
        print(f"running garoon_to_lineworks over [{conf['start']}, {conf['end']}) (the LINE WORKS rate limit paces it)")
        run = dag.test(run_conf=conf, logical_date=None)
        state = requests.get(f"{emulators.lineworks.url}/_emulator/state", timeout=10).json()
        folder = Path(os.environ["AIRFLOW_HOME"]) / "calendar_etl_data" / "garoon_to_lineworks"
        reports = sorted(folder.glob("*/report.json"), key=lambda p: p.stat().st_mtime)
        if reports:
            from calendar_etl.operators.report import render

            report = json.loads(reports[-1].read_text())
            print("\n" + render(report))
            print(f"report: {reports[-1]}")
        print(f"\nrun state: {run.state}; LINE WORKS now holds {state['eventCount']} events; "
              f"notifications sent: {state['notifications']}; {time.monotonic() - started:.0f} s")  # fmt: skip
        return 0 if run.state == "success" else 1
    finally:
        emulators.stop()


if __name__ == "__main__":
    sys.exit(main())
