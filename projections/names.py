"""How people name actors and topics, and how a name finds its record.

Users type names ("Selenskyj", "Hegseth", "nato membership"), not keys. A
reference resolves by the first rule that matches, and never by a guess
between several records:

1. **key**: the reference is a key, folded ("pete-hegseth", "Pete-Hegseth"): a key
   wins over another record's alias that reads the same;
2. **name**: its folded form equals the folded form of a name or an alias (actors)
   or a title (topics): "selenskyj", "Pete Hegseth", "ukraine's nato membership";
3. **words**: every word of it is a word of one record's key, name, aliases or title
   ("Zelensky" in "Volodymyr Zelensky", "nato membership" in "Ukraine's NATO membership").

A rule that matches several records makes the reference *ambiguous*; one that
matches none passes to the next rule; after the last the reference is *unknown*,
and the closest names are suggested (``difflib``, from the standard library).

Folding casefolds, removes accents (NFKD, combining marks dropped: "Töpper" ->
"topper") and keeps only the words, joined by one space ("Donald J. Trump" ->
"donald j trump"), so case, accents, hyphens and punctuation never matter.
The projector stores every folded form and word in ``rm_names``; this module
holds the pure rules both it and the queries use.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

ACTOR = "actor"
TOPIC = "topic"

KEY, NAME, WORD = "key", "name", "word"
FOUND, AMBIGUOUS, UNKNOWN = "FOUND", "AMBIGUOUS", "UNKNOWN"
MAX_SUGGESTIONS = 5
SUGGESTION_CUTOFF = 0.6  # difflib similarity below which a name is not offered

_WORD = re.compile(r"\w+")


@lru_cache(maxsize=4096)
def words(text: str) -> tuple[str, ...]:
    """The folded words of ``text``: casefolded, accents removed, punctuation dropped."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return tuple(_WORD.findall(plain))


def fold(text: str) -> str:
    return " ".join(words(text))


def name_rows(kind: str, key: str, label: str, names: Iterable[str]) -> list[tuple[str, str, str, str, str]]:
    """The ``rm_names`` rows (kind, folded, key, how, label) of one actor or topic."""
    rows: dict[tuple[str, str], None] = {(fold(key), KEY): None}
    for name in names:
        folded = fold(name)
        if folded:
            rows.setdefault((folded, NAME), None)
    for name in (key, *names):
        for word in words(name):
            rows.setdefault((word, WORD), None)
    return [(kind, folded, key, how, label) for folded, how in rows]


@dataclass(frozen=True)
class NameMatch:
    key: str
    label: str  # the actor's name or the topic's title


@dataclass(frozen=True)
class Resolution:
    """What a reference to an actor or topic names."""

    kind: str  # actor | topic
    ref: str
    status: str  # FOUND | AMBIGUOUS | UNKNOWN
    key: str | None = None  # when FOUND
    rule: str | None = None  # key | name | word, when FOUND
    candidates: list[NameMatch] = field(default_factory=list)  # AMBIGUOUS: the matches; UNKNOWN: the closest


def lookup_forms(ref: str) -> list[str]:
    """The ``rm_names.folded`` values a resolution of ``ref`` needs to read."""
    return list(dict.fromkeys([fold(ref), *words(ref)]))


def resolve(kind: str, ref: str, rows: Sequence[tuple[str, str, str, str]]) -> Resolution | None:
    """Apply the rules to ``rows`` (folded, key, how, label) read for :func:`lookup_forms`.

    None when nothing matches: the caller then reads the names for :func:`suggest`.
    """
    labels = {key: label for _, key, _, label in rows}
    folded = fold(ref)
    for rule in (KEY, NAME):
        named = sorted({key for f, key, how, _ in rows if f == folded and how == rule})
        if named:
            return _one(kind, ref, named, labels, rule)
    wanted = set(words(ref))
    found: dict[str, set[str]] = {}
    for f, key, how, _ in rows:
        if how == WORD and f in wanted:
            found.setdefault(key, set()).add(f)
    matched = sorted(key for key, seen in found.items() if seen == wanted)
    if matched and wanted:
        return _one(kind, ref, matched, labels, WORD)
    return None


def _one(kind: str, ref: str, keys: list[str], labels: dict[str, str], rule: str) -> Resolution:
    if len(keys) == 1:
        return Resolution(kind, ref, FOUND, keys[0], rule)
    return Resolution(kind, ref, AMBIGUOUS, candidates=[NameMatch(k, labels[k]) for k in keys])


def suggest(kind: str, ref: str, names: Sequence[tuple[str, str, str]]) -> Resolution:
    """An UNKNOWN resolution naming the closest records; ``names`` are every (folded, key, label) of the kind."""
    probes = lookup_forms(ref)
    scores: dict[str, float] = {}
    labels: dict[str, str] = {}
    for form, key, label in names:
        labels[key] = label
        for probe in probes:
            # The cheap upper bounds first, as difflib.get_close_matches does.
            matcher = difflib.SequenceMatcher(None, probe, form)
            if (
                matcher.real_quick_ratio() >= SUGGESTION_CUTOFF
                and matcher.quick_ratio() >= SUGGESTION_CUTOFF
                and (score := matcher.ratio()) >= SUGGESTION_CUTOFF
                and score > scores.get(key, 0.0)
            ):
                scores[key] = score
    ranked = sorted(scores, key=lambda k: (-scores[k], k))[:MAX_SUGGESTIONS]
    return Resolution(kind, ref, UNKNOWN, candidates=[NameMatch(k, labels[k]) for k in ranked])
