"""Mutation inputs. Field names are those of ``ledger.commands.parse_*``; the API
turns an input into the plain dict the parser takes and leaves validation to it."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

import strawberry
from strawberry.types.unset import UNSET

from api.types.enums import ActorKind, Attribution, Genre, Stance


@strawberry.input(description="A date to DAY, MONTH or YEAR precision: 2025-02-12, 2025-02 or 2025.")
class PartialDateInput:
    date: str
    approximate: bool | None = None
    note: str | None = None


@strawberry.input(
    description="The passage of the source text by its words (exact, with prefix/suffix when the words occur "
    "more than once); start/end are optional and then checked. Typographic quotes, dashes and whitespace "
    "runs match their plain forms; the stored passage holds the source's own characters."
)
class PassageInput:
    exact: str
    start: int | None = None
    end: int | None = None
    prefix: str | None = None
    suffix: str | None = None


@strawberry.input
class QuoteInput:
    text: str
    language: str = strawberry.field(description="ISO 639-1 code of the quoted words, e.g. de.")


@strawberry.input
class RoleInput:
    title: str
    start: date | None = strawberry.field(name="from", default=None)
    until: date | None = None


@strawberry.input(description="A source document (its text is stored once and never changes).")
class RegisterSourceInput:
    key: str
    title: str
    text: str
    published: PartialDateInput
    language: str
    genre: Genre
    publisher: str | None = None
    authors: list[str] | None = None
    url: str | None = None


@strawberry.input
class RegisterActorInput:
    key: str
    name: str
    kind: ActorKind
    aliases: list[str] | None = None
    wikidata: str | None = None
    roles: list[RoleInput] | None = None


@strawberry.input
class DefineTopicInput:
    key: str
    title: str
    proposition: str


@strawberry.input(description="A claim: who (actor) said what (stance, summary) on which topic, when, where.")
class RecordClaimInput:
    key: str
    actor: str
    topic: str
    stance: Stance
    summary: str
    stated: PartialDateInput
    source: str = strawberry.field(description="The source's id or key.")
    passage: PassageInput
    attribution: Attribution
    quote: QuoteInput | None = None
    value: str | None = None
    conditions: str | None = None
    channel: str | None = None
    supersedes: str | None = strawberry.field(default=None, description="Key or id of a claim this one replaces.")
    disputes: list[str] | None = None


@strawberry.input(description="Fields to correct; omitted fields keep their value, null clears an optional one.")
class ClaimChangesInput:
    actor: str | None = UNSET
    topic: str | None = UNSET
    stance: Stance | None = UNSET
    summary: str | None = UNSET
    quote: QuoteInput | None = UNSET
    value: str | None = UNSET
    conditions: str | None = UNSET
    stated: PartialDateInput | None = UNSET
    channel: str | None = UNSET
    source: str | None = UNSET
    passage: PassageInput | None = UNSET
    attribution: Attribution | None = UNSET


@strawberry.input(description="Which claims to list; all conditions must hold.")
class ClaimFilter:
    actor: str | None = strawberry.field(default=None, description="Actor key, name or alias (any case, accents).")
    topic: str | None = strawberry.field(default=None, description="Topic key or title (any case, accents).")
    source: strawberry.ID | None = strawberry.field(default=None, description="Source id.")
    stance: Stance | None = None
    attribution: Attribution | None = None
    stated_from: date | None = strawberry.field(default=None, description="Counts from (Claim.countsFrom) on or after.")
    stated_to: date | None = strawberry.field(default=None, description="Counts from (Claim.countsFrom) on or before.")
    text: str | None = strawberry.field(default=None, description="Substring of summary or quote, any case.")
    include_retracted: bool = False


def plain(value: Any) -> Any:
    """An input object as the dict ``ledger.commands`` parses: enums by value, unset and null fields dropped."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    definition = getattr(type(value), "__strawberry_definition__", None)
    if definition is None:
        return value
    out: dict[str, Any] = {}
    for field in definition.fields:
        item = getattr(value, field.python_name)
        if item is UNSET or item is None:
            continue
        out[field.graphql_name or field.python_name] = plain(item)
    return out


def changes(value: ClaimChangesInput) -> dict[str, Any]:
    """Like ``plain`` but an explicit null stays (it clears the field)."""
    definition = ClaimChangesInput.__strawberry_definition__  # type: ignore[attr-defined]
    out: dict[str, Any] = {}
    for field in definition.fields:
        item = getattr(value, field.python_name)
        if item is not UNSET:
            out[field.python_name] = None if item is None else plain(item)
    return out
