"""Garoon schedule objects ⇄ canonical rows.

Facts (``shared/reference/garoon-api.md``): lists return one item per occurrence of a repeating event (same
``id``, different ``repeatId``); all-day events are ``eventType: ALL_DAY`` or ``isAllDay`` and Garoon stores
them 00:00 to 23:59:59 of their last day in the event's zone (some clients write 00:00 of the next day);
``isStartOnly`` events have no usable end; times carry an offset and a separate ``timeZone``; the REST API
creates only REGULAR and ALL_DAY events and accepts only its own list of zones.

Reading is column-wise (``_Reader``): each item is read with msgspec into typed objects, a batch of them becomes
Arrow columns, and every check and conversion then runs on whole columns; an item of unusual shape is read
the lenient way (``_lenient``) into the same types, and a bad one is an error naming it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, Literal, get_args

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from calendar_etl import model
from calendar_etl.garoon_zones import GAROON_SUPPORTED_TIMEZONES
from calendar_etl.transforms import recurrence
from calendar_etl.transforms.common import (
    DATA_ERRORS,
    ErrorCollector,
    cast_or_null,
    concat_text,
    describe,
    drop_rows,
    fixed_texts,
    fixed_width_text,
    format_seconds,
    is_true,
    known_zone,
    laid_out,
    list_array,
    lists_of,
    only_where,
    records,
    rfc3339,
    seconds_of,
    strings,
)

DEFAULT_ZONE = "Asia/Tokyo"  # Garoon's home zone; used when an event names none
PARTSTAT = {"PENDING": "NEEDS-ACTION", "ACCEPTED": "ACCEPTED", "DECLINED": "DECLINED"}
PARTSTAT_BACK = {v: k for k, v in PARTSTAT.items()} | {"TENTATIVE": "PENDING"}
SKIPPED_TYPES = {"TEMPORARY": "a temporary (unconfirmed) Garoon event; it is synced once a time is confirmed"}


def source_key(event_id: Any, repeat_id: Any = None) -> str:
    """Return the canonical source key of a Garoon event (or one occurrence of it)."""
    return f"garoon:{event_id}" + (f":{repeat_id}" if repeat_id else "")


def garoon_to_canonical(
    records: Iterable[dict[str, Any] | bytes],
    *,
    default_zone: str = DEFAULT_ZONE,
    collapse: bool = True,
    listed: recurrence.Listed | dict[str, recurrence.Listed] | None = None,
) -> model.Converted:
    """Return canonical rows for Garoon schedule objects as the list endpoint returns them.

    :param records: event objects (``GET /api/v1/schedule/events`` items; occurrences of a repeating event
        share ``id`` and differ in ``repeatId``), each a dict or its JSON text (``bytes``: read with
        msgspec straight into typed objects, several times faster than ``json.loads`` and reading the dict).
    :param default_zone: the zone of events that name none.
    :param collapse: turn each repeating event's occurrences into one series plus exceptions where its rule
        reproduces them (see :func:`calendar_etl.transforms.recurrence.collapse_occurrences`).
    :param listed: the range the events were listed for, which tells the collapse which occurrences to expect.
    """
    errors = ErrorCollector()
    reader = _Reader(default_zone, errors)
    items = iter(records)
    while batch := list(itertools.islice(items, BATCH_ITEMS)):
        reader.add_batch(batch)
    frame = reader.frame()
    if collapse:
        frame = recurrence.collapse_occurrences(frame, listed)
    return model.Converted(frame, errors.frame())


def _safe_key(item: Any) -> str:
    if not isinstance(item, dict):
        return f"garoon:<item of type {type(item).__name__}>"
    return source_key(item.get("id", "<no id>"), item.get("repeatId"))


# ---------------------------------------------------------------------- the Garoon event object, typed
#
# An item is read into these types in one step (msgspec, from its JSON text; a dict is written back to text
# first). An item that does not fit them exactly (an id that is a number, a creator that is a string, an unknown
# visibility...) goes through ``_lenient`` instead, which either names what is wrong or rewrites it in these
# types, so every row is then converted by the same column-wise code. People and facilities stay JSON text
# until ``_Reader`` reads each distinct one once: an event names the same few hundred people again and again.
# ``gc=False``: the objects hold no cycles, and a batch of them must not make the cyclic garbage collector walk
# each one; the literal types decode to shared strings.

Visibility = Literal["PUBLIC", "PRIVATE", "SET_PRIVATE_WATCHERS"]
EventType = Literal["REGULAR", "REPEATING", "ALL_DAY"]  # TEMPORARY events are skipped (SKIPPED_TYPES)
AttendanceStatus = Literal["PENDING", "ACCEPTED", "DECLINED"]
PersonType = Literal["USER", "ORGANIZATION"]
NULL = msgspec.Raw(b"null")


class _Response(msgspec.Struct, gc=False):
    status: AttendanceStatus | None = None


class _Person(msgspec.Struct, gc=False):
    id: str | None = None
    code: str | None = None
    name: str | None = None
    type: PersonType | None = "USER"
    attendanceResponse: _Response | None = None


class _Facility(msgspec.Struct, gc=False):
    id: str | None = None
    code: str | None = None
    name: str | None = None


class _Time(msgspec.Struct, gc=False):
    dateTime: str
    timeZone: str | None = None


class _Value(msgspec.Struct, gc=False):
    value: str | None = None


class _Additional(msgspec.Struct, gc=False):
    item: _Value | None = None


class _Item(msgspec.Struct, gc=False):
    id: Annotated[str, msgspec.Meta(min_length=1)]
    start: _Time
    end: _Time | None = None
    eventType: EventType | None = "REGULAR"
    eventMenu: str | None = None
    subject: str | None = None
    notes: str | None = None
    visibilityType: Visibility = "PUBLIC"
    isAllDay: bool | None = None
    isStartOnly: bool | None = None
    originalStartTimeZone: str | None = None
    repeatId: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None
    creator: msgspec.Raw = NULL  # a person object: read by _Reader, once per distinct text
    attendees: tuple[msgspec.Raw, ...] = ()  # person objects, likewise
    facilities: tuple[msgspec.Raw, ...] = ()  # facility objects, likewise
    additionalItems: _Additional | None = None
    repeatInfo: msgspec.Raw = NULL  # read once per series


_DECODER = msgspec.json.Decoder(_Item)
_PERSON = msgspec.json.Decoder(_Person | None)
_FACILITY = msgspec.json.Decoder(_Facility)
_NOT_READ = (msgspec.ValidationError, msgspec.DecodeError, TypeError, ValueError, OverflowError)
ID_PROBLEM = "id must be a non-empty string"
START_PROBLEM = "start.dateTime is required (a repeating master has none: list the range instead)"
WITHOUT_REPEAT_INFO = "Garoon listed this occurrence without repeatInfo; kept as a single event"
PRIVATE_WATCHERS = "Garoon visibility SET_PRIVATE_WATCHERS written as PRIVATE (watchers are not carried)"
BATCH_ITEMS = 512  # items read before their fields become columns: few enough to stay in the CPU cache


def _lenient(item: Any, default_zone: str) -> dict[str, Any]:
    """Return an item with unusual types rewritten in ``_Item``'s types; TypeError/ValueError naming what is wrong.

    Lenient where Garoon's meaning is clear: numeric ids become text, optional fields of an unknown shape
    (a creator that is not an object, an unknown eventType or attendance status) are ignored.
    """
    if not isinstance(item, dict):
        raise TypeError("is not a JSON object")
    event_id = item.get("id")
    if not isinstance(event_id, (str, int)) or isinstance(event_id, bool) or str(event_id) == "":
        raise ValueError(ID_PROBLEM)
    event_type = item.get("eventType", "REGULAR")
    if isinstance(event_type, str) and event_type in SKIPPED_TYPES:
        raise ValueError(SKIPPED_TYPES[event_type])
    start = item.get("start")
    if not isinstance(start, dict) or not isinstance(start.get("dateTime"), str):
        raise ValueError(START_PROBLEM)
    end = item.get("end")
    if end is not None and (not isinstance(end, dict) or not isinstance(end.get("dateTime"), str)):
        raise ValueError("end must be an object with dateTime")
    zone = start.get("timeZone") or item.get("originalStartTimeZone") or default_zone
    if not isinstance(zone, str):
        raise TypeError("start.timeZone must be a string")
    repeat_id = item.get("repeatId")
    if repeat_id is not None and not isinstance(repeat_id, str):
        raise TypeError("repeatId must be a string")
    visibility = item.get("visibilityType", "PUBLIC")
    if visibility not in get_args(Visibility):
        raise ValueError(f"visibilityType {visibility!r} is not PUBLIC, PRIVATE or SET_PRIVATE_WATCHERS")
    creator = item.get("creator")
    additional = item.get("additionalItems")
    marker = (
        additional.get("item", {}).get("value")
        if isinstance(additional, dict) and isinstance(additional.get("item"), dict)
        else None
    )
    menu, created, updated, info = (item.get(k) for k in ("eventMenu", "createdAt", "updatedAt", "repeatInfo"))
    return {
        "id": str(event_id),
        "start": {"dateTime": start["dateTime"], "timeZone": zone},
        "end": None if end is None else {"dateTime": end["dateTime"]},
        "eventType": event_type if event_type in get_args(EventType) else None,
        "eventMenu": menu if isinstance(menu, str) else None,
        "subject": _text(item, "subject"),
        "notes": _text(item, "notes"),
        "visibilityType": visibility,
        "isAllDay": item.get("isAllDay") is True,
        "isStartOnly": item.get("isStartOnly") is True,
        "repeatId": repeat_id,
        "createdAt": created if isinstance(created, str) else None,
        "updatedAt": updated if isinstance(updated, str) else None,
        "creator": _person(creator, "USER") if isinstance(creator, dict) else None,
        "attendees": [_person(a, a.get("type", "USER")) for a in _objects(item, "attendees")],
        "facilities": [
            {"id": _str(f.get("id")), "code": _text_field(f, "code"), "name": _text_field(f, "name")}
            for f in _objects(item, "facilities")
        ],
        "additionalItems": {"item": {"value": marker if isinstance(marker, str) else None}},
        "repeatInfo": info if isinstance(info, dict) else None,
    }


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    return value


def _text_field(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} {value!r} must be a string")
    return value


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _objects(item: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = item.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TypeError(f"{name} must be an array of objects")
    return value


def _person(raw: dict[str, Any], kind: Any) -> dict[str, Any]:
    response = raw.get("attendanceResponse")
    status = response.get("status") if isinstance(response, dict) else None
    return {
        "id": _str(raw.get("id")),
        "code": _text_field(raw, "code"),
        "name": _text_field(raw, "name"),
        "type": "ORGANIZATION" if kind == "ORGANIZATION" else "USER",
        "attendanceResponse": {"status": status if isinstance(status, str) and status in PARTSTAT else None},
    }


# ---------------------------------------------------------------------- items -> columns -> canonical rows


class _Numbering(dict[bytes, int]):
    """Numbers distinct texts as they come (``numbering[text]`` gives the text's number)."""

    def __init__(self) -> None:
        super().__init__()
        self.new: list[bytes] = []

    def __missing__(self, key: bytes) -> int:
        number = self[key] = len(self)
        self.new.append(key)
        return number


def _numbers(numbering: _Numbering, texts: Iterable[msgspec.Raw], count: int) -> np.ndarray:
    """Return the numbers of ``count`` JSON texts (the loop runs in C: ``map``, not a comprehension)."""
    return np.fromiter(map(numbering.__getitem__, map(bytes, texts)), np.int32, count)


class _Reader:
    """Reads Garoon items in batches into Arrow columns, then validates and converts them all at once.

    Per item only the typed read is done (msgspec, in C). A batch of items then becomes columns, one list
    comprehension per field; each distinct person and facility text is numbered and read once; a series rule
    is read once per series. Times, zones, recurrence ids, keys and every structure are then converted
    column-wise in :meth:`frame`.
    """

    def __init__(self, default_zone: str, errors: ErrorCollector) -> None:
        self.default_zone, self.errors = default_zone, errors
        self.pending: list[_Item] = []
        self.batches: list[dict[str, pa.Array]] = []
        self.people = _Numbering()
        self.person_list: list[_Person | None] = []
        self.facilities = _Numbering()
        self.facility_list: list[_Facility | None] = []
        self.rules: dict[str, int] = {}
        self.rule_lines: list[list[str]] = []
        self.rule_reasons: list[str | None] = []

    def add_batch(self, items: list[Any]) -> None:
        """Read items (each its JSON text, or a dict); a bad one becomes an error naming it."""
        decode = _DECODER.decode
        try:  # the usual case: every item is JSON text of Garoon's types
            self.pending.extend(list(map(decode, items)))
        except _NOT_READ:
            for item in items:
                self.add(item)
        if len(self.pending) >= BATCH_ITEMS:
            self._flush()

    def add(self, item: Any) -> None:
        """Read one item (its JSON text, or a dict); a bad one becomes an error naming it."""
        try:
            if isinstance(item, (bytes, bytearray, memoryview)):
                self.pending.append(_DECODER.decode(item))
            else:
                self.pending.append(_DECODER.decode(msgspec.json.encode(item)))
        except _NOT_READ:
            self._add_lenient(item)
        if len(self.pending) >= BATCH_ITEMS:
            self._flush()

    def _add_lenient(self, item: Any) -> None:
        if isinstance(item, (bytes, bytearray, memoryview)):
            try:
                item = json.loads(bytes(item))
            except ValueError as exc:
                self.errors.add("garoon:<item that is not JSON>", f"is not JSON: {exc}")
                return
        key = _safe_key(item)
        try:
            self.pending.append(_DECODER.decode(msgspec.json.encode(_lenient(item, self.default_zone))))
        except DATA_ERRORS as exc:
            self.errors.add(key, describe(exc))

    def _flush(self) -> None:
        """Turn the pending items' fields into Arrow columns while they are still in the CPU cache."""
        items, self.pending = self.pending, []
        if not items:
            return
        people, rooms = self.people, self.facilities
        n = len(items)
        attendee_lists, facility_lists = [i.attendees for i in items], [i.facilities for i in items]
        attendee_count = np.fromiter(map(len, attendee_lists), np.int32, n)
        facility_count = np.fromiter(map(len, facility_lists), np.int32, n)
        creators = _numbers(people, [i.creator for i in items], n)
        attendees = _numbers(people, itertools.chain.from_iterable(attendee_lists), int(attendee_count.sum()))
        facilities = _numbers(rooms, itertools.chain.from_iterable(facility_lists), int(facility_count.sum()))
        unread = self._read_new()
        null = people.get(b"null")
        if null is not None and (attendees == null).any():
            unread.add(b"null")  # a null attendee: not a person
        if unread:  # a person or facility of an unusual shape: read those items the lenient way
            odd = [i for i in items if _names_any(i, unread)]
            items = [i for i in items if not _names_any(i, unread)]
            for item in odd:
                self._add_lenient(json.loads(msgspec.json.encode(item)))
            self.pending, pending = items, self.pending
            self._flush()
            self.pending = pending
            return
        repeat_ids = [i.repeatId for i in items]
        rule = [-1] * n
        for k in itertools.compress(range(n), repeat_ids):  # the occurrences
            rule[k] = self._rule(items[k])
        self.batches.append(
            {
                "id": strings([i.id for i in items]),
                "repeat_id": strings(repeat_ids),
                "flags": pa.array(np.fromiter(map(_FLAGS.__getitem__, map(_FLAG_FIELDS, items)), np.int8, n)),
                "subject": strings([i.subject for i in items]),
                "notes": strings([i.notes for i in items]),
                "menu": strings([i.eventMenu for i in items]),
                "start_raw": strings([i.start.dateTime for i in items]),
                "end_raw": strings([i.end.dateTime if i.end is not None else None for i in items]),
                "zone": strings([i.start.timeZone or i.originalStartTimeZone for i in items]),
                "marker": strings([i.additionalItems.item.value if i.additionalItems is not None
                                   and i.additionalItems.item is not None else None for i in items]),
                "created": strings([i.createdAt for i in items]),
                "updated": strings([i.updatedAt for i in items]),
                "rule": pa.array(np.array(rule, np.int32)),
                "creator": pa.array(creators),
                "attendee_count": pa.array(attendee_count),
                "attendees": pa.array(attendees),
                "facility_count": pa.array(facility_count),
                "facilities": pa.array(facilities),
            }
        )  # fmt: skip

    def _read_new(self) -> set[bytes]:
        """Read the person and facility texts first seen in this batch; return those that do not fit the types."""
        unread: set[bytes] = set()
        tables: tuple[tuple[_Numbering, list[Any], Any], ...] = (
            (self.people, self.person_list, _PERSON),
            (self.facilities, self.facility_list, _FACILITY),
        )
        for numbering, found, decoder in tables:
            for text in numbering.new:
                try:
                    found.append(decoder.decode(text))
                except _NOT_READ:
                    found.append(None)
                    unread.add(text)
            numbering.new.clear()
        return unread

    def _rule(self, item: _Item) -> int:
        """Return the index of an occurrence's series rule (read once per series); -1 without repeatInfo."""
        if memoryview(item.repeatInfo)[:1] != b"{":
            return -1
        index = self.rules.get(item.id)
        if index is None:
            lines, reason = recurrence.repeat_info_rule(msgspec.json.decode(item.repeatInfo), self.default_zone)
            index = self.rules[item.id] = len(self.rule_lines)
            self.rule_lines.append(lines)
            self.rule_reasons.append(reason)
        return index

    def frame(self) -> pd.DataFrame:
        """Return the canonical rows of every item read; an item that fails a check becomes an error instead."""
        while self.pending:  # a flush may leave items it sent the lenient way for the next one
            self._flush()
        if not self.batches:
            return model.empty()
        c = {name: pa.concat_arrays([b[name] for b in self.batches]) for name in self.batches[0]}
        n = len(c["id"])
        flags = np.asarray(c["flags"], dtype=np.int64)
        all_day = pa.array(flags & ALL_DAY != 0)
        no_end = ~is_true(pc.is_valid(c["end_raw"]))
        start_only = pa.array(((flags & START_ONLY != 0) | no_end) & (flags & ALL_DAY == 0))
        repeat_id = _non_empty(c["repeat_id"])
        occurrence = is_true(pc.is_valid(repeat_id))
        sync_keys = concat_text("garoon:", c["id"])
        keys = pc.if_else(pa.array(occurrence), concat_text(sync_keys, ":", repeat_id), sync_keys)
        zone = _coalesce(_non_empty(c["zone"]), pa.scalar(self.default_zone))
        end_raw = _coalesce(c["end_raw"], c["start_raw"])
        bad = np.zeros(n, bool)

        def reject(mask: np.ndarray, problem: Callable[[int], str]) -> None:
            new = mask & ~bad
            for i in np.flatnonzero(new):
                self.errors.add(keys[int(i)].as_py(), problem(int(i)))
            bad[new] = True

        reject(~_known_zones(zone), lambda i: f"unknown time zone {zone[i].as_py()!r}")
        rid, rid_problem = _recurrence_ids(repeat_id, occurrence, all_day, zone, bad)
        rid_rows = np.zeros(n, bool)
        rid_rows[list(rid_problem)] = True
        reject(rid_rows, rid_problem.__getitem__)
        start, start_text = _instants(c["start_raw"])
        end, end_text = _instants(end_raw)
        reject(
            ~is_true(pc.is_valid(start)) | ~is_true(pc.is_valid(end)) | is_true(pc.less(end, start)),
            lambda i: (
                f"start {c['start_raw'][i].as_py()!r} / end {end_raw[i].as_py()!r}: not RFC 3339 date-times "
                "with an offset, or end before start"
            ),
        )
        start_date, end_date = _all_day_dates(is_true(all_day), start, start_text, end, end_text)
        timed = pc.invert(all_day)
        no_time = pa.scalar(None, model.TIMESTAMP)
        rule = np.asarray(c["rule"], np.int64)
        has_rule = occurrence & (rule >= 0)
        repeat_reason = strings([*self.rule_reasons, WITHOUT_REPEAT_INFO]).take(
            pa.array(np.where(has_rule, rule, len(self.rule_reasons)), mask=~occurrence)
        )
        visibility = (flags >> VISIBILITY_SHIFT) & 3
        watchers = pc.if_else(pa.array(visibility == 2), PRIVATE_WATCHERS, pa.scalar(None, pa.string()))
        people = _people(self.person_list)
        columns: dict[str, Any] = {
            "source_system": pa.repeat(pa.scalar("garoon"), n),
            "source_key": keys,
            "sync_key": sync_keys,
            "kind": pc.if_else(pa.array(occurrence), "occurrence", "single"),
            "garoon_id": c["id"],
            "garoon_repeat_id": repeat_id,
            "recurrence_id": rid,
            "marker": _non_empty(c["marker"]),
            "summary": pc.fill_null(c["subject"], ""),
            "description": c["notes"],
            "all_day": all_day,
            "start": pc.if_else(timed, start, no_time),
            "end": pc.if_else(timed, pc.if_else(start_only, start, end), no_time),
            "start_date": start_date,
            "end_date": end_date,
            "timezone": zone,
            "start_only": start_only,
            "recurrence": pa.array([*self.rule_lines, []], pa.list_(pa.string())).take(
                pa.array(np.where(has_rule, rule, len(self.rule_lines)))
            ),
            "visibility": pc.if_else(pa.array(visibility == 0), "PUBLIC", "PRIVATE"),
            "category": _non_empty(c["menu"]),
            "organizer": _take(_organizers(people), c["creator"]),
            "attendees": list_array(_offsets(c["attendee_count"]), _take(people, c["attendees"])),
            "facilities": list_array(_offsets(c["facility_count"]), _take(_facilities(self.facility_list), c["facilities"])),
            "created": _instants(c["created"], offset_required=False)[0],
            "updated": _instants(c["updated"], offset_required=False)[0],
            "reasons": lists_of(repeat_reason, watchers),
        }  # fmt: skip
        table = model.arrow_table(columns, n)
        if bad.any():
            table = table.filter(pa.array(~bad))
        return model.to_pandas(table)


# The small fields of an item as one code: (eventType, visibilityType, isAllDay, isStartOnly) → bits. An item
# without end is start-only too: ``frame`` reads that from its null ``end_raw``.
ALL_DAY, START_ONLY, VISIBILITY_SHIFT = 1, 2, 2
_FLAG_FIELDS = operator.attrgetter("eventType", "visibilityType", "isAllDay", "isStartOnly")
_FLAGS = {
    (event_type, visibility, is_all_day, is_start_only): (
        (ALL_DAY if event_type == "ALL_DAY" or is_all_day is True else 0)
        | (START_ONLY if is_start_only is True else 0)
        | get_args(Visibility).index(visibility) << VISIBILITY_SHIFT
    )
    for event_type in (*get_args(EventType), None)
    for visibility in get_args(Visibility)
    for is_all_day in (True, False, None)
    for is_start_only in (True, False, None)
}


def _non_empty(values: pa.Array) -> pa.Array:
    """Return the strings with "" as null (Garoon's "no value")."""
    empty = pc.equal(values, "")
    if not pc.any(empty).as_py():
        return values
    return pc.if_else(empty, pa.scalar(None, pa.string()), values)


def _coalesce(values: pa.Array, fallback: pa.Array | pa.Scalar) -> pa.Array:
    """Return ``values`` with ``fallback`` where null."""
    return pc.coalesce(values, fallback) if values.null_count else values


def _all_day_dates(
    all_day: np.ndarray, start: pa.Array, start_text: pa.Array, end: pa.Array, end_text: pa.Array
) -> tuple[pa.Array, pa.Array]:
    """Return (first day, exclusive last day) of the all-day rows (null for the others), read on those rows only.

    The days come from the local date in the string itself: no zone arithmetic can move them. Garoon ends an
    all-day event at 23:59:59 of its last day; 00:00 of a later day (what some clients write) is exclusive.
    """
    rows = pa.array(np.flatnonzero(all_day))
    end_text = end_text.take(rows)
    first_day, last_day = _local_days(start_text.take(rows), start.take(rows)), _local_days(end_text, end.take(rows))
    midnight = pc.equal(pc.utf8_slice_codeunits(end_text, 11, 19), "00:00:00")
    next_day = pc.cast(pc.add(pc.cast(last_day, pa.int32()), pa.scalar(1, pa.int32())), pa.date32())
    exclusive_end = pc.if_else(pc.and_(midnight, pc.greater(last_day, first_day)), last_day, next_day)
    return _spread(first_day, all_day), _spread(exclusive_end, all_day)


def _take(structs: pa.StructArray, indices: pa.Array) -> pa.StructArray:
    """Return ``structs.take(indices)``; a field null in every struct (no e-mail yet...) is made, not gathered."""
    fields = []
    for k, field in enumerate(structs.type):
        values = structs.field(k)
        fields.append(pa.nulls(len(indices), field.type) if values.null_count == len(values) else values.take(indices))
    mask = pc.is_null(structs).take(indices) if structs.null_count else None
    return pa.StructArray.from_arrays(fields, fields=list(structs.type), mask=mask)


def _offsets(counts: pa.Array) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))])


