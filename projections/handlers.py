"""Event handlers: how each ledger event changes the read-model tables.

A :class:`Changes` applies one batch of events with a few bulk statements:
it first reads what the batch's events change (one query per table), then the
handlers run, streaming new claim versions into the table (COPY), then the
rest is written (:meth:`Changes.flush`). Handlers never query the database;
the projector runs all of it and the tracking update in one transaction
(see ``projector.py``).

Claims are versioned: every claim event appends one ``rm_claim_versions`` row
and closes the version it replaces (sets ``known_to_us``; one UPDATE per batch).
A ``Source.Revised`` that moves a claim's publication bound does the same for
that claim (a SOURCE_REVISED row, same version, new ``counts_from``): the record
as of any earlier instant keeps the bound the ledger gave then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from eventsourcing.utils import get_topic

from ledger import domain
from ledger.db import chunks
from projections.db import Connection, RowWriter
from projections.names import ACTOR, NAMES, TOPIC, name_rows
from projections.record_versions import VERSIONED, EntityVersions
from projections.tables import Table
from projections.values import as_date, dumps, period, to_us
from projections.views import ACTORS, API_KEYS, CLAIM_VERSIONS, SOURCES, TOPICS


class Event(NamedTuple):
    position: int
    originator_id: str
    version: int
    topic: str
    data: dict[str, Any]  # the decoded event state (timestamp, recorded_by, payload)


# --------------------------------------------------------------------- claims

# What a later event needs of a claim's current version: these, then the content columns.
STATE_META = (
    "claim_id", "version", "position", "key", "first_position", "first_recorded_us", "first_recorded_by",
    "retracted", "retraction_reason",
)  # fmt: skip
STATE_COLUMNS = (*STATE_META, *CLAIM_VERSIONS.payload_names)
VERSION_COLUMNS = CLAIM_VERSIONS.column_names  # a new version row (known_to_us starts NULL)
# A version row from the claim's content and these values, passed positionally (once per claim
# event: keyword arguments cost the rebuild measurable time). A new meta column: add it to both.
_version_row = CLAIM_VERSIONS.row
VERSION_META = (
    "position", "log_position", "claim_id", "key", "version", "known_from_us", "recorded_by", "first_position",
    "first_recorded_us", "first_recorded_by", "counts_from", "retracted", "retraction_reason", "event",
    "known_to_us", "reason", "changes",
)  # fmt: skip
assert CLAIM_VERSIONS.meta_names == VERSION_META, CLAIM_VERSIONS.meta_names


@dataclass(slots=True)
class ClaimState:
    """A claim's current version while a batch is applied: ``content`` as in the Claim aggregate."""

    id: str
    key: str
    version: int
    position: int  # of the event that made the current version
    first_position: int
    first_recorded_us: int
    first_recorded_by: str
    content: dict[str, Any]
    retracted: bool = False
    retraction_reason: str | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ClaimState:
        claim_id, version, position, key, first_position, first_us, first_by, retracted, reason = row[: len(STATE_META)]
        return cls(
            id=str(claim_id),
            key=key,
            version=version,
            position=position,
            first_position=first_position,
            first_recorded_us=first_us,
            first_recorded_by=first_by,
            content=CLAIM_VERSIONS.payload(row[len(STATE_META) :]),
            retracted=bool(retracted),
            retraction_reason=reason,
        )


# ------------------------------------------------------------------ entities


