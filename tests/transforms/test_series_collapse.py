"""Acceptance: a Garoon repeating event, listed occurrence by occurrence, becomes one LINE WORKS series write.

The main case: 52 weekly occurrences, 2 excluded (so Garoon lists 50) and 1 edited (moved and renamed). The
list items are built exactly as Garoon's list endpoint returns them (and checked against the Garoon emulator's
own listing); the converters must turn them into exactly one LINE WORKS write whose RRULE, EXDATE and exception
components give back the 50 occurrences, which is checked by expanding the payload with dateutil (not with the
product's recurrence code), and by POSTing it to the LINE WORKS emulator and listing it back month by month.

Also: every Garoon repeat type collapses to one series; an unknown (future) repeat type and a rule that does not
reproduce the listed occurrences keep every occurrence as a single event, with the reason recorded.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from dateutil import rrule

from calendar_etl import model
from calendar_etl.transforms import garoon as garoon_tx
from calendar_etl.transforms import identity
from calendar_etl.transforms import lineworks as lineworks_tx
from include.emulators.garoon import repeat_dates
from tests.emulators.fixtures import GaroonClient, LineWorksClient
from tests.transforms import helpers as h

Json = dict[str, Any]
SERIES_ID = "990052"
ADMIN = {"id": "1", "code": "Administrator", "name": "Administrator"}
SATO = {"id": "7", "code": "sato-ken", "name": "佐藤 健"}
LISTED = (dt.datetime(2025, 12, 25, tzinfo=dt.UTC), dt.datetime(2027, 1, 5, tzinfo=dt.UTC))


# ---------------------------------------------------------------------- Garoon list items, as the list endpoint gives them


def stamp(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def weekly_info(zone_name: str, first: dt.date, weeks: int, excluded: list[dt.date]) -> Json:
    tz = h.zone(zone_name)
    return {
        "type": "EVERY_WEEK",
        "dayOfWeek": "MON",
        "period": {"start": first.isoformat(), "end": (first + dt.timedelta(weeks=weeks - 1)).isoformat()},
        "time": {"start": "10:00", "end": "11:00"},
        "timeZone": zone_name,
        "isAllDay": False,
        "isStartOnly": False,
        "exclusiveDateTimes": [
            {
                "start": stamp(dt.datetime.combine(d, dt.time(10), tz)),
                "end": stamp(dt.datetime.combine(d, dt.time(11), tz)),
            }
            for d in excluded
        ],
    }


def master_fields(subject: str) -> Json:
    """The fields every listed occurrence shares with its series (the emulator's and the demo tenant's shape)."""
    return {
        "id": SERIES_ID,
        "creator": dict(ADMIN),
        "createdAt": "2025-12-01T00:00:00Z",
        "updater": dict(ADMIN),
        "updatedAt": "2025-12-01T00:00:00Z",
        "eventType": "REPEATING",
        "eventMenu": "会議",
        "subject": subject,
        "notes": "週次の定例です。",
        "visibilityType": "PUBLIC",
        "useAttendanceCheck": False,
        "attachments": [],
        "attendees": [{**ADMIN, "type": "USER"}, {**SATO, "type": "USER"}],
        "watchers": [],
        "facilities": [],
        "additionalItems": {"item": {"value": ""}},
    }


def list_items(info: Json, subject: str, edits: dict[dt.date, tuple[dt.timedelta, str]] | None = None) -> list[Json]:
    """Return Garoon's list items of a series: one per occurrence (same ``id``, 12-digit ``repeatId``).

    ``edits`` moves an occurrence and renames it (Garoon keeps the original ``repeatId``).
    """
    zone_name = info["timeZone"]
    tz = h.zone(zone_name)
    all_day = bool(info["isAllDay"])
    start_time = dt.time(0) if all_day else dt.time.fromisoformat(info["time"]["start"])
    end_time = (
        dt.time(23, 59, 59) if all_day else dt.time.fromisoformat(info["time"].get("end") or info["time"]["start"])
    )
    excluded = {
        dt.datetime.fromisoformat(x["start"]).astimezone(tz).date() for x in info.get("exclusiveDateTimes") or []
    }
    items = []
    for day in repeat_dates(info):
        if day in excluded:
            continue
        begin = dt.datetime.combine(day, start_time, tz)
        end = dt.datetime.combine(day + dt.timedelta(days=end_time < start_time), end_time, tz)
        item = {**master_fields(subject), "repeatId": f"{day:%Y%m%d}" + ("0000" if all_day else f"{start_time:%H%M}")}
        shift, title = (edits or {}).get(day, (dt.timedelta(0), subject))
        item["subject"] = title
        item["start"] = {"dateTime": stamp((begin + shift).astimezone(tz)), "timeZone": zone_name}
        if not info["isStartOnly"]:
            item["end"] = {"dateTime": stamp((end + shift).astimezone(tz)), "timeZone": zone_name}
        item.update(
            isAllDay=all_day,
            isStartOnly=bool(info["isStartOnly"]),
            originalStartTimeZone=zone_name,
            originalEndTimeZone=zone_name,
            repeatInfo=copy.deepcopy(info),
        )
        items.append(item)
    return items


# ---------------------------------------------------------------------- the oracle: a LINE WORKS payload, expanded by dateutil


def local(value: Json) -> dt.datetime | dt.date:
    if "date" in value:
        return dt.date.fromisoformat(value["date"])
    return dt.datetime.fromisoformat(value["dateTime"]).replace(tzinfo=h.zone(value["timeZone"]))


def payload_occurrences(components: list[Json]) -> list[tuple[Any, Any, str]]:
    """Return (start, end, summary) of every occurrence a LINE WORKS event shows, sorted by start.

    The master's ``recurrence`` lines are parsed by dateutil's own RFC 5545 parser; an exception component
    (``recurringEventId``) replaces the occurrence it names.
    """
    masters = [c for c in components if "recurringEventId" not in c]
    assert len(masters) == 1, components
    master = masters[0]
    start, end = local(master["start"]), local(master["end"])
    if isinstance(start, dt.datetime):
        head = f"DTSTART;TZID={master['start']['timeZone']}:{start:%Y%m%dT%H%M%S}"
    else:
        head = f"DTSTART;VALUE=DATE:{start:%Y%m%d}"
    rules = rrule.rrulestr("\n".join([head, *master["recurrence"]]), forceset=True, tzids=h.zone)
    shown: dict[Any, tuple[Any, Any, str]] = {}
    for occurrence in rules:
        key = occurrence.astimezone(dt.UTC) if isinstance(start, dt.datetime) else occurrence.date()
        first = key if isinstance(start, dt.datetime) else occurrence.date()
        shown[key] = (first, first + (end - start), master["summary"])
    for exception in components:
        if "recurringEventId" not in exception:
            continue
        spec = exception["recurringEventId"]
        if spec.startswith("TZID="):
            zone_name, _, value = spec[5:].partition(":")
            original: Any = (
                dt.datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=h.zone(zone_name)).astimezone(dt.UTC)
            )
        else:
            original = dt.datetime.strptime(spec[-8:], "%Y%m%d").date()
        assert original in shown, f"exception {spec} names no occurrence"
        begin, finish = local(exception["start"]), local(exception["end"])
        if isinstance(begin, dt.datetime):
            begin, finish = begin.astimezone(dt.UTC), finish.astimezone(dt.UTC)  # type: ignore[union-attr]
        shown[original] = (begin, finish, exception["summary"])
    return sorted(shown.values(), key=lambda o: (str(type(o[0])), o[0]))


def listed_occurrences(items: list[Json]) -> list[tuple[dt.datetime, dt.datetime, str]]:
    """Return (start, end, subject) of Garoon list items, sorted by start."""
    return sorted(
        (
            dt.datetime.fromisoformat(i["start"]["dateTime"]).astimezone(dt.UTC),
            dt.datetime.fromisoformat(i["end"]["dateTime"]).astimezone(dt.UTC),
            i["subject"],
        )
        for i in items
    )


# ---------------------------------------------------------------------- the acceptance case

ZONES = ["Asia/Tokyo", "America/Los_Angeles"]  # Garoon's home, and a zone whose offset changes twice in the year
FIRST_MONDAY = dt.date(2026, 1, 5)
EXCLUDED = [FIRST_MONDAY + dt.timedelta(weeks=9), FIRST_MONDAY + dt.timedelta(weeks=30)]
EDITED = FIRST_MONDAY + dt.timedelta(weeks=20)
NEW_SUBJECT = "定例（時間変更）🕑"
SHIFT = dt.timedelta(hours=2, minutes=30)


def acceptance_items(zone_name: str) -> list[Json]:
    info = weekly_info(zone_name, FIRST_MONDAY, 52, EXCLUDED)
    return list_items(info, "週次定例 🗓", {EDITED: (SHIFT, NEW_SUBJECT)})


def to_lineworks(items: list[Json], owner_email: str) -> tuple[Any, Any]:
    """Garoon list items → canonical (collapsed) → people mapped to e-mails → LINE WORKS writes."""
    events, errors = garoon_tx.garoon_to_canonical(items, listed=LISTED)
    assert errors.empty, errors.to_dict("records")
    directory = identity.Directory.build(
        user_map=[
            {"garoon_code": ADMIN["code"], "email": owner_email},
            {"garoon_code": SATO["code"], "email": "sato.ken@example.com"},
        ]
    )
    resolved = identity.resolve(events, directory, target="lineworks")
    writes, write_errors = lineworks_tx.canonical_to_lineworks(resolved)
    assert write_errors.empty, write_errors.to_dict("records")
    return events, writes


@pytest.mark.parametrize("zone_name", ZONES)
def test_items_match_what_the_garoon_emulator_lists(garoon: GaroonClient, zone_name: str) -> None:
    """The hand-built items are what Garoon's list endpoint gives for the seeded series and its edit."""
    items = acceptance_items(zone_name)
    edited = next(i for i in items if i["subject"] == NEW_SUBJECT)
    master = {**master_fields("週次定例 🗓"), "repeatInfo": weekly_info(zone_name, FIRST_MONDAY, 52, EXCLUDED)}
    override = {
        k: edited[k] for k in ("id", "repeatId", "eventType", "subject", "start", "end", "isAllDay", "isStartOnly")
    }
    response = garoon.seed([master, override])
    assert response.status_code == 200, response.text
    listed = garoon.all_events(
        target="1", targetType="user", rangeStart="2025-12-25T00:00:00Z", rangeEnd="2027-01-05T00:00:00Z"
    )
    mine = [e for e in listed if e["id"] == SERIES_ID]
    assert len(mine) == len(items) == 50
    compared = ("id", "repeatId", "eventType", "subject", "start", "end", "isAllDay", "isStartOnly", "repeatInfo")
    by_repeat_id = {e["repeatId"]: e for e in mine}
    for item in items:
        assert {k: by_repeat_id[item["repeatId"]].get(k) for k in compared} == {k: item[k] for k in compared}
    # ... and the converter reads the emulator's listing exactly as it reads ours
    ours, theirs = (
        garoon_tx.garoon_to_canonical(items, listed=LISTED),
        garoon_tx.garoon_to_canonical(mine, listed=LISTED),
    )
    columns = ["source_key", "kind", "recurrence_id", "summary", "start", "end", "recurrence"]
    assert theirs.events[columns].astype(str).to_dict("records") == ours.events[columns].astype(str).to_dict("records")


