"""The ledger's service layer: commands in, events out, nothing written on error.

``ClaimsLedger`` is the eventsourcing ``Application``; every write goes through a
:class:`Batch`, a unit of work that checks each command against the stored
records *and* the ones staged before it, then saves all events in one
transaction. A single API mutation is a batch of one; an import file is one batch.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import re
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.persistence import EventStore, IntegrityError, Notification, Recording, StoredEvent
from eventsourcing.utils import get_topic
from psycopg.conninfo import make_conninfo

from ledger import commands as c
from ledger import records as r
from ledger.dates import PartialDate
from ledger.db import (
    POOL_WAIT_SECONDS,
    SQLITE_BUSY_TIMEOUT_MS,
    connection_options,
    database_url,
    dialect_of,
    postgres_params,
    sqlite_path,
)
from ledger.domain import Actor, ApiKey, Claim, Source, SourceKey, Topic, actor_id, claim_id, source_id, topic_id
from ledger.errors import BadInput, Conflict, NotFound
from ledger.persistence import LedgerRecorder
from ledger.postgres import CONNINFO_EXTRA

API_ROLES = ("reader", "editor", "admin")  # each may do what the ones before it may


def secret_digest(secret: str) -> str:
    """What the ledger stores of an API key's secret, and what a presented key is looked up by."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()

A = TypeVar("A", bound=Aggregate)

# The library's factory for each store (PERSISTENCE_MODULE); each makes the ledger's recorder.
MEMORY_FACTORY = "ledger.memory:POPOLedgerFactory"
SQLITE_FACTORY = "ledger.sqlite:SQLiteLedgerFactory"
POSTGRES_FACTORY = "ledger.postgres:PostgresLedgerFactory"
# The library's JSON format, written by orjson where it gives the same bytes (ledger/transcoder.py).
TRANSCODER = "ledger.transcoder:LedgerTranscoder"
MAPPER = "ledger.transcoder:LedgerMapper"  # the library's mapper, with fewer steps per event


