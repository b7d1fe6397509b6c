"""calendar_export through real Airflow (``dag.test``) over the demo tenant's window.

The three tables (``events``, ``attendees``, ``facilities``) must exist as Parquet and CSV partitioned by
``date=YYYY-MM-DD``, hold one events row per Garoon occurrence in the window (Garoon listed independently, per
user, de-duplicated on ``(id, repeatId)``), and book exactly the facilities Garoon shows on those occurrences.
"""

from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from tests.dags.conftest import DEMO_WINDOW, DagHarness, garoon_items

pytestmark = pytest.mark.slow

TABLES = ("events", "attendees", "facilities")


def read_table(folder: Path, name: str) -> pd.DataFrame:
    """Read a partitioned table file by file, checking each partition has both formats with the same rows."""
    assert (folder / name).is_dir(), f"table {name} was not written to {folder}"
    partitions = sorted((folder / name).iterdir())
    assert partitions, f"{name}: no partitions"
    frames = []
    for part in partitions:
        assert part.is_dir() and part.name.startswith("date="), f"{name}: unexpected {part.name}"
        day = part.name.removeprefix("date=")
        assert dt.date.fromisoformat(day).isoformat() == day, f"{name}: {part.name} is not date=YYYY-MM-DD"
        assert sorted(p.name for p in part.iterdir()) == ["part.csv", "part.parquet"], f"{name}/{part.name}"
        frame = pd.read_parquet(part / "part.parquet")
        csv = pd.read_csv(part / "part.csv")
        assert len(frame) == len(csv) > 0, f"{name}/{part.name}: Parquet and CSV differ"
        assert list(frame.columns) == list(csv.columns), f"{name}/{part.name}: columns differ"
        frames.append(frame.assign(date=day))
    return pd.concat(frames, ignore_index=True)


def start_instant(event: dict[str, Any]) -> pd.Timestamp:
    return pd.Timestamp(event["start"]["dateTime"]).tz_convert("UTC")


def is_all_day(event: dict[str, Any]) -> bool:
    return bool(event.get("eventType") == "ALL_DAY" or event.get("isAllDay"))


def export(harness: DagHarness, output: Path, **conf: Any) -> dict[str, Any]:
    """Run calendar_export over the demo window into ``output``; return the tables and Garoon's occurrences."""
    run = harness.run("calendar_export", {**DEMO_WINDOW, "output_path": str(output), **conf})
    assert run.state == "success"
    return {"output": output, "tables": {name: read_table(output, name) for name in TABLES},
            "garoon": garoon_items(harness)}  # fmt: skip


@pytest.fixture(params=[pytest.param({}, id="both-sources"), pytest.param({"sources": ["garoon"]}, id="garoon-only")])
def exported(request: pytest.FixtureRequest, dags: DagHarness, tmp_path: Path) -> dict[str, Any]:
    """The demo window exported with the default sources (LINE WORKS starts empty), and with Garoon alone."""
    return export(dags, tmp_path / "tables", **request.param)


def test_tables_are_partitioned_by_date_in_both_formats(exported: dict[str, Any]) -> None:
    output: Path = exported["output"]
    assert sorted(p.name for p in output.iterdir()) == sorted(TABLES)
    events = exported["tables"]["events"]
    local_days = pd.to_datetime(events["start_local"]).dt.date.astype(str)
    assert (events["date"] == local_days).all(), "an events row is in another day's partition"
    for name in ("attendees", "facilities"):
        table = exported["tables"][name]
        days = dict(zip(events["source_key"], events["date"], strict=False))
        assert (table["source_key"].map(days) == table["date"]).all(), f"{name}: a row is not in its event's day"


