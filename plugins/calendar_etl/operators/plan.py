"""The plan operator: canonical rows + identity + ledger → a plan (create / update / delete / skip per unit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from airflow.sdk import BaseOperator, task

from calendar_etl import storage, sync, targets
from calendar_etl.ledger import Ledger
from calendar_etl.operators.common import DEFAULT_ZONE, as_bool, record_calls, window_from_json
from calendar_etl.transforms import identity

IDENTITY_DIR = Path(__file__).resolve().parents[3] / "include" / "identity"
MAX_MAP_LENGTH = 1024  # [core] max_map_length default; a mapped task may not expand wider


class PlanOperator(BaseOperator):
    """Compare the extracted rows with the ledger and write the plan; push the batches for the load tasks.

    :param target: ``lineworks`` or ``garoon``.
    :param extract_task_id: the task whose XCom holds the canonical file and the window.
    :param pipeline: the ledger's name for this sync (default: the DAG id).
    :param target_calendar: LINE WORKS only: empty/``default`` (each organizer's default calendar), a calendar id,
        or ``name:<Name>`` for a shared calendar created on first use with every organizer as a member.
    :param calendar_user: the member through whom a calendar id is written.
    :param propagate_deletes: delete events this pipeline created whose source is gone (inside the window).
    :param whole_scope: deletes consider every event of the pipeline, not only those in the window (a whole .ics).
    :param batch_size: units per mapped load task (grown so the map stays within ``max_map_length``).
    :param dry_run: stop after the plan: nothing is written and the load tasks are skipped.
    :param user_map: CSV of ``garoon_code,email[,lineworks_id]`` (a path); default ``include/identity/users.csv``.
    :param facility_map: CSV of ``garoon_code,resource_id[,name]``; default ``include/identity/facilities.csv``.
    """

    template_fields: Sequence[str] = (
        "target_calendar", "calendar_user", "propagate_deletes", "batch_size", "plan_only", "pipeline", "user_map",
        "facility_map", "whole_scope", "ledger_conn_id",
    )  # fmt: skip
    ui_color = "#fff6e0"

    def __init__(
        self,
        *,
        target: str,
        extract_task_id: str = "extract",
        pipeline: str | None = None,
        lineworks_conn_id: str = "lineworks_default",
        garoon_conn_id: str = "garoon_default",
        ledger_conn_id: str | None = None,
        target_calendar: str | None = None,
        calendar_user: str | None = None,
        propagate_deletes: Any = False,
        whole_scope: Any = False,
        batch_size: Any = 50,
        dry_run: Any = False,
        user_map: str | None = None,
        facility_map: str | None = None,
        timezone: str = DEFAULT_ZONE,
        fallback_attendee: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if target not in ("lineworks", "garoon"):
            raise ValueError(f"target must be lineworks or garoon, not {target!r}")
        self.target = target
        self.extract_task_id = extract_task_id
        self.pipeline = pipeline
        self.lineworks_conn_id = lineworks_conn_id
        self.garoon_conn_id = garoon_conn_id
        self.ledger_conn_id = ledger_conn_id or None
        self.target_calendar = target_calendar
        self.calendar_user = calendar_user
        self.propagate_deletes = propagate_deletes
        self.whole_scope = whole_scope
        self.batch_size = batch_size
        self.plan_only = dry_run  # BaseOperator.dry_run is a method
        self.user_map = user_map
        self.facility_map = facility_map
        self.timezone = timezone
        self.fallback_attendee = fallback_attendee

    def execute(self, context: Any) -> dict[str, Any]:
        extracted = context["ti"].xcom_pull(task_ids=self.extract_task_id)
        folder = storage.storage_path(extracted["folder"])
        window = window_from_json(extracted["window"])
        pipeline = self.pipeline or context["dag"].dag_id
        dry_run = as_bool(self.plan_only)
        frame = storage.read_frame(storage.storage_path(extracted["canonical"]), canonical=True)
        source_directory = storage.read_json(storage.storage_path(extracted["files"]) / "source_directory.json")
        calls: dict[str, int] = {}
        ledger = Ledger.from_config(self.ledger_conn_id or None)
        frame = self._without_copies_from_target(frame, ledger, folder)
        directory = self._directory(frame, source_directory, calls)
        frame = identity.resolve(frame, directory, target=self.target)
        calendar = self._calendar(ledger, pipeline, frame, dry_run, calls)
        if self.target == "lineworks":
            converted = targets.lineworks_writes(frame, window, need_owner=calendar is None)
        else:
            fallback = {"code": self.fallback_attendee} if self.fallback_attendee else None
            converted = targets.garoon_writes(frame, window, default_zone=self.timezone, fallback_attendee=fallback)
        writes = converted.events
        known = ledger.frame(pipeline)
        if known.empty and len(writes):
            rebuilt = self._rebuild(writes, window, calendar, calls)
            if len(rebuilt):
                self.log.warning("the ledger has no rows for %s; rebuilt %d from the target", pipeline, len(rebuilt))
                ledger.rebuild(pipeline, rebuilt, context["run_id"])
                known = ledger.frame(pipeline)
        scope = None if as_bool(self.whole_scope) else window
        owners = set(extracted["scope"]) if extracted.get("scope") is not None else None
        plan = sync.build_plan(
            writes, known, window=scope, propagate_deletes=as_bool(self.propagate_deletes), owners=owners
        )
        max_batches = MAX_MAP_LENGTH
        deletes = plan["action"] == "delete"
        write_part, write_batches = sync.assign_batches(plan[~deletes], int(self.batch_size), max_batches)
        delete_part, delete_batches = sync.assign_batches(plan[deletes], int(self.batch_size), max_batches)
        write_part["phase"], delete_part["phase"] = "write", "delete"
        plan = pd.concat([write_part, delete_part], ignore_index=True)
        plan_path = storage.write_frame(plan, folder / "plan.parquet")
        errors = [{"source_key": k, "problem": p} for k, p in converted.errors.itertuples(index=False, name=None)]
        storage.write_json(errors, folder / "plan_errors.json")
        record_calls(folder, "plan", calls)
        summary = sync.summarize(plan)
        self._log_summary(summary, plan, errors, dry_run)
        return {
            "plan": str(plan_path),
            "folder": str(folder),
            "pipeline": pipeline,
            "calendar": calendar,
            "dry_run": dry_run,
            "counts": summary["counts"],
            "source_rows": int(extracted.get("rows") or 0),  # 0 with deletes planned: an empty side (approval)
            "degraded": summary["degraded"],
            "errors": len(errors),
            "write_batches": 0 if dry_run else write_batches,
            "delete_batches": 0 if dry_run else delete_batches,
            "window": extracted["window"],
        }

    # ------------------------------------------------------------------ helpers
    def _without_copies_from_target(self, frame: pd.DataFrame, ledger: Ledger, folder: Any) -> pd.DataFrame:
        """Leave out the source events this project copied there from the target (see targets.copies_from_target)."""
        copies = targets.copies_from_target(frame, self.target, ledger)
        other = "LINE WORKS" if self.target == "lineworks" else "Garoon"
        reason = f"a copy this project made from {other}: not copied back"
        echoed = [{"source_key": str(k), "reason": reason} for k in frame.loc[copies, "source_key"]]
        storage.write_json(echoed, folder / "copies_from_target.json")
        if echoed:
            self.log.info(
                "%d source events are copies this project made from %s; not copied back (first: %s)",
                len(echoed), other, ", ".join(e["source_key"] for e in echoed[:5]),
            )  # fmt: skip
        return frame[~copies].reset_index(drop=True)

    def _directory(
        self, frame: pd.DataFrame, source_directory: dict[str, Any], calls: dict[str, int]
    ) -> identity.Directory:
        garoon_users: list[dict[str, Any]] = []
        lineworks_users: list[dict[str, Any]] = []
        facilities: list[dict[str, Any]] = list(source_directory.get("facilities") or [])
        systems = set(frame["source_system"].unique()) | {self.target}
        listed = source_directory.get("users") or []
        if "garoon" in systems:
            if listed and "code" in listed[0]:
                garoon_users = listed
            else:
                from calendar_etl.hooks.garoon import GaroonHook

                hook = GaroonHook(self.garoon_conn_id)
                garoon_users = list(hook.iter_users())
                facilities = facilities or list(hook.iter_facilities())
                calls["garoon_reads"] = hook.calls
        if "lineworks" in systems:
            if listed and "userId" in listed[0]:
                lineworks_users = listed
            else:
                from calendar_etl.hooks.lineworks import LineWorksHook

                hook_lw = LineWorksHook(self.lineworks_conn_id)
                lineworks_users = list(hook_lw.iter_users())
                calls["lineworks_reads"] = hook_lw.calls
        return identity.Directory.build(
            garoon_users=garoon_users,
            lineworks_users=lineworks_users,
            garoon_facilities=facilities,
            user_map=self._mapping(self.user_map, "users.csv", ("garoon_code", "email")),
            facility_map=self._mapping(self.facility_map, "facilities.csv", ("garoon_code", "resource_id")),
        )

    @staticmethod
    def _mapping(path: str | None, default: str, required: tuple[str, ...]) -> list[dict[str, str]]:
        chosen = Path(path) if path else IDENTITY_DIR / default
        if not chosen.exists():
            if path:
                raise FileNotFoundError(f"identity mapping {path} does not exist")
            return []
        return identity.read_csv_mapping(chosen, required)

    def _calendar(
        self, ledger: Ledger, pipeline: str, frame: pd.DataFrame, dry_run: bool, calls: dict[str, int]
    ) -> str | None:
        spec = (self.target_calendar or "").strip()
        if self.target != "lineworks" or spec in ("", "default"):
            return None
        if not spec.startswith("name:"):
            return spec
        name = spec[5:].strip()
        known = ledger.setting(pipeline, f"calendar:{name}")
        if known or dry_run:
            return known or f"(new shared calendar {name!r})"
        from calendar_etl.hooks.lineworks import LineWorksHook

        hook = LineWorksHook(self.lineworks_conn_id)
        owners = sorted({p["email"] for p in frame["organizer"] if isinstance(p, dict) and p.get("email")})
        members = sorted(set(owners) | ({self.calendar_user} if self.calendar_user else set()))
        created = hook.create_calendar(name, members, description=f"Created by calendar-etl pipeline {pipeline}")
        calendar_id = str(created["calendarId"])
        ledger.set_setting(pipeline, f"calendar:{name}", calendar_id)
        calls["lineworks_writes"] = calls.get("lineworks_writes", 0) + hook.calls
        self.log.info("created shared calendar %r (%s) with %d members", name, calendar_id, len(members))
        return calendar_id

    def _rebuild(
        self, writes: pd.DataFrame, window: tuple[dt.datetime, dt.datetime], calendar: str | None, calls: dict[str, int]
    ) -> pd.DataFrame:
        if self.target == "lineworks":
            from calendar_etl.hooks.lineworks import LineWorksHook

            hook = LineWorksHook(self.lineworks_conn_id)
            found = targets.rebuild_lineworks(hook, writes, window, calendar=calendar, calendar_user=self.calendar_user)
            calls["lineworks_reads"] = calls.get("lineworks_reads", 0) + hook.calls
            return found
        from calendar_etl.hooks.garoon import GaroonHook

        hook_g = GaroonHook(self.garoon_conn_id)
        users = [str(u["id"]) for u in hook_g.iter_users()]
        found = targets.rebuild_garoon(hook_g, window, writes["sync_key"], users)
        calls["garoon_reads"] = calls.get("garoon_reads", 0) + hook_g.calls
        return found

    def _log_summary(
        self, summary: dict[str, Any], plan: pd.DataFrame, errors: list[dict[str, str]], dry_run: bool
    ) -> None:
        counts = summary["counts"]
        self.log.info(
            "plan: %d units: %d create, %d update, %d delete, %d skip; %d degraded; %d not convertible%s",
            summary["units"], counts["create"], counts["update"], counts["delete"], counts["skip"], summary["degraded"],
            len(errors), " (dry run: nothing will be written)" if dry_run else "",
        )  # fmt: skip
        for note in summary["notes"]:
            self.log.info("  %-7s %-45s %6d", note["action"], note["note"], note["count"])
        for row in plan[plan["action"] != "skip"].head(20).itertuples():
            self.log.info(
                "  %s %s -> %s%s",
                row.action,
                row.sync_key,
                row.owner,
                f" ({'; '.join(row.reasons)})" if len(row.reasons) else "",
            )
        for error in errors[:20]:
            self.log.warning("  not convertible: %s: %s", error["source_key"], error["problem"])


@task(multiple_outputs=False)
def batches_of(planned: Any, phase: str) -> list[dict[str, int]]:
    """Return the plan's batches of one phase (``write`` or ``delete``) as the kwargs of the mapped load."""
    count = planned["write_batches"] if phase == "write" else planned["delete_batches"]
    return [{"batch": i} for i in range(int(count))]