class Entities:
    """This batch's inserts and updates of one current-state table. An entity's state is its
    events' payloads merged into one flat dict (``id``, ``key``, then e.g. an actor's profile):
    the table's payload, written and read back by the mappings its view declares."""

    def __init__(self, table: Table[Any]) -> None:
        self.table = table
        self.new: dict[str, dict[str, Any]] = {}
        self.changed: dict[str, dict[str, Any]] = {}

    def add(self, state: dict[str, Any]) -> None:
        self.new[state["id"]] = state

    def get(self, entity_id: str) -> dict[str, Any] | None:
        """Current state, to be edited in place (preloaded if it was not created in this batch)."""
        return self.new.get(entity_id) or self.changed.get(entity_id)

    def preload(self, conn: Connection, ids: Sequence[str]) -> None:
        t = self.table
        wanted = [i for i in dict.fromkeys(ids) if i not in self.new and i not in self.changed]
        for chunk in chunks(wanted):
            among, params = conn.in_list(chunk, "uuid")
            rows = conn.execute(f"SELECT {', '.join(t.payload_names)} FROM {t.name} WHERE id {among}", params)
            for row in rows:
                state = t.payload(row)
                self.changed[state["id"]] = state

    def flush(self, conn: Connection) -> None:
        t = self.table
        if self.new:
            conn.insert_rows(t.name, t.column_names, (t.row(s) for s in self.new.values()))
        if self.changed:
            assert t.column_names[0] == "id"
            sets = ", ".join(f"{c} = ?" for c in t.column_names[1:])
            rows = [(*row[1:], row[0]) for row in (t.row(s) for s in self.changed.values())]
            conn.executemany(f"UPDATE {t.name} SET {sets} WHERE id = ?", rows)


# ------------------------------------------------------------------- a batch


