"""One-row-at-a-time references for the column-wise transforms: the rules written the plain way.

``canonical_to_lineworks`` and ``identity.resolve`` work on whole columns; these functions apply the same rules
to one row or person at a time (as the first versions of those transforms did), so a test can demand that both
give the same result, byte for byte for payloads (their SHA-256 is the ledger's content hash).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from typing import Any

from calendar_etl.transforms import recurrence
from calendar_etl.transforms.identity import Directory

SUMMARY, LOCATION, DESCRIPTION, ATTENDEES, REMINDERS = 200, 100, 5000, 500, 100  # LINE WORKS limits
LOCAL = "%Y-%m-%dT%H:%M:%S"
PERSON_FIELDS = ("email", "name", "garoon_id", "garoon_code", "lineworks_id", "type", "partstat", "optional")


def resolve_person(raw: dict[str, Any] | None, directory: Directory, known: frozenset[str]) -> dict[str, Any] | None:
    """Return one canonical person completed from ``directory`` (``known``: LINE WORKS' e-mails, or empty)."""
    if raw is None:
        return None
    person = directory.person(raw)
    email = person.get("email")
    if known and email and str(email).lower() not in known:
        person = {**person, "email": None, "lineworks_id": None}
    return {k: person.get(k) for k in PERSON_FIELDS}


def lineworks_writes(rows: list[dict[str, Any]]) -> tuple[list[tuple[Any, ...]], list[tuple[str, str]]]:
    """Return ((sync_key, event_id, owner, payload, reasons) per write, errors) of canonical rows (plain dicts)."""
    errors: list[tuple[str, str]] = []
    components: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    owners: dict[str, str | None] = {}
    unit_reasons: dict[str, list[str]] = {}
    cancelled: dict[str, list[Any]] = {}
    for record in rows:
        key = record["sync_key"]
        reasons = unit_reasons.setdefault(key, [])
        own = list(record["reasons"] or [])
        summary = _truncated(record["summary"] or "", SUMMARY, "summary", own)
        location = _truncated(record["location"] or "", LOCATION, "location", own)
        reasons.extend(own)
        if record["kind"] == "occurrence":
            errors.append((record["source_key"], "an uncollapsed occurrence: run collapse_occurrences first"))
            continue
        if record["status"] == "CANCELLED":
            if record["kind"] == "exception":
                cancelled.setdefault(key, []).append(recurrence.parse_recurrence_id(record["recurrence_id"]))
            else:
                components.setdefault(key, [])
                reasons.append("cancelled in the source")
            continue
        zone = record["timezone"] if record["timezone"] is not None and not record["all_day"] else "UTC"
        if record["all_day"]:
            start: dict[str, Any] = {"date": record["start_date"].isoformat()}
            end: dict[str, Any] = {"date": record["end_date"].isoformat()}
        else:
            tz = zoneinfo.ZoneInfo(zone)
            start = {"dateTime": record["start"].astimezone(tz).strftime(LOCAL), "timeZone": zone}
            end = {"dateTime": record["end"].astimezone(tz).strftime(LOCAL), "timeZone": zone}
        component: dict[str, Any] = {"eventId": _event_id(key), "summary": summary, "start": start, "end": end}
        description, people_reasons, attendees = _attendees(record)
        description, location_text, room_reasons, rooms = _rooms(record, description, location)
        reasons.extend(people_reasons + room_reasons)
        description = _cut(description, DESCRIPTION, "description", reasons)
        if description:
            component["description"] = description
        if location_text:
            component["location"] = _cut(location_text, LOCATION, "location", reasons)
        if attendees or rooms:
            component["attendees"] = attendees + rooms
        for name in ("visibility", "transparency"):
            if record[name]:
                component[name] = record[name]
        reminders = list(record["reminders"] or [])
        if len(reminders) > REMINDERS:
            reasons.append(f"{len(reminders)} reminders cut to LINE WORKS' {REMINDERS}")
            reminders = reminders[:REMINDERS]
        if reminders:
            component["reminders"] = [{k: v for k, v in r.items() if v is not None} for r in reminders]
        if record["kind"] == "series":
            lines = [x for x in record["recurrence"] if not x.upper().startswith("DTSTART")]
            component["recurrence"] = recurrence.merge_exdates(lines)
        elif record["kind"] == "exception":
            component["recurringEventId"] = _recurring_event_id(record["recurrence_id"], zone, record["all_day"])
        if key not in owners or record["kind"] == "series":
            owner, owner_reason = _owner(record)
            owners[key] = owner
            if owner_reason:
                reasons.append(owner_reason)
        components.setdefault(key, []).append((0 if record["kind"] != "exception" else 1, component))
    writes = []
    for key, parts in components.items():
        parts.sort(key=lambda p: (p[0], p[1].get("recurringEventId", "")))
        body = [c for _, c in parts]
        if body and key in cancelled:
            master = body[0]
            master.setdefault("recurrence", []).append(
                recurrence.exdate_line(cancelled[key], master["start"].get("timeZone"))
            )
            master["recurrence"] = recurrence.merge_exdates(master["recurrence"])
        if body and "recurrence" not in body[0] and len(body) > 1:
            for extra in body[1:]:
                errors.append(
                    (
                        f"{key}:{extra.get('recurringEventId')}",
                        "an exception whose series is not in this run; written with the series only",
                    )
                )
            body = body[:1]
        payload = json.dumps({"eventComponents": body}, ensure_ascii=False) if body else None
        writes.append((key, _event_id(key), owners.get(key), payload, list(dict.fromkeys(unit_reasons[key]))))
    return writes, errors


def _event_id(key: str) -> str:
    return "cetl-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:48]


def _truncated(text: str, limit: int, name: str, reasons: list[str]) -> str:
    if len(text) <= limit:
        return text
    reasons.append(f"{name} of {len(text)} characters truncated to {limit} (LINE WORKS limit)")
    return text[: limit - 1] + "…"


def _cut(text: str, limit: int, name: str, reasons: list[str]) -> str:
    return _truncated(text, limit, name, reasons)


def _attendees(record: dict[str, Any]) -> tuple[str, list[str], list[dict[str, Any]]]:
    description = record["description"] or ""
    out, unmapped, reasons = [], [], []
    seen: set[str] = set()
    for person in record["attendees"] or []:
        email = person.get("email")
        if not email:
            unmapped.append(person.get("name") or person.get("garoon_code") or person.get("garoon_id") or "?")
            continue
        if email in seen:
            continue
        seen.add(email)
        item: dict[str, Any] = {"email": email}
        if person.get("name"):
            item["displayName"] = person["name"]
        if person.get("partstat"):
            item["partstat"] = person["partstat"]
        if person.get("optional"):
            item["isOptional"] = True
        out.append(item)
    if len(out) > ATTENDEES:
        overflow = out[ATTENDEES:]
        out = out[:ATTENDEES]
        unmapped.extend(a.get("displayName") or a["email"] for a in overflow)
        reasons.append(f"{len(overflow)} attendees past LINE WORKS' {ATTENDEES} listed in the description")
    if unmapped:
        description = f"{description}\n\nAttendees not in LINE WORKS: {', '.join(unmapped)}".strip()
        reasons.append(f"{len(unmapped)} attendee(s) without a LINE WORKS account kept as text: {', '.join(unmapped)}")
    return description, reasons, out


def _rooms(record: dict[str, Any], description: str, location: str) -> tuple[str, str, list[str], list[Any]]:
    rooms, unmapped = [], []
    for facility in record["facilities"] or []:
        if facility.get("resource_id"):
            item = {"id": facility["resource_id"], "isResource": True}
            if facility.get("name"):
                item["displayName"] = facility["name"]
            rooms.append(item)
        else:
            unmapped.append(facility.get("name") or facility.get("garoon_code") or "?")
    reasons = []
    if unmapped:
        names = ", ".join(unmapped)
        if location:
            description = f"{description}\n\nFacilities: {names}".strip()
        else:
            location = names
        reasons.append(f"{len(unmapped)} facility(ies) without a LINE WORKS resource written as text: {names}")
    return description, location, reasons, rooms


def _recurring_event_id(rid: str, zone: str, all_day: bool) -> str:
    if all_day or len(rid) == 8:
        return rid[:8]
    instant = recurrence.parse_recurrence_id(rid)
    assert isinstance(instant, dt.datetime)
    return f"TZID={zone}:{instant.astimezone(zoneinfo.ZoneInfo(zone)):%Y%m%dT%H%M%S}"


def _owner(record: dict[str, Any]) -> tuple[str | None, str | None]:
    organizer = record["organizer"]
    if organizer and organizer.get("email"):
        return organizer["email"], None
    for person in record["attendees"] or []:
        if person.get("email") and person.get("type", "USER") == "USER":
            who = (organizer or {}).get("name") or (organizer or {}).get("garoon_code") or "the organizer"
            return person["email"], f"{who} has no LINE WORKS account; the event is in {person['email']}'s calendar"
    return None, "nobody on the event has a LINE WORKS account"
