"""The load operator: apply one batch of the plan (mapped: one task instance per batch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from calendar_etl import storage, sync
from calendar_etl.ledger import Ledger
from calendar_etl.operators.common import as_bool, record_calls, window_from_json


class BatchFailedError(RuntimeError):
    """Some items of a batch could not be written; each is named with its reason in the log and the results."""


class LoadBatchOperator(BaseOperator):
    """Write one batch of the plan through the target's hook, journalling every item in the ledger.

    An Airflow retry of this task redoes only the items the ledger does not show as done.

    :param batch: the batch number (mapped).
    :param phase: ``write`` (creates and updates) or ``delete``.
    :param target: ``lineworks`` or ``garoon``.
    :param concurrency: requests in flight at once inside the batch (each still takes a rate-budget slot).
    :param send_notification: LINE WORKS: mail the attendees about each write (off by default).
    """

    template_fields: Sequence[str] = ("send_notification", "concurrency", "ledger_conn_id", "calendar_user")
    ui_color = "#e9f7e9"

    def __init__(
        self,
        *,
        batch: int,
        target: str,
        phase: str = "write",
        plan_task_id: str = "plan",
        lineworks_conn_id: str = "lineworks_default",
        garoon_conn_id: str = "garoon_default",
        ledger_conn_id: str | None = None,
        calendar_user: str | None = None,
        concurrency: Any = 4,
        send_notification: Any = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch = batch
        self.target = target
        self.phase = phase
        self.plan_task_id = plan_task_id
        self.lineworks_conn_id = lineworks_conn_id
        self.garoon_conn_id = garoon_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.calendar_user = calendar_user
        self.concurrency = concurrency
        self.send_notification = send_notification

    def execute(self, context: Any) -> dict[str, Any]:
        planned = context["ti"].xcom_pull(task_ids=self.plan_task_id)
        folder = storage.storage_path(planned["folder"])
        pipeline = planned["pipeline"]
        table_filter = [("batch", "=", int(self.batch)), ("phase", "=", self.phase)]
        items = storage.read_frame(storage.storage_path(planned["plan"]), filters=table_filter)
        ledger = Ledger.from_config(self.ledger_conn_id or None)
        items, finished = self._still_to_do(items, ledger, pipeline, context["run_id"])
        writer, hook = self._writer(planned["calendar"])
        self.log.info("batch %s (%s): %d items to apply", self.batch, self.phase, len(items))
        outcomes = sync.apply_batch(
            items,
            writer,
            ledger,
            pipeline=pipeline,
            run_id=context["run_id"],
            concurrency=int(self.concurrency),
            window_start=window_from_json(planned["window"])[0],
            progress=self.log.info,
        )
        results = sync.outcomes_frame(finished + outcomes)
        name = f"{self.phase}-{int(self.batch):05d}-try{context['ti'].try_number}"
        (folder / "results").mkdir(parents=True, exist_ok=True)
        storage.write_frame(results, folder / "results" / f"{name}.parquet")
        written = sum(o.status == "done" for o in outcomes)  # by this attempt
        notifications = written if as_bool(self.send_notification) else 0
        record_calls(folder, f"load-{name}", {f"{self.target}_writes": hook.calls, "notifications": notifications})
        failed = results[results["status"] == "failed"]
        for row in failed.itertuples():
            self.log.error("failed: %s (%s): %s", row.sync_key, row.action, row.error)
        if len(failed):
            raise BatchFailedError(
                f"{len(failed)} of {len(results)} items failed in batch {self.batch}; the rest were applied"
            )
        return {"done": len(results), "failed": 0, "calls": hook.calls}

    def _still_to_do(self, items: Any, ledger: Ledger, pipeline: str, run_id: str) -> tuple[Any, list[sync.Outcome]]:
        """Split off the items already finished, by an earlier attempt of this task (``done``) or by another run
        that wrote the same content since the plan was made (``skipped``: a backfill beside a scheduled run);
        mark the unsure ones for resuming."""
        known = ledger.frame(pipeline).set_index("sync_key")
        keep, resume, finished_outcomes = [], [], []
        for row in items.itertuples(index=False):
            entry = known.loc[row.sync_key] if row.sync_key in known.index else None
            state = entry["state"] if entry is not None else None
            finished = (row.action == "delete" and state == "deleted") or (
                row.action != "delete"
                and state == "committed"
                and entry is not None
                and entry["content_hash"] == row.content_hash
            )
            keep.append(not finished)
            resume.append(bool(row.resume) or state in ("intent", "failed"))
            if finished:
                by_us = entry is not None and entry["run_id"] == run_id
                note = None if by_us else f"already applied by run {entry['run_id'] if entry is not None else '?'}"
                finished_outcomes.append(
                    sync.Outcome(row.sync_key, row.action, "done" if by_us else "skipped", row.owner, note, 0.0)
                )
        items = items.assign(resume=resume)[keep]
        if finished_outcomes:
            self.log.info(
                "%d items were already applied (by an earlier attempt or another run)", len(finished_outcomes)
            )
        return items.reset_index(drop=True), finished_outcomes

    def _writer(self, calendar: str | None) -> tuple[sync.Writer, Any]:
        from calendar_etl import targets

        if self.target == "lineworks":
            from calendar_etl.hooks.lineworks import LineWorksHook

            hook = LineWorksHook(self.lineworks_conn_id)
            return targets.LineWorksWriter(
                hook,
                calendar=calendar,
                calendar_user=self.calendar_user or None,
                send_notification=as_bool(self.send_notification),
            ), hook
        from calendar_etl.hooks.garoon import GaroonHook

        hook_g = GaroonHook(self.garoon_conn_id)
        return targets.GaroonWriter(hook_g), hook_g


__all__ = ["BatchFailedError", "LoadBatchOperator"]
