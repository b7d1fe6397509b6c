"""One attempt of the mapped load task in its own process, as an Airflow worker runs it, for the kill trials.

The processes are forked from a ``multiprocessing`` fork server that imported this module (and so Airflow and
the operators) once; a trial then costs the load's own work instead of an interpreter start per attempt. The
child takes the test's connections from ``env``, writes its log to ``log`` and its XCom value to ``result``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from calendar_etl.operators import LoadBatchOperator


class TaskInstance:
    """The part of a task instance the load operator reads: the plan's XCom and the try number."""

    def __init__(self, planned: dict[str, Any], try_number: int) -> None:
        self.planned, self.try_number = planned, try_number

    def xcom_pull(self, task_ids: str | None = None, **_: Any) -> dict[str, Any]:
        assert task_ids == "plan", task_ids
        return self.planned


def attempt(args: dict[str, Any]) -> None:
    """Run batch ``args["batch"]`` of ``args["planned"]`` as try ``args["try_number"]`` (the process target)."""
    with open(args["log"], "ab", buffering=0) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.update(args["env"])
    operator = LoadBatchOperator(
        task_id="load", batch=args["batch"], target=args["target"], phase="write", ledger_conn_id="calendar_etl_ledger"
    )
    context = {"ti": TaskInstance(args["planned"], args["try_number"]), "run_id": args["run_id"]}
    result = operator.execute(context)
    Path(args["result"]).write_text(json.dumps(result))
