"""LINE WORKS ``eventComponents`` ⇄ canonical rows.

Facts (``shared/reference/lineworks-api.md`` section 3): one event is a master component plus exception
components (``recurringEventId``) sharing one ``eventId``, written in one request; times are local
``YYYY-MM-DDThh:mm:ss`` (seconds required) with a separate IANA ``timeZone``; all-day events are
``{"date": ...}`` with an exclusive end; summary ≤ 200, location ≤ 100, description ≤ 5000 characters,
≤ 500 attendees, ≤ 100 recurrence lines, ≤ 100 reminders; SECONDLY/MINUTELY rules are refused.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from calendar_etl import model
from calendar_etl.transforms import recurrence
from calendar_etl.transforms.common import (
    ELLIPSIS,
    ErrorCollector,
    as_date,
    combine_codes,
    concat_text,
    drop_rows,
    first_of_each,
    first_per_group,
    fixed_width_text,
    format_seconds,
    is_true,
    join_parts,
    json_escaped,
    known_zone,
    last_per_group,
    list_array,
    literal_where,
    localize,
    map_text,
    only_where,
    rows_of,
    seconds_of,
    to_date32,
    truthy,
    wall_seconds,
)

SUMMARY_MAX_LEN = 200  # LINE WORKS event schema
LOCATION_MAX_LEN = 100  # LINE WORKS event schema
DESCRIPTION_MAX_LEN = 5000  # LINE WORKS event schema
ATTENDEES_MAX = 500  # LINE WORKS event schema
RECURRENCE_MAX = 100  # LINE WORKS event schema
REMINDERS_MAX = 100  # LINE WORKS event schema
UNSUPPORTED_FREQUENCIES = ("FREQ=SECONDLY", "FREQ=MINUTELY")  # refused by the calendar API
EVENT_ID_PREFIX = "cetl-"
INT32_MAX = 2**31 - 1  # RFC 5545 SEQUENCE as LINE WORKS stores it
LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S"


def event_id_for(sync_key: str) -> str:
    """Return the deterministic client ``eventId`` for a write unit, so a retried create cannot duplicate."""
    return EVENT_ID_PREFIX + hashlib.sha256(sync_key.encode("utf-8")).hexdigest()[:48]


def event_ids_for(sync_keys: list[str]) -> pa.Array:
    """Return :func:`event_id_for` of every key: the digests in one ``bytes.hex`` call, laid out with numpy."""
    sha256 = hashlib.sha256
    hexed = b"".join([sha256(k.encode("utf-8")).digest() for k in sync_keys]).hex().encode()
    prefix = EVENT_ID_PREFIX.encode()
    text = np.empty((len(sync_keys), len(prefix) + 48), np.uint8)
    text[:, : len(prefix)] = np.frombuffer(prefix, np.uint8)
    text[:, len(prefix) :] = np.frombuffer(hexed, np.uint8).reshape(-1, 64)[:, :48]  # 48 of the 64 hex digits
    return fixed_width_text(text)


def source_key(event_id: str, rid: str | None = None) -> str:
    """Return the canonical source key of a LINE WORKS event (or one exception of it)."""
    return f"lineworks:{event_id}" + (f":{rid}" if rid else "")


# ---------------------------------------------------------------------- LINE WORKS -> canonical


def lineworks_to_canonical(
    items: Iterable[dict[str, Any]], *, calendar_id: str | None = None, owner: dict[str, Any] | None = None
) -> model.Converted:
    """Return canonical rows for LINE WORKS event-list items (``{"eventComponents": [...]}``).

    :param items: ``events[]`` items of a list call, or get responses.
    :param calendar_id: the calendar they were read from (kept in ``lineworks_calendar_id``).
    :param owner: the calendar owner as a canonical person (the organizer when a component names none).
    """
    errors = ErrorCollector()
    rows: list[dict[str, Any]] = []
    for item in items:
        components = item.get("eventComponents") if isinstance(item, dict) else None
        if not isinstance(components, list) or not components:
            errors.add("lineworks:<item without eventComponents>", "eventComponents must be a non-empty array")
            continue
        cal = item.get("organizerCalendarId") or calendar_id
        for component in components:
            key = _component_key(component)
            row = errors.guard(key, functools.partial(_row, component, key, cal, owner))
            if row is not None:
                rows.append(row)
    return model.Converted(_frame(rows, errors), errors.frame())


def _component_key(component: Any) -> str:
    if not isinstance(component, dict):
        return "lineworks:<component that is not an object>"
    return source_key(str(component.get("eventId", "<no eventId>")), component.get("recurringEventId"))


def _row(component: dict[str, Any], key: str, calendar_id: str | None, owner: dict[str, Any] | None) -> dict[str, Any]:
    if not isinstance(component, dict):
        raise TypeError("component is not a JSON object")
    event_id = component.get("eventId")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("eventId must be a non-empty string")
    start, end = component.get("start"), component.get("end") or component.get("start")
    if not isinstance(start, dict) or not isinstance(end, dict):
        raise ValueError("start (and end) must be objects")
    all_day = "date" in start
    zone = start.get("timeZone")
    if not all_day and not isinstance(start.get("dateTime"), str):
        raise ValueError("start needs date or dateTime")
    if not all_day and not known_zone(zone):
        raise ValueError(f"unknown time zone {zone!r}")
    recurring = component.get("recurringEventId")
    lines = component.get("recurrence") or []
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        raise TypeError("recurrence must be an array of strings")
    rid = None
    if recurring:
        parsed = recurrence.parse_recurrence_id(str(recurring), recurrence.zone_of(zone) if zone else None)
        rid = recurrence.recurrence_id(parsed)
        if all_day and isinstance(parsed, dt.datetime):
            rid = rid[:8]
    kind = "exception" if recurring and not lines else ("series" if lines else "single")
    summary = component.get("summary", "")
    if not isinstance(summary, str):
        raise TypeError("summary must be a string")
    for name in ("description", "location"):
        if component.get(name) is not None and not isinstance(component[name], str):
            raise TypeError(f"{name} must be a string")
    organizer = component.get("organizer")
    attendees = component.get("attendees") or []
    if not isinstance(attendees, list) or not all(isinstance(a, dict) for a in attendees):
        raise TypeError("attendees must be an array of objects")
    people = [_person(a) for a in attendees if not a.get("isResource")]
    rooms = [
        {"name": a.get("displayName"), "garoon_id": None, "garoon_code": None, "resource_id": str(a.get("id"))}
        for a in attendees
        if a.get("isResource")
    ]
    reminders = component.get("reminders") or []
    if not isinstance(reminders, list) or not all(isinstance(r, dict) for r in reminders):
        raise TypeError("reminders must be an array of objects")
    return {
        "source_key": source_key(event_id, rid),
        "sync_key": source_key(event_id),
        "kind": "exception" if rid and kind != "series" else kind,
        "lineworks_event_id": event_id,
        "lineworks_calendar_id": calendar_id,
        "recurrence_id": rid if kind != "series" else None,
        "summary": summary,
        "description": component.get("description"),
        "location": component.get("location"),
        "all_day": all_day,
        "start_raw": start.get("date") if all_day else start.get("dateTime"),
        "end_raw": end.get("date") if all_day else end.get("dateTime"),
        "timezone": zone if not all_day else None,
        "end_zone": end.get("timeZone") or zone,
        "recurrence": list(lines),
        "visibility": _choice(component, "visibility", ("PUBLIC", "PRIVATE"), "PUBLIC"),
        "transparency": _choice(component, "transparency", ("OPAQUE", "TRANSPARENT"), "OPAQUE"),
        "organizer": _person(organizer) if isinstance(organizer, dict) else owner,
        "attendees": people,
        "facilities": rooms,
        "reminders": [_reminder(r) for r in reminders],
        "sequence": _sequence(component.get("sequence", 0)),
    }


def _choice(raw: dict[str, Any], name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    value = raw.get(name, default)
    if value is not None and value not in allowed:
        raise ValueError(f"{name} {value!r} is not one of {', '.join(allowed)}")
    return value


def _sequence(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT32_MAX:
        raise ValueError(f"sequence {value!r} is not an integer from 0 to {INT32_MAX}")
    return value


def _reminder(raw: dict[str, Any]) -> dict[str, Any]:
    trigger = raw.get("trigger")
    if trigger is not None and not isinstance(trigger, str):
        raise TypeError(f"reminders[].trigger {trigger!r} must be a string")
    return {"method": _choice(raw, "method", ("DISPLAY", "EMAIL"), None), "trigger": trigger}


def _person(raw: dict[str, Any]) -> dict[str, Any]:
    email = raw.get("email")
    name = raw.get("displayName")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"attendees[].displayName {name!r} must be a string")
    optional = raw.get("isOptional", False)
    if not isinstance(optional, bool):
        raise TypeError(f"attendees[].isOptional {optional!r} must be a boolean")
    return {
        "email": email.lower() if isinstance(email, str) else None,
        "name": name,
        "garoon_id": None,
        "garoon_code": None,
        "lineworks_id": None,
        "type": "USER",
        "partstat": _choice(raw, "partstat", ("NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE"), None),
        "optional": optional,
    }


def _frame(rows: list[dict[str, Any]], errors: ErrorCollector) -> pd.DataFrame:
    if not rows:
        return model.empty()
    raw = pd.DataFrame(rows)
    all_day = raw["all_day"].astype(bool)
    zones = raw["timezone"].where(~all_day, "UTC").fillna("UTC")
    end_zones = raw["end_zone"].where(~all_day, "UTC").fillna("UTC")
    bad_end_zone = ~end_zones.map(known_zone)
    end_zones = end_zones.where(~bad_end_zone, zones)
    timed_text = raw["start_raw"].where(~all_day, "2000-01-01T00:00:00")
    start = localize(timed_text.str.replace("T", " ", regex=False), zones)
    end = localize(raw["end_raw"].where(~all_day, "2000-01-01T00:00:00").str.replace("T", " ", regex=False), end_zones)
    wrong_shape = ~all_day & ~(
        raw["start_raw"].str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
        & raw["end_raw"].str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
    )
    first_day, end_day = as_date(raw["start_raw"].where(all_day)), as_date(raw["end_raw"].where(all_day))
    bad = (~all_day & (start.isna() | end.isna() | (end < start) | wrong_shape.fillna(True))) | (
        all_day & (first_day.isna() | end_day.isna() | (end_day <= first_day))
    )
    problems = [
        f"start {s!r} / end {e!r}: not valid local times (YYYY-MM-DDThh:mm:ss) or dates, or end is not after start"
        for s, e in zip(raw["start_raw"], raw["end_raw"], strict=True)
    ]
    keep = ~bad
    raw = drop_rows(raw, bad, errors, problems)
    start, end = start[keep].reset_index(drop=True), end[keep].reset_index(drop=True)
    first_day, end_day = first_day[keep].reset_index(drop=True), end_day[keep].reset_index(drop=True)
    all_day = raw["all_day"].astype(bool)
    columns = {name: raw[name] for name in raw.columns if name in model.COLUMNS}
    columns.update(
        source_system=["lineworks"] * len(raw),
        start=start.where(~all_day),
        end=end.where(~all_day),
        start_only=[False] * len(raw),
        start_date=to_date32(first_day.where(all_day)),
        end_date=to_date32(end_day.where(all_day)),
    )
    return model.from_columns(columns, len(raw))


# ---------------------------------------------------------------------- canonical -> LINE WORKS


def prepare_for_lineworks(frame: pd.DataFrame, window: tuple[dt.datetime, dt.datetime] | None) -> model.Converted:
    """Return ``frame`` with every series LINE WORKS cannot hold expanded into occurrences (with the reason).

    A series LINE WORKS refuses (a SECONDLY/MINUTELY rule, more than 100 recurrence lines once EXDATE lines are
    merged) is expanded over ``window``; without a window such series are errors.
    """
    series = frame.loc[(frame["kind"] == "series").fillna(False).to_numpy(dtype=bool), ["sync_key", "recurrence"]]
    refused: dict[str, str] = {}
    for key, lines in zip(series["sync_key"].tolist(), series["recurrence"].tolist(), strict=True):
        body = recurrence.merge_exdates([x for x in lines if not x.upper().startswith(recurrence.DTSTART_PREFIX)])
        if any(f in x.upper() for x in body for f in UNSUPPORTED_FREQUENCIES):
            refused[key] = (
                "recurrence rule is SECONDLY/MINUTELY, which LINE WORKS refuses; series expanded into occurrences"
            )
        elif len(body) > RECURRENCE_MAX:
            refused[key] = (
                f"{len(body)} recurrence lines exceed LINE WORKS' {RECURRENCE_MAX}; series expanded into occurrences"
            )
    if not refused:
        return model.Converted(frame)
    chosen = frame["sync_key"].isin(list(refused))
    if window is None:
        errors = ErrorCollector()
        rest = drop_rows(frame.reset_index(drop=True), chosen.reset_index(drop=True), errors,
                         [refused.get(k, "") + " (no window given to expand in)" for k in frame["sync_key"]])  # fmt: skip
        return model.Converted(rest, errors.frame())
    converted = [
        recurrence.expand_series(frame[chosen & frame["sync_key"].eq(key)], *window, reason)
        for key, reason in refused.items()
    ]
    return model.Converted(
        model.concat([frame[~chosen], *(c.events for c in converted)]),
        pd.concat([c.errors for c in converted], ignore_index=True),
    )


def canonical_to_lineworks(frame: pd.DataFrame) -> model.Converted:
    """Return one LINE WORKS write per ``sync_key``: ``sync_key``, ``event_id``, ``owner``, ``payload``, ``reasons``.

    ``payload`` is the JSON body (``{"eventComponents": [...]}``, master first, then exceptions); ``owner`` is
    the e-mail of the organizer whose calendar gets the event (the first mapped attendee when the organizer
    has no LINE WORKS account, None when nobody maps). Text over a limit is cut with a visible ellipsis,
    attendees past 500 and people without an e-mail are listed in the description, facilities without a
    resource id go into the location; each with a reason. Cancelled exceptions become EXDATEs; a cancelled
    single event has no payload (the plan deletes it if we wrote it). Run :func:`prepare_for_lineworks` first.

    The payload is exactly the text ``json.dumps(body, ensure_ascii=False)`` gives (its SHA-256 is the content
    hash the ledger keeps), but it is written column-wise: each field of every component at once with Arrow
    string kernels, then each write's components joined. Only series (their recurrence lines) and exceptions
    are written one by one.
    """
    errors = ErrorCollector()
    if frame.empty:
        return model.Converted(_writes_frame(NONE_TEXT, NONE_TEXT, NONE_TEXT, NONE_TEXT, NO_REASONS), errors.frame())
    return _Writes(model.to_arrow(frame.reset_index(drop=True)), errors).converted()


NONE = pa.scalar(None, pa.string())
NONE_TEXT = pa.array([], pa.string())
NO_REASONS = pa.array([], pa.list_(pa.string()))


class _Writes:
    """The rows of one ``canonical_to_lineworks`` call: each row's component as JSON text, then the writes.

    A row is an uncollapsed occurrence (an error), a cancelled exception (an EXDATE of its series), another
    cancelled row (a write without payload), or a component. Rows sharing a ``sync_key`` make one write.
    """

    def __init__(self, table: pa.Table, errors: ErrorCollector) -> None:
        self.errors = errors
        self.n = table.num_rows
        self.c = {name: model.one_array(table[name]) for name in table.column_names}
        kind, status = self.c["kind"], self.c["status"]
        self.occurrence = is_true(pc.equal(kind, "occurrence"))
        self.exception = is_true(pc.equal(kind, "exception"))
        self.series = is_true(pc.equal(kind, "series"))
        cancelled = is_true(pc.equal(status, "CANCELLED")) & ~self.occurrence
        self.cancelled_exception = cancelled & self.exception
        self.cancelled_event = cancelled & ~self.exception
        self.component = ~self.occurrence & ~cancelled
        for key in self.c["source_key"].filter(pa.array(self.occurrence)).to_pylist():
            errors.add(str(key), "an uncollapsed occurrence: run collapse_occurrences first")
        encoded = pc.dictionary_encode(self.c["sync_key"])
        self.unit = np.asarray(encoded.indices, dtype=np.int64)
        self.key_array = encoded.dictionary
        self.keys: list[str] = encoded.dictionary.to_pylist()
        self.event_ids = event_ids_for(self.keys)
        # A component row that is the only row of its unit is its write's whole payload.
        self.alone = self.component & (np.bincount(self.unit, minlength=len(self.keys))[self.unit] == 1)
        self.recurring_ids: dict[int, str] = {}
        self.people_row = rows_of(self.c["attendees"])
        self.people = _fields(self.c["attendees"].flatten(), model.PERSON)
        #: Reasons each row adds, in the order the conversion of a row adds them (after the row's own).
        self.reasons: list[pa.Array] = []

    # -- one component per row -------------------------------------------------------------------

    def components(self) -> pa.Array:
        """Return each row's component as JSON text (meaningful for component rows)."""
        c = self.c
        summary, summary_cut = _cut(pc.fill_null(c["summary"], ""), SUMMARY_MAX_LEN, "summary")
        location, location_cut = _cut(pc.fill_null(c["location"], ""), LOCATION_MAX_LEN, "location")
        self.reasons += [summary_cut, location_cut]  # every row's, as reasons of the row itself
        all_day = is_true(c["all_day"])
        zone = pc.if_else(pa.array(~all_day & is_true(pc.is_valid(c["timezone"]))), c["timezone"], "UTC")
        people, unmapped_people, people_reasons = self._people()
        rooms, unmapped_rooms, room_reason = self._rooms()
        description = _append_text(pc.fill_null(c["description"], ""), unmapped_people, "Attendees not in LINE WORKS: ")
        has_location = pc.not_equal(location, "")
        description = _append_text(description, only_where(unmapped_rooms, truthy(location)), "Facilities: ")
        location = pc.if_else(pc.and_(pc.is_valid(unmapped_rooms), pc.invert(has_location)), unmapped_rooms, location)
        description, description_cut = _cut(description, DESCRIPTION_MAX_LEN, "description")
        location, final_location_cut = _cut(location, LOCATION_MAX_LEN, "location")
        reminders, reminders_cut = self._reminders()
        for reason in (*people_reasons, room_reason, description_cut, final_location_cut, reminders_cut):
            self.reasons.append(only_where(reason, self.component))
        zone_end = map_text(zone, lambda z: '", "timeZone": ' + json.dumps(z, ensure_ascii=False) + "}")
        zone_end = only_where(zone_end, ~all_day)  # after the local time of the start and of the end
        # One pass writes every row's text: a field that only some rows have is a part that is "" elsewhere.
        # The row that is the whole of its write is wrapped as the payload here, so it is copied only once.
        return join_parts(
            literal_where('{"eventComponents": [', self.alone),
            '{"eventId": "', self.event_ids.take(pa.array(self.unit)),
            '", "summary": "', json_escaped(summary), '", "start": ', *_time(c["start"], c["start_date"], zone, all_day, zone_end),
            ', "end": ', *_time(c["end"], c["end_date"], zone, all_day, zone_end),
            *_text_parts(', "description": ', description, truthy(description)),
            *_text_parts(', "location": ', location, truthy(location)),
            *_list_parts(', "attendees": ', people, rooms),
            map_text(c["visibility"], functools.partial(_member, ', "visibility": ')),
            map_text(c["transparency"], functools.partial(_member, ', "transparency": ')),
            *_list_parts(', "reminders": ', reminders),
            self._rules(zone, all_day),
            "}",
            literal_where("]}", self.alone),
        )  # fmt: skip

    def _people(self) -> tuple[pa.ListArray, pa.Array, list[pa.Array]]:
        """Return (attendee items per row, names listed as text per row or null, reasons).

        A person without an e-mail is listed by name; an address already on the event is skipped; past 500 the
        rest are listed by name too, after those without an e-mail.
        """
        row, people = self.people_row, self.people
        email, name = people["email"], people["name"]
        has_email = truthy(email)
        email_code = _codes(email)
        listed = has_email & _first_of_pair(row, email, email_code)
        rank = _rank_within(row, listed, ATTENDEES_MAX)
        overflow = listed & (rank >= ATTENDEES_MAX)
        listed &= rank < ATTENDEES_MAX
        # The same few hundred people come back on event after event: each distinct item is written once.
        described = (email, name, people["partstat"], people["optional"])
        item = combine_codes([email_code[listed], *(_codes(f)[listed] for f in described[1:])])
        one = pa.array(np.flatnonzero(listed)[first_of_each(item)])
        one_email, one_name, partstat, optional = (f.take(one) for f in described)
        items = join_parts(
            '{"email": "', json_escaped(one_email), '"', *_text_parts(', "displayName": ', one_name, truthy(one_name)),
            map_text(partstat, functools.partial(_member, ', "partstat": ')),
            literal_where(', "isOptional": true', is_true(optional)), "}",
        ).take(pa.array(item))  # fmt: skip
        nameless, past = ~has_email, pa.array(overflow)
        unmapped_row = np.concatenate([row[nameless], row[overflow]])
        fields = [people[k].filter(pa.array(nameless)) for k in ("name", "garoon_code", "garoon_id")]
        unmapped = pa.concat_arrays([_first_set(*fields, "?"), _first_set(name.filter(past), email.filter(past))])
        order = np.argsort(unmapped_row, kind="stable")
        names = _joined(_lists(unmapped_row[order], unmapped.take(pa.array(order)), self.n), ", ")
        count = np.bincount(unmapped_row, minlength=self.n)
        beyond = np.bincount(row[overflow], minlength=self.n)
        reasons = [
            _message(beyond > 0, beyond, f" attendees past LINE WORKS' {ATTENDEES_MAX} listed in the description"),
            _message(count > 0, count, " attendee(s) without a LINE WORKS account kept as text: ", names),
        ]
        return _lists(row[listed], items, self.n), names, reasons

    def _rooms(self) -> tuple[pa.ListArray, pa.Array, pa.Array]:
        """Return (room items per row, names of facilities without a resource per row or null, reason)."""
        lists = self.c["facilities"]
        row = rows_of(lists)
        rooms = _fields(lists.flatten(), model.FACILITY)
        name = rooms["name"]
        booked = truthy(rooms["resource_id"])
        items = join_parts(
            '{"id": "', json_escaped(rooms["resource_id"]), '", "isResource": true',
            *_text_parts(', "displayName": ', name, truthy(name)), "}",
        )  # fmt: skip
        missing = ~booked
        names = _joined(
            _lists(row[missing], _first_set(name, rooms["garoon_code"], "?").filter(pa.array(missing)), self.n), ", "
        )
        count = np.bincount(row[missing], minlength=self.n)
        reason = _message(count > 0, count, " facility(ies) without a LINE WORKS resource written as text: ", names)
        return _lists(row[booked], items.filter(pa.array(booked)), self.n), names, reason

    def _reminders(self) -> tuple[pa.ListArray, pa.Array]:
        """Return (reminder items per row, at most 100; reason where more were cut)."""
        lists = self.c["reminders"]
        row = rows_of(lists)
        reminders = _fields(lists.flatten(), model.REMINDER)
        method, trigger = reminders["method"], reminders["trigger"]
        has_method, has_trigger = is_true(pc.is_valid(method)), is_true(pc.is_valid(trigger))
        items = join_parts(
            "{", *_text_parts('"method": ', method, has_method), literal_where(", ", has_method & has_trigger),
            *_text_parts('"trigger": ', trigger, has_trigger), "}",
        )  # fmt: skip
        kept = _rank_within(row, np.ones(len(row), bool), REMINDERS_MAX) < REMINDERS_MAX
        count = np.bincount(row, minlength=self.n)
        reason = _message(count > REMINDERS_MAX, count, f" reminders cut to LINE WORKS' {REMINDERS_MAX}")
        return _lists(row[kept], items.filter(pa.array(kept)), self.n), reason

    def _rules(self, zone: pa.Array, all_day: np.ndarray) -> pa.Array:
        """Return ``, "recurrence": [...]`` of series and ``, "recurringEventId": ...`` of exceptions (else "").

        There are few of them, so they are written one by one with the functions the rest of the package uses.
        """
        c = self.c
        out: list[str | None] = [None] * self.n
        series = np.flatnonzero(self.component & self.series)
        for i, lines in zip(series, c["recurrence"].take(pa.array(series)).to_pylist(), strict=True):
            body = [x for x in lines or [] if not x.upper().startswith(recurrence.DTSTART_PREFIX)]
            out[i] = ', "recurrence": ' + json.dumps(recurrence.merge_exdates(body), ensure_ascii=False)
        exceptions = np.flatnonzero(self.component & self.exception)
        rids = c["recurrence_id"].take(pa.array(exceptions)).to_pylist()
        zones = zone.take(pa.array(exceptions)).to_pylist()
        for i, rid, zone_name in zip(exceptions, rids, zones, strict=True):
            self.recurring_ids[int(i)] = _recurring_event_id(rid, zone_name, bool(all_day[i]))
            out[i] = ', "recurringEventId": ' + json.dumps(self.recurring_ids[int(i)], ensure_ascii=False)
        return pa.array(out, pa.string())

    # -- owners --------------------------------------------------------------------------------

    def _owners(self, deciding: np.ndarray) -> tuple[pa.Array, pa.Array]:
        """Return (owner e-mail, reason of the deciding rows) of each row: the organizer if LINE WORKS knows
        them, else the first attendee who has an account."""
        organizer = _fields(self.c["organizer"], model.PERSON)
        row, people = self.people_row, self.people
        candidate = np.flatnonzero(truthy(people["email"]) & is_true(pc.equal(people["type"], "USER")))
        first = np.full(self.n, -1, np.int64)
        rows_with, at = np.unique(row[candidate], return_index=True)
        first[rows_with] = candidate[at]
        attendee = people["email"].take(pa.array(np.maximum(first, 0), mask=first < 0))
        own = truthy(organizer["email"])
        who = _first_set(organizer["name"], organizer["garoon_code"], "the organizer")
        moved = concat_text(who, " has no LINE WORKS account; the event is in ", attendee, "'s calendar")
        reason = only_where(
            pc.coalesce(moved, pa.scalar("nobody on the event has a LINE WORKS account")), ~own & deciding
        )
        return pc.coalesce(only_where(organizer["email"], own), attendee), reason

    # -- the writes ----------------------------------------------------------------------------

    def converted(self) -> model.Converted:
        components = self.components()
        n, unit, units = self.n, self.unit, len(self.keys)
        rows = np.arange(n)
        # A unit is written when a row other than an occurrence or a cancelled exception names it, in that order.
        opening = self.component | self.cancelled_event
        first_row = first_per_group(unit, units, opening)
        written = np.flatnonzero(first_row < n)
        written = written[np.argsort(first_row[written], kind="stable")]
        position = np.full(units, -1, np.int64)
        position[written] = np.arange(len(written))
        # The owner: a unit's first component decides, and each series row decides again.
        first_component = first_per_group(unit, units, self.component)
        deciding = self.component & ((rows == first_component[unit]) | self.series)
        owner, owner_reason = self._owners(deciding)
        cancelled_reason = only_where(pa.repeat(pa.scalar("cancelled in the source"), n), self.cancelled_event)
        self.reasons += [cancelled_reason, owner_reason]
        last = last_per_group(unit, units, deciding)
        owners = owner.take(pa.array(np.maximum(last, 0), mask=last < 0)).take(pa.array(written))
        payloads = self._payloads(components, position, len(written))
        return model.Converted(
            _writes_frame(
                self.key_array.take(pa.array(written)),
                self.event_ids.take(pa.array(written)),
                owners,
                payloads,
                self._unit_reasons(position, len(written)),
            ),
            self.errors.frame(),
        )

    def _payloads(self, components: pa.Array, position: np.ndarray, count: int) -> pa.Array | pa.ChunkedArray:
        """Return each write's payload: its components, master first, exceptions by recurrence id."""
        unit = self.unit
        rows = np.flatnonzero(self.component & ~self.alone)  # the others are their payloads already
        rank = np.zeros(self.n, np.int64)  # exceptions by recurrence id, in text order
        if self.recurring_ids:
            exceptions = np.array(list(self.recurring_ids), np.int64)
            rank[exceptions] = _ranks(np.array(list(self.recurring_ids.values()), object))
        rows = rows[np.lexsort((rank[rows], self.exception[rows], position[unit[rows]]))]
        starts = np.r_[True, unit[rows][1:] != unit[rows][:-1]] if len(rows) else np.zeros(0, bool)
        masters = rows[starts]
        master_of = masters[np.cumsum(starts) - 1]
        # Cancelled exceptions become EXDATE lines of their master (few: one by one).
        cancelled: dict[int, list[dt.datetime | dt.date]] = {}
        for i, rid in zip(np.flatnonzero(self.cancelled_exception),
                          self.c["recurrence_id"].filter(pa.array(self.cancelled_exception)).to_pylist(), strict=True):  # fmt: skip
            cancelled.setdefault(int(unit[i]), []).append(recurrence.parse_recurrence_id(rid))
        patched = {int(m): _with_exdates(components[int(m)].as_py(), cancelled[int(unit[m])])
                   for m in masters if int(unit[m]) in cancelled}  # fmt: skip
        carries_rule = self.series.copy()
        carries_rule[list(patched)] = True
        lone = ~carries_rule[master_of] & (rows != master_of)
        for i in rows[lone]:
            self.errors.add(f"{self.keys[unit[i]]}:{self.recurring_ids.get(int(i))}",
                            "an exception whose series is not in this run; written with the series only")  # fmt: skip
        rows = rows[~lone]
        if patched:
            mask = np.zeros(self.n, bool)
            mask[list(patched)] = True
            components = pc.replace_with_mask(
                components, pa.array(mask), pa.array([patched[int(i)] for i in np.flatnonzero(mask)], pa.string())
            )
        target = position[unit[rows]]
        body = _joined(_lists(target, components.take(pa.array(rows)), count), ", ")
        grouped = concat_text('{"eventComponents": [', body, "]}")
        alone = np.flatnonzero(self.alone)
        if not len(alone):
            return grouped
        row = np.full(count, -1)
        row[position[unit[alone]]] = alone
        return _gathered(components, row, grouped)

    def _unit_reasons(self, position: np.ndarray, count: int) -> pa.ListArray:
        """Return each write's reasons: every row's, in row order (a row's own first), each once."""
        own = self.c["reasons"].flatten()
        rows, values, column = [rows_of(self.c["reasons"])], [own], [np.zeros(len(own), np.int64)]
        for k, reasons in enumerate(self.reasons, 1):  # mostly empty: only rows that add one are read
            if reasons.null_count == len(reasons):
                continue
            valid = is_true(pc.is_valid(reasons))
            rows.append(np.flatnonzero(valid))
            values.append(reasons.filter(pa.array(valid)))
            column.append(np.full(len(rows[-1]), k, np.int64))
        row, col = np.concatenate(rows), np.concatenate(column)
        order = np.argsort(row * (len(self.reasons) + 1) + col, kind="stable")
        target = position[self.unit[row[order]]]
        text = pa.concat_arrays(values).take(pa.array(order))
        chosen = (target >= 0) & _first_of_pair(target, text)
        order = np.argsort(target[chosen], kind="stable")
        return _lists(target[chosen][order], text.filter(pa.array(chosen)).take(pa.array(order)), count)


