"""Requests per second the emulators serve with faults off (they must never bound a benchmark).

Starts ``python -m include.emulators`` in its own process, then drives simple authenticated GETs
from client threads in this process over keep-alive connections for a fixed time, and prints
requests/s per emulator. Usage: ``make bench-emulators`` or
``.venv/bin/python bench/emulator_throughput.py [--seconds 5] [--clients 4]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from include.emulators.lineworks import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_KEYS, DEMO_SERVICE_ACCOUNT  # noqa: E402
from include.emulators.tenant import ADMIN_LOGIN, DEMO_PASSWORD  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            requests.get(f"{url}/_emulator/config", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"emulator at {url} did not start")


def drive(make_call: Callable[[requests.Session], requests.Response], seconds: float, clients: int) -> tuple[int, int]:
    """Return (successful requests, failures) made by ``clients`` threads within ``seconds``."""
    done = [0] * clients
    failed = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(index: int) -> None:
        session = requests.Session()
        while time.perf_counter() < stop:
            if make_call(session).status_code == 200:
                done[index] += 1
            else:
                failed[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done), sum(failed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    lw_port, gr_port = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "include.emulators", "--lineworks-port", str(lw_port), "--garoon-port", str(gr_port),
         "--rate-limit", "100000000", "--max-concurrent", "1000", "--anchor-date", "2026-11-16"],
        cwd=ROOT, stdout=subprocess.DEVNULL,
    )
    try:
        lw, gr = f"http://127.0.0.1:{lw_port}", f"http://127.0.0.1:{gr_port}"
        wait_up(lw)
        wait_up(gr)
        import jwt

        now = int(time.time())
        assertion = jwt.encode(
            {"iss": DEMO_CLIENT_ID, "sub": DEMO_SERVICE_ACCOUNT, "iat": now, "exp": now + 3600},
            (DEMO_KEYS / "lineworks_demo_private.pem").read_text(), algorithm="RS256",
        )
        token = requests.post(f"{lw}/oauth2/v2.0/token", data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET, "assertion": assertion, "scope": "calendar user.read"}, timeout=10,
        ).json()["access_token"]
        user = requests.get(f"{lw}/v1.0/users", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()["users"][0]
        lw_headers = {"Authorization": f"Bearer {token}"}
        gr_headers = {"X-Cybozu-Authorization": base64.b64encode(f"{ADMIN_LOGIN}:{DEMO_PASSWORD}".encode()).decode()}
        results = {}
        for name, call in (
            ("lineworks GET /v1.0/users/{id}", lambda s: s.get(f"{lw}/v1.0/users/{user['userId']}", headers=lw_headers, timeout=10)),
            ("garoon GET /g/api/v1/base/users", lambda s: s.get(f"{gr}/g/api/v1/base/users", headers=gr_headers, timeout=10)),
        ):
            ok, failed = drive(call, args.seconds, args.clients)
            results[name] = {"requests_per_s": round(ok / args.seconds, 1), "failed": failed}
        print(json.dumps({"seconds": args.seconds, "clients": args.clients, "results": results}, indent=2))
        return 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
