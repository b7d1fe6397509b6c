"""ics_to_lineworks through real Airflow (``dag.test``) against the LINE WORKS emulator.

A 1,000-event file from ``generate_ics`` (its people re-addressed to the emulator's users, so organizers own
calendars) and a few corpus files: one POST per sync unit, a series with its overrides in one write, and no
event lost (every UID is either in LINE WORKS or named in the report's ``not_convertible``).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
from pathlib import Path
from typing import Any

import icalendar
import pytest

from calendar_etl.transforms.lineworks import event_id_for
from include.sample_data.generate_ics import PEOPLE, _fold, generate_ics
from tests.dags.conftest import ROOT, DagHarness, lineworks_events

pytestmark = pytest.mark.slow

CORPUS = ROOT / "include" / "sample_data" / "ics"
GENERATED_EVENTS = 1_000
#: ``whole_file`` is on, so every event loads whatever the window; it is given because an empty start/end does
#: not work yet (see test_params.py::test_run_without_logical_date_or_window_uses_run_after).
WINDOW = {"start": "2026-11-01", "end": "2026-12-01"}
RESOURCE_CUTYPES = {"ROOM", "RESOURCE"}
#: Corpus files read in one run (``source`` takes several, comma-separated): series, EXDATEs, overrides, all-day,
#: Windows and VTIMEZONE zones, exporters' quirks. 20_cancelled and 26_attendees_organizer have their own tests.
CORPUS_FILES = (
    "01_multiple_vevents.ics",
    "07_all_day_single.ics",
    "08_all_day_multi_day.ics",
    "11_outlook_tokyo_standard_time.ics",
    "13_rrule_weekly.ics",
    "16_exdate_lists.ics",
    "18_overrides_moved.ics",
    "19_overrides_edited.ics",
    "29_google_calendar_export.ics",
    "32_japanese_calendar.ics",
)


# ---------------------------------------------------------------------- helpers


def directory(harness: DagHarness) -> list[dict[str, Any]]:
    """The emulator's LINE WORKS users (``/_emulator/state``), administrator and LINE WORKS-only user excluded."""
    users = harness.lineworks.state()["users"]
    return [u for u in users if not u["email"].startswith(("admin@", "arai-jun@"))]


def readdressed_ics(harness: DagHarness, n_events: int, seed: int = 0) -> str:
    """A ``generate_ics`` file whose six people are LINE WORKS users of the emulator (same names, new e-mails)."""
    emails = [u["email"] for u in directory(harness)]
    lines = generate_ics(n_events, seed=seed).replace("\r\n ", "").split("\r\n")  # unfolded
    for (_, old), new in zip(PEOPLE, emails, strict=False):
        lines = [line.replace(f"mailto:{old}", f"mailto:{new}") for line in lines]
    outside = [line for line in lines if "mailto:" in line and "CUTYPE=ROOM" not in line and "@demo." not in line]
    assert not outside, f"a person kept an outside address: {outside[:3]}"
    return "".join(piece + "\r\n" for line in lines[:-1] for piece in _fold(line))


def vevents_by_uid(path: Path) -> dict[str, list[Any]]:
    """Every VEVENT of the file, grouped by UID (read with ``icalendar``, not with the product's converter)."""
    out: dict[str, list[Any]] = collections.defaultdict(list)
    for calendar in icalendar.Calendar.from_ical(path.read_bytes(), multiple=True):
        for event in calendar.walk("VEVENT"):
            out[str(event.get("UID") or "")].append(event)
    return dict(out)


def _address(prop: Any) -> str | None:
    text = str(prop)
    return text[7:].lower() if text.lower().startswith("mailto:") else None


def owner_of(events: list[Any], accounts: set[str]) -> str | None:
    """The LINE WORKS user whose calendar gets a UID: its organizer, else its first attendee with an account."""
    master = next((e for e in events if e.get("RECURRENCE-ID") is None), events[0])
    organizer = master.get("ORGANIZER")
    if organizer is not None and _address(organizer) in accounts:
        return _address(organizer)
    attendees = master.get("ATTENDEE") or []
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        if str(attendee.params.get("CUTYPE", "")).upper() in RESOURCE_CUTYPES:
            continue
        if _address(attendee) in accounts:
            return _address(attendee)
    return None


