"""Fixtures for the hook tests: Airflow connections (env vars) pointing at the running emulators.

Each test gets freshly reset emulators with their default configuration, a per-test SQLite rate
budget, and an empty LINE WORKS token cache. Hooks are built by factories so that a test can make
several instances of one connection, or a connection with a wrong secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from calendar_etl.hooks.garoon import GaroonHook
from calendar_etl.hooks.lineworks import LineWorksHook
from include.emulators import Emulators
from include.emulators.garoon import GaroonConfig
from include.emulators.lineworks import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_SERVICE_ACCOUNT, LineWorksConfig
from include.emulators.tenant import ADMIN_LOGIN, DEMO_PASSWORD
from tests.emulators.fixtures import DEMO_PRIVATE_KEY
from tests.hooks.helpers import GAROON_CONN_ID, LINEWORKS_CONN_ID, TOKEN_PATH, UNTHROTTLED, Emulator, no_sleep


@pytest.fixture()
def lw_emulator(emulators: Emulators) -> Emulator:
    emulator = Emulator(emulators.lineworks.url, asdict(LineWorksConfig()))
    emulator.reset()
    return emulator


@pytest.fixture()
def garoon_emulator(emulators: Emulators) -> Emulator:
    emulator = Emulator(emulators.garoon.url, asdict(GaroonConfig()))
    emulator.reset()
    return emulator


@pytest.fixture(autouse=True)
def _empty_token_cache() -> Iterator[None]:
    LineWorksHook._tokens.clear()
    yield
    LineWorksHook._tokens.clear()


def _set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn: dict[str, Any]) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture()
def lineworks_extras(lw_emulator: Emulator, tmp_path: Path) -> dict[str, Any]:
    """The extras of the good LINE WORKS connection (the values no request header may carry)."""
    return {
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "service_account": DEMO_SERVICE_ACCOUNT,
        "private_key": DEMO_PRIVATE_KEY,
        "token_url": f"{lw_emulator.base}{TOKEN_PATH}",
        "rate_budget_url": f"sqlite:///{tmp_path / 'budget.db'}",
        "rate_limit_per_minute": UNTHROTTLED,
    }


@pytest.fixture()
def lineworks_connection(
    monkeypatch: pytest.MonkeyPatch, lw_emulator: Emulator, lineworks_extras: dict[str, Any]
) -> Callable[..., str]:
    """Set ``AIRFLOW_CONN_<ID>`` for a LINE WORKS connection (extras overridable); return its id."""

    def make(conn_id: str = LINEWORKS_CONN_ID, **extra_changes: Any) -> str:
        extra = {**lineworks_extras, **extra_changes}
        _set_connection(
            monkeypatch, conn_id, {"conn_type": "lineworks", "host": f"{lw_emulator.base}/v1.0", "extra": extra}
        )
        return conn_id

    make()
    return make


@pytest.fixture()
def garoon_connection(monkeypatch: pytest.MonkeyPatch, garoon_emulator: Emulator, tmp_path: Path) -> Callable[..., str]:
    """Set ``AIRFLOW_CONN_<ID>`` for a Garoon connection (login/password overridable); return its id."""

    def make(
        conn_id: str = GAROON_CONN_ID, *, login: str = ADMIN_LOGIN, password: str = DEMO_PASSWORD, **extra: Any
    ) -> str:
        conn = {
            "conn_type": "garoon",
            "host": garoon_emulator.base,
            "login": login,
            "password": password,
            "extra": {"rate_budget_url": f"sqlite:///{tmp_path / 'budget.db'}", **extra},
        }
        _set_connection(monkeypatch, conn_id, conn)
        return conn_id

    make()
    return make


@pytest.fixture()
def lineworks_hook(lineworks_connection: Callable[..., str]) -> Callable[..., LineWorksHook]:
    """Factory: a LineWorksHook on the test connection, with no backoff sleeps unless ``sleep=`` is given."""

    def make(conn_id: str = LINEWORKS_CONN_ID, **kwargs: Any) -> LineWorksHook:
        kwargs.setdefault("sleep", no_sleep)
        return LineWorksHook(conn_id, **kwargs)

    return make


@pytest.fixture()
def garoon_hook(garoon_connection: Callable[..., str]) -> Callable[..., GaroonHook]:
    """Factory: a GaroonHook on the test connection, with no backoff sleeps unless ``sleep=`` is given."""

    def make(conn_id: str = GAROON_CONN_ID, **kwargs: Any) -> GaroonHook:
        kwargs.setdefault("sleep", no_sleep)
        return GaroonHook(conn_id, **kwargs)

    return make


@pytest.fixture()
def lw_user(emulators: Emulators) -> str:
    """The userId of a LINE WORKS demo user."""
    return str(emulators.tenant.lineworks_users[0]["userId"])
