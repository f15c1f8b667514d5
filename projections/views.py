"""The read model's shapes: what query functions return and the API renders.

Plain dataclasses, no SQL and no GraphQL. A view that is a table's row declares that
table: each field is a column (``tables.py`` says how types and ``Col`` map to columns), and
the ``Table`` below it derives the DDL, the row -> view mapping and what the projector
writes from the event's payload. A new optional claim field is one line in ``ClaimView``;
``api/graphql/types/objects.py`` shows it with one more line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import date as Day  # StatedDate has a field named date
from typing import Annotated, Any
from uuid import UUID

from projections.tables import Col, Table, extra
from projections.values import as_uuid, loads, period, precision_of, search_text, searchable


def _stated(stated: dict[str, Any]) -> tuple[str, str, str]:
    """(precision, earliest, latest): one call per row for the three columns (Col part)."""
    text = stated["date"]
    earliest, latest = period(text)
    return stated.get("precision") or precision_of(text), earliest, latest


@dataclass(frozen=True)
class StatedDate:
    """A partial date as stored: ``date`` is 2025-02-12, 2025-02 or 2025."""

    date: str
    precision: Annotated[str, Col(derive=_stated, part=0)]  # DAY | MONTH | YEAR
    earliest: Annotated[Day, Col(derive=_stated, part=1)]
    latest: Annotated[Day, Col(derive=_stated, part=2)]
    approximate: Annotated[bool, Col(default=False)] = False
    note: str | None = None


@dataclass(frozen=True)
class Passage:
    start: int
    end: int
    exact: str
    prefix: Annotated[str, Col(default="")]
    suffix: Annotated[str, Col(default="")]


@dataclass(frozen=True)
class Link:
    relation: str  # SUPERSEDES | DISPUTES
    target_id: UUID


def _links(text: str) -> list[Link]:
    if text == "[]":  # (most claims': the decoder costs ~1 us a row)
        return []
    return [Link(link["relation"], as_uuid(link["target"])) for link in loads(text)]


@dataclass(frozen=True)
class ClaimView:
    """A claim in the version current at the asked record time (knownAt): one ``rm_claim_versions`` row.

    A row is the ledger's record from known_from_us until known_to_us (NULL: still current):
    one per claim EVENT (the claim version it made the record), and one per claim whose
    publication bound (counts_from) a Source.Revised of its source moved (event SOURCE_REVISED:
    same version, new bound), so the record as of an earlier instant keeps the bound it had
    then. Every row carries the full content (actor and topic included: a revised speaker moves
    the claim to another pair). Fields marked ``meta`` are written by the projector
    (``handlers.py``); the others come from the claim's content in its events.
    """

    # the read-model row; a SOURCE_REVISED row's is < 0
    row: Annotated[int, Col(sql="{int8}", name="position", meta=True, key="primary key")]
    position: Annotated[int, Col(sql="{int8}", name="log_position", meta=True)]  # of the event that made the row
    id: Annotated[UUID, Col(name="claim_id", meta=True)]
    key: Annotated[str, Col(meta=True)]
    version: Annotated[int, Col(meta=True)]  # the claim's version (a SOURCE_REVISED row keeps it)
    version_recorded_at: Annotated[datetime, Col(name="known_from_us", meta=True)]  # the event's timestamp
    version_recorded_by: Annotated[str, Col(name="recorded_by", meta=True)]
    first_position: Annotated[int, Col(sql="{int8}", meta=True)]  # the claim's RECORDED event: order tie-break
    first_recorded_at: Annotated[datetime, Col(name="first_recorded_us", meta=True)]
    first_recorded_by: Annotated[str, Col(meta=True)]
    actor: str
    topic: str
    stance: str
    summary: str
    quote_text: Annotated[str | None, Col(path="quote.text")]
    quote_language: Annotated[str | None, Col(path="quote.language")]
    value: str | None
    conditions: str | None
    stated: StatedDate
    # min(stated.latest, last day of the source's publication): when it starts to count (unless the
    # publication is before stated.earliest, contradictory evidence: then stated.latest)
    counts_from: Annotated[Day, Col(meta=True)]
    channel: str | None
    source_id: Annotated[UUID, Col(path="source")]
    passage: Passage
    attribution: str
    links: Annotated[list[Link], Col(default=[], decode=_links)]  # JSON [{relation, target}]
    retracted: Annotated[bool, Col(meta=True)]
    retraction_reason: Annotated[str | None, Col(meta=True)]

    @property
    def counts_from_reason(self) -> str:
        """STATED_PERIOD when the stated period ends first (or on the same day), else SOURCE_PUBLISHED."""
        return "SOURCE_PUBLISHED" if self.counts_from < self.stated.latest else "STATED_PERIOD"


# The text filter's columns: the summary and the quote folded (``values.searchable``), each in its own
# column (a needle matches within one of them, never across: they may hold line breaks and any control
# character but NUL, so no separator joining them into one column would be safe).
def _summary_search(content: dict[str, Any]) -> str:
    summary: str = content["summary"]
    return searchable(summary)


def _quote_search(content: dict[str, Any]) -> str | None:
    quote = content.get("quote")
    if not quote:
        return None
    text: str = quote["text"]
    return searchable(text)


CLAIM_VERSIONS = Table(
    "rm_claim_versions",
    ClaimView,
    extras=(
        extra("event", "text", meta=True),  # RECORDED | REVISED | RETRACTED | LINKED | SOURCE_REVISED
        extra("known_to_us", "{int8}", nullable=True, meta=True),  # the next version's timestamp
        extra("reason", "text", nullable=True, meta=True),
        extra("changes", "text", nullable=True, meta=True),  # JSON {field: {before, after}}
        extra("search_summary", "text", derive=_summary_search),  # for text filters (queries._claim_filter)
        extra("search_quote", "text", nullable=True, derive=_quote_search),  # NULL: no quote
    ),
    indexes=("CREATE UNIQUE INDEX rm_claim_versions_claim ON rm_claim_versions (claim_id, log_position)",),
)


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


def _field_changes(text: str | None) -> list[FieldChange]:
    fields = loads(text) if text else {}
    return [FieldChange(name, change.get("before"), change.get("after")) for name, change in fields.items()]


@dataclass(frozen=True)
class ClaimEventView:
    """One entry of a claim's audit trail: a ``rm_claim_versions`` row seen as the event that made it."""

    claim_id: UUID
    version: int
    # RECORDED | REVISED | RETRACTED | LINKED | SOURCE_REVISED (the source's publication moved the bound)
    type: Annotated[str, Col(name="event")]
    position: Annotated[int, Col(name="log_position")]
    recorded_at: Annotated[datetime, Col(name="known_from_us")]
    recorded_by: str
    reason: str | None
    changes: Annotated[list[FieldChange], Col(decode=_field_changes)] = field(default_factory=list)


