"""GaroonHook against the Garoon emulator over HTTP: short pages, the e-mail join, repeats, errors, faults."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from calendar_etl.hooks import garoon as garoon_module
from calendar_etl.hooks.errors import NotFoundError, TransientError
from calendar_etl.hooks.garoon import GaroonHook
from include.emulators import Emulators
from include.emulators.tenant import expected_repeat_dates
from tests.emulators.fixtures import ANCHOR
from tests.hooks.helpers import FAULT_RUN_ATTEMPTS, Emulator, short_sleep

JST = dt.timezone(dt.timedelta(hours=9))
RANGE_START = dt.datetime.combine(ANCHOR - dt.timedelta(days=31), dt.time(), JST)
RANGE_END = dt.datetime.combine(ANCHOR + dt.timedelta(days=31), dt.time(), JST)
EVENTS_LIST = r"^/g/api/v1/schedule/events$"
TINY_PAGE = 7

GAROON_FAULTS = {"error_rate": 0.1, "reset_rate": 0.05, "lost_response_rate": 0.05, "seed": 11}
FAULT_RUN_CREATES = 300
ATTENDEE = "2"

HookFactory = Callable[..., GaroonHook]


def event_body(n: int) -> dict[str, Any]:
    """A half-hour REGULAR event attended by ``ATTENDEE``, on one of 14 days from the anchor."""
    start = dt.datetime.combine(ANCHOR + dt.timedelta(days=n % 14), dt.time(8 + n % 10), JST)
    return {
        "eventType": "REGULAR",
        "subject": f"fault run {n}",
        "start": {"dateTime": start.isoformat(), "timeZone": "Asia/Tokyo"},
        "end": {"dateTime": (start + dt.timedelta(minutes=30)).isoformat(), "timeZone": "Asia/Tokyo"},
        "attendees": [{"type": "USER", "id": ATTENDEE}],
    }


def event_keys(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(str(e["id"]), e.get("repeatId")) for e in events]


def marker_of(event: dict[str, Any]) -> str:
    return str(((event.get("additionalItems") or {}).get("item") or {}).get("value") or "")


def user_with_most_hidden_events(emulators: Emulators) -> str:
    """The user attending most private events the administrator (the hook's login) may not see."""
    counts: Counter[str] = Counter()
    for event in emulators.tenant.garoon_events:
        if event.get("visibilityType", "PUBLIC") != "PUBLIC" and event["creator"]["id"] != "1":
            counts.update(a["id"] for a in event["attendees"] if a["type"] == "USER" and a["id"] != "1")
    return counts.most_common(1)[0][0]


# -- 4. paging through short pages ----------------------------------------------------------------


@pytest.mark.parametrize("short_pages", ["truncate", "hidden"])
def test_short_pages_are_paged_through_collecting_every_event_once(
    garoon_hook: HookFactory,
    garoon_emulator: Emulator,
    emulators: Emulators,
    monkeypatch: pytest.MonkeyPatch,
    short_pages: str,
) -> None:
    target = user_with_most_hidden_events(emulators)
    hook = garoon_hook()
    garoon_emulator.configure(short_pages="off")
    reference = event_keys(list(hook.iter_events(RANGE_START, RANGE_END, target, "user")))
    garoon_emulator.configure(short_pages=short_pages)
    monkeypatch.setattr(garoon_module, "PAGE_LIMIT", TINY_PAGE)
    since = garoon_emulator.requests()[-1]["seq"]

    keys = event_keys(list(hook.iter_events(RANGE_START, RANGE_END, target, "user")))

    assert len(reference) > 5 * TINY_PAGE
    assert len(keys) == len(set(keys))
    assert set(keys) == set(reference)
    pages = [json.loads(e["responseBody"]) for e in garoon_emulator.requests(since=since, path=EVENTS_LIST)]
    short = [p for p in pages if p["hasNext"] and len(p["events"]) < TINY_PAGE]
    assert len(short) >= 2


# -- 5. the e-mail join on code -------------------------------------------------------------------


@pytest.mark.parametrize(("page_limit", "user_api_page"), [(1000, 100), (TINY_PAGE, 5)])
def test_users_get_the_email_of_the_user_api_record_with_the_same_code(
    garoon_hook: HookFactory,
    garoon_emulator: Emulator,
    emulators: Emulators,
    monkeypatch: pytest.MonkeyPatch,
    page_limit: int,
    user_api_page: int,
) -> None:
    monkeypatch.setattr(garoon_module, "PAGE_LIMIT", page_limit)
    monkeypatch.setattr(garoon_module, "USER_API_PAGE", user_api_page)

    users = list(garoon_hook().iter_users())

    expected = {u["code"]: (u["id"], u["email"]) for u in emulators.tenant.garoon_users}
    assert len(users) == len(expected)
    assert {u["code"]: (u["id"], u["email"]) for u in users} == expected
    user_api = [
        u for e in garoon_emulator.requests(path=r"^/v1/users\.json$") for u in json.loads(e["responseBody"])["users"]
    ]
    assert len(user_api) == len(expected)
    assert all(u["id"] != expected[u["code"]][0] for u in user_api)  # the join cannot be on id


# -- 6. repeating series: occurrences in lists, the master by id ----------------------------------


def test_lists_yield_occurrences_and_get_event_returns_the_master(
    garoon_hook: HookFactory, garoon_emulator: Emulator, emulators: Emulators
) -> None:
    master = next(e for e in emulators.tenant.garoon_events if e.get("repeatInfo", {}).get("type") == "EVERY_WEEK")
    info = master["repeatInfo"]
    excluded = {ex["start"][:10] for ex in info["exclusiveDateTimes"]}
    expected_ids = {
        d.strftime("%Y%m%d") + info["time"]["start"].replace(":", "")
        for d in expected_repeat_dates(info)
        if d.isoformat() not in excluded
    }
    attendee = next(a["id"] for a in master["attendees"] if a["type"] == "USER")
    hook = garoon_hook()

    occurrences = [e for e in hook.iter_events(RANGE_START, RANGE_END, attendee, "user") if e["id"] == master["id"]]
    series = hook.get_event(master["id"])

    repeat_ids = [e["repeatId"] for e in occurrences]
    assert len(repeat_ids) == len(set(repeat_ids)) == len(expected_ids) > 1
    assert set(repeat_ids) == expected_ids
    assert all("start" in e for e in occurrences)
    assert series["id"] == master["id"] and series["eventType"] == "REPEATING"
    assert series["repeatInfo"]["type"] == "EVERY_WEEK"
    assert "start" not in series and "end" not in series and "repeatId" not in series


# -- 7. typed errors ------------------------------------------------------------------------------


def test_unknown_event_raises_not_found_with_the_garoon_code(
    garoon_hook: HookFactory, garoon_emulator: Emulator
) -> None:
    with pytest.raises(NotFoundError) as raised:
        garoon_hook().get_event("999999")

    error = raised.value
    assert (error.status, error.code) == (404, "GRN_SCHD_13001")
    assert "999999" in error.message
    assert (error.method, error.path) == ("GET", "/g/api/v1/schedule/events/999999")
    assert len(garoon_emulator.requests()) == 1


def test_create_failing_every_time_gives_up_after_max_attempts_and_creates_nothing(
    garoon_hook: HookFactory, garoon_emulator: Emulator
) -> None:
    before = garoon_emulator.state()["eventCount"]
    garoon_emulator.faults(error_rate=1.0, methods=["POST"])

    with pytest.raises(TransientError):
        garoon_hook(max_attempts=3).create_event(event_body(0), marker="cetl:never", search_target=ATTENDEE)

    assert len(garoon_emulator.requests(method="POST")) == 3
    assert len(garoon_emulator.requests(method="GET", path=EVENTS_LIST)) == 3  # a marker lookup after each
    assert garoon_emulator.state()["eventCount"] == before


# -- 8. creates under faults ----------------------------------------------------------------------


def test_creates_under_faults_are_neither_lost_nor_doubled(
    garoon_hook: HookFactory, garoon_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    before = garoon_emulator.state()["eventCount"]
    hook = garoon_hook(max_attempts=FAULT_RUN_ATTEMPTS, sleep=short_sleep)
    markers = [f"cetl:fault-run:{n}" for n in range(FAULT_RUN_CREATES)]
    garoon_emulator.faults(**GAROON_FAULTS)

    def create(n: int) -> str:
        return str(hook.create_event(event_body(n), marker=markers[n], search_target=ATTENDEE)["id"])

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        returned = list(pool.map(create, range(FAULT_RUN_CREATES)))
    elapsed = time.monotonic() - started

    state = garoon_emulator.state()
    stored = Counter(marker_of(e) for e in state["events"] if marker_of(e))
    created_ids = {e["id"] for e in state["events"] if marker_of(e)}
    assert state["eventCount"] == before + FAULT_RUN_CREATES
    assert set(stored) == set(markers) and max(stored.values()) == 1
    assert set(returned) == created_ids and len(set(returned)) == FAULT_RUN_CREATES
    log = garoon_emulator.requests()
    faults = Counter(e["fault"] for e in log if e["fault"])
    creates = [e for e in log if e["method"] == "POST"]
    lost_creates = [e for e in creates if e["fault"] == "lost_response"]
    attempts = Counter(json.loads(e["body"])["additionalItems"]["item"]["value"] for e in creates)
    assert lost_creates, "no create lost its answer: the marker lookup was not exercised"
    with capsys.disabled():
        print(
            f"\nGaroon fault run: {FAULT_RUN_CREATES} creates in {elapsed:.1f} s, {len(log)} requests "
            f"({hook.calls} by the hook), faults {dict(faults)}, creates that lost their answer {len(lost_creates)}, "
            f"most POSTs for one event {max(attempts.values())}"
        )


@pytest.mark.parametrize(("value", "problem"), [(0, "must be at least 1, got 0"), ("many", "must be a number")])
def test_a_concurrency_cap_that_cannot_work_is_refused_by_name(
    garoon_connection: Callable[..., str], garoon_hook: Callable[..., GaroonHook], value: Any, problem: str
) -> None:
    """0 would make every call wait forever on its slot (it used to be read as 'unset' and became 4)."""
    garoon_connection("garoon_capped", max_concurrent=value)
    with pytest.raises(ValueError, match=f"'garoon_capped'.*'max_concurrent' {problem}"):
        next(garoon_hook("garoon_capped").iter_users())
