"""Every read-model table and index, in one place (the tables' columns: their views, ``views.py``).

The read model is derived data: it lives next to the ledger in the same
database (tables prefixed ``rm_``) and can always be dropped and rebuilt from
the log. :data:`SCHEMA_VERSION` is a hash of this DDL and of
:data:`PROJECTION_VERSION`; when a starting projector finds another version in
``rm_meta`` it rebuilds the model from position 0 beside the old one and switches
(``Projector.rebuild``), and no projector writes into a model of another version.

Conventions (portable between SQLite and PostgreSQL):

* ids are ``{uuid}`` (PostgreSQL uuid, SQLite text), keys are the ledger's keys;
* instants are ``*_us`` integers, microseconds since 1970-01-01 UTC;
* calendar dates are ``{date}`` (PostgreSQL DATE, SQLite ISO text);
* lists and maps (links, roles, authors, changes) are JSON text.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from projections import record_versions
from projections.db import Connection, ddl
from projections.names import NAMES
from projections.tables import Table, extra
from projections.views import ACTORS, API_KEYS, CLAIM_VERSIONS, SOURCES, TOPICS

# Bump when event handling changes meaning without a DDL change: forces a rebuild.
PROJECTION_VERSION = 4

# Bookkeeping tables no view reads; the others are declared by their views (views.py).
META: Table[None] = Table("rm_meta", None, extras=(extra("name", "text", key="primary key"), extra("value", "text")))
# The last ledger log position reflected by the tables below. Updated in the same transaction as
# the view changes it covers: exactly-once.
TRACKING: Table[None] = Table(
    "rm_tracking",
    None,
    extras=(extra("name", "text", key="primary key"), extra("position", "{int8}"), extra("updated_us", "{int8}")),
)
# Every (actor, topic) pair that ever had a claim version.
PAIRS: Table[None] = Table(
    "rm_pairs", None, extras=(extra("actor", "text"), extra("topic", "text")), primary_key=("actor", "topic")
)
ALL_TABLES = (META, TRACKING, CLAIM_VERSIONS, PAIRS, ACTORS, TOPICS, NAMES, SOURCES, API_KEYS)
TABLES = "\n".join(t.ddl for t in ALL_TABLES)
TABLES += record_versions.TABLES  # record-time versions of actors, topics, sources, names

# Indexes only queries use. A rebuild creates them after loading the log (one
# sort each instead of a million index insertions); until then rm_meta says
# indexes = 'deferred' and the projector creates them when it has caught up.
QUERY_INDEXES = """
-- As-of lookups: a pair's claims in stance order (counts_from, stated.earliest, first position).
CREATE INDEX rm_claim_versions_pair
    ON rm_claim_versions (actor, topic, counts_from, stated_earliest, first_position);
-- The claims connection's keyset order. The record-time columns trail each order index so that
-- its totalCount (current, not retracted) is an index-only scan: 0.25 s -> 0.01-0.02 s for a
-- topic of 40,000 versions at 1M claims.
CREATE INDEX rm_claim_versions_order
    ON rm_claim_versions (counts_from, stated_earliest, first_position, known_to_us, retracted);
CREATE INDEX rm_claim_versions_source ON rm_claim_versions (source_id);
-- One topic's or one actor's claims in that order (a topic's timeline, an actor's page): without
-- them a page of 100 read and sorted every version of the topic (~0.4 s at 1M claims).
CREATE INDEX rm_claim_versions_topic
    ON rm_claim_versions (topic, counts_from, stated_earliest, first_position, known_to_us, retracted);
CREATE INDEX rm_claim_versions_actor
    ON rm_claim_versions (actor, counts_from, stated_earliest, first_position, known_to_us, retracted);
