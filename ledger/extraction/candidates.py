"""Candidate claims: reported statements with their speaker resolved to a known actor,
a stated date, a channel, topic suggestions, an attribution kind and a confidence.

Pure: it receives the source text, its publication date and the known actors and
topics as plain data, and returns candidates for a curator to review.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ledger.extraction import lexicon as lx
from ledger.extraction.dates import StatedDate, find_dates
from ledger.extraction.speech import Span, Statement, find_statements

ATTRIBUTION_OF_FORM = {
    "Direct": "DIRECT_QUOTE",
    "Indirect": "INDIRECT_SPEECH",
    "IndirectFreeIndirect": "INDIRECT_SPEECH",
    "FreeIndirect": "INDIRECT_SPEECH",
    "Reported": "INDIRECT_SPEECH",
}
MIN_TOPIC_SCORE = 2.0
PRONOUN_WINDOW = 3  # sentences back in which a pronoun may find its speaker


@dataclass(frozen=True)
class KnownRole:
    title: str
    start: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class KnownActor:
    key: str
    name: str
    kind: str = "PERSON"
    aliases: tuple[str, ...] = ()
    roles: tuple[KnownRole, ...] = ()


@dataclass(frozen=True)
class KnownTopic:
    key: str
    title: str
    proposition: str
    keywords: tuple[str, ...] = ()


@dataclass
class Candidate:
    message: Span
    exact: str
    form: str
    attribution: str
    confidence: float
    cue: str | None
    speaker: str | None  # the mention as written
    speaker_span: Span | None
    actor: str | None  # key of a known actor, when resolved
    proposed_actor: dict[str, Any] | None  # a new actor to register, when not
    stated: dict[str, Any]
    channel: str | None
    topics: list[tuple[str, float]]
    rule: str
    notes: list[str] = field(default_factory=list)
    sentence: int = 0
    cue_spans: list[Span] = field(default_factory=list)
    frame: Span = (0, 0)  # the sentences holding message, cue and speaker


def normalise(text: str) -> str:
    """Case- and accent-insensitive form: 'Selenskyj' == 'selenskyj', 'Macrón' == 'macron'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^\w-]+", " ", plain.replace("ß", "ss")).strip()


def _words(text: str) -> list[str]:
    return normalise(text).replace("-", " ").split()


def _contains(haystack: list[str], needle: list[str]) -> bool:
    return _find(haystack, needle) >= 0


def _find(haystack: list[str], needle: list[str]) -> int:
    """Where ``needle`` ends as consecutive words of ``haystack`` (a genitive s allowed:
    Trumps, Merz'), the last occurrence; -1 when it does not occur."""
    n = len(needle)
    found = -1
    if n == 0:
        return found
    for i in range(len(haystack) - n + 1):
        if all(h == w or h == w + "s" for h, w in zip(haystack[i : i + n], needle, strict=True)):
            found = i + n
    return found