def persistence_env(url: str | None = None) -> dict[str, str]:
    """The eventsourcing environment of the store a URL names (``sqlite:///path``, ``postgresql://...``;
    None: $CLAIMS_DATABASE_URL, else the SQLite default)."""
    url = database_url(url)
    if dialect_of(url) == "sqlite":
        return {"PERSISTENCE_MODULE": SQLITE_FACTORY, "SQLITE_DBNAME": sqlite_path(url), "SQLITE_LOCK_TIMEOUT": str(SQLITE_BUSY_TIMEOUT_MS // 1000)}
    params = {k: str(v) for k, v in {**postgres_params(url), **connection_options(url)}.items()}
    env = {
        "PERSISTENCE_MODULE": POSTGRES_FACTORY,
        "POSTGRES_DBNAME": params.pop("dbname", ""),
        "POSTGRES_HOST": params.pop("host", ""),
        "POSTGRES_PORT": params.pop("port", "") or "5432",
        "POSTGRES_USER": params.pop("user", ""),
        "POSTGRES_PASSWORD": params.pop("password", ""),
        "POSTGRES_POOL_SIZE": "1",
        "POSTGRES_MAX_OVERFLOW": "7",
        "POSTGRES_CONNECT_TIMEOUT": str(POOL_WAIT_SECONDS),  # (the library's name for the pool's wait)
    }
    if params:
        env[CONNINFO_EXTRA] = make_conninfo(**params)
    return env


_set = object.__setattr__  # how a frozen dataclass sets its fields


class LazyRecording(Recording[UUID]):
    """A ``Recording`` whose ``notification`` is made when it is read.

    ``EventStore.put`` returns one Recording with one Notification per event; for a bulk import
    nobody reads them but ``Batch.commit`` (the count and the last position), and making them
    cost ~2-3 us per event (two frozen dataclasses, and the collections of their garbage). This
    one keeps the event, its stored form and its position, and gives the same ``Notification``
    (equal fields) to whoever asks: the library's readers (``Application._notify`` overrides,
    ``save``'s callers) see what they saw before.
    """

    __slots__ = ()

    def __init__(self, domain_event: Any, stored_event: StoredEvent, position: int) -> None:
        _set(self, "domain_event", domain_event)
        _set(self, "_stored_event", stored_event)
        _set(self, "_position", position)

    @property
    def notification(self) -> Notification:
        stored: StoredEvent = self.__dict__["_stored_event"]
        return Notification(
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=stored.state,
            id=self.__dict__["_position"],
        )


class LedgerEventStore(EventStore[UUID]):
    """The library's event store, with ``put`` returning :class:`LazyRecording` objects.

    ``put`` takes ``EventStore.put``'s steps (its events encoded by the mapper, one
    ``insert_events`` call with the same arguments, one recording per event, in order);
    tests/test_batch_commit.py fails when the library's ``put`` changes. Selected by
    ``ClaimsLedger.construct_event_store``, the library's hook for it.
    """

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> list[Recording[UUID]]:
        stored_events = list(map(self.mapper.to_stored_event, domain_events))
        notification_ids = self.recorder.insert_events(stored_events, **kwargs)
        if not notification_ids:
            return []
        if len(notification_ids) != len(stored_events):
            raise AssertionError(f"{len(notification_ids)} positions for {len(stored_events)} events")
        return list(map(LazyRecording, domain_events, stored_events, notification_ids))


class ClaimsLedger(Application[UUID]):
    """The event-sourced claims ledger: in memory (``ClaimsLedger()``), or on the store a URL
    names (``ClaimsLedger.open(url)``); the store is chosen through the library's environment."""

    name = "ClaimsLedger"
    env: ClassVar[dict[str, str]] = {
        "PERSISTENCE_MODULE": MEMORY_FACTORY,
        "TRANSCODER_TOPIC": TRANSCODER,
        "MAPPER_TOPIC": MAPPER,
    }

    @classmethod
    def open(cls, url: str | None = None) -> ClaimsLedger:
        return cls(env=persistence_env(url))

    @property
    def ledger_recorder(self) -> LedgerRecorder:
        recorder = self.recorder
        if not isinstance(recorder, LedgerRecorder):
            raise TypeError(f"{type(recorder).__qualname__} is not a ledger recorder: see ClaimsLedger.env")
        return recorder

    def construct_event_store(self) -> EventStore[UUID]:
        return LedgerEventStore(mapper=self.mapper, recorder=self.recorder)

    def save_collected(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """``Application.save`` of events collected already (by a :class:`Batch`): the same steps
        after ``save``'s ``collect_events``, whose two runtime-Protocol ``isinstance`` checks per
        object cost ~15% of a bulk import's CPU (Python 3.11). tests/test_batch_commit.py checks
        that ``save`` still takes exactly these steps."""
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)
        return recordings

    def __enter__(self) -> ClaimsLedger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def batch(self, principal: str) -> Batch:
        return Batch(self, principal)

    # Single commands, each its own batch (and transaction).

    def register_source(self, command: c.RegisterSource, principal: str) -> tuple[UUID, bool]:
        with self.batch(principal) as batch:
            return batch.register_source(command)

    def revise_claim(self, command: c.ReviseClaim, principal: str) -> Claim:
        with self.batch(principal) as batch:
            return batch.revise_claim(command)

    def retract_claim(self, command: c.RetractClaim, principal: str) -> Claim:
        with self.batch(principal) as batch:
            return batch.retract_claim(command)

    def get_claim(self, ref: str | UUID) -> Claim:
        return self.batch("reader").claim(ref)

    def issue_api_key(self, name: str, role: str, principal: str) -> str:
        """Create a key; the secret is returned once and only its hash is stored."""
        if role not in API_ROLES:
            raise BadInput("role", f"{role!r} is not one of {', '.join(API_ROLES)}")
        name = c.parse_key(name, "name")  # the declared Key: pattern and length (ledger/records.py)
        with self.batch(principal) as batch:
            if batch.find(ApiKey, ApiKey.create_id(name)) is not None:
                raise BadInput("name", f"an API key named {name!r} exists already")
            secret = "clk_" + secrets.token_urlsafe(32)
            batch.stage(ApiKey(name=name, role=role, secret_sha256=secret_digest(secret), recorded_by=principal))
        return secret

    def revoke_api_key(self, name: str, reason: str, principal: str) -> None:
        with self.batch(principal) as batch:
            key = batch.find(ApiKey, ApiKey.create_id(name))
            if key is None:
                raise NotFound("API key", name)
            key.revoke(reason=c.parse_reason(reason), recorded_by=principal)
            batch.stage(key)


class _FewerCollections:
    """Python's cyclic garbage collector runs less often while a batch is open (``with
    ledger.batch(...)``): its first generation is collected after ``YOUNG`` new container
    objects instead of the default 700.

    A bulk import makes many containers (records, events, their dicts) and keeps them until
    the commit, so each collection re-scans a growing set of survivors: with the default the
    collector took ~2-4 us per event of a 4,000-claim import and ~8 us of a 20,000-claim one
    (timed with ``gc.callbacks``; bench/import_cpu.py), with this ~0.5-0.8 and ~3-4 us. Reference counting still frees
    everything that is not in a cycle at once; cycles wait a little longer. Batches may be open
    in several threads: the first to open saves the thresholds, the last to close restores them.
    """

    YOUNG = 50_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0
        self._saved = gc.get_threshold()

    def enter(self) -> None:
        with self._lock:
            if self._open == 0:
                self._saved = gc.get_threshold()
                if self._saved[0] and self._saved[0] < self.YOUNG:  # 0: collection is off; leave it so
                    gc.set_threshold(self.YOUNG, *self._saved[1:])
            self._open += 1

    def exit(self) -> None:
        with self._lock:
            self._open -= 1
            if self._open == 0:
                gc.set_threshold(*self._saved)


_collections = _FewerCollections()


_UNKNOWN: Any = object()  # not looked up yet (None: looked up, does not exist)
_new = object.__new__
_HEADER = ("originator_id", "originator_version", "timestamp", "originator_topic")


@cache
def _payload_fields(event_class: type) -> dict[str, None] | None:
    """The fields a created event's class takes after the library's four (``originator_id`` ...
    ``originator_topic``), in order, when ``Batch.create`` may set them as its ``__init__`` would: every
    field set by ``__init__`` without a default, and no ``__post_init__`` but ``DomainEvent``'s. Else None."""
    fields = dataclasses.fields(event_class)
    names = tuple(f.name for f in fields)
    plain = all(
        f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING for f in fields
    )
    if names[: len(_HEADER)] != _HEADER or not plain or getattr(event_class, "__post_init__", None) is not DomainEvent.__post_init__:
        return None
    return dict.fromkeys(names[len(_HEADER) :])


@dataclass(slots=True)
class _Created:
    """A new aggregate staged as its created event (see ``Batch.create``)."""

    event: Any
    cls: type[Aggregate]

    def creates(self, cls: type[Aggregate]) -> bool:
        return self.cls is cls or issubclass(self.cls, cls)  # (an ABC's issubclass runs ~0.4 us)


class Batch:
    """A unit of work: staged aggregates are visible to later commands, saved together."""

    def __init__(self, ledger: ClaimsLedger, principal: str) -> None:
        if not principal or len(principal) > c.MAX_NAME:
            raise BadInput("principal", "every event needs who recorded it")
        c.check_name(principal, "principal")
        self.ledger = ledger
        self.principal = principal
        # Both keyed by the aggregate's id as an int (``UUID.int``): a UUID's __hash__ runs Python code
        # (~0.2 us), and an import looks ids up ~15 times per record.
        self.staged: dict[int, Aggregate | _Created] = {}
        self.loaded: dict[int, Aggregate | None] = {}
        self.events = 0
        self.last_position = 0
        self._published: dict[int, tuple[Any, PartialDate]] = {}  # see _publication_date

    def __enter__(self) -> Batch:
        _collections.enter()
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if exc_type is None:
                self.commit()
        finally:
            _collections.exit()

    # ---------------------------------------------------------------- reading

    def prefetch(self, ids: Iterable[UUID]) -> None:
        """Load many aggregates in one query (bulk import): the ones that exist are
        reconstructed from their events, the others noted as missing. What they refer to
        (a source key's source; an existing claim's actor, topic and source, which
        re-importing or revising it checks) comes in a second query."""
        wanted = self._load_many(ids)
        referred: list[UUID] = []
        for i in wanted:
            found = self.loaded.get(i.int)
            if found is None:  # most of an import's ids: records it creates
                continue
            if isinstance(found, SourceKey):
                referred.append(UUID(found.source_id))
            elif isinstance(found, Claim):
                content = found.content
                referred += [actor_id(content["actor"]), topic_id(content["topic"]), UUID(content["source"])]
        self._load_many(referred)

    def _load_many(self, ids: Iterable[UUID]) -> list[UUID]:
        loaded, staged = self.loaded, self.staged
        unique: dict[int, UUID] = {}  # in the order first given
        for i in ids:
            key = i.int
            if key not in loaded and key not in staged:
                unique[key] = i
        wanted = list(unique.values())
        if not wanted:
            return wanted
        to_domain_event = self.ledger.mapper.to_domain_event
        found: dict[int, Any] = {}
        # Events come ordered by originator and version: the same fold as the
        # repository's project_aggregate, one aggregate after the other.
        for stored in self.ledger.ledger_recorder.select_events_many(wanted):
            event: Any = to_domain_event(stored)  # an Aggregate.Event: it can mutate
            originator = event.originator_id.int
            found[originator] = event.mutate(found.get(originator))
        for key in unique:
            loaded[key] = found.get(key)
        return wanted

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        key = aggregate_id.int
        found: Any = self.staged.get(key)
        if type(found) is _Created:
            found = self._built(key, found)
        elif found is None:
            found = self.loaded.get(key, _UNKNOWN)
            if found is _UNKNOWN:
                try:
                    found = self.ledger.repository.get(aggregate_id)
                except AggregateNotFoundError:
                    found = None
                self.loaded[key] = found
        if found is not None and not isinstance(found, cls):
            return None
        return found

    def claim(self, ref: str | UUID) -> Claim:
        found = self.find(Claim, claim_ref(ref))
        if found is None:
            raise NotFound("claim", ref)
        return found

    def source_for(self, ref: str, field: str = "source") -> Source:
        """A source by id or by key."""
        as_id = _uuid_or_none(ref)
        if as_id is not None:
            found = self.find(Source, as_id)
        else:
            index = self.find(SourceKey, SourceKey.create_id(ref))
            found = self.find(Source, _uuid(index.source_id)) if index else None
        if found is None:
            raise BadInput(field, f"unknown source {ref!r}")
        return found

    def _exists(self, cls: type[Aggregate], aggregate_id: UUID) -> bool:
        """``find(cls, aggregate_id) is not None``, without building an aggregate staged as its created event."""
        staged = self.staged.get(aggregate_id.int)
        if type(staged) is _Created:
            return staged.creates(cls)
        return self.find(cls, aggregate_id) is not None

    def _source_facts(self, ref: str) -> tuple[UUID, str, Any]:
        """The id, text and publication date of the source ``source_for(ref)`` finds. A source (and its
        key) registered in this batch is read from its created event, whose fields the new aggregate
        would copy (``Source.__init__``, ``SourceKey.__init__``), without building it: an import's
        claims cite the sources it registers."""
        as_id = _uuid_or_none(ref)
        if as_id is None:
            index = self.staged.get(SourceKey.create_id(ref).int)
            if type(index) is _Created and index.creates(SourceKey):
                as_id = _uuid(index.event.source_id)
        if as_id is not None:
            staged = self.staged.get(as_id.int)
            if type(staged) is _Created and staged.creates(Source):
                event = staged.event
                return event.originator_id, event.text, event.metadata["published"]
        source = self.source_for(ref)
        return source.id, source.text, source.metadata["published"]

    def _publication_date(self, source: UUID, stored: Any) -> PartialDate:
        """``PartialDate.from_dict`` of a source's stored publication date, parsed once per batch rather than once
        per claim citing the source (~1-2 us a claim). Kept with the stored form it was parsed from: a revision of
        the source replaces that object (``Source._revise``), and the date is then parsed again."""
        kept = self._published.get(source.int)
        if kept is None or kept[0] is not stored:
            kept = self._published[source.int] = (stored, PartialDate.from_dict(stored, "source.published"))
        return kept[1]

    def stage(self, aggregate: A) -> A:
        self.staged[aggregate.id.int] = aggregate
        return aggregate

    def create(self, cls: type[Aggregate], event_name: str, aggregate_id: UUID, **kwargs: Any) -> None:
        """Stage a new aggregate as its created event only (the bulk path of an import).

        The event is the one ``cls(**kwargs)`` would make (same class, fields, id, version,
        topic and a timestamp taken now), so what is stored is the same. The aggregate is
        built from it (``event.mutate``, as eventsourcing does) only when a later command
        of the batch looks for it, which most imported records never are: that saves
        ~13 us per record (the aggregate's construction and the copies of its payload).
        """
        event_class = getattr(cls, event_name)  # e.g. Claim.Recorded, made by @event("Recorded")
        header = {
            "originator_id": aggregate_id,
            "originator_version": cls.INITIAL_VERSION,
            "timestamp": event_class.create_timestamp(),
            "originator_topic": get_topic(cls),
        }
        payload = _payload_fields(event_class)
        if payload is not None and type(aggregate_id) is UUID and kwargs.keys() == payload.keys():
            # What the frozen dataclass's __init__ sets, in its field order, without its per-field
            # object.__setattr__ calls (~1.5 us an event); its __post_init__ checks only the UUID.
            event = _new(event_class)
            fields = event.__dict__
            fields.update(header)
            for name in payload:
                fields[name] = kwargs[name]
        else:
            event = event_class(**header, **kwargs)
        self.staged[aggregate_id.int] = _Created(event, cls)

    def _built(self, key: int, created: _Created) -> Aggregate:
        aggregate: Aggregate = created.event.mutate(None)
        aggregate.pending_events.append(created.event)
        self.staged[key] = aggregate  # same place in the batch's order
        return aggregate

    # ---------------------------------------------------------------- commands

    def register_source(self, command: c.RegisterSource) -> tuple[UUID, bool]:
        sid = source_id(command.sha256)
        existing = self.find(Source, sid)
        if existing is not None:
            if existing.key != command.key:  # never drop the new key without a word
                raise BadInput(
                    "key", f"this text is already registered as source {existing.key!r}: refer to it by that key"
                )
            return sid, False  # the same text under the same key again: idempotent
        index = self.find(SourceKey, SourceKey.create_id(command.key))
        if index is not None:
            raise BadInput("key", f"source key {command.key!r} is already used for a different text")
        self.create(
            Source, "Registered", sid,
            sha256=command.sha256, key=command.key, text=command.text, metadata=command.metadata,
            recorded_by=self.principal,
        )  # fmt: skip
        self.create(
            SourceKey, "Assigned", SourceKey.create_id(command.key),
            key=command.key, source_id=str(sid), recorded_by=self.principal,
        )  # fmt: skip
        return sid, True

    def register_actor(self, command: c.RegisterActor, reason: str | None = None) -> tuple[UUID, bool]:
        aid = actor_id(command.key)
        actor = self.find(Actor, aid)
        if actor is None:
            self.create(Actor, "Registered", aid, key=command.key, profile=command.profile, recorded_by=self.principal)
            return aid, True
        changes = _changes(actor.profile, command.profile)
        if changes:
            actor.revise(changes=changes, reason=reason or "", recorded_by=self.principal)
            self.stage(actor)
        return actor.id, bool(changes)

    def define_topic(self, command: c.DefineTopic, reason: str | None = None) -> tuple[UUID, bool]:
        tid = topic_id(command.key)
        topic = self.find(Topic, tid)
        wanted = {"title": command.title, "proposition": command.proposition}
        if topic is None:
            self.create(Topic, "Defined", tid, key=command.key, **wanted, recorded_by=self.principal)
            return tid, True
        changes = _changes({"title": topic.title, "proposition": topic.proposition}, wanted)
        if changes:
            topic.revise(changes=changes, reason=reason or "", recorded_by=self.principal)
            self.stage(topic)
        return topic.id, bool(changes)

    def record_claim(self, command: c.RecordClaim) -> tuple[UUID, bool]:
        content = self._checked_content(dict(command.content))
        links = []
        for relation, target in command.links:
            field = "supersedes" if relation == "SUPERSEDES" else "disputes"
            try:
                links.append({"relation": relation, "target": str(self.claim(target).id)})
            except NotFound:
                raise BadInput(field, f"unknown claim {target!r}") from None
        content["links"] = links
        if command.origin:
            content["origin"] = {**command.origin, "accepted_by": self.principal}
        cid = claim_id(command.key)
        existing = self.find(Claim, cid)
        if existing is not None:
            if _changes(_comparable(existing.recorded_content), _comparable(content)):
                raise BadInput("key", f"claim {command.key!r} exists with other content; revise it instead")
            return existing.id, False
        self.create(Claim, "Recorded", cid, key=command.key, content=content, recorded_by=self.principal)
        return cid, True

    def revise_claim(self, command: c.ReviseClaim) -> Claim:
        claim = self._current(command.claim, command.expected_version)
        if command.revision_key and command.revision_key in claim.revision_keys:
            return claim  # this correction was applied before
        claim.ensure_revisable()  # before the content's checks: that error is the one to give
        proposed = {**claim.content, **command.changes}
        if "passage" in command.changes or "source" in command.changes:
            proposed["passage"] = command.changes.get("passage", _plain_passage(claim.content["passage"]))
        else:
            proposed["source"] = claim.content["source"]
        checked = self._checked_content(proposed)
        if "stated" in command.changes:  # (as recorded: a change naming only the date leaves `approximate` unset)
            checked["stated"] = whole_date(checked["stated"])
        before, after = _comparable(claim.content), _comparable(checked)
        changes = {
            field: {"before": claim.content.get(field), "after": checked[field]}
            for field in c.CLAIM_FIELDS
            if before.get(field) != after.get(field)
        }
        claim.revise(
            changes=changes, reason=command.reason, recorded_by=self.principal, revision_key=command.revision_key
        )
        return self.stage(claim)

    def retract_claim(self, command: c.RetractClaim) -> Claim:
        claim = self._current(command.claim, command.expected_version)
        claim.retract(reason=command.reason, recorded_by=self.principal)
        return self.stage(claim)

    def commit(self) -> int:
        """Save everything staged in one transaction; returns the last log position written.

        What ``Application.save`` does with the staged aggregates in the order of staging (a new
        one staged by :meth:`create` as its created event, as ``save`` takes events too), the
        events collected here (``ClaimsLedger.save_collected``): one ``insert_events`` call of
        the recorder, which writes the events with their Merkle rows.
        """
        if not self.staged:
            return self.last_position
        attempted: list[tuple[UUID, Any, int]] = []  # (id, aggregate or created event, first version written)
        collected: ProcessingEvent[UUID] = ProcessingEvent()
        for item in self.staged.values():
            if isinstance(item, _Created):
                event = item.event
                collected.events.append(event)
                attempted.append((event.originator_id, event, event.originator_version))
            else:
                events = item.collect_events()
                collected.events += events
                collected.aggregates[item.id] = item
                if events:
                    attempted.append((item.id, item, events[0].originator_version))
        try:
            recordings = self.ledger.save_collected(collected)
        except IntegrityError:
            raise self._lost_race(attempted) from None
        self.events += len(recordings)
        if recordings:
            self.last_position = recordings[-1].notification.id
        self.staged.clear()
        self.loaded.clear()
        return self.last_position

    def _lost_race(self, attempted: list[tuple[UUID, Any, int]]) -> Conflict:
        """The record another writer wrote first, found by reading the staged ids back (one query):
        a CONFLICT naming it and its version now, so the caller can say which and try again."""
        current: dict[UUID, int] = {}
        for event in self.ledger.ledger_recorder.select_events_many([i for i, _, _ in attempted]):
            originator = UUID(str(event.originator_id))
            current[originator] = max(current.get(originator, 0), event.originator_version)
        self.staged.clear()
        self.loaded.clear()
        for aggregate_id, item, first_version in attempted:
            now = current.get(aggregate_id, 0)
            if now >= first_version:
                kind = re.sub(r"(?<!^)(?=[A-Z])", " ", type(item).__qualname__.split(".")[0]).lower()
                key = getattr(item, "key", None) or getattr(item, "name", None) or aggregate_id
                expected = first_version - 1 if first_version > 1 else None
                return Conflict(kind, key, expected, now, race=True)
        return Conflict("record", "in this batch", None, None, race=True)

    # ---------------------------------------------------------------- rules

    def _current(self, ref: str | UUID, expected: int | None) -> Claim:
        claim = self.claim(ref)
        if expected is not None and claim.version != expected:
            raise Conflict("claim", claim.id, expected, claim.version)
        return claim

    def _checked_content(self, content: dict[str, Any]) -> dict[str, Any]:
        """Cross-record rules: keys resolve, the passage matches, the date fits the source."""
        if not self._exists(Actor, actor_id(content["actor"])):
            raise BadInput("actor", f"unknown actor key {content['actor']!r}")
        if not self._exists(Topic, topic_id(content["topic"])):
            raise BadInput("topic", f"unknown topic key {content['topic']!r}")
        source_id, text, publication = self._source_facts(str(content["source"]))
        content["source"] = _uuid_text(source_id)
        content["passage"] = c.passage_selector(text, content["passage"])
        stated = PartialDate.from_dict(content["stated"], "stated")
        published = self._publication_date(source_id, publication)
        if stated.earliest > published.latest:
            raise BadInput(
                "stated",
                f"{stated.iso()} is after the source's publication ({published.iso()}): "
                "a source cannot report what had not yet been said",
            )
        return content


@lru_cache(maxsize=65536)
def _uuid_or_none(text: str) -> UUID | None:
    """``UUID(text)``, or None where that raises ValueError; cached, because an import
    names the same sources many times (and a failed parse costs an exception)."""
    try:
        return UUID(text)
    except ValueError:
        return None


_uuid = lru_cache(maxsize=65536)(UUID)
# A UUID's text (``UUID.__str__`` runs ~1 us of Python); the same sources are named by many claims.
_uuid_text = lru_cache(maxsize=65536)(str)


def claim_ref(ref: str | UUID) -> UUID:
    if isinstance(ref, UUID):
        return ref
    as_id = _uuid_or_none(ref)  # a key is refused by UUID() once, then remembered
    return claim_id(ref) if as_id is None else as_id


def source_ref(ref: str) -> UUID:
    """The aggregate a source reference names: the source itself by its id, else the index of its key."""
    as_id = _uuid_or_none(ref)
    return SourceKey.create_id(ref) if as_id is None else as_id


def _plain_passage(passage: dict[str, Any]) -> dict[str, Any]:
    return {"start": passage["start"], "end": passage["end"], "exact": passage["exact"]}


def _comparable(content: dict[str, Any]) -> dict[str, Any]:
    # The origin says who accepted an assistant's candidate: not part of what the claim says.
    plain = {k: v for k, v in content.items() if k != "origin"}
    if "stated" in plain:  # (a date recorded without a field it has a default for says the same)
        plain["stated"] = whole_date(plain["stated"])
    return {**plain, "passage": _plain_passage(content["passage"])} if "passage" in content else plain


def whole_date(value: dict[str, Any]) -> dict[str, Any]:
    """A partial date with every field a claim records, the defaults of those not given included: a revision
    ``{"stated": {"date": ...}}`` validates without ``approximate`` (a partial change keeps only what it sets),
    and must neither count as a change when the date is the same nor be stored in another form."""
    return {name: value.get(name, field.default) for name, field in r.DateFields.model_fields.items()}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Field-level differences as {field: {before, after}}, the form revision events store."""
    return {
        field: {"before": before.get(field), "after": value}
        for field, value in after.items()
        if before.get(field) != value
    }
