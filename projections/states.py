"""Event states to attribute dicts, for the projector: it decodes every event of the log.

The ledger stores each event's state as eventsourcing's ``JSONTranscoder`` writes it; in our
events the only value it transcodes is the timestamp, ``{"_type_": "datetime_iso", "_data_":
...}``. :func:`decode_states` gives the transcoder's result, faster: when a batch holds one
``"_type_"`` per state and each is its timestamp, every state is parsed with orjson (about
twice as fast as ``json``, which made decoding a sixth of a rebuild) and the timestamps are
converted here; otherwise the whole batch goes through the transcoder, the reference.

Where orjson does not read JSON as ``json`` does, that state is read by ``json`` instead:

* an integer beyond 64 bits (orjson returns a float): a state with a run of 19 or more digits
  (2**63 has 19) is never given to orjson;
* ``NaN``, ``Infinity``, numbers beyond a double (``json``: ``inf``), lone surrogates
  (``"\\ud800"``), very deep nesting: orjson refuses them (``JSONDecodeError``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson

Decode = Callable[[bytes], Any]  # the transcoder's decode: one state -> its dict

_MARKER = b'"_type_"'
_ESCAPE = b"\\u00"  # an escaped character below U+0100 (e.g. "\\u005f" for "_")
# Digits -> "0", every other byte unchanged: a run of 19 digits becomes _LONG.
_DIGITS = bytes(48 if 48 <= b <= 57 else b for b in range(256))
_LONG = b"0" * 19


def decode_states(states: Sequence[bytes], decode: Decode) -> list[dict[str, Any]]:
    """Each state's attribute dict, equal to ``decode(state)`` (the transcoder's decode)."""
    blob = b"\n".join(states)
    if blob.count(_MARKER) != len(states) or (b"\\" in blob and _ESCAPE in blob):
        # Something else is transcoded (or the format is another); or an escaped key could spell
        # "_type_" unseen by the count (no encoder of ours escapes below U+0080, but a row could be
        # written by other code): the reference decides. (A lone backslash is found at memchr
        # speed: most batches have none and skip the longer search.)
        return [decode(s) for s in states]
    if blob.translate(_DIGITS).find(_LONG) >= 0:
        return _checked(states, decode)
    datas: list[dict[str, Any]] = []
    append = datas.append
    parse, parsed_iso = orjson.loads, datetime.fromisoformat
    try:
        for state in states:
            data = parse(state)
            ts = data["timestamp"]  # not a dict, no timestamp, not a tagged one: raises, and the reference decides
            if ts["_type_"] != "datetime_iso" or len(ts) != 2:
                raise _NotOurs
            data["timestamp"] = parsed_iso(ts["_data_"])  # as the transcoder's DatetimeAsISO
            append(data)
    except (orjson.JSONDecodeError, _NotOurs, KeyError, TypeError):
        return _checked(states, decode)  # a state orjson refuses (json reads it) or another shape
    return datas


class _NotOurs(Exception):
    """A state whose one ``_type_`` marker is not its timestamp's."""


def _checked(states: Sequence[bytes], decode: Decode) -> list[dict[str, Any]]:
    """:func:`decode_states` state by state: ``json`` for a state with a long number or one orjson
    refuses; the transcoder for the whole batch if a marker is not (only) the timestamp."""
    datas: list[dict[str, Any]] = []
    append = datas.append
    for state in states:
        if _LONG in state.translate(_DIGITS):
            data = _stdlib(state)
        else:
            try:
                data = orjson.loads(state)
            except orjson.JSONDecodeError:
                data = _stdlib(state)
        ts = data.get("timestamp") if type(data) is dict else None
        if not (type(ts) is dict and len(ts) == 2 and ts.get("_type_") == "datetime_iso"):
            return [decode(s) for s in states]  # the marker is not (only) the timestamp: the reference
        data["timestamp"] = datetime.fromisoformat(ts["_data_"])  # as the transcoder's DatetimeAsISO
        append(data)
    return datas


def _stdlib(state: bytes) -> Any:
    # As JSONTranscoder.decode reads it, without its object hook (the marker count says only the
    # timestamp needs it).
    return json.loads(state.decode("utf8"))
