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

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from eventsourcing.utils import get_topic

from ledger import domain
from ledger.db import chunks
from projections.db import Connection
from projections.names import ACTOR, NAMES, TOPIC
from projections.tables import Reader, Table, extra
from projections.values import like_pattern, to_us
from projections.views import ACTORS, SOURCES, TOPICS, ActorView, SourceView, TopicView

T = TypeVar("T")
V = TypeVar("V")

# Every history row: the record, the event that made the version, the record time it was in force.
_VERSION_COLUMNS = (
    extra("id", "{uuid}"),
    extra("log_position", "{int8}"),  # the Registered / Revised event
    extra("known_from_us", "{int8}"),
    extra("known_to_us", "{int8}", nullable=True),
)


@dataclass(frozen=True)
class Versioned:
    """One current-state table and its history: the same columns (a source's text aside, which
    never changes), declared from the current table's, plus those of ``_VERSION_COLUMNS``."""

    current: Table[Any]  # rm_actors, declared by its view (views.py)
    history: Table[None]  # rm_actor_versions
    kind: str | None  # actor | topic: also versions its names

    @property
    def table(self) -> str:
        return self.history.name

    @property
    def columns(self) -> tuple[str, ...]:
        """The current table's columns kept, after "id" and in its order."""
        return self.history.column_names[len(_VERSION_COLUMNS) :]


def _versioned(current: Table[Any], name: str, kind: str | None, index: str = "") -> Versioned:
    kept = tuple(dataclasses.replace(c, key="") for c in current.columns[1:] if c.name != "text")
    indexes = (f"CREATE INDEX {name}_{index} ON {name} ({index}, known_from_us)",) if index else ()
    history: Table[None] = Table(
        name, None, extras=(*_VERSION_COLUMNS, *kept), primary_key=("id", "log_position"), indexes=indexes
    )
    return Versioned(current, history, kind)


ACTOR_VERSIONS = _versioned(ACTORS, "rm_actor_versions", ACTOR, "key")
TOPIC_VERSIONS = _versioned(TOPICS, "rm_topic_versions", TOPIC, "key")
SOURCE_VERSIONS = _versioned(SOURCES, "rm_source_versions", None)
HISTORIES = (ACTOR_VERSIONS, TOPIC_VERSIONS, SOURCE_VERSIONS)

# The aggregates, typed loosely: their event classes are made by ``@event`` when the class is created.
_Actor, _Topic, _Source = cast(tuple[Any, ...], (domain.Actor, domain.Topic, domain.Source))
# Event class -> the history it adds a version to; by topic as stored in the log, as handlers.BY_TOPIC.
VERSIONED_BY_EVENT: dict[type, Versioned] = {
    _Actor.Registered: ACTOR_VERSIONS,
    _Actor.Revised: ACTOR_VERSIONS,
    _Topic.Defined: TOPIC_VERSIONS,
    _Topic.Revised: TOPIC_VERSIONS,
    _Source.Registered: SOURCE_VERSIONS,
    _Source.Revised: SOURCE_VERSIONS,
}
VERSIONED: dict[str, Versioned] = {get_topic(cls): history for cls, history in VERSIONED_BY_EVENT.items()}
# The events that make a record's first version (its aggregate's version 1): no version is open before.
FIRST_VERSION = frozenset(get_topic(cls) for cls in (_Actor.Registered, _Topic.Defined, _Source.Registered))

# rm_names with record time: the names of each actor and topic version, in force as long as it.
NAME_VERSIONS: Table[None] = Table(
    "rm_name_versions",
    None,
    extras=(*NAMES.columns, *_VERSION_COLUMNS[2:]),
    indexes=(
        "CREATE INDEX rm_name_versions_folded ON rm_name_versions (kind, folded)",
        "CREATE INDEX rm_name_versions_key ON rm_name_versions (kind, key)",
    ),
)

# The DDL of the history tables.
TABLES = "\n".join(t.ddl for t in (*(v.history for v in HISTORIES), NAME_VERSIONS))

