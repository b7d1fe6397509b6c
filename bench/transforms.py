"""How fast, and in how much memory, our transforms turn Garoon items and .ics files into targets.

Scenarios (each measures ours and a baseline in the same run, in fresh worker processes):

1. ``garoon_to_lineworks_rate``: Garoon list items as JSON text (``bench.workloads.garoon_workload``) →
   ``garoon_to_canonical`` → ``identity.resolve`` → ``prepare_for_lineworks`` → ``canonical_to_lineworks``
   payload JSON (:func:`our_pipeline`), in events/s on one pinned core, against :class:`PlainLoop`: the per-dict
   loop a competent engineer writes first for the same mapping (``json.loads``, ``datetime.fromisoformat``,
   ``zoneinfo``, ``strftime``, the same fields, limits, series collapse and ``json.dumps``). Our side reads the
   JSON with msgspec (``OURS_PARSER``), the loop with the standard library (``BASELINE_PARSER``); the same pair
   fed already-parsed dicts is reported too (``details.from_parsed_dicts``). Both outputs are compared write by
   write, so the baseline is known to do the same job.
2. ``ics_to_canonical_rate``: ``ics_to_canonical`` against bare ``icalendar.Calendar.from_ical`` on the same
   file (``bench.workloads.ics_workload``), VEVENTs/s on one pinned core; each timed until what it parsed is
   released (``bare_parse``), as ``ics_to_canonical`` releases its parse before it returns.
3. ``garoon_pipeline_peak_memory``: peak RSS (``ru_maxrss``, cross-checked with ``VmHWM``) of a fresh process
   that streams 200,000 items from JSON lines (one item at a time, each side reading it as in scenario 1;
   ``--hold-input`` reads them all into a list first) through scenario 1's pipeline, ours and the loop each in
   its own process.

Usage: ``.venv/bin/python -m bench.transforms [--events 50000] [--json out.json] [--profile DIR]``.
``--profile DIR`` adds cProfile reports of our side (top 25 by cumulative and by own time; the bare
``from_ical`` too) and per-stage tracemalloc peaks for scenario 3. A full run takes about 10 minutes.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import hashlib
import itertools
import json
import sys
import tempfile
import time
import tracemalloc
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from dateutil import rrule

from bench import common
from bench.workloads import garoon_workload, ics_workload

TARGET_RATE = 50_000  # events/s
TARGET_SPEEDUP = 5.0  # × the plain loop
TARGET_ICS_SHARE = 0.9  # × bare icalendar parsing
TARGET_PEAK_MB = 600.0
WARM_UP_ITEMS = 2_000
Observer = Callable[..., Any]


# ---------------------------------------------------------------------- inputs


def write_garoon_input(n: int, path: str) -> dict[str, Any]:
    """Write ``n`` Garoon items as JSON lines after one header line (``listed``, ``directory``); return counts."""
    workload = garoon_workload(n)
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps({"listed": workload["listed"], "directory": workload["directory"]}) + "\n")
        for item in workload["items"]:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    kinds = collections.Counter(_item_kind(i) for i in workload["items"])
    return {"items": len(workload["items"]), "mix": {k: round(v / len(workload["items"]), 4) for k, v in kinds.items()}}


def write_ics_input(n: int, path: str) -> dict[str, Any]:
    """Write an .ics file of ``n`` VEVENTs; return its size."""
    raw = ics_workload(n)
    Path(path).write_bytes(raw)
    return {"bytes": len(raw)}


def _item_kind(item: dict[str, Any]) -> str:
    if item.get("repeatId"):
        return "occurrence"
    if item.get("eventType") == "ALL_DAY" or item.get("isAllDay"):
        return "all_day"
    return "start_only" if item.get("isStartOnly") else "timed"


def read_garoon_header(path: str) -> dict[str, Any]:
    """Return the header line of a Garoon input file (``listed`` as datetimes, ``directory``)."""
    with open(path, encoding="utf-8") as source:
        header = json.loads(next(source))
    header["listed"] = tuple(dt.datetime.fromisoformat(x) for x in header["listed"])
    return dict(header)


def stream_garoon_lines(path: str, counter: list[int] | None = None) -> Iterator[bytes]:
    """Yield each item's JSON text (bytes), one line at a time, as the list endpoint's pages carry them."""
    with open(path, "rb") as source:
        next(source)
        for line in source:
            if counter is not None:
                counter[0] += 1
            yield line


def stream_garoon_items(path: str, counter: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """Yield the items one ``json.loads`` at a time, as ``GaroonHook.iter_events`` yields them page by page."""
    for line in stream_garoon_lines(path, counter):
        yield json.loads(line)


def read_garoon_lines(path: str) -> tuple[list[bytes], dict[str, Any]]:
    """Return (every item's JSON text in a list, header)."""
    return list(stream_garoon_lines(path)), read_garoon_header(path)


# ---------------------------------------------------------------------- ours

#: Items converted together. Singles are their own write units; occurrences are held (as canonical rows) until
#: every item is read, since all occurrences of a series must be collapsed together (as ``sources.py`` does).
CHUNK_ITEMS = 20_000
OURS_PARSER = "msgspec (typed, straight into objects)"
BASELINE_PARSER = "json.loads (stdlib)"
#: Arrow's allocator for our side: the C library's returns freed memory to the system, Arrow's default (mimalloc)
#: keeps it, which adds about 100 MB to the peak of scenario 3 for no speed (measured: same rate either way).
ARROW_MEMORY_POOL = "system"


def use_arrow_memory_pool() -> None:
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool() if ARROW_MEMORY_POOL == "system" else pa.default_memory_pool())


