"""Tokens, sentences and quotations of a plain text, every piece with its character offsets.

A small rule-based tokenizer and sentence splitter (abbreviations, ordinals such as
"29. Dezember", sentence ends inside quotations) and a quotation-mark pairer that
knows German („…“, »…«), English (“…”), French/Swiss («…») and ASCII ("…") styles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*(?:-\w+)*|\w+(?:[-'’.&]\w+)*-?|[^\w\s]", re.UNICODE)
ABBREVIATIONS = {
    "dr", "prof", "nr", "st", "ca", "bzw", "vgl", "z", "b", "u", "a", "usw", "etc", "mr", "mrs", "ms", "jr",
    "sen", "rep", "gen", "gov", "lt", "col", "sgt", "inc", "ltd", "co", "corp", "vs", "no", "abs", "art",
    "evtl", "ggf", "inkl", "max", "min", "mio", "mrd", "okt", "nov", "dez", "jan", "feb", "aug",
    "sept", "sep", "u.a", "z.b", "d.h", "v", "chr", "jh", "hl", "mt", "str",
}  # fmt: skip
OPENERS = {"„": '“”"', "»": "«", "«": "»", "“": '”"', "‚": "‘’", '"': '"'}
CLOSING_ANY = set('“”"«»‘’')


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def is_capitalised(self) -> bool:
        return self.text[:1].isupper()

    @property
    def is_word(self) -> bool:
        return self.text[:1].isalnum()


@dataclass(frozen=True)
class Sentence:
    tokens: tuple[Token, ...]

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def sentences(text: str, tokens: list[Token] | None = None) -> list[Sentence]:
    """Split into sentences: after . ! ? (and a closing quotation mark) before an upper-case
    word or an opening mark; never after an abbreviation or a small ordinal number; always
    at a blank line or a line break followed by an upper-case line start."""
    tokens = tokenize(text) if tokens is None else tokens
    out: list[Sentence] = []
    current: list[Token] = []
    for i, tok in enumerate(tokens):
        current.append(tok)
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is None:
            break
        gap = text[tok.end : nxt.start]
        if "\n" in gap and (gap.count("\n") > 1 or nxt.is_capitalised or nxt.text in OPENERS):
            out.append(Sentence(tuple(current)))
            current = []
            continue
        if tok.text in ".!?…" or (tok.text in CLOSING_ANY and len(current) > 1 and current[-2].text in ".!?…"):
            if nxt.text in CLOSING_ANY and nxt.text not in OPENERS:
                continue  # the mark closes a quotation: the sentence ends after it
            if tok.text in ".!?…" and nxt.text in ('"', "“", "«", "»") and nxt.start == tok.end:
                continue  # "." and a mark that may open or close: closing when glued to the period
            if tok.text == ".":
                prev = current[-2] if len(current) > 1 else None
                if prev is not None and prev.end == tok.start:
                    if prev.lower in ABBREVIATIONS and (len(prev.text) > 1 or prev.text.islower()):
                        continue
                    before = current[-3] if len(current) > 2 else None
                    if len(prev.text) == 1 and prev.text.isalpha() and (before is None or before.is_capitalised):
                        continue  # an initial ("Donald J. Trump"), not "auf X."
                    if prev.text.isdigit() and len(prev.text) <= 2:
                        continue  # "am 29. Dezember": an ordinal, not a sentence end
            if nxt.is_capitalised or nxt.text in OPENERS or nxt.text.isdigit():
                out.append(Sentence(tuple(current)))
                current = []
    if current:
        out.append(Sentence(tuple(current)))
    return out


def quotations(text: str, max_length: int = 3000) -> list[tuple[int, int]]:
    """Spans of quotations, marks included, outermost only; unclosed marks are ignored.

    A mark that may open or close (" » « “) is read from its surroundings: space before
    and a word after opens, a word before and space or punctuation after closes."""
    spans: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    n = len(text)
    for i, ch in enumerate(text):
        if ch not in OPENERS and ch not in CLOSING_ANY:
            continue
        if stack and i - stack[-1][1] > max_length:
            stack.clear()  # a mark never closed: forget it rather than swallow the text
        space_before = i == 0 or text[i - 1].isspace() or text[i - 1] in "([{–—"
        space_after = i + 1 == n or text[i + 1].isspace() or text[i + 1] in ".,;:!?)]–—"
        can_close = ch in CLOSING_ANY and not (space_before and not space_after)
        can_open = ch in OPENERS and not (space_after and not space_before)
        if stack and can_close and ch in OPENERS[stack[-1][0]]:
            _, start = stack.pop()
            if not stack:
                spans.append((start, i + 1))
            continue
        if ch in ("‘", "’") and not stack:
            continue  # apostrophes and stray single marks
        if can_open and not (ch == "‚" and stack):  # nested single quotations stay inside their outer one
            stack.append((ch, i))
    return spans
