"""Scale-out: CeleryExecutor with the local Redis as broker and PostgreSQL as metadata DB and result backend, two
worker processes; one run's mapped load tasks are spread over both workers."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest

from include.airflow_stack import AirflowStack, running_stack
from tests.dags.conftest import DagHarness
from tests.e2e.conftest import TODAY, StackFactory, assert_each_garoon_event_once, run_reports, tokyo_range
from tests.test_ratelimit import unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAG_ID = "garoon_to_lineworks"
REDIS = "redis://127.0.0.1:6379/0"
WORKERS = ("worker-1", "worker-2")


def _redis_or_skip() -> object:
    import redis

    client = redis.Redis.from_url(REDIS)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS} is unreachable: {exc}")
    return client


@pytest.fixture(scope="module")
def stack(new_stack: StackFactory, postgres_url: str) -> Iterator[AirflowStack]:
    client = _redis_or_skip()
    prefix = f"calendar_etl_e2e_{uuid.uuid4().hex[:8]}:"  # our keys only, deleted afterwards
    queue = prefix.rstrip(":")
    url = postgres_url
    config = {
        "AIRFLOW__CELERY__BROKER_URL": REDIS,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{url}",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": prefix,
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
    }
    workers = {
        name: ["celery", "worker", "--concurrency", "2", "--skip-serve-logs", "--queues", queue,
               "--celery-hostname", f"{name}@%h"]
        for name in WORKERS
    }  # fmt: skip
    env = {
        name: {
            "CALENDAR_ETL_WORKER_NAME": name,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "include.airflow_stack.worker_name",
        }
        for name in WORKERS
    }
    try:
        stack = new_stack(database_url=url, executor="CeleryExecutor", parallelism=8, config=config)
        with running_stack(stack, "scheduler", "dag-processor", "api-server", env=env, **workers) as running:
            yield running
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))  # type: ignore[attr-defined]
        if keys:
            client.delete(*keys)  # type: ignore[attr-defined]


def test_one_run_spreads_its_load_tasks_over_both_celery_workers(
    stack: AirflowStack, e2e_emulators: DagHarness
) -> None:
    stack.wait_for_dag(DAG_ID)
    stack.set_paused(DAG_ID, False)
    first = TODAY - dt.timedelta(days=20)
    start, end = first.isoformat(), (first + dt.timedelta(days=4)).isoformat()
    run = stack.trigger_from_form(DAG_ID, {"start": start, "end": end, "batch_size": 2})
    finished = stack.wait_for_run(DAG_ID, run["dag_run_id"], timeout=600)
    assert finished["state"] == "success", stack.failures(DAG_ID, run["dag_run_id"]) + stack.tail_logs()
    loads = [ti for ti in stack.task_instances(DAG_ID, run["dag_run_id"]) if ti["task_id"] == "load"]
    assert len(loads) >= 4 and all(ti["state"] == "success" for ti in loads)
    by_worker = {name: sum(1 for ti in loads if ti["hostname"] == name) for name in WORKERS}
    assert all(by_worker.values()), f"load tasks per worker: {by_worker} (hostnames {[ti['hostname'] for ti in loads]})"
    assert sum(by_worker.values()) == len(loads)
    reports = run_reports(stack, DAG_ID, [run["dag_run_id"]])
    assert reports[0]["totals"]["failed"] == 0 and reports[0]["totals"]["created"] > 0
    assert assert_each_garoon_event_once(e2e_emulators, tokyo_range(first, 4), reports) > 5
