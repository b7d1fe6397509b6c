"""garoon_to_lineworks through ``dag.test`` against the emulators: changes, deletes, the mass-delete guard, ledger loss.

The issue's acceptance items:

1. changed Garoon events become exactly one PUT each; events gone from Garoon are only reported until
   ``propagate_deletes`` is on, and then deleted (exactly those, nothing else touched, no approval under the
   threshold);
2. more deletes than ``delete_threshold`` wait for a human (the ``approve_deletes`` task parks in Airflow 3.3's
   ``awaiting_input`` state, and nothing is deleted before the answer);
3. a lost ledger is rebuilt from LINE WORKS: no event is created twice.

Airflow 3.3's ``dag.test()`` never answers a Human-in-the-loop task itself: while ``approve_deletes`` is
``awaiting_input`` it loops ("Waiting for Human-in-the-loop input"), until a response is recorded from outside.
The guard test therefore runs ``dag.test`` in the main thread and plays the human from a second thread: it
watches the metadata DB, checks the state of the run while it waits, then answers through the same handler the
REST API uses (``PATCH .../hitlDetails``).
"""

from __future__ import annotations

import collections
import datetime as dt
import gc
import threading
import time
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from calendar_etl.ledger import Ledger
from calendar_etl.transforms.lineworks import event_id_for
from tests.dags.conftest import DEMO_WINDOW, DagHarness, lineworks_events
from tests.dags.test_garoon_to_lineworks import garoon_items
from tests.emulators.fixtures import GaroonClient

pytestmark = pytest.mark.slow

DAG_ID = "garoon_to_lineworks"
GONE_NOTE = "gone from the source; propagate_deletes is off"
WINDOW_UTC = (dt.datetime(2026, 10, 16, 15, tzinfo=dt.UTC), dt.datetime(2026, 12, 15, 15, tzinfo=dt.UTC))
MASS_DELETES = 30
HITL_WAIT_S = 240.0  # how long the "human" waits for approve_deletes to ask before giving up (and failing the run)


# ---------------------------------------------------------------------- helpers


def event_ids(harness: DagHarness) -> collections.Counter[str]:
    return collections.Counter(e["eventComponents"][0]["eventId"] for e in lineworks_events(harness))


def plain_singles(harness: DagHarness) -> list[dict[str, Any]]:
    """Non-repeating, timed, facility-free Garoon events of the demo window that the first sync wrote to LINE WORKS.

    Written means an organizer (or attendee) with a LINE WORKS account owns them; events at the window's edges are
    left out so a time shift keeps them inside it.
    """
    written = set(event_ids(harness))
    margin = dt.timedelta(days=2)
    chosen = []
    for event in garoon_items(harness):
        start = dt.datetime.fromisoformat(event["start"]["dateTime"])
        if (
            event.get("repeatId")
            or event.get("eventType") != "REGULAR"
            or event.get("isAllDay")
            or event.get("isStartOnly")
            or not event.get("end")
            or event.get("facilities")
            or event.get("visibilityType", "PUBLIC") != "PUBLIC"
            or not (WINDOW_UTC[0] + margin <= start < WINDOW_UTC[1] - margin)
            or event_id_for(f"garoon:{event['id']}") not in written
        ):
            continue
        chosen.append(event)
    return sorted(chosen, key=lambda e: int(e["id"]) if str(e["id"]).isdigit() else e["id"])


