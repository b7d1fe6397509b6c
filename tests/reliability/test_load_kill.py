"""The load task killed with SIGKILL mid-batch, then retried: no duplicate and no missing event.

Each trial runs the real ``LoadBatchOperator.execute`` in a worker process for one batch of a real plan, against
an emulator and the test's ledger file; the emulator is slowed down so the worker can be killed after a chosen
number of write requests (requests still in flight at that instant reach the emulator, and their answers are
lost, as in a real crash). A second worker then runs the same batch as try 2, as an Airflow retry would, and the
target and the ledger must agree: every planned event exactly once, where the plan put it, with the planned
content, committed in the ledger under the key where it is.

Both targets are killed: LINE WORKS (deterministic client eventIds: a lost create answers 409 on the retry) and
Garoon (creates are not idempotent: the retry looks the event up by its marker before writing again). The plans
come from ``dry_run`` runs of the DAGs (extract + plan through ``dag.test``), taken from the plan task's XCom;
the dry runs write nothing and every test starts from the same demo tenant, so each plan is computed once per
session and copied into each trial's folder.

Workers are forked from a fork server that imported Airflow and the operators once (``load_worker``), so a
trial costs about a second. ``CALENDAR_ETL_STRESS=1`` (``make stress``) runs 100 trials instead of 20.
"""

from __future__ import annotations

import collections
import json
import math
import os
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from calendar_etl.ledger import Ledger
from calendar_etl.operators.report import ReportOperator, SyncFailedError
from calendar_etl.transforms.lineworks import event_id_for
from tests.dags.conftest import FAST, DagHarness, lineworks_events
from tests.dags.test_lineworks_to_garoon import WINDOW as LW_WINDOW
from tests.dags.test_lineworks_to_garoon import garoon_created, marker, seed_scenario
from tests.reliability.helpers import FIGURES, STRESS, worker_context

pytestmark = pytest.mark.slow

TRIALS = 100 if STRESS else 20  # seeded trials in all; each kills after a different number of writes
BATCH = 0  # the batch every trial loads
BATCH_SIZE = 50
CONCURRENCY = 4  # LoadBatchOperator's default: writes in flight at once
LATENCY_MS = 40  # per event write request, so that a kill lands mid-batch
JITTER_MS = 30  # seeded: the interleaving of the 4 concurrent writes differs between trials
WORKER_TIMEOUT_S = 120
SETTLE_S = 0.3  # after the kill: let the requests already sent reach the emulator (latency + jitter < this)


LINEWORKS_TRIALS = math.ceil(TRIALS * 0.7)  # the rest kill Garoon loads
LW_KILL_WINDOW = {"start": "2026-11-02", "end": "2026-11-23"}  # three weeks of the demo tenant: over 50 creates


@dataclass(frozen=True)
class Target:
    """One target of the kill trials: its DAG, the window of its dry run, how its creates look, its trial count."""

    name: str
    dag_id: str
    window: dict[str, str]
    write_path: str  # regex of its create requests
    trials: int


LINEWORKS = Target("lineworks", "garoon_to_lineworks", LW_KILL_WINDOW, r"/calendar/events$", LINEWORKS_TRIALS)
GAROON = Target("garoon", "lineworks_to_garoon", LW_WINDOW, r"/schedule/events$", TRIALS - LINEWORKS_TRIALS)
TARGETS = {t.name: t for t in (LINEWORKS, GAROON)}
_DRY_RUN: dict[str, dict[str, Any]] = {}  # per target: the dry run's plan XCom and plan file, computed once


# ---------------------------------------------------------------------- the trial's pieces


