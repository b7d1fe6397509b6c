"""Property-based fuzzing of every write endpoint of both emulators (hypothesis).

Acceptance criterion: bad input never yields a 500. Every example throws something at a write
endpoint — arbitrary bytes, truncated or corrupted JSON, JSON that is not an object, a valid body
with one field replaced by a wrong type / a huge string / a bad date / an unknown zone / an
out-of-range number, a required field removed, an unknown field added, a missing or wrong
Content-Type — and checks the answer:

* there is an HTTP answer at all (a dropped connection means the handler raised: the 500 case)
  and its status is below 500;
* a 4xx answer is in the API's documented error format and status set:
  LINE WORKS ``{"code", "description"}`` with 400/404/409/415, its token endpoint OAuth style
  ``{"error", "error_description"}`` with 400/401, Garoon ``{"error": {"errorCode": "GRN_...",
  "message", ...}}`` with an ``X-Cybozu-Error`` header equal to the errorCode and 400/404/415;
* when the input is certainly invalid (a bad date in a date field, an unknown zone in a zone
  field, a value of another JSON type in a typed field, an over-long string in a bounded field,
  a required field removed, a non-JSON Content-Type) the answer is a 4xx, never a 2xx;
* a 2xx answer is a well-formed object carrying the resource's id.

The emulators run once per session (``emulators`` fixture); each test resets the emulator it
drives once, not per example. ``FUZZ_SCALE=10`` multiplies every example budget for a deeper run.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm

from include.emulators import Emulators
from include.emulators.core import LOOPBACK
from include.emulators.lineworks import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_SERVICE_ACCOUNT, JWT_GRANT
from tests.emulators.fixtures import DEMO_PRIVATE_KEY, GaroonClient, LineWorksClient

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
#: examples per property test (the file's total is their sum, printed by the last test)
BUDGET = {
    "lineworks-token": 500,
    "lineworks-create-in-calendar": 1000,
    "lineworks-create-default": 1000,
    "lineworks-update": 1500,
    "lineworks-delete": 400,
    "lineworks-calendar-create": 800,
    "lineworks-calendar-patch": 800,
    "garoon-create": 1500,
    "garoon-patch": 1500,
    "garoon-delete": 400,
}
EXAMPLES_RUN: Counter[str] = Counter()  # examples actually executed, per test
REQUESTS_SENT: Counter[str] = Counter()  # HTTP requests sent, per test (examples + set-up + clean-up)


def fuzz_settings(name: str) -> settings:
    return settings(
        max_examples=max(1, int(BUDGET[name] * SCALE)),
        deadline=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# ============================================================================ inputs

LONE_SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
ODD_CHARS = st.one_of(
    st.characters(exclude_categories=()),  # everything hypothesis draws: controls, private use, unassigned
    st.sampled_from([*LONE_SURROGATES, "\x00", "\x7f", "\u2028", "\ufeff", "\u202e", '"', "\\", "\U0001f600"]),
)
WEIRD_TEXT = st.one_of(
    st.text(alphabet=ODD_CHARS, max_size=24),
    st.tuples(st.text(max_size=8), st.sampled_from(LONE_SURROGATES), st.text(max_size=8)).map("".join),
    st.sampled_from(
        ["", " ", "\x00", "\ud800", "a\udfffb", "null", "true", "0", "-1", "{}", "[]", "%00", "../..", "ｓｕｍｍａｒｙ"]
    ),
)


class Huge:
    """A huge string, kept symbolic so that hypothesis' reports stay readable (a plain class: its repr is used)."""

    def __init__(self, unit: str, length: int) -> None:
        self.unit = unit
        self.length = length

    def text(self) -> str:
        return (self.unit * (self.length // len(self.unit) + 1))[: self.length]

    def __repr__(self) -> str:
        return f"Huge({self.unit!r} repeated to {self.length} chars)"


HUGE = st.builds(
    Huge,
    unit=st.one_of(
        st.sampled_from(["x", "あ", "\x00", "\ud800", "\r\n", '"\\', "é\u0301", "\U0001f600"]),
        st.text(alphabet=ODD_CHARS, min_size=1, max_size=8),
    ),
    length=st.integers(10_000, 300_000),
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
NUMBERS = st.one_of(
    st.sampled_from(
        [-1, -(2**31), 2**31, 2**32, 2**63, 2**64, 10**30, -(10**300), 1e308, -0.0, 0.5, math.inf, math.nan]
    ),
    st.integers(),
)
# Certainly invalid in every date or date-time field of both APIs.
BAD_DATES = [
    "2026-02-30T10:00:00",
    "2026-02-30T10:00:00+09:00",
    "2026-02-30",
    "2026-13-01",
    "2026-13-01T10:00:00Z",
    "",
    "tomorrow",
    "2026-11-20T25:00:00",
    "2026-11-20T25:00:00+09:00",
    "2026-11-20T24:00:00+09:00",
    "2026-11-20T10:60:00Z",
    "2026-11-20T10:00:61+09:00",
    "2026-11-20T10:00:00+25:00",
    "0000-01-01T00:00:00",
    "0000-01-01T00:00:00Z",
    "2026-11-20 10:00:00",
    "20261120T100000",
    "2026-11-20T10:00",
    "２０２６-１１-２０T10:00:00",
    "2026-11-20T10:00:00\n",
    "2026-11-20T10:00:00+09:00\n",
    "2026-11-20T10:00:00+09",
    "-2026-11-20T10:00:00Z",
]
# Valid in one API or the other, or at the edge of the calendar: no fixed expectation.
ODD_DATES = [
    "2026-11-20T10:00:00",
    "2026-11-20T10:00:00Z",
    "2026-11-20T10:00:00+09:00",
    "2026-11-20T10:00:00.123456789+09:00",
    "2026-11-20",
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31",
    "2038-01-19T03:14:08Z",
    "1970-01-01T00:00:00Z",
    "2026-03-08T02:30:00-05:00",  # inside a DST gap in America/New_York
    "2026-11-01T01:30:00",  # a DST fold
]
UNKNOWN_ZONES = [
    "Mars/Olympus",
    "asia/tokyo",
    "ASIA/TOKYO",
    "GMT+9",
    "UTC+09:00",
    "+09:00",
    "Tokyo Standard Time",
    "JST",
    "",
    " Asia/Tokyo",
    "Asia/Tokyo ",
    "Asia/Tokyo\x00",
    "Asia//Tokyo",
    "../Asia/Tokyo",
    "/etc/localtime",
    "Etc/GMT+15",
    "Asia/Tōkyō",
]
ODD_ZONES = [
    "Japan",
    "UTC",
    "Etc/UTC",
    "GMT",
    "EST",
    "Factory",
    "localtime",
    "ROK",
    "Asia/Kathmandu",
    "Pacific/Kiritimati",
    "America/Los_Angeles",
    "Etc/GMT-14",
    "Etc/GMT+12",
    "America/New_York",
]
NEAR_MISSES = [
    "opaque",
    "Opaque",
    "OPAQUE ",
    "public",
    "PRIVATE\x00",
    "USER ",
    "user",
    "ORGANISATION",
    "display",
    "EMAIL\n",
    "accepted",
    "REGULAR ",
    "regular",
    "REPEATING",
    "TEMPORARY",
    "ALL_DAY",
    "SET_PRIVATE_WATCHERS",
    "GROUP",
    "ROLE",
    "facility",
]
RULES = [
    "RRULE:FREQ=SECONDLY;COUNT=1000000",
    "RRULE:",
    "RRULE:FREQ=DAILY;UNTIL=99991231T235959",
    "RRULE:FREQ=DAILY;UNTIL=99991231",
    "RRULE:FREQ=DAILY;UNTIL=00010101T000000",
    "RRULE:FREQ=DAILY;UNTIL=20261320T000000",
    "RRULE:FREQ=DAILY;COUNT=99999999999999999999",
    "RRULE:FREQ=DAILY;COUNT=-1",
    "RRULE:FREQ=DAILY;INTERVAL=0",
    "RRULE:FREQ=WEEKLY;BYDAY=XX",
    "RRULE:FREQ=MONTHLY;BYMONTHDAY=32",
    "RRULE:FREQ=YEARLY;BYYEARDAY=400",
    "RRULE:FREQ=YEARLY;BYSETPOS=0;BYDAY=MO",
    "RRULE:FREQ=DAILY;;;",
    "RRULE:FREQ=DAILY;UNTIL",
    "RRULE:BOGUS=1",
    "rrule:freq=daily;count=2",
    "EXRULE:FREQ=DAILY;COUNT=1",
    "EXDATE:20261120T100000",
    "EXDATE;TZID=Mars/Olympus:20270615T100000",
    "EXDATE;TZID=Asia/Tokyo:20270615T100000,,",
    "EXDATE;VALUE=DATE:2027061",
    "RDATE:99991231T235959Z",
    "RDATE;TZID=Asia/Tokyo:00010101T000000",
    "RDATE;VALUE=PERIOD:20270615T100000Z/PT1H",
    "RDATE",
    "EXDATE:",
]
DURATIONS = [
    "-PT15M",
    "PT",
    "P",
    "-P",
    "+PT0S",
    "-P1Y",
    "P1W2D",
    "PT99999999999999999999H",
    "-PT15M\n",
    "-pt15m",
    "P0D",
    "PT-15M",
    "-P1DT",
]
GRANTS = [
    "refresh_token",
    "client_credentials",
    "authorization_code",
    "password",
    JWT_GRANT.upper(),
    JWT_GRANT + " ",
    "",
    "\x00",
]
SCOPES = [
    "",
    " ",
    "calendar",
    "calendar.read",
    "bot",
    "admin",
    "calendar calendar",
    "calendar\tuser.read",
    "calendar " * 2000,
    "CALENDAR",
]
KNOWN_NAMES = [
    "eventId",
    "recurringEventId",
    "categoryId",
    "map",
    "mapUrl",
    "videoMeeting",
    "triggerDateTime",
    "isResource",
    "isExternalResource",
    "id",
    "date",
    "dateTime",
    "timeZone",
    "resourceValue",
    "createdTime",
    "viewUrl",
    "watchers",
    "repeatInfo",
    "repeatId",
    "code",
    "isAllDay",
    "isStartOnly",
    "eventType",
    "exclusiveDateTimes",
    "organizerCalendarId",
    "members",
    "type",
    "__proto__",
    "constructor",
    "",
]
CONTENT_TYPES = [
    *["application/json"] * 8,
    "application/json; charset=utf-8",
    "Application/JSON",
    None,
    "",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/json-seq",
    "application/jsonx",
    "multipart/form-data; boundary=x",
]
# (body, certainly invalid for every write endpoint): a JSON object may be a valid PATCH (unknown fields ignored)
SPECIAL_BODIES = [
    (b"", True),
    (b" ", True),
    (b"{}", False),
    (b"null", True),
    (b"[]", True),
    (b"\xef\xbb\xbf{}", False),  # UTF-8 BOM
    ('{"a": 1}'.encode("utf-16"), False),
    (b'{"a": "\xff"}', False),  # not UTF-8
    (b'{"a": NaN, "b": -Infinity}', False),
    (b'{"a": 1, "a": 2}', False),
    (b'{"a": "\\ud800"}', False),  # an escaped lone surrogate
    (b"1" * 5000, True),
    (b'"' + b"x" * 100_000 + b'"', True),
    (b"[" * 5_000 + b"]" * 5_000, True),
    (b"[" * 100_000 + b"]" * 100_000, True),
    (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, False),
    (b"{" * 100_000, True),
    (b'{"eventComponents": [' + b"{}," * 100_000 + b"{}]}", False),
]


def is_json_media(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "application/json"


def abbreviate(body: bytes | None, keep: int = 300) -> str:
    if body is None:
        return "<none>"
    if len(body) <= keep:
        return repr(body)
    return f"{body[: keep * 2 // 3]!r}...{body[-keep // 3 :]!r} ({len(body)} bytes)"


def materialise(value: Any) -> Any:
    if isinstance(value, Huge):
        return value.text()
    if isinstance(value, list):
        return [materialise(v) for v in value]
    if isinstance(value, dict):
        return {k: materialise(v) for k, v in value.items()}
    return value


def json_kind(value: Any) -> str:
    """Return the JSON type of a Python value (bool, int and float are different types)."""
    if isinstance(value, Huge):
        return "str"
    return type(value).__name__


class Case:
    """One fuzzed request body: what was done to it, the bytes, the Content-Type and whether it must fail.

    A plain class, not a dataclass: hypothesis prints dataclasses field by field, and bodies can be megabytes.
    """

    def __init__(self, what: str, body: bytes, content_type: str | None, must_fail: bool) -> None:
        self.what = what
        self.body = body
        self.content_type = content_type
        self.must_fail = must_fail

    def __repr__(self) -> str:
        return f"Case({self.what}; content_type={self.content_type!r}; body={abbreviate(self.body)})"


@dataclass(frozen=True)
class Target:
    """A valid request body and what the endpoint is known to enforce on it."""

    name: str
    base: dict[str, Any]
    required: frozenset[tuple[Any, ...]]  # paths whose removal certainly makes the body invalid
    bounded: frozenset[str]  # field names where a 10k+ character string is certainly invalid
    int_range: tuple[int, int] | None = None  # the range every integer field of the body accepts


Path = tuple[Any, ...]


def walk(node: Any, prefix: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Yield (path, value) for every node below the root."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield (*prefix, key), value
        yield from walk(value, (*prefix, key))


def field_name(path: Path) -> str:
    """Return the last string key of a path: ``attendees[0].email`` -> email, ``recurrence[0]`` -> recurrence."""
    return next((str(p) for p in reversed(path) if isinstance(p, str)), "")


def parent_and_key(root: Any, path: Path) -> tuple[Any, Any]:
    node = root
    for key in path[:-1]:
        node = node[key]
    return node, path[-1]


WRONG_TYPES = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 1.5, math.nan, "", [], {}, [None], ["x"], {"a": 1}, [[]], {"": {}}]),
    ANY_JSON,
)
KIND_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "wrong-type": WRONG_TYPES,
    "number": NUMBERS,
    "huge": HUGE,
    "text": WEIRD_TEXT,
    "bad-date": st.sampled_from(BAD_DATES),
    "odd-date": st.sampled_from(ODD_DATES),
    "unknown-zone": st.sampled_from(UNKNOWN_ZONES),
    "odd-zone": st.sampled_from(ODD_ZONES),
    "near-miss": st.sampled_from(NEAR_MISSES),
    "rule": st.one_of(st.sampled_from(RULES), st.text(max_size=40).map(lambda s: "RRULE:" + s)),
    "duration": st.sampled_from(DURATIONS),
}
#: how often each kind is drawn (the likeliest to break a handler more often)
KIND_WEIGHTS = [*["wrong-type"] * 4, *["text"] * 3, *["odd-date"] * 2, *sorted(KIND_STRATEGIES)]
KIND_FIELDS = {  # a kind aimed at the fields it is about (the others get hit through wrong-type/text)
    "bad-date": {"dateTime", "date"},
    "odd-date": {"dateTime", "date"},
    "unknown-zone": {"timeZone"},
    "odd-zone": {"timeZone"},
    "rule": {"recurrence"},
    "duration": {"trigger"},
}


def mutated(target: Target) -> st.SearchStrategy[Case]:
    """Valid body with one structural mutation: replace a node, remove it, add a field, or duplicate an item."""
    nodes = list(walk(target.base))
    all_paths = [p for p, _ in nodes]
    string_paths = [p for p, v in nodes if isinstance(v, str)]
    dict_paths: list[Path] = [(), *(p for p, v in nodes if isinstance(v, dict))]
    list_paths = [p for p, v in nodes if isinstance(v, list)]

    @st.composite
    def build(draw: st.DrawFn) -> Case:
        body = copy.deepcopy(target.base)
        op = draw(st.sampled_from(["replace"] * 6 + ["remove", "add", "duplicate"]))
        content_type = draw(st.sampled_from(CONTENT_TYPES))
        must_fail = False
        if op == "replace":
            kind = draw(st.sampled_from(KIND_WEIGHTS))
            aimed = [p for p in all_paths if field_name(p) in KIND_FIELDS.get(kind, ())]
            if kind in ("huge", "text", "near-miss"):
                aimed = string_paths
            path = draw(st.sampled_from(aimed or all_paths))
            value = draw(KIND_STRATEGIES[kind])
            parent, key = parent_and_key(body, path)
            old = parent[key]
            parent[key] = value
            name = field_name(path)
            is_leaf = not isinstance(old, (dict, list))
            must_fail = (
                (kind == "bad-date" and name in ("dateTime", "date"))
                or (kind == "unknown-zone" and name == "timeZone")
                or (kind == "huge" and name in target.bounded)
                # another JSON type in a typed field; null counts as leaving the field out
                or (is_leaf and value is not None and json_kind(value) != json_kind(old))
                or (value is None and path in target.required)
                or (
                    target.int_range is not None
                    and json_kind(old) == json_kind(value) == "int"
                    and not target.int_range[0] <= value <= target.int_range[1]
                )
            )
            what = f"replace {path} with {kind} {value!r:.120}"
        elif op == "remove":
            path = draw(st.sampled_from(all_paths))
            parent, key = parent_and_key(body, path)
            del parent[key]
            must_fail = path in target.required
            what = f"remove {path}"
        elif op == "add":
            path = draw(st.sampled_from(dict_paths))
            name = draw(st.one_of(st.sampled_from(KNOWN_NAMES), st.text(alphabet=ODD_CHARS, max_size=12)))
            value = draw(st.one_of(ANY_JSON, HUGE, WEIRD_TEXT))
            node = body
            for key in path:
                node = node[key]
            if name in node:
                what = f"add nothing ({name!r} exists at {path})"
            else:
                node[name] = value
                what = f"add {name!r}={value!r:.120} at {path}"
        else:
            if not list_paths:
                what = "duplicate nothing (no arrays)"
            else:
                path = draw(st.sampled_from(list_paths))
                parent, key = parent_and_key(body, path)
                parent[key] = [*parent[key], *copy.deepcopy(parent[key][:1])]
                what = f"duplicate the first item of {path}"
        encoded = json.dumps(materialise(body)).encode()  # ensure_ascii: lone surrogates become \\udXXX escapes
        return Case(what, encoded, content_type, must_fail or not is_json_media(content_type))

    return build()


def raw_bodies(target: Target) -> st.SearchStrategy[Case]:
    """Bodies that are not a valid request at all (or only by accident: corrupted bytes)."""
    valid = json.dumps(target.base).encode()

    def splice(args: tuple[int, int, bytes]) -> tuple[str, bytes, bool]:
        at, cut, insert = args
        return f"corrupt at {at}", valid[:at] + insert + valid[at + cut :], False

    shapes = st.one_of(
        st.binary(max_size=600).map(lambda b: ("arbitrary bytes", b, False)),
        st.integers(0, len(valid) - 1).map(lambda k: (f"valid body cut at {k}", valid[:k], True)),
        st.tuples(st.integers(0, len(valid)), st.integers(0, 4), st.binary(max_size=4)).map(splice),
        ANY_JSON.filter(lambda v: not isinstance(v, dict)).map(
            lambda v: ("JSON, not an object", json.dumps(v).encode(), True)
        ),
        st.sampled_from(SPECIAL_BODIES).map(lambda pair: ("special body", *pair)),
    )

    @st.composite
    def build(draw: st.DrawFn) -> Case:
        what, body, certain = draw(shapes)
        content_type = draw(st.sampled_from(CONTENT_TYPES))
        return Case(what, body, content_type, certain or not is_json_media(content_type))

    return build()


def bodies(target: Target) -> st.SearchStrategy[Case]:
    # hypothesis picks a branch uniformly (identical branches count once): 1 raw in 5
    return st.one_of(raw_bodies(target), *(mutated(target) for _ in range(4)))


# ============================================================================ bodies under test

EVENT_DAY = "2027-06-15"  # far from the demo tenant's seeded weeks: no facility clashes
LW_ADMIN_EMAIL = "admin@demo.example.com"
INT32_MAX = 2**31 - 1


def lineworks_component(all_day: bool) -> dict[str, Any]:
    """A component using every field the emulator validates (source document 001)."""
    component: dict[str, Any] = {
        "summary": "Fuzz review",
        "description": "Property-based test event",
        "location": "Room 1",
        "categoryId": "1",
        "transparency": "OPAQUE",
        "visibility": "PUBLIC",
        "sequence": 1,
        "priority": 5,
        "map": {"type": "google", "geo": "35.68,139.76"},
        "mapUrl": {"mapUrl": "https://maps.example.com/room-1", "imageId": "img-1"},
        "videoMeeting": {"url": "https://meet.example.com/abc", "resourceId": "vm-1"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
        "attendees": [
            {
                "email": "sato-ken@demo.example.com",
                "displayName": "Sato",
                "partstat": "NEEDS-ACTION",
                "isOptional": False,
            },
            {"id": "resource-room-1", "isResource": True, "displayName": "Room 1"},
        ],
        "reminders": [
            {"method": "DISPLAY", "trigger": "-PT15M"},
            {"method": "EMAIL", "triggerDateTime": {"dateTime": f"{EVENT_DAY}T09:00:00", "timeZone": "Asia/Tokyo"}},
        ],
        "organizer": {"email": LW_ADMIN_EMAIL, "displayName": "Administrator"},
    }
    if all_day:
        component["start"] = {"date": EVENT_DAY}
        component["end"] = {"date": "2027-06-16"}
    else:
        component["start"] = {"dateTime": f"{EVENT_DAY}T10:00:00", "timeZone": "Asia/Tokyo"}
        component["end"] = {"dateTime": f"{EVENT_DAY}T11:00:00", "timeZone": "Asia/Tokyo"}
    return component


LW_EXCEPTION = {  # the second occurrence of the weekly series, moved to the afternoon
    "recurringEventId": "TZID=Asia/Tokyo:20270622T100000",
    "summary": "Fuzz review (moved)",
    "start": {"dateTime": "2027-06-22T13:00:00", "timeZone": "Asia/Tokyo"},
    "end": {"dateTime": "2027-06-22T14:00:00", "timeZone": "Asia/Tokyo"},
}
LW_SHAPES = ("timed", "all-day", "with-exception")


def lineworks_event(shape: str = "timed", event_id: str | None = None) -> dict[str, Any]:
    components = [lineworks_component(shape == "all-day")]
    if shape == "with-exception":
        components.append(copy.deepcopy(LW_EXCEPTION))
    if event_id is not None:
        components = [{"eventId": event_id, **c} for c in components]
    return {"eventComponents": components, "sendNotification": False}


def lineworks_target(shape: str, event_id: str | None = None) -> Target:
    c: Path = ("eventComponents", 0)
    required = {
        ("eventComponents",),
        c,
        (*c, "summary"),
        (*c, "start"),
        (*c, "attendees", 0, "email"),
        (*c, "attendees", 1, "id"),
        (*c, "attendees", 1, "isResource"),
        (*c, "reminders", 0, "method"),
        (*c, "reminders", 0, "trigger"),
        (*c, "reminders", 1, "method"),
        (*c, "reminders", 1, "triggerDateTime"),
        (*c, "reminders", 1, "triggerDateTime", "dateTime"),
        (*c, "reminders", 1, "triggerDateTime", "timeZone"),
        (*c, "organizer", "email"),
    }
    if shape == "all-day":
        required |= {(*c, "start", "date"), (*c, "end", "date")}
    else:
        required |= {(*c, side, part) for side in ("start", "end") for part in ("dateTime", "timeZone")}
    if shape == "with-exception":
        x: Path = ("eventComponents", 1)
        required |= {
            (*c, "recurrence"),
            (*c, "recurrence", 0),
            (*x, "recurringEventId"),
            (*x, "summary"),
            (*x, "start"),
        }
        required |= {(*x, side, part) for side in ("start", "end") for part in ("dateTime", "timeZone")}
    if event_id is not None:
        required |= {(*c, "eventId")}
    bounded = {"summary", "description", "location", "eventId", "dateTime", "date", "timeZone", "email"}
    bounded |= {"partstat", "method", "trigger", "transparency", "visibility", "recurringEventId"}
    return Target(shape, lineworks_event(shape, event_id), frozenset(required), frozenset(bounded), (0, INT32_MAX))


LW_CALENDAR = {
    "calendarName": "Fuzz team",
    "description": "calendar under test",
    "isPublic": False,
    "members": [
        {"id": LW_ADMIN_EMAIL, "type": "USER", "role": "CALENDAR_EVENT_READ_WRITE"},
        {"id": "group-fuzz", "type": "GROUP", "role": "EVENT_READ"},
    ],
}
_MEMBER_FIELDS = {("members", i, f) for i in (0, 1) for f in ("id", "type", "role")}
LW_CALENDAR_CREATE = Target(
    "calendar-create",
    LW_CALENDAR,
    frozenset({("calendarName",), *_MEMBER_FIELDS}),
    frozenset({"calendarName", "description", "type", "role"}),
)
LW_CALENDAR_PATCH = Target(
    "calendar-patch", LW_CALENDAR, frozenset(_MEMBER_FIELDS), frozenset({"calendarName", "description", "type", "role"})
)

GAROON_REGULAR = {
    "eventType": "REGULAR",
    "eventMenu": "会議",
    "subject": "Fuzz review",
    "notes": "Property-based test event",
    "start": {"dateTime": f"{EVENT_DAY}T10:00:00+09:00", "timeZone": "Asia/Tokyo"},
    "end": {"dateTime": f"{EVENT_DAY}T11:00:00+09:00", "timeZone": "Asia/Tokyo"},
    "isAllDay": False,
    "isStartOnly": False,
    "attendees": [{"type": "USER", "id": "2"}, {"type": "ORGANIZATION", "code": "sales"}],
    "facilities": [{"id": "501"}],
    "facilityUsingPurpose": "review",
    "visibilityType": "PUBLIC",
    "useAttendanceCheck": False,
    "companyInfo": {"name": "ACME", "zipCode": "100-0001"},
    "additionalItems": {"item": {"value": "extra"}},
    "attachments": [{"name": "agenda.txt", "content": "aGVsbG8="}],
}
GAROON_ALL_DAY = {
    "eventType": "ALL_DAY",
    "subject": "Fuzz holiday",
    "start": {"dateTime": f"{EVENT_DAY}T00:00:00+09:00", "timeZone": "Asia/Tokyo"},
    "end": {"dateTime": f"{EVENT_DAY}T23:59:59+09:00", "timeZone": "Asia/Tokyo"},
    "attendees": [{"type": "USER", "id": "2"}],
}
_GAROON_TIMES = {(side,) for side in ("start", "end")} | {
    (side, part) for side in ("start", "end") for part in ("dateTime", "timeZone")
}
_GAROON_NESTED = {
    ("attendees", 0, "type"),
    ("attendees", 1, "type"),
    ("attendees", 0, "id"),
    ("attendees", 1, "code"),
    ("facilities", 0, "id"),
    ("attachments", 0, "name"),
    ("attachments", 0, "content"),
    ("additionalItems", "item"),
    ("additionalItems", "item", "value"),
}
GAROON_BOUNDED = frozenset({"dateTime", "timeZone", "type", "eventType", "visibilityType", "id", "code"})
GAROON_CREATE_REGULAR = Target(
    "create-regular", GAROON_REGULAR, frozenset({("eventType",), *_GAROON_TIMES, *_GAROON_NESTED}), GAROON_BOUNDED
)
GAROON_CREATE_ALL_DAY = Target(
    "create-all-day",
    GAROON_ALL_DAY,
    frozenset(
        {
            ("eventType",),
            ("attendees",),
            ("attendees", 0),
            ("attendees", 0, "type"),
            ("attendees", 0, "id"),
            *_GAROON_TIMES,
        }
    ),
    GAROON_BOUNDED,
)
GAROON_PATCH_ALL_DAY = Target(
    "patch-all-day",
    {k: v for k, v in GAROON_ALL_DAY.items() if k != "eventType"},
    frozenset({("attendees",), ("attendees", 0), ("attendees", 0, "type"), ("attendees", 0, "id"), *_GAROON_TIMES}),
    GAROON_BOUNDED - {"eventType"},
)
GAROON_PATCH = Target(
    "patch",
    {k: v for k, v in GAROON_REGULAR.items() if k != "eventType"},  # PATCH ignores eventType
    frozenset({*_GAROON_TIMES, *_GAROON_NESTED}),
    GAROON_BOUNDED - {"eventType"},
)
GAROON_PATCH_OTHER_ROOM = Target(  # for a second appointment at the same time: another facility
    "patch-other-room",
    {**GAROON_PATCH.base, "facilities": [{"id": "502"}]},
    GAROON_PATCH.required,
    GAROON_PATCH.bounded,
)


# ============================================================================ checking answers


class NoAnswer(AssertionError):
    pass


def send(
    test: str, call: Callable[..., requests.Response], method: str, path: str, note: str = "", **kwargs: Any
) -> requests.Response:
    """Send one request; a dropped connection (the handler raised) fails with the request in the message."""
    REQUESTS_SENT[test] += 1
    try:
        return call(method, path, **kwargs)
    except requests.ConnectionError as exc:
        raise NoAnswer(
            f"{method} {path}: no HTTP answer, the server dropped the connection (an unhandled exception: "
            f"the 500 case). [{note}] headers={kwargs.get('headers')} params={kwargs.get('params')} "
            f"body={abbreviate(kwargs.get('data'))}: {exc}"
        ) from None


def payload(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} answer is not JSON: {response.text[:300]!r}") from None


def check_answer(
    response: requests.Response,
    *,
    api: str,
    request: str,
    must_fail: bool = False,
    status: int | None = None,
    success: Callable[[requests.Response], None] | None = None,
    error_statuses: frozenset[int] | None = None,
) -> None:
    """Assert the invariants every answer to a fuzzed request must satisfy (see the module docstring)."""
    code = response.status_code
    where = f"{request} -> {code} {response.text[:400]!r}"
    assert code < 500, f"server error: {where}"
    if status is not None:
        assert code == status, f"expected {status}: {where}"
    if code < 400:
        assert not must_fail, f"certainly invalid input accepted: {where}"
        assert 200 <= code < 300, f"unexpected status: {where}"
        assert success is not None, f"no success expected here: {where}"
        success(response)
        return
    content_type = response.headers.get("Content-Type", "")
    assert content_type.startswith("application/json"), f"error answer has Content-Type {content_type!r}: {where}"
    body = payload(response)
    if api == "lineworks":
        allowed = error_statuses or frozenset({400, 404, 409, 415})
        assert code in allowed, f"status not one of {sorted(allowed)}: {where}"
        assert isinstance(body, dict) and set(body) == {"code", "description"}, f"not a LINE WORKS error body: {where}"
        assert isinstance(body["code"], str) and body["code"], where
        assert isinstance(body["description"], str), where
    elif api == "oauth":
        assert code in (400, 401), f"status not 400/401: {where}"
        assert isinstance(body, dict) and set(body) == {"error", "error_description"}, (
            f"not an OAuth error body: {where}"
        )
        assert body["error"] in {
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
        }, f"not an RFC 6749 error code: {where}"
        assert isinstance(body["error_description"], str), where
    else:
        allowed = error_statuses or frozenset({400, 404, 415})
        assert code in allowed, f"status not one of {sorted(allowed)}: {where}"
        assert isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], dict), (
            f"not a Garoon error body: {where}"
        )
        error = body["error"]
        assert isinstance(error.get("errorCode"), str) and error["errorCode"].startswith("GRN_"), (
            f"errorCode is not GRN_*: {where}"
        )
        assert isinstance(error.get("message"), str), f"error.message missing: {where}"
        assert response.headers.get("X-Cybozu-Error") == error["errorCode"], (
            f"X-Cybozu-Error header != errorCode: {where}"
        )


