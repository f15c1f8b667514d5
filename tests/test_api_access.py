"""Access control and silent surprises: what anonymous readers see of API keys, the GraphiQL
page's policy, WebSocket refusals, CORS and bind defaults, names with control characters,
and a source text registered under a second key."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import TEXT, ApiEnv, api_env, error_codes
from starlette.websockets import WebSocketDisconnect

from api.cli.main import build_parser
from api.web import graphiql

EVENTS = "{ events(first: 100) { nodes { type payload stateBase64 leafHash } } }"


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        yield env


def _key_events(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in body["events"]["nodes"] if n["type"].startswith("ApiKey.")]


def test_anonymous_readers_see_only_the_name_of_an_access_control_event(api: ApiEnv) -> None:
    api.ledger.revoke_api_key("reader-key", "laptop lost", "test:admin")
    api.caught_up()
    anonymous = _key_events(api.gql.data(EVENTS))
    assert {n["type"] for n in anonymous} == {"ApiKey.Issued", "ApiKey.Revoked"}
    for node in anonymous:
        assert "secret_sha256" not in node["payload"] and "role" not in node["payload"]
        assert "reason" not in node["payload"] and node["stateBase64"] == ""
        assert len(node["leafHash"]) == 64  # its place in the tree stays provable
    assert "laptop lost" not in str(anonymous)
    keyed = _key_events(api.as_role("admin").data(EVENTS))
    issued = next(n for n in keyed if n["type"] == "ApiKey.Issued")
    assert len(issued["payload"]["secret_sha256"]) == 64 and issued["payload"]["role"] in ("reader", "editor", "admin")
    assert base64.b64decode(issued["stateBase64"])
    assert any(n["payload"].get("reason") == "laptop lost" for n in keyed)


def test_anonymous_subscribers_see_access_control_events_without_secrets(api: ApiEnv) -> None:
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json()["type"] == "connection_ack"
        query = 'subscription { ledgerEvents(types: ["ApiKey"]) { type payload stateBase64 } }'
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        # The subscription reads from the log head it saw when it started: wait until that is set.
        broadcaster = api.services.broadcaster
        deadline = time.monotonic() + 30
        while not broadcaster.subscribers:
            assert time.monotonic() < deadline, "the subscription did not start"
            api.gql.data("{ ledgerDigest { treeSize } }")  # a round trip through the app's event loop
        api.ledger.issue_api_key("newsroom", "editor", "test:admin")
        message = ws.receive_json()
    event = message["payload"]["data"]["ledgerEvents"]
    assert event["type"] == "ApiKey.Issued" and event["payload"]["name"] == "newsroom"
    assert "secret_sha256" not in event["payload"] and event["stateBase64"] == ""


def test_the_graphiql_page_may_connect_to_its_own_origin_only(api: ApiEnv) -> None:
    response = api.client.get("/graphql", headers={"accept": "text/html"})
    policy = response.headers["content-security-policy"]
    connect = next(d for d in policy.split(";") if d.strip().startswith("connect-src")).split()
    assert connect == ["connect-src", "'self'", "ws://testserver", "wss://testserver"]
    # A hostile Host header is never copied into the policy.
    assert graphiql.csp("evil.example; script-src *").count("connect-src 'self';") == 1
    assert " ws: " not in graphiql.csp("localhost:8000") and "ws://localhost:8000" in graphiql.csp("localhost:8000")


@pytest.mark.parametrize(
    ("params", "says"),
    [({"apiKey": "clk_wrong"}, "unknown API key"), ({"Authorization": "Basic x"}, "malformed")],
)
def test_a_websocket_refused_for_a_bad_key_says_why_with_a_code(api: ApiEnv, params: dict[str, str], says: str) -> None:
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": params})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4403
    assert closed.value.reason.startswith("UNAUTHENTICATED: ") and says in closed.value.reason


def test_cors_is_closed_and_the_server_binds_to_loopback_by_default(api: ApiEnv) -> None:
    preflight = api.client.options(
        "/graphql",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    answer = api.client.post("/graphql", json={"query": "{ topics { key } }"}, headers={"Origin": "https://x.example"})
    assert "access-control-allow-origin" not in answer.headers
    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"


SOURCE = """mutation ($key: String!) { registerSource(input: {key: $key, title: "Copy", text: $text,
  published: {date: "2025-03-01"}, language: "en", genre: NEWS}) { created sourceId } }"""


def test_a_registered_text_under_a_new_key_is_refused_not_dropped(api: ApiEnv) -> None:
    editor = api.as_role("editor")
    mutation = SOURCE.replace("mutation ($key: String!)", "mutation ($key: String!, $text: String!)")
    size = api.tree_size()
    body = editor(mutation, {"key": "another-key", "text": TEXT})
    assert error_codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["field"] == "key"
    assert "berlin-interview" in body["errors"][0]["message"] and api.tree_size() == size
    again = editor.data(mutation, {"key": "berlin-interview", "text": TEXT})["registerSource"]
    assert again["created"] is False and api.tree_size() == size


@pytest.mark.parametrize("bad", ["Olaf\u202eScholz", "Olaf\u2066Scholz", "Olaf\x07Scholz", "Olaf\u200fScholz"])
def test_control_and_bidi_characters_are_refused_in_names(api: ApiEnv, bad: str) -> None:
    editor = api.as_role("editor")
    size = api.tree_size()
    actor = 'mutation ($n: String!, $a: [String!]) { registerActor(input: {key: "olaf", name: $n, kind: PERSON, aliases: $a}) { changed } }'
    body = editor(actor, {"n": bad, "a": []})
    assert error_codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["field"] == "name"
    assert "U+" in body["errors"][0]["message"]
    body = editor(actor, {"n": "Olaf Scholz", "a": [bad]})
    assert error_codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["field"] == "aliases[0]"
    topic = 'mutation ($t: String!) { defineTopic(input: {key: "t", title: $t, proposition: "P"}) { changed } }'
    assert error_codes(editor(topic, {"t": bad})) == ["BAD_USER_INPUT"]
    assert api.tree_size() == size
    # Joiners that real names need are fine.
    assert editor.data(actor, {"n": "Mohammad\u200cReza", "a": []})["registerActor"]["changed"] is True
