"""Passages anchored by their words (a W3C TextQuoteSelector): find the offsets of
``exact`` in a source text, optionally narrowed by the words just before (``prefix``)
and after (``suffix``) it.

Pure functions, no I/O. Matching is literal first; when the literal words do not
occur, it is retried on a *folded* form of both texts in which typographic quotation
marks („ “ ” ‟ » « ″ and ‚ ‘ ’ ‛ › ‹ ′) count as their ASCII forms " and ', dashes
(– — ‒ −) as -, and every run of whitespace (including no-break and thin spaces and
line breaks) as one space. The passage that results always holds the source's own
characters: a curator who typed "Wir schaffen das" finds „Wir schaffen das“.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from ledger.errors import BadInput

# Typographic variants folded to one ASCII form each. Guillemets fold to the double
# quote whichever way they point (German »…« and French «…» both occur).
_FOLD = {
    **dict.fromkeys("„“”‟»«″〝〞＂", '"'),
    **dict.fromkeys("‚‘’‛›‹′＇`´", "'"),
    **dict.fromkeys("–—‒−―", "-"),
}
CONTEXT = 24  # characters of context shown around each candidate in an error
MAX_LISTED = 5  # candidates listed in an error


class Anchor(NamedTuple):
    """Where a passage is. A named tuple: made once per anchored passage (every imported claim), it costs
    ~0.3 us where a frozen dataclass's ``__init__`` costs ~1.5 (an ``object.__setattr__`` per field)."""

    start: int
    end: int
    exact: str  # the source's characters at start:end
    folded: bool  # True when only the folded comparison matched


@dataclass(frozen=True)
class _Folded:
    text: str
    origin: tuple[int, ...]  # origin[i]: offset in the original of folded character i (plus one past the end)


def _is_space(ch: str) -> bool:
    return ch.isspace() or ch in "\u200b\u2060\ufeff"


def _fold(text: str) -> _Folded:
    out: list[str] = []
    origin: list[int] = []
    in_space = False
    for i, ch in enumerate(text):
        if _is_space(ch):
            if in_space:
                continue
            in_space = True
            out.append(" ")
        else:
            in_space = False
            out.append(_FOLD.get(ch, ch))
        origin.append(i)
    origin.append(len(text))
    return _Folded("".join(out), tuple(origin))


@lru_cache(maxsize=32)
def _folded_source(text: str) -> _Folded:
    # An import anchors many passages in the same few sources: fold each once.
    return _fold(text)


def fold(text: str) -> str:
    """The folded form used for matching (see the module docstring)."""
    return _fold(text).text


def _occurrences(haystack: str, needle: str) -> list[int]:
    found = []
    at = haystack.find(needle)
    while at >= 0:
        found.append(at)
        at = haystack.find(needle, at + 1)
    return found


def _context(text: str, start: int, end: int) -> str:
    before = text[max(0, start - CONTEXT) : start].replace("\n", " ")
    after = text[end : end + CONTEXT].replace("\n", " ")
    return f"{start}-{end} (…{before}[{text[start:end][:60]}]{after}…)"


def _listing(text: str, spans: list[tuple[int, int]]) -> str:
    shown = "; ".join(_context(text, s, e) for s, e in spans[:MAX_LISTED])
    more = f"; and {len(spans) - MAX_LISTED} more" if len(spans) > MAX_LISTED else ""
    return shown + more


def _fits(text: str, start: int, end: int, prefix: str | None, suffix: str | None) -> bool:
    """Do the words before and after the span agree with prefix and suffix (folded, ends trimmed)?"""
    if prefix:
        want = fold(prefix).strip()
        have = fold(text[max(0, start - len(prefix) - 16) : start]).rstrip()
        if want and not have.endswith(want):
            return False
    if suffix:
        want = fold(suffix).strip()
        have = fold(text[end : end + len(suffix) + 16]).lstrip()
        if want and not have.startswith(want):
            return False
    return True


