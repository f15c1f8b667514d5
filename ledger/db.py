"""Database access shared by the ledger and the read side: which store a URL names, how a
connection to it is set up, and the small SQL helpers both sides need.

``projections/`` builds its connections and placeholders on these (it may depend on the
ledger, never the other way round); the ledger's recorders (``ledger/sqlite.py``,
``ledger/postgres.py``) take their SQLite pragmas and PostgreSQL connection settings from here.
"""

from __future__ import annotations

import os
import select
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Literal, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict

Dialect = Literal["sqlite", "postgresql"]
T = TypeVar("T")

# The store used when neither an argument nor $CLAIMS_DATABASE_URL names one.
DEFAULT_DATABASE_URL = "sqlite:///claims.db"
# Values per IN list / rows per VALUES list (SQLite binds each as a parameter; its limit is 32766).
CHUNK = 500
# How long a SQLite statement waits for another connection's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 60_000
# How long a request waits for a pooled PostgreSQL connection before it is answered "unavailable" (the
# database down or refusing connections; or every connection busy that long: the server is overloaded).
POOL_WAIT_SECONDS = 5
# How long a new PostgreSQL connection may take to open, unless the URL or PGCONNECT_TIMEOUT says: psycopg
# waits 130 s by default for a host that drops packets (a follower, a shutdown, a request held that long).
CONNECT_TIMEOUT = 10
# TCP keepalives on every PostgreSQL connection unless the URL sets its own: a database host that vanishes
# without a reset (a crash, a partition) is noticed after ~60 s (30 s idle, then 3 probes 10 s apart), not
# the kernel's default of over 2 hours; a pooled connection is then dropped (``closed_by_server``) and a
# statement waiting on it fails (UNAVAILABLE) instead of hanging.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
# Set on every SQLite connection: WAL lets readers run beside the one writer; NORMAL
# synchronisation is durable across process crashes (not power loss of the last commits).
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
)


def database_url(url: str | None = None) -> str:
    """The store to use: the given URL, else $CLAIMS_DATABASE_URL, else the SQLite default."""
    return url or os.environ.get("CLAIMS_DATABASE_URL") or DEFAULT_DATABASE_URL


def dialect_of(url: str) -> Dialect:
    if url.startswith("sqlite:///"):
        return "sqlite"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql"
    raise ValueError(f"database URL {url!r} is neither sqlite:///PATH nor postgresql://...")


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def configure_sqlite(conn: sqlite3.Connection) -> sqlite3.Connection:
    """Apply :data:`SQLITE_PRAGMAS` to a connection (in autocommit mode: transactions are explicit)."""
    for pragma in SQLITE_PRAGMAS:
        conn.execute(pragma)
    return conn


def connect_sqlite(path: str) -> sqlite3.Connection:
    """A configured connection in autocommit mode, usable from any thread (one at a time)."""
    timeout = SQLITE_BUSY_TIMEOUT_MS / 1000
    return configure_sqlite(sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout))


def closed_by_server(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether the server has closed this idle pooled connection (it restarted, or the connection was cut).

    Its socket is then readable (the server's last message, then the end), which an idle connection's
    is not otherwise but for a rare notice, whose cost is only a new connection. One poll() that does
    not wait: a round trip per use (psycopg_pool's ``check_connection``) would cost every read, and
    without a look the first reads after a restart failed, one per stale connection in the pool.
    """
    if conn.closed:
        return True
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN)
    return bool(poller.poll(0))


def connection_options(url: str) -> dict[str, Any]:
    """Keyword arguments for ``psycopg.connect``: :data:`CONNECT_TIMEOUT` and :data:`KEEPALIVES`, each unless
    the URL (or, for the timeout, ``PGCONNECT_TIMEOUT``) sets its own; none with a service file named in the
    URL, and no keepalives with one named by ``PGSERVICE`` (options given here would override the file's)."""
    info = conninfo_to_dict(url)
    options: dict[str, Any] = {}
    if "service" in info:
        return options
    if not ("connect_timeout" in info or os.environ.get("PGCONNECT_TIMEOUT")):
        options["connect_timeout"] = CONNECT_TIMEOUT
    if not any(name.startswith("keepalives") for name in info) and not os.environ.get("PGSERVICE"):
        options.update(KEEPALIVES)
    return options


def connection_lost(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """After an error on ``conn``: can it no longer be used (the server went away or ended the session, a
    silent host timed out, or it was closed under its statement at shutdown), as against a statement
    refused on a live connection? libpq's own word, not the error's SQLSTATE (which some lost connections
    lack, and some client-side errors lack too)."""
    return conn.pgconn.status == psycopg.pq.ConnStatus.BAD


def address(url: str) -> str:
    """A PostgreSQL database's address for a message: host, port and name, never the password."""
    info = conninfo_to_dict(url)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def postgres_params(url: str) -> dict[str, Any]:
    """A PostgreSQL URL as connection parameters (dbname, host, port, user, password, ...)."""
    return conninfo_to_dict(url)


_PG_SQL: dict[str, str] = {}


def pg_placeholders(sql: str) -> str:
    """Portable ``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` as ``%%``)."""
    converted = _PG_SQL.get(sql)
    if converted is None:
        converted = sql.replace("%", "%%").replace("?", "%s")
        if len(_PG_SQL) < 2000:
            _PG_SQL[sql] = converted
    return converted


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in slices of at most ``size`` (one IN list or VALUES list each)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
