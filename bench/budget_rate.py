"""How much of a LINE WORKS rate limit four processes sharing one rate budget get, and how many 429s.

The LINE WORKS emulator (started here on free ports) allows N = 240 calls per "minute" per API
operation, time-scaled to 6 s (``time_scale`` 10). Four spawned processes each make GET /users calls
through a :class:`LineWorksHook` whose budget is ``Budget.for_limit(240, 6 s, share 1.0)`` in one
shared store, for ``--seconds`` per store: a SQLite file, PostgreSQL (a scratch database on
127.0.0.1:5432) and Redis (127.0.0.1:6379), each when reachable. A baseline run has the same four
processes call without a budget, sleeping 1 s after each 429.

Prints JSON: per run the calls answered 200 per window (over the run) as a fraction of N, the 429 count, the
busiest sliding window, and p50/p99 of the time spent in ``RateBudget.acquire`` and in the store's
reservation. Usage: ``.venv/bin/python bench/budget_rate.py [--seconds 30] [--stores sqlite,postgres,redis]``.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(ROOT / "plugins")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from include.emulators.lineworks import (  # noqa: E402
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_KEYS,
    DEMO_SERVICE_ACCOUNT,
)
from include.scratch_db import ScratchDatabaseUnavailable, scratch_postgres  # noqa: E402

LIMIT = 240  # calls per "minute" per operation (Standard plan)
TIME_SCALE = 10.0  # a "minute" lasts 6 s
WINDOW_S = 60.0 / TIME_SCALE
PROCESSES = 4
REDIS_URL = "redis://127.0.0.1:6379/0"
USERS_PATH = r"^/v1\.0/users$"


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def connection(base: str, conn_id: str, budget_url: str | None) -> None:
    extra: dict[str, Any] = {
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "service_account": DEMO_SERVICE_ACCOUNT,
        "private_key": (DEMO_KEYS / "lineworks_demo_private.pem").read_text(),
        "token_url": f"{base}/oauth2/v2.0/token",
        "rate_limit_per_minute": LIMIT,
        "rate_window_seconds": WINDOW_S,
        "budget_share": 1.0,
    }
    if budget_url:
        extra["rate_budget_url"] = budget_url
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
        {"conn_type": "lineworks", "host": f"{base}/v1.0", "extra": extra}
    )


# ----------------------------------------------------------------------------------------------
# Child processes: one per caller, running every phase in turn


def _hook_for(base: str, phase: dict[str, Any], reserve_ms: list[float]) -> Any:
    from calendar_etl.hooks.lineworks import LineWorksHook
    from calendar_etl.ratelimit import RateBudget, RedisBudgetStore

    conn_id = f"bench_{phase['name']}"
    connection(base, conn_id, phase.get("budget_url"))
    budget = None
    if phase.get("redis_prefix"):
        import redis

        budget = RateBudget(RedisBudgetStore(redis.Redis.from_url(REDIS_URL), prefix=phase["redis_prefix"]))
    hook = LineWorksHook(conn_id, budget=budget)
    if phase["name"] != "baseline":
        store = hook.budget.store
        reserve = store.reserve

        def timed_reserve(*args: Any) -> float:
            started = time.perf_counter()
            try:
                return float(reserve(*args))
            finally:
                reserve_ms.append((time.perf_counter() - started) * 1000)

        store.reserve = timed_reserve
    return hook


def _run_phase(base: str, phase: dict[str, Any], seconds: float, go: Any) -> dict[str, Any]:
    reserve_ms: list[float] = []
    acquire_ms: list[float] = []
    hook = _hook_for(base, phase, reserve_ms)
    hook.access_token()  # the token request is not part of the measured run
    url = hook.base_url + "/users"
    go.wait(timeout=120)
    end = time.time() + seconds
    if phase["name"] == "baseline":
        headers = {"Authorization": f"Bearer {hook.access_token()}"}
        session = requests.Session()
        ok = refused = 0
        while time.time() < end:
            response = session.get(url, headers=headers, params={"count": 1}, timeout=30)
            if response.status_code == 429:
                refused += 1
                time.sleep(1.0)
            else:
                ok += 1
        return {"ok": ok, "refused": refused}
    budget = hook.budget
    acquire = budget.acquire

    def timed_acquire(*args: Any) -> float:
        started = time.perf_counter()
        try:
            return float(acquire(*args))
        finally:
            acquire_ms.append((time.perf_counter() - started) * 1000)

    budget.acquire = timed_acquire
    calls = 0
    while time.time() < end:
        hook.request("GET", url, operation="user-list", params={"count": 1})
        calls += 1
    return {"ok": calls, "acquire_ms": acquire_ms, "reserve_ms": reserve_ms, "given_up": budget.given_up}


def caller(base: str, phases: list[dict[str, Any]], seconds: float, ready: Any, go: Any, results: Any) -> None:
    for phase in phases:
        ready.wait(timeout=300)  # the emulator has been reset for this phase
        try:
            results.put(("ok", _run_phase(base, phase, seconds, go)))
        except BaseException:
            results.put(("error", traceback.format_exc()))
            go.abort()
            return


# ----------------------------------------------------------------------------------------------
# The parent: emulator, stores, phases, figures


def reset_emulator(base: str) -> None:
    requests.post(f"{base}/_emulator/reset", json={}, timeout=10).raise_for_status()
    requests.post(
        f"{base}/_emulator/config",
        json={"rate_limit_per_minute": LIMIT, "time_scale": TIME_SCALE, "rate_window": "sliding"},
        timeout=10,
    ).raise_for_status()


def figures(base: str, outputs: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    seen = requests.get(f"{base}/_emulator/requests", params={"path": USERS_PATH}, timeout=60).json()["requests"]
    answered = sorted(e["time"] for e in seen if e["status"] == 200)
    refused = sum(1 for e in seen if e["status"] == 429)
    per_window = len(answered) / (seconds / WINDOW_S)
    busiest = max((bisect.bisect_left(answered, t + WINDOW_S) - i for i, t in enumerate(answered)), default=0)
    result: dict[str, Any] = {
        "calls_200": len(answered),
        "responses_429": refused,
        "calls_per_window_over_N": round(per_window / LIMIT, 4),
        "busiest_window": busiest,
        "other_statuses": sorted({e["status"] for e in seen} - {200, 429}),
    }
    acquire = [ms for out in outputs for ms in out.get("acquire_ms", [])]
    reserve = [ms for out in outputs for ms in out.get("reserve_ms", [])]
    if acquire:
        result["acquire_wait_ms"] = {
            "p50": round(percentile(acquire, 0.5) or 0, 2),
            "p99": round(percentile(acquire, 0.99) or 0, 2),
        }
        result["store_reserve_ms"] = {
            "p50": round(percentile(reserve, 0.5) or 0, 2),
            "p99": round(percentile(reserve, 0.99) or 0, 2),
        }
        result["slots_given_up"] = sum(out.get("given_up", 0) for out in outputs)
    return result


def delete_redis_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def redis_available() -> str | None:
    try:
        import redis
    except ImportError:
        return "redis is not installed"
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis unreachable: {exc}"
    finally:
        client.close()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each run")
    parser.add_argument("--stores", default="sqlite,postgres,redis")
    args = parser.parse_args()

    from include.emulators import start_emulators

    workdir = Path(tempfile.mkdtemp(prefix="budget-bench-"))
    os.environ.setdefault("AIRFLOW_HOME", str(workdir / "airflow"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    started = time.time()
    phases: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    cleanup = contextlib.ExitStack()
    wanted = [s.strip() for s in args.stores.split(",") if s.strip()]
    redis_prefix = f"calendar_etl_bench:{uuid.uuid4().hex[:12]}:"
    if "sqlite" in wanted:
        phases.append({"name": "sqlite", "budget_url": f"sqlite:///{workdir / 'budget.db'}"})
    if "postgres" in wanted:
        try:
            phases.append({"name": "postgres", "budget_url": cleanup.enter_context(scratch_postgres("calendar_etl_bench"))})
        except ScratchDatabaseUnavailable as exc:
            skipped["postgres"] = str(exc)
    if "redis" in wanted:
        reason = redis_available()
        if reason:
            skipped["redis"] = reason
        else:
            phases.append({"name": "redis", "redis_prefix": redis_prefix})
            cleanup.callback(delete_redis_keys, redis_prefix)
    phases.append({"name": "baseline"})

    emulators = start_emulators()
    base = emulators.lineworks.url
    spawn = multiprocessing.get_context("spawn")
    ready, go = spawn.Barrier(PROCESSES + 1), spawn.Barrier(PROCESSES + 1)
    results = spawn.Queue()
    children = [
        spawn.Process(target=caller, args=(base, phases, args.seconds, ready, go, results), daemon=True)
        for _ in range(PROCESSES)
    ]
    runs: dict[str, Any] = {}
    try:
        for child in children:
            child.start()
        for phase in phases:
            reset_emulator(base)
            ready.wait(timeout=300)
            go.wait(timeout=300)
            outputs = []
            for _ in children:
                status, payload = results.get(timeout=args.seconds + 120)
                if status != "ok":
                    raise RuntimeError(f"{phase['name']}: a caller failed:\n{payload}")
                outputs.append(payload)
            run = figures(base, outputs, args.seconds)
            if phase["name"] == "baseline":
                run["client_429_sleeps"] = sum(out["refused"] for out in outputs)
            runs[phase["name"]] = run
            print(f"{phase['name']}: {json.dumps(run)}", file=sys.stderr, flush=True)
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.terminate()
        emulators.stop()
        cleanup.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        json.dumps(
            {
                "scenario": {
                    "limit_N_per_window": LIMIT,
                    "window_s": WINDOW_S,
                    "processes": PROCESSES,
                    "seconds_per_run": args.seconds,
                    "budget": f"Budget.for_limit({LIMIT}, {WINDOW_S:g}, share=1.0): capacity 1, {LIMIT - 1} per window",
                    "operation": "GET /users (user-list)",
                },
                "runs": runs,
                "skipped": skipped,
                "total_seconds": round(time.time() - started, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
