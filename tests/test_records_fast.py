"""``records.claim_fields_validator`` (a claim straight to its plain form, no model instances) against the
model it is derived from, ``plain(check(Claim, data))``: over good claims and many bad ones, whatever the
fast path accepts the model accepts with the same result (values, types, key order), and whatever the
model refuses the fast path refuses too (``parse_claim`` then reports the model's error). Pure functions."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from datetime import date
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from ledger_support import REMOVED, claim, locations, with_value_at
from pydantic import Field, PlainSerializer, ValidationError

from ledger import commands as c
from ledger import records
from ledger.dates import Precision
from ledger.errors import BadInput

ROOT = Path(__file__).resolve().parents[1]

# Values that break some rule somewhere (type, pattern, length, blank, NUL, controls, enum, date, offsets).
HOSTILE: list[Any] = [
    None,
    "",
    "   ",
    " x ",
    0,
    -1,
    1,
    7,
    1.5,
    True,
    False,
    [],
    {},
    ["x"],
    {"date": "2025"},
    "x" * 81,
    "y" * 2001,
    "z" * 5001,
    "a\x00b",
    "ab\u202ecd",
    "Bad Key",
    "ok-key",
    "--",
    "2025",
    "2025-02",
    "2025-13",
    "2025-02-30",
    "2999-01-01",
    date(2025, 2, 1),
    date(2999, 1, 1),
    "opposes",
    "OPPOSES",
    "DAY",
    "MONTH",
    "de",
    "DE",
    "deu",
    "https://a.b",
    "\ud800",
]




class _Key(StrEnum):  # subclasses of str and int, as other callers' data may hold (strict mode takes them)
    ACTOR = "pete-hegseth"


class _Offset(IntEnum):
    START = 3
    END = 9


class _Text(str):
    pass


def _typed(value: Any) -> Any:
    """``value`` with every type spelled out, dict keys in order: equal only if both are the same JSON."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, value)


def _model(data: Any) -> dict[str, Any] | BadInput:
    try:
        return records.plain(records.check(records.Claim, data))
    except BadInput as error:
        return error


def _fast(data: Any) -> dict[str, Any] | None:
    try:
        result: dict[str, Any] = records.claim_fields_validator.validate_python(data)
        return result
    except ValidationError:
        return None


def _good_claims() -> list[dict[str, Any]]:
    return copy.deepcopy(_read_good_claims())


@functools.cache
def _read_good_claims() -> list[dict[str, Any]]:
    corpus = yaml.safe_load((ROOT / "claims_demo" / "corpus.yaml").read_text("utf-8"))
    given: list[dict[str, Any]] = [
        {k: v for k, v in entry.items() if k not in ("review", "confidence", "assistant")} for entry in corpus["claims"]
    ]
    return [
        *given,
        claim(),
        claim(quote={"text": " nicht realistisch ", "language": "de"}, value="  ", disputes=["x", "y"]),
        claim(stated="2025-02", supersedes="old-claim", conditions=" if asked ", channel=""),
        claim(stated={"date": "2025", "precision": "YEAR", "approximate": True, "note": "about"}),
        claim(stated=date(2025, 2, 12), passage={"exact": "not realistic", "prefix": "is ", "suffix": "."}),
        claim(stated={"date": date(2025, 2, 12)}, passage={"exact": "w", "start": 3, "end": 9, "prefix": None}),
        claim(stance="SUPPORTS", attribution="DIRECT_QUOTE", value=None, quote=None, channel=None),
        claim(actor=_Key.ACTOR, summary=_Text(" said "), stance=records.Stance.SUPPORTS),
        claim(passage={"exact": _Text("w"), "start": _Offset.START, "end": _Offset.END}),
        claim(stated={"date": "2025", "precision": Precision.YEAR}),
    ]


def test_good_claims_give_the_models_plain_form_exactly() -> None:
    for data in _good_claims():
        _same_on_good(data)


def _same_on_good(data: dict[str, Any]) -> None:
    fast, model = _fast(data), _model(data)
    assert isinstance(model, dict) and fast is not None
    assert _typed(fast) == _typed(model)
    assert json.dumps(fast) == json.dumps(model)  # key order at every depth
    recorded = c.parse_claim(data)
    assert _typed(recorded.content) == _typed(records.claim_content(records.check(records.Claim, data)))