def _gathered(text: pa.Array, row: np.ndarray, other: pa.Array) -> pa.ChunkedArray:
    """Return, for each ``i``, ``text[row[i]]``, or ``other[i]`` where ``row[i]`` is -1, without copying the text:
    as slices, one per run of consecutive rows (the payloads are most of the bytes the conversion writes)."""
    from_text = row >= 0
    starts = np.flatnonzero(np.r_[True, (np.diff(row) != 1) | (from_text[1:] != from_text[:-1])])
    ends = np.r_[starts[1:], len(row)]
    chunks = [text.slice(row[a], b - a) if from_text[a] else other.slice(a, b - a) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]  # fmt: skip
    return pa.chunked_array(chunks, pa.string())


def _writes_frame(
    keys: pa.Array, event_ids: pa.Array, owners: pa.Array, payloads: pa.Array | pa.ChunkedArray, reasons: pa.ListArray
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sync_key": keys.to_pandas(),
            "event_id": event_ids.to_pandas(),
            "owner": owners.to_pandas(),
            "payload": payloads.to_pandas(),
            "reasons": pd.Series(pd.arrays.ArrowExtensionArray(reasons)),  # the canonical ``reasons`` type
        }
    )


def _with_exdates(component_text: str, cancelled: list[dt.datetime | dt.date]) -> str:
    """Return a master component (JSON text) with its cancelled occurrences added as EXDATE lines."""
    component = json.loads(component_text)
    component.setdefault("recurrence", []).append(recurrence.exdate_line(cancelled, component["start"].get("timeZone")))
    component["recurrence"] = recurrence.merge_exdates(component["recurrence"])
    return json.dumps(component, ensure_ascii=False)


