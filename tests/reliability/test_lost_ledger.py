"""A lost ledger is rebuilt from the target, without duplicates, for both targets and after a half-done run.

``tests/dags/test_changes_and_deletes.py`` covers a complete LINE WORKS sync whose ledger is deleted. Here:

* Garoon as the target (``lineworks_to_garoon``): the ledger is rebuilt from the markers the pipeline's events
  carry (``additionalItems.item.value``): the next run creates nothing, updates each event at most once (the
  rebuilt rows have no content hash), and the run after it writes nothing at all;
* the ledger lost after a run that failed half-way (one calendar refused every write): the re-run finds what
  landed by its deterministic LINE WORKS ids, creates only what is missing, and the target equals the plan.
"""

from __future__ import annotations

import collections
import datetime as dt
import gc

import pytest

from calendar_etl.ledger import Ledger
from tests.dags.conftest import DagHarness
from tests.dags.test_lineworks_to_garoon import WINDOW as LW_WINDOW
from tests.dags.test_lineworks_to_garoon import assert_lands, garoon_created, marker, seed_scenario
from tests.reliability.helpers import (
    FIGURES,
    assert_ledger_agrees,
    expected_lineworks,
    lineworks_holdings,
)
from tests.reliability.test_fault_matrix import SATO_EVENTS

pytestmark = pytest.mark.slow

NO_WAIT = dt.timedelta(0)
WINDOW = {"start": "2026-11-16", "end": "2026-11-20"}


def lose_ledger(harness: DagHarness) -> None:
    gc.collect()  # close the ledger connections the in-process tasks left behind
    for suffix in ("", "-wal", "-shm", "-journal"):
        (harness.folder / f"ledger.db{suffix}").unlink(missing_ok=True)
    assert not (harness.folder / "ledger.db").exists()


def garoon_writes(harness: DagHarness, since: int) -> collections.Counter[str]:
    return collections.Counter(r["method"] for r in harness.garoon_writes(since=since))


def test_garoon_ledger_is_rebuilt_from_the_markers(dags: DagHarness) -> None:
    expected = seed_scenario(dags)["expected"]
    assert dags.run("lineworks_to_garoon", LW_WINDOW).state == "success"
    assert_lands(garoon_created(dags), expected)
    ids_before = {marker(e): e["id"] for e in garoon_created(dags)}
    lose_ledger(dags)

    seq = dags.garoon.next_seq() - 1
    run = dags.run("lineworks_to_garoon", LW_WINDOW)
    assert run.state == "success"
    writes = garoon_writes(dags, seq)
    assert writes["POST"] == 0 and writes["DELETE"] == 0, writes
    assert writes["PATCH"] <= len(expected)
    assert_lands(garoon_created(dags), expected)
    assert {marker(e): e["id"] for e in garoon_created(dags)} == ids_before, "an event was replaced"
    ledger = Ledger(f"sqlite:///{dags.folder / 'ledger.db'}")
    rows = ledger.frame("lineworks_to_garoon").set_index("sync_key")
    ledger.dispose()
    assert set(rows.index) == set(expected) and set(rows["state"]) == {"committed"}
    assert all(rows.loc[k, "target_key"] == v for k, v in ids_before.items())

    seq = dags.garoon.next_seq() - 1
    assert dags.run("lineworks_to_garoon", LW_WINDOW).state == "success"
    assert garoon_writes(dags, seq) == collections.Counter(), "the rebuilt ledger was incomplete"
    FIGURES["ledgers lost and rebuilt"] += 1


def test_ledger_lost_after_a_half_done_run(dags: DagHarness) -> None:
    expected = expected_lineworks(dags, "garoon_to_lineworks", WINDOW)
    dags.lineworks.faults(error_rate=1.0, error_statuses=[403], paths=SATO_EVENTS, methods=["POST"])
    try:
        failed = dags.run("garoon_to_lineworks", WINDOW, retry_delay=NO_WAIT)
    finally:
        dags.lineworks.faults()
    assert failed.state == "failed"
    half = lineworks_holdings(dags, expected)
    assert half.missing and len(half.missing) < len(expected) and not half.duplicates
    lose_ledger(dags)

    seq = dags.lineworks.next_seq() - 1
    rerun = dags.run("garoon_to_lineworks", WINDOW, retry_delay=NO_WAIT)
    assert rerun.state == "success"
    final = lineworks_holdings(dags, expected)
    assert final.exact, final
    posts = collections.Counter(r["method"] for r in dags.writes(since=seq))
    assert posts["POST"] == len(half.missing) and posts["DELETE"] == 0, posts
    assert_ledger_agrees(dags, "garoon_to_lineworks", expected)
    FIGURES["ledgers lost and rebuilt"] += 1
