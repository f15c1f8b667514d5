"""PostgreSQL adapter for the ledger's log (production store).

eventsourcing's PostgreSQL application recorder, extended as the library's examples extend
it: its insertion step also writes the Merkle rows in the same transaction, and its statements
name the ledger's own tables (``ledger_events`` with ``position`` and ``leaf_hash``: ledgers
written before keep their tables and bytes). Appends take the library's EXCLUSIVE lock on the
events table so positions are assigned in commit order without gaps (readers are not blocked),
then write events, tree nodes and the tree head with binary COPY. ``subscribe`` is the library's
LISTEN/NOTIFY subscription with one gap closed (``ListeningSubscription``). Selected with
``PERSISTENCE_MODULE=ledger.postgres:PostgresLedgerFactory``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
import psycopg_pool
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, OperationalError, StoredEvent, Subscription
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory, PostgresSubscription
from eventsourcing.utils import Environment, EnvType
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow, tuple_row
from psycopg.sql import SQL, Composed, Identifier
from psycopg.types.string import BytesBinaryDumper

from ledger.db import address, closed_by_server
from ledger.errors import DatabaseUnavailable, ReadOnlyStore
from ledger.integrity import merkle
from ledger.persistence import (
    ACCESS_INDEX,
    ACCESS_PREDICATE,
    EventRow,
    LedgerRecorder,
    LoggedEvent,
    NodeRow,
    TreeHead,
)

CHANNEL = "claims_ledger_events"

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_events (
    position bigint PRIMARY KEY,
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text NOT NULL,
    state bytea NOT NULL,
    leaf_hash bytea NOT NULL,
    UNIQUE (originator_id, originator_version)
);
CREATE TABLE IF NOT EXISTS ledger_tree_nodes (
    level smallint NOT NULL,
    index bigint NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (level, index)
);
CREATE TABLE IF NOT EXISTS ledger_tree_heads (
    size bigint PRIMARY KEY,
    root bytea NOT NULL,
    peaks bytea NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    size bigint PRIMARY KEY,
    note text NOT NULL,
    issued_at timestamptz NOT NULL DEFAULT now()
);
"""

# Event states over ~2 KiB are TOAST-compressed by the server while it holds the append
# lock. lz4 (PostgreSQL 14+, where built in) does that several times faster than the
# default pglz: COPY into ledger_events went from ~60k to ~100k rows/s on the workload of
# bench/import_rate.py. Readers get the same bytes. Existing rows keep their compression;
# the column's setting changes once (a short ALTER TABLE at the first start after this).
LZ4_STATE = """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))
       AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'ledger_events'::regclass
                   AND attname = 'state' AND attcompression <> 'l') THEN
        ALTER TABLE ledger_events ALTER COLUMN state SET COMPRESSION lz4;
    END IF;
END $$;
"""


# Environment key of connection parameters beyond the library's POSTGRES_* keys (sslmode, ...),
# as a conninfo string: ClaimsLedger.open passes what a URL says beyond host, port, user and password.
CONNINFO_EXTRA = "POSTGRES_CONNINFO_EXTRA"


# The bytes a leaf hash covers (0x00 || ledger.persistence.leaf_data), as a SQL expression over ledger_events.
_LEAF_INPUT = (
    "'\\x00'::bytea || convert_to('claims-ledger/1' || E'\\n' || position || E'\\n' || originator_id::text"
    " || E'\\n' || originator_version || E'\\n' || topic || E'\\n', 'UTF8') || state"
)


