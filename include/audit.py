"""``make audit``: known vulnerabilities of the pinned dependencies (``constraints.txt``), through pip-audit.

Exit status: 0 when every pinned package was looked up and none has a known vulnerability that is not accepted
in ``docs/known-vulnerabilities.md`` (with its reason); 1 when one has; 2 when the audit could not look packages
up (no vulnerability service reachable, or the service does not know the pinned releases): an audit that checked
nothing must not pass.

Services, tried in order until one audits: ``pypi`` and ``osv`` through pip-audit (per release), then
``pypi-latest``: PyPI's project JSON (``/pypi/<name>/json``), whose ``vulnerabilities`` are those of the latest
release, so it audits the pins that are the latest release and lists the others as not audited. Those must be
listed in the "Not audited" table of ``docs/known-vulnerabilities.md`` with a reason, or the audit exits 2.

Usage::

    python -m include.audit --pip-audit .venv-audit/bin/pip-audit [--service pypi] [--service osv] \
        [--service pypi-latest]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KNOWN = ROOT / "docs" / "known-vulnerabilities.md"
ACCEPTED_ROW = re.compile(r"^\|\s*((?:PYSEC|GHSA|CVE|OSV)-[\w-]+)\s*\|")  # first column of the accepted table
NOT_AUDITED_ROW = re.compile(r"^\|\s*`?([A-Za-z0-9_.-]+)==([^`|\s]+)`?\s*\|")  # "| `name==version` | reason |"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^;\s]+)")
PYPI_JSON = "https://pypi.org/pypi"


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


def not_audited_listed(path: Path = KNOWN) -> set[tuple[str, str]]:
    """Return the (name, version) pins listed as not auditable, each with its reason, in the known-vulnerabilities file."""
    if not path.exists():
        return set()
    rows = (NOT_AUDITED_ROW.match(line) for line in path.read_text().splitlines())
    return {(_normal(m.group(1)), m.group(2)) for m in rows if m}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: Path) -> list[tuple[str, str]]:
    """Return the (name, version) pins of a requirements/constraints file."""
    found = []
    for line in requirements.read_text().splitlines():
        match = PIN.match(line.split("#", 1)[0].strip())
        if match:
            found.append((match.group(1), match.group(2)))
    return found


def _project(name: str, base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/{name}/json", timeout=30) as response:
        return dict(json.load(response))


def audit_latest(
    requirements: Path, ignore: list[str], base: str = PYPI_JSON, known: Path = KNOWN
) -> tuple[int, list[str]]:
    """Audit the pins that are their project's latest release through PyPI's project JSON; list the others."""
    pinned = pins(requirements)
    lines = [f"{len(pinned)} pinned packages in {requirements.name}; service: pypi-latest ({base}/<name>/json)"]
    vulnerable, behind, unreachable, audited = [], [], [], 0
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = {pool.submit(_project, name, base): (name, version) for name, version in pinned}
        for future in concurrent.futures.as_completed(futures):
            name, version = futures[future]
            try:
                project = future.result()
            except (urllib.error.URLError, OSError, ValueError) as exc:
                unreachable.append(f"  {name}=={version}: {exc}")
                continue
            latest = str(project.get("info", {}).get("version"))
            if latest != version:
                behind.append((name, version, latest))
                continue
            audited += 1
            for vuln in project.get("vulnerabilities") or []:
                if vuln.get("withdrawn") or vuln.get("id") in ignore or set(vuln.get("aliases") or []) & set(ignore):
                    continue
                fixes = ", ".join(vuln.get("fixed_in") or []) or "no fixed release"
                vulnerable.append(f"VULNERABLE {name} {version}: {vuln.get('id')} (fixed in {fixes}) "
                                  f"{str(vuln.get('summary') or vuln.get('details') or '')[:200]}")  # fmt: skip
    if unreachable and not audited:
        return 2, [*lines, *unreachable[:5], f"AUDIT NOT DONE with pypi-latest: {base} did not answer"]
    listed = not_audited_listed(known)
    unlisted = sorted(b for b in behind if (_normal(b[0]), b[1]) not in listed)
    lines.append(f"audited {audited} pins (each the latest release); {len(vulnerable)} with a known vulnerability")
    lines += vulnerable
    lines += [f"not audited {n}=={v} (latest is {latest}; the service knows only the latest release's "
              f"vulnerabilities){'' if (n, v, latest) in unlisted else ': listed with its reason'}"
              for n, v, latest in sorted(behind)]  # fmt: skip
    lines += [f"not audited (no answer):\n{line}" for line in unreachable]
    if vulnerable:
        lines.append(f"upgrade the pins, or accept each in {KNOWN.relative_to(ROOT)} with its reason")
        return 1, lines
    if unlisted or unreachable:
        lines.append(
            f"AUDIT INCOMPLETE: {len(unlisted) + len(unreachable)} pins could not be audited and are not listed in the "
            f"'Not audited' table of {KNOWN.relative_to(ROOT)} with a reason"
        )
        return 2, lines
    lines.append(f"no known vulnerabilities (accepted: {', '.join(ignore) or 'none'})")
    return 0, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.audit", description=__doc__.splitlines()[0])
    parser.add_argument("--pip-audit", default="pip-audit", help="the pip-audit executable")
    parser.add_argument("--requirements", type=Path, default=ROOT / "constraints.txt", help="pinned requirements")
    parser.add_argument(
        "--service",
        action="append",
        choices=["pypi", "osv", "pypi-latest"],
        help="vulnerability service(s), tried in order",
    )
    args = parser.parse_args(argv)
    status = 2
    for service in args.service or ["pypi", "osv", "pypi-latest"]:
        if service == "pypi-latest":
            status, lines = audit_latest(args.requirements, accepted())
        else:
            status, lines = audit(args.pip_audit, args.requirements, service, accepted())
        print("\n".join(lines), file=sys.stdout if status == 0 else sys.stderr)
        if status != 2:
            return status
    print(
        "AUDIT NOT DONE: no vulnerability service reachable from here could audit every pinned release; run `make audit` "
        f"where pypi.org or api.osv.dev answers (see {KNOWN.relative_to(ROOT)}).",
        file=sys.stderr,
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
