"""iCalendar (.ics) files → LINE WORKS calendars."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from calendar_etl.operators import IcsExtractOperator
from calendar_etl.params import SCOPE, behaviour_params, lineworks_target_params, sync_params, window_params
from calendar_etl.pipeline import BASE_PATH, dag_defaults, dag_schedule, wire_sync

with DAG(
    dag_id="ics_to_lineworks",
    schedule=dag_schedule("ics_to_lineworks"),
    **dag_defaults("ics_to_lineworks"),
    tags=["calendar-etl", "ics", "lineworks"],
    params=sync_params(
        {
            "source": Param(
                "include/sample_data/ics/01_multiple_vevents.ics",
                type="string",
                minLength=1,
                title="iCalendar file",
                description="A local path, an object-storage URL (s3://...) or an http(s) URL of an .ics file; "
                "several separated by commas.",
                section=SCOPE,
            ),
            "whole_file": Param(
                True,
                type="boolean",
                title="Whole file",
                description="Load every event of the file (on) or only those with an occurrence in the window (off).",
                section=SCOPE,
            ),
        },
        window_params(),
        lineworks_target_params(),
        behaviour_params(),
    ),
    doc_md="""
### iCalendar → LINE WORKS

Pours .ics files (exports from Outlook, Google, Apple, Garoon...) into LINE WORKS calendars: every VEVENT of the
file, not only the first. Series stay series (one write each, with their overrides); floating times, Windows
zone names and repeated UIDs are handled and reported. Events go to their organizer's calendar, or to
`target_calendar` (use `name:<Name>` to create a shared calendar on first use, as when importing a team calendar).
""",
) as dag:
    extract = IcsExtractOperator(
        task_id="extract",
        source="{{ params.source }}",
        whole_file="{{ params.whole_file }}",
        start="{{ params.start }}",
        end="{{ params.end }}",
        base_path=BASE_PATH,
    )
    wire_sync(extract, target="lineworks", whole_scope="{{ params.whole_file }}")