-- The versions that link to other claims, which `linkedFrom` searches (most claims link nothing:
-- without it every claim page scanned the whole table, ~0.25 s at 1M claims).
CREATE INDEX rm_claim_versions_linking ON rm_claim_versions (position) WHERE links <> '[]';
"""

# Sort memory for building them (PostgreSQL's default, 64MB, sorts a million claim versions on disk:
# their builds took 20-22 s of wall time at 1M claims on a busy host, 17-18 s with 256MB, the same CPU).
INDEX_BUILD_MEMORY = "256MB"
# Connections building them at once (PostgreSQL): CREATE INDEX takes a SHARE lock, which other
# CREATE INDEXes on the table share, so the builds overlap. One after another, each build's serial
# steps (the leader's merge and the index write, beside the parallel workers' scan and sort) left a
# core idle: the six builds on 1M claim versions took 11.6 / 19.8 s of wall time, with two connections
# 10.4 / 13.4 s, the same server CPU (bench/rebuild_indexes.py, a busy two-core host; bench/RESULTS.md).
INDEX_BUILDERS = 2

SCHEMA_VERSION = hashlib.sha256(f"{PROJECTION_VERSION}\n{TABLES}\n{QUERY_INDEXES}".encode()).hexdigest()[:16]
TRACKING_NAME = "main"
# A second rm_tracking row: the log position of the last event that changed an actor, topic or
# source; the HTTP cache keys pinned answers by it (api/web/http_cache.py; conservative since those
# have record-time versions, record_versions.py). Absent in older models.
DETAILS_NAME = "details"
# Tables that grow with the log (the projector refreshes their planner statistics).
BIG_TABLES = ("rm_claim_versions", "rm_pairs")


# The model's schema version (a projector's batch, the event loop's recheck, which takes a missing rm_meta for
# no model; installed_version looks for the table first).
VERSION_SQL = "SELECT value FROM rm_meta WHERE name = 'schema_version'"


def installed_version(conn: Connection) -> str | None:
    if "rm_meta" not in conn.table_names("rm_"):
        return None
    return version_in(conn.execute(VERSION_SQL))


def version_in(rows: Sequence[Sequence[Any]]) -> str | None:
    """The version :data:`VERSION_SQL` read (None: no row)."""
    return str(rows[0][0]) if rows else None


def recreate(conn: Connection) -> None:
    """Drop every ``rm_`` table (also ones an older schema had) and create the current ones, empty.

    Call inside a write transaction: readers then see the old or the new model, never half.
    The query indexes are deferred (see QUERY_INDEXES).
    """
    live = conn.table_names("rm_")
    conn.lock_for_replacement(live)
    drops = [f"DROP TABLE {table}" for table in live]
    conn.execute_script([*drops, *_statements(ddl(TABLES, conn.dialect))])
    conn.executemany(
        "INSERT INTO rm_meta (name, value) VALUES (?, ?)",
        [("schema_version", SCHEMA_VERSION), ("indexes", "deferred")],
    )
    conn.execute("INSERT INTO rm_tracking (name, position, updated_us) VALUES (?, 0, 0)", (TRACKING_NAME,))


def create_deferred_indexes(conn: Connection, builders: Callable[[], Connection] | None = None) -> bool:
    """Create the query indexes if a rebuild deferred them; True if it did. Call in a write transaction.

    ``builders`` (PostgreSQL): opens another connection to the same model; the indexes are then built
    by :data:`INDEX_BUILDERS` such connections at once, each index in its own transaction (see there).
    If one fails, no further one is started, the ones running finish, and the error is raised with
    ``rm_meta`` still saying 'deferred' (``IF NOT EXISTS``: a later call builds only what is missing).
    """
    rows = conn.execute("SELECT value FROM rm_meta WHERE name = 'indexes'")
    if not rows or rows[0][0] != "deferred":
        return False
    statements = _statements(ddl(QUERY_INDEXES, conn.dialect))
    if builders is None or conn.dialect != "postgresql":
        _more_sort_memory(conn, local=True)
        conn.execute_script(statements)
    else:
        _build_at_once([_if_not_exists(s) for s in statements], builders)
    conn.execute("UPDATE rm_meta SET value = 'built' WHERE name = 'indexes'")
    return True


def _more_sort_memory(conn: Connection, *, local: bool) -> None:
    if conn.dialect == "postgresql":  # only upwards; ``local``: for this transaction only
        conn.execute(
            "SELECT set_config('maintenance_work_mem', ?, ?) WHERE"
            " pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes(?)",
            (INDEX_BUILD_MEMORY, local, INDEX_BUILD_MEMORY),
        )


def _if_not_exists(statement: str) -> str:
    return statement.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)


def _build_at_once(statements: Sequence[str], builders: Callable[[], Connection]) -> None:
    """Run ``statements`` on up to INDEX_BUILDERS new connections at once, each taking the next one."""
    queue = list(reversed(statements))  # popped from the end: in the declared order
    lock = threading.Lock()
    failed = threading.Event()

    def build() -> None:
        conn = builders()
        try:
            _more_sort_memory(conn, local=False)  # its own session: ends with it
            while not failed.is_set():
                with lock:
                    if not queue:
                        return
                    statement = queue.pop()
                try:
                    conn.execute(statement)
                except BaseException:
                    failed.set()
                    raise
        finally:
            conn.close()

    with ThreadPoolExecutor(min(INDEX_BUILDERS, len(statements)), thread_name_prefix="index-build") as pool:
        done = [pool.submit(build) for _ in range(min(INDEX_BUILDERS, len(statements)))]
    for future in done:  # all have finished: the first error, if any
        future.result()


def ensure(conn: Connection, *, force: bool = False) -> bool:
    """Create the read model, or recreate it empty if its schema version differs; True if it did."""
    with conn.write_transaction():
        if not force and installed_version(conn) == SCHEMA_VERSION:
            return False
        recreate(conn)
        return True


def _statements(script: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
