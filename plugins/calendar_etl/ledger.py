"""The sync ledger: what each pipeline wrote where, with which content, and whether the write is known to be done.

One row per (pipeline, sync key): the target key (LINE WORKS ``user/calendar/eventId`` or Garoon event id),
the content hash of what was written, the run that last touched it, and the state:

* ``intent``: a write is about to happen (or happened and its answer was lost): resolve before writing again;
* ``committed``: the target holds this content;
* ``deleted``: the pipeline deleted the event it had created;
* ``failed``: the last write failed; ``error`` says why (the next run retries it).

A kill at any instant leaves either no row, an ``intent`` (the write may or may not have happened: LINE WORKS
deterministic event ids and Garoon markers settle it), or a ``committed`` row. The ledger lives in a SQLite
file under ``AIRFLOW_HOME`` by default, or any SQLAlchemy database (PostgreSQL through an Airflow
connection) so that workers on several machines share it. If it is lost, :meth:`Ledger.rebuild` restores
it from the target.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from calendar_etl.ratelimit import create_tables, switch_to_wal

STATES = ("intent", "committed", "deleted", "failed")
DEFAULT_FILE = "calendar_etl_ledger.db"

metadata = sa.MetaData()
entries = sa.Table(
    "calendar_etl_ledger",
    metadata,
    sa.Column("pipeline", sa.String(200), primary_key=True),
    sa.Column("sync_key", sa.String(1000), primary_key=True),
    sa.Column("target_key", sa.String(1000)),
    sa.Column("owner", sa.String(320)),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("window_start", sa.DateTime(timezone=True)),
    sa.Column("event_start", sa.DateTime(timezone=True)),
    sa.Column("run_id", sa.String(250)),
    sa.Column("error", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
settings = sa.Table(
    "calendar_etl_settings",
    metadata,
    sa.Column("pipeline", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text),
)
COLUMNS = [c.name for c in entries.columns]


def default_url() -> str:
    """Return the SQLite URL of the default ledger file under ``AIRFLOW_HOME``."""
    home = Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / DEFAULT_FILE}"


def url_from_connection(conn_id: str) -> str:
    """Return the SQLAlchemy URL of an Airflow connection (``postgres`` → ``postgresql+psycopg``)."""
    from airflow.sdk import BaseHook  # imported here: the ledger itself needs no Airflow

    uri = BaseHook.get_connection(conn_id).get_uri()
    for prefix in ("postgres://", "postgresql://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    return uri


class Ledger:
    """Reads and writes ledger rows for any number of pipelines in one database.

    :param url: a SQLAlchemy URL; default a SQLite file under ``AIRFLOW_HOME``.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        options: dict[str, Any] = {"future": True}
        if self.url.startswith("sqlite"):
            options["connect_args"] = {"timeout": 60}
        else:
            options["pool_pre_ping"] = True
        self.engine = sa.create_engine(self.url, **options)
        if self.url.startswith("sqlite"):
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        create_tables(metadata, self.engine)

    @classmethod
    def from_config(cls, conn_id: str | None) -> Ledger:
        """Return the ledger of an Airflow connection id, or the default SQLite ledger when there is none."""
        return cls(url_from_connection(conn_id) if conn_id else None)

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ reading
    def frame(self, pipeline: str) -> pd.DataFrame:
        """Return the pipeline's rows as a DataFrame (one row per sync key)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(entries).where(entries.c.pipeline == pipeline)).mappings().all()
        frame = pd.DataFrame([dict(r) for r in rows], columns=COLUMNS)
        for name in ("window_start", "event_start", "updated_at"):
            frame[name] = pd.to_datetime(frame[name], utc=True)
        return frame

    def target_keys(self, sync_prefix: str) -> set[str]:
        """Return the target keys written, by any pipeline, for sync keys that start with ``sync_prefix``."""
        query = sa.select(entries.c.target_key).where(
            entries.c.sync_key.startswith(sync_prefix, autoescape=True), entries.c.target_key.is_not(None)
        )
        with self.engine.connect() as conn:
            return {str(key) for (key,) in conn.execute(query)}

    def get(self, pipeline: str, sync_key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(entries).where(entries.c.pipeline == pipeline, entries.c.sync_key == sync_key))
                .mappings()
                .first()
            )
        return dict(row) if row else None

    # ------------------------------------------------------------------ writing
    def record(self, pipeline: str, sync_key: str, state: str, **values: Any) -> None:
        """Upsert one row in ``state`` (``intent`` before a write, ``committed`` after, ...)."""
        if state not in STATES:
            raise ValueError(f"ledger state {state!r} is not one of {STATES}")
        self.record_many(pipeline, [{"sync_key": sync_key, "state": state, **values}])

    def record_many(self, pipeline: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Upsert many rows in one transaction (fields not given keep their stored values)."""
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            for row in rows:
                values = {k: v for k, v in row.items() if k in COLUMNS and k not in ("pipeline", "updated_at")}
                values["updated_at"] = now
                where = (entries.c.pipeline == pipeline) & (entries.c.sync_key == row["sync_key"])
                updated = conn.execute(sa.update(entries).where(where).values(**values))
                if updated.rowcount == 0:
                    conn.execute(sa.insert(entries).values(pipeline=pipeline, **values))

    def forget(self, pipeline: str) -> int:
        """Delete every row of ``pipeline``; return how many there were."""
        with self.engine.begin() as conn:
            return int(conn.execute(sa.delete(entries).where(entries.c.pipeline == pipeline)).rowcount)

    def rebuild(self, pipeline: str, found: pd.DataFrame, run_id: str) -> int:
        """Record as committed every event found in the target (``sync_key``, ``target_key``, ``owner``, ``content_hash``).

        Used when the ledger was lost: the target is the truth. The content hash may be unknown (None), in which
        case the next plan updates the event once to be sure.
        """
        rows = [
            {**{k: (None if pd.isna(v) else v) for k, v in r.items()}, "state": "committed", "run_id": run_id}
            for r in found.to_dict("records")
        ]
        self.record_many(pipeline, rows)
        return len(rows)

    # ------------------------------------------------------------------ settings
    def setting(self, pipeline: str, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(settings.c.value).where(settings.c.pipeline == pipeline, settings.c.name == name)
            ).scalar()

    def set_setting(self, pipeline: str, name: str, value: str) -> None:
        with self.engine.begin() as conn:
            where = (settings.c.pipeline == pipeline) & (settings.c.name == name)
            if conn.execute(sa.update(settings).where(where).values(value=value)).rowcount == 0:
                conn.execute(sa.insert(settings).values(pipeline=pipeline, name=name, value=value))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=60000")
    switch_to_wal(cursor, patience=60.0)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
