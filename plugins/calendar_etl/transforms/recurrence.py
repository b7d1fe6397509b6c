"""Recurrence: Garoon ``repeatInfo`` ⇄ RFC 5545 lines, collapsing listed occurrences, expanding series.

Expansion uses ``dateutil.rrule`` (already a dependency of pandas and Airflow) rather than
``recurring-ical-events``: our series are canonical rows, not iCalendar components, and we need control over
two things that library decides for us: all-day series expand in floating time (so no zone can move a day),
and RECURRENCE-ID overrides come from canonical exception rows, which may come from Garoon or LINE WORKS.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from dateutil import rrule

from calendar_etl import model
from calendar_etl.transforms.common import (
    ARROW_ZONE_RANGE,
    cast_or_null,
    civil,
    combine_codes,
    first_per_group,
    fixed_texts,
    fixed_width_text,
    format_seconds,
    is_true,
    laid_out,
    list_array,
    map_unique,
    strings,
)

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
RFC_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
NTH_WEEK = {"EVERY_1STWEEK": 1, "EVERY_2NDWEEK": 2, "EVERY_3RDWEEK": 3, "EVERY_4THWEEK": 4}
MAX_EXPANDED_OCCURRENCES = 10_000  # per series and window; a runaway rule (FREQ=MINUTELY) is an error, not a flood
DTSTART_PREFIX = "DTSTART"  # first line of a Garoon occurrence's series rule (see garoon_to_canonical)
RECURRENCE_ID_UTC = "%Y%m%dT%H%M%SZ"  # canonical recurrence id of a timed occurrence (its original start, UTC)
RECURRENCE_ID_DAY = "%Y%m%d"  # ... and of an all-day one


class RecurrenceError(ValueError):
    """A recurrence line that cannot be read."""


@dataclass(frozen=True)
class Rule:
    """A series' start and recurrence lines, ready to expand."""

    dtstart: dt.datetime  # aware in ``zone`` for timed series; naive midnight for all-day series
    lines: tuple[str, ...]
    all_day: bool
    zone: zoneinfo.ZoneInfo | None

    def ruleset(self) -> rrule.rruleset:
        return ruleset(self.lines, self.dtstart, self.zone)

    def between(
        self, start: dt.datetime, end: dt.datetime, duration: dt.timedelta, day_zone: dt.tzinfo | None = None
    ) -> list[dt.datetime]:
        """Return occurrence starts that overlap ``[start, end)`` (``start``/``end`` aware).

        All-day series are floating days; ``day_zone`` says in which zone the range's instants become days
        (Garoon lists an all-day occurrence by its own zone's day), UTC by default.
        """
        if self.all_day:
            if day_zone is not None:
                start, end = start.astimezone(day_zone), end.astimezone(day_zone)
            lower = start.replace(tzinfo=None) - duration
            upper = end.replace(tzinfo=None)
        else:
            lower, upper = start - duration, end
        out = []
        for occurrence in ruleset(self.lines, self.dtstart, self.zone, after=lower).xafter(lower, inc=False):
            if occurrence >= upper:
                break
            out.append(occurrence)
            if len(out) > MAX_EXPANDED_OCCURRENCES:
                raise RecurrenceError(f"more than {MAX_EXPANDED_OCCURRENCES} occurrences in the window")
        return out


# ---------------------------------------------------------------------- recurrence ids


def recurrence_id(value: dt.datetime | dt.date) -> str:
    """Return the canonical recurrence id of an original start: ``YYYYMMDDTHHMMSSZ`` (UTC) or ``YYYYMMDD``."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("a timed recurrence id needs an aware datetime")
        return value.astimezone(dt.UTC).strftime(RECURRENCE_ID_UTC)
    return value.strftime(RECURRENCE_ID_DAY)


def parse_recurrence_id(value: str, zone: dt.tzinfo | None = None) -> dt.datetime | dt.date:
    """Return the instant (or date) of a RECURRENCE-ID in any form LINE WORKS or iCalendar uses.

    Accepts ``TZID=Zone:YYYYMMDDTHHMMSS``, ``YYYYMMDDTHHMMSSZ``, ``YYYYMMDDTHHMMSS`` (floating: ``zone``),
    ``VALUE=DATE:YYYYMMDD`` and ``YYYYMMDD``.
    """
    spec = value.strip()
    if spec.upper().startswith("TZID="):
        name, _, spec = spec[5:].partition(":")
        zone = zone_of(name)
    elif spec.upper().startswith("VALUE=DATE:"):
        spec = spec[11:]
    try:
        if len(spec) == 8:
            return dt.datetime.strptime(spec, "%Y%m%d").date()
        if spec.endswith("Z"):
            return dt.datetime.strptime(spec, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        local = dt.datetime.strptime(spec, "%Y%m%dT%H%M%S")
    except ValueError as exc:
        raise RecurrenceError(f"{value!r} is not a RECURRENCE-ID such as TZID=Asia/Tokyo:20261116T090000") from exc
    if zone is None:
        raise RecurrenceError(f"{value!r} is a floating time and the series has no zone")
    return local.replace(tzinfo=zone)


def zone_of(name: str) -> zoneinfo.ZoneInfo:
    """Return the IANA zone ``name``; RecurrenceError naming it when it is unknown."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise RecurrenceError(f"unknown time zone {name!r}") from exc


# ---------------------------------------------------------------------- RFC 5545 lines


def ruleset(
    lines: Sequence[str], dtstart: dt.datetime, zone: dt.tzinfo | None, after: dt.datetime | None = None
) -> rrule.rruleset:
    """Return the dateutil rule set of RRULE/EXRULE/RDATE/EXDATE ``lines`` starting at ``dtstart``.

    ``after``: only occurrences after it will be asked for. dateutil walks a rule from its start, one step per
    period, so an HOURLY/MINUTELY/SECONDLY rule that began long before would take hours to reach ``after``
    (1.7e9 steps for a SECONDLY rule from 1971); such rules are restarted on their own grid just before it.
    """
    all_day = dtstart.tzinfo is None
    rules = rrule.rruleset()
    for line in lines:
        name, _, rest = line.partition(":")
        upper = name.upper()
        if upper.startswith(DTSTART_PREFIX):
            continue
        if upper.startswith(("RRULE", "EXRULE")):
            text = _utc_until(rest, zone, all_day)
            try:
                rule = rrule.rrulestr(f"RRULE:{text}", dtstart=dtstart, forceset=False)
            except (ValueError, TypeError) as exc:
                raise RecurrenceError(f"{line!r}: {exc}") from exc
            if not isinstance(rule, rrule.rrule):
                raise RecurrenceError(f"{line!r} is not a single rule")
            if after is not None:
                rule = _restarted_before(rule, text, dtstart, after)
                if rule is None:
                    continue  # every occurrence of this rule is before ``after``
            (rules.rrule if upper.startswith("RRULE") else rules.exrule)(rule)
        elif upper.startswith(("RDATE", "EXDATE")):
            for when in line_values(line, dtstart, zone):
                (rules.exdate if upper.startswith("EXDATE") else rules.rdate)(when)
        else:
            raise RecurrenceError(f"{line[:80]!r} is not an RRULE, EXRULE, RDATE or EXDATE line")
    return rules


def rule_parts(rule: str) -> dict[str, str]:
    """Return the ``NAME=VALUE`` parts of an RRULE (with or without its ``RRULE:`` name), upper-cased."""
    text = rule.upper()
    text = text[6:] if text.startswith("RRULE:") else text
    return dict(part.split("=", 1) for part in text.split(";") if "=" in part)


#: Seconds per period of the rules dateutil would walk step by step for a long time.
SUB_DAILY_SECONDS = {"HOURLY": 3600, "MINUTELY": 60, "SECONDLY": 1}
MAX_WALKED_STEPS = 2_000_000  # a COUNT rule with BY* filters cannot be restarted: walking it further is refused


