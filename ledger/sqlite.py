"""SQLite adapter for the ledger's log (embedded default: one file, no server).

``BEGIN IMMEDIATE`` takes the database's write lock for each append, which gives
the same gapless commit-ordered positions as the PostgreSQL table lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

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


def _blob(value: bytes | str) -> bytes:
    # A hand edit with the sqlite3 shell can turn a BLOB into TEXT; read it as bytes.
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def connect(path: str) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, waiting on locks."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class SQLiteLedgerRecorder(LedgerRecorder):
    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @property
    def conn(self) -> sqlite3.Connection:
        """One connection per thread: sqlite3 connections are not for sharing."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def create_tables(self) -> None:
        self.conn.executescript(SCHEMA)
        self.conn.execute(ACCESS_INDEX)

    @contextmanager
    def appending(self) -> Iterator[_Session]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield _Session(conn)
        except sqlite3.IntegrityError as error:
            conn.execute("ROLLBACK")
            raise IntegrityError(str(error)) from error
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

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
        rows = self.conn.execute(sql, params).fetchall()
        return [StoredEvent(UUID(r[0]), r[1], r[2], _blob(r[3])) for r in rows]

    def select_events_many(self, originator_ids: Sequence[UUID]) -> Sequence[StoredEvent]:
        out: list[StoredEvent] = []
        ids = [str(i) for i in originator_ids]
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            rows = self.conn.execute(
                "SELECT originator_id, originator_version, topic, state FROM ledger_events"
                f" WHERE originator_id IN ({','.join('?' * len(part))}) ORDER BY originator_id, originator_version",
                part,
            ).fetchall()
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
        rows = self.conn.execute(sql, params).fetchall()
        return [LoggedEvent(r[0], UUID(r[1]), r[2], r[3], _blob(r[4]), _blob(r[5])) for r in rows]

    def log_rows(self, after: int, limit: int) -> Sequence[tuple[int, str, int, str, bytes, bytes]]:
        rows: list[tuple[int, str, int, str, bytes, bytes]] = self.conn.execute(
            "SELECT position, originator_id, originator_version, topic, state, leaf_hash FROM ledger_events"
            " WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit),
        ).fetchall()
        return rows

    def leaf_inputs(self, after: int, limit: int) -> Sequence[tuple[int, bytes, bytes]]:
        # Assembled by SQLite (|| keeps every byte, NULs included; CAST AS BLOB returns them unchanged).
        rows: list[tuple[int, bytes, bytes]] = self.conn.execute(
            "SELECT position, CAST(X'00' || 'claims-ledger/1' || char(10) || position || char(10) || originator_id"
            " || char(10) || originator_version || char(10) || topic || char(10) || state AS BLOB), leaf_hash"
            " FROM ledger_events WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit),
        ).fetchall()
        return rows

    def read_access_events(self, after: int, upto: int) -> list[LoggedEvent]:
        rows = self.conn.execute(
            "SELECT position, originator_id, originator_version, topic, state, leaf_hash FROM ledger_events"
            f" WHERE {ACCESS_PREDICATE} AND position > ? AND position <= ? ORDER BY position",
            (after, upto),
        ).fetchall()
        return [LoggedEvent(r[0], UUID(r[1]), r[2], r[3], _blob(r[4]), _blob(r[5])) for r in rows]

    def tree_head(self) -> TreeHead:
        row = self.conn.execute("SELECT size, root FROM ledger_tree_heads ORDER BY size DESC LIMIT 1").fetchone()
        return TreeHead(row[0], bytes(row[1])) if row else TreeHead(0, merkle.EMPTY_ROOT)

    def tree_heads(self) -> list[TreeHead]:
        rows = self.conn.execute("SELECT size, root FROM ledger_tree_heads ORDER BY size").fetchall()
        return [TreeHead(r[0], bytes(r[1])) for r in rows]

    def stored_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        out: dict[tuple[int, int], bytes] = {}
        keys = list(keys)
        for start in range(0, len(keys), _NODES_PER_QUERY):  # one query per chunk, not per node
            chunk = keys[start : start + _NODES_PER_QUERY]
            values = ", ".join(["(?, ?)"] * len(chunk))
            rows = self.conn.execute(
                f'SELECT level, "index", hash FROM ledger_tree_nodes WHERE (level, "index") IN (VALUES {values})',
                [number for key in chunk for number in key],
            ).fetchall()
            out.update(((int(r[0]), int(r[1])), bytes(r[2])) for r in rows)
        return out

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        rows = self.conn.execute(
            "SELECT leaf_hash FROM ledger_events WHERE position > ? AND position <= ? ORDER BY position",
            (start, end),
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def save_checkpoint(self, size: int, note: str) -> None:
        self.conn.execute(
            "INSERT INTO ledger_checkpoints (size, note) VALUES (?, ?)"
            " ON CONFLICT (size) DO UPDATE SET note = excluded.note",
            (size, note),
        )

    def checkpoint(self, size: int | None = None) -> str | None:
        if size is None:
            row = self.conn.execute("SELECT note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        else:
            row = self.conn.execute("SELECT note FROM ledger_checkpoints WHERE size = ?", (size,)).fetchone()
        return str(row[0]) if row else None

    def checkpoint_sizes(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT size FROM ledger_checkpoints ORDER BY size").fetchall()]

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


class _Session:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def frontier(self) -> merkle.Frontier:
        row = self.conn.execute("SELECT size, peaks FROM ledger_tree_heads ORDER BY size DESC LIMIT 1").fetchone()
        return merkle.Frontier.from_bytes(row[0], bytes(row[1])) if row else merkle.Frontier()

    def write_events(self, rows: Iterable[EventRow]) -> None:
        self.conn.executemany(
            "INSERT INTO ledger_events (position, originator_id, originator_version, topic, state, leaf_hash)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ((p, str(o), v, t, s, h) for p, o, v, t, s, h in rows),
        )

    def write_tree(self, nodes: Sequence[NodeRow], frontier: merkle.Frontier) -> None:
        self.conn.executemany('INSERT INTO ledger_tree_nodes (level, "index", hash) VALUES (?, ?, ?)', nodes)
        self.conn.execute(
            "INSERT INTO ledger_tree_heads (size, root, peaks) VALUES (?, ?, ?)",
            (frontier.size, frontier.root(), frontier.to_bytes()),
        )