def _time(
    instant: pa.Array, day: pa.Array, zone: pa.Array, all_day: np.ndarray, zone_end: pa.Array
) -> tuple[pa.Array, ...]:
    """Return the parts (see ``join_parts``) of ``{"dateTime": local time, "timeZone": zone}`` for timed rows and
    ``{"date": ...}`` for all-day rows; ``zone_end`` is the text after the local time (``", "timeZone": ...}``),
    the same for the start and the end."""
    seconds, valid = wall_seconds(instant, zone)
    local = format_seconds(seconds, valid & ~all_day, LOCAL_FORMAT)
    seconds, valid = seconds_of(day)
    days = format_seconds(seconds, valid & all_day, "%Y-%m-%d")
    return (literal_where('{"dateTime": "', ~all_day), local, zone_end,
            literal_where('{"date": "', all_day), days, literal_where('"}', all_day))  # fmt: skip


def _member(prefix: str, value: str | None) -> str | None:
    """Return ``prefix`` and the JSON text of a set value (of a column with few values), None when unset."""
    return prefix + json.dumps(value, ensure_ascii=False) if value else None


def _fields(structs: pa.StructArray, kind: pa.StructType) -> dict[str, pa.Array]:
    """Return a struct array's fields by name (null where the struct is null)."""
    return dict(zip(kind.names, structs.flatten(), strict=True))


