"""A thin database layer: the same SQL on sqlite3 and psycopg 3.

Read-model SQL is written once, portably, with ``?`` placeholders; on
PostgreSQL they become ``%s`` (``ledger.db.pg_placeholders``: the URL default,
connection set-up, placeholders and chunking are shared with the ledger's
recorders in ``ledger/db.py``). Beyond that the layer only knows how to

* run a *write transaction* that excludes every other projector
  (SQLite ``BEGIN IMMEDIATE``; PostgreSQL a transaction-scoped advisory lock),
* bulk-insert rows (PostgreSQL ``COPY``, SQLite ``executemany``),
* hand out reader connections that are safe to use from many threads.

Column types that differ between the two are rendered by :func:`ddl`.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import random
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import date
from typing import Any

import psycopg
from psycopg.pq import ExecStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from ledger.db import (
    CONNECT_TIMEOUT,
    POOL_WAIT_SECONDS,
    SQLITE_BUSY_TIMEOUT_MS,
    Dialect,
    address,
    closed_by_server,
    connect_sqlite,
    connection_lost,
    connection_options,
    database_url,
    dialect_of,
    pg_placeholders,
    sqlite_path,
)
from ledger.errors import DatabaseUnavailable

__all__ = ["Dialect", "dialect_of"]  # re-exported for the read side
Row = tuple[Any, ...]
TUPLES_OK = ExecStatus.TUPLES_OK
RowWriter = Callable[[Sequence[Any]], None]
log = logging.getLogger(__name__)

# Every projector writes under this lock: PostgreSQL advisory lock key.
WRITER_LOCK_KEY = 7356202
# How long a projector that should not wait (a follower) waits for SQLite's write lock.
SQLITE_SHORT_WAIT_MS = 1000
# Replacing the live model's tables (PostgreSQL): the first wait for readers to let go of them, and
# the longest (both below PostgreSQL's default deadlock_timeout of 1 s; see lock_for_replacement).
REPLACEMENT_LOCK_WAIT_S = 0.02
REPLACEMENT_LOCK_WAIT_MAX_S = 0.32
# Sent after every projector commit, payload = the position now reflected.
READ_MODEL_CHANNEL = "claims_read_model"

_TYPES: dict[Dialect, dict[str, str]] = {
    # int8: 64-bit integer; in SQLite "INTEGER PRIMARY KEY" makes it the rowid.
    "sqlite": {"int8": "INTEGER", "bool": "INTEGER", "date": "TEXT", "uuid": "TEXT"},
    "postgresql": {"int8": "BIGINT", "bool": "BOOLEAN", "date": "DATE", "uuid": "UUID"},
}


def ddl(template: str, dialect: Dialect) -> str:
    """Render a DDL template: ``{int8}``, ``{bool}``, ``{date}`` and ``{uuid}`` become the dialect's types."""
    for token, sql_type in _TYPES[dialect].items():
        template = template.replace("{" + token + "}", sql_type)
    return template


