"""``ledger.transcoder.LedgerTranscoder`` writes exactly the bytes of the library's ``JSONTranscoder``
(or fails as it fails) for any state, and the library's decoder reads them back. The stored events of
ledgers written before it are in tests/test_fixture_ledgers.py (they verify and project, also with new
events appended)."""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import pytest
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_support import claim, domain_event, event_class, record, seed_world

from ledger import commands as c
from ledger.application import ClaimsLedger
from ledger.domain import Claim
from ledger.transcoder import LedgerMapper, LedgerTranscoder


class Colour(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    HIGH = 3


class Stance(enum.StrEnum):
    SUPPORTS = "SUPPORTS"


@pytest.fixture(scope="module")
def app() -> Iterator[ClaimsLedger]:
    with ClaimsLedger() as ledger:
        yield ledger


@pytest.fixture(scope="module")
def ours(app: ClaimsLedger) -> LedgerTranscoder:
    transcoder = app.mapper.transcoder
    assert isinstance(transcoder, LedgerTranscoder)  # selected through the application's environment
    return transcoder


@pytest.fixture(scope="module")
def library(app: ClaimsLedger) -> JSONTranscoder:
    """The library's encoder with the application's transcodings: what wrote every event before."""
    reference = JSONTranscoder()
    app.register_transcodings(reference)
    return reference


def outcome(transcoder: JSONTranscoder, value: Any) -> bytes | type[BaseException]:
    try:
        return transcoder.encode(value)
    except (TypeError, ValueError, RecursionError) as error:  # UnicodeEncodeError is a ValueError
        return type(error)


# Values orjson writes differently from json, or not at all, next to the ones it writes the same.
awkward_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.integers(min_value=-(2**63) - 2, max_value=-(2**63) + 2),
    st.floats(),  # NaN, infinities, -0.0, 1e-07...
    st.text(),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1),  # lone surrogates
    st.text(st.characters(max_codepoint=0x1F)),  # control characters: escaped
    st.uuids(),
    st.datetimes(timezones=st.none() | st.just(UTC)),
    st.dates(),
    st.decimals(),
    st.sampled_from([Colour.RED, Level.HIGH, Stance.SUPPORTS]),
)
awkward_keys = st.one_of(
    st.text(), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False), st.just(Stance.SUPPORTS)
)
awkward = st.recursive(
    awkward_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(awkward_keys, inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(value=st.dictionaries(st.text(), awkward, max_size=5) | awkward)
def test_bytes_and_errors_are_the_librarys(ours: LedgerTranscoder, library: JSONTranscoder, value: Any) -> None:
    assert outcome(ours, value) == outcome(library, value)


# States the library's format reads back as they were (no tuples, str keys, no NaN).
plain_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
    st.uuids(),
    st.datetimes(timezones=st.just(UTC)),
    st.decimals(allow_nan=False),
)
plain = st.recursive(
    plain_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(state=st.dictionaries(st.text(), plain, max_size=6))
def test_the_librarys_decoder_reads_back_the_state(ours: LedgerTranscoder, library: JSONTranscoder, state: Any) -> None:
    assert library.decode(ours.encode(state)) == state


def test_every_code_point_is_escaped_as_the_library_escapes_it(ours: LedgerTranscoder, library: JSONTranscoder) -> None:
    every = "".join(chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i <= 0xDFFF)
    state = {every: every, "at": datetime(2026, 12, 1, 1, 2, 3, 456789, tzinfo=UTC), "n": [every[:300]]}
    assert ours.encode(state) == library.encode(state)


@settings(max_examples=300, deadline=None)
@given(
    timestamp=st.datetimes(timezones=st.none() | st.just(UTC))
    | st.sampled_from([datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)])
    | st.sampled_from([datetime(2026, 12, 2, 13, 0, 0, 0, tzinfo=UTC), datetime(999, 1, 1, 0, 0, 0, 10, tzinfo=UTC)]),
    payload=st.dictionaries(st.text(), plain, max_size=3),
)
def test_an_event_states_timestamp_is_written_as_the_library_writes_it(
    ours: LedgerTranscoder, library: JSONTranscoder, timestamp: datetime, payload: dict[str, Any]
) -> None:
    """``encode_state`` writes the top-level timestamp itself (a UTC one by orjson, not ``isoformat``):
    the bytes are the library's for any time, microseconds 0 and years below 1000 included."""
    state = {"timestamp": timestamp, "originator_topic": "ledger.domain:Claim", **payload}
    assert ours.encode_state(dict(state)) == library.encode(state)


def test_an_orjson_writing_timestamps_otherwise_is_not_used_for_them(
    ours: LedgerTranscoder, library: JSONTranscoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were a later orjson to write a UTC datetime otherwise, the check at import turns its use off: the same bytes."""
    from ledger import transcoder

    assert transcoder._writes_iso(orjson.dumps)
    assert not transcoder._writes_iso(lambda t: orjson.dumps(t).replace(b"+00:00", b"Z"))
    monkeypatch.setattr(transcoder, "_ORJSON_WRITES_ISO", False)
    at = datetime(2026, 12, 2, 13, 0, 0, 120, tzinfo=UTC)
    assert transcoder._iso_text(at) == "2026-12-02T13:00:00.000120+00:00"
    state = {"timestamp": at, "originator_topic": "ledger.domain:Claim"}
    assert ours.encode_state(dict(state)) == library.encode(state)


def test_edges_of_the_fast_rule(ours: LedgerTranscoder, library: JSONTranscoder) -> None:
    nested: Any = "leaf"
    for _ in range(300):  # deeper than orjson writes and than the rule walks
        nested = [nested]
    circular: dict[str, Any] = {}
    circular["self"] = circular
    for value in (
        {"big": 2**64, "small": -(2**63) - 1},
        {"nan": float("nan"), "inf": float("-inf"), "tiny": 1e-7},
        {"deep": nested},
        {1: "int key", None: "none key"},
        {"nested": {Stance.SUPPORTS: "a str subclass as a key", "n": [{True: 1}]}},
        {"t": (1, ("a", None))},
        {"id": Decimal("1.10")},
    ):
        assert ours.encode(value) == library.encode(value)
    for bad in (circular, {"s": "\udc80"}, {"d": datetime(2026, 1, 1).date()}, {"e": Colour.RED}):
        assert outcome(ours, bad) == outcome(library, bad) != b""


def test_event_states_take_the_fast_path(
    app: ClaimsLedger, library: JSONTranscoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger's events are on the fast rule: with the library's encoder out of the way the bytes are
    the same; a state off the rule still reaches it."""
    seed_world(app)
    record(app)
    app.revise_claim(c.ReviseClaim(claim()["key"], None, c.parse_changes({"stance": "NEUTRAL"}), "why"), "editor")
    events = [domain_event(app, e) for e in app.ledger_recorder.iter_log()]
    expected = [(e.originator_id, library.encode(_state(e))) for e in events]

    def refuse(self: JSONTranscoder, obj: Any) -> bytes:
        raise AssertionError("the library's encoder was called")

    monkeypatch.setattr(JSONTranscoder, "encode", refuse)
    assert [(e.originator_id, app.mapper.to_stored_event(e).state) for e in events] == expected
    with pytest.raises(AssertionError, match="library's encoder"):
        app.mapper.transcoder.encode({"confidence": 0.5})


def _state(event: Any) -> dict[str, Any]:
    """The state the library's mapper encodes (``Mapper.to_stored_event``)."""
    state = dict(vars(event))
    del state["originator_id"], state["originator_version"]
    return state


def test_the_ledgers_mapper_stores_what_the_librarys_mapper_stores(app: ClaimsLedger) -> None:
    """``LedgerMapper.to_stored_event`` (selected through the environment) gives the library's ``StoredEvent``,
    field for field, for every kind of event, and for a state off the fast rule."""
    assert isinstance(app.mapper, LedgerMapper)
    library: Mapper[UUID] = Mapper(transcoder=app.mapper.transcoder)
    seed_world(app)
    record(app)
    app.revise_claim(c.ReviseClaim(claim()["key"], None, c.parse_changes({"stance": "OPPOSES"}), "why"), "editor")
    events: list[Any] = [domain_event(app, e) for e in app.ledger_recorder.iter_log()]
    odd = event_class(Claim, "Revised")(
        originator_id=events[-1].originator_id, originator_version=9, timestamp=datetime(2026, 1, 1),
        changes={"confidence": {"before": 0.5, "after": float("nan")}}, reason="r", recorded_by="p", revision_key=None,
    )  # fmt: skip
    assert {type(e).__qualname__ for e in events} >= {"Source.Registered", "Claim.Recorded", "Claim.Revised"}
    for event in [*events, odd]:
        ours, theirs = app.mapper.to_stored_event(event), library.to_stored_event(event)
        assert type(ours) is StoredEvent and ours == theirs and vars(ours) == vars(theirs)
