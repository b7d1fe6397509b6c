"""Behaviour both hooks share, run against each emulator: retries, headers, ``airflow connections test``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calendar_etl.hooks.base import ApiHook
from calendar_etl.hooks.errors import RateLimitedError, TransientError
from tests.hooks.helpers import TOKEN_PATH, Emulator, statuses

AIRFLOW = Path(sys.executable).with_name("airflow")


@dataclass
class Api:
    """One API under test: its emulator, a hook factory, a cheap read and that read's path."""

    name: str
    emulator: Emulator
    hook: Callable[..., ApiHook]
    read: Callable[[Any], object]
    read_path: str
    connection: Callable[..., str]
    bad_credentials: dict[str, str]
    refusal: str  # what a failed connection test prints: the API's error code


@pytest.fixture(params=["lineworks", "garoon"])
def api(request: pytest.FixtureRequest) -> Api:
    if request.param == "lineworks":
        user = request.getfixturevalue("lw_user")
        return Api(
            "lineworks",
            request.getfixturevalue("lw_emulator"),
            request.getfixturevalue("lineworks_hook"),
            lambda hook: hook.default_calendar(user),
            r"^/v1\.0/users/[^/]+/calendar$",
            request.getfixturevalue("lineworks_connection"),
            {"client_secret": "not-the-client-secret"},
            "invalid_client",
        )
    return Api(
        "garoon",
        request.getfixturevalue("garoon_emulator"),
        request.getfixturevalue("garoon_hook"),
        lambda hook: list(hook.iter_facilities()),
        r"^/g/api/v1/schedule/facilities$",
        request.getfixturevalue("garoon_connection"),
        {"password": "not-the-password"},
        "GRN_REST_API_00001",
    )


# -- 7. retries -----------------------------------------------------------------------------------


def test_429_storms_are_retried_until_the_calls_succeed(api: Api) -> None:
    hook = api.hook()
    api.emulator.faults(storm_every=4, storm_length=2)  # two of every four requests get 429

    for _ in range(6):
        api.read(hook)

    seen = statuses(api.emulator.requests(path=api.read_path))
    assert seen.count(200) == 6
    assert seen.count(429) >= 2 and set(seen) == {200, 429}
    assert len(api.emulator.requests()) == hook.calls  # every request the hook sent, token requests included


@pytest.mark.parametrize(
    ("faults", "status"),
    [({"error_rate": 1.0, "error_statuses": [502]}, 502), ({"reset_rate": 1.0}, None), ({"throttle_rate": 1.0}, 429)],
    ids=["5xx", "reset", "429"],
)
def test_failed_attempts_are_retried_until_the_call_succeeds(
    api: Api, faults: dict[str, Any], status: int | None
) -> None:
    backoffs: list[float] = []

    def sleep(seconds: float) -> None:  # the API recovers during the second backoff
        backoffs.append(seconds)
        if len(backoffs) == 2:
            api.emulator.faults()

    hook = api.hook(sleep=sleep)
    api.emulator.faults(**faults, paths=api.read_path)

    api.read(hook)

    assert statuses(api.emulator.requests(path=api.read_path)) == [status, status, 200]
    assert len(backoffs) == 2 and all(delay >= 0 for delay in backoffs)


@pytest.mark.parametrize(
    ("faults", "status"),
    [({"error_rate": 1.0, "error_statuses": [503]}, 503), ({"reset_rate": 1.0}, None)],
    ids=["5xx", "reset"],
)
def test_retries_give_up_after_max_attempts(api: Api, faults: dict[str, Any], status: int | None) -> None:
    hook = api.hook(max_attempts=3)
    api.emulator.faults(**faults, paths=api.read_path)

    with pytest.raises(TransientError) as raised:
        api.read(hook)

    assert raised.value.status == status
    assert not isinstance(raised.value, RateLimitedError)
    assert len(api.emulator.requests(path=api.read_path)) == 3


# -- 9. no connection extra is sent as a header ---------------------------------------------------


def _secret_values(extras: dict[str, Any]) -> set[str]:
    """String extras long enough to be recognisable, and each line of a PEM key body."""
    values = {str(v) for v in extras.values() if isinstance(v, str) and len(v) >= 8}
    pem_lines = {line for v in values for line in v.splitlines() if len(line) >= 16 and not line.startswith("-----")}
    return {v for v in values if "\n" not in v} | pem_lines


def test_no_connection_extra_is_ever_sent_as_an_http_header(
    lineworks_hook: Callable[..., Any],
    garoon_hook: Callable[..., Any],
    lineworks_extras: dict[str, Any],
    lw_emulator: Emulator,
    garoon_emulator: Emulator,
    lw_user: str,
    garoon_connection: Callable[..., str],
    tmp_path: Path,
) -> None:
    garoon_extras = {"rate_budget_url": f"sqlite:///{tmp_path / 'garoon-budget.db'}", "max_concurrent": 3}
    garoon_connection(**garoon_extras)
    lw, grn = lineworks_hook(), garoon_hook()
    list(lw.iter_users())
    lw.default_calendar(lw_user)
    list(grn.iter_users())
    list(grn.iter_facilities())
    lw_emulator.expire_tokens()
    lw.default_calendar(lw_user)  # a 401, a second token request, the retry

    extras = {**lineworks_extras, **garoon_extras}
    secrets = _secret_values(extras)
    logged = lw_emulator.requests() + garoon_emulator.requests()
    assert len(secrets) >= 8 and len(logged) >= 8
    for entry in logged:
        names = {name.lower() for name in entry["headers"]}
        assert not names & {key.lower() for key in extras}, entry["headers"]
        leaked = [s for s in secrets for value in entry["headers"].values() if s in value]
        assert not leaked, f"{entry['method']} {entry['path']} sent {leaked} in a header"
    secret = lineworks_extras["client_secret"]
    carrying = [e for e in logged if secret in f"{e['rawQuery']}{e['path']}{e['body']}{e['headers']}"]
    assert carrying and all(e["path"] == TOKEN_PATH and secret in e["body"] for e in carrying)
    assert len(carrying) == len(lw_emulator.token_requests()) == 2


# -- 10. airflow connections test ------------------------------------------------------------------


def _airflow(args: list[str], home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}
    return subprocess.Popen([str(AIRFLOW), *args], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_airflow_connections_test_succeeds_and_reports_the_apis_refusal(api: Api, tmp_path: Path) -> None:
    good = api.connection()
    bad = api.connection(f"{api.name}_bad", **api.bad_credentials)

    runs = {conn_id: _airflow(["connections", "test", conn_id], tmp_path / conn_id) for conn_id in (good, bad)}
    results = {conn_id: (run.wait(timeout=120), run.communicate()[0]) for conn_id, run in runs.items()}

    code, output = results[good]
    assert code == 0 and "Connection success!" in output, output
    code, output = results[bad]
    assert code == 1 and "Connection failed!" in output, output
    assert api.refusal in output, output