def failed_tasks(run: Any) -> list[str]:
    """The run's failed task ids (their errors are in the captured log), for assertion messages."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(TaskInstance).where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
        return sorted(ti.task_id for ti in session.scalars(query) if ti.state == "failed")


def posts(harness: DagHarness, since: int = 0) -> list[dict[str, Any]]:
    return [r for r in harness.writes(since=since) if r["method"] == "POST"]


def by_event_id(harness: DagHarness) -> dict[str, dict[str, Any]]:
    events = lineworks_events(harness)
    ids = collections.Counter(e["eventComponents"][0]["eventId"] for e in events)
    assert all(n == 1 for n in ids.values()), f"an event was written twice: {[k for k, n in ids.items() if n > 1]}"
    return {e["eventComponents"][0]["eventId"]: e for e in events}


def reported_keys(report: dict[str, Any]) -> set[str]:
    return {str(item["source_key"]) for item in report["not_convertible"]}


def names_uid(keys: set[str], uid: str) -> bool:
    key = f"ics:{uid}"
    return any(k == key or k.startswith((f"{key}:", f"{key}#")) for k in keys)


def exception_ids(stored: dict[str, Any]) -> list[str]:
    return [c["recurringEventId"] for c in stored["eventComponents"] if c.get("recurringEventId")]


def recurrence_ids(events: list[Any]) -> tuple[list[Any], list[Any]]:
    """Return (kept, cancelled) RECURRENCE-ID values (dates or datetimes) of a UID's overrides."""
    kept, cancelled = [], []
    for event in events:
        rid = event.get("RECURRENCE-ID")
        if rid is None:
            continue
        (cancelled if str(event.get("STATUS", "")).upper() == "CANCELLED" else kept).append(rid.dt)
    return kept, cancelled


