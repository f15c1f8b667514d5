"""Record-time history of actors, topics and sources, so a pinned answer shows them as they were.

Claims keep every version (``rm_claim_versions``); ``rm_actors``, ``rm_topics`` and
``rm_sources`` hold only the current details. The tables here keep one row per event
that registered or revised an actor, topic or source: the details that event left, the
ledger's record from the event's timestamp (``known_from_us``) until the next such
event's (``known_to_us``; NULL: still current), like a claim version. ``rm_name_versions``
does the same for the names an actor or topic can be found by (``rm_names``).

Who reads what: an answer at the current record (no ``knownAt``, no ``atTreeSize``) reads
the current-state tables, as fast as before; an answer at a record time K (a ``knownAt``,
or the instant an ``atTreeSize`` pin stands for) reads the version in force at K
(``known_from_us <= K < known_to_us``), and resolves actor and topic references against
the names in force at K: an old name still finds an actor renamed since, a record
registered after K is not found. A source's text never changes, so it stays in
``rm_sources`` alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from projections.db import CHUNK, Connection
from projections.names import ACTOR, TOPIC
from projections.rows import ACTOR_COLUMNS, SOURCE_COLUMNS, TOPIC_COLUMNS, actor_view, source_view, topic_view
from projections.values import like_pattern, to_us
from projections.views import ActorView, SourceView, TopicView

T = TypeVar("T")
V = TypeVar("V")

TABLES = """
-- Record-time history of actors, topics and sources (projections/record_versions.py): one row per
-- event that registered or revised one, the ledger's record from known_from_us (the event's
-- timestamp) until known_to_us (the next such event's; NULL: still current). The other columns
-- are those of rm_actors / rm_topics / rm_sources (sources without their text, which never changes).
CREATE TABLE rm_actor_versions (
    id {uuid} NOT NULL,
    log_position {int8} NOT NULL,       -- the Actor.Registered / Actor.Revised event
    known_from_us {int8} NOT NULL,
    known_to_us {int8},
    key text NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    aliases text NOT NULL,
    wikidata text,
    roles text NOT NULL,
    search text NOT NULL,
    PRIMARY KEY (id, log_position)
);
CREATE INDEX rm_actor_versions_key ON rm_actor_versions (key, known_from_us);

CREATE TABLE rm_topic_versions (
    id {uuid} NOT NULL,
    log_position {int8} NOT NULL,       -- the Topic.Defined / Topic.Revised event
    known_from_us {int8} NOT NULL,
    known_to_us {int8},
    key text NOT NULL,
    title text NOT NULL,
    proposition text NOT NULL,
    PRIMARY KEY (id, log_position)
);
CREATE INDEX rm_topic_versions_key ON rm_topic_versions (key, known_from_us);

CREATE TABLE rm_source_versions (
    id {uuid} NOT NULL,
    log_position {int8} NOT NULL,       -- the Source.Registered / Source.Revised event
    known_from_us {int8} NOT NULL,
    known_to_us {int8},
    key text NOT NULL,
    sha256 text NOT NULL,
    metadata text NOT NULL,
    recorded_us {int8} NOT NULL,
    PRIMARY KEY (id, log_position)
);

-- rm_names with record time: the names of each actor and topic version, in force as long as it.
CREATE TABLE rm_name_versions (
    kind text NOT NULL,
    folded text NOT NULL,
    key text NOT NULL,
    how text NOT NULL,
    label text NOT NULL,
    known_from_us {int8} NOT NULL,
    known_to_us {int8}
);
CREATE INDEX rm_name_versions_folded ON rm_name_versions (kind, folded);
CREATE INDEX rm_name_versions_key ON rm_name_versions (kind, key);
"""

NAME_COLUMNS = ("kind", "folded", "key", "how", "label", "known_from_us", "known_to_us")


@dataclass(frozen=True)
class Versioned:
    """One current-state table and its history."""

    current: str  # rm_actors
    table: str  # rm_actor_versions
    columns: tuple[str, ...]  # the current table's columns kept, after "id" and in its order
    kind: str | None  # actor | topic: also versions its names


ACTORS = Versioned(
    "rm_actors", "rm_actor_versions", ("key", "name", "kind", "aliases", "wikidata", "roles", "search"), ACTOR
)
TOPICS = Versioned("rm_topics", "rm_topic_versions", ("key", "title", "proposition"), TOPIC)
SOURCES = Versioned("rm_sources", "rm_source_versions", ("key", "sha256", "metadata", "recorded_us"), None)

# Event topic (as stored in the log) -> the history it adds a version to.
VERSIONED: dict[str, Versioned] = {
    "ledger.domain:Actor.Registered": ACTORS,
    "ledger.domain:Actor.Revised": ACTORS,
    "ledger.domain:Topic.Defined": TOPICS,
    "ledger.domain:Topic.Revised": TOPICS,
    "ledger.domain:Source.Registered": SOURCES,
    "ledger.domain:Source.Revised": SOURCES,
}


class _Entities(Protocol):
    """What this module needs of ``handlers.Entities``: the state an event left, as a current-state row."""

    def get(self, entity_id: str) -> dict[str, Any] | None: ...

    @property
    def table(self) -> Any: ...


NameRows = Callable[[str, dict[str, Any]], list[tuple[str, str, str, str, str]]]


class EntityVersions:
    """This batch's new versions of actors, topics and sources (see ``handlers.Changes``)."""

    def __init__(self, names: NameRows) -> None:
        self.names = names  # (kind, state) -> the rm_names rows of that state
        self.rows: dict[str, list[tuple[Any, ...]]] = {v.table: [] for v in (ACTORS, TOPICS, SOURCES)}
        self.names_of: dict[tuple[int, str], list[tuple[str, str, str, str, str]]] = {}

    def record(self, event_topic: str, entity_id: str, position: int, timestamp: datetime, entities: _Entities) -> None:
        """After the handler of a versioned event ran: keep the details it left as a new version."""
        versioned = VERSIONED[event_topic]
        state = entities.get(entity_id)
        if state is None:  # (a revision of a record the model never saw: the handler ignored it too)
            return
        row = entities.table.to_row(state)
        self.rows[versioned.table].append((row[0], position, to_us(timestamp), *row[1 : 1 + len(versioned.columns)]))
        if versioned.kind is not None:
            self.names_of[(position, versioned.kind)] = self.names(versioned.kind, state)

    def flush(self, conn: Connection) -> None:
        """Close each changed record's open version, then write this batch's versions (and names)."""
        for versioned in (ACTORS, TOPICS, SOURCES):
            rows = self.rows[versioned.table]
            if rows:
                self._flush(conn, versioned, rows)

    def _flush(self, conn: Connection, versioned: Versioned, rows: list[tuple[Any, ...]]) -> None:
        first: dict[str, tuple[Any, ...]] = {}
        following: dict[int, int] = {}  # position -> known_from_us of the same record's next version
        last_of: dict[str, tuple[Any, ...]] = {}
        for row in rows:
            entity_id = str(row[0])
            first.setdefault(entity_id, row)
            previous = last_of.get(entity_id)
            if previous is not None:
                following[previous[1]] = row[2]
            last_of[entity_id] = row
        # The version open before this batch (none for a record registered in it) ends at the first new one.
        conn.executemany(
            f"UPDATE {versioned.table} SET known_to_us = ? WHERE id = ? AND known_to_us IS NULL",
            [(row[2], row[0]) for row in first.values()],
        )
        columns = ("id", "log_position", "known_from_us", "known_to_us", *versioned.columns)
        conn.insert_rows(versioned.table, columns, ((*r[:3], following.get(r[1]), *r[3:]) for r in rows))
        if versioned.kind is None:
            return
        kind = versioned.kind
        conn.executemany(
            "UPDATE rm_name_versions SET known_to_us = ? WHERE kind = ? AND key = ? AND known_to_us IS NULL",
            [(row[2], kind, row[3]) for row in first.values()],
        )
        conn.insert_rows(
            "rm_name_versions",
            NAME_COLUMNS,
            ((*name, r[2], following.get(r[1])) for r in rows for name in self.names_of[(r[1], kind)]),
        )


# ------------------------------------------------------------------ queries


def in_force(alias: str, known_at: datetime) -> tuple[str, list[Any]]:
    """The version of each record that was the ledger's record at ``known_at``."""
    k = to_us(known_at)
    return f"{alias}.known_from_us <= ? AND ({alias}.known_to_us IS NULL OR {alias}.known_to_us > ?)", [k, k]


def _columns(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def _at(
    conn: Connection,
    table: str,
    column: str,
    pg_type: str,
    columns: str,
    asked: Sequence[tuple[str, datetime]],
    view: Callable[[Sequence[Any]], V],
) -> list[V | None]:
    """For each (value of ``column``, record time): the version in force then, in one query per CHUNK."""
    found: dict[tuple[str, int], V] = {}
    wanted = list(dict.fromkeys((value, to_us(at)) for value, at in asked))
    for chunk in _chunks(wanted):
        cte, params = conn.rows_cte("asked", ("ref", "t"), (pg_type, "bigint"), chunk)
        rows = conn.execute(
            f"WITH {cte} SELECT asked.ref, asked.t, {_columns('v', columns)} FROM asked JOIN {table} v"
            f" ON v.{column} = asked.ref AND v.known_from_us <= asked.t"
            " AND (v.known_to_us IS NULL OR v.known_to_us > asked.t)",
            params,
        )
        for row in rows:
            found[(str(row[0]), int(row[1]))] = view(row[2:])
    return [found.get((value, to_us(at))) for value, at in asked]


def actors_at(conn: Connection, asked: Sequence[tuple[str, datetime]]) -> list[ActorView | None]:
    """Each (actor key, record time): the actor as the ledger held it then (None: not registered yet)."""
    return _at(conn, ACTORS.table, "key", "text", ACTOR_COLUMNS, asked, actor_view)


def topics_at(conn: Connection, asked: Sequence[tuple[str, datetime]]) -> list[TopicView | None]:
    return _at(conn, TOPICS.table, "key", "text", TOPIC_COLUMNS, asked, topic_view)


def sources_at(conn: Connection, asked: Sequence[tuple[str, datetime]]) -> list[SourceView | None]:
    """Each (source id, record time): the source's details as the ledger held them then."""
    return _at(conn, SOURCES.table, "id", "uuid", SOURCE_COLUMNS, asked, source_view)


def all_actors_at(conn: Connection, known_at: datetime, search: str | None) -> list[ActorView]:
    """``ReadModel.actors`` at a record time: the actors registered then, with their details then."""
    known, params = in_force("v", known_at)
    if search:
        known += " AND v.search LIKE ? ESCAPE '\\'"
        params.append(like_pattern(search))
    rows = conn.execute(
        f"SELECT {_columns('v', ACTOR_COLUMNS)} FROM {ACTORS.table} v WHERE {known} ORDER BY v.key", params
    )
    return [actor_view(r) for r in rows]


def all_topics_at(conn: Connection, known_at: datetime) -> list[TopicView]:
    known, params = in_force("v", known_at)
    rows = conn.execute(
        f"SELECT {_columns('v', TOPIC_COLUMNS)} FROM {TOPICS.table} v WHERE {known} ORDER BY v.key", params
    )
    return [topic_view(r) for r in rows]


def all_sources_at(conn: Connection, known_at: datetime) -> list[SourceView]:
    known, params = in_force("v", known_at)
    rows = conn.execute(
        f"SELECT {_columns('v', SOURCE_COLUMNS)} FROM {SOURCES.table} v WHERE {known} ORDER BY v.key", params
    )
    return [source_view(r) for r in rows]


def names_table(known_at: datetime | None) -> tuple[str, str, list[Any]]:
    """Where ``ReadModel.resolve_names`` reads names (alias ``n``): ``rm_names`` for the current record,
    else the names in force at ``known_at`` (table, extra condition, its parameters)."""
    if known_at is None:
        return "rm_names", "", []
    known, params = in_force("n", known_at)
    return "rm_name_versions", f" AND {known}", params


def latest_change(conn: Connection, tree_size: int) -> tuple[int | None, int | None]:
    """(the latest timestamp among the first ``tree_size`` events' versions, the earliest among later ones)."""
    parts = " UNION ALL ".join(
        f"SELECT (SELECT MAX(known_from_us) FROM {v.table} WHERE log_position <= ?) AS a,"
        f" (SELECT MIN(known_from_us) FROM {v.table} WHERE log_position > ?) AS b"
        for v in (ACTORS, TOPICS, SOURCES)
    )
    rows = conn.execute(f"SELECT MAX(a), MIN(b) FROM ({parts}) AS t", [tree_size] * 6)
    latest, earliest = rows[0] if rows else (None, None)
    return (None if latest is None else int(latest)), (None if earliest is None else int(earliest))


def _chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]
