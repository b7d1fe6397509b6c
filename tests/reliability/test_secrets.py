"""No credential of the connections leaks from a full run: logs, XCom, metadata rows, files, emulator request logs.

Real runs of both sync DAGs (through a token expiry and a 429 storm, so that refreshes and retries log), then two
runs with a wrong Garoon password and a wrong LINE WORKS client secret (so that refusals log and raise). Then every
place a run leaves something is searched for every secret: the client secret, each line of the private key, the
Garoon password (plain and as its ``X-Cybozu-Authorization`` value), the wrong ones, and every access and refresh
token the emulator issued:

* task logs (captured console output and log records, DEBUG included) and Airflow's log folder;
* the metadata rows of the runs (XCom values, rendered template fields, task instances and their history, HITL);
* every file of the runs (canonical and plan Parquet, results, reports, call counts), the ledger and the budget DBs;
* the emulators' request logs: a secret may only travel where it belongs (the client secret in the token request's
  form, a token in an ``Authorization`` header, the password only inside ``X-Cybozu-Authorization``), and the
  emulators' stored events (a secret written into a calendar is a leak too).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from airflow._shared.logging import structlog as core_structlog
from airflow.sdk._shared.logging import structlog as sdk_structlog

from include.emulators.lineworks import DEMO_CLIENT_SECRET
from include.emulators.tenant import ADMIN_LOGIN, DEMO_PASSWORD
from tests.dags.conftest import DagHarness
from tests.dags.test_lineworks_to_garoon import create_as, timed
from tests.emulators.fixtures import DEMO_PRIVATE_KEY
from tests.reliability.helpers import FIGURES, set_extra
from tests.reliability.test_fault_matrix import AfterWrites

pytestmark = pytest.mark.slow

WINDOW = {"start": "2026-11-16", "end": "2026-11-18"}
WRONG_PASSWORD = "wrong-garoon-password-5d1c"
WRONG_SECRET = "wrong-client-secret-9b7e"
TOKEN_PATH = "/oauth2/v2.0/token"
NO_WAIT = dt.timedelta(0)


def cybozu(password: str) -> str:
    return base64.b64encode(f"{ADMIN_LOGIN}:{password}".encode()).decode()


def issued_tokens(harness: DagHarness) -> set[str]:
    tokens: set[str] = set()
    for entry in harness.lineworks.requests(method="POST", path=f"^{TOKEN_PATH}$"):
        if entry["status"] == 200:
            body = json.loads(entry["responseBody"])
            tokens |= {body["access_token"], body.get("refresh_token") or body["access_token"]}
    return tokens


def metadata_rows(run_ids: list[str]) -> str:
    """Every metadata row of the runs (and every trigger), as text."""
    import sqlalchemy as sa
    from airflow.utils.session import create_session

    out = []
    with create_session() as session:
        engine = session.get_bind()
        meta = sa.MetaData()
        meta.reflect(bind=engine)
        for table in meta.sorted_tables:
            if "run_id" in table.c:
                query = sa.select(table).where(table.c.run_id.in_(run_ids))
            elif table.name == "trigger":
                query = sa.select(table)
            else:
                continue
            out += [f"{table.name}: {tuple(row)}" for row in session.execute(query)]
    return "\n".join(out)


def files_under(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture()
def verbose_logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for module in (core_structlog, sdk_structlog):  # hooks log through structlog, INFO and up by default
        monkeypatch.setitem(module.PER_LOGGER_LEVELS, "airflow.task", logging.DEBUG)
    return caplog


def test_no_secret_of_the_connections_is_anywhere_it_does_not_belong(
    dags: DagHarness,
    verbose_logs: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = []
    # Good runs, through a token expiry and a 429 storm.
    expiry = AfterWrites(dags, every=6)
    expiry.start()
    dags.garoon.faults(storm_every=30, storm_length=2)  # 429s: the retries log what they retry
    try:
        runs.append(dags.run("garoon_to_lineworks", WINDOW, retry_delay=NO_WAIT))
    finally:
        expiry.stop.set()
        expiry.join(timeout=10)
        dags.garoon.faults()
    assert runs[-1].state == "success" and expiry.expired >= 1

    sato = "sato-ken@demo.example.com"
    create_as(dags, sato, timed("Secrets check", dt.datetime(2026, 11, 17, 10, tzinfo=ZoneInfo("Asia/Tokyo")), 30))
    runs.append(dags.run("lineworks_to_garoon", WINDOW, retry_delay=NO_WAIT))
    assert runs[-1].state == "success"
    # Refused credentials: the errors are logged and raised.
    garoon_conn = json.loads(os.environ["AIRFLOW_CONN_GAROON_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_GAROON_DEFAULT", json.dumps({**garoon_conn, "password": WRONG_PASSWORD}))
    runs.append(dags.run("garoon_to_lineworks", WINDOW, retries=0))
    monkeypatch.setenv("AIRFLOW_CONN_GAROON_DEFAULT", json.dumps(garoon_conn))
    set_extra(monkeypatch, "lineworks_default", client_secret=WRONG_SECRET)
    from calendar_etl.hooks.lineworks import LineWorksHook

    LineWorksHook._tokens.clear()  # so that the wrong secret is used
    runs.append(dags.run("garoon_to_lineworks", WINDOW, retries=0))
    assert [r.state for r in runs[2:]] == ["failed", "failed"]

    console = capfd.readouterr()
    logs = "\n".join([verbose_logs.text, console.out, console.err])
    assert "GRN_REST_API_00001" in logs and "invalid_client" in logs, "the refusals were not logged"
    assert "DEBUG" in logs or "debug" in logs
    tokens = issued_tokens(dags)
    assert len(tokens) >= 2, "no token refresh happened"
    key_lines = [line for line in DEMO_PRIVATE_KEY.splitlines() if line and not line.startswith("-----")]
    secrets = {
        "client secret": [DEMO_CLIENT_SECRET, WRONG_SECRET],
        "private key": key_lines,
        "Garoon password": [DEMO_PASSWORD, WRONG_PASSWORD, cybozu(DEMO_PASSWORD), cybozu(WRONG_PASSWORD)],
        "token": sorted(tokens),
    }
    home = Path(os.environ["AIRFLOW_HOME"])
    places = {
        "task logs": logs.encode(),
        "metadata rows (XCom, rendered fields, tasks)": metadata_rows([r.run_id for r in runs]).encode(),
    }
    places.update(files_under(dags.folder, home / "logs"))
    places["stored events"] = json.dumps([dags.lineworks.state()["events"], dags.garoon.state()["events"]]).encode()
    assert any(name.endswith(".parquet") for name in places) and any(name.endswith("report.json") for name in places)
    found = [(what, name) for what, values in secrets.items() for value in values for name, blob in places.items()
             if value.encode() in blob]  # fmt: skip

    # The emulators' request logs: each secret only where it belongs.
    for entry in dags.lineworks.requests() + dags.garoon.requests():
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        where = {"path": entry["path"], "query": entry["rawQuery"], "body": entry["body"], **headers}
        for what, values in secrets.items():
            for value in values:
                for name, text in where.items():
                    if value not in text:
                        continue
                    allowed = (
                        (what == "client secret" and name == "body" and entry["path"] == TOKEN_PATH)
                        or (what == "token" and name == "authorization" and text == f"Bearer {value}")
                        or (what == "Garoon password" and name == "x-cybozu-authorization" and text == value)
                    )
                    if not allowed:
                        found.append((what, f"{entry['method']} {entry['path']} {name}"))
    FIGURES["secrets searched for"] += sum(len(v) for v in secrets.values())
    FIGURES["places searched (logs, rows, files, requests)"] += (
        len(places) + len(dags.lineworks.requests()) + len(dags.garoon.requests())
    )
    FIGURES["secrets found where they do not belong"] += len(found)
    assert not found, f"secrets leaked: {sorted(set(found))[:20]}"
