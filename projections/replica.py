"""The read model as a PostgreSQL streaming replica (hot standby) shows it.

The projector writes the read-model tables *and* its tracked position (``rm_tracking``) on the
primary, in one transaction; streaming replication replays that transaction on a standby as one
commit. So the position a replica's ``rm_tracking`` shows is exactly the log prefix its tables
reflect, and read-your-writes on a replica is the same condition as on the primary: wait until the
replica's tracked position reaches the write's log position. That is the comparison of the
replica's ``pg_last_wal_replay_lsn()`` with the projection commit's LSN, without asking the
primary for the LSN: the commit that advances the position *is* the read-model change.

Writes (the ledger, the projector) stay on the primary; a standby refuses them
(``ledger.errors.ReadOnlyStore``).
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from ledger.application import ClaimsLedger
from ledger.db import address, connection_options, database_url
from projections import schema
from projections.db import PostgresConnection, dialect_of
from projections.queries import WAIT_TICK, ReadModel
from projections.signals import hub

# How long an API process starting against a replica waits for it to show the primary's read model.
START_WAIT = 30.0


class ReplicaMismatch(ValueError):
    """The read URL does not name a copy of the primary's database."""


def is_standby(url: str) -> bool:
    """True when ``url`` names a PostgreSQL server in recovery (a hot standby): readable, never writable."""
    if dialect_of(url) != "postgresql":
        return False
    with psycopg.connect(url, autocommit=True, **connection_options(url)) as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    return bool(row and row[0])


def _identity(conn: psycopg.Connection[Any]) -> tuple[int, str]:
    """(the cluster's system identifier, the database's name): equal on a primary and its physical replicas."""
    row = conn.execute("SELECT (SELECT system_identifier FROM pg_control_system()), current_database()").fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def check_replica_of(replica_url: str, primary_url: str) -> None:
    """Refuse a read URL that is not the primary's database on a physical copy of its cluster:
    its read model would never show this process's writes."""
    if dialect_of(primary_url) != "postgresql" or dialect_of(replica_url) != "postgresql":
        raise ReplicaMismatch(
            "CLAIMS_READ_DATABASE_URL needs PostgreSQL for both databases (a streaming replica of "
            "CLAIMS_DATABASE_URL); SQLite has no replicas"
        )
    with (
        psycopg.connect(primary_url, autocommit=True, **connection_options(primary_url)) as primary,
        psycopg.connect(replica_url, autocommit=True, **connection_options(replica_url)) as replica,
    ):
        ours, theirs = _identity(primary), _identity(replica)
    if ours[0] != theirs[0]:
        raise ReplicaMismatch(
            f"CLAIMS_READ_DATABASE_URL ({address(replica_url)}) is not a replica of CLAIMS_DATABASE_URL "
            f"({address(primary_url)}): their PostgreSQL system identifiers differ ({theirs[0]} vs {ours[0]})"
        )
    if ours[1] != theirs[1]:
        raise ReplicaMismatch(
            f"CLAIMS_READ_DATABASE_URL names database {theirs[1]!r}, CLAIMS_DATABASE_URL {ours[1]!r}: "
            "a replica holds the primary's databases under the same names"
        )


def _installed(url: str) -> str | None:
    """The read-model schema version installed in ``url``'s database (None: none yet)."""
    conn = PostgresConnection.connect(url)
    try:
        return schema.installed_version(conn)
    finally:
        conn.close()


class ReplicaReadModel(ReadModel):
    """Every read query goes to the replica; waiting for a write (``wait_for``) watches the replica's
    tracked position, so it returns once the replica has replayed the write's read-model change."""

    def __init__(
        self,
        replica_url: str,
        primary_url: str | None = None,
        *,
        pool_size: int = 8,
        statement_timeout: float = 0.0,
        start_wait: float = START_WAIT,
        ledger: ClaimsLedger | None = None,
    ) -> None:
        self.primary_url = database_url(primary_url)
        check_replica_of(replica_url, self.primary_url)
        # The primary creates the (empty) tables if this is the first start; the replica shows them
        # once it has replayed that, or whatever model the primary already has.
        ReadModel(self.primary_url, pool_size=1).close()
        deadline = time.monotonic() + start_wait
        while (shown := _installed(replica_url)) != (wanted := _installed(self.primary_url)):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the replica {address(replica_url)} did not show the primary's read model within {start_wait:g} s "
                    f"(schema {shown} there, {wanted} on {address(self.primary_url)}): is it streaming from the primary?"
                )
            time.sleep(WAIT_TICK)  # the poll interval of a condition with a deadline
        super().__init__(replica_url, pool_size=pool_size, statement_timeout=statement_timeout, ledger=ledger)
        # The in-process projector (if any) works on the primary: ask it, and hear its commits, there.
        self.hub = hub(self.primary_url)