def _people(people: Sequence[_Person | None]) -> pa.StructArray:
    """Return canonical PERSON structs of Garoon people (no e-mail yet: ``identity.resolve`` adds it)."""
    m = len(people)
    none = pa.nulls(m, pa.string())
    real = [p if p is not None else _Person() for p in people]
    return pa.StructArray.from_arrays(
        [
            none,
            strings([p.name for p in real]),
            strings([p.id for p in real]),
            strings([p.code for p in real]),
            none,
            strings(["ORGANIZATION" if p.type == "ORGANIZATION" else "USER" for p in real]),
            strings([_partstat(p.attendanceResponse) for p in real]),
            pa.repeat(pa.scalar(False), m),
        ],
        fields=list(model.PERSON),
        mask=pa.array([p is None for p in people], pa.bool_()),
    )


def _organizers(people: pa.StructArray) -> pa.StructArray:
    """Return ``people`` as organizers: always USER, and none for a creator that names nobody."""
    fields = people.flatten()
    fields[model.PERSON.get_field_index("type")] = pa.repeat(pa.scalar("USER"), len(people))
    named = [pc.is_valid(people.field(name)) for name in ("garoon_id", "garoon_code", "name")]
    nobody = pc.invert(pc.or_(pc.or_(named[0], named[1]), named[2]))
    return pa.StructArray.from_arrays(fields, fields=list(model.PERSON), mask=pc.or_(nobody, pc.is_null(people)))


