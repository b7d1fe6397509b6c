"""iCalendar (RFC 5545) files ⇄ canonical rows, through the ``icalendar`` library.

What real files contain and this module handles: several VEVENTs (and several VCALENDARs) in one file,
VTIMEZONE blocks, UTC and floating times, all-day ``VALUE=DATE`` events, Windows zone names from Outlook
exports (``Tokyo Standard Time``), RECURRENCE-ID overrides, ``STATUS:CANCELLED``, a UID repeated without a
RECURRENCE-ID, folded lines, and ``ATTENDEE``/``ORGANIZER`` with ``CN``. A VEVENT that cannot be read becomes
an error naming its UID (or its position) and the problem; the rest of the file converts.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import re
import zoneinfo
from collections.abc import Iterable
from typing import Any

import icalendar
import pandas as pd
from icalendar.parser.content_line import Contentline
from icalendar.parser.ical.calendar import CalendarIcalParser
from icalendar.parser.parameter import Parameters
from icalendar.parser.property import unescape_backslash
from icalendar.timezone import windows_to_olson

from calendar_etl import model
from calendar_etl.transforms import recurrence
from calendar_etl.transforms.common import DATA_ERRORS, ErrorCollector, describe, known_zone

PRODID = "-//calendar-etl//Garoon LINE WORKS iCalendar//EN"
MAX_ICS_BYTES = 50 * 1024 * 1024  # a larger file is refused, not half-read (documented in the README)
PARTSTATS = {"NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE"}
RESOURCE_CUTYPES = {"RESOURCE", "ROOM"}
WINDOWS_ZONES: dict[str, str] = dict(windows_to_olson.WINDOWS_TO_OLSON)
FOLD_RE = re.compile(rb"\r?\n[ \t]")
DURATION_RE = re.compile(r"^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def source_key(uid: str, rid: str | None = None) -> str:
    """Return the canonical source key of an iCalendar event (or one override of it)."""
    return f"ics:{uid}" + (f":{rid}" if rid else "")


# ---------------------------------------------------------------------- iCalendar -> canonical


def ics_to_canonical(source: str | bytes, *, name: str = "<ics>", default_zone: str = "UTC") -> model.Converted:
    """Return canonical rows for every VEVENT in an .ics text.

    :param source: the file's content.
    :param name: where it came from, used in error messages.
    :param default_zone: the zone floating times (no TZID, no ``Z``) are read in; each such row gets a reason.
    """
    errors = ErrorCollector()
    raw = source.encode("utf-8") if isinstance(source, str) else source
    if len(raw) > MAX_ICS_BYTES:
        errors.add(f"ics:{name}", f"file of {len(raw)} bytes exceeds the {MAX_ICS_BYTES}-byte limit; split it")
        return model.Converted(model.empty(), errors.frame())
    raw = FOLD_RE.sub(b"", raw)
    calendars, notices = _read_calendars(raw, name)
    for notice in notices:
        errors.add(*notice)
    # The parsed file is a large graph of objects that lives until we are done: keep the cyclic garbage collector
    # from walking it again and again while the rows are made (it holds no garbage; it is released after). Not
    # when the process froze objects itself (a forking server does, for copy-on-write): unfreezing would undo it.
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        rows: list[dict[str, Any]] = []
        for position, event, zones in calendars:
            uid = _uid(event)
            key = source_key(uid) if uid else f"ics:{name}#{position}"
            try:
                rows.append(_row(event, position, name, zones, default_zone))
            except DATA_ERRORS as exc:
                errors.add(key, describe(exc))
        del calendars
        rows = _deduplicate(rows)
        frame = model.from_columns({c: [r.get(c) for r in rows] for c in model.COLUMNS}, len(rows))
    finally:
        if freeze:
            gc.unfreeze()
    return model.Converted(frame, errors.frame())


#: (position of the VEVENT in its file, the VEVENT, the TZIDs its file's VTIMEZONEs define)
Located = tuple[int, Any, set[str]]
Notice = tuple[str, str]  # (source key, problem) for the error table
BOUNDARY_RE = re.compile(rb"^[ \t]*(BEGIN|END)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
UID_RE = re.compile(rb"^UID[^:\r\n]*:([^\r\n]*)", re.IGNORECASE | re.MULTILINE)
STRUCTURE = "BEGIN/END"  # the "property" of the notes about a VEVENT's sub-components, in its ``errors``
CALENDAR_HEAD = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:" + PRODID.encode() + b"\r\n"


def _read_calendars(raw: bytes, name: str) -> tuple[list[Located], list[Notice]]:
    """Return every VEVENT of an unfolded .ics text, and notices of what could not be read.

    A well-formed file is parsed whole. A file whose BEGIN/END lines do not nest (a cut-off download, an
    unclosed VALARM, a stray ``END:VTODO``) or that icalendar refuses is read one VEVENT at a time, so a broken
    part costs only its own event, and that event is named.
    """
    if _well_nested(raw):
        try:
            calendars = parse_calendars(raw)
        except (ValueError, KeyError, IndexError) as exc:
            refused: Exception | None = exc
        else:
            located, position = [], 0
            for calendar in calendars:
                zones = _vtimezone_names(calendar)
                for event in calendar.walk("VEVENT"):
                    position += 1
                    located.append((position, event, zones))
            return located, []
    else:
        refused = None
    located, notices = _read_each_vevent(raw, name)
    if refused is not None and not notices and not any(event.errors for _, event, _ in located):
        what = (
            "not an iCalendar file"
            if not located
            else "the file could not be read whole; its events were read one by one"
        )
        notices.append((f"ics:{name}", f"{what}: {refused}"))
    return located, notices


# ---------------------------------------------------------------------- parsing


class HeadCachingParser(CalendarIcalParser):
    """icalendar's own parser for ``Calendar.from_ical``, reading each distinct content-line head once per file.

    A line's head is what comes before its value: the name and the parameters (``ATTENDEE;CN="Ann";PARTSTAT=
    ACCEPTED``, ``DTSTART;TZID=Asia/Tokyo``). A file repeats a few hundred heads over and over, and icalendar
    reads every line one character at a time, value included (``Contentline.raw_parts``), then parses its
    parameters again; that is half of its time. Here a head is parsed by icalendar itself the first time it is
    seen and its result reused after, and each property's value type is looked up once per (name, VALUE).
    Everything else (components, value types, time zones, error handling) is icalendar's own code, and the
    result is the same: ``tests/transforms/test_ics_parser.py`` compares both on every file of the corpus.

    A line whose head holds a backslash or an unclosed quote is read by icalendar as before. Lines with the same
    non-empty head share one ``Parameters`` object (as the values of one line already do in icalendar), which is
    safe because the parse stays inside this module and nothing here writes to parameters of a parsed file.
    """

    #: the head of a line, up to the colon that starts its value: no backslash, quoted sections kept whole
    HEAD = re.compile(r'[^":\\]*+(?:"[^"]*+"[^":\\]*+)*+:')

    def initialize_parsing(self) -> None:
        super().initialize_parsing()
        self._heads: dict[str, tuple[str, Parameters]] = {}
        self._factories: dict[tuple[str, str | None], Any] = {}

    def get_factory_for_property(self, name: str, params: Parameters) -> Any:
        key = (name, params.value)
        factory = self._factories.get(key)
        if factory is None:
            factory = self._factories[key] = super().get_factory_for_property(name, params)
        return factory

    def parts(self, line: Contentline) -> tuple[str, Parameters, str]:
        """Return ``line.parts()``: (name, parameters, unescaped value)."""
        match = self.HEAD.match(line)
        if match is not None and match.end() > 1:
            head = line[: match.end() - 1]
            known = self._heads.get(head)
            if known is None:
                try:  # what icalendar makes of the line is decided by its head alone
                    name, params, _ = Contentline(head + ":", strict=getattr(line, "strict", False)).raw_parts()
                except ValueError:
                    return line.parts()  # raises, naming the whole line
                known = self._heads[head] = (name, params)
            name, params = known
            return name, params if params else Parameters(), unescape_backslash(line[match.end() :])
        return line.parts()

    def parse_content_lines(self) -> None:
        """``ComponentIcalParser.parse_content_lines`` with :meth:`parts` in place of ``line.parts()``."""
        parts = self.parts
        for line in self._content_lines_iterator:
            if not line:
                continue
            try:
                name, params, vals = parts(line)
            except ValueError as exc:
                self.handle_line_parse_error(exc)
                continue
            uname = name.upper()
            if uname == "BEGIN":
                self.handle_begin_component(vals)
            elif uname == "END":
                self.handle_end_component(vals)
            else:
                self.handle_property(uname, params, vals, line)


def parse_calendars(text: bytes) -> list[icalendar.Component]:
    """Return ``icalendar.Calendar.from_ical(text, multiple=True)``, parsed with :class:`HeadCachingParser`."""
    calendar = icalendar.Calendar
    return HeadCachingParser(text, calendar._get_component_factory(), calendar.types_factory).parse()


def parse_calendar(text: bytes) -> icalendar.Component:
    """Return ``icalendar.Calendar.from_ical(text)``: the text's one component, or ValueError."""
    components = parse_calendars(text)
    if len(components) != 1:
        found = "multiple components where only one is allowed" if components else "no components"
        raise ValueError(f"Found {found}")
    return components[0]


