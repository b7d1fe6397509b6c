"""garoon_to_lineworks through real Airflow (``dag.test``) against the emulators: the issue's acceptance list."""

from __future__ import annotations

import collections
import datetime as dt

import pytest
import requests

from calendar_etl.transforms.lineworks import event_id_for
from tests.dags.conftest import DEMO_WINDOW, DagHarness, garoon_items, lineworks_events

pytestmark = pytest.mark.slow


def test_demo_window_lands_once_per_event_with_series_collapsed(dags: DagHarness) -> None:
    run = dags.run("garoon_to_lineworks", DEMO_WINDOW)
    assert run.state == "success"
    report = dags.report(run)
    events = lineworks_events(dags)
    source = garoon_items(dags)
    series_ids = {e["id"] for e in source if e.get("repeatId")}
    singles = {e["id"] for e in source if not e.get("repeatId")}
    ids = collections.Counter(e["eventComponents"][0]["eventId"] for e in events)
    assert all(n == 1 for n in ids.values()), "an event was written twice"
    written = set(ids)
    not_convertible = {item["source_key"] for item in report["not_convertible"]}
    for event_id in singles:
        key = f"garoon:{event_id}"
        assert event_id_for(key) in written or key in not_convertible, f"{key} neither written nor reported"
    for event_id in series_ids:  # one LINE WORKS event per Garoon series, with its rule
        stored = [e for e in events if e["eventComponents"][0]["eventId"] == event_id_for(f"garoon:{event_id}")]
        assert len(stored) == 1 and stored[0]["eventComponents"][0].get("recurrence"), (
            f"series garoon:{event_id} not collapsed"
        )
    state = requests.get(f"{dags.emulators.lineworks.url}/_emulator/state", timeout=30).json()
    assert report["totals"]["created"] == state["eventCount"] == len(events)
    assert state["notifications"] == report["totals"]["notifications"] == 0
    assert report["totals"]["failed"] == 0


def test_all_day_events_keep_their_dates(dags: DagHarness) -> None:
    run = dags.run("garoon_to_lineworks", DEMO_WINDOW)
    assert run.state == "success"
    items = garoon_items(dags)
    source = {
        e["id"]: e for e in items if (e.get("eventType") == "ALL_DAY" or e.get("isAllDay")) and not e.get("repeatId")
    }
    assert source, "the demo tenant has all-day events"
    by_id = {e["eventComponents"][0]["eventId"]: e["eventComponents"][0] for e in lineworks_events(dags)}
    checked = 0
    for event_id, event in source.items():
        stored = by_id.get(event_id_for(f"garoon:{event_id}"))
        if stored is None:
            continue
        first = event["start"]["dateTime"][:10]
        last = event["end"]["dateTime"][:10]
        assert stored["start"] == {"date": first}
        expected_end = (dt.date.fromisoformat(last) + dt.timedelta(days=1)).isoformat()
        assert stored["end"] == {"date": expected_end}, f"{event_id}: Garoon {first}..{last} became {stored['end']}"
        checked += 1
    assert checked


def test_second_run_makes_no_write_calls(dags: DagHarness) -> None:
    assert dags.run("garoon_to_lineworks", DEMO_WINDOW).state == "success"
    before = dags.lineworks.next_seq()
    second = dags.run("garoon_to_lineworks", DEMO_WINDOW)
    assert second.state == "success"
    assert dags.writes(since=before - 1) == []
    report = dags.report(second)
    assert report["totals"]["created"] == report["totals"]["updated"] == 0
    assert report["totals"]["skipped"] > 0


def test_dry_run_writes_nothing_and_predicts_the_real_run(dags: DagHarness) -> None:
    before = dags.lineworks.next_seq()
    dry = dags.run("garoon_to_lineworks", {**DEMO_WINDOW, "dry_run": True})
    assert dry.state == "success"
    assert dags.writes(since=before - 1) == []
    predicted = dags.report(dry)["totals"]
    real = dags.run("garoon_to_lineworks", DEMO_WINDOW)
    assert real.state == "success"
    done = dags.report(real)["totals"]
    assert (predicted["planned_create"], predicted["planned_update"], predicted["planned_delete"]) == (
        done["created"],
        done["updated"],
        done["deleted"],
    )
    assert len(dags.writes(since=before - 1)) == done["created"]
