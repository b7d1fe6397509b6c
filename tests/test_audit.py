"""``make audit``'s fallback service: PyPI's project JSON, served here by a loopback HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from include.audit import audit_latest

PROJECTS: dict[str, dict[str, Any]] = {
    "clean": {"info": {"version": "1.0"}, "vulnerabilities": []},
    "held": {"info": {"version": "3.0"}, "vulnerabilities": []},
    "weak": {
        "info": {"version": "2.1"},
        "vulnerabilities": [
            {"id": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-2026-1"], "fixed_in": [], "summary": "timing leak"},
            {"id": "PYSEC-2026-9", "aliases": [], "fixed_in": ["2.2"], "summary": "old", "withdrawn": "2026-01-01"},
        ],
    },
}


class PyPI(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        name = self.path.strip("/").split("/")[1]
        project = PROJECTS.get(name)
        body = json.dumps(project or {"message": "Not Found"}).encode()
        self.send_response(200 if project else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def pypi() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PyPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pypi"
    server.shutdown()


def files(tmp_path: Path, pins: str, not_audited: str = "") -> tuple[Path, Path]:
    requirements, known = tmp_path / "constraints.txt", tmp_path / "known.md"
    requirements.write_text(pins)
    known.write_text("## Not audited\n\n| pin | why | review by |\n|---|---|---|\n" + not_audited)
    return requirements, known


def test_pins_that_are_the_latest_release_are_audited_and_a_vulnerability_fails(pypi: str, tmp_path: Path) -> None:
    requirements, known = files(tmp_path, "clean==1.0\nweak[extra]==2.1 ; python_version >= '3'\n# comment\n")
    status, lines = audit_latest(requirements, [], pypi, known)
    assert status == 1
    assert "audited 2 pins (each the latest release); 1 with a known vulnerability" in lines
    assert [line for line in lines if line.startswith("VULNERABLE")] == [
        "VULNERABLE weak 2.1: GHSA-aaaa-bbbb-cccc (fixed in no fixed release) timing leak"  # the withdrawn one is not
    ]
    status, lines = audit_latest(requirements, ["CVE-2026-1"], pypi, known)  # accepted by an alias
    assert status == 0 and lines[-1] == "no known vulnerabilities (accepted: CVE-2026-1)"


def test_a_pin_behind_the_latest_release_must_be_listed_with_its_reason(pypi: str, tmp_path: Path) -> None:
    requirements, known = files(tmp_path, "clean==1.0\nheld==2.0\n")
    status, lines = audit_latest(requirements, [], pypi, known)
    assert status == 2 and lines[-1].startswith("AUDIT INCOMPLETE: 1 pins could not be audited")
    requirements, known = files(tmp_path, "clean==1.0\nheld==2.0\n", "| `held==2.0` | held by a cap | later |\n")
    status, lines = audit_latest(requirements, [], pypi, known)
    assert status == 0
    assert "not audited held==2.0 (latest is 3.0; the service knows only the latest release's vulnerabilities): " \
           "listed with its reason" in lines  # fmt: skip


def test_nothing_audited_is_no_pass(pypi: str, tmp_path: Path) -> None:
    requirements, known = files(tmp_path, "missing==1.0\n")
    assert audit_latest(requirements, [], pypi, known)[0] == 2
    requirements, known = files(tmp_path, "clean==1.0\n")
    status, lines = audit_latest(requirements, [], "http://127.0.0.1:9/pypi", known)  # nothing listens on port 9
    assert status == 2 and "did not answer" in lines[-1]