def _well_nested(raw: bytes) -> bool:
    stack: list[bytes] = []
    for boundary, component in BOUNDARY_RE.findall(raw):
        component = component.upper()
        if boundary.upper() == b"BEGIN":
            stack.append(component)
        elif not stack or stack.pop() != component:
            return False
    return not stack


def _read_each_vevent(raw: bytes, name: str) -> tuple[list[Located], list[Notice]]:
    """Cut the text into its VEVENTs by their BEGIN/END lines and parse each alone with the file's VTIMEZONEs."""
    notices: list[Notice] = []
    vevents: list[tuple[int, list[bytes]]] = []
    timezones: list[bytes] = []
    current: list[bytes] | None = None  # the lines of the VEVENT being cut out
    skipping: list[bytes] = []  # other top-level components (VTODO, VJOURNAL, VTIMEZONE...) being passed over
    kept: list[bytes] = []  # the lines of the VTIMEZONE being kept
    calendars_open = 0
    position = 0
    for line in raw.split(b"\n"):
        line = line.rstrip(b"\r")
        match = BOUNDARY_RE.match(line)
        boundary = match.group(1).upper() if match else b""
        component = match.group(2).upper() if match else b""
        if component == b"VEVENT" and boundary == b"BEGIN":
            if current is not None:
                notices.append((_key_of(current, name, position), "VEVENT has no END:VEVENT before the next "
                                "BEGIN:VEVENT; the event was not read"))  # fmt: skip
            for open_component in skipping:
                notices.append((f"ics:{name}", f"BEGIN:{open_component.decode('ascii', 'replace')} has no END; "
                                "its lines were ignored"))  # fmt: skip
            skipping, kept = [], []
            position += 1
            current = [line]
        elif current is not None:
            current.append(line)
            if component == b"VEVENT" and boundary == b"END":
                vevents.append((position, current))
                current = None
        elif component == b"VCALENDAR":
            calendars_open += 1 if boundary == b"BEGIN" else -1
        elif boundary == b"BEGIN":
            skipping.append(component)
            if kept or (component == b"VTIMEZONE" and len(skipping) == 1):
                kept.append(line)
        elif boundary == b"END":
            if component in skipping:
                while skipping.pop() != component:
                    pass
                if kept:
                    kept.append(line)
                    if not skipping:
                        timezones.append(_readable_timezone(kept, name, notices))
                        kept = []
            else:
                notices.append((f"ics:{name}", f"{line.decode('utf-8', 'replace')[:60]!r} closes nothing; "
                                "the line was ignored"))  # fmt: skip
        elif kept:
            kept.append(line)
    if current is not None:
        notices.append((_key_of(current, name, position), "the file is truncated inside this VEVENT "
                        "(no END:VEVENT / END:VCALENDAR); the event was not read"))  # fmt: skip
    elif calendars_open > 0:
        notices.append((f"ics:{name}", "the file is truncated (no END:VCALENDAR); every complete event was read"))
    zones_text = b"".join(timezones)
    located: list[Located] = []
    for number, lines in vevents:
        parsed, problem = _parse_vevent(lines, zones_text)
        if parsed is None:
            notices.append((_key_of(lines, name, number), problem))
            continue
        calendar, event = parsed
        located.append((number, event, _vtimezone_names(calendar)))
    return located, notices


