"""Airflow as users run it: its components as separate processes, for ``make airflow`` and the end-to-end tests.

:class:`AirflowStack` owns one ``AIRFLOW_HOME``: it migrates the metadata DB (SQLite there by default, or any
SQLAlchemy URL such as a PostgreSQL database), imports ``airflow_settings.yaml`` with its connection hosts moved to
where the emulators listen, starts the scheduler, dag-processor, api-server and triggerer (or ``airflow
standalone``, or Celery workers), and talks to the REST API as the UI does: a JWT from ``/auth/token`` with the
simple auth manager's generated admin password, then ``/api/v2``. Every process is stopped, with its children, by
:meth:`AirflowStack.stop`; their output goes to ``<home>/logs/<name>.log``.

Everything binds to 127.0.0.1. The secrets the components share (JWT signing key, API secret key) are random per
stack and passed in the environment only.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from calendar_etl.pipeline import DAG_ZONE

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "airflow_settings.yaml"
SETTINGS_HOSTS = {"lineworks": "http://127.0.0.1:18801", "garoon": "http://127.0.0.1:18802"}
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
COMPONENTS = ("scheduler", "dag-processor", "api-server", "triggerer")
TERMINAL = {"success", "failed"}


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StackError(RuntimeError):
    """A component did not come up, or a run did not finish; the message names it and quotes its log."""


@dataclass
class AirflowStack:
    """One Airflow installation in ``home``, run as separate processes (see the module docstring)."""

    home: Path
    database_url: str | None = None  # default: SQLite in home
    executor: str = "LocalExecutor"
    parallelism: int = 4
    api_port: int = field(default_factory=free_port)
    config: Mapping[str, str] = field(default_factory=dict)  # extra AIRFLOW__SECTION__KEY values
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        self._secrets = {"jwt": secrets.token_urlsafe(32), "api": secrets.token_urlsafe(32)}

    # ------------------------------------------------------------------ set-up

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment every Airflow command of this stack runs with."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),  # standalone
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")]),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # The DAGs' windows are Asia/Tokyo days: `backfill create --from-date 2026-11-10` then means that day
            # there, and the UI shows the same clock.
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": DAG_ZONE,
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__SECRET_KEY": self._secrets["api"],
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secrets["jwt"],
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
        })  # fmt: skip
        if self.database_url:
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.database_url
            if self.database_url.startswith("postgresql+psycopg:"):  # psycopg 3 is async too (default: asyncpg)
                env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = self.database_url
        env.update(self.config)
        return env

    def airflow(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``airflow ARGS`` to completion with this stack's environment; raise with its output if it fails."""
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise StackError(
                f"airflow {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        return done

    def migrate(self) -> AirflowStack:
        self.airflow("db", "migrate", timeout=600)
        return self

    def import_settings(self, lineworks_url: str, garoon_url: str, path: Path = SETTINGS) -> AirflowStack:
        """Import ``airflow_settings.yaml`` with the connections pointed at the emulators at these URLs."""
        moves = [f"{SETTINGS_HOSTS['lineworks']}={lineworks_url}", f"{SETTINGS_HOSTS['garoon']}={garoon_url}"]
        subprocess.run(
            [sys.executable, "-m", "include.settings_loader", str(path), *moves],
            env=self.env, check=True, capture_output=True, cwd=ROOT, timeout=300,
        )  # fmt: skip
        return self

    def start(
        self, *components: str, env: Mapping[str, Mapping[str, str]] | None = None, **named: list[str]
    ) -> AirflowStack:
        """Start ``airflow COMPONENT`` for each of ``components`` (default: scheduler, dag-processor, api-server,
        triggerer) and ``airflow ARGS`` for each ``name=ARGS`` (e.g. Celery workers), ``env[name]`` added to that
        process's environment; wait until healthy."""
        commands = {name: [name] for name in (components or COMPONENTS)}
        commands.update(named)
        for name, args in commands.items():
            self.spawn(name, args, (env or {}).get(name, {}))
        self.wait_healthy(needs="api-server" in commands)
        return self

    def spawn(self, name: str, args: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.home / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process, by the OS
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
        )  # fmt: skip
        self.processes[name] = process
        return process

    def wait_healthy(self, *, needs: bool = True, timeout: float = 180) -> None:
        """Wait until the API answers and reports the metadata DB, scheduler and dag-processor healthy."""
        if not needs:
            return
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                last = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
                wanted = ("metadatabase", "scheduler", "dag_processor")
                if all((last.get(part) or {}).get("status") == "healthy" for part in wanted):
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(1)
        raise StackError(f"Airflow not healthy after {timeout:.0f} s: {last}\n{self.tail_logs()}")

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise StackError(f"{name} exited with {process.returncode}\n{self.tail_logs(name)}")

    def tail_logs(self, *names: str, chars: int = 3000) -> str:
        parts = []
        for name in names or tuple(self.processes):
            path = self.home / "logs" / f"{name}.log"
            text = path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"
            parts.append(f"--- {name} ---\n{text}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop every process this stack started (SIGTERM to its process group, then SIGKILL)."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes.clear()

    # ------------------------------------------------------------------ REST API, as the UI uses it

    @property
    def admin_password(self) -> str:
        """The simple auth manager's generated password for ``admin`` (created by the api-server)."""
        return str(json.loads((self.home / PASSWORDS_FILE).read_text())["admin"])

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``/api/v2<path>`` with an admin token; return the decoded JSON (raise with the body on errors)."""
        if self._token is None:
            answer = requests.post(
                f"{self.url}/auth/token", json={"username": "admin", "password": self.admin_password}, timeout=30
            )
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        response = requests.request(
            method, f"{self.url}/api/v2{path}", headers={"Authorization": f"Bearer {self._token}"}, timeout=60, **kwargs
        )
        if response.status_code >= 400:
            raise StackError(f"{method} {path}: {response.status_code} {response.text[:2000]}")
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id``; return its details."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            try:
                return dict(self.api("GET", f"/dags/{dag_id}/details"))
            except StackError:
                if time.monotonic() > deadline:
                    raise StackError(
                        f"{dag_id} not parsed after {timeout:.0f} s\n{self.tail_logs('dag-processor')}"
                    ) from None
                time.sleep(1)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def trigger_from_form(self, dag_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Trigger ``dag_id`` as the UI's trigger form does: every Param at its default unless set in ``values``,
        a logical date of now, a note; return the new DAG run."""
        params = self.wait_for_dag(dag_id).get("params") or {}
        conf = {name: spec.get("value") for name, spec in params.items()}
        unknown = set(values) - set(conf)
        if unknown:
            raise StackError(f"{dag_id} has no Params {sorted(unknown)}")
        conf.update(values)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = {"logical_date": now, "conf": conf, "note": "triggered by the end-to-end test"}
        return dict(self.api("POST", f"/dags/{dag_id}/dagRuns", json=body))

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every DAG run of ``dag_id``, oldest data interval first."""
        return self._every(f"/dags/{dag_id}/dagRuns", "dag_runs", order_by="run_after")

    def wait_for_runs(
        self, dag_id: str, done: Callable[[list[dict[str, Any]]], bool], *, timeout: float = 600, what: str = "runs"
    ) -> list[dict[str, Any]]:
        """Poll ``dag_id``'s runs until ``done(runs)``; raise with the scheduler's log if it never happens."""
        deadline = time.monotonic() + timeout
        runs: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            self._check_alive()
            runs = self.runs(dag_id)
            if done(runs):
                return runs
            time.sleep(2)
        states = [(r["dag_run_id"], r["state"]) for r in runs]
        raise StackError(f"{dag_id}: {what} not done after {timeout:.0f} s: {states}\n{self.tail_logs('scheduler')}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> dict[str, Any]:
        """Wait until the run ``run_id`` ends; return it."""
        runs = self.wait_for_runs(
            dag_id, lambda rs: any(r["dag_run_id"] == run_id and r["state"] in TERMINAL for r in rs),
            timeout=timeout, what=run_id,
        )  # fmt: skip
        return next(r for r in runs if r["dag_run_id"] == run_id)

    def failures(self, dag_id: str, run_id: str, chars: int = 4000) -> str:
        """The end of the log of every failed task instance of the run, for assertion messages."""
        parts = []
        for ti in self.task_instances(dag_id, run_id):
            if ti["state"] not in ("failed", "upstream_failed"):
                continue
            parts.append(f"--- {ti['task_id']}[{ti['map_index']}] {ti['state']} ---")
            if ti["state"] == "failed":
                path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}"
                try:
                    log = self.api("GET", path, params={"map_index": ti["map_index"]})
                    lines = [e.get("event", "") if isinstance(e, dict) else str(e) for e in log.get("content", [])]
                    parts.append("\n".join(lines)[-chars:])
                except StackError as exc:
                    parts.append(str(exc))
        return "\n".join(parts) or f"no failed task in {run_id}"

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self._every(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", "task_instances")

    def _every(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a list endpoint, page by page (the API answers at most ``[api] maximum_page_limit``,
        100, per page, whatever ``limit`` asks)."""
        found: list[dict[str, Any]] = []
        while True:
            answer = self.api("GET", path, params={**params, "limit": 100, "offset": len(found)})
            found.extend(answer[key])
            if not answer[key] or len(found) >= answer["total_entries"]:
                return found


@contextlib.contextmanager
def running_stack(
    stack: AirflowStack, *components: str, env: Mapping[str, Mapping[str, str]] | None = None, **named: list[str]
) -> Iterator[AirflowStack]:
    """Start ``stack`` (see :meth:`AirflowStack.start`) and stop it afterwards, whatever happens."""
    try:
        yield stack.start(*components, env=env, **named)
    finally:
        stack.stop()


def worker_name() -> str:
    """``[core] hostname_callable`` for workers sharing one machine: ``$CALENDAR_ETL_WORKER_NAME`` or the host's
    name, so each task instance records which worker ran it."""
    return os.environ.get("CALENDAR_ETL_WORKER_NAME") or socket.getfqdn()