def _mutations(base: dict[str, Any]) -> Iterator[Any]:
    for path in locations(base):
        if not path:
            continue
        yield with_value_at(base, path, REMOVED)
        for value in HOSTILE:
            yield with_value_at(base, path, value)
    for extra in ("unknown", "review", "links", "content"):
        yield {**base, extra: "x"}
        yield {**base, "quote": {"text": "q", "language": "de", extra: 1}}
        yield {**base, "stated": {"date": "2025", extra: 1}}
        yield {**base, "passage": {"exact": "w", extra: 1}}
    for start, end in [(1, None), (None, 1), (5, 5), (6, 5), (0, 5001), (0, 5000), (-1, 3), (True, 4), (1.0, 2)]:
        yield {**base, "passage": {"exact": "w", "start": start, "end": end}}
    for stated in [
        {"date": "2025-02", "precision": "DAY"},
        {"date": "2025", "precision": "year"},
        {"date": "2025", "approximate": 1},
        {"date": "2025", "note": "n" * 501},
        {"precision": "DAY"},
    ]:
        yield {**base, "stated": stated}
    yield {**base, "disputes": ["d"] * 101}
    yield {**base, "disputes": ["d"] * 100}
    yield {**base, "disputes": ("d",)}
    yield None
    yield []
    yield "claim"


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_bad_claims_are_refused_by_both_and_reported_as_the_model_reports_them(index: int) -> None:
    base = _good_claims()[-10 + index]
    accepted = refused = 0
    for data in _mutations(base):
        model, fast = _model(data), _fast(data)
        if isinstance(model, BadInput):
            assert fast is None, data  # never accepts what the model refuses
            with pytest.raises(BadInput) as raised:
                c.parse_claim(data)
            assert (raised.value.field, raised.value.message) == (model.field, model.message)
            refused += 1
        elif fast is not None:
            assert _typed(fast) == _typed(model), data
            assert json.dumps(fast) == json.dumps(model), data
            accepted += 1
    assert refused > 300 and accepted > 20  # the mutations reach both sides


class _Frozen(Mapping[str, Any]):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_what_only_the_model_takes_still_parses_as_before() -> None:
    # Model instances (the strict model takes them) and mappings that are not dicts: the fast path may
    # refuse them, and parse_claim then gives the model's answer.
    data = claim(quote={"text": "q", "language": "de"})
    as_model = records.Claim.model_validate(data)
    with_parts = {**data, "stated": as_model.stated, "quote": as_model.quote, "passage": as_model.passage}
    for given in (as_model, with_parts, _Frozen(data)):
        model = _model(given)
        fast = _fast(given)
        if isinstance(model, BadInput):
            assert fast is None
            continue
        assert fast is None or _typed(fast) == _typed(model)
        content = c.parse_claim(given).content
        assert _typed(content) == _typed(records.claim_content(records.check(records.Claim, given)))


def test_every_field_of_a_claim_at_every_depth_is_compared_on_a_good_claim() -> None:
    """A field no good claim gives is never compared: a new field must come with a good claim using it."""

    def fields(model: type[records.Record], prefix: str = "") -> Iterator[str]:
        for name, info in model.model_fields.items():
            yield prefix + name
            for nested in _records_in(info.annotation):
                yield from fields(nested, f"{prefix}{name}.")

    def given(value: Any, prefix: str = "") -> Iterator[str]:
        if isinstance(value, Mapping):
            for key, item in value.items():
                yield prefix + key
                yield from given(item, f"{prefix}{key}.")

    seen = {path for data in _good_claims() for path in given(data)}
    assert set(fields(records.Claim)) - seen == set()


def _records_in(annotation: Any) -> Iterator[type[records.Record]]:
    if isinstance(annotation, type) and issubclass(annotation, records.Record):
        yield annotation
    for arg in getattr(annotation, "__args__", ()):
        yield from _records_in(arg)
    if hasattr(annotation, "__origin__") and hasattr(annotation, "__metadata__"):
        yield from _records_in(annotation.__origin__)


class _Shouting(records.Claim):
    shout: Annotated[str, PlainSerializer(str.upper)] = "x"  # the dump differs from the value


class _Hiding(records.Claim):
    hidden: str = Field("h", exclude=True)


class _Renaming(records.Claim):
    named: str = Field("n", serialization_alias="other")


class _Dated(records.Claim):
    seen: date | None = None  # a date's JSON form is text


class _Tagged(records.Claim):
    tags: set[str] = Field(default_factory=set)


@pytest.mark.parametrize("model", [_Shouting, _Hiding, _Renaming, _Dated, _Tagged])
def test_a_field_whose_dump_differs_from_its_value_stops_the_fast_path_being_built(model: type[records.Claim]) -> None:
    with pytest.raises(TypeError, match="claim_fields_validator"):
        records._as_fields(model)