class Connection:
    """One connection; not for sharing between threads."""

    dialect: Dialect

    def execute(self, sql: str, params: Sequence[Any] = (), *, prepare: bool | None = None) -> list[Row]:
        """Run one statement; ``prepare=True`` asks PostgreSQL to prepare it at once (psycopg's ``prepare``)."""
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def execute_script(self, statements: Sequence[str]) -> None:
        """Run statements without parameters, in order (PostgreSQL: in one round trip)."""
        for statement in statements:
            self.execute(statement)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        with self.row_writer(table, columns) as write:
            for row in rows:
                write(row)

    def row_writer(self, table: str, columns: Sequence[str]) -> AbstractContextManager[RowWriter]:
        """Bulk insert: a function taking one row at a time, rows written by the end of the block.

        PostgreSQL streams them (COPY: the server inserts rows while the caller
        computes the next ones); SQLite collects them for one ``executemany``.
        """
        raise NotImplementedError

    def write_transaction(self, *, wait: bool = True) -> AbstractContextManager[bool]:
        """A transaction holding the projector's writer lock.

        Yields False (and writes nothing) when ``wait`` is False and another
        projector holds the lock.
        """
        raise NotImplementedError

    def table_names(self, prefix: str) -> list[str]:
        raise NotImplementedError

    def lock_for_replacement(self, tables: Sequence[str]) -> None:
        """In a write transaction, before dropping or replacing ``tables``: wait until no reader uses them.

        SQLite needs nothing: readers keep their snapshot while the single writer changes the schema.
        """

    def in_list(self, values: Sequence[Any], pg_type: str) -> tuple[str, list[Any]]:
        """``column <sql>`` tests membership: ``IN (?, ...)``; on PostgreSQL ``= ANY(?::type[])``."""
        return f"IN ({', '.join('?' * len(values))})", list(values)

    def values_cte(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
        """A ``WITH`` item holding a few ``rows`` as ``VALUES`` (the planner sees how many)."""
        marks = ", ".join("?" * len(columns))
        values = ", ".join([f"({marks})"] * len(rows))
        return f"{name} ({', '.join(columns)}) AS (VALUES {values})", [v for row in rows for v in row]

    def rows_cte(
        self,
        name: str,
        columns: Sequence[str],
        pg_types: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        opaque: bool = False,
    ) -> tuple[str, list[Any]]:
        """A ``WITH`` item holding many ``rows``: ``VALUES``; on PostgreSQL ``unnest`` of one array per column.

        ``opaque`` (PostgreSQL): the arrays reach ``unnest`` through sub-selects, so no plan of a
        prepared statement knows the rows or how many: its custom plans cost what its generic plan
        costs, and PostgreSQL keeps the generic one (planned once) instead of re-planning every
        execution whose array is shorter than its generic guess (~1 ms for the position query).
        """
        return self.values_cte(name, columns, rows)

    def notify(self, channel: str, payload: str) -> None:
        """PostgreSQL: NOTIFY (delivered at commit); SQLite: nothing."""

    def analyze(self, tables: Sequence[str], *, quick: bool = False) -> None:
        """Refresh planner statistics (PostgreSQL plans a growing table's lookups as seq scans without).

        ``quick``: from a small sample (enough for sizes and distinct counts).
        """

    def close(self) -> None:
        raise NotImplementedError


class QueryTimeout(Exception):
    """A read-model query ran longer than the reader's statement timeout and was cancelled."""


class ReadModelUpgrading(Exception):
    """The read model is of another schema version: an older one while this version's is built beside it
    (until the switch, ``Projector.rebuild``), or one another version's projector switched to. This code
    cannot read it, and answers nothing from it."""


def timed_out() -> QueryTimeout:
    """PostgreSQL cancelled a reader's statement (``QueryCanceled``): the read model's own error."""
    return QueryTimeout("the query ran longer than the statement timeout")


def returns_rows(cur: psycopg.Cursor[Any] | psycopg.AsyncCursor[Any]) -> bool:
    # (not ``cur.description``: it builds a Column object per column on every call)
    result = cur.pgresult
    return result is not None and result.status == TUPLES_OK


def reader_options(statement_timeout: float) -> dict[str, Any]:
    """Connection options of every PostgreSQL reader (a thread's or an event loop's): autocommit, and
    the statement timeout (seconds; 0: none)."""
    options: dict[str, Any] = {"autocommit": True}
    if statement_timeout > 0:
        options["options"] = f"-c statement_timeout={max(1, int(statement_timeout * 1000))}"
    return options


class SQLiteConnection(Connection):
    dialect: Dialect = "sqlite"

    def __init__(self, path: str, statement_timeout: float = 0.0) -> None:
        self.raw = connect_sqlite(path)
        self.statement_timeout = statement_timeout
        self._deadline = float("inf")
        if statement_timeout > 0:  # SQLite has no statement timeout: interrupt from its progress handler
            self.raw.set_progress_handler(lambda: int(time.monotonic() > self._deadline), 10_000)

    def execute(self, sql: str, params: Sequence[Any] = (), *, prepare: bool | None = None) -> list[Row]:
        if self.statement_timeout <= 0:
            return self.raw.execute(sql, params).fetchall()
        self._deadline = time.monotonic() + self.statement_timeout
        try:
            return self.raw.execute(sql, params).fetchall()
        except sqlite3.OperationalError as error:
            if str(error) == "interrupted":
                raise QueryTimeout(f"the query ran longer than {self.statement_timeout:g} s") from None
            raise
        finally:
            self._deadline = float("inf")

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.raw.executemany(sql, rows)

    @contextmanager
    def row_writer(self, table: str, columns: Sequence[str]) -> Iterator[RowWriter]:
        rows: list[Sequence[Any]] = []
        yield rows.append
        marks = ", ".join("?" * len(columns))
        self.raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    @contextmanager
    def write_transaction(self, *, wait: bool = True) -> Iterator[bool]:
        # BEGIN IMMEDIATE takes the database's single write lock. The ledger's
        # appends take it briefly too, so even wait=False waits a little.
        if wait:
            self.raw.execute("BEGIN IMMEDIATE")
        else:
            self.raw.execute(f"PRAGMA busy_timeout={SQLITE_SHORT_WAIT_MS}")
            try:
                self.raw.execute("BEGIN IMMEDIATE")
                locked = True
            except sqlite3.OperationalError:  # database is locked
                locked = False
            finally:
                self.raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if not locked:
                yield False
                return
        try:
            yield True
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    def table_names(self, prefix: str) -> list[str]:
        rows = self.raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return [r[0] for r in rows if r[0].startswith(prefix)]

    def close(self) -> None:
        self.raw.close()


class PostgresText(Connection):
    """PostgreSQL's statement texts and parameters (arrays, ``= ANY``), which need no connection: the
    read model builds a statement once for the thread's connection or an event loop's (AsyncReaders)."""

    dialect: Dialect = "postgresql"

    def in_list(self, values: Sequence[Any], pg_type: str) -> tuple[str, list[Any]]:
        return f"= ANY(?::{pg_type}[])", [array_text(values)]

    def rows_cte(
        self,
        name: str,
        columns: Sequence[str],
        pg_types: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        opaque: bool = False,
    ) -> tuple[str, list[Any]]:
        array = "(SELECT ?::{}[])" if opaque else "?::{}[]"
        arrays = ", ".join(array.format(t) for t in pg_types)
        params = [array_text(column) for column in zip(*rows, strict=True)] if rows else ["{}" for _ in columns]
        return f"{name} ({', '.join(columns)}) AS (SELECT * FROM unnest({arrays}))", params


PG_TEXT = PostgresText()


class PostgresConnection(PostgresText):
    def __init__(self, raw: psycopg.Connection[Any], lock_key: int = WRITER_LOCK_KEY) -> None:
        self.raw = raw  # autocommit; transactions are explicit
        self.lock_key = lock_key  # the advisory lock of the model this connection writes

    @staticmethod
    def connect(url: str) -> PostgresConnection:
        return PostgresConnection(psycopg.connect(url, autocommit=True, **connection_options(url)))

    def execute(self, sql: str, params: Sequence[Any] = (), *, prepare: bool | None = None) -> list[Row]:
        try:
            cur = self.raw.execute(_pg(sql), params, prepare=prepare)
        except psycopg.errors.QueryCanceled:
            raise timed_out() from None
        return cur.fetchall() if returns_rows(cur) else []

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(_pg(sql), rows)

    def execute_script(self, statements: Sequence[str]) -> None:
        # Without parameters psycopg sends the simple query protocol, which takes many statements.
        if statements:
            self.raw.execute("; ".join(statements))

    @contextmanager
    def row_writer(self, table: str, columns: Sequence[str]) -> Iterator[RowWriter]:
        with self.raw.cursor() as cur:
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cur.copy(sql) as copy:
                yield copy.write_row

    @contextmanager
    def write_transaction(self, *, wait: bool = True) -> Iterator[bool]:
        with self.raw.transaction():
            if wait:
                self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
                yield True
            else:
                row = self.raw.execute("SELECT pg_try_advisory_xact_lock(%s)", (self.lock_key,)).fetchone()
                yield bool(row and row[0])

    def table_names(self, prefix: str) -> list[str]:
        rows = self.raw.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()
        return [r[0] for r in rows if r[0].startswith(prefix)]

    def lock_for_replacement(self, tables: Sequence[str]) -> None:
        # A reader's transaction takes its tables' locks one by one, in any order. A DROP that waits
        # for one table while holding another it dropped can close a cycle with such a reader, and
        # PostgreSQL then aborts one of the two after deadlock_timeout: the switch, or a reader's
        # query. So take every lock in one statement, waiting at most a short while (below half the
        # server's deadlock_timeout, 1 s by default); if some reader still holds one, give back those
        # taken (roll back to a savepoint: the transaction and its writer lock stay), let the readers
        # finish and try again. Readers queue behind the waiting LOCK, so a retry finds fewer. No
        # deadline: readers' statements end (statement timeouts); one that never does is logged.
        if not tables:
            return
        statement = f"LOCK TABLE {', '.join(sorted(tables))} IN ACCESS EXCLUSIVE MODE"
        [(deadlock_ms, before)] = self.raw.execute(
            "SELECT setting::int, current_setting('lock_timeout') FROM pg_settings WHERE name = 'deadlock_timeout'"
        ).fetchall()
        longest = min(REPLACEMENT_LOCK_WAIT_MAX_S, deadlock_ms / 2000)
        wait, started = min(REPLACEMENT_LOCK_WAIT_S, longest), time.monotonic()
        while True:
            try:
                with self.raw.transaction():  # a savepoint: the enclosing write transaction is open
                    self.raw.execute("SELECT set_config('lock_timeout', %s, true)", (f"{max(1, round(wait * 1000))}ms",))
                    self.raw.execute(statement)
                self.raw.execute("SELECT set_config('lock_timeout', %s, true)", (before,))  # (as the caller had it)
                return
            except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
                if time.monotonic() - started > 10:  # say so every 10 s: a reader left a transaction open?
                    log.warning("replacing the read model: readers have held its tables for over 10 s")
                    started = time.monotonic()
                time.sleep(random.uniform(0, wait))  # readers run on meanwhile; the jitter spreads retries
                wait = min(wait * 2, longest)

    def notify(self, channel: str, payload: str) -> None:
        self.raw.execute("SELECT pg_notify(%s, %s)", (channel, payload))

    def analyze(self, tables: Sequence[str], *, quick: bool = False) -> None:
        if quick:  # in a transaction: SET LOCAL ends with it
            self.raw.execute("SET LOCAL default_statistics_target = 10")
        self.raw.execute(f"ANALYZE {', '.join(tables)}")

    def close(self) -> None:
        self.raw.close()


def array_text(values: Sequence[Any]) -> str | list[Any]:
    """An array parameter (``rows_cte``, ``in_list``) as PostgreSQL's array input text, when its values
    are strings, integers, dates or None (the statement's cast gives the element type); other values
    as a list, which psycopg dumps. Why: psycopg's list dumper is Python and inspects every element;
    for the four short arrays of a batch of ``position`` questions it cost ~80-120 µs per statement,
    this ~10-20; for 10,000 elements ~3-10x this (bench/array_params.py).
    Every string is double-quoted with its backslashes and double quotes escaped, so any text
    (commas, braces, blanks, the word NULL) reads back as itself."""
    # Strings only, none holding a quote or a backslash (a position batch's keys): quoted in one join,
    # half the time of the loop below (integers and dates gain nothing from it: measured).
    if values and type(values[0]) is str and all(type(value) is str for value in values):
        joined = "".join(values)
        if '"' not in joined and "\\" not in joined:
            return '{"' + '","'.join(values) + '"}'
    parts = []
    first: type | None = None
    for value in values:
        kind = type(value)
        if value is not None and kind is not (first := first or kind):
            return list(values)  # mixed kinds: psycopg refuses them, as it always did
        if kind is str:
            parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif kind is int:  # (not bool, a subclass)
            parts.append(str(value))
        elif kind is date:  # (not datetime, a subclass: its text would depend on the session's time zone)
            parts.append(value.isoformat())
        elif value is None:
            parts.append("NULL")
        else:
            return list(values)
    return "{" + ",".join(parts) + "}"


_pg = pg_placeholders


# A rebuild projects into a model beside the live one: PostgreSQL schema REBUILD_SCHEMA (its own
# writer lock), SQLite a file next to the database; then switches (Projector.rebuild).
REBUILD_SCHEMA = "rm_rebuild"
REBUILD_LOCK_KEY = WRITER_LOCK_KEY + 1  # the writer lock of the model beside (its projector's batches)
# One rebuild at a time per database, across processes: there is one model beside, which two rebuilds
# would each drop and write. PostgreSQL: a session advisory lock of its own (not the writer lock, which
# the live projector takes for each batch while a rebuild runs); see rebuilder_lock for SQLite.
REBUILDER_LOCK_KEY = WRITER_LOCK_KEY + 2


@contextmanager
def rebuilder_lock(url: str, *, wait: bool, waiting: Callable[[], None] | None = None) -> Iterator[bool]:
    """Hold the database's rebuild lock for the block; yields False at once if another holds it and not ``wait``.

    ``waiting`` is called when another holds it and this call will wait for it. The lock dies with its
    holder: PostgreSQL's on the session (a connection of its own, held for the rebuild), SQLite's is an OS
    file lock (``flock``) on a file beside the database, which the kernel releases when the process ends.
    Why not a row in the SQLite database: holding its write lock for a rebuild would stop every append,
    and a row held outside a transaction outlives a crashed holder (it would need a lease and a clock).
    ``flock`` locks belong to an open file, not a process: two rebuilds of one process exclude each other.
    """
    if dialect_of(url) == "sqlite":
        with open(sqlite_path(url) + ".rebuild-lock", "a+b") as file:  # never removed: a waiter may hold it open
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    yield False
                    return
                if waiting is not None:
                    waiting()
                fcntl.flock(file, fcntl.LOCK_EX)
            try:
                yield True
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)
        return
    # (closing the connection releases the lock, whatever happened)
    with psycopg.connect(url, autocommit=True, **connection_options(url)) as raw:
        row = raw.execute("SELECT pg_try_advisory_lock(%s)", (REBUILDER_LOCK_KEY,)).fetchone()
        if not (row and row[0]):
            if not wait:
                yield False
                return
            if waiting is not None:
                waiting()
            raw.execute("SELECT pg_advisory_lock(%s)", (REBUILDER_LOCK_KEY,))
        yield True


