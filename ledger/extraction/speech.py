"""Reported statements in a text: message, cue, speaker mention and form, by rules.

The forms are those of the SpkAtt-2023 annotation guidelines (German news):
``Direct`` (a quotation), ``Indirect`` (a speech verb or "laut X" with its
complement), ``IndirectFreeIndirect`` (a Konjunktiv sentence continuing a speaker's
statement without a new cue) and ``Reported`` (a speech act narrated without its
content as a clause: "X kritisierte den Plan"). Every span is a pair of character
offsets into the text; cue and speaker may be absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.extraction import lexicon as lx
from ledger.extraction.text import Token, quotations, sentences, tokenize

Span = tuple[int, int]
CLAUSE_BREAKS = {",", ";", ":", "(", ")", "–", "—", "-"}
END_PUNCT = {".", "!", "?", "…"}
QUOTE_MARKS = set('„“”"«»‚‘’')


@dataclass
class Statement:
    message: Span
    form: str
    confidence: float
    sentence: int  # index of the sentence holding the cue (or the message start)
    cue: list[Span] = field(default_factory=list)
    source: Span | None = None
    rule: str = ""
    frame: Span = (0, 0)  # the sentences holding message, cue and speaker


@dataclass
class _Doc:
    text: str
    lang: str
    tokens: list[Token]
    bounds: list[tuple[int, int]]  # per sentence: first token index, end token index (exclusive)
    quotes: list[Span]
    in_quote: list[int]  # per token: index of the quotation holding it, or -1

    def sentence_of(self, token: int) -> int:
        lo, hi = 0, len(self.bounds) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.bounds[mid][0] <= token:
                lo = mid
            else:
                hi = mid - 1
        return lo


def _prepare(text: str, lang: str) -> _Doc:
    tokens = tokenize(text)
    bounds: list[tuple[int, int]] = []
    at = 0
    for sentence in sentences(text, tokens):
        bounds.append((at, at + len(sentence.tokens)))
        at += len(sentence.tokens)
    quotes = quotations(text)
    in_quote = [-1] * len(tokens)
    q = 0
    for i, tok in enumerate(tokens):
        while q < len(quotes) and quotes[q][1] <= tok.start:
            q += 1
        if q < len(quotes) and quotes[q][0] <= tok.start < quotes[q][1]:
            in_quote[i] = q
    return _Doc(text, lang, tokens, bounds, quotes, in_quote)


# ------------------------------------------------------------------ cues


AUXILIARIES = {"hat", "haben", "hatte", "hatten", "habe", "ist", "sind", "war", "waren", "wurde", "wurden", "wird",
               "werden", "has", "have", "had"}  # fmt: skip


def _is_verb_cue(doc: _Doc, i: int) -> list[int] | None:
    """Token indices of a speech-verb cue at token ``i`` (with its separable particle or its
    auxiliary: "teilte ... mit", "hat ... betont"), or None."""
    cue = _verb_cue(doc, i)
    if cue is None or len(cue) > 1:
        return cue
    # a participle closing its clause belongs with the auxiliary that opened it
    nxt = doc.tokens[i + 1].text if i + 1 < len(doc.tokens) else "."
    if doc.lang == "de" and nxt not in (",", ":", ".", ";"):
        return cue
    lo = _clause_start(doc, i, doc.bounds[doc.sentence_of(i)][0])
    for k in range(i - 1, max(lo, i - 12) - 1, -1):
        if doc.tokens[k].lower in AUXILIARIES:
            return [k, i]
    return cue


def _verb_cue(doc: _Doc, i: int) -> list[int] | None:
    word = doc.tokens[i].lower
    if doc.lang == "en":
        if word in lx.EN_SPEECH_VERBS:
            return [i]
        return None
    if word not in lx.DE_SPEECH_VERBS or (doc.tokens[i].is_capitalised and i != doc.bounds[doc.sentence_of(i)][0]):
        return None  # capitalised mid-sentence: a noun ("die Meldung"), not a verb
    particles = lx.SEPARABLE.get(word)
    if particles:
        end = doc.bounds[doc.sentence_of(i)][1]
        for j in range(i + 1, min(end, i + 14)):
            tok = doc.tokens[j]
            if tok.text in END_PUNCT or tok.text == ",":
                break
            if tok.lower in particles:
                after = doc.tokens[j + 1].text if j + 1 < len(doc.tokens) else "."
                if after in (",", ".", ":", ";") or after in END_PUNCT or doc.tokens[j + 1].lower in lx.COMPLEMENTIZERS:
                    return [i, j]
    if word in lx.NEEDS_PARTICLE or word in lx.DE_NOT_CUES:
        return None
    return [i]


def _clause_start(doc: _Doc, i: int, floor: int) -> int:
    """First token of the clause holding token ``i`` (after a comma, colon or quotation)."""
    j = i - 1
    depth = 0  # a parenthesis ("Zwanziger, Präsident des DFB (Verband),") does not end the clause
    while j >= floor:
        tok = doc.tokens[j]
        if tok.text == ")":
            depth += 1
        elif tok.text == "(" and depth:
            depth -= 1
        elif depth == 0 and (tok.text in CLAUSE_BREAKS or tok.text in END_PUNCT or doc.in_quote[j] >= 0):
            return j + 1
        j -= 1
    return floor


def _clause_end(doc: _Doc, i: int, ceiling: int) -> int:
    j = i
    while j < ceiling:
        tok = doc.tokens[j]
        if tok.text in (",", ";", ":") or tok.text in END_PUNCT or doc.in_quote[j] >= 0:
            return j
        j += 1
    return ceiling


JOINERS = {"von", "vom", "des", "der", "und", "für", "of", "and", "for"}
ADJECTIVE_ENDINGS = ("e", "en", "er", "es", "em", "n")


def _adjective(tok: Token) -> bool:
    low = tok.lower
    return (
        not tok.is_capitalised
        and low.endswith(ADJECTIVE_ENDINGS)
        and low not in lx.NP_STOPS
        and low not in lx.KONJUNKTIV
        and low not in AUXILIARIES
    )


def _np_like(doc: _Doc, a: int, b: int) -> bool:
    """Do tokens ``a:b`` read as a noun phrase (articles, adjectives, names, genitives; no verb)?"""
    if b <= a or b - a > 12:
        return False
    first = doc.tokens[a]
    if not (first.is_capitalised or first.lower in lx.ARTICLES) or first.lower in lx.PREPOSITIONS:
        return False
    for k in range(a, b):
        tok = doc.tokens[k]
        if tok.is_capitalised or tok.text[:1].isdigit() or doc.in_quote[k] >= 0 or tok.text in "()":
            continue
        if tok.lower in lx.ARTICLES or tok.lower in JOINERS or (doc.lang == "de" and _adjective(tok)):
            continue
        return False
    return any(doc.tokens[k].is_capitalised for k in range(a + 1, b)) or first.is_capitalised


def _np_after(doc: _Doc, i: int, ceiling: int, limit: int = 14) -> tuple[int, int] | None:
    """A noun phrase starting at token ``i``: articles, adjectives, names, genitive chains,
    a short parenthesis ("(SPD)") and a name in apposition (", Peter Hahn,")."""
    j = i
    seen_head = False
    while j < ceiling and j - i < limit:
        tok = doc.tokens[j]
        low = tok.lower
        if doc.in_quote[j] >= 0:
            q = doc.quotes[doc.in_quote[j]]
            if q[1] - q[0] > 40 or not (seen_head or j > i):
                break
            j += 1  # a quoted name inside the phrase: die „El Mundo“
            continue
        if tok.text == "(" and seen_head:
            close = next((k for k in range(j + 1, min(ceiling, j + 6)) if doc.tokens[k].text == ")"), None)
            if close is None:
                break
            j = close + 1
            continue
        if tok.text in CLAUSE_BREAKS - {"-"} or tok.text in END_PUNCT:
            break
        if seen_head and low in lx.ARTICLES and low not in ("des", "der", "eines", "einer"):
            break  # a second phrase begins: "sagte das Handelsblatt die Situation ..."
        if low in lx.ARTICLES or (low in JOINERS and seen_head):
            j += 1
            continue
        if low in lx.NP_STOPS and not tok.is_capitalised:
            break
        if tok.is_capitalised or tok.text[:1].isdigit():
            if low in DATE_WORDS and seen_head:
                break
            seen_head = True
            j += 1
            continue
        if low in lx.PRONOUNS_DE or low in lx.PRONOUNS_EN:
            if not seen_head:
                return (j, j + 1)
            break
        if (
            doc.lang == "de"
            and _adjective(tok)
            and j + 1 < ceiling
            and (doc.tokens[j + 1].is_capitalised or _adjective(doc.tokens[j + 1]))
        ):
            j += 1  # an adjective before its noun
            continue
        if doc.lang == "en" and not seen_head and low.isalpha():
            j += 1
            continue
        break
    while j > i and doc.tokens[j - 1].lower in lx.ARTICLES | JOINERS:
        j -= 1  # drop trailing function words
    if j == i or not any(
        doc.tokens[k].is_capitalised or doc.tokens[k].lower in lx.PRONOUNS_DE | lx.PRONOUNS_EN for k in range(i, j)
    ):
        return None
    # a name in apposition: "der Hauptgeschäftsführer des Verbands, Peter Hahn,"
    if j + 1 < ceiling and doc.tokens[j].text == "," and doc.tokens[j + 1].is_capitalised:
        k = j + 1
        while k < ceiling and doc.tokens[k].text not in {",", ".", ":", ";"} and k - j <= 12:
            k += 1
        if (k == ceiling or doc.tokens[k].text in {",", ".", ":", ";"}) and _np_like(doc, j + 1, k):
            j = k
    return (i, j)


DATE_WORDS = set(lx.WEEKDAYS) | set(lx.MONTHS) | {"today", "yesterday", "heute", "gestern"}
DETERMINERS = lx.ARTICLES | {"his", "her", "their", "its", "our", "this", "sein", "seine", "ihr", "ihre"}


def _np_runs(doc: _Doc, lo: int, hi: int) -> list[tuple[int, int]]:
    """Noun-phrase-like runs of ``lo:hi`` (determiner or capitalised word first, then words that
    are no preposition, adverb or date), leaving out the object of a preposition."""
    runs: list[tuple[int, int]] = []
    k = lo
    while k < hi:
        tok = doc.tokens[k]
        low = tok.lower
        starts = (low in DETERMINERS or tok.is_capitalised) and low not in DATE_WORDS and tok.is_word
        if not starts or low in lx.NP_STOPS - DETERMINERS or low in lx.PREPOSITIONS:
            k += 1
            continue
        end = k + 1
        while end < hi:
            nxt = doc.tokens[end]
            if not nxt.is_word or nxt.lower in DATE_WORDS or nxt.lower in lx.PREPOSITIONS - {"von", "of"}:
                break
            if nxt.lower in lx.NP_STOPS and nxt.lower not in ("of",):
                break
            if doc.lang == "en" and not nxt.is_capitalised and nxt.lower.endswith("ed") and len(nxt.text) > 4:
                break  # a past-tense verb ends the subject: "the chancellor changed course"
            end += 1
        after_preposition = k > lo and doc.tokens[k - 1].lower in lx.PREPOSITIONS | {"in", "on", "at", "after"}
        if not after_preposition:
            runs.append((k, end))
        k = end
    return runs


def _source_before(doc: _Doc, cue: int, floor: int) -> tuple[int, int] | None:
    """The subject before a verb-second cue: the clause's words before it, fillers cut."""
    if doc.lang == "en":
        # English subjects sit right before the verb: the last phrase that ends at the cue
        runs = _np_runs(doc, _clause_start(doc, cue, floor), cue)
        return runs[-1] if runs and runs[-1][1] == cue else None
    start = _clause_start(doc, cue, floor)
    end = cue
    # appositions: "Theo Zwanziger, Präsident des DFB, sagte" / "Der Chef des Verbands, Peter Hahn, sagte"
    while start - 1 > floor and doc.tokens[start - 1].text == ",":
        before = _clause_start(doc, start - 1, floor)
        inner_end = end - 1 if doc.tokens[end - 1].text == "," else end
        if not _np_like(doc, before, start - 1) or (start < inner_end and not _np_like(doc, start, inner_end)):
            break
        start, end = before, inner_end
    while start < end and doc.tokens[start].lower in lx.LEADING_FILLERS:
        start += 1
    if start >= end:
        return None
    cue = end
    first = doc.tokens[start].lower
    if first in lx.PREPOSITIONS or first in lx.COMPLEMENTIZERS or first in {"als", "wenn", "nachdem", "weil"}:
        return None
    if cue - start == 1 and doc.tokens[start].lower in {"das", "dies", "es", "this", "that", "it"}:
        return None  # "Das sagte Merz": the object leads, the speaker follows
    if not _np_like(doc, start, cue):
        # "Die Partei hat trotz der Mahnung das Thema aufgegriffen": the subject is the first phrase
        np = _np_after(doc, start, cue)
        if np is None:
            return None
        return np
    if not any(
        doc.tokens[k].is_capitalised or doc.tokens[k].lower in lx.PRONOUNS_DE | lx.PRONOUNS_EN
        for k in range(start, cue)
    ):
        return None
    return (start, cue)