def _readable_timezone(lines: list[bytes], name: str, notices: list[Notice]) -> bytes:
    """Return a VTIMEZONE's text to put before each VEVENT, or nothing (with a notice) when it cannot be read."""
    text = b"\r\n".join(lines) + b"\r\n"
    try:
        parse_calendar(CALENDAR_HEAD + text + b"END:VCALENDAR\r\n")
    except (ValueError, KeyError, IndexError) as exc:
        notices.append((f"ics:{name}", f"a VTIMEZONE could not be read ({exc}); it was ignored"))
        return b""
    return text


def _parse_vevent(lines: list[bytes], zones_text: bytes) -> tuple[tuple[Any, Any] | None, str]:
    """Return (its calendar, the VEVENT) parsed from its lines, or None and why it cannot be read.

    Sub-components (VALARM) that do not nest are dropped; if the event still cannot be read, it is read without
    any of them. What was dropped is noted in the event's ``errors``, which become reasons.
    """
    body, dropped = _nested_part(lines[1:-1])
    attempts: list[tuple[list[bytes], list[str] | None]] = [(body, dropped)]
    if any(BOUNDARY_RE.match(line) for line in body):
        attempts.append((_top_level(body), None))
    problem = ""
    for attempt, (part, notes) in enumerate(attempts):
        text = CALENDAR_HEAD + zones_text + b"\r\n".join([lines[0], *part, lines[-1]]) + b"\r\nEND:VCALENDAR\r\n"
        try:
            calendar = parse_calendar(text)
            event = next(iter(calendar.walk("VEVENT")))
        except (ValueError, KeyError, IndexError, StopIteration) as exc:
            problem = f"the event cannot be read: {exc}"
            continue
        if attempt:
            notes = [f"its sub-components (VALARM) could not be read ({problem.split(': ', 1)[1]}); "
                     "the event was read without them"]  # fmt: skip
        event.errors.extend((STRUCTURE, note) for note in notes or [])
        return (calendar, event), ""
    return None, problem


