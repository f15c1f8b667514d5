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
import itertools
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import ExecStatus
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from ledger.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    Dialect,
    connect_sqlite,
    database_url,
    dialect_of,
    pg_placeholders,
    sqlite_path,
)

__all__ = ["Dialect", "dialect_of"]  # re-exported for the read side
Row = tuple[Any, ...]
TUPLES_OK = ExecStatus.TUPLES_OK
RowWriter = Callable[[Sequence[Any]], None]

# Every projector writes under this lock: PostgreSQL advisory lock key.
WRITER_LOCK_KEY = 7356202
# How long a projector that should not wait (a follower) waits for SQLite's write lock.
SQLITE_SHORT_WAIT_MS = 1000
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
        return PostgresConnection(psycopg.connect(url, autocommit=True))

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
REBUILD_LOCK_KEY = WRITER_LOCK_KEY + 1


def connect_beside(url: str) -> Connection:
    """A connection to an empty model beside ``url``'s live one (anything left by an earlier rebuild is dropped)."""
    if dialect_of(url) == "sqlite":
        discard_beside(url)
        return SQLiteConnection(beside_path(url))
    raw = psycopg.connect(url, autocommit=True)
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
    raw = psycopg.connect(url, autocommit=True)
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
    with psycopg.connect(url, autocommit=True) as raw:
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
        if self.dialect == "postgresql":
            kwargs = reader_options(statement_timeout)
            self._pool = ConnectionPool(self.url, min_size=1, max_size=pool_size, open=True, kwargs=kwargs)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        if self._pool is not None:
            with self._pool.connection() as raw:
                yield PostgresConnection(raw)
            return
        conn: SQLiteConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = SQLiteConnection(sqlite_path(self.url), self.statement_timeout)
            self._local.conn = conn
            with self._lock:
                self._sqlite.append(conn)
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
    """Reader connections on event loops (PostgreSQL), for a statement the API runs on its event loop
    instead of a worker thread (the hop and the second thread's wake-ups cost more CPU than the
    statement's own Python: bench/RESULTS.md): one psycopg_pool ``AsyncConnectionPool`` of psycopg
    ``AsyncConnection``s per loop (a pool's lock, tasks and connections belong to the loop it was opened
    on), made on the loop's first statement.

    A loop's pool opens connections as waiting batches need them, up to ``size``, one connect at a time in
    its own task (not in a batch's path), and closes one left idle for ``MAX_IDLE`` seconds; it hands them
    out first in, first out (so every open one has its statements prepared and planned), and replaces a
    broken one when it is given back. A connect that fails (the database unreachable, its connection limit
    reached) fails no batch: the pool tries again in the background (backoff from 1 s, for
    ``reconnect_timeout``), and a batch waits ``wait_timeout`` seconds at most for a connection, then gets
    the pool's ``PoolTimeout`` (as on a thread). A connect times out after ``CONNECT_TIMEOUT`` seconds
    unless the URL says. :meth:`settle` closes the running loop's pool (shutdown); :meth:`close` closes
    every connection of every loop at once (libpq's ``finish`` needs no loop); one still running fails."""

    CONNECT_TIMEOUT = 10  # seconds (psycopg's default is 130 s: shutdown and waiting batches waited that long)
    MAX_IDLE = 10 * 60.0  # seconds (psycopg_pool's default)

    def __init__(self, url: str, *, size: int = 4, statement_timeout: float = 0.0, wait_timeout: float = 30.0) -> None:
        self.url = url
        self.size = size
        self.wait_timeout = wait_timeout  # (the threads' pool's default timeout: the same bound)
        self.kwargs = reader_options(statement_timeout)  # as the threads' connections (Readers)
        if "connect_timeout" not in conninfo_to_dict(url) and not os.environ.get("PGCONNECT_TIMEOUT"):
            self.kwargs["connect_timeout"] = self.CONNECT_TIMEOUT
        self._pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool[psycopg.AsyncConnection[Any]]] = {}
        # Every connection made, for close() from any thread and open_connections() (the pools' own lists
        # are theirs, on their loops); weak: a connection a pool dropped leaves it.
        self._made: weakref.WeakSet[psycopg.AsyncConnection[Any]] = weakref.WeakSet()
        self._lock = threading.Lock()  # (apps on several loops, e.g. tests' clients, share one read model)
        self.closed = False
        self.opened = 0  # connections made, in all (tests: one per concurrent batch, not per statement)

    async def execute(self, sql: str, params: Sequence[Any] = (), *, prepare: bool | None = None) -> list[Row]:
        """One statement on an idle connection of the running loop (``?`` placeholders, as ``Connection``)."""
        if self.closed:
            raise psycopg.OperationalError("the read model's connections are closed")
        pool = self._pools.get(asyncio.get_running_loop()) or await self._open_pool()
        conn = await pool.getconn()
        try:
            cur = await conn.execute(_pg(sql), params, prepare=prepare)
            return await cur.fetchall() if returns_rows(cur) else []
        except psycopg.errors.QueryCanceled:
            raise timed_out() from None
        finally:
            # (the pool keeps it if idle; closes and replaces it if broken or cancelled mid-statement)
            await pool.putconn(conn)

    async def _open_pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        loop = asyncio.get_running_loop()
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            self.url,
            kwargs=self.kwargs,
            min_size=0,  # (none until a batch waits: a process whose batches go to threads opens none)
            max_size=self.size,
            open=False,
            configure=self._configure,
            timeout=self.wait_timeout,
            max_idle=self.MAX_IDLE,
            name=f"read-loop-{next(_POOL_NAMES)}",
        )
        await pool.open()  # (min_size 0: nothing to wait for)
        with self._lock:
            kept = None if self.closed else self._pools.setdefault(loop, pool)
        if kept is not pool:  # (closed meanwhile, or another batch of this loop opened one)
            await pool.close()
        if kept is None:
            raise psycopg.OperationalError("the read model's connections are closed")
        return kept

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Each new connection of the pools: counted, and tracked for :meth:`close`."""
        with self._lock:
            if self.closed:  # (connected after close(): the pool's loop may run on; no backend left behind)
                conn.pgconn.finish()
                raise psycopg.OperationalError("the read model's connections are closed")
            self.opened += 1
            self._made.add(conn)

    async def settle(self, timeout: float = 2.0) -> None:
        """Close the running loop's pool (shutdown, before :meth:`close`): its idle connections and its
        tasks, so none outlives the loop; a connect still under way after ``timeout`` seconds is cancelled
        (a server that accepts but never answers does not hold the shutdown)."""
        pool = self._pools.get(asyncio.get_running_loop())
        if pool is None:
            return
        await pool.close(timeout)
        # The pool waits ``timeout`` for its tasks, then leaves one stuck in a connect running: its tasks
        # are named after it ("<name>-worker-N", "<name>-scheduler").
        prefix = f"{pool.name}-"
        stuck = [task for task in asyncio.all_tasks() if task.get_name().startswith(prefix)]
        for task in stuck:
            task.cancel()
        if stuck:
            await asyncio.wait(stuck)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            made = list(self._made)
            pools, self._pools = list(self._pools.items()), {}
        for conn in made:
            if not conn.closed:
                conn.pgconn.finish()  # (libpq's close: no await, no round trip, no loop needed)
        for loop, pool in pools:  # (a loop still running: its pool's tasks end too; settled ones at once)
            if loop.is_running():
                loop.call_soon_threadsafe(_close_pool, pool)

    def open_connections(self) -> int:
        """Connections open now, on every loop."""
        with self._lock:
            return sum(not conn.closed for conn in list(self._made))


_POOL_NAMES = itertools.count(1)


_CLOSING: set[asyncio.Future[None]] = set()  # (a task the loop holds only weakly: kept until done)


def _close_pool(pool: AsyncConnectionPool[Any]) -> None:
    closing = asyncio.ensure_future(pool.close())
    _CLOSING.add(closing)
    closing.add_done_callback(_CLOSING.discard)
