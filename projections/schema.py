"""Every read-model table, in one place.

The read model is derived data: it lives next to the ledger in the same
database (tables prefixed ``rm_``) and can always be dropped and rebuilt from
the log. :data:`SCHEMA_VERSION` is a hash of this DDL and of
:data:`PROJECTION_VERSION`; when a starting projector finds another version in
``rm_meta`` it drops every ``rm_`` table and rebuilds from position 0.

Conventions (portable between SQLite and PostgreSQL):

* ids are ``{uuid}`` (PostgreSQL uuid, SQLite text), keys are the ledger's keys;
* instants are ``*_us`` integers, microseconds since 1970-01-01 UTC;
* calendar dates are ``{date}`` (PostgreSQL DATE, SQLite ISO text);
* lists and maps (links, roles, source metadata, changes) are JSON text.
"""

from __future__ import annotations

import hashlib

from projections.db import Connection, ddl

# Bump when event handling changes meaning without a DDL change: forces a rebuild.
PROJECTION_VERSION = 3

TABLES = """
-- Key/value facts about the read model itself (schema_version).
CREATE TABLE rm_meta (
    name text PRIMARY KEY,
    value text NOT NULL
);

-- The last ledger log position reflected by the tables below. Updated in the
-- same transaction as the view changes it covers: exactly-once.
CREATE TABLE rm_tracking (
    name text PRIMARY KEY,
    position {int8} NOT NULL,
    updated_us {int8} NOT NULL
);

-- One row per claim EVENT: the claim version that event made the record;
-- and one per claim whose publication bound (counts_from) a Source.Revised of
-- its source moved (event SOURCE_REVISED: same version, new bound), so the
-- record as of an earlier instant keeps the bound it had then.
-- A row is the ledger's record from known_from_us until known_to_us
-- (NULL: still current). Every row carries the full content (actor and
-- topic included: a revised speaker moves the claim to another pair).
CREATE TABLE rm_claim_versions (
    position {int8} PRIMARY KEY,        -- the row: log position of its claim event; SOURCE_REVISED rows < 0
    log_position {int8} NOT NULL,       -- log position of the event that made the row
    claim_id {uuid} NOT NULL,
    version integer NOT NULL,           -- the claim's version (a SOURCE_REVISED row keeps it)
    event text NOT NULL,                -- RECORDED | REVISED | RETRACTED | LINKED | SOURCE_REVISED
    known_from_us {int8} NOT NULL,      -- the event's timestamp
    known_to_us {int8},                 -- the next version's timestamp
    recorded_by text NOT NULL,
    reason text,
    changes text,                       -- JSON {field: {before, after}}
    key text NOT NULL,
    first_position {int8} NOT NULL,     -- the claim's RECORDED event
    first_recorded_us {int8} NOT NULL,
    first_recorded_by text NOT NULL,
    actor text NOT NULL,
    topic text NOT NULL,
    stance text NOT NULL,
    summary text NOT NULL,
    quote_text text,
    quote_language text,
    value text,
    conditions text,
    stated_date text NOT NULL,          -- 2025-02-12, 2025-02 or 2025
    stated_precision text NOT NULL,     -- DAY | MONTH | YEAR
    stated_approximate {bool} NOT NULL,
    stated_note text,
    stated_earliest {date} NOT NULL,
    stated_latest {date} NOT NULL,
    counts_from {date} NOT NULL,        -- min(stated_latest, latest day of the source's publication)*
    channel text,
    source_id {uuid} NOT NULL,
    passage_start integer NOT NULL,
    passage_end integer NOT NULL,
    passage_exact text NOT NULL,
    passage_prefix text NOT NULL,
    passage_suffix text NOT NULL,
    attribution text NOT NULL,
    links text NOT NULL,                -- JSON [{relation, target}]
    retracted {bool} NOT NULL,
    retraction_reason text,
    search text NOT NULL                -- casefolded summary and quote, for text filters
);
-- * unless the publication is before stated_earliest (contradictory evidence): then stated_latest.
CREATE UNIQUE INDEX rm_claim_versions_claim ON rm_claim_versions (claim_id, log_position);
-- (its query indexes: QUERY_INDEXES below)

-- Every (actor, topic) pair that ever had a claim version.
CREATE TABLE rm_pairs (
    actor text NOT NULL,
    topic text NOT NULL,
    PRIMARY KEY (actor, topic)
);

-- Current state of actors, topics, sources and API keys (no record-time history).
CREATE TABLE rm_actors (
    id {uuid} PRIMARY KEY,
    key text NOT NULL UNIQUE,
    name text NOT NULL,
    kind text NOT NULL,
    aliases text NOT NULL,              -- JSON [str]
    wikidata text,
    roles text NOT NULL,                -- JSON [{title, from, until}]
    search text NOT NULL                -- casefolded key, name and aliases
);

CREATE TABLE rm_topics (
    id {uuid} PRIMARY KEY,
    key text NOT NULL UNIQUE,
    title text NOT NULL,
    proposition text NOT NULL
);

-- How actors and topics can be named: each one's key, name or title and aliases, and
-- every word of them, folded (casefolded, accents removed, words joined by one space;
-- see projections/names.py). Resolution: exact key, then a whole folded form, then words.
CREATE TABLE rm_names (
    kind text NOT NULL,                 -- actor | topic
    folded text NOT NULL,
    key text NOT NULL,
    how text NOT NULL,                  -- key | name | word
    label text NOT NULL,                -- the actor's name or the topic's title, for messages
    PRIMARY KEY (kind, folded, key, how)
);

CREATE TABLE rm_sources (
    id {uuid} PRIMARY KEY,
    key text NOT NULL UNIQUE,
    sha256 text NOT NULL,
    metadata text NOT NULL,             -- JSON {title, publisher, authors, url, published, language, genre}
    recorded_us {int8} NOT NULL,
    text text NOT NULL
);

CREATE TABLE rm_api_keys (
    id {uuid} PRIMARY KEY,
    name text NOT NULL UNIQUE,
    role text NOT NULL,
    secret_sha256 text NOT NULL UNIQUE,
    revoked {bool} NOT NULL,
    revoked_reason text,
    created_us {int8} NOT NULL,
    created_by text
);
"""

