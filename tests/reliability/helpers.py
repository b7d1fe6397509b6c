"""What the reliability tests share: the oracle of what a target must hold, fault bookkeeping and the figures.

The oracle for ``garoon_to_lineworks`` is the plan of a fault-free dry run over the same window on the same
(freshly reset) demo tenant: every unit it would create must be in LINE WORKS exactly once, in its owner's
default calendar, with the planned content, and nothing else may be there. LINE WORKS is read through the
emulator's ``/_emulator/state``, never through the product.
"""

from __future__ import annotations

import collections
import json
import multiprocessing
import os
from dataclasses import dataclass, field
from typing import Any

import pytest

from calendar_etl.ledger import Ledger
from tests.dags.conftest import DagHarness, lineworks_events
from tests.dags.test_changes_and_deletes import plan_of
from tests.reliability.figures import FIGURES, STRESS  # noqa: F401  (the tests take both from here)

#: Fields of a planned LINE WORKS component that the stored event must hold unchanged.
COMPARED = ("eventId", "recurringEventId", "summary", "start", "end", "recurrence", "location", "description")


def set_extra(
    monkeypatch: pytest.MonkeyPatch, conn_id: str, *, host: str | None = None, **changes: Any
) -> dict[str, Any]:
    """Change extras (None removes one) and the host of an ``AIRFLOW_CONN_<ID>`` JSON connection; return it."""
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    conn = json.loads(os.environ[name])
    if host is not None:
        conn["host"] = host
    extra = {**conn.get("extra", {}), **changes}
    conn["extra"] = {k: v for k, v in extra.items() if v is not None}
    monkeypatch.setenv(name, json.dumps(conn))
    return dict(conn)


@dataclass
class Unit:
    """One planned LINE WORKS event: where it must be and what it must hold."""

    sync_key: str
    calendar_id: str
    components: list[dict[str, Any]]
    content_hash: str


_EXPECTED: dict[tuple[str, str, str], dict[str, Unit]] = {}


def expected_lineworks(harness: DagHarness, dag_id: str, window: dict[str, str]) -> dict[str, Unit]:
    """The units a fault-free run creates, by LINE WORKS eventId: the plan of a dry run (computed once)."""
    key = (dag_id, window["start"], window["end"])
    if key not in _EXPECTED:
        assert lineworks_events(harness) == [], "the oracle needs an empty LINE WORKS"
        dry = harness.run(dag_id, {**window, "dry_run": True})
        assert dry.state == "success"
        plan = plan_of(dry)
        calendars = {u["email"]: u["defaultCalendarId"] for u in harness.lineworks.state()["users"]}
        units = {}
        for row in plan[plan["action"] == "create"].itertuples():
            components = json.loads(row.payload)["eventComponents"]
            units[components[0]["eventId"]] = Unit(row.sync_key, calendars[row.owner], components, row.content_hash)
        assert len(units) == int((plan["action"] == "create").sum()) > 10, "the window has too few events"
        _EXPECTED[key] = units
    return _EXPECTED[key]


@dataclass
class Holdings:
    """What LINE WORKS holds compared with the oracle."""

    missing: list[str] = field(default_factory=list)  # sync keys
    duplicates: dict[str, int] = field(default_factory=dict)  # eventId -> copies
    unexpected: list[str] = field(default_factory=list)  # eventIds nobody planned
    wrong: list[str] = field(default_factory=list)  # sync keys held with other content or elsewhere

    @property
    def exact(self) -> bool:
        return not (self.missing or self.duplicates or self.unexpected or self.wrong)


def lineworks_holdings(harness: DagHarness, expected: dict[str, Unit]) -> Holdings:
    """Compare every event LINE WORKS holds with ``expected`` (independently of the product's own comparison)."""
    events = lineworks_events(harness)
    copies = collections.Counter(e["eventComponents"][0]["eventId"] for e in events)
    out = Holdings(duplicates={k: n for k, n in copies.items() if n > 1})
    out.unexpected = sorted(set(copies) - set(expected))
    by_id = {e["eventComponents"][0]["eventId"]: e for e in events}
    for event_id, unit in expected.items():
        stored = by_id.get(event_id)
        if stored is None:
            out.missing.append(unit.sync_key)
        elif stored["calendarId"] != unit.calendar_id or not _same_components(stored["eventComponents"], unit):
            out.wrong.append(unit.sync_key)
    return out


def _same_components(stored: list[dict[str, Any]], unit: Unit) -> bool:
    held = {c.get("recurringEventId"): c for c in stored}
    if len(held) != len(unit.components):
        return False
    for wanted in unit.components:
        have = held.get(wanted.get("recurringEventId"))
        if have is None or any(have.get(name) != wanted[name] for name in COMPARED if name in wanted):
            return False
    return True


def assert_ledger_agrees(harness: DagHarness, pipeline: str, expected: dict[str, Unit]) -> None:
    """Every planned unit is committed in the ledger with the planned content, under the event that holds it."""
    ledger = Ledger(f"sqlite:///{harness.folder / 'ledger.db'}")
    try:
        rows = ledger.frame(pipeline).set_index("sync_key")
    finally:
        ledger.dispose()
    for event_id, unit in expected.items():
        assert unit.sync_key in rows.index, f"{unit.sync_key} is not in the ledger"
        row = rows.loc[unit.sync_key]
        assert row["state"] == "committed", (unit.sync_key, row["state"], row["error"])
        assert row["content_hash"] == unit.content_hash, unit.sync_key
        assert str(row["target_key"]).endswith(f"|{event_id}"), (unit.sync_key, row["target_key"])


def faults_seen(entries: list[dict[str, Any]]) -> int:
    """Requests that met a fault: injected ones, and the servers' own 429s and 401s."""
    return sum(1 for e in entries if e.get("fault") or e.get("status") in (401, 429))


def report_names(report: dict[str, Any]) -> set[str]:
    """The sync keys a report names as not done: failed, or not attempted."""
    return {item["sync_key"] for item in report.get("failed", [])} | {key for key, _ in report.get("not_attempted", [])}


def worker_context() -> Any:
    """The ``multiprocessing`` fork server of the suite: it imported Airflow and the operators once, so a worker
    (a load attempt to kill, a transform to time out) starts in milliseconds instead of seconds."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.reliability.load_worker"])
    return context
