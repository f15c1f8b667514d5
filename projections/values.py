"""Value conversions shared by the projector and the queries (instants, dates, JSON)."""

from __future__ import annotations

import calendar
import json
import unicodedata
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_us(instant: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return (instant - EPOCH) // _MICROSECOND


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(0, 0, us)  # (by position: a third less than microseconds=us; three per claim row)


def as_date(value: Any) -> date:
    """A DATE column: a date on PostgreSQL, ISO text on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def as_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


@lru_cache(maxsize=65536)  # a projection asks for the same few dates again and again
def period(text: str) -> tuple[str, str]:
    """The ISO (earliest, latest) days of a partial date ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``."""
    parts = text.split("-")
    year = int(parts[0])
    if len(parts) == 3:
        return text, text
    if len(parts) == 2:
        month = int(parts[1])
        last = calendar.monthrange(year, month)[1]
        return f"{year:04d}-{month:02d}-01", f"{year:04d}-{month:02d}-{last:02d}"
    return f"{year:04d}-01-01", f"{year:04d}-12-31"


def precision_of(text: str) -> str:
    return ("YEAR", "MONTH", "DAY")[text.count("-")]


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
dumps = _encoder.encode
loads = json.loads


# Default-ignorable code points (Unicode's Default_Ignorable_Code_Point, as NFKC_Casefold drops them): a soft
# hyphen in "Ver\u00adhandlungen" (text from a PDF, a CMS's hyphenation) must not hide the word.
_IGNORABLE = dict.fromkeys(
    [0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFEFF, 0xFFA0,
     *range(0x180B, 0x1810), *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2070),
     *range(0xFE00, 0xFE10), *range(0x1BCA0, 0x1BCA4), *range(0x1D173, 0x1D17B), *range(0xE0000, 0xE1000)]
)  # fmt: skip


def searchable(text: str) -> str:
    """Text as the text filters compare it: Unicode's NFKC_Casefold (near enough: NFKC, casefolded, NFKC
    again, default-ignorable characters dropped), so that "Käse" typed composed finds "Käse" stored
    decomposed (text copied from a PDF or a macOS file name), a ligature or a full-width letter finds its
    plain letters, "STRASSE" finds "Straße", and a soft hyphen inside a word does not hide it."""
    if text.isascii():  # (most keys and much English text: nothing to normalise or drop)
        return text.casefold()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()).translate(_IGNORABLE)


def like_pattern(needle: str) -> str:
    """A LIKE pattern (ESCAPE '\\') matching ``needle`` anywhere, folded (:func:`searchable`)."""
    escaped = searchable(needle).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_text(*parts: str | None) -> str:
    return searchable("\n".join(p for p in parts if p))


def equal_conditions(alias: str, **values: object) -> tuple[list[str], list[object]]:
    """``alias.column = ?`` for each given (non-None) value, with its parameter."""
    given = [(column, value) for column, value in values.items() if value is not None]
    return [f"{alias}.{column} = ?" for column, _ in given], [value for _, value in given]
