"""A PostgreSQL metadata DB (a database of its own on the local server) with LocalExecutor at parallelism 4:
scheduled runs whose windows tile time, and the 3-day backfill with load tasks running side by side."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from include.airflow_stack import AirflowStack, running_stack
from tests.dags.conftest import DagHarness
from tests.e2e.conftest import TODAY, StackFactory, windows_tile
from tests.e2e.test_local_sqlite import DAG_ID, backfill_three_days

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EVERY = 15  # seconds: the scheduled DAG's window
SCHEDULED = "calendar_export"


@pytest.fixture(scope="module")
def stack(new_stack: StackFactory, postgres_url: str) -> Iterator[AirflowStack]:
    first_window = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=60)
    config = {  # calendar_export in windows of EVERY seconds from a minute from now, catchup on: none skipped
        "AIRFLOW__CALENDAR_ETL__CALENDAR_EXPORT_SCHEDULE": f"PT{EVERY}S",
        "AIRFLOW__CALENDAR_ETL__CALENDAR_EXPORT_CATCHUP": "True",
        "AIRFLOW__CALENDAR_ETL__CALENDAR_EXPORT_START_DATE": first_window.isoformat(),
    }
    with running_stack(new_stack(database_url=postgres_url, parallelism=4, config=config)) as running:
        yield running


def test_scheduled_runs_cover_consecutive_windows_without_gaps_or_overlaps(stack: AirflowStack) -> None:
    stack.wait_for_dag(SCHEDULED)
    stack.set_paused(SCHEDULED, False)

    def scheduled(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in runs if r["run_type"] == "scheduled" and r["state"] in ("success", "failed")]

    runs = stack.wait_for_runs(SCHEDULED, lambda rs: len(scheduled(rs)) >= 3, timeout=400, what="3 scheduled runs")
    stack.set_paused(SCHEDULED, True)
    done = sorted(scheduled(runs), key=lambda r: r["data_interval_start"])
    assert [r["state"] for r in done] == ["success"] * len(done), stack.tail_logs("scheduler")
    spans = windows_tile(done)
    for (start, end), run in zip(spans, done, strict=False):
        length = dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)
        assert length == dt.timedelta(seconds=EVERY), spans
        used = stack.api(
            "GET",
            f"/dags/{SCHEDULED}/dagRuns/{run['dag_run_id']}/taskInstances/extract_garoon/xcomEntries/return_value",
        )
        window = used["value"]["window"]
        assert [dt.datetime.fromisoformat(w) for w in window] == [
            dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)
        ], f"{run['dag_run_id']} extracted {window}, its interval is {start}..{end}"  # fmt: skip


def test_backfill_on_postgres_runs_load_tasks_in_parallel(stack: AirflowStack, e2e_emulators: DagHarness) -> None:
    stack.wait_for_dag(DAG_ID)
    stack.set_paused(DAG_ID, False)
    runs = backfill_three_days(stack, e2e_emulators, first=TODAY - dt.timedelta(days=5), conf={"batch_size": 3})
    overlapping = 0
    for run in runs:
        loads = [
            ti
            for ti in stack.task_instances(DAG_ID, str(run["dag_run_id"]))
            if ti["task_id"] == "load" and ti["start_date"]
        ]
        spans = sorted(
            (dt.datetime.fromisoformat(t["start_date"]), dt.datetime.fromisoformat(t["end_date"])) for t in loads
        )
        overlapping += sum(1 for (_, end), (start, _) in itertools.pairwise(spans) if start < end)
    assert overlapping > 0, "no two load tasks ever ran at the same time with parallelism 4"
