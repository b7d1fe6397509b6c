"""All-day days never depend on the worker's zone.

Every all-day round trip (Garoon, LINE WORKS, iCalendar, series expansion, collapsing Garoon occurrences) runs in
a subprocess whose ``TZ`` is Pacific/Kiritimati (UTC+14), Etc/GMT+12 (UTC−12), America/Los_Angeles and
Asia/Tokyo. The output days must be identical in all four, and equal to the input days.

Run directly (``TZ=... python -m tests.transforms.test_all_day_tz``) this module prints the child's JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER_ZONES = ("Pacific/Kiritimati", "Etc/GMT+12", "America/Los_Angeles", "Asia/Tokyo")
#: Where each worker zone's clock stands on 2026-01-15 (checked in the child, so a TZ that did not take
#: effect fails loudly instead of silently testing UTC four times).
WORKER_OFFSETS = {
    "Pacific/Kiritimati": 14 * 3600,
    "Etc/GMT+12": -12 * 3600,
    "America/Los_Angeles": -8 * 3600,
    "Asia/Tokyo": 9 * 3600,
}

#: Event zones from UTC−12 to UTC+14, with DST at midnight (Santiago, Havana, Beirut) and a skipped day (Apia).
EVENT_ZONES = (
    "Etc/GMT+12",
    "Pacific/Honolulu",
    "America/Los_Angeles",
    "America/Havana",
    "America/Santiago",
    "America/St_Johns",
    "UTC",
    "Europe/London",
    "Asia/Beirut",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Pacific/Kiritimati",
)
#: Days around DST changes, leap days, year ends, and the days Apia (2011-12-30) and Kiritimati (1994-12-31) skipped.
DAYS = (
    "1971-01-02",
    "1994-12-31",
    "1999-12-31",
    "2000-01-01",
    "2011-12-30",
    "2024-02-29",
    "2026-03-08",
    "2026-03-29",
    "2026-04-05",
    "2026-09-06",
    "2026-11-01",
    "2026-12-31",
    "2037-12-30",
)


def cases() -> list[dict[str, Any]]:
    """One all-day event per (day, zone): 1 day long, or 3 days long every third row."""
    out = []
    for n, (day, zone_name) in enumerate((d, z) for d in DAYS for z in EVENT_ZONES):
        first = dt.date.fromisoformat(day)
        out.append(
            {
                "key": f"allday:{n}",
                "zone": zone_name,
                "start": first,
                "end": first + dt.timedelta(days=3 if n % 3 == 0 else 1),
            }
        )
    return out


# ---------------------------------------------------------------------- the child


def run_round_trips() -> dict[str, Any]:
    """Run every all-day round trip and return the days they give (what the child prints)."""
    from calendar_etl.transforms import garoon, ics, lineworks, recurrence
    from include.emulators.garoon import repeat_dates
    from tests.transforms import helpers as h

    gmtoff = time.localtime(dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC).timestamp()).tm_gmtoff
    out: dict[str, Any] = {"worker": {"TZ": os.environ.get("TZ"), "gmtoff": gmtoff}}
    attendee = h.person(garoon_code="sato", email="sato@example.com", name="佐藤")
    # description and organizer are set: canonical_to_garoon raises on nulls there (pinned in the property tests)
    rows = [
        {
            "source_system": "ics",
            "source_key": c["key"],
            "sync_key": c["key"],
            "kind": "single",
            "summary": "終日",
            "description": "",
            "all_day": True,
            "start_date": c["start"],
            "end_date": c["end"],
            "timezone": c["zone"],
            "organizer": attendee,
            "attendees": [attendee],
        }
        for c in cases()
    ]
    frame = h.frame(rows)

    def days(records: list[dict[str, Any]], key: str) -> list[list[str]]:
        return sorted([str(r[key]), r["start_date"].isoformat(), r["end_date"].isoformat()] for r in records)

    # Garoon: the bodies as written, and read back through body_to_event
    writes, errors = garoon.canonical_to_garoon(frame, default_zone="Asia/Tokyo")
    assert errors.empty, errors.to_dict("records")
    bodies = [json.loads(p) for p in writes["payload"]]
    out["garoon_bodies"] = sorted(
        [b["additionalItems"]["item"]["value"], b["start"]["dateTime"][:10], b["end"]["dateTime"][:10]] for b in bodies
    )
    back, errors = garoon.garoon_to_canonical([garoon.body_to_event(b, str(i)) for i, b in enumerate(bodies)])
    assert errors.empty, errors.to_dict("records")
    out["garoon"] = days(h.records(back), "marker")

    # LINE WORKS
    writes, errors = lineworks.canonical_to_lineworks(frame)
    assert errors.empty, errors.to_dict("records")
    items = [json.loads(p) for p in writes["payload"]]
    out["lineworks_bodies"] = sorted(
        [c["summary"], c["start"]["date"], c["end"]["date"]] for i in items for c in i["eventComponents"]
    )
    back, errors = lineworks.lineworks_to_canonical(items)
    assert errors.empty, errors.to_dict("records")
    by_event = {lineworks.event_id_for(r["sync_key"]): r["sync_key"] for r in rows}
    out["lineworks"] = sorted(
        [by_event[r["lineworks_event_id"]], r["start_date"].isoformat(), r["end_date"].isoformat()]
        for r in h.records(back)
    )

    # iCalendar
    back, errors = ics.ics_to_canonical(ics.canonical_to_ics(frame))
    assert errors.empty, errors.to_dict("records")
    out["ics"] = days(h.records(back), "ics_uid")

    # An all-day series with an EXDATE and a moved exception, expanded over a window given in UTC
    series = h.frame(
        [
            {
                "source_system": "ics",
                "source_key": "s",
                "sync_key": "s",
                "kind": "series",
                "summary": "週次",
                "all_day": True,
                "start_date": dt.date(2026, 3, 1),
                "end_date": dt.date(2026, 3, 2),
                "timezone": "Pacific/Kiritimati",
                "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=SU;COUNT=10", "EXDATE;VALUE=DATE:20260315"],
            },
            {
                "source_system": "ics",
                "source_key": "s:20260322",
                "sync_key": "s",
                "kind": "exception",
                "recurrence_id": "20260322",
                "summary": "moved",
                "all_day": True,
                "start_date": dt.date(2026, 3, 23),
                "end_date": dt.date(2026, 3, 25),
                "timezone": "Pacific/Kiritimati",
            },
        ]
    )
    expanded, errors = recurrence.expand_series(
        series, dt.datetime(2026, 2, 25, tzinfo=dt.UTC), dt.datetime(2026, 6, 1, tzinfo=dt.UTC), "expanded"
    )
    assert errors.empty, errors.to_dict("records")
    out["expanded"] = days(h.records(expanded), "recurrence_id")

    # Garoon's list items of all-day repeating events far west and far east of UTC, collapsed into a series
    collapsed: list[list[str]] = []
    for zone_name in ("Etc/GMT+12", "Pacific/Kiritimati"):
        info = {
            "type": "EVERY_WEEK",
            "dayOfWeek": "SUN",
            "period": {"start": "2026-03-01", "end": "2026-05-31"},
            "time": {"start": "00:00", "end": "23:59"},
            "timeZone": zone_name,
            "isAllDay": True,
            "isStartOnly": False,
            "exclusiveDateTimes": [
                {
                    "start": f"{dt.datetime(2026, 3, 15, tzinfo=h.zone(zone_name)).isoformat()}",
                    "end": f"{dt.datetime(2026, 3, 15, 23, 59, 59, tzinfo=h.zone(zone_name)).isoformat()}",
                }
            ],
        }
        listed = [
            {
                "id": f"77{zone_name[-2:]}",
                "eventType": "REPEATING",
                "subject": "終日の定例",
                "isAllDay": True,
                "isStartOnly": False,
                "repeatId": f"{day:%Y%m%d}0000",
                "repeatInfo": info,
                "start": {
                    "dateTime": dt.datetime.combine(day, dt.time(), h.zone(zone_name)).isoformat(),
                    "timeZone": zone_name,
                },
                "end": {
                    "dateTime": dt.datetime.combine(day, dt.time(23, 59, 59), h.zone(zone_name)).isoformat(),
                    "timeZone": zone_name,
                },
                "attendees": [{"type": "USER", "id": "7", "code": "sato", "name": "佐藤"}],
            }
            for day in repeat_dates(info)
            if day != dt.date(2026, 3, 15)
        ]
        window = (dt.datetime(2026, 2, 20, tzinfo=dt.UTC), dt.datetime(2026, 6, 10, tzinfo=dt.UTC))
        events, errors = garoon.garoon_to_canonical(listed, listed=window)
        assert errors.empty, errors.to_dict("records")
        records = h.records(events)
        collapsed += [[zone_name, r["kind"], r["start_date"].isoformat(), *r["recurrence"]] for r in records]
        again, errors = recurrence.expand_series(events, *window, "expanded")
        assert errors.empty, errors.to_dict("records")
        collapsed += [[zone_name, *d] for d in days(h.records(again), "recurrence_id")]
    out["garoon_series"] = collapsed
    return out


# ---------------------------------------------------------------------- the tests


def run_child(zone_name: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TZ": zone_name, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.transforms.test_all_day_tz"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def outputs() -> dict[str, dict[str, Any]]:
    """The child's output per worker zone (the four children run at once)."""
    children = {zone_name: run_child(zone_name) for zone_name in WORKER_ZONES}
    results = {}
    for zone_name, child in children.items():
        stdout, stderr = child.communicate(timeout=300)
        assert child.returncode == 0, f"TZ={zone_name}: {stderr[-3000:]}"
        results[zone_name] = json.loads(stdout.strip().splitlines()[-1])
    return results