class ActorIndex:
    """Finds the actor a speaker mention names: by name or alias, by surname, or by role."""

    def __init__(self, actors: list[KnownActor], published: date) -> None:
        self.actors = actors
        self.published = published
        self.names: list[tuple[int, KnownActor, list[str]]] = []  # (specificity, actor, words)
        for actor in actors:
            for name in (actor.name, *actor.aliases):
                words = _words(name)
                if words:
                    self.names.append((2, actor, words))
            if actor.kind == "PERSON":
                parts = _words(actor.name)
                if len(parts) > 1 and len(parts[-1]) > 2:
                    self.names.append((1, actor, parts[-1:]))

    def by_name(self, mention: str) -> tuple[KnownActor | None, str]:
        """The actor the mention names. Of several, the one named last wins (the head of a German
        or English noun phrase comes last: "Frankreichs Präsident Emmanuel Macron" is Macron), unless
        the mention joins speakers with "und"/"and"."""
        words = _words(mention)
        best: dict[str, tuple[int, int, KnownActor]] = {}
        for level, actor, name in self.names:
            end = _find(words, name)
            if end >= 0 and best.get(actor.key, (0, -1, actor))[:2] < (level, end):
                best[actor.key] = (level, end, actor)
        if not best:
            return None, ""
        if len(best) > 1 and {"und", "and", "sowie"} & set(words):
            return None, "several speakers: " + ", ".join(sorted(best)) + "; one claim each"
        top = max(level for level, _, _ in best.values())
        winners = sorted(((end, actor) for level, end, actor in best.values() if level == top), key=lambda x: x[0])
        how = "name or alias" if top == 2 else "surname"
        if len(winners) == 1:
            return winners[0][1], how
        keys = ", ".join(sorted(a.key for _, a in winners))
        if winners[-1][0] == winners[-2][0]:
            return None, f"ambiguous: {keys}"
        return winners[-1][1], f"{how} (the last of {keys})"

    def by_role(self, mention: str) -> tuple[KnownActor | None, str]:
        words = normalise(mention).split()
        rows: tuple[tuple[str, ...], ...] = ()
        for w in words:
            key = w if w in _ROLE_NOUNS else w.split("-")[-1] if w.split("-")[-1] in _ROLE_NOUNS else None
            if key:
                rows = _ROLE_NOUNS[key]
                if w.startswith("us-") and key != w:
                    rows = tuple((*row, "united states") for row in rows)
                break
        if not rows:
            return None, ""
        countries = {_ROLE_COUNTRIES[w] for w in words if w in _ROLE_COUNTRIES}
        matches = []
        for actor in self.actors:
            for role in actor.roles:
                title = role.title.lower()
                if (role.start and role.start > self.published) or (role.until and role.until < self.published):
                    continue
                if any(all(part in title for part in row) for row in rows) and all(c in title for c in countries):
                    matches.append(actor)
                    break
        if len(matches) == 1:
            return matches[0], f"role ({matches[0].roles[0].title})"
        if len(matches) > 1:
            return None, "role fits several actors: " + ", ".join(sorted(a.key for a in matches))
        return None, ""


_ROLE_NOUNS = {normalise(k): v for k, v in lx.ROLE_NOUNS.items()}
_ROLE_COUNTRIES = {normalise(k): v for k, v in lx.ROLE_COUNTRIES.items()}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", normalise(text))[:60].strip("-") or "actor"


ORGANISATION_WORDS = ("ministerium", "regierung", "polizei", "partei", "behörde", "amt", "gericht", "kreml",
                      "ministry", "government", "police", "office", "court", "kremlin", "committee", "council",
                      "rat", "kommission", "commission", "verband", "union", "nato", "armee", "army", "institut",
                      "institute", "agency", "staatsanwaltschaft", "unternehmen", "company", "konzern")  # fmt: skip


def _proposed_actor(mention: str) -> dict[str, Any]:
    tokens = [t for t in re.findall(r"[\w.'’-]+", mention)]
    while tokens and tokens[0].lower() in lx.ARTICLES:
        tokens = tokens[1:]
    # "Bundeskanzler Friedrich Merz": the trailing capitalised run is the name when a role noun leads
    run: list[str] = []
    for t in reversed(tokens):
        if not t[:1].isupper():
            break
        run.insert(0, t)
    lowered = normalise(mention)
    organisation = any(w in lowered for w in ORGANISATION_WORDS) or any(w in lowered + " " for w in lx.OUTLET_WORDS)
    if len(run) >= 2 and not organisation and len(run) < len(tokens):
        name = " ".join(run[-3:]) if any(t.lower() in lx.ROLE_NOUNS for t in tokens[:1]) else " ".join(tokens)
    else:
        name = " ".join(tokens)
    kind = "ORGANISATION" if organisation else "PERSON"
    return {"key": _slug(name), "name": name, "kind": kind, "aliases": [mention] if mention != name else []}


_STOP = set(
    [
        "der",
        "die",
        "das",
        "und",
        "oder",
        "aber",
        "nicht",
        "eine",
        "einer",
        "eines",
        "einem",
        "einen",
        "dass",
        "sich",
        "sind",
        "ist",
        "wird",
        "werden",
        "wurde",
        "haben",
        "hatte",
        "mit",
        "von",
        "für",
        "auf",
        "bei",
        "nach",
        "über",
        "unter",
        "gegen",
        "durch",
        "ohne",
        "noch",
        "auch",
        "schon",
        "sehr",
        "mehr",
        "sein",
        "seine",
        "ihre",
        "ihr",
        "sie",
        "er",
        "es",
        "wir",
        "uns",
        "man",
        "the",
        "and",
        "that",
        "with",
        "from",
        "this",
        "will",
        "would",
        "should",
        "could",
        "have",
        "has",
        "been",
        "were",
        "they",
        "their",
        "there",
        "what",
        "which",
        "about",
        "into",
        "than",
        "then",
        "them",
        "these",
        "those",
        "only",
        "also",
        "more",
        "most",
        "other",
        "such",
        "when",
        "where",
        "while",
    ]
)


