"""Wire the tasks after an extract: plan → load[batch] (mapped) and approve → delete[batch] (mapped) → report.

Every sync DAG has this shape; the DAG files call :func:`wire_sync` after their extract task so the shape is
defined once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, DeltaDataIntervalTimetable

from calendar_etl.operators import DeleteApprovalOperator, LoadBatchOperator, PlanOperator, ReportOperator, batches_of

LEDGER = "{{ var.value.get('calendar_etl_ledger_conn_id', '') }}"
BASE_PATH = "{{ var.value.get('calendar_etl_base_path', '') }}"
POOLS = {"lineworks": "lineworks_api", "garoon": "garoon_api"}
DAG_ZONE = "Asia/Tokyo"


def dag_schedule(dag_id: str) -> Any:
    """Return ``dag_id``'s schedule: one run per window, each run covering its window.

    Default: one window per day of Asia/Tokyo. The Airflow configuration changes it, section ``[calendar_etl]``
    (or ``AIRFLOW__CALENDAR_ETL__*`` variables), option ``schedule`` for every DAG or ``<dag_id>_schedule`` for
    one: a cron expression (``0 * * * *``: hourly windows) or an ISO 8601 duration (``PT15M``: windows of 15
    minutes from ``start_date``). Always an interval timetable: "@daily" would give a zero-length data interval
    (airflow3.md section 6).
    """
    spec = _setting(dag_id, "schedule", "0 0 * * *").strip()
    if spec.upper().startswith("P"):
        every = pendulum.parse(spec)
        if not isinstance(every, pendulum.Duration) or every.total_seconds() <= 0:
            raise ValueError(f"[calendar_etl] schedule {spec!r}: not a positive ISO 8601 duration such as PT1H")
        return DeltaDataIntervalTimetable(dt.timedelta(seconds=every.total_seconds()))
    return CronDataIntervalTimetable(spec, timezone=DAG_ZONE)


def dag_defaults(dag_id: str) -> dict[str, Any]:
    """Return the other DAG arguments every calendar-etl DAG shares: start date, catchup, one active run at a
    time, retries.

    ``start_date`` (ISO 8601; default 2026-01-01 in Asia/Tokyo) and ``catchup`` (default off; backfill with
    ``airflow backfill create``) are configurable like the schedule (see :func:`dag_schedule`). With catchup on,
    every window since ``start_date`` runs, so no window is ever skipped even after the scheduler was down; with
    it off, Airflow runs only the latest window.
    """
    start = pendulum.parse(_setting(dag_id, "start_date", "2026-01-01T00:00:00+09:00"))
    if not isinstance(start, pendulum.DateTime):
        raise ValueError(f"[calendar_etl] start_date {start!r}: not a date-time")
    return {
        "start_date": start,
        "catchup": _setting(dag_id, "catchup", "False").strip().lower() in ("1", "true", "yes", "on"),
        "max_active_runs": 1,
        "default_args": {"retries": 2, "retry_delay": dt.timedelta(seconds=30)},
    }


def _setting(dag_id: str, name: str, default: str) -> str:
    from airflow.sdk.configuration import conf

    value = conf.get("calendar_etl", f"{dag_id}_{name}", fallback=None) or conf.get("calendar_etl", name, fallback=None)
    return str(value or default)


def wire_sync(extract: Any, *, target: str, whole_scope: str | bool = False, **plan_kwargs: Any) -> Any:
    """Add the plan, load, approval, delete and report tasks downstream of ``extract``; return the report task."""
    lineworks = target == "lineworks"
    plan = PlanOperator(
        task_id="plan",
        target=target,
        target_calendar="{{ params.target_calendar }}" if lineworks else None,
        calendar_user="{{ params.calendar_user or '' }}" if lineworks else None,
        propagate_deletes="{{ params.propagate_deletes }}",
        batch_size="{{ params.batch_size }}",
        dry_run="{{ params.dry_run }}",
        whole_scope=whole_scope,
        ledger_conn_id=LEDGER,
        **plan_kwargs,
    )
    common: dict[str, Any] = {
        "target": target,
        "ledger_conn_id": LEDGER,
        "pool": POOLS[target],
        "map_index_template": "batch {{ task.batch }}",
    }
    if lineworks:
        common.update(
            send_notification="{{ params.send_notification }}", calendar_user="{{ params.calendar_user or '' }}"
        )
    load = LoadBatchOperator.partial(task_id="load", phase="write", **common).expand_kwargs(
        batches_of.override(task_id="write_batches")(plan.output, "write")
    )
    approve = DeleteApprovalOperator(task_id="approve_deletes", threshold="{{ params.delete_threshold }}")
    delete = LoadBatchOperator.partial(task_id="delete", phase="delete", **common).expand_kwargs(
        batches_of.override(task_id="delete_batches")(plan.output, "delete")
    )
    report = ReportOperator(task_id="report", outlets=[Asset(f"calendar-etl://{target}/events")])
    extract >> plan
    plan >> approve >> delete
    [load, delete] >> report
    return report