def _source_near(doc: _Doc, cue_tokens: list[int], sentence: int) -> tuple[int, int] | None:
    lo, hi = doc.bounds[sentence]
    cue = cue_tokens[0]
    before = _source_before(doc, cue, lo)
    if before is not None:
        return before
    j = cue_tokens[0] + 1
    while j < hi and (
        doc.tokens[j].lower in {"sich", "auch", "dabei", "nun", "zudem", "dazu", "jedoch", "aber", "noch", "erneut"}
    ):
        j += 1
    return _np_after(doc, j, hi)


def _span(doc: _Doc, first: int, end: int) -> Span:
    return (doc.tokens[first].start, doc.tokens[end - 1].end)


def _trim_end(doc: _Doc, first: int, end: int) -> int:
    while end > first and (doc.tokens[end - 1].text in END_PUNCT or doc.tokens[end - 1].text in (",", ";", ":")):
        end -= 1
    return end


def _has_konjunktiv(doc: _Doc, first: int, end: int, strict: bool = False) -> bool:
    for k in range(first, end):
        low = doc.tokens[k].lower
        if low in lx.KONJUNKTIV and (
            not strict
            or low
            not in {"hätte", "hätten", "wäre", "wären", "würde", "würden", "könnten", "müssten", "sollten", "dürften"}
        ):
            return True
    return False