@pytest.mark.parametrize("zone_name", ZONES)
def test_52_weekly_occurrences_become_one_lineworks_write(zone_name: str) -> None:
    items = acceptance_items(zone_name)
    assert len(items) == 50
    assert {i["repeatId"] for i in items} == {
        f"{FIRST_MONDAY + dt.timedelta(weeks=n):%Y%m%d}1000" for n in range(52) if n not in (9, 30)
    }
    events, writes = to_lineworks(items, "owner@example.com")
    # canonical: one series and one exception, nothing kept apart, no degradation
    assert model.validate(events).empty
    assert sorted(events["kind"]) == ["exception", "series"]
    assert all(list(r) == [] for r in events["reasons"]), events["reasons"].tolist()
    # one LINE WORKS write for the whole series
    assert len(writes) == 1
    write = writes.iloc[0]
    assert write["sync_key"] == f"garoon:{SERIES_ID}"
    assert write["owner"] == "owner@example.com"
    components = json.loads(write["payload"])["eventComponents"]
    assert len(components) == 2
    master, exception = components
    assert [line.split(":")[0].split(";")[0] for line in master["recurrence"]] == ["RRULE", "EXDATE"]
    assert exception["summary"] == NEW_SUBJECT
    # the payload, expanded by dateutil, shows exactly the 50 listed occurrences, one by one
    shown = payload_occurrences(components)
    expected = listed_occurrences(items)
    assert len(shown) == 50
    for got, want in zip(shown, expected, strict=True):
        assert got == want