def connect_beside(url: str) -> Connection:
    """A connection to an empty model beside ``url``'s live one (anything left by an earlier rebuild is dropped)."""
    if dialect_of(url) == "sqlite":
        discard_beside(url)
        return SQLiteConnection(beside_path(url))
    raw = psycopg.connect(url, autocommit=True, **connection_options(url))
    # synchronous_commit off for the build's own commits: a crash loses at most its last batches, and
    # a crashed rebuild is redone from the log anyway (the next one drops the schema first). The
    # switch commits on the live connection, synchronously, which flushes the WAL before it too.
    raw.execute(
        f"DROP SCHEMA IF EXISTS {REBUILD_SCHEMA} CASCADE; CREATE SCHEMA {REBUILD_SCHEMA}; SET search_path = {REBUILD_SCHEMA};"
        " SET synchronous_commit = off"
    )
    return PostgresConnection(raw, REBUILD_LOCK_KEY)


def connect_schema(url: str, schema: str) -> Connection:
    """Another connection (PostgreSQL) to the model in ``schema`` (e.g. to build its indexes at once)."""
    raw = psycopg.connect(url, autocommit=True, **connection_options(url))
    raw.execute("SELECT set_config('search_path', %s, false)", (schema,))
    return PostgresConnection(raw)


def beside_path(url: str) -> str:
    return sqlite_path(url) + ".rebuild"