# ------------------------------------------------------------------ rules


def find_statements(text: str, lang: str = "de") -> list[Statement]:
    """All reported statements of ``text`` (German ``de`` or English ``en``), in text order."""
    doc = _prepare(text, lang)
    found: list[Statement] = []
    used_cues: set[int] = set()
    covered: list[Span] = []
    _direct(doc, found, used_cues, covered)
    for s, (lo, hi) in enumerate(doc.bounds):
        _prepositional(doc, s, lo, hi, found, used_cues, covered)
        _verb_cues(doc, s, lo, hi, found, used_cues, covered)
    found.sort(key=lambda st: st.message[0])
    if lang == "de":
        found = _free_indirect(doc, found)
    for st in found:
        points = [st.message[0], st.message[1] - 1, *(s for s, _ in st.cue)]
        sentences_of = [doc.sentence_of(_first_token_at(doc, p + 1) - 1) for p in points]
        st.frame = (
            doc.tokens[doc.bounds[min(sentences_of)][0]].start,
            doc.tokens[doc.bounds[max(sentences_of)][1] - 1].end,
        )
    return found


def _overlaps(span: Span, covered: list[Span]) -> bool:
    return any(s < span[1] and span[0] < e for s, e in covered)


def _direct(doc: _Doc, found: list[Statement], used: set[int], covered: list[Span]) -> None:
    previous: Statement | None = None
    for qs, qe in doc.quotes:
        first = _first_token_at(doc, qs)
        last = _first_token_at(doc, qe) - 1
        words = sum(1 for k in range(first, last + 1) if doc.tokens[k].is_word)
        if words < 3 or _title_like(doc, first, last) or _inside_complement(doc, first):
            continue
        s_first, s_last = doc.sentence_of(first), doc.sentence_of(last)
        lo, hi = doc.bounds[s_first][0], doc.bounds[s_last][1]
        # a cue in the sentence before the quotation, then after it
        cue_tokens: list[int] | None = None
        for k in list(range(first - 1, lo - 1, -1)) + list(range(last + 1, hi)):
            if doc.in_quote[k] >= 0 or k in used:
                continue
            cue_tokens = _is_verb_cue(doc, k)
            if cue_tokens:
                break
        colon = first > 0 and doc.tokens[first - 1].text == ":"
        if cue_tokens is None and colon and s_first > 0 and doc.bounds[s_first][0] == first:
            # "Er sagte:" ends the previous sentence
            plo, phi = doc.bounds[s_first - 1]
            for k in range(phi - 1, plo - 1, -1):
                cue_tokens = _is_verb_cue(doc, k) if doc.in_quote[k] < 0 else None
                if cue_tokens:
                    break
        sentence = doc.sentence_of(cue_tokens[0]) if cue_tokens else s_first
        source = _source_near(doc, cue_tokens, sentence) if cue_tokens else None
        if cue_tokens:
            used.update(cue_tokens)
            confidence, rule = 0.9, "quotation with a speech verb"
        elif colon:
            clo = _clause_start(doc, first - 1, doc.bounds[doc.sentence_of(first - 1)][0])
            runs = _np_runs(doc, clo, first - 1)
            source = runs[0] if runs else None
            confidence, rule = 0.6, "quotation after a colon"
        elif previous is not None and previous.source is not None and doc.sentence_of(first) - previous.sentence <= 2:
            source_span = previous.source
            found.append(Statement((qs, qe), "Direct", 0.5, s_first, [], source_span, "quotation continuing a speaker"))
            covered.append((qs, qe))
            previous = found[-1]
            continue
        elif words >= 6:
            confidence, rule = 0.3, "quotation without a speaker"
        else:
            continue
        st = Statement(
            (qs, qe), "Direct", confidence, sentence,
            [_span(doc, k, k + 1) for k in cue_tokens or []],
            _span(doc, *source) if source else None, rule,
        )  # fmt: skip
        found.append(st)
        covered.append((qs, qe))
        previous = st


