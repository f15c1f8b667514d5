"""The read model's shapes: what query functions return and the API renders.

Plain dataclasses, no SQL and no GraphQL: ``projections/queries.py`` fills them
from the read-model tables, ``api/types/`` mirrors them as GraphQL types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import date as Day  # StatedDate has a field named date
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class StatedDate:
    """A partial date as stored: ``date`` is 2025-02-12, 2025-02 or 2025."""

    date: str
    precision: str  # DAY | MONTH | YEAR
    earliest: Day
    latest: Day
    approximate: bool = False
    note: str | None = None


@dataclass(frozen=True)
class Passage:
    start: int
    end: int
    exact: str
    prefix: str
    suffix: str


@dataclass(frozen=True)
class Link:
    relation: str  # SUPERSEDES | DISPUTES
    target_id: UUID


@dataclass(frozen=True)
class ClaimView:
    """A claim in the version current at the asked record time (knownAt)."""

    id: UUID
    key: str
    version: int
    actor: str
    topic: str
    stance: str
    summary: str
    quote_text: str | None
    quote_language: str | None
    value: str | None
    conditions: str | None
    stated: StatedDate
    counts_from: Day  # min(stated.latest, last day of the source's publication): when it starts to count
    channel: str | None
    source_id: UUID
    passage: Passage
    attribution: str
    links: list[Link]
    retracted: bool
    retraction_reason: str | None
    first_recorded_at: datetime
    first_recorded_by: str
    version_recorded_at: datetime  # when this version became the ledger's record
    version_recorded_by: str
    position: int  # log position of the event that made this version
    first_position: int = 0  # log position of the claim's RECORDED event: tie-break of the claim order
    row: int = 0  # the read-model row (rm_claim_versions.position) holding this version

    @property
    def counts_from_reason(self) -> str:
        """STATED_PERIOD when the stated period ends first (or on the same day), else SOURCE_PUBLISHED."""
        return "SOURCE_PUBLISHED" if self.counts_from < self.stated.latest else "STATED_PERIOD"


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ClaimEventView:
    """One entry of a claim's audit trail."""

    claim_id: UUID
    version: int
    type: str  # RECORDED | REVISED | RETRACTED | LINKED | SOURCE_REVISED (the source's publication moved the bound)
    position: int
    recorded_at: datetime
    recorded_by: str
    reason: str | None
    changes: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class PositionView:
    actor: str
    topic: str
    stance: str
    since: StatedDate  # start of the current run of the same stance
    since_claim_id: UUID
    claim: ClaimView  # the latest qualifying claim
    as_of: date
    known_at: datetime


@dataclass(frozen=True)
class PositionChangeView:
    stance: str
    previous_stance: str | None
    since: StatedDate
    claim: ClaimView


@dataclass(frozen=True)
class Role:
    title: str
    start: date | None
    until: date | None


@dataclass(frozen=True)
class ActorView:
    id: UUID
    key: str
    name: str
    kind: str
    aliases: list[str]
    wikidata: str | None
    roles: list[Role]


@dataclass(frozen=True)
class TopicView:
    id: UUID
    key: str
    title: str
    proposition: str


@dataclass(frozen=True)
class SourceView:
    id: UUID
    key: str
    title: str
    publisher: str | None
    authors: list[str]
    url: str | None
    published: StatedDate
    language: str
    genre: str
    sha256: str
    recorded_at: datetime


@dataclass(frozen=True)
class ApiKeyListing:
    """A key as ``claims apikey list`` shows it (never its secret or hash)."""

    name: str
    role: str
    created_at: datetime
    created_by: str | None
    revoked: bool
    revoked_reason: str | None


@dataclass(frozen=True)
class CollectionSizes:
    """How big the read model's collections are: what a query's cost is estimated from."""

    sources: int
    actors: int
    topics: int
    pairs: int  # (actor, topic) pairs with a claim
    claims_per_source: int  # the most claim versions of one source
    claims_per_pair: int  # the most claim versions of one pair
    versions_per_claim: int  # the longest claim history


@dataclass(frozen=True)
class ClaimFilter:
    actor: str | None = None
    topic: str | None = None
    source_id: UUID | None = None
    stance: str | None = None
    attribution: str | None = None
    stated_from: date | None = None  # counts_from >= stated_from
    stated_to: date | None = None  # counts_from <= stated_to
    text: str | None = None  # case-insensitive substring of summary or quote
    include_retracted: bool = False


@dataclass(frozen=True)
class Page:
    """A keyset page: ``cursor`` of each item is opaque to callers."""

    items: list[ClaimView]
    cursors: list[str]
    has_next_page: bool
    total_count: int


@dataclass(frozen=True)
class FlipView:
    """A consistency label between two consecutive claims of one actor on one topic (projections/flips.py)."""

    label: str  # NO_FLIP | HALF_FLIP | FULL_FLOP
    before: ClaimView
    after: ClaimView


@dataclass(frozen=True)
class FlipPage:
    items: list[FlipView]
    cursors: list[str]
    has_next_page: bool


@dataclass(frozen=True)
class FlipSummaryView:
    actor: str
    topic: str
    claims: int
    no_flips: int
    half_flips: int
    full_flops: int
