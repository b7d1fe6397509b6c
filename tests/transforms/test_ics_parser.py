"""``ics.HeadCachingParser`` reads every file exactly as ``icalendar.Calendar.from_ical`` does, only faster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import icalendar
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from icalendar.parser.content_line import Contentline

from calendar_etl.transforms import ics
from calendar_etl.transforms.ics import HeadCachingParser, parse_calendars

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "include" / "sample_data" / "ics").rglob("*.ics"))


def shape(component: Any) -> tuple[Any, ...]:
    """Everything a parse decides about a component: its properties (value type, value, parameters in order),
    its errors and its sub-components, recursively."""
    properties = []
    for name, value in component.property_items(recursive=False, sorted=False):
        if name in ("BEGIN", "END"):
            continue
        params = getattr(value, "params", {})
        properties.append((name, type(value).__name__, value.to_ical(), list(params.items())))
    return (
        component.name,
        properties,
        list(component.errors),
        [shape(child) for child in component.subcomponents],
    )


def outcome(parse: Any, text: bytes) -> Any:
    try:
        return [shape(c) for c in parse(text)]
    except Exception as exc:  # the same refusal is part of the same result
        return (type(exc).__name__, str(exc))


def bare(text: bytes) -> list[Any]:
    return icalendar.Calendar.from_ical(text, multiple=True)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.relative_to(CORPUS[0].parents[1]).as_posix())
def test_every_corpus_file_parses_as_icalendar_parses_it(path: Path) -> None:
    raw = path.read_bytes()
    ours = outcome(parse_calendars, raw)
    assert ours == outcome(bare, raw)
    unfolded = ics.FOLD_RE.sub(b"", raw)  # as ics_to_canonical hands it over
    assert outcome(parse_calendars, unfolded) == outcome(bare, unfolded)


def test_the_benchmark_workload_parses_as_icalendar_parses_it() -> None:
    from bench.workloads import ics_workload

    raw = ics_workload(400)
    ours = parse_calendars(raw)
    assert sum(1 for c in ours for _ in c.walk("VEVENT")) == 400
    assert [shape(c) for c in ours] == [shape(c) for c in bare(raw)]


def make_parser() -> HeadCachingParser:
    parser = HeadCachingParser(b"", icalendar.Calendar._get_component_factory(), icalendar.Calendar.types_factory)
    parser.initialize_parsing()
    return parser


def parts_or_error(parts: Any, line: Contentline) -> Any:
    try:
        name, params, value = parts(line)
    except ValueError as exc:
        return ("ValueError", str(exc))
    return name, list(params.items()), type(params).__name__, value


HEAD_PIECES = st.sampled_from([*'ATENDXabc-;=:,"\\ \t^\'', "CN", "TZID", "é", "会"])
HEAD_TEXT = st.lists(HEAD_PIECES, max_size=16).map("".join)
VALUE_TEXT = st.text(alphabet=st.sampled_from([*':;,"\\nN x', "会"]), max_size=12)


@settings(max_examples=1500, deadline=None)
@given(heads=st.lists(HEAD_TEXT, min_size=1, max_size=4), values=st.lists(VALUE_TEXT, min_size=1, max_size=6))
@example(heads=['ATTENDEE;CN="A:B";ROLE=X'], values=["mailto:a@b"])
@example(heads=["DESCRIPTION;X=a\\"], values=[":b"])
@example(heads=['X;A="unclosed'], values=["v"])
@example(heads=[":"], values=["x"])
@example(heads=[";A=1"], values=["x"])
@example(heads=["SUMMARY"], values=["a\\,b\\;c\\\\d\\n"])
@example(heads=[" summ ary ; x = 1 "], values=["v"])
def test_each_line_splits_as_icalendar_splits_it(heads: list[str], values: list[str]) -> None:
    parser = make_parser()  # one parser for every line: the second time a head comes, it comes from the cache
    for round_ in range(2):
        for head in heads:
            for value in values:
                line = Contentline(f"{head}:{value}" if round_ else head + value)
                assert parts_or_error(parser.parts, line) == parts_or_error(Contentline.parts, line), line


def test_lines_with_one_head_share_its_parameters_but_a_line_without_parameters_gets_its_own() -> None:
    parser = make_parser()
    first = parser.parts(Contentline('ATTENDEE;CN="Ann Lee";PARTSTAT=ACCEPTED:mailto:ann@x.example'))
    second = parser.parts(Contentline('ATTENDEE;CN="Ann Lee";PARTSTAT=ACCEPTED:mailto:ann2@x.example'))
    assert first[1] is second[1] and first[1]["CN"] == "Ann Lee"
    assert (first[2], second[2]) == ("mailto:ann@x.example", "mailto:ann2@x.example")
    bare_one, bare_two = (parser.parts(Contentline(f"SUMMARY:{x}")) for x in "ab")
    assert bare_one[1] is not bare_two[1] and not bare_one[1]


def test_a_bad_line_is_refused_with_icalendars_own_message_naming_the_whole_line() -> None:
    parser = make_parser()
    line = Contentline("BAD@NAME;X=1:some value")
    with pytest.raises(ValueError, match="BAD@NAME;X=1:some value") as ours:
        parser.parts(line)
    with pytest.raises(ValueError) as theirs:
        line.parts()
    assert str(ours.value) == str(theirs.value)
