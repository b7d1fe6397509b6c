"""An Airflow plugin for the benchmarks only: records how long each task instance spends inside ``execute()``.

``make bench`` points ``[core] plugins_folder`` of its Airflow stacks at this folder (the product's own plugins
folder defines no plugin, and ``calendar_etl`` is on ``PYTHONPATH``), so the listener below runs in every task
process. When a task instance starts running it wraps that operator's ``execute``; the wrapper appends one JSON
line (dag, run, task, map index, wall-clock start and end of ``execute`` alone) to the file named by
``$CALENDAR_ETL_BENCH_TIMINGS``. Without that variable it does nothing.
"""

from __future__ import annotations

import functools
import json
import os
import time
from typing import Any, ClassVar

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

TIMINGS_ENV = "CALENDAR_ETL_BENCH_TIMINGS"


class ExecuteTimer:
    """The listener (one instance: ``ExecuteTimer.instance``)."""

    instance: ClassVar[ExecuteTimer]

    @hookimpl
    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        path = os.environ.get(TIMINGS_ENV)
        task = getattr(task_instance, "task", None)
        if not path or task is None or getattr(task.execute, "_bench_timed", False):
            return
        inner = task.execute

        @functools.wraps(inner)
        def execute(context: Any) -> Any:
            started = time.time()
            try:
                return inner(context)
            finally:
                record = {"dag_id": task_instance.dag_id, "run_id": task_instance.run_id,
                          "task_id": task_instance.task_id, "map_index": task_instance.map_index,
                          "start": started, "end": time.time()}  # fmt: skip
                with open(path, "a", encoding="utf-8") as out:  # one short O_APPEND write per task: never interleaved
                    out.write(json.dumps(record) + "\n")

        execute._bench_timed = True  # type: ignore[attr-defined]
        task.execute = execute


ExecuteTimer.instance = ExecuteTimer()


class BenchExecuteTimingPlugin(AirflowPlugin):
    name = "calendar_etl_bench_execute_timing"
    listeners = [ExecuteTimer.instance]  # noqa: RUF012  (AirflowPlugin declares it a plain class attribute)