def lineworks_event_ok(expected_id: str | None = None) -> Callable[[requests.Response], None]:
    def check(response: requests.Response) -> None:
        assert response.status_code in (200, 201), response.status_code
        item = payload(response)
        assert isinstance(item, dict) and isinstance(item.get("organizerCalendarId"), str), item
        components = item.get("eventComponents")
        assert isinstance(components, list) and components, item
        ids = {c.get("eventId") for c in components}
        assert len(ids) == 1 and isinstance(next(iter(ids)), str), ids
        if expected_id is not None:
            assert ids == {expected_id}, ids

    return check


def lineworks_calendar_ok(response: requests.Response) -> None:
    assert response.status_code in (200, 201), response.status_code
    calendar = payload(response)
    assert isinstance(calendar, dict) and isinstance(calendar.get("calendarId"), str), calendar
    assert isinstance(calendar.get("calendarName"), str), calendar


def garoon_event_ok(expected_id: str | None = None) -> Callable[[requests.Response], None]:
    def check(response: requests.Response) -> None:
        assert response.status_code in (200, 201), response.status_code
        event = payload(response)
        assert isinstance(event, dict) and isinstance(event.get("id"), str) and event["id"].isdigit(), event
        if expected_id is not None:
            assert event["id"] == expected_id, event

    return check


