"""The trigger-form Params every sync DAG offers, in sections (defined once; DAG files pick what they need)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

WINDOW = "Window"
SCOPE = "Scope"
TARGET = "Target"
BEHAVIOUR = "Behaviour"
DEFAULT_BATCH_SIZE = 50
DEFAULT_DELETE_THRESHOLD = 20


def window_params() -> dict[str, Param]:
    return {
        "start": Param(None, type=["null", "string"], format="date", title="Window start",
                       description="First day to sync (inclusive, in the DAG's time zone). Empty: the run's interval.", section=WINDOW),
        "end": Param(None, type=["null", "string"], format="date", title="Window end",
                     description="Day after the last day to sync (exclusive). Empty: the run's interval.", section=WINDOW),
    }  # fmt: skip


def scope_params(*, calendars: bool = False) -> dict[str, Param]:
    params = {
        "users": Param([], type="array", items={"type": "string"}, title="Users to include",
                       description="Login codes or e-mail addresses, one per line. Empty: everybody.", section=SCOPE),
    }  # fmt: skip
    if calendars:
        params["calendars"] = Param([], type="array", items={"type": "string"}, title="Calendars to include",
                                    description="LINE WORKS calendar ids. Empty: each user's default calendar.", section=SCOPE)  # fmt: skip
    return params


def lineworks_target_params() -> dict[str, Param]:
    return {
        "target_calendar": Param("default", type="string", title="Target calendar",
                                 description="'default' (each organizer's default calendar), an existing calendar id, "
                                             "or 'name:<Name>' for a shared calendar created on first use.", section=TARGET),
        "calendar_user": Param(None, type=["null", "string"], title="Calendar member to write as",
                               description="With a calendar id: the member (e-mail) through whom events are written.", section=TARGET),
        "send_notification": Param(False, type="boolean", title="Notify attendees",
                                   description="Send LINE WORKS notifications for each write. Off: a migration must not mail everybody.",
                                   section=TARGET),
    }  # fmt: skip


def behaviour_params() -> dict[str, Param]:
    return {
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="Plan only: show what would be created, updated and deleted, and write nothing.", section=BEHAVIOUR),
        "propagate_deletes": Param(False, type="boolean", title="Propagate deletes",
                                   description="Delete events this pipeline created whose source event is gone (inside the window).",
                                   section=BEHAVIOUR),
        "delete_threshold": Param(DEFAULT_DELETE_THRESHOLD, type="integer", minimum=0, title="Delete threshold",
                                  description="More deletes than this wait for a human's approval.", section=BEHAVIOUR),
        "batch_size": Param(DEFAULT_BATCH_SIZE, type="integer", minimum=1, maximum=10000, title="Batch size",
                            description="Events per load task (grown automatically to stay within max_map_length).", section=BEHAVIOUR),
    }  # fmt: skip


def sync_params(*parts: dict[str, Param]) -> dict[str, Any]:
    """Return the Params of a DAG: the given groups, in order."""
    out: dict[str, Any] = {}
    for part in parts:
        out.update(part)
    return out