def rid_stamp(value: Any) -> str:
    """``YYYYMMDD`` for a date, ``YYYYMMDDTHHMMSS`` (UTC) for an aware datetime."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return value.strftime("%Y%m%d")


def component_rid_stamp(rid: str) -> str:
    """The UTC stamp of a LINE WORKS ``recurringEventId`` (``TZID=Zone:local``, ``...Z`` or a date)."""
    from zoneinfo import ZoneInfo

    if rid.startswith("TZID="):
        zone, _, local = rid[5:].partition(":")
        instant = dt.datetime.strptime(local, "%Y%m%dT%H%M%S").replace(tzinfo=ZoneInfo(zone))
        return instant.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S")
    if rid.startswith("VALUE=DATE:"):
        return rid[11:]
    if rid.endswith("Z"):
        return rid[:-1]
    return rid


def exdate_stamps(master: dict[str, Any]) -> set[str]:
    """The excluded starts of a stored series (EXDATE lines), as ``rid_stamp`` strings."""
    from zoneinfo import ZoneInfo

    out: set[str] = set()
    for line in master.get("recurrence") or []:
        name, _, values = line.partition(":")
        if not name.upper().startswith("EXDATE"):
            continue
        params = dict(p.split("=", 1) for p in name.split(";")[1:] if "=" in p)
        for raw in values.split(","):
            if len(raw) == 8:
                out.add(raw)
            elif raw.endswith("Z"):
                out.add(raw[:-1])
            else:
                zone = ZoneInfo(params.get("TZID") or master["start"].get("timeZone") or "UTC")
                instant = dt.datetime.strptime(raw, "%Y%m%dT%H%M%S").replace(tzinfo=zone)
                out.add(instant.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S"))
    return out


def assert_series_whole(stored: dict[str, Any], events: list[Any], uid: str) -> None:
    """A series is one LINE WORKS event: its rule on the master, each kept override an exception, cancelled ones EXDATEs."""
    master = stored["eventComponents"][0]
    assert master.get("recurrence"), f"{uid}: series written without its rule"
    kept, cancelled = recurrence_ids(events)
    assert sorted(component_rid_stamp(r) for r in exception_ids(stored)) == sorted(rid_stamp(r) for r in kept), (
        f"{uid}: overrides and exception components differ"
    )
    excluded = exdate_stamps(master)
    for rid in cancelled:
        assert rid_stamp(rid) in excluded, f"{uid}: cancelled occurrence {rid} is not excluded"


# ---------------------------------------------------------------------- the generated file


@pytest.fixture()
def generated(dags: DagHarness, tmp_path: Path) -> Path:
    path = tmp_path / "generated.ics"
    path.write_bytes(readdressed_ics(dags, GENERATED_EVENTS).encode("utf-8"))
    return path


def test_generated_file_lands_once_per_uid_in_its_owners_calendar(dags: DagHarness, generated: Path) -> None:
    source = vevents_by_uid(generated)
    assert len(source) == GENERATED_EVENTS
    accounts = {u["email"] for u in directory(dags)}
    owners = {uid: owner_of(events, accounts) for uid, events in source.items()}
    owned = {uid for uid, owner in owners.items() if owner}
    assert 0 < len(owned) < GENERATED_EVENTS, "the file should mix owned and ownerless events"

    before = dags.lineworks.next_seq()
    run = dags.run("ics_to_lineworks", {**WINDOW, "source": str(generated)})
    assert run.state == "success", f"failed tasks: {failed_tasks(run)}"
    report = dags.report(run)
    stored = by_event_id(dags)
    sent = posts(dags, since=before - 1)

    assert len(sent) == len(stored) == len(owned) == report["totals"]["created"], (
        f"{len(sent)} POSTs, {len(stored)} events, {len(owned)} owned UIDs, {report['totals']['created']} created"
    )
    assert [r for r in dags.writes(since=before - 1) if r["method"] != "POST"] == []
    assert report["totals"]["failed"] == 0
    assert report["totals"]["notifications"] == dags.lineworks.state()["notifications"] == 0

    problems = reported_keys(report)
    calendars = {u["defaultCalendarId"]: u["email"] for u in dags.lineworks.state()["users"]}
    for uid, events in source.items():
        item = stored.get(event_id_for(f"ics:{uid}"))
        if item is None:
            assert names_uid(problems, uid), f"{uid} neither written nor reported"
            assert uid not in owned, f"{uid} has owner {owners[uid]} but was not written"
            continue
        assert uid in owned, f"{uid} has no owner but was written"
        assert calendars[item["organizerCalendarId"]] == owners[uid], f"{uid} is not in its owner's calendar"
        if any(e.get("RRULE") for e in events):
            assert_series_whole(item, events, uid)
        else:
            assert len(item["eventComponents"]) == 1


def test_generated_file_into_a_shared_calendar_writes_every_uid(dags: DagHarness, generated: Path) -> None:
    source = vevents_by_uid(generated)
    writer = directory(dags)[0]["email"]  # organizes events in the file, so the new calendar has them as member
    before = dags.lineworks.next_seq()
    run = dags.run(
        "ics_to_lineworks",
        {**WINDOW, "source": str(generated), "target_calendar": "name:Imported calendar", "calendar_user": writer},
    )
    assert run.state == "success", f"failed tasks: {failed_tasks(run)}"
    report = dags.report(run)
    stored = by_event_id(dags)
    sent = posts(dags, since=before - 1)
    shared = [c for c in dags.lineworks.state()["calendars"] if c["calendarName"] == "Imported calendar"]
    assert len(shared) == 1
    assert {e["organizerCalendarId"] for e in stored.values()} == {shared[0]["calendarId"]}
    assert len(sent) == len(stored) == GENERATED_EVENTS == report["totals"]["created"]
    assert report["totals"]["failed"] == 0 and report["not_convertible"] == []
    for uid, events in source.items():
        item = stored[event_id_for(f"ics:{uid}")]
        if any(e.get("RRULE") for e in events):
            assert_series_whole(item, events, uid)


def test_generated_file_second_run_writes_nothing(dags: DagHarness, generated: Path) -> None:
    first = dags.run("ics_to_lineworks", {**WINDOW, "source": str(generated)})
    assert first.state == "success", f"failed tasks: {failed_tasks(first)}"
    before = dags.lineworks.next_seq()
    second = dags.run("ics_to_lineworks", {**WINDOW, "source": str(generated)})
    assert second.state == "success", f"failed tasks: {failed_tasks(second)}"
    assert dags.writes(since=before - 1) == []
    totals = dags.report(second)["totals"]
    assert totals["created"] == totals["updated"] == totals["deleted"] == 0
    assert totals["skipped"] == len(lineworks_events(dags))


# ---------------------------------------------------------------------- corpus files


def test_corpus_files_into_one_calendar_lose_nothing(dags: DagHarness) -> None:
    """Several real-world files in one run (``source`` is comma-separated), into a user's default calendar by id."""
    user = directory(dags)[0]
    manifest = json.loads((CORPUS / "manifest.json").read_text())["files"]
    paths = [CORPUS / name for name in CORPUS_FILES]
    uids: dict[str, list[Any]] = {}
    for path in paths:
        found = vevents_by_uid(path)
        assert not set(found) & set(uids), f"{path.name} repeats a UID of another file"
        uids.update(found)
    assert len(uids) == sum(manifest[name]["sync_units"] for name in CORPUS_FILES)
    before = dags.lineworks.next_seq()
    conf = {**WINDOW, "source": ",".join(map(str, paths)), "target_calendar": user["defaultCalendarId"],
            "calendar_user": user["email"]}  # fmt: skip
    run = dags.run("ics_to_lineworks", conf)
    assert run.state == "success", f"failed tasks: {failed_tasks(run)}"
    report = dags.report(run)
    stored = by_event_id(dags)
    sent = posts(dags, since=before - 1)
    problems = reported_keys(report)
    assert report["totals"]["failed"] == 0
    assert len(sent) == len(stored) == report["totals"]["created"]
    assert {e["organizerCalendarId"] for e in stored.values()} == {user["defaultCalendarId"]}
    for uid, events in uids.items():
        item = stored.get(event_id_for(f"ics:{uid}"))
        if item is None:
            assert names_uid(problems, uid), f"{uid} neither written nor reported"
            continue
        if any(e.get("RRULE") for e in events if e.get("RECURRENCE-ID") is None):
            assert_series_whole(item, events, uid)
        summaries = {str(e.get("SUMMARY")) for e in events if str(e.get("STATUS", "")).upper() != "CANCELLED"}
        assert {c["summary"] for c in item["eventComponents"]} <= summaries, f"{uid}: summaries changed"
    assert not [k for k in problems if not any(names_uid({k}, uid) for uid in uids)], "a problem names no UID"


