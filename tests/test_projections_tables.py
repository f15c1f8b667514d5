"""The table declarations (projections/tables.py): one view dataclass gives DDL, rows and views."""

from __future__ import annotations

import random
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import pytest

from projections import schema, tables
from projections.db import connect, ddl
from projections.tables import Col, Reader, Table, extra
from projections.values import loads
from projections.views import ACTORS, API_KEYS, CLAIM_EVENTS, CLAIM_VERSIONS, SOURCES, TOPICS, ClaimView


def _day_after(holder: dict[str, Any]) -> str:
    return date.fromisoformat(holder["day"]).replace(day=2).isoformat()


@dataclass(frozen=True)
class Span:
    day: date
    after: Annotated[date, Col(derive=_day_after)]
    note: str | None = None


def _tags(text: str) -> list[str]:
    return sorted(loads(text))


@dataclass(frozen=True)
class ThingView:
    id: Annotated[UUID, Col(key="primary key")]
    seen_at: Annotated[datetime, Col(name="seen_us", meta=True)]
    label: Annotated[str | None, Col(path="names.label")]
    span: Span
    tags: Annotated[list[str], Col(default=[], decode=_tags)]
    done: Annotated[bool, Col(default=False)]
    mood: str | None  # the one line a new optional field takes


THINGS = Table("rm_things", ThingView, extras=(extra("search", "text", derive=lambda p: str(p.get("mood")).upper()),))


def test_the_ddl_follows_from_the_view() -> None:
    assert THINGS.ddl == (
        "CREATE TABLE rm_things (\n"
        "    id {uuid} NOT NULL PRIMARY KEY,\n"
        "    seen_us {int8} NOT NULL,\n"
        "    label text,\n"
        "    span_day {date} NOT NULL,\n"
        "    span_after {date} NOT NULL,\n"
        "    span_note text,\n"
        "    tags text NOT NULL,\n"
        "    done {bool} NOT NULL,\n"
        "    mood text,\n"
        "    search text NOT NULL\n"
        ");"
    )
    assert "BOOLEAN NOT NULL" in ddl(THINGS.ddl, "postgresql") and "UUID" in ddl(THINGS.ddl, "postgresql")


def test_rows_from_payloads_with_absent_optional_keys() -> None:
    payload = {"id": str(UUID(int=7)), "span": {"day": "2025-03-09"}}
    row = THINGS.row(payload, seen_us=5)
    assert row == (str(UUID(int=7)), 5, None, "2025-03-09", "2025-03-02", None, "[]", False, None, "NONE")
    # read back, the payload has the stored keys: an all-NULL nested dict (names) is absent again
    back = THINGS.payload([row[THINGS.column_names.index(n)] for n in THINGS.payload_names])
    assert back == {
        "id": str(UUID(int=7)), "names": None, "span": {"day": "2025-03-09", "note": None}, "tags": [],
        "done": False, "mood": None,
    }  # fmt: skip


def test_rows_from_payloads_holding_every_key_as_the_events_do() -> None:
    """Every key present (the row's first, subscripting path): the values as given; a dict that may be
    absent is read as optional inside even when present, and one absent key anywhere reads as declared."""
    thing = str(UUID(int=7))
    full = {"id": thing, "names": {}, "span": {"day": "2025-03-09", "note": "n"}, "tags": ["a"], "done": True,
            "mood": "calm"}  # fmt: skip
    assert THINGS.row(full, 5) == (thing, 5, None, "2025-03-09", "2025-03-02", "n", '["a"]', True, "calm", "CALM")
    assert THINGS.row({**full, "names": {"label": "L"}}, 5)[2] == "L"
    assert THINGS.row({**full, "names": None}, 5)[2] is None
    without_done = {k: v for k, v in full.items() if k != "done"}
    assert THINGS.row(without_done, 5) == (
        thing,
        5,
        None,
        "2025-03-09",
        "2025-03-02",
        "n",
        '["a"]',
        False,
        "calm",
        "CALM",
    )