def _stems(text: str) -> set[str]:
    return {w[:6] for w in _words(text) if len(w) >= 4 and w not in _STOP}


def suggest_topics(text: str, topics: list[KnownTopic]) -> list[tuple[str, float]]:
    """Topics whose words the text shares, best first; keywords count double. Never forced:
    a topic needs a score of at least MIN_TOPIC_SCORE to be suggested."""
    words = _stems(text)
    scored = []
    for topic in topics:
        score = len(words & _stems(f"{topic.title} {topic.proposition}"))
        score += 2 * sum(1 for k in topic.keywords if _contains(_words(text), _words(k)))
        if score >= MIN_TOPIC_SCORE:
            scored.append((topic.key, float(score)))
    scored.sort(key=lambda x: (-x[1], x[0]))
    return scored[:3]


_CHANNELS = [
    re.compile(r"\b(?:auf|bei|über|via|on|in a post on)\s+(Truth Social|X|Twitter|Facebook|Instagram|Telegram|TikTok|YouTube|LinkedIn|Bluesky|Threads)\b"),
    re.compile(r"\b(?:in einem|im)\s+(Interview|Gespräch|Podcast)\s+(?:mit\s+(?:dem|der|den)?\s*|des\s+|der\s+)?([„\"»]?[A-ZÄÖÜ][\w.-]*(?:\s+[A-ZÄÖÜ][\w.-]*)*[“\"«]?)"),
    re.compile(r"\bin an? (interview|conversation) with\s+([A-Z][\w.-]*(?:\s+[A-Z][\w.-]*)*)"),
    re.compile(r"\b(?:told|gegenüber (?:dem|der|den)?)\s*([„\"»]?(?:[A-Z][\w.-]*)(?:\s+[A-Z][\w.-]*)*[“\"«]?)"),
    re.compile(r"\b(?:in|bei|auf) (?:einer|einem|der|dem) (Pressekonferenz|Rede|Ansprache|Videoansprache|Erklärung|Mitteilung|Sitzung|Debatte|Talkshow|Sendung)\b"),
    re.compile(r"\b(?:at|in) an? (press conference|speech|address|statement|briefing|hearing)\b"),
]  # fmt: skip


def find_channel(text: str, start: int, end: int, message: Span) -> str | None:
    """Where the statement was made, as the text names it, looked for outside the message."""
    for pattern in _CHANNELS:
        for m in pattern.finditer(text, start, end):
            if message[0] <= m.start() < message[1]:
                continue
            return m.group().strip()
    return None


def extract(
    text: str,
    published: date,
    *,
    lang: str = "de",
    actors: list[KnownActor] | None = None,
    topics: list[KnownTopic] | None = None,
) -> list[Candidate]:
    """Candidate claims of a source text, in text order."""
    statements = find_statements(text, lang)
    return candidates_from(text, statements, published, lang=lang, actors=actors or [], topics=topics or [])


