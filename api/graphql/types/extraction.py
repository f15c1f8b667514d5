"""GraphQL types of the extraction assistant: candidates for a curator to review and accept."""

from __future__ import annotations

import strawberry

from api.graphql.types.enums import ActorKind, Attribution, Precision
from api.graphql.types.objects import Actor, Passage, Source, Topic


@strawberry.type(description="A stated date the assistant read from the text (not yet a claim's date).")
class SuggestedDate:
    date: str = strawberry.field(description="2025-02-12, 2025-02 or 2025, according to precision.")
    precision: Precision
    approximate: bool
    note: str = strawberry.field(description="The expression it came from, or why it is the publication date.")


@strawberry.type(description="A new actor the assistant proposes for a speaker no known actor matches.")
class ProposedActor:
    key: str
    name: str
    kind: ActorKind
    aliases: list[str]


@strawberry.type(description="A topic the candidate's words share with an existing topic; a suggestion only.")
class TopicSuggestion:
    topic: Topic
    score: float = strawberry.field(description="Shared words (keywords count double); at least 2 to be suggested.")


@strawberry.type(
    description="A reported statement the assistant found: a candidate claim. Nothing is recorded until a curator "
    "accepts it with recordClaim (passing `assistant` so the claim records where it came from)."
)
class ExtractionCandidate:
    key: str = strawberry.field(description="A suggested claim key: the source's key and the candidate's number.")
    passage: Passage = strawberry.field(description="The message: a passage of the source text.")
    form: str = strawberry.field(
        description="Direct, Indirect, IndirectFreeIndirect or Reported (SpkAtt-2023 forms of reported speech)."
    )
    attribution: Attribution
    confidence: float = strawberry.field(description="0-1: how sure the rules are; review low ones closely.")
    cue: str | None = strawberry.field(description="The words that mark the statement (sagte, laut, according to).")
    speaker: str | None = strawberry.field(description="The speaker as the text names them.")
    speaker_passage: Passage | None = strawberry.field(description="Where the speaker is named.")
    actor: Actor | None = strawberry.field(description="The known actor the speaker resolved to, if any.")
    proposed_actor: ProposedActor | None = strawberry.field(description="A new actor to register, when none fits.")
    stated: SuggestedDate
    channel: str | None = strawberry.field(description="Where it was said, as the text names it (auf X, ...).")
    topic_suggestions: list[TopicSuggestion] = strawberry.field(
        description="Best first; empty when no topic fits confidently (none is forced)."
    )
    summary: str = strawberry.field(description="A starting point for the claim's summary.")
    quote: str | None = strawberry.field(description="The quoted words without marks, for a direct quote.")
    rule: str = strawberry.field(description="The rule that found it (recorded in the claim's origin).")
    notes: list[str] = strawberry.field(description="How the speaker was resolved, and what to check.")


@strawberry.type(
    description="The assistant's candidates for one source. Stance is never suggested: it is the curator's."
)
class ExtractionResult:
    source: Source
    language: str
    candidates: list[ExtractionCandidate]


@strawberry.input(description="Marks a recorded claim as an accepted candidate of the extraction assistant.")
class AssistantOriginInput:
    rule: str | None = strawberry.field(default=None, description="The candidate's rule.")
    confidence: float | None = strawberry.field(default=None, description="The candidate's confidence.")
    edited: bool = strawberry.field(default=False, description="True when the curator changed the candidate.")