def _restarted_before(rule: rrule.rrule, text: str, dtstart: dt.datetime, after: dt.datetime) -> rrule.rrule | None:
    """Return ``rule`` restarted at its last step before ``after`` with the same occurrences from there on.

    The occurrences of a sub-daily rule lie on a grid of wall-clock steps (INTERVAL periods) from DTSTART, kept
    or not by BY* filters that depend only on the date and time; so a start moved by whole steps keeps them.
    A COUNT counts from the first start: without BY* filters every step is an occurrence and the COUNT is cut by
    the steps skipped; with them the count of skipped occurrences is unknown, and the rule is walked as it is
    unless that is more than ``MAX_WALKED_STEPS`` steps. None when the rule ends before ``after``.
    """
    parts = rule_parts(text)
    period = SUB_DAILY_SECONDS.get(parts.get("FREQ", ""))
    if period is None:
        return rule
    step = period * max(int(parts.get("INTERVAL") or 1), 1)
    start = dtstart.replace(tzinfo=None)
    target = (after.astimezone(dtstart.tzinfo) if dtstart.tzinfo and after.tzinfo else after).replace(tzinfo=None)
    steps = int((target - start).total_seconds() // step) - 1
    if steps <= 0:
        return rule
    moved = (start + dt.timedelta(seconds=steps * step)).replace(tzinfo=dtstart.tzinfo)
    if "COUNT" not in parts:
        return rule.replace(dtstart=moved)
    if any(name.startswith("BY") for name in parts):
        if steps > MAX_WALKED_STEPS:
            raise RecurrenceError(
                f"RRULE:{text} counts {parts['COUNT']} occurrences through BY* filters from {dtstart.isoformat()}, "
                f"{steps} steps before the window: too far to walk; give the rule an UNTIL instead of a COUNT"
            )
        return rule
    left = int(parts["COUNT"]) - steps
    return rule.replace(dtstart=moved, count=left) if left > 0 else None


def line_values(line: str, dtstart: dt.datetime, zone: dt.tzinfo | None) -> list[dt.datetime]:
    """Return the datetimes of an RDATE/EXDATE line (naive for an all-day series, aware otherwise)."""
    name, _, rest = line.partition(":")
    params = dict(p.split("=", 1) for p in name.split(";")[1:] if "=" in p)
    line_zone = zone_of(params["TZID"]) if "TZID" in params else zone
    out = []
    for raw in filter(None, (v.strip() for v in rest.split(","))):
        when = parse_recurrence_id(raw, line_zone) if len(raw) != 8 else dt.datetime.strptime(raw, "%Y%m%d")
        if isinstance(when, dt.date) and not isinstance(when, dt.datetime):
            when = dt.datetime.combine(when, dtstart.time())
        if isinstance(when, dt.datetime) and len(raw) == 8:
            when = dt.datetime.combine(when.date(), dtstart.timetz() if dtstart.tzinfo else dtstart.time())
        if dtstart.tzinfo is None:
            when = (
                when.astimezone(line_zone).replace(tzinfo=None)
                if when.tzinfo and line_zone
                else when.replace(tzinfo=None)
            )
        elif when.tzinfo is None:
            raise RecurrenceError(f"{line!r}: a floating date-time in a timed series needs TZID")
        out.append(when)
    return out


def _utc_until(rule: str, zone: dt.tzinfo | None, all_day: bool) -> str:
    """Return ``rule`` with UNTIL in the form dateutil needs for the series (UTC for timed, floating for all-day)."""
    parts = []
    for part in rule.split(";"):
        key, _, value = part.partition("=")
        if key.upper() == "UNTIL":
            if all_day:
                value = value[:8]
            elif not value.endswith("Z") and zone is not None:
                local = (
                    dt.datetime.strptime(value, "%Y%m%dT%H%M%S")
                    if "T" in value
                    else dt.datetime.combine(dt.datetime.strptime(value, "%Y%m%d").date(), dt.time(23, 59, 59))
                )
                value = local.replace(tzinfo=zone).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        parts.append(f"{key}={value}" if key else part)
    return ";".join(parts)


def exdate_line(values: Iterable[dt.datetime | dt.date], zone_name: str | None) -> str:
    """Return one EXDATE line for ``values``: ``EXDATE;TZID=zone:...`` or ``EXDATE;VALUE=DATE:...``."""
    items = sorted(values)
    if items and not isinstance(items[0], dt.datetime):
        return "EXDATE;VALUE=DATE:" + ",".join(v.strftime("%Y%m%d") for v in items)
    zone = zone_of(zone_name) if zone_name else dt.UTC
    stamps = ",".join(v.astimezone(zone).strftime("%Y%m%dT%H%M%S") for v in items if isinstance(v, dt.datetime))
    return f"EXDATE;TZID={zone_name}:{stamps}" if zone_name else "EXDATE:" + stamps.replace(",", "Z,") + "Z"


def merge_exdates(lines: Sequence[str]) -> list[str]:
    """Return ``lines`` with EXDATE lines of the same parameters merged into one (RFC 5545 allows a list).

    LINE WORKS accepts at most 100 recurrence lines; a series with 150 cancelled occurrences fits as one line.
    """
    merged: dict[str, list[str]] = {}
    out: list[str] = []
    for line in lines:
        name, _, rest = line.partition(":")
        if name.upper().startswith("EXDATE"):
            if name not in merged:
                merged[name] = []
                out.append(name)
            merged[name].extend(v for v in rest.split(",") if v)
        else:
            out.append(line)
    return [f"{x}:{','.join(merged[x])}" if x in merged else x for x in out]


# ---------------------------------------------------------------------- Garoon repeatInfo


def repeat_info_rule(info: dict[str, Any], default_zone: str = "Asia/Tokyo") -> tuple[list[str], str | None]:
    """Return (recurrence lines starting with a DTSTART line, reason) for a Garoon ``repeatInfo``.

    The lines are empty, and the reason says why, when the type has no RRULE equivalent (a type newer than
    this code) or the info is incomplete.
    """
    kind = str(info.get("type") or "")
    period = info.get("period") or {}
    try:
        first = dt.date.fromisoformat(str(period["start"]))
        last = dt.date.fromisoformat(str(period["end"]))
    except (KeyError, TypeError, ValueError):
        return [], f"Garoon repeat period {period!r} is not two dates; occurrences kept"
    zone_name = str(info.get("timeZone") or default_zone)
    try:
        zone = zone_of(zone_name)
    except RecurrenceError as exc:
        return [], f"{exc}; occurrences kept"
    all_day = bool(info.get("isAllDay"))
    day = RFC_DAYS[WEEKDAYS.index(info["dayOfWeek"])] if info.get("dayOfWeek") in WEEKDAYS else None
    if kind == "EVERY_DAY":
        rule = "FREQ=DAILY"
    elif kind == "EVERY_WEEKDAY":
        rule = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    elif kind == "EVERY_WEEK" and day:
        rule = f"FREQ=WEEKLY;BYDAY={day}"
    elif kind in NTH_WEEK and day:
        rule = f"FREQ=MONTHLY;BYDAY={NTH_WEEK[kind]}{day}"
    elif kind == "EVERY_LASTWEEK" and day:
        rule = f"FREQ=MONTHLY;BYDAY=-1{day}"
    elif kind == "EVERY_MONTH" and str(info.get("dayOfMonth")) == "EOM":
        rule = "FREQ=MONTHLY;BYMONTHDAY=-1"
    elif kind == "EVERY_MONTH" and str(info.get("dayOfMonth", "")).isdigit() and 1 <= int(info["dayOfMonth"]) <= 31:
        rule = f"FREQ=MONTHLY;BYMONTHDAY={int(info['dayOfMonth'])}"
    else:
        return [], f"Garoon repeat type {kind or '(none)'!r} has no RRULE equivalent; occurrences kept"
    start_time = dt.time(0) if all_day else dt.time.fromisoformat((info.get("time") or {}).get("start") or "00:00")
    if all_day:
        dtstart_line = f"DTSTART;VALUE=DATE:{first:%Y%m%d}"
        until = f"{last:%Y%m%d}"
    else:
        dtstart_line = f"DTSTART;TZID={zone_name}:{dt.datetime.combine(first, start_time):%Y%m%dT%H%M%S}"
        until = dt.datetime.combine(last, dt.time(23, 59, 59), zone).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [dtstart_line, f"RRULE:{rule};UNTIL={until}"]
    excluded = []
    for item in info.get("exclusiveDateTimes") or []:
        try:
            instant = dt.datetime.fromisoformat(str(item["start"]).replace("Z", "+00:00")).astimezone(zone)
        except (KeyError, TypeError, ValueError):
            return [], f"Garoon exclusiveDateTimes item {item!r} is not a date-time; occurrences kept"
        excluded.append(instant.date() if all_day else dt.datetime.combine(instant.date(), start_time, zone))
    if excluded:
        lines.append(exdate_line(excluded, None if all_day else zone_name))
    return lines, None


def repeat_info_from_rule(
    lines: Sequence[str], dtstart: dt.datetime | dt.date, end: dt.datetime | dt.date, zone_name: str | None
) -> dict[str, Any] | None:
    """Return the Garoon ``repeatInfo`` that repeats like ``lines``, or None when Garoon has no such type.

    Garoon's REST API cannot create repeating events, so this is used to describe a series in Garoon's own
    terms (reports, the reverse of :func:`repeat_info_rule`), never to write one.
    """
    rrules = [line for line in lines if line.upper().startswith("RRULE:")]
    if len(rrules) != 1 or any(line.upper().startswith(("RDATE", "EXRULE")) for line in lines):
        return None
    parts = rule_parts(rrules[0])
    if set(parts) - {"FREQ", "BYDAY", "BYMONTHDAY", "UNTIL", "INTERVAL", "WKST"} or parts.get("INTERVAL", "1") != "1":
        return None
    if "UNTIL" not in parts:
        return None
    all_day = not isinstance(dtstart, dt.datetime)
    zone = zone_of(zone_name) if zone_name and not all_day else None
    until_raw = parts["UNTIL"]
    if until_raw.endswith("Z") and zone is not None:
        until_day = dt.datetime.strptime(until_raw, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC).astimezone(zone).date()
    else:
        until_day = dt.datetime.strptime(until_raw[:8], "%Y%m%d").date()
    freq, byday, bymonthday = parts["FREQ"], parts.get("BYDAY", ""), parts.get("BYMONTHDAY", "")
    info: dict[str, Any] = {}
    match = re.fullmatch(r"(-1|[1-4])?(MO|TU|WE|TH|FR|SA|SU)", byday)
    if freq == "DAILY" and not byday and not bymonthday:
        info["type"] = "EVERY_DAY"
    elif freq == "WEEKLY" and byday == "MO,TU,WE,TH,FR":
        info["type"] = "EVERY_WEEKDAY"
    elif freq == "WEEKLY" and match and not match.group(1):
        info.update(type="EVERY_WEEK", dayOfWeek=WEEKDAYS[RFC_DAYS.index(match.group(2))])
    elif freq == "MONTHLY" and match and match.group(1):
        nth = match.group(1)
        info.update(
            type="EVERY_LASTWEEK" if nth == "-1" else f"EVERY_{['1ST', '2ND', '3RD', '4TH'][int(nth) - 1]}WEEK",
            dayOfWeek=WEEKDAYS[RFC_DAYS.index(match.group(2))],
        )
    elif freq == "MONTHLY" and not byday and re.fullmatch(r"-1|[1-9]|[12]\d|3[01]", bymonthday):
        info.update(type="EVERY_MONTH", dayOfMonth="EOM" if bymonthday == "-1" else bymonthday)
    else:
        return None
    start_day = dtstart.astimezone(zone).date() if isinstance(dtstart, dt.datetime) and zone else _day(dtstart)
    info["period"] = {"start": start_day.isoformat(), "end": until_day.isoformat()}
    info["isAllDay"] = all_day
    info["isStartOnly"] = False
    if isinstance(dtstart, dt.datetime) and isinstance(end, dt.datetime) and zone is not None:
        info["time"] = {
            "start": dtstart.astimezone(zone).strftime("%H:%M"),
            "end": end.astimezone(zone).strftime("%H:%M"),
        }
    info["timeZone"] = zone_name or "UTC"
    exclusions = []
    start_for_lines = dt.datetime.combine(start_day, dt.time()) if all_day else dtstart
    for line in lines:
        if line.upper().startswith("EXDATE"):
            for when in line_values(line, start_for_lines, zone):  # type: ignore[arg-type]
                # An all-day exclusion is a day in the series' zone: midnight there, not in UTC.
                stamp = when if when.tzinfo else when.replace(tzinfo=zone_of(zone_name) if zone_name else dt.UTC)
                exclusions.append({"start": stamp.isoformat(), "end": stamp.isoformat()})
    info["exclusiveDateTimes"] = exclusions
    return info


def _day(value: dt.datetime | dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


# ---------------------------------------------------------------------- rows <-> rules


def row_rule(row: Any) -> Rule:
    """Return the Rule of a canonical series row (``start``/``start_date``, ``timezone``, ``recurrence``)."""
    lines = [
        line
        for line in (row.recurrence if row.recurrence is not None else [])
        if not line.upper().startswith(DTSTART_PREFIX)
    ]
    if row.all_day:
        start = dt.datetime.combine(row.start_date, dt.time())
        return Rule(start, tuple(lines), True, None)
    zone = zone_of(row.timezone) if isinstance(row.timezone, str) and row.timezone else zoneinfo.ZoneInfo("UTC")
    return Rule(row.start.to_pydatetime().astimezone(zone), tuple(lines), False, zone)


def _duration(row: Any) -> dt.timedelta:
    if row.all_day:
        return dt.timedelta(days=(row.end_date - row.start_date).days)
    return (row.end - row.start).to_pytimedelta()


def expand_series(
    frame: pd.DataFrame, start: dt.datetime, end: dt.datetime, reason: str, day_zone: dt.tzinfo | None = None
) -> model.Converted:
    """Return ``frame`` with every series (and its exceptions) replaced by single rows inside ``[start, end)``.

    Each occurrence becomes its own write unit (``sync_key`` = the series key + ``:`` + recurrence id), an
    exception row replaces the occurrence it edits, a CANCELLED exception removes it, and every expanded row
    carries ``reason``. Rows that are not part of a series are kept when they overlap the window. All-day rows
    are days: ``day_zone`` (the DAG's zone) says which days the window covers, so no worker zone moves them.
    """
    is_series = frame["kind"] == "series"
    grouped = frame["sync_key"].isin(frame.loc[is_series, "sync_key"])
    singles = frame[~grouped]
    inside = [overlaps(r, start, end, day_zone) for r in singles.to_dict("records")]
    rest = singles[pd.Series(inside, index=singles.index, dtype=bool)]
    if not is_series.any():
        return model.Converted(rest.reset_index(drop=True))
    produced: list[dict[str, Any]] = []
    errors: list[tuple[str, str]] = []
    records = frame[grouped].to_dict("records")
    by_key: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_key.setdefault(record["sync_key"], []).append(record)
    for group in by_key.values():
        masters = [r for r in group if r["kind"] == "series"]
        master = masters[0]
        exceptions = {r["recurrence_id"]: r for r in group if r["kind"] == "exception"}
        try:
            produced.extend(_expand_one(master, exceptions, start, end, reason, day_zone))
        except (RecurrenceError, ValueError, OverflowError) as exc:
            errors.append((str(master["source_key"]), f"cannot expand its recurrence: {exc}"))
    expanded = model.from_columns({c: [r[c] for r in produced] for c in model.COLUMNS}, len(produced))
    return model.Converted(model.concat([rest, expanded]), model.errors_frame(errors))


def _expand_one(
    master: dict[str, Any],
    exceptions: dict[str, dict[str, Any]],
    start: dt.datetime,
    end: dt.datetime,
    reason: str,
    day_zone: dt.tzinfo | None,
) -> list[dict[str, Any]]:
    row = pd.Series(master)
    rule = row_rule(row)
    duration = _duration(row)
    out = []
    seen: set[str] = set()
    for occurrence in rule.between(start, end, duration, day_zone):
        rid = recurrence_id(occurrence.date() if rule.all_day else occurrence)
        seen.add(rid)
        if rid in exceptions:
            if exceptions[rid]["status"] != "CANCELLED" and overlaps(exceptions[rid], start, end, day_zone):
                out.append(_as_single(exceptions[rid], rid, reason))
            continue
        item = dict(master)
        if rule.all_day:
            item["start_date"], item["end_date"] = occurrence.date(), occurrence.date() + duration
        else:
            item["start"], item["end"] = pd.Timestamp(occurrence), pd.Timestamp(occurrence + duration)
        out.append(_as_single(item, rid, reason))
    for rid, exception in exceptions.items():  # moved into the window from an occurrence outside it
        if rid in seen or exception["status"] == "CANCELLED":
            continue
        if overlaps(exception, start, end, day_zone):
            out.append(_as_single(exception, rid, reason))
    return out


def overlaps(record: dict[str, Any], start: dt.datetime, end: dt.datetime, day_zone: dt.tzinfo | None = None) -> bool:
    """Return True when a canonical row overlaps ``[start, end)`` (all-day rows by their days in ``day_zone``)."""
    if record["all_day"]:
        if day_zone is not None:
            start, end = start.astimezone(day_zone), end.astimezone(day_zone)
        return bool(record["start_date"] < end.date() and record["end_date"] > start.date())
    return bool(record["start"] < end and (record["end"] > start or record["start"] >= start))


def _as_single(record: dict[str, Any], rid: str, reason: str) -> dict[str, Any]:
    key = f"{record['sync_key']}:{rid}"
    return {
        **record,
        "kind": "single",
        "source_key": key,
        "sync_key": key,
        "recurrence_id": rid,
        "recurrence": [],
        "reasons": [*(record.get("reasons") or []), reason],
    }


# ---------------------------------------------------------------------- collapsing Garoon occurrences

#: Columns that must agree between an occurrence and the series master for the occurrence to be "unedited".
OCCURRENCE_CONTENT = (
    "summary", "description", "location", "status", "visibility", "transparency", "category",
    "organizer", "attendees", "facilities", "reminders", "start_only",
)  # fmt: skip


Listed = tuple[dt.datetime, dt.datetime]
US = 1_000_000  # microseconds per second: the canonical instants' unit
DAY_US = 86_400 * US
#: Where each field of a compact ``YYYYMMDD[THHMMSS]`` stamp is.
COMPACT_FIELDS = {"Y": (0, 4), "m": (4, 6), "d": (6, 8), "H": (9, 11), "M": (11, 13), "S": (13, 15)}
#: Longest listed range (days) expanded column-wise; a longer one goes through dateutil per series.
WINDOW_HORIZON = 3660


def collapse_occurrences(frame: pd.DataFrame, listed: Listed | dict[str, Listed] | None = None) -> pd.DataFrame:
    """Return ``frame`` with each group of ``occurrence`` rows turned into one series plus its edited occurrences.

    A group (one Garoon ``id``) collapses when its rule, expanded over ``listed`` (the range the occurrences
    were listed for, one range for all or one per sync key; by default the span of the group itself), gives
    exactly the listed occurrences. The series row takes the content most occurrences share; occurrences that
    differ (an edited title, a moved time) become ``exception`` rows; occurrences the rule cannot reproduce
    keep the group as separate ``single`` rows, with the reason recorded. Either way no occurrence is lost.

    All groups are done together, column-wise: the rules Garoon's repeat types give (daily, weekly on some
    days, monthly on a day or an nth weekday, with UNTIL and EXDATE) are expanded with numpy; any other rule
    is expanded with dateutil, one series at a time.
    """
    is_occurrence = np.asarray(frame["kind"].eq("occurrence").fillna(False), dtype=bool)
    if not is_occurrence.any():
        return frame
    table = model.to_arrow(frame.reset_index(drop=True))
    rest = table.filter(pa.array(~is_occurrence))
    collapsed = _Collapse(table.filter(pa.array(is_occurrence)), listed).table()
    return model.to_pandas(pa.concat_tables([rest, collapsed]))


class _Collapse:
    """The occurrence rows of one frame, grouped by sync key, and what each group becomes."""

    def __init__(self, rows: pa.Table, listed: Listed | dict[str, Listed] | None) -> None:
        self.rows = rows
        encoded = pc.dictionary_encode(rows["sync_key"].combine_chunks())
        self.group = np.asarray(encoded.indices, dtype=np.int64)
        self.keys: list[str] = encoded.dictionary.to_pylist()
        groups = len(self.keys)
        self.first_row = first_per_group(self.group, groups)
        take = pa.array(self.first_row)
        self.lines: pa.ListArray = rows["recurrence"].take(take).combine_chunks()  # the group's rule lines
        self.all_day = is_true(rows["all_day"].take(take))
        self.zones = rows["timezone"].take(take).combine_chunks()
        self.zone_names: list[Any] = self.zones.to_pylist()
        self.zone_code = np.asarray(pc.fill_null(pc.dictionary_encode(self.zones).indices, -1), np.int64)
        self.row_all_day = is_true(rows["all_day"])
        self.rid: pa.Array = rows["recurrence_id"].combine_chunks()
        self.reason: list[str | None] = [None] * groups  # why a group keeps its occurrences
        self.collapses = np.zeros(groups, bool)
        self.first_us = np.zeros(groups, np.int64)  # the master's start (all-day: midnight of its day, UTC)
        self._signatures()
        self._listed(listed)
        self._expected()

    # -- the typical occurrence of each group ----------------------------------------------

    def _signatures(self) -> None:
        """Find each group's template (the most common content and duration) and the rows that differ from it."""
        rows = self.rows
        start = _micros(rows["start"])
        end = _micros(rows["end"])
        start_day = _micros(rows["start_date"])
        end_day = _micros(rows["end_date"])
        self.record_start = np.where(self.row_all_day, start_day, start)
        duration = np.where(self.row_all_day, end_day - start_day, end - start)
        rid_us, rid_problem = self._rid_instants()
        for i in np.flatnonzero(rid_problem != ""):
            g = self.group[i]
            self.reason[g] = self.reason[g] or f"Garoon repeat rule cannot be read ({rid_problem[i]}); occurrences kept"
        shift = self.record_start - rid_us
        content = _content_codes(rows)
        signature = combine_codes([self.group, pd.factorize(shift)[0], pd.factorize(duration)[0], content])
        count = np.bincount(signature)[signature]
        rid_rank = np.asarray(pc.rank(self.rid, sort_keys="ascending", tiebreaker="dense"))
        # The most common content is the series'; ties go to an occurrence at its original time, then the earliest,
        # so the same listing always gives the same master (and the same content hash).
        order = np.lexsort((rid_rank, shift != 0, -count, self.group))
        firsts = np.flatnonzero(np.r_[True, self.group[order][1:] != self.group[order][:-1]])
        self.template = order[firsts]  # one row per group, groups in code order
        self.duration = duration[self.template]
        g = self.group
        self.differs = (shift != 0) | (duration != self.duration[g]) | (content != content[self.template][g])

    def _rid_instants(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the original start of each occurrence (µs, UTC; a day at midnight UTC) and any problem."""
        out = np.zeros(len(self.rid), np.int64)
        problems = np.full(len(self.rid), "", object)
        read = np.zeros(len(self.rid), bool)  # a valid YYYYMMDD or YYYYMMDDTHHMMSSZ
        for pattern, layout, kind in ((b"99999999", "%Y-%m-%d", pa.date32()),
                                      (b"99999999T999999Z", "%Y-%m-%dT%H:%M:%SZ", model.TIMESTAMP)):  # fmt: skip
            rows, stamps = fixed_texts(self.rid, pattern)
            if len(rows):
                values = cast_or_null(fixed_width_text(laid_out(stamps, layout, COMPACT_FIELDS)), kind)
                out[rows] = _micros(values)
                read[rows] = is_true(pc.is_valid(values))
        for i in np.flatnonzero(~read):  # other forms (TZID=..., floating): the general parser
            g = self.group[i]
            zone = None if self.all_day[g] else _zone_or_none(self.zone_names[g])
            try:
                value = parse_recurrence_id(str(self.rid[i].as_py()), zone)
            except (RecurrenceError, ValueError, OverflowError, TypeError) as exc:
                problems[i] = str(exc)
                continue
            moment = value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time(), dt.UTC)
            out[i] = _to_micros(moment)
        return out, problems

    # -- the range each group was listed for --------------------------------------------------

    def _listed(self, listed: Listed | dict[str, Listed] | None) -> None:
        """Find each group's range: the one given for it (``windows[window[g]]``), else the span of its own
        occurrences (``low_us`` to ``high_us``, a second past the last start)."""
        groups = len(self.keys)
        self.low_us = np.full(groups, np.iinfo(np.int64).max)
        self.high_us = np.full(groups, np.iinfo(np.int64).min)
        np.minimum.at(self.low_us, self.group, self.record_start)  # every group has a row
        np.maximum.at(self.high_us, self.group, self.record_start)
        self.high_us += US
        if isinstance(listed, dict):
            given = [listed.get(key) for key in self.keys]
            present = np.array([w is not None for w in given], bool)
            self.windows: list[Listed] = [w for w in given if w is not None]
            self.window = np.where(present, np.cumsum(present) - 1, -1)
        else:
            self.windows = [] if listed is None else [listed]
            self.window = np.full(groups, -1 if listed is None else 0, np.int64)
        self.explicit = self.window >= 0
        # Whether each range is short enough to expand column-wise (in whole days, as Python counts them).
        short = np.array([(high - low).days <= WINDOW_HORIZON for low, high in self.windows] + [False], bool)
        spanned = (self.high_us - self.low_us) // DAY_US <= WINDOW_HORIZON
        self.fits = np.where(self.explicit, short[self.window], spanned)

    def _window(self, g: int) -> Listed:
        """Return the range group ``g`` was listed for, as aware datetimes."""
        if self.explicit[g]:
            return self.windows[self.window[g]]
        return _from_micros(int(self.low_us[g])), _from_micros(int(self.high_us[g]))

    # -- the occurrences each rule gives over its range ---------------------------------------

    def _expected(self) -> None:
        """Compare each group's listed occurrences with those its rule gives; decide which groups collapse."""
        lengths = np.asarray(pc.fill_null(pc.list_value_length(self.lines), 0), np.int64)
        unread = np.flatnonzero(np.array([r is None for r in self.reason], bool) & (lengths > 0))
        self.bounds, known = self._bounds(unread)
        tried = unread[known[unread] & self.fits[unread]]  # an unknown zone or a long range: dateutil
        shapes = _simple_rule(self.lines.take(pa.array(tried)), self.all_day[tried], self.zones.take(pa.array(tried)))
        simple = tried[shapes.index] if shapes is not None else np.zeros(0, np.int64)
        general = np.setdiff1d(unread, simple)
        expected_group: list[np.ndarray] = []
        expected_rid: list[pa.Array] = []
        if shapes is not None:
            found, rule, rids = self._expand_simple(shapes, simple)
            general = np.union1d(general, simple[~found])
            keep = found[rule]
            expected_group.append(simple[rule[keep]])
            expected_rid.append(rids.filter(pa.array(keep)))
        for g in general.tolist():
            try:
                rids_of_g = self._expand_general(g)
            except (RecurrenceError, ValueError, OverflowError) as exc:
                self.reason[g] = f"Garoon repeat rule cannot be read ({exc}); occurrences kept"
                continue
            expected_group.append(np.full(len(rids_of_g), g, np.int64))
            expected_rid.append(pa.array(sorted(rids_of_g), pa.string()))
        candidates = np.union1d(simple, general)
        candidates = candidates[[self.reason[g] is None for g in candidates]] if len(candidates) else candidates
        if not len(candidates):
            return
        self._compare(
            candidates,
            np.concatenate(expected_group) if expected_group else np.zeros(0, np.int64),
            pa.concat_arrays(expected_rid) if expected_rid else pa.array([], pa.string()),
        )

    def _bounds(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return, per group, the open interval (µs) an occurrence start must fall in (filled for ``groups``),
        and whether it is known (not when the zone that says which days a given range covers is unknown).

        The interval holds timed instants, or all-day days at midnight as naive wall times in the group's zone
        (UTC when the range was not given). A given range is converted once per zone.
        """
        out = np.stack([self.low_us, self.high_us], axis=1)  # ranges not given: UTC instants and days alike
        known = np.ones(len(self.keys), bool)
        given = groups[self.explicit[groups]]
        if len(given):
            key = combine_codes([self.window[given], np.where(self.all_day[given], self.zone_code[given], -2)])
            firsts = first_per_group(key, int(key.max()) + 1)
            values = np.zeros((len(firsts), 2), np.int64)
            ok = np.ones(len(firsts), bool)
            for i, row in enumerate(firsts.tolist()):
                try:
                    values[i] = self._given_bounds(int(given[row]))
                except RecurrenceError:
                    ok[i] = False
            out[given], known[given] = values[key], ok[key]
        out[:, 0] -= self.duration
        return out, known

    def _given_bounds(self, g: int) -> tuple[int, int]:
        """Return the range given for group ``g`` as µs: instants, or wall times in the all-day group's zone."""
        low, high = self.windows[self.window[g]]
        if self.all_day[g]:
            day_zone = zone_of(self.zone_names[g]) if self.zone_names[g] else None
            if day_zone is not None:
                low, high = low.astimezone(day_zone), high.astimezone(day_zone)
            return _naive_micros(low), _naive_micros(high)
        return _to_micros(low), _to_micros(high)

    def _expand_simple(self, shapes: _Shapes, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, pa.Array]:
        """Return (first occurrence found, per rule; the rule of each expected occurrence, its recurrence id) of
        the simple rules of groups ``ids``."""
        # The first occurrence (the master's start): the first day from DTSTART the rule takes.
        first_us, found = _first_matches(shapes)
        self.first_us[ids[found]] = first_us[found]
        # Every day of each range, with two days of margin either side (zones are at most 26 hours apart).
        bounds = self.bounds[ids]
        low_day = np.maximum(np.floor_divide(bounds[:, 0], DAY_US) - 2, shapes.start_day)
        span = np.maximum(np.floor_divide(bounds[:, 1], DAY_US) + 2 - low_day + 1, 0)
        k, day = _candidate_days(shapes, low_day, span)
        cells, local_us, instant_us = _matches(shapes, k, day)
        k, day = k[cells], day[cells]
        all_day = shapes.all_day[k]
        when = np.where(all_day, local_us, instant_us)
        inside = (when > bounds[k, 0]) & (when < bounds[k, 1])
        timed, days = inside & ~all_day, inside & all_day  # the ids of timed occurrences, then of all-day ones
        rids = pa.concat_arrays([
            format_seconds(np.floor_divide(instant_us[timed], US), np.ones(int(timed.sum()), bool), RECURRENCE_ID_UTC),
            format_seconds(day[days] * 86_400, np.ones(int(days.sum()), bool), RECURRENCE_ID_DAY),
        ])  # fmt: skip
        return found, np.concatenate([k[timed], k[days]]), rids

    def _expand_general(self, g: int) -> set[str]:
        """Return the recurrence ids a rule dateutil has to expand gives over its range; sets the first one."""
        lines: list[str] = self.lines[g].as_py() or []
        all_day = bool(self.all_day[g])
        zone_name = self.zone_names[g] if isinstance(self.zone_names[g], str) and self.zone_names[g] else "UTC"
        zone = None if all_day else zone_of(zone_name)
        dtstart_line = next((x for x in lines if x.upper().startswith(DTSTART_PREFIX)), None)
        rule_lines = tuple(x for x in lines if not x.upper().startswith(DTSTART_PREFIX))
        if dtstart_line is None:
            raise RecurrenceError("the series rule has no DTSTART")
        anchor = line_values(
            "RDATE" + dtstart_line[len(DTSTART_PREFIX) :],
            dt.datetime(2000, 1, 1, tzinfo=zone) if zone else dt.datetime(2000, 1, 1),
            zone,
        )[0]
        first = next(iter(Rule(anchor, rule_lines, all_day, zone).ruleset()), None)
        if first is None:
            raise RecurrenceError("the rule has no occurrence")
        rule = Rule(first, rule_lines, all_day, zone)
        day_zone = zone_of(self.zone_names[g]) if all_day and self.explicit[g] and self.zone_names[g] else None
        duration = dt.timedelta(microseconds=int(self.duration[g]))
        expected = {
            recurrence_id(o.date() if all_day else o) for o in rule.between(*self._window(g), duration, day_zone)
        }
        self.first_us[g] = _naive_micros(first) if all_day else _to_micros(first)
        return expected

    def _compare(self, candidates: np.ndarray, expected_group: np.ndarray, expected_rid: pa.Array) -> None:
        chosen = np.isin(self.group, candidates)
        got_group = self.group[chosen]
        got_rid = self.rid.filter(pa.array(chosen))
        encoded = pc.dictionary_encode(pa.concat_arrays([got_rid, expected_rid]))
        codes = np.asarray(pc.fill_null(encoded.indices, -1), dtype=np.int64)
        width = len(encoded.dictionary) + 1
        got = _distinct(got_group * width + codes[: len(got_rid)] + 1)
        expected = _distinct(expected_group * width + codes[len(got_rid) :] + 1)
        groups = len(self.keys)
        listed = np.bincount(got // width, minlength=groups)
        ruled = np.bincount(expected // width, minlength=groups)
        both = np.sort(np.concatenate([got, expected]))
        common = np.bincount(both[1:][both[1:] == both[:-1]] // width, minlength=groups)
        missing, extra = (ruled - common)[candidates], (listed - common)[candidates]
        same = (missing == 0) & (extra == 0)
        self.collapses[candidates[same]] = True
        for g, lost, added in zip(
            candidates[~same].tolist(), missing[~same].tolist(), extra[~same].tolist(), strict=True
        ):
            detail = (f"{lost} expected but not listed" if lost else "") + (
                f"{', ' if lost else ''}{added} listed but not in the rule" if added else ""
            )
            self.reason[g] = f"Garoon repeat rule does not reproduce the listed occurrences ({detail}); occurrences kept"  # fmt: skip

    # -- the rows out --------------------------------------------------------------------------

    def table(self) -> pa.Table:
        """Return the groups in order of first appearance: a series and its exceptions, or the occurrences kept."""
        rows = self.rows
        collapses = self.collapses[self.group]
        exception = collapses & self.differs
        kept = ~collapses
        masters = np.flatnonzero(self.collapses)
        picked = np.concatenate([self.template[masters], np.flatnonzero(exception | kept)])
        role = np.concatenate([np.zeros(len(masters), np.int8), np.where(exception, 1, 2)[exception | kept]])
        group = self.group[picked]
        order = np.lexsort((picked, role != 0, group))
        picked, role, group = picked[order], role[order], group[order]
        out = rows.take(pa.array(picked))
        master, kept_rows = role == 0, role == 2
        columns = {name: out[name].combine_chunks() for name in out.column_names}
        none = pa.scalar(None, pa.string())
        columns["kind"] = strings(np.array(["series", "exception", "single"], object)[role])
        columns["source_key"] = pc.if_else(pa.array(master), columns["sync_key"], columns["source_key"])
        columns["sync_key"] = pc.if_else(pa.array(kept_rows), columns["source_key"], columns["sync_key"])
        columns["recurrence_id"] = pc.if_else(pa.array(master), none, columns["recurrence_id"])
        columns["garoon_repeat_id"] = pc.if_else(pa.array(master), none, columns["garoon_repeat_id"])
        rule_lines = _without_dtstart(self.lines)  # a collapsed group's series rule, and an empty list after them
        columns["recurrence"] = rule_lines.take(pa.array(np.where(master, group, len(self.lines))))
        first, duration, all_day = self.first_us[group], self.duration[group], self.all_day[group]
        for name, value, days in (("start", first, False), ("end", first + duration, False),
                                  ("start_date", first, True), ("end_date", first + duration, True)):  # fmt: skip
            use = master & (all_day == days)
            if use.any():
                patch = _from_micros_array(value, days)
                columns[name] = pc.if_else(pa.array(use), patch, columns[name].cast(patch.type))
        reasons = pa.array([self.reason[g] if self.reason[g] else None for g in range(len(self.keys))], pa.string())
        extra = reasons.take(pa.array(np.where(kept_rows, group, 0), mask=~kept_rows))
        columns["reasons"] = _append(columns["reasons"], extra)
        return model.arrow_table(columns, len(picked))


class _SimpleRule(NamedTuple):
    """A rule of the shape Garoon's repeat types give, ready to test days column-wise.

    One RRULE with FREQ DAILY, WEEKLY (BYDAY weekdays) or MONTHLY (BYDAY one nth weekday, or BYMONTHDAY one
    day), INTERVAL 1, an UNTIL, and EXDATE lines; DTSTART in the row's zone (or VALUE=DATE for all-day).
    """

    all_day: bool
    start_day: int  # DTSTART's local day (days since 1970-01-01)
    time_of_day: int  # DTSTART's local wall time, seconds after midnight (0 for all-day)
    until: int  # last allowed: a local day for all-day, a UTC instant (µs) otherwise
    freq: str
    weekdays: int  # bit d set: weekday d (Monday 0) is taken; 0 for DAILY and BYMONTHDAY
    nth: int  # 1-4 or -1 (last) with MONTHLY;BYDAY; 0 otherwise
    month_day: int  # 1-31 or -1 (last) with BYMONTHDAY; 0 otherwise
    excluded: frozenset[int]  # EXDATE values: local days (all-day) or UTC instants (seconds)


def _simple_rule(lines: pa.ListArray, all_day: np.ndarray, zones: pa.Array) -> _Shapes | None:
    """Return the simple rules among the recurrence ``lines`` of series (with each one's ``all_day`` and zone
    name), None when there is none: the other series need the general (dateutil) expansion.

    Rules in the form :func:`repeat_info_rule` writes are read column-wise; a rule with a line in any other form
    is read by :func:`_one_simple_rule`, which accepts exactly the same rules, one at a time.
    """
    if not len(lines):
        return None
    canonical = _CanonicalRules(lines, all_day, zones)
    simple, fields = canonical.ok, canonical.fields
    excluded = [canonical.excluded_rule * EXCLUDED_WIDTH + canonical.excluded_value + EXCLUDED_WIDTH // 2]
    for i in np.flatnonzero(~canonical.ok).tolist():
        one = _one_simple_rule(lines[i].as_py() or [], bool(all_day[i]), zones[i].as_py())
        if one is None:
            continue
        simple[i] = True
        for name, value in zip(_SimpleRule._fields[:-1], one[:-1], strict=True):
            fields[name][i] = FREQUENCIES.index(value) if name == "freq" else value
        excluded.append(np.array([i * EXCLUDED_WIDTH + v + EXCLUDED_WIDTH // 2 for v in one.excluded], np.int64))
    if not simple.any():
        return None
    index = np.flatnonzero(simple)
    position = np.cumsum(simple) - 1  # of each rule among the simple ones
    keys = _distinct(np.concatenate(excluded))  # distinct (rule, EXDATE value) pairs, as the rule's set of them
    rule = keys // EXCLUDED_WIDTH
    keys, rule = keys[simple[rule]], rule[simple[rule]]
    encoded = pc.dictionary_encode(zones.take(pa.array(index)))
    return _Shapes(
        index=index,
        **{name: values[index] for name, values in fields.items()},
        zone=np.asarray(pc.fill_null(encoded.indices, len(encoded.dictionary)), np.int64),
        zone_names=[*encoded.dictionary.to_pylist(), "None"],  # the zone of all-day rules does not matter
        excluded=np.bincount(position[rule], minlength=len(index)),
        excluded_keys=position[rule] * EXCLUDED_WIDTH + keys % EXCLUDED_WIDTH,
    )


#: The lines of a simple rule as :func:`repeat_info_rule` writes them (RE2 syntax: ``\d`` is an ASCII digit).
_CANONICAL_DTSTART = r"^DTSTART;(?:TZID=(?P<zone>[^:;]+):(?P<day>\d{8})T(?P<time>\d{6})|VALUE=DATE:(?P<all_day>\d{8}))$"
_CANONICAL_RRULE = (
    r"^RRULE:FREQ=(?P<freq>DAILY|WEEKLY|MONTHLY)(?:;BYDAY=(?P<byday>[-0-9A-Z,]+))?"
    r"(?:;BYMONTHDAY=(?P<month_day>-1|[1-9]|[12]\d|3[01]))?;UNTIL=(?P<day>\d{8})(?:T(?P<time>\d{6})Z)?$"
)
_CANONICAL_EXDATE = r"^EXDATE;(?:TZID=(?P<zone>[^:;]+):(?P<stamps>\d{8}T\d{6}(?:,\d{8}T\d{6})*)|VALUE=DATE:(?P<days>\d{8}(?:,\d{8})*))$"  # fmt: skip
EXCLUDED_WIDTH = 1 << 40  # (rule, EXDATE day or second) pairs as one integer: seconds fit in 40 bits


class _CanonicalRules:
    """Simple rules read column-wise from lines in canonical form: ``fields`` (as :class:`_SimpleRule`'s, FREQ as
    its index in FREQUENCIES) where ``ok``; the EXDATE values as (``excluded_rule``, ``excluded_value``) pairs.

    A rule is ``ok`` when it has one DTSTART line and one RRULE line, any other line is an EXDATE line, and
    every line is in canonical form with readable dates, times and zones; every other rule is left to
    :func:`_one_simple_rule` (which also refuses a rule whose canonical lines do not make a simple rule).
    """

    def __init__(self, lines: pa.ListArray, all_day: np.ndarray, zones: pa.Array) -> None:
        rules = len(lines)
        values = lines.flatten()
        self.rule = np.asarray(pc.list_parent_indices(lines), np.int64)  # the rule of each line
        kind = _line_kinds(values)[0]
        self.line_ok = np.zeros(len(values), bool)
        self.fields: dict[str, np.ndarray] = {
            name: np.zeros(rules, bool if name == "all_day" else np.int64) for name in _SimpleRule._fields[:-1]
        }
        self.fields["all_day"][:] = all_day
        self.excluded_rule, self.excluded_value = np.zeros(0, np.int64), np.zeros(0, np.int64)
        self._dtstart(values, np.flatnonzero(kind == 1), all_day, zones)
        self._rrule(values, np.flatnonzero(kind == 2), all_day)
        self._exdates(values, np.flatnonzero(kind == 3), all_day)
        count = [np.bincount(self.rule[kind == k], minlength=rules) for k in range(3)]
        self.ok = (count[0] == 0) & (count[1] == 1) & (count[2] == 1)
        self.ok &= np.bincount(self.rule[~self.line_ok], minlength=rules) == 0
        kept = self.ok[self.excluded_rule]
        self.excluded_rule, self.excluded_value = self.excluded_rule[kept], self.excluded_value[kept]

    def _dtstart(self, values: pa.Array, at: np.ndarray, all_day: np.ndarray, zones: pa.Array) -> None:
        parts = pc.extract_regex(values.take(pa.array(at)), _CANONICAL_DTSTART)
        rule = self.rule[at]
        day_text = pc.if_else(pa.array(all_day[rule]), parts.field("all_day"), parts.field("day"))
        day, day_ok = _read_each(day_text, lambda text: _stamp(text)[0])
        seconds, time_ok = _read_each(parts.field("time"), _time_of_day)
        zone = parts.field("zone")
        zone_ok = is_true(pc.equal(zone, zones.take(pa.array(rule)))) & map_unique(zone, _known_zone).astype(bool)
        self.line_ok[at] = is_true(parts.is_valid()) & day_ok & np.where(all_day[rule], True, time_ok & zone_ok)
        self.fields["start_day"][rule] = day
        self.fields["time_of_day"][rule] = np.where(all_day[rule], 0, seconds)

    def _rrule(self, values: pa.Array, at: np.ndarray, all_day: np.ndarray) -> None:
        parts = pc.extract_regex(values.take(pa.array(at)), _CANONICAL_RRULE)
        rule = self.rule[at]
        timed = ~all_day[rule]
        day, day_ok = _read_each(parts.field("day"), lambda text: _stamp(text)[0])
        seconds, time_ok = _read_each(parts.field("time"), _time_of_day)
        freq = map_unique(parts.field("freq"), lambda f: FREQUENCIES.index(f) if f in FREQUENCIES else -1)
        encoded = pc.dictionary_encode(parts.field("byday"))
        days = np.array([_byday_shape(text) for text in encoded.dictionary.to_pylist()] + [(-1, 0, 0)], np.int64)
        count, weekdays, nth = days[np.asarray(pc.fill_null(encoded.indices, len(days) - 1), np.int64)].T
        month_day = map_unique(parts.field("month_day"), lambda text: int(text) if text else 0).astype(np.int64)
        # The shapes _rule_shape accepts (count 0: no BYDAY; nth -2: BYDAY days of several nths).
        daily = (count == 0) & (month_day == 0)
        weekly = (count > 0) & (nth == 0) & (month_day == 0)
        monthly = ((count == 1) & (nth != 0) & (month_day == 0)) | ((count == 0) & (month_day != 0))
        shaped = np.select([freq == 0, freq == 1, freq == 2], [daily, weekly, monthly], False)
        self.line_ok[at] = is_true(parts.is_valid()) & shaped & day_ok & (~timed | time_ok)
        self.fields["until"][rule] = np.where(timed, (day * 86_400 + seconds) * US, day)
        self.fields["freq"][rule] = freq
        self.fields["weekdays"][rule] = weekdays
        self.fields["nth"][rule] = nth
        self.fields["month_day"][rule] = month_day

    def _exdates(self, values: pa.Array, at: np.ndarray, all_day: np.ndarray) -> None:
        parts = pc.extract_regex(values.take(pa.array(at)), _CANONICAL_EXDATE)
        day_line = all_day[self.rule[at]]
        stamps = pc.if_else(pa.array(day_line), parts.field("days"), parts.field("stamps"))
        zone = parts.field("zone")
        known = map_unique(zone, _known_zone).astype(bool)
        line_ok = is_true(parts.is_valid()) & is_true(pc.not_equal(stamps, "")) & (day_line | known)
        lists = pc.split_pattern(stamps, ",")
        line = np.asarray(pc.list_parent_indices(lists), np.int64)  # of each value, among ``at``
        each = lists.flatten()
        day, day_ok = _read_each(pc.utf8_slice_codeunits(each, 0, 8), lambda text: _stamp(text)[0])
        seconds, time_ok = _read_each(pc.utf8_slice_codeunits(each, 9, 15), _time_of_day)
        value_ok = day_ok & (day_line[line] | time_ok) & line_ok[line]
        line_ok &= np.bincount(line[~value_ok], minlength=len(at)) == 0
        self.line_ok[at] = line_ok
        value = day.copy()
        timed = np.flatnonzero(value_ok & ~day_line[line])
        if len(timed):  # a wall time in the line's zone, as an instant (UTC seconds)
            encoded = pc.dictionary_encode(zone.take(pa.array(line[timed])))
            value[timed] = localize_seconds(
                day[timed] * 86_400 + seconds[timed],
                np.asarray(encoded.indices, np.int64),
                encoded.dictionary.to_pylist(),
            )
        self.excluded_rule = self.rule[at][line[value_ok]]
        self.excluded_value = value[value_ok]


def _line_kinds(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return, per recurrence line, (1 DTSTART, 2 RRULE, 3 EXDATE or 0 by the head :func:`_one_simple_rule`
    reads; whether ``line.upper()`` starts with DTSTART), from each distinct head (seven characters)."""
    encoded = pc.dictionary_encode(pc.utf8_slice_codeunits(values, 0, 7))
    heads = [head.upper() for head in encoded.dictionary.to_pylist()]
    kinds = [
        1 if head == DTSTART_PREFIX else 2 if head.startswith("RRULE:") else 3 if head.startswith("EXDATE") else 0
        for head in heads
    ]
    codes = np.asarray(pc.fill_null(encoded.indices, len(heads)), np.int64)
    dtstart = np.array([head.startswith(DTSTART_PREFIX) for head in heads] + [False], bool)
    return np.array([*kinds, 0], np.int64)[codes], dtstart[codes]


def _without_dtstart(lines: pa.ListArray) -> pa.ListArray:
    """Return ``lines`` without their DTSTART lines (as :meth:`_Collapse._expand_general` drops them), and an
    empty list after the last (null lists become empty)."""
    values = lines.flatten()
    keep = ~_line_kinds(values)[1]
    rule = np.asarray(pc.list_parent_indices(lines), np.int64)
    counts = np.bincount(rule[keep], minlength=len(lines))
    offsets = np.concatenate([[0], np.cumsum(counts), [counts.sum()]])
    return list_array(offsets, values.filter(pa.array(keep)))


def _read_each(texts: pa.Array, read: Callable[[str], int]) -> tuple[np.ndarray, np.ndarray]:
    """Return (``read(text)``, whether it read without ValueError) for each text, reading each distinct text
    once (a null is not read)."""
    encoded = pc.dictionary_encode(texts)
    out, ok = [], []
    for text in encoded.dictionary.to_pylist():
        try:
            out.append(read(text))
            ok.append(True)
        except ValueError:
            out.append(0)
            ok.append(False)
    codes = np.asarray(pc.fill_null(encoded.indices, len(out)), np.int64)
    return np.array([*out, 0], np.int64)[codes], np.array([*ok, False], bool)[codes]


def _time_of_day(text: str) -> int:
    """Return the seconds after midnight of ``HHMMSS`` as :func:`_stamp` reads them."""
    return _stamp(f"19700101T{text}")[1]


def _known_zone(name: Any) -> bool:
    return _zone_or_none(name) is not None


def _byday_shape(byday: str | None) -> tuple[int, int, int]:
    """Return (count, weekdays, nth) of a BYDAY value as :func:`_rule_shape` reads it: count 0 for none, -1 for
    a day it does not know; nth the one nth of its days (-2 when they differ)."""
    if not byday:
        return 0, 0, 0
    days = [_BYDAY.get(d) for d in byday.split(",")]
    if None in days:
        return -1, 0, 0
    nths = {n for n, _ in days}  # type: ignore[misc]
    return len(days), sum(1 << d for _, d in days), nths.pop() if len(nths) == 1 else -2  # type: ignore[misc]


def _one_simple_rule(lines: Sequence[str], all_day: bool, zone_name: Any) -> _SimpleRule | None:
    """Return the simple rule of ``lines``, or None when they need the general (dateutil) expansion."""
    if not all_day and not (isinstance(zone_name, str) and zone_name):
        return None
    dtstart, rule, exdates = None, None, []
    for line in lines:
        head = line[:7].upper()
        if head == DTSTART_PREFIX and dtstart is None:
            dtstart = line
        elif head.startswith("RRULE:") and rule is None:
            rule = line
        elif head.startswith("EXDATE"):
            exdates.append(line)
        else:
            return None
    if dtstart is None or rule is None:
        return None
    try:
        start = (_SIMPLE_DTSTART_DAY if all_day else _SIMPLE_DTSTART).fullmatch(dtstart)
        if start is None or (not all_day and start["zone"] != zone_name):
            return None
        if not all_day:
            zone_of(zone_name)  # a zone this machine knows, or the general expansion says which is unknown
        day, seconds = _stamp(start["value"])
        parts = rule_parts(rule)
        shape = _rule_shape(parts, all_day)
        if shape is None:
            return None
        excluded: set[int] = set()
        for line in exdates:
            name, _, values = line.partition(":")
            params = dict(p.split("=", 1) for p in name.split(";")[1:] if "=" in p)
            for value in filter(None, (v.strip() for v in values.split(","))):
                if all_day != (params.get("VALUE") == "DATE") or len(value) != (8 if all_day else 15):
                    return None
                if all_day:
                    excluded.add(_stamp(value)[0])
                else:
                    local = dt.datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=zone_of(params["TZID"]))
                    excluded.add(_to_micros(local) // US)
    except (ValueError, KeyError, RecurrenceError):
        return None
    return _SimpleRule(all_day, day, 0 if all_day else seconds, *shape, frozenset(excluded))


_SIMPLE_DTSTART = re.compile(r"DTSTART;TZID=(?P<zone>[^:;]+):(?P<value>\d{8}T\d{6})")
_SIMPLE_DTSTART_DAY = re.compile(r"DTSTART;VALUE=DATE:(?P<value>\d{8})")
_MONTH_DAY = re.compile(r"-1|[1-9]|[12]\d|3[01]")
#: BYDAY values of a simple rule: ``MO`` (weekly) or ``1MO``..``4MO``, ``-1MO`` (monthly) -> (nth, weekday).
_BYDAY = {f"{n}{d}": (int(n or 0), i) for i, d in enumerate(RFC_DAYS) for n in ("", "1", "2", "3", "4", "-1")}
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _rule_shape(parts: dict[str, str], all_day: bool) -> tuple[int, str, int, int, int] | None:
    """Return (until, freq, weekdays, nth, month day) of RRULE parts of a simple rule, None for another rule."""
    if set(parts) - {"FREQ", "BYDAY", "BYMONTHDAY", "UNTIL", "INTERVAL", "WKST"} or parts.get("INTERVAL", "1") != "1":
        return None
    freq, byday, bymonthday, until_raw = parts["FREQ"], parts.get("BYDAY"), parts.get("BYMONTHDAY"), parts.get("UNTIL")
    if until_raw is None:
        return None
    if all_day:
        until = _stamp(until_raw[:8])[0]
    elif until_raw.endswith("Z") and len(until_raw) == 16:
        day, seconds = _stamp(until_raw[:15])
        until = (day * 86_400 + seconds) * US
    else:
        return None
    days = [_BYDAY.get(d) for d in byday.split(",")] if byday else []
    if None in days:
        return None
    weekdays = sum(1 << d for _, d in days)  # type: ignore[misc]
    nths = {n for n, _ in days}  # type: ignore[misc]
    if freq == "DAILY" and not byday and not bymonthday:
        return until, freq, 0, 0, 0
    if freq == "WEEKLY" and days and nths == {0} and not bymonthday:
        return until, freq, weekdays, 0, 0
    if freq == "MONTHLY" and len(days) == 1 and nths != {0} and not bymonthday:
        return until, freq, weekdays, next(iter(nths)), 0
    if freq == "MONTHLY" and not byday and bymonthday and _MONTH_DAY.fullmatch(bymonthday):
        return until, freq, 0, 0, int(bymonthday)
    return None


def _stamp(value: str) -> tuple[int, int]:
    """Return (day since 1970-01-01, seconds after midnight) of ``YYYYMMDD`` or ``YYYYMMDDTHHMMSS``."""
    if not value.isascii() or len(value) not in (8, 15) or not value[:8].isdigit():
        raise ValueError(f"{value!r} is not a date or date-time")
    day = dt.date(int(value[:4]), int(value[4:6]), int(value[6:8])).toordinal() - EPOCH_ORDINAL
    if len(value) == 8:
        return day, 0
    if value[8] != "T" or not value[9:].isdigit():
        raise ValueError(f"{value!r} is not a date-time")
    hours, minutes, seconds = int(value[9:11]), int(value[11:13]), int(value[13:15])
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"{value!r} is not a time of day")
    return day, hours * 3600 + minutes * 60 + seconds


FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY")


def _grid(first_day: np.ndarray, span: np.ndarray, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Return (rule index, day) for ``span[k]`` days ``step`` days apart from ``first_day[k]``, for every ``k``."""
    k = np.repeat(np.arange(len(span)), span)
    starts = np.repeat(np.cumsum(span) - span, span)
    return k, first_day[k] + (np.arange(len(k)) - starts) * step


def _candidate_days(shapes: _Shapes, first_day: np.ndarray, span: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (rule index, day) of the days among ``span[k]`` days from ``first_day[k]`` that rule ``k`` may take,
    in no particular order: every day, or only the weekdays of its BYDAY (a week's days, or an nth weekday)."""
    every = np.flatnonzero(shapes.weekdays == 0)
    k, day = _grid(first_day[every], span[every])
    rule, weekday = np.nonzero((shapes.weekdays[:, None] >> np.arange(7)) & 1)
    start, end = first_day[rule], first_day[rule] + span[rule]
    first = start + (weekday - (start + 3)) % 7  # 1970-01-01 was a Thursday; Monday is 0
    k7, day7 = _grid(first, np.maximum((end - first + 6) // 7, 0), step=7)
    return np.concatenate([every[k], rule[k7]]), np.concatenate([day, day7])


@dataclass
class _Shapes:
    """The parameters of simple rules as arrays, one value per rule (see :class:`_SimpleRule`)."""

    index: np.ndarray  # the position of each rule among the rules read
    all_day: np.ndarray
    start_day: np.ndarray
    time_of_day: np.ndarray
    until: np.ndarray
    freq: np.ndarray  # the index in FREQUENCIES
    weekdays: np.ndarray
    nth: np.ndarray
    month_day: np.ndarray
    zone: np.ndarray  # the index in zone_names
    zone_names: list[str]
    excluded: np.ndarray  # how many distinct EXDATE values
    excluded_keys: np.ndarray  # (rule, value) pairs: rule * EXCLUDED_WIDTH + value + EXCLUDED_WIDTH // 2


def _matches(shapes: _Shapes, k: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (the candidates taken, their local start µs, their UTC start µs) of candidate days ``day`` of
    rules ``k`` (the start is midnight of the day, as if UTC, for all-day rules).

    A day is taken when the rule's FREQ/BYDAY/BYMONTHDAY take it, it is not before DTSTART, not after UNTIL,
    and not an EXDATE. Local wall times become instants in the rule's zone as Python does (``fold=0``).
    """
    freq = shapes.freq[k]
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    on_weekday = (shapes.weekdays[k] >> weekday) & 1 == 1
    taken = (day >= shapes.start_day[k]) & (
        (freq == FREQUENCIES.index("DAILY")) | ((freq == FREQUENCIES.index("WEEKLY")) & on_weekday)
    )
    monthly = np.flatnonzero((freq == FREQUENCIES.index("MONTHLY")) & (day >= shapes.start_day[k]))
    if len(monthly):
        fields = civil(day[monthly] * 86_400)
        d, month, year = fields["d"], fields["m"], fields["Y"]
        leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
        length = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[month] + ((month == 2) & leap)
        nth, month_day = shapes.nth[k[monthly]], shapes.month_day[k[monthly]]
        taken[monthly] = np.where(
            nth != 0,
            on_weekday[monthly] & (((nth > 0) & ((d - 1) // 7 == nth - 1)) | ((nth == -1) & (d + 7 > length))),
            ((month_day > 0) & (d == month_day)) | ((month_day == -1) & (d == length)),
        )
    cells = np.flatnonzero(taken)
    k, day = k[cells], day[cells]
    local = day * 86_400 + shapes.time_of_day[k]
    instant = local.copy()
    timed = ~shapes.all_day[k]
    if timed.any():
        instant[timed] = localize_seconds(local[timed], shapes.zone[k[timed]], shapes.zone_names)
    keep = np.where(shapes.all_day[k], day <= shapes.until[k], instant * US <= shapes.until[k])
    if len(shapes.excluded_keys):
        width = EXCLUDED_WIDTH
        keep &= ~np.isin(k * width + np.where(shapes.all_day[k], day, instant) + width // 2, shapes.excluded_keys)
    return cells[keep], local[keep] * US, instant[keep] * US


def _first_matches(shapes: _Shapes) -> tuple[np.ndarray, np.ndarray]:
    """Return (start µs, found) of each rule's first occurrence, looked for a few periods from DTSTART.

    The start is the UTC instant for a timed rule, midnight of the day (as UTC) for an all-day one. Days enough
    for the next occurrence past every EXDATE are tried: 1 per day, 7 per week, 63 per month (a 31st can be
    two months away).
    """
    per_period = np.array([1, 7, 63], np.int64)[shapes.freq]
    k, day = _candidate_days(shapes, shapes.start_day, per_period * (shapes.excluded + 1) + 1)
    cells, local_us, instant_us = _matches(shapes, k, day)
    found = np.zeros(len(shapes.freq), bool)
    first_us = np.zeros(len(shapes.freq), np.int64)
    if len(cells):
        order = np.lexsort((day[cells], k[cells]))  # by rule, then day
        rules, first = np.unique(k[cells][order], return_index=True)
        positions = order[first]
        found[rules] = True
        first_us[rules] = np.where(shapes.all_day[rules], local_us[positions], instant_us[positions])
    return first_us, found


def localize_seconds(local: np.ndarray, zone: np.ndarray, zone_names: Sequence[str]) -> np.ndarray:
    """Return UTC seconds of naive wall-time seconds ``local`` in zone ``zone_names[zone[i]]`` of each value.

    Python's rule (``fold=0``, as dateutil and ``datetime.replace(tzinfo=...)`` use it): an ambiguous time takes
    the earlier instant, one in a gap the offset before the gap. Arrow does each zone at once; a zone with a
    gap among its times, one Arrow's database lacks, or a time outside ``ARROW_ZONE_RANGE`` is done with
    ``zoneinfo`` one value at a time.
    """
    out = np.zeros(len(local), np.int64)
    inside = (local >= ARROW_ZONE_RANGE[0] + 86_400) & (local < ARROW_ZONE_RANGE[1] - 86_400)
    for code in np.unique(zone):
        rows = np.flatnonzero(zone == code)
        name = zone_names[int(code)]
        fast, slow = rows[inside[rows]], rows[~inside[rows]]
        try:
            part = pa.array(local[fast], pa.timestamp("s"))
            aware = pc.assume_timezone(part, timezone=name, ambiguous="earliest", nonexistent="raise")
            out[fast] = np.asarray(aware.cast(pa.int64()), np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowKeyError):
            slow = rows
        if len(slow):
            tz = zone_of(name)
            out[slow] = [
                int((EPOCH + dt.timedelta(seconds=int(v))).replace(tzinfo=tz).timestamp()) for v in local[slow]
            ]
    return out


def localize_wall(local: pa.Array, zones: pa.Array, chosen: np.ndarray) -> pa.Array:
    """Return UTC instants (seconds) of naive wall times in each row's zone for the ``chosen`` rows, else null
    (Python's ``fold=0`` rule, see :func:`localize_seconds`)."""
    encoded = pc.dictionary_encode(zones)
    codes = np.asarray(pc.fill_null(encoded.indices, -1), np.int64)
    chosen = chosen & (codes >= 0) & is_true(pc.is_valid(local))
    seconds = np.asarray(pc.fill_null(local.cast(pa.int64()), 0), np.int64)
    out = np.zeros(len(local), np.int64)
    out[chosen] = localize_seconds(seconds[chosen], codes[chosen], encoded.dictionary.to_pylist())
    return pa.array(out, pa.timestamp("s", tz="UTC"), mask=~chosen)


def _content_codes(rows: pa.Table) -> np.ndarray:
    """Return one integer per row, equal exactly when the rows' OCCURRENCE_CONTENT values are equal."""
    return combine_codes([
        np.asarray(pc.fill_null(pc.dictionary_encode(_as_text(rows[name].combine_chunks())).indices, -1), np.int64)
        for name in OCCURRENCE_CONTENT
    ])  # fmt: skip


def _distinct(values: np.ndarray) -> np.ndarray:
    """Return the distinct values, sorted (``np.unique``, which hashes, is slower for a few thousand integers)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


_NULL = "\x00"  # stands for a null value inside a row's text (never part of a calendar text)


def _as_text(column: pa.Array) -> pa.Array:
    """Return each value as text such that equal texts mean equal values (nested values flattened)."""
    kind = column.type
    if pa.types.is_string(kind):
        return column
    if pa.types.is_struct(kind):
        fields = [pc.fill_null(_as_text(f), _NULL) for f in column.flatten()]
        joined = pc.binary_join_element_wise(*fields, "\x1f")
        return pc.if_else(pc.is_valid(column), joined, pa.scalar(None, pa.string()))
    if pa.types.is_list(kind):
        values = pc.fill_null(_as_text(column.flatten()), _NULL)
        lengths = np.asarray(pc.fill_null(pc.list_value_length(column), 0), np.int64)
        lists = pa.ListArray.from_arrays(
            pa.array(np.concatenate([[0], np.cumsum(lengths)]), pa.int32()), values, mask=pc.is_null(column)
        )
        return pc.binary_join(lists, "\x1e")
    return column.cast(pa.string())


def _append(lists: pa.Array, extra: pa.Array) -> pa.Array:
    """Return list<string> ``lists`` with ``extra`` (null: nothing) appended to each row's list."""
    if not is_true(pc.is_valid(extra)).any():
        return lists
    values = pa.concat_arrays([lists.flatten(), extra.drop_null()])
    lengths = np.asarray(pc.fill_null(pc.list_value_length(lists), 0), np.int64)
    added = is_true(pc.is_valid(extra)).astype(np.int64)
    n = len(lengths)
    position = np.concatenate([np.repeat(np.arange(n), lengths), np.flatnonzero(added)])
    rank = np.concatenate([np.zeros(int(lengths.sum()), np.int64), np.ones(int(added.sum()), np.int64)])
    order = np.lexsort((rank, position))
    return list_array(np.concatenate([[0], np.cumsum(lengths + added)]), values.take(pa.array(order)))


def _micros(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Return timestamps (any unit) or dates as µs since the epoch (0 for null)."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_date32(values.type):
        return np.asarray(pc.fill_null(values.cast(pa.int32()), 0), dtype=np.int64) * DAY_US
    scale = {"s": US, "ms": 1_000, "us": 1, "ns": 1}[values.type.unit]
    raw = np.asarray(pc.fill_null(values.cast(pa.int64()), 0), dtype=np.int64)
    return raw // 1_000 if values.type.unit == "ns" else raw * scale


def _to_micros(moment: dt.datetime) -> int:
    """Return an aware datetime as µs since the epoch."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def _naive_micros(moment: dt.datetime) -> int:
    """Return a wall time (its zone ignored) as µs since the epoch, as if it were UTC."""
    return _to_micros(moment.replace(tzinfo=dt.UTC))


def _from_micros(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=value)


def _from_micros_array(values: np.ndarray, days: bool) -> pa.Array:
    if days:
        return pa.array(np.floor_divide(values, DAY_US).astype(np.int32), pa.int32()).cast(pa.date32())
    return pa.array(values, model.TIMESTAMP)


def _days(moment: dt.datetime) -> int:
    return (moment.date() - dt.date(1970, 1, 1)).days


def _zone_or_none(name: Any) -> zoneinfo.ZoneInfo | None:
    try:
        return zone_of(name) if isinstance(name, str) and name else None
    except RecurrenceError:
        return None


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
