"""The ledger's records as GraphQL object types.

Each type answers from a read-model view (``projections/views.py``) without copying it:
a field with no resolver reads the view's attribute of its Python name (``FromView``,
``reads_view``; GraphQL renames with ``name=``), and a nested view whose attributes are a type's fields
is returned as it is (a ``StatedDate`` answers as ``PartialDate``; ``Passage``, ``Role``).
Relations are resolvers that go through the request's DataLoaders, so a list of N objects
costs one query per relation; a relation the request has loaded already is answered without
an await (:func:`related`), so a list whose relations were loaded in one batch completes
synchronously. A claim remembers the record time (``knownAt``) it was read
at, and so do the claims reached from it.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Awaitable, Callable, Hashable
from datetime import date, datetime
from operator import attrgetter
from types import EllipsisType
from typing import Any, TypeVar
from uuid import UUID

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON
from strawberry.types.private import is_private

from api.graphql.basis import log_prefix, record_time
from api.graphql.context import Info
from api.graphql.types.enums import (
    ActorKind,
    Attribution,
    ClaimEventType,
    CountsFromReason,
    FlipLabel,
    Genre,
    LinkRelation,
    Precision,
    Stance,
)
from api.names import resolve_keys
from projections import views
from projections.flips import flip_label


class FromView:
    """A GraphQL object answered from the read-model view it holds in ``view`` (its own
    ``__init__`` says what else it holds, e.g. ``known_at``). With :func:`reads_view`, a field
    without a resolver reads the view's attribute of the same Python name: the view is never
    copied field by field (tests/test_api_views.py checks that each such field has one)."""


T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")


def related(
    loader: DataLoader[K, V | None], key: K, wrap: Callable[[V], R], missing: str, fallback: K | None = None
) -> R | Awaitable[R]:
    """The object ``key`` names, wrapped; without an await when this request has loaded it already.

    graphql-core gives every awaitable a future, a task and a completion step of its own: for
    the matrix (a thousand positions, each with an actor, a topic and a claim's source) that
    was most of the request. Resolvers that first load a list's relations in one batch
    (``positions``) make these answers synchronous. ``fallback``: the key to try when ``key``
    names nothing (a claim's details at its record time, else the current ones).
    """
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() and future.exception() is None:
        view = future.result()
        if view is not None:
            return wrap(view)

    async def load() -> R:
        view = await loader.load(key)
        if view is None and fallback is not None:
            view = await loader.load(fallback)
        assert view is not None, missing
        return wrap(view)

    return load()


def reads_view(cls: type[T]) -> type[T]:
    """Give each plain field of a strawberry type (below this decorator) a property reading
    ``self.view.<name>``, where strawberry's default resolver finds it; fields the wrapper
    holds itself (its ``__init__``'s parameters) stay instance attributes."""
    own = set(inspect.signature(cls.__init__).parameters)
    definition: Any = cls.__strawberry_definition__  # type: ignore[attr-defined]
    for f in definition.fields:
        if f.base_resolver is None and not is_private(f.type) and f.python_name not in own:
            setattr(cls, f.python_name, property(attrgetter(f"view.{f.python_name}")))
    return cls


@strawberry.type(description="A date known to DAY, MONTH or YEAR precision, as the evidence supports it.")
class PartialDate:
    date: str = strawberry.field(description="2025-02-12, 2025-02 or 2025, according to precision.")
    precision: Precision
    earliest: dt.date = strawberry.field(description="First day of the period the date stands for.")
    latest: dt.date = strawberry.field(description="Last day of that period (the day itself for DAY precision).")
    approximate: bool
    note: str | None = strawberry.field(description="How the date was determined, e.g. from a relative date.")


@strawberry.type(description="The exact passage of the source text (a W3C TextQuoteSelector with offsets).")
class Passage:
    start: int = strawberry.field(description="Offset of the first character, in Unicode code points.")
    end: int = strawberry.field(description="Offset just past the last character.")
    exact: str
    prefix: str = strawberry.field(description="Up to 32 characters before the passage.")
    suffix: str = strawberry.field(description="Up to 32 characters after the passage.")


@strawberry.type(description="An office or role an actor held.")
class Role:
    title: str
    start: date | None = strawberry.field(name="from")
    until: date | None


@reads_view
@strawberry.type(description="A person or body that makes claims.")
class Actor(FromView):
    id: strawberry.ID
    key: str
    name: str
    kind: ActorKind
    aliases: list[str]
    wikidata: str | None = strawberry.field(description="Wikidata QID, e.g. Q22686.")
    roles: list[Role]

    view: strawberry.Private[views.ActorView]

    def __init__(self, view: views.ActorView) -> None:
        self.view = view

    @strawberry.field(description="This actor's position on a topic (same rules as Query.position).")
    async def position(
        self,
        info: Info,
        topic: str,
        as_of: date | None = None,
        known_at: datetime | None = None,
        at_tree_size: int | None = None,
    ) -> Position | None:
        at = await record_time(info, known_at, at_tree_size)
        (topic_key,) = await resolve_keys(info, ("topic", "topic", topic), at=at)
        assert topic_key is not None
        view = await info.context.loaders.position.load((self.view.key, topic_key, as_of, at))
        return Position(view, at) if view else None


@reads_view
@strawberry.type(description="What claims take a stance on: a proposition one can support or oppose.")
class Topic(FromView):
    id: strawberry.ID
    key: str
    title: str
    proposition: str
    view: strawberry.Private[views.TopicView]

    def __init__(self, view: views.TopicView) -> None:
        self.view = view


@reads_view
@strawberry.type(description="A document claims are taken from. Its text never changes once registered.")
class Source(FromView):
    id: strawberry.ID
    key: str
    title: str
    publisher: str | None
    authors: list[str]
    url: str | None
    published: PartialDate
    language: str = strawberry.field(description="ISO 639-1 code, e.g. de.")
    genre: Genre
    sha256: str = strawberry.field(description="SHA-256 of the UTF-8 text: the source's identity.")
    recorded_at: datetime

    view: strawberry.Private[views.SourceView]

    def __init__(self, view: views.SourceView) -> None:
        self.view = view

    @strawberry.field(description="The full text; passages' offsets point into it.")
    async def text(self, info: Info) -> str | None:
        return await info.context.loaders.source_text.load(self.view.id)

    @strawberry.field(description="Claims taken from this source, as recorded at knownAt (default: now).")
    async def claims(
        self, info: Info, known_at: datetime | None = None, at_tree_size: int | None = None
    ) -> list[Claim]:
        at = await record_time(info, known_at, at_tree_size)
        found = await info.context.loaders.source_claims.load((self.view.id, at))
        return [Claim(v, at) for v in found]


@reads_view
@strawberry.type(description="A link from one claim to another.")
class ClaimLink(FromView):
    relation: LinkRelation
    target_id: strawberry.ID
    view: strawberry.Private[views.Link]
    known_at: strawberry.Private[datetime | None]
    details_at: strawberry.Private[datetime | None]

    def __init__(self, view: views.Link, known_at: datetime | None, details_at: datetime | None) -> None:
        self.view = view
        self.known_at = known_at
        self.details_at = details_at

    @strawberry.field(description="The linked claim, as recorded at the same knownAt.")
    async def target(self, info: Info) -> Claim | None:
        view = await info.context.loaders.claim.load((self.view.target_id, self.known_at))
        return Claim(view, self.known_at, self.details_at) if view else None


@strawberry.type(description="A link to a claim from another: `claim` supersedes or disputes the claim asked about.")
class ClaimBacklink:
    relation: LinkRelation
    claim_id: strawberry.ID = strawberry.field(description="The linking claim's UUID.")
    claim: Claim = strawberry.field(description="The linking claim, as recorded at the same knownAt.")


@strawberry.type(description="One field of a claim changed by a revision.")
class FieldChange:
    field: str
    before: JSON | None
    after: JSON | None


@reads_view
@strawberry.type(description="One entry of a claim's audit trail.")
class ClaimEvent(FromView):
    version: int
    type: ClaimEventType
    position: int = strawberry.field(
        name="logPosition", description="Position of the event in the ledger log (see inclusionProof)."
    )
    recorded_at: datetime
    recorded_by: str
    reason: str | None
    view: strawberry.Private[views.ClaimEventView]

    def __init__(self, view: views.ClaimEventView) -> None:
        self.view = view

    @strawberry.field
    def changes(self) -> list[FieldChange]:
        return [FieldChange(field=c.field, before=_json(c.before), after=_json(c.after)) for c in self.view.changes]


@reads_view
@strawberry.type(description="One statement by one actor on one topic, pinned to a passage of a source.")
class Claim(FromView):
    id: strawberry.ID = strawberry.field(description="The claim's UUID.")
    key: str
    version: int = strawberry.field(description="Version of the record shown (1 = as first recorded).")
    stance: Stance
    summary: str
    quote_text: str | None = strawberry.field(name="quote", description="The quoted words, if the source quotes them.")
    quote_language: str | None
    value: str | None = strawberry.field(description="A figure or value named in the claim, if any.")
    conditions: str | None = strawberry.field(description="Conditions attached to a CONDITIONAL stance.")
    stated: PartialDate = strawberry.field(
        name="statedOn", description="When the actor made the statement (the period it names)."
    )
    counts_from: date = strawberry.field(
        description="The day from which the claim counts for positions (asOf), orders claims and matches date "
        "filters: the end of statedOn's period, or the last day of the source's publication if that is earlier "
        "(a statement cannot be later than the article that reports it)."
    )
    counts_from_reason: CountsFromReason = strawberry.field(description="Which of the two bounds countsFrom is.")
    channel: str | None = strawberry.field(description="Where it was said: interview, speech, post...")
    passage: Passage
    attribution: Attribution
    retracted: bool = strawberry.field(description="True when the ledger withdrew this record.")
    retraction_reason: str | None
    first_recorded_at: datetime
    first_recorded_by: str
    version_recorded_at: datetime = strawberry.field(description="When this version became the ledger's record.")
    version_recorded_by: str
    position: int = strawberry.field(
        name="logPosition", description="Log position of the event that made this version."
    )
    known_at: datetime | None = strawberry.field(description="The record time asked for (null: now).")
    view: strawberry.Private[views.ClaimView]
    details_at: strawberry.Private[datetime | None]  # actor, topic, source as of then (None: current details)

    def __init__(
        self, view: views.ClaimView, known_at: datetime | None, details_at: datetime | EllipsisType | None = ...
    ) -> None:
        """``details_at``: when it differs from ``known_at`` (a position's claim read at the current record)."""
        self.view = view
        self.known_at = known_at
        self.details_at = known_at if isinstance(details_at, EllipsisType) else details_at

    # A claim's actor, topic and source were registered before it, so a version is in force at any
    # record time the claim is; only clocks skewed between writers could break that: then the current one.

    @strawberry.field(graphql_type=Actor)
    def actor(self, info: Info) -> Actor | Awaitable[Actor]:
        key = self.view.actor
        missing = f"claim {self.view.key} names unknown actor {key}"
        return related(info.context.loaders.actor, (key, self.details_at), Actor, missing, (key, None))

    @strawberry.field(graphql_type=Topic)
    def topic(self, info: Info) -> Topic | Awaitable[Topic]:
        key = self.view.topic
        missing = f"claim {self.view.key} names unknown topic {key}"
        return related(info.context.loaders.topic, (key, self.details_at), Topic, missing, (key, None))

    @strawberry.field(graphql_type=Source)
    def source(self, info: Info) -> Source | Awaitable[Source]:
        key = self.view.source_id
        primed = info.context.loaders.primed_source((key, self.details_at))
        if primed is not None:  # (a position's claim: its source read with it, as the DataLoader would answer)
            return Source(primed)
        missing = f"claim {self.view.key} names unknown source {key}"
        return related(info.context.loaders.source, (key, self.details_at), Source, missing, (key, None))

    @strawberry.field(description="Claims this one supersedes or disputes.")
    def links(self) -> list[ClaimLink]:
        return [ClaimLink(link, self.known_at, self.details_at) for link in self.view.links]

    @strawberry.field(
        description="Claims that supersede or dispute this one (the reverse of their `links`), as recorded at knownAt."
    )
    async def linked_from(self, info: Info) -> list[ClaimBacklink]:
        found = await info.context.loaders.linked_from.load((self.view.id, self.known_at))
        return [
            ClaimBacklink(
                relation=LinkRelation(relation),
                claim_id=strawberry.ID(str(view.id)),
                claim=Claim(view, self.known_at, self.details_at),
            )
            for relation, view in found
        ]

    @strawberry.field(
        description="Every event of this claim, oldest first, whatever knownAt (later corrections included). "
        "In a request pinned with the extension atTreeSize: only the events among the log's first atTreeSize "
        "events, so the pinned answer stays the same."
    )
    async def history(self, info: Info) -> list[ClaimEvent]:
        events = await info.context.loaders.history.load((self.view.id, log_prefix(info)))
        return [ClaimEvent(e) for e in events]


@reads_view
@strawberry.type(description="Where an actor stands on a topic as of a date, and since when.")
class Position(FromView):
    stance: Stance
    since: PartialDate = strawberry.field(
        description="Start of the current run of the same stance: when the claim that began it (sinceClaim) was "
        "stated, as precisely as it was stated (a year, a month or a day). In positions that claim counts from "
        "sinceClaim.countsFrom, which can be later (the end of the stated period, or its source's publication)."
    )
    claim: Claim = strawberry.field(
        resolver=lambda root: root.latest_claim(), description="The latest claim that qualifies."
    )
    as_of: date = strawberry.field(description="The date in the world the position is for.")
    known_at: datetime = strawberry.field(description="The ledger record time the answer is based on.")
    view: strawberry.Private[views.PositionView]
    details_at: strawberry.Private[datetime | None]

    def __init__(self, view: views.PositionView, asked_at: datetime | None) -> None:
        """``asked_at``: the record time the field asked for (None: the current record, current details)."""
        self.view = view
        self.details_at = asked_at

    def latest_claim(self) -> Claim:
        return Claim(self.view.claim, self.view.known_at, self.details_at)

    @strawberry.field(graphql_type=Actor)
    def actor(self, info: Info) -> Actor | Awaitable[Actor]:
        key = (self.view.actor, self.details_at)
        return related(info.context.loaders.actor, key, Actor, f"unknown actor {key}")

    @strawberry.field(graphql_type=Topic)
    def topic(self, info: Info) -> Topic | Awaitable[Topic]:
        key = (self.view.topic, self.details_at)
        return related(info.context.loaders.topic, key, Topic, f"unknown topic {key}")

    @strawberry.field(description="The claim that began the current run of this stance.")
    async def since_claim(self, info: Info) -> Claim | None:
        view = await info.context.loaders.claim.load((self.view.since_claim_id, self.view.known_at))
        return Claim(view, self.view.known_at, self.details_at) if view else None


@reads_view
@strawberry.type(description="A change of an actor's stance on a topic.")
class PositionChange(FromView):
    stance: Stance
    previous_stance: Stance | None
    since: PartialDate
    view: strawberry.Private[views.PositionChangeView]
    known_at: strawberry.Private[datetime | None]

    def __init__(self, view: views.PositionChangeView, known_at: datetime | None) -> None:
        self.view = view
        self.known_at = known_at

    @strawberry.field
    def claim(self) -> Claim:
        return Claim(self.view.claim, self.known_at)

    @strawberry.field(
        description="FULL_FLOP (SUPPORTS <-> OPPOSES) or HALF_FLIP (into or out of CONDITIONAL or NEUTRAL); null "
        "for the first stance. Query `flips` for labels with both claims, restatements (NO_FLIP) included."
    )
    def label(self) -> FlipLabel | None:
        if self.view.previous_stance is None:
            return None
        return FlipLabel(flip_label(self.view.previous_stance, self.view.stance))


def _json(value: Any) -> Any:
    """Field values are JSON already; dates and UUIDs become strings."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, date | datetime | UUID):
        return str(value)
    return value
