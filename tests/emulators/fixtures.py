"""Fixtures that serve the emulators over real HTTP on loopback, and small clients for them."""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import jwt
import pytest
import requests

from include.emulators import Emulators, start_emulators
from include.emulators.garoon import GaroonConfig
from include.emulators.lineworks import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_KEYS,
    DEMO_SERVICE_ACCOUNT,
    LineWorksConfig,
)
from include.emulators.tenant import ADMIN_LOGIN, DEMO_PASSWORD

ANCHOR = dt.date(2026, 11, 16)  # fixed anchor: tests never depend on today's date
DEMO_PRIVATE_KEY = (DEMO_KEYS / "lineworks_demo_private.pem").read_text()


@pytest.fixture(scope="session")
def emulators() -> Iterator[Emulators]:
    running = start_emulators(anchor=ANCHOR)
    yield running
    running.stop()


@pytest.fixture()
def lineworks(emulators: Emulators) -> Iterator[LineWorksClient]:
    """A LINE WORKS client with a fresh service-account token, on a freshly reset emulator."""
    EmulatorControl(emulators.lineworks.url, asdict(LineWorksConfig())).reset()
    yield LineWorksClient(emulators.lineworks.url)


@pytest.fixture()
def garoon(emulators: Emulators) -> Iterator[GaroonClient]:
    """A Garoon client logged in as the administrator, on a freshly reset emulator."""
    client = GaroonClient(emulators.garoon.url)
    client.reset()
    yield client


def make_assertion(
    *,
    iss: str = DEMO_CLIENT_ID,
    sub: str = DEMO_SERVICE_ACCOUNT,
    lifetime: int = 3600,
    key: str = DEMO_PRIVATE_KEY,
    **overrides: Any,
) -> str:
    """Return a signed service-account JWT as LINE WORKS expects it (fact sheet 1.2)."""
    now = int(time.time())
    claims = {"iss": iss, "sub": sub, "iat": now, "exp": now + lifetime, **overrides}
    return jwt.encode(claims, key, algorithm="RS256")


class EmulatorControl:
    """The ``/_emulator/`` inspection API of one running emulator (shared by every client in the tests)."""

    def __init__(self, base: str, default_config: dict[str, Any]) -> None:
        self.base = base
        self.default_config = default_config
        self.http = requests.Session()

    def _post(self, action: str, body: Any = None) -> requests.Response:
        response = self.http.post(f"{self.base}/_emulator/{action}", json=body if body is not None else {}, timeout=60)
        response.raise_for_status()
        return response

    def reset(self, **options: Any) -> None:
        """Back to the demo tenant with the default configuration, no faults and an empty request log."""
        self._post("reset", options)
        self._post("config", self.default_config)

    def configure(self, **changes: Any) -> None:
        self._post("config", changes)

    def faults(self, **settings: Any) -> None:
        self._post("faults", settings)

    def expire_tokens(self) -> None:
        self._post("expire-tokens")

    def seed(self, events: list[dict[str, Any]]) -> requests.Response:
        """POST /_emulator/seed; the response is returned unchecked (tests look at refusals too)."""
        return self.http.post(f"{self.base}/_emulator/seed", json={"events": events}, timeout=60)

    def state(self) -> dict[str, Any]:
        return dict(self.http.get(f"{self.base}/_emulator/state", timeout=60).json())

    def requests(self, **params: Any) -> list[dict[str, Any]]:
        """Logged API requests, oldest first (``path`` is a regex, ``method`` exact)."""
        response = self.http.get(f"{self.base}/_emulator/requests", params=params, timeout=60)
        response.raise_for_status()
        return list(response.json()["requests"])

    def next_seq(self) -> int:
        """The sequence number the next API request will get (faults are drawn per sequence number)."""
        response = self.http.get(f"{self.base}/_emulator/requests", params={"limit": 1}, timeout=60)
        return int(response.json()["lastSeq"]) + 1


class LineWorksClient(EmulatorControl):
    """Just enough of a client to exercise the emulator: token, then JSON calls under /v1.0."""

    def __init__(self, base: str, scope: str = "calendar user.read") -> None:
        super().__init__(base, asdict(LineWorksConfig()))
        self.token = self.fetch_token(scope=scope)["access_token"]

    def fetch_token(self, **form: Any) -> dict[str, Any]:
        response = self.token_request(**form)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def token_request(self, **form: Any) -> requests.Response:
        data = {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "assertion": make_assertion(),
            "scope": "calendar user.read",
            **form,
        }
        data = {k: v for k, v in data.items() if v is not None}
        return self.http.post(f"{self.base}/oauth2/v2.0/token", data=data, timeout=10)

    def call(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}", **kwargs.pop("headers", {})}
        return self.http.request(method, f"{self.base}/v1.0{path}", headers=headers, timeout=30, **kwargs)

    def user(self, email: str) -> dict[str, Any]:
        response = self.call("GET", f"/users/{email}")
        assert response.status_code == 200, response.text
        return dict(response.json())


class GaroonClient(EmulatorControl):
    """Just enough of a client to exercise the emulator: X-Cybozu-Authorization on every call."""

    def __init__(self, base: str, login: str = ADMIN_LOGIN, password: str = DEMO_PASSWORD) -> None:
        super().__init__(base, asdict(GaroonConfig()))
        self.auth = base64.b64encode(f"{login}:{password}".encode()).decode()

    def call(self, method: str, path: str, *, auth: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"X-Cybozu-Authorization": auth if auth is not None else self.auth, **kwargs.pop("headers", {})}
        if auth == "":
            headers.pop("X-Cybozu-Authorization")
        return self.http.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.call(method, f"/g/api/v1{path}", **kwargs)

    def all_events(self, **params: Any) -> list[dict[str, Any]]:
        """Page through GET /schedule/events the robust way (advance by what came back)."""
        limit = int(params.pop("limit", 1000))
        offset, seen, out = 0, set(), []
        while True:
            response = self.api("GET", "/schedule/events", params={**params, "limit": limit, "offset": offset})
            assert response.status_code == 200, response.text
            body = response.json()
            for event in body["events"]:
                key = (event["id"], event.get("repeatId"))
                if key not in seen:
                    seen.add(key)
                    out.append(event)
            if not body["hasNext"]:
                return out
            offset += len(body["events"]) or limit
