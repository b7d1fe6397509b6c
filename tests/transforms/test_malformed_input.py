"""Acceptance: malformed Garoon and LINE WORKS JSON never sinks a batch.

Each bad item (wrong types, missing fields, date-times that are not RFC 3339, impossible dates, unknown zones,
non-list collections, items that are not objects) is mixed with good items. The converter must not raise; the bad
item gives exactly one error row whose ``source_key`` names it and whose ``problem`` says what is wrong; every good
item converts into a valid canonical frame (``model.validate``).
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from calendar_etl import model
from calendar_etl.transforms import garoon, lineworks

Json = dict[str, Any]
DROP = object()  # a field value meaning "remove the field"


def changed(base: Json, changes: dict[str, Any]) -> Json:
    """Return ``base`` with dotted-path ``changes`` applied (``DROP`` removes a field)."""
    out = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, name = path.split(".")
        target = out
        for part in parents:
            target = target[part]
        if value is DROP:
            target.pop(name, None)
        else:
            target[name] = value
    return out


# ---------------------------------------------------------------------- Garoon

TOKYO = "Asia/Tokyo"


def g_time(value: str, zone: str = TOKYO) -> Json:
    return {"dateTime": value, "timeZone": zone}


GAROON_GOOD = [
    {
        "id": "good-1",
        "eventType": "REGULAR",
        "subject": "定例会議 🗓",
        "notes": "議題: 予算",
        "visibilityType": "PUBLIC",
        "start": g_time("2026-11-16T10:00:00+09:00"),
        "end": g_time("2026-11-16T11:00:00+09:00"),
        "attendees": [{"type": "USER", "id": "7", "code": "sato"}],
    },
    {
        "id": "good-2",
        "eventType": "ALL_DAY",
        "subject": "休暇",
        "isAllDay": False,
        "start": g_time("2026-11-17T00:00:00+09:00"),
        "end": g_time("2026-11-18T23:59:59+09:00"),
        "attendees": [],
    },
    {
        "id": "good-3",
        "eventType": "REGULAR",
        "subject": "出発",
        "isStartOnly": True,
        "start": g_time("2026-11-19T08:00:00-08:00", "America/Los_Angeles"),
    },
]
GAROON_GOOD_KEYS = ["garoon:good-1", "garoon:good-2", "garoon:good-3"]
GAROON_BASE = {
    "id": "{id}",
    "eventType": "REGULAR",
    "subject": "bad",
    "start": g_time("2026-11-20T10:00:00+09:00"),
    "end": g_time("2026-11-20T11:00:00+09:00"),
}


def g_bad(**changes: Any) -> Callable[[str], Any]:
    """A Garoon item that is the base item with ``changes`` (dotted paths; ``__`` in a name stands for ``.``)."""
    return lambda bad_id: changed({**GAROON_BASE, "id": bad_id}, {k.replace("__", "."): v for k, v in changes.items()})


def raw(value: Any) -> Callable[[str], Any]:
    return lambda bad_id: copy.deepcopy(value)


WHEN = "RFC 3339|offset"
GAROON_CASES = [
    # (id, item builder, expected source_key ("{id}" is the bad item's id), problem pattern)
    ("id-list", raw({**GAROON_BASE, "id": ["1", "2"]}), "garoon:['1', '2']", r"\bid\b"),
    ("id-object", raw({**GAROON_BASE, "id": {"value": 1}}), "garoon:{{'value': 1}}", r"\bid\b"),
    ("id-bool", raw({**GAROON_BASE, "id": True}), "garoon:True", r"\bid\b"),
    ("id-float", raw({**GAROON_BASE, "id": 5.5}), "garoon:5.5", r"\bid\b"),
    ("id-empty", raw({**GAROON_BASE, "id": ""}), "garoon:", r"\bid\b"),
    ("id-missing", g_bad(id=DROP), "garoon:<no id>", r"\bid\b"),
    ("subject-number", g_bad(subject=42), "garoon:{id}", r"subject"),
    ("subject-list", g_bad(subject=["会議"]), "garoon:{id}", r"subject"),
    ("notes-number", g_bad(notes=3.14), "garoon:{id}", r"notes"),
    ("start-missing", g_bad(start=DROP), "garoon:{id}", r"start"),
    ("start-string", g_bad(start="2026-11-20T10:00:00+09:00"), "garoon:{id}", r"start"),
    ("start-dateTime-missing", g_bad(start__dateTime=DROP), "garoon:{id}", r"start\.dateTime"),
    ("start-dateTime-number", g_bad(start__dateTime=1763600400), "garoon:{id}", r"start\.dateTime"),
    ("dateTime-slashes", g_bad(start__dateTime="2026/11/20 10:00:00+09:00"), "garoon:{id}", WHEN),
    (
        "all-day-dateTime-slashes",
        g_bad(
            eventType="ALL_DAY", start__dateTime="2026/11/20 00:00:00+09:00", end__dateTime="2026/11/20 23:59:59+09:00"
        ),
        "garoon:{id}",
        WHEN,
    ),
    (
        "dateTime-no-offset",
        g_bad(start__dateTime="2026-11-20T10:00:00", end__dateTime="2026-11-20T11:00:00"),
        "garoon:{id}",
        WHEN,
    ),
    ("dateTime-date-only", g_bad(start__dateTime="2026-11-20", end__dateTime="2026-11-20"), "garoon:{id}", WHEN),
    ("dateTime-trailing-garbage", g_bad(start__dateTime="2026-11-20T10:00:00+09:00 JST"), "garoon:{id}", WHEN),
    ("dateTime-empty", g_bad(start__dateTime=""), "garoon:{id}", WHEN),
    ("dateTime-feb-30", g_bad(start__dateTime="2026-02-30T10:00:00+09:00"), "garoon:{id}", r"2026-02-30"),
    ("dateTime-nov-31", g_bad(end__dateTime="2026-11-31T11:00:00+09:00"), "garoon:{id}", r"2026-11-31"),
    ("dateTime-hour-25", g_bad(start__dateTime="2026-11-20T25:00:00+09:00"), "garoon:{id}", WHEN),
    ("dateTime-offset-99h", g_bad(start__dateTime="2026-11-20T10:00:00+99:00"), "garoon:{id}", WHEN),
    (
        "all-day-feb-29-2026",
        g_bad(
            eventType="ALL_DAY", start__dateTime="2026-02-29T00:00:00+09:00", end__dateTime="2026-02-29T23:59:59+09:00"
        ),
        "garoon:{id}",
        r"2026-02-29",
    ),
    ("end-before-start", g_bad(end__dateTime="2026-11-20T09:00:00+09:00"), "garoon:{id}", r"end before start"),
    ("end-string", g_bad(end="2026-11-20T11:00:00+09:00"), "garoon:{id}", r"\bend\b"),
    ("end-dateTime-missing", g_bad(end__dateTime=DROP), "garoon:{id}", r"\bend\b"),
    ("timeZone-unknown", g_bad(start__timeZone="Mars/Olympus_Mons"), "garoon:{id}", r"time ?zone.*Mars"),
    ("timeZone-number", g_bad(start__timeZone=9), "garoon:{id}", r"timeZone"),
    ("attendees-object", g_bad(attendees={"id": "7"}), "garoon:{id}", r"attendees"),
    ("attendees-strings", g_bad(attendees=["sato", "suzuki"]), "garoon:{id}", r"attendees"),
    (
        "attendee-code-number",
        g_bad(attendees=[{"type": "USER", "id": 7, "code": 1234, "name": 5}]),
        "garoon:{id}",
        r"attendee|code|name",
    ),
    (
        "creator-name-list",
        g_bad(creator={"id": "7", "code": "sato", "name": ["佐藤"]}),
        "garoon:{id}",
        r"creator|name",
    ),
    ("facilities-string", g_bad(facilities="会議室A"), "garoon:{id}", r"facilities"),
    (
        "facility-fields-wrong",
        g_bad(facilities=[{"id": ["1"], "code": 5, "name": 6}]),
        "garoon:{id}",
        r"facilit|code|name",
    ),
    ("repeatId-number", g_bad(repeatId=202611201000), "garoon:{id}:202611201000", r"repeatId"),
    ("repeatId-not-12-digits", g_bad(repeatId="2026-11-20"), "garoon:{id}:2026-11-20", r"repeatId"),
    ("visibilityType-unknown", g_bad(visibilityType="SECRET"), "garoon:{id}", r"visibilityType"),
    ("eventType-temporary", g_bad(eventType="TEMPORARY"), "garoon:{id}", r"temporary"),
    ("item-string", raw("event"), "garoon:<item of type str>", r"object"),
    ("item-number", raw(42), "garoon:<item of type int>", r"object"),
    ("item-null", raw(None), "garoon:<item of type NoneType>", r"object"),
    ("item-list", raw([GAROON_BASE]), "garoon:<item of type list>", r"object"),
]


# ---------------------------------------------------------------------- LINE WORKS


def lw_time(value: str, zone: str = TOKYO) -> Json:
    return {"dateTime": value, "timeZone": zone}


LINEWORKS_GOOD = [
    {
        "eventComponents": [
            {
                "eventId": "good-1",
                "summary": "打合せ",
                "start": lw_time("2026-11-16T10:00:00"),
                "end": lw_time("2026-11-16T11:00:00"),
                "attendees": [{"email": "sato@example.com"}],
            }
        ]
    },
    {
        "eventComponents": [
            {"eventId": "good-2", "summary": "休暇", "start": {"date": "2026-11-17"}, "end": {"date": "2026-11-19"}}
        ]
    },
    {
        "eventComponents": [
            {
                "eventId": "good-3",
                "summary": "週次",
                "start": lw_time("2026-11-02T09:00:00"),
                "end": lw_time("2026-11-02T09:30:00"),
                "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=8", "EXDATE;TZID=Asia/Tokyo:20261109T090000"],
            },
            {
                "eventId": "good-3",
                "summary": "週次（移動）",
                "recurringEventId": "TZID=Asia/Tokyo:20261116T090000",
                "start": lw_time("2026-11-17T09:00:00"),
                "end": lw_time("2026-11-17T09:30:00"),
            },
        ]
    },
]
LINEWORKS_GOOD_KEYS = ["lineworks:good-1", "lineworks:good-2", "lineworks:good-3", "lineworks:good-3:20261116T000000Z"]
LW_BASE = {
    "eventId": "{id}",
    "summary": "bad",
    "start": lw_time("2026-11-20T10:00:00"),
    "end": lw_time("2026-11-20T11:00:00"),
}


def lw_bad(**changes: Any) -> Callable[[str], Any]:
    """A LINE WORKS item whose only component is the base component with ``changes``."""
    return lambda bad_id: {
        "eventComponents": [
            changed({**LW_BASE, "eventId": bad_id}, {k.replace("__", "."): v for k, v in changes.items()})
        ]
    }


LOCAL = r"local times|dates"
LINEWORKS_CASES = [
    ("item-string", raw("event"), "lineworks:<item without eventComponents>", r"eventComponents"),
    ("item-null", raw(None), "lineworks:<item without eventComponents>", r"eventComponents"),
    (
        "item-without-components",
        raw({"organizerCalendarId": "c1"}),
        "lineworks:<item without eventComponents>",
        r"eventComponents",
    ),
    (
        "components-object",
        raw({"eventComponents": LW_BASE}),
        "lineworks:<item without eventComponents>",
        r"eventComponents",
    ),
    (
        "components-empty",
        raw({"eventComponents": []}),
        "lineworks:<item without eventComponents>",
        r"eventComponents",
    ),
    (
        "component-string",
        raw({"eventComponents": ["event"]}),
        "lineworks:<component that is not an object>",
        r"object",
    ),
    ("eventId-list", raw({"eventComponents": [{**LW_BASE, "eventId": ["a"]}]}), "lineworks:['a']", r"eventId"),
    ("eventId-number", raw({"eventComponents": [{**LW_BASE, "eventId": 5}]}), "lineworks:5", r"eventId"),
    ("eventId-missing", lw_bad(eventId=DROP), "lineworks:<no eventId>", r"eventId"),
    ("summary-number", lw_bad(summary=7), "lineworks:{id}", r"summary"),
    ("description-list", lw_bad(description=["メモ"]), "lineworks:{id}", r"description"),
    ("location-object", lw_bad(location={"name": "会議室"}), "lineworks:{id}", r"location"),
    ("start-missing", lw_bad(start=DROP), "lineworks:{id}", r"start"),
    ("start-string", lw_bad(start="2026-11-20T10:00:00"), "lineworks:{id}", r"start"),
    ("start-empty-object", lw_bad(start={}), "lineworks:{id}", r"start"),
    ("dateTime-with-offset", lw_bad(start__dateTime="2026-11-20T10:00:00+09:00"), "lineworks:{id}", LOCAL),
    (
        "dateTime-without-seconds",
        lw_bad(start__dateTime="2026-11-20T10:00", end__dateTime="2026-11-20T11:00"),
        "lineworks:{id}",
        LOCAL,
    ),
    ("dateTime-number", lw_bad(start__dateTime=1763600400), "lineworks:{id}", r"dateTime"),
    ("dateTime-feb-30", lw_bad(start__dateTime="2026-02-30T10:00:00"), "lineworks:{id}", r"2026-02-30"),
    ("dateTime-hour-24", lw_bad(start__dateTime="2026-11-20T24:00:00"), "lineworks:{id}", LOCAL),
    ("date-feb-30", lw_bad(start={"date": "2026-02-30"}, end={"date": "2026-03-02"}), "lineworks:{id}", r"2026-02-30"),
    ("date-slashes", lw_bad(start={"date": "2026/11/20"}, end={"date": "2026/11/21"}), "lineworks:{id}", LOCAL),
    ("date-number", lw_bad(start={"date": 20261120}, end={"date": 20261121}), "lineworks:{id}", LOCAL),
    (
        "all-day-end-equals-start",
        lw_bad(start={"date": "2026-11-20"}, end={"date": "2026-11-20"}),
        "lineworks:{id}",
        r"not after start",
    ),
    (
        "date-and-dateTime-mixed",
        lw_bad(start={"date": "2026-11-20"}, end=lw_time("2026-11-21T00:00:00")),
        "lineworks:{id}",
        LOCAL,
    ),
    ("end-before-start", lw_bad(end__dateTime="2026-11-20T09:00:00"), "lineworks:{id}", r"not after start"),
    ("timeZone-unknown", lw_bad(start__timeZone="Mars/Olympus_Mons"), "lineworks:{id}", r"time zone.*Mars"),
    ("timeZone-missing", lw_bad(start__timeZone=DROP), "lineworks:{id}", r"time zone"),
    ("attendees-object", lw_bad(attendees={"email": "a@example.com"}), "lineworks:{id}", r"attendees"),
    ("attendees-strings", lw_bad(attendees=["a@example.com"]), "lineworks:{id}", r"attendees"),
    (
        "attendee-displayName-number",
        lw_bad(attendees=[{"email": "a@example.com", "displayName": 7, "partstat": 1}]),
        "lineworks:{id}",
        r"attendee|displayName|partstat",
    ),
    ("reminders-object", lw_bad(reminders={"method": "EMAIL"}), "lineworks:{id}", r"reminders"),
    (
        "reminder-method-number",
        lw_bad(reminders=[{"method": 1, "trigger": "-PT10M"}]),
        "lineworks:{id}",
        r"reminder|method",
    ),
    ("recurrence-string", lw_bad(recurrence="RRULE:FREQ=DAILY"), "lineworks:{id}", r"recurrence"),
    ("recurringEventId-garbage", lw_bad(recurringEventId="yesterday"), "lineworks:{id}:yesterday", r"RECURRENCE-ID"),
    ("visibility-unknown", lw_bad(visibility="SECRET"), "lineworks:{id}", r"visibility"),
    ("transparency-number", lw_bad(transparency=1), "lineworks:{id}", r"transparency"),
    ("sequence-text", lw_bad(sequence="first"), "lineworks:{id}", r"sequence"),
]


# ---------------------------------------------------------------------- the checks


def convert_garoon(items: list[Any]) -> model.Converted:
    return garoon.garoon_to_canonical(items, default_zone=TOKYO)


def convert_lineworks(items: list[Any]) -> model.Converted:
    return lineworks.lineworks_to_canonical(items, calendar_id="cal-1")


SOURCES = {
    "garoon": (convert_garoon, GAROON_GOOD, GAROON_GOOD_KEYS),
    "lineworks": (convert_lineworks, LINEWORKS_GOOD, LINEWORKS_GOOD_KEYS),
}
CASES = [pytest.param("garoon", *case[1:], id=f"garoon-{case[0]}") for case in GAROON_CASES] + [
    pytest.param("lineworks", *case[1:], id=f"lineworks-{case[0]}") for case in LINEWORKS_CASES
]


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in GAROON_CASES}) == len(GAROON_CASES)
    assert len({c[0] for c in LINEWORKS_CASES}) == len(LINEWORKS_CASES)


@pytest.mark.parametrize(("source", "make", "key", "problem"), CASES)
def test_a_bad_item_is_one_error_and_the_good_items_convert(
    source: str, make: Callable[[str], Any], key: str, problem: str
) -> None:
    convert, good, good_keys = SOURCES[source]
    bad = make("bad-1")
    items = [copy.deepcopy(good[0]), bad, *copy.deepcopy(good[1:])]
    events, errors = convert(items)
    rows = errors.to_dict("records")
    assert [r["source_key"] for r in rows] == [key.format(id="bad-1")], rows
    assert re.search(problem, rows[0]["problem"], re.IGNORECASE), rows[0]["problem"]
    assert sorted(events["source_key"]) == sorted(good_keys)
    assert model.validate(events).empty, model.validate(events).to_dict("records")


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_bad_item_at_once(source: str) -> None:
    """All bad items in one batch, between good ones: one error each, and the good items convert."""
    convert, good, good_keys = SOURCES[source]
    cases = GAROON_CASES if source == "garoon" else LINEWORKS_CASES
    items: list[Any] = [copy.deepcopy(good[0])]
    expected = []
    for n, (_, make, key, _) in enumerate(cases):
        items.append(make(f"bad-{n}"))
        expected.append(key.format(id=f"bad-{n}"))
    items.extend(copy.deepcopy(good[1:]))
    events, errors = convert(items)
    assert Counter(errors["source_key"]) == Counter(expected)
    assert sorted(events["source_key"]) == sorted(good_keys)
    assert model.validate(events).empty
