"""Files whose BEGIN/END lines do not nest, properties given twice, and sub-daily rules that began long ago.

Each anomaly costs at most its own VEVENT, with a reason or an error naming it; a dense rule (HOURLY, MINUTELY,
SECONDLY) is expanded from just before the window with exactly the occurrences a walk from DTSTART gives.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_etl.transforms import recurrence
from calendar_etl.transforms.ics import ics_to_canonical

CLEAN = ["DTSTAMP:20261101T000000Z", "DTSTART:20261118T090000Z", "DURATION:PT30M", "SUMMARY:clean"]


def vevent(uid: str, lines: list[str]) -> str:
    return "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", *lines, "END:VEVENT"])


def calendar(*parts: str, closed: bool = True) -> bytes:
    text = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", *parts])
    return (text + ("\r\nEND:VCALENDAR\r\n" if closed else "\r\n")).encode()


def between_three_clean(anomaly: str) -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    bad = ["DTSTAMP:20261101T000000Z", "DTSTART:20261118T100000Z", "DURATION:PT30M", "SUMMARY:bad", anomaly]
    out = ics_to_canonical(calendar(vevent("a@x", CLEAN), vevent("b@x", bad), vevent("c@x", CLEAN)), name="f")
    errors = dict(zip(out.errors["source_key"], out.errors["problem"], strict=True))
    reasons = dict(zip(out.events["source_key"], out.events["reasons"], strict=True))
    return list(out.events["source_key"]), errors, {k: list(v) for k, v in reasons.items()}


@pytest.mark.parametrize(
    ("anomaly", "reason"),
    [
        ("BEGIN:VALARM\r\nTRIGGER:nonsense\r\nEND:VALARM", "VALARM) could not be read (Wrong date format nonsense)"),
        ("BEGIN:VALARM\r\nACTION:DISPLAY", "BEGIN:VALARM has no END"),
        ("END:VTODO", "'END:VTODO' closes nothing"),
        ("SEQUENCE:99999999999999", "SEQUENCE '99999999999999' is not a number"),
        ("SEQUENCE:-5", "SEQUENCE '-5' is not a number"),
        ("SUMMARY:a second summary", "SUMMARY appears 2 times; the first was kept"),
        ("LOCATION:one\r\nLOCATION:two", "LOCATION appears 2 times"),
    ],
)
def test_a_readable_anomaly_loads_its_event_with_a_reason(anomaly: str, reason: str) -> None:
    keys, errors, reasons = between_three_clean(anomaly)
    assert keys == ["ics:a@x", "ics:b@x", "ics:c@x"] and not errors, errors
    assert any(reason in text for text in reasons["ics:b@x"]), reasons["ics:b@x"]
    assert reasons["ics:a@x"] == reasons["ics:c@x"] == []


@pytest.mark.parametrize(
    ("anomaly", "problem"),
    [
        ("DURATION:P-1X", "DURATION appears 2 times; an event has one"),
        ("DTSTART:20261120T090000Z", "DTSTART appears 2 times"),
        ("RECURRENCE-ID:20261118T090000Z\r\nRECURRENCE-ID:20261118T090000Z", "RECURRENCE-ID appears 2 times"),
        ("UID:another", "UID appears 2 times"),
    ],
)
def test_a_property_that_defines_the_event_given_twice_costs_that_event_only(anomaly: str, problem: str) -> None:
    keys, errors, _ = between_three_clean(anomaly)
    assert keys == ["ics:a@x", "ics:c@x"]
    assert list(errors) == ["ics:b@x"] and problem in errors["ics:b@x"], errors


def test_a_vevent_without_end_costs_itself_and_is_named() -> None:
    unclosed = "\r\n".join(["BEGIN:VEVENT", "UID:open@x", *CLEAN])  # the next BEGIN:VEVENT comes first
    out = ics_to_canonical(calendar(vevent("a@x", CLEAN), unclosed, vevent("c@x", CLEAN)), name="f")
    assert list(out.events["source_key"]) == ["ics:a@x", "ics:c@x"]
    assert list(out.errors["source_key"]) == ["ics:open@x"]
    assert "no END:VEVENT" in out.errors["problem"].iloc[0]


def test_a_cut_off_file_keeps_every_complete_event_and_names_the_cut_one() -> None:
    cut = "\r\n".join(["BEGIN:VEVENT", "UID:cut@x", "DTSTART:20261118T0900"])
    out = ics_to_canonical(calendar(vevent("a@x", CLEAN), vevent("b@x", CLEAN), cut, closed=False), name="f")
    assert list(out.events["source_key"]) == ["ics:a@x", "ics:b@x"]
    assert list(out.errors["source_key"]) == ["ics:cut@x"]
    assert "truncated inside this VEVENT" in out.errors["problem"].iloc[0]
    out = ics_to_canonical(calendar(vevent("a@x", CLEAN), closed=False), name="f")
    assert list(out.events["source_key"]) == ["ics:a@x"]
    assert list(out.errors["source_key"]) == ["ics:f"] and "no END:VCALENDAR" in out.errors["problem"].iloc[0]


def test_vtimezones_reach_the_events_read_one_by_one() -> None:
    zone = "\r\n".join(["BEGIN:VTIMEZONE", "TZID:Custom Tokyo", "BEGIN:STANDARD", "DTSTART:19700101T000000",
                        "TZOFFSETFROM:+0900", "TZOFFSETTO:+0900", "END:STANDARD", "END:VTIMEZONE"])  # fmt: skip
    timed = ["DTSTAMP:20261101T000000Z", "DTSTART;TZID=Custom Tokyo:20261118T090000", "DURATION:PT1H", "SUMMARY:z"]
    out = ics_to_canonical(calendar(zone, "END:VTODO", vevent("z@x", timed)), name="f")  # a stray END outside
    assert list(out.events["source_key"]) == ["ics:z@x"]
    assert out.events["start"].iloc[0] == dt.datetime(2026, 11, 18, 0, tzinfo=dt.UTC)
    assert list(out.errors["source_key"]) == ["ics:f"] and "closes nothing" in out.errors["problem"].iloc[0]


def test_text_that_is_no_calendar_is_refused_as_such() -> None:
    out = ics_to_canonical(b"this is not a calendar\r\n", name="f")
    assert out.events.empty
    assert list(out.errors["source_key"]) == ["ics:f"] and "not an iCalendar file" in out.errors["problem"].iloc[0]


# ---------------------------------------------------------------------- dense rules from long ago

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")  # the window below crosses its autumn DST change


def walked(rule: recurrence.Rule, lower: dt.datetime, upper: dt.datetime) -> list[dt.datetime]:
    """The occurrences in (lower, upper) as dateutil gives them walking from DTSTART (the slow way)."""
    out = []
    for occurrence in recurrence.ruleset(rule.lines, rule.dtstart, rule.zone).xafter(lower, inc=False):
        if occurrence >= upper:
            break
        out.append(occurrence)
    return out


@settings(max_examples=60, deadline=None)
@given(
    freq=st.sampled_from(["HOURLY", "MINUTELY", "SECONDLY"]),
    interval=st.sampled_from([1, 5, 7, 13, 45, 90]),
    by=st.sampled_from(["", ";BYHOUR=1,2,3", ";BYDAY=MO,SU", ";BYMINUTE=0,30"]),
    count=st.sampled_from([None, 50, 3000]),
    start_offset_minutes=st.integers(0, 60 * 24 * 6),
    days_later=st.integers(0, 12),
    zone=st.sampled_from([NEW_YORK, None]),
)
def test_a_dense_rule_restarted_before_the_window_gives_the_same_occurrences(
    freq: str, interval: int, by: str, count: int | None, start_offset_minutes: int, days_later: int, zone: object
) -> None:
    text = f"FREQ={freq};INTERVAL={interval}{by}" + (f";COUNT={count}" if count else "")
    if freq == "SECONDLY":
        text = text.replace(f"INTERVAL={interval}", f"INTERVAL={interval * 60}")  # a day of them stays small
    start = dt.datetime(2026, 10, 24, 22, 15, 17) + dt.timedelta(minutes=start_offset_minutes)
    tz = zone if isinstance(zone, zoneinfo.ZoneInfo) else None
    rule = recurrence.Rule(dtstart=start.replace(tzinfo=tz), lines=(f"RRULE:{text}",), all_day=tz is None, zone=tz)
    lower = dt.datetime(2026, 10, 25, 4, tzinfo=dt.UTC) + dt.timedelta(days=days_later)
    upper = lower + dt.timedelta(hours=9)
    span = dt.timedelta(minutes=10)
    naive = tz is None
    expected = outcome(walked, rule, (lower.replace(tzinfo=None) if naive else lower) - span,
                       upper.replace(tzinfo=None) if naive else upper)  # fmt: skip
    assert outcome(rule.between, lower, upper, span) == expected


def outcome(func: Callable[..., list[dt.datetime]], *args: Any) -> list[dt.datetime] | str:
    """The occurrences, or the error dateutil gives for a rule that can have none (BYMINUTE off its grid)."""
    try:
        return func(*args)
    except ValueError as exc:
        return str(exc)


def test_a_secondly_rule_from_1971_is_expanded_at_once() -> None:
    rule = recurrence.Rule(
        dtstart=dt.datetime(1971, 1, 1, tzinfo=dt.UTC), lines=("RRULE:FREQ=SECONDLY;INTERVAL=20",), all_day=False,
        zone=zoneinfo.ZoneInfo("UTC"),
    )  # fmt: skip
    lower = dt.datetime(2026, 11, 18, 9, tzinfo=dt.UTC)
    got = rule.between(lower, lower + dt.timedelta(minutes=1), dt.timedelta(seconds=1))
    assert got == [lower + dt.timedelta(seconds=s) for s in (0, 20, 40)]


def test_a_counted_dense_rule_from_long_ago_ends_where_its_count_does() -> None:
    start = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    zone = zoneinfo.ZoneInfo("UTC")
    ended = recurrence.Rule(dtstart=start, lines=("RRULE:FREQ=MINUTELY;COUNT=100",), all_day=False, zone=zone)
    assert (
        ended.between(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 2, tzinfo=dt.UTC), dt.timedelta())
        == []
    )
    counted = ("RRULE:FREQ=MINUTELY;COUNT=14000000",)  # 14e6 minutes from 2000-01-01 ends in 2026-08
    last = start + dt.timedelta(minutes=14_000_000 - 1)
    rule = recurrence.Rule(dtstart=start, lines=counted, all_day=False, zone=zone)
    got = rule.between(last - dt.timedelta(minutes=3), last + dt.timedelta(hours=1), dt.timedelta())
    assert got == [last - dt.timedelta(minutes=2), last - dt.timedelta(minutes=1), last]
    filtered = ("RRULE:FREQ=MINUTELY;COUNT=14000000;BYHOUR=9",)
    with pytest.raises(recurrence.RecurrenceError, match="too far to walk"):
        recurrence.Rule(dtstart=start, lines=filtered, all_day=False, zone=zone).between(last, last, dt.timedelta())
