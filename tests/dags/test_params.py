"""The trigger-form Params of every DAG, and what runs do with the window they describe.

Form checks need no run. Run checks go through ``dag.test`` against the emulators with ``retries`` set to 0
(the DAGs retry twice after 30 s: a run expected to fail would otherwise wait a minute per task for nothing).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import requests
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.definitions.param import ParamValidationError

from calendar_etl.params import BEHAVIOUR, SCOPE, TARGET, WINDOW
from tests.dags.conftest import ROOT, DagHarness

pytestmark = pytest.mark.slow

DAG_IDS = ("calendar_export", "garoon_to_lineworks", "ics_to_lineworks", "lineworks_to_garoon")
SECTIONS = {WINDOW, SCOPE, TARGET, BEHAVIOUR}


def load(dag_id: str) -> Any:
    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def run_once(dag_id: str, conf: dict[str, Any], **kwargs: Any) -> Any:
    """``DagHarness.run`` without retries."""
    dag = load(dag_id)
    for task in dag.tasks:
        task.retries = 0
    return dag.test(run_conf=conf, logical_date=kwargs.pop("logical_date", None), **kwargs)


def task_states(run: Any) -> dict[str, str | None]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(TaskInstance).where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
        return {ti.task_id: ti.state for ti in session.scalars(query)}


@pytest.fixture(scope="module")
def dags_by_id(airflow_db: str) -> dict[str, Any]:
    """Every DAG, parsed once (``DagBag.get_dag`` reads the metadata DB, hence ``airflow_db``)."""
    return {dag_id: load(dag_id) for dag_id in DAG_IDS}


# ---------------------------------------------------------------------- the form


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_defaults_validate(dags_by_id: dict[str, Any], dag_id: str) -> None:
    dags_by_id[dag_id].params.validate()


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_every_param_has_a_title_and_a_section(dags_by_id: dict[str, Any], dag_id: str) -> None:
    params = dags_by_id[dag_id].params
    assert len(params) > 0
    for name in params:
        schema = params.get_param(name).schema
        assert isinstance(schema.get("title"), str) and schema["title"].strip(), f"{dag_id}.{name}: no title"
        assert schema.get("section") in SECTIONS, f"{dag_id}.{name}: section {schema.get('section')!r}"
        assert params.get_param(name).description, f"{dag_id}.{name}: no description"


@pytest.mark.parametrize("dag_id", DAG_IDS)
@pytest.mark.parametrize("name", ["start", "end"])
def test_window_params_are_nullable_dates(dags_by_id: dict[str, Any], dag_id: str, name: str) -> None:
    params = dags_by_id[dag_id].params
    assert name in params, f"{dag_id} has no {name}"
    param = params.get_param(name)
    assert param.schema.get("format") == "date"
    assert "null" in param.schema["type"] and "string" in param.schema["type"]
    assert param.schema.get("section") == WINDOW
    assert param.value is None, "an empty window (the run's interval) is the default"
    assert param.resolve(None) is None
    assert param.resolve("2026-11-16") == "2026-11-16"
    for bad in ("2026-02-30", "16/11/2026", "2026-11-16T09:00:00", 20261116):
        with pytest.raises(ParamValidationError):
            param.resolve(bad)


def test_ics_to_lineworks_has_a_source(dags_by_id: dict[str, Any]) -> None:
    params = dags_by_id["ics_to_lineworks"].params
    assert "source" in params
    param = params.get_param("source")
    assert param.schema["type"] == "string" and param.schema.get("minLength", 0) >= 1
    assert param.schema.get("section") == SCOPE
    default = Path(param.value)
    assert (default if default.is_absolute() else ROOT / default).is_file(), f"default source {default} is missing"
    with pytest.raises(ParamValidationError):
        param.resolve("")


# ---------------------------------------------------------------------- runs


def create_as(harness: DagHarness, email: str, summary: str, start: str, end: str) -> str:
    base = harness.emulators.lineworks.url
    token = requests.post(f"{base}/_emulator/user-token", json={"email": email}, timeout=30).json()["access_token"]
    response = requests.post(
        f"{base}/v1.0/users/me/calendar/events",
        json={"eventComponents": [{"summary": summary, "start": {"dateTime": start, "timeZone": "Asia/Tokyo"},
                                   "end": {"dateTime": end, "timeZone": "Asia/Tokyo"}}], "sendNotification": False},
        headers={"Authorization": f"Bearer {token}"}, timeout=30,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return str(response.json()["eventComponents"][0]["eventId"])


def test_run_without_logical_date_or_window_uses_run_after(dags: DagHarness, capfd: pytest.CaptureFixture[str]) -> None:
    """No logical date (a manual run in Airflow 3) and no start/end: the window is the day before ``run_after``."""
    run_after = dt.datetime(2026, 11, 19, 3, tzinfo=dt.UTC)  # 12:00 JST
    inside = create_as(dags, "sato-ken@demo.example.com", "Inside", "2026-11-18T15:00:00", "2026-11-18T16:00:00")
    create_as(dags, "sato-ken@demo.example.com", "Before", "2026-11-18T10:00:00", "2026-11-18T11:00:00")
    create_as(dags, "sato-ken@demo.example.com", "After", "2026-11-19T13:00:00", "2026-11-19T14:00:00")
    run = run_once("lineworks_to_garoon", {}, logical_date=None, run_after=run_after)
    output = capfd.readouterr().out
    assert run.logical_date is None
    assert run.state == "success", (
        f"{task_states(run)}; {[line for line in output.splitlines() if 'Error' in line][:5]}"
    )
    report = dags.report(run)
    window = [dt.datetime.fromisoformat(x) for x in report["window"]]
    assert window == [run_after - dt.timedelta(days=1), run_after]
    markers = [((e.get("additionalItems") or {}).get("item") or {}).get("value") for e in dags.garoon.state()["events"]]
    assert [m for m in markers if str(m).startswith("lineworks:")] == [f"lineworks:{inside}"]


def test_end_before_start_fails_the_extract_naming_the_problem(
    dags: DagHarness, capfd: pytest.CaptureFixture[str]
) -> None:
    before = dags.garoon.next_seq()
    run = run_once("lineworks_to_garoon", {"start": "2026-11-20", "end": "2026-11-16"})
    output = capfd.readouterr().out
    assert run.state == "failed"
    states = task_states(run)
    assert states["extract"] == "failed"
    assert states["plan"] == "upstream_failed"
    problem = [line for line in output.splitlines() if line.startswith("ValueError: the window is empty")]
    assert problem, "the extract's error does not say the window is empty"
    assert "start 2026-11-20" in problem[0] and "end 2026-11-16" in problem[0], problem[0]
    assert dags.garoon_writes(since=before - 1) == []


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_start_that_is_not_a_date_is_refused_naming_it(dags: DagHarness, dag_id: str) -> None:
    """The form's schema refuses it when the run is triggered: nothing runs, the message names the Param and value."""
    with pytest.raises(ParamValidationError, match=r"param start: '16/11/2026' is not a 'date'"):
        run_once(dag_id, {"start": "16/11/2026", "end": "2026-11-20"})
