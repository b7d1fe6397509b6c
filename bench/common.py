"""Shared benchmark plumbing: import paths, machine description, timing, isolated workers, profiles, tables.

Every measurement that matters runs in a fresh interpreter (:func:`run_isolated`), so one measurement's
imports, caches and heap never colour the next one, and peak memory is that worker's own
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (kernel-reported peak resident set size of the process,
KiB on Linux). Linux carries the parent's high-water mark into ``ru_maxrss`` across fork and exec, so the
parent stays small (inputs are generated in workers too) and each worker also reports ``VmHWM`` from
``/proc/self/status`` (the high-water mark of its own address space only) and its ``ru_maxrss`` at start,
so an inherited figure would show. ``python -m bench.common MODULE:FUNCTION JSON_KWARGS`` is the entry point.
"""

from __future__ import annotations

import cProfile
import gc
import importlib
import io
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(ROOT / "plugins")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

RESULT_MARKER = "@@bench-result@@ "
MEASURING_CORE = 0


def pin_to_one_core() -> None:
    """Run this process (and any threads it starts, e.g. Arrow's pool) on CPU ``MEASURING_CORE`` only."""
    os.sched_setaffinity(0, {MEASURING_CORE})


def peak_rss_mb() -> float:
    """Return this process's peak resident set size so far, in MB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vm_hwm_mb() -> float | None:
    """Return the peak resident set size of this process image (``VmHWM``; not inherited from the parent), MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    """Return what a reader needs to compare figures across machines."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = {}
    for name in ("pandas", "pyarrow", "numpy", "icalendar", "dateutil"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except ImportError:
            versions[name] = None
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "memory_gb": memory_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "libraries": versions,
    }


def time_once(func: Callable[[], Any]) -> tuple[float, Any]:
    """Return (wall seconds by ``time.perf_counter``, result) of one call, after a full garbage collection."""
    gc.collect()
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def interleaved(candidates: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Return the seconds of ``repeats`` calls of each candidate, taking turns (A B A B ...) to share drift."""
    seconds: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, func in candidates.items():
            elapsed, result = time_once(func)
            del result
            seconds[name].append(elapsed)
    return seconds


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def run_isolated(target: str, timeout: float = 3600, **kwargs: Any) -> dict[str, Any]:
    """Run ``module:function(**kwargs)`` in a fresh interpreter; return its JSON result plus ``peak_rss_mb``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "plugins"), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bench.common", target, json.dumps(kwargs)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker {target} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return dict(json.loads(lines[-1][len(RESULT_MARKER) :]))


def profile_call(func: Callable[[], Any], label: str, out_dir: Path, top: int = 25) -> str:
    """Profile ``func`` with cProfile; write ``<label>.prof`` and ``<label>.txt`` (top cumulative and tottime)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    profiler = cProfile.Profile()
    gc.collect()
    profiler.enable()
    func()
    profiler.disable()
    profiler.dump_stats(str(out_dir / f"{label}.prof"))
    text = io.StringIO()
    for order in ("cumulative", "tottime"):
        text.write(f"==== {label}: top {top} by {order} ====\n")
        pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order).print_stats(top)
    (out_dir / f"{label}.txt").write_text(text.getvalue())
    return text.getvalue()


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Return ``rows`` as a plain fixed-width text table."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _worker_main(argv: Sequence[str]) -> int:
    at_start = peak_rss_mb()
    target, raw = argv[0], argv[1] if len(argv) > 1 else "{}"
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    result = dict(function(**json.loads(raw)))
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["ru_maxrss_at_start_mb"] = round(at_start, 1)
    hwm = vm_hwm_mb()
    result["vm_hwm_mb"] = None if hwm is None else round(hwm, 1)
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
