"""End-to-end fixtures: Airflow's real components (scheduler, dag-processor, api-server, triggerer, workers) as
processes on a private ``AIRFLOW_HOME``, against the session's emulators (reset, unthrottled)."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any

import pytest

from include.airflow_stack import AirflowStack
from include.emulators import Emulators, start_emulators
from include.emulators.garoon import GaroonConfig
from include.emulators.lineworks import LineWorksConfig
from include.scratch_db import ScratchDatabaseUnavailable, scratch_postgres
from tests.dags.conftest import FAST, DagHarness, garoon_items, lineworks_events
from tests.emulators.fixtures import EmulatorControl
from tests.test_ratelimit import unavailable

TOKYO = dt.timezone(dt.timedelta(hours=9))


TODAY = dt.date.today()  # backfill refuses future dates, so these tests follow the clock, unlike the others
ANCHOR = TODAY - dt.timedelta(days=10)  # the emulated tenant's events lie within ANCHOR ± 30 days


@pytest.fixture(scope="session")
def clock_emulators() -> Iterator[Emulators]:
    """Both emulators on free ports, their tenant anchored ten days ago."""
    running = start_emulators(anchor=ANCHOR)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def e2e_emulators(clock_emulators: Emulators, tmp_path_factory: pytest.TempPathFactory) -> DagHarness:
    """The emulators, reset once for the module, LINE WORKS unthrottled."""
    lineworks = EmulatorControl(clock_emulators.lineworks.url, asdict(LineWorksConfig()))
    garoon = EmulatorControl(clock_emulators.garoon.url, asdict(GaroonConfig()))
    lineworks.reset()
    garoon.reset()
    lineworks.configure(rate_limit_per_minute=FAST)
    return DagHarness(clock_emulators, tmp_path_factory.mktemp("e2e"), lineworks, garoon)


StackFactory = Callable[..., AirflowStack]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of the module's own on the local server, dropped afterwards."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_postgres("calendar_etl_e2e"))
        except ScratchDatabaseUnavailable as exc:
            unavailable(str(exc))
        yield url


@pytest.fixture(scope="module")
def new_stack(e2e_emulators: DagHarness, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackFactory]:
    """Make migrated stacks with the settings imported (connections moved to the emulators); stop them at the end."""
    made: list[AirflowStack] = []

    def make(**kwargs: Any) -> AirflowStack:
        stack = AirflowStack(tmp_path_factory.mktemp("airflow-home"), **kwargs)
        made.append(stack)
        stack.migrate().import_settings(e2e_emulators.emulators.lineworks.url, e2e_emulators.emulators.garoon.url)
        return stack

    yield make
    for stack in made:
        stack.stop()


def tokyo_range(first: dt.date, days: int) -> dict[str, str]:
    """The Garoon list range of ``days`` Asia/Tokyo days from ``first``."""
    start = dt.datetime.combine(first, dt.time(), TOKYO).astimezone(dt.UTC)
    end = start + dt.timedelta(days=days)
    return {"rangeStart": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "rangeEnd": end.strftime("%Y-%m-%dT%H:%M:%SZ")}


def assert_each_garoon_event_once(harness: DagHarness, listed: dict[str, str], reports: list[dict[str, Any]]) -> int:
    """Every Garoon event listed in ``listed`` is in LINE WORKS exactly once (a series as one event) or reported
    as not convertible; no LINE WORKS event exists twice. Return how many Garoon events were checked."""
    from calendar_etl.transforms.lineworks import event_id_for

    ids = collections.Counter(e["eventComponents"][0]["eventId"] for e in lineworks_events(harness))
    twice = [event_id for event_id, n in ids.items() if n > 1]
    assert not twice, f"written more than once: {twice}"
    reported = {item["source_key"] for report in reports for item in report.get("not_convertible", [])}
    keys = {f"garoon:{item['id']}" for item in garoon_items(harness, listed)}
    missing = sorted(key for key in keys if event_id_for(key) not in ids and key not in reported)
    assert not missing, (
        f"{len(missing)} of {len(keys)} Garoon events neither in LINE WORKS nor reported: {missing[:10]}"
    )
    return len(keys)


def run_reports(stack: AirflowStack, dag_id: str, run_ids: list[str]) -> list[dict[str, Any]]:
    """The report.json of each run (the data folder is the default, under the stack's AIRFLOW_HOME)."""
    folder = stack.home / "calendar_etl_data" / dag_id
    reports = []
    for run_id in run_ids:
        path = folder / re.sub(r"[^A-Za-z0-9_.-]", "_", run_id) / "report.json"  # as storage.run_path names it
        assert path.exists(), f"no report for {run_id} in {folder}: {sorted(p.name for p in folder.glob('*'))}"
        reports.append(json.loads(path.read_text()))
    return reports


def windows_tile(runs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Assert the runs' data intervals follow each other without gap or overlap; return them in order."""
    spans = sorted((r["data_interval_start"], r["data_interval_end"]) for r in runs)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert _instant(end) == _instant(start), f"windows do not tile: {spans}"
    return spans


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
