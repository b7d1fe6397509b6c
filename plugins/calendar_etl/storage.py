"""Where a run's files live: canonical, plan and result Parquet files under one base path per run.

The base path is any ``ObjectStoragePath`` (default a local folder under ``AIRFLOW_HOME``; ``s3://...`` works
unchanged), so no task depends on another task's local disk.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from calendar_etl import model

DEFAULT_SUBDIR = "calendar_etl_data"


def default_base() -> str:
    """Return the default base path: ``file://$AIRFLOW_HOME/calendar_etl_data``."""
    home = Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
    return f"file://{home / DEFAULT_SUBDIR}"


def storage_path(url: str) -> Any:
    """Return an ``ObjectStoragePath`` for ``url`` (a plain path becomes ``file://``)."""
    from airflow.sdk import ObjectStoragePath

    if "://" not in url:
        url = "file://" + str(Path(url).resolve())
    return ObjectStoragePath(url)


def run_path(base: str | None, dag_id: str, run_id: str) -> Any:
    """Return (and create) the folder of one run: ``<base>/<dag_id>/<run_id>``."""
    safe_run = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)
    path = storage_path(base or default_base()) / dag_id / safe_run
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_table(table: pa.Table, path: Any) -> Any:
    """Write an Arrow table as Parquet at ``path``; return the path."""
    with path.open("wb") as handle:
        pq.write_table(table, handle)
    return path


def write_frame(frame: pd.DataFrame, path: Any) -> Any:
    """Write a DataFrame as Parquet at ``path`` (canonical frames keep the canonical schema)."""
    if list(frame.columns) == list(model.COLUMNS):
        return write_table(model.to_arrow(frame), path)
    return write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


def read_frame(path: Any, *, canonical: bool = False, filters: list[Any] | None = None) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_frame` (``canonical`` restores the canonical dtypes)."""
    with path.open("rb") as handle:
        table = pq.read_table(handle, filters=filters)
    if canonical:
        return model.to_pandas(table)
    return table.to_pandas()


class CanonicalWriter:
    """Streams canonical frames into one Parquet file, one row group per page, so extraction never holds a source."""

    def __init__(self, path: Any) -> None:
        self.path = path
        self._handle = path.open("wb")
        self._writer = pq.ParquetWriter(self._handle, model.ARROW_SCHEMA)
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        if len(frame):
            self._writer.write_table(model.to_arrow(frame))
            self.rows += len(frame)

    def close(self) -> None:
        self._writer.close()
        self._handle.close()

    def __enter__(self) -> CanonicalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_json(data: Any, path: Any) -> Any:
    with path.open("w") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False, default=str)
    return path


def read_json(path: Any) -> Any:
    with path.open("r") as handle:
        return json.load(handle)