def test_cancelled_events_in_a_file_are_not_written(dags: DagHarness, tmp_path: Path) -> None:
    """20_cancelled.ics (each VEVENT given a LINE WORKS organizer): a cancelled event is never created; a
    cancelled occurrence is an EXDATE of its series."""
    user = directory(dags)[0]
    text = (CORPUS / "20_cancelled.ics").read_text()
    path = tmp_path / "20_with_organizer.ics"
    path.write_text(text.replace("BEGIN:VEVENT\n", f"BEGIN:VEVENT\nORGANIZER:mailto:{user['email']}\n"))
    assert path.read_text().count("ORGANIZER:") == text.count("BEGIN:VEVENT") == 4
    before = dags.lineworks.next_seq()
    run = dags.run("ics_to_lineworks", {**WINDOW, "source": str(path)})
    assert run.state == "success", f"failed tasks: {failed_tasks(run)}"
    stored = by_event_id(dags)
    assert {e["organizerCalendarId"] for e in stored.values()} == {user["defaultCalendarId"]}
    assert event_id_for("ics:cx-whole@zimbra.example") not in stored, "a cancelled event was created"
    assert event_id_for("ics:cx-tentative@zimbra.example") in stored
    series = stored[event_id_for("ics:cx-series@zimbra.example")]
    assert_series_whole(series, vevents_by_uid(path)["cx-series@zimbra.example"], "cx-series@zimbra.example")
    assert len(posts(dags, since=before - 1)) == len(stored) == 2
    totals = dags.report(run)["totals"]
    assert totals["created"] == 2 and totals["failed"] == 0


