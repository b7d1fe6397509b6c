"""The reliability figures (faults injected, kills survived, bad inputs, losses, leaks), summed over a test session
and printed at its end; a pytest plugin (``tests/conftest.py``), so that they add up across pytest-xdist workers.

Tests add to :data:`FIGURES`; each xdist worker hands its counts to the controller through ``workeroutput``.
"""

from __future__ import annotations

import collections
import json
import os
from typing import Any

import pytest

STRESS = os.environ.get("CALENDAR_ETL_STRESS") == "1"  # `make stress`: more trials, seeds and examples
FIGURES: collections.Counter[str] = collections.Counter()
_KEY = "calendar_etl_reliability_figures"


def pytest_sessionfinish(session: Any) -> None:
    if hasattr(session.config, "workeroutput"):  # an xdist worker
        session.config.workeroutput[_KEY] = json.dumps(FIGURES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:  # the xdist controller, as each worker ends
    FIGURES.update(json.loads(getattr(node, "workeroutput", {}).get(_KEY, "{}")))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("reliability figures" + (" (stress)" if STRESS else ""))
        for name, value in sorted(FIGURES.items()):
            terminalreporter.write_line(f"{name:45} {value}")