def test_one_events_row_per_garoon_occurrence(exported: dict[str, Any]) -> None:
    events = exported["tables"]["events"]
    source = exported["garoon"]
    assert len(source) > 300, "the demo tenant's window holds a few hundred occurrences"
    assert set(events["source_system"]) == {"garoon"}, "LINE WORKS starts empty"
    assert len(events) == len(source), f"{len(events)} rows for {len(source)} Garoon occurrences"
    assert events["source_key"].is_unique
    # the same occurrences: title and local start day (the first day for all-day events)
    want = collections.Counter((e.get("subject") or "", e["start"]["dateTime"][:10]) for e in source)
    got = collections.Counter(zip(events["summary"].fillna(""), events["date"], strict=True))
    assert got == want, f"only in the export: {got - want}; only in Garoon: {want - got}"
    timed = collections.Counter(start_instant(e) for e in source if not is_all_day(e))
    exported_timed = collections.Counter(pd.to_datetime(events.loc[~events["all_day"], "start_utc"], utc=True))
    assert exported_timed == timed
    assert (events["all_day"]).sum() == sum(is_all_day(e) for e in source)


def test_facility_bookings_match_garoon(exported: dict[str, Any]) -> None:
    facilities = exported["tables"]["facilities"]
    source = exported["garoon"]
    want = collections.Counter((f["code"], start_instant(e)) for e in source for f in e.get("facilities") or [])
    assert want, "the demo tenant books rooms in the window"
    got = collections.Counter(
        zip(facilities["garoon_code"], pd.to_datetime(facilities["start_utc"], utc=True), strict=True)
    )
    assert got == want, f"only in the export: {got - want}; only in Garoon: {want - got}"
    names = {f["code"]: f["name"] for e in source for f in e.get("facilities") or []}
    assert all(facilities["facility"] == facilities["garoon_code"].map(names))
    events = exported["tables"]["events"].set_index("source_key")
    per_event = facilities.groupby("source_key").size()
    listed = events.loc[per_event.index, "facilities"].str.split(", ").map(len)
    assert (listed == per_event).all(), "an events row lists other facilities than its bookings"


def test_attendees_match_garoon(exported: dict[str, Any]) -> None:
    attendees = exported["tables"]["attendees"]
    events = exported["tables"]["events"]
    source = exported["garoon"]
    assert len(attendees) == events["attendee_count"].sum()
    want = collections.Counter(
        (a.get("code"), e["start"]["dateTime"][:10]) for e in source for a in e.get("attendees") or []
    )
    got = collections.Counter(zip(attendees["garoon_code"], attendees["date"], strict=True))
    assert got == want, f"only in the export: {got - want}; only in Garoon: {want - got}"


def test_both_sources_are_exported_side_by_side(dags: DagHarness, tmp_path: Path) -> None:
    """With an event in LINE WORKS too, the events table holds Garoon's occurrences and the LINE WORKS one, once."""
    base = dags.emulators.lineworks.url
    token = requests.post(f"{base}/_emulator/user-token", json={"email": "sato-ken@demo.example.com"}, timeout=30)
    created = requests.post(
        f"{base}/v1.0/users/me/calendar/events",
        json={"eventComponents": [{"summary": "LINE WORKS only", "start": {"dateTime": "2026-11-18T13:00:00",
              "timeZone": "Asia/Tokyo"}, "end": {"dateTime": "2026-11-18T14:00:00", "timeZone": "Asia/Tokyo"}}],
              "sendNotification": False},
        headers={"Authorization": f"Bearer {token.json()['access_token']}"}, timeout=30,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    result = export(dags, tmp_path / "tables")
    events = result["tables"]["events"]
    counts = events["source_system"].value_counts().to_dict()
    assert counts == {"garoon": len(result["garoon"]), "lineworks": 1}, counts


def test_window_without_events_exports_empty_tables(dags: DagHarness, tmp_path: Path) -> None:
    """LINE WORKS alone, which starts empty: the run succeeds and writes no rows."""
    output = tmp_path / "tables"
    run = dags.run("calendar_export", {**DEMO_WINDOW, "output_path": str(output), "sources": ["lineworks"]})
    assert run.state == "success"
    written = [p for p in output.rglob("*") if p.is_file()] if output.exists() else []
    assert written == []
