"""Query.event: one log event by position, with the bytes its leaf hash commits to (the web audit view uses it)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_support import ApiEnv, api_env, error_codes

from ledger.errors import BadInput, NotFound
from ledger.integrity import proofs

EVENT = """query ($id: ID!) { event(id: $id) {
  id position aggregateId version type storedTopic stateBase64 leafHash } }"""


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        yield env


def test_event_by_position_recomputes_to_its_leaf_hash(api: ApiEnv) -> None:
    event = api.gql.data(EVENT, {"id": "3"})["event"]
    assert event["position"] == 3 and event["id"] == "3"
    header = f"claims-ledger/1\n3\n{event['aggregateId']}\n{event['version']}\n{event['storedTopic']}\n".encode()
    data = header + base64.b64decode(event["stateBase64"])
    assert hashlib.sha256(b"\x00" + data).hexdigest() == event["leafHash"]
    proof = api.gql.data('{ inclusionProof(eventId: "3") { leafHash } }')["inclusionProof"]
    assert proof["leafHash"] == event["leafHash"]


def test_event_beyond_the_log_is_null_and_a_bad_id_is_refused(api: ApiEnv) -> None:
    size = api.tree_size()
    assert api.gql.data(EVENT, {"id": str(size + 1)})["event"] is None
    assert api.gql.data(EVENT, {"id": str(size)})["event"]["position"] == size
    for bad in ("zero", "0"):
        body = api.gql(EVENT, {"id": bad})
        assert error_codes(body) == ["BAD_USER_INPUT"] and not (body["data"] or {}).get("event")
        assert body["errors"][0]["extensions"]["field"] == "id"


INCLUSION = "query ($id: ID!, $n: Int) { inclusionProof(eventId: $id, treeSize: $n) { leafIndex treeSize auditPath } }"
CONSISTENCY = "query ($m: Int!, $n: Int) { consistencyProof(fromSize: $m, toSize: $n) { fromSize toSize proof } }"


def _error(body: dict[str, Any]) -> tuple[str, str | None, str]:
    [error] = body["errors"]
    extensions = error["extensions"]
    return extensions["code"], extensions.get("field"), error["message"]


def _ledger_error(call: Callable[..., object], *args: object) -> tuple[str, str | None, str]:
    try:
        call(*args)
    except (BadInput, NotFound) as error:
        return error.code, getattr(error, "field", None), str(error)
    raise AssertionError("the proof was served")


def test_proofs_are_the_ledgers_with_the_same_error_for_the_same_case(api: ApiEnv) -> None:
    """GraphQL serves ledger.integrity.proofs unchanged: each bad request fails the same way on both."""
    recorder = api.ledger.ledger_recorder
    size = api.tree_size()
    inclusion_cases = [(str(size + 5), None), ("0", None), ("3", 2), ("3", size + 1), ("3", -1)]
    for event_id, tree_size in inclusion_cases:
        served = _error(api.gql(INCLUSION, {"id": event_id, "n": tree_size}))
        assert served == _ledger_error(proofs.inclusion, recorder, int(event_id), tree_size), event_id
    assert _error(api.gql(INCLUSION, {"id": str(size + 5)}))[:2] == ("NOT_FOUND", None)  # no such event
    assert _error(api.gql(INCLUSION, {"id": "3", "n": 2}))[:2] == ("BAD_USER_INPUT", "treeSize")  # not in that tree
    consistency_cases = [(5, 3), (-1, None), (size + 1, None), (1, size + 1)]
    for from_size, to_size in consistency_cases:
        served = _error(api.gql(CONSISTENCY, {"m": from_size, "n": to_size}))
        assert served == _ledger_error(proofs.consistency, recorder, from_size, to_size), from_size
    assert _error(api.gql(CONSISTENCY, {"m": 5, "n": 3}))[:2] == ("BAD_USER_INPUT", "fromSize")
    good = api.gql.data(INCLUSION, {"id": "3", "n": 5})["inclusionProof"]
    assert good["leafIndex"] == 2 and good["treeSize"] == 5
    expected = proofs.inclusion(recorder, 3, 5)
    assert good["auditPath"] == [h.hex() for h in expected.path] and expected.verify()
    again = api.gql.data(CONSISTENCY, {"m": 2, "n": size})["consistencyProof"]
    assert again["proof"] == [h.hex() for h in proofs.consistency(recorder, 2, size).path]
