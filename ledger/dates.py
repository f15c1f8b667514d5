"""Partial dates: what a source tells about *when* something was said.

Articles often give only "February 2025" or "am Mittwoch". A :class:`PartialDate`
keeps the precision that the source supports, whether the date is approximate,
and a short note on how it was determined, instead of pretending to know a day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cached_property
from typing import Any

from ledger.errors import BadInput


class Precision(StrEnum):
    DAY = "DAY"
    MONTH = "MONTH"
    YEAR = "YEAR"


_PATTERNS = {
    Precision.DAY: re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    Precision.MONTH: re.compile(r"^(\d{4})-(\d{2})$"),
    Precision.YEAR: re.compile(r"^(\d{4})$"),
}
MAX_NOTE = 500


@dataclass(frozen=True)
class PartialDate:
    """A date known to DAY, MONTH or YEAR precision.

    ``earliest``/``latest`` bound the period the date stands for; a DAY date
    has both equal.
    """

    year: int
    month: int | None = None
    day: int | None = None
    approximate: bool = False
    note: str | None = None

    @cached_property
    def precision(self) -> Precision:
        if self.day is not None:
            return Precision.DAY
        if self.month is not None:
            return Precision.MONTH
        return Precision.YEAR

    # Computed once per object: parsed dates are shared (``from_dict`` keeps them), and an import
    # compares each claim's date with its source's. (cached_property writes the instance's
    # __dict__ directly, which a frozen dataclass allows; equality and hashing use the fields.)
    @cached_property
    def earliest(self) -> date:
        return date(self.year, self.month or 1, self.day or 1)

    @cached_property
    def latest(self) -> date:
        if self.day is not None:
            return self.earliest
        month = self.month or 12
        return date(self.year, month, calendar.monthrange(self.year, month)[1])

    def iso(self) -> str:
        """``2025-02-12``, ``2025-02`` or ``2025`` according to precision."""
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
        if self.day is not None:
            text += f"-{self.day:02d}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The primitive form stored in events."""
        return {
            "date": self.iso(),
            "precision": self.precision.value,
            "approximate": self.approximate,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, value: Any, field: str = "date") -> PartialDate:
        """Parse the primitive form, rejecting impossible dates with a specific error."""
        # The same stored forms come back again and again (a claim's date is parsed by the
        # command and checked by the batch; a source's publication once per claim citing
        # it), so successful parses are remembered. Errors are not: they name ``field``.
        # ``approximate``'s type is part of the key because 1 == True but only True is valid.
        if type(value) is dict:
            try:
                key = (tuple(value.items()), type(value.get("approximate")))
                cached = _PARSED.get(key)
            except TypeError:  # an unhashable value: parse (and refuse) it below
                return cls._parse(value, field)
            return cached if cached is not None else _remembered(key, cls._parse(value, field))
        if type(value) is str:
            cached = _PARSED.get(value)
            return cached if cached is not None else _remembered(value, cls._parse(value, field))
        return cls._parse(value, field)

    @classmethod
    def from_fields(
        cls, date_text: str, precision: Any, approximate: Any, note: str | None, field: str = "date"
    ) -> PartialDate:
        """:meth:`from_dict` of the fields given one by one (None: not given), remembered alike: a
        record's validated date fields skip building the dict for a date seen before."""
        key = (date_text, precision, approximate, type(approximate), note)
        cached = _PARSED.get(key)
        if cached is not None:
            return cached
        fields = (("date", date_text), ("precision", precision), ("approximate", approximate), ("note", note))
        return _remembered(key, cls._parse({k: v for k, v in fields if v is not None}, field))

    @classmethod
    def _parse(cls, value: Any, field: str) -> PartialDate:
        if isinstance(value, date):
            value = {"date": value.isoformat()}
        elif isinstance(value, str):
            value = {"date": value}
        if not isinstance(value, dict):
            raise BadInput(field, "must be a date string or an object with 'date'")
        unknown = set(value) - {"date", "precision", "approximate", "note"}
        if unknown:
            raise BadInput(field, f"unknown key(s): {', '.join(sorted(unknown))}")
        raw = value.get("date")
        if isinstance(raw, date):
            raw = raw.isoformat()
        if not isinstance(raw, str):
            raise BadInput(f"{field}.date", "is required (YYYY-MM-DD, YYYY-MM or YYYY)")
        precision = _detect_precision(raw, field)
        declared = value.get("precision")
        if declared is not None and declared != precision.value:
            raise BadInput(
                f"{field}.precision",
                f"{declared!r} does not match {raw!r} (which is {precision.value} precision)",
            )
        approximate = value.get("approximate", False)
        if not isinstance(approximate, bool):
            raise BadInput(f"{field}.approximate", "must be true or false")
        note = value.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
            raise BadInput(f"{field}.note", f"must be a string of at most {MAX_NOTE} characters")
        match = _PATTERNS[precision].match(raw)
        assert match is not None
        parts = [int(p) for p in match.groups()]
        year = parts[0]
        month = parts[1] if len(parts) > 1 else None
        day = parts[2] if len(parts) > 2 else None
        if year < 1:
            raise BadInput(f"{field}.date", f"{raw!r} has no valid year")
        if month is not None and not 1 <= month <= 12:
            raise BadInput(f"{field}.date", f"{raw!r} has no month {month}")
        if day is not None:
            assert month is not None
            last = calendar.monthrange(year, month)[1]
            if not 1 <= day <= last:
                raise BadInput(f"{field}.date", f"{raw!r} is not a day of the calendar")
        return cls(year, month, day, approximate, note or None)


_PARSED: dict[Any, PartialDate] = {}
_PARSED_MAX = 4096


def _remembered(key: Any, parsed: PartialDate) -> PartialDate:
    """A successful parse, kept (bounded: all forgotten at once when full)."""
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[key] = parsed
    return parsed


def _detect_precision(raw: str, field: str) -> Precision:
    for precision, pattern in _PATTERNS.items():
        if pattern.match(raw):
            return precision
    raise BadInput(f"{field}.date", f"{raw!r} is not YYYY-MM-DD, YYYY-MM or YYYY")
