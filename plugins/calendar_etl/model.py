"""The canonical event schema: one DataFrame layout that every source is read into and every target is written from.

One row is one *component* of a calendar event:

* ``single``: an event that does not repeat;
* ``series``: the master of a repeating event (its first occurrence plus RFC 5545 recurrence lines);
* ``exception``: one edited (or, with ``status`` CANCELLED, removed) occurrence of a series, linked to it
  by ``sync_key`` and identified by ``recurrence_id``;
* ``occurrence``: one occurrence of a Garoon repeating event as Garoon lists it, before
  :func:`calendar_etl.transforms.recurrence.collapse_occurrences` turns a group of them into a series.

Rows that share a ``sync_key`` are written to a target together: one LINE WORKS request carries a series and
its exceptions. ``source_key`` identifies a row, ``sync_key`` the unit of writing; the ledger keys on
``sync_key``.

Columns (name, dtype, meaning):

================  =====================  ===============================================================
source_system     string                 ``garoon``, ``lineworks`` or ``ics``
source_key        string                 unique row id: ``garoon:<id>[:<repeatId>]``, ``lineworks:<eventId>[:<rid>]``, ``ics:<UID>[:<rid>]``
sync_key          string                 the write unit (a series and its exceptions share it)
kind              string                 ``single`` / ``series`` / ``exception`` / ``occurrence``
garoon_id         string                 Garoon event ``id`` (the series id for repeating events)
garoon_repeat_id  string                 Garoon ``repeatId`` of a listed occurrence
lineworks_event_id string                LINE WORKS ``eventId``
lineworks_calendar_id string             LINE WORKS calendar the event was read from
ics_uid           string                 iCalendar ``UID``
recurrence_id     string                 original start of an exception/occurrence: ``YYYYMMDDTHHMMSSZ`` (UTC) or ``YYYYMMDD`` (all-day)
marker            string                 the source key a previous sync wrote into the event (Garoon ``additionalItems``)
summary           string                 title
description       string                 notes / memo / DESCRIPTION
location          string                 free-text place
all_day           bool                   True: ``start_date``/``end_date`` hold the days; ``start``/``end`` are NaT
start, end        timestamp[us, UTC]     instants of a timed event (``end == start`` for start-only events)
start_date        date32                 first day of an all-day event
end_date          date32                 the day after its last day (exclusive, as in RFC 5545 and LINE WORKS)
timezone          string                 IANA zone the event was created in (kept for display and recurrence)
start_only        bool                   Garoon ``isStartOnly``: the event has no meaningful end
recurrence        list<string>           ``RRULE:``/``EXDATE``/``RDATE`` lines of a series (RFC 5545 text)
status            string                 ``CONFIRMED`` / ``TENTATIVE`` / ``CANCELLED``
visibility        string                 ``PUBLIC`` / ``PRIVATE``
transparency      string                 ``OPAQUE`` (busy) / ``TRANSPARENT`` (free)
category          string                 Garoon ``eventMenu`` / iCalendar ``CATEGORIES``
organizer         struct<PERSON>         who owns the event (the target calendar is the organizer's)
attendees         list<struct<PERSON>>   people and groups invited
facilities        list<struct<FACILITY>> rooms and equipment booked
reminders         list<struct<REMINDER>> alarms (``method``, RFC 5545 ``trigger`` duration)
created, updated  timestamp[us, UTC]     when the source says the event was created / last changed
sequence          int32                  RFC 5545 SEQUENCE (0 where the source has none)
reasons           list<string>           every degradation applied on the way (truncation, expansion, unmapped person…)
================  =====================  ===============================================================

``PERSON`` is ``{email, name, garoon_id, garoon_code, lineworks_id, type, partstat, optional}`` where ``type`` is
``USER``, ``ORGANIZATION`` or ``GROUP``. ``FACILITY`` is ``{name, garoon_id, garoon_code, resource_id}`` where
``resource_id`` is the LINE WORKS resource. ``REMINDER`` is ``{method, trigger}``.

Converters never raise for one bad item: they return a :class:`Converted` whose ``errors`` frame names the
``source_key`` and the problem of each item that could not be converted, and every other item converts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

KINDS = ("single", "series", "exception", "occurrence")
SOURCE_SYSTEMS = ("garoon", "lineworks", "ics")
STATUSES = ("CONFIRMED", "TENTATIVE", "CANCELLED")
VISIBILITIES = ("PUBLIC", "PRIVATE")
TRANSPARENCIES = ("OPAQUE", "TRANSPARENT")
PERSON_TYPES = ("USER", "ORGANIZATION", "GROUP")

PERSON = pa.struct(
    [
        ("email", pa.string()),
        ("name", pa.string()),
        ("garoon_id", pa.string()),
        ("garoon_code", pa.string()),
        ("lineworks_id", pa.string()),
        ("type", pa.string()),
        ("partstat", pa.string()),
        ("optional", pa.bool_()),
    ]
)
FACILITY = pa.struct(
    [("name", pa.string()), ("garoon_id", pa.string()), ("garoon_code", pa.string()), ("resource_id", pa.string())]
)
REMINDER = pa.struct([("method", pa.string()), ("trigger", pa.string())])

TIMESTAMP = pa.timestamp("us", tz="UTC")

#: The canonical schema as Arrow types, in column order (the Parquet files use exactly this schema).
ARROW_SCHEMA = pa.schema(
    [
        ("source_system", pa.string()),
        ("source_key", pa.string()),
        ("sync_key", pa.string()),
        ("kind", pa.string()),
        ("garoon_id", pa.string()),
        ("garoon_repeat_id", pa.string()),
        ("lineworks_event_id", pa.string()),
        ("lineworks_calendar_id", pa.string()),
        ("ics_uid", pa.string()),
        ("recurrence_id", pa.string()),
        ("marker", pa.string()),
        ("summary", pa.string()),
        ("description", pa.string()),
        ("location", pa.string()),
        ("all_day", pa.bool_()),
        ("start", TIMESTAMP),
        ("end", TIMESTAMP),
        ("start_date", pa.date32()),
        ("end_date", pa.date32()),
        ("timezone", pa.string()),
        ("start_only", pa.bool_()),
        ("recurrence", pa.list_(pa.string())),
        ("status", pa.string()),
        ("visibility", pa.string()),
        ("transparency", pa.string()),
        ("category", pa.string()),
        ("organizer", PERSON),
        ("attendees", pa.list_(PERSON)),
        ("facilities", pa.list_(FACILITY)),
        ("reminders", pa.list_(REMINDER)),
        ("created", TIMESTAMP),
        ("updated", TIMESTAMP),
        ("sequence", pa.int32()),
        ("reasons", pa.list_(pa.string())),
    ]
)
COLUMNS: tuple[str, ...] = tuple(ARROW_SCHEMA.names)
REQUIRED = ("source_system", "source_key", "sync_key", "kind", "summary", "all_day", "start_only")
DEFAULTS: dict[str, Any] = {
    "summary": "",
    "all_day": False,
    "start_only": False,
    "status": "CONFIRMED",
    "visibility": "PUBLIC",
    "transparency": "OPAQUE",
    "sequence": 0,
}
LIST_COLUMNS = ("recurrence", "attendees", "facilities", "reminders", "reasons")
ERROR_COLUMNS = ("source_key", "problem")

#: What each target can express; the content hash covers these columns only, so a change the target
#: cannot show (a Garoon ``category`` on its way to LINE WORKS) never causes a write.
TARGET_FIELDS: dict[str, tuple[str, ...]] = {
    "lineworks": (
        "kind", "recurrence_id", "summary", "description", "location", "all_day", "start", "end", "start_date",
        "end_date", "timezone", "recurrence", "status", "visibility", "transparency", "organizer", "attendees",
        "facilities", "reminders",
    ),
    "garoon": (
        "kind", "recurrence_id", "summary", "description", "location", "all_day", "start", "end", "start_date",
        "end_date", "timezone", "start_only", "recurrence", "status", "visibility", "category", "attendees",
        "facilities", "organizer",
    ),
    "ics": tuple(c for c in COLUMNS if c not in ("source_system", "source_key", "sync_key", "reasons", "marker")),
}  # fmt: skip


def pandas_dtype(arrow_type: pa.DataType) -> Any:
    """Return the pandas dtype a canonical column of ``arrow_type`` has in memory."""
    if arrow_type == TIMESTAMP:
        return "datetime64[us, UTC]"
    return pd.ArrowDtype(arrow_type)


DTYPES: dict[str, Any] = {f.name: pandas_dtype(f.type) for f in ARROW_SCHEMA}


@dataclass
class Converted:
    """What a converter gives back: the rows it made and one error per item it could not convert."""

    events: pd.DataFrame
    errors: pd.DataFrame = field(default_factory=lambda: errors_frame([]))

    def __iter__(self) -> Any:  # allows ``events, errors = converter(...)``
        return iter((self.events, self.errors))


def errors_frame(errors: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """Return the error table (``source_key``, ``problem``) of a conversion."""
    rows = list(errors)
    return pd.DataFrame(
        {
            "source_key": pd.array([r[0] for r in rows], dtype=pd.ArrowDtype(pa.string())),
            "problem": pd.array([r[1] for r in rows], dtype=pd.ArrowDtype(pa.string())),
        }
    )


def from_columns(
    columns: Mapping[str, Sequence[Any] | pa.Array | pd.Series], length: int | None = None
) -> pd.DataFrame:
    """Return a canonical frame from column values (missing columns get their default or null).

    Values may be Python lists, Arrow arrays or pandas Series; each is cast to the canonical type, so a
    converter builds columns (vectorised) and never needs to know the storage types.
    """
    if length is None:
        length = len(next(iter(columns.values()))) if columns else 0
    return to_pandas(arrow_table(columns, length))


def arrow_table(columns: Mapping[str, Sequence[Any] | pa.Array | pd.Series], length: int) -> pa.Table:
    """Return the Arrow table in the canonical schema of column values (as :func:`from_columns` takes them)."""
    arrays = []
    for f in ARROW_SCHEMA:
        value = columns.get(f.name)
        arrays.append(_default_column(f, length) if value is None else _to_arrow(value, f.type, f.name))
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


def _default_column(column: pa.Field, length: int) -> pa.Array:
    if column.name in LIST_COLUMNS:
        return pa.ListArray.from_arrays(pa.array(np.zeros(length + 1, np.int32)), pa.array([], column.type.value_type))
    return pa.repeat(pa.scalar(DEFAULTS.get(column.name), column.type), length)


def arrow_column(values: pd.Series, name: str) -> pa.Array:
    """Return one column of a canonical frame as an Arrow array of its canonical type."""
    return _to_arrow(values, ARROW_SCHEMA.field(name).type, name)


def _to_arrow(value: Any, arrow_type: pa.DataType, name: str) -> pa.Array:
    if isinstance(value, pd.Series):
        if isinstance(value.dtype, pd.ArrowDtype):
            array = pa.array(value.array)
        elif arrow_type == TIMESTAMP:
            if value.dtype != "datetime64[us, UTC]":  # canonical frames hold them so already: no copy then
                value = pd.to_datetime(value, utc=True).astype("datetime64[us, UTC]")
            array = pa.array(value)
        else:
            array = pa.array(value.astype(object).where(value.notna(), None).tolist(), type=arrow_type)
    elif isinstance(value, (pa.Array, pa.ChunkedArray)):
        array = value
    else:
        array = pa.array(list(value), type=arrow_type, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = one_array(array)
    if not array.type.equals(arrow_type):
        try:
            array = array.cast(arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise TypeError(f"column {name!r} cannot be {arrow_type}: {exc}") from exc
    return array


def one_array(values: pa.ChunkedArray) -> pa.Array:
    """Return a chunked array as one array: its only chunk as it is (``combine_chunks`` copies even that one)."""
    return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()


def empty() -> pd.DataFrame:
    """Return a canonical frame with no rows."""
    return from_columns({}, 0)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Return the canonical frame of an Arrow table in the canonical schema."""
    table = table.select(list(COLUMNS)).cast(ARROW_SCHEMA)
    frame = table.to_pandas(types_mapper=_types_mapper, ignore_metadata=True)
    for name in ("start", "end", "created", "updated"):
        frame[name] = frame[name].astype("datetime64[us, UTC]")
    return frame