PATHS = ("garoon_bodies", "garoon", "lineworks_bodies", "lineworks", "ics", "expanded", "garoon_series")


def test_each_child_ran_in_its_zone(outputs: dict[str, dict[str, Any]]) -> None:
    assert {z: o["worker"] for z, o in outputs.items()} == {
        z: {"TZ": z, "gmtoff": WORKER_OFFSETS[z]} for z in WORKER_ZONES
    }


@pytest.mark.parametrize("path", PATHS)
def test_all_day_days_are_identical_in_every_worker_zone(outputs: dict[str, dict[str, Any]], path: str) -> None:
    reference = outputs["Asia/Tokyo"][path]
    for zone_name in WORKER_ZONES:
        assert outputs[zone_name][path] == reference, f"TZ={zone_name} differs from TZ=Asia/Tokyo on {path}"


@pytest.mark.parametrize("path", ["garoon_bodies", "garoon", "lineworks", "ics"])
def test_all_day_days_are_the_input_days(outputs: dict[str, dict[str, Any]], path: str) -> None:
    expected = sorted([c["key"], c["start"].isoformat(), c["end"].isoformat()] for c in cases())
    if path == "garoon_bodies":  # Garoon holds the inclusive last day (00:00:00 to 23:59:59)
        expected = sorted([k, s, (dt.date.fromisoformat(e) - dt.timedelta(days=1)).isoformat()] for k, s, e in expected)
    for zone_name in WORKER_ZONES:
        assert outputs[zone_name][path] == expected, f"TZ={zone_name}"


