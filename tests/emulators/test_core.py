"""The shared emulator machinery: fault injection, the request log, the CLI and loopback binding."""

from __future__ import annotations

import collections
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from include.emulators import Emulators
from include.emulators.core import EmulatorServer, FaultConfig, draw_fault
from include.emulators.garoon import GaroonApp
from tests.emulators.fixtures import ANCHOR, GaroonClient, LineWorksClient

ROOT = Path(__file__).resolve().parents[2]


def test_fault_draws_are_deterministic_under_a_seed() -> None:
    config = FaultConfig(seed=7, error_rate=0.2, reset_rate=0.1, latency_ms=100, latency_jitter_ms=50)
    first = [draw_fault(config, seq, "GET", "/x") for seq in range(500)]
    again = [draw_fault(config, seq, "GET", "/x") for seq in range(500)]
    other = [draw_fault(FaultConfig(**{**config.__dict__, "seed": 8}), seq, "GET", "/x") for seq in range(500)]
    assert first == again
    assert first != other


def test_fault_rates_and_latency_follow_the_configuration() -> None:
    config = FaultConfig(error_rate=0.10, reset_rate=0.05, latency_ms=150, latency_jitter_ms=50)
    draws = [draw_fault(config, seq, "POST", "/x") for seq in range(20_000)]
    actions = collections.Counter(d.action for d in draws)
    assert 0.09 < actions["error"] / len(draws) < 0.11
    assert 0.04 < actions["reset"] / len(draws) < 0.06
    latencies = [d.latency_s for d in draws]
    assert min(latencies) >= 0.1 and max(latencies) <= 0.2
    assert {d.status for d in draws if d.action == "error"} <= {500, 502, 503}


def test_429_storms_hit_the_first_requests_of_every_period() -> None:
    config = FaultConfig(storm_every=10, storm_length=3)
    # the emulator numbers requests from 1; faults set before request 1 count it as their first
    throttled = [seq for seq in range(1, 41) if draw_fault(config, seq, "GET", "/x").action == "throttle"]
    assert throttled == [1, 2, 3, 11, 12, 13, 21, 22, 23, 31, 32, 33]
    config.first_seq = 7  # set after request 7: request 8 opens the first storm
    throttled = [seq for seq in range(1, 41) if draw_fault(config, seq, "GET", "/x").action == "throttle"]
    assert throttled[:6] == [8, 9, 10, 18, 19, 20]


def test_faults_only_touch_matching_paths_and_methods() -> None:
    config = FaultConfig(error_rate=1.0, paths="/events", methods=["POST"])
    assert draw_fault(config, 1, "POST", "/v1.0/users/u/calendar/events").action == "error"
    assert draw_fault(config, 1, "GET", "/v1.0/users/u/calendar/events").action == "none"
    assert draw_fault(config, 1, "POST", "/v1.0/calendars").action == "none"


@pytest.mark.parametrize(
    "settings, complaint",
    [({"bogus": 1}, "unknown fault settings"), ({"error_rate": 2}, "probability"), ({"latency_ms": "x"}, "number")],
)
def test_bad_fault_settings_are_refused_with_a_reason(emulators: Emulators, settings: dict, complaint: str) -> None:
    response = requests.post(f"{emulators.garoon.url}/_emulator/faults", json=settings, timeout=10)
    assert response.status_code == 400
    assert complaint in response.json()["message"]


def test_lost_response_applies_the_write_but_drops_the_answer(lineworks: LineWorksClient) -> None:
    user = lineworks.call("GET", "/users").json()["users"][0]
    lineworks.faults(lost_response_rate=1.0, paths="/events$")
    body = {
        "eventComponents": [
            {
                "eventId": "lost-1",
                "summary": "written, answer lost",
                "start": {"dateTime": "2026-11-17T10:00:00", "timeZone": "Asia/Tokyo"},
                "end": {"dateTime": "2026-11-17T11:00:00", "timeZone": "Asia/Tokyo"},
            }
        ],
        "sendNotification": False,
    }
    with pytest.raises(requests.ConnectionError):
        lineworks.call("POST", f"/users/{user['userId']}/calendar/events", json=body)
    lineworks.faults()
    assert [e["eventComponents"][0]["eventId"] for e in lineworks.state()["events"]] == ["lost-1"]
    assert lineworks.requests(method="POST")[-1]["fault"] == "lost_response"