def _cut(values: pa.Array, limit: int, name: str) -> tuple[pa.Array, pa.Array]:
    """Return (text cut to ``limit`` characters with a visible ellipsis, the reason where it was cut)."""
    length = pc.utf8_length(values)
    over = is_true(pc.greater(length, limit))
    if not over.any():
        return values, pa.nulls(len(values), pa.string())
    chosen = pa.array(over)
    cut = concat_text(pc.utf8_slice_codeunits(values.filter(chosen), 0, limit - len(ELLIPSIS)), ELLIPSIS)
    reasons = [
        f"{name} of {n} characters truncated to {limit} (LINE WORKS limit)" for n in length.filter(chosen).to_pylist()
    ]
    return pc.replace_with_mask(values, chosen, cut), pc.replace_with_mask(
        pa.nulls(len(values), pa.string()), chosen, pa.array(reasons, pa.string())
    )


def _append_text(text: pa.Array, extra: pa.Array, label: str) -> pa.Array:
    """Return ``f"{text}\\n\\n{label}{extra}".strip()`` where ``extra`` is set, ``text`` elsewhere."""
    chosen = is_true(pc.is_valid(extra))
    if not chosen.any():
        return text
    joined = concat_text(text.filter(pa.array(chosen)), "\n\n" + label, extra.filter(pa.array(chosen)))
    stripped = pa.array([s.strip() for s in joined.to_pylist()], pa.string())  # Python's idea of whitespace
    return pc.replace_with_mask(text, pa.array(chosen), stripped)


