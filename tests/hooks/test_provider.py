"""The installed distribution registers the lineworks and garoon connection types with valid forms."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from calendar_etl.provider import get_provider_info

AIRFLOW = Path(sys.executable).with_name("airflow")
SCHEMA = Path(jsonschema.__file__).parents[1] / "airflow" / "provider.yaml.schema.json"


def test_provider_info_validates_against_airflows_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    conn_schema = schema["properties"]["connection-types"]
    jsonschema.validate(get_provider_info()["connection-types"], conn_schema)


@pytest.mark.parametrize(
    "conn_type, hook, must_have",
    [
        ("lineworks", "calendar_etl.hooks.lineworks.LineWorksHook", {"client_id", "client_secret", "service_account", "private_key", "token_url"}),
        ("garoon", "calendar_etl.hooks.garoon.GaroonHook", {"auth", "basic_login", "basic_password"}),
    ],
)
def test_connection_type_declares_its_form(conn_type: str, hook: str, must_have: set[str]) -> None:
    declared = {c["connection-type"]: c for c in get_provider_info()["connection-types"]}[conn_type]
    assert declared["hook-class-name"] == hook
    assert must_have <= set(declared["conn-fields"])
    assert all(field["label"] for field in declared["conn-fields"].values())


def test_airflow_lists_both_hooks_from_the_installed_distribution(tmp_path: Path) -> None:
    out = subprocess.run(
        [str(AIRFLOW), "providers", "hooks", "-o", "json"],
        capture_output=True, text=True, check=True, timeout=120,
        env={"AIRFLOW_HOME": str(tmp_path), "PATH": str(AIRFLOW.parent)},
    ).stdout
    hooks = {row["connection_type"]: row for row in json.loads(out[out.index("[") :])}
    assert hooks["lineworks"]["class"] == "calendar_etl.hooks.lineworks.LineWorksHook"
    assert hooks["garoon"]["class"] == "calendar_etl.hooks.garoon.GaroonHook"
    assert hooks["lineworks"]["package_name"] == hooks["garoon"]["package_name"] == "calendar-etl"