def _partstat(response: _Response | None) -> str | None:
    return PARTSTAT.get(response.status) if response is not None and response.status else None


def _facilities(rooms: Sequence[_Facility | None]) -> pa.StructArray:
    """Return canonical FACILITY structs of Garoon facilities (no LINE WORKS resource yet)."""
    real = [f if f is not None else _Facility() for f in rooms]
    return pa.StructArray.from_arrays(
        [strings([f.name for f in real]), strings([f.id for f in real]), strings([f.code for f in real]),
         pa.nulls(len(rooms), pa.string())],
        fields=list(model.FACILITY),
    )  # fmt: skip


def _names_any(item: _Item, texts: set[bytes]) -> bool:
    """Return whether ``item`` names one of the person or facility ``texts``, or has a null attendee."""
    return (
        bytes(item.creator) in texts
        or any(bytes(p) in texts or bytes(p) == b"null" for p in item.attendees)
        or any(bytes(f) in texts for f in item.facilities)
    )


def _known_zones(zones: pa.Array) -> np.ndarray:
    encoded = pc.dictionary_encode(zones)
    known = np.array([known_zone(z) for z in encoded.dictionary.to_pylist()] + [False], bool)
    return known[np.asarray(pc.fill_null(encoded.indices, len(known) - 1), dtype=np.int64)]