def _text_parts(prefix: str, values: pa.Array, present: np.ndarray) -> tuple[pa.Array, ...]:
    """Return the parts (see ``join_parts``) of ``prefix`` and the JSON text of each value where ``present``."""
    return literal_where(prefix + '"', present), json_escaped(only_where(values, present)), literal_where('"', present)


def _list_parts(prefix: str, *lists: pa.ListArray) -> list[pa.Array]:
    """Return the parts (see ``join_parts``) of ``prefix`` and ``[item, item]`` (the items of ``lists`` one after
    another) for rows with items; nothing for rows without."""
    parts: list[pa.Array] = []
    before = np.zeros(len(lists[0]), bool)
    for items in lists:
        has = is_true(pc.greater(pc.list_value_length(items), 0))
        parts += [literal_where(", ", before & has), pc.binary_join(items, ", ")]
        before |= has
    return [literal_where(prefix + "[", before), *parts, literal_where("]", before)]


def _first_set(*candidates: pa.Array | str) -> pa.Array:
    """Return, per row, the first candidate that is set (not null, not empty), as Python's ``a or b or c``."""
    *arrays, last = candidates
    fallback = last if isinstance(last, pa.Array) else pa.scalar(last, pa.string())
    return pc.coalesce(*(only_where(a, truthy(a)) for a in arrays if isinstance(a, pa.Array)), fallback)


