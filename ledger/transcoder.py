"""The ledger's event encoder: the library's stored format, written by orjson.

eventsourcing's ``JSONTranscoder`` writes an event's state with the standard library's
``json`` (compact separators, UTF-8, nothing escaped beyond what JSON requires) and writes
each object it has a transcoding for as ``{"_type_": name, "_data_": ...}`` (the event's
timestamp: ``{"_type_":"datetime_iso","_data_":"2026-..."}``). ``LedgerTranscoder`` writes
*the same bytes* with orjson whenever the state is on the fast rule below, and hands
anything else to the library's encoder. So the stored format does not change: a new event's
bytes are those the library would have written, leaf hashes cover them as stored, old
events are never re-encoded, and decoding is the library's, unchanged (issue 13 §3).

What it buys: ~2-4 us instead of ~5-11 us for a claim's or revision's state, ~5 instead of
~28 us for a source with its text (bench/RESULTS.md, "Import: faster encoder").

The fast rule: every value, at any depth, is exactly a ``str``, ``int``, ``bool``, ``None``,
``list``, ``tuple``, a ``dict`` whose keys are exactly ``str``, or exactly a ``datetime``
with a registered transcoding (encoded through it). For these orjson writes json's bytes:
the same escapes for every code point (tests/domain/test_transcoder.py checks them all),
the same digits for ints, arrays for tuples, keys in insertion order. Off the rule, to the
library's encoder, because orjson would write something else or nothing:

- ``float``: orjson spells exponents ``1e-7`` where json writes ``1e-07``, and writes NaN
  and the infinities as ``null`` (json: ``NaN``, ``Infinity``);
- ``UUID``, ``Enum``, dataclasses, ``date``...: orjson has its own forms for them (a UUID
  as a plain string), the library a tagged object or an error;
- subclasses of ``str``, ``int``, ``dict``, ``list`` (``IntEnum``, ``StrEnum``...): types
  are compared exactly, so json's handling of them stays json's;
- keys that are not exactly ``str`` (json turns ``1`` into ``"1"``; orjson refuses them all,
  and the refusal sends the state there);
- nesting deeper than ``_MAX_DEPTH`` (and with it any circular reference).

orjson's own refusals (ints beyond 64 bits, strings with lone surrogates) also go to the
library's encoder, which writes the int, or raises its own error, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic

_LEAVES = frozenset((str, int, bool, type(None), datetime))
_MAX_DEPTH = 64  # far beyond any event's state; orjson itself stops at 255


class _OffTheRule(Exception):
    """Raised inside orjson's ``default`` hook: this state goes to the library's encoder."""


class LedgerTranscoder(JSONTranscoder):
    """``JSONTranscoder`` with the same output, written by orjson for the states on the fast rule.

    Selected through the library's environment (``TRANSCODER_TOPIC``, see
    ``ledger.application.ClaimsLedger.env``); ``Application.register_transcodings`` registers
    the library's transcodings on it as on any ``JSONTranscoder``.
    """

    def encode(self, obj: Any) -> bytes:
        if type(obj) in _LEAVES or _plain(obj, _MAX_DEPTH):
            try:
                return orjson.dumps(obj, default=self._tagged, option=orjson.OPT_PASSTHROUGH_DATETIME)
            except orjson.JSONEncodeError:
                pass  # an int beyond 64 bits, a lone surrogate, a datetime with no transcoding
        return super().encode(obj)

    def encode_state(self, state: dict[str, Any]) -> bytes:
        """``encode(state)`` of an event's state, a dict the caller gives away (``LedgerMapper``'s copy).

        The same bytes, a little cheaper: the event's ``timestamp`` (a top-level datetime) is written
        through its transcoding here, into ``state``, rather than by a call back from orjson into
        Python (``_tagged``) for every event. Off the fast rule, the untouched state goes to ``encode``.
        """
        timestamp = state.get("timestamp")
        transcoding = self.types.get(datetime)
        if type(timestamp) is datetime and transcoding is not None and _plain(state, _MAX_DEPTH):
            data = _iso_text(timestamp) if type(transcoding) is DatetimeAsISO else transcoding.encode(timestamp)
            if type(data) is str:  # the library's DatetimeAsISO
                state["timestamp"] = {"_type_": transcoding.name, "_data_": data}
                try:
                    return orjson.dumps(state, default=self._tagged, option=orjson.OPT_PASSTHROUGH_DATETIME)
                except orjson.JSONEncodeError:
                    state["timestamp"] = timestamp
        return self.encode(state)

    def _tagged(self, o: Any) -> dict[str, Any]:
        """orjson's hook for what it does not write itself (only ``datetime`` passes the rule):
        the object as the library writes it, through its registered transcoding."""
        transcoding = self.types.get(type(o))
        if transcoding is None:
            raise _OffTheRule
        data = transcoding.encode(o)
        if not (type(data) in _LEAVES or _plain(data, _MAX_DEPTH)):
            raise _OffTheRule
        return {"_type_": transcoding.name, "_data_": data}


def _iso_text(timestamp: datetime) -> str:
    """``timestamp.isoformat()`` (what ``DatetimeAsISO`` stores), written by orjson for a UTC time: the same
    text (RFC 3339, ``+00:00``, microseconds unless 0; checked below and by tests/domain/test_transcoder.py),
    ~1.5 us less per event than ``isoformat``, which looks the offset up through the tzinfo."""
    if timestamp.tzinfo is UTC and _ORJSON_WRITES_ISO:
        return orjson.dumps(timestamp)[1:-1].decode()
    return timestamp.isoformat()


def _plain(value: Any, depth: int) -> bool:
    """Is ``value`` a dict, list or tuple with only values on the fast rule, at any depth?

    Keys are left to orjson: it refuses every key that is not exactly a ``str`` (subclasses too;
    ``JSONEncodeError``), and ``encode`` then hands the state to the library's encoder. Not
    looking at them here is ~1/3 of this walk."""
    kind = type(value)
    if depth == 0:
        return False
    if kind is dict:
        value = value.values()
    elif kind is not list and kind is not tuple:
        return False
    for item in value:  # noqa: SIM110  (a loop: all() over a generator is slower per item)
        if type(item) not in _LEAVES and not _plain(item, depth - 1):
            return False
    return True


def _writes_iso(dumps: Callable[[datetime], bytes]) -> bool:
    """Whether ``dumps`` writes a UTC datetime as isoformat() does. Checked once, for this orjson: a release that
    wrote it otherwise would change the stored bytes, which the leaf hashes cover; every timestamp then goes
    through isoformat (as before ``_iso_text``), and nothing else changes."""
    samples = (datetime(1, 1, 1, tzinfo=UTC), datetime(2026, 12, 2, 13, 31, 49, 120, tzinfo=UTC))
    return all(dumps(sample)[1:-1].decode() == sample.isoformat() for sample in samples)


_ORJSON_WRITES_ISO = _writes_iso(orjson.dumps)

_new = object.__new__


class LedgerMapper(Mapper[UUID]):
    """The library's ``Mapper`` with a leaner ``to_stored_event`` for the ledger's transcoder (the same
    ``StoredEvent``, field for field and byte for byte; tests/domain/test_transcoder.py compares them).

    ``Mapper.to_stored_event`` costs ~4 us per event besides encoding; this one takes the same steps
    (the event's attributes but id and version, its class version when above 1, the topic) and builds
    the frozen ``StoredEvent`` without its generated ``__init__``. With a compressor or a cipher, or
    another transcoder, it is the library's. Selected through the library's environment
    (``MAPPER_TOPIC``, see ``ledger.application.ClaimsLedger.env``).
    """

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        transcoder = self.transcoder
        if self.compressor or self.cipher or type(transcoder) is not LedgerTranscoder:
            return super().to_stored_event(domain_event)
        kind = type(domain_event)
        state = vars(domain_event).copy()
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(kind, "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        stored: StoredEvent = _new(StoredEvent)
        fields = stored.__dict__  # a frozen dataclass: its fields are set as its __init__ sets them
        fields["originator_id"] = originator_id
        fields["originator_version"] = originator_version
        fields["topic"] = get_topic(kind)
        fields["state"] = transcoder.encode_state(state)
        return stored
