"""``make bench``: the five scenarios of issue 7 in one run; writes ``bench/results/latest.json``, the plots under
``bench/results/`` and ``BENCHMARKS.md``.

1. budget use (``bench.budget_use``), 2. calls per event (``bench.calls_per_event``), 3. transform throughput
(``bench.transforms``, run by the Makefile before this; its JSON is read here), 4. Airflow overhead
(``bench.airflow_overhead``), 5. scale (``bench.scale``). Each measures ours and a baseline in the same run.

Usage: ``python -m bench.suite [--transforms-json bench/results/transforms.json] [--scenarios 1,2,3,4,5]``;
``--tiny`` runs every scenario at a few dozen events with ``dag.test`` instead of a real scheduler (the smoke test
in ``tests/bench`` does this; its figures mean nothing). A full run takes about 45 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common
from bench.harness import (
    DEMO_WINDOW,
    RESULTS,
    ROOT,
    InProcessOrchestrator,
    Json,
    Lab,
    StackOrchestrator,
    bulk_garoon_events,
    fork_context,
    migrate_metadata_db,
)


@dataclass(frozen=True)
class Profile:
    """The sizes of one run."""

    creates: int = 2_000
    budget_seconds: float = 60.0
    compare_default_spread: bool = True  # scenario 1 also runs with rate_spread_seconds 0
    calls_window: dict[str, str] = field(default_factory=lambda: dict(DEMO_WINDOW))
    overhead_events: int = 10_000
    scale_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    extract_sizes: tuple[int, ...] = (2_000, 20_000)
    in_process: bool = False  # dag.test instead of a real scheduler (scenarios 2 and 4)
    transforms_args: list[str] = field(default_factory=list)


FULL = Profile()
TINY = Profile(
    creates=40,
    budget_seconds=1.5,
    compare_default_spread=False,
    calls_window={"start": "2026-11-16", "end": "2026-11-20"},
    overhead_events=30,
    scale_sizes=(100, 1_000),
    extract_sizes=(40, 120),
    in_process=True,
    transforms_args=["--scenarios", "memory", "--memory-events", "200", "--repeats", "1"],
)
SCENARIOS = ("1", "2", "3", "4", "5")


def run(
    profile: Profile,
    *,
    scenarios: tuple[str, ...] = SCENARIOS,
    results_dir: Path = RESULTS,
    transforms_json: Path | None = None,
    command: str = "python -m bench.suite",
) -> Json:
    """Run the chosen scenarios; return everything latest.json holds (``command``: how the run was started).

    Scenario 3 (when no JSON is given) runs first and alone: its ratios are timings on one core, which the other
    scenarios' processes would share. In a tiny run it, and the metadata DB migration ``dag.test`` needs, start
    in the background and are collected when needed.
    """
    started = time.time()
    results_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="calendar-etl-bench-"))
    out: Json = {
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "command": command,
        "tiny": profile.in_process,
        "profile": dataclasses.asdict(profile),
        "machine": common.machine(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "scenarios": {},
        "skipped": {},
        "notes": [],
    }
    fork_context(start=True)  # scenarios 1 and 5 fork their workers from it
    transforms = _start_transforms(profile, results_dir, workdir, transforms_json) if "3" in scenarios else None
    if transforms is not None and not profile.in_process:
        out["scenarios"]["3_transforms"] = _step("scenario 3: transforms", transforms)
        transforms = None
    airflow = "2" in scenarios or "4" in scenarios
    migrated = migrate_metadata_db(Path(os.environ["AIRFLOW_HOME"])) if airflow and profile.in_process else None
    try:
        with Lab.open(workdir) as lab:
            if "1" in scenarios:
                out["scenarios"]["1_budget_use"] = _step(
                    "scenario 1: budget use", _budget_use, lab, profile, results_dir
                )
            if airflow:
                if migrated:
                    migrated()
                out["scenarios"].update(_through_airflow(lab, profile, scenarios, out["skipped"]))
            if "5" in scenarios:
                out["scenarios"]["5_scale"] = _step("scenario 5: scale", _scale, lab, profile, results_dir)
        if transforms is not None:
            out["scenarios"]["3_transforms"] = _step("scenario 3: transforms", transforms)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out["wall_seconds"] = round(time.time() - started, 1)
    return out


def _step(label: str, func: Any, *args: Any) -> Any:
    print(f"== {label} ...", flush=True)
    began = time.time()
    result = func(*args)
    print(f"== {label}: {time.time() - began:.0f} s", flush=True)
    return result


def _budget_use(lab: Lab, profile: Profile, results_dir: Path) -> Json:
    from bench import budget_use

    result = budget_use.run(
        lab,
        creates=profile.creates,
        seconds=profile.budget_seconds,
        compare_default_spread=profile.compare_default_spread,
    )
    result["plots"] = [_shown(budget_use.plot(result, results_dir / "budget_use.png"))]
    return result


def _through_airflow(lab: Lab, profile: Profile, scenarios: tuple[str, ...], skipped: Json) -> Json:
    """Scenarios 2 and 4: one SQLite stack for both, then a PostgreSQL stack for 4, then 4's direct baseline."""
    from bench import airflow_overhead, calls_per_event

    results: Json = {}
    data = bulk_garoon_events(profile.overhead_events) if "4" in scenarios else None
    runs: list[Json] = []
    if profile.in_process:
        first: Any = InProcessOrchestrator(lab, lab.workdir / "in_process")
    else:
        first = StackOrchestrator(lab, lab.workdir / "stack_sqlite")
    with first:
        if "2" in scenarios:
            results["2_calls_per_event"] = _step(
                "scenario 2: calls per event", calls_per_event.run, lab, first, profile.calls_window
            )
        if data is not None:
            runs.append(_step(f"scenario 4 on {first.name}", airflow_overhead.through_airflow, lab, first, data))
            if not profile.in_process:
                runs.append(_step(f"scenario 4 on {first.name}, batch size {airflow_overhead.LARGE_BATCH_SIZE}",
                                  airflow_overhead.through_airflow, lab, first, data, airflow_overhead.LARGE_BATCH_SIZE))  # fmt: skip
    if data is None:
        return results
    if not profile.in_process:
        from include.scratch_db import ScratchDatabaseUnavailable, scratch_postgres

        try:
            with contextlib.ExitStack() as stack:
                url = stack.enter_context(scratch_postgres("calendar_etl_bench"))
                postgres = stack.enter_context(StackOrchestrator(lab, lab.workdir / "stack_postgres", database_url=url))
                runs.append(
                    _step(f"scenario 4 on {postgres.name}", airflow_overhead.through_airflow, lab, postgres, data)
                )
        except ScratchDatabaseUnavailable as exc:
            skipped["4_airflow_overhead (postgresql)"] = str(exc)
    direct = _step("scenario 4 baseline (direct)", airflow_overhead.direct, lab, data)
    results["4_airflow_overhead"] = airflow_overhead.summary(direct, runs, data)
    return results