def _nested_part(body: list[bytes]) -> tuple[list[bytes], list[str]]:
    """Return a VEVENT's inner lines without sub-components that do not close and END lines that close nothing."""
    out: list[bytes] = []
    notes: list[str] = []
    opened: list[tuple[bytes, int]] = []  # (component, index in out of its BEGIN line)
    for line in body:
        match = BOUNDARY_RE.match(line)
        if match and match.group(1).upper() == b"END":
            component = match.group(2).upper()
            if not any(c == component for c, _ in opened):
                notes.append(f"{line.decode('utf-8', 'replace')[:60]!r} closes nothing; the line was ignored")
                continue
            while opened[-1][0] != component:
                unclosed, at = opened.pop()
                notes.append(f"BEGIN:{unclosed.decode('ascii', 'replace')} has no END; its lines were ignored")
                del out[at:]
            opened.pop()
        elif match:
            opened.append((match.group(2).upper(), len(out)))
        out.append(line)
    for unclosed, at in reversed(opened):
        notes.append(f"BEGIN:{unclosed.decode('ascii', 'replace')} has no END; its lines were ignored")
        del out[at:]
    return out, notes


def _top_level(body: list[bytes]) -> list[bytes]:
    """Return a VEVENT's own property lines, without any sub-component."""
    depth, out = 0, []
    for line in body:
        match = BOUNDARY_RE.match(line)
        if match:
            depth += 1 if match.group(1).upper() == b"BEGIN" else -1
        elif depth == 0:
            out.append(line)
    return out


def _key_of(lines: list[bytes], name: str, position: int) -> str:
    """Return the source key of a VEVENT's lines: by its UID, else by its position in the file."""
    for line in lines:
        match = UID_RE.match(line)
        if match:
            uid = match.group(1).decode("utf-8", "replace").strip()
            if uid:
                return source_key(uid)
    return f"ics:{name}#{position}"


#: icalendar's components and parameters are dicts whose keys it stores upper-cased (``CaselessDict``): read
#: with upper-case names as plain dicts, they skip its key folding, which costs more than the rest of reading.
_prop = dict.get


def _vtimezone_names(calendar: icalendar.Component) -> set[str]:
    return {str(_prop(tz, "TZID")) for tz in calendar.walk("VTIMEZONE") if _prop(tz, "TZID")}


#: Properties a VEVENT has at most once (RFC 5545 3.6.1). A repeat of one that says which event it is or when it
#: is makes the event unreadable; a repeat of any other keeps the first value, with a reason.
DEFINING_ONCE = ("UID", "DTSTART", "DTEND", "DURATION", "RECURRENCE-ID")
DESCRIBING_ONCE = ("SUMMARY", "DESCRIPTION", "LOCATION", "STATUS", "CLASS", "TRANSP", "ORGANIZER", "SEQUENCE",
                   "CREATED", "LAST-MODIFIED", "DTSTAMP", "PRIORITY", "GEO", "URL")  # fmt: skip
MAX_SEQUENCE = 2**31 - 1


def _uid(event: Any) -> str:
    """Return a VEVENT's UID text ('' when it has none; the first when it has several)."""
    value = _prop(event, "UID")
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value or "").strip()


def _keep_single_values(event: Any, reasons: list[str]) -> None:
    for prop in DEFINING_ONCE:
        value = _prop(event, prop)
        if isinstance(value, list):
            raise ValueError(f"{prop} appears {len(value)} times; an event has one")
    for prop in DESCRIBING_ONCE:
        value = _prop(event, prop)
        if isinstance(value, list):
            dict.__setitem__(event, prop, value[0])
            reasons.append(f"{prop} appears {len(value)} times; the first was kept")


def _sequence(event: Any, reasons: list[str]) -> int:
    value = _prop(event, "SEQUENCE")
    try:
        number = int(value or 0)
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= MAX_SEQUENCE:
        reasons.append(f"SEQUENCE {str(value)[:30]!r} is not a number from 0 to {MAX_SEQUENCE}; read as 0")
        return 0
    return number


