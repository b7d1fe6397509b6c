"""The shared rate budget: one token bucket per (tenant, API operation), in a store every worker reaches.

LINE WORKS allows N calls per minute per API operation per tenant (60 Free, 240 Standard) and asks
for half of that on runs over 30 minutes; several mapped tasks on several workers must share that
budget, which an Airflow pool (a concurrency limit) cannot do. Each caller *reserves* the next
free slot atomically in the store and sleeps until it comes, so callers queue fairly and the store
sees one short transaction per call.

A bucket of ``capacity`` tokens refilled at ``rate`` per second lets through at most
``capacity + rate * W`` calls in any window of W seconds. To stay under a server limit of N calls
per window W (sliding or fixed), :meth:`Budget.for_limit` sets ``capacity = 1`` and
``rate = (N - 1) / W``: never a 429 from the limit itself, and (N − 1)/N of N achieved.

Stores: :class:`SqlBudgetStore` (SQLAlchemy; a SQLite file by default, PostgreSQL in production)
and :class:`RedisBudgetStore` (one Lua script per reservation).
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

#: How far network latency jitter may move a call against its slot. Spreading the rate over the window plus this
#: keeps calls that bunch up after a slow one under the limit: at 240 calls/min it costs 0.8% of the rate, and it
#: is what makes a share of 1.0 safe (BENCHMARKS.md, scenario 1). Connection extra ``rate_spread_seconds``.
DEFAULT_SPREAD_S = 0.5
DEFAULT_SHARE = 0.5  # LINE WORKS: "for continuous calling over 30 minutes, aim for half the limit"
MAX_WAIT_S = 600.0  # a reservation further out than this means the budget is misconfigured
_LONG_AGO = -1.0e300  # next_free of a bucket created full
LATE_TOLERANCE = 0.5  # intervals a caller may reach its slot late before it gives up later slots


class BudgetExceededError(RuntimeError):
    """The next free slot is further away than the caller is willing to wait."""


class BudgetStore(Protocol):
    def reserve(self, key: str, rate: float, capacity: float, now: float) -> float:
        """Take one token for ``key``; return the instant (``now`` clock) at which it may be used."""

    def penalize(self, key: str, until: float, rate: float) -> None:
        """Make every caller of ``key`` wait until ``until`` (after a 429 with a reset time)."""


@dataclass(frozen=True)
class Budget:
    """A rate for one (tenant, operation): ``rate`` tokens per second, bursts up to ``capacity``."""

    rate: float
    capacity: float = 1.0

    @classmethod
    def for_limit(
        cls, calls: int, per_seconds: float = 60.0, share: float = DEFAULT_SHARE, spread_s: float = 0.0
    ) -> Budget:
        """Return the budget that uses ``share`` of a limit of ``calls`` per ``per_seconds`` and never exceeds it.

        ``spread_s``: how far out of step with their slots calls may reach the server (latency jitter). Calls sent
        over ``per_seconds + spread_s`` can then be counted in one window, so the rate is set over that span.
        """
        if calls < 1 or per_seconds <= 0 or not 0 < share <= 1 or spread_s < 0:
            raise ValueError(
                "a budget needs calls >= 1, a positive window, 0 < share <= 1 and a spread >= 0; "
                f"got {calls}, {per_seconds}, {share}, {spread_s}"
            )
        allowed = max(calls * share, 1.0)
        return cls(rate=max(allowed - 1.0, 0.5) / (per_seconds + spread_s), capacity=1.0)


class RateBudget:
    """Hands out permission to call, at the configured rate, across threads and processes sharing a store."""

    def __init__(
        self,
        store: BudgetStore,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_s: float = MAX_WAIT_S,
    ) -> None:
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.max_wait_s = max_wait_s
        self.waited_s = 0.0
        self.acquired = 0
        self.given_up = 0  # slots given up because a caller reached its own too late
        self._lock = threading.Lock()

    def acquire(self, key: str, budget: Budget) -> float:
        """Wait for the next slot of ``key``; return the seconds waited.

        A caller that gets going more than half an interval after its slot (a busy machine, a slow
        store) crowds the calls one window later, and :meth:`Budget.for_limit` keeps only one interval
        of slack: it gives up as many of the next slots as it is intervals late, moving them back.
        """
        now = self.clock()
        at = self.store.reserve(key, budget.rate, budget.capacity, now)
        wait = at - now
        if wait > self.max_wait_s:
            raise BudgetExceededError(
                f"rate budget {key!r}: next slot in {wait:.0f} s exceeds the {self.max_wait_s:.0f} s limit "
                f"(rate {budget.rate * 60:.1f}/min); raise the budget or lower the concurrency"
            )
        if wait > 0:
            self.sleep(wait)
        late = (self.clock() - at) * budget.rate  # in intervals
        given_up = math.ceil(late - LATE_TOLERANCE) if late > LATE_TOLERANCE else 0
        if given_up:
            self.store.reserve(key, budget.rate / given_up, 1.0, self.clock())  # one reservation, given_up long
        with self._lock:
            self.acquired += 1
            self.given_up += given_up
            self.waited_s += max(wait, 0.0)
        return max(wait, 0.0)

    def penalize(self, key: str, seconds: float, budget: Budget) -> None:
        """Hold every caller of ``key`` back ``seconds`` from now (the server said the window resets then)."""
        self.store.penalize(key, self.clock() + max(seconds, 0.0), budget.rate)


class SqlBudgetStore:
    """Buckets in a SQL table; each reservation is one short write transaction.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE`` (the database write lock); on
    PostgreSQL the row is locked with ``SELECT ... FOR UPDATE``.
    """

    def __init__(self, url_or_engine: str | sa.Engine, table: str = "calendar_etl_rate_budget") -> None:
        self.engine = sa.create_engine(url_or_engine, future=True) if isinstance(url_or_engine, str) else url_or_engine
        self.sqlite = self.engine.dialect.name == "sqlite"
        if self.sqlite:
            _make_sqlite_serialisable(self.engine)
        metadata = sa.MetaData()
        self.table = sa.Table(
            table,
            metadata,
            sa.Column("key", sa.String(255), primary_key=True),
            sa.Column("next_free", sa.Float, nullable=False),  # instant the bucket is empty-but-refilled to 1 token
        )
        create_tables(metadata, self.engine)

    def reserve(self, key: str, rate: float, capacity: float, now: float) -> float:
        # GCRA: ``next_free`` is when the next token is due; a full bucket has next_free <= now - (capacity-1)/rate.
        interval = 1.0 / rate
        with self.engine.begin() as conn:
            next_free = self._locked_value(conn, key)
            floor = now - (capacity - 1.0) * interval
            start = floor if next_free is None else max(next_free, floor)
            self._store(conn, key, start + interval, exists=next_free is not None)
        return max(start, now)

    def penalize(self, key: str, until: float, rate: float) -> None:
        with self.engine.begin() as conn:
            next_free = self._locked_value(conn, key)
            if next_free is None or next_free < until:
                self._store(conn, key, until, exists=next_free is not None)

    def _locked_value(self, conn: sa.Connection, key: str) -> float | None:
        query = sa.select(self.table.c.next_free).where(self.table.c.key == key)
        if not self.sqlite:
            query = query.with_for_update()
        value = conn.execute(query).scalar_one_or_none()
        if value is None and not self.sqlite:
            # FOR UPDATE locks nothing while the row is missing, so two first callers would both see an
            # empty bucket and take the same slot: create the row as a full bucket (or wait for the
            # transaction creating it), then lock it.
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(self.table).values(key=key, next_free=_LONG_AGO))
            except sa.exc.IntegrityError:
                pass
            value = conn.execute(query).scalar_one_or_none()
        return None if value is None else float(value)

    def _store(self, conn: sa.Connection, key: str, value: float, *, exists: bool) -> None:
        if exists:
            conn.execute(sa.update(self.table).where(self.table.c.key == key).values(next_free=value))
            return
        try:
            with conn.begin_nested():
                conn.execute(sa.insert(self.table).values(key=key, next_free=value))
        except sa.exc.IntegrityError:  # another process created the row first: update under its lock
            conn.execute(sa.update(self.table).where(self.table.c.key == key).values(next_free=value))


def _make_sqlite_serialisable(engine: sa.Engine) -> None:
    """Start every SQLite transaction with BEGIN IMMEDIATE so read-modify-write is atomic across processes."""
    sa.event.listen(engine, "connect", _sqlite_connect)  # module-level functions: listening twice is a no-op
    sa.event.listen(engine, "begin", _sqlite_begin)
    engine.dispose()  # an engine passed in may hold connections opened before these listeners


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let us issue BEGIN ourselves
    dbapi_connection.execute("PRAGMA busy_timeout = 30000")
    # A rollback journal fsyncs several times per commit while holding the write lock (10-100 ms on a
    # busy disk), and callers reach their slots that much late; WAL commits without an fsync.
    switch_to_wal(dbapi_connection)
    dbapi_connection.execute("PRAGMA synchronous = NORMAL")


def switch_to_wal(dbapi_connection: Any, patience: float = 30.0) -> None:
    """Put the database file in WAL mode (persistent), retrying while other connections hold it.

    Changing the journal mode needs the file to itself, and SQLite reports "database is locked" at once,
    without consulting ``busy_timeout``, when workers opening a fresh database together all try it.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def create_tables(metadata: sa.MetaData, engine: sa.Engine, patience: float = 30.0) -> None:
    """Create the tables of ``metadata`` that do not exist yet, while other processes may be doing the same.

    ``create_all`` looks, then creates: another process can create the table in between, and the creation fails
    ("table ... already exists" on SQLite; a duplicate ``pg_type`` row on PostgreSQL). Looking again then finds it.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            metadata.create_all(engine)
            return
        except (sa.exc.OperationalError, sa.exc.IntegrityError, sa.exc.ProgrammingError) as exc:
            text = str(exc.orig)
            if not ("already exists" in text or "duplicate key" in text) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


_REDIS_RESERVE = """
local next_free = tonumber(redis.call('GET', KEYS[1]))
local now, interval, capacity = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local floor = now - (capacity - 1) * interval
local start = floor
if next_free and next_free > floor then start = next_free end
-- tostring() keeps only 14 significant digits (0.1 ms at epoch seconds): format all 17
redis.call('SET', KEYS[1], string.format('%.17g', start + interval), 'EX', 86400)
return string.format('%.17g', start)
"""

_REDIS_PENALIZE = """
local next_free = tonumber(redis.call('GET', KEYS[1]))
if (not next_free) or next_free < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400)
end
return 1
"""


class RedisBudgetStore:
    """Buckets in Redis under ``prefix``; each reservation is one atomic Lua script."""

    def __init__(self, client: Any, prefix: str = "calendar_etl:budget:") -> None:
        self.client = client
        self.prefix = prefix
        self._reserve = client.register_script(_REDIS_RESERVE)
        self._penalize = client.register_script(_REDIS_PENALIZE)

    def reserve(self, key: str, rate: float, capacity: float, now: float) -> float:
        start = float(self._reserve(keys=[self.prefix + key], args=[repr(now), repr(1.0 / rate), repr(capacity)]))
        return max(start, now)

    def penalize(self, key: str, until: float, rate: float) -> None:
        self._penalize(keys=[self.prefix + key], args=[repr(until)])


class MemoryBudgetStore:
    """Buckets in this process only (for a single worker, and for unit tests)."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, rate: float, capacity: float, now: float) -> float:
        interval = 1.0 / rate
        with self._lock:
            floor = now - (capacity - 1.0) * interval
            start = max(self._next.get(key, floor), floor)
            self._next[key] = start + interval
        return max(start, now)

    def penalize(self, key: str, until: float, rate: float) -> None:
        with self._lock:
            self._next[key] = max(self._next.get(key, until), until)
