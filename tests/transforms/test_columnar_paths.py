"""The column-wise transforms give what the one-row-at-a-time rules give (issue 4, the transform benchmark).

Each fast path is compared with an independent or plainer way to the same result: Garoon items read from
their JSON text and as dicts, typed and lenient; the column-wise expansion of Garoon's repeat rules with
dateutil's; LINE WORKS payloads with ``json.dumps`` of the body built row by row (byte for byte: the ledger
hashes them); the column-wise identity lookup with ``Directory.person``; times and JSON text with the
standard library; the benchmark's chunked pipeline with one piece and with the plain loop. Also what the
faster iCalendar reading must not change: the garbage collector's frozen objects, and RRULE texts.
"""

from __future__ import annotations

import copy
import datetime as dt
import gc
import itertools
import json
import zoneinfo
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bench.workloads import LISTED, garoon_workload
from calendar_etl import model
from calendar_etl.transforms import common, garoon, ics, identity, lineworks, recurrence
from tests.transforms import helpers as h
from tests.transforms import reference_rows as ref

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = ("Asia/Tokyo", "America/Los_Angeles", "Europe/London", "Australia/Lord_Howe", "America/St_Johns",
         "Asia/Kathmandu", "Pacific/Chatham", "America/Santiago", "UTC")  # fmt: skip


@pytest.fixture(scope="module")
def workload() -> dict[str, Any]:
    return garoon_workload(1200, seed=7)


def rows(frame: Any) -> list[dict[str, Any]]:
    return h.records(frame)


def by_key(frame: Any) -> dict[str, dict[str, Any]]:
    return {r["source_key"]: r for r in rows(frame)}


# ---------------------------------------------------------------------- reading Garoon items


def test_json_text_and_dicts_give_the_same_rows(workload: dict[str, Any]) -> None:
    items = workload["items"]
    listed = tuple(dt.datetime.fromisoformat(x) for x in workload["listed"])
    from_dicts = garoon.garoon_to_canonical(copy.deepcopy(items), listed=listed)
    from_text = garoon.garoon_to_canonical([json.dumps(i, ensure_ascii=False).encode() for i in items], listed=listed)
    assert from_dicts.errors.empty and from_text.errors.empty
    assert model.validate(from_text.events).empty
    assert rows(from_text.events) == rows(from_dicts.events)
    assert {"series", "exception", "single"} <= set(from_text.events["kind"])


BASE = {
    "id": "77",
    "eventType": "REGULAR",
    "subject": "打合せ",
    "notes": "メモ\n二行目",
    "start": {"dateTime": "2026-11-16T10:00:00+09:00", "timeZone": "Asia/Tokyo"},
    "end": {"dateTime": "2026-11-16T11:00:00+09:00", "timeZone": "Asia/Tokyo"},
    "creator": {"id": "7", "code": "sato", "name": "佐藤"},
    "attendees": [
        {"id": "7", "code": "sato", "name": "佐藤", "type": "USER", "attendanceResponse": {"status": "ACCEPTED"}},
        {"id": "9", "code": "suzuki", "name": "鈴木", "type": "USER"},
    ],
    "facilities": [{"id": "501", "code": "room-a", "name": "会議室A"}],
    "additionalItems": {"item": {"value": "garoon:5"}},
    "createdAt": "2026-11-01T00:00:00Z",
    "updatedAt": "2026-11-02T00:00:00.250+09:00",
}