def _row(event: Any, position: int, name: str, vtimezones: set[str], default_zone: str) -> dict[str, Any]:
    reasons: list[str] = []
    broken = []
    for prop, err in getattr(event, "errors", []):
        if prop == STRUCTURE:
            reasons.append(err)  # a sub-component dropped while the file was read one VEVENT at a time
        else:
            broken.append(f"{prop}: {err}")
    _keep_single_values(event, reasons)
    uid = _uid(event)
    if not uid:
        start = _prop(event, "DTSTART")
        seed = f"{name}|{position}|{start.to_ical().decode() if start else ''}|{_prop(event, 'SUMMARY', '')}"
        uid = "generated-" + hashlib.sha256(seed.encode()).hexdigest()[:24]
        reasons.append("VEVENT has no UID; a stable one was generated from its file, position, start and summary")
    if broken:
        if any(p.upper().startswith(("DTSTART", "DTEND", "RRULE", "RECURRENCE-ID")) for p in broken):
            raise ValueError(f"unreadable line(s): {'; '.join(broken)[:300]}")
        reasons.append(f"unreadable line(s) ignored: {'; '.join(broken)[:300]}")
    start_prop = _prop(event, "DTSTART")
    if start_prop is None:
        raise ValueError("DTSTART is required")
    start = start_prop.dt
    zone, zone_reason = _zone(start_prop, vtimezones, default_zone)
    if zone_reason:
        reasons.append(zone_reason)
    all_day = not isinstance(start, dt.datetime)
    end = _end(event, start, all_day)
    row: dict[str, Any] = {"source_system": "ics", "ics_uid": uid, "all_day": all_day, "reasons": reasons}
    if all_day:
        row["start_date"], row["end_date"] = start, end if end > start else start + dt.timedelta(days=1)
        if end <= start:
            reasons.append("all-day DTEND not after DTSTART; read as a one-day event")
    else:
        tz = zoneinfo.ZoneInfo(zone)
        begin = _aware(start, tz)
        finish = _aware(end, tz)
        if finish < begin:
            raise ValueError(f"DTEND {finish.isoformat()} is before DTSTART {begin.isoformat()}")
        row.update(start=begin, end=finish, timezone=zone)
    rid_prop = _prop(event, "RECURRENCE-ID")
    lines = _recurrence_lines(event, start, zone if not all_day else None)
    rid = None
    if rid_prop is not None:
        value = rid_prop.dt
        rid = recurrence.recurrence_id(
            value
            if not isinstance(value, dt.datetime)
            else _aware(value, zoneinfo.ZoneInfo(_zone(rid_prop, vtimezones, zone or default_zone)[0]))
        )
        if all_day and len(rid) > 8:
            rid = rid[:8]
        if str(_prop(rid_prop.params, "RANGE", "")).upper() == "THISANDFUTURE":
            reasons.append("RECURRENCE-ID;RANGE=THISANDFUTURE applied to that occurrence only")
    kind = "exception" if rid else ("series" if lines else "single")
    status = str(_prop(event, "STATUS") or "CONFIRMED").upper()
    if status not in model.STATUSES:
        reasons.append(f"STATUS {status} read as CONFIRMED")
        status = "CONFIRMED"
    classification = str(_prop(event, "CLASS") or "PUBLIC").upper()
    organizer = _prop(event, "ORGANIZER")
    people, rooms = [], []
    for attendee in _as_list(_prop(event, "ATTENDEE")):
        person, cutype = _person(attendee)
        if cutype in RESOURCE_CUTYPES:
            rooms.append(
                {"name": person["name"] or person["email"], "garoon_id": None, "garoon_code": None, "resource_id": None}
            )
        else:
            people.append(person)
    categories = _prop(event, "CATEGORIES")
    category = None
    if categories is not None:
        cats = [str(c) for item in _as_list(categories) for c in getattr(item, "cats", [item])]
        category = cats[0] if cats else None
    row.update(
        source_key=source_key(uid, rid),
        sync_key=source_key(uid),
        kind=kind,
        recurrence_id=rid,
        recurrence=lines if kind == "series" else [],
        summary=str(_prop(event, "SUMMARY") or ""),
        description=_text(_prop(event, "DESCRIPTION")),
        location=_text(_prop(event, "LOCATION")),
        status=status,
        visibility="PRIVATE" if classification in ("PRIVATE", "CONFIDENTIAL") else "PUBLIC",
        transparency="TRANSPARENT" if str(_prop(event, "TRANSP") or "").upper() == "TRANSPARENT" else "OPAQUE",
        category=category,
        organizer=_person(organizer)[0] if organizer is not None else None,
        attendees=people,
        facilities=rooms,
        reminders=_reminders(event, reasons, _span(row)),
        created=_stamp(_prop(event, "CREATED")),
        updated=_stamp(_prop(event, "LAST-MODIFIED") or _prop(event, "DTSTAMP")),
        sequence=_sequence(event, reasons),
        start_only=False,
    )
    if kind == "exception" and lines:
        reasons.append("an override carrying its own RRULE: the rule was ignored")
    return row


