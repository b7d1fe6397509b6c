"""Helpers shared by the hook tests: the emulators' inspection API and small request-log readers."""

from __future__ import annotations

import time
from typing import Any

from tests.emulators.fixtures import EmulatorControl

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


class Emulator(EmulatorControl):
    """The inspection API, plus what the hook tests read most: the token requests."""

    def token_requests(self) -> list[dict[str, Any]]:
        return self.requests(method="POST", path=f"^{TOKEN_PATH}$")


def statuses(entries: list[dict[str, Any]]) -> list[int | None]:
    """The response status of each logged request (None: the connection was reset)."""
    return [e["status"] for e in entries]
