"""Stated dates from expressions relative to a publication date, German and English.

Rules of our own rather than ``dateparser``: news dates are mostly weekday names
("am Mittwoch"), "gestern", ordinal day-month ("am 29. Dezember"), month parts
("Anfang März") and spans back ("vor zwei Wochen"), which dateparser either misses or
resolves forward in time; a statement reported in an article was made *before* it.
Each hit says how precise it is, whether it is approximate, and quotes the expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ledger.extraction.lexicon import MONTHS, NUMBERS, WEEKDAYS


@dataclass(frozen=True)
class StatedDate:
    start: int  # offsets of the expression in the text
    end: int
    expression: str
    day: date
    precision: str  # DAY or MONTH or YEAR
    approximate: bool

    def to_partial(self) -> dict[str, Any]:
        value = {"DAY": self.day.isoformat(), "MONTH": self.day.isoformat()[:7], "YEAR": str(self.day.year)}
        return {
            "date": value[self.precision],
            "precision": self.precision,
            "approximate": self.approximate,
            "note": f"from {self.expression!r} relative to publication",
        }


_WD = "|".join(WEEKDAYS)
_MO = "|".join(sorted(MONTHS, key=len, reverse=True))
_NUM = "|".join(NUMBERS)
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b")),
    ("dmy", re.compile(rf"\b(\d{{1,2}})\.?\s+({_MO})\.?(?:\s+(\d{{4}}))?\b", re.I)),
    ("mdy", re.compile(rf"\b({_MO})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I)),
    ("part", re.compile(rf"\b(anfang|mitte|ende|early|mid|late|beginning of|end of)[\s-]+({_MO})(?:\s+(\d{{4}}))?\b", re.I)),
    ("yesterday_wd", re.compile(rf"\b(?:am\s+)?gestrigen\s+({_WD})\b", re.I)),
    ("relday", re.compile(r"\b(vorgestern|gestern|heute|yesterday|today|day before yesterday)\b", re.I)),
    ("weekday", re.compile(rf"\b(?:am\s+|on\s+|last\s+|vergangenen\s+|letzten\s+)?({_WD})(?:abend|morgen|nachmittag|vormittag)?\b", re.I)),
    ("ago", re.compile(rf"\bvor\s+({_NUM}|\d+)\s+(tag|tagen|woche|wochen|monat|monaten|jahr|jahren)\b|\b({_NUM}|\d+)\s+(days?|weeks?|months?|years?)\s+ago\b", re.I)),
    ("lastunit", re.compile(r"\b(?:vergangene|vergangenen|letzte|letzten|vorige|vorigen|last|past)\s+(woche|monat|jahr|week|month|year)\b", re.I)),
    ("month", re.compile(rf"\b(?:im|in|seit)\s+({_MO})(?:\s+(\d{{4}}))?\b", re.I)),
]  # fmt: skip


def _before(published: date, month: int, day: int = 1, year: int | None = None) -> date:
    """A day-month without a year: the latest one not after publication."""
    if year is not None:
        return date(year, month, day)
    candidate = date(published.year, month, day)
    return candidate if candidate <= published else date(published.year - 1, month, day)


def _safe(build: Any) -> date | None:
    try:
        result: date = build()
        return result
    except (ValueError, OverflowError):
        return None


def find_dates(text: str, published: date) -> list[StatedDate]:
    """Every date expression of ``text`` resolved against ``published``, in text order, no overlaps."""
    found: list[StatedDate] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            hit = _resolve(kind, m, published)
            if hit is not None and hit.day <= published:
                found.append(hit)
                taken.append((m.start(), m.end()))
    return sorted(found, key=lambda d: d.start)


def _resolve(kind: str, m: re.Match[str], published: date) -> StatedDate | None:
    g = m.groups()
    expr = m.group().strip()

    def out(day: date | None, precision: str = "DAY", approximate: bool = False) -> StatedDate | None:
        return StatedDate(m.start(), m.end(), expr, day, precision, approximate) if day else None

    if kind == "iso":
        return out(_safe(lambda: date(int(g[2]), int(g[1]), int(g[0]))))
    if kind == "dmy":
        return out(_safe(lambda: _before(published, MONTHS[g[1].lower()], int(g[0]), int(g[2]) if g[2] else None)))
    if kind == "mdy":
        return out(_safe(lambda: _before(published, MONTHS[g[0].lower()], int(g[1]), int(g[2]) if g[2] else None)))
    if kind == "part":
        return out(
            _safe(lambda: _before(published, MONTHS[g[1].lower()], 1, int(g[2]) if g[2] else None)), "MONTH", True
        )
    if kind == "yesterday_wd":
        return out(published - timedelta(days=1))
    if kind == "relday":
        back = {"vorgestern": 2, "day before yesterday": 2, "gestern": 1, "yesterday": 1}.get(g[0].lower(), 0)
        return out(published - timedelta(days=back))
    if kind == "weekday":
        if m.group()[:1].islower() and not m.group().lower().startswith(("am", "on", "last", "vergangenen", "letzten")):
            return None  # a lower-case "montag" is no date
        back = (published.weekday() - WEEKDAYS[g[0].lower()]) % 7
        if m.group().lower().startswith(("last", "vergangenen", "letzten")) and back == 0:
            back = 7
        return out(published - timedelta(days=back))
    if kind == "ago":
        amount_word, unit = (g[0], g[1]) if g[0] else (g[2], g[3])
        n = int(amount_word) if amount_word.isdigit() else NUMBERS[amount_word.lower()]
        unit = unit.lower()
        if unit.startswith(("tag", "day")):
            return out(published - timedelta(days=n))
        if unit.startswith(("woche", "week")):
            return out(published - timedelta(weeks=n), "DAY", True)
        if unit.startswith(("monat", "month")):
            return out(_safe(lambda: _months_back(published, n)), "MONTH", True)
        return out(_safe(lambda: date(published.year - n, 1, 1)), "YEAR", True)
    if kind == "lastunit":
        unit = g[0].lower()
        if unit in ("woche", "week"):
            return out(published - timedelta(days=7), "DAY", True)
        if unit in ("monat", "month"):
            return out(_months_back(published, 1), "MONTH")
        return out(date(published.year - 1, 1, 1), "YEAR")
    if kind == "month":
        return out(_safe(lambda: _before(published, MONTHS[g[0].lower()], 1, int(g[1]) if g[1] else None)), "MONTH")
    return None  # pragma: no cover


def _months_back(published: date, n: int) -> date:
    month = published.month - n
    year = published.year + (month - 1) // 12
    return date(year, (month - 1) % 12 + 1, 1)