def _zone(prop: Any, vtimezones: set[str], default_zone: str) -> tuple[str, str | None]:
    """Return (IANA zone, reason) of a DTSTART-like property."""
    value = prop.dt
    tzid = _prop(prop.params, "TZID")
    if not isinstance(value, dt.datetime):
        return default_zone, None
    if tzid:
        name = str(tzid).strip('"')
        if _is_iana(name):
            return name, None
        if name in WINDOWS_ZONES:
            return WINDOWS_ZONES[name], None
        stripped = name.rsplit("/", 2)
        candidate = "/".join(stripped[-2:])  # "/mozilla.org/20050126_1/Asia/Tokyo" style prefixes
        if _is_iana(candidate):
            return candidate, None
        if value.tzinfo is not None and name in vtimezones:
            offset = value.utcoffset() or dt.timedelta()
            hours = offset.total_seconds() / 3600
            fallback = "UTC" if hours == 0 else (f"Etc/GMT{-int(hours):+d}" if hours.is_integer() else "UTC")
            return (
                fallback,
                f"TZID {name!r} is not an IANA or Windows zone; its VTIMEZONE gave the instants, shown in {fallback}",
            )
        raise ValueError(f"unknown time zone {name!r} (no VTIMEZONE defines it)")
    if value.tzinfo is None:
        return default_zone, f"floating time read in {default_zone}"
    key = getattr(value.tzinfo, "key", None)
    if key and _is_iana(key):
        return key, None
    return "UTC", None


def _is_iana(name: str) -> bool:
    return known_zone(name)  # one-word IANA names (CET, Japan, EST5EDT) count too


def _aware(value: dt.datetime | dt.date, tz: dt.tzinfo) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), tz)
    if value.tzinfo is None:
        return value.replace(tzinfo=tz)
    return value.astimezone(dt.UTC)


def _end(event: Any, start: dt.date, all_day: bool) -> Any:
    end_prop = _prop(event, "DTEND")
    if end_prop is not None:
        end = end_prop.dt
        if all_day and isinstance(end, dt.datetime):
            return end.date()
        if not all_day and not isinstance(end, dt.datetime):
            raise ValueError("DTSTART is a date-time but DTEND is a date")
        return end
    duration = _prop(event, "DURATION")
    if duration is not None:
        return _add_duration(start, duration)
    return start + dt.timedelta(days=1) if all_day else start


def _add_duration(start: Any, prop: Any) -> Any:
    """Return ``start`` + a DURATION: days and weeks in wall-clock time, hours/minutes/seconds exactly (RFC 5545 3.3.6)."""
    match = DURATION_RE.match(prop.to_ical().decode())
    if not match or not isinstance(start, dt.datetime) or start.tzinfo is None:
        return start + prop.dt
    sign = -1 if match.group(1) == "-" else 1
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups()[1:])
    nominal = start + sign * dt.timedelta(weeks=weeks, days=days)
    exact = sign * dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)
    zone = nominal.tzinfo
    return (nominal.astimezone(dt.UTC) + exact).astimezone(zone)


def _recurrence_lines(event: Any, start: dt.date, zone: str | None) -> list[str]:
    lines = []
    for rule in _as_list(_prop(event, "RRULE")):
        lines.append("RRULE:" + _rule_text(rule))
    for name in ("RDATE", "EXDATE"):
        values: list[Any] = []
        for prop in _as_list(_prop(event, name)):
            for item in getattr(prop, "dts", [prop]):
                value = item.dt
                if isinstance(value, tuple):  # an RDATE period: its start
                    value = value[0]
                values.append(value)
        if not values:
            continue
        if not isinstance(start, dt.datetime):
            dates = [v.date() if isinstance(v, dt.datetime) else v for v in values]
            lines.append(f"{name};VALUE=DATE:" + ",".join(d.strftime("%Y%m%d") for d in sorted(set(dates))))
        else:
            tz = zoneinfo.ZoneInfo(zone or "UTC")
            instants = sorted({_aware(v, tz) for v in values})
            lines.append(recurrence.exdate_line(instants, zone).replace("EXDATE", name, 1))
    return lines


def _rule_text(rule: Any) -> str:
    """Return an RRULE value as icalendar writes it (remembered: the same rules come back again and again).

    The key is the value's ``repr``, which shows every part with its type (an UNTIL with its zone).
    """
    key = repr(rule)
    text = _RULE_TEXTS.get(key)
    if text is None:
        text = _RULE_TEXTS[key] = rule.to_ical().decode()
        if len(_RULE_TEXTS) > RULE_TEXTS_KEPT:
            _RULE_TEXTS.pop(next(iter(_RULE_TEXTS)))
    return text


