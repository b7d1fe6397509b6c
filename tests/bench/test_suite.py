"""The ``make bench`` harness at tiny sizes, so that it cannot rot: every scenario runs end to end once.

The figures of a tiny run mean nothing (a few dozen events, ``dag.test`` instead of a scheduler); these tests
check that each scenario measured what it says it measures, that its baseline ran beside it, and that the
report and plots were written. The whole module takes well under a minute.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import report, suite

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """One tiny run of every scenario, written to a temporary results folder (never bench/results)."""
    folder = tmp_path_factory.mktemp("bench-results")
    results = suite.run(suite.TINY, results_dir=folder, command="pytest tests/bench")
    suite.write(results, folder, folder / "BENCHMARKS.md")
    return results, folder


def scenario(bench_run: tuple[dict[str, Any], Path], key: str) -> dict[str, Any]:
    results, _ = bench_run
    assert key in results["scenarios"], f"{key} did not run; skipped: {results['skipped']}"
    return dict(results["scenarios"][key])


def test_budget_use_counts_every_create_of_ours_and_of_the_article_loader(bench_run: Any) -> None:
    result = scenario(bench_run, "1_budget_use")
    creates = suite.TINY.creates
    for side in ("ours", "baseline"):
        figures = result["sides"][side]
        assert figures["calls_ok"] == creates, f"{side}: {figures['calls_ok']} of {creates} creates succeeded"
        assert sum(figures["per_second_ok"]) == creates
        assert sum(figures["per_second_429"]) == figures["responses_429"]
        assert sum(loader["done"] for loader in figures["loaders"]) == creates
        assert 0 < figures["achieved_over_N"] < 2
    assert Path(bench_run[1] / "budget_use.png").stat().st_size > 0


def test_calls_per_event_counts_writes_reads_and_a_silent_resync(bench_run: Any) -> None:
    result = scenario(bench_run, "2_calls_per_event")
    first, again = result["runs"]["first"], result["runs"]["resync"]
    assert result["source"]["items"] > 0
    assert 0 < first["lineworks_writes"] <= result["source"]["items"]
    assert again["lineworks_writes"] == 0
    assert first["garoon_window_lists"] >= result["source"]["users"]  # one list per user at least
    assert first["lineworks_event_lists"] > 0 and again["lineworks_event_lists"] == 0  # rebuild on the first only


def test_transforms_scenario_is_read_from_bench_transforms(bench_run: Any) -> None:
    result = scenario(bench_run, "3_transforms")
    memory = result["garoon_pipeline_peak_memory"]
    assert memory["ours"] > 0 and memory["baseline"] > 0
    assert json.loads((bench_run[1] / "transforms.json").read_text()) == result


def test_airflow_overhead_times_every_task_inside_and_outside_execute(bench_run: Any) -> None:
    result = scenario(bench_run, "4_airflow_overhead")
    (run,) = result["airflow"]
    loads = run["per_task"]["load"]
    assert loads["instances"] == result["direct"]["load_batches"] >= 1
    assert all(task["timed"] == task["instances"] for task in run["per_task"].values() if "timed" in task), (
        "the execute() timer missed a task instance"
    )
    assert 0 < run["run_outside_share"] < 1 and 0 < run["task_outside_share"] < 1
    assert result["direct"]["created"] > 0 and result["direct"]["seconds"] > 0


def test_scale_measures_both_sides_at_every_size_and_extraction_at_two(bench_run: Any) -> None:
    result = scenario(bench_run, "5_scale")
    points = result["transforms"]["points"]
    assert [p["events"] for p in points] == list(suite.TINY.scale_sizes)
    for point in points:
        for side in ("ours", "baseline"):
            assert point[side]["seconds"] > 0 and point[side]["peak_mb"] >= point[side]["start_mb"] > 0
    small, large = result["extraction"]["points"]
    assert large["ours"]["items"] > small["ours"]["items"] > 0
    assert large["ours"]["items"] >= large["baseline"]["items"]  # ours also reads series beyond the window
    assert Path(bench_run[1] / "scale.png").stat().st_size > 0


def test_report_has_a_table_per_scenario_and_the_machine(bench_run: Any) -> None:
    results, folder = bench_run
    text = (folder / "BENCHMARKS.md").read_text()
    for title in report.TITLES.values():
        assert f"## {title}" in text
    assert "Not run" not in text
    assert results["machine"]["cpu"] in text and "| figure | ours | baseline |" in text
    assert json.loads((folder / "latest.json").read_text())["scenarios"].keys() == results["scenarios"].keys()