def _inside_complement(doc: _Doc, first: int) -> bool:
    """A quotation inside a dass-clause ("sagte, dass „die Türen offen seien“") is part of
    that indirect statement, not a direct one."""
    lo = doc.bounds[doc.sentence_of(first)][0]
    for k in range(first - 1, max(lo, first - 25) - 1, -1):
        tok = doc.tokens[k]
        if tok.lower in ("dass", "daß", "ob", "that", "whether"):
            return True
        if tok.text in END_PUNCT or tok.text in (":", ";") or doc.in_quote[k] >= 0:
            return False
    return False


def _title_like(doc: _Doc, first: int, last: int) -> bool:
    """A name or title in quotation marks („Partei der Volksmacht“), not speech: no sentence
    punctuation inside, and every lower-case word a function word (a verb makes it a sentence,
    and German capitalises its nouns: „Jeder Tag ohne Patriot kostet Leben“ is speech)."""
    if any(doc.tokens[k].text in END_PUNCT or doc.tokens[k].text == "," for k in range(first, last + 1)):
        return False
    words = [doc.tokens[k] for k in range(first, last + 1) if doc.tokens[k].is_word]
    return len(words) <= 8 and all(w.is_capitalised or not w.text.isalpha() or w.lower in TITLE_WORDS for w in words)