_RULE_TEXTS: dict[str, str] = {}
RULE_TEXTS_KEPT = 4096


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _text_value(text: str) -> icalendar.prop.vInline:
    """Return a TEXT value escaped as RFC 5545 §3.3.11 says. icalendar's own escaping first turns the two
    characters ``\\N`` into a line break, so a summary or category holding them would not come back as written."""
    escaped = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return icalendar.prop.vInline(escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _person(address: Any) -> tuple[dict[str, Any], str]:
    """Return (the canonical person of an ATTENDEE/ORGANIZER address, its upper-case CUTYPE)."""
    text = address if isinstance(address, str) else str(address)  # vCalAddress is a str
    email = text[7:] if text[:7].lower() == "mailto:" else (text if "@" in text else None)
    params = getattr(address, "params", None) or {}
    partstat = str(_prop(params, "PARTSTAT", "")).upper() or None
    cutype = str(_prop(params, "CUTYPE", "")).upper()
    name = _prop(params, "CN")
    return {
        "email": email.strip().lower() if email else None,
        "name": str(name) if name else None,
        "garoon_id": None,
        "garoon_code": None,
        "lineworks_id": None,
        "type": "GROUP" if cutype == "GROUP" else "USER",
        "partstat": partstat if partstat in PARTSTATS else None,
        "optional": str(_prop(params, "ROLE", "")).upper() == "OPT-PARTICIPANT",
    }, cutype


def _span(row: dict[str, Any]) -> dt.timedelta:
    if row.get("all_day"):
        return row["end_date"] - row["start_date"]
    return row["end"] - row["start"]


def _reminders(event: Any, reasons: list[str], span: dt.timedelta) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not event.subcomponents:  # the usual case; walking costs more than the rest of the row
        return out
    for alarm in event.walk("VALARM"):
        trigger = _prop(alarm, "TRIGGER")
        if trigger is None:
            continue
        value = trigger.dt
        if not isinstance(value, dt.timedelta):
            reasons.append("an alarm at an absolute time was not carried (only offsets are)")
            continue
        text = trigger.to_ical().decode()
        if str(_prop(trigger.params, "RELATED", "START")).upper() == "END":
            text = icalendar.vDuration(value + span).to_ical().decode()  # LINE WORKS triggers count from the start
        method = "EMAIL" if str(_prop(alarm, "ACTION", "")).upper() == "EMAIL" else "DISPLAY"
        out.append({"method": method, "trigger": text})
    return out


def _stamp(prop: Any) -> dt.datetime | None:
    if prop is None or not isinstance(prop.dt, dt.datetime):
        return None
    value = prop.dt
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _deduplicate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resolve a UID that appears more than once without a RECURRENCE-ID (exporters do this).

    Identical copies collapse into one (with a reason); a copy with a higher SEQUENCE replaces an older one;
    different events that share a UID and a SEQUENCE are all kept, under suffixed keys, each with a reason.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["source_key"], []).append(row)
    out = []
    for key, group in groups.items():
        if len(group) == 1:
            out.append(group[0])
            continue
        newest = max(r["sequence"] for r in group)
        latest = [r for r in group if r["sequence"] == newest]
        distinct: list[dict[str, Any]] = []
        for row in latest:
            if not any(_same(row, other) for other in distinct):
                distinct.append(row)
        dropped = len(group) - len(distinct)
        for n, row in enumerate(distinct):
            note = f"UID repeated {len(group)} times in the input"
            if dropped:
                note += f"; {dropped} identical or older (lower SEQUENCE) copies merged"
            if len(distinct) > 1 and n:
                row["source_key"] = f"{key}#{n + 1}"
                if row["kind"] != "exception":
                    row["sync_key"] = row["source_key"]
                note += f"; different events share it, this one kept as {row['source_key']}"
            row["reasons"] = [*row["reasons"], note]
            out.append(row)
    return out


def _same(first: dict[str, Any], second: dict[str, Any]) -> bool:
    ignore = {"reasons", "updated", "created"}
    return all(_comparable(first.get(k)) == _comparable(second.get(k)) for k in first if k not in ignore)


def _comparable(value: Any) -> Any:
    return repr(value)


# ---------------------------------------------------------------------- canonical -> iCalendar


def canonical_to_ics(frame: pd.DataFrame, *, prodid: str = PRODID, name: str | None = None) -> str:
    """Return a valid .ics text with one VEVENT per row (exceptions share their series' UID).

    VTIMEZONE blocks are added for every zone used, all-day events are ``VALUE=DATE`` with an exclusive
    DTEND, and the recurrence lines are written as RRULE/RDATE/EXDATE properties.
    """
    calendar = icalendar.Calendar()
    calendar.add("PRODID", prodid)
    calendar.add("VERSION", "2.0")
    if name:
        calendar.add("X-WR-CALNAME", name)
    uids: dict[str, str] = {}
    for record in frame.to_dict("records"):
        uid = uids.setdefault(record["sync_key"], _uid_of(record))
        calendar.add_component(_vevent(record, uid))
    calendar.add_missing_timezones()
    return calendar.to_ical().decode("utf-8")


def _uid_of(record: dict[str, Any]) -> str:
    if record["source_system"] == "ics" and isinstance(record.get("ics_uid"), str) and record["ics_uid"]:
        return str(record["ics_uid"])
    return str(record["sync_key"])


