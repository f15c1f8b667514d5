"""How people name actors and topics, and how a name finds its record.

Users type names ("Selenskyj", "Hegseth", "nato membership"), not keys. A
reference resolves by the first rule that matches, and never by a guess
between several records:

1. **exact key**: the reference is typed exactly as a key ("pete-hegseth"): that
   record, whatever other records' names read the same;
2. **name**: its folded form equals the folded form of a key, a name or an alias
   (actors) or a title (topics): "Pete-Hegseth", "selenskyj", "Pete Hegseth",
   "ukraine's nato membership". A key read this way is no stronger than a name:
   "John Smith" where ``john-smith`` and ``j-smith-uk`` are both named "John Smith"
   is ambiguous, while "john-smith" is the first record;
3. **words**: every word of it is a word of one record's key, name, aliases or title
   ("Zelensky" in "Volodymyr Zelensky", "nato membership" in "Ukraine's NATO membership").

A rule that matches several records makes the reference *ambiguous*; one that
matches none passes to the next rule; after the last the reference is *unknown*,
and the closest names are suggested (``difflib``, from the standard library).
A reference longer than MAX_REFERENCE_CHARS characters or MAX_REFERENCE_WORDS
words names nothing a user types and is *invalid* before any lookup (the cost of
a resolution stays bounded).

Folding casefolds, removes accents (NFKD, combining marks dropped: "Töpper" ->
"topper"), spells out the letters NFKD keeps whole ("ø" -> "o", "ł" -> "l",
"æ" -> "ae") and keeps only the words, joined by one space ("Donald J. Trump" ->
"donald j trump"), so case, accents, hyphens and punctuation never matter.
German writes an umlaut as a following "e" where it has none ("Toepper",
"Europaeische"), so every name is also indexed, and every reference also looked
up, under the German folding (ä -> ae, ö -> oe, ü -> ue, then as above): a
reference and a name match when any folding of one equals any folding of the other.
The projector stores every folded form and word in ``rm_names``; this module
holds the pure rules both it and the queries use.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from projections.tables import Table, extra

ACTOR = "actor"
TOPIC = "topic"

KEY, NAME, WORD = "key", "name", "word"
FOUND, AMBIGUOUS, UNKNOWN, INVALID = "FOUND", "AMBIGUOUS", "UNKNOWN", "INVALID"
MAX_SUGGESTIONS = 5
SUGGESTION_CUTOFF = 0.6  # difflib similarity below which a name is not offered
# No actor's or topic's name comes near these; a longer reference is refused before any lookup.
MAX_REFERENCE_CHARS = 200
MAX_REFERENCE_WORDS = 12

_WORD = re.compile(r"\w+")
# Letters NFKD leaves whole: spelled with the base letters a reader would type.
_LETTERS = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "ŧ": "t", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d"}
)
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})

# How actors and topics can be named: each one's key, name or title and aliases, and every word
# of them, folded (casefolded, accents removed, words joined by one space: ``fold`` below).
# Resolution: exact key, then a whole folded form, then words.
NAMES: Table[None] = Table(
    "rm_names",
    None,
    extras=(
        extra("kind", "text"),  # actor | topic
        extra("folded", "text"),
        extra("key", "text"),
        extra("how", "text"),  # key | name | word
        extra("label", "text"),  # the actor's name or the topic's title, for messages
    ),
    primary_key=("kind", "folded", "key", "how"),
)


def words(text: str, *, german: bool = False) -> tuple[str, ...]:
    """The folded words of ``text``: casefolded, accents removed, punctuation dropped.

    ``german``: umlauts spelled out first ("Töpper" -> "toepper"), as German writes them without the dots.
    """
    lower = unicodedata.normalize("NFC", text.casefold())
    if german:
        lower = lower.translate(_GERMAN)
    decomposed = unicodedata.normalize("NFKD", lower.translate(_LETTERS))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return tuple(_WORD.findall(plain))


def fold(text: str, *, german: bool = False) -> str:
    return " ".join(words(text, german=german))


def foldings(text: str) -> list[str]:
    """Every folded form of ``text`` (plain, then German if it differs), empty ones left out."""
    return [f for f in dict.fromkeys((fold(text), fold(text, german=True))) if f]


def name_rows(kind: str, key: str, label: str, names: Iterable[str]) -> list[tuple[str, str, str, str, str]]:
    """The ``rm_names`` rows (kind, folded, key, how, label) of one actor or topic."""
    rows: dict[tuple[str, str], None] = {(fold(key), KEY): None}
    for name in names:
        for folded in foldings(name):
            rows.setdefault((folded, NAME), None)
    for name in (key, *names):
        for german in (False, True):
            for word in words(name, german=german):
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
    status: str  # FOUND | AMBIGUOUS | UNKNOWN | INVALID
    key: str | None = None  # when FOUND
    rule: str | None = None  # key | name | word, when FOUND
    candidates: list[NameMatch] = field(default_factory=list)  # AMBIGUOUS: the matches; UNKNOWN: the closest
    problem: str | None = None  # INVALID: why the reference was refused


def check(kind: str, ref: str) -> Resolution | None:
    """An INVALID resolution when ``ref`` is too long to be a name; None when it may be looked up."""
    if len(ref) > MAX_REFERENCE_CHARS:
        return Resolution(kind, ref[:40] + "...", INVALID, problem=f"longer than {MAX_REFERENCE_CHARS} characters")
    if len(_WORD.findall(ref)) > MAX_REFERENCE_WORDS:
        return Resolution(kind, ref[:40] + "...", INVALID, problem=f"more than {MAX_REFERENCE_WORDS} words")
    return None


def lookup_forms(ref: str) -> list[str]:
    """The ``rm_names.folded`` values a resolution of ``ref`` needs to read (``ref`` passed :func:`check`)."""
    return list(dict.fromkeys([*foldings(ref), *words(ref), *words(ref, german=True)]))


def resolve(kind: str, ref: str, rows: Sequence[tuple[str, str, str, str]]) -> Resolution | None:
    """Apply the rules to ``rows`` (folded, key, how, label) read for :func:`lookup_forms`.

    None when nothing matches: the caller then reads the names for :func:`suggest`.
    """
    labels = {key: label for _, key, _, label in rows}
    typed = ref.strip()
    exact = sorted({key for _, key, how, _ in rows if how == KEY and key == typed})
    if exact:  # keys are unique: at most one
        return _one(kind, ref, exact, labels, KEY)
    forms = set(foldings(ref))
    named = sorted({key for f, key, how, _ in rows if f in forms and how in (KEY, NAME)})
    if named:
        return _one(kind, ref, named, labels, NAME)
    seen_words: dict[str, set[str]] = {}
    for f, key, how, _ in rows:
        if how == WORD:
            seen_words.setdefault(key, set()).add(f)
    matched: set[str] = set()
    for german in (False, True):
        wanted = set(words(ref, german=german))
        if wanted:
            matched.update(key for key, seen in seen_words.items() if wanted <= seen)
    if matched:
        return _one(kind, ref, sorted(matched), labels, WORD)
    return None


def _one(kind: str, ref: str, keys: list[str], labels: dict[str, str], rule: str) -> Resolution:
    if len(keys) == 1:
        return Resolution(kind, ref, FOUND, keys[0], rule)
    return Resolution(kind, ref, AMBIGUOUS, candidates=[NameMatch(k, labels[k]) for k in keys])


def suggest(kind: str, ref: str, names: Sequence[tuple[str, str, str]]) -> Resolution:
    """An UNKNOWN resolution naming the closest records; ``names`` are every (folded, key, label) of the kind.

    Each of the reference's folded forms (bounded by :func:`check`) is compared once with each
    distinct folded name (``difflib.get_close_matches``).
    """
    keys_of: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for form, key, label in names:
        labels[key] = label
        keys_of.setdefault(form, []).append(key)
    distinct = list(keys_of)
    scores: dict[str, float] = {}
    for probe in lookup_forms(ref)[: 2 * (1 + MAX_REFERENCE_WORDS)]:
        for form in difflib.get_close_matches(probe, distinct, n=MAX_SUGGESTIONS, cutoff=SUGGESTION_CUTOFF):
            score = difflib.SequenceMatcher(None, probe, form).ratio()
            for key in keys_of[form]:
                scores[key] = max(score, scores.get(key, 0.0))
    ranked = sorted(scores, key=lambda k: (-scores[k], k))[:MAX_SUGGESTIONS]
    return Resolution(kind, ref, UNKNOWN, candidates=[NameMatch(k, labels[k]) for k in ranked])