@pytest.mark.parametrize(
    ("odd", "same_as"),
    [
        pytest.param({"id": 77}, {}, id="numeric-id"),
        pytest.param({"attendees.1.id": 9}, {}, id="numeric-attendee-id"),
        pytest.param({"facilities.0.id": 501}, {}, id="numeric-facility-id"),
        pytest.param({"attendees.1.attendanceResponse": {"status": "MAYBE"}}, {}, id="unknown-attendance-status"),
        pytest.param({"attendees.1.type": "GROUP"}, {}, id="unknown-person-type"),
        pytest.param({"creator": "sato"}, {"creator": None}, id="creator-not-an-object"),
        pytest.param({"eventType": "SOMETHING_NEW"}, {}, id="unknown-event-type"),
        pytest.param({"isAllDay": "no"}, {}, id="isAllDay-not-a-boolean"),
        pytest.param({"additionalItems": {"item": "x"}}, {"additionalItems": None}, id="marker-of-another-shape"),
    ],
)
def test_an_item_of_unusual_types_reads_as_its_plain_twin(odd: dict[str, Any], same_as: dict[str, Any]) -> None:
    """Items the typed reader refuses go the lenient way and give the row their well-typed twin gives."""

    def changed(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(base)
        for path, value in changes.items():
            *parents, name = path.split(".")
            target: Any = out
            for part in parents:
                target = target[int(part)] if part.isdigit() else target[part]
            target[int(name) if name.isdigit() else name] = value
        return out

    lenient = garoon.garoon_to_canonical([json.dumps(changed(BASE, odd)).encode(), changed(BASE, odd)])
    plain = garoon.garoon_to_canonical([changed(BASE, same_as)])
    assert lenient.errors.empty, lenient.errors.to_dict("records")
    (expected,) = rows(plain.events)
    assert rows(lenient.events) == [expected, expected]


def test_times_with_fractions_offsets_and_missing_offsets() -> None:
    item = {**BASE, "start": {"dateTime": "2026-11-16T10:00:00.5-03:30", "timeZone": "America/St_Johns"},
            "end": {"dateTime": "2026-11-16T13:31:00Z", "timeZone": "America/St_Johns"},
            "createdAt": "2026-11-01T09:00:00"}  # fmt: skip
    (row,) = rows(garoon.garoon_to_canonical([item]).events)
    assert row["start"] == dt.datetime(2026, 11, 16, 13, 30, 0, 500000, tzinfo=dt.UTC)
    assert row["end"] == dt.datetime(2026, 11, 16, 13, 31, tzinfo=dt.UTC)
    assert row["created"] == dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)  # no offset: UTC
    assert row["updated"] == dt.datetime(2026, 11, 1, 15, 0, 0, 250000, tzinfo=dt.UTC)


def test_a_repeat_id_in_a_dst_gap_reads_as_python_places_it() -> None:
    """02:30 on the day Los Angeles skips 02:00-03:00: the offset before the gap (fold=0), as datetime does."""
    info = {"type": "EVERY_DAY", "period": {"start": "2026-03-07", "end": "2026-03-09"},
            "time": {"start": "02:30", "end": "03:30"}, "timeZone": "America/Los_Angeles"}  # fmt: skip
    item = {**BASE, "repeatId": "202603080230", "repeatInfo": info, "eventType": "REPEATING",
            "start": {"dateTime": "2026-03-08T03:30:00-07:00", "timeZone": "America/Los_Angeles"},
            "end": {"dateTime": "2026-03-08T04:30:00-07:00", "timeZone": "America/Los_Angeles"}}  # fmt: skip
    (row,) = rows(garoon.garoon_to_canonical([item], collapse=False).events)
    expected = dt.datetime(2026, 3, 8, 2, 30, tzinfo=zoneinfo.ZoneInfo("America/Los_Angeles")).astimezone(dt.UTC)
    assert row["recurrence_id"] == expected.strftime("%Y%m%dT%H%M%SZ")


# ---------------------------------------------------------------------- collapsing: numpy against dateutil

REPEAT_TYPES = ["EVERY_DAY", "EVERY_WEEKDAY", "EVERY_WEEK", "EVERY_1STWEEK", "EVERY_2NDWEEK", "EVERY_3RDWEEK",
                "EVERY_4THWEEK", "EVERY_LASTWEEK", "EVERY_MONTH"]  # fmt: skip