TITLE_WORDS = lx.ARTICLES | JOINERS | {
    "für", "gegen", "ohne", "mit", "in", "im", "am", "zum", "zur", "auf", "an", "über", "unter", "vor", "nach",
    "bei", "aus", "zu", "de", "la", "le", "del", "da", "di", "of", "for", "on", "at", "to", "the", "a",
}  # fmt: skip


def _first_token_at(doc: _Doc, offset: int) -> int:
    lo, hi = 0, len(doc.tokens)
    while lo < hi:
        mid = (lo + hi) // 2
        if doc.tokens[mid].start < offset:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _prepositional(
    doc: _Doc, s: int, lo: int, hi: int, found: list[Statement], used: set[int], covered: list[Span]
) -> None:
    """ "laut X", "X zufolge", "nach Angaben X", "so X", "wie X berichtete", "according to X"."""
    for i in range(lo, hi):
        if doc.in_quote[i] >= 0 or i in used:
            continue
        low = doc.tokens[i].lower
        cue: list[int] = []
        source: tuple[int, int] | None = None
        if low in ("laut", "gemäß") and doc.lang == "de":
            cue, source = [i], _np_after(doc, i + 1, hi)
        elif low == "nach" and doc.lang == "de":
            j = i + 1
            while j < hi and (doc.tokens[j].lower in NACH_DETERMINERS or _adjective(doc.tokens[j])):
                j += 1
            if j < hi and doc.tokens[j].lower.endswith(lx.DE_NACH_NOUNS):
                cue = [i]
                np = _np_after(doc, i + 1, hi)
                source = np if np else (j, j + 1)
            elif i - 1 > lo and doc.tokens[i - 1].lower.endswith(lx.DE_NACH_NOUNS):
                # postposition: "ihrer Meinung nach", "dem Vernehmen nach"
                k = i - 1
                while (
                    k - 1 >= lo
                    and doc.tokens[k - 1].lower not in {"die", "das"}
                    and (doc.tokens[k - 1].lower in NACH_DETERMINERS or _adjective(doc.tokens[k - 1]))
                ):
                    k -= 1
                cue, source = [i], (k, i)
        elif (
            low == "berufung"
            and i > lo
            and doc.tokens[i - 1].lower == "unter"
            and i + 1 < hi
            and doc.tokens[i + 1].lower == "auf"
        ):
            cue, source = [i - 1, i, i + 1], _np_after(doc, i + 2, hi)
        elif low in ("demnach", "danach", "wonach") and doc.lang == "de" and (low != "danach" or i == lo):
            cue, source = [i], (i, i + 1)  # "Demnach ...": the report just named speaks on
        elif low == "zufolge" and doc.lang == "de":
            start = _clause_start(doc, i, lo)
            while start < i and doc.tokens[start].lower in lx.LEADING_FILLERS:
                start += 1
            cue, source = [i], (start, i) if start < i else None
        elif low == "according" and i + 1 < hi and doc.tokens[i + 1].lower == "to":
            cue, source = [i, i + 1], _np_after(doc, i + 2, hi)
        elif low == "so" and doc.lang == "de" and i > lo and doc.tokens[i - 1].text == ",":
            np = _np_after(doc, i + 1, hi)
            if np and _clause_end(doc, np[1], hi) >= hi - 1:
                cue, source = [i], np
        elif low == "wie" and doc.lang == "de":
            end = _clause_end(doc, i + 1, hi)
            verb = next((k for k in range(end - 1, i, -1) if _is_verb_cue(doc, k)), None)
            if verb is not None and verb > i + 1:
                cue, source = [i, verb], (i + 1, verb)
                used.add(verb)
        if not cue:
            continue
        # The message: the rest of the sentence after the phrase, the part before it, or
        # (the phrase in the middle: "Tesla will nach eigenen Angaben ...") the whole sentence.
        phrase_start = min(cue[0], source[0] if source else cue[0])
        phrase_end = max(cue[-1] + 1, source[1] if source else 0)
        first_word = lo
        while first_word < phrase_start and (
            doc.tokens[first_word].lower in lx.LEADING_FILLERS or doc.tokens[first_word].text in CLAUSE_BREAKS
        ):
            first_word += 1
        sentence_end = _trim_end(doc, lo, hi)
        if phrase_start <= first_word:
            m_first = phrase_end
            while m_first < hi and doc.tokens[m_first].text == ",":
                m_first += 1
            m_end = sentence_end
        elif phrase_end >= sentence_end:
            m_first = first_word
            m_end = phrase_start
            while m_end > m_first and doc.tokens[m_end - 1].text in (",", ";"):
                m_end -= 1
        else:
            m_first, m_end = first_word, sentence_end
        if m_end - m_first < 2 or m_first < 0:
            continue
        message = _span(doc, m_first, m_end)
        if _overlaps(message, covered):
            continue
        used.update(cue)
        kon = _has_konjunktiv(doc, m_first, m_end)
        st = Statement(
            message, "Indirect", 0.75 if kon or doc.lang == "en" else 0.6, s,
            [_span(doc, k, k + 1) for k in cue], _span(doc, *source) if source else None,
            f"attribution phrase {low!r}",
        )  # fmt: skip
        found.append(st)
        covered.append(message)


