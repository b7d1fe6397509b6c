"""``make audit``: known vulnerabilities of the pinned dependencies (``constraints.txt``), through pip-audit.

Exit status: 0 when every pinned package was looked up and none has a known vulnerability that is not accepted
in ``docs/known-vulnerabilities.md`` (with its reason); 1 when one has; 2 when the audit could not look packages
up (no vulnerability service reachable, or the service does not know the pinned releases): an audit that checked
nothing must not pass.

Usage::

    python -m include.audit --pip-audit .venv-audit/bin/pip-audit [--service pypi] [--service osv]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KNOWN = ROOT / "docs" / "known-vulnerabilities.md"
ACCEPTED_ROW = re.compile(r"^\|\s*((?:PYSEC|GHSA|CVE|OSV)-[\w-]+)\s*\|")  # first column of the accepted table


def accepted(path: Path = KNOWN) -> list[str]:
    """Return the vulnerability ids accepted (each with a reason) in the known-vulnerabilities file."""
    if not path.exists():
        return []
    return [m.group(1) for line in path.read_text().splitlines() if (m := ACCEPTED_ROW.match(line))]


def audit(pip_audit: str, requirements: Path, service: str, ignore: list[str]) -> tuple[int, list[str]]:
    """Run pip-audit over pinned ``requirements``; return the exit status and the lines to print."""
    command = [pip_audit, "-r", str(requirements), "--no-deps", "--disable-pip", "--progress-spinner", "off",
               "-f", "json", "-s", service, *[arg for vuln in ignore for arg in ("--ignore-vuln", vuln)]]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return 2, [f"AUDIT NOT DONE: pip-audit could not reach the {service} vulnerability service: {reason}"]
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    found = [(d, v) for d in dependencies for v in d.get("vulns", [])]
    lines = [f"{len(dependencies)} pinned packages in {requirements.name}; service: {service}"]
    for dep, vuln in found:
        fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed release"
        lines.append(
            f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixes}) {vuln.get('description', '')[:200]}"
        )
    if found:
        lines.append(
            f"{len(found)} known vulnerabilities: upgrade the pins, or accept each in {KNOWN.relative_to(ROOT)} with its reason"
        )
        return 1, lines
    if skipped:
        lines += [f"  {d['name']}: {d['skip_reason']}" for d in skipped[:5]]
        lines.append(
            f"AUDIT NOT DONE with {service}: {len(skipped)} of {len(dependencies)} packages could not be looked up "
            "(reasons above): the service that answered has no vulnerability data for these releases."
        )
        return 2, lines
    lines.append(f"no known vulnerabilities (accepted: {', '.join(ignore) or 'none'})")
    return 0, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.audit", description=__doc__.splitlines()[0])
    parser.add_argument("--pip-audit", default="pip-audit", help="the pip-audit executable")
    parser.add_argument("--requirements", type=Path, default=ROOT / "constraints.txt", help="pinned requirements")
    parser.add_argument(
        "--service", action="append", choices=["pypi", "osv"], help="vulnerability service(s), tried in order"
    )
    args = parser.parse_args(argv)
    status = 2
    for service in args.service or ["pypi", "osv"]:
        status, lines = audit(args.pip_audit, args.requirements, service, accepted())
        print("\n".join(lines), file=sys.stdout if status == 0 else sys.stderr)
        if status != 2:
            return status
    print(
        "AUDIT NOT DONE: no vulnerability service reachable from here knows the pinned releases; run `make audit` "
        f"where pypi.org or api.osv.dev answers (see {KNOWN.relative_to(ROOT)}).",
        file=sys.stderr,
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