def test_all_day_series_days(outputs: dict[str, dict[str, Any]]) -> None:
    sundays = [dt.date(2026, 3, 1) + dt.timedelta(weeks=n) for n in range(10)]
    moved = ["20260322", "2026-03-23", "2026-03-25"]
    expected = [
        *(
            [f"{d:%Y%m%d}", d.isoformat(), (d + dt.timedelta(days=1)).isoformat()]
            for d in sundays
            if d not in (dt.date(2026, 3, 15), dt.date(2026, 3, 22))
        ),
        moved,
    ]
    for zone_name in WORKER_ZONES:
        assert outputs[zone_name]["expanded"] == sorted(expected), f"TZ={zone_name}"


def test_garoon_all_day_series_collapse_to_their_own_days(outputs: dict[str, dict[str, Any]]) -> None:
    sundays = [dt.date(2026, 3, 1) + dt.timedelta(weeks=n) for n in range(14)]
    for zone_name in WORKER_ZONES:
        got = outputs[zone_name]["garoon_series"]
        for event_zone in ("Etc/GMT+12", "Pacific/Kiritimati"):
            mine = [row[1:] for row in got if row[0] == event_zone]
            assert mine[0][:2] == ["series", "2026-03-01"], (zone_name, mine[0])
            assert "EXDATE;VALUE=DATE:20260315" in mine[0], (zone_name, mine[0])
            occurrences = mine[1:]
            assert occurrences == [
                [f"{d:%Y%m%d}", d.isoformat(), (d + dt.timedelta(days=1)).isoformat()]
                for d in sundays
                if d != dt.date(2026, 3, 15)
            ], (zone_name, event_zone)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run_round_trips(), ensure_ascii=False, sort_keys=True) + "\n")