def patch_event(garoon: GaroonClient, event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """PATCH a Garoon event through its REST API, keeping everything but ``changes`` as it is."""
    body: dict[str, Any] = {
        "start": event["start"],
        "end": event["end"],
        "attendees": [{k: a[k] for k in ("type", "id", "code") if a.get(k)} for a in event.get("attendees") or []],
    }
    if event.get("eventMenu"):
        body["eventMenu"] = event["eventMenu"]
    body.update(changes)
    response = garoon.api("PATCH", f"/schedule/events/{event['id']}", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def shifted(time_object: dict[str, Any], hours: int) -> dict[str, Any]:
    moved = dt.datetime.fromisoformat(time_object["dateTime"]) + dt.timedelta(hours=hours)
    return {**time_object, "dateTime": moved.isoformat()}


def delete_in_garoon(garoon: GaroonClient, events: list[dict[str, Any]]) -> None:
    for event in events:
        response = garoon.api("DELETE", f"/schedule/events/{event['id']}")
        assert response.status_code in (200, 204), response.text


def writes_by_method(harness: DagHarness, since: int) -> collections.Counter[str]:
    return collections.Counter(r["method"] for r in harness.writes(since=since))


def plan_of(run: Any) -> pd.DataFrame:
    """The plan file of a run, found through the plan task's XCom."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids="plan")).all()
        assert rows, f"no plan XCom for {run.run_id}"
        planned = XComModel.deserialize_value(rows[0])
    return pd.read_parquet(str(planned["plan"]).removeprefix("file://"))


def task_states(run: Any) -> dict[tuple[str, int], str | None]:
    """The states of a run's task instances, read fresh from the metadata DB."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
        ).all()
        return {
            (ti.task_id, ti.map_index): (str(getattr(ti.state, "value", ti.state)) if ti.state else None) for ti in tis
        }


def run_state(run: Any) -> str | None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        state = session.scalar(select(DagRun.state).where(DagRun.dag_id == run.dag_id, DagRun.run_id == run.run_id))
        return str(getattr(state, "value", state)) if state else None


def garoon_client(harness: DagHarness) -> GaroonClient:
    return GaroonClient(harness.emulators.garoon.url)


def first_sync(harness: DagHarness) -> Any:
    run = harness.run(DAG_ID, DEMO_WINDOW)
    assert run.state == "success"
    totals = harness.report(run)["totals"]
    assert totals["created"] > 0 and totals["failed"] == 0
    return run


# ---------------------------------------------------------------------- 1. changes, then deletes


def test_changes_update_once_and_deletes_wait_for_propagate_deletes(dags: DagHarness) -> None:
    first_sync(dags)
    garoon = garoon_client(dags)
    candidates = plain_singles(dags)
    assert len(candidates) >= 8, "the demo tenant has enough plain events written to LINE WORKS"
    changed, removed = candidates[:5], candidates[5:8]
    patch_event(garoon, changed[0], subject=f"{changed[0].get('subject', '')} (moved to room B)")
    patch_event(garoon, changed[1], notes=f"{changed[1].get('notes', '')}\nBring the Q3 figures.".strip())
    patch_event(garoon, changed[2], start=shifted(changed[2]["start"], 1), end=shifted(changed[2]["end"], 1))
    patch_event(garoon, changed[3], subject="Renamed in Garoon", notes="New agenda")
    patch_event(garoon, changed[4], end=shifted(changed[4]["end"], 1))  # longer
    delete_in_garoon(garoon, removed)
    changed_ids = {event_id_for(f"garoon:{e['id']}") for e in changed}
    removed_ids = {event_id_for(f"garoon:{e['id']}") for e in removed}
    removed_keys = {f"garoon:{e['id']}" for e in removed}
    before_second = {e["eventComponents"][0]["eventId"]: e for e in lineworks_events(dags)}

    # Without propagate_deletes: the 5 changes are one PUT each; the 3 deletions are reported, not applied.
    seq = dags.lineworks.next_seq() - 1
    second = dags.run(DAG_ID, DEMO_WINDOW)
    assert second.state == "success"
    writes = dags.writes(since=seq)
    assert collections.Counter(r["method"] for r in writes) == {"PUT": 5}, [(r["method"], r["path"]) for r in writes]
    assert {r["path"].rsplit("/", 1)[-1] for r in writes} == changed_ids
    report = dags.report(second)
    assert report["totals"]["updated"] == 5
    assert report["totals"]["created"] == report["totals"]["deleted"] == report["totals"]["failed"] == 0
    plan = plan_of(second).set_index("sync_key")
    gone = plan.loc[sorted(removed_keys)]
    assert (gone["action"] == "skip").all() and (gone["note"] == GONE_NOTE).all(), gone[["action", "note"]]
    assert report["totals"]["skipped"] == int((plan["action"] == "skip").sum())
    after_second = {e["eventComponents"][0]["eventId"]: e for e in lineworks_events(dags)}
    assert set(after_second) == set(before_second), "nothing was deleted or created"
    stored = after_second[event_id_for(f"garoon:{changed[3]['id']}")]["eventComponents"][0]
    assert stored["summary"] == "Renamed in Garoon"
    assert "New agenda" in (stored.get("description") or "")
    moved = after_second[event_id_for(f"garoon:{changed[2]['id']}")]["eventComponents"][0]
    was = before_second[event_id_for(f"garoon:{changed[2]['id']}")]["eventComponents"][0]
    assert moved["start"] != was["start"] and moved["end"] != was["end"], (was, moved)

    # With propagate_deletes (3 deletes, under the default threshold of 20): exactly the 3, without approval.
    seq = dags.lineworks.next_seq() - 1
    third = dags.run(DAG_ID, {**DEMO_WINDOW, "propagate_deletes": True})
    assert third.state == "success"
    writes = dags.writes(since=seq)
    assert collections.Counter(r["method"] for r in writes) == {"DELETE": 3}, [(r["method"], r["path"]) for r in writes]
    assert {r["path"].rsplit("/", 1)[-1] for r in writes} == removed_ids
    after_third = {e["eventComponents"][0]["eventId"]: e for e in lineworks_events(dags)}
    assert set(after_third) == set(after_second) - removed_ids
    assert all(after_third[k] == after_second[k] for k in after_third), "an event that should not change changed"
    report = dags.report(third)
    assert report["totals"]["deleted"] == 3
    assert report["totals"]["created"] == report["totals"]["updated"] == report["totals"]["failed"] == 0
    states = task_states(third)
    assert states[("approve_deletes", -1)] == "success", states
    assert [s for (t, _), s in states.items() if t == "delete"] == ["success"], states
    ledger = Ledger(f"sqlite:///{dags.folder / 'ledger.db'}").frame(DAG_ID).set_index("sync_key")
    assert (ledger.loc[sorted(removed_keys), "state"] == "deleted").all()


# ---------------------------------------------------------------------- 2. the mass-delete guard


class Human(threading.Thread):
    """Answers ``approve_deletes`` of ``dag_id`` once it waits for input; records what it saw while it waited."""

    def __init__(self, harness: DagHarness, dag_id: str, answer: str, since: int) -> None:
        super().__init__(daemon=True, name="hitl-human")
        self.harness, self.dag_id, self.answer, self.since = harness, dag_id, answer, since
        self.finished = threading.Event()
        self.seen: dict[str, Any] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the test
            self.error = exc
            self._fail_the_run()

    def _waiting(self) -> Any:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState
        from sqlalchemy import select

        with create_session() as session:
            ti = session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == self.dag_id,
                    TaskInstance.task_id == "approve_deletes",
                    TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
                )
            ).first()
            if ti is None:
                return None
            session.expunge(ti)
            return ti

    def _run(self) -> None:
        deadline = time.monotonic() + HITL_WAIT_S
        ti = None
        while not self.finished.is_set() and time.monotonic() < deadline:
            ti = self._waiting()
            if ti is not None:
                break
            time.sleep(0.5)
        if ti is None:
            if not self.finished.is_set():
                raise TimeoutError(f"approve_deletes never waited for input within {HITL_WAIT_S} s")
            return
        time.sleep(3)  # let dag.test go round its loop a few times: nothing may run the deletes meanwhile
        self.seen["run_id"] = ti.run_id
        run = SimpleNamespace(dag_id=self.dag_id, run_id=ti.run_id)
        self.seen["states"] = task_states(run)
        self.seen["run_state"] = run_state(run)
        self.seen["writes"] = writes_by_method(self.harness, self.since)
        self.seen["events"] = len(lineworks_events(self.harness))
        self.seen["hitl"] = self._detail(ti)
        self._respond(ti)

    def _detail(self, ti: Any) -> dict[str, Any]:
        from airflow.models.hitl import HITLDetail
        from airflow.utils.session import create_session

        with create_session() as session:
            detail = session.get(HITLDetail, ti.id)
            assert detail is not None, "no HITL detail for approve_deletes"
            return {"options": list(detail.options), "body": detail.body, "subject": detail.subject}

    def _respond(self, ti: Any) -> None:
        """Answer as a user of the UI would: the Core API's PATCH handler, called in-process."""
        from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
        from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
        from airflow.utils.session import create_session

        user = SimpleNamespace(get_id=lambda: "tester", get_name=lambda: "tester")
        with create_session() as session:
            update_hitl_detail(
                dag_id=ti.dag_id,
                dag_run_id=ti.run_id,
                task_id=ti.task_id,
                update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=[self.answer], params_input={}),
                user=user,
                session=session,
                map_index=ti.map_index,
            )

    def _fail_the_run(self) -> None:
        """Unblock ``dag.test`` (it loops while the run is running) after a failure of this thread."""
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from airflow.utils.state import DagRunState
        from sqlalchemy import update

        with create_session() as session:
            session.execute(
                update(DagRun)
                .where(DagRun.dag_id == self.dag_id, DagRun.state == DagRunState.RUNNING)
                .values(state=DagRunState.FAILED)
            )


