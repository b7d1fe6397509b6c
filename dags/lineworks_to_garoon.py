"""LINE WORKS calendars → Garoon schedules."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from calendar_etl.operators import LineWorksExtractOperator
from calendar_etl.params import TARGET, behaviour_params, scope_params, sync_params, window_params
from calendar_etl.pipeline import BASE_PATH, dag_defaults, dag_schedule, wire_sync

with DAG(
    dag_id="lineworks_to_garoon",
    schedule=dag_schedule("lineworks_to_garoon"),
    **dag_defaults("lineworks_to_garoon"),
    tags=["calendar-etl", "garoon", "lineworks"],
    params=sync_params(
        window_params(),
        scope_params(calendars=True),
        {
            "fallback_attendee": Param(
                None,
                type=["null", "string"],
                title="Fallback Garoon attendee",
                description="Garoon login code that attends events none of whose people exist in Garoon "
                "(Garoon requires an attendee).",
                section=TARGET,
            )
        },
        behaviour_params(),
    ),
    doc_md="""
### LINE WORKS → Garoon

Copies LINE WORKS events into Garoon schedules, one run per window.

* Garoon's REST API cannot create repeating events, so each LINE WORKS series is expanded into its occurrences
  **inside the window** (edited occurrences applied, cancelled ones left out); the report records the expansion.
* Attendees are mapped by e-mail to Garoon users; people without a Garoon account are listed in the notes.
* Each created event carries its source key in `additionalItems`, so a retried run finds it instead of creating a
  twin; deletes only ever touch events carrying this pipeline's marker.
""",
) as dag:
    extract = LineWorksExtractOperator(
        task_id="extract",
        start="{{ params.start }}",
        end="{{ params.end }}",
        users="{{ params.users | tojson }}",
        calendars="{{ params.calendars | tojson }}",
        base_path=BASE_PATH,
        pool="lineworks_api",
    )
    wire_sync(extract, target="garoon", fallback_attendee="{{ params.fallback_attendee or '' }}")