def find_spans(text: str, exact: str) -> tuple[list[tuple[int, int]], bool]:
    """Every span of ``text`` whose words are ``exact``: literal matches, else folded ones.

    Returns the spans (offsets into ``text``) and whether folding was needed.
    """
    literal = _occurrences(text, exact)
    if literal:
        return [(s, s + len(exact)) for s in literal], False
    folded = _folded_source(text)
    needle = fold(exact).strip()
    if not needle:
        return [], True
    spans = [(folded.origin[s], folded.origin[s + len(needle) - 1] + 1) for s in _occurrences(folded.text, needle)]
    return spans, True


def anchor(
    text: str,
    exact: str,
    *,
    prefix: str | None = None,
    suffix: str | None = None,
    start: int | None = None,
    end: int | None = None,
    where: str = "passage",
) -> Anchor:
    """The one span of ``text`` the curator means, or :class:`BadInput` naming the field.

    With ``start`` and ``end`` the span is checked (the exact words must be there,
    literally or folded); without them it is searched for.
    """
    if not exact or not exact.strip():
        raise BadInput(f"{where}.exact", "is required: the words of the passage")
    if start is not None and end is not None:
        return _check_offsets(text, exact, start, end, where)
    spans, folded = find_spans(text, exact)
    if not spans:
        raise BadInput(f"{where}.exact", f"{exact[:80]!r} does not occur in the source text{_near_miss(text, exact)}")
    fitting = [(s, e) for s, e in spans if _fits(text, s, e, prefix, suffix)]
    if not fitting:
        raise BadInput(
            f"{where}.prefix" if prefix else f"{where}.suffix",
            f"no occurrence of {exact[:80]!r} has that prefix/suffix; it occurs at {_listing(text, spans)}",
        )
    if len(fitting) > 1:
        raise BadInput(
            f"{where}.exact",
            f"{exact[:80]!r} occurs {len(fitting)} times; give a prefix or suffix (or start and end) "
            f"to say which: {_listing(text, fitting)}",
        )
    s, e = fitting[0]
    return Anchor(s, e, text[s:e], folded)


def _check_offsets(text: str, exact: str, start: int, end: int, where: str) -> Anchor:
    if end > len(text):
        raise BadInput(f"{where}.end", f"{end} lies beyond the end of the source text ({len(text)} characters)")
    found = text[start:end]
    if found == exact:
        return Anchor(start, end, found, False)
    if fold(found).strip() == fold(exact).strip() and found.strip() == found:
        return Anchor(start, end, found, True)
    spans, _ = find_spans(text, exact)
    elsewhere = (
        f"; those words occur at {_listing(text, spans)}" if spans else "; those words do not occur in the source"
    )
    raise BadInput(f"{where}.exact", f"does not match the source text at {start}-{end} ({found[:60]!r}){elsewhere}")


def _near_miss(text: str, exact: str) -> str:
    """Explain a miss: the longest leading part of ``exact`` that does occur, and where it stops matching."""
    folded = _folded_source(text).text
    needle = fold(exact).strip()
    lo, hi = 0, len(needle)
    while lo < hi:  # longest prefix of needle found in folded (monotone: a shorter prefix is found too)
        mid = (lo + hi + 1) // 2
        if needle[:mid] in folded:
            lo = mid
        else:
            hi = mid - 1
    if lo < 8:
        return " (even after treating typographic quotes, dashes and whitespace as their plain forms)"
    at = folded.find(needle[:lo])
    origin = _folded_source(text).origin
    s = origin[at]
    parted = origin[at + lo]  # where the source's own characters part from the passage
    return (
        f" (even after treating typographic quotes, dashes and whitespace as their plain forms): "
        f"the first {lo} characters match at {s}, then the source has "
        f"{text[parted : parted + 20]!r} where the passage has {needle[lo : lo + 20]!r}"
    )