def no_body(response: requests.Response) -> None:
    assert response.status_code == 204 and not response.content, (response.status_code, response.content[:200])


def token_ok(response: requests.Response) -> None:
    assert response.status_code == 200, response.status_code
    token = payload(response)
    assert isinstance(token, dict) and isinstance(token.get("access_token"), str) and token["access_token"], token
    assert token.get("token_type") == "Bearer" and isinstance(token.get("expires_in"), str), token


def segment(text: str) -> str:
    """Percent-encode one path segment, dots included (a literal ``..`` would be resolved by the client)."""
    return quote(text, safe="").replace(".", "%2E")


def addressable(text: str) -> bool:
    """False for an id no URL can carry (a lone surrogate has no UTF-8 form): such an event stays behind."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def describe(method: str, path: str, case: Case) -> str:
    return f"{method} {path} Content-Type={case.content_type!r} [{case.what}] body={abbreviate(case.body)}"


def media_status(case: Case) -> int | None:
    """A JSON endpoint answers 415 to any other media type (or none), whatever the body."""
    return None if is_json_media(case.content_type) else 415


def is_form_media(content_type: str | None) -> bool:
    """Media types are case-insensitive (RFC 9110 8.3.1); the emulator's exact match is not asserted either way."""
    return (content_type or "").split(";")[0].strip().lower() == "application/x-www-form-urlencoded"


