"""The extraction assistant wired to the ledger: known actors and topics from the read
model, candidates from ``ledger.extraction``, and the draft import file a curator edits.

Shared by ``claims extract`` (api/cli/extract.py) and the GraphQL
``extractionCandidates`` query, so both propose the same candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from ledger.anchoring import find_spans
from ledger.extraction import Candidate, KnownActor, KnownRole, KnownTopic, extract
from projections.views import ActorView, TopicView

QUOTE_MARKS = "„“”\"«»‚‘’'"
MAX_SUMMARY = 300
DRAFT_HEADER = """\
# Draft from `claims extract`: candidate claims for a curator to review.
# For each candidate: check the passage, speaker (actor), topic and date; give the
# stance (your judgment: SUPPORTS, OPPOSES, CONDITIONAL or NEUTRAL) and a summary;
# then set `review: accepted`, or `review: dismissed` to skip it. Proposed new actors
# need the same. `claims import` refuses pending candidates unless --accept-unreviewed.
# The `assistant` block is for you; it is not stored with the claim.
"""


def known_actors(views: Sequence[ActorView]) -> list[KnownActor]:
    return [
        KnownActor(
            key=a.key,
            name=a.name,
            kind=a.kind,
            aliases=tuple(a.aliases),
            roles=tuple(KnownRole(r.title, r.start, r.until) for r in a.roles),
        )
        for a in views
    ]


def known_topics(views: Sequence[TopicView], keywords: dict[str, list[str]] | None = None) -> list[KnownTopic]:
    keywords = keywords or {}
    return [KnownTopic(t.key, t.title, t.proposition, tuple(keywords.get(t.key, ()))) for t in views]


def candidates_for(
    text: str,
    published: date,
    lang: str,
    actors: Sequence[ActorView],
    topics: Sequence[TopicView],
    keywords: dict[str, list[str]] | None = None,
) -> list[Candidate]:
    return extract(text, published, lang=lang, actors=known_actors(actors), topics=known_topics(topics, keywords))


def passage_by_words(text: str, candidate: Candidate) -> dict[str, Any]:
    """The passage as a curator writes it: its words, and a prefix only where the words recur."""
    passage: dict[str, Any] = {"exact": candidate.exact}
    spans, _ = find_spans(text, candidate.exact)
    if len(spans) > 1:
        start = candidate.message[0]
        passage["prefix"] = text[max(0, start - 32) : start]
    return passage


def summary_of(candidate: Candidate) -> str:
    words = candidate.exact.strip().strip(QUOTE_MARKS).strip()
    mention = candidate.speaker if candidate.speaker and len(candidate.speaker) > 3 else None
    speaker = mention or candidate.actor or "?"
    summary = f"{speaker}: {words}"
    return summary if len(summary) <= MAX_SUMMARY else summary[: MAX_SUMMARY - 1] + "…"


def draft(
    text: str,
    candidates: Sequence[Candidate],
    *,
    source_key: str,
    lang: str,
    source_record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A draft import file (import-v1 plus review markers) of the candidates."""
    actors: dict[str, dict[str, Any]] = {}
    claims = []
    for n, cand in enumerate(candidates, 1):
        claim: dict[str, Any] = {"key": f"{source_key}-{n:02d}"[:80].rstrip("-"), "review": "pending"}
        claim["confidence"] = cand.confidence
        actor = cand.actor
        if actor is None and cand.proposed_actor is not None:
            actor = cand.proposed_actor["key"]
            actors.setdefault(actor, {**cand.proposed_actor, "review": "pending"})
        if actor is not None:
            claim["actor"] = actor
        if cand.topics:
            claim["topic"] = cand.topics[0][0]
        claim["summary"] = summary_of(cand)
        if cand.form == "Direct":
            claim["quote"] = {"text": cand.exact.strip().strip(QUOTE_MARKS).strip(), "language": lang}
        claim["stated"] = cand.stated
        if cand.channel:
            claim["channel"] = cand.channel
        claim["source"] = source_key
        claim["passage"] = passage_by_words(text, cand)
        claim["attribution"] = cand.attribution
        claim["assistant"] = {
            "form": cand.form,
            "cue": cand.cue,
            "speaker": cand.speaker,
            "rule": cand.rule,
            "topic_suggestions": [{"topic": k, "score": s} for k, s in cand.topics] or "no confident topic: choose one",
            "stance_suggestion": None,
            "notes": cand.notes,
        }
        claims.append(claim)
    out: dict[str, Any] = {"format": "claims-ledger/import/v1"}
    if source_record is not None:
        out["sources"] = [source_record]
    if actors:
        out["actors"] = list(actors.values())
    out["claims"] = claims
    return out