@st.composite
def listed_series(draw: st.DrawFn) -> tuple[list[dict[str, Any]], tuple[dt.datetime, dt.datetime] | None]:
    """Garoon list items of one repeating event (edited, moved or missing occurrences now and then)."""
    kind = draw(st.sampled_from(REPEAT_TYPES))
    zone_name = draw(st.sampled_from(ZONES))
    shape = draw(st.sampled_from(["timed", "all_day", "start_only"]))
    first = draw(st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2027, 6, 1)))
    last = first + dt.timedelta(days=draw(st.integers(0, 400)))
    clock = dt.time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30])))
    info: dict[str, Any] = {"type": kind, "period": {"start": first.isoformat(), "end": last.isoformat()},
                            "timeZone": zone_name, "isAllDay": shape == "all_day", "isStartOnly": shape == "start_only",
                            "time": {"start": f"{clock:%H:%M}", "end": "23:59"}}  # fmt: skip
    if kind in REPEAT_TYPES[2:8]:
        info["dayOfWeek"] = draw(st.sampled_from(["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]))
    if kind == "EVERY_MONTH":
        info["dayOfMonth"] = draw(st.sampled_from(["1", "15", "29", "30", "31", "EOM"]))
    lines, reason = recurrence.repeat_info_rule(info)
    assume(reason is None)
    head = lines[0].split(":", 1)[1]
    start: dt.date | dt.datetime
    if shape == "all_day":
        start = dt.datetime.strptime(head, "%Y%m%d").date()
    else:
        start = dt.datetime.strptime(head, "%Y%m%dT%H%M%S").replace(tzinfo=h.zone(zone_name))
    occurrences = h.expand(lines[1:], start, zone_name)
    assume(0 < len(occurrences) <= 120)
    excluded = draw(st.sets(st.sampled_from(occurrences), max_size=2))
    if excluded:
        info["exclusiveDateTimes"] = [
            {"start": (dt.datetime.combine(o, dt.time(), h.zone(zone_name)) if isinstance(o, dt.date) and not
                       isinstance(o, dt.datetime) else o.astimezone(h.zone(zone_name))).isoformat()}
            for o in excluded
        ]  # fmt: skip
    tz = h.zone(zone_name)
    items = []
    for occurrence in occurrences:
        if occurrence in excluded:
            continue
        if shape == "all_day":
            assert isinstance(occurrence, dt.date)
            begin = dt.datetime.combine(occurrence, dt.time(), tz)
            finish = dt.datetime.combine(occurrence, dt.time(23, 59, 59), tz)
            repeat_id = f"{occurrence:%Y%m%d}0000"
        else:
            assert isinstance(occurrence, dt.datetime)
            begin = occurrence.astimezone(tz)
            finish = begin + dt.timedelta(hours=1)
            repeat_id = f"{begin:%Y%m%d}{clock:%H%M}"
        edit = draw(st.sampled_from(["none"] * 6 + ["subject", "moved", "missing"]))
        if edit == "missing":
            continue
        if edit == "moved":
            begin, finish = begin + dt.timedelta(hours=2), finish + dt.timedelta(hours=2)
        item = {"id": "4242", "eventType": "REPEATING", "subject": "変更" if edit == "subject" else "定例",
                "repeatId": repeat_id, "repeatInfo": info, "isAllDay": shape == "all_day",
                "isStartOnly": shape == "start_only", "attendees": [{"id": "7", "code": "sato", "type": "USER"}],
                "start": {"dateTime": begin.isoformat(), "timeZone": zone_name}}  # fmt: skip
        if shape != "start_only":
            item["end"] = {"dateTime": finish.isoformat(), "timeZone": zone_name}
        items.append(item)
    assume(items)
    window = None
    if draw(st.booleans()):
        low = draw(st.dates(min_value=first - dt.timedelta(days=10), max_value=last))
        window = (dt.datetime.combine(low, dt.time(), dt.UTC), dt.datetime.combine(low, dt.time(), dt.UTC) +
                  dt.timedelta(days=draw(st.integers(1, 120))))  # fmt: skip
    return items, window


@SETTINGS
@given(listed_series())
def test_the_column_wise_expansion_agrees_with_dateutil(
    series: tuple[list[dict[str, Any]], tuple[dt.datetime, dt.datetime] | None],
) -> None:
    items, window = series
    fast = garoon.garoon_to_canonical(copy.deepcopy(items), listed=window)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recurrence, "_simple_rule", lambda *args: None)  # every rule through dateutil
        slow = garoon.garoon_to_canonical(copy.deepcopy(items), listed=window)
    assert fast.errors.empty and slow.errors.empty
    assert rows(fast.events) == rows(slow.events)


def test_the_bench_workload_collapses_as_dateutil_does(workload: dict[str, Any]) -> None:
    items = [i for i in workload["items"] if i.get("repeatId")]
    fast = garoon.garoon_to_canonical(copy.deepcopy(items), listed=LISTED)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recurrence, "_simple_rule", lambda *args: None)
        slow = garoon.garoon_to_canonical(copy.deepcopy(items), listed=LISTED)
    assert rows(fast.events) == rows(slow.events)
    assert (fast.events["kind"] == "series").sum() > 10


# ---------------------------------------------------------------------- identity


@st.composite
def people_and_directory(draw: st.DrawFn) -> tuple[list[dict[str, Any]], identity.Directory, frozenset[str]]:
    codes = ["sato", "suzuki", "tanaka", "kato", ""]
    emails = ["sato@x.example", "SUZUKI@x.example", "kato@y.example", "", "other@z.example"]
    users = [{"id": str(i), "code": c, "name": draw(st.sampled_from(["佐藤", "Suzuki", None])),
              "email": draw(st.sampled_from(emails))} for i, c in enumerate(codes[:4], start=1)]  # fmt: skip
    directory = identity.Directory.build(
        garoon_users=users,
        lineworks_users=[{"email": e, "userId": f"lw-{e}"} for e in draw(st.sets(st.sampled_from(emails[:3])))],
        user_map=draw(st.lists(st.fixed_dictionaries({"garoon_code": st.sampled_from(codes),
                                                      "email": st.sampled_from(emails)}), max_size=2)),
    )  # fmt: skip
    person = st.builds(
        h.person,
        garoon_id=st.sampled_from([None, "", "1", "2", "3", "9"]),
        garoon_code=st.sampled_from([None, *codes]),
        email=st.sampled_from([None, *emails]),
        name=st.sampled_from([None, "", "名前"]),
        type=st.sampled_from(["USER", "USER", "ORGANIZATION"]),
        lineworks_id=st.sampled_from([None, "", "lw-sato@x.example"]),
    )
    known = directory.lineworks_emails if draw(st.booleans()) else frozenset()
    return draw(st.lists(person, min_size=1, max_size=12)), directory, known


@SETTINGS
@given(people_and_directory())
def test_resolve_finds_each_person_as_directory_person_does(case: Any) -> None:
    people, directory, known = case
    frame = h.frame([{"source_system": "garoon", "source_key": "garoon:1", "sync_key": "garoon:1", "kind": "single",
                      "summary": "x", "all_day": False, "timezone": "UTC",
                      "start": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "end": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                      "organizer": people[0], "attendees": people[1:]}])  # fmt: skip
    (row,) = rows(identity.resolve(frame, directory, target="lineworks" if known else "garoon"))
    assert row["organizer"] == ref.resolve_person(people[0], directory, known)
    assert row["attendees"] == [ref.resolve_person(p, directory, known) for p in people[1:]]


# ---------------------------------------------------------------------- LINE WORKS payloads, byte for byte


def assert_same_writes(frame: Any) -> None:
    writes, errors = lineworks.canonical_to_lineworks(frame)
    expected, expected_errors = ref.lineworks_writes(rows(frame))
    got = [
        (k, e, o if isinstance(o, str) else None, p if isinstance(p, str) else None, r)
        for k, e, o, p, r in zip(writes["sync_key"], writes["event_id"], writes["owner"], writes["payload"],
                                 writes["reasons"], strict=True)
    ]  # fmt: skip
    assert got == expected
    assert sorted(errors.itertuples(index=False, name=None)) == sorted(expected_errors)


def test_the_bench_workload_writes_what_the_row_by_row_rules_write(workload: dict[str, Any]) -> None:
    events = garoon.garoon_to_canonical(workload["items"], listed=LISTED).events
    directory = identity.Directory.build(**workload["directory"])
    assert_same_writes(identity.resolve(events, directory, target="lineworks"))


CONTROL_TEXT = st.text(st.sampled_from(list('ab"\\\n\r\t\b\f\x00\x01\x1f\x7f ああ🎉')), max_size=12)


@st.composite
def lineworks_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Canonical rows with what the limits and special cases touch: long texts, control characters, people
    without an e-mail, repeated e-mails, facilities without a resource, reminders, series with cancelled or
    orphaned exceptions, occurrences left uncollapsed."""
    zone_name = draw(st.sampled_from(ZONES))
    start = dt.datetime(2026, 3, 7, 9, tzinfo=h.zone(zone_name)).astimezone(dt.UTC)
    people = st.builds(h.person, email=st.sampled_from([None, "", "a@x.example", "b@x.example"]),
                       name=st.none() | CONTROL_TEXT, garoon_code=st.sampled_from([None, "", "c"]),
                       partstat=st.sampled_from([None, "ACCEPTED"]), optional=st.booleans(),
                       type=st.sampled_from(["USER", "ORGANIZATION"]))  # fmt: skip
    rooms = st.fixed_dictionaries({"name": st.none() | CONTROL_TEXT, "garoon_id": st.none(),
                                   "garoon_code": st.sampled_from([None, "r1"]),
                                   "resource_id": st.sampled_from([None, "", "res-1"])})  # fmt: skip
    texts = st.one_of(st.none(), CONTROL_TEXT, st.integers(95, 5010).map(lambda n: "長" * n))
    out = []
    for number in range(draw(st.integers(1, 4))):
        key = f"lineworks:u{number}"
        all_day = draw(st.booleans())
        times: dict[str, Any] = (
            {"all_day": True, "start_date": dt.date(2026, 3, 7), "end_date": dt.date(2026, 3, 8)}
            if all_day
            else {"all_day": False, "start": start, "end": start + dt.timedelta(hours=1)}
        )
        base = {"source_system": "lineworks", "sync_key": key, "summary": draw(st.text(max_size=3) | st.integers(190, 210).map(lambda n: "題" * n)),
                "description": draw(texts), "location": draw(texts), "timezone": zone_name,
                "visibility": draw(st.sampled_from(["PUBLIC", "PRIVATE"])),
                "organizer": draw(st.none() | people), "attendees": draw(st.lists(people, max_size=5)),
                "facilities": draw(st.lists(rooms, max_size=3)),
                "reminders": [{"method": "DISPLAY", "trigger": "-PT10M"}] * draw(st.sampled_from([0, 1, 101])),
                "reasons": draw(st.lists(st.sampled_from(["r1", "r2"]), max_size=2)), **times}  # fmt: skip
        shape = draw(st.sampled_from(["single", "series", "cancelled", "orphan", "occurrence"]))
        rid = (start + dt.timedelta(days=7)).strftime("%Y%m%dT%H%M%SZ") if not all_day else "20260314"
        if shape == "single":
            out.append({**base, "source_key": key, "kind": "single"})
        elif shape == "cancelled":
            out.append({**base, "source_key": key, "kind": "single", "status": "CANCELLED"})
        elif shape == "occurrence":
            out.append({**base, "source_key": f"{key}:{rid}", "kind": "occurrence", "recurrence_id": rid})
        else:
            if shape == "series":
                out.append({**base, "source_key": key, "kind": "series",
                            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE;VALUE=DATE:20260321"]
                            if all_day else ["RRULE:FREQ=WEEKLY;COUNT=5"]})  # fmt: skip
            else:
                out.append({**base, "source_key": key, "kind": "single"})
            out.append({**base, "source_key": f"{key}:{rid}", "kind": "exception", "recurrence_id": rid,
                        "status": draw(st.sampled_from(["CONFIRMED", "CANCELLED"])), "summary": "moved"})  # fmt: skip
    return out


@SETTINGS
@given(lineworks_rows())
def test_payloads_are_byte_for_byte_what_the_row_by_row_rules_write(records: list[dict[str, Any]]) -> None:
    assert_same_writes(h.frame(records))


def test_more_than_500_attendees_and_repeated_addresses() -> None:
    people = [h.person(email=f"p{i % 520}@x.example", name=f"人{i}") for i in range(540)]
    start = dt.datetime(2026, 1, 5, 1, tzinfo=dt.UTC)
    frame = h.frame([{"source_system": "ics", "source_key": "k", "sync_key": "k", "kind": "single", "summary": "大会",
                      "all_day": False,
                      "start": start, "end": start, "timezone": "Asia/Tokyo",
                      "attendees": [h.person(name="名無し"), *people]}])  # fmt: skip
    assert_same_writes(frame)
    body = json.loads(lineworks.canonical_to_lineworks(frame).events["payload"][0])
    assert len(body["eventComponents"][0]["attendees"]) == 500


# ---------------------------------------------------------------------- times and text


@SETTINGS
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
def test_json_text_is_what_json_dumps_writes(text: str) -> None:
    values = pa.array([text, None, "plain", text[::-1]], pa.string())
    expected = [json.dumps(v, ensure_ascii=False) if v is not None else None for v in values.to_pylist()]
    assert common.json_text(values).to_pylist() == expected


@SETTINGS
@given(
    st.lists(st.datetimes(min_value=dt.datetime(1901, 1, 1), max_value=dt.datetime(2099, 12, 31)), min_size=1,
             max_size=20),
    st.sampled_from(ZONES),
)  # fmt: skip
def test_wall_clock_text_is_what_strftime_writes(moments: list[dt.datetime], zone_name: str) -> None:
    instants = [m.replace(tzinfo=dt.UTC) for m in moments]
    array = pa.array(instants, model.TIMESTAMP)
    seconds, valid = common.wall_seconds(array, pa.array([zone_name] * len(instants)))
    text = common.format_seconds(seconds, valid, "%Y-%m-%dT%H:%M:%S").to_pylist()
    tz = zoneinfo.ZoneInfo(zone_name)
    assert text == [i.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S") for i in instants]


def test_format_seconds_before_1970_and_nulls() -> None:
    stamps = np.array([-86_401, 0, 951_782_400, 4_102_444_799], np.int64)
    valid = np.array([True, True, False, True])
    assert common.format_seconds(stamps, valid, "%Y%m%dT%H%M%SZ").to_pylist() == [
        "19691230T235959Z", "19700101T000000Z", None, "20991231T235959Z"]  # fmt: skip


@SETTINGS
@given(
    st.lists(st.datetimes(min_value=dt.datetime(1901, 1, 2), max_value=dt.datetime(2099, 12, 30)), min_size=1,
             max_size=20),
    st.sampled_from(ZONES),
)  # fmt: skip
def test_wall_times_become_the_instants_python_gives(moments: list[dt.datetime], zone_name: str) -> None:
    """Ambiguous and skipped wall times included: ``fold=0``, as ``datetime.replace(tzinfo=...)`` reads them."""
    local = np.array([(m.replace(microsecond=0) - dt.datetime(1970, 1, 1)) // dt.timedelta(seconds=1)
                      for m in moments], np.int64)  # fmt: skip
    got = recurrence.localize_seconds(local, np.zeros(len(local), np.int64), [zone_name])
    tz = zoneinfo.ZoneInfo(zone_name)
    assert list(got) == [int(m.replace(microsecond=0, fold=0, tzinfo=tz).timestamp()) for m in moments]


# ---------------------------------------------------------------------- the benchmark's pipeline


def test_the_benchmark_pipeline_writes_the_same_in_any_chunks(workload: dict[str, Any]) -> None:
    """Chunks keep every occurrence of a series together: 100 items at a time writes what one piece does."""
    from bench.transforms import our_pipeline, plain_loop

    header = {"listed": LISTED, "directory": workload["directory"]}
    lines = [json.dumps(i, ensure_ascii=False).encode() for i in workload["items"]]
    whole = our_pipeline(lines, header, chunk=len(lines))
    pieces = our_pipeline(lines, header, chunk=100)
    from_dicts = our_pipeline(copy.deepcopy(workload["items"]), header, chunk=250)

    def writes(frame: Any) -> list[tuple[Any, ...]]:
        return sorted(zip(frame["sync_key"], frame["owner"].fillna(""), frame["payload"], strict=True))

    assert writes(pieces) == writes(whole) == writes(from_dicts)
    baseline = sorted((k, o or "", p) for k, _, o, p in plain_loop(copy.deepcopy(workload["items"]), header))
    assert [(k, o, json.loads(p)) for k, o, p in writes(whole)] == [(k, o, json.loads(p)) for k, o, p in baseline]


# ---------------------------------------------------------------------- iCalendar


def ics_text(*events: list[str]) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN"]
    for number, body in enumerate(events):
        lines += ["BEGIN:VEVENT", f"UID:u{number}@t", "DTSTAMP:20261101T000000Z", *body, "END:VEVENT"]
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


def test_ics_reading_leaves_the_garbage_collector_as_it_found_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading freezes the parsed objects while it makes rows and releases them after, unless the process had frozen
    objects itself (a forking server does, for copy-on-write): then it must not unfreeze them.

    The calls are recorded rather than the real freeze count compared: other threads of the test process (the
    emulators) free frozen objects at any moment, which moves the count.
    """
    raw = ics_text(["DTSTART:20261118T090000Z", "DURATION:PT30M", "SUMMARY:a"])
    calls: list[str] = []
    frozen = {"count": 0}
    monkeypatch.setattr(gc, "get_freeze_count", lambda: frozen["count"])
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze"))
    assert len(ics.ics_to_canonical(raw).events) == 1
    assert calls == ["freeze", "unfreeze"]
    calls.clear()
    frozen["count"] = 1234  # frozen by the process before
    assert len(ics.ics_to_canonical(raw).events) == 1
    assert calls == []
    monkeypatch.setattr(ics, "_deduplicate", lambda rows: {}["boom"])
    frozen["count"] = 0
    with pytest.raises(KeyError):  # released even when making the rows fails
        ics.ics_to_canonical(raw)
    assert calls == ["freeze", "unfreeze"]


def test_the_same_rule_in_two_zones_keeps_each_its_own_text() -> None:
    """RRULE texts are remembered by value: an UNTIL in UTC and one in local time are different values."""
    utc = ["DTSTART;TZID=Asia/Tokyo:20261116T090000", "DTEND;TZID=Asia/Tokyo:20261116T100000",
           "RRULE:FREQ=WEEKLY;UNTIL=20261231T235959Z"]  # fmt: skip
    local = ["DTSTART:20261116T090000", "DTEND:20261116T100000", "RRULE:FREQ=WEEKLY;UNTIL=20261231T235959"]
    events = ics.ics_to_canonical(ics_text(utc, local, utc), default_zone="Asia/Tokyo").events
    lines = [next(x for x in r if x.startswith("RRULE")) for r in events["recurrence"]]
    assert lines[0] == lines[2] and "UNTIL=20261231T235959Z" in lines[0]
    assert "UNTIL=20261231T235959Z" not in lines[1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.integers(-(2**40), 2**40), min_size=3, max_size=3), max_size=40))