def form_status(case: Case) -> int | None:
    """The token endpoint answers 400 invalid_request to anything but form data."""
    return None if is_form_media(case.content_type) else 400


def headers_for(case: Case) -> dict[str, str]:
    return {} if case.content_type is None else {"Content-Type": case.content_type}


# ============================================================================ fixtures


def _inspect(base: str, action: str, body: dict[str, Any]) -> None:
    requests.post(f"{base}/_emulator/{action}", json=body, timeout=30).raise_for_status()


@dataclass
class LineWorksEnv:
    client: LineWorksClient
    user_id: str
    calendar_id: str
    refresh_token: str

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.client.call(method, path, **kwargs)


@pytest.fixture()
def lw(emulators: Emulators) -> Iterator[LineWorksEnv]:
    """A LINE WORKS client on a freshly reset emulator whose rate limit is out of the way (once per test)."""
    base = emulators.lineworks.url
    _inspect(base, "reset", {})
    _inspect(base, "config", {"rate_limit_per_minute": 1_000_000})
    client = LineWorksClient(base)
    user_id = client.user(LW_ADMIN_EMAIL)["userId"]
    calendar = client.call("GET", f"/users/{user_id}/calendar")
    assert calendar.status_code == 200, calendar.text
    refresh = client.fetch_token()["refresh_token"]
    yield LineWorksEnv(client, user_id, calendar.json()["calendarId"], refresh)
    _inspect(base, "reset", {})
    _inspect(base, "config", {"rate_limit_per_minute": 240})