class Changes:
    """Everything one batch of events does to the read model.

    Use: :meth:`preload` (all reads), then :meth:`apply` while version rows are
    streamed into the table, then :meth:`flush` for the rest.
    """

    def __init__(
        self,
        conn: Connection,
        known_pairs: set[tuple[str, str]] | None = None,
        published: dict[str, str] | None = None,
        *,
        fast: bool = True,
    ) -> None:
        self.conn = conn
        # Apply recorded claims inline (:meth:`_apply_fast`); False: every event through its handler
        # in HANDLERS, the reference the fast path is tested against (same tables, row for row).
        self.fast = fast
        self.known_pairs = known_pairs or set()  # already in rm_pairs: not inserted again
        self.claims: dict[str, ClaimState] = {}
        self.closed: list[tuple[int, int]] = []  # (position, known_to_us) of replaced versions
        self.pairs: set[tuple[str, str]] = set()
        self.entities = {t.name: Entities(t) for t in (ACTORS, TOPICS, SOURCES, API_KEYS)}
        self.versions = EntityVersions(_names)  # record-time history of actors, topics, sources
        # Source id -> last day of its publication (ISO); the projector keeps it between batches
        # (values follow from the log alone, so one from a batch that rolled back is still right).
        self.published: dict[str, str] = {} if published is None else published
        self.write_version: RowWriter = _no_writer
        self._next_row = -1  # the next SOURCE_REVISED row's position (negative; preloaded when needed)

    def preload(self, events: Sequence[Event]) -> None:
        """Read, in one query per table (and 500 ids), the current state of what this batch changes.

        One pass over the batch collects every id asked for (a rebuild's batches are mostly claims
        recorded in them, which need nothing but their source's publication)."""
        created: set[str] = set()
        claims: list[str] = []
        others: dict[str, list[str]] = {}
        revised: list[str] = []  # sources whose publication this batch revises
        cited: list[Any] = []  # sources the batch's claim events cite
        for e in events:
            topic = e.topic
            if topic == CLAIM_RECORDED:
                created.add(e.originator_id)
                cited.append(e.data["content"]["source"])
                continue
            table = CHANGES_TABLE.get(topic)
            if table is None:
                if topic in BY_TOPIC:
                    created.add(e.originator_id)
                continue
            if topic == CLAIM_REVISED:
                if "source" in e.data["changes"]:
                    cited.append(e.data["changes"]["source"]["after"])
            elif topic == SOURCE_REVISED and "published" in e.data["changes"]:
                revised.append(e.originator_id)
            if e.originator_id not in created:
                (claims if table == "rm_claim_versions" else others.setdefault(table, [])).append(e.originator_id)
        self._preload_claims("claim_id", [i for i in dict.fromkeys(claims) if i not in self.claims])
        for table, ids in others.items():
            self.entities[table].preload(self.conn, ids)
        self._preload_citing(revised, created)
        self._preload_published(cited, created)

    def _preload_citing(self, revised: Sequence[str], created: set[str]) -> None:
        """The current version of every claim citing a source whose publication this batch revises, and
        the next SOURCE_REVISED row: below the table's lowest, also when the batch registers the source
        too (no citing claim to read then, but its claims' rows need numbers no earlier batch took)."""
        if revised:
            rows = self.conn.execute("SELECT MIN(position) FROM rm_claim_versions")
            self._next_row = min(int(rows[0][0] or 0), 0) - 1
            self._preload_claims("source_id", [i for i in dict.fromkeys(revised) if i not in created])

    def _preload_claims(self, column: str, ids: Sequence[str]) -> None:
        """The current version of the claims whose ``column`` (claim_id or source_id) is one of ``ids``."""
        for chunk in chunks(ids):
            among, params = self.conn.in_list(chunk, "uuid")
            rows = self.conn.execute(
                f"SELECT {', '.join(STATE_COLUMNS)} FROM rm_claim_versions"
                f" WHERE known_to_us IS NULL AND {column} {among}",
                params,
            )
            for row in rows:
                state = ClaimState.from_row(row)
                self.claims.setdefault(state.id, state)  # a claim both revised and citing a revised source: once

    def _preload_published(self, cited_by_events: Sequence[Any], created: set[str]) -> None:
        """The publication date of every source a claim of this batch cites (the claim's bound)."""
        cited = [state.content["source"] for state in self.claims.values()]
        cited.extend(cited_by_events)
        wanted = [i for i in dict.fromkeys(map(str, cited)) if i not in created and i not in self.published]
        for chunk in chunks(wanted):
            among, params = self.conn.in_list(chunk, "uuid")
            for source_id, latest in self.conn.execute(
                f"SELECT id, published_latest FROM rm_sources WHERE id {among}", params
            ):
                self.published[str(source_id)] = as_date(latest).isoformat()

    def apply(self, events: Sequence[Event], write_version: RowWriter) -> None:
        self.write_version = write_version
        if self.fast:
            self._apply_fast(events)
            return
        for event in events:
            self.handle(event)

    def handle(self, event: Event) -> None:
        """Apply one event through its handler (HANDLERS), then keep the record-time version it made."""
        handler = BY_TOPIC.get(event.topic)
        if handler is not None:
            handler(self, event)
            versioned = VERSIONED.get(event.topic)
            if versioned is not None:
                entities = self.entities[versioned.current.name]
                self.versions.record(
                    event.topic, event.originator_id, event.position, event.data["timestamp"], entities
                )
        elif event.topic not in IGNORED_TOPICS:
            raise UnknownEvent(
                f"event {event.position} ({event.topic}) is neither handled nor ignored by the projector"
                " (projections/handlers.py HANDLERS, IGNORED)"
            )

    def _apply_fast(self, events: Sequence[Event]) -> None:
        """:meth:`handle` for every event, with ``claim_recorded`` and the row it writes inlined for
        Claim.Recorded, most of a log (no handler and ``_write_row`` frames, no attribute lookups
        per event): ~0.7 us of the ~21 the projector spends on each. The same steps in the same
        order as the reference; ``tests/test_projections_fast_path.py`` compares the tables."""
        handle, recorded, write, row = self.handle, CLAIM_RECORDED, self.write_version, _version_row
        claims, published, add_pair = self.claims, self.published, self.pairs.add
        for e in events:
            if e.topic != recorded:
                handle(e)
                continue
            d, p, cid = e.data, e.position, e.originator_id
            content = d["content"]  # decoded for this batch: ours to edit (as claim_recorded)
            if "links" not in content:
                content["links"] = []
            if "quote" not in content:
                content["quote"] = None
            us, by, key = to_us(d["timestamp"]), d["recorded_by"], d["key"]
            earliest, latest = period(content["stated"]["date"])
            bound = counts_from(earliest, latest, published[content["source"]])
            write(row(content, p, p, cid, key, 1, us, by, p, us, by, bound, False, None, "RECORDED", None, None, None))
            claims[cid] = ClaimState(cid, key, 1, p, p, us, by, content)
            add_pair((content["actor"], content["topic"]))

    def claim(self, event: Event) -> ClaimState:
        state = self.claims.get(event.originator_id)
        if state is None:
            raise LookupError(f"claim {event.originator_id} has event version {event.version} but no projected version")
        return state

    def add_version(self, state: ClaimState, event: Event, kind: str, reason: str | None, changes: Any) -> None:
        """Write the version ``event`` made; remember to close the one it replaces."""
        known_from = state.first_recorded_us if event.version == 1 else to_us(event.data["timestamp"])
        state.version = event.version
        self._write_row(state, event, event.position, kind, known_from, reason, changes, event.version > 1)

    def rebound(self, state: ClaimState, event: Event, before: str) -> None:
        """A Source.Revised moved the publication of ``state``'s source (it was ``before``): if the
        claim's bound moves, its record changes from the event's timestamp on (same version)."""
        earliest, latest = period(state.content["stated"]["date"])
        old = counts_from(earliest, latest, before)
        new = counts_from(earliest, latest, self.published[event.originator_id])
        if old == new:
            return
        row, self._next_row = self._next_row, self._next_row - 1
        changes = {"countsFrom": {"before": old, "after": new}}
        known_from = to_us(event.data["timestamp"])
        self._write_row(state, event, row, "SOURCE_REVISED", known_from, event.data["reason"], changes, True)

    def _write_row(
        self,
        state: ClaimState,
        event: Event,
        row: int,
        kind: str,
        known_from: int,
        reason: str | None,
        changes: Any,
        replaces: bool,
    ) -> None:
        if replaces:
            self.closed.append((state.position, known_from))
        state.position = row
        c = state.content
        earliest, latest = period(c["stated"]["date"])
        self.write_version(
            _version_row(
                c, row, event.position, state.id, state.key, state.version, known_from, event.data["recorded_by"],
                state.first_position, state.first_recorded_us, state.first_recorded_by,
                counts_from(earliest, latest, self.published[c["source"]]), state.retracted, state.retraction_reason,
                kind, None, reason, None if changes is None else dumps(changes),
            )
        )  # fmt: skip
        self.pairs.add((c["actor"], c["topic"]))

    def flush(self) -> None:
        """Write what :meth:`apply` left: current-state tables, closed versions, new pairs."""
        conn = self.conn
        for entities in self.entities.values():
            entities.flush(conn)
        self.versions.flush(conn)
        self._flush_names()
        for chunk in chunks(self.closed):
            closed, params = conn.rows_cte("closed", ("position", "known_to_us"), ("bigint", "bigint"), chunk)
            conn.execute(
                f"WITH {closed} UPDATE rm_claim_versions SET known_to_us = closed.known_to_us"
                " FROM closed WHERE rm_claim_versions.position = closed.position",
                params,
            )
        for pair_chunk in chunks(sorted(self.pairs - self.known_pairs)):
            pairs, params = conn.rows_cte("pairs", ("actor", "topic"), ("text", "text"), pair_chunk)
            conn.execute(
                f"WITH {pairs} INSERT INTO rm_pairs (actor, topic)"
                " SELECT actor, topic FROM pairs WHERE true ON CONFLICT DO NOTHING",
                params,
            )

    def _flush_names(self) -> None:
        """Rewrite the ``rm_names`` rows of every actor and topic this batch registered or revised."""
        rows: list[tuple[str, str, str, str, str]] = []
        renamed: list[tuple[str, str]] = []
        for table, kind in ((ACTORS.name, ACTOR), (TOPICS.name, TOPIC)):
            entities = self.entities[table]
            for state in (*entities.new.values(), *entities.changed.values()):
                rows.extend(_names(kind, state))
                if state["id"] not in entities.new:
                    renamed.append((kind, state["key"]))
        for chunk in chunks(renamed):
            gone, params = self.conn.rows_cte("gone", ("kind", "key"), ("text", "text"), chunk)
            self.conn.execute(
                f"WITH {gone} DELETE FROM rm_names WHERE EXISTS"
                " (SELECT 1 FROM gone WHERE gone.kind = rm_names.kind AND gone.key = rm_names.key)",
                params,
            )
        if rows:
            self.conn.insert_rows(NAMES.name, NAMES.column_names, rows)