NACH_DETERMINERS = lx.ARTICLES | {"eigenen", "eigenem", "seiner", "ihrer", "seinen", "ihren", "unseren", "erster",
                                  "ersten", "offiziellen", "bisherigen", "übereinstimmenden", "unbestätigten",
                                  "jüngsten", "neuesten", "vorläufigen"}  # fmt: skip


RELATIVE_ONLY = {"dessen", "deren", "denen", "welche", "welcher", "welches", "which", "who", "whose"}


def _verb_cues(
    doc: _Doc, s: int, lo: int, hi: int, found: list[Statement], used: set[int], covered: list[Span]
) -> None:
    for i in range(lo, hi):
        if doc.in_quote[i] >= 0 or i in used:
            continue
        cue = _is_verb_cue(doc, i)
        if not cue:
            continue
        last_cue = max(cue)
        # message after the cue: the first comma/colon/complementizer within the clause
        j = last_cue + 1
        message: tuple[int, int] | None = None
        limit = min(hi, j + 12)
        while j < limit:
            tok = doc.tokens[j]
            if tok.text == "," and j + 1 < hi and doc.tokens[j + 1].lower in RELATIVE_ONLY:
                j = _clause_end(doc, j + 1, hi)  # a relative clause on the speaker: the message comes after it
                continue
            if tok.text in (",", ":") and j + 1 < hi and doc.in_quote[j + 1] < 0:
                m_first = j + 1
                m_end = _trim_end(doc, m_first, hi)
                if m_end - m_first >= 3:
                    message = (m_first, m_end)
                break
            if tok.lower in ("dass", "daß", "that", "ob", "whether") and j + 1 < hi:
                m_end = _trim_end(doc, j, hi)
                if m_end - j >= 3:
                    message = (j, m_end)
                break
            if tok.text in END_PUNCT or tok.text == ";" or doc.in_quote[j] >= 0:
                break
            j += 1
        source: tuple[int, int] | None
        if message is not None:
            source = _source_near(doc, cue, s)
            if source is not None and source[0] >= message[0]:
                source = None
        else:
            # message before the cue: "Die Lage sei ernst, sagte Merz."
            if i > lo and doc.tokens[i - 1].text == "," and doc.in_quote[i - 2 if i - 2 >= lo else i - 1] < 0:
                m_first = lo
                while m_first < i and doc.tokens[m_first].lower in lx.LEADING_FILLERS:
                    m_first += 1
                if i - 1 - m_first >= 3:
                    message = (m_first, i - 1)
                source = _np_after(doc, last_cue + 1 if last_cue == i else i + 1, hi)
            elif doc.lang == "en":
                source = _source_before(doc, i, lo)
                m_end = _trim_end(doc, last_cue + 1, hi)
                if source is not None and m_end - (last_cue + 1) >= 3:
                    message = (last_cue + 1, m_end)
            else:
                source = None
        if message is not None:
            span = _span(doc, *message)
            if _overlaps(span, covered):
                continue
            kon = _has_konjunktiv(doc, *message) or doc.tokens[message[0]].lower in ("dass", "daß", "that")
            st = Statement(
                span, "Indirect", (0.8 if kon else 0.55) - (0.15 if source is None else 0), s,
                [_span(doc, k, k + 1) for k in cue], _span(doc, *source) if source else None,
                "speech verb with a complement clause",
            )  # fmt: skip
        else:
            # a speech act narrated without its content as a clause: the whole sentence
            source = _source_near(doc, cue, s)
            if source is None or doc.lang != "de" or doc.tokens[source[0]].lower in OBJECT_ARTICLES:
                continue  # no subject, or the phrase found is an object ("Den Schaden schätzt ...")
            if any(doc.tokens[k].lower in {"wird", "wurde", "wurden", "werden"} for k in range(lo, hi)):
                continue  # passive: rarely a statement of its own
            span = _span(doc, lo, hi)
            if _overlaps(span, covered):
                continue
            st = Statement(span, "Reported", 0.35, s, [], _span(doc, *source), "narrated speech act")
        used.update(cue)
        found.append(st)
        covered.append(st.message)


