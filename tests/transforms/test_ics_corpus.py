"""The iCalendar sample corpus (``include/sample_data/ics``) through ``ics_to_canonical`` and back.

``manifest.json`` holds what each file must give, derived by hand from RFC 5545 and the file's text. The
checks that need an oracle use independent code written here: a line scan for VEVENTs and their all-day
dates, and a small ``dateutil`` expansion of recurrence sets (DTSTART + RRULE + RDATE - EXDATE).
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import json
import re
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
from dateutil import rrule

from calendar_etl import model
from calendar_etl.transforms import ics
from include.sample_data.generate_ics import generate_ics

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "include" / "sample_data" / "ics"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
FILES: dict[str, dict[str, Any]] = MANIFEST["files"]
GOOD = sorted(name for name in FILES if not name.startswith("malformed/"))
MALFORMED = sorted(name for name in FILES if name.startswith("malformed/"))
KINDS = ("single", "series", "exception")
UTC = dt.UTC


# ---------------------------------------------------------------------- helpers


def raw(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


@functools.cache
def convert(name: str) -> model.Converted:
    """The conversion of one corpus file (cached: tests only read it)."""
    return ics.ics_to_canonical(raw(name), name=Path(name).name, default_zone=MANIFEST["default_zone"])


@functools.cache
def records(name: str) -> tuple[dict[str, Any], ...]:
    """The rows of a corpus file as plain Python values (aware UTC datetimes, dates, lists, None)."""
    return tuple(model.to_arrow(convert(name).events).to_pylist())


def error_list(name: str) -> list[tuple[str, str]]:
    errors = convert(name).errors
    return list(zip(errors["source_key"].astype(str), errors["problem"].astype(str), strict=True))


def count_vevents(data: bytes) -> int:
    """Count ``BEGIN:VEVENT`` lines with a plain line scan (no iCalendar parser involved)."""
    return sum(1 for line in data.splitlines() if line.strip().upper() == b"BEGIN:VEVENT")


def unfold(data: bytes) -> list[str]:
    """Return the content lines of an .ics file, unfolded on octets (RFC 5545 3.1) and then decoded."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    data = re.sub(rb"\r?\n[ \t]", b"", data)
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").split("\n")


def split_property(line: str) -> tuple[str, dict[str, str], str]:
    """Return (name, parameters, value) of a content line; colons and semicolons inside quotes are data."""
    quoted, cut = False, None
    for i, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            cut = i
            break
    if cut is None:
        return line.upper(), {}, ""
    head, value = line[:cut], line[cut + 1 :]
    parts = re.findall(r'(?:[^;"]|"[^"]*")+', head)
    params = {}
    for part in parts[1:]:
        key, _, val = part.partition("=")
        params[key.upper()] = val.strip('"')
    return parts[0].upper(), params, value


def vevent_blocks(data: bytes, *, incomplete: bool = False) -> list[dict[str, tuple[dict[str, str], str]]]:
    """Return the top-level properties of each VEVENT (VALARM contents left out).

    :param incomplete: also return a VEVENT the file ends inside (a truncated download).
    """
    blocks: list[dict[str, tuple[dict[str, str], str]]] = []
    current: dict[str, tuple[dict[str, str], str]] | None = None
    depth = 0
    for line in unfold(data):
        upper = line.strip().upper()
        if upper == "BEGIN:VEVENT":
            current, depth = {}, 0
        elif current is not None and upper.startswith("BEGIN:"):
            depth += 1
        elif current is not None and upper == "END:VEVENT":
            blocks.append(current)
            current = None
        elif current is not None and upper.startswith("END:"):
            depth -= 1
        elif current is not None and depth == 0 and line.strip():
            name, params, value = split_property(line)
            current.setdefault(name, (params, value))
    if incomplete and current is not None:
        blocks.append(current)
    return blocks


def row_for(name: str, selector: str) -> dict[str, Any]:
    """The row with source_key ``selector``, or for ``summary:<text>`` the one row with that summary."""
    rows = records(name)
    if selector.startswith("summary:"):
        found = [r for r in rows if r["summary"] == selector[len("summary:") :]]
    else:
        found = [r for r in rows if r["source_key"] == selector]
    assert len(found) == 1, (
        f"{name}: expected one row for {selector!r}, found {len(found)}: {[r['source_key'] for r in rows]}"
    )
    return found[0]


