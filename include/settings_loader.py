"""Load ``airflow_settings.yaml`` (the Astro CLI's format) into the Airflow metadata DB, without the Astro CLI.

Connections, pools and variables are upserted, so running it twice changes nothing. Usage:
``python -m include.settings_loader [airflow_settings.yaml]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def read_settings(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Return the ``airflow:`` section's connections, pools and variables (empty lists when absent)."""
    data = yaml.safe_load(path.read_text()) or {}
    section = data.get("airflow") or {}
    return {name: list(section.get(name) or []) for name in ("connections", "pools", "variables")}


def rehost(settings: dict[str, list[dict[str, Any]]], hosts: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Return ``settings`` with every occurrence of each key of ``hosts`` (a URL prefix such as
    ``http://127.0.0.1:18801``) in connection hosts and extras replaced by its value (emulators on other ports)."""
    text = json.dumps(settings)
    for old, new in hosts.items():
        text = text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1])
    return dict(json.loads(text))


def load_settings(path: Path = ROOT / "airflow_settings.yaml", hosts: dict[str, str] | None = None) -> dict[str, int]:
    """Upsert every connection, pool and variable of ``path``; return how many of each.

    ``hosts`` moves URL prefixes (see :func:`rehost`), for emulators that listen on other ports.
    """
    # The ORM models, not airflow.sdk's: this writes the metadata DB directly, as `airflow connections import` does.
    from airflow.models import Connection, Pool, Variable
    from airflow.utils.session import create_session

    settings = rehost(read_settings(path), hosts or {})
    with create_session() as session:
        for item in settings["connections"]:
            extra = item.get("conn_extra")
            values = {
                "conn_type": item["conn_type"],
                "host": item.get("conn_host"),
                "schema": item.get("conn_schema"),
                "login": item.get("conn_login"),
                "password": item.get("conn_password"),
                "port": item.get("conn_port"),
                "extra": json.dumps(extra) if isinstance(extra, dict) else extra,
            }
            existing = session.query(Connection).filter(Connection.conn_id == item["conn_id"]).one_or_none()  # noqa: AIR311
            if existing is None:
                session.add(Connection(conn_id=item["conn_id"], **values))  # noqa: AIR311
            else:
                for key, value in values.items():
                    setattr(existing, key, value)
        for item in settings["pools"]:
            Pool.create_or_update_pool(
                item["pool_name"],
                int(item["pool_slot"]),
                item.get("pool_description") or "",
                include_deferred=False,
                session=session,
            )
        for item in settings["variables"]:
            Variable.set(item["variable_name"], item.get("variable_value") or "", session=session)  # noqa: AIR311
    return {name: len(items) for name, items in settings.items()}


def main(argv: list[str]) -> int:
    """``python -m include.settings_loader [FILE] [OLD_URL=NEW_URL ...]``."""
    path = Path(argv[0]) if argv else ROOT / "airflow_settings.yaml"
    counts = load_settings(path, dict(arg.split("=", 1) for arg in argv[1:]))
    print(
        f"loaded {counts['connections']} connections, {counts['pools']} pools, {counts['variables']} variables from {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