@pytest.mark.parametrize("answer", ["Reject", "Approve"])
def test_mass_delete_waits_for_approval(dags: DagHarness, answer: str) -> None:
    first_sync(dags)
    removed = plain_singles(dags)[:MASS_DELETES]
    assert len(removed) == MASS_DELETES
    delete_in_garoon(garoon_client(dags), removed)
    removed_ids = {event_id_for(f"garoon:{e['id']}") for e in removed}
    before = event_ids(dags)
    seq = dags.lineworks.next_seq() - 1

    human = Human(dags, DAG_ID, answer, seq)
    human.start()
    try:
        run = dags.run(DAG_ID, {**DEMO_WINDOW, "propagate_deletes": True, "delete_threshold": 20})
    finally:
        human.finished.set()
        human.join(timeout=30)
    assert human.error is None, repr(human.error)

    # While it waited: approve_deletes in awaiting_input (not deferred, not success), the deletes not run,
    # not one DELETE request, every event still in LINE WORKS.
    assert human.seen, "approve_deletes never asked for approval"
    states = human.seen["states"]
    assert human.seen["run_state"] == "running"
    assert states[("approve_deletes", -1)] == "awaiting_input", states
    assert all(s not in ("success", "running", "queued") for (t, _), s in states.items() if t == "delete"), states
    assert human.seen["writes"] == collections.Counter(), human.seen["writes"]
    assert human.seen["events"] == sum(before.values())
    assert human.seen["hitl"]["options"] == ["Approve", "Reject"]
    assert f"**{MASS_DELETES}**" in (human.seen["hitl"]["body"] or "")

    # After the answer the run completes.
    assert run.state == "success"
    assert run.run_id == human.seen["run_id"]
    states = task_states(run)
    assert states[("approve_deletes", -1)] == "success", states
    report = dags.report(run)
    writes = writes_by_method(dags, seq)
    if answer == "Reject":
        assert writes == collections.Counter(), writes
        assert event_ids(dags) == before
        assert {s for (t, _), s in states.items() if t == "delete"} == {"skipped"}, states
        assert report["totals"]["deleted"] == 0
        assert report["totals"]["not attempted"] == MASS_DELETES
    else:
        assert writes == {"DELETE": MASS_DELETES}, writes
        assert set(event_ids(dags)) == set(before) - removed_ids
        assert report["totals"]["deleted"] == MASS_DELETES
    assert report["totals"]["created"] == report["totals"]["updated"] == report["totals"]["failed"] == 0


