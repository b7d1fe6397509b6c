"""The plan is data: build_plan's decisions for each ledger state, window and scope (pure, no Airflow)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from calendar_etl.sync import assign_batches, build_plan

UTC = dt.UTC
WINDOW = (dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC))
INSIDE = pd.Timestamp("2026-11-01T09:00:00Z")
OUTSIDE = pd.Timestamp("2026-10-20T09:00:00Z")


def writes(*units: tuple[str, str | None, str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "sync_key": k,
                "owner": "a@x.example",
                "payload": p,
                "content_hash": h,
                "event_start": INSIDE,
                "reasons": [],
            }
            for k, p, h in units
        ],
        columns=["sync_key", "owner", "payload", "content_hash", "event_start", "reasons"],
    )


def ledger(*rows: tuple[str, str, str | None, pd.Timestamp, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"sync_key": k, "state": s, "content_hash": h, "event_start": t, "owner": o, "target_key": f"t-{k}"}
            for k, s, h, t, o in rows
        ],
        columns=["sync_key", "state", "content_hash", "event_start", "owner", "target_key"],
    )


def actions(plan: pd.DataFrame) -> dict[str, str]:
    return dict(zip(plan["sync_key"], plan["action"], strict=True))


def test_each_ledger_state_gives_its_action() -> None:
    plan = build_plan(
        writes(
            ("new", "{}", "h1"),
            ("same", "{}", "h2"),
            ("changed", "{}", "h3"),
            ("unsure", "{}", "h4"),
            ("failed", "{}", "h5"),
        ),
        ledger(
            ("same", "committed", "h2", INSIDE, "a@x.example"),
            ("changed", "committed", "old", INSIDE, "a@x.example"),
            ("unsure", "intent", "h4", INSIDE, "a@x.example"),
            ("failed", "failed", None, INSIDE, "a@x.example"),
        ),
        window=WINDOW,
        propagate_deletes=False,
    )
    assert actions(plan) == {
        "new": "create",
        "same": "skip",
        "changed": "update",
        "unsure": "update",
        "failed": "update",
    }
    assert plan.set_index("sync_key").loc[["unsure", "failed"], "resume"].tolist() == [True, True]


def test_deletes_need_propagate_deletes_and_stay_inside_the_window() -> None:
    known = ledger(
        ("gone-in", "committed", "h", INSIDE, "a@x.example"), ("gone-out", "committed", "h", OUTSIDE, "a@x.example")
    )
    off = build_plan(writes(), known, window=WINDOW, propagate_deletes=False)
    on = build_plan(writes(), known, window=WINDOW, propagate_deletes=True)
    assert actions(off) == {"gone-in": "skip"}
    assert actions(on) == {"gone-in": "delete"}


def test_a_run_limited_to_some_users_never_deletes_other_users_events() -> None:
    known = ledger(
        ("mine", "committed", "h", INSIDE, "a@x.example"), ("theirs", "committed", "h", INSIDE, "b@x.example")
    )
    plan = build_plan(writes(), known, window=WINDOW, propagate_deletes=True, owners={"a@x.example"})
    assert actions(plan) == {"mine": "delete"}


def test_a_cancelled_source_event_is_deleted_only_when_we_wrote_it() -> None:
    plan = build_plan(
        writes(("written", None, None), ("never", None, None)),
        ledger(("written", "committed", "h", INSIDE, "a@x.example")),
        window=WINDOW,
        propagate_deletes=True,
    )
    assert actions(plan) == {"written": "delete", "never": "skip"}


def test_batches_never_exceed_the_map_limit_and_skip_rows_get_none() -> None:
    plan = build_plan(
        writes(*[(f"k{i}", "{}", "h") for i in range(2500)]), ledger(), window=WINDOW, propagate_deletes=False
    )
    numbered, count = assign_batches(plan, batch_size=1, max_batches=1024)
    assert count <= 1024
    assert numbered["batch"].notna().all()
    assert numbered.groupby("batch").size().max() == 3  # 2500 units over at most 1024 batches
