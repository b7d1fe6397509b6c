"""Date and time parsing shared by the emulators (strict: a bad value raises ValueError)."""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo

RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
LOCAL_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")  # LINE WORKS: seconds required
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@functools.cache
def iana_zones() -> frozenset[str]:
    """Return every IANA zone name this machine knows (tzdata)."""
    return frozenset(zoneinfo.available_timezones())


def zone(name: str) -> zoneinfo.ZoneInfo:
    """Return the zone called ``name``; ValueError when it is not an IANA zone."""
    if not isinstance(name, str) or name not in iana_zones():
        raise ValueError(f"unknown time zone {name!r}")
    return zoneinfo.ZoneInfo(name)


def parse_rfc3339(value: object) -> dt.datetime:
    """Return the aware instant of an RFC 3339 string (an offset or ``Z`` is required)."""
    if not isinstance(value, str) or not RFC3339_RE.match(value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time with an offset")
    instant = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    try:  # room for conversion into any zone, and for a day either side
        (instant - dt.timedelta(days=2)).astimezone(dt.UTC)
        (instant + dt.timedelta(days=2)).astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError(f"{value!r} is out of the supported date range") from exc
    return instant


def parse_local(value: object) -> dt.datetime:
    """Return the naive datetime of ``YYYY-MM-DDTHH:mm:ss`` (seconds required, no offset)."""
    if not isinstance(value, str) or not LOCAL_DATETIME_RE.match(value):
        raise ValueError(f"{value!r} is not YYYY-MM-DDThh:mm:ss")
    return dt.datetime.fromisoformat(value)


def parse_date(value: object) -> dt.date:
    """Return the date of ``YYYY-MM-DD``."""
    if not isinstance(value, str) or not DATE_RE.match(value):
        raise ValueError(f"{value!r} is not YYYY-MM-DD")
    return dt.date.fromisoformat(value)


def format_rfc3339(instant: dt.datetime, tz: dt.tzinfo) -> str:
    """Return ``instant`` as RFC 3339 with the offset it has in ``tz`` (seconds precision)."""
    return instant.astimezone(tz).replace(microsecond=0).isoformat()


def utc_z(instant: dt.datetime) -> str:
    """Return ``instant`` as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