OBJECT_ARTICLES = {"den", "dem", "einem", "einen", "ihm", "ihn", "ihnen"}


REPORTATIVE = {"soll", "sollen"}


def _free_indirect(doc: _Doc, found: list[Statement]) -> list[Statement]:
    """Konjunktiv sentences after a speaker's statement continue it (no cue of their own)."""
    by_sentence: dict[int, Statement] = {}
    for st in found:
        by_sentence.setdefault(st.sentence, st)
        end_sentence = doc.sentence_of(_first_token_at(doc, st.message[1]) - 1)
        by_sentence.setdefault(end_sentence, st)
    out = list(found)
    last: Statement | None = None
    for s, (lo, hi) in enumerate(doc.bounds):
        here = by_sentence.get(s)
        if here is not None:
            last = here
            continue
        if last is None or s - doc.sentence_of(_first_token_at(doc, last.message[1]) - 1) > 1:
            last = None
            continue
        if _has_konjunktiv(doc, lo, hi, strict=False):
            form = "IndirectFreeIndirect"
        elif any(doc.tokens[k].lower in REPORTATIVE for k in range(lo, hi)):
            form = "FreeIndirect"  # "soll": the reportative modal passes on what was said
        else:
            last = None
            continue
        st = Statement(_span(doc, lo, hi), form, 0.45, s, [], last.source, "continuation of the last speaker")
        out.append(st)
        last = st
    out.sort(key=lambda st: st.message[0])
    return out