@pytest.fixture()
def grn(emulators: Emulators) -> Iterator[GaroonClient]:
    """A Garoon client (administrator) on a freshly reset emulator (once per test)."""
    base = emulators.garoon.url
    _inspect(base, "reset", {})
    yield GaroonClient(base)
    _inspect(base, "reset", {})


JSON_HEADERS = {"Content-Type": "application/json"}


def lw_create_valid(test: str, env: LineWorksEnv, shape: str = "timed") -> str:
    response = send(
        test,
        env.call,
        "POST",
        f"/users/{env.user_id}/calendar/events",
        data=json.dumps(lineworks_event(shape)),
        headers=JSON_HEADERS,
    )
    assert response.status_code == 201, f"the valid body is refused: {response.status_code} {response.text[:400]}"
    return str(response.json()["eventComponents"][0]["eventId"])


def garoon_create_valid(test: str, client: GaroonClient, body: dict[str, Any] = GAROON_REGULAR) -> str:
    response = send(test, client.api, "POST", "/schedule/events", data=json.dumps(body), headers=JSON_HEADERS)
    assert response.status_code in (200, 201), (
        f"the valid body is refused: {response.status_code} {response.text[:400]}"
    )
    return str(response.json()["id"])


# ============================================================================ LINE WORKS: token endpoint

_RS256 = RSAAlgorithm(RSAAlgorithm.SHA256)


def _load_signing_key() -> RSAPrivateKey:
    key = serialization.load_pem_private_key(DEMO_PRIVATE_KEY.encode(), password=None)
    assert isinstance(key, RSAPrivateKey)
    return key