def _message(mask: np.ndarray, count: np.ndarray, text: str, names: pa.Array | None = None) -> pa.Array:
    """Return ``f"{count}{text}{names}"`` where ``mask`` holds, null elsewhere."""
    parts: list[pa.Array | str] = [pa.array(count).cast(pa.string()), text]
    if names is not None:
        parts.append(pc.fill_null(names, ""))
    if not mask.any():
        return pa.nulls(len(mask), pa.string())
    return only_where(concat_text(*parts), mask)


def _lists(target: np.ndarray, values: pa.Array, count: int) -> pa.ListArray:
    """Return ``count`` lists holding ``values``, value ``i`` in list ``target[i]`` (``target`` ascending)."""
    return list_array(np.concatenate([[0], np.cumsum(np.bincount(target, minlength=count))]), values)


def _joined(lists: pa.ListArray, separator: str) -> pa.Array:
    """Return each list's items joined by ``separator``; null for an empty list."""
    lengths = pc.fill_null(pc.list_value_length(lists), 0)
    return only_where(pc.binary_join(lists, separator), is_true(pc.greater(lengths, 0)))


def _join_lists(first: pa.ListArray, second: pa.ListArray) -> pa.ListArray:
    """Return, per row, the items of ``first`` then those of ``second``."""
    a, b = rows_of(first), rows_of(second)
    row = np.concatenate([a, b])
    order = np.argsort(row, kind="stable")
    return _lists(row[order], pa.concat_arrays([first.flatten(), second.flatten()]).take(pa.array(order)), len(first))