def _scale(lab: Lab, profile: Profile, results_dir: Path) -> Json:
    from bench import scale

    result = scale.run(lab, sizes=profile.scale_sizes, extract_sizes=profile.extract_sizes)
    result["plots"] = [_shown(scale.plot(result, results_dir / "scale.png"))]
    return result


def _shown(path: Path) -> str:
    """Return ``path`` relative to the project when it is inside it (what latest.json records)."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _start_transforms(profile: Profile, results_dir: Path, workdir: Path, given: Path | None) -> Any:
    """Scenario 3 is ``bench.transforms`` (maintained separately): read its JSON when given, else start it now in
    the background; return a function that returns its results."""
    if given is not None:
        return lambda: dict(json.loads(given.read_text()))
    path = results_dir / "transforms.json"
    log = workdir / "transforms.log"
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "bench.transforms", *profile.transforms_args, "--json", str(path)],
                                   cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)  # fmt: skip

    def collect() -> Json:
        if process.wait(timeout=7200) != 0:
            raise RuntimeError(f"python -m bench.transforms failed:\n{log.read_text(errors='replace')[-3000:]}")
        return dict(json.loads(path.read_text()))

    return collect


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated: 1,2,3,4,5")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes and dag.test: a smoke run, not a measurement")
    parser.add_argument("--results", default=str(RESULTS), help="folder for latest.json and the plots")
    parser.add_argument("--markdown", default=str(ROOT / "BENCHMARKS.md"), help="the report to rewrite")
    parser.add_argument("--transforms-json", help="scenario 3's results (from python -m bench.transforms --json)")
    parser.add_argument("--overhead-events", type=int, help="scenario 4's Garoon events (default 10,000)")
    parser.add_argument("--creates", type=int, help="scenario 1's creates (default 2,000)")
    parser.add_argument("--scale-sizes", help="scenario 5's sizes, comma-separated (default 10000,100000,1000000)")
    parser.add_argument("--command", help="how the run was started, for the report (make bench passes 'make bench')")
    args = parser.parse_args(argv)
    profile = TINY if args.tiny else FULL
    changes: Json = {}
    if args.overhead_events:
        changes["overhead_events"] = args.overhead_events
    if args.creates:
        changes["creates"] = args.creates
    if args.scale_sizes:
        changes["scale_sizes"] = tuple(int(n) for n in args.scale_sizes.split(","))
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))  # dag.test syncs this bundle
    home = Path(tempfile.mkdtemp(prefix="calendar-etl-bench-home-"))
    os.environ.setdefault("AIRFLOW_HOME", str(home))  # direct operator runs and dag.test keep their state here
    try:
        return write(
            run(dataclasses.replace(profile, **changes), scenarios=tuple(args.scenarios.split(",")),
                results_dir=Path(args.results),
                transforms_json=Path(args.transforms_json) if args.transforms_json else None,
                command=args.command or " ".join(["python -m bench.suite", *(argv if argv is not None else sys.argv[1:])])),
            Path(args.results), Path(args.markdown),
        )  # fmt: skip
    finally:
        shutil.rmtree(home, ignore_errors=True)


def write(results: Json, results_dir: Path, markdown: Path) -> int:
    """Write latest.json and the markdown report; print the headline figures."""
    from bench import report

    path = results_dir / "latest.json"
    results["results_file"] = _shown(path)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    markdown.write_text(report.render(results, markdown))
    for key, result in results["scenarios"].items():
        rows = report.transforms_rows(result) if key == "3_transforms" else report.rows_of(result)
        for row in rows:
            print(f"{key:20} {row.get('figure', '')[:60]:60} ours {report.fmt(row.get('ours')):>10}  "
                  f"baseline {report.fmt(row.get('baseline')):>10}  met {report.fmt(row.get('met'))}")  # fmt: skip
    print(f"wrote {path} and {markdown} in {results['wall_seconds'] / 60:.1f} minutes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