@example([[0, 0, 0], [2**40 - 1, 2**40 - 1, 2**40 - 1], [2**40 - 1, 0, 0]])  # 2**80 wraps to 0 in int64
def test_combined_codes_number_the_distinct_rows_in_order_of_first_appearance(rows: list[list[int]]) -> None:
    """Wide columns make the product of their ranges overflow: the numbering must still be exact."""
    from calendar_etl.transforms.common import combine_codes, first_of_each

    columns = [np.array([r[k] for r in rows], np.int64) for k in range(3)]
    numbers: dict[tuple[int, ...], int] = {}
    expected = [numbers.setdefault(tuple(r), len(numbers)) for r in rows]
    codes = combine_codes(columns)
    assert codes.tolist() == expected
    assert first_of_each(codes).tolist() == [expected.index(n) for n in range(len(numbers))]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.none() | st.booleans(), max_size=70),
    st.integers(0, 69),
    st.integers(0, 70),
    st.integers(1, 4),
)
@example([True] * 9 + [None], 1, 9, 1)  # a slice starting inside a byte of the bitmaps, with a null at its end
def test_is_true_reads_arrows_bitmaps_as_fill_null_does(values: list[bool | None], start: int, stop: int, chunks: int) -> None:  # fmt: skip
    """``is_true`` unpacks the value and validity bitmaps itself: slices (bit offsets), nulls, chunks, empties."""
    array = pa.array(values, pa.bool_()).slice(start, max(stop - start, 0))
    expected = [bool(v) for v in array.to_pylist()]
    assert common.is_true(array).tolist() == expected
    cut = np.linspace(0, len(array), chunks + 1).astype(int)
    chunked = pa.chunked_array([array.slice(a, b - a) for a, b in itertools.pairwise(cut)], pa.bool_())
    assert common.is_true(chunked).tolist() == expected


def test_fixed_width_text_places_its_rows_where_valid_and_nulls_between() -> None:
    chars = np.frombuffer(b"ab" b"cd" b"ef", np.uint8).reshape(3, 2)
    assert common.fixed_width_text(chars).to_pylist() == ["ab", "cd", "ef"]
    placed = common.fixed_width_text(chars, np.array([False, True, False, True, True, False]))
    assert placed.to_pylist() == [None, "ab", None, "cd", "ef", None]
    assert placed.null_count == 3 and len(placed.buffers()[2]) == 6  # a null takes no bytes
