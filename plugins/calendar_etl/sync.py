"""The sync algorithm: compare what the source says with the ledger, plan actions, apply them batch by batch.

Like vdirsyncer's, the plan is data (one row per write unit) that can be printed, tested and approved before
anything is written; applying it is separate and journals every item in the ledger (intent → write → commit),
so a run killed at any instant can be retried without duplicates or losses.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from calendar_etl.ledger import Ledger

log = logging.getLogger(__name__)

ACTIONS = ("create", "update", "delete", "skip")
PLAN_COLUMNS = [
    "sync_key", "action", "owner", "target_key", "payload", "content_hash", "event_start", "resume", "reasons", "note", "batch",
]  # fmt: skip
PROGRESS_EVERY_S = 10.0
DEFAULT_DELETE_THRESHOLD = 20


def build_plan(
    writes: pd.DataFrame,
    ledger: pd.DataFrame,
    *,
    window: tuple[dt.datetime, dt.datetime] | None,
    propagate_deletes: bool,
    owners: set[str] | None = None,
) -> pd.DataFrame:
    """Return the plan: one row per write unit with its action and why.

    :param writes: ``sync_key``, ``owner``, ``payload`` (None for an event cancelled in the source),
        ``content_hash``, ``event_start``, ``reasons`` for every unit the source holds in the window.
    :param ledger: the pipeline's ledger rows (:meth:`Ledger.frame`).
    :param window: deletes only touch ledger rows whose event starts inside it (None: all of them).
    :param propagate_deletes: without it, events gone from the source are left alone (and reported).
    :param owners: when the run read only some users, deletes only touch events owned by them (lower-case
        e-mails or login codes); an event of a user the run did not read is not "gone".

    Unchanged units (same content hash, committed) are skipped without any call; units with an ``intent`` or a
    ``failed`` state are resumed (the write may have happened: the loader looks before it writes).
    """
    known = ledger.set_index("sync_key") if len(ledger) else None
    rows = []
    for unit in writes.itertuples(index=False):
        entry = known.loc[unit.sync_key] if known is not None and unit.sync_key in known.index else None
        state = entry["state"] if entry is not None else None
        target_key = _text(entry["target_key"]) if entry is not None else None
        base = {"sync_key": unit.sync_key, "owner": unit.owner, "payload": unit.payload, "content_hash": unit.content_hash,
                "event_start": unit.event_start, "reasons": list(unit.reasons), "target_key": target_key,
                "resume": state in ("intent", "failed")}  # fmt: skip
        if unit.payload is None:
            if state == "committed" and propagate_deletes:
                rows.append({**base, "action": "delete", "note": "cancelled in the source"})
            elif state == "committed":
                rows.append({**base, "action": "skip", "note": "cancelled in the source; propagate_deletes is off"})
            else:
                rows.append({**base, "action": "skip", "note": "cancelled in the source; never written"})
        elif state in (None, "deleted"):
            rows.append({**base, "action": "create", "note": "new"})
        elif state == "committed" and entry is not None and entry["content_hash"] == unit.content_hash:
            rows.append({**base, "action": "skip", "note": "unchanged"})
        elif state == "committed":
            rows.append({**base, "action": "update", "note": "changed in the source"})
        else:
            rows.append(
                {
                    **base,
                    "action": "update" if target_key else "create",
                    "note": f"resuming a write left in state {state}",
                }
            )
    present = set(writes["sync_key"])
    if known is not None:
        for sync_key, entry in known.iterrows():
            if sync_key in present or entry["state"] not in ("committed", "intent"):
                continue
            start = entry["event_start"]
            inside = window is None or pd.isna(start) or (window[0] <= start.to_pydatetime() < window[1])
            if not inside:
                continue
            if owners is not None and str(entry["owner"] or "").lower() not in owners:
                continue
            base = {"sync_key": sync_key, "owner": entry["owner"], "payload": None, "content_hash": None,
                    "event_start": start, "reasons": [], "target_key": _text(entry["target_key"]), "resume": entry["state"] == "intent"}  # fmt: skip
            if propagate_deletes:
                rows.append({**base, "action": "delete", "note": "gone from the source"})
            else:
                rows.append({**base, "action": "skip", "note": "gone from the source; propagate_deletes is off"})
    plan = pd.DataFrame(rows, columns=PLAN_COLUMNS)
    plan["event_start"] = pd.to_datetime(plan["event_start"], utc=True)
    return plan


def assign_batches(plan: pd.DataFrame, batch_size: int, max_batches: int) -> tuple[pd.DataFrame, int]:
    """Number the plan's write rows into batches (skips get none); return the plan and the batch count.

    Writes are grouped by owner so a batch mostly touches one calendar, and the batch size grows when the
    requested size would need more than ``max_batches`` mapped tasks.
    """
    plan = plan.copy()
    writes = plan["action"] != "skip"
    count = int(writes.sum())
    size = max(1, batch_size, math.ceil(count / max(1, max_batches)))
    order = plan[writes].sort_values(["action", "owner", "sync_key"], na_position="last").index
    plan["batch"] = pd.NA
    plan.loc[order, "batch"] = [i // size for i in range(len(order))]
    plan["batch"] = plan["batch"].astype("Int64")
    return plan, math.ceil(count / size) if count else 0


def summarize(plan: pd.DataFrame) -> dict[str, Any]:
    """Return counts per action, degraded units and the notes, for the log and the report."""
    counts = {a: int((plan["action"] == a).sum()) for a in ACTIONS}
    degraded = int(plan["reasons"].map(lambda r: len(r) > 0 if r is not None else False).sum())
    notes = plan.groupby(["action", "note"]).size().reset_index(name="count").to_dict("records")
    return {"counts": counts, "degraded": degraded, "notes": notes, "units": len(plan)}


# ---------------------------------------------------------------------- applying


class Writer(Protocol):
    """Writes one planned unit to a target; every method returns the target key it wrote."""

    def create(self, item: dict[str, Any]) -> str: ...

    def update(self, item: dict[str, Any]) -> str: ...

    def delete(self, item: dict[str, Any]) -> str: ...

    def resume(self, item: dict[str, Any]) -> str | None:
        """Return the target key when an earlier, unconfirmed write of ``item`` did happen; None otherwise."""
        ...


@dataclass
class Outcome:
    sync_key: str
    action: str
    status: str  # done | failed | skipped (another run applied the same content since the plan was made)
    owner: str | None
    error: str | None
    seconds: float


def apply_batch(
    items: pd.DataFrame,
    writer: Writer,
    ledger: Ledger,
    *,
    pipeline: str,
    run_id: str,
    concurrency: int = 4,
    window_start: dt.datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Apply every item of a batch, ``concurrency`` at a time; return one outcome per item.

    Each item is journalled: ``intent`` before the call, ``committed`` (or ``deleted``) after it, ``failed`` with
    the error when the hook gave up. An item that fails never stops the others; the caller fails the task
    after the whole batch was attempted. Progress (done / total, rate, ETA) is logged at least every 10 s.
    """
    total = len(items)
    done = 0
    lock = threading.Lock()
    started = time.monotonic()
    last_report = started
    say = progress or log.info
    outcomes: list[Outcome] = []

    def run(item: dict[str, Any]) -> Outcome:
        began = time.monotonic()
        item = {**item, "target_key": _text(item.get("target_key"))}
        key = item["sync_key"]
        action = item["action"]
        common = {"owner": item.get("owner"), "run_id": run_id, "window_start": window_start}
        try:
            ledger.record(pipeline, key, "intent", content_hash=item.get("content_hash"), event_start=_py(item.get("event_start")),
                          target_key=item.get("target_key"), error=None, **common)  # fmt: skip
            target_key = writer.resume(item) if item.get("resume") else None
            if action == "delete":
                target_key = writer.delete(item)
                ledger.record(pipeline, key, "deleted", target_key=target_key, **common)
            else:
                if target_key is not None:
                    item = {**item, "target_key": target_key}
                    target_key = writer.update(item)
                elif action == "create":
                    target_key = writer.create(item)
                else:
                    target_key = writer.update(item)
                ledger.record(
                    pipeline, key, "committed", target_key=target_key, content_hash=item.get("content_hash"), **common
                )
            return Outcome(key, action, "done", item.get("owner"), None, time.monotonic() - began)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"[:2000]
            try:
                ledger.record(pipeline, key, "failed", error=message, **common)
            except Exception:
                log.exception("could not record the failure of %s in the ledger", key)
            return Outcome(key, action, "failed", item.get("owner"), message, time.monotonic() - began)

    def report(force: bool = False) -> None:
        nonlocal last_report
        now = time.monotonic()
        if not force and now - last_report < PROGRESS_EVERY_S:
            return
        last_report = now
        elapsed = max(now - started, 1e-9)
        rate = done / elapsed
        eta = (total - done) / rate if rate else float("inf")
        say(f"progress: {done}/{total} items, {rate:.1f} items/s, ETA {eta:.0f} s")

    records = items.to_dict("records")
    stop = threading.Event()

    def ticker() -> None:
        while not stop.wait(1.0):
            with lock:
                report()

    thread = threading.Thread(target=ticker, daemon=True)
    thread.start()
    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="calendar-etl-load") as pool:
            for outcome in pool.map(run, records):
                with lock:
                    outcomes.append(outcome)
                    done += 1
    finally:
        stop.set()
        thread.join(timeout=2)
    report(force=True)
    return outcomes


def _text(value: Any) -> str | None:
    """Return a key read back from pandas or Parquet, or None for a missing one (pandas 3 turns None into NaN)."""
    return value if isinstance(value, str) and value else None


def _py(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.to_pydatetime() if hasattr(value, "to_pydatetime") else value


def outcomes_frame(outcomes: list[Outcome]) -> pd.DataFrame:
    return pd.DataFrame(
        [o.__dict__ for o in outcomes], columns=["sync_key", "action", "status", "owner", "error", "seconds"]
    )
