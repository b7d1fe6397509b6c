"""Credentials never reach a log or an exception, and travel only in the header (or form) meant for them."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from airflow._shared.logging import structlog as core_structlog
from airflow.sdk._shared.logging import structlog as sdk_structlog

from calendar_etl.hooks.errors import CalendarApiError
from calendar_etl.hooks.garoon import GaroonHook
from calendar_etl.hooks.lineworks import LineWorksHook
from include.emulators.tenant import ADMIN_LOGIN, DEMO_PASSWORD
from tests.emulators.fixtures import ANCHOR
from tests.hooks.helpers import TOKEN_PATH, Emulator

WRONG_SECRET = "not-the-client-secret-3f9a"
WRONG_PASSWORD = "not-the-password-7c21"
JST = dt.timezone(dt.timedelta(hours=9))


class Transcript:
    """Everything a run can show an operator: log records, console output, raised errors."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    @contextmanager
    def expect_error(self) -> Iterator[None]:
        try:
            yield
        except CalendarApiError as exc:
            self.errors += [str(exc), repr(exc), exc.message, json.dumps(exc.body, default=str)]
        else:
            raise AssertionError("the call was expected to fail")


def _lineworks_session(
    hook: LineWorksHook, bad: LineWorksHook, lw_emulator: Emulator, user: str, out: Transcript
) -> None:
    assert hook.test_connection()[0]
    list(hook.iter_users())
    start = {"dateTime": f"{ANCHOR}T10:00:00", "timeZone": "Asia/Tokyo"}
    component = {"summary": "secrets", "start": start, "end": {**start, "dateTime": f"{ANCHOR}T11:00:00"}}
    hook.create_event(user, None, [component], source_key="secrets:1")
    hook.create_event(user, None, [component], source_key="secrets:1")  # 409, then a GET
    lw_emulator.faults(storm_every=1000, storm_length=2)  # the next two requests get 429: retries log their reason
    begin = dt.datetime.combine(ANCHOR, dt.time(), JST)
    list(hook.iter_events(user, None, begin, begin + dt.timedelta(days=40)))
    lw_emulator.faults()
    lw_emulator.expire_tokens()
    hook.default_calendar(user)  # 401, new token
    with out.expect_error():
        hook.create_event(user, None, [{**component, "summary": "x" * 201}])
    with out.expect_error():
        bad.default_calendar(user)
    out.errors.append(bad.test_connection()[1])


def _garoon_session(hook: GaroonHook, bad: GaroonHook, out: Transcript) -> None:
    assert hook.test_connection()[0]
    list(hook.iter_users())
    begin = dt.datetime.combine(ANCHOR, dt.time(), JST)
    list(hook.iter_events(begin, begin + dt.timedelta(days=7), "2", "user"))
    start = {"dateTime": (begin + dt.timedelta(hours=10)).isoformat(), "timeZone": "Asia/Tokyo"}
    body = {
        "eventType": "REGULAR",
        "subject": "secrets",
        "start": start,
        "end": start,
        "attendees": [{"type": "USER", "id": "2"}],
    }
    hook.create_event(body, marker="cetl:secrets", search_target="2")
    with out.expect_error():
        hook.get_event("999999")
    with out.expect_error():
        list(bad.iter_users())
    out.errors.append(bad.test_connection()[1])


def _issued_tokens(lw_emulator: Emulator) -> set[str]:
    tokens = set()
    for entry in lw_emulator.token_requests():
        if entry["status"] == 200:
            body = json.loads(entry["responseBody"])
            tokens |= {body["access_token"], body["refresh_token"]}
    return tokens


@pytest.fixture()
def session_transcript(
    lineworks_hook: Callable[..., LineWorksHook],
    garoon_hook: Callable[..., GaroonHook],
    lineworks_connection: Callable[..., str],
    garoon_connection: Callable[..., str],
    lw_emulator: Emulator,
    garoon_emulator: Emulator,
    lw_user: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[str, Transcript]:
    """Run both hooks through successes, retries, a refresh and refusals; return what they showed."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="airflow.task")
    for module in (core_structlog, sdk_structlog):  # hooks log through structlog, INFO and up by default
        monkeypatch.setitem(module.PER_LOGGER_LEVELS, "airflow.task", logging.DEBUG)
    out = Transcript()
    lw_bad = lineworks_hook(lineworks_connection("lineworks_bad", client_secret=WRONG_SECRET))
    _lineworks_session(lineworks_hook(), lw_bad, lw_emulator, lw_user, out)
    garoon_bad = garoon_hook(garoon_connection("garoon_bad", password=WRONG_PASSWORD))
    _garoon_session(garoon_hook(), garoon_bad, out)
    console = capfd.readouterr()
    return "\n".join([caplog.text, console.out, console.err]), out


def test_no_credential_or_token_reaches_a_log_or_an_exception(
    session_transcript: tuple[str, Transcript], lineworks_extras: dict[str, Any], lw_emulator: Emulator
) -> None:
    logs, out = session_transcript
    key_body = [line for line in lineworks_extras["private_key"].splitlines() if line and not line.startswith("-----")]
    tokens = _issued_tokens(lw_emulator)
    secrets = {
        "Garoon password": [DEMO_PASSWORD, WRONG_PASSWORD, _cybozu_auth(DEMO_PASSWORD)],
        "client secret": [lineworks_extras["client_secret"], WRONG_SECRET],
        "private key": key_body,
        "access token": sorted(tokens),
    }
    assert len(tokens) >= 4 and "DEBUG" in logs and "retry" in logs and "GRN_SCHD_13001" in "".join(out.errors)
    for what, values in secrets.items():
        for value in values:
            assert value not in logs, f"the {what} is in the logs"
            assert not [e for e in out.errors if value in e], f"the {what} is in an exception"


def _cybozu_auth(password: str) -> str:
    return base64.b64encode(f"{ADMIN_LOGIN}:{password}".encode()).decode()


def _places(entry: dict[str, Any], value: str) -> set[str]:
    """Where in a logged request ``value`` occurs: header names (lower case), or path/query/body."""
    found = {name.lower() for name, header in entry["headers"].items() if value in header}
    found |= {part for part in ("path", "rawQuery", "body") if value in entry[part]}
    return found


def test_credentials_travel_only_in_their_own_header(
    session_transcript: tuple[str, Transcript], lw_emulator: Emulator, garoon_emulator: Emulator
) -> None:
    lineworks_log, garoon_log = lw_emulator.requests(), garoon_emulator.requests()
    tokens = _issued_tokens(lw_emulator)
    for token in tokens:
        used = [_places(e, token) for e in lineworks_log if _places(e, token)]
        assert all(places == {"authorization"} for places in used), used
    access_tokens = {
        json.loads(e["responseBody"])["access_token"] for e in lw_emulator.token_requests() if e["status"] == 200
    }
    assert all(any(_places(e, t) for e in lineworks_log) for t in access_tokens)  # each was used
    for password in (DEMO_PASSWORD, WRONG_PASSWORD):
        assert not [e for e in garoon_log + lineworks_log if _places(e, password)]
        auth = _cybozu_auth(password)
        used = [_places(e, auth) for e in garoon_log if _places(e, auth)]
        assert used and all(places == {"x-cybozu-authorization"} for places in used)
    assert all(
        e["path"] == TOKEN_PATH for e in lineworks_log if "authorization" not in {h.lower() for h in e["headers"]}
    )