def _names(kind: str, state: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    if kind == ACTOR:
        return name_rows(kind, state["key"], state["name"], [state["name"], *(state.get("aliases") or [])])
    return name_rows(kind, state["key"], state["title"], [state["title"]])


def counts_from(earliest: str, latest: str, published: str) -> str:
    """When a claim stated in [earliest, latest] (ISO days) starts to count, its source published by ``published``.

    A statement cannot be later than the publication that reports it: the earlier of
    ``latest`` and ``published``. A publication before the stated period contradicts
    the claim's date (recording such a claim is refused, but no rule stops a source
    revision from moving the publication there): the bound then does not apply, and
    the claim counts from the end of its stated period, as without a source.
    """
    return latest if published < earliest or latest < published else published  # (no min(): once per claim event)


def published_latest(metadata: dict[str, Any]) -> str:
    """The last day (ISO) of a source's publication date (``metadata["published"]``), which may itself be partial."""
    return period(metadata["published"]["date"])[1]


def _no_writer(row: Sequence[Any]) -> None:
    raise RuntimeError("Changes.apply() was not given a row writer")


# ------------------------------------------------------------------ handlers

Handler = Callable[[Changes, Event], None]


def claim_recorded(changes: Changes, e: Event) -> None:
    d = e.data
    content = d["content"]  # decoded for this batch: ours to edit
    content.setdefault("links", [])
    content.setdefault("quote", None)
    recorded_us = to_us(d["timestamp"])
    # positionally: once per claim, where keyword arguments cost the rebuild measurable time
    state = ClaimState(e.originator_id, d["key"], 1, e.position, e.position, recorded_us, d["recorded_by"], content)
    changes.claims[state.id] = state
    changes._write_row(state, e, e.position, "RECORDED", recorded_us, None, None, False)  # add_version, version 1


def claim_revised(changes: Changes, e: Event) -> None:
    state = changes.claim(e)
    revision = e.data["changes"]
    for field, change in revision.items():
        state.content[field] = change["after"]
    changes.add_version(state, e, "REVISED", e.data["reason"], revision)


def claim_retracted(changes: Changes, e: Event) -> None:
    state = changes.claim(e)
    state.retracted = True
    state.retraction_reason = e.data["reason"]
    changes.add_version(state, e, "RETRACTED", e.data["reason"], None)


def claim_linked(changes: Changes, e: Event) -> None:
    state = changes.claim(e)
    before = list(state.content.get("links") or [])
    after = [*before, {"relation": e.data["relation"], "target": e.data["target"]}]
    state.content["links"] = after
    changes.add_version(state, e, "LINKED", None, {"links": {"before": before, "after": after}})


def actor_registered(changes: Changes, e: Event) -> None:
    changes.entities[ACTORS.name].add({**e.data["profile"], "id": e.originator_id, "key": e.data["key"]})


def actor_revised(changes: Changes, e: Event) -> None:
    state = changes.entities[ACTORS.name].get(e.originator_id)
    if state is not None:
        for field, change in e.data["changes"].items():
            state[field] = change["after"]


def topic_defined(changes: Changes, e: Event) -> None:
    d = e.data
    changes.entities[TOPICS.name].add(
        {"id": e.originator_id, "key": d["key"], "title": d["title"], "proposition": d["proposition"]}
    )


def topic_revised(changes: Changes, e: Event) -> None:
    state = changes.entities[TOPICS.name].get(e.originator_id)
    if state is not None:
        for field, change in e.data["changes"].items():
            if field in ("title", "proposition"):
                state[field] = change["after"]


def source_registered(changes: Changes, e: Event) -> None:
    d = e.data
    changes.published[e.originator_id] = published_latest(d["metadata"])
    changes.entities[SOURCES.name].add(
        {
            **d["metadata"],
            "id": e.originator_id,
            "key": d["key"],
            "sha256": d["sha256"],
            "recorded_us": to_us(d["timestamp"]),
            "text": d["text"],
        }
    )


def source_revised(changes: Changes, e: Event) -> None:
    state = changes.entities[SOURCES.name].get(e.originator_id)
    if state is not None:
        for field, change in e.data["changes"].items():
            state[field] = change["after"]
        changed = e.data["changes"].get("published")
        if changed is not None:
            changes.published[e.originator_id] = published_latest(state)
            before = published_latest({"published": changed["before"]})
            # In log order of the claims' first recording: the rows these take are numbered in turn, and the
            # order the batch happened to load its claims in (the preload has no order) differs between an
            # incremental projection and a rebuild of the same log.
            citing = [claim for claim in changes.claims.values() if claim.content["source"] == e.originator_id]
            for claim in sorted(citing, key=lambda claim: claim.first_position):
                changes.rebound(claim, e, before)


def api_key_issued(changes: Changes, e: Event) -> None:
    d = e.data
    changes.entities[API_KEYS.name].add(
        {
            "id": e.originator_id,
            "name": d["name"],
            "role": d["role"],
            "secret_sha256": d["secret_sha256"],
            "revoked": False,
            "revoked_reason": None,
            "created_at": to_us(d["timestamp"]),
            "created_by": d.get("recorded_by"),
        }
    )


def api_key_revoked(changes: Changes, e: Event) -> None:
    state = changes.entities[API_KEYS.name].get(e.originator_id)
    if state is not None:
        state["revoked"] = True
        state["revoked_reason"] = e.data["reason"]


# The aggregates, typed loosely: their event classes (Claim.Recorded...) are made by ``@event``
# when the class is created, which type checkers do not see.
Claim, Actor, Topic, Source, SourceKey, ApiKey = cast(
    tuple[Any, ...], (domain.Claim, domain.Actor, domain.Topic, domain.Source, domain.SourceKey, domain.ApiKey)
)

# Event class -> handler. Keyed by the domain's classes (not topic strings) so that a renamed or
# removed event fails here, at import, and tests/test_projections_projector.py can check that every
# event the domain can record is either handled or listed in IGNORED.
HANDLERS: dict[type[Any], Handler] = {
    Claim.Recorded: claim_recorded,
    Claim.Revised: claim_revised,
    Claim.Retracted: claim_retracted,
    Claim.Linked: claim_linked,
    Actor.Registered: actor_registered,
    Actor.Revised: actor_revised,
    Topic.Defined: topic_defined,
    Topic.Revised: topic_revised,
    Source.Registered: source_registered,
    Source.Revised: source_revised,
    ApiKey.Issued: api_key_issued,
    ApiKey.Revoked: api_key_revoked,
}
# Events that change no read-model table (the tracking position still advances past them).
IGNORED: frozenset[type[Any]] = frozenset({SourceKey.Assigned})  # the key is on Source.Registered


class UnknownEvent(LookupError):
    """The log holds an event this projector neither handles nor ignores: projecting on would
    silently leave the read model wrong, so the batch fails (and rolls back) instead."""


# The same tables by topic, as events are stored in the log.
BY_TOPIC: dict[str, Handler] = {get_topic(cls): handler for cls, handler in HANDLERS.items()}
IGNORED_TOPICS = frozenset(get_topic(cls) for cls in IGNORED)
CLAIM_RECORDED = get_topic(Claim.Recorded)
CLAIM_REVISED = get_topic(Claim.Revised)
SOURCE_REVISED = get_topic(Source.Revised)

# Events that add or change an actor, topic or source: details shown as they are now, at any basis.
DETAILS_TOPICS = frozenset(
    get_topic(cls) for cls in HANDLERS if cls.__qualname__.split(".")[0] in ("Actor", "Topic", "Source")
)

# Events that change something existing -> the table holding it (preloaded per batch).
CHANGES_TABLE: dict[str, str] = {
    get_topic(Claim.Revised): "rm_claim_versions",
    get_topic(Claim.Retracted): "rm_claim_versions",
    get_topic(Claim.Linked): "rm_claim_versions",
    get_topic(Actor.Revised): ACTORS.name,
    get_topic(Topic.Revised): TOPICS.name,
    get_topic(Source.Revised): SOURCES.name,
    get_topic(ApiKey.Revoked): API_KEYS.name,
}
