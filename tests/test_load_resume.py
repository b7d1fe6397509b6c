"""Which planned items a load task still has to write, on a real SQLite ledger: a retry skips what an earlier
attempt of the same run committed, and an item another run committed since the plan (a backfill beside a
scheduled run) is reported as skipped rather than as never attempted (which failed whole backfills)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from calendar_etl.ledger import Ledger
from calendar_etl.operators.load import LoadBatchOperator

PIPELINE = "garoon_to_lineworks"


def _items(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"sync_key": k, "action": a, "content_hash": h, "resume": False, "owner": "a@example.com"} for k, a, h in rows]
    )


def test_finished_items_are_split_off_by_who_finished_them(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.record(PIPELINE, "g:mine", "committed", content_hash="h1", run_id="run-a")
    ledger.record(PIPELINE, "g:theirs", "committed", content_hash="h2", run_id="run-b")
    ledger.record(PIPELINE, "g:changed", "committed", content_hash="old", run_id="run-b")
    ledger.record(PIPELINE, "g:unsure", "intent", content_hash="h4", run_id="run-a")
    ledger.record(PIPELINE, "g:gone", "deleted", run_id="run-b")
    items = _items(
        ("g:mine", "create", "h1"), ("g:theirs", "create", "h2"), ("g:changed", "update", "new"),
        ("g:unsure", "create", "h4"), ("g:new", "create", "h5"), ("g:gone", "delete", ""),
    )  # fmt: skip
    operator = LoadBatchOperator(task_id="load", batch=0, target="lineworks", phase="write")
    todo, finished = operator._still_to_do(items, ledger, PIPELINE, "run-a")
    assert sorted(todo["sync_key"]) == ["g:changed", "g:new", "g:unsure"]
    assert todo.set_index("sync_key")["resume"].to_dict() == {"g:changed": False, "g:new": False, "g:unsure": True}
    by_key = {o.sync_key: o for o in finished}
    assert {k: o.status for k, o in by_key.items()} == {"g:mine": "done", "g:theirs": "skipped", "g:gone": "skipped"}
    assert by_key["g:theirs"].error == "already applied by run run-b"
    ledger.dispose()
