"""``python -m bench.compare_stages``: each stage timed for the checkout and for a git revision, side by side."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_stage_is_timed_for_both_revisions() -> None:
    # In a process of its own: it imports a second copy of calendar_etl, which must not meet this worker's.
    result = subprocess.run(
        [sys.executable, "-m", "bench.compare_stages", "HEAD", "--events", "300", "--repeats", "1",
         "--stages", "g2c,collapse,resolve,c2l,ics"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {
        m["stage"]: m
        for m in re.finditer(
            r"^(?P<stage>\w+)\s+(?P<old>[\d.]+) / [\d.]+\s+(?P<new>[\d.]+) / [\d.]+\s+(?P<ratio>[\d.]+)\s*$",
            result.stdout,
            re.MULTILINE,
        )
    }
    assert set(rows) == {"g2c", "collapse", "resolve", "c2l", "ics"}, result.stdout
    assert all(float(m["old"]) > 0 and float(m["new"]) > 0 for m in rows.values())