DURATION = re.compile(r"^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_duration(text: str) -> dt.timedelta:
    match = DURATION.match(text.strip().upper())
    assert match, f"{text!r} is not an RFC 5545 duration"
    sign, weeks, days, hours, minutes, seconds = match.groups()
    value = dt.timedelta(
        weeks=int(weeks or 0), days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )  # fmt: skip
    return -value if sign == "-" else value


def _matches(actual: dict[str, Any] | None, expected: dict[str, Any]) -> bool:
    if actual is None:
        return False
    for field, want in expected.items():
        have = actual.get(field)
        if field == "email":
            if (have or "").lower() != (want or "").lower():
                return False
        elif field == "trigger":
            if have is None or parse_duration(have) != parse_duration(want):
                return False
        elif have != want:
            return False
    return True


def _matches_all(actual: list[dict[str, Any]] | None, expected: list[dict[str, Any]]) -> bool:
    left = list(actual or [])
    if len(left) != len(expected):
        return False
    for want in expected:
        hit = next((i for i, have in enumerate(left) if _matches(have, want)), None)
        if hit is None:
            return False
        left.pop(hit)
    return True


def check_row(row: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Return the differences between a row and the manifest's expectations for it."""
    problems = []
    for column, want in expected.items():
        have = row.get(column)
        if column in ("start", "end"):
            ok = have is not None and have == dt.datetime.fromisoformat(want.replace("Z", "+00:00"))
        elif column in ("start_date", "end_date"):
            ok = have == dt.date.fromisoformat(want)
        elif column == "organizer":
            ok = _matches(have, want)
        elif column in ("attendees", "facilities", "reminders"):
            ok = _matches_all(have, want)
        elif column == "reasons_include":
            have = row["reasons"]
            ok = all(any(part in reason for reason in have or []) for part in want)
        else:
            ok = have == want
        if not ok:
            problems.append(f"{row['source_key']}: {column} is {have!r}, expected {want!r}")
    return problems


# ---------------------------------------------------------------------- an independent recurrence expansion


def _until_for(rule: str, zone: dt.tzinfo | None, all_day: bool) -> str:
    parts = []
    for part in rule.split(";"):
        key, _, value = part.partition("=")
        if key.upper() == "UNTIL":
            if all_day:
                value = value[:8]
            elif not value.endswith("Z"):
                local = (
                    dt.datetime.strptime(value, "%Y%m%dT%H%M%S")
                    if "T" in value
                    else dt.datetime.combine(dt.datetime.strptime(value, "%Y%m%d").date(), dt.time(23, 59, 59))
                )
                value = local.replace(tzinfo=zone).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        parts.append(f"{key}={value}")
    return ";".join(parts)


def _value(text: str, tzid: str | None, zone: dt.tzinfo | None, dtstart: dt.datetime, all_day: bool) -> dt.datetime:
    text = text.split("/")[0]  # a PERIOD: its start
    if len(text) == 8:
        day = dt.datetime.strptime(text, "%Y%m%d").date()
        return dt.datetime.combine(day, dtstart.time()) if all_day else dt.datetime.combine(day, dtstart.timetz())
    if text.endswith("Z"):
        when = dt.datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    else:
        when = dt.datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=zoneinfo.ZoneInfo(tzid) if tzid else zone)
    return when.replace(tzinfo=None) if all_day else when


def recurrence_set(row: dict[str, Any], limit: int = 400) -> list[str]:
    """Return the first ``limit`` instances of a series row (UTC ``...Z`` strings, or ISO dates when all-day)."""
    all_day = row["all_day"]
    if all_day:
        zone = None
        dtstart = dt.datetime.combine(row["start_date"], dt.time())
    else:
        zone = zoneinfo.ZoneInfo(row["timezone"] or "UTC")
        dtstart = row["start"].astimezone(zone)
    rules = rrule.rruleset()
    rules.rdate(dtstart)  # DTSTART is always the first instance (RFC 5545 3.8.5.3)
    for line in row["recurrence"] or []:
        head, _, value = line.partition(":")
        name, *raw_params = head.split(";")
        params = dict(p.split("=", 1) for p in raw_params)
        name = name.upper()
        if name == "RRULE":
            rules.rrule(rrule.rrulestr(_until_for(value, zone, all_day), dtstart=dtstart))
        elif name in ("RDATE", "EXDATE"):
            for item in filter(None, value.split(",")):
                when = _value(item, params.get("TZID"), zone, dtstart, all_day)
                (rules.exdate if name == "EXDATE" else rules.rdate)(when)
        else:
            raise AssertionError(f"{row['source_key']}: unexpected recurrence line {line!r}")
    out = []
    for instance in rules:
        if len(out) >= limit:
            break
        out.append(instance.date().isoformat() if all_day else instance.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return out


def rid_as_instance(rid: str) -> str:
    if len(rid) == 8:
        return f"{rid[:4]}-{rid[4:6]}-{rid[6:]}"
    return dt.datetime.strptime(rid, "%Y%m%dT%H%M%SZ").strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------- the corpus itself


def test_corpus_has_32_good_and_8_malformed_files_all_in_the_manifest() -> None:
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.ics")}
    assert on_disk == set(FILES)
    assert len(GOOD) >= 32
    assert len(MALFORMED) >= 8


def test_corpus_mixes_crlf_and_lf_only_files() -> None:
    crlf = [n for n in FILES if b"\r\n" in raw(n) and raw(n).count(b"\n") == raw(n).count(b"\r\n")]
    lf_only = [n for n in FILES if b"\n" in raw(n) and b"\r\n" not in raw(n)]
    assert len(crlf) >= 10
    assert len(lf_only) >= 5


# ---------------------------------------------------------------------- every file


@pytest.mark.parametrize("name", GOOD + MALFORMED)
def test_rows_per_kind_match_the_manifest(name: str) -> None:
    events, _ = convert(name)
    counts = collections.Counter(events["kind"].astype(str))
    assert {kind: counts.get(kind, 0) for kind in KINDS} == FILES[name]["rows"]
    assert set(counts) <= set(KINDS)


@pytest.mark.parametrize("name", GOOD + MALFORMED)
def test_error_count_matches_the_manifest(name: str) -> None:
    assert len(error_list(name)) == FILES[name]["errors"], error_list(name)


@pytest.mark.parametrize("name", GOOD + MALFORMED)
def test_rows_are_valid_canonical_rows(name: str) -> None:
    violations = model.validate(convert(name).events)
    assert violations.empty, violations.to_dict("records")


@pytest.mark.parametrize("name", GOOD + MALFORMED)
def test_no_vevent_is_lost(name: str) -> None:
    spec = FILES[name]
    events, errors = convert(name)
    vevents = count_vevents(raw(name))
    assert len(events) + (len(errors) - spec["file_errors"]) + spec["merged"] == vevents, (
        f"{vevents} VEVENTs in the file, {len(events)} rows, {len(errors)} errors, {spec['merged']} documented merges"
    )


@pytest.mark.parametrize("name", GOOD + MALFORMED)
def test_every_uid_in_the_file_becomes_a_row_or_an_error(name: str) -> None:
    uids = {props["UID"][1].strip() for props in vevent_blocks(raw(name), incomplete=True) if "UID" in props}
    assert uids or not count_vevents(raw(name))
    seen = {r["ics_uid"] for r in records(name)}
    named_in_errors = " ".join(f"{key} {problem}" for key, problem in error_list(name))
    lost = sorted(uid for uid in uids if uid not in seen and uid not in named_in_errors)
    assert not lost


@pytest.mark.parametrize("name", GOOD + MALFORMED)
def test_documented_degradations_are_recorded_in_reasons(name: str) -> None:
    reasons = [reason for row in records(name) for reason in row["reasons"] or []]
    missing = [part for part in FILES[name]["reasons"] if not any(part in reason for reason in reasons)]
    assert not missing, reasons


@pytest.mark.parametrize("name", GOOD + MALFORMED)
def test_summaries_match_the_manifest(name: str) -> None:
    assert collections.Counter(r["summary"] for r in records(name)) == collections.Counter(FILES[name]["summaries"])


@pytest.mark.parametrize("name", GOOD + MALFORMED)
def test_sync_units_match_the_events_in_the_file(name: str) -> None:
    assert len({r["sync_key"] for r in records(name)}) == FILES[name]["sync_units"]


@pytest.mark.parametrize("name", [n for n in GOOD + MALFORMED if FILES[n]["rows_by_key"]])
def test_rows_carry_the_values_the_file_states(name: str) -> None:
    problems = []
    for selector, expected in FILES[name]["rows_by_key"].items():
        problems += check_row(row_for(name, selector), expected)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", GOOD + MALFORMED)
def test_all_day_events_keep_their_dates(name: str) -> None:
    """Every all-day VEVENT's dates, read from the file by a line scan, are the row's dates (end exclusive)."""
    blocks = vevent_blocks(raw(name))
    uid_counts = collections.Counter(b["UID"][1] for b in blocks if "UID" in b and "RECURRENCE-ID" not in b)
    by_key = {r["source_key"]: r for r in records(name)}
    checked = set()
    for block in blocks:
        params, start = block.get("DTSTART", ({}, ""))
        if not (params.get("VALUE", "").upper() == "DATE" or re.fullmatch(r"\d{8}", start)) or "UID" not in block:
            continue
        uid = block["UID"][1]
        if "RECURRENCE-ID" not in block and uid_counts[uid] > 1:
            continue  # repeated UIDs are resolved by SEQUENCE; the manifest checks those rows
        rid = block["RECURRENCE-ID"][1][:8] if "RECURRENCE-ID" in block else None
        key = ics.source_key(uid, rid)
        try:
            first = dt.datetime.strptime(start, "%Y%m%d").date()
        except ValueError:
            continue  # an impossible date: an error, checked by the malformed-file tests
        if key not in by_key:
            continue  # an error row, checked elsewhere
        if "DTEND" in block:
            last = dt.datetime.strptime(block["DTEND"][1][:8], "%Y%m%d").date()
        elif "DURATION" in block:
            last = first + dt.timedelta(days=parse_duration(block["DURATION"][1]).days)
        else:
            last = first + dt.timedelta(days=1)  # RFC 5545 3.6.1: a DATE start without end lasts one day
        row = by_key[key]
        assert (row["all_day"], row["start_date"], row["end_date"]) == (True, first, last), key
        assert row["start"] is None and row["end"] is None, key
        checked.add(key)
    documented = ("UID repeated", "no UID")  # keyed by SEQUENCE or a generated UID: the manifest checks these
    all_day_rows = {
        r["source_key"]
        for r in records(name)
        if r["all_day"] and not any(d in reason for reason in r["reasons"] or [] for d in documented)
    }
    assert checked == all_day_rows


@pytest.mark.parametrize("name", [n for n in GOOD + MALFORMED if FILES[n]["occurrences"]])
def test_series_repeat_on_the_dates_the_rfc_gives(name: str) -> None:
    for key, spec in FILES[name]["occurrences"].items():
        row = row_for(name, key)
        assert row["kind"] == "series", key
        got = recurrence_set(row, limit=len(spec["expected"]) + (1 if spec["complete"] else 0))
        assert got == spec["expected"], f"{key}: {row['recurrence']}"


@pytest.mark.parametrize("name", [n for n in GOOD + MALFORMED if FILES[n]["rows"]["exception"]])
def test_overrides_belong_to_their_series_and_name_one_of_its_instances(name: str) -> None:
    rows = records(name)
    series = {r["sync_key"]: r for r in rows if r["kind"] == "series"}
    for row in (r for r in rows if r["kind"] == "exception"):
        assert row["sync_key"] in series, f"{row['source_key']} has no series row"
        assert row["source_key"] == f"{row['sync_key']}:{row['recurrence_id']}"
        instances = recurrence_set(series[row["sync_key"]])
        assert rid_as_instance(row["recurrence_id"]) in instances, row["source_key"]


# ---------------------------------------------------------------------- round trip


ROUND_TRIP_COLUMNS = ("kind", "all_day", "start", "end", "start_date", "end_date", "summary", "recurrence_id", "status")


@pytest.mark.parametrize("name", GOOD)
def test_good_file_survives_canonical_to_ics_and_back(name: str) -> None:
    text = ics.canonical_to_ics(convert(name).events)
    back, errors = ics.ics_to_canonical(text, name=f"round-trip-{Path(name).name}")
    assert errors.empty, errors.to_dict("records")
    assert model.validate(back).empty
    before = {r["source_key"]: r for r in records(name)}
    after = {r["source_key"]: r for r in model.to_arrow(back).to_pylist()}
    assert sorted(after) == sorted(before)
    differences = []
    for key, row in before.items():
        for column in ROUND_TRIP_COLUMNS:
            if row[column] != after[key][column]:
                differences.append(f"{key}: {column} {row[column]!r} -> {after[key][column]!r}")
        if row["kind"] == "series" and recurrence_set(row) != recurrence_set(after[key]):
            differences.append(f"{key}: recurrence {row['recurrence']} -> {after[key]['recurrence']}")
    assert not differences, "\n".join(differences)


# ---------------------------------------------------------------------- malformed files


def _names(key: str, problem: str, expected: dict[str, Any]) -> bool:
    text = f"{key} {problem}"
    if "name" in expected:
        return expected["name"] in text
    return re.search(rf"(#|position\s*|vevent\s*|event\s*){expected['position']}\b", text, re.IGNORECASE) is not None


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_file_names_each_bad_vevent_and_its_problem(name: str) -> None:
    errors = error_list(name)
    assert all(problem.strip() for _, problem in errors)
    unmatched = []
    for expected in FILES[name]["expected_errors"]:
        if not any(
            _names(key, problem, expected) and (expected["problem"] is None or expected["problem"] in problem)
            for key, problem in errors
        ):
            unmatched.append(expected)
    assert not unmatched, f"errors were {errors}"


@pytest.mark.parametrize("name", [n for n in MALFORMED if FILES[n]["rows_by_key"]])
def test_good_vevents_of_a_malformed_file_still_convert(name: str) -> None:
    keys = {r["source_key"] for r in records(name)}
    assert set(FILES[name]["rows_by_key"]) <= keys


# ---------------------------------------------------------------------- behaviours worth a name of their own


def test_events_without_uid_get_distinct_keys_that_are_stable_between_runs() -> None:
    name = "31_no_uid.ics"
    first = ics.ics_to_canonical(raw(name), name=name).events
    second = ics.ics_to_canonical(raw(name), name=name).events
    assert first["source_key"].tolist() == second["source_key"].tolist()
    assert first["source_key"].is_unique


def test_alarm_relative_to_the_end_is_not_read_as_relative_to_the_start() -> None:
    """TRIGGER;RELATED=END:-PT5M on a 60-minute event fires 55 minutes after the start (RFC 5545 3.8.6.3).

    The canonical REMINDER has no RELATED, so the reminder must be carried as PT55M or dropped with a reason;
    carrying -PT5M would fire an hour early.
    """
    row = row_for("27_valarm_reminders.ics", "ics:alarm-end@alarms.example")
    triggers = [parse_duration(r["trigger"]) for r in row["reminders"] or []]
    if triggers:
        assert triggers == [dt.timedelta(minutes=55)], row["reminders"]
    else:
        assert any("alarm" in reason.lower() for reason in row["reasons"] or []), row["reasons"]


def test_a_file_given_as_text_converts_like_the_same_file_given_as_bytes() -> None:
    name = "32_japanese_calendar.ics"
    as_text = ics.ics_to_canonical(raw(name).decode("utf-8"), name=name).events
    assert as_text["source_key"].tolist() == convert(name).events["source_key"].tolist()
    assert as_text["summary"].tolist() == convert(name).events["summary"].tolist()


def test_read_many_over_the_whole_corpus_keeps_every_row_and_error() -> None:
    events, errors = ics.read_many([(Path(n).name, raw(n)) for n in GOOD + MALFORMED])
    assert len(events) == sum(len(convert(n).events) for n in GOOD + MALFORMED)
    assert len(errors) == sum(len(convert(n).errors) for n in GOOD + MALFORMED)
    assert model.validate(events).empty


# ---------------------------------------------------------------------- the generator


@functools.cache
def generated(n_events: int, seed: int) -> tuple[str, model.Converted]:
    text = generate_ics(n_events, seed=seed)
    return text, ics.ics_to_canonical(text, name=f"generated-{seed}.ics")


def test_generator_is_deterministic_for_a_seed() -> None:
    assert generate_ics(50, seed=3) == generate_ics(50, seed=3)
    assert generate_ics(50, seed=3) != generate_ics(50, seed=4)


def test_generator_writes_folded_crlf_lines_of_at_most_75_octets() -> None:
    data = generate_ics(200, seed=5).encode("utf-8")
    lines = data.split(b"\r\n")
    assert lines[-1] == b"" and b"\n" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 75
    data.decode("utf-8")  # folding never split a character


def test_thousand_generated_events_convert_without_errors_into_one_sync_unit_per_uid() -> None:
    text, (events, errors) = generated(1000, 11)
    assert errors.empty, errors.head(10).to_dict("records")
    assert model.validate(events).empty
    uids = set(re.findall(r"^UID:(.+?)\r$", text, re.MULTILINE))
    assert len(uids) == 1000
    assert events["sync_key"].nunique() == len(uids)
    assert len(events) == count_vevents(text.encode())
    kinds = collections.Counter(events["kind"].astype(str))
    assert kinds["single"] and kinds["series"] and kinds["exception"]
    assert events["all_day"].astype(bool).any() and (~events["all_day"].astype(bool)).any()
    assert events["timezone"].dropna().nunique() >= 4


def test_generated_overrides_and_exdates_fall_on_instances_of_their_series() -> None:
    _, (events, _) = generated(1000, 11)
    rows = model.to_arrow(events).to_pylist()
    series = {r["sync_key"]: r for r in rows if r["kind"] == "series"}
    assert any(any(line.startswith("EXDATE") for line in r["recurrence"]) for r in series.values())
    for row in (r for r in rows if r["kind"] == "exception"):
        assert rid_as_instance(row["recurrence_id"]) in recurrence_set(series[row["sync_key"]]), row["source_key"]
