"""Garoon schedules → LINE WORKS calendars."""

from __future__ import annotations

from airflow.sdk import DAG

from calendar_etl.operators import GaroonExtractOperator
from calendar_etl.params import behaviour_params, lineworks_target_params, scope_params, sync_params, window_params
from calendar_etl.pipeline import BASE_PATH, dag_defaults, dag_schedule, wire_sync

with DAG(
    dag_id="garoon_to_lineworks",
    schedule=dag_schedule("garoon_to_lineworks"),
    **dag_defaults("garoon_to_lineworks"),
    tags=["calendar-etl", "garoon", "lineworks"],
    params=sync_params(window_params(), scope_params(), lineworks_target_params(), behaviour_params()),
    doc_md="""
### Garoon → LINE WORKS

Copies Garoon schedule events into LINE WORKS calendars, one run per window (a day by default; set `start` and
`end` to sync any range, or backfill with `airflow backfill create`).

* Each event goes to its organizer's calendar (or the first attendee with a LINE WORKS account), once: the other
  attendees are invited (mapped by e-mail); people without an account are listed in the description.
* A Garoon repeating event becomes **one** LINE WORKS series (with exceptions for edited occurrences) when its rule
  reproduces the occurrences; otherwise its occurrences are copied one by one (the report says why).
* Unchanged events cost no write; `dry_run` shows the plan only; deletes happen only with `propagate_deletes`,
  only for events this pipeline created, and more than `delete_threshold` of them wait for approval.
* Notifications are off unless `send_notification` is on.

Files (canonical Parquet, plan, results, `report.json`) are under the `calendar_etl_base_path` variable.
""",
) as dag:
    extract = GaroonExtractOperator(
        task_id="extract",
        start="{{ params.start }}",
        end="{{ params.end }}",
        users="{{ params.users | tojson }}",
        base_path=BASE_PATH,
        pool="garoon_api",
    )
    wire_sync(extract, target="lineworks")