def _rank_within(row: np.ndarray, chosen: np.ndarray, limit: int) -> np.ndarray:
    """Return each chosen value's position among the chosen values of its row (``row`` ascending); all 0 when
    no row has more than ``limit`` chosen values (only positions from ``limit`` on matter to the callers)."""
    if not len(row) or np.bincount(row[chosen]).max(initial=0) <= limit:
        return np.zeros(len(row), np.int64)
    counted = np.cumsum(chosen) - chosen  # chosen values before this one, in all rows
    start = np.zeros(row.max() + 2, np.int64)
    firsts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    start[row[firsts]] = counted[firsts]
    return counted - start[row]


def _first_of_pair(row: np.ndarray, values: pa.Array, codes: np.ndarray | None = None) -> np.ndarray:
    """Return where a value appears for the first time in its row (nulls are all one value); ``codes`` are the
    values' :func:`_codes` when the caller has them."""
    codes = _codes(values) if codes is None else codes
    return ~pd.Series(row * (codes.max(initial=0) + 1) + codes).duplicated().to_numpy()


def _codes(values: pa.Array) -> np.ndarray:
    """Return a number per value, equal for equal values: 0 for null, from 1 in order of first appearance."""
    return np.asarray(pc.fill_null(pc.dictionary_encode(values).indices, -1), np.int64) + 1


def _ranks(texts: np.ndarray) -> np.ndarray:
    """Return the rank of each string in sorted order (equal strings share one)."""
    return np.unique(texts.astype(str), return_inverse=True)[1].reshape(-1) if len(texts) else np.zeros(0, np.int64)


def _recurring_event_id(rid: str, zone: str, all_day: bool) -> str:
    if all_day or len(rid) == 8:
        return rid[:8]
    instant = recurrence.parse_recurrence_id(rid)
    assert isinstance(instant, dt.datetime)
    return f"TZID={zone}:{instant.astimezone(recurrence.zone_of(zone)):%Y%m%dT%H%M%S}"
