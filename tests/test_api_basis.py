"""Every answer carries its basis; a request pinned to a tree size answers the same later (both stores)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx2 as httpx  # the maintained fork starlette's TestClient uses
import pytest
from api_support import ApiEnv, api_env, error_codes
from starlette.websockets import WebSocketDisconnect

from ledger import commands as c
from ledger.integrity import merkle

QUERY = """{
  claims(first: 50) { nodes { key stance version summary retracted } totalCount }
  timeline(actor: "chancellor", topic: "taurus") { stance label claim { key } }
  position(actor: "chancellor", topic: "taurus", asOf: "2025-12-31") { stance }
}"""


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        env.caught_up()
        yield env


def _post(api: ApiEnv, extensions: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"query": QUERY}
    if extensions is not None:
        body["extensions"] = extensions
    response = api.client.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_every_answer_names_its_basis(api: ApiEnv) -> None:
    body = _post(api)
    basis = body["extensions"]["basis"]
    size = api.tree_size()
    assert basis["treeSize"] == size and basis["pinned"] is False and basis["knownAt"]
    assert basis["rootHash"] == merkle.subtree_root(0, size, api.ledger.ledger_recorder).hex()


def test_a_pinned_basis_gives_byte_identical_data_after_corrections(api: ApiEnv) -> None:
    size = api.tree_size()
    first = api.client.post("/graphql", json={"query": QUERY, "extensions": {"atTreeSize": size}})
    assert first.json()["extensions"]["basis"]["treeSize"] == size
    # Corrections and new records after the basis...
    api.ledger.revise_claim(
        c.ReviseClaim("c-taurus-yes", None, c.parse_changes({"stance": "CONDITIONAL"}), "misread"), "desk"
    )
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    api.caught_up()
    assert _post(api)["data"] != first.json()["data"]  # ...change today's answer,
    again = api.client.post("/graphql", json={"query": QUERY, "extensions": {"atTreeSize": size}})
    data_bytes: Callable[[httpx.Response], str] = lambda r: r.text[: r.text.index(',"extensions"')]  # noqa: E731
    assert data_bytes(again) == data_bytes(first)  # ...not the pinned one, to the byte
    assert again.json()["extensions"]["basis"] == first.json()["extensions"]["basis"]


def test_a_pin_beyond_the_log_or_malformed_is_bad_input(api: ApiEnv) -> None:
    beyond = _post(api, {"atTreeSize": api.tree_size() + 10})
    assert set(error_codes(beyond)) == {"BAD_USER_INPUT"}
    assert "beyond the log" in beyond["errors"][0]["message"]
    assert set(error_codes(_post(api, {"atTreeSize": "latest"}))) == {"BAD_USER_INPUT"}


# Every field that takes knownAt, pinned by its atTreeSize argument instead.
PINNED = """query ($n: Int!) {
  claims(first: 50, atTreeSize: $n) { nodes { key stance version summary retracted } totalCount }
  claim(id: "c-minister", atTreeSize: $n) { key retracted version }
  timeline(actor: "chancellor", topic: "taurus", atTreeSize: $n) { stance label claim { key } }
  position(actor: "chancellor", topic: "taurus", asOf: "2025-12-31", atTreeSize: $n) { stance }
  positions(asOf: "2025-12-31", atTreeSize: $n) { actor { key } topic { key } stance }
  flips(atTreeSize: $n) { nodes { label before { key stance } after { key stance } } }
  flipSummaries(atTreeSize: $n) { actorKey topicKey claims halfFlips fullFlops strongest }
  actors(search: "chancellor", atTreeSize: $n) {
    key position(topic: "taurus", asOf: "2025-12-31", atTreeSize: $n) { stance }
  }
  source(id: "berlin-interview", atTreeSize: $n) { claims(atTreeSize: $n) { key stance version retracted } }
}"""


def _ask(api: ApiEnv, query: str, variables: dict[str, Any], extensions: dict[str, Any] | None = None) -> Any:
    body: dict[str, Any] = {"query": query, "variables": variables}
    if extensions is not None:
        body["extensions"] = extensions
    response = api.client.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    return response


def _data_bytes(response: Any) -> str:
    text: str = response.text
    return text[: text.index(',"extensions"')]


def test_the_argument_pin_gives_byte_identical_data_after_corrections(api: ApiEnv) -> None:
    size = api.tree_size()
    first = _ask(api, PINNED, {"n": size})
    assert "errors" not in first.json(), first.text
    basis = first.json()["extensions"]["basis"]
    assert basis["treeSize"] == size and basis["pinned"] is True and "pins" not in basis
    assert basis["rootHash"] == merkle.subtree_root(0, size, api.ledger.ledger_recorder).hex()
    # The argument converts a size exactly as the request extension does.
    by_extension = _post(api, {"atTreeSize": size})["extensions"]["basis"]
    assert basis == by_extension
    api.ledger.revise_claim(
        c.ReviseClaim("c-taurus-yes", None, c.parse_changes({"stance": "CONDITIONAL"}), "misread"), "desk"
    )
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    api.caught_up()
    now = _ask(api, PINNED, {"n": api.tree_size()})
    assert now.json()["data"] != first.json()["data"]  # the corrections change today's answer...
    again = _ask(api, PINNED, {"n": size})
    assert _data_bytes(again) == _data_bytes(first)  # ...not the pinned one, to the byte
    assert again.json()["extensions"]["basis"] == basis


def test_fields_pinned_apart_are_each_listed_in_the_basis(api: ApiEnv) -> None:
    size = api.tree_size()
    query = """query ($n: Int!) {
      earlier: claims(atTreeSize: $n) { totalCount }
      today: claims { totalCount }
    }"""
    body = _ask(api, query, {"n": size - 1}).json()
    basis = body["extensions"]["basis"]
    # A field read the operation's default, so the basis stays the operation's and names the pin.
    assert basis["treeSize"] == size and basis["pinned"] is False
    assert [p["treeSize"] for p in basis["pins"]] == [size - 1]
    assert basis["pins"][0]["rootHash"] == merkle.subtree_root(0, size - 1, api.ledger.ledger_recorder).hex()


def test_knownat_and_attreesize_together_are_bad_input(api: ApiEnv) -> None:
    query = """query ($n: Int!) { claims(knownAt: "2030-01-01T00:00:00Z", atTreeSize: $n) { totalCount } }"""
    body = _ask(api, query, {"n": api.tree_size()}).json()
    assert body["data"] is None
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]] == [
        ("BAD_USER_INPUT", "atTreeSize")
    ]


@pytest.mark.parametrize("beyond", [10, None])
def test_an_argument_pin_out_of_range_is_bad_input(api: ApiEnv, beyond: int | None) -> None:
    size = api.tree_size() + beyond if beyond is not None else -1
    query = """query ($n: Int!) { position(actor: "chancellor", topic: "taurus", atTreeSize: $n) { stance } }"""
    body = _ask(api, query, {"n": size}).json()
    assert body["data"] == {"position": None}
    error = body["errors"][0]
    assert (error["extensions"]["code"], error["extensions"]["field"], error["path"]) == (
        "BAD_USER_INPUT", "atTreeSize", ["position"]
    )  # fmt: skip
    assert ("beyond the log" if beyond else "not a tree size") in error["message"]


HISTORY = """query ($at: DateTime) {
  claim(id: "c-minister") { version retracted history { type version logPosition recordedAt } }
  asKnown: claim(id: "c-minister", knownAt: $at) { version history { type } }
}"""


def _types(claim: dict[str, Any]) -> list[str]:
    return [event["type"] for event in claim["history"]]


def test_a_pinned_history_stays_the_same_after_a_revision_and_a_retraction(api: ApiEnv) -> None:
    # Claim.history listed every event of the claim whatever the pin: a correction after the pin changed
    # the pinned answer. Pinned, it lists the claim's events among the first N only (log positions 1..N).
    size = api.tree_size()
    variables = {"at": None}
    first = _ask(api, HISTORY, variables, {"atTreeSize": size})
    assert _types(first.json()["data"]["claim"]) == ["RECORDED"], first.text
    api.ledger.revise_claim(
        c.ReviseClaim("c-minister", None, c.parse_changes({"stance": "SUPPORTS"}), "misread"), "desk"
    )
    api.caught_up()
    revised = api.tree_size()  # the revision is the last of these events: inside a pin at this size
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    api.caught_up()
    again = _ask(api, HISTORY, variables, {"atTreeSize": size})
    assert _data_bytes(again) == _data_bytes(first)
    at_revision = _ask(api, HISTORY, variables, {"atTreeSize": revised}).json()["data"]
    assert _types(at_revision["claim"]) == ["RECORDED", "REVISED"]
    assert at_revision["claim"]["history"][-1]["logPosition"] == revised
    # Unpinned, every event, as before.
    assert _types(_ask(api, HISTORY, variables).json()["data"]["claim"]) == ["RECORDED", "REVISED", "RETRACTED"]


def test_only_a_pin_bounds_the_history_not_a_knownat_or_another_fields_pin(api: ApiEnv) -> None:
    recorded_at = _ask(api, HISTORY, {"at": None}).json()["data"]["claim"]["history"][0]["recordedAt"]
    size = api.tree_size()
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    api.caught_up()
    # Unpinned, the claim as known at an earlier instant lists its later events too (the web page's claim
    # "as known at" shows the corrections made since).
    then = _ask(api, HISTORY, {"at": recorded_at}).json()["data"]["asKnown"]
    assert then["version"] == 1 and _types(then) == ["RECORDED", "RETRACTED"]
    # A field's own pin bounds the claim, not its history...
    pinned_claim = """query ($n: Int!) { claim(id: "c-minister", atTreeSize: $n) { version history { type } } }"""
    body = _ask(api, pinned_claim, {"n": size}).json()
    claim = body["data"]["claim"]
    assert claim["version"] == 1 and _types(claim) == ["RECORDED", "RETRACTED"]
    # ...so the basis is the operation's (the history read it), the claim's pin listed beside it.
    basis = body["extensions"]["basis"]
    assert basis["pinned"] is False and [p["treeSize"] for p in basis["pins"]] == [size]
    # Under the request's pin, a field's own knownAt (here: later than every event) reads the claim then,
    # but its history keeps to the pin.
    future = _ask(api, HISTORY, {"at": "2100-01-01T00:00:00Z"}, {"atTreeSize": size}).json()["data"]
    assert future["asKnown"]["version"] == 2 and _types(future["asKnown"]) == ["RECORDED"]


def test_a_websocket_connections_later_query_reads_the_model_anew(api: ApiEnv) -> None:
    # One Context serves a whole WebSocket connection: its DataLoaders kept the claims and histories an
    # earlier query read, so a later query on the same connection showed a retracted claim as it was
    # (version 1, its history without the retraction) under a basis that names the retraction's tree size.
    query = '{ claim(id: "c-minister") { version retracted history { type } } }'
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_text(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.receive_text())["type"] == "connection_ack"

        def ask(operation_id: str) -> dict[str, Any]:
            ws.send_text(json.dumps({"id": operation_id, "type": "subscribe", "payload": {"query": query}}))
            message = json.loads(ws.receive_text())
            assert message["type"] == "next", message
            assert json.loads(ws.receive_text())["type"] == "complete"
            payload: dict[str, Any] = message["payload"]
            return payload

        assert ask("1")["data"]["claim"] == {"version": 1, "retracted": False, "history": [{"type": "RECORDED"}]}
        api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
        api.caught_up()
        again = ask("2")
        assert again["extensions"]["basis"]["treeSize"] == api.tree_size()
        assert again["data"]["claim"] == {
            "version": 2, "retracted": True, "history": [{"type": "RECORDED"}, {"type": "RETRACTED"}]
        }  # fmt: skip


AUDIT = """{
  ledgerDigest { treeSize rootHash }
  events(first: 100) { treeSize nodes { id } pageInfo { hasNextPage } }
  event(id: "%d") { id }
  inclusionProof(eventId: "1") { treeSize rootHash }
  consistencyProof(fromSize: 1) { toSize rootHash }
}"""


def test_the_log_fields_under_a_pin_answer_the_log_as_it_stood_at_that_size(api: ApiEnv) -> None:
    # They answered the log's head under a pin: a digest, a log and proofs of a later log than the basis named.
    size = api.tree_size()
    root = merkle.subtree_root(0, size, api.ledger.ledger_recorder).hex()
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    api.caught_up()
    assert api.tree_size() == size + 1
    response = api.client.post("/graphql", json={"query": AUDIT % (size + 1), "extensions": {"atTreeSize": size}})
    body = response.json()
    assert "errors" not in body, body
    data = body["data"]
    assert data["ledgerDigest"] == {"treeSize": size, "rootHash": root}
    assert data["events"]["treeSize"] == size and len(data["events"]["nodes"]) == size
    assert data["events"]["pageInfo"]["hasNextPage"] is False
    assert data["event"] is None  # the retraction is beyond the pin
    assert data["inclusionProof"] == {"treeSize": size, "rootHash": root}
    assert data["consistencyProof"] == {"toSize": size, "rootHash": root}
    assert body["extensions"]["basis"]["treeSize"] == size and body["extensions"]["basis"]["rootHash"] == root
    # Beyond the pin, the error names the pin, not an argument the query did not give.
    for beyond, message in (
        (f'{{ inclusionProof(eventId: "{size + 1}") {{ treeSize }} }}',
         f"eventId: event {size + 1} is not among the pinned tree's {size} events"),
        (f"{{ consistencyProof(fromSize: {size + 1}) {{ toSize }} }}",
         f"fromSize: {size + 1} is larger than the pinned tree size {size}"),
    ):  # fmt: skip
        answer = api.client.post("/graphql", json={"query": beyond, "extensions": {"atTreeSize": size}}).json()
        assert [e["message"] for e in answer["errors"]] == [message]
    # Unpinned, the head.
    head = _post_query(api, AUDIT % (size + 1))["data"]
    assert head["ledgerDigest"]["treeSize"] == size + 1 and head["event"] == {"id": str(size + 1)}
    assert head["inclusionProof"]["treeSize"] == size + 1 and len(head["events"]["nodes"]) == size + 1


def test_a_pin_that_fails_fails_the_log_fields_too(api: ApiEnv) -> None:
    beyond = api.tree_size() + 5
    body = api.client.post("/graphql", json={"query": AUDIT % 1, "extensions": {"atTreeSize": beyond}}).json()
    assert body["data"] is None and set(error_codes(body)) == {"BAD_USER_INPUT"}


def _post_query(api: ApiEnv, query: str) -> dict[str, Any]:
    response = api.client.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_a_websocket_query_keeps_to_its_pin(api: ApiEnv) -> None:
    # strawberry's graphql-transport-ws handler drops a subscribe message's extensions: a query pinned with
    # extensions.atTreeSize was answered unpinned, at the head, saying so only in its basis.
    size = api.tree_size()
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    api.caught_up()
    query = '{ claim(id: "c-minister") { version retracted } ledgerDigest { treeSize } }'
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_text(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.receive_text())["type"] == "connection_ack"

        def ask(operation_id: str, extensions: object) -> dict[str, Any]:
            payload = {"query": query} if extensions is None else {"query": query, "extensions": extensions}
            ws.send_text(json.dumps({"id": operation_id, "type": "subscribe", "payload": payload}))
            message = json.loads(ws.receive_text())
            assert message["type"] == "next", message
            assert json.loads(ws.receive_text())["type"] == "complete"
            result: dict[str, Any] = message["payload"]
            return result

        pinned = ask("1", {"atTreeSize": size})
        assert pinned["data"] == {"claim": {"version": 1, "retracted": False}, "ledgerDigest": {"treeSize": size}}
        assert pinned["extensions"]["basis"]["treeSize"] == size and pinned["extensions"]["basis"]["pinned"] is True
        # The next operation on the connection without extensions is not pinned by the last one's.
        head = ask("2", None)
        assert head["data"] == {"claim": {"version": 2, "retracted": True}, "ledgerDigest": {"treeSize": size + 1}}
        assert head["extensions"]["basis"]["pinned"] is False
        beyond = ask("3", {"atTreeSize": size + 50})
        assert set(error_codes(beyond)) == {"BAD_USER_INPUT"}
        # Extensions that are not an object are refused, as over HTTP (400), and start no operation.
        ws.send_text(json.dumps({"id": "4", "type": "subscribe", "payload": {"query": query, "extensions": [size]}}))
        refused = json.loads(ws.receive_text())
        assert (
            refused["id"] == "4"
            and refused["type"] == "error"
            and "must be an object" in refused["payload"][0]["message"]
        )
        assert ask("4", None)["data"]["ledgerDigest"] == {"treeSize": size + 1}  # (the id is free)


def _ws_ready(ws: Any) -> None:
    ws.send_text(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(ws.receive_text())["type"] == "connection_ack"


def test_a_subscription_cannot_be_pinned(api: ApiEnv) -> None:
    # A subscription follows the log: under a pin its every message named the pinned basis (or, for a pin
    # beyond the log, a null one) while it delivered the later events.
    events = "subscription { ledgerEvents(after: 0) { position } }"
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        _ws_ready(ws)
        for operation_id, size in (("a", 2), ("b", api.tree_size() + 50)):
            payload = {"query": events, "extensions": {"atTreeSize": size}}
            ws.send_text(json.dumps({"id": operation_id, "type": "subscribe", "payload": payload}))
            message = json.loads(ws.receive_text())
            assert message["id"] == operation_id and message["type"] in ("next", "error"), message
            errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
            assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"], message
            assert "cannot be pinned" in errors[0]["message"]
            assert json.loads(ws.receive_text()) == {"id": operation_id, "type": "complete"}
        ws.send_text(json.dumps({"id": "c", "type": "subscribe", "payload": {"query": events}}))  # unpinned: runs
        first = json.loads(ws.receive_text())
        assert first["type"] == "next" and first["payload"]["data"]["ledgerEvents"] == {"position": 1}
        assert first["payload"]["extensions"]["basis"]["pinned"] is False


def test_malformed_extensions_over_websocket_keep_the_protocols_own_refusals_first(api: ApiEnv) -> None:
    query = {"query": "{ ledgerDigest { treeSize } }", "extensions": "x"}
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_text(json.dumps({"id": "1", "type": "subscribe", "payload": query}))  # before the ack: 4401
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 4401
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        _ws_ready(ws)
        events = {"query": "subscription { ledgerEvents { position } }"}
        ws.send_text(json.dumps({"id": "s", "type": "subscribe", "payload": events}))
        ws.send_text(json.dumps({"id": "s", "type": "subscribe", "payload": query}))  # a reused id: 4409
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 4409


def test_an_operation_basis_is_in_force_only_while_entered_and_not_after_it_failed_to_open(api: ApiEnv) -> None:
    # The basis is entered and left by hand on the prepared path (no AsyncExitStack): whatever happens, the
    # default knownAt, the pin and the argument pins of one operation must not outlive it on the task.
    import asyncio

    from api.graphql.basis import DEFAULT_KNOWN_AT, OBSERVED_POSITION, PINNED_SIZE, PINS, operation_basis

    services, size = api.services, api.tree_size()

    def in_force() -> tuple[object, object, object]:
        return DEFAULT_KNOWN_AT.get(), PINNED_SIZE.get(), PINS.get()

    async def operations() -> list[tuple[object, object, object]]:
        seen = []
        async with operation_basis(services, {"atTreeSize": size}) as held:
            seen.append(in_force())
            assert held.basis is not None and held.basis["treeSize"] == size and held.basis["pinned"] is True
        seen.append(in_force())
        token = OBSERVED_POSITION.set(size + 1000)  # beyond the log: its root hash cannot be computed
        try:
            basis = operation_basis(services, None)
            with pytest.raises(Exception):  # noqa: B017 (whichever error the Merkle tree gives)
                await basis.__aenter__()
            basis.leave()  # (what the prepared path does after a failure: nothing left to undo)
        finally:
            OBSERVED_POSITION.reset(token)
        seen.append(in_force())
        return seen

    pinned, after, after_failure = asyncio.run(operations())
    assert pinned[1] == size and pinned[0] is not None and pinned[2] is not None
    assert after == after_failure == (None, None, None)


def test_the_basis_knownat_text_is_the_isoformat_of_now() -> None:
    # utc_now_text keeps the text of the current second: it must write what datetime.now(UTC).isoformat() writes.
    from datetime import UTC, datetime

    from api.graphql.basis import utc_now_text

    seconds = 1_796_212_800  # 2026-12-02T12:00:00Z
    for nanos in (0, 999, 1_000, 123_456_789, 999_999_999, 500_000_000):
        for second in (seconds, seconds + 1, 951_782_400):  # (and a leap day)
            now_ns = second * 1_000_000_000 + nanos
            expected = datetime.fromtimestamp(second, UTC).replace(microsecond=nanos // 1000).isoformat()
            assert utc_now_text(now_ns) == expected, now_ns
    before = datetime.now(UTC)
    now = datetime.fromisoformat(utc_now_text())
    assert before <= now <= datetime.now(UTC) and now.tzinfo == UTC


def test_an_answer_an_error_nulled_has_the_basis_of_the_fields_in_its_data(api: ApiEnv) -> None:
    # An error in a non-null field nulls the data, cancelling the pinned fields beside it, which may or may not
    # have pinned first (before this basis counted only the fields in the data, these documents gave a basis
    # with pins in 6 to 28 of 40 runs on SQLite, 0 to 5 on PostgreSQL: a regression shows on SQLite). The basis
    # must not depend on that race: no field reached the data (the rule itself: the test below).
    size = api.tree_size()
    nulling = (
        "a: claims(atTreeSize: $n) { totalCount } checkpoint(treeSize: 999999) { treeSize }",  # NOT_FOUND
        "a: claims(atTreeSize: $n) { totalCount } sources { key bad: claims(atTreeSize: 999999) { key } }",
        "sources { x: claims(atTreeSize: $n) { key } } s: sources { bad: claims(atTreeSize: 999999) { key } }",
    )
    for fields in nulling:
        for _ in range(10):
            body = _ask(api, f"query ($n: Int!) {{ {fields} }}", {"n": size - 1}).json()
            assert body["data"] is None and error_codes(body), body
            basis = body["extensions"]["basis"]
            assert (basis["treeSize"], basis["pinned"], "pins" in basis) == (size, False, False), (fields, basis)
    # An error that nulls only its own (nullable) field leaves the pin beside it in the data: the basis is the pin.
    query = """query ($n: Int!) { a: claims(atTreeSize: $n) { totalCount } event(id: "x") { id } }"""
    body = _ask(api, query, {"n": size - 1}).json()
    assert body["data"]["event"] is None and error_codes(body) == ["BAD_USER_INPUT"]
    assert body["extensions"]["basis"]["treeSize"] == size - 1 and body["extensions"]["basis"]["pinned"] is True


def test_only_the_pins_and_default_reads_of_fields_in_the_data_count() -> None:
    from datetime import UTC, datetime

    from graphql.pyutils import Path

    from api.graphql.basis import OperationBasis, Pins

    def at(*keys: str | int) -> Path:
        path = None
        for key in keys:
            path = Path(path, key, None)
        assert path is not None
        return path

    held = OperationBasis()
    held.basis = {"treeSize": 9, "rootHash": "r9", "knownAt": "now", "pinned": False}
    held.pins = Pins()
    t3, t5 = datetime(2025, 1, 3, tzinfo=UTC), datetime(2025, 1, 5, tzinfo=UTC)
    held.pins.pin(3, t3, "r3", at("actors", 0, "position"))
    held.pins.pin(5, t5, "r5", at("actors", 1, "position"))
    held.pins.read_default(at("topics", 0, "claims"))
    pinned3 = {"treeSize": 3, "rootHash": "r3", "knownAt": t3.isoformat(), "pinned": True}
    pins = [
        {k: v for k, v in pinned3.items() if k != "pinned"},
        {"treeSize": 5, "rootHash": "r5", "knownAt": t5.isoformat()},
    ]

    def basis(data: Any, errored: bool = True) -> dict[str, Any]:
        result: dict[str, Any] = held.results(data, errored)["basis"]
        return result

    # Without errors every field that ran is in the data: both pins, and a default read.
    assert basis(None, errored=False) == {**held.basis, "pins": pins}
    # The second actor and the topics nulled: only the first actor's pin reached the data.
    assert basis({"actors": [{"position": None}, None], "topics": None}) == pinned3
    # A field present, even null (its own error), ran; an item past the list's end or a scalar in the way did not.
    assert basis({"actors": [{"position": {}}], "topics": [{"claims": None}]}) == {**held.basis, "pins": pins[:1]}
    assert basis({"actors": [{"position": {}}, {"position": {}}], "topics": "x"}) == {**held.basis, "pins": pins}
    assert basis({"actors": [{"position": {}}, {}], "topics": []}) == pinned3
    # The data nulled: the operation's own basis.
    assert basis(None) == held.basis
    # A read no field named always counts.
    held.pins.read_default(None)
    assert basis(None) == held.basis and basis({"actors": [{"position": {}}]}) == {**held.basis, "pins": pins[:1]}
