"""Fixtures for running the DAGs with ``dag.test()`` against the emulators on a migrated SQLite metadata DB.

Connections come from ``AIRFLOW_CONN_*`` environment variables pointing at the session's emulators; the
ledger, rate budget and run files live in a per-test folder, so tests never see each other's state.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from include.emulators import Emulators
from include.emulators.garoon import GaroonConfig
from include.emulators.lineworks import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_SERVICE_ACCOUNT, LineWorksConfig
from include.emulators.tenant import ADMIN_LOGIN, DEMO_PASSWORD
from tests.emulators.fixtures import DEMO_PRIVATE_KEY, EmulatorControl

ROOT = Path(__file__).resolve().parents[2]
DEMO_WINDOW = {"start": "2026-10-17", "end": "2026-12-16"}  # the demo tenant's events (anchor 2026-11-16 ± 30 days)
FAST = 1_000_000  # calls per minute: the tests exercise correctness, the benchmarks the rate


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """Migrate the session's SQLite metadata DB once (``dag.test`` needs it)."""
    home = os.environ["AIRFLOW_HOME"]
    done = Path(home) / ".migrated"
    if not done.exists():
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ.copy()
        )
        done.touch()
    return home


@dataclass
class DagHarness:
    """Runs DAGs and inspects the emulators, for one test."""

    emulators: Emulators
    folder: Path
    lineworks: EmulatorControl
    garoon: EmulatorControl

    def run(
        self,
        dag_id: str,
        conf: dict[str, Any] | None = None,
        *,
        retry_delay: dt.timedelta | None = None,
        retries: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run ``dag_id`` once with ``dag.test`` and return the DagRun.

        ``retry_delay`` and ``retries`` replace every task's (the DAGs retry twice, 30 s apart).
        """
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
        assert not bag.import_errors, bag.import_errors
        dag = bag.get_dag(dag_id)
        for task in dag.tasks:
            if retry_delay is not None:
                task.retry_delay = retry_delay
            if retries is not None:
                task.retries = retries
        return dag.test(run_conf=conf or {}, logical_date=kwargs.pop("logical_date", None), **kwargs)

    def report(self, dag_run: Any) -> dict[str, Any]:
        """Return the report.json the run wrote."""
        runs = sorted((self.folder / "data" / dag_run.dag_id).glob("*/report.json"), key=lambda p: p.stat().st_mtime)
        assert runs, f"no report for {dag_run.dag_id}"
        return dict(json.loads(runs[-1].read_text()))

    def writes(self, since: int = 0) -> list[dict[str, Any]]:
        """Return the LINE WORKS write requests (POST/PUT/DELETE on events) logged after sequence ``since``."""
        return [
            r
            for r in self.lineworks.requests()
            if r.get("seq", 0) > since and r["method"] in ("POST", "PUT", "DELETE") and "/events" in r["path"]
        ]

    def garoon_writes(self, since: int = 0) -> list[dict[str, Any]]:
        return [
            r
            for r in self.garoon.requests()
            if r.get("seq", 0) > since
            and r["method"] in ("POST", "PATCH", "DELETE")
            and "/schedule/events" in r["path"]
        ]


@pytest.fixture()
def dags(
    airflow_db: str, emulators: Emulators, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DagHarness]:
    """Connections to freshly reset, unthrottled emulators; a private ledger, budget and data folder."""
    lineworks = EmulatorControl(emulators.lineworks.url, asdict(LineWorksConfig()))
    garoon = EmulatorControl(emulators.garoon.url, asdict(GaroonConfig()))
    lineworks.reset()
    garoon.reset()
    lineworks.configure(rate_limit_per_minute=FAST)
    budget = f"sqlite:///{tmp_path / 'budget.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_LINEWORKS_DEFAULT", json.dumps({
        "conn_type": "lineworks", "host": f"{emulators.lineworks.url}/v1.0",
        "extra": {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET, "service_account": DEMO_SERVICE_ACCOUNT,
                  "private_key": DEMO_PRIVATE_KEY, "token_url": f"{emulators.lineworks.url}/oauth2/v2.0/token",
                  "scope": "calendar user.read", "rate_budget_url": budget, "rate_limit_per_minute": FAST},
    }))  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_GAROON_DEFAULT", json.dumps({
        "conn_type": "garoon", "host": emulators.garoon.url, "login": ADMIN_LOGIN, "password": DEMO_PASSWORD,
        "extra": {"rate_budget_url": budget},
    }))  # fmt: skip
    monkeypatch.setenv("AIRFLOW_VAR_CALENDAR_ETL_BASE_PATH", str(tmp_path / "data"))
    monkeypatch.setenv("AIRFLOW_VAR_CALENDAR_ETL_LEDGER_CONN_ID", "calendar_etl_ledger")
    monkeypatch.setenv("AIRFLOW_CONN_CALENDAR_ETL_LEDGER", f"sqlite:///{tmp_path / 'ledger.db'}")
    from calendar_etl.hooks.lineworks import LineWorksHook

    LineWorksHook._tokens.clear()
    yield DagHarness(emulators, tmp_path, lineworks, garoon)
    LineWorksHook._tokens.clear()


def lineworks_events(harness: DagHarness) -> list[dict[str, Any]]:
    """Return every event the LINE WORKS emulator holds (from its state)."""
    state = requests.get(f"{harness.emulators.lineworks.url}/_emulator/state", timeout=30).json()
    return list(state.get("events", []))


DEMO_RANGE = {"rangeStart": "2026-10-16T15:00:00Z", "rangeEnd": "2026-12-15T15:00:00Z"}  # DEMO_WINDOW in Asia/Tokyo


def garoon_items(harness: DagHarness, listed: dict[str, str] = DEMO_RANGE) -> list[dict[str, Any]]:
    """Every Garoon event and occurrence in ``listed``, read per user through the REST API, independently of the
    product (deduplicated on id and repeatId)."""
    base = harness.emulators.garoon.url
    auth = {"X-Cybozu-Authorization": base64.b64encode(f"{ADMIN_LOGIN}:{DEMO_PASSWORD}".encode()).decode()}
    users = requests.get(f"{base}/g/api/v1/base/users", params={"limit": 1000}, headers=auth, timeout=30).json()[
        "users"
    ]
    seen: dict[tuple[str, str | None], dict[str, Any]] = {}
    for user in users:
        offset = 0
        while True:
            body = requests.get(
                f"{base}/g/api/v1/schedule/events",
                params={**listed, "target": user["id"], "targetType": "user", "limit": 1000, "offset": offset},
                headers=auth, timeout=30,
            ).json()  # fmt: skip
            for event in body["events"]:
                seen.setdefault((event["id"], event.get("repeatId")), event)
            if not body.get("hasNext"):
                break
            offset += len(body["events"]) or 1000
    return list(seen.values())


RunDag = Callable[..., Any]