# Indexes only queries use. A rebuild creates them after loading the log (one
# sort each instead of a million index insertions); until then rm_meta says
# indexes = 'deferred' and the projector creates them when it has caught up.
QUERY_INDEXES = """
-- As-of lookups: a pair's claims in stance order (counts_from, stated.earliest, first position).
CREATE INDEX rm_claim_versions_pair
    ON rm_claim_versions (actor, topic, counts_from, stated_earliest, first_position);
-- The claims connection's keyset order.
CREATE INDEX rm_claim_versions_order ON rm_claim_versions (counts_from, stated_earliest, first_position);
CREATE INDEX rm_claim_versions_source ON rm_claim_versions (source_id);
"""

SCHEMA_VERSION = hashlib.sha256(f"{PROJECTION_VERSION}\n{TABLES}\n{QUERY_INDEXES}".encode()).hexdigest()[:16]
TRACKING_NAME = "main"
# A second rm_tracking row: the log position of the last event that changed an actor, topic or
# source (shown with their current details even in answers pinned to an earlier basis), so a
# cached pinned answer knows when it went stale (api/http_cache.py). Absent in older models.
DETAILS_NAME = "details"
# Tables that grow with the log (the projector refreshes their planner statistics).
BIG_TABLES = ("rm_claim_versions", "rm_pairs")


def installed_version(conn: Connection) -> str | None:
    if "rm_meta" not in conn.table_names("rm_"):
        return None
    rows = conn.execute("SELECT value FROM rm_meta WHERE name = 'schema_version'")
    return str(rows[0][0]) if rows else None


def recreate(conn: Connection) -> None:
    """Drop every ``rm_`` table (also ones an older schema had) and create the current ones, empty.

    Call inside a write transaction: readers then see the old or the new model, never half.
    The query indexes are deferred (see QUERY_INDEXES).
    """
    for table in conn.table_names("rm_"):
        conn.execute(f"DROP TABLE {table}")
    for statement in _statements(ddl(TABLES, conn.dialect)):
        conn.execute(statement)
    conn.executemany(
        "INSERT INTO rm_meta (name, value) VALUES (?, ?)",
        [("schema_version", SCHEMA_VERSION), ("indexes", "deferred")],
    )
    conn.execute("INSERT INTO rm_tracking (name, position, updated_us) VALUES (?, 0, 0)", (TRACKING_NAME,))


def create_deferred_indexes(conn: Connection) -> bool:
    """Create the query indexes if a rebuild deferred them; True if it did. Call in a write transaction."""
    rows = conn.execute("SELECT value FROM rm_meta WHERE name = 'indexes'")
    if not rows or rows[0][0] != "deferred":
        return False
    for statement in _statements(ddl(QUERY_INDEXES, conn.dialect)):
        conn.execute(statement)
    conn.execute("UPDATE rm_meta SET value = 'built' WHERE name = 'indexes'")
    return True


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