def stored_event(client: LineWorksClient, owner: str, event_id: str) -> list[Json]:
    response = client.call("GET", f"/users/{owner}/calendar/events/{event_id}")
    assert response.status_code == 200, response.text
    return [response.json()]


@pytest.mark.parametrize("zone_name", ZONES)
def test_the_lineworks_emulator_shows_the_same_50_occurrences(lineworks: LineWorksClient, zone_name: str) -> None:
    users = lineworks.call("GET", "/users").json()["users"]
    owner = str(users[0]["email"])
    items = acceptance_items(zone_name)
    _, writes = to_lineworks(items, owner)
    assert len(writes) == 1
    payload = json.loads(writes["payload"].iat[0])
    event_id = writes["event_id"].iat[0]
    response = lineworks.call("POST", f"/users/{writes['owner'].iat[0]}/calendar/events", json=payload)
    assert response.status_code == 201, response.text
    expected = listed_occurrences(items)
    seen: set[tuple[Any, ...]] = set()
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    while start < dt.datetime(2027, 1, 1, tzinfo=dt.UTC):
        until = start + dt.timedelta(days=31)
        params = {"fromDateTime": start.isoformat(), "untilDateTime": until.isoformat()}
        response = lineworks.call("GET", f"/users/{owner}/calendar/events", params=params)
        assert response.status_code == 200, response.text
        listed = [e for e in response.json()["events"] if e["eventComponents"][0]["eventId"] == event_id]
        in_window = [o for o in expected if o[0] < until and o[1] > start]
        assert len(listed) == (1 if in_window else 0), (start, listed)
        for item in listed:
            shown = [o for o in payload_occurrences(item["eventComponents"]) if o[0] < until and o[1] > start]
            assert shown == in_window, start
            seen.update(shown)
        start = until
    assert sorted(seen) == expected
    # what the emulator stores reads back as one series and one exception showing the same 50 occurrences
    back, errors = lineworks_tx.lineworks_to_canonical(stored_event(lineworks, owner, event_id))
    assert errors.empty
    rows = h.records(back)
    assert sorted(r["kind"] for r in rows) == ["exception", "series"]
    assert sorted(h.effective_occurrences(rows).values()) == expected


