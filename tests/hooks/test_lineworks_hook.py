"""LineWorksHook against the LINE WORKS emulator over HTTP: tokens, chunked lists, typed errors, faults."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

import pytest

from calendar_etl.hooks.errors import AuthenticationError, TransientError, ValidationError
from calendar_etl.hooks.lineworks import MAX_LIST_DAYS, LineWorksHook, event_id_for
from calendar_etl.ratelimit import MemoryBudgetStore, RateBudget
from include.emulators import Emulators
from tests.emulators.fixtures import ANCHOR
from tests.hooks.helpers import FAULT_RUN_ATTEMPTS, TOKEN_PATH, Emulator, short_sleep, statuses

JST = dt.timezone(dt.timedelta(hours=9))
EVENTS_PATH = r"/calendar/events$"

HookFactory = Callable[..., LineWorksHook]


def component(summary: str, day: dt.date, hour: int = 10, **extra: Any) -> dict[str, Any]:
    """One timed event component in Tokyo time, an hour long."""
    start = dt.datetime.combine(day, dt.time(hour))
    return {
        "summary": summary,
        "start": {"dateTime": start.isoformat(), "timeZone": "Asia/Tokyo"},
        "end": {"dateTime": (start + dt.timedelta(hours=1)).isoformat(), "timeZone": "Asia/Tokyo"},
        **extra,
    }


def read_some(hook: LineWorksHook, user: str) -> None:
    """A handful of authenticated calls on three different endpoints."""
    assert len(list(hook.iter_users())) > 1
    hook.default_calendar(user)
    list(hook.iter_calendars(user))


# -- 1. token reuse -------------------------------------------------------------------------------


def test_many_calls_through_one_hook_use_one_token(
    lineworks_hook: HookFactory, lw_emulator: Emulator, lw_user: str
) -> None:
    hook = lineworks_hook()
    for _ in range(5):
        read_some(hook, lw_user)

    assert hook.calls >= 15
    assert len(lw_emulator.token_requests()) == 1
    assert lw_emulator.state()["tokensIssued"] == 1


def test_two_hook_instances_of_one_connection_share_the_token(
    lineworks_hook: HookFactory, lw_emulator: Emulator, lw_user: str
) -> None:
    first, second = lineworks_hook(), lineworks_hook()
    read_some(first, lw_user)
    read_some(second, lw_user)
    read_some(first, lw_user)

    assert lw_emulator.state()["tokensIssued"] == 1


def test_concurrent_first_calls_through_two_instances_issue_one_token(
    lineworks_hook: HookFactory, lw_emulator: Emulator, lw_user: str
) -> None:
    hooks = [lineworks_hook(), lineworks_hook()]
    start = threading.Barrier(8)

    def call(n: int) -> None:
        start.wait()
        hooks[n % 2].default_calendar(lw_user)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(call, range(8)))

    assert len(lw_emulator.token_requests()) == 1


# -- 2. refresh -----------------------------------------------------------------------------------


def test_expired_token_is_refreshed_once_and_the_call_succeeds(
    lineworks_hook: HookFactory, lw_emulator: Emulator, lw_user: str
) -> None:
    hook = lineworks_hook()
    hook.default_calendar(lw_user)
    lw_emulator.expire_tokens()

    calendar = hook.default_calendar(lw_user)

    assert calendar["calendarId"]
    assert len(lw_emulator.token_requests()) == 2
    api_calls = lw_emulator.requests(path=r"^/v1\.0/")
    assert statuses(api_calls) == [200, 401, 200]
    assert "expired" in json.loads(api_calls[1]["responseBody"])["description"]


def test_concurrent_401s_after_expiry_refresh_the_token_once(
    lineworks_hook: HookFactory, lw_emulator: Emulator, lw_user: str
) -> None:
    """A call that was sent with the old token and refused late must not throw away the new token."""
    hook = lineworks_hook()
    hook.default_calendar(lw_user)
    lw_emulator.expire_tokens()
    lw_emulator.faults(latency_ms=1000, paths="/calendar-personals$")  # this call is refused last

    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(lambda: list(hook.iter_calendars(lw_user)))
        time.sleep(0.2)  # the slow call is in flight with the old token
        hook.default_calendar(lw_user)
        slow.result()

    assert len(lw_emulator.token_requests()) == 2
    assert statuses(lw_emulator.requests(path=r"^/v1\.0/")).count(401) == 2


def test_token_living_shorter_than_the_refresh_margin_is_reissued_before_use(
    lineworks_hook: HookFactory, lw_emulator: Emulator, lw_user: str
) -> None:
    lw_emulator.configure(token_lifetime_s=60)  # the hook renews 120 s before expiry
    hook = lineworks_hook()
    for _ in range(3):
        hook.default_calendar(lw_user)

    assert len(lw_emulator.token_requests()) == 3
    assert 401 not in statuses(lw_emulator.requests(path=r"^/v1\.0/"))


def test_token_endpoint_refusals_are_retried(lineworks_hook: HookFactory, lw_emulator: Emulator, lw_user: str) -> None:
    # a storm opens with the first request after the faults are set: two token requests get 429, the third is served
    lw_emulator.faults(storm_every=1000, storm_length=2, paths=f"^{TOKEN_PATH}$")

    lineworks_hook().default_calendar(lw_user)

    assert statuses(lw_emulator.token_requests()) == [429, 429, 200]
    assert lw_emulator.state()["tokensIssued"] == 1


def test_token_endpoint_failures_give_up_after_max_attempts_as_transient(
    lineworks_hook: HookFactory, lw_emulator: Emulator, lw_user: str
) -> None:
    lw_emulator.faults(error_rate=1.0, paths=f"^{TOKEN_PATH}$")

    with pytest.raises(TransientError) as raised:
        lineworks_hook(max_attempts=3).default_calendar(lw_user)

    assert raised.value.path == TOKEN_PATH and raised.value.status in (500, 502, 503)
    assert len(lw_emulator.token_requests()) == 3
    assert lw_emulator.requests(path=r"^/v1\.0/") == []


def test_refused_client_secret_raises_authentication_error_without_retrying(
    lineworks_connection: Callable[..., str], lineworks_hook: HookFactory, lw_emulator: Emulator, lw_user: str
) -> None:
    conn_id = lineworks_connection("lineworks_wrong_secret", client_secret="not-the-client-secret")

    with pytest.raises(AuthenticationError) as raised:
        lineworks_hook(conn_id).default_calendar(lw_user)

    assert (raised.value.status, raised.value.code) == (401, "invalid_client")
    assert "Client authentication failed" in raised.value.message
    assert len(lw_emulator.token_requests()) == 1


# -- 3. 31-day chunking ---------------------------------------------------------------------------


def _window(entry: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    query = entry["query"]
    return (
        dt.datetime.fromisoformat(unquote(query["fromDateTime"][0])),
        dt.datetime.fromisoformat(unquote(query["untilDateTime"][0])),
    )


def test_long_range_is_listed_in_contiguous_31_day_calls_and_a_series_comes_back_once(
    lineworks_hook: HookFactory, lw_emulator: Emulator, lw_user: str
) -> None:
    hook = lineworks_hook()
    start = dt.datetime(2026, 11, 1, tzinfo=JST)
    end = start + dt.timedelta(days=100)  # 31 + 31 + 31 + 7
    day = start.date()
    weekly = hook.create_event(
        lw_user, None, [component("weekly", day + dt.timedelta(days=2), recurrence=["RRULE:FREQ=WEEKLY"])]
    )
    inside = [
        hook.create_event(lw_user, None, [component(f"inside {n}", day + dt.timedelta(days=n))]) for n in (40, 97)
    ]
    for offset, hour in ((-3, 10), (100, 0), (110, 10)):  # before the range, at its (exclusive) end, after it
        hook.create_event(lw_user, None, [component(f"outside {offset}", day + dt.timedelta(days=offset), hour)])
    since = lw_emulator.requests()[-1]["seq"]

    events = list(hook.iter_events(lw_user, None, start, end))

    ids = [e["eventComponents"][0]["eventId"] for e in events]
    expected = {item["eventComponents"][0]["eventId"] for item in [weekly, *inside]}
    assert sorted(ids) == sorted(expected)
    lists = lw_emulator.requests(since=since, method="GET", path=EVENTS_PATH)
    windows = [_window(entry) for entry in lists]
    assert len(windows) == 4
    assert windows[0][0] == start and windows[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert all(dt.timedelta(0) < until - since_ <= dt.timedelta(days=MAX_LIST_DAYS) for since_, until in windows)
    weekly_id = weekly["eventComponents"][0]["eventId"]
    assert all(weekly_id in entry["responseBody"] for entry in lists)  # every chunk returned it


# -- 7. typed errors ------------------------------------------------------------------------------


def test_validation_error_is_typed_carries_the_api_message_and_is_sent_once(
    lineworks_hook: HookFactory, lw_emulator: Emulator, lw_user: str
) -> None:
    hook = lineworks_hook()

    with pytest.raises(ValidationError) as raised:
        hook.create_event(lw_user, None, [component("x" * 201, ANCHOR)], source_key="too-long")

    error = raised.value
    posts = lw_emulator.requests(method="POST", path=EVENTS_PATH)
    assert len(posts) == 1
    body = json.loads(posts[0]["responseBody"])
    assert (error.status, error.code) == (400, "INVALID_PARAMETER")
    assert error.message == body["description"] and "summary" in error.message
    assert error.method == "POST"
    assert error.path == f"/v1.0/users/{lw_user}/calendar/events"
    assert not error.retryable


# -- 8. writes under faults -----------------------------------------------------------------------

LINEWORKS_FAULTS = {
    "error_rate": 0.1,
    "reset_rate": 0.05,
    "lost_response_rate": 0.03,
    "storm_every": 50,
    "storm_length": 5,
    "seed": 7,
}
FAULT_RUN_CREATES = 2000


def test_creates_under_faults_are_neither_lost_nor_doubled(
    lineworks_hook: HookFactory, lw_emulator: Emulator, emulators: Emulators, capsys: pytest.CaptureFixture[str]
) -> None:
    users = [str(u["userId"]) for u in emulators.tenant.lineworks_users]
    calendar_of = {u["userId"]: u["defaultCalendarId"] for u in lw_emulator.state()["users"]}
    lw_emulator.configure(rate_limit_per_minute=1_000_000)
    hook = lineworks_hook(budget=RateBudget(MemoryBudgetStore()), max_attempts=FAULT_RUN_ATTEMPTS, sleep=short_sleep)
    lw_emulator.faults(**LINEWORKS_FAULTS)
    jobs = [(f"fault-run:{n}", users[n % len(users)]) for n in range(FAULT_RUN_CREATES)]

    def create(n: int) -> str:
        key, user = jobs[n]
        event = component(key, ANCHOR + dt.timedelta(days=n % 28), hour=8 + n % 10)
        return str(hook.create_event(user, None, [event], source_key=key)["eventComponents"][0]["eventId"])

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        returned = list(pool.map(create, range(FAULT_RUN_CREATES)))
    elapsed = time.monotonic() - started

    state = lw_emulator.state()
    stored = Counter((e["calendarId"], e["eventComponents"][0]["eventId"]) for e in state["events"])
    expected = {(calendar_of[user], event_id_for(key)) for key, user in jobs}
    assert state["eventCount"] == FAULT_RUN_CREATES
    assert set(stored) == expected and max(stored.values()) == 1
    assert returned == [event_id_for(key) for key, _ in jobs]
    log = lw_emulator.requests()
    faults = Counter(e["fault"] for e in log if e["fault"])
    assert faults["lost_response"] > 0 and faults["throttle"] > 0 and faults["error"] > 0
    creates = lw_emulator.requests(method="POST", path=EVENTS_PATH)
    attempts = Counter(json.loads(e["body"])["eventComponents"][0]["eventId"] for e in creates)
    with capsys.disabled():
        print(
            f"\nLINE WORKS fault run: {FAULT_RUN_CREATES} creates in {elapsed:.1f} s, {len(log)} requests "
            f"({hook.calls} by the hook), faults {dict(faults)}, 409s {statuses(log).count(409)}, "
            f"most POSTs for one event {max(attempts.values())}"
        )
