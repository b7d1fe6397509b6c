"""Write ``BENCHMARKS.md`` from the results of ``python -m bench.suite`` (``bench/results/latest.json``).

One section per scenario: a table of figures (ours, baseline, ours ÷ baseline, target, met?), how each was
measured, and the plots. Nothing is computed here: every number comes from the results file.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from bench.harness import ROOT, Json

TITLES = {
    "1_budget_use": "1. Budget use: how close to the LINE WORKS rate limit, and 429s",
    "2_calls_per_event": "2. Calls per event: demo tenant Garoon → LINE WORKS",
    "3_transforms": "3. Transform throughput and memory (bench/transforms.py)",
    "4_airflow_overhead": "4. Airflow overhead: garoon_to_lineworks over 10,000 events",
    "5_scale": "5. Scale: 10k, 100k, 1M events; extraction memory",
}


def fmt(value: Any) -> str:
    """Return a table cell: numbers with separators, booleans as yes/NO, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**NO**"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value).replace("|", "\\|")


def rows_of(result: Json) -> list[Json]:
    """Return a scenario's table rows (its own ``rows``, else one row from its headline figures)."""
    if result.get("rows"):
        return list(result["rows"])
    return [
        {"figure": result.get("unit", ""), **{k: result.get(k) for k in ("ours", "baseline", "ratio", "target", "met")}}
    ]


def table(rows: list[Json]) -> str:
    lines = ["| figure | ours | baseline | ours ÷ baseline | target | met? |", "|---|---:|---:|---:|---|---|"]
    for row in rows:
        cells = [
            row.get("figure", ""),
            row.get("ours"),
            row.get("baseline"),
            row.get("ratio"),
            row.get("target"),
            row.get("met"),
        ]
        lines.append("| " + " | ".join(fmt(c) for c in cells) + " |")
    return "\n".join(lines)


def transforms_rows(result: Json) -> list[Json]:
    """Scenario 3: one row per entry of ``bench.transforms``' JSON, as that benchmark reports it."""
    return [
        {
            "figure": f"{name} ({entry.get('unit', '')})",
            **{k: entry.get(k) for k in ("ours", "baseline", "ratio", "target", "met")},
        }
        for name, entry in result.items()
        if isinstance(entry, dict) and "ours" in entry
    ]


def overhead_details(result: Json) -> str:
    """Scenario 4: the per-task table of each Airflow run."""
    parts = []
    for run in result.get("airflow", []):
        lines = [f"Per task, {run['orchestrator']} (run wall {run['run_wall_s']} s, "
                 f"{run['task_instances']} task instances):", "",
                 "| task | instances | wall s per instance | inside execute() s per instance | share outside our code |",
                 "|---|---:|---:|---:|---:|"]  # fmt: skip
        for task_id, task in run["per_task"].items():
            if not task.get("instances") or "wall_s_per_instance" not in task:
                lines.append(f"| {task_id} | {task.get('instances', 0)} (not run: {task.get('state')}) | – | – | – |")
                continue
            lines.append(f"| {task_id} | {task['instances']} | {fmt(task['wall_s_per_instance'])} | "
                         f"{fmt(task['execute_s_per_instance'])} | {fmt(task['outside_share'])} |")  # fmt: skip
        parts.append("\n".join(lines))
    direct = result.get("direct")
    if direct:
        steps = ", ".join(f"{k} {v} s" for k, v in direct["per_task"].items())
        parts.append(f"Baseline (execute() called directly, one process): {direct['seconds']} s ({steps}).")
    return "\n\n".join(parts)


