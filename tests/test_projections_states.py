"""The projector's fast decoding of event states gives exactly what the ledger's transcoder gives."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from ledger.application import ClaimsLedger
from projections.states import decode_states

STAMP = '{"_type_":"datetime_iso","_data_":"2026-11-30T23:59:59.123456+00:00"}'


def state(body: str) -> bytes:
    return ('{"timestamp":' + STAMP + "," + body + "}").encode()


# Values orjson reads otherwise than json (or refuses), each in one event state.
TRICKY = [
    '"n":18446744073709551616',  # 2**64: orjson would read a float
    '"n":-9223372036854775809',  # below int64
    '"n":123456789012345678901234567890',
    '"n":9223372036854775807,"m":-9223372036854775808',  # the int64 bounds: exact both ways
    '"s":"1234567890123456789012"',  # 22 digits in a string: read by json, same result
    '"n":NaN',
    '"n":Infinity,"m":-Infinity',
    '"n":1e400',  # json: inf; orjson refuses
    '"s":"\\ud800 lone"',  # a lone surrogate
    '"s":"\\ud83d\\ude00 pair, caf\\u00e9, \u00e9t\u00e9"',
    '"d":1,"d":2',  # a duplicate key: the last wins
    '"f":0.1,"g":-0.0,"h":1e-7,"i":-0,"j":2.5e300',
    '"nested":{"a":[1,{"b":null}],"c":true,"e":[]},"t":"\\t\\n\\\\\\""',
]


def transcoder_decode() -> Any:
    ledger = ClaimsLedger()
    try:
        return ledger.mapper.transcoder.decode
    finally:
        ledger.close()


def same(a: Any, b: Any) -> bool:
    """Equal with the same types throughout (an int read as a float is not the same); NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@pytest.mark.parametrize("body", TRICKY)
def test_a_tricky_value_decodes_as_the_transcoder_decodes_it(body: str) -> None:
    decode = transcoder_decode()
    states = [state('"k":"plain","n":1'), state(body), state('"k":"after"')]
    assert same(decode_states(states, decode), [decode(s) for s in states])


def test_a_batch_of_ordinary_states_decodes_as_the_transcoder() -> None:
    decode = transcoder_decode()
    states = [
        state(f'"key":"claim-{i}","content":{{"actor":"a","stated":{{"date":"2012-03","precision":null}},"n":{i}}}')
        for i in range(50)
    ]
    decoded = decode_states(states, decode)
    assert same(decoded, [decode(s) for s in states])
    assert decoded[7]["timestamp"].isoformat() == "2026-11-30T23:59:59.123456+00:00"


def test_other_transcoded_values_go_through_the_transcoder() -> None:
    """A marker besides the timestamp (a UUID here), or a state without one: the transcoder's own result."""
    decode = transcoder_decode()
    uuid = '{"_type_":"uuid_hex","_data_":"00000000000000000000000000000001"}'
    for odd in (state('"id":' + uuid), b'{"timestamp":"not transcoded","x":1}'):
        states = [state('"k":1'), odd, state('"k":2')]
        assert same(decode_states(states, decode), [decode(s) for s in states])
    # one state with two markers, another with none: the count matches, the result must still be right
    states = [state('"id":' + uuid), b'{"x":1}']
    assert same(decode_states(states, decode), [decode(s) for s in states])


def test_an_escaped_marker_is_seen_as_the_transcoder_sees_it() -> None:
    """A key spelled with an escape ("\\u005ftype_") is "_type_" to every JSON reader: the count of
    literal markers must not miss it (no encoder of ours writes it; a row written by other code could)."""
    decode = transcoder_decode()
    uuid = '{"\\u005ftype_":"uuid_hex","_data_":"00000000000000000000000000000001"}'
    states = [state('"k":1'), state('"id":' + uuid)]
    decoded = decode_states(states, decode)
    assert same(decoded, [decode(s) for s in states])
    assert type(decoded[1]["id"]).__name__ == "UUID"


def test_invalid_json_fails_as_in_the_transcoder() -> None:
    decode = transcoder_decode()
    for bad in (state('"k":'), b'{"timestamp":' + STAMP.encode() + b',"s":"\xff"}'):
        with pytest.raises(ValueError) as reference:
            decode(bad)
        with pytest.raises(type(reference.value)):
            decode_states([state('"k":1'), bad], decode)


def test_same_checks_types() -> None:
    """The comparison above is strict: an int read as a float fails it."""
    assert not same(json.loads("[18446744073709551616]"), [1.8446744073709552e19])
    assert not same({"a": 0.0}, {"a": -0.0})
