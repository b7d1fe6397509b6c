"""What every operator of a sync run shares: the window, the run's folder, its parameters and its call counts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pendulum

from calendar_etl import storage

DEFAULT_ZONE = "Asia/Tokyo"


def parse_day(value: Any, tz: str) -> dt.datetime | None:
    """Return midnight of an ISO date (or the instant of an ISO date-time) in ``tz``; None for empty values."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "None", "null")):
        return None  # an empty Param renders as "None" through "{{ params.start }}"
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=pendulum.timezone(tz))
    if isinstance(value, dt.date):
        return pendulum.datetime(value.year, value.month, value.day, tz=tz)
    text = str(value).strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return pendulum.datetime(day.year, day.month, day.day, tz=tz)
        parsed = pendulum.parse(text, tz=tz)
    except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
        raise ValueError(f"{value!r} is not an ISO date such as 2026-11-16") from exc
    return parsed  # type: ignore[return-value]


def resolve_window(
    context: Any,
    start: Any = None,
    end: Any = None,
    *,
    tz: str = DEFAULT_ZONE,
    period: dt.timedelta = dt.timedelta(days=1),
) -> tuple[dt.datetime, dt.datetime]:
    """Return the run's window ``[start, end)`` as UTC instants.

    Explicit ``start``/``end`` (the Params; dates in the DAG's zone, ``end`` exclusive) win; else the run's data
    interval; else ``dag_run.run_after`` minus one ``period``. ``logical_date`` may be None in Airflow 3, so the
    context is read with ``get`` only.
    """
    first, last = parse_day(start, tz), parse_day(end, tz)
    if first is None or last is None:
        interval_start, interval_end = context.get("data_interval_start"), context.get("data_interval_end")
        if interval_start is not None and interval_end is not None and interval_end > interval_start:
            first, last = first or interval_start, last or interval_end
        else:
            dag_run = context.get("dag_run")
            after = getattr(dag_run, "run_after", None) or pendulum.now("UTC")
            last = last or after
            first = first or (last - period)
    if last <= first:
        raise ValueError(f"the window is empty: start {first.isoformat()} is not before end {last.isoformat()}")
    return _plain_utc(first), _plain_utc(last)


def _plain_utc(value: dt.datetime) -> dt.datetime:
    """Return a stdlib UTC datetime (pendulum's subclass mis-compares with stdlib aware datetimes)."""
    return dt.datetime.fromtimestamp(value.timestamp(), dt.UTC)


def window_json(window: tuple[dt.datetime, dt.datetime]) -> list[str]:
    return [window[0].isoformat(), window[1].isoformat()]


def window_from_json(value: list[str]) -> tuple[dt.datetime, dt.datetime]:
    return dt.datetime.fromisoformat(value[0]), dt.datetime.fromisoformat(value[1])


def run_folder(context: Any, base_path: str | None) -> Any:
    """Return the ObjectStoragePath folder of this DAG run."""
    return storage.run_path(base_path, context["dag"].dag_id, context["run_id"])


def as_list(value: Any) -> list[str]:
    """Return a Param that may be a list, a JSON list, or comma/newline-separated text, as a list of strings."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return [str(v).strip() for v in json.loads(text) if str(v).strip()]
        return [v.strip() for v in text.replace("\n", ",").split(",") if v.strip()]
    return [str(v).strip() for v in value if str(v).strip()]


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def record_calls(folder: Any, task: str, calls: dict[str, int]) -> None:
    """Write a task's API call counts beside the run's files (the report sums them)."""
    stats = folder / "calls"
    stats.mkdir(parents=True, exist_ok=True)
    storage.write_json(calls, stats / f"{task}.json")