def test_the_same_seed_draws_the_same_faults_whatever_came_before(garoon: GaroonClient) -> None:
    """Faults count requests from the moment they are set, so a test's faults do not depend on its neighbours."""

    def outcomes(earlier_requests: int) -> list[object]:
        for _ in range(earlier_requests):
            garoon.api("GET", "/base/users")
        garoon.faults(seed=3, error_rate=0.3, error_statuses=[503])
        since = garoon.next_seq() - 1
        for _ in range(30):
            garoon.http.get(f"{garoon.base}/g/api/v1/base/users", headers={"X-Cybozu-Authorization": garoon.auth})
        garoon.faults()
        return [e["status"] for e in garoon.requests(since=since)]

    first, later = outcomes(0), outcomes(7)
    assert first == later
    assert 503 in first and 200 in first


def test_hanging_response_outlasts_the_client_timeout(garoon: GaroonClient) -> None:
    garoon.faults(hang_rate=1.0, hang_seconds=1.0)
    started = time.monotonic()
    with pytest.raises((requests.ReadTimeout, requests.ConnectionError)):
        garoon.http.get(f"{garoon.base}/g/api/v1/base/users", headers={"X-Cybozu-Authorization": garoon.auth}, timeout=0.3)
    assert time.monotonic() - started < 1.0
    garoon.faults()


def test_request_log_filters_by_method_path_and_sequence(garoon: GaroonClient) -> None:
    garoon.api("GET", "/base/users")
    garoon.api("GET", "/schedule/facilities")
    garoon.api("DELETE", "/schedule/events/999999")
    log = garoon.http.get(f"{garoon.base}/_emulator/requests", timeout=10).json()
    assert [(e["method"], e["path"], e["status"]) for e in log["requests"]] == [
        ("GET", "/g/api/v1/base/users", 200),
        ("GET", "/g/api/v1/schedule/facilities", 200),
        ("DELETE", "/g/api/v1/schedule/events/999999", 404),
    ]
    first_seq = log["requests"][0]["seq"]
    later = garoon.http.get(
        f"{garoon.base}/_emulator/requests", params={"since": first_seq, "path": "facilities"}, timeout=10
    ).json()["requests"]
    assert [e["path"] for e in later] == ["/g/api/v1/schedule/facilities"]


def test_emulators_refuse_to_bind_beyond_loopback(emulators: Emulators) -> None:
    with pytest.raises(ValueError, match="loopback"):
        EmulatorServer(GaroonApp(emulators.tenant), 0, host="0.0.0.0")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_command_line_serves_both_apis_on_the_given_ports() -> None:
    lw_port, gr_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "include.emulators", "--lineworks-port", str(lw_port), "--garoon-port", str(gr_port),
         "--anchor-date", ANCHOR.isoformat(), "--rate-limit", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        banner = process.stdout.readline() if process.stdout else ""
        assert f"127.0.0.1:{lw_port}" in banner
        lineworks = requests.get(f"http://127.0.0.1:{lw_port}/_emulator/state", timeout=10).json()
        garoon = requests.get(f"http://127.0.0.1:{gr_port}/_emulator/state", timeout=10).json()
        assert lineworks["api"] == "lineworks" and lineworks["config"]["rate_limit_per_minute"] == 60
        assert garoon["api"] == "garoon" and garoon["eventCount"] > 200
        with socket.socket() as probe:  # not reachable on another interface address
            probe.settimeout(1)
            assert probe.connect_ex(("127.0.0.2", lw_port)) != 0
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_command_line_help_documents_every_knob() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "include.emulators", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for knob in ("--lineworks-port", "--garoon-port", "--anchor-date", "--seed", "--rate-limit", "--time-scale",
                 "--rate-window", "--token-lifetime", "--refresh-token-rotation", "--duplicate-event-id",
                 "--accept-offset-datetime", "--max-concurrent", "--short-pages", "--range-mode", "--basic-auth",
                 "--admin-sees-private", "--on-premise", "--faults"):
        assert knob in out