def discard_beside(url: str, conn: Connection | None = None) -> None:
    """Remove what a rebuild left beside the live model (after the switch, or a failure).

    ``conn``: the rebuild's own connection, closed here (PostgreSQL drops the schema on it: no
    new connection, unless it broke).
    """
    if dialect_of(url) == "sqlite":
        if conn is not None:
            conn.close()
        path = beside_path(url)
        for leftover in (path, path + "-wal", path + "-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)
        return
    drop = f"DROP SCHEMA IF EXISTS {REBUILD_SCHEMA} CASCADE"
    if conn is not None:
        try:
            conn.execute(drop)
            return
        except psycopg.Error:
            pass  # the connection broke (the rebuild may have failed for that): drop on a new one
        finally:
            conn.close()
    with psycopg.connect(url, autocommit=True, **connection_options(url)) as raw:
        raw.execute(drop)


def connect(url: str | None = None) -> Connection:
    """A dedicated connection (the projector's)."""
    url = database_url(url)
    if dialect_of(url) == "sqlite":
        return SQLiteConnection(sqlite_path(url))
    return PostgresConnection.connect(url)


class Readers:
    """Reader connections for many threads: a pool (PostgreSQL) or one per thread (SQLite)."""

    def __init__(self, url: str | None = None, *, pool_size: int = 8, statement_timeout: float = 0.0) -> None:
        self.url = database_url(url)
        self.dialect = dialect_of(self.url)
        self.statement_timeout = statement_timeout  # seconds; 0: none
        self._pool: ConnectionPool[Any] | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sqlite: list[SQLiteConnection] = []
        # Called with each connection handed out, before the caller reads (ReadModel: while the model is of
        # another schema, it raises ReadModelUpgrading; otherwise a clock read, and a look at the version every
        # few seconds).
        self.gate: Callable[[Connection], None] | None = None
        if self.dialect == "postgresql":
            kwargs = {**reader_options(statement_timeout), **connection_options(self.url)}
            self._pool = ConnectionPool(
                self.url, min_size=1, max_size=pool_size, open=True, kwargs=kwargs, timeout=POOL_WAIT_SECONDS
            )

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        if self._pool is not None:
            for _ in range(self._pool.max_size + 1):  # (each stale one is discarded: the pool opens another)
                try:
                    raw = self._pool.getconn()
                except psycopg.OperationalError as error:  # (PoolTimeout: none could be had in time)
                    raise DatabaseUnavailable(address(self.url), error) from error
                try:
                    if closed_by_server(raw):
                        raw.close()  # (given back closed: the pool drops it)
                        continue
                    with raw:  # (as the pool's connection() does: a transaction left open ends here)
                        pg = PostgresConnection(raw)
                        if (gate := self.gate) is not None:  # (read once: another thread may clear it)
                            gate(pg)
                        yield pg
                    return
                except psycopg.Error as error:
                    if connection_lost(raw):  # (under a statement: the server went away, a silent host timed out)
                        raise DatabaseUnavailable(address(self.url), error) from error
                    raise
                finally:
                    self._pool.putconn(raw)
            raise DatabaseUnavailable(address(self.url), RuntimeError("every pooled connection was closed"))
        conn: SQLiteConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = SQLiteConnection(sqlite_path(self.url), self.statement_timeout)
            self._local.conn = conn
            with self._lock:
                self._sqlite.append(conn)
        if (gate := self.gate) is not None:
            gate(conn)
        yield conn

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        with self._lock:
            for conn in self._sqlite:
                conn.close()
            self._sqlite.clear()
        self._local = threading.local()


class AsyncReaders:
    """Reader connections on event loops (PostgreSQL): psycopg's ``AsyncConnection``, at most ``size``
    per loop, for a statement the API runs on its event loop instead of a worker thread (the hop and
    the second thread's wake-ups cost more CPU than the statement's own Python: bench/RESULTS.md).

    A connection serves one statement at a time. A batch takes an idle one; finding none, it takes the
    first one freed or opened (``_LoopConnections``), so no batch waits out another's slow statement
    while fewer than ``size`` are open. :meth:`close` closes every connection
    of every loop, at once (libpq's ``finish`` needs no loop); one still running then fails.

    A connect that fails while the loop has a connection open (the server's or the role's connection
    limit reached) fails no batch: they wait for a connection given back, and no connect is tried for
    ``CONNECT_BACKOFF`` seconds. A batch waits ``wait_timeout`` seconds at most for a connection (then
    the pool's error, as on a thread); a connect ``CONNECT_TIMEOUT`` seconds unless the URL says.

    Why by hand, not psycopg_pool's ``AsyncConnectionPool`` (one per loop; tried, bench/RESULTS.md "pool1"):
    over HTTP it cost ~3.5% more CPU per cold request (median of 12 alternated runs against this class,
    within the noise of one run; its getconn/putconn alone ~4.4 us per batch, a deque here) for little less
    code (a pool's close needs its loop: tracking and finishing its connections stayed ours); its worker
    tasks swallow a cancellation while they connect, so a loop that ends with its pool not closed hangs in
    ``asyncio.run``'s shutdown; and when connects fail, every batch waits out ``wait_timeout`` while the
    pool retries with backoff, where this class fails a batch with the connect's error at once if nothing
    is open. What it has that this lacks: a connection lifetime, stats. Connections unused for ``max_idle``
    seconds are closed here too, as the library decides it: every period, as many as were idle throughout."""

    CONNECT_TIMEOUT = CONNECT_TIMEOUT  # (psycopg's default is 130 s: shutdown and waiting batches waited that long)
    CONNECT_BACKOFF = 5.0  # seconds without a new connect after one failed while others were open
    MAX_IDLE = 600.0  # seconds a connection stays open unused (psycopg_pool's default for the threads' pool)

    def __init__(
        self,
        url: str,
        *,
        size: int = 4,
        statement_timeout: float = 0.0,
        wait_timeout: float = POOL_WAIT_SECONDS,
        max_idle: float = MAX_IDLE,
    ) -> None:
        if max_idle <= 0:
            raise ValueError(f"max_idle must be positive, not {max_idle}")
        self.url = url
        self.size = size
        self.max_idle = max_idle
        self.wait_timeout = wait_timeout  # (the threads' pool's default timeout: the same bound)
        self.kwargs = reader_options(statement_timeout)  # as the threads' connections (Readers)
        self.kwargs.update(connection_options(url))
        self._loops: dict[asyncio.AbstractEventLoop, _LoopConnections] = {}
        self._lock = threading.Lock()  # (apps on several loops, e.g. tests' clients, share one read model)
        self.closed = False
        self.opened = 0  # connections made, in all (tests: one per concurrent batch, not per statement)

    async def execute(self, sql: str, params: Sequence[Any] = (), *, prepare: bool | None = None) -> list[Row]:
        """One statement on an idle connection of the running loop (``?`` placeholders, as ``Connection``)."""
        loop = asyncio.get_running_loop()
        connections = self._loops.get(loop)
        if connections is None:
            with self._lock:
                if self.closed:
                    raise psycopg.OperationalError("the read model's connections are closed")
                connections = self._loops.setdefault(loop, _LoopConnections(self))
        try:
            conn = await connections.take()
        except psycopg.OperationalError as error:  # (a connect refused, or PoolTimeout: none could be had in time)
            raise DatabaseUnavailable(address(self.url), error) from error
        reusable = False
        try:
            try:
                cur = await conn.execute(_pg(sql), params, prepare=prepare)
            except psycopg.errors.QueryCanceled:
                reusable = True  # (autocommit: the connection is idle again)
                raise timed_out() from None
            except psycopg.DatabaseError as error:
                # A statement the server refused (e.g. a table gone) leaves it idle too; a broken one is not.
                reusable = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
                if connection_lost(conn):  # (under a statement: the server went away, a silent host timed out)
                    raise DatabaseUnavailable(address(self.url), error) from error
                raise
            rows = await cur.fetchall() if returns_rows(cur) else []
            reusable = True
            return rows
        finally:
            # Anything else (a broken connection, a cancelled await mid-statement): not reused.
            connections.give(conn, reusable and not conn.closed)

    async def settle(self, timeout: float = 2.0) -> None:
        """Wait for this loop's connects under way, ``timeout`` seconds at most, then cancel those left
        (before :meth:`close` at shutdown, so no connect task outlives its loop, and a server that
        accepts but never answers does not hold the shutdown)."""
        connections = self._loops.get(asyncio.get_running_loop())
        if connections is not None:
            await connections.settle(timeout)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            loops, self._loops = list(self._loops.values()), {}
        for connections in loops:
            connections.close()

    def open_connections(self) -> int:
        """Connections open now, on every loop."""
        with self._lock:
            return sum(len([c for c in lc.all if not c.closed]) for lc in self._loops.values())


class _LoopConnections:
    """One loop's connections of :class:`AsyncReaders` (used from that loop only, but for ``close``).

    Why not open a connection where it is needed: a connect costs milliseconds (a backend started, then
    the statement prepared and planned anew), and a batch that paid it became the tail of the latency.
    A batch finding none idle waits for the first one free, which a running batch returns within its
    round trip, while a new one opens beside (up to ``size``) for the next burst. Idle ones are used in
    turn (first in, first out), so every open connection has its statements prepared and planned."""

    def __init__(self, readers: AsyncReaders) -> None:
        self.readers = readers
        self.loop = asyncio.get_running_loop()
        self.idle: deque[psycopg.AsyncConnection[Any]] = deque()
        # The fewest connections idle at any moment since the last shrink: that many went unused for the
        # whole period (used in turn, each one's own idle time says nothing; psycopg_pool shrinks this way).
        self.idle_low = 0
        self.shrinking: asyncio.TimerHandle | None = None  # (the next shrink, while connections are open)
        self.all: set[psycopg.AsyncConnection[Any]] = set()
        self.opening: set[asyncio.Task[None]] = set()
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.no_connect_until = 0.0  # (loop time: a connect failed while others were open)

    async def take(self) -> psycopg.AsyncConnection[Any]:
        loop = asyncio.get_running_loop()
        deadline = 0.0  # (set when it first waits: nothing more on the way of a batch finding one idle)
        while True:
            if self.readers.closed:
                raise psycopg.OperationalError("the read model's connections are closed")
            if self.idle:
                conn = self.idle.popleft()
                self.idle_low = min(self.idle_low, len(self.idle))
                if closed_by_server(conn):  # (the database restarted or cut it: another, or a new one)
                    self.all.discard(conn)
                    conn.pgconn.finish()
                    continue
                return conn
            self.idle_low = 0
            # At most one connect per waiting batch, none beyond the size, and none for a while after one
            # failed while others were open (unless none is open or opening now: then nothing else would
            # wake this batch).
            if (
                len(self.all) + len(self.opening) < self.readers.size
                and len(self.opening) <= len(self.waiters)
                and (loop.time() >= self.no_connect_until or not (self.all or self.opening))
            ):
                task = loop.create_task(self._open())
                self.opening.add(task)
                task.add_done_callback(self.opening.discard)
            if not deadline:
                deadline = loop.time() + self.readers.wait_timeout
            waiter = loop.create_future()
            self.waiters.append(waiter)
            try:
                # (a connection given back or opened; or the error of a failed connect)
                await asyncio.wait_for(asyncio.shield(waiter), deadline - loop.time())
            except TimeoutError:
                self._drop(waiter)
                raise PoolTimeout(f"couldn't get a connection after {self.readers.wait_timeout:.2f} sec") from None
            except asyncio.CancelledError:
                self._drop(waiter)
                raise

    def _drop(self, waiter: asyncio.Future[None]) -> None:
        """A waiter given up (cancelled or timed out): out of the queue, so it counts for no connect;
        if it had been woken, the turn passes on."""
        if waiter.done() and not waiter.cancelled():
            if waiter.exception() is None:
                self._wake()
        else:
            waiter.cancel()
            with suppress(ValueError):  # (already taken off by a wake-up)
                self.waiters.remove(waiter)

    async def _open(self) -> None:
        try:
            conn = await psycopg.AsyncConnection.connect(self.readers.url, **self.readers.kwargs)
        except Exception as error:
            self.opening.discard(asyncio.current_task())  # type: ignore[arg-type]  # (before the next waiter looks)
            if self.all or self.opening:
                # (e.g. the connection limit reached): the batches wait for a connection open now to be
                # given back, or for the connect under way; no new connect for a while.
                self.no_connect_until = asyncio.get_running_loop().time() + self.readers.CONNECT_BACKOFF
                return
            # Nothing open nor opening (the database unreachable): one waiting batch fails with the error,
            # the next tries a connect of its own.
            while self.waiters:
                waiter = self.waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(error)
                    break
            self._wake()
            return
        self.opening.discard(asyncio.current_task())  # type: ignore[arg-type]
        self.readers.opened += 1
        if self.readers.closed:  # (closed while connecting)
            conn.pgconn.finish()
            return
        self.all.add(conn)
        self.give(conn, True)

    async def settle(self, timeout: float) -> None:
        """Wait for the connects under way, at most ``timeout`` seconds, then cancel those left (shutdown:
        none is left running when the loop ends)."""
        if self.opening:
            _, late = await asyncio.wait(list(self.opening), timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)

    def give(self, conn: psycopg.AsyncConnection[Any], reusable: bool) -> None:
        if reusable and not self.readers.closed:
            self.idle.append(conn)
            if self.shrinking is None:
                self.idle_low = len(self.idle)
                self.shrinking = self.loop.call_later(self.readers.max_idle, self._shrink)
        else:
            self.all.discard(conn)
            conn.pgconn.finish()  # (libpq's close: no await, no round trip)
        self._wake()

    def _shrink(self) -> None:
        """Close as many connections as went unused for the whole ``max_idle`` period; look again after
        another while any is open."""
        self.shrinking = None
        if self.readers.closed:
            return
        for _ in range(min(self.idle_low, len(self.idle))):
            conn = self.idle.popleft()
            self.all.discard(conn)
            conn.pgconn.finish()
        self.idle_low = len(self.idle)
        if self.all:
            self.shrinking = self.loop.call_later(self.readers.max_idle, self._shrink)

    def _wake(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        for conn in list(self.all):
            conn.pgconn.finish()
        self.all.clear()
        self.idle.clear()
        for waiter in self.waiters:  # (they see ``closed`` and fail)
            if not waiter.done():
                waiter.get_loop().call_soon_threadsafe(_wake_one, waiter)
        self.waiters.clear()


def _wake_one(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
