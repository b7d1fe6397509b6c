"""Throwaway PostgreSQL databases on the local server, for tests and benchmarks (never for data).

``CALENDAR_ETL_TEST_POSTGRES_HOST`` (default ``postgres@127.0.0.1:5432``, trust auth) names the server.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import sqlalchemy as sa

POSTGRES_HOST = os.environ.get("CALENDAR_ETL_TEST_POSTGRES_HOST", "postgres@127.0.0.1:5432")


class ScratchDatabaseUnavailable(RuntimeError):
    """No scratch database can be made here; the message says why (no driver, server unreachable)."""


def postgres_driver() -> str | None:
    """Return the SQLAlchemy driver name of an installed PostgreSQL driver, or None."""
    for module in ("psycopg", "psycopg2"):
        try:
            __import__(module)
        except ImportError:
            continue
        return module
    return None


@contextlib.contextmanager
def scratch_postgres(prefix: str = "calendar_etl_scratch") -> Iterator[str]:
    """Create a database of our own, yield its SQLAlchemy URL, and drop it (with its sessions) afterwards."""
    driver = postgres_driver()
    if driver is None:
        raise ScratchDatabaseUnavailable("no PostgreSQL driver: pip install 'psycopg[binary]'")
    admin = sa.create_engine(
        f"postgresql+{driver}://{POSTGRES_HOST}/postgres", isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise ScratchDatabaseUnavailable(
            f"PostgreSQL at {POSTGRES_HOST} is unreachable: {str(exc).splitlines()[0]}"
        ) from None
    try:
        yield f"postgresql+{driver}://{POSTGRES_HOST}/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