def _vevent(record: dict[str, Any], uid: str) -> icalendar.Event:
    event = icalendar.Event()
    event.add("UID", uid)
    stamp = record.get("updated") if _present(record.get("updated")) else pd.Timestamp("2000-01-01", tz="UTC")
    event.add(
        "DTSTAMP",
        pd.Timestamp(stamp).to_pydatetime(),
    )
    tz = (
        zoneinfo.ZoneInfo(record["timezone"])
        if isinstance(record.get("timezone"), str) and record["timezone"]
        else dt.UTC
    )
    if record["all_day"]:
        event.add("DTSTART", record["start_date"])
        event.add("DTEND", record["end_date"])
    else:
        event.add("DTSTART", record["start"].to_pydatetime().astimezone(tz))
        event.add("DTEND", record["end"].to_pydatetime().astimezone(tz))
    event.add("SUMMARY", _text_value(record["summary"] or ""))
    for prop, column in (("DESCRIPTION", "description"), ("LOCATION", "location")):
        if isinstance(record.get(column), str) and record[column]:
            event.add(prop, _text_value(record[column]))
    if record["kind"] == "series":
        start = (
            dt.datetime.combine(record["start_date"], dt.time())
            if record["all_day"]
            else record["start"].to_pydatetime().astimezone(tz)
        )
        for line in record["recurrence"]:
            head, _, rest = line.partition(":")
            upper = head.upper()
            if upper.startswith(recurrence.DTSTART_PREFIX):
                continue
            if upper.startswith(("RRULE", "EXRULE")):
                event.add(upper.split(";")[0], icalendar.vRecur.from_ical(rest))
            else:
                values = recurrence.line_values(line, start, None if record["all_day"] else tz)
                event.add(upper.split(";")[0], [v.date() for v in values] if record["all_day"] else values)
    if record["kind"] in ("exception", "occurrence") and record.get("recurrence_id"):
        original = recurrence.parse_recurrence_id(record["recurrence_id"])
        event.add("RECURRENCE-ID", original if not isinstance(original, dt.datetime) else original.astimezone(tz))
    if record["status"] and record["status"] != "CONFIRMED":
        event.add("STATUS", record["status"])
    if record["visibility"] == "PRIVATE":
        event.add("CLASS", "PRIVATE")
    if record["transparency"] == "TRANSPARENT":
        event.add("TRANSP", "TRANSPARENT")
    if isinstance(record.get("category"), str) and record["category"]:
        event.add("CATEGORIES", _text_value(record["category"]))
    if record.get("organizer") and record["organizer"].get("email"):
        event.add("ORGANIZER", _address(record["organizer"]))
    for person in record["attendees"] if record["attendees"] is not None else []:
        if person.get("email"):
            event.add("ATTENDEE", _address(person))
    for room in record["facilities"] if record["facilities"] is not None else []:
        address = icalendar.vCalAddress(
            f"urn:x-resource:{room.get('resource_id') or room.get('garoon_code') or room.get('name')}"
        )
        address.params["CUTYPE"] = "RESOURCE"
        if room.get("name"):
            address.params["CN"] = room["name"]
        event.add("ATTENDEE", address)
    for reminder in record["reminders"] if record["reminders"] is not None else []:
        alarm = icalendar.Alarm()
        alarm.add("ACTION", "EMAIL" if reminder.get("method") == "EMAIL" else "DISPLAY")
        alarm.add("TRIGGER", icalendar.vDuration.from_ical(reminder["trigger"]))
        alarm.add("DESCRIPTION", _text_value(record["summary"] or "Reminder"))
        event.add_component(alarm)
    if record.get("sequence"):
        event.add("SEQUENCE", int(record["sequence"]))
    return event


def _present(value: Any) -> bool:
    return value is not None and not pd.isna(value)


def _address(person: dict[str, Any]) -> icalendar.vCalAddress:
    address = icalendar.vCalAddress(f"mailto:{person['email']}")
    if person.get("name"):
        address.params["CN"] = person["name"]
    if person.get("partstat"):
        address.params["PARTSTAT"] = person["partstat"]
    if person.get("optional"):
        address.params["ROLE"] = "OPT-PARTICIPANT"
    if person.get("type") == "GROUP":
        address.params["CUTYPE"] = "GROUP"
    return address


def read_many(sources: Iterable[tuple[str, str | bytes]], *, default_zone: str = "UTC") -> model.Converted:
    """Return the canonical rows of several .ics texts (``(name, content)`` pairs), errors included."""
    converted = [ics_to_canonical(content, name=name, default_zone=default_zone) for name, content in sources]
    return model.Converted(
        _resolve_duplicates_across(model.concat(c.events for c in converted)),
        pd.concat([c.errors for c in converted], ignore_index=True) if converted else model.errors_frame([]),
    )


def _resolve_duplicates_across(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty or not frame["source_key"].duplicated().any():
        return frame
    rows = _deduplicate(frame.to_dict("records"))
    return model.from_columns({c: [r.get(c) for r in rows] for c in model.COLUMNS}, len(rows))
