"""A real browser (Debian's chromium, driven by Playwright) on the Airflow UI: log in, open the trigger form of
``garoon_to_lineworks``, find every Param with its label, trigger, and see the run succeed. The screenshots are
kept in ``test-artifacts/ui/``."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from include.airflow_stack import ROOT, AirflowStack, running_stack
from tests.dags.conftest import DagHarness
from tests.e2e.conftest import TODAY, StackFactory, run_reports
from tests.test_ratelimit import unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAG_ID = "garoon_to_lineworks"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "ui"


@pytest.fixture(scope="module")
def stack(new_stack: StackFactory) -> Iterator[AirflowStack]:
    with running_stack(new_stack()) as running:
        yield running


@pytest.fixture()
def page(stack: AirflowStack) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        unavailable("chromium is not installed (make test installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


def test_trigger_form_shows_every_param_and_its_run_succeeds(
    stack: AirflowStack, page: Any, e2e_emulators: DagHarness
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    params = stack.wait_for_dag(DAG_ID)["params"]
    page.set_default_timeout(30_000)
    page.goto(f"{stack.url}/")
    page.wait_for_url("**/auth/login**")  # the UI asks for a login first
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", stack.admin_password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/auth/login" not in url)

    page.goto(f"{stack.url}/dags/{DAG_ID}")
    page.get_by_role("button", name="Trigger").first.click()
    form = page.get_by_role("dialog")
    form.get_by_text(f"Trigger Dag - {DAG_ID}").wait_for()
    sections = sorted({spec["schema"].get("section") for spec in params.values()} - {None})
    assert sections == ["Behaviour", "Scope", "Target", "Window"], sections
    first = TODAY - dt.timedelta(days=15)
    values = {"start": first.isoformat(), "end": (first + dt.timedelta(days=1)).isoformat(), "batch_size": "20"}
    missing = []
    for section in sections:  # one section open at a time
        form.get_by_role("button", name=section).click()
        for name, spec in params.items():
            if spec["schema"].get("section") != section:
                continue
            field = form.locator(f"[name=element_{name}]")
            title = spec["schema"].get("title") or name
            try:
                field.wait_for(state="visible", timeout=10_000)
                form.locator("label", has_text=title).first.wait_for(state="visible", timeout=10_000)
            except PlaywrightTimeout:  # collected and reported below
                missing.append(f"{name} ({title!r} in {section})")
                continue
            if name in values:
                field.fill(values[name])
        page.screenshot(path=str(ARTIFACTS / f"trigger-form-{section.lower()}.png"), full_page=True)
    assert not missing, f"Params missing from the trigger form: {missing}"
    form.get_by_role("button", name="Trigger").last.click()

    runs = stack.wait_for_runs(
        DAG_ID, lambda rs: any(r["run_type"] == "manual" for r in rs), timeout=60, what="the run"
    )
    run = next(r for r in runs if r["run_type"] == "manual")
    assert run["conf"]["start"] == first.isoformat() and run["conf"]["batch_size"] == 20, run["conf"]
    finished = stack.wait_for_run(DAG_ID, run["dag_run_id"], timeout=600)
    assert finished["state"] == "success", stack.failures(DAG_ID, run["dag_run_id"])
    page.goto(f"{stack.url}/dags/{DAG_ID}/runs/{run['dag_run_id']}")
    page.get_by_text("success", exact=False).first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "run-succeeded.png"), full_page=True)
    (report,) = run_reports(stack, DAG_ID, [run["dag_run_id"]])
    assert report["totals"]["failed"] == 0 and report["totals"]["created"] > 0
