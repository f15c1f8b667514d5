"""The extraction assistant over GraphQL: candidates for a source (read), accepted via recordClaim."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from api.extraction import QUOTE_MARKS, candidates_for, summary_of
from api.graphql.context import Info
from api.graphql.loaders import blocking
from api.graphql.types.enums import ActorKind, Attribution, Precision
from api.graphql.types.extraction import (
    AssistantOriginInput,
    ExtractionCandidate,
    ExtractionResult,
    ProposedActor,
    SuggestedDate,
    TopicSuggestion,
)
from api.graphql.types.objects import Actor, Passage, Source, Topic
from ledger.errors import BadInput, NotFound
from ledger.extraction import Candidate
from projections.views import SourceView

LANGUAGES = ("de", "en")


def _passage(text: str, start: int, end: int) -> Passage:
    return Passage(
        start=start,
        end=end,
        exact=text[start:end],
        prefix=text[max(0, start - 32) : start],
        suffix=text[end : end + 32],
    )


async def extraction_candidates(
    info: Info,
    source: strawberry.ID,
    lang: Annotated[str | None, strawberry.argument(description="de or en (default: the source's language).")] = None,
) -> ExtractionResult:
    """Candidate claims the assistant proposes for a registered source (by id or key)."""
    if lang is not None and lang not in LANGUAGES:
        raise BadInput("lang", f"{lang!r}: the assistant reads {' and '.join(LANGUAGES)}")

    read_model = info.context.read_model

    def load() -> tuple[SourceView, str, list[Candidate], str]:
        found = read_model.source_by_ref(str(source))
        if found is None:
            raise NotFound("source", source)
        language = lang or found.language or "de"
        if language not in LANGUAGES:
            raise BadInput("lang", f"the source is in {language!r}; the assistant reads {' and '.join(LANGUAGES)}")
        text = read_model.source_texts([found.id])[0] or ""
        actors, topics = read_model.actors(None), read_model.topics()
        return found, text, candidates_for(text, found.published.latest, language, actors, topics), language

    view, text, candidates, language = await blocking(load)
    actor_keys = sorted({c.actor for c in candidates if c.actor})
    topic_keys = sorted({k for c in candidates for k, _ in c.topics})
    actors = dict(
        zip(actor_keys, await info.context.loaders.actor.load_many([(k, None) for k in actor_keys]), strict=True)
    )
    topics = dict(
        zip(topic_keys, await info.context.loaders.topic.load_many([(k, None) for k in topic_keys]), strict=True)
    )
    out = []
    for n, cand in enumerate(candidates, 1):
        actor_view = actors.get(cand.actor) if cand.actor else None
        proposed = cand.proposed_actor
        out.append(
            ExtractionCandidate(
                key=f"{view.key}-{n:02d}"[:80],
                passage=_passage(text, *cand.message),
                form=cand.form,
                attribution=Attribution(cand.attribution),
                confidence=cand.confidence,
                cue=cand.cue,
                speaker=cand.speaker,
                speaker_passage=_passage(text, *cand.speaker_span) if cand.speaker_span else None,
                actor=Actor(actor_view) if actor_view else None,
                proposed_actor=ProposedActor(
                    key=proposed["key"],
                    name=proposed["name"],
                    kind=ActorKind(proposed["kind"]),
                    aliases=list(proposed["aliases"]),
                )
                if proposed
                else None,
                stated=SuggestedDate(
                    date=cand.stated["date"],
                    precision=Precision(cand.stated["precision"]),
                    approximate=bool(cand.stated["approximate"]),
                    note=cand.stated["note"],
                ),
                channel=cand.channel,
                topic_suggestions=[
                    TopicSuggestion(topic=Topic(v), score=score)
                    for key, score in cand.topics
                    if (v := topics.get(key)) is not None
                ],
                summary=summary_of(cand),
                quote=cand.exact.strip().strip(QUOTE_MARKS).strip() if cand.form == "Direct" else None,
                rule=cand.rule,
                notes=list(cand.notes),
            )
        )
    return ExtractionResult(source=Source(view), language=language, candidates=out)


def assistant_origin(value: AssistantOriginInput) -> dict[str, Any]:
    """The origin recorded with a claim accepted from a candidate (the batch adds who accepted it)."""
    if value.confidence is not None and not 0 <= value.confidence <= 1:
        raise BadInput("assistant.confidence", "must lie between 0 and 1")
    if value.rule is not None and len(value.rule) > 200:
        raise BadInput("assistant.rule", "is longer than 200 characters")
    return {
        "assistant": "extractionCandidates",
        "review": "accepted after edits" if value.edited else "accepted",
        "confidence": value.confidence,
        "rule": value.rule,
    }