#: An RFC 3339 date-time: the wall time, an optional fraction, and the offset.
RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$"
ISO_LOCAL = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?$"
#: Byte positions in ``YYYY-MM-DDThh:mm:ss±hh:mm`` (what Garoon writes): digits, and the separators.
DIGITS = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)
SEPARATORS = ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"))


def _instants(text: pa.Array, *, offset_required: bool = True) -> tuple[pa.Array, pa.Array]:
    """Return (UTC instants, the strings read) of RFC 3339 strings; null where a string is not a real time.

    Arrow parses and checks them (30 February, hour 25 and an offset of 99 hours are refused); a string of
    another shape is null. Without ``offset_required`` a time without offset is UTC (``createdAt``).
    """
    shaped, local = _common_shapes(text)
    if not offset_required:
        shaped |= local
    other = ~shaped & is_true(pc.is_valid(text))  # fractions of a second and odd strings: the full pattern
    if other.any():
        rest = pc.if_else(pa.array(other), text, pa.scalar(None, pa.string()))
        shaped |= is_true(pc.match_substring_regex(rest, RFC3339))
        if not offset_required:
            local |= is_true(pc.match_substring_regex(rest, ISO_LOCAL))
            shaped |= local
    chosen = only_where(text, shaped)
    if not offset_required and local.any():
        chosen = pc.if_else(pa.array(local), concat_text(chosen, "Z"), chosen)
    return cast_or_null(chosen, model.TIMESTAMP), chosen


