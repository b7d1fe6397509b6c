"""Helpers shared by the hook tests: the emulators' inspection API and small request-log readers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests

LINEWORKS_CONN_ID = "lineworks_test"
GAROON_CONN_ID = "garoon_test"
TOKEN_PATH = "/oauth2/v2.0/token"
# The hook's own budget would hold LINE WORKS tests to 2 calls/s per operation; the emulator's
# limit (reset with each test) still applies, and tests never come near it.
UNTHROTTLED = 1_000_000


# Fault runs: a fifth to a quarter of the attempts fail, and the emulator's 429 storms hit runs of
# consecutive requests; with the default bound (8 attempts) some create in 2,000 exhausts its retries
# in a few percent of runs, so these runs allow more attempts and keep a (shortened) backoff.
FAULT_RUN_ATTEMPTS = 12


def no_sleep(_seconds: float) -> None:
    """A ``sleep=`` for hooks in tests that are not about timing."""


def short_sleep(seconds: float) -> None:
    """A ``sleep=`` that keeps backoff's spreading of retries over time, 20 times faster."""
    time.sleep(seconds / 20)


@dataclass
class Emulator:
    """The ``/_emulator/`` inspection API of one running emulator."""

    url: str
    default_config: dict[str, Any]
    http: requests.Session = field(default_factory=requests.Session)

    def _post(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.post(f"{self.url}/_emulator/{action}", json=body or {}, timeout=10)
        response.raise_for_status()
        return dict(response.json())

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

    def state(self) -> dict[str, Any]:
        return dict(self.http.get(f"{self.url}/_emulator/state", timeout=30).json())

    def requests(self, **params: Any) -> list[dict[str, Any]]:
        """Logged API requests, oldest first (``path`` is a regex, ``method`` exact)."""
        response = self.http.get(f"{self.url}/_emulator/requests", params=params, timeout=60)
        response.raise_for_status()
        return list(response.json()["requests"])

    def next_seq(self) -> int:
        """The sequence number the next API request will get (faults are drawn per sequence number)."""
        response = self.http.get(f"{self.url}/_emulator/requests", params={"limit": 1}, timeout=30)
        return int(response.json()["lastSeq"]) + 1

    def token_requests(self) -> list[dict[str, Any]]:
        return self.requests(method="POST", path=f"^{TOKEN_PATH}$")


def statuses(entries: list[dict[str, Any]]) -> list[int | None]:
    """The response status of each logged request (None: the connection was reset)."""
    return [e["status"] for e in entries]