def scale_details(result: Json) -> str:
    lines = ["| events | ours s | ours peak MB | baseline s | baseline peak MB |", "|---:|---:|---:|---:|---:|"]
    for point in result["transforms"]["points"]:
        lines.append(f"| {point['events']:,} | {fmt(point['ours']['seconds'])} | {fmt(point['ours']['peak_mb'])} | "
                     f"{fmt(point['baseline']['seconds'])} | {fmt(point['baseline']['peak_mb'])} |")  # fmt: skip
    lines += [
        "",
        "| extraction: schedule objects seeded | items read | ours peak MB | baseline peak MB |",
        "|---:|---:|---:|---:|",
    ]
    for point in result["extraction"]["points"]:
        lines.append(f"| {point['events']:,} | {point['ours']['items']:,} | {fmt(point['ours']['peak_mb'])} | "
                     f"{fmt(point['baseline']['peak_mb'])} |")  # fmt: skip
    return "\n".join(lines)


def summary(results: Json) -> str:
    """Return one row per figure that has a target (scenario 3: its own rows), every scenario together."""
    lines = [
        "| scenario | figure | ours | baseline | ours ÷ baseline | target | met? |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for key, title in TITLES.items():
        result = results["scenarios"].get(key)
        if result is None:
            continue
        rows = transforms_rows(result) if key == "3_transforms" else rows_of(result)
        for row in rows:
            if row.get("met") is None and key != "4_airflow_overhead":
                continue
            if key == "4_airflow_overhead" and not str(row.get("figure", "")).startswith("run wall time"):
                continue
            cells = [title.split(":")[0], row.get("figure", ""), row.get("ours"), row.get("baseline"), row.get("ratio"),
                     row.get("target"), row.get("met")]  # fmt: skip
            lines.append("| " + " | ".join(fmt(c) for c in cells) + " |")
    return "\n".join(lines)


def render(results: Json, markdown: Path) -> str:
    """Return the text of BENCHMARKS.md for ``results``."""
    machine = results["machine"]
    out = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m bench.suite`); do not edit by hand. Every figure below comes from one "
        f"run, written to `{_relative(Path(results['results_file']), markdown)}`.",
        "",
        f"* **Run:** {results['started']} UTC, {results['wall_seconds'] / 60:.1f} minutes in all"
        + (" (**tiny sizes: a smoke run, not a measurement**)" if results.get("tiny") else ""),
        f"* **Command:** `{results['command']}`",
        f"* **Machine:** {machine['cpu']}, {machine['logical_cpus']} logical CPUs, {machine['memory_gb']} GB RAM, "
        f"{machine['os']}, Python {machine['python']}; "
        + ", ".join(f"{k} {v}" for k, v in machine["libraries"].items()),
        "* **Load:** other jobs share this machine; each scenario measures ours and its baseline in the same run, "
        "so compare ratios rather than absolute times across runs. "
        f"Load average when the run started: {results.get('load_average', '?')}.",
        "",
    ]
    out += ["## Summary", "", summary(results), ""]
    for key, title in TITLES.items():
        result = results["scenarios"].get(key)
        out += [f"## {title}", ""]
        if result is None:
            out += [f"Not run: {results.get('skipped', {}).get(key, 'not selected')}.", ""]
            continue
        if key == "3_transforms":
            out += [table(transforms_rows(result)), ""]
            for name, entry in result.items():
                if isinstance(entry, dict) and entry.get("how_measured"):
                    out += [f"*{name}:* {entry['how_measured']}", ""]
            continue
        out += [table(rows_of(result)), ""]
        if key == "4_airflow_overhead":
            out += [overhead_details(result), ""]
        if key == "5_scale":
            out += [scale_details(result), ""]
        out += [f"*How measured:* {result['how_measured']}", ""]
        for note in result.get("notes", []):
            out += [f"*Note:* {note}", ""]
        for plot in result.get("plots", []):
            out += [f"![{key}]({_relative(Path(plot), markdown)})", ""]
    for note in results.get("notes", []):
        out += [f"*Note:* {note}", ""]
    return "\n".join(out).rstrip() + "\n"


def _relative(path: Path, markdown: Path) -> str:
    return os.path.relpath(path if path.is_absolute() else ROOT / path, markdown.resolve().parent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(ROOT / "bench" / "results" / "latest.json"))
    parser.add_argument("--markdown", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    markdown = Path(args.markdown)
    markdown.write_text(render(json.loads(Path(args.results).read_text()), markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