# ---------------------------------------------------------------------- 3. a lost ledger


def test_lost_ledger_is_rebuilt_without_duplicates(dags: DagHarness) -> None:
    first = first_sync(dags)
    created = dags.report(first)["totals"]["created"]
    before = event_ids(dags)
    assert sum(before.values()) == created
    gc.collect()  # close the ledger connections the in-process tasks left behind
    for suffix in ("", "-wal", "-shm", "-journal"):
        (dags.folder / f"ledger.db{suffix}").unlink(missing_ok=True)
    assert not (dags.folder / "ledger.db").exists()

    seq = dags.lineworks.next_seq() - 1
    run = dags.run(DAG_ID, DEMO_WINDOW)
    assert run.state == "success"
    writes = writes_by_method(dags, seq)
    assert writes["POST"] == 0, f"{writes['POST']} creates for events LINE WORKS already holds"
    assert writes["DELETE"] == 0
    assert event_ids(dags) == before, "the LINE WORKS events changed in number"
    report = dags.report(run)
    totals = report["totals"]
    assert totals["created"] == 0, totals
    assert totals["failed"] == totals["deleted"] == 0
    assert totals["skipped"] + totals["updated"] == created, totals
    assert writes["PUT"] == totals["updated"]
    ledger = Ledger(f"sqlite:///{dags.folder / 'ledger.db'}").frame(DAG_ID)
    assert set(ledger["state"]) == {"committed"}
    assert sorted(ledger["target_key"].str.rsplit("|", n=1).str[-1]) == sorted(before)

    # And the rebuilt ledger is complete: a further run writes nothing at all.
    seq = dags.lineworks.next_seq() - 1
    again = dags.run(DAG_ID, DEMO_WINDOW)
    assert again.state == "success"
    assert dags.writes(since=seq) == []