def test_outside_organizer_goes_to_an_attendee_with_an_account_or_is_reported(dags: DagHarness, tmp_path: Path) -> None:
    """26_attendees_organizer.ics, one attendee re-addressed to a LINE WORKS user (in other letter case).

    The organizers have no LINE WORKS account: the first event goes to the attendee who has one; the second, with
    nobody on LINE WORKS, is not convertible. Neither is a failed write, and the run does not fail.
    """
    attendee = directory(dags)[3]["email"]
    text = (CORPUS / "26_attendees_organizer.ics").read_bytes().replace(b"\r\n ", b"").decode()
    path = tmp_path / "26_readdressed.ics"
    path.write_text(text.replace("mailto:Hanako.Tanaka@Example.co.jp", f"mailto:{attendee.upper()}"))
    before = dags.lineworks.next_seq()
    run = dags.run("ics_to_lineworks", {**WINDOW, "source": str(path)})
    assert run.state == "success", f"failed tasks: {failed_tasks(run)}"
    report = dags.report(run)
    assert report["totals"]["failed"] == 0, report["failed"]
    stored = by_event_id(dags)
    calendars = {u["defaultCalendarId"]: u["email"] for u in dags.lineworks.state()["users"]}
    kickoff = stored.get(event_id_for("ics:att-001@example.co.jp"))
    assert kickoff is not None, "the event with a LINE WORKS attendee was not written"
    assert calendars[kickoff["organizerCalendarId"]] == attendee
    assert event_id_for("ics:att-002@example.co.jp") not in stored
    assert names_uid(reported_keys(report), "att-002@example.co.jp")
    assert len(posts(dags, since=before - 1)) == 1


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("29_google_calendar_export.ics", id="organizers-outside-lineworks"),
        pytest.param("generated", id="calendar-user-organizes-nothing"),
    ],
)
def test_shared_calendar_is_written_through_calendar_user(dags: DagHarness, tmp_path: Path, name: str) -> None:
    """``target_calendar: name:<Name>`` with ``calendar_user``: the new calendar takes every event, written as
    ``calendar_user``, whoever organized them (people outside LINE WORKS, or others than ``calendar_user``)."""
    if name == "generated":
        path = tmp_path / "generated.ics"
        path.write_bytes(readdressed_ics(dags, 50).encode("utf-8"))
    else:
        path = CORPUS / name
    source = vevents_by_uid(path)
    writer = "admin@demo.example.com"  # organizes nothing in either file
    organizers = {_address(e["ORGANIZER"]) for events in source.values() for e in events if e.get("ORGANIZER")}
    assert organizers and writer not in organizers
    before = dags.lineworks.next_seq()
    conf = {**WINDOW, "source": str(path), "target_calendar": "name:Team calendar", "calendar_user": writer}
    run = dags.run("ics_to_lineworks", conf)
    assert run.state == "success", f"failed tasks: {failed_tasks(run)}"
    report = dags.report(run)
    assert report["totals"]["failed"] == 0
    shared = [c for c in dags.lineworks.state()["calendars"] if c["calendarName"] == "Team calendar"]
    assert len(shared) == 1
    stored = by_event_id(dags)
    assert {e["organizerCalendarId"] for e in stored.values()} == {shared[0]["calendarId"]}
    assert len(stored) == len(source) == len(posts(dags, since=before - 1))
