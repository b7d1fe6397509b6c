"""``make airflow``: the emulators plus ``airflow standalone``, set up for a person to use the UI.

Starts both API emulators on the ports ``airflow_settings.yaml`` points at, migrates the metadata DB in
``$AIRFLOW_HOME`` (default ``airflow_home/``), imports the settings, starts ``airflow standalone`` (scheduler,
dag-processor, api-server, triggerer) on http://127.0.0.1:8080 (``AIRFLOW_PORT`` changes it), unpauses
``garoon_to_lineworks`` and ``calendar_export``, prints where the admin password is, and runs until Ctrl-C, then
stops everything it started.

``lineworks_to_garoon`` stays paused: running both directions is a choice to make on purpose (each then leaves out
the copies the other made; see the README). Unpause it in the UI when that is what you want.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

from include.airflow_stack import PASSWORDS_FILE, ROOT, AirflowStack, StackError
from include.demo import GAROON_PORT, LINEWORKS_PORT
from include.emulators import start_emulators

UNPAUSED = ("garoon_to_lineworks", "calendar_export")


def main() -> int:
    home = Path(os.environ.get("AIRFLOW_HOME") or ROOT / "airflow_home")
    port = int(os.environ.get("AIRFLOW_PORT", "8080"))
    emulators = start_emulators(anchor=dt.date.today(), lineworks_port=LINEWORKS_PORT, garoon_port=GAROON_PORT)
    stack = AirflowStack(home, api_port=port)
    try:
        print(f"emulators: LINE WORKS {emulators.lineworks.url}, Garoon {emulators.garoon.url}")
        print(f"migrating the metadata DB and importing airflow_settings.yaml into {home}")
        stack.migrate().import_settings(emulators.lineworks.url, emulators.garoon.url)
        print("starting airflow standalone (scheduler, dag-processor, api-server, triggerer)...")
        stack.spawn("standalone", ["standalone"])
        stack.wait_healthy(timeout=300)
        for dag_id in UNPAUSED:
            stack.wait_for_dag(dag_id)
            stack.set_paused(dag_id, False)
        print(
            f"\nAirflow UI: {stack.url}  (user admin; password in {home / PASSWORDS_FILE}: "
            f"{stack.admin_password})\nunpaused: {', '.join(UNPAUSED)}; logs: {home / 'logs'}/standalone.log\n"
            "Open a DAG, press Trigger, fill in the form. Ctrl-C stops Airflow and the emulators."
        )
        while True:
            time.sleep(1)
            if stack.processes["standalone"].poll() is not None:
                raise StackError(f"airflow standalone exited\n{stack.tail_logs('standalone')}")
    except KeyboardInterrupt:
        print("\nstopping")
        return 0
    except StackError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        stack.stop()
        emulators.stop()


if __name__ == "__main__":
    sys.exit(main())