def _types_mapper(arrow_type: pa.DataType) -> Any:
    if arrow_type == TIMESTAMP:
        return None
    return pd.ArrowDtype(arrow_type)


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """Return a canonical frame as an Arrow table in the canonical schema (what Parquet files hold)."""
    arrays = [_to_arrow(frame[name], f.type, name) for name, f in zip(COLUMNS, ARROW_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Return the canonical frames one after another (an empty frame when there are none)."""
    tables = [to_arrow(f) for f in frames if len(f)]
    if not tables:
        return empty()
    return to_pandas(pa.concat_tables(tables))


def validate(frame: pd.DataFrame) -> pd.DataFrame:
    """Return one row per violation (``source_key``, ``column``, ``problem``); empty when the frame is canonical.

    Checks the columns and dtypes, required values, allowed values, key uniqueness and the time rules
    (timed rows have UTC instants and ``end >= start``; all-day rows have dates with an exclusive end
    after the start, and no instants).
    """
    problems: list[tuple[str, str, str]] = []
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        return _violations([("*", c, "column is missing") for c in missing])
    for name in COLUMNS:
        if str(frame[name].dtype) != str(DTYPES[name]):
            problems.append(("*", name, f"dtype is {frame[name].dtype}, expected {DTYPES[name]}"))
    if problems:
        return _violations(problems)
    keys = frame["source_key"].astype(object).where(frame["source_key"].notna(), "<missing source_key>")

    def flag(mask: pd.Series, column: str, problem: str) -> None:
        for key in keys[mask.fillna(True).astype(bool)]:
            problems.append((str(key), column, problem))

    for name in REQUIRED:
        flag(frame[name].isna(), name, "is required")
    for name, allowed in (
        ("kind", KINDS),
        ("source_system", SOURCE_SYSTEMS),
        ("status", STATUSES),
        ("visibility", VISIBILITIES),
        ("transparency", TRANSPARENCIES),
    ):
        values = frame[name]
        flag(values.notna() & ~values.isin(allowed), name, f"must be one of {', '.join(allowed)}")
    duplicated = frame["source_key"].duplicated(keep=False) & frame["source_key"].notna()
    flag(duplicated, "source_key", "is not unique")
    all_day = frame["all_day"].fillna(False).astype(bool)
    timed = ~all_day
    flag(timed & frame["start"].isna(), "start", "a timed event needs a start instant")
    flag(timed & frame["end"].isna(), "end", "a timed event needs an end instant")
    flag(timed & (frame["end"] < frame["start"]), "end", "is before start")
    flag(
        all_day & (frame["start_date"].isna() | frame["end_date"].isna()),
        "start_date",
        "an all-day event needs start_date and end_date",
    )
    flag(all_day & (frame["end_date"] <= frame["start_date"]), "end_date", "must be after start_date (it is exclusive)")
    flag(all_day & (frame["start"].notna() | frame["end"].notna()), "start", "an all-day event has dates, not instants")
    needs_rid = frame["kind"].isin(["exception", "occurrence"])
    flag(needs_rid & frame["recurrence_id"].isna(), "recurrence_id", "an exception or occurrence needs recurrence_id")
    series = frame["kind"] == "series"
    flag(series & (frame["recurrence"].list.len().fillna(0) == 0), "recurrence", "a series needs recurrence lines")
    return _violations(problems)


def _violations(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["source_key", "column", "problem"])


def check(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` when it is canonical; raise ValueError listing the first violations otherwise."""
    violations = validate(frame)
    if len(violations):
        shown = "; ".join(f"{r.source_key}: {r.column} {r.problem}" for r in violations.head(10).itertuples())
        raise ValueError(f"{len(violations)} canonical-schema violation(s): {shown}")
    return frame


def add_reasons(frame: pd.DataFrame, mask: pd.Series | Sequence[bool], reasons: Sequence[str] | str) -> None:
    """Append a degradation reason to the rows selected by ``mask`` (in place)."""
    mask = pd.Series(mask, index=frame.index).astype(bool)
    if not mask.any():
        return
    current = frame["reasons"].tolist()
    if isinstance(reasons, str):
        texts = [reasons] * len(frame)
    else:
        texts = list(reasons)
    for i, selected in enumerate(mask.tolist()):
        if selected:
            current[i] = [*(current[i] if current[i] is not None else []), texts[i]]
    frame["reasons"] = pd.array(current, dtype=DTYPES["reasons"])


def content_hash(frame: pd.DataFrame, target: str) -> pd.Series:
    """Return a SHA-256 hex digest per row over the columns ``target`` can express (see TARGET_FIELDS).

    Equal hashes mean the target would receive the same content, so the row needs no write.
    """
    columns = TARGET_FIELDS[target]
    records = to_arrow(frame).select(list(columns)).to_pylist()
    digests = [
        hashlib.sha256(json.dumps(r, sort_keys=True, default=_json_default).encode()).hexdigest() for r in records
    ]
    return pd.Series(digests, index=frame.index, dtype=pd.ArrowDtype(pa.string()), name="content_hash")


def _json_default(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot hash {type(value).__name__}")
