"""Bad input through the real DAGs: every malformed item is loaded correctly or reported with its own reason.

Three runs of real DAGs (``dag.test``) against the emulators, into one LINE WORKS calendar (``target_calendar`` with
``calendar_user``, so an event's owner never decides whether it lands):

* ``garoon_to_lineworks`` over a Garoon holding nothing but bad events, served by the emulator over HTTP: the
  malformed-JSON table of ``tests/transforms/test_malformed_input.py`` (wrong types, impossible dates, unknown
  zones), hand-made extremes (control characters, lone surrogates, oversize fields, a 10 MB description, 600
  attendees) and hypothesis-fuzzed events (fields replaced by arbitrary JSON);
* ``ics_to_lineworks`` over hypothesis-fuzzed .ics files: every VEVENT has a UID and one to three anomalies
  (impossible or unreadable dates, unknown zones, broken or unknown lines, runaway or invalid rules, control
  characters, oversize text), a few are clean;
* ``ics_to_lineworks`` over the malformed corpus (``include/sample_data/ics/malformed``, whose manifest says what
  each file must give), a file over the size limit and a file with a 10 MB description.

For each run: the run is not crashed by any item (extract and plan succeed, the report is written); every item the
source holds (read independently: the Garoon API, a line scan of the files, the manifest) is in LINE WORKS once
or named in the report with a reason, never both missing and unnamed (count in == loaded + reported); nothing
else lands; and the loaded ones carry the right start and summary.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from calendar_etl.transforms.ics import MAX_ICS_BYTES
from calendar_etl.transforms.lineworks import SUMMARY_MAX_LEN, event_id_for
from tests.dags.conftest import ROOT, DagHarness, garoon_items, lineworks_events
from tests.dags.test_ics_to_lineworks import failed_tasks
from tests.reliability.helpers import FIGURES, STRESS, worker_context
from tests.transforms.test_malformed_input import GAROON_CASES

pytestmark = pytest.mark.slow

WINDOW = {"start": "2026-11-16", "end": "2026-11-23"}
RANGE = {"rangeStart": "2026-11-15T15:00:00Z", "rangeEnd": "2026-11-22T15:00:00Z"}  # WINDOW in Tokyo
CORPUS = ROOT / "include" / "sample_data" / "ics"
FUZZED_GAROON = 200 if STRESS else 40  # hypothesis-generated Garoon events in the run
FUZZED_ICS = 600 if STRESS else 120  # hypothesis-generated VEVENTs in the run
TEN_MB = 10 * 1024 * 1024
NO_WAIT = dt.timedelta(0)  # Airflow retries at once (the DAGs wait 30 s)
HANG_S = 3  # a plan of one event that takes longer hangs (the bug below takes hours)


# ---------------------------------------------------------------------- shared checks


@dataclass
class Outcome:
    """Where each input item went: loaded (LINE WORKS eventId) and/or reported (reason)."""

    loaded: dict[str, dict[str, Any]] = field(default_factory=dict)  # source key -> stored event
    reported: dict[str, str] = field(default_factory=dict)  # source key -> reason
    stray: list[str] = field(default_factory=list)  # eventIds of events no input explains


def writer_of(harness: DagHarness) -> dict[str, str]:
    """The LINE WORKS user every bad-input run writes as: their default calendar takes every event."""
    user = next(u for u in harness.lineworks.state()["users"] if u["email"].startswith("sato-ken@"))
    return {"target_calendar": user["defaultCalendarId"], "calendar_user": user["email"]}


def outcome(harness: DagHarness, run: Any, keys: set[str], *, key_of_report: Any = None) -> Outcome:
    """Sort the input ``keys`` into loaded and reported, from LINE WORKS' state and the run's report."""
    states = failed_tasks(run)
    assert "extract" not in states and "plan" not in states, f"an item crashed the run: {states}"
    report = harness.report(run)
    named: dict[str, str] = {}
    for item in report["not_convertible"]:
        named.setdefault(str(item["source_key"]), str(item["problem"]))
    for item in report["failed"]:
        named.setdefault(str(item["sync_key"]), str(item["error"]))
    out = Outcome()
    by_id = {e["eventComponents"][0]["eventId"]: e for e in lineworks_events(harness)}
    explained: set[str] = set()
    for key in keys:
        event_id = event_id_for(key)
        if event_id in by_id:
            out.loaded[key] = by_id[event_id]
            explained.add(event_id)
        reasons = [reason for name, reason in named.items() if (key_of_report or _same_key)(name, key)]
        if reasons:
            out.reported[key] = reasons[0]
    out.stray = sorted(set(by_id) - explained)
    return out


def _same_key(name: str, key: str) -> bool:
    return name == key or name.startswith((f"{key}:", f"{key}#"))


def assert_accounted(out: Outcome, keys: set[str], label: str) -> None:
    """count in == loaded + reported: nothing dropped silently, nothing unexplained in the target."""
    silent = sorted(keys - set(out.loaded) - set(out.reported))
    assert not silent, f"{label}: {len(silent)} items neither loaded nor reported: {silent[:10]}"
    assert not out.stray, f"{label}: events in LINE WORKS that no input explains: {out.stray[:10]}"
    for key, reason in out.reported.items():
        assert len(reason.strip()) >= 10 and not UNCLEAR.search(reason), f"{key}: unclear reason {reason!r}"
    FIGURES["bad inputs tried"] += len(keys)
    FIGURES["bad inputs loaded"] += len(set(out.loaded) - set(out.reported))
    FIGURES["bad inputs reported with a reason"] += len(out.reported)
    FIGURES["bad inputs dropped silently"] += len(silent)


# ---------------------------------------------------------------------- Garoon JSON over HTTP


def garoon_user(harness: DagHarness, code: str) -> dict[str, Any]:
    users = harness.garoon.state()["users"]
    return next(u for u in users if u["code"] == code)


def g_time(value: str, zone: str = "Asia/Tokyo") -> dict[str, str]:
    return {"dateTime": value, "timeZone": zone}


def garoon_base(creator: dict[str, Any], number: int) -> dict[str, Any]:
    day = 16 + number % 7
    return {
        "id": str(900_000 + number),
        "eventType": "REGULAR",
        "subject": f"bad input {number}",
        "creator": {"id": creator["id"], "code": creator["code"], "name": creator["name"]},
        "start": g_time(f"2026-11-{day}T10:00:00+09:00"),
        "end": g_time(f"2026-11-{day}T11:00:00+09:00"),
        "attendees": [{"type": "USER", "id": creator["id"], "code": creator["code"]}],
    }


def extremes(base: Any, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hand-made extremes: control characters, surrogates, oversize fields, odd zones and dates."""
    texts = ["\x00nul", "bell\x07", "\x1b[31mred\x1b[0m", "line\u2028sep", "\u202eright-to-left", "\ufeffbom",
             "zero\u200bwidth", "tab\there", "crlf\r\nnext", "back\\slash;semi,comma", "絵文字😀", "lone \ud83d surrogate",
             "<script>alert(1)</script>", "' OR 1=1 --", "x" * 201, "y" * 10_000]  # fmt: skip
    zones = ["Asia/Tokio", "UTC+9", "JST", "", "Etc/GMT+99", "../../etc/passwd", "America/New_York ", "asia/tokyo"]
    times = [("2026-13-01T10:00:00+09:00", None), ("0001-01-01T00:00:00+09:00", None),
             ("2026-11-18T10:00:00.123456789+09:00", None), ("2026-11-18T10:00:00Z", None),
             ("2026-11-18T10:00:00+09:00", "3000-01-01T00:00:00+09:00"), ("2026-11-18T23:59:60+09:00", None)]  # fmt: skip
    out: list[dict[str, Any]] = []
    for text in texts:
        out.append(base(subject=text))
        out.append(base(notes=text))
    out.append(base(notes="z" * TEN_MB))  # a 10 MB description
    out.append(base(notes="n" * 5_001))
    for zone in zones:
        out.append(base(start_zone=zone))
    for start, end in times:
        out.append(base(start=start, end=end))
    people = [{"type": "USER", "id": u["id"], "code": u["code"]} for u in users]
    out.append(base(attendees=(people * 30)[:600]))  # over LINE WORKS' 500, with repeats
    out.append(base(facilities=[{"id": "999999", "code": "nowhere", "name": "Nowhere"}]))
    out.append(base(eventMenu=["not", "a", "string"]))
    out.append(base(eventType="ALL_DAY", start="2026-11-19T00:00:00+09:00", end="2026-11-18T23:59:59+09:00"))
    return out


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
GAROON_FIELDS = ["subject", "notes", "eventType", "eventMenu", "visibilityType", "attendees", "facilities",
                 "start.timeZone", "end.timeZone", "end", "start.dateTime", "end.dateTime", "watchers", "creator.name",
                 "additionalItems", "isAllDay", "isStartOnly", "companyInfo", "useAttendanceCheck"]  # fmt: skip