def test_a_row_written_and_read_on_the_store_is_the_view(database_url: str) -> None:
    conn = connect(database_url)
    try:
        with conn.write_transaction():
            conn.execute(ddl(THINGS.ddl, conn.dialect).rstrip(";"))
            payload = {
                "id": str(UUID(int=9)), "names": {"label": "L"}, "span": {"day": "2024-02-29", "note": "n"},
                "tags": ["b", "a"], "done": True, "mood": "calm",
            }  # fmt: skip
            conn.insert_rows(THINGS.name, THINGS.column_names, [THINGS.row(payload, seen_us=1_700_000_000_000_000)])
        (row,) = conn.execute(f"SELECT {THINGS.select('t')} FROM rm_things t")
    finally:
        conn.close()
    expected = ThingView(
        id=UUID(int=9),
        seen_at=datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        label="L",
        span=Span(date(2024, 2, 29), date(2024, 2, 2), "n"),
        tags=["a", "b"],
        done=True,
        mood="calm",
    )
    assert THINGS.view(row) == expected
    assert THINGS.reading(2)(("x", "y", *row)) == expected  # (read in place from a wider row)
    if database_url.startswith("postgresql"):  # PostgreSQL's own types taken as psycopg returns them
        _same_objects(THINGS.reading(typed=True)(row), expected)


def test_the_claim_table_reads_every_view_field_and_the_schema_holds_it() -> None:
    assert len(CLAIM_VERSIONS.names) == 36  # ClaimView's columns (StatedDate and Passage embedded)
    assert CLAIM_VERSIONS.names[:3] == ("position", "log_position", "claim_id")
    assert set(CLAIM_VERSIONS.column_names) - set(CLAIM_VERSIONS.names) == {
        "event", "known_to_us", "reason", "changes", "search_summary", "search_quote",
    }  # fmt: skip
    assert CLAIM_VERSIONS.ddl in schema.TABLES
    assert "counts_from_reason" not in CLAIM_VERSIONS.names  # a property of the view, not a column
    assert isinstance(ClaimView.counts_from_reason, property)


_BOUNDS_CALLS: list[str] = []


def _bounds(holder: dict[str, Any]) -> tuple[str, str]:
    _BOUNDS_CALLS.append(holder["day"])
    return holder["day"][:8] + "01", holder["day"][:8] + "28"


@dataclass(frozen=True)
class Bounds:
    day: date
    first: Annotated[date, Col(derive=_bounds, part=0)]
    last: Annotated[date, Col(derive=_bounds, part=1)]


@dataclass(frozen=True)
class WindowView:
    id: Annotated[UUID, Col(key="primary key")]
    seen_at: Annotated[datetime, Col(name="seen_us", meta=True)]
    bounds: Bounds
    note: Annotated[str | None, Col(meta=True)]


def test_meta_values_by_position_and_a_derive_shared_by_its_parts() -> None:
    windows = Table("rm_windows", WindowView)
    assert windows.meta_names == ("seen_us", "note")
    payload = {"id": "i", "bounds": {"day": "2025-03-09"}}
    _BOUNDS_CALLS.clear()
    row = windows.row(payload, 5, None)
    assert row == ("i", 5, "2025-03-09", "2025-03-01", "2025-03-28", None)
    assert _BOUNDS_CALLS == ["2025-03-09"]  # once per row for both columns
    assert windows.row(payload, seen_us=5, note=None) == row


# A view read from a row is built from its __dict__ (tables._view) where its __init__ would only set its
# fields; against the same reader built with each view's constructor, on generated rows of every table.

JSON_TEXTS = {
    "links": ("[]", f'[{{"relation": "DISPUTES", "target": "{UUID(int=5)}"}}]', "[ ]"),
    "changes": (None, "{}", '{"summary": {"before": "a", "after": "b"}, "stance": {"after": "SUPPORTS"}}'),
    "authors": ("[]", '["A. B.", "C"]', "null"),
    "aliases": ("[]", '["x"]'),
    "tags": ("[]", '["b", "a"]'),
    "roles": ("[]", '[{"title": "Minister", "from": "2020-01-02"}, {"title": "MP", "until": "2019-12-31"}]'),
}


def _value(column: Any, rng: random.Random, sqlite: bool) -> Any:
    if column.name in JSON_TEXTS:
        return rng.choice(JSON_TEXTS[column.name])
    if column.nullable and rng.random() < 0.3:
        return None
    kind = column.python
    if kind is UUID:
        value = UUID(int=rng.getrandbits(128))
        return str(value) if sqlite else value
    if kind is date:
        day = date(2000, 1, 1) + timedelta(days=rng.randrange(12000))
        return day.isoformat() if sqlite else day
    if kind is datetime:
        return rng.randrange(2**52)
    if kind is bool:
        return rng.choice((True, False, 0, 1))
    if kind is int:
        return rng.randrange(-(2**40), 2**40)
    return rng.choice(("", "text", "ü\n\"'", "[]"))


def _same_objects(a: Any, b: Any) -> None:
    assert type(a) is type(b) and a == b
    if is_dataclass(a):
        assert list(vars(a)) == list(vars(b)) == [f.name for f in fields(a)]
        for name in vars(a):
            _same_objects(vars(a)[name], vars(b)[name])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same_objects(x, y)