_SIGNING_KEY = _load_signing_key()  # loaded once: loading the PEM costs ~40 ms


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed_token(header: Any, claims_json: bytes) -> str:
    """Return a JWS over arbitrary header/payload bytes, really signed with the demo key (PyJWT validates nothing)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(claims_json)}"
    return f"{signing_input}.{b64url(_RS256.sign(signing_input.encode(), _SIGNING_KEY))}"


def valid_claims() -> dict[str, Any]:
    """The claims ``fixtures.make_assertion`` signs."""
    now = int(time.time())
    return {"iss": DEMO_CLIENT_ID, "sub": DEMO_SERVICE_ACCOUNT, "iat": now, "exp": now + 3600}


def fresh_assertion() -> str:
    """``fixtures.make_assertion()`` with the key loaded once (loading the PEM costs ~40 ms)."""
    return jwt.encode(valid_claims(), _SIGNING_KEY, algorithm="RS256")


@dataclass(frozen=True)
class Offset:
    """A time claim relative to now (so that replayed examples stay meaningful)."""

    seconds: int


@st.composite
def assertions(draw: st.DrawFn) -> tuple[str, str | Huge]:
    """Return (what, assertion): mostly really-signed JWTs with one claim or header fuzzed."""
    shape = draw(st.sampled_from(["claim", "claim", "claim", "payload", "header", "alg", "text", "huge", "segments"]))
    if shape == "claim":
        claims = valid_claims()
        name = draw(st.sampled_from(["iss", "sub", "iat", "exp", "nbf", "aud", "jti", "scope", "x"]))
        if draw(st.booleans()) and name in claims:
            del claims[name]
            return f"claim {name} removed", signed_token({"alg": "RS256", "typ": "JWT"}, json.dumps(claims).encode())
        value = draw(
            st.one_of(
                ANY_JSON,
                NUMBERS,
                st.integers(-(10**6), 10**6).map(Offset),
                st.sampled_from([DEMO_CLIENT_ID, DEMO_SERVICE_ACCOUNT]),
            )
        )
        claims[name] = claims["iat"] + value.seconds if isinstance(value, Offset) else value
        return f"claim {name}={value!r:.80}", signed_token({"alg": "RS256", "typ": "JWT"}, json.dumps(claims).encode())
    if shape == "payload":
        value = draw(ANY_JSON.filter(lambda v: not isinstance(v, dict)))
        return f"payload {value!r:.80}", signed_token({"alg": "RS256"}, json.dumps(value).encode())
    if shape == "header":
        header = draw(
            st.one_of(
                ANY_JSON,
                st.dictionaries(st.sampled_from(["alg", "typ", "kid", "crit", "b64", "jku"]), ANY_JSON, max_size=3).map(
                    lambda h: {"alg": "RS256", **h}
                ),
            )
        )
        return f"header {header!r:.80}", signed_token(header, json.dumps(valid_claims()).encode())
    if shape == "alg":
        alg = draw(st.sampled_from(["none", "HS256", "RS512", "ES256"]))
        if alg == "none":
            return "alg none", jwt.encode(valid_claims(), "", algorithm="none")
        if alg == "HS256":
            return "HS256 with the client secret", jwt.encode(valid_claims(), DEMO_CLIENT_SECRET, algorithm="HS256")
        return f"header alg {alg} over an RS256 signature", signed_token(
            {"alg": alg}, json.dumps(valid_claims()).encode()
        )
    if shape == "text":
        return "text", draw(st.text(max_size=40))
    if shape == "huge":
        return "huge", Huge(draw(st.sampled_from(["a", ".", "eyJ", "é"])), draw(st.integers(10_000, 300_000)))
    good = fresh_assertion()
    variant = draw(st.sampled_from(["padded", "two parts", "four parts", "signature cut", "base64 std"]))
    head, body, sig = good.split(".")
    return variant, {
        "padded": f"{head}=.{body}.{sig}",
        "two parts": f"{head}.{body}",
        "four parts": f"{good}.{sig}",
        "signature cut": f"{head}.{body}.{sig[:-8]}",
        "base64 std": good.replace("-", "+").replace("_", "/"),
    }[variant]


TOKEN_CONTENT_TYPES = [
    *["application/x-www-form-urlencoded"] * 8,
    "application/x-www-form-urlencoded; charset=utf-8",
    "APPLICATION/X-WWW-FORM-URLENCODED",
    None,
    "",
    "application/json",
    "text/plain",
    "multipart/form-data; boundary=x",
]
FORM_TEXT = st.one_of(
    st.text(max_size=30),
    st.builds(Huge, st.sampled_from(["a", "é", "%", "&", "=", "+ "]), st.integers(10_000, 300_000)),
)


def form_encode(form: dict[str, str | Huge]) -> bytes:
    """``urlencode`` that percent-encodes a Huge value's unit once (quoting 300k characters is slow)."""

    def encode(value: str | Huge) -> str:
        if isinstance(value, Huge):
            return quote_plus(value.unit) * (value.length // len(value.unit))
        return quote_plus(value)

    return "&".join(f"{encode(k)}={encode(v)}" for k, v in form.items()).encode()


@st.composite
def token_requests(draw: st.DrawFn, refresh_token: str) -> Case:
    content_type = draw(st.sampled_from(TOKEN_CONTENT_TYPES))
    form_media = is_form_media(content_type)
    shape = draw(st.sampled_from(["form"] * 5 + ["raw"]))
    if shape == "raw":
        body = draw(
            st.one_of(
                st.binary(max_size=400),
                st.sampled_from([b"", b"&&&", b"=", b"a=%zz&b=%", b"grant_type", b"\xff\xfe=1", b"%ff%fe=%80"]),
            )
        )
        return Case("raw form bytes", body, content_type, not form_media)
    form: dict[str, str | Huge] = {
        "grant_type": JWT_GRANT,
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "assertion": fresh_assertion(),
        "scope": "calendar user.read",
    }
    required = {"grant_type", "client_id", "client_secret", "assertion", "scope"}
    op = draw(
        st.sampled_from(["remove", "replace", "replace", "assertion", "assertion", "assertion", "refresh", "add"])
    )
    must_fail = not form_media
    if op == "remove":
        name = draw(st.sampled_from(sorted(form)))
        del form[name]
        what = f"remove {name}"
        must_fail = must_fail or name in required
    elif op == "replace":
        name = draw(st.sampled_from(sorted(form)))
        value = draw(
            st.one_of(
                FORM_TEXT,
                st.sampled_from(
                    GRANTS if name == "grant_type" else SCOPES if name == "scope" else ["", " ", "\x00", "é"]
                ),
            )
        )
        form[name] = value
        what = f"replace {name} with {value!r:.80}"
    elif op == "assertion":
        what, form["assertion"] = draw(assertions())
        what = f"assertion: {what}"
    elif op == "refresh":
        del form["assertion"]
        form["grant_type"] = "refresh_token"
        form["refresh_token"] = draw(st.one_of(st.just(refresh_token), FORM_TEXT))
        if form["refresh_token"] == refresh_token and draw(st.booleans()):
            form["client_secret"] = draw(FORM_TEXT)
        what = f"refresh grant with {form['refresh_token']!r:.60}, secret {form['client_secret']!r:.40}"
    else:
        name = draw(st.text(max_size=10))
        form[name] = draw(FORM_TEXT)
        what = f"add {name!r}"
    return Case(what, form_encode(form), content_type, must_fail)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_lineworks_token_endpoint(emulators: Emulators, lw: LineWorksEnv) -> None:
    test = "lineworks-token"
    http = requests.Session()

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        return http.request(method, f"{emulators.lineworks.url}{path}", timeout=60, **kwargs)

    @fuzz_settings(test)
    @given(case=token_requests(lw.refresh_token))
    def run(case: Case) -> None:
        EXAMPLES_RUN[test] += 1
        response = send(test, call, "POST", "/oauth2/v2.0/token", case.what, data=case.body, headers=headers_for(case))
        request = describe("POST", "/oauth2/v2.0/token", case)
        check_answer(
            response, api="oauth", request=request, must_fail=case.must_fail, status=form_status(case), success=token_ok
        )

    run()


# ============================================================================ LINE WORKS: events


def lineworks_event_bodies(event_id: str | None = None) -> st.SearchStrategy[Case]:
    return st.one_of(*(bodies(lineworks_target(shape, event_id)) for shape in LW_SHAPES))


def _fuzz_lineworks_create(test: str, env: LineWorksEnv, path: str) -> None:
    @fuzz_settings(test)
    @given(case=lineworks_event_bodies())
    def run(case: Case) -> None:
        EXAMPLES_RUN[test] += 1
        response = send(test, env.call, "POST", path, case.what, data=case.body, headers=headers_for(case))
        check_answer(
            response,
            api="lineworks",
            request=describe("POST", path, case),
            must_fail=case.must_fail,
            status=media_status(case),
            success=lineworks_event_ok(),
        )
        created_id = response.json()["eventComponents"][0]["eventId"] if response.status_code == 201 else None
        if created_id is not None and addressable(created_id):  # keep the calendar small: remove what was created
            gone = send(
                test,
                env.call,
                "DELETE",
                f"/users/{env.user_id}/calendar/events/{segment(created_id)}",
                params={"sendNotification": "false"},
            )
            assert gone.status_code == 204, f"clean-up of a created event failed: {gone.status_code} {gone.text[:300]}"

    run()


def test_lineworks_create_event_in_calendar(lw: LineWorksEnv) -> None:
    test = "lineworks-create-in-calendar"
    for shape in LW_SHAPES:  # the unmutated bodies are valid
        lw_create_valid(test, lw, shape)
    _fuzz_lineworks_create(test, lw, f"/users/{lw.user_id}/calendars/{lw.calendar_id}/events")


def test_lineworks_create_event_in_default_calendar(lw: LineWorksEnv) -> None:
    test = "lineworks-create-default"
    _fuzz_lineworks_create(test, lw, f"/users/{lw.user_id}/calendar/events")


def test_lineworks_update_event(lw: LineWorksEnv) -> None:
    test = "lineworks-update"
    event_id = lw_create_valid(test, lw)
    paths = [
        f"/users/{lw.user_id}/calendar/events/{event_id}",
        f"/users/{lw.user_id}/calendars/{lw.calendar_id}/events/{event_id}",
    ]
    for path in paths:  # the unmutated bodies are valid on both paths
        for shape in LW_SHAPES:
            response = send(
                test, lw.call, "PUT", path, data=json.dumps(lineworks_event(shape, event_id)), headers=JSON_HEADERS
            )
            assert response.status_code == 200, response.text

    @fuzz_settings(test)
    @given(case=lineworks_event_bodies(event_id), path=st.sampled_from(paths))
    def run(case: Case, path: str) -> None:
        EXAMPLES_RUN[test] += 1
        response = send(test, lw.call, "PUT", path, case.what, data=case.body, headers=headers_for(case))
        check_answer(
            response,
            api="lineworks",
            request=describe("PUT", path, case),
            must_fail=case.must_fail,
            status=media_status(case),
            success=lineworks_event_ok(event_id),
        )

    run()


FUZZED_IDS = st.one_of(
    st.text(min_size=1, max_size=40),
    st.text(alphabet=ODD_CHARS.filter(lambda c: not "\ud800" <= c <= "\udfff"), min_size=1, max_size=20),
    st.integers(-(10**30), 10**30).map(str),
    st.builds(lambda n: "9" * n, st.integers(300, 5000)),
    st.sampled_from(["event-", "%", "%2F", "a/b", "?", "#", ";", " ", "\x00", "null", "0", "-1", "1e3", "0x10"]),
)
SEND_NOTIFICATION = st.one_of(
    st.none(),
    st.sampled_from(
        ["", "true", "false", "TRUE", "False", "1", "0", "yes", "null", " true", "true ", "\x00", "trueee"]
    ),
    st.text(max_size=20),
    st.lists(st.sampled_from(["true", "false", "", "maybe"]), min_size=2, max_size=3),
)


def test_lineworks_delete_event(lw: LineWorksEnv) -> None:
    test = "lineworks-delete"

    @fuzz_settings(test)
    @given(
        existing=st.booleans(),
        fuzzed_id=FUZZED_IDS,
        send_notification=SEND_NOTIFICATION,
        in_calendar=st.booleans(),
    )
    def run(existing: bool, fuzzed_id: str, send_notification: str | list[str] | None, in_calendar: bool) -> None:
        EXAMPLES_RUN[test] += 1
        event_id = lw_create_valid(test, lw) if existing else fuzzed_id
        prefix = f"/users/{lw.user_id}/calendars/{lw.calendar_id}" if in_calendar else f"/users/{lw.user_id}/calendar"
        path = f"{prefix}/events/{segment(event_id)}"
        params = None if send_notification is None else {"sendNotification": send_notification}
        response = send(test, lw.call, "DELETE", path, params=params)
        first = send_notification[0] if isinstance(send_notification, list) else send_notification
        valid_flag = first in (None, "", "true", "false")
        expected = (204 if existing else 404) if valid_flag else 400
        request = f"DELETE {path} params={params!r}"
        check_answer(response, api="lineworks", request=request, status=expected, success=no_body)
        if existing and response.status_code != 204:
            send(test, lw.call, "DELETE", f"/users/{lw.user_id}/calendar/events/{segment(event_id)}")

    run()


# ============================================================================ LINE WORKS: calendars


def test_lineworks_create_calendar(lw: LineWorksEnv) -> None:
    test = "lineworks-calendar-create"
    valid = send(test, lw.call, "POST", "/calendars", data=json.dumps(LW_CALENDAR), headers=JSON_HEADERS)
    assert valid.status_code == 201, valid.text

    @fuzz_settings(test)
    @given(case=bodies(LW_CALENDAR_CREATE))
    def run(case: Case) -> None:
        EXAMPLES_RUN[test] += 1
        response = send(test, lw.call, "POST", "/calendars", case.what, data=case.body, headers=headers_for(case))
        check_answer(
            response,
            api="lineworks",
            request=describe("POST", "/calendars", case),
            must_fail=case.must_fail,
            status=media_status(case),
            success=lineworks_calendar_ok,
        )
        if response.status_code == 201:
            gone = send(test, lw.call, "DELETE", f"/calendars/{segment(response.json()['calendarId'])}")
            assert gone.status_code == 204, gone.text

    run()


def test_lineworks_patch_calendar(lw: LineWorksEnv) -> None:
    test = "lineworks-calendar-patch"
    created = send(test, lw.call, "POST", "/calendars", data=json.dumps(LW_CALENDAR), headers=JSON_HEADERS)
    assert created.status_code == 201, created.text
    path = f"/calendars/{created.json()['calendarId']}"
    assert send(test, lw.call, "PATCH", path, data=json.dumps(LW_CALENDAR), headers=JSON_HEADERS).status_code == 200

    @fuzz_settings(test)
    @given(case=bodies(LW_CALENDAR_PATCH))
    def run(case: Case) -> None:
        EXAMPLES_RUN[test] += 1
        response = send(test, lw.call, "PATCH", path, case.what, data=case.body, headers=headers_for(case))
        check_answer(
            response,
            api="lineworks",
            request=describe("PATCH", path, case),
            must_fail=case.must_fail,
            status=media_status(case),
            success=lineworks_calendar_ok,
        )

    run()


# ============================================================================ LINE WORKS: a 10 MB body


def test_lineworks_ten_megabyte_description_is_refused_and_the_server_carries_on(lw: LineWorksEnv) -> None:
    """Observed: 400 INVALID_PARAMETER (maxLength 5000); the 16 MiB body cap (413) is not reached."""
    body = lineworks_event()
    body["eventComponents"][0]["description"] = "x" * (10 * 1024 * 1024)
    path = f"/users/{lw.user_id}/calendar/events"
    response = send("10mb", lw.call, "POST", path, data=json.dumps(body), headers=JSON_HEADERS)
    check_answer(response, api="lineworks", request=f"POST {path} with a 10 MB description", status=400)
    assert response.json()["code"] == "INVALID_PARAMETER"
    assert "description" in response.json()["description"]
    assert lw.client.user(LW_ADMIN_EMAIL)["email"] == LW_ADMIN_EMAIL  # the server still answers normally
    lw_create_valid("10mb", lw)


def test_lineworks_body_over_the_cap_is_413_in_the_api_format(emulators: Emulators, lw: LineWorksEnv) -> None:
    """A Content-Length over the emulator's 16 MiB cap is refused up front: 413 in the LINE WORKS format.

    The body is announced but not sent (the server decides on Content-Length alone), so that the
    answer cannot race with a reset of a half-written upload.
    """
    path = f"/v1.0/users/{lw.user_id}/calendar/events"
    connection = http.client.HTTPConnection(LOOPBACK, emulators.lineworks.port, timeout=30)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Authorization", f"Bearer {lw.client.token}")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(17 * 1024 * 1024))
        connection.endheaders()
        answer = connection.getresponse()
        status, body = answer.status, json.loads(answer.read())
    finally:
        connection.close()
    assert status == 413, (status, body)
    assert body == {"code": "PAYLOAD_TOO_LARGE", "description": body["description"]}, body
    assert lw.client.user(LW_ADMIN_EMAIL)["email"] == LW_ADMIN_EMAIL  # the server carries on
    lw_create_valid("over-cap", lw)


# ============================================================================ Garoon


def test_garoon_create_event(grn: GaroonClient) -> None:
    test = "garoon-create"
    for body in (GAROON_REGULAR, GAROON_ALL_DAY):  # the unmutated bodies are valid
        event_id = garoon_create_valid(test, grn, body)
        assert send(test, grn.api, "DELETE", f"/schedule/events/{event_id}").status_code == 204

    @fuzz_settings(test)
    @given(case=st.one_of(bodies(GAROON_CREATE_REGULAR), bodies(GAROON_CREATE_ALL_DAY)))
    def run(case: Case) -> None:
        EXAMPLES_RUN[test] += 1
        response = send(test, grn.api, "POST", "/schedule/events", case.what, data=case.body, headers=headers_for(case))
        request = describe("POST", "/g/api/v1/schedule/events", case)
        check_answer(
            response,
            api="garoon",
            request=request,
            must_fail=case.must_fail,
            status=media_status(case),
            success=garoon_event_ok(),
        )
        if response.status_code in (200, 201):  # keep facilities free: remove what was created
            gone = send(test, grn.api, "DELETE", f"/schedule/events/{response.json()['id']}")
            assert gone.status_code == 204, gone.text

    run()


def for_event(event_id: str, cases: st.SearchStrategy[Case]) -> st.SearchStrategy[tuple[str, Case]]:
    return cases.map(lambda case: (event_id, case))


def test_garoon_patch_event(grn: GaroonClient) -> None:
    test = "garoon-patch"
    created = garoon_create_valid(test, grn)
    events = grn.state()["events"]

    def seeded(kind: str) -> str:  # a public seeded appointment (the administrator may view it)
        return next(
            str(e["id"]) for e in events if e.get("eventType") == kind and e.get("visibilityType", "PUBLIC") == "PUBLIC"
        )

    targets = [
        (created, GAROON_PATCH),
        (seeded("REPEATING"), GAROON_PATCH_OTHER_ROOM),
        (seeded("ALL_DAY"), GAROON_PATCH_ALL_DAY),
    ]
    for event_id, target in targets:  # the unmutated bodies are valid for their appointment
        valid = send(
            test, grn.api, "PATCH", f"/schedule/events/{event_id}", data=json.dumps(target.base), headers=JSON_HEADERS
        )
        assert valid.status_code == 200, f"{event_id}: {valid.text}"

    @fuzz_settings(test)
    @given(choice=st.one_of(*(for_event(event_id, bodies(target)) for event_id, target in targets)))
    def run(choice: tuple[str, Case]) -> None:
        EXAMPLES_RUN[test] += 1
        event_id, case = choice
        path = f"/schedule/events/{event_id}"
        response = send(test, grn.api, "PATCH", path, case.what, data=case.body, headers=headers_for(case))
        request = describe("PATCH", f"/g/api/v1{path}", case)
        check_answer(
            response,
            api="garoon",
            request=request,
            must_fail=case.must_fail,
            status=media_status(case),
            success=garoon_event_ok(event_id),
        )

    run()


def test_garoon_delete_event(grn: GaroonClient) -> None:
    test = "garoon-delete"
    seeded = {str(e["id"]) for e in grn.state()["events"]}

    @fuzz_settings(test)
    @given(
        existing=st.booleans(),
        fuzzed_id=FUZZED_IDS,
        junk=st.one_of(st.none(), st.tuples(st.sampled_from(CONTENT_TYPES), st.binary(max_size=50))),
    )
    def run(existing: bool, fuzzed_id: str, junk: tuple[str | None, bytes] | None) -> None:
        EXAMPLES_RUN[test] += 1
        event_id = garoon_create_valid(test, grn) if existing else fuzzed_id
        path = f"/schedule/events/{segment(event_id)}"
        kwargs: dict[str, Any] = {}
        if junk is not None:  # a DELETE carries no body: whatever is sent is ignored
            kwargs = {"data": junk[1], "headers": {} if junk[0] is None else {"Content-Type": junk[0]}}
        response = send(test, grn.api, "DELETE", path, **kwargs)
        request = f"DELETE /g/api/v1{path} {kwargs!r:.200}"
        if event_id in seeded:  # a seeded appointment: deleted, or refused (temporary, private)
            check_answer(response, api="garoon", request=request, success=no_body, error_statuses=frozenset({400, 403}))
            if response.status_code == 204:
                seeded.discard(event_id)
        else:
            check_answer(response, api="garoon", request=request, status=204 if existing else 404, success=no_body)

    run()


# ============================================================================ the count


def test_zz_every_fuzz_test_used_its_example_budget(capsys: pytest.CaptureFixture[str]) -> None:
    """Each property test that ran executed at least half its examples (a collapsed strategy or a
    health check that cut a run short would otherwise pass unnoticed); prints the totals; runs last."""
    short = {
        name: (ran, max(1, int(BUDGET[name] * SCALE)))
        for name, ran in EXAMPLES_RUN.items()
        if ran < max(1, int(BUDGET[name] * SCALE)) // 2
    }
    assert not short, f"fuzz tests that ran fewer than half their examples (ran, budget): {short}"
    planned = sum(max(1, int(n * SCALE)) for n in BUDGET.values())
    with capsys.disabled():
        print(
            f"\n[fuzz] examples executed: {sum(EXAMPLES_RUN.values())} (max_examples sum {planned}); "
            f"HTTP requests: {sum(REQUESTS_SENT.values())}; per test: {dict(EXAMPLES_RUN)}"
        )