class PostgresLedgerRecorder(LedgerRecorder, PostgresApplicationRecorder):
    concurrent_reads = True  # a connection pool: verify reads batches ahead on other connections

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "ledger_events") -> None:
        super().__init__(datastore, events_table_name="ledger_events")  # the ledger's tables keep their names
        self.channel_name = CHANNEL
        # Serialise concurrent first starts of several processes (one transaction: create_table).
        statements = ["SELECT pg_advisory_xact_lock(7356201)", *SCHEMA.split(";"), LZ4_STATE, ACCESS_INDEX]
        self.sql_create_statements = [Composed([SQL(s.strip())]) for s in statements if s.strip()]

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        return ListeningSubscription(self, gt=gt, topics=topics)

    @contextmanager
    def _cursor(self, *, binary: bool = False) -> Iterator[psycopg.Cursor[TupleRow]]:
        """A cursor on a pooled connection (autocommit) answering plain tuples."""
        with self.datastore.get_connection() as conn, conn.cursor(binary=binary, row_factory=tuple_row) as cur:
            yield cur

    def _where(self) -> str:
        return pool_address(self.datastore.pool)

    def create_table(self) -> None:
        # A hot standby has the primary's tables and may create none: it is only read.
        with self._cursor() as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        if row is not None and row[0]:
            self.standby = True
            return
        super().create_table()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        # The library's insert_events sends INSERTs in pipeline mode; this one streams the rows with
        # binary COPY (not allowed in a pipeline), hashing each event as COPY consumes it, which
        # doubles the import rate (bench/import_rate.py). Same lock, NOTIFY and transaction.
        if not stored_events:
            return []
        if self.standby:
            raise ReadOnlyStore(self._where())
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            try:
                positions = self._append_to_log(_Session(conn), stored_events)
            except psycopg.errors.UniqueViolation as error:
                raise IntegrityError(str(error)) from error
            except psycopg.errors.ReadOnlySqlTransaction:  # became a standby since it was opened
                raise ReadOnlyStore(self._where()) from None
            self._notify_channel(curs)
        return positions

    # An aggregate's events, for the repository.
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        sql = "SELECT originator_id, originator_version, topic, state FROM ledger_events WHERE originator_id = %s"
        params: list[Any] = [originator_id]
        if gt is not None:
            sql += " AND originator_version > %s"
            params.append(gt)
        if lte is not None:
            sql += " AND originator_version <= %s"
            params.append(lte)
        sql += " ORDER BY originator_version" + (" DESC" if desc else "")
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        with self._cursor(binary=True) as cur:
            rows = cur.execute(sql, params, prepare=True).fetchall()
        return [StoredEvent(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def select_events_many(self, originator_ids: Sequence[UUID]) -> Sequence[StoredEvent]:
        if not originator_ids:
            return []
        # One index probe per id, then each aggregate's events in order. The ids go as one bytea of their
        # 16-byte values, cut into uuids by the server: a uuid[] parameter of an import's ~2,500 ids cost
        # ~3 ms of Python (psycopg's dumper per element) and ~3 ms of the server; this ~0.2 ms and ~1 ms.
        sql = (
            "SELECT e.originator_id, e.originator_version, e.topic, e.state"
            " FROM generate_series(0, length(%(ids)s::bytea) / 16 - 1) AS k(i) CROSS JOIN LATERAL"
            " (SELECT originator_id, originator_version, topic, state FROM ledger_events"
            " WHERE originator_id = encode(substring(%(ids)s::bytea FROM k.i * 16 + 1 FOR 16), 'hex')::uuid) AS e"
            " ORDER BY e.originator_id, e.originator_version"
        )
        ids = b"".join([_uuid_bytes(i) for i in originator_ids])
        with self._cursor(binary=True) as cur:
            rows = cur.execute(sql, {"ids": ids}).fetchall()
        return [StoredEvent(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def read_log(
        self,
        after: int,
        limit: int,
        originator_id: UUID | None = None,
        *,
        topics: Sequence[str] = (),
        stop: int | None = None,
    ) -> list[LoggedEvent]:
        sql = "SELECT position, originator_id, originator_version, topic, state, leaf_hash FROM ledger_events WHERE position > %s"
        params: list[Any] = [after]
        if originator_id is not None:
            sql += " AND originator_id = %s"
            params.append(originator_id)
        if topics:
            sql += " AND topic = ANY(%s)"
            params.append(list(topics))
        if stop is not None:
            sql += " AND position <= %s"
            params.append(stop)
        sql += " ORDER BY position LIMIT %s"
        params.append(limit)
        with self._cursor(binary=True) as cur:
            rows = cur.execute(sql, params, prepare=True).fetchall()
        return [LoggedEvent(r[0], r[1], r[2], r[3], bytes(r[4]), bytes(r[5])) for r in rows]

    def log_rows(self, after: int, limit: int) -> Sequence[tuple[int, str, int, str, bytes, bytes]]:
        sql = (
            "SELECT position, originator_id::text, originator_version, topic, state, leaf_hash FROM ledger_events"
            " WHERE position > %s ORDER BY position LIMIT %s"
        )
        with self._cursor(binary=True) as cur:
            rows: list[tuple[int, str, int, str, bytes, bytes]] = cur.execute(
                sql, (after, limit), prepare=True
            ).fetchall()
        return rows

    def leaf_inputs(self, after: int, limit: int) -> Sequence[tuple[int, bytes, bytes]]:
        # The server assembles each leaf's input (0x00, header, state) in C: one bytea per event.
        return self._leaf_rows(_LEAF_INPUT, after, limit)

    def checked_leaves(self, after: int, limit: int) -> Sequence[tuple[int, bool, bytes]]:
        # The server also hashes it (pg_catalog: a function of the same name elsewhere on the search
        # path is not used): 41 bytes per event cross the socket instead of the whole state.
        return self._leaf_rows(f"pg_catalog.sha256({_LEAF_INPUT}) = leaf_hash", after, limit)

    def _leaf_rows(self, column: str, after: int, limit: int) -> list[Any]:
        sql = f"SELECT position, {column}, leaf_hash FROM ledger_events WHERE position > %s ORDER BY position LIMIT %s"
        with self._cursor(binary=True) as cur:
            rows: list[Any] = cur.execute(sql, (after, limit), prepare=True).fetchall()
        return rows

    def read_access_events(self, after: int, upto: int) -> list[LoggedEvent]:
        sql = (
            "SELECT position, originator_id, originator_version, topic, state, leaf_hash FROM ledger_events"
            f" WHERE {ACCESS_PREDICATE} AND position > %s AND position <= %s ORDER BY position"
        )
        with self._cursor(binary=True) as cur:
            rows = cur.execute(sql, (after, upto)).fetchall()
        return [LoggedEvent(r[0], r[1], r[2], r[3], bytes(r[4]), bytes(r[5])) for r in rows]

    def tree_head(self) -> TreeHead:
        with self._cursor() as conn:
            row = conn.execute("SELECT size, root FROM ledger_tree_heads ORDER BY size DESC LIMIT 1").fetchone()
        return TreeHead(row[0], bytes(row[1])) if row else TreeHead(0, merkle.EMPTY_ROOT)

    def tree_heads(self) -> list[TreeHead]:
        with self._cursor() as conn:
            rows = conn.execute("SELECT size, root FROM ledger_tree_heads ORDER BY size").fetchall()
        return [TreeHead(r[0], bytes(r[1])) for r in rows]

    def stored_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not keys:
            return {}
        with self._cursor() as conn:
            rows = conn.execute(
                "SELECT n.level, n.index, n.hash FROM ledger_tree_nodes n"
                " JOIN unnest(%s::smallint[], %s::bigint[]) AS k(level, index)"
                " ON n.level = k.level AND n.index = k.index",
                ([k[0] for k in keys], [k[1] for k in keys]),
            ).fetchall()
        return {(r[0], r[1]): bytes(r[2]) for r in rows}

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        with self._cursor() as conn:
            rows = conn.execute(
                "SELECT leaf_hash FROM ledger_events WHERE position > %s AND position <= %s ORDER BY position",
                (start, end),
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def save_checkpoint(self, size: int, note: str) -> None:
        if self.standby:
            raise ReadOnlyStore(self._where())
        with self._cursor() as conn:
            conn.execute(
                "INSERT INTO ledger_checkpoints (size, note) VALUES (%s, %s)"
                " ON CONFLICT (size) DO UPDATE SET note = excluded.note",
                (size, note),
            )

    def checkpoint(self, size: int | None = None) -> str | None:
        with self._cursor() as conn:
            if size is None:
                row = conn.execute("SELECT note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1").fetchone()
            else:
                row = conn.execute("SELECT note FROM ledger_checkpoints WHERE size = %s", (size,)).fetchone()
        return str(row[0]) if row else None

    def checkpoint_sizes(self) -> list[int]:
        with self._cursor() as conn:
            return [r[0] for r in conn.execute("SELECT size FROM ledger_checkpoints ORDER BY size").fetchall()]


class _CheckedDatastore(PostgresDatastore):
    """The library's datastore, handing out no pooled connection the server has closed (a restart, a cut
    connection: see ``closed_by_server``), so the first reads and writes after one do not fail."""

    @contextmanager
    def get_connection(self) -> Iterator[psycopg.Connection[Any]]:
        handed = False
        try:
            for _ in range(self.pool.max_size + 1):  # (each stale one is dropped: the pool opens another)
                with super().get_connection() as conn:
                    if closed_by_server(conn):
                        conn.close()  # (given back closed: the pool drops it)
                        continue
                    handed = True
                    yield conn
                    return
            raise OperationalError("the database closed every connection of the ledger's pool")
        except OperationalError as error:
            if handed:  # (a statement's error, not the connection's)
                raise
            raise DatabaseUnavailable(pool_address(self.pool), error) from error


class PostgresLedgerFactory(PostgresFactory):
    """The library's PostgreSQL factory, making the ledger's recorder; connection parameters
    beyond its POSTGRES_* keys come from POSTGRES_CONNINFO_EXTRA."""

    application_recorder_class = PostgresLedgerRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        # The library makes its datastore inside PostgresFactory.__init__, with no hook for a subclass;
        # _CheckedDatastore adds no state, only a check where connections are handed out.
        assert type(self.datastore) is PostgresDatastore, type(self.datastore)  # (a library change: look again)
        self.datastore.__class__ = _CheckedDatastore
        extra = self.env.get(CONNINFO_EXTRA)
        kwargs = self.datastore.pool.kwargs  # what the pool connects with (psycopg_pool)
        if extra and isinstance(kwargs, dict):
            kwargs.update(conninfo_to_dict(extra))

    def application_recorder(self) -> ApplicationRecorder:
        recorder = PostgresLedgerRecorder(self.datastore)
        if self.env_create_table():
            recorder.create_table()
        return recorder


class _Session:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def frontier(self) -> merkle.Frontier:
        cur = self.conn.cursor(row_factory=tuple_row)
        row = cur.execute("SELECT size, peaks FROM ledger_tree_heads ORDER BY size DESC LIMIT 1").fetchone()
        return merkle.Frontier.from_bytes(row[0], bytes(row[1])) if row else merkle.Frontier()

    def _copy_cursor(self) -> psycopg.Cursor[Any]:
        """A cursor whose COPY writes ``bytea`` with psycopg's own bytes dumper (its C version). By type
        name, COPY takes the dumper registered last for ``bytea``: psycopg.dbapi20's ``Binary`` dumper, a
        Python subclass that runs one Python call per value (two an event). The bytes sent are the same;
        values must be bytes-like (bytes, bytearray, memoryview), not ``psycopg.Binary`` wrappers."""
        cur = self.conn.cursor()
        cur.adapters.register_dumper(None, BytesBinaryDumper)  # by oid only, on this cursor only
        return cur

    def write_events(self, rows: Iterable[EventRow]) -> None:
        # Rows are hashed as COPY consumes them; psycopg sends every ~32 KiB, so the
        # server parses, compresses and indexes while the next leaves are hashed.
        with (
            self._copy_cursor() as cur,
            cur.copy(
                "COPY ledger_events (position, originator_id, originator_version, topic, state, leaf_hash)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["bigint", "uuid", "bigint", "text", "bytea", "bytea"])
            write_row = copy.write_row
            for row in rows:
                write_row(row)

    def write_tree(self, nodes: Sequence[NodeRow], frontier: merkle.Frontier) -> None:
        with self._copy_cursor() as cur:
            if nodes:
                with cur.copy("COPY ledger_tree_nodes (level, index, hash) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(["smallint", "bigint", "bytea"])
                    for node in nodes:
                        copy.write_row(node)
            cur.execute(
                "INSERT INTO ledger_tree_heads (size, root, peaks) VALUES (%s, %s, %s)",
                (frontier.size, frontier.root(), frontier.to_bytes()),
            )


class ListeningSubscription(PostgresSubscription):
    """The library's subscription, with a pull once LISTEN is in effect. Its pull thread reads what is
    already recorded while its listen thread is still connecting: an event committed in between was
    seen by neither (the pull had run, the NOTIFY found no listener) until some later write."""

    def _listen(self) -> None:
        try:
            with self._recorder.datastore.get_connection() as conn:  # autocommit: LISTEN holds at once
                conn.execute(SQL("LISTEN {0}").format(Identifier(self._recorder.channel_name)))
                try:
                    self._has_been_notified.set()
                    while not self._has_been_stopped and not self._thread_error:
                        # A short timeout so that a stop is seen without a notification.
                        for _ in conn.notifies(timeout=0.1, stop_after=1):
                            self._has_been_notified.set()
                finally:
                    # Back in the pool, a connection still listening would be sent every append's NOTIFY:
                    # its socket readable while idle, it would pass for one the server closed.
                    if not conn.closed:
                        conn.execute("UNLISTEN *")
        except BaseException as error:  # as the library's: the subscriber sees it from __next__
            if self._thread_error is None:
                self._thread_error = error
            self.stop()


def _uuid_bytes(value: UUID | str) -> bytes:
    """An id's 16 bytes (the recorder's reads take ids as ``UUID`` or as their text)."""
    return value.bytes if type(value) is UUID else UUID(str(value)).bytes


def pool_address(pool: psycopg_pool.ConnectionPool[Any]) -> str:
    """:func:`address` of the database a pool connects to (the library's pool takes its parameters as
    keyword arguments, its conninfo empty)."""
    kwargs = pool.kwargs if isinstance(pool.kwargs, dict) else {}  # (may be a function giving them)
    named = {k: v for k, v in kwargs.items() if k in ("host", "port", "dbname") and v}
    return address(psycopg.conninfo.make_conninfo(str(pool.conninfo), **named))
