"""The report operator: what a run did, per user and in total, as JSON beside its files and as a table in the log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from airflow.sdk import BaseOperator

from calendar_etl import storage


class SyncFailedError(RuntimeError):
    """Some units were not written; the report names them."""


class ReportOperator(BaseOperator):
    """Sum up the run: created / updated / deleted / skipped / degraded / failed per owner, API calls, notifications.

    Runs whatever happened upstream (``all_done``) and fails the run, after reporting, when any unit failed or was
    never attempted (a load task that died on every try leaves no results; only deletes a human rejected may stay
    undone). The report is the run's leaf, so without this a dead load would leave a green run.
    """

    template_fields: Sequence[str] = ()
    ui_color = "#f0e8ff"

    def __init__(
        self,
        *,
        plan_task_id: str = "plan",
        extract_task_id: str = "extract",
        approve_task_id: str = "approve_deletes",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.plan_task_id = plan_task_id
        self.extract_task_id = extract_task_id
        self.approve_task_id = approve_task_id

    def execute(self, context: Any) -> dict[str, Any]:
        planned = context["ti"].xcom_pull(task_ids=self.plan_task_id)
        if not planned:
            raise SyncFailedError("the plan task produced nothing: see its log")
        report = build_report(storage.storage_path(planned["folder"]), planned)
        path = storage.write_json(report, storage.storage_path(planned["folder"]) / "report.json")
        self.log.info("report written to %s\n%s", path, render(report))
        # A rejection skips the delete tasks (and Airflow 3.3 keeps no return value of the approval then).
        approval = context["ti"].xcom_pull(task_ids=self.approve_task_id) or {}
        skipped = context["ti"].xcom_pull(task_ids=self.approve_task_id, key="skipmixin_key") or {}
        rejected = "Reject" in (approval.get("chosen_options") or []) or bool(skipped.get("skipped"))
        undone = [k for k, phase in report["not_attempted"] if not (rejected and phase == "delete")]
        if report["totals"]["failed"] or undone:
            raise SyncFailedError(
                f"{report['totals']['failed']} units failed: {report['failed'][:10]}; "
                f"{len(undone)} not attempted (their load task never finished): {undone[:10]}"
            )
        return {"report": str(path), **report["totals"]}


def build_report(folder: Any, planned: dict[str, Any]) -> dict[str, Any]:
    """Return the run's report from its plan, results, error files and call counts."""
    plan = storage.read_frame(storage.storage_path(planned["plan"]))
    results_dir = folder / "results"
    # One file per batch and attempt; sorted so a later attempt's outcome wins for the same unit.
    frames = (
        [
            storage.read_frame(p)
            for p in sorted(
                results_dir.iterdir(),
                key=lambda p: (p.name.split("-try")[0], int(p.name.split("-try")[1].split(".")[0])),
            )
        ]
        if results_dir.exists()
        else []
    )
    results = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["sync_key", "action", "status", "owner", "error"])
    )
    status = (
        results.drop_duplicates("sync_key", keep="last").set_index("sync_key")["status"]
        if len(results)
        else pd.Series(dtype=object)
    )
    plan["status"] = plan["sync_key"].map(status)
    plan["outcome"] = plan["action"].where(plan["status"] == "done", "pending")
    plan.loc[(plan["action"] == "skip") | (plan["status"] == "skipped"), "outcome"] = "skipped"
    plan.loc[plan["status"] == "failed", "outcome"] = "failed"
    if planned.get("dry_run"):
        plan.loc[plan["action"] != "skip", "outcome"] = "planned " + plan["action"]
    plan["degraded"] = plan["reasons"].map(lambda r: r is not None and len(r) > 0)
    plan["owner"] = plan["owner"].fillna("(no owner)")
    outcome_names = {
        "create": "created",
        "update": "updated",
        "delete": "deleted",
        "skipped": "skipped",
        "failed": "failed",
        "pending": "not attempted",
    }
    plan["outcome"] = plan["outcome"].map(lambda o: outcome_names.get(o, o))
    per_user = plan.pivot_table(index="owner", columns="outcome", values="sync_key", aggfunc="count", fill_value=0)
    per_user["degraded"] = plan.groupby("owner")["degraded"].sum()
    calls: dict[str, int] = {}
    calls_dir = folder / "calls"
    if calls_dir.exists():
        for item in calls_dir.iterdir():
            for key, value in storage.read_json(item).items():
                calls[key] = calls.get(key, 0) + int(value)
    extract_errors = [e for sub in folder.iterdir() if sub.is_dir() for e in _errors(sub / "extract_errors.json")]
    plan_errors = _errors(folder / "plan_errors.json")
    counts = plan["outcome"].value_counts().to_dict()
    failed = plan.loc[plan["outcome"] == "failed", "sync_key"].tolist()
    pending = plan[plan["outcome"] == "not attempted"]
    errors_by_key = results.set_index("sync_key")["error"].to_dict() if len(results) else {}
    totals = {
        name: int(counts.get(name, 0))
        for name in ("created", "updated", "deleted", "skipped", "failed", "not attempted")
    }
    totals["degraded"] = int(plan["degraded"].sum())
    totals["not_convertible"] = len(extract_errors) + len(plan_errors)
    copies = _errors(folder / "copies_from_target.json")
    totals["copies_not_copied_back"] = len(copies)
    totals["api_calls"] = sum(v for k, v in calls.items() if k != "notifications")
    totals["notifications"] = calls.get("notifications", 0)
    if planned.get("dry_run"):
        totals.update({f"planned_{a}": int((plan["action"] == a).sum()) for a in ("create", "update", "delete")})
    return {
        "pipeline": planned["pipeline"],
        "window": planned["window"],
        "dry_run": bool(planned.get("dry_run")),
        "totals": totals,
        "calls": calls,
        "per_user": {str(k): {c: int(v) for c, v in row.items()} for k, row in per_user.iterrows()},
        "failed": [{"sync_key": k, "error": errors_by_key.get(k)} for k in failed],
        "not_attempted": [[k, p] for k, p in zip(pending["sync_key"], pending["phase"], strict=True)],
        "not_convertible": extract_errors + plan_errors,
        "copies_not_copied_back": copies,
        "degradations": _reason_counts(plan),
    }


def _errors(path: Any) -> list[dict[str, str]]:
    return list(storage.read_json(path)) if path.exists() else []


def _reason_counts(plan: pd.DataFrame) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reasons in plan["reasons"]:
        for reason in reasons if reasons is not None else []:
            kind = reason.split(":")[0][:80]
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:30])


def render(report: dict[str, Any]) -> str:
    """Return the report as a fixed-width table for the task log."""
    columns = ["created", "updated", "deleted", "skipped", "failed", "degraded"]
    lines = [f"{'owner':40} " + " ".join(f"{c:>8}" for c in columns)]
    for owner, row in sorted(report["per_user"].items()):
        lines.append(f"{owner[:40]:40} " + " ".join(f"{row.get(c, 0):>8}" for c in columns))
    totals = report["totals"]
    lines.append(f"{'TOTAL':40} " + " ".join(f"{totals.get(c, 0):>8}" for c in columns))
    lines.append(
        f"not convertible: {totals['not_convertible']}   API calls: {totals['api_calls']}   notifications sent: {totals['notifications']}"
        + ("   (dry run)" if report["dry_run"] else "")
    )
    if totals.get("copies_not_copied_back"):
        lines.append(f"copies of the target's own events, not copied back: {totals['copies_not_copied_back']}")
    return "\n".join(lines)
