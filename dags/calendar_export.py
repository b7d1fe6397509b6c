"""Garoon and/or LINE WORKS → analysis tables (Parquet and CSV, partitioned by date)."""

from __future__ import annotations

from airflow.sdk import DAG, Asset, Param

from calendar_etl.operators import ExportOperator, GaroonExtractOperator, LineWorksExtractOperator
from calendar_etl.params import SCOPE, scope_params, sync_params, window_params
from calendar_etl.pipeline import BASE_PATH, dag_defaults, dag_schedule

with DAG(
    dag_id="calendar_export",
    schedule=dag_schedule("calendar_export"),
    **dag_defaults("calendar_export"),
    tags=["calendar-etl", "export", "garoon", "lineworks"],
    params=sync_params(
        window_params(),
        {
            "sources": Param(
                ["garoon", "lineworks"],
                type="array",
                items={"type": "string", "enum": ["garoon", "lineworks"]},
                title="Sources",
                description="Which systems to export.",
                section=SCOPE,
            ),
            "output_path": Param(
                None,
                type=["null", "string"],
                title="Output folder",
                description="Where the tables go (a path or an object-storage URL). Empty: beside the run's files.",
                section=SCOPE,
            ),
        },
        scope_params(),
    ),
    doc_md="""
### Calendar export

Exports Garoon and/or LINE WORKS events of the window as three analysis tables, each as Parquet and CSV
partitioned by `date=YYYY-MM-DD`: `events` (one row per occurrence: times in UTC and local time, duration,
organizer, attendee count, facilities), `attendees` (one row per person per occurrence: load per person) and
`facilities` (one row per booking: room usage). Repeating events are expanded, so a weekly meeting counts every week.
""",
) as dag:
    garoon = GaroonExtractOperator(
        task_id="extract_garoon", start="{{ params.start }}", end="{{ params.end }}", users="{{ params.users | tojson }}",
        enabled="{{ 'garoon' in params.sources }}", base_path=BASE_PATH, pool="garoon_api",
    )  # fmt: skip
    lineworks = LineWorksExtractOperator(
        task_id="extract_lineworks", start="{{ params.start }}", end="{{ params.end }}", users="{{ params.users | tojson }}",
        enabled="{{ 'lineworks' in params.sources }}", base_path=BASE_PATH, pool="lineworks_api",
    )  # fmt: skip
    export = ExportOperator(
        task_id="export", extract_task_ids=["extract_garoon", "extract_lineworks"], output_path="{{ params.output_path or '' }}",
        outlets=[Asset("calendar-etl://export/tables")],
    )  # fmt: skip
    [garoon, lineworks] >> export
