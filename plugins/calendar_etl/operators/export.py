"""The export operator: canonical rows of one or more extracts → partitioned Parquet and CSV tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from calendar_etl import export, model, storage
from calendar_etl.operators.common import window_from_json


class ExportOperator(BaseOperator):
    """Write the ``events``, ``attendees`` and ``facilities`` tables of the extracted rows, partitioned by date.

    :param extract_task_ids: the extract tasks whose canonical files to export (skipped ones are ignored).
    :param output_path: where the tables go (default: ``<run folder>/tables``); any ObjectStoragePath URL.
    """

    template_fields: Sequence[str] = ("output_path",)
    ui_color = "#f0e8ff"

    def __init__(self, *, extract_task_ids: Sequence[str], output_path: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "none_failed_min_one_success")
        super().__init__(**kwargs)
        self.extract_task_ids = list(extract_task_ids)
        self.output_path = output_path

    def execute(self, context: Any) -> dict[str, Any]:
        pulled = [context["ti"].xcom_pull(task_ids=t) for t in self.extract_task_ids]
        extracted = [p for p in pulled if p]
        if not extracted:
            raise ValueError("no extract produced rows to export: choose at least one source")
        frames = [storage.read_frame(storage.storage_path(e["canonical"]), canonical=True) for e in extracted]
        window = window_from_json(extracted[0]["window"])
        rows, errors = export.occurrences(model.concat(frames), window)
        folder = (
            storage.storage_path(self.output_path)
            if self.output_path
            else storage.storage_path(extracted[0]["folder"]) / "tables"
        )
        counts = {}
        for name, table in export.tables(rows).items():
            export.write_partitioned(table, folder, name)
            counts[name] = len(table)
        for key, problem in errors.itertuples(index=False, name=None):
            self.log.warning("not exported: %s: %s", key, problem)
        self.log.info("exported %s to %s", counts, folder)
        return {"folder": str(folder), **counts, "errors": len(errors)}