def kill_point(target: Target, seed: int, items: int) -> int:
    """The number of writes after which trial ``seed`` kills the load: one stratum per trial, so they differ."""
    span = items - CONCURRENCY - 2  # the last ones leave room for the writes still in flight
    width = max(1, span // target.trials)
    return 1 + (seed * span) // target.trials + random.Random(seed).randrange(width)


def dry_run_plan(harness: DagHarness, target: Target, folder_name: str) -> dict[str, Any]:
    """The plan XCom of a dry run, with its plan file copied into this test's folder."""
    if target.name not in _DRY_RUN:
        if target is GAROON:
            seed_scenario(harness)  # LINE WORKS events to read; the Garoon writes need only the plan
        run = harness.run(target.dag_id, {**target.window, "dry_run": True, "batch_size": BATCH_SIZE})
        assert run.state == "success"
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids="plan")).all()
            planned = dict(XComModel.deserialize_value(rows[0]))
        assert planned["dry_run"] and planned["counts"]["create"] > 20, planned
        _DRY_RUN[target.name] = {"planned": planned, "plan": Path(planned["plan"].removeprefix("file://")).read_bytes()}
        harness.lineworks.reset()  # the trials start from an empty LINE WORKS (the dry run wrote nothing to Garoon)
        harness.lineworks.configure(rate_limit_per_minute=FAST)
    folder = harness.folder / "data" / target.dag_id / folder_name
    folder.mkdir(parents=True)
    (folder / "plan.parquet").write_bytes(_DRY_RUN[target.name]["plan"])
    return {**_DRY_RUN[target.name]["planned"], "plan": str(folder / "plan.parquet"), "folder": str(folder),
            "dry_run": False}  # fmt: skip


