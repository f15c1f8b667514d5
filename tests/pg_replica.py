"""A primary and a hot-standby replica, made with PostgreSQL's own tools, for the replica tests.

The primary is a private server like the session's (``pg_server.start_server``) with replication
configured before it starts: ``wal_level=replica``, WAL senders, and a ``pg_hba.conf`` entry that
admits a role with only the REPLICATION privilege over TCP. The replica is ``pg_basebackup -R``
(``standby.signal`` and ``primary_conninfo`` written by the tool) into a new data directory, run as
the same unprivileged user, started as a hot standby on another port. Every wait is a condition
polled against a deadline.

Needs the server binaries (``initdb``, ``postgres``, ``pg_basebackup``): an external server
(``CLAIMS_TEST_POSTGRES_URL``) cannot be copied this way.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from pg_server import (
    PostgresServer,
    PostgresStartError,
    _launch,
    _make_base_dir,
    _run_as,
    find_bindir,
    run_tool,
    start_server,
)
from psycopg import sql

REPLICATION_ROLE = "claims_replicator"
APPLICATION_NAME = "claims-replica"


@dataclass
class ReplicaPair:
    """A running primary and its streaming hot standby (same superuser and password)."""

    primary: PostgresServer
    replica: PostgresServer

    def create_database(self, timeout: float = 30.0) -> tuple[str, str, str]:
        """A fresh database on the primary, once the replica has replayed its creation: (name, primary URL, replica URL)."""
        name = self.primary.create_database()
        _until(lambda: _has_database(self.replica, name), timeout, f"the replica did not show database {name}")
        return name, self.primary.url(name), self.replica.url(name)

    def drop_database(self, name: str) -> None:
        self.primary.drop_database(name)  # replayed on the replica, which ends its sessions there

    def stop(self) -> None:
        self.replica.stop()
        self.primary.stop()


def start_primary_and_replica(timeout: float = 60.0) -> ReplicaPair:
    deadline = time.monotonic() + timeout
    bindir = find_bindir()
    if bindir is None or not (bindir / "pg_basebackup").is_file():
        raise PostgresStartError("the replica tests need PostgreSQL's server binaries, pg_basebackup among them")
    secret = secrets.token_hex(16)
    primary = start_server(
        timeout,
        extra_settings={
            "wal_level": "replica",
            "max_wal_senders": "4",
            # WAL is sent once flushed: flush at commit (cheap with fsync=off) so replay follows within ms.
            "synchronous_commit": "on",
        },
        before_start=_admit_replication,
    )
    try:
        with psycopg.connect(primary.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} WITH LOGIN REPLICATION PASSWORD {}").format(
                    sql.Identifier(REPLICATION_ROLE), sql.Literal(secret)
                )
            )
        replica = _start_standby(bindir, primary, secret, deadline)
    except BaseException:
        primary.stop()
        raise
    pair = ReplicaPair(primary, replica)
    try:
        _until(lambda: _streaming(primary), deadline - time.monotonic(), "the replica did not start streaming")
    except BaseException:
        pair.stop()
        raise
    return pair


def _admit_replication(data: Path) -> None:
    """Before the primary starts: let the replication role connect over TCP (and nobody else replicate)."""
    with open(data / "pg_hba.conf", "a") as hba:
        hba.write(f"\nhost replication {REPLICATION_ROLE} 127.0.0.1/32 scram-sha-256\n")


def _start_standby(bindir: Path, primary: PostgresServer, secret: str, deadline: float) -> PostgresServer:
    run_as = _run_as()
    base = _make_base_dir(run_as)
    data = base / "data"
    parts = urlsplit(primary.admin_url)
    conninfo = psycopg.conninfo.make_conninfo(
        host="127.0.0.1", port=parts.port, user=REPLICATION_ROLE, password=secret, application_name=APPLICATION_NAME
    )
    cmd = [
        str(bindir / "pg_basebackup"),
        "--pgdata", str(data),
        "--write-recovery-conf",  # -R: standby.signal + primary_conninfo
        "--wal-method", "stream",
        "--checkpoint", "fast",
        "--no-sync",
        "--dbname", conninfo,
    ]  # fmt: skip
    try:
        proc = run_tool(cmd, run_as, base, timeout=max(1.0, deadline - time.monotonic()))
        if proc.returncode != 0:
            raise PostgresStartError(
                f"pg_basebackup failed (exit {proc.returncode}) as user {run_as.name or 'current'}:\n{proc.stderr}"
            )
        password = parts.password or ""
        return _launch(
            bindir, run_as, base, data, password, deadline, {"hot_standby": "on", "hot_standby_feedback": "on"}
        )
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise


def _streaming(primary: PostgresServer) -> bool:
    with psycopg.connect(primary.admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_replication WHERE application_name = %s AND state = 'streaming'",
            (APPLICATION_NAME,),
        ).fetchone()
    return bool(row and row[0])


def _has_database(server: PostgresServer, name: str) -> bool:
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return bool(row and row[0])


def _until(condition: Callable[[], bool], timeout: float, failure: str) -> None:
    """Poll ``condition`` until true; raise with ``failure`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise PostgresStartError(failure)
        time.sleep(0.01)  # the poll interval of a condition with a deadline
