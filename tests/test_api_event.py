"""Query.event: one log event by position, with the bytes its leaf hash commits to (the web audit view uses it)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import pytest
from api_support import ApiEnv, api_env, error_codes

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
