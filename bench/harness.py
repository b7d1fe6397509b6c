"""What the ``make bench`` scenarios share: emulators, connections, bulk Garoon data, operators run without a
scheduler, DAG runs through a real Airflow (or ``dag.test``), and figures from the emulators' request logs.

Every scenario in ``bench/`` builds on a :class:`Lab`: both emulators on free loopback ports (anchored on the same
date as the tests), a work folder, and the connections that point the product at them. The product code runs
unchanged: hooks, operators and DAGs see only ``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*`` environment variables.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import json
import math
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench import common
from include.emulators import Emulators, start_emulators
from include.emulators.garoon import GaroonConfig
from include.emulators.lineworks import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_KEYS,
    DEMO_SERVICE_ACCOUNT,
    LineWorksConfig,
)
from include.emulators.tenant import ADMIN_LOGIN, DEMO_PASSWORD, demo_tenant
from tests.dags.conftest import DEMO_WINDOW as DEMO_WINDOW  # the demo tenant's events (the tests' window)
from tests.dags.conftest import DagHarness, garoon_items
from tests.emulators.fixtures import ANCHOR, EmulatorControl, GaroonClient

Json = dict[str, Any]

ROOT = common.ROOT
RESULTS = ROOT / "bench" / "results"
DAG_ID = "garoon_to_lineworks"
FAST = 1_000_000  # calls per minute: "no limit" for the emulator and the hook's budget alike
SEED_CHUNK = 1_000  # events per POST /_emulator/seed (its body is capped at 16 MiB)
EVENTS_PER_DAY = 4.5  # about what the demo tenant's generator places per day
BULK_SPAN_DAYS = 180  # bulk Garoon data: half a year around the anchor (its series run over the whole range)
MIN_SPAN_DAYS = 14
SEED_ID_STRIDE = 1_000_000  # event ids of the demo tenant generated with seed k start at 1001 + k × this
TIMING_PLUGINS = ROOT / "bench" / "airflow_plugins"  # the execute() timer (see execute_timing.py there)
TIMINGS_ENV = "CALENDAR_ETL_BENCH_TIMINGS"
LEDGER_CONN_ID = "calendar_etl_ledger"
LINEWORKS_EVENTS = r"^/v1\.0/users/[^/]+/(calendar|calendars/[^/]+)/events"
GAROON_EVENT_LIST = r"^/g/api/v1/schedule/events$"


# ---------------------------------------------------------------------- the lab: emulators and connections


@dataclass
class Lab:
    """Both emulators, a work folder, and the environment that points the product at them."""

    emulators: Emulators
    workdir: Path
    lineworks: EmulatorControl = field(init=False)
    garoon: EmulatorControl = field(init=False)

    def __post_init__(self) -> None:
        self.lineworks = EmulatorControl(self.emulators.lineworks.url, asdict(LineWorksConfig()))
        self.garoon = EmulatorControl(self.emulators.garoon.url, asdict(GaroonConfig()))

    @classmethod
    @contextlib.contextmanager
    def open(cls, workdir: Path) -> Iterator[Lab]:
        """Start both emulators (tenant anchored on :data:`ANCHOR`) for the duration of the block."""
        workdir.mkdir(parents=True, exist_ok=True)
        emulators = start_emulators(anchor=ANCHOR)
        try:
            yield cls(emulators, workdir)
        finally:
            emulators.stop()

    def reset(
        self,
        *,
        garoon_events: Sequence[Json] | None = None,
        limit: int = FAST,
        time_scale: float = 1.0,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
    ) -> None:
        """Reset both emulators: Garoon to the demo tenant, or to exactly ``garoon_events``; LINE WORKS to no
        events, ``limit`` calls per (scaled) minute, and ``latency_ms`` ± ``jitter_ms`` on every LINE WORKS call."""
        self.lineworks.reset()
        self.lineworks.configure(rate_limit_per_minute=limit, time_scale=time_scale)
        if latency_ms or jitter_ms:
            self.lineworks.faults(latency_ms=latency_ms, latency_jitter_ms=jitter_ms)
        if garoon_events is None:
            self.garoon.reset()
            return
        self.garoon.reset(empty=True)
        for start in range(0, len(garoon_events), SEED_CHUNK):
            self.garoon.seed(list(garoon_events[start : start + SEED_CHUNK])).raise_for_status()

    def env(
        self,
        home: Path,
        *,
        limit: int = FAST,
        window_s: float = 60.0,
        share: float | None = None,
        spread_s: float | None = None,
    ) -> dict[str, str]:
        """Return the connections and variables the product reads, for a run whose files live under ``home``.

        ``limit``, ``window_s``, ``share`` and ``spread_s`` set the LINE WORKS hook's rate budget (connection extras
        ``rate_limit_per_minute``, ``rate_window_seconds``, ``budget_share``, ``rate_spread_seconds``); the emulator's
        own limit is set by :meth:`reset`. The budget's store and the ledger are SQLite files in ``home``.
        """
        home.mkdir(parents=True, exist_ok=True)
        budget = f"sqlite:///{home / 'budget.db'}"
        extra: Json = {
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "service_account": DEMO_SERVICE_ACCOUNT,
            "private_key": (DEMO_KEYS / "lineworks_demo_private.pem").read_text(),
            "token_url": f"{self.emulators.lineworks.url}/oauth2/v2.0/token",
            "scope": "calendar calendar.read user.read",
            "rate_budget_url": budget,
            "rate_limit_per_minute": limit,
            "rate_window_seconds": window_s,
        }
        if share is not None:
            extra["budget_share"] = share
        if spread_s is not None:
            extra["rate_spread_seconds"] = spread_s
        lineworks = {"conn_type": "lineworks", "host": f"{self.emulators.lineworks.url}/v1.0", "extra": extra}
        garoon = {"conn_type": "garoon", "host": self.emulators.garoon.url, "login": ADMIN_LOGIN,
                  "password": DEMO_PASSWORD, "extra": {"rate_budget_url": budget}}  # fmt: skip
        return {
            "AIRFLOW_CONN_LINEWORKS_DEFAULT": json.dumps(lineworks),
            "AIRFLOW_CONN_GAROON_DEFAULT": json.dumps(garoon),
            f"AIRFLOW_CONN_{LEDGER_CONN_ID.upper()}": f"sqlite:///{home / 'ledger.db'}",
            "AIRFLOW_VAR_CALENDAR_ETL_LEDGER_CONN_ID": LEDGER_CONN_ID,
            "AIRFLOW_VAR_CALENDAR_ETL_BASE_PATH": str(home / "data"),
        }

    def harness(self) -> DagHarness:
        """The tests' view of the emulators (for :func:`source_items`)."""
        return DagHarness(self.emulators, self.workdir, self.lineworks, self.garoon)


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block (child processes inherit them), then restore the old ones."""
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ---------------------------------------------------------------------- bulk Garoon data


@dataclass(frozen=True)
class GaroonData:
    """Raw Garoon schedule objects to seed, and the window (ISO dates, end exclusive) that holds them."""

    events: list[Json]
    start: str
    end: str

    @property
    def schedule_objects(self) -> int:
        """Events and series masters (edited occurrences not counted)."""
        return sum(1 for e in self.events if not e.get("repeatId"))

    @property
    def window(self) -> dict[str, str]:
        return {"start": self.start, "end": self.end}


def bulk_garoon_events(count: int, *, span_days: int = BULK_SPAN_DAYS) -> GaroonData:
    """Return ``count`` Garoon schedule objects of the demo tenant's own people and rooms, at most ``span_days``
    around :data:`ANCHOR`.

    The emulator's demo tenant generator (``demo_tenant``) places about 4.5 events a day (meetings, trips,
    all-day and start-only events) plus its 13 repeating series over its range; for more, it runs again with
    seeds 1, 2, ... over the same range, each run's event ids moved past the previous ones' and its series
    left out (the series stay those of seed 0). The result is cut to the first ``count`` events (edited
    occurrences travel with their series). Nothing in the emulator changes: the events go in through
    ``POST /_emulator/seed``.
    """
    half = max(MIN_SPAN_DAYS, min(span_days, math.ceil(count / EVENTS_PER_DAY))) // 2
    events: list[Json] = []
    masters: set[str] = set()
    seed = 0
    while len(masters) < count:
        for event in demo_tenant(ANCHOR, seed, days_before=half, days_after=half).garoon_events:
            if seed and event["eventType"] == "REPEATING":
                continue
            event = {**event, "id": str(int(event["id"]) + seed * SEED_ID_STRIDE)}
            if event.get("repeatId"):
                if event["id"] in masters:
                    events.append(event)
            elif len(masters) < count:
                masters.add(event["id"])
                events.append(event)
        seed += 1
    first, end = ANCHOR - dt.timedelta(days=half), ANCHOR + dt.timedelta(days=half)
    return GaroonData(events, first.isoformat(), end.isoformat())


def garoon_range(window: Mapping[str, str]) -> dict[str, str]:
    """Return the Garoon ``rangeStart``/``rangeEnd`` of a window of Asia/Tokyo days (the DAGs' zone)."""
    from tests.e2e.conftest import tokyo_range

    first = dt.date.fromisoformat(window["start"])
    return tokyo_range(first, (dt.date.fromisoformat(window["end"]) - first).days)


def source_items(lab: Lab, window: Mapping[str, str]) -> dict[str, int]:
    """Return how many Garoon items (events and occurrences) each user's list holds in ``window``, read through
    the REST API independently of the product; ``"*"`` is the de-duplicated total."""
    listed = garoon_range(window)
    client = GaroonClient(lab.emulators.garoon.url)
    per_user = {
        str(user["id"]): len(client.all_events(target=user["id"], targetType="user", **listed))
        for user in lab.garoon.state()["users"]
    }
    per_user["*"] = len(garoon_items(lab.harness(), listed))
    return per_user


# ---------------------------------------------------------------------- operators without a scheduler


class StandInTaskInstance:
    """The part of a task instance our operators read: upstream XComs and the try number."""

    def __init__(self, xcoms: Mapping[str, Any], try_number: int = 1) -> None:
        self.xcoms = dict(xcoms)
        self.try_number = try_number

    def xcom_pull(self, task_ids: str | None = None, **_: Any) -> Any:
        return self.xcoms.get(str(task_ids))


def run_task(operator: Any, *, run_id: str, xcoms: Mapping[str, Any] | None = None, dag_id: str = DAG_ID) -> Any:
    """Call ``operator.execute`` with the context our operators read (no scheduler, no metadata DB); return its
    XCom value. Arguments must be given as values: nothing is rendered."""
    context = {"ti": StandInTaskInstance(xcoms or {}), "run_id": run_id, "dag": SimpleNamespace(dag_id=dag_id),
               "params": {}, "dag_run": None, "data_interval_start": None, "data_interval_end": None}  # fmt: skip
    return operator.execute(context)


def extract_and_plan(window: Mapping[str, str], home: Path, *, run_id: str, batch_size: int = 50) -> Json:
    """Run ``garoon_to_lineworks``' extract and plan operators directly; return the plan's XCom value."""
    from calendar_etl.operators import GaroonExtractOperator, PlanOperator

    extracted = run_task(
        GaroonExtractOperator(task_id="extract", start=window["start"], end=window["end"], users=[],
                              base_path=str(home / "data")),
        run_id=run_id,
    )  # fmt: skip
    planned = run_task(
        PlanOperator(task_id="plan", target="lineworks", batch_size=batch_size, ledger_conn_id=LEDGER_CONN_ID),
        run_id=run_id,
        xcoms={"extract": extracted},
    )
    return {**planned, "extracted": extracted}


def load_operator(batch: int, *, concurrency: int = 4) -> Any:
    """Return the load task for ``batch`` as ``garoon_to_lineworks`` maps it (writes, default calendars)."""
    from calendar_etl.operators import LoadBatchOperator

    return LoadBatchOperator(task_id="load", batch=batch, target="lineworks", phase="write",
                             ledger_conn_id=LEDGER_CONN_ID, concurrency=concurrency, send_notification=False)  # fmt: skip


#: What the fork server imports once, so that a process forked from it costs its own work only (as a
#: LocalExecutor's forked workers do) instead of an interpreter start and Airflow's imports.
FORK_PRELOAD = ["bench.budget_use", "bench.scale", "bench.transforms", "calendar_etl.operators",
                "calendar_etl.hooks.lineworks", "calendar_etl.hooks.garoon", "calendar_etl.sources"]  # fmt: skip


def fork_context(*, start: bool = False) -> Any:
    """Return the multiprocessing context whose processes fork from a server that imported :data:`FORK_PRELOAD`
    (``start``: start that server now, so its imports run while the caller goes on)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(FORK_PRELOAD)
    if start:
        from multiprocessing import forkserver

        forkserver.ensure_running()
    return context


def forked(target: Callable[..., Json], *, env: Mapping[str, str] | None = None, timeout: float = 7200,
           **kwargs: Any) -> Json:  # fmt: skip
    """Return ``target(**kwargs)`` run in a process of its own (``env`` added to its environment), plus that
    process's resident memory when it started (``start_mb``) and its peak (``peak_mb``, ``VmHWM``).

    A forked process starts with the server's pages resident (the interpreter and the preloaded libraries, the
    same for every process), so compare peaks of processes forked alike, or look at ``peak_mb - start_mb``.
    """
    context = fork_context()
    results = context.Queue()
    process = context.Process(target=_forked_main, args=(target, dict(env or {}), kwargs, results), daemon=True)
    process.start()
    try:
        status, payload = results.get(timeout=timeout)
    finally:
        process.join(timeout=60)
        if process.is_alive():
            process.terminate()
    if status != "ok":
        raise RuntimeError(f"{target.__module__}.{target.__name__} failed:\n{payload}")
    return dict(payload)


def _forked_main(target: Callable[..., Json], env: dict[str, str], kwargs: Json, results: Any) -> None:
    import traceback

    os.environ.update(env)
    start = _status_mb("VmRSS")
    try:
        result = dict(target(**kwargs))
        results.put(("ok", {**result, "start_mb": start, "peak_mb": _status_mb("VmHWM")}))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def _status_mb(field_name: str) -> float | None:
    """Return a ``/proc/self/status`` memory field of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def timed(func: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Return (wall seconds, result) of one call."""
    started = time.perf_counter()
    result = func(*args, **kwargs)
    return time.perf_counter() - started, result


# ---------------------------------------------------------------------- DAG runs through Airflow


@dataclass
class TaskRun:
    """One task instance of a DAG run: Airflow's start and end, and the span of our ``execute()`` inside it."""

    task_id: str
    map_index: int
    state: str | None
    start: float | None
    end: float | None
    execute: tuple[float, float] | None = None

    @property
    def seconds(self) -> float:
        return (self.end - self.start) if self.start is not None and self.end is not None else 0.0

    @property
    def execute_seconds(self) -> float:
        return (self.execute[1] - self.execute[0]) if self.execute else 0.0


@dataclass
class DagRunRecord:
    run_id: str
    state: str
    start: float
    end: float
    tasks: list[TaskRun]

    @property
    def seconds(self) -> float:
        return self.end - self.start


class Orchestrator:
    """Runs ``garoon_to_lineworks`` to its end and says what happened; its ledger and files live in ``home``.

    The time each task instance spends inside ``execute()`` comes from the listener in
    ``bench/airflow_plugins/execute_timing.py``, which appends to ``home/execute_timings.jsonl``.
    """

    name: str

    def __init__(self, lab: Lab, home: Path) -> None:
        self.lab = lab
        self.home = home
        self.timings = home / "execute_timings.jsonl"

    def run(self, conf: Mapping[str, Any]) -> DagRunRecord:
        raise NotImplementedError

    def forget_ledger(self) -> None:
        """Empty the sync ledger, so that the next run is a first sync."""
        from calendar_etl.ledger import Ledger

        ledger = Ledger(self.lab.env(self.home)[f"AIRFLOW_CONN_{LEDGER_CONN_ID.upper()}"])
        ledger.forget(DAG_ID)
        ledger.dispose()

    def _record(self, run_id: str, state: str, start: Any, end: Any, tasks: list[TaskRun]) -> DagRunRecord:
        """Return the run with each task instance's ``execute()`` span from the timings file."""
        spans: dict[tuple[str, int], tuple[float, float]] = {}
        if self.timings.exists():
            for line in self.timings.read_text().splitlines():
                entry = json.loads(line)
                if entry["run_id"] == run_id:
                    spans[(entry["task_id"], int(entry["map_index"]))] = (entry["start"], entry["end"])
        for task in tasks:
            task.execute = spans.get((task.task_id, task.map_index))
        began, ended = _instant(start), _instant(end)
        assert began is not None and ended is not None, f"run {run_id} has no start or end"
        return DagRunRecord(run_id, state, began, ended, tasks)


def _instant(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return float(value.timestamp())


class StackOrchestrator(Orchestrator):
    """``garoon_to_lineworks`` under a real scheduler (:class:`~include.airflow_stack.AirflowStack`: scheduler,
    dag-processor and api-server as processes, LocalExecutor) on SQLite or a PostgreSQL metadata DB, triggered
    through the REST API as the UI's trigger form does."""

    def __init__(self, lab: Lab, home: Path, *, database_url: str | None = None) -> None:
        from include.airflow_stack import AirflowStack

        super().__init__(lab, home)
        self.name = f"LocalExecutor on {'PostgreSQL' if database_url else 'SQLite'}"
        config = {
            **lab.env(home),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(TIMING_PLUGINS),
            TIMINGS_ENV: str(self.timings),
            # No scheduled run may mix into the measured ones: the first yearly window closes on 2027-01-01.
            "AIRFLOW__CALENDAR_ETL__GAROON_TO_LINEWORKS_SCHEDULE": "0 0 1 1 *",
        }
        self.stack = AirflowStack(home / "airflow", database_url=database_url, config=config)

    def __enter__(self) -> StackOrchestrator:
        self.stack.migrate().import_settings(self.lab.emulators.lineworks.url, self.lab.emulators.garoon.url)
        self.stack.start("scheduler", "dag-processor", "api-server")
        self.stack.wait_for_dag(DAG_ID)
        self.stack.set_paused(DAG_ID, False)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.stop()

    def run(self, conf: Mapping[str, Any]) -> DagRunRecord:
        run_id = self.stack.trigger_from_form(DAG_ID, dict(conf))["dag_run_id"]
        done = self.stack.wait_for_run(DAG_ID, run_id, timeout=3600)
        if done["state"] != "success":
            raise RuntimeError(f"{DAG_ID} run {run_id} {done['state']}:\n{self.stack.failures(DAG_ID, run_id)}")
        tasks = [
            TaskRun(ti["task_id"], int(ti["map_index"]), ti["state"], _instant(ti["start_date"]), _instant(ti["end_date"]))
            for ti in self.stack.task_instances(DAG_ID, run_id)
        ]  # fmt: skip
        return self._record(run_id, done["state"], done["start_date"], done["end_date"], tasks)


class InProcessOrchestrator(Orchestrator):
    """``garoon_to_lineworks`` through ``dag.test()`` in this process (no scheduler: for the smoke test, where a
    real stack's minute of start-up does not fit). ``AIRFLOW_HOME`` must point at a migrated metadata DB."""

    name = "dag.test"

    def __init__(self, lab: Lab, home: Path) -> None:
        super().__init__(lab, home)
        self._env = contextlib.ExitStack()

    def __enter__(self) -> InProcessOrchestrator:
        from airflow.sdk.listener import get_listener_manager

        from bench.airflow_plugins.execute_timing import ExecuteTimer

        self._env.enter_context(environment({**self.lab.env(self.home), TIMINGS_ENV: str(self.timings)}))
        get_listener_manager().add_listener(ExecuteTimer.instance)
        return self

    def __exit__(self, *exc: object) -> None:
        from airflow.sdk.listener import get_listener_manager

        from bench.airflow_plugins.execute_timing import ExecuteTimer

        get_listener_manager().pm.unregister(ExecuteTimer.instance)
        self._env.close()

    @functools.cached_property
    def dag(self) -> Any:
        from airflow.dag_processing.dagbag import DagBag

        return DagBag(dag_folder=str(ROOT / "dags" / f"{DAG_ID}.py")).get_dag(DAG_ID)

    def run(self, conf: Mapping[str, Any]) -> DagRunRecord:
        from airflow.models import TaskInstance
        from airflow.utils.session import create_session

        dag_run = self.dag.test(run_conf=dict(conf))
        if dag_run.state != "success":
            raise RuntimeError(f"{DAG_ID} dag.test run {dag_run.run_id} ended {dag_run.state}")
        with create_session() as session:
            rows = session.query(TaskInstance).filter_by(dag_id=DAG_ID, run_id=dag_run.run_id).all()
            tasks = [
                TaskRun(t.task_id, t.map_index, t.state, _instant(t.start_date), _instant(t.end_date)) for t in rows
            ]
        return self._record(dag_run.run_id, str(dag_run.state), dag_run.start_date, dag_run.end_date, tasks)


def migrate_metadata_db(home: Path) -> Callable[[], None]:
    """Start ``airflow db migrate`` for ``home`` unless a marker file says it was done; return a function that
    waits for it (so the migration can run while something else does)."""
    done = home / ".migrated"
    if done.exists():
        return lambda: None
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    process = subprocess.Popen([sys.executable, "-m", "airflow", "db", "migrate"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip

    def wait() -> None:
        output, _ = process.communicate(timeout=600)
        if process.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{output.decode(errors='replace')[-3000:]}")
        done.touch()

    return wait


# ---------------------------------------------------------------------- figures from the request logs


def requests_since(control: EmulatorControl, seq: int, *, path: str, method: str | None = None) -> list[Json]:
    """Return the API requests with sequence number >= ``seq`` whose path matches the regex ``path``."""
    params: Json = {"since": seq - 1, "path": path}
    if method:
        params["method"] = method
    return control.requests(**params)


def counted_at(entry: Json) -> float:
    """Return when the emulator counted a call against its rate limit: arrival plus the injected latency (the
    limiter runs after the latency sleep; ``duration`` is that sleep plus sub-millisecond handling)."""
    return float(entry["time"]) + float(entry.get("duration") or 0.0)


def rate_figures(entries: Sequence[Json], *, limit: int, window_s: float) -> Json:
    """Return achieved calls per window ÷ ``limit`` (mean over the run, and the busiest sliding window), and the
    number of 429 responses, from request-log entries."""
    ok = sorted(counted_at(e) for e in entries if e["status"] and 200 <= e["status"] < 300)
    refused = sum(1 for e in entries if e["status"] == 429)
    span = ok[-1] - ok[0] if len(ok) > 1 else 0.0
    per_window = (len(ok) - 1) / span * window_s if span else 0.0
    busiest = max((bisect.bisect_right(ok, t + window_s) - i for i, t in enumerate(ok)), default=0)
    return {
        "calls_ok": len(ok),
        "responses_429": refused,
        "other_statuses": sorted({e["status"] for e in entries} - {200, 201, 204, 429}, key=str),
        "seconds": round(span, 2),
        "calls_per_window": round(per_window, 1),
        "achieved_over_N": round(per_window / limit, 4),
        "busiest_window_over_N": round(busiest / limit, 4),
    }


def per_second(entries: Sequence[Json], origin: float) -> tuple[list[int], list[int]]:
    """Return (successful calls, 429s) per whole second since ``origin``, by when the emulator counted them."""
    last = max((counted_at(e) for e in entries), default=origin)
    ok, refused = [0] * (int(last - origin) + 1), [0] * (int(last - origin) + 1)
    for entry in entries:
        second = int(counted_at(entry) - origin)
        if second < 0:
            continue
        if entry["status"] == 429:
            refused[second] += 1
        elif entry["status"] and 200 <= entry["status"] < 300:
            ok[second] += 1
    return ok, refused