def test_views_read_from_rows_are_the_objects_their_constructors_make(monkeypatch: pytest.MonkeyPatch) -> None:
    readers: tuple[Reader[Any], ...] = (CLAIM_VERSIONS, CLAIM_EVENTS, SOURCES, ACTORS, TOPICS, API_KEYS, THINGS)
    monkeypatch.setattr(tables, "_built_by_fields", lambda view: False)
    reference: list[Reader[Any]] = [Reader(r.table, _view_of(r)) for r in readers]
    monkeypatch.undo()
    rng = random.Random(7)
    for reader, by_init in zip(readers, reference, strict=True):
        assert "_view" not in _names_of(by_init) and "_view" in _names_of(reader), reader.table
        columns = tables._columns(reader.fields)
        for _ in range(300):
            row = tuple(_value(c, rng, sqlite=rng.random() < 0.5) for c in columns)
            _same_objects(reader.view(row), by_init.view(row))
            if reader is TOPICS:
                assert hash(reader.view(row)) == hash(by_init.view(row))


def test_a_typed_reading_takes_postgresqls_types_as_they_are_and_converts_the_rest() -> None:
    """``Reader.reading(typed=True)`` (PostgreSQL's rows: uuid, date and boolean columns arrive as UUID, date
    and bool) gives the objects the converting reader gives, on generated rows of every table, and at an
    offset of a wider row; a UUID stored in a text column is still converted."""
    rng = random.Random(11)
    for reader in (CLAIM_VERSIONS, CLAIM_EVENTS, SOURCES, ACTORS, TOPICS, API_KEYS, THINGS):
        typed, at_two = reader.reading(typed=True), reader.reading(2, typed=True)
        assert "as_uuid" not in typed.__code__.co_names and "as_date" not in typed.__code__.co_names
        for _ in range(200):
            row = tuple(_value(c, rng, sqlite=False) for c in tables._columns(reader.fields))
            row = tuple(bool(v) if c.python is bool and v is not None else v  # (psycopg's booleans)
                        for c, v in zip(tables._columns(reader.fields), row, strict=True))  # fmt: skip
            _same_objects(typed(row), reader.view(row))
            _same_objects(at_two((None, "x", *row)), reader.view(row))
    stored_as_text = Reader("t", Referenced)
    assert stored_as_text.reading(typed=True)([str(UUID(int=3)), "2024-02-29"]) == Referenced(UUID(int=3), "2024-02-29")


@dataclass(frozen=True)
class Referenced:
    ref: Annotated[UUID, Col(sql="text")]  # (not PostgreSQL's uuid type: its text read as a UUID)
    day: Annotated[str, Col(sql="text")]


@dataclass(frozen=True)
class Stripped:
    """A __post_init__ that leaves a marker (not a str) as it is: only its declaration tells."""

    word: str

    def __post_init__(self) -> None:
        if isinstance(self.word, str):
            object.__setattr__(self, "word", self.word.strip())


@dataclass(frozen=True)
class Normalised(Stripped):
    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "normalised", True)  # (an attribute beside the fields)


@dataclass(frozen=True)
class Converted:
    day: date

    def __init__(self, day: Any) -> None:  # (its own: it converts the text a SQLite row holds)
        object.__setattr__(self, "day", date.fromisoformat(day) if isinstance(day, str) else day)


@dataclass(frozen=True)
class CheckedBase:
    a: str

    def __post_init__(self) -> None:
        if self.a == "bad":
            raise ValueError("bad")


@dataclass(frozen=True)
class CheckedChild(CheckedBase):
    b: str


def test_a_view_whose_init_does_more_than_set_its_fields_is_built_by_its_init() -> None:
    assert not tables._built_by_fields(Normalised) and not tables._built_by_fields(Converted)
    assert not tables._built_by_fields(Stripped) and not tables._built_by_fields(CheckedChild)
    assert Reader("t", Stripped).view([" padded "]) == Stripped("padded")
    with pytest.raises(ValueError, match="bad"):
        Reader("t", CheckedChild).view(["bad", "x"])
    assert tables._built_by_fields(ClaimView) and tables._built_by_fields(Span)
    assert Reader("t", Normalised).view([" padded "]) == Normalised("padded")
    assert Reader("t", Converted).view(["2024-02-29"]).day == date(2024, 2, 29)


def _view_of(reader: Reader[Any]) -> type:
    return type(reader.view(tuple(_value(c, random.Random(1), False) for c in tables._columns(reader.fields))))


def _names_of(reader: Reader[Any]) -> tuple[str, ...]:
    """The global names its row -> view function calls."""
    return reader.view.__code__.co_names
