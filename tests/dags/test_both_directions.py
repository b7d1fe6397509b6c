"""garoon_to_lineworks and lineworks_to_garoon over the same people: neither copies the other's copies back.

Without the guard each run in one direction copied every event the other direction had written, and a pair of
scheduled DAGs doubled the calendars run after run.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from tests.dags.conftest import DagHarness
from tests.dags.test_lineworks_to_garoon import create_as, timed

pytestmark = pytest.mark.slow

WINDOW = {"start": "2026-11-16", "end": "2026-11-21"}
SATO = "sato-ken@demo.example.com"


def test_each_direction_leaves_the_other_directions_copies_alone(dags: DagHarness) -> None:
    native = create_as(
        dags, SATO, timed("Made in LINE WORKS", dt.datetime(2026, 11, 18, 15, tzinfo=ZoneInfo("Asia/Tokyo")), 30)
    )

    first = dags.run("garoon_to_lineworks", WINDOW)
    assert first.state == "success"
    copied_to_lineworks = dags.report(first)["totals"]["created"]
    assert copied_to_lineworks > 0

    since = dags.garoon.next_seq() - 1
    back = dags.run("lineworks_to_garoon", WINDOW)
    assert back.state == "success"
    report = dags.report(back)
    posted = [json.loads(w["body"]) for w in dags.garoon_writes(since) if w["method"] == "POST"]
    markers = [p["additionalItems"]["item"]["value"] for p in posted]
    assert markers == [f"lineworks:{native}"], "only the event made in LINE WORKS goes to Garoon"
    copied_back = {c["source_key"].split(":")[1] for c in report["copies_not_copied_back"]}  # an exception: its series
    # every copy in the window is named (an event copied for its part before the window is not read back)
    assert 0 < len(copied_back) <= copied_to_lineworks and all(e.startswith("cetl-") for e in copied_back)
    assert report["totals"]["copies_not_copied_back"] == len(report["copies_not_copied_back"])

    since = dags.lineworks.next_seq() - 1
    again = dags.run("garoon_to_lineworks", WINDOW)
    assert again.state == "success"
    assert dags.writes(since) == [], "the Garoon copy of the LINE WORKS event is not copied back"
    assert dags.report(again)["totals"]["copies_not_copied_back"] == 1