CLAIM_EVENTS = CLAIM_VERSIONS.reader(ClaimEventView)


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


def _roles(text: str) -> list[Role]:
    return [Role(role["title"], _day(role.get("from")), _day(role.get("until"))) for role in loads(text)]


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _strings(text: str) -> list[str]:
    return [] if text == "[]" else list(loads(text) or [])


# Current state of actors, topics, sources and API keys (no record-time history): one row each,
# written from the state the projector keeps (the entity's event payloads, merged).


@dataclass(frozen=True)
class ActorView:
    id: Annotated[UUID, Col(key="primary key")]
    key: Annotated[str, Col(key="unique")]
    name: str
    kind: str
    aliases: Annotated[list[str], Col(default=[], decode=_strings)]
    wikidata: str | None
    roles: Annotated[list[Role], Col(default=[], decode=_roles)]  # JSON [{title, from, until}]


def _actor_search(actor: dict[str, Any]) -> str:
    """Key, name and aliases, folded."""
    return search_text(actor["key"], actor["name"], *(actor.get("aliases") or []))


ACTORS = Table("rm_actors", ActorView, extras=(extra("search", "text", derive=_actor_search),))


@dataclass(frozen=True)
class TopicView:
    id: Annotated[UUID, Col(key="primary key")]
    key: Annotated[str, Col(key="unique")]
    title: str
    proposition: str


TOPICS = Table("rm_topics", TopicView)


@dataclass(frozen=True)
class SourceView:
    id: Annotated[UUID, Col(key="primary key")]
    key: Annotated[str, Col(key="unique")]
    title: str
    publisher: str | None
    authors: Annotated[list[str], Col(default=[], decode=_strings)]
    url: str | None
    published: StatedDate
    language: str
    genre: str
    sha256: str
    recorded_at: Annotated[datetime, Col(name="recorded_us", path="recorded_us")]


SOURCES = Table("rm_sources", SourceView, extras=(extra("text", "text"),))


@dataclass(frozen=True)
class ApiKeyView:
    """An API key as the read model holds it (``claims apikey list``); its secret's hash is a
    column no view shows."""

    id: Annotated[UUID, Col(key="primary key")]
    name: Annotated[str, Col(key="unique")]
    role: str
    created_at: datetime
    created_by: str | None
    revoked: bool
    revoked_reason: str | None


API_KEYS = Table(
    "rm_api_keys",
    ApiKeyView,
    extras=(extra("secret_sha256", "text", key="unique"),),
)


@dataclass(frozen=True)
class CollectionSizes:
    """How big the read model's collections are: what a query's cost is estimated from."""

    sources: int
    actors: int
    topics: int
    pairs: int  # (actor, topic) pairs with a claim
    claims_per_source: int  # the most claims that ever cited one source
    claims_per_pair: int  # the most claims that ever had one (actor, topic) pair
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
