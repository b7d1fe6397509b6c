"""The mass-delete guard: a source that suddenly returns nothing must not empty the target.

A first run copies a few days of Garoon into LINE WORKS; then Garoon answers with no events at all (as after a
permission change, or with the wrong user's credentials) and the next run, with ``propagate_deletes`` on, plans to
delete everything it wrote. There are fewer such deletes than ``delete_threshold``, so only the empty-side rule can
stop them: the run must wait for a human (``approve_deletes`` in ``awaiting_input``) without one DELETE request; a
rejection then leaves every event in place and the run ends without deleting. The human is played by the thread of
``tests/dags/test_changes_and_deletes.py`` (it answers through the REST API's handler).
"""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from tests.dags.conftest import DagHarness, lineworks_events
from tests.dags.test_changes_and_deletes import Human, plan_of, task_states, writes_by_method
from tests.reliability.helpers import FIGURES

pytestmark = pytest.mark.slow

DAG_ID = "garoon_to_lineworks"
WINDOW = {"start": "2026-11-16", "end": "2026-11-18"}  # two Tokyo days: fewer events than the threshold
THRESHOLD = 20


def test_a_source_that_returns_nothing_waits_for_approval_whatever_the_count(dags: DagHarness) -> None:
    first = dags.run(DAG_ID, WINDOW)
    assert first.state == "success"
    written = collections.Counter(e["eventComponents"][0]["eventId"] for e in lineworks_events(dags))
    assert 0 < sum(written.values()) <= THRESHOLD, "the window must hold fewer events than the threshold"

    dags.garoon.reset(empty=True)  # the users are still there; their schedules come back empty
    seq = dags.lineworks.next_seq() - 1
    human = Human(dags, DAG_ID, "Reject", seq)
    human.start()
    try:
        run = dags.run(DAG_ID, {**WINDOW, "propagate_deletes": True, "delete_threshold": THRESHOLD},
                       retry_delay=dt.timedelta(0))  # fmt: skip
    finally:
        human.finished.set()
        human.join(timeout=30)
    assert human.error is None, repr(human.error)
    assert human.seen, "the deletes of an empty source went ahead without asking"
    assert human.seen["states"][("approve_deletes", -1)] == "awaiting_input"
    assert human.seen["writes"] == collections.Counter(), "something was deleted while the run waited"
    assert "no events at all" in (human.seen["hitl"]["body"] or "")

    assert run.state == "success"
    assert writes_by_method(dags, seq) == collections.Counter()
    assert collections.Counter(e["eventComponents"][0]["eventId"] for e in lineworks_events(dags)) == written
    states = task_states(run)
    assert {s for (t, _), s in states.items() if t == "delete"} == {"skipped"}, states
    planned = int((plan_of(run)["action"] == "delete").sum())  # those starting in the window (not older series)
    assert 0 < planned <= THRESHOLD and f"**{planned}**" in human.seen["hitl"]["body"]
    report = dags.report(run)
    assert report["totals"]["deleted"] == 0 and report["totals"]["not attempted"] == planned
    FIGURES["deletes stopped by the empty-source guard"] += planned
