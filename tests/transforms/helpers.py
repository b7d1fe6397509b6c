"""Shared builders and independent oracles for the transform tests.

Nothing here calls the product's recurrence code: occurrence sets are computed with dateutil's own RFC 5545
parser (``rrulestr``), so a test that compares them with what the product wrote checks the product against an
implementation it does not share.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from dateutil import rrule

from calendar_etl import model

UTC = dt.UTC
PERSON_FIELDS = ("email", "name", "garoon_id", "garoon_code", "lineworks_id", "type", "partstat", "optional")
MAX_OCCURRENCES = 2000  # every generated rule is finite (COUNT or UNTIL); this only guards against a runaway


def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def person(**fields: Any) -> dict[str, Any]:
    """Return a canonical PERSON with every field present (``type`` USER, ``optional`` False by default)."""
    out: dict[str, Any] = dict.fromkeys(PERSON_FIELDS)
    out.update(type="USER", optional=False)
    out.update(fields)
    return out


def frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Return a canonical frame of ``rows`` (missing columns take the schema default); it must validate."""
    columns: dict[str, list[Any]] = {}
    for name in model.COLUMNS:
        if any(name in r for r in rows):
            default = [] if name in model.LIST_COLUMNS else model.DEFAULTS.get(name)
            columns[name] = [r.get(name, default) for r in rows]
    out = model.from_columns(columns, len(rows))
    model.check(out)
    return out


def records(frame_: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the rows of a canonical frame as plain Python values (None for nulls, lists for lists)."""
    return [{k: _plain(v) for k, v in r.items()} for r in model.to_arrow(frame_).to_pylist()]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # Arrow gives UTC timestamps back naive only when tz is lost
    return value


# ---------------------------------------------------------------------- wall time


def wall_time_safe(instant: dt.datetime, zone_name: str) -> bool:
    """Return True when ``instant`` is the instant its own local wall time in ``zone_name`` means.

    A local time plus a zone (LINE WORKS' and iCalendar's TZID form) cannot tell the two instants of a
    repeated hour apart, and RFC 5545 takes the first: instants in the second half of a fold are not
    expressible that way, whatever the converter does.
    """
    tz = zone(zone_name)
    local = instant.astimezone(tz).replace(tzinfo=None)
    return local.replace(tzinfo=tz).astimezone(UTC) == instant.astimezone(UTC)


def local_exists(local: dt.datetime, zone_name: str) -> bool:
    """Return True when the naive wall time ``local`` exists in ``zone_name`` (not in a DST gap)."""
    tz = zone(zone_name)
    aware = local.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local


# ---------------------------------------------------------------------- the oracle: dateutil's RFC 5545 parser


def expand(
    lines: Iterable[str], start: dt.datetime | dt.date, zone_name: str | None, limit: int = MAX_OCCURRENCES
) -> list[dt.datetime | dt.date]:
    """Return the occurrence starts of a series: UTC instants (timed) or dates (all-day).

    ``start`` is the series' DTSTART (an aware instant shown in ``zone_name``, or a date); ``lines`` its
    RRULE/EXRULE/RDATE/EXDATE lines (any DTSTART line in them is ignored). dateutil parses every line itself.
    """
    body = [line for line in lines if not line.upper().startswith("DTSTART")]
    if isinstance(start, dt.datetime):
        local = start.astimezone(zone(zone_name or "UTC"))
        head = f"DTSTART;TZID={zone_name or 'UTC'}:{local:%Y%m%dT%H%M%S}"
    else:
        head = f"DTSTART;VALUE=DATE:{start:%Y%m%d}"
    rules = rrule.rrulestr("\n".join([head, *body]), forceset=True, tzids=zone)
    out: list[dt.datetime | dt.date] = []
    for occurrence in itertools.islice(rules, limit):
        out.append(occurrence.astimezone(UTC) if isinstance(start, dt.datetime) else occurrence.date())
    assert len(out) < limit, "the rule did not end"
    return out


def rid_of(value: dt.datetime | dt.date) -> str:
    """Return the canonical recurrence id (``YYYYMMDDTHHMMSSZ`` or ``YYYYMMDD``) of an occurrence start."""
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


# ---------------------------------------------------------------------- comparing rows


def text(value: Any) -> str:
    """Return text with a missing value read as empty (targets write nothing for an empty text)."""
    return "" if value is None else str(value)


_DURATION = re.compile(r"^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def duration(value: str) -> dt.timedelta:
    """Return the timedelta of an RFC 5545 duration (``-PT15M``, ``P1W``, ``-P1DT2H``)."""
    match = _DURATION.match(value)
    assert match, f"{value!r} is not an RFC 5545 duration"
    sign, weeks, days, hours, minutes, seconds = match.groups()
    total = dt.timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )
    return -total if sign == "-" else total


def when(record: dict[str, Any]) -> tuple[Any, ...]:
    """Return the time fields of a row: instants (UTC) for timed rows, dates for all-day rows."""
    if record["all_day"]:
        return (True, record["start_date"], record["end_date"])
    return (False, record["start"].astimezone(UTC), record["end"].astimezone(UTC))


def series_start(record: dict[str, Any]) -> dt.datetime | dt.date:
    return record["start_date"] if record["all_day"] else record["start"].astimezone(UTC)


def effective_occurrences(group: Sequence[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Return {recurrence id: (start, end, summary)} of what a series group shows once exceptions apply.

    The master's rule gives the occurrences; a CANCELLED exception removes one, another exception replaces one.
    """
    (master,) = [r for r in group if r["kind"] == "series"]
    length = master["end_date"] - master["start_date"] if master["all_day"] else master["end"] - master["start"]
    out: dict[str, tuple[Any, ...]] = {}
    for start in expand(master["recurrence"], series_start(master), master["timezone"]):
        out[rid_of(start)] = (start, start + length, master["summary"])
    for row in group:
        if row["kind"] != "exception":
            continue
        if row["status"] == "CANCELLED":
            out.pop(row["recurrence_id"], None)
        else:
            out[row["recurrence_id"]] = (*when(row)[1:], row["summary"])
    return out