def _call(_name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def our_pipeline(
    items: Iterable[bytes | dict[str, Any]], header: dict[str, Any], observe: Observer = _call, chunk: int = CHUNK_ITEMS
) -> Any:
    """Return the LINE WORKS writes frame of ``items`` (JSON texts or dicts); ``observe(stage, func, *args)`` wraps
    every stage.

    The items are converted ``chunk`` at a time, each chunk through the whole pipeline: single events are their
    own write units. The occurrences of repeating events are held (as canonical rows) until every item is read
    and then collapsed and converted together, since all occurrences of a series must be collapsed together
    (``sources.py`` does the same). Memory is bounded by one chunk plus the occurrences; the writes are kept as
    Arrow text.
    """
    from calendar_etl import model
    from calendar_etl.transforms import identity
    from calendar_etl.transforms.garoon import garoon_to_canonical
    from calendar_etl.transforms.recurrence import collapse_occurrences

    directory = observe("Directory.build", identity.Directory.build, **header["directory"])
    listed = header["listed"]
    writes: list[pd.DataFrame] = []
    held: list[pd.DataFrame] = []  # occurrence rows
    errors = 0

    def convert(frame: pd.DataFrame) -> None:
        nonlocal errors
        out, count = _to_lineworks(frame, directory, observe)
        writes.append(out)
        errors += count

    source = iter(items)
    while part := list(itertools.islice(source, chunk)):
        converted = observe("garoon_to_canonical", garoon_to_canonical, part, listed=listed, collapse=False)
        errors += len(converted.errors)
        events = converted.events
        del converted, part
        occurrence = (events["kind"] == "occurrence").to_numpy(dtype=bool, na_value=False)
        if occurrence.any():
            held.append(events[occurrence])
            events = events[~occurrence]
        convert(events)
        del events
    if held:
        occurrences = model.concat(held) if len(held) > 1 else held[0]
        held.clear()
        convert(observe("collapse_occurrences", collapse_occurrences, occurrences, listed))
    out = pd.concat(writes, ignore_index=True) if writes else pd.DataFrame(columns=["sync_key", "owner", "payload"])
    out.attrs["errors"] = errors
    return out


def _to_lineworks(frame: pd.DataFrame, directory: Any, observe: Observer) -> tuple[pd.DataFrame, int]:
    from calendar_etl.transforms import identity
    from calendar_etl.transforms.lineworks import canonical_to_lineworks, prepare_for_lineworks

    resolved = observe("identity.resolve", identity.resolve, frame, directory, target="lineworks")
    prepared = observe("prepare_for_lineworks", prepare_for_lineworks, resolved, None)
    del resolved
    writes = observe("canonical_to_lineworks", canonical_to_lineworks, prepared.events)
    return writes.events, len(prepared.errors) + len(writes.errors)


class StageTimer:
    """An ``observe`` callable that records each stage's wall seconds."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


class StageMemory:
    """An ``observe`` callable that records each stage's tracemalloc peak and what it leaves allocated."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}

    def __call__(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = func(*args, **kwargs)
        current, peak = tracemalloc.get_traced_memory()
        self.stages[name] = {
            "traced_before_mb": round(before / 2**20, 1),
            "traced_peak_mb": round(peak / 2**20, 1),
            "traced_after_mb": round(current / 2**20, 1),
            "rss_peak_so_far_mb": round(common.peak_rss_mb(), 1),
        }
        return result


# ---------------------------------------------------------------------- baseline: the plain loop

DEFAULT_ZONE = "Asia/Tokyo"
LOCAL = "%Y-%m-%dT%H:%M:%S"
ONE_DAY = dt.timedelta(days=1)
PARTSTAT = {"PENDING": "NEEDS-ACTION", "ACCEPTED": "ACCEPTED", "DECLINED": "DECLINED"}
RFC_DAY = {"MON": "MO", "TUE": "TU", "WED": "WE", "THU": "TH", "FRI": "FR", "SAT": "SA", "SUN": "SU"}
NTH = {"EVERY_1STWEEK": 1, "EVERY_2NDWEEK": 2, "EVERY_3RDWEEK": 3, "EVERY_4THWEEK": 4, "EVERY_LASTWEEK": -1}
SUMMARY_MAX, LOCATION_MAX, DESCRIPTION_MAX, ATTENDEES_MAX = 200, 100, 5000, 500


class PlainLoop:
    """Garoon items → LINE WORKS payloads the way a competent engineer writes it first: one dict at a time.

    The same mapping as our pipeline: people and rooms looked up by Garoon id or code in the directory
    (LINE WORKS e-mails only), unmapped people/rooms as text, the LINE WORKS limits with an ellipsis, local
    times in the event's zone, all-day dates from the strings, start-only events ending at their start, and
    each repeating event's listed occurrences turned into one RRULE series (checked with dateutil against
    the listed range, read in the series' zone for all-day series) plus the edited occurrences as exceptions;
    the series takes the most common content (a tie goes to an occurrence at its original time, then to the
    earliest), so both sides choose the same master.
    """

    def __init__(self, directory: dict[str, Any], listed: tuple[dt.datetime, dt.datetime]) -> None:
        known = {u["email"].strip().lower() for u in directory["lineworks_users"] if u.get("email")}
        self.email_by_id: dict[str, str | None] = {}
        self.email_by_code: dict[str, str | None] = {}
        for user in directory["garoon_users"]:
            email = (user.get("email") or "").strip().lower()
            self.email_by_id[str(user["id"])] = self.email_by_code[user["code"]] = email if email in known else None
        self.resource_by_code = {row["garoon_code"]: row["resource_id"] for row in directory["facility_map"]}
        self.resource_by_id = {str(f["id"]): self.resource_by_code.get(f["code"]) for f in directory["garoon_facilities"]}  # fmt: skip
        self.listed = listed

    def run(self, items: Iterable[dict[str, Any]]) -> list[tuple[str, str, str | None, str]]:
        writes = []
        series: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if item.get("repeatId"):
                series.setdefault(str(item["id"]), []).append(item)
                continue
            key = f"garoon:{item['id']}"
            writes.append(self.write(key, [self.component(item, key)], item))
        for event_id, group in series.items():
            writes.extend(self.series(event_id, group))
        return writes

    def write(self, key: str, components: list[dict[str, Any]], owner_item: dict[str, Any]) -> tuple[Any, ...]:
        event_id = "cetl-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:48]
        for component in components:
            component["eventId"] = event_id
        payload = json.dumps({"eventComponents": components}, ensure_ascii=False)
        return key, event_id, self.owner(owner_item), payload

    # -- one event ----------------------------------------------------------------------

    def times(self, item: dict[str, Any]) -> tuple[Any, Any, str, bool]:
        """Return (start, end, zone, all_day): dates for all-day events, zone-aware datetimes otherwise."""
        start = item["start"]
        end = item.get("end") or start
        zone = start.get("timeZone") or item.get("originalStartTimeZone") or DEFAULT_ZONE
        if item.get("eventType") == "ALL_DAY" or item.get("isAllDay") is True:
            first = dt.date.fromisoformat(start["dateTime"][:10])
            last = dt.date.fromisoformat(end["dateTime"][:10])
            exclusive = last if end["dateTime"][11:19] == "00:00:00" and last > first else last + ONE_DAY
            return first, exclusive, zone, True
        tz = zoneinfo.ZoneInfo(zone)
        begin = dt.datetime.fromisoformat(start["dateTime"]).astimezone(tz)
        finish = begin if item.get("isStartOnly") is True or "end" not in item else dt.datetime.fromisoformat(end["dateTime"]).astimezone(tz)  # fmt: skip
        return begin, finish, zone, False

    def component(self, item: dict[str, Any], key: str, when: tuple[Any, Any, str, bool] | None = None) -> dict[str, Any]:  # fmt: skip
        start, end, zone, all_day = when or self.times(item)
        if all_day:
            span = {"start": {"date": start.isoformat()}, "end": {"date": end.isoformat()}}
        else:
            span = {"start": {"dateTime": start.strftime(LOCAL), "timeZone": zone},
                    "end": {"dateTime": end.strftime(LOCAL), "timeZone": zone}}  # fmt: skip
        summary = item.get("subject") or ""
        component: dict[str, Any] = {"eventId": key, "summary": _cut(summary, SUMMARY_MAX), **span}
        attendees, unmapped, seen = [], [], set()
        for person in item.get("attendees") or []:
            email = self.email(person)
            if not email:
                unmapped.append(person.get("name") or person.get("code") or person.get("id") or "?")
                continue
            if email in seen:
                continue
            seen.add(email)
            entry = {"email": email}
            if person.get("name"):
                entry["displayName"] = person["name"]
            status = PARTSTAT.get((person.get("attendanceResponse") or {}).get("status"))
            if status:
                entry["partstat"] = status
            attendees.append(entry)
        if len(attendees) > ATTENDEES_MAX:
            unmapped += [a.get("displayName") or a["email"] for a in attendees[ATTENDEES_MAX:]]
            attendees = attendees[:ATTENDEES_MAX]
        description = item.get("notes") or ""
        if unmapped:
            description = f"{description}\n\nAttendees not in LINE WORKS: {', '.join(unmapped)}".strip()
        rooms, unbooked = [], []
        for facility in item.get("facilities") or []:
            resource = self.resource_by_id.get(str(facility.get("id"))) or self.resource_by_code.get(facility.get("code"))  # fmt: skip
            if resource:
                rooms.append({"id": resource, "isResource": True, **({"displayName": facility["name"]} if facility.get("name") else {})})  # fmt: skip
            else:
                unbooked.append(facility.get("name") or facility.get("code") or "?")
        if description:
            component["description"] = _cut(description, DESCRIPTION_MAX)
        if unbooked:
            component["location"] = _cut(", ".join(unbooked), LOCATION_MAX)
        if attendees or rooms:
            component["attendees"] = attendees + rooms
        visibility = item.get("visibilityType", "PUBLIC")
        component["visibility"] = "PRIVATE" if visibility == "SET_PRIVATE_WATCHERS" else visibility
        component["transparency"] = "OPAQUE"
        return component

    def email(self, person: dict[str, Any] | None) -> str | None:
        if not person or person.get("type", "USER") != "USER":
            return None
        return self.email_by_id.get(str(person.get("id"))) or self.email_by_code.get(person.get("code"))

    def owner(self, item: dict[str, Any]) -> str | None:
        found = self.email(item.get("creator"))
        if found:
            return found
        return next((e for e in map(self.email, item.get("attendees") or []) if e), None)

    # -- one repeating event -------------------------------------------------------------

    def series(self, event_id: str, group: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        info = group[0].get("repeatInfo") or {}
        rule = _series_rule(info)
        if rule is not None:
            lines, dtstart, zone, all_day = rule
            when = [self.times(item) for item in group]
            signatures = [self.signature(item, w, zone, all_day) for item, w in zip(group, when, strict=True)]
            counts = collections.Counter(signatures)
            # the most common; a tie goes to an occurrence at its original time, then to the earliest
            typical = min(
                zip(signatures, group, strict=True), key=lambda s: (-counts[s[0]], s[0][0], s[1]["repeatId"])
            )[0]
            duration = typical[1]
            occurrences = rrule.rrulestr(lines[0], dtstart=dtstart, forceset=True)
            for excluded in _exdates(lines, zone, all_day):
                occurrences.exdate(excluded)
            first = occurrences[0]
            # an all-day occurrence is a day in the series' zone: the listed range is read there
            day_zone = zoneinfo.ZoneInfo(zone)
            lower, upper = (x.astimezone(day_zone).replace(tzinfo=None) if all_day else x for x in self.listed)
            expected = {o.strftime("%Y%m%d%H%M") for o in occurrences.between(lower - duration, upper)}
        if rule is None or expected != {item["repeatId"] for item in group}:
            keys = [f"garoon:{event_id}:{item['repeatId']}" for item in group]
            return [self.write(k, [self.component(i, k)], i) for k, i in zip(keys, group, strict=True)]
        key = f"garoon:{event_id}"
        template = group[signatures.index(typical)]
        start = first.date() if all_day else first
        master = self.component(template, key, (start, start + duration, zone, all_day))
        master["recurrence"] = lines
        exceptions = []
        for item, signature, w in zip(group, signatures, when, strict=True):
            if signature[0] or signature[1:] != typical[1:]:
                component = self.component(item, key, w)
                original = dt.datetime.strptime(item["repeatId"], "%Y%m%d%H%M")
                component["recurringEventId"] = f"{original:%Y%m%d}" if all_day else f"TZID={w[2]}:{original:%Y%m%dT%H%M%S}"  # fmt: skip
                exceptions.append(component)
        exceptions.sort(key=lambda c: c["recurringEventId"])
        return [self.write(key, [master, *exceptions], template)]

    @staticmethod
    def signature(item: dict[str, Any], when: tuple[Any, Any, str, bool], zone: str, all_day: bool) -> tuple[Any, ...]:  # fmt: skip
        """Return (shift from the original slot, duration, content): equal for unedited occurrences."""
        start, end = when[0], when[1]
        original = dt.datetime.strptime(item["repeatId"], "%Y%m%d%H%M")
        shift = start - original.date() if all_day else start - original.replace(tzinfo=zoneinfo.ZoneInfo(zone))
        people = tuple((p.get("id"), p.get("type"), (p.get("attendanceResponse") or {}).get("status")) for p in item.get("attendees") or [])  # fmt: skip
        content = (item.get("subject"), item.get("notes") or None, item.get("visibilityType"),
                   item.get("eventMenu") or None, (item.get("creator") or {}).get("id"), people,
                   tuple(f.get("id") for f in item.get("facilities") or []), bool(item.get("isStartOnly")))  # fmt: skip
        return (bool(shift), end - start, content)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _series_rule(info: dict[str, Any]) -> tuple[list[str], dt.datetime, str, bool] | None:
    """Return (RRULE and EXDATE lines, dtstart, zone, all_day) of a Garoon repeatInfo; None for other types."""
    kind, period = info.get("type"), info.get("period") or {}
    zone = info.get("timeZone") or DEFAULT_ZONE
    all_day = bool(info.get("isAllDay"))
    day = RFC_DAY.get(info.get("dayOfWeek", ""))
    month_day = str(info.get("dayOfMonth", ""))
    if kind == "EVERY_DAY":
        freq = "FREQ=DAILY"
    elif kind == "EVERY_WEEKDAY":
        freq = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    elif kind == "EVERY_WEEK" and day:
        freq = f"FREQ=WEEKLY;BYDAY={day}"
    elif kind in NTH and day:
        freq = f"FREQ=MONTHLY;BYDAY={NTH[kind]}{day}"
    elif kind == "EVERY_MONTH" and (month_day == "EOM" or month_day.isdigit()):
        freq = "FREQ=MONTHLY;BYMONTHDAY=" + ("-1" if month_day == "EOM" else str(int(month_day)))
    else:
        return None
    tz = zoneinfo.ZoneInfo(zone)
    first, last = dt.date.fromisoformat(period["start"]), dt.date.fromisoformat(period["end"])
    at = dt.time(0) if all_day else dt.time.fromisoformat((info.get("time") or {}).get("start") or "00:00")
    if all_day:
        dtstart, until = dt.datetime.combine(first, at), f"{last:%Y%m%d}"
    else:
        dtstart = dt.datetime.combine(first, at, tz)
        until = dt.datetime.combine(last, dt.time(23, 59, 59), tz).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [f"RRULE:{freq};UNTIL={until}"]
    days = sorted(
        dt.datetime.fromisoformat(x["start"]).astimezone(tz).date() for x in info.get("exclusiveDateTimes") or []
    )
    if days and all_day:
        lines.append("EXDATE;VALUE=DATE:" + ",".join(f"{d:%Y%m%d}" for d in days))
    elif days:
        lines.append(f"EXDATE;TZID={zone}:" + ",".join(f"{dt.datetime.combine(d, at):%Y%m%dT%H%M%S}" for d in days))
    return lines, dtstart, zone, all_day


def _exdates(lines: list[str], zone: str, all_day: bool) -> list[dt.datetime]:
    tz = None if all_day else zoneinfo.ZoneInfo(zone)
    out = []
    for line in lines[1:]:
        for value in line.partition(":")[2].split(","):
            if all_day:
                out.append(dt.datetime.strptime(value, "%Y%m%d"))
            else:
                out.append(dt.datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=tz))
    return out


def plain_loop(items: Iterable[dict[str, Any]], header: dict[str, Any]) -> list[tuple[Any, ...]]:
    return PlainLoop(header["directory"], header["listed"]).run(items)


def plain_loop_from_json(lines: Iterable[bytes], header: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Return the plain loop's writes of items given as JSON text, each read with ``json.loads`` (a first version's way)."""
    return plain_loop((json.loads(line) for line in lines), header)


# ---------------------------------------------------------------------- agreement of the two sides


def compare_writes(ours: Any, baseline: list[tuple[Any, ...]], examples: int = 3) -> dict[str, Any]:
    """Return how many writes both sides produce with identical payloads and owners, and a few differences."""
    mine = {
        k: (None if pd.isna(o) else o, None if pd.isna(p) else json.loads(p))  # our frame holds NaN for None
        for k, o, p in zip(ours["sync_key"], ours["owner"], ours["payload"], strict=True)
    }
    theirs = {k: (o, json.loads(p)) for k, _, o, p in baseline}
    shared = mine.keys() & theirs.keys()
    differing = sorted(k for k in shared if mine[k] != theirs[k])
    shown = []
    for key in differing[:examples]:
        a, b = mine[key][1]["eventComponents"], theirs[key][1]["eventComponents"]
        fields = sorted({f for x, y in zip(a, b, strict=False) for f in x.keys() | y.keys() if x.get(f) != y.get(f)})
        shown.append({"sync_key": key, "owner_differs": mine[key][0] != theirs[key][0], "components": [len(a), len(b)],
                      "fields": fields, "ours": a[0] if a else None, "baseline": b[0] if b else None})  # fmt: skip
    return {
        "ours_writes": len(mine),
        "baseline_writes": len(theirs),
        "only_ours": len(mine.keys() - theirs.keys()),
        "only_baseline": len(theirs.keys() - mine.keys()),
        "identical": len(shared) - len(differing),
        "differing": len(differing),
        "examples": shown,
    }


# ---------------------------------------------------------------------- workers (each in a fresh process)


def garoon_rate_worker(path: str, repeats: int, profile_dir: str | None = None) -> dict[str, Any]:
    common.pin_to_one_core()
    use_arrow_memory_pool()
    lines, header = read_garoon_lines(path)
    our_pipeline(lines[:WARM_UP_ITEMS], header)  # imports, zone caches
    plain_loop_from_json(lines[:WARM_UP_ITEMS], header)
    seconds = common.interleaved(
        {"ours": lambda: our_pipeline(lines, header), "baseline": lambda: plain_loop_from_json(lines, header)}, repeats
    )
    timer = StageTimer()
    ours = our_pipeline(lines, header, timer)
    agreement = compare_writes(ours, plain_loop_from_json(lines, header))
    agreement["our_errors"] = int(ours.attrs["errors"])
    agreement["our_series_writes"] = int(ours["payload"].str.contains('"recurrence"', regex=False).sum())
    del ours
    result = {"events": len(lines), "seconds": seconds, "stages": timer.seconds, "agreement": agreement}
    if profile_dir:
        common.profile_call(lambda: our_pipeline(lines, header), "garoon_to_lineworks", Path(profile_dir))
    # The same two pipelines fed items already parsed into dicts (parsing not timed), for comparison.
    items = [json.loads(line) for line in lines]
    result["seconds_from_dicts"] = common.interleaved(
        {"ours": lambda: our_pipeline(items, header), "baseline": lambda: plain_loop(items, header)}, repeats
    )
    return result


def bare_parse(raw: bytes) -> None:
    """Parse with icalendar alone and let the result go, as ``ics_to_canonical`` lets its parse go: both timings
    include releasing the parsed objects (about 1.5 % of the parse)."""
    import icalendar

    icalendar.Calendar.from_ical(raw, multiple=True)


def our_parse(raw: bytes) -> None:
    """Parse as ``ics_to_canonical`` parses (unfolded, with ``ics.HeadCachingParser``) and let the result go."""
    from calendar_etl.transforms import ics

    ics.parse_calendars(ics.FOLD_RE.sub(b"", raw))


def ics_rate_worker(path: str, repeats: int, profile_dir: str | None = None) -> dict[str, Any]:
    import icalendar

    from calendar_etl.transforms.ics import ics_to_canonical

    common.pin_to_one_core()
    raw = Path(path).read_bytes()
    warm = ics_workload(200, seed=1)
    ics_to_canonical(warm)
    icalendar.Calendar.from_ical(warm, multiple=True)
    seconds = common.interleaved(
        {"ours": lambda: ics_to_canonical(raw), "baseline": lambda: bare_parse(raw), "our_parse": lambda: our_parse(raw)},
        repeats,
    )
    events = raw.count(b"BEGIN:VEVENT")
    converted = ics_to_canonical(raw)
    kinds = converted.events["kind"].value_counts().to_dict()
    problems = converted.errors["problem"].str[:60].value_counts().head(5).to_dict()
    result = {"events": events, "seconds": seconds, "rows": len(converted.events), "errors": len(converted.errors),
              "kinds": {str(k): int(v) for k, v in kinds.items()},
              "error_examples": {str(k): int(v) for k, v in problems.items()}}  # fmt: skip
    if profile_dir:
        common.profile_call(lambda: ics_to_canonical(raw), "ics_to_canonical", Path(profile_dir))
        common.profile_call(lambda: icalendar.Calendar.from_ical(raw, multiple=True), "ics_bare_from_ical", Path(profile_dir))  # fmt: skip
    return result


def memory_worker(path: str, side: str, hold_input: bool = False) -> dict[str, Any]:
    """Run one side over the items, streamed from the file (or first all read into a list with ``hold_input``).

    Each side reads the items as it does in scenario 1: ours takes each item's JSON text, the loop ``json.loads``.
    """
    use_arrow_memory_pool()
    header, counter = read_garoon_header(path), [0]
    items: Iterable[Any] = stream_garoon_lines(path, counter) if side == "ours" else stream_garoon_items(path, counter)
    if hold_input:
        items = list(items)
    before = common.peak_rss_mb()
    writes = our_pipeline(items, header) if side == "ours" else plain_loop(items, header)
    return {"events": counter[0], "input": "list" if hold_input else "stream",
            "rss_before_pipeline_mb": round(before, 1), "writes": len(writes)}  # fmt: skip


def memory_profile_worker(path: str, profile_dir: str, hold_input: bool = False) -> dict[str, Any]:
    """Record each stage's tracemalloc peak (Python objects only: Arrow buffers are not traced), then cProfile."""
    use_arrow_memory_pool()
    header = read_garoon_header(path)
    items: Iterable[Any] = stream_garoon_lines(path)
    if hold_input:
        items = list(items)
    tracemalloc.start()
    stages = StageMemory()
    our_pipeline(items, header, stages)
    tracemalloc.stop()
    (Path(profile_dir) / "garoon_pipeline_memory_stages.json").write_text(json.dumps(stages.stages, indent=2))
    common.profile_call(lambda: our_pipeline(stream_garoon_lines(path), header), "garoon_pipeline_memory_run", Path(profile_dir))  # fmt: skip
    return {"stages": stages.stages}


# ---------------------------------------------------------------------- the run


def _rate_summary(worker: dict[str, Any], key: str = "seconds") -> tuple[float, float]:
    ours = worker["events"] / common.median(worker[key]["ours"])
    baseline = worker["events"] / common.median(worker[key]["baseline"])
    return round(ours, 1), round(baseline, 1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    machine = common.machine()
    print(f"machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs, {machine['memory_gb']} GB, "
          f"Python {machine['python']}, {machine['libraries']}", flush=True)  # fmt: skip
    profile = str(Path(args.profile).resolve()) if args.profile else None
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-transforms-") as tmp:
        wanted = set(args.scenarios.split(","))
        if "rate" in wanted:
            path = Path(tmp) / f"garoon-{args.events}.jsonl"
            shape = _generate(f"generating {args.events} Garoon items", "write_garoon_input", args.events, path)
            worker = _timed_step("scenario 1", common.run_isolated, "bench.transforms:garoon_rate_worker",
                                 path=str(path), repeats=args.repeats, profile_dir=profile)  # fmt: skip
            ours, baseline = _rate_summary(worker)
            ratio = ours / baseline
            ours_dicts, baseline_dicts = _rate_summary(worker, "seconds_from_dicts")
            results["garoon_to_lineworks_rate"] = {
                "ours": ours, "baseline": baseline, "ratio": round(ratio, 2), "unit": "events/s",
                "target": f">= {TARGET_RATE} events/s and >= {TARGET_SPEEDUP}x baseline",
                "met": ours >= TARGET_RATE and ratio >= TARGET_SPEEDUP,
                "parsers": {"ours": OURS_PARSER, "baseline": BASELINE_PARSER},
                "how_measured": (
                    f"{worker['events']} Garoon list items (mix {shape['mix']}), each item's JSON text (bytes) read "
                    f"from JSON lines into memory before timing; median of {args.repeats} interleaved runs each, "
                    f"time.perf_counter, one process pinned to CPU {common.MEASURING_CORE} (os.sched_setaffinity), "
                    f"after a {WARM_UP_ITEMS}-item warm-up; ours = garoon_to_canonical (JSON text read with "
                    f"{OURS_PARSER}; {CHUNK_ITEMS} items at a time, occurrences held and collapse_occurrences at the "
                    "end) + Directory.build + identity.resolve + prepare_for_lineworks(None) + canonical_to_lineworks, "
                    f"Arrow's {ARROW_MEMORY_POOL} memory pool; "
                    f"baseline = {BASELINE_PARSER} per item + bench.transforms.PlainLoop (per-dict loop, same mapping)"
                ),
                "details": {"seconds": worker["seconds"], "our_stage_seconds": worker["stages"],
                            "agreement": worker["agreement"], "worker_peak_rss_mb": worker["peak_rss_mb"],
                            "from_parsed_dicts": {
                                "ours": ours_dicts, "baseline": baseline_dicts,
                                "ratio": round(ours_dicts / baseline_dicts, 2),
                                "how_measured": "the same, with every item already a dict (parsing not timed): ours "
                                "writes each dict back to JSON text with msgspec and reads that, baseline is PlainLoop alone",
                                "seconds": worker["seconds_from_dicts"]},
                            "machine": machine},
            }  # fmt: skip
        if "ics" in wanted:
            path = Path(tmp) / f"calendar-{args.ics_events}.ics"
            _generate(f"generating {args.ics_events} VEVENTs", "write_ics_input", args.ics_events, path)
            worker = _timed_step("scenario 2", common.run_isolated, "bench.transforms:ics_rate_worker",
                                 path=str(path), repeats=args.repeats, profile_dir=profile)  # fmt: skip
            ours, baseline = _rate_summary(worker)
            parse = common.median(worker["seconds"]["our_parse"])
            parse_share = parse / common.median(worker["seconds"]["ours"])
            parse_speedup = common.median(worker["seconds"]["baseline"]) / parse
            results["ics_to_canonical_rate"] = {
                "ours": ours, "baseline": baseline, "ratio": round(ours / baseline, 3), "unit": "VEVENTs/s",
                "target": f">= {TARGET_ICS_SHARE} x baseline", "met": ours / baseline >= TARGET_ICS_SHARE,
                "how_measured": (
                    f"{worker['events']} VEVENTs in one {path.stat().st_size / 2**20:.1f} MB .ics (timed/all-day/RRULE/"
                    "overrides; IANA, Windows, VTIMEZONE-only, UTC, floating); median of "
                    f"{args.repeats} interleaved runs each, time.perf_counter, pinned to CPU {common.MEASURING_CORE}; "
                    "ours = ics_to_canonical(bytes); baseline = icalendar.Calendar.from_ical(bytes, multiple=True); "
                    "both timed up to and including releasing what they parsed (bench.transforms.bare_parse); "
                    "ours parses with ics.HeadCachingParser (icalendar's parser, each distinct line head read once), "
                    f"timed alone too: it parses {parse_speedup:.2f}x as fast as from_ical and is {parse_share:.0%} "
                    "of ours (the rest is our conversion)"
                ),
                "details": {"seconds": worker["seconds"], "rows": worker["rows"], "errors": worker["errors"],
                            "parse_share": round(parse_share, 3), "parse_vs_from_ical": round(parse_speedup, 2),
                            "kinds": worker["kinds"], "error_examples": worker["error_examples"], "machine": machine},
            }  # fmt: skip
        if "memory" in wanted:
            path = Path(tmp) / f"garoon-{args.memory_events}.jsonl"
            _generate(f"generating {args.memory_events} Garoon items", "write_garoon_input", args.memory_events, path)
            sides = {
                side: _timed_step(f"scenario 3 ({side})", common.run_isolated, "bench.transforms:memory_worker",
                                  path=str(path), side=side, hold_input=args.hold_input)
                for side in ("ours", "baseline")
            }  # fmt: skip
            if profile:
                sides["stages"] = _timed_step("scenario 3 profile", common.run_isolated,
                                              "bench.transforms:memory_profile_worker", path=str(path),
                                              profile_dir=profile, hold_input=args.hold_input)  # fmt: skip
            ours_mb, base_mb = sides["ours"]["peak_rss_mb"], sides["baseline"]["peak_rss_mb"]
            held = ("all read into one list first" if args.hold_input else
                    "streamed one item at a time (ours: its JSON text; the loop: json.loads of it)")  # fmt: skip
            results["garoon_pipeline_peak_memory"] = {
                "ours": ours_mb, "baseline": base_mb, "ratio": round(ours_mb / base_mb, 2), "unit": "MB peak RSS",
                "target": f"<= {TARGET_PEAK_MB} MB", "met": ours_mb <= TARGET_PEAK_MB,
                "how_measured": (
                    f"{sides['ours']['events']} Garoon items (same mix) from JSON lines ({held}) through scenario 1's "
                    "pipeline (ours) or PlainLoop (baseline) to payload strings, each side in its own fresh process; "
                    "peak = resource.getrusage(RUSAGE_SELF).ru_maxrss of that process (includes the interpreter "
                    f"and libraries: see details.*.rss_before_pipeline_mb); ours in chunks of {CHUNK_ITEMS} items with "
                    f"Arrow's {ARROW_MEMORY_POOL} memory pool"
                ),
                "details": {**sides, "machine": machine},
            }  # fmt: skip
    return results


def _generate(label: str, writer: str, n: int, path: Path) -> dict[str, Any]:
    """Write an input in a worker, so this (parent) process stays small: see ``bench.common`` on ru_maxrss."""
    return dict(_timed_step(label, common.run_isolated, f"bench.transforms:{writer}", n=n, path=str(path)))


def _timed_step(label: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    print(f"{label} ...", end=" ", flush=True)
    started = time.perf_counter()
    result = func(*args, **kwargs)
    print(f"{time.perf_counter() - started:.1f} s", flush=True)
    return result


def render(results: dict[str, Any]) -> str:
    rows = [
        (name, f"{r['ours']:,.1f}", f"{r['baseline']:,.1f}", f"{r['ratio']:.2f}", r["unit"], r["target"],
         "yes" if r["met"] else "NO")
        for name, r in results.items()
    ]  # fmt: skip
    return common.table(rows, ("scenario", "ours", "baseline", "ours/baseline", "unit", "target", "met"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000, help="Garoon items for scenario 1")
    parser.add_argument("--ics-events", type=int, default=20_000, help="VEVENTs for scenario 2")
    parser.add_argument("--memory-events", type=int, default=200_000, help="Garoon items for scenario 3")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (the median is reported)")
    parser.add_argument("--scenarios", default="rate,ics,memory", help="comma-separated: rate, ics, memory")
    parser.add_argument("--hold-input", action="store_true", help="scenario 3: read all items into a list first")
    parser.add_argument("--json", help="write the results as JSON to this file")
    parser.add_argument("--profile", help="write cProfile/tracemalloc reports of our side into this directory")
    args = parser.parse_args(argv)
    results = run(args)
    print()
    print(render(results))
    for name, result in results.items():
        agreement = result["details"].get("agreement")
        if agreement:
            print(f"\n{name}: writes identical to the baseline's: {agreement['identical']} of "
                  f"{agreement['ours_writes']} (differing {agreement['differing']}, only ours "
                  f"{agreement['only_ours']}, only baseline {agreement['only_baseline']})")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