# ---------------------------------------------------------------------- every repeat type

WEEK_TYPES = ("EVERY_WEEK", "EVERY_1STWEEK", "EVERY_2NDWEEK", "EVERY_3RDWEEK", "EVERY_4THWEEK", "EVERY_LASTWEEK")
REPEAT_TYPES = [
    ("EVERY_DAY", {}),
    ("EVERY_WEEKDAY", {}),
    *((kind, {"dayOfWeek": "THU"}) for kind in WEEK_TYPES),
    ("EVERY_MONTH", {"dayOfMonth": "15"}),
    ("EVERY_MONTH", {"dayOfMonth": "31"}),
    ("EVERY_MONTH", {"dayOfMonth": "EOM"}),
]
SHAPES = {
    "timed": {"time": {"start": "09:30", "end": "10:15"}, "isAllDay": False, "isStartOnly": False},
    "all-day": {"time": {"start": "00:00", "end": "23:59"}, "isAllDay": True, "isStartOnly": False},
    "start-only": {"time": {"start": "18:00"}, "isAllDay": False, "isStartOnly": True},
}


def typed_info(kind: str, extra: Json, shape: str, zone_name: str = "Asia/Tokyo") -> Json:
    info = {
        "type": kind,
        **extra,
        "period": {"start": "2026-01-01", "end": "2026-12-31"},
        "timeZone": zone_name,
        **copy.deepcopy(SHAPES[shape]),
    }
    dates = repeat_dates(info)
    tz = h.zone(zone_name)
    clock = dt.time(0) if info["isAllDay"] else dt.time.fromisoformat(info["time"]["start"])
    info["exclusiveDateTimes"] = [
        {
            "start": stamp(dt.datetime.combine(dates[2], clock, tz)),
            "end": stamp(dt.datetime.combine(dates[2], clock, tz)),
        }
    ]
    return info


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize(("kind", "extra"), REPEAT_TYPES)
def test_every_repeat_type_collapses_to_one_series(kind: str, extra: Json, shape: str) -> None:
    info = typed_info(kind, extra, shape, "America/New_York" if shape == "timed" else "Asia/Tokyo")
    dates = [d for d in repeat_dates(info) if d != repeat_dates(info)[2]]
    edit = dates[len(dates) // 2]
    shift = dt.timedelta(days=1) if info["isAllDay"] else dt.timedelta(hours=1)
    items = list_items(info, "定例", {edit: (shift, "変更")})
    events, errors = garoon_tx.garoon_to_canonical(items, listed=LISTED)
    assert errors.empty, errors.to_dict("records")
    assert model.validate(events).empty
    rows = h.records(events)
    assert sorted(r["kind"] for r in rows) == ["exception", "series"], [r["reasons"] for r in rows]
    assert all(r["reasons"] == [] for r in rows)
    (series,) = [r for r in rows if r["kind"] == "series"]
    assert series["start_only"] is (shape == "start-only")
    # the series reproduces every listed occurrence (dateutil's expansion, edits applied)
    occurrences = h.effective_occurrences(rows)
    assert len(occurrences) == len(items)
    listed_starts = sorted(
        dt.date.fromisoformat(i["start"]["dateTime"][:10])
        if info["isAllDay"]
        else dt.datetime.fromisoformat(i["start"]["dateTime"]).astimezone(dt.UTC)
        for i in items
    )
    assert sorted(o[0] for o in occurrences.values()) == listed_starts
    # and one LINE WORKS write carries it all
    writes, write_errors = lineworks_tx.canonical_to_lineworks(events)
    assert write_errors.empty and len(writes) == 1


def test_a_series_listed_in_part_collapses_over_the_listed_range() -> None:
    """Listing March only: the rule, expanded over the listed range, gives exactly the listed occurrences."""
    info = typed_info("EVERY_WEEKDAY", {}, "timed")
    window = (dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    items = [
        i
        for i in list_items(info, "朝会")
        if window[0] <= dt.datetime.fromisoformat(i["start"]["dateTime"]) < window[1]
    ]
    events, errors = garoon_tx.garoon_to_canonical(items, listed=window)
    assert errors.empty
    assert list(events["kind"]) == ["series"]
    assert any("UNTIL=20261231" in line for line in events["recurrence"].iat[0])


# ---------------------------------------------------------------------- what cannot collapse is kept, with the reason


def test_unknown_future_repeat_type_keeps_its_occurrences_as_singles() -> None:
    info = typed_info("EVERY_WEEK", {"dayOfWeek": "WED"}, "timed")
    items = list_items(info, "新しい繰り返し")
    for item in items:
        item["repeatInfo"]["type"] = "EVERY_2NDWEEKDAY_OF_QUARTER"  # a type newer than the converter
    events, errors = garoon_tx.garoon_to_canonical(items, listed=LISTED)
    assert errors.empty
    rows = h.records(events)
    assert len(rows) == len(items) > 40
    assert {r["kind"] for r in rows} == {"single"}
    assert sorted(r["source_key"] for r in rows) == sorted(f"garoon:{SERIES_ID}:{i['repeatId']}" for i in items)
    assert all(r["sync_key"] == r["source_key"] for r in rows)  # each is its own write unit
    for row in rows:
        assert any("EVERY_2NDWEEKDAY_OF_QUARTER" in reason and "kept" in reason for reason in row["reasons"]), row
    assert sorted(r["start"] for r in rows) == [o[0] for o in listed_occurrences(items)]
    writes, write_errors = lineworks_tx.canonical_to_lineworks(events)
    assert write_errors.empty and len(writes) == len(items)


@pytest.mark.parametrize("defect", ["missing", "extra", "moved-without-edit-marker"])
def test_a_rule_that_does_not_reproduce_the_listing_keeps_the_occurrences(defect: str) -> None:
    info = typed_info("EVERY_WEEK", {"dayOfWeek": "MON"}, "timed")
    items = list_items(info, "定例")
    if defect == "missing":  # Garoon lists one occurrence fewer than the rule (and its exclusions) give
        del items[5]
    elif defect == "extra":  # one more occurrence than the rule gives: a Tuesday
        extra = copy.deepcopy(items[5])
        day = dt.date.fromisoformat(extra["repeatId"][:8]) + dt.timedelta(days=1)
        extra["repeatId"] = f"{day:%Y%m%d}0930"
        for name in ("start", "end"):
            extra[name]["dateTime"] = f"{day}{extra[name]['dateTime'][10:]}"
        items.append(extra)
    else:  # a repeatId that is not an occurrence of the rule (10:30 instead of 09:30)
        items[5]["repeatId"] = items[5]["repeatId"][:8] + "1030"
    events, errors = garoon_tx.garoon_to_canonical(items, listed=LISTED)
    assert errors.empty
    rows = h.records(events)
    assert len(rows) == len(items)
    assert {r["kind"] for r in rows} == {"single"}
    for row in rows:
        assert any("does not reproduce the listed occurrences" in reason for reason in row["reasons"]), row
    assert sorted(r["start"] for r in rows) == [o[0] for o in listed_occurrences(items)]