def candidates_from(
    text: str,
    statements: list[Statement],
    published: date,
    *,
    lang: str,
    actors: list[KnownActor],
    topics: list[KnownTopic],
) -> list[Candidate]:
    index = ActorIndex(actors, published)
    dates = find_dates(text, published)
    out: list[Candidate] = []
    pronouns = lx.PRONOUNS_DE | lx.PRONOUNS_EN
    for st in statements:
        notes: list[str] = []
        confidence = st.confidence
        mention = text[st.source[0] : st.source[1]] if st.source else None
        actor: KnownActor | None = None
        proposed: dict[str, Any] | None = None
        if mention is None:
            notes.append("no speaker found: name one")
            confidence -= 0.2
        elif mention.lower() in pronouns or mention.lower() in ANAPHORIC:
            actor, why = _resolve_pronoun(out, st.sentence)
            if actor is None and st.source is not None:
                actor, why = _named_before(text, index, st.source[0], frame_start=st.frame[0], fallback=why)
            notes.append(why)
            if actor is None:
                confidence -= 0.2
        else:
            actor, why = index.by_name(mention)
            if actor is None and not why:
                actor, why = index.by_role(mention)
            if why:
                notes.append(f"speaker {mention!r}: {why}")
            if actor is None:
                proposed = _proposed_actor(mention)
                notes.append(f"speaker {mention!r} is not a known actor: proposed as new actor {proposed['key']!r}")
                confidence -= 0.1
        cue = ", ".join(text[s:e] for s, e in st.cue) or None
        frame_start, frame_end = st.frame
        stated_date = _date_for(dates, st, frame_start, frame_end)
        if stated_date is None:
            stated = {
                "date": published.isoformat(),
                "precision": "DAY",
                "approximate": True,
                "note": "no date expression near the statement: the publication date",
            }
        else:
            stated = stated_date.to_partial()
        mention_low = normalise(mention or "") + " "
        attribution = ATTRIBUTION_OF_FORM[st.form]
        if st.form != "Direct" and any(w in mention_low for w in lx.OUTLET_WORDS):
            attribution = "REPORTED"
            notes.append("the speaker is a medium: relayed, so REPORTED")
        exact = text[st.message[0] : st.message[1]]
        out.append(
            Candidate(
                message=st.message,
                exact=exact,
                form=st.form,
                attribution=attribution,
                confidence=round(max(0.05, min(1.0, confidence)), 2),
                cue=cue,
                speaker=mention,
                speaker_span=st.source,
                actor=actor.key if actor else None,
                proposed_actor=proposed,
                stated=stated,
                channel=find_channel(text, frame_start, frame_end, st.message),
                topics=suggest_topics(text[frame_start:frame_end], topics),
                rule=st.rule,
                notes=notes,
                sentence=st.sentence,
                cue_spans=list(st.cue),
                frame=st.frame,
            )
        )
    return out


ANAPHORIC = {"demnach", "danach", "wonach"}  # "Demnach ...": the report or speaker just named


def _named_before(
    text: str, index: ActorIndex, at: int, *, frame_start: int, fallback: str
) -> tuple[KnownActor | None, str]:
    """A pronoun's antecedent among the known persons named in the text just before it
    (this sentence and about two before), when exactly one is named there."""
    window = text[max(0, min(frame_start, at) - 400) : at]
    words = _words(window)
    named = {a.key: a for level, a, name in index.names if a.kind == "PERSON" and _contains(words, name)}
    if len(named) == 1:
        actor = next(iter(named.values()))
        return actor, f"pronoun resolved to {actor.key!r}, the only known person named just before"
    if named:
        return None, "pronoun could be any of " + ", ".join(sorted(named)) + ": choose"
    return None, fallback


def _resolve_pronoun(earlier: list[Candidate], sentence: int) -> tuple[KnownActor | None, str]:
    """A pronoun speaker is the nearest named speaker, when exactly one spoke in the last few sentences."""
    recent = [c for c in earlier if sentence - c.sentence <= PRONOUN_WINDOW and c.actor and c.speaker]
    named = {
        c.actor for c in recent if c.actor and c.speaker and c.speaker.lower() not in lx.PRONOUNS_DE | lx.PRONOUNS_EN
    }
    if len(named) == 1:
        key = str(named.pop())
        return KnownActor(key=key, name=key), f"pronoun resolved to {key!r}, the only speaker named just before"
    if not named:
        return None, "pronoun speaker: no named speaker just before; name one"
    return None, "pronoun speaker could be any of " + ", ".join(sorted(n for n in named if n)) + ": choose"


def _date_for(dates: list[StatedDate], st: Statement, start: int, end: int) -> StatedDate | None:
    inside = [d for d in dates if start <= d.start and d.end <= end]
    outside = [d for d in inside if not (st.message[0] <= d.start < st.message[1])]
    pool = outside or []
    if not pool:
        return None
    anchor = st.cue[0][0] if st.cue else st.message[0]
    return min(pool, key=lambda d: abs(d.start - anchor))
