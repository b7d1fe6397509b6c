"""Extract operators: read a source over the run's window into canonical Parquet; return its path and counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from calendar_etl import sources, storage
from calendar_etl.operators.common import (
    DEFAULT_ZONE,
    as_bool,
    as_list,
    record_calls,
    resolve_window,
    run_folder,
    window_json,
)


class _ExtractOperator(BaseOperator):
    """Shared wiring: window, run folder, streaming writer, error file, XCom of paths and counts."""

    template_fields: Sequence[str] = ("start", "end", "base_path", "users", "enabled")
    ui_color = "#e8f4ff"

    def __init__(
        self,
        *,
        start: str | None = None,
        end: str | None = None,
        base_path: str | None = None,
        users: Any = None,
        timezone: str = DEFAULT_ZONE,
        enabled: Any = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.enabled = enabled
        self.start = start
        self.end = end
        self.base_path = base_path
        self.users = users
        self.timezone = timezone

    def extract(self, window: Any, writer: storage.CanonicalWriter) -> tuple[sources.Extracted, dict[str, int]]:
        raise NotImplementedError

    def execute(self, context: Any) -> dict[str, Any]:
        if not as_bool(self.enabled):
            raise AirflowSkipException(f"{self.task_id} is not among the chosen sources")
        window = resolve_window(context, self.start, self.end, tz=self.timezone)
        run = run_folder(context, self.base_path)
        folder = run / self.task_id  # two extracts in one run (calendar_export) never share files
        folder.mkdir(parents=True, exist_ok=True)
        self.log.info("window [%s, %s)", window[0].isoformat(), window[1].isoformat())
        with storage.CanonicalWriter(folder / "canonical.parquet") as writer:
            result, calls = self.extract(window, writer)
        storage.write_json({"users": result.users, "facilities": result.facilities}, folder / "source_directory.json")
        storage.write_json([{"source_key": k, "problem": p} for k, p in result.errors], folder / "extract_errors.json")
        record_calls(run, self.task_id, calls)
        for key, problem in result.errors[:50]:
            self.log.warning("not converted: %s: %s", key, problem)
        if len(result.errors) > 50:
            self.log.warning("... and %d more (see extract_errors.json)", len(result.errors) - 50)
        self.log.info(
            "extracted %d items into %d canonical rows; %d errors", result.items, result.rows, len(result.errors)
        )
        return {
            "canonical": str(folder / "canonical.parquet"),
            "folder": str(run),
            "files": str(folder),
            "rows": result.rows,
            "items": result.items,
            "errors": len(result.errors),
            "window": window_json(window),
            "scope": result.scope,
        }


class GaroonExtractOperator(_ExtractOperator):
    """Extract Garoon schedules (all users, or ``users`` by login code or e-mail) over the window.

    :param garoon_conn_id: the Garoon connection.
    :param users: login codes or e-mails to include (a list, or comma-separated text); empty means everyone.
    """

    def __init__(self, *, garoon_conn_id: str = "garoon_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.garoon_conn_id = garoon_conn_id

    def extract(self, window: Any, writer: storage.CanonicalWriter) -> tuple[sources.Extracted, dict[str, int]]:
        from calendar_etl.hooks.garoon import GaroonHook

        hook = GaroonHook(self.garoon_conn_id)
        result = sources.extract_garoon(hook, window, writer, users=as_list(self.users), default_zone=self.timezone)
        return result, {"garoon_reads": hook.calls}


class LineWorksExtractOperator(_ExtractOperator):
    """Extract LINE WORKS calendars (each chosen user's default calendar, or ``calendars``) over the window.

    :param lineworks_conn_id: the LINE WORKS connection.
    :param calendars: calendar ids to read instead of the default calendars.
    """

    template_fields: Sequence[str] = (*_ExtractOperator.template_fields, "calendars")

    def __init__(self, *, lineworks_conn_id: str = "lineworks_default", calendars: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lineworks_conn_id = lineworks_conn_id
        self.calendars = calendars

    def extract(self, window: Any, writer: storage.CanonicalWriter) -> tuple[sources.Extracted, dict[str, int]]:
        from calendar_etl.hooks.lineworks import LineWorksHook

        hook = LineWorksHook(self.lineworks_conn_id)
        result = sources.extract_lineworks(
            hook, window, writer, users=as_list(self.users), calendars=as_list(self.calendars)
        )
        return result, {"lineworks_reads": hook.calls}


class IcsExtractOperator(_ExtractOperator):
    """Extract one or more .ics files (local paths, object-storage URLs or http(s) URLs).

    :param source: the file(s): a path or URL, or several separated by commas or newlines.
    :param whole_file: load every event of the file (True) or only those with an occurrence in the window.
    """

    template_fields: Sequence[str] = (*_ExtractOperator.template_fields, "source", "whole_file")

    def __init__(self, *, source: Any, whole_file: Any = True, default_zone: str = "UTC", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.whole_file = whole_file
        self.default_zone = default_zone

    def extract(self, window: Any, writer: storage.CanonicalWriter) -> tuple[sources.Extracted, dict[str, int]]:
        files = as_list(self.source)
        if not files:
            raise ValueError("source is empty: give the path or URL of an .ics file")
        result = sources.extract_ics(
            files, writer, window=None if as_bool(self.whole_file) else window, default_zone=self.default_zone
        )
        return result, {}