def _local_days(chosen: pa.Array, instants: pa.Array) -> pa.Array:
    """Return the local dates of the strings :func:`_instants` read (null where it found no instant)."""
    local_days = cast_or_null(pc.utf8_slice_codeunits(chosen, 0, 10), pa.date32())
    return pc.if_else(pc.is_valid(instants), local_days, pa.scalar(None, pa.date32()))


def _common_shapes(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return (which strings are ``YYYY-MM-DDThh:mm:ssZ`` or ``...±hh:mm``, which ``YYYY-MM-DDThh:mm:ss``),
    read from the UTF-8 bytes with numpy (Arrow's regular expressions cost far more)."""
    n = len(text)
    if not n or text.buffers()[2] is None:
        return np.zeros(n, bool), np.zeros(n, bool)
    offsets = np.frombuffer(text.buffers()[1], np.int32)[text.offset : text.offset + n + 1]
    data = np.frombuffer(text.buffers()[2], np.uint8)
    if not len(data):
        return np.zeros(n, bool), np.zeros(n, bool)
    start, length = offsets[:-1].astype(np.int64), np.diff(offsets)
    last = len(data) - 1
    width = int(length[0])
    # The usual case, strings all of one length: their bytes are one (strings × width) block, no gather needed.
    block = data[offsets[0] : offsets[0] + n * width].reshape(n, width) if width and (length == width).all() else None

    def at(position: int) -> np.ndarray:
        if block is not None and position < width:
            return block[:, position]
        return data[np.minimum(start + position, last)]

    def digit(position: int) -> np.ndarray:
        return at(position) - np.uint8(48) <= 9  # unsigned: a byte below "0" wraps round to a large one

    base = (length >= 19) & is_true(pc.is_valid(text))
    for position in DIGITS:
        base &= digit(position)
    for position, char in SEPARATORS:
        base &= at(position) == ord(char)
    utc, offset = base & (length == 20), base & (length == 25)
    if utc.any():
        utc &= at(19) == ord("Z")
    if offset.any():
        sign = at(19)
        offset &= ((sign == ord("+")) | (sign == ord("-"))) & (at(22) == ord(":"))
        for position in (20, 21, 23, 24):
            offset &= digit(position)
    return utc | offset, base & (length == 19)


def _recurrence_ids(
    repeat_id: pa.Array, occurrence: np.ndarray, all_day: pa.Array, zone: pa.Array, bad: np.ndarray
) -> tuple[pa.Array, dict[int, str]]:
    """Return (canonical recurrence ids of the occurrences, the problem of each row that has one).

    A ``repeatId`` is the local start ``YYYYMMDDhhmm`` of the occurrence in the event's zone: all-day ones keep
    the day, timed ones become the UTC instant (UNCONFIRMED in the fact sheet; what the emulator does).
    """
    problems: dict[int, str] = {}
    rows = np.flatnonzero(occurrence)  # only these have a recurrence id: the rest are not read
    ids, all_day_rows = repeat_id.take(rows), is_true(all_day)[rows]
    digit_rows, digits = fixed_texts(ids, b"999999999999")
    shaped = np.zeros(len(rows), bool)
    shaped[digit_rows] = True
    for i in rows[~shaped]:
        problems[int(i)] = f"repeatId {repeat_id[int(i)].as_py()!r} is not 12 digits (YYYYMMDDhhmm)"
    days = shaped & all_day_rows
    timed = shaped & ~all_day_rows & ~bad[rows]
    text = pa.nulls(len(rows), pa.string())
    if timed.any():
        wall = fixed_width_text(laid_out(digits[timed[digit_rows]], "%Y-%m-%dT%H:%M:00", REPEAT_ID_FIELDS))
        local = _spread(cast_or_null(wall, pa.timestamp("s")), timed)
        real = is_true(pc.is_valid(local))
        for i in rows[timed & ~real]:
            problems[int(i)] = f"repeatId {repeat_id[int(i)].as_py()!r} is not a real date and time (YYYYMMDDhhmm)"
        text = format_seconds(
            *seconds_of(recurrence.localize_wall(local, zone.take(rows), timed & real)), recurrence.RECURRENCE_ID_UTC
        )
    return _spread(pc.if_else(pa.array(days), pc.utf8_slice_codeunits(ids, 0, 8), text), occurrence), problems


REPEAT_ID_FIELDS = {"Y": (0, 4), "m": (4, 6), "d": (6, 8), "H": (8, 10), "M": (10, 12)}  # of YYYYMMDDhhmm


def _spread(values: pa.Array, chosen: np.ndarray) -> pa.Array:
    """Return the values of the ``chosen`` rows (one per chosen row, in order) at those rows, null elsewhere."""
    return values.take(pa.array(np.cumsum(chosen) - 1, mask=~chosen))


# ---------------------------------------------------------------------- canonical -> Garoon


def garoon_zone(zone: str | None, default_zone: str = DEFAULT_ZONE) -> tuple[str, str | None]:
    """Return (a zone Garoon accepts, reason) for ``zone``; the instants are written with explicit offsets."""
    if zone in GAROON_SUPPORTED_TIMEZONES:
        return str(zone), None
    fallback = default_zone if default_zone in GAROON_SUPPORTED_TIMEZONES else "UTC"
    return fallback, f"time zone {zone!r} is not one Garoon accepts; written as {fallback} (same instants)"


def canonical_to_garoon(
    frame: pd.DataFrame,
    *,
    default_zone: str = DEFAULT_ZONE,
    fallback_attendee: dict[str, str] | None = None,
) -> model.Converted:
    """Return one Garoon create body per row (``sync_key``, ``payload`` JSON, ``reasons``).

    Series must be expanded first (:func:`calendar_etl.transforms.recurrence.expand_series`): Garoon's REST
    API cannot create repeating events. The sync key goes into ``additionalItems.item.value`` so a write can be
    found again after a crash. People without a Garoon id or code are listed in the notes (with a reason);
    ``fallback_attendee`` (``{"code": ...}``) attends events that would otherwise have nobody, since Garoon
    requires an attendee or a facility.
    """
    errors = ErrorCollector()
    series = frame["kind"].isin(["series", "exception"])
    work = drop_rows(
        frame.reset_index(drop=True), series.reset_index(drop=True), errors,
        ["is part of a series: expand it first (Garoon's REST API cannot create repeating events)"] * len(frame),
    )  # fmt: skip
    work = work[work["status"] != "CANCELLED"].reset_index(drop=True)
    if work.empty:
        return model.Converted(_payloads([], [], []), errors.frame())
    work = work.copy()
    zones = work["timezone"].astype(object).where(work["timezone"].notna(), default_zone)
    mapped = [garoon_zone(z, default_zone) for z in zones]
    zone_col = pd.Series([m[0] for m in mapped], index=work.index)
    model.add_reasons(work, [m[1] is not None for m in mapped], [m[1] or "" for m in mapped])
    start_text = rfc3339(work["start"], zone_col)
    end_text = rfc3339(work["end"], zone_col)
    payloads: list[str | None] = []
    reasons: list[list[str]] = []
    for i, row in enumerate(records(work)):
        if row.all_day:
            start, end = _all_day_bounds(row.start_date, row.end_date, zone_col.iat[i])
        else:
            start, end = start_text.iat[i], end_text.iat[i]
        body, extra = _garoon_body(row, start, end, zone_col.iat[i], fallback_attendee)
        if body is None:
            errors.add(row.source_key, extra[0])
            payloads.append(None)
        else:
            payloads.append(json.dumps(body, ensure_ascii=False))
        reasons.append([*(row.reasons if row.reasons is not None else []), *([] if body is None else extra)])
    keep = [p is not None for p in payloads]
    return model.Converted(
        _payloads(
            [k for k, ok in zip(work["sync_key"], keep, strict=True) if ok],
            [p for p in payloads if p is not None],
            [r for r, ok in zip(reasons, keep, strict=True) if ok],
        ),
        errors.frame(),
    )


def _all_day_bounds(first: dt.date, end: dt.date, zone: str) -> tuple[str, str]:
    """Return Garoon's all-day start and end: 00:00:00 of the first day, 23:59:59 of the last, in ``zone``.

    The days are the canonical dates themselves, so no zone can move them.
    """
    tz = recurrence.zone_of(zone)
    begin = dt.datetime.combine(first, dt.time(), tz)
    finish = dt.datetime.combine(end - dt.timedelta(days=1), dt.time(23, 59, 59), tz)
    return begin.isoformat(), finish.isoformat()


def _payloads(keys: Sequence[str], payloads: Sequence[str], reasons: Sequence[list[str]]) -> pd.DataFrame:
    return pd.DataFrame({"sync_key": list(keys), "payload": list(payloads), "reasons": list(reasons)})


def _garoon_body(
    row: Any, start: str, end: str, zone: str, fallback_attendee: dict[str, str] | None
) -> tuple[dict[str, Any] | None, list[str]]:
    reasons: list[str] = []
    notes = row.description or ""
    if isinstance(row.location, str) and row.location:
        notes = f"{notes}\n\nLocation: {row.location}".strip()
        reasons.append("location written into the notes (Garoon events have no location field)")
    attendees, unmapped = [], []
    for person in row.attendees if row.attendees is not None else []:
        ref = _garoon_ref(person)
        if ref is None:
            unmapped.append(person.get("name") or person.get("email") or "?")
        elif ref not in attendees:
            attendees.append(ref)
    if unmapped:
        notes = f"{notes}\n\nAttendees not in Garoon: {', '.join(unmapped)}".strip()
        reasons.append(f"{len(unmapped)} attendee(s) not in Garoon kept as text in the notes: {', '.join(unmapped)}")
    facilities, unbooked = [], []
    for facility in row.facilities if row.facilities is not None else []:
        if facility.get("garoon_id"):
            facilities.append({"id": facility["garoon_id"]})
        elif facility.get("garoon_code"):
            facilities.append({"code": facility["garoon_code"]})
        else:
            unbooked.append(facility.get("name") or facility.get("resource_id") or "?")
    if row.all_day and facilities:
        unbooked.extend(f.get("id") or f.get("code") for f in facilities)
        facilities = []
        reasons.append("Garoon cannot book a facility for an all-day event; facilities listed in the notes")
    if unbooked:
        notes = f"{notes}\n\nFacilities: {', '.join(map(str, unbooked))}".strip()
        if not row.all_day:
            reasons.append(
                f"{len(unbooked)} facility(ies) with no Garoon mapping kept as text: {', '.join(map(str, unbooked))}"
            )
    organizer = _garoon_ref(row.organizer) if row.organizer is not None else None
    if organizer is not None and organizer not in attendees:
        attendees.insert(0, organizer)  # the organizer finds the event in their own Garoon schedule
    if not attendees and not facilities:
        if fallback_attendee:
            attendees.append({"type": "USER", **fallback_attendee})
            reasons.append("no attendee maps to Garoon; the connection's user attends")
        else:
            return None, [
                "no attendee or facility maps to Garoon (it requires one); map the organizer or set a fallback attendee"
            ]
    body: dict[str, Any] = {
        "eventType": "ALL_DAY" if row.all_day else "REGULAR",
        "subject": row.summary or "",
        "notes": notes,
        "visibilityType": row.visibility or "PUBLIC",
        "start": {"dateTime": start, "timeZone": zone},
        "attendees": attendees,
        "additionalItems": {"item": {"value": row.sync_key}},
    }
    if isinstance(row.category, str) and row.category:
        body["eventMenu"] = row.category
    if row.start_only and not row.all_day and not facilities:
        body["isStartOnly"] = True
    else:
        body["end"] = {"dateTime": end, "timeZone": zone}
    if facilities:
        body["facilities"] = facilities
    return body, reasons


def _garoon_ref(person: dict[str, Any] | None) -> dict[str, str] | None:
    if not person:
        return None
    kind = "ORGANIZATION" if person.get("type") == "ORGANIZATION" else "USER"
    if person.get("garoon_id"):
        return {"type": kind, "id": str(person["garoon_id"])}
    if person.get("garoon_code"):
        return {"type": kind, "code": str(person["garoon_code"])}
    return None


def body_to_event(body: dict[str, Any], event_id: str) -> dict[str, Any]:
    """Return the event object Garoon stores for a create ``body`` (the shape :func:`garoon_to_canonical` reads).

    Used to read back what we would write without a server (round-trip tests, dry runs).
    """
    event = {**body, "id": event_id}
    if body.get("eventType") == "ALL_DAY":
        event["isAllDay"] = False
    event["attendees"] = [dict(a) for a in body.get("attendees", [])]
    return event
