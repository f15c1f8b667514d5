"""SQLite adapter for the ledger's log (embedded default: one file, no server).

eventsourcing's SQLite application recorder, extended as the library's examples extend it:
its insertion step also writes the Merkle rows in the same transaction, and its statements
name the ledger's own tables (``ledger_events`` with ``position`` and ``leaf_hash``, as every
ledger since the first was written: nothing is migrated). ``BEGIN IMMEDIATE`` takes the
database's write lock for each append, which gives the same gapless commit-ordered positions
as the PostgreSQL table lock. Selected with ``PERSISTENCE_MODULE=ledger.sqlite:SQLiteLedgerFactory``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, ListenNotifySubscription, StoredEvent, Subscription
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteTransaction,
)
from eventsourcing.utils import Environment, EnvType

from ledger.db import SQLITE_PRAGMAS, chunks
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

_NODES_PER_QUERY = 400  # (level, index) pairs per stored_nodes query: 800 parameters, under any build's limit


def stored_nodes_query(pairs: int) -> str:
    """Tree nodes by (level, index), looked up one by one on the primary key. CROSS JOIN fixes the
    join order: SQLite (3.40) plans ``(level, "index") IN (VALUES ...)`` as a scan of the whole node
    table per query, which made ``verify`` quadratic (79k events/s at 1M events against 208k at 21k)."""
    values = ", ".join(["(?, ?)"] * pairs)
    return (
        f'SELECT n.level, n."index", n.hash FROM (VALUES {values}) AS k CROSS JOIN ledger_tree_nodes AS n'
        ' ON n.level = k.column1 AND n."index" = k.column2'
    )


SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_events (
    position INTEGER PRIMARY KEY,
    originator_id TEXT NOT NULL,
    originator_version INTEGER NOT NULL,
    topic TEXT NOT NULL,
    state BLOB NOT NULL,
    leaf_hash BLOB NOT NULL,
    UNIQUE (originator_id, originator_version)
);
CREATE TABLE IF NOT EXISTS ledger_tree_nodes (
    level INTEGER NOT NULL,
    "index" INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, "index")
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_tree_heads (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    peaks BLOB NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL,
    issued_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""


# How often a subscription looks for new events (SQLite has no notifications).
POLL_INTERVAL = 0.1
# Connections kept and allowed beyond them; how long a caller waits for one.
POOL_SIZE, POOL_OVERFLOW, POOL_TIMEOUT = 4, 28, 30.0


def _blob(value: bytes | str) -> bytes:
    # A hand edit with the sqlite3 shell can turn a BLOB into TEXT; read it as bytes.
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


class SQLiteLedgerRecorder(LedgerRecorder, SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "ledger_events") -> None:
        super().__init__(datastore, "ledger_events")  # the ledger's tables keep their names
        self.insert_events_statement = (
            "INSERT INTO ledger_events (position, originator_id, originator_version, topic, state, leaf_hash)"
            " VALUES (?, ?, ?, ?, ?, ?)"
        )
        self.select_max_notification_id_statement = "SELECT MAX(size) FROM ledger_tree_heads"

    def max_notification_id(self) -> int:
        return self.tree_head().size

    def construct_create_table_statements(self) -> list[str]:
        return [s.strip() for s in SCHEMA.split(";") if s.strip()] + [ACCESS_INDEX]

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        # The library's insert_events with BEGIN IMMEDIATE (its transactions BEGIN DEFERRED): the
        # append reads the tree head, then writes; taking the write lock first means another
        # process's append cannot commit in between (SQLITE_BUSY_SNAPSHOT instead of waiting).
        if not stored_events:
            return []
        with (
            self.datastore.get_connection(commit=True) as conn,
            _ImmediateTransaction(conn, commit=True) as cursor,
            cursor,
        ):
            return self._insert_events(cursor, stored_events, **kwargs)

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **_: Any) -> Sequence[int] | None:
        # The library's insertion step: the events, their leaf hashes and the tree in one transaction.
        return self._append_to_log(_Session(c, self.insert_events_statement), stored_events)

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        return PollingSubscription(self, gt=gt, topics=topics)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Plain tuples (the pool's connections make sqlite3.Row objects: ~2x slower to read a log)."""
        with self.datastore.transaction(commit=False) as c:
            c.sqlite_cursor.row_factory = None
            c.execute(sql, params)
            rows: list[Any] = c.fetchall()
        return rows

    def _write(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(sql, params)

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        sql = "SELECT originator_id, originator_version, topic, state FROM ledger_events WHERE originator_id = ?"
        params: list[Any] = [str(originator_id)]
        if gt is not None:
            sql += " AND originator_version > ?"
            params.append(gt)
        if lte is not None:
            sql += " AND originator_version <= ?"
            params.append(lte)
        sql += " ORDER BY originator_version" + (" DESC" if desc else "")
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [StoredEvent(UUID(r[0]), r[1], r[2], _blob(r[3])) for r in self._rows(sql, params)]

    def select_events_many(self, originator_ids: Sequence[UUID]) -> Sequence[StoredEvent]:
        out: list[StoredEvent] = []
        ids = [str(i) for i in originator_ids]
        for part in chunks(ids):
            rows = self._rows(
                "SELECT originator_id, originator_version, topic, state FROM ledger_events"
                f" WHERE originator_id IN ({','.join('?' * len(part))}) ORDER BY originator_id, originator_version",
                part,
            )
            out.extend(StoredEvent(UUID(r[0]), r[1], r[2], _blob(r[3])) for r in rows)
        return out

    def read_log(
        self,
        after: int,
        limit: int,
        originator_id: UUID | None = None,
        *,
        topics: Sequence[str] = (),
        stop: int | None = None,
    ) -> list[LoggedEvent]:
        sql = "SELECT position, originator_id, originator_version, topic, state, leaf_hash FROM ledger_events WHERE position > ?"
        params: list[Any] = [after]
        if originator_id is not None:
            sql += " AND originator_id = ?"
            params.append(str(originator_id))
        if topics:
            sql += f" AND topic IN ({', '.join('?' * len(topics))})"
            params.extend(topics)
        if stop is not None:
            sql += " AND position <= ?"
            params.append(stop)
        sql += " ORDER BY position LIMIT ?"
        params.append(limit)
        return [LoggedEvent(r[0], UUID(r[1]), r[2], r[3], _blob(r[4]), _blob(r[5])) for r in self._rows(sql, params)]

    def log_rows(self, after: int, limit: int) -> Sequence[tuple[int, str, int, str, bytes, bytes]]:
        rows = self._rows(
            "SELECT position, originator_id, originator_version, topic, state, leaf_hash FROM ledger_events"
            " WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit),
        )
        return rows

    def leaf_inputs(self, after: int, limit: int) -> Sequence[tuple[int, bytes, bytes]]:
        # Assembled by SQLite (|| keeps every byte, NULs included; CAST AS BLOB returns them unchanged).
        rows: list[tuple[int, bytes, bytes]] = self._rows(
            "SELECT position, CAST(X'00' || 'claims-ledger/1' || char(10) || position || char(10) || originator_id"
            " || char(10) || originator_version || char(10) || topic || char(10) || state AS BLOB), leaf_hash"
            " FROM ledger_events WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit),
        )
        return rows

    def read_access_events(self, after: int, upto: int) -> list[LoggedEvent]:
        rows = self._rows(
            "SELECT position, originator_id, originator_version, topic, state, leaf_hash FROM ledger_events"
            f" WHERE {ACCESS_PREDICATE} AND position > ? AND position <= ? ORDER BY position",
            (after, upto),
        )
        return [LoggedEvent(r[0], UUID(r[1]), r[2], r[3], _blob(r[4]), _blob(r[5])) for r in rows]

    def tree_head(self) -> TreeHead:
        rows = self._rows("SELECT size, root FROM ledger_tree_heads ORDER BY size DESC LIMIT 1")
        return TreeHead(rows[0][0], bytes(rows[0][1])) if rows else TreeHead(0, merkle.EMPTY_ROOT)

    def tree_heads(self) -> list[TreeHead]:
        return [
            TreeHead(r[0], bytes(r[1])) for r in self._rows("SELECT size, root FROM ledger_tree_heads ORDER BY size")
        ]

    def stored_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        out: dict[tuple[int, int], bytes] = {}
        keys = list(keys)
        for start in range(0, len(keys), _NODES_PER_QUERY):  # one query per chunk, not per node
            chunk = keys[start : start + _NODES_PER_QUERY]
            rows = self._rows(stored_nodes_query(len(chunk)), [number for key in chunk for number in key])
            out.update(((int(r[0]), int(r[1])), bytes(r[2])) for r in rows)
        return out

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        rows = self._rows(
            "SELECT leaf_hash FROM ledger_events WHERE position > ? AND position <= ? ORDER BY position", (start, end)
        )
        return [bytes(r[0]) for r in rows]

    def save_checkpoint(self, size: int, note: str) -> None:
        self._write(
            "INSERT INTO ledger_checkpoints (size, note) VALUES (?, ?) ON CONFLICT (size) DO UPDATE SET note = excluded.note",
            (size, note),
        )

    def checkpoint(self, size: int | None = None) -> str | None:
        if size is None:
            rows = self._rows("SELECT note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
        else:
            rows = self._rows("SELECT note FROM ledger_checkpoints WHERE size = ?", (size,))
        return str(rows[0][0]) if rows else None

    def checkpoint_sizes(self) -> list[int]:
        return [r[0] for r in self._rows("SELECT size FROM ledger_checkpoints ORDER BY size")]


class _ImmediateTransaction(SQLiteTransaction):
    """The library's transaction (rollback on error, errors as eventsourcing's), begun IMMEDIATE."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor


class _Session:
    def __init__(self, cursor: SQLiteCursor, insert_statement: str) -> None:
        self.cursor = cursor
        self.insert_statement = insert_statement

    def frontier(self) -> merkle.Frontier:
        self.cursor.execute("SELECT size, peaks FROM ledger_tree_heads ORDER BY size DESC LIMIT 1")
        row = self.cursor.fetchone()
        return merkle.Frontier.from_bytes(row[0], bytes(row[1])) if row else merkle.Frontier()

    def write_events(self, rows: Iterable[EventRow]) -> None:
        self.cursor.executemany(self.insert_statement, ((p, str(o), v, t, s, h) for p, o, v, t, s, h in rows))

    def write_tree(self, nodes: Sequence[NodeRow], frontier: merkle.Frontier) -> None:
        self.cursor.executemany('INSERT INTO ledger_tree_nodes (level, "index", hash) VALUES (?, ?, ?)', nodes)
        self.cursor.execute(
            "INSERT INTO ledger_tree_heads (size, root, peaks) VALUES (?, ?, ?)",
            (frontier.size, frontier.root(), frontier.to_bytes()),
        )


class PollingSubscription(ListenNotifySubscription[ApplicationRecorder]):
    """The library's subscription, woken by a poll tick (SQLite cannot notify another process)."""

    def __init__(self, recorder: ApplicationRecorder, gt: int | None = None, topics: Sequence[str] = ()) -> None:
        self._stopping = threading.Event()
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._poll_thread = threading.Thread(target=self._poll, daemon=True)
        self._poll_thread.start()

    def _poll(self) -> None:
        while not self._stopping.wait(POLL_INTERVAL):
            self._has_been_notified.set()

    def stop(self) -> None:
        self._stopping.set()
        super().stop()

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._poll_thread.join()


class _ConfiguredPool(SQLiteConnectionPool):
    """The library's pool; each new connection gets the ledger's pragmas (ledger.db.SQLITE_PRAGMAS)."""

    def _create_connection(self) -> SQLiteConnection:
        conn = super()._create_connection()
        cursor = conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        return conn


class SQLiteLedgerFactory(SQLiteFactory):
    """The library's SQLite factory, making the ledger's recorder on a configured pool."""

    application_recorder_class = SQLiteLedgerRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        stock = self.datastore.pool
        self.datastore.pool = _ConfiguredPool(
            db_name=stock.db_name,
            lock_timeout=stock.lock_timeout,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_timeout=POOL_TIMEOUT,
        )
        stock.close()