# Versions read as the current tables' views (same column names).
ACTOR_READER = Reader(ACTOR_VERSIONS.table, ActorView)
TOPIC_READER = Reader(TOPIC_VERSIONS.table, TopicView)
SOURCE_READER = Reader(SOURCE_VERSIONS.table, SourceView)


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
        self.rows: dict[str, list[tuple[Any, ...]]] = {v.table: [] for v in HISTORIES}
        self.names_of: dict[tuple[int, str], list[tuple[str, str, str, str, str]]] = {}
        self.registered: set[str] = set()  # records first versioned in this batch: nothing to close

    def record(self, event_topic: str, entity_id: str, position: int, timestamp: datetime, entities: _Entities) -> None:
        """After the handler of a versioned event ran: keep the details it left as a new version."""
        versioned = VERSIONED[event_topic]
        state = entities.get(entity_id)
        if state is None:  # (a revision of a record the model never saw: the handler ignored it too)
            return
        if event_topic in FIRST_VERSION:
            self.registered.add(entity_id)
        row = dict(zip(entities.table.column_names, entities.table.row(state), strict=True))
        kept = (row[c] for c in versioned.columns)
        self.rows[versioned.table].append((row["id"], position, to_us(timestamp), *kept))
        if versioned.kind is not None:
            self.names_of[(position, versioned.kind)] = self.names(versioned.kind, state)

    def flush(self, conn: Connection) -> None:
        """Close each changed record's open version, then write this batch's versions (and names)."""
        for versioned in HISTORIES:
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
        # The version open before this batch ends at the first new one (a record registered in this
        # batch had none: most rows of a rebuild, so no statement for them).
        first = {entity_id: row for entity_id, row in first.items() if entity_id not in self.registered}
        if first:
            conn.executemany(
                f"UPDATE {versioned.table} SET known_to_us = ? WHERE id = ? AND known_to_us IS NULL",
                [(row[2], row[0]) for row in first.values()],
            )
        columns = versioned.history.column_names
        conn.insert_rows(versioned.table, columns, ((*r[:3], following.get(r[1]), *r[3:]) for r in rows))
        if versioned.kind is None:
            return
        kind = versioned.kind
        if first:
            conn.executemany(
                "UPDATE rm_name_versions SET known_to_us = ? WHERE kind = ? AND key = ? AND known_to_us IS NULL",
                [(row[2], kind, row[3]) for row in first.values()],
            )
        conn.insert_rows(
            "rm_name_versions",
            NAME_VERSIONS.column_names,
            ((*name, r[2], following.get(r[1])) for r in rows for name in self.names_of[(r[1], kind)]),
        )


# ------------------------------------------------------------------ queries


def in_force(alias: str, known_at: datetime) -> tuple[str, list[Any]]:
    """The version of each record that was the ledger's record at ``known_at``."""
    k = to_us(known_at)
    return f"{alias}.known_from_us <= ? AND ({alias}.known_to_us IS NULL OR {alias}.known_to_us > ?)", [k, k]


def _at(
    conn: Connection,
    table: str,
    column: str,
    pg_type: str,
    reader: Reader[V],
    asked: Sequence[tuple[str, datetime]],
) -> list[V | None]:
    """For each (value of ``column``, record time): the version in force then, in one query per chunk."""
    found: dict[tuple[str, int], V] = {}
    wanted = list(dict.fromkeys((value, to_us(at)) for value, at in asked))
    for chunk in chunks(wanted):
        cte, params = conn.rows_cte("asked", ("ref", "t"), (pg_type, "bigint"), chunk)
        rows = conn.execute(
            f"WITH {cte} SELECT asked.ref, asked.t, {reader.select('v')} FROM asked JOIN {table} v"
            f" ON v.{column} = asked.ref AND v.known_from_us <= asked.t"
            " AND (v.known_to_us IS NULL OR v.known_to_us > asked.t)",
            params,
        )
        for row in rows:
            found[(str(row[0]), int(row[1]))] = reader.view(row[2:])
    return [found.get((value, to_us(at))) for value, at in asked]


def actors_at(conn: Connection, asked: Sequence[tuple[str, datetime]]) -> list[ActorView | None]:
    """Each (actor key, record time): the actor as the ledger held it then (None: not registered yet)."""
    return _at(conn, ACTOR_VERSIONS.table, "key", "text", ACTOR_READER, asked)


def topics_at(conn: Connection, asked: Sequence[tuple[str, datetime]]) -> list[TopicView | None]:
    return _at(conn, TOPIC_VERSIONS.table, "key", "text", TOPIC_READER, asked)


def sources_at(conn: Connection, asked: Sequence[tuple[str, datetime]]) -> list[SourceView | None]:
    """Each (source id, record time): the source's details as the ledger held them then."""
    return _at(conn, SOURCE_VERSIONS.table, "id", "uuid", SOURCE_READER, asked)


def all_actors_at(conn: Connection, known_at: datetime, search: str | None) -> list[ActorView]:
    """``ReadModel.actors`` at a record time: the actors registered then, with their details then."""
    known, params = in_force("v", known_at)
    if search:
        known += " AND v.search LIKE ? ESCAPE '\\'"
        params.append(like_pattern(search))
    rows = conn.execute(
        f"SELECT {ACTOR_READER.select('v')} FROM {ACTOR_VERSIONS.table} v WHERE {known} ORDER BY v.key", params
    )
    return [ACTOR_READER.view(r) for r in rows]


def all_topics_at(conn: Connection, known_at: datetime) -> list[TopicView]:
    known, params = in_force("v", known_at)
    rows = conn.execute(
        f"SELECT {TOPIC_READER.select('v')} FROM {TOPIC_VERSIONS.table} v WHERE {known} ORDER BY v.key", params
    )
    return [TOPIC_READER.view(r) for r in rows]


def all_sources_at(conn: Connection, known_at: datetime) -> list[SourceView]:
    known, params = in_force("v", known_at)
    rows = conn.execute(
        f"SELECT {SOURCE_READER.select('v')} FROM {SOURCE_VERSIONS.table} v WHERE {known} ORDER BY v.key", params
    )
    return [SOURCE_READER.view(r) for r in rows]


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
        for v in HISTORIES
    )
    rows = conn.execute(f"SELECT MAX(a), MIN(b) FROM ({parts}) AS t", [tree_size] * 6)
    latest, earliest = rows[0] if rows else (None, None)
    return (None if latest is None else int(latest)), (None if earliest is None else int(earliest))