def fuzzed(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` values of ``strategy`` from hypothesis (deterministic), to build one DAG run's input from.

    Each value is one item of the run rather than one run per example: a run costs seconds, an item nothing.
    """
    values: list[Any] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def collect(value: Any) -> None:
        values.append(value)

    collect()
    assert len(values) >= count // 2, f"hypothesis gave only {len(values)} values"
    return values


@st.composite
def json_changes(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """One to three fields of a Garoon event and the arbitrary JSON each is replaced with."""
    paths = draw(st.lists(st.sampled_from(GAROON_FIELDS), min_size=1, max_size=3, unique=True))
    return [(path, draw(JSON)) for path in paths]


def test_malformed_garoon_events_are_loaded_or_reported_one_by_one(dags: DagHarness) -> None:
    dags.garoon.reset(empty=True)
    sato = garoon_user(dags, "sato-ken")
    users = dags.garoon.state()["users"]
    counter = iter(range(10**6))
    items: list[dict[str, Any]] = []
    for name, make, _key, _problem in GAROON_CASES:  # the transform table, now served over HTTP
        item = make(str(900_000 + next(counter)))
        if not isinstance(item, dict):
            continue  # a list item that is not an object cannot be stored; the transform test covers it
        item.setdefault("creator", {"id": sato["id"], "code": sato["code"], "name": sato["name"]})
        item.setdefault("attendees", [{"type": "USER", "id": sato["id"], "code": sato["code"]}])
        if not name.startswith("subject"):
            item["subject"] = name
        items.append(item)

    def base(**changes: Any) -> dict[str, Any]:
        item = garoon_base(sato, next(counter))
        for name, value in changes.items():
            if name == "start_zone":
                item["start"]["timeZone"] = value
            elif name in ("start", "end"):
                if value is not None:
                    item[name] = g_time(value)
            else:
                item[name] = value
        return item

    items += extremes(base, users)
    for changes in fuzzed(json_changes(), FUZZED_GAROON):  # one to three fields replaced by arbitrary JSON
        item = base()
        for path, value in changes:
            *parents, leaf = path.split(".")
            target = item
            for part in parents:
                target = target[part] if isinstance(target.get(part), dict) else {}
            target[leaf] = value
        items.append(item)
    response = dags.garoon.seed(items)
    assert response.status_code == 200, response.text

    listed = garoon_items(dags, RANGE)  # what the API serves, read without the product
    keys = {f"garoon:{e['id']}" for e in listed}
    assert len(keys) >= 100, f"only {len(keys)} bad events are served"
    run = dags.run("garoon_to_lineworks", {**WINDOW, **writer_of(dags)}, retry_delay=NO_WAIT)
    out = outcome(dags, run, keys)
    assert_accounted(out, keys, "Garoon JSON")
    by_key = {f"garoon:{e['id']}": e for e in listed}
    for key, stored in out.loaded.items():
        source, component = by_key[key], stored["eventComponents"][0]
        subject = source.get("subject")
        if isinstance(subject, str) and subject.isprintable() and len(subject) <= SUMMARY_MAX_LEN:
            assert component["summary"] == subject, key
        if isinstance(subject, str) and len(subject) > SUMMARY_MAX_LEN:
            assert len(component["summary"]) == SUMMARY_MAX_LEN and component["summary"].endswith("…"), key
        start = (source.get("start") or {}).get("dateTime") if isinstance(source.get("start"), dict) else None
        if (
            isinstance(start, str)
            and re.fullmatch(r"2026-11-\d\dT10:00:00\+09:00", start)
            and "dateTime" in component["start"]
        ):
            assert _instant(component["start"]) == dt.datetime.fromisoformat(start), key


def _instant(value: dict[str, str]) -> dt.datetime:
    return dt.datetime.fromisoformat(value["dateTime"]).replace(tzinfo=ZoneInfo(value["timeZone"]))


# ---------------------------------------------------------------------- fuzzed .ics files


@dataclass
class VEvent:
    lines: list[str]
    start: dt.datetime | dt.date | None = None  # what LINE WORKS must show, when the input's start is valid
    summary: str | None = None  # the summary LINE WORKS must show exactly, when the input's is plain
    clean: bool = False  # no anomaly at all: must load


TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=60
)  # control characters (C0, DEL, C1), format characters, CJK, emoji...
ANOMALIES = [  # each costs at most its own VEVENT
    "BROKEN LINE WITHOUT A COLON",
    "X-JUNK;=bad param:\x00\x01\x02",
    'ATTENDEE;CN="Unclosed quote:mailto:x@example.com',
    "ORGANIZER:not-an-address",
    "RRULE:FREQ=FORTNIGHTLY",
    "RRULE:FREQ=DAILY;COUNT=-1",
    "RRULE:FREQ=WEEKLY;UNTIL=notadate",
    "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "RRULE:FREQ=DAILY",  # runaway: no end
    "EXDATE:garbage",
    "RDATE:20261399T000000Z",
    "SEQUENCE:-5",
    "CLASS:TOP-SECRET",
    "GEO:999;999",
    "RECURRENCE-ID:20261118T090000Z",
    "LOCATION:" + "L" * 150,
    "DESCRIPTION:" + "D" * 6_000,
    "SUMMARY:a second summary",
    "STATUS:MAYBE",
]
#: Anomalies that once cost more than their VEVENT (the whole file, or a run of events without a word) or were
#: reported with an internal error text; each now costs at most its own VEVENT, with a clear reason.
STRUCTURE_ANOMALIES = {
    "SEQUENCE:99999999999999": "the conversion of the whole file raised ArrowInvalid",
    "BEGIN:VALARM\r\nTRIGGER:nonsense\r\nEND:VALARM": "the whole file was refused (not an iCalendar file)",
    "BEGIN:VALARM\r\nACTION:DISPLAY": "an unclosed VALARM dropped the events before it without a word",
    "END:VTODO": "the whole file was refused (END without BEGIN)",
    "DURATION:P-1X": "reported as \"'list' object has no attribute 'to_ical'\"",
    "DTSTART:20261120T090000Z": "a second DTSTART was reported as \"'list' object has no attribute 'dt'\"",
    "RECURRENCE-ID:20261118T090000Z\r\nRECURRENCE-ID:20261118T090000Z": "so was a repeated RECURRENCE-ID",
}
ANOMALIES += list(STRUCTURE_ANOMALIES)
UNCLEAR = re.compile(r"object has no attribute|object is not|NoneType|unsupported operand|Traceback|index out of range")
BAD_STARTS = [
    "DTSTART:20261318T090000Z",
    "DTSTART:2026-11-18T09:00:00Z",
    "DTSTART;TZID=Mars/Olympus_Mons:20261118T090000",
    "DTSTART:",
    "DTSTART;VALUE=DATE:20260230",
    "DTSTART:99999999T999999",
    "DTSTART;VALUE=DATE:20261118T090000Z",
    None,  # no DTSTART at all
]


def escape(text: str) -> str:
    """RFC 5545 TEXT escaping (control characters other than line breaks are left in: they are the test)."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")


@st.composite
def vevents(draw: st.DrawFn, clean: bool) -> VEvent:
    day = draw(st.dates(min_value=dt.date(1971, 1, 1), max_value=dt.date(2099, 12, 31)))
    hour, minutes = draw(st.integers(0, 23)), draw(st.integers(1, 600))
    form = draw(st.sampled_from(["utc", "tokyo", "windows", "date", "floating"] + ([] if clean else ["bad"] * 3)))
    start: dt.datetime | dt.date | None
    stamp = f"{day:%Y%m%d}T{hour:02d}0000"
    if form == "utc":
        lines, start = [f"DTSTART:{stamp}Z"], dt.datetime.combine(day, dt.time(hour), dt.UTC)
    elif form in ("tokyo", "windows"):
        zone = "Asia/Tokyo" if form == "tokyo" else "Tokyo Standard Time"
        lines, start = [f"DTSTART;TZID={zone}:{stamp}"], dt.datetime.combine(day, dt.time(hour), ZoneInfo("Asia/Tokyo"))
    elif form == "date":
        lines, start = [f"DTSTART;VALUE=DATE:{day:%Y%m%d}"], day
    elif form == "floating":
        lines, start = [f"DTSTART:{stamp}"], None
    else:
        bad = draw(st.sampled_from(BAD_STARTS))
        lines, start = ([bad] if bad else []), None
    if form == "date":
        lines.append(f"DTEND;VALUE=DATE:{day + dt.timedelta(days=1):%Y%m%d}")
    elif form != "bad":
        lines.append(f"DURATION:PT{minutes}M")
    summary_text = "clean event" if clean else draw(st.one_of(TEXT, st.just("s" * 10_000), st.just("")))
    lines.append(f"SUMMARY:{escape(summary_text)}")
    if not clean:
        lines += draw(st.lists(st.sampled_from(ANOMALIES), min_size=1 if form != "bad" else 0, max_size=3, unique=True))
    plain = summary_text if summary_text.isprintable() and 0 < len(summary_text) <= SUMMARY_MAX_LEN else None
    return VEvent(["DTSTAMP:20261101T000000Z", *lines], start, plain, clean)


def uid_of(index: int) -> str:
    return f"fz-{index:04d}@fuzz.example"


def ics_file(events: dict[str, VEvent]) -> str:
    out = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calendar-etl//fuzz//EN"]
    for uid, event in events.items():
        out += ["BEGIN:VEVENT", f"UID:{uid}", *event.lines, "END:VEVENT"]
    out.append("END:VCALENDAR")
    return "".join(fold(line) for text in out for line in text.split("\r\n"))


def fold(line: str) -> str:
    """One content line, folded at 75 octets without splitting a UTF-8 character (RFC 5545 3.1)."""
    data = line.encode("utf-8", "surrogatepass")
    if len(data) <= 75:
        return line + "\r\n"
    pieces, current = [], ""
    for char in line:
        if len((current + char).encode("utf-8", "surrogatepass")) > 75:
            pieces.append(current)
            current = " "
        current += char
    return "\r\n".join([*pieces, current]) + "\r\n"


def uids_in(path: Path) -> set[str]:
    """The UIDs of a file by a plain line scan (unfolded), independent of any iCalendar parser."""
    text = re.sub(r"\r?\n[ \t]", "", path.read_bytes().decode("utf-8", "replace"))
    return {line[4:].strip() for line in text.splitlines() if line.upper().startswith("UID:")}


def test_fuzzed_ics_events_are_loaded_or_reported_one_by_one(dags: DagHarness, tmp_path: Path) -> None:
    drawn = fuzzed(vevents(clean=False), FUZZED_ICS) + fuzzed(vevents(clean=True), FUZZED_ICS // 10)
    events = {uid_of(i): event for i, event in enumerate(drawn)}
    paths = []
    for part in range(2):  # two files, each read whole
        path = tmp_path / f"fuzz-{part}.ics"
        path.write_bytes(ics_file({u: e for n, (u, e) in enumerate(events.items()) if n % 2 == part}).encode("utf-8"))
        paths.append(path)
    keys = {f"ics:{uid}" for path in paths for uid in uids_in(path)}
    assert keys == {f"ics:{uid}" for uid in events}
    run = dags.run(
        "ics_to_lineworks", {**WINDOW, "source": ",".join(map(str, paths)), **writer_of(dags)}, retry_delay=NO_WAIT
    )
    out = outcome(dags, run, keys)
    assert_accounted(out, keys, "fuzzed .ics")
    for uid, event in events.items():
        key = f"ics:{uid}"
        if event.clean:
            assert key in out.loaded and key not in out.reported, f"{key}: a clean event did not load cleanly"
        stored = out.loaded.get(key)
        if stored is None:
            continue
        component = stored["eventComponents"][0]
        if event.summary is not None and "SUMMARY:a second summary" not in event.lines:
            assert component["summary"] == event.summary, key
        if isinstance(event.start, dt.datetime) and "DTSTART:20261120T090000Z" not in event.lines:
            assert _instant(component["start"]) == event.start, key
        elif isinstance(event.start, dt.date) and "DTSTART:20261120T090000Z" not in event.lines:
            assert component["start"] == {"date": event.start.isoformat()}, key


# ---------------------------------------------------------------------- the malformed corpus and size limits


def test_malformed_files_oversize_files_and_a_10_mb_description(dags: DagHarness, tmp_path: Path) -> None:
    manifest = json.loads((CORPUS / "manifest.json").read_text())["files"]
    malformed = sorted(name for name in manifest if name.startswith("malformed/"))
    assert len(malformed) == 10
    huge = tmp_path / "over_the_limit.ics"
    with huge.open("wb") as handle:  # one byte over the limit: refused whole, before it is read
        handle.truncate(MAX_ICS_BYTES + 1)
    big_text = tmp_path / "ten_mb_description.ics"
    body = "".join(
        f" {chunk}\r\n" for chunk in re.findall(".{1,74}", string.ascii_letters * (TEN_MB // 52 + 1))[: TEN_MB // 74]
    )
    big_text.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:ten-mb@size.example\r\n"
        "DTSTAMP:20261101T000000Z\r\nDTSTART:20261118T010000Z\r\nDTEND:20261118T020000Z\r\nSUMMARY:Ten megabytes\r\n"
        f"DESCRIPTION:start\r\n{body}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert big_text.stat().st_size > TEN_MB
    sources = [str(CORPUS / name) for name in malformed] + [str(huge), str(big_text)]
    run = dags.run("ics_to_lineworks", {**WINDOW, "source": ",".join(sources), **writer_of(dags)}, retry_delay=NO_WAIT)

    # Inputs: each VEVENT of the corpus (by UID; position-named ones by file), each file that is no calendar.
    keys: set[str] = set()
    whole_files: dict[str, str] = {}
    for name in malformed:
        found = uids_in(CORPUS / name)
        keys |= {f"ics:{uid}" for uid in found}
        if not found or manifest[name]["file_errors"]:
            whole_files[f"ics:{CORPUS / name}"] = name
    keys |= {f"ics:{huge}", "ics:ten-mb@size.example"}

    def matches(reported: str, key: str) -> bool:
        return _same_key(reported, key) or (key.startswith("ics:") and reported.startswith(f"ics:{Path(key[4:]).name}"))

    out = outcome(dags, run, keys | set(whole_files), key_of_report=matches)
    assert_accounted(out, keys | set(whole_files), "malformed files")
    report = dags.report(run)
    loaded_units = sum(manifest[name]["sync_units"] for name in malformed) + 1
    assert len(out.loaded) == loaded_units, (len(out.loaded), loaded_units)
    errors = sum(manifest[name]["errors"] for name in malformed)
    assert report["totals"]["not_convertible"] >= errors + 1
    assert "limit" in out.reported[f"ics:{huge}"], out.reported[f"ics:{huge}"]
    stored = out.loaded["ics:ten-mb@size.example"]["eventComponents"][0]
    assert len(stored["description"]) == 5000 and stored["description"].startswith("startabc"), len(
        stored["description"]
    )
    FIGURES["bad inputs tried"] += 0  # counted in assert_accounted
    counts = collections.Counter(e["eventComponents"][0]["eventId"] for e in lineworks_events(dags))
    assert all(n == 1 for n in counts.values())


def test_structure_anomalies_cost_only_their_own_vevent(dags: DagHarness, tmp_path: Path) -> None:
    """Each anomaly of ``STRUCTURE_ANOMALIES`` in its own file between two clean events: the clean ones must load
    and the bad one must load or be reported with a clear reason."""
    clean = ["DTSTAMP:20261101T000000Z", "DTSTART:20261118T090000Z", "DURATION:PT30M", "SUMMARY:clean"]
    paths, keys = [], set()
    for n, anomaly in enumerate(STRUCTURE_ANOMALIES):
        bad = VEvent(["DTSTAMP:20261101T000000Z", "DTSTART:20261118T100000Z", "DURATION:PT30M", "SUMMARY:bad", anomaly])
        events = {f"bug-{n}-a@x": VEvent(clean), f"bug-{n}-b@x": bad, f"bug-{n}-c@x": VEvent(clean)}
        path = tmp_path / f"bug-{n}.ics"
        path.write_bytes(ics_file(events).encode("utf-8"))
        paths.append(path)
        keys |= {f"ics:{uid}" for uid in events}
    run = dags.run(
        "ics_to_lineworks", {**WINDOW, "source": ",".join(map(str, paths)), **writer_of(dags)}, retry_delay=NO_WAIT
    )
    out = outcome(dags, run, keys)
    assert {k for k in keys if k.endswith(("-a@x", "-c@x"))} <= set(out.loaded), (
        "clean events were lost with the bad one"
    )
    assert_accounted(out, keys, "structure anomalies")


def _expand_secondly_series() -> None:
    """Plan LINE WORKS writes for sub-daily series that began in 1971, for a one-day window (in a child process):
    a half-hourly one becomes its 48 occurrences, a SECONDLY one (86,400 in the day) an error naming it."""
    from calendar_etl import targets
    from calendar_etl.transforms.ics import ics_to_canonical

    window = (dt.datetime(2026, 11, 18, tzinfo=dt.UTC), dt.datetime(2026, 11, 19, tzinfo=dt.UTC))
    for uid, rule, length in (("tick@x", "FREQ=SECONDLY", "PT1S"), ("half@x", "FREQ=MINUTELY;INTERVAL=30", "PT10M")):
        event = VEvent(["DTSTAMP:20261101T000000Z", "DTSTART:19710101T000000Z", f"DURATION:{length}",
                        "SUMMARY:tick", f"RRULE:{rule}"])  # fmt: skip
        frame = ics_to_canonical(ics_file({uid: event}).encode(), name=uid).events
        planned = targets.lineworks_writes(frame, window, need_owner=False)
        if uid == "half@x":
            assert len(planned.events) == 48 and planned.errors.empty, (len(planned.events), planned.errors)
        else:
            assert planned.events.empty and list(planned.errors["source_key"]) == [f"ics:{uid}"], planned.errors
            assert "more than" in planned.errors["problem"].iloc[0], planned.errors


def test_a_secondly_series_from_long_ago_does_not_hang_the_plan() -> None:
    """LINE WORKS refuses SECONDLY rules, so the plan expands such a series inside the window; that must take
    moments however long ago the series began (walking dateutil from DTSTART took hours: ~1.7e9 steps)."""
    child = worker_context().Process(target=_expand_secondly_series, daemon=True)
    child.start()
    child.join(timeout=HANG_S)
    hung = child.is_alive()
    if hung:
        child.kill()
        child.join()
    assert not hung, f"planning one SECONDLY series took more than {HANG_S} s"
    assert child.exitcode == 0
