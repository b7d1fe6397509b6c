"""Extraction: page through a source and stream canonical rows (and per-item errors) into a run's files.

Each function takes a hook (or a URL), a window and a :class:`~calendar_etl.storage.CanonicalWriter`, and
returns what it read. No Airflow context here: the operators wire these to a run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pandas as pd
import requests

from calendar_etl import model
from calendar_etl.isolation import convert_apart
from calendar_etl.storage import CanonicalWriter, storage_path
from calendar_etl.transforms import recurrence
from calendar_etl.transforms.garoon import garoon_to_canonical
from calendar_etl.transforms.ics import MAX_ICS_BYTES, ics_to_canonical
from calendar_etl.transforms.lineworks import lineworks_to_canonical

if TYPE_CHECKING:
    from calendar_etl.hooks.garoon import GaroonHook
    from calendar_etl.hooks.lineworks import LineWorksHook

log = logging.getLogger(__name__)

PAGE_ROWS = 5000  # canonical rows buffered before a Parquet row group is written
SERIES_HORIZON = dt.timedelta(days=366)  # how far outside the window a repeating series is read to see it whole
ICS_URL_TIMEOUT_S = 60
ICS_URL_SCHEMES = ("http", "https")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Extracted:
    """What an extraction read: rows written, items read, per-item errors, and the people and rooms it saw."""

    rows: int = 0
    items: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    scope: list[str] | None = None  # identities of the chosen users when the run was limited to some
    facilities: list[dict[str, Any]] = field(default_factory=list)


def _garoon_key(item: dict[str, Any]) -> str:
    return f"garoon:{item.get('id')}" + (f":{item['repeatId']}" if item.get("repeatId") else "")


def _flush(writer: CanonicalWriter, frames: list[pd.DataFrame]) -> None:
    if frames:
        writer.write(model.concat(frames))
        frames.clear()


# ---------------------------------------------------------------------- Garoon


def extract_garoon(
    hook: GaroonHook,
    window: tuple[dt.datetime, dt.datetime],
    writer: CanonicalWriter,
    *,
    users: Sequence[str] = (),
    default_zone: str = "Asia/Tokyo",
) -> Extracted:
    """Read every event of the chosen Garoon users (default: all) overlapping ``window`` into ``writer``.

    Garoon lists a user's events, so each user's schedule is listed and items are de-duplicated on
    (``id``, ``repeatId``). Occurrences of repeating events are kept back and, for series that run past the
    window, listed again over their whole period (up to a year either side) so that the collapse sees every
    edited occurrence; then each series is collapsed into one LINE WORKS-shaped series.
    """
    result = Extracted()
    directory = list(hook.iter_users())
    result.users = directory
    result.facilities = list(hook.iter_facilities())
    wanted = {u.lower() for u in users}
    chosen = [
        u for u in directory if not wanted or u["code"].lower() in wanted or (u.get("email") or "").lower() in wanted
    ]
    if wanted and not chosen:
        raise ValueError(f"none of the users {sorted(wanted)} exists in Garoon")
    if wanted:
        result.scope = sorted({str(v).lower() for u in chosen for v in (u.get("code"), u.get("email")) if v})
    seen: set[tuple[str, str | None]] = set()
    occurrences: dict[str, list[dict[str, Any]]] = {}
    periods: dict[str, tuple[dt.date, dt.date]] = {}
    involved: dict[str, set[str]] = {}
    pending: list[pd.DataFrame] = []
    buffered = 0
    for user in chosen:
        batch: list[dict[str, Any]] = []
        for item in hook.iter_events(*window, target=str(user["id"]), target_type="user"):
            key = (str(item.get("id")), item.get("repeatId"))
            if key in seen:
                continue
            seen.add(key)
            result.items += 1
            if item.get("repeatId") and isinstance(item.get("repeatInfo"), dict):
                occurrences.setdefault(key[0], []).append(item)
                period = item["repeatInfo"].get("period") or {}
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    periods[key[0]] = (dt.date.fromisoformat(period["start"]), dt.date.fromisoformat(period["end"]))
                involved.setdefault(key[0], set()).update(
                    str(a["id"])
                    for a in item.get("attendees") or []
                    if isinstance(a, dict) and a.get("type", "USER") == "USER" and a.get("id")
                )
                involved[key[0]].add(str(user["id"]))
            else:
                batch.append(item)
        converted = convert_apart(
            lambda some: garoon_to_canonical(some, default_zone=default_zone, collapse=False),
            batch,
            lambda: [(_garoon_key(item), [item]) for item in batch],  # noqa: B023 (called at once)
            model.concat,
        )
        result.errors.extend(converted.errors.itertuples(index=False, name=None))
        pending.append(converted.events)
        buffered += len(converted.events)
        if buffered >= PAGE_ROWS:
            _flush(writer, pending)
            buffered = 0
    _flush(writer, pending)
    listed = _complete_series(hook, window, occurrences, periods, involved, seen, result)
    converted = convert_apart(
        lambda some: garoon_to_canonical(some, default_zone=default_zone, collapse=True, listed=listed),
        [item for group in occurrences.values() for item in group],
        lambda: [(f"garoon:{event_id}", group) for event_id, group in occurrences.items()],  # a series whole
        model.concat,
    )
    result.errors.extend(converted.errors.itertuples(index=False, name=None))
    writer.write(converted.events)
    result.rows = writer.rows
    return result


def _complete_series(
    hook: GaroonHook,
    window: tuple[dt.datetime, dt.datetime],
    occurrences: dict[str, list[dict[str, Any]]],
    periods: dict[str, tuple[dt.date, dt.date]],
    involved: dict[str, set[str]],
    seen: set[tuple[str, str | None]],
    result: Extracted,
) -> dict[str, recurrence.Listed]:
    """List the rest of each touched series (its period, clipped to the horizon); return the range per series."""
    listed: dict[str, recurrence.Listed] = {}
    extra_ranges: dict[str, recurrence.Listed] = {}
    for event_id, (first, last) in periods.items():
        begin = max(dt.datetime.combine(first, dt.time(), dt.UTC) - dt.timedelta(days=1), window[0] - SERIES_HORIZON)
        finish = min(dt.datetime.combine(last, dt.time(), dt.UTC) + dt.timedelta(days=2), window[1] + SERIES_HORIZON)
        span = (min(begin, window[0]), max(finish, window[1]))
        listed[f"garoon:{event_id}"] = span
        if span[0] < window[0] or span[1] > window[1]:
            extra_ranges[event_id] = span
    by_user: dict[str, list[str]] = {}
    for event_id in extra_ranges:
        user = sorted(involved.get(event_id) or [])[:1]
        for uid in user:
            by_user.setdefault(uid, []).append(event_id)
    for uid, ids in by_user.items():
        begin = min(extra_ranges[i][0] for i in ids)
        finish = max(extra_ranges[i][1] for i in ids)
        wanted = set(ids)
        for item in hook.iter_events(begin, finish, target=uid, target_type="user"):
            event_id = str(item.get("id"))
            key = (event_id, item.get("repeatId"))
            if event_id in wanted and key not in seen and item.get("repeatId"):
                seen.add(key)
                occurrences[event_id].append(item)
                result.items += 1
    return listed


# ---------------------------------------------------------------------- LINE WORKS


def extract_lineworks(
    hook: LineWorksHook,
    window: tuple[dt.datetime, dt.datetime],
    writer: CanonicalWriter,
    *,
    users: Sequence[str] = (),
    calendars: Sequence[str] = (),
) -> Extracted:
    """Read the events of the chosen LINE WORKS users' calendars (default: every user's default calendar).

    Lists go in windows of at most 31 days and a series spanning two windows is read once (the hook
    de-duplicates); the owner of each calendar is the organizer of events that name none.
    """
    result = Extracted()
    directory = list(hook.iter_users())
    result.users = directory
    wanted = {u.lower() for u in users}
    chosen = [
        u for u in directory if not wanted or (u.get("email") or "").lower() in wanted or u.get("userId") in wanted
    ]
    if wanted and not chosen:
        raise ValueError(f"none of the users {sorted(wanted)} exists in LINE WORKS")
    if wanted:
        result.scope = sorted({str(v).lower() for u in chosen for v in (u.get("email"), u.get("userId")) if v})
    pending: list[pd.DataFrame] = []
    seen_events: set[str] = set()
    for user in chosen:
        owner = {"email": (user.get("email") or "").lower() or None, "name": _display(user), "garoon_id": None,
                 "garoon_code": None, "lineworks_id": user.get("userId"), "type": "USER", "partstat": None, "optional": False}  # fmt: skip
        for calendar in calendars or ["default"]:
            items = []
            for item in hook.iter_events(user["userId"], calendar, *window):
                event_id = str(item["eventComponents"][0].get("eventId"))
                if event_id in seen_events:  # a shared calendar read through several members
                    continue
                seen_events.add(event_id)
                items.append(item)
            result.items += len(items)
            calendar_id = None if calendar == "default" else calendar
            converted = convert_apart(
                lambda some: lineworks_to_canonical(some, calendar_id=calendar_id, owner=owner),  # noqa: B023
                items,
                lambda: [(f"lineworks:{i['eventComponents'][0].get('eventId')}", [i]) for i in items],  # noqa: B023
                model.concat,
            )
            result.errors.extend(converted.errors.itertuples(index=False, name=None))
            pending.append(converted.events)
            if sum(len(f) for f in pending) >= PAGE_ROWS:
                _flush(writer, pending)
    _flush(writer, pending)
    result.rows = writer.rows
    return result


def _display(user: dict[str, Any]) -> str | None:
    name = user.get("userName")
    if isinstance(name, dict):
        return " ".join(x for x in (name.get("lastName"), name.get("firstName")) if x) or None
    return None


# ---------------------------------------------------------------------- iCalendar


def read_ics_source(source: str, *, max_bytes: int = MAX_ICS_BYTES, timeout: float = ICS_URL_TIMEOUT_S) -> bytes:
    """Return the bytes of an .ics file: a local path, an object-storage URL, or an http(s) URL.

    http(s) downloads stream, stop past ``max_bytes`` and must finish within ``timeout`` seconds in all (a server
    that trickles bytes is cut off too); other schemes go through ``ObjectStoragePath`` (fsspec), so ``s3://``
    works with the right provider installed, and a scheme no filesystem is registered for is refused.
    """
    scheme = urlsplit(source).scheme.lower()
    if scheme in ICS_URL_SCHEMES:
        deadline = time.monotonic() + timeout
        with requests.get(source, stream=True, timeout=timeout) as response:
            response.raise_for_status()
            chunks, size = [], 0
            while chunk := response.raw.read1(65536, decode_content=True):  # as soon as any bytes arrive
                size += len(chunk)
                if size > max_bytes:
                    raise ValueError(f"{source} is larger than the {max_bytes}-byte limit")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{source} took more than {timeout:g} s to download; refused")
                chunks.append(chunk)
            return b"".join(chunks)
    if scheme in ("", "file") or len(scheme) == 1:  # a plain path (or a Windows drive letter)
        local = Path(source.removeprefix("file://"))
        if not local.is_absolute() and not local.exists() and (PROJECT_ROOT / local).exists():
            local = PROJECT_ROOT / local  # relative paths also resolve against the project (include/sample_data/...)
        path = storage_path(str(local.resolve()))
    elif scheme in ("javascript", "data", "ftp", "gopher"):
        raise ValueError(f"{source!r}: the {scheme} scheme is not allowed for .ics sources")
    else:
        path = storage_path(source)
    info = path.stat()
    stored = info.get("size") if hasattr(info, "get") else getattr(info, "st_size", None)
    if stored and int(stored) > max_bytes:
        raise ValueError(f"{source} is {stored} bytes, over the {max_bytes}-byte limit")
    data = path.read_bytes()
    if len(data) > max_bytes:
        raise ValueError(f"{source} is larger than the {max_bytes}-byte limit")
    return bytes(data)


def extract_ics(
    sources: Iterable[str],
    writer: CanonicalWriter,
    *,
    window: tuple[dt.datetime, dt.datetime] | None = None,
    default_zone: str = "UTC",
) -> Extracted:
    """Read .ics files into ``writer``; with ``window``, keep only events with an occurrence inside it."""
    result = Extracted()
    for source in sources:
        try:
            data = read_ics_source(source)
        except (OSError, ValueError, requests.RequestException) as exc:
            result.errors.append((f"ics:{source}", f"cannot read the file: {exc}"))
            continue
        try:
            converted = ics_to_canonical(data, name=source, default_zone=default_zone)
        except Exception as exc:  # one file the converter cannot handle must not sink the other files
            log.exception("converting %s failed", source)
            result.errors.append((f"ics:{source}", f"cannot convert the file: {type(exc).__name__}: {exc}"[:500]))
            continue
        result.items += len(converted.events) + len(converted.errors)
        result.errors.extend(converted.errors.itertuples(index=False, name=None))
        frame = converted.events
        if window is not None:
            frame = in_window(frame, window)
        writer.write(frame)
    result.rows = writer.rows
    return result


def in_window(frame: pd.DataFrame, window: tuple[dt.datetime, dt.datetime]) -> pd.DataFrame:
    """Return the rows whose write unit has an occurrence overlapping ``window`` (a series with any of its rows)."""
    if frame.empty:
        return frame
    start, end = window
    all_day = frame["all_day"].astype(bool)
    timed_hit = ~all_day & (frame["start"] < end) & ((frame["end"] > start) | (frame["start"] >= start))
    day_hit = (
        all_day
        & (pd.to_datetime(frame["start_date"].astype(object)).dt.date < end.date())
        & (pd.to_datetime(frame["end_date"].astype(object)).dt.date > start.date())
    )
    hit = (timed_hit.fillna(False) | day_hit.fillna(False)).astype(bool)
    for row in frame[frame["kind"] == "series"].itertuples():
        if hit[row.Index]:
            continue
        try:
            rule = recurrence.row_rule(row)
            duration = (
                dt.timedelta(days=(row.end_date - row.start_date).days)
                if row.all_day
                else (row.end - row.start).to_pytimedelta()
            )
            hit[row.Index] = bool(rule.between(start, end, duration))
        except (recurrence.RecurrenceError, ValueError):
            hit[row.Index] = True  # keep it: the transform reports the error
    keys = set(frame.loc[hit, "sync_key"])
    return frame[frame["sync_key"].isin(keys)].reset_index(drop=True)
