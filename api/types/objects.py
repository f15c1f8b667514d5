"""The ledger's records as GraphQL object types.

Each type is built from a read-model view by ``from_view``; its scalar fields
are plain attributes and its relations are resolvers that go through the
request's DataLoaders, so a list of N objects costs one query per relation.
A claim remembers the record time (``knownAt``) it was read at, and so do the
claims reached from it. Its actor, topic and source are shown as the ledger held them
at that record time when one was asked for (``knownAt``/``atTreeSize``: the answer is
repeatable), else with their current details (``details_at``).
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from types import EllipsisType
from typing import Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from api.basis import record_time
from api.context import Info
from api.names import resolve_keys
from api.types.enums import (
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
from projections import views
from projections.flips import flip_label


@strawberry.type(description="A date known to DAY, MONTH or YEAR precision, as the evidence supports it.")
class PartialDate:
    date: str = strawberry.field(description="2025-02-12, 2025-02 or 2025, according to precision.")
    precision: Precision
    earliest: dt.date = strawberry.field(description="First day of the period the date stands for.")
    latest: dt.date = strawberry.field(description="Last day of that period (the day itself for DAY precision).")
    approximate: bool
    note: str | None = strawberry.field(description="How the date was determined, e.g. from a relative date.")

    @classmethod
    def from_view(cls, view: views.StatedDate) -> PartialDate:
        return cls(
            date=view.date,
            precision=Precision(view.precision),
            earliest=view.earliest,
            latest=view.latest,
            approximate=view.approximate,
            note=view.note,
        )


@strawberry.type(description="The exact passage of the source text (a W3C TextQuoteSelector with offsets).")
class Passage:
    start: int = strawberry.field(description="Offset of the first character, in Unicode code points.")
    end: int = strawberry.field(description="Offset just past the last character.")
    exact: str
    prefix: str = strawberry.field(description="Up to 32 characters before the passage.")
    suffix: str = strawberry.field(description="Up to 32 characters after the passage.")

    @classmethod
    def from_view(cls, view: views.Passage) -> Passage:
        return cls(start=view.start, end=view.end, exact=view.exact, prefix=view.prefix, suffix=view.suffix)


@strawberry.type(description="An office or role an actor held.")
class Role:
    title: str
    start: date | None = strawberry.field(name="from")
    until: date | None


@strawberry.type(description="A person or body that makes claims.")
class Actor:
    id: strawberry.ID
    key: str
    name: str
    kind: ActorKind
    aliases: list[str]
    wikidata: str | None = strawberry.field(description="Wikidata QID, e.g. Q22686.")
    roles: list[Role]

    @classmethod
    def from_view(cls, view: views.ActorView) -> Actor:
        return cls(
            id=strawberry.ID(str(view.id)),
            key=view.key,
            name=view.name,
            kind=ActorKind(view.kind),
            aliases=list(view.aliases),
            wikidata=view.wikidata,
            roles=[Role(title=r.title, start=r.start, until=r.until) for r in view.roles],
        )

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
        view = await info.context.loaders.position.load((self.key, topic_key, as_of, at))
        return Position.from_view(view, at) if view else None


@strawberry.type(description="What claims take a stance on: a proposition one can support or oppose.")
class Topic:
    id: strawberry.ID
    key: str
    title: str
    proposition: str

    @classmethod
    def from_view(cls, view: views.TopicView) -> Topic:
        return cls(id=strawberry.ID(str(view.id)), key=view.key, title=view.title, proposition=view.proposition)


@strawberry.type(description="A document claims are taken from. Its text never changes once registered.")
class Source:
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

    @classmethod
    def from_view(cls, view: views.SourceView) -> Source:
        return cls(
            id=strawberry.ID(str(view.id)),
            key=view.key,
            title=view.title,
            publisher=view.publisher,
            authors=list(view.authors),
            url=view.url,
            published=PartialDate.from_view(view.published),
            language=view.language,
            genre=Genre(view.genre),
            sha256=view.sha256,
            recorded_at=view.recorded_at,
        )

    @strawberry.field(description="The full text; passages' offsets point into it.")
    async def text(self, info: Info) -> str | None:
        return await info.context.loaders.source_text.load(UUID(self.id))

    @strawberry.field(description="Claims taken from this source, as recorded at knownAt (default: now).")
    async def claims(
        self, info: Info, known_at: datetime | None = None, at_tree_size: int | None = None
    ) -> list[Claim]:
        at = await record_time(info, known_at, at_tree_size)
        found = await info.context.loaders.source_claims.load((UUID(self.id), at))
        return [Claim.from_view(v, at) for v in found]


@strawberry.type(description="A link from one claim to another.")
class ClaimLink:
    relation: LinkRelation
    target_id: strawberry.ID
    known_at: strawberry.Private[datetime | None]
    details_at: strawberry.Private[datetime | None]

    @strawberry.field(description="The linked claim, as recorded at the same knownAt.")
    async def target(self, info: Info) -> Claim | None:
        view = await info.context.loaders.claim.load((UUID(self.target_id), self.known_at))
        return Claim.from_view(view, self.known_at, self.details_at) if view else None


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


@strawberry.type(description="One entry of a claim's audit trail.")
class ClaimEvent:
    version: int
    type: ClaimEventType
    log_position: int = strawberry.field(description="Position of the event in the ledger log (see inclusionProof).")
    recorded_at: datetime
    recorded_by: str
    reason: str | None
    changes: list[FieldChange]

    @classmethod
    def from_view(cls, view: views.ClaimEventView) -> ClaimEvent:
        return cls(
            version=view.version,
            type=ClaimEventType(view.type),
            log_position=view.position,
            recorded_at=view.recorded_at,
            recorded_by=view.recorded_by,
            reason=view.reason,
            changes=[FieldChange(field=c.field, before=_json(c.before), after=_json(c.after)) for c in view.changes],
        )


@strawberry.type(description="One statement by one actor on one topic, pinned to a passage of a source.")
class Claim:
    id: strawberry.ID = strawberry.field(description="The claim's UUID.")
    key: str
    version: int = strawberry.field(description="Version of the record shown (1 = as first recorded).")
    stance: Stance
    summary: str
    quote: str | None = strawberry.field(description="The quoted words, if the source quotes them.")
    quote_language: str | None
    value: str | None = strawberry.field(description="A figure or value named in the claim, if any.")
    conditions: str | None = strawberry.field(description="Conditions attached to a CONDITIONAL stance.")
    stated_on: PartialDate = strawberry.field(description="When the actor made the statement (the period it names).")
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
    log_position: int = strawberry.field(description="Log position of the event that made this version.")
    known_at: datetime | None = strawberry.field(description="The record time asked for (null: now).")
    actor_key: strawberry.Private[str]
    topic_key: strawberry.Private[str]
    source_id: strawberry.Private[UUID]
    link_views: strawberry.Private[list[views.Link]]
    details_at: strawberry.Private[datetime | None]  # actor, topic, source as of then (None: current details)

    @classmethod
    def from_view(
        cls, view: views.ClaimView, known_at: datetime | None, details_at: datetime | EllipsisType | None = ...
    ) -> Claim:
        """``details_at``: when it differs from ``known_at`` (a position's claim read at the current record)."""
        return cls(
            id=strawberry.ID(str(view.id)),
            key=view.key,
            version=view.version,
            stance=Stance(view.stance),
            summary=view.summary,
            quote=view.quote_text,
            quote_language=view.quote_language,
            value=view.value,
            conditions=view.conditions,
            stated_on=PartialDate.from_view(view.stated),
            counts_from=view.counts_from,
            counts_from_reason=CountsFromReason(view.counts_from_reason),
            channel=view.channel,
            passage=Passage.from_view(view.passage),
            attribution=Attribution(view.attribution),
            retracted=view.retracted,
            retraction_reason=view.retraction_reason,
            first_recorded_at=view.first_recorded_at,
            first_recorded_by=view.first_recorded_by,
            version_recorded_at=view.version_recorded_at,
            version_recorded_by=view.version_recorded_by,
            log_position=view.position,
            known_at=known_at,
            actor_key=view.actor,
            topic_key=view.topic,
            source_id=view.source_id,
            link_views=list(view.links),
            details_at=known_at if isinstance(details_at, EllipsisType) else details_at,
        )

    # A claim's actor, topic and source were registered before it, so a version is in force at any
    # record time the claim is; only clocks skewed between writers could break that: then the current one.

    @strawberry.field
    async def actor(self, info: Info) -> Actor:
        loader = info.context.loaders.actor
        view = await loader.load((self.actor_key, self.details_at)) or await loader.load((self.actor_key, None))
        assert view is not None, f"claim {self.key} names unknown actor {self.actor_key}"
        return Actor.from_view(view)

    @strawberry.field
    async def topic(self, info: Info) -> Topic:
        loader = info.context.loaders.topic
        view = await loader.load((self.topic_key, self.details_at)) or await loader.load((self.topic_key, None))
        assert view is not None, f"claim {self.key} names unknown topic {self.topic_key}"
        return Topic.from_view(view)

    @strawberry.field
    async def source(self, info: Info) -> Source:
        loader = info.context.loaders.source
        view = await loader.load((self.source_id, self.details_at)) or await loader.load((self.source_id, None))
        assert view is not None, f"claim {self.key} names unknown source {self.source_id}"
        return Source.from_view(view)

    @strawberry.field(description="Claims this one supersedes or disputes.")
    def links(self) -> list[ClaimLink]:
        return [
            ClaimLink(
                relation=LinkRelation(link.relation),
                target_id=strawberry.ID(str(link.target_id)),
                known_at=self.known_at,
                details_at=self.details_at,
            )
            for link in self.link_views
        ]

    @strawberry.field(
        description="Claims that supersede or dispute this one (the reverse of their `links`), as recorded at knownAt."
    )
    async def linked_from(self, info: Info) -> list[ClaimBacklink]:
        found = await info.context.loaders.linked_from.load((UUID(self.id), self.known_at))
        return [
            ClaimBacklink(
                relation=LinkRelation(relation),
                claim_id=strawberry.ID(str(view.id)),
                claim=Claim.from_view(view, self.known_at, self.details_at),
            )
            for relation, view in found
        ]

    @strawberry.field(description="Every event of this claim, oldest first, whatever knownAt.")
    async def history(self, info: Info) -> list[ClaimEvent]:
        events = await info.context.loaders.history.load(UUID(self.id))
        return [ClaimEvent.from_view(e) for e in events]


@strawberry.type(description="Where an actor stands on a topic as of a date, and since when.")
class Position:
    stance: Stance
    since: PartialDate = strawberry.field(description="Start of the current run of the same stance.")
    claim: Claim = strawberry.field(description="The latest claim that qualifies.")
    as_of: date = strawberry.field(description="The date in the world the position is for.")
    known_at: datetime = strawberry.field(description="The ledger record time the answer is based on.")
    actor_key: strawberry.Private[str]
    topic_key: strawberry.Private[str]
    since_claim_id: strawberry.Private[UUID]
    details_at: strawberry.Private[datetime | None]

    @classmethod
    def from_view(cls, view: views.PositionView, asked_at: datetime | None) -> Position:
        """``asked_at``: the record time the field asked for (None: the current record, current details)."""
        return cls(
            stance=Stance(view.stance),
            since=PartialDate.from_view(view.since),
            claim=Claim.from_view(view.claim, view.known_at, asked_at),
            as_of=view.as_of,
            known_at=view.known_at,
            actor_key=view.actor,
            topic_key=view.topic,
            since_claim_id=view.since_claim_id,
            details_at=asked_at,
        )

    @strawberry.field
    async def actor(self, info: Info) -> Actor:
        view = await info.context.loaders.actor.load((self.actor_key, self.details_at))
        assert view is not None
        return Actor.from_view(view)

    @strawberry.field
    async def topic(self, info: Info) -> Topic:
        view = await info.context.loaders.topic.load((self.topic_key, self.details_at))
        assert view is not None
        return Topic.from_view(view)

    @strawberry.field(description="The claim that began the current run of this stance.")
    async def since_claim(self, info: Info) -> Claim | None:
        view = await info.context.loaders.claim.load((self.since_claim_id, self.known_at))
        return Claim.from_view(view, self.known_at, self.details_at) if view else None


@strawberry.type(description="A change of an actor's stance on a topic.")
class PositionChange:
    stance: Stance
    previous_stance: Stance | None
    since: PartialDate
    claim: Claim

    @strawberry.field(
        description="FULL_FLOP (SUPPORTS <-> OPPOSES) or HALF_FLIP (into or out of CONDITIONAL or NEUTRAL); null "
        "for the first stance. Query `flips` for labels with both claims, restatements (NO_FLIP) included."
    )
    def label(self) -> FlipLabel | None:
        if self.previous_stance is None:
            return None
        return FlipLabel(flip_label(self.previous_stance.value, self.stance.value))

    @classmethod
    def from_view(cls, view: views.PositionChangeView, known_at: datetime | None) -> PositionChange:
        return cls(
            stance=Stance(view.stance),
            previous_stance=Stance(view.previous_stance) if view.previous_stance else None,
            since=PartialDate.from_view(view.since),
            claim=Claim.from_view(view.claim, known_at),
        )


def _json(value: Any) -> Any:
    """Field values are JSON already; dates and UUIDs become strings."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, date | datetime | UUID):
        return str(value)
    return value
