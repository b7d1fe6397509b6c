"""Workers that open the ledger on a fresh SQLite file at the same moment all get it (no "already exists")."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import sqlalchemy as sa

from calendar_etl.ledger import Ledger

WORKERS = 6


def _open_at(url: str, moment: float, results: multiprocessing.Queue) -> None:
    time.sleep(max(moment - time.time(), 0.0))
    try:
        Ledger(url).engine.dispose()
        results.put("ok")
    except Exception as exc:  # reported by the test
        results.put(f"{type(exc).__name__}: {exc}")


def test_workers_opening_a_fresh_ledger_together_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    outcomes = []
    for trial in range(8):
        url = f"sqlite:///{tmp_path / f'ledger-{trial}.db'}"
        results: multiprocessing.Queue = context.Queue()
        moment = time.time() + 0.5
        workers = [context.Process(target=_open_at, args=(url, moment, results)) for _ in range(WORKERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        outcomes += [results.get(timeout=10) for _ in workers]
        tables = sa.inspect(sa.create_engine(url)).get_table_names()
        assert tables, f"trial {trial}: no ledger tables"
    failures = [o for o in outcomes if o != "ok"]
    assert not failures, f"{len(failures)} of {len(outcomes)} workers failed: {failures[:3]}"