def start_worker(target: Target, planned: dict[str, Any], try_number: int, run_id: str, folder: Path) -> Any:
    from tests.reliability.load_worker import attempt

    args = {"planned": planned, "batch": BATCH, "try_number": try_number, "run_id": run_id, "target": target.name,
            "env": {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW")},
            "log": str(folder / f"try{try_number}.log"), "result": str(folder / f"try{try_number}.json")}  # fmt: skip
    process = worker_context().Process(target=attempt, args=(args,), name=f"load-try{try_number}")
    process.start()
    return process


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


def control(harness: DagHarness, target: Target) -> Any:
    return harness.lineworks if target is LINEWORKS else harness.garoon


def creates(harness: DagHarness, target: Target, since: int) -> list[dict[str, Any]]:
    return control(harness, target).requests(since=since, method="POST", path=target.write_path)


def kill_after(harness: DagHarness, target: Target, process: Any, writes: int, log: Path) -> int:
    """SIGKILL the worker once ``writes`` creates reached the target; return how many had."""
    since = control(harness, target).next_seq() - 1
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    seen = 0
    while process.is_alive() and time.monotonic() < deadline:
        seen = len(creates(harness, target, since))
        if seen >= writes:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    process.join(timeout=30)
    assert process.exitcode == -signal.SIGKILL, f"the worker was not killed (saw {seen} writes):\n{tail(log)}"
    time.sleep(SETTLE_S)
    return seen


def batch_items(planned: dict[str, Any]) -> pd.DataFrame:
    plan = pd.read_parquet(planned["plan"])
    items = plan[(plan["phase"] == "write") & (plan["batch"] == BATCH)].set_index("sync_key")
    assert len(items) > CONCURRENCY + 10 and set(items["action"]) == {"create"}
    return items


def ledger_rows(harness: DagHarness, pipeline: str) -> pd.DataFrame:
    ledger = Ledger(f"sqlite:///{harness.folder / 'ledger.db'}")
    try:
        return ledger.frame(pipeline).set_index("sync_key")
    finally:
        ledger.dispose()


# ---------------------------------------------------------------------- what the target must hold


def assert_lineworks_holds(harness: DagHarness, items: pd.DataFrame) -> None:
    """Every planned event exactly once, in its owner's default calendar, with the planned content; nothing else."""
    events = lineworks_events(harness)
    counts = collections.Counter(e["eventComponents"][0]["eventId"] for e in events)
    assert not {k: n for k, n in counts.items() if n > 1}, "duplicated"
    wanted = {event_id_for(k): k for k in items.index}
    assert not set(wanted) - set(counts), f"missing: {[wanted[m] for m in set(wanted) - set(counts)]}"
    assert set(counts) == set(wanted), "events outside the batch were written"
    calendars = {u["email"]: u["defaultCalendarId"] for u in harness.lineworks.state()["users"]}
    by_id = {e["eventComponents"][0]["eventId"]: e for e in events}
    for event_id, sync_key in wanted.items():
        stored, item = by_id[event_id], items.loc[sync_key]
        assert stored["calendarId"] == calendars[item["owner"]], sync_key
        master = json.loads(item["payload"])["eventComponents"][0]
        component = stored["eventComponents"][0]
        assert (component["summary"], component["start"], component["end"]) == (
            master["summary"], master["start"], master["end"]), sync_key  # fmt: skip


def assert_garoon_holds(harness: DagHarness, items: pd.DataFrame) -> dict[str, str]:
    """Every planned occurrence exactly once, carrying its marker, with the planned subject and times; return the
    Garoon event id of each."""
    created = garoon_created(harness)
    counts = collections.Counter(marker(e) for e in created)
    assert not {k: n for k, n in counts.items() if n > 1}, "duplicated"
    assert set(counts) == set(items.index), (
        sorted(set(items.index) - set(counts)),
        sorted(set(counts) - set(items.index)),
    )
    for event in created:
        body = json.loads(items.loc[marker(event), "payload"])
        assert event["subject"] == body["subject"], marker(event)
        for edge in ("start", "end"):
            if edge in body:
                assert pd.Timestamp(event[edge]["dateTime"]) == pd.Timestamp(body[edge]["dateTime"]), marker(event)
    return {str(marker(e)): str(e["id"]) for e in created}


# ---------------------------------------------------------------------- the trials


TRIAL_IDS = [(name, seed) for name, target in TARGETS.items() for seed in range(target.trials)]


@pytest.mark.parametrize(("target_name", "seed"), TRIAL_IDS, ids=[f"{n}-{s}" for n, s in TRIAL_IDS])
def test_load_killed_mid_batch_then_retried_leaves_each_event_once(
    dags: DagHarness, target_name: str, seed: int
) -> None:
    target = TARGETS[target_name]
    planned = dry_run_plan(dags, target, f"kill-trial-{seed}")
    items = batch_items(planned)
    folder = Path(planned["folder"])
    assert lineworks_events(dags) == [] and garoon_created(dags) == []
    run_id = f"kill_trial_{seed}"
    writes = kill_point(target, seed, len(items))
    emulator = control(dags, target)

    # Try 1: killed with SIGKILL once `writes` creates reached the target.
    emulator.faults(seed=seed, latency_ms=LATENCY_MS, latency_jitter_ms=JITTER_MS, paths=target.write_path)
    since = emulator.next_seq() - 1
    kill_after(dags, target, start_worker(target, planned, 1, run_id, folder), writes, folder / "try1.log")
    landed = creates(dags, target, since)  # those in flight at the kill landed too; their answers were lost
    assert writes <= len(landed) <= len(items)
    after_kill = ledger_rows(dags, planned["pipeline"])
    done_before_retry = set(after_kill.index[after_kill["state"] == "committed"])
    assert len(done_before_retry) < len(items), f"the kill after {writes} writes was not mid-batch"
    assert not (folder / "results").exists(), "try 1 finished before the kill"

    # Try 2: the same batch again, as Airflow's retry would run it.
    emulator.faults()
    since = emulator.next_seq() - 1
    retry = start_worker(target, planned, 2, run_id, folder)
    retry.join(timeout=WORKER_TIMEOUT_S)
    assert retry.exitcode == 0, f"try 2 failed:\n{tail(folder / 'try2.log')}"
    result = json.loads((folder / "try2.json").read_text())
    assert result["failed"] == 0
    retried = emulator.requests(since=since)
    assert all(r["method"] != "DELETE" for r in retried)
    posted = [json.loads(r["body"]) for r in creates(dags, target, since)]

    if target is LINEWORKS:
        done_ids = {event_id_for(k) for k in done_before_retry}
        rewritten = {r["path"].rsplit("/", 1)[-1] for r in retried if r["method"] == "PUT"}
        reposted = {body["eventComponents"][0]["eventId"] for body in posted}
        assert not (rewritten | reposted) & done_ids, "the retry wrote again events try 1 had committed"
        assert_lineworks_holds(dags, items)
        keys = {k: f"{items.loc[k, 'owner']}|default|{event_id_for(k)}" for k in items.index}
    else:
        held = assert_garoon_holds(dags, items)
        reposted = {body["additionalItems"]["item"]["value"] for body in posted}
        assert not reposted & done_before_retry, "the retry created again events try 1 had committed"
        keys = held

    # The ledger: every unit committed with the planned content, under the key of the event that exists.
    ledger = ledger_rows(dags, planned["pipeline"])
    assert set(ledger.index) == set(items.index)
    for sync_key, item in items.iterrows():
        row = ledger.loc[sync_key]
        assert row["state"] == "committed", (sync_key, row["state"], row["error"])
        assert row["content_hash"] == item["content_hash"], sync_key
        assert row["target_key"] == keys[sync_key], sync_key

    # Try 2's results name every item of the batch as done (try 1 left none: it was killed before writing them).
    results = sorted((folder / "results").glob("*.parquet"))
    assert [p.name for p in results] == [f"write-{BATCH:05d}-try2.parquet"]
    done = pd.read_parquet(results[0])
    assert set(done["status"]) <= {"done"}
    assert set(done["sync_key"]) | done_before_retry == set(items.index)
    FIGURES[f"kills survived ({target.name} load)"] += 1
    FIGURES["events lost"] += 0
    FIGURES["duplicates"] += 0


class PlanTaskInstance:
    """What the report reads of its task instance: the plan's and the approval's XComs."""

    def __init__(self, planned: dict[str, Any]) -> None:
        self.planned = planned

    def xcom_pull(self, task_ids: str | None = None, **_: Any) -> Any:
        return self.planned if task_ids == "plan" else {"chosen_options": ["Approve"], "auto": True}


def test_load_killed_on_every_try_fails_the_report_naming_the_items(dags: DagHarness) -> None:
    """Retries exhausted (a worker that dies each time): the run's report fails and names what was not written;
    the next attempt, whenever it comes, completes the batch without a duplicate."""
    target = LINEWORKS
    planned = dry_run_plan(dags, target, "killed-every-try")
    items = batch_items(planned)
    folder = Path(planned["folder"])
    for try_number, writes in enumerate((3, 9, 15), start=1):  # the DAGs allow 2 retries: 3 tries
        dags.lineworks.faults(seed=try_number, latency_ms=LATENCY_MS, latency_jitter_ms=JITTER_MS,
                              paths=target.write_path)  # fmt: skip
        worker = start_worker(target, planned, try_number, "killed_every_try", folder)
        kill_after(dags, target, worker, writes, folder / f"try{try_number}.log")
    dags.lineworks.faults()
    ledger = ledger_rows(dags, planned["pipeline"])
    committed = set(ledger.index[ledger["state"] == "committed"])
    unfinished = set(items.index) - committed
    assert committed and unfinished

    report = ReportOperator(task_id="report")  # trigger rule all_done: it runs after the failed load
    with pytest.raises(SyncFailedError) as failure:
        report.execute({"ti": PlanTaskInstance(planned), "run_id": "killed_every_try"})
    written = json.loads((folder / "report.json").read_text())
    named = {i["sync_key"] for i in written["failed"]} | {key for key, _ in written["not_attempted"]}
    assert set(items.index) <= named, "the report does not name every unit the dead load left"
    assert "not attempted" in str(failure.value)

    retry = start_worker(target, planned, 4, "killed_every_try", folder)
    retry.join(timeout=WORKER_TIMEOUT_S)
    assert retry.exitcode == 0, tail(folder / "try4.log")
    assert_lineworks_holds(dags, items)
    FIGURES["kills survived (lineworks load)"] += 3


def test_kill_points_differ() -> None:
    for target in TARGETS.values():
        items = 50 if target is LINEWORKS else 30
        points = [kill_point(target, seed, items) for seed in range(target.trials)]
        assert all(1 <= p < items - CONCURRENCY for p in points), points
        if not STRESS:
            assert len(set(points)) == target.trials, points
    assert sum(t.trials for t in TARGETS.values()) == TRIALS >= 20
