"""Time each transform stage of this checkout against the same stage at another git revision, interleaved.

The machines we run on vary by ±20% from one run to the next, so a stage's gain is only visible when the old and
the new code run alternately in one process on the same input. Both versions are imported side by side (the old
one from ``git archive REV plugins``) and fed the same frames, made by this checkout's code from
``bench.workloads.garoon_workload`` (and ``ics_workload`` for ``ics``).

Usage: ``.venv/bin/python -m bench.compare_stages REV [--stages g2c,collapse,resolve,c2l] [--events 50000]
[--repeats 11]``. Prints, per stage, the minimum and median seconds of each side and old ÷ new of the minimums.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import common, transforms
from bench.workloads import ics_workload

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("g2c", "collapse", "resolve", "c2l", "ics")
MODULES = ("model", "transforms.garoon", "transforms.recurrence", "transforms.identity", "transforms.lineworks",
           "transforms.ics")  # fmt: skip


def load_package(plugins: Path) -> dict[str, ModuleType]:
    """Import ``calendar_etl`` from ``plugins`` under its own name, apart from any other copy already imported."""
    for name in [m for m in sys.modules if m == "calendar_etl" or m.startswith("calendar_etl.")]:
        del sys.modules[name]
    sys.path.insert(0, str(plugins))
    try:
        import importlib

        package = importlib.import_module("calendar_etl")
        if not Path(str(package.__file__)).resolve().is_relative_to(plugins.resolve()):
            raise RuntimeError(f"calendar_etl came from {package.__file__}, not {plugins}")
        return {name: importlib.import_module(f"calendar_etl.{name}") for name in MODULES}
    finally:
        sys.path.remove(str(plugins))


def inputs(events: int, folder: Path) -> dict[str, Any]:
    """Return every stage's input, made with this checkout's code (the Garoon items as scenario 1 reads them)."""
    transforms.write_garoon_input(events, str(folder / "garoon.jsonl"))
    lines, header = transforms.read_garoon_lines(str(folder / "garoon.jsonl"))
    new = load_package(ROOT / "plugins")
    directory = new["transforms.identity"].Directory.build(**header["directory"])
    raw = new["transforms.garoon"].garoon_to_canonical(lines, listed=header["listed"], collapse=False).events
    full = new["transforms.garoon"].garoon_to_canonical(lines, listed=header["listed"], collapse=True).events
    resolved = new["transforms.identity"].resolve(full, directory, target="lineworks")
    return {
        "lines": lines, "listed": header["listed"], "directory": header["directory"],
        "occurrences": raw[(raw["kind"] == "occurrence").to_numpy(dtype=bool)],
        "full": full, "prepared": new["transforms.lineworks"].prepare_for_lineworks(resolved, None).events,
        "ics": ics_workload(events // 5),
    }  # fmt: skip


def stages(modules: dict[str, ModuleType], given: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    garoon, recurrence, ics = modules["transforms.garoon"], modules["transforms.recurrence"], modules["transforms.ics"]
    identity, lineworks = modules["transforms.identity"], modules["transforms.lineworks"]
    directory = identity.Directory.build(**given["directory"])
    return {
        "g2c": lambda: garoon.garoon_to_canonical(given["lines"], listed=given["listed"], collapse=False),
        "collapse": lambda: recurrence.collapse_occurrences(given["occurrences"], given["listed"]),
        "resolve": lambda: identity.resolve(given["full"], directory, target="lineworks"),
        "c2l": lambda: lineworks.canonical_to_lineworks(given["prepared"]),
        "ics": lambda: ics.ics_to_canonical(given["ics"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the git revision to compare with (its plugins/ folder)")
    parser.add_argument("--stages", default="g2c,collapse,resolve,c2l", help=f"comma-separated: {','.join(STAGES)}")
    parser.add_argument("--events", type=int, default=50_000, help="Garoon items (VEVENTs: a fifth of them)")
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args(argv)
    common.pin_to_one_core()
    transforms.use_arrow_memory_pool()
    with tempfile.TemporaryDirectory(prefix="compare-stages-") as folder:
        given = inputs(args.events, Path(folder))
        archive = subprocess.run(["git", "archive", args.rev, "plugins"], cwd=ROOT, capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(folder, filter="data")
        old = stages(load_package(Path(folder) / "plugins"), given)
        new = stages(load_package(ROOT / "plugins"), given)
        rows = []
        for stage in args.stages.split(","):
            old[stage](), new[stage]()  # warm-up
            seconds: dict[str, list[float]] = {"old": [], "new": []}
            for _ in range(args.repeats):
                for side, run in (("old", old[stage]), ("new", new[stage])):
                    started = time.perf_counter()
                    run()
                    seconds[side].append(time.perf_counter() - started)
            low = {side: min(values) for side, values in seconds.items()}
            rows.append([stage, *(f"{low[s]:.4f} / {statistics.median(seconds[s]):.4f}" for s in ("old", "new")),
                         f"{low['old'] / low['new']:.2f}"])  # fmt: skip
    print(common.table(rows, ["stage", f"{args.rev} min / median (s)", "this checkout", "old ÷ new (min)"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
