"""Error codes, authentication and roles, masking, and rejected writes writing nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import ApiEnv, api_env, error_codes

from projections.queries import open_read_model

RETRACT = 'mutation ($v: Int!) { retractClaim(id: "c-minister", expectedVersion: $v, reason: "duplicate") { version } }'
TOPIC = 'mutation { defineTopic(input: {key: "nato", title: "NATO", proposition: "Ukraine joins NATO"}) { changed } }'


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        yield env


def test_bad_user_input_names_the_field_and_writes_nothing(api: ApiEnv) -> None:
    size = api.tree_size()
    editor = api.as_role("editor")
    body = editor('mutation { defineTopic(input: {key: "Not A Key", title: "T", proposition: "P"}) { changed } }')
    assert error_codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["field"] == "key"
    assert body["data"] is None
    wrong_passage = {
        "key": "c-bad", "actor": "chancellor", "topic": "taurus", "stance": "SUPPORTS", "summary": "s",
        "stated": {"date": "2025-02-01"}, "source": "berlin-interview", "attribution": "REPORTED",
        "passage": {"start": 0, "end": 6, "exact": "Munich"},
    }  # fmt: skip
    body = editor("mutation ($i: RecordClaimInput!) { recordClaim(input: $i) { created } }", {"i": wrong_passage})
    assert error_codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["field"] == "passage.exact"
    future = {**wrong_passage, "passage": {"start": 0, "end": 6, "exact": "Berlin"}, "stated": {"date": "2025-04"}}
    body = editor("mutation ($i: RecordClaimInput!) { recordClaim(input: $i) { created } }", {"i": future})
    assert error_codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["field"] == "stated"
    body = editor(
        'mutation { reviseClaim(id: "c-minister", expectedVersion: 1, changes: {}, reason: "x") { version } }'
    )
    assert error_codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["field"] == "changes"
    assert api.tree_size() == size


def test_not_found_and_conflict_with_current_version(api: ApiEnv) -> None:
    editor = api.as_role("editor")
    size = api.tree_size()
    body = editor('mutation { retractClaim(id: "no-such-claim", expectedVersion: 1, reason: "r") { version } }')
    assert error_codes(body) == ["NOT_FOUND"]
    assert editor.data(RETRACT, {"v": 1})["retractClaim"]["version"] == 2
    body = editor(
        'mutation { reviseClaim(id: "c-minister", expectedVersion: 1, changes: {summary: "new"}, reason: "r") '
        "{ version } }"
    )
    assert error_codes(body) == ["CONFLICT"]
    assert body["errors"][0]["extensions"]["currentVersion"] == 2
    assert api.tree_size() == size + 1
    body = api.gql('{ inclusionProof(eventId: "999999") { leafHash } }')
    assert error_codes(body) == ["NOT_FOUND"]


def test_mutations_need_a_key_with_the_editor_role(api: ApiEnv) -> None:
    size = api.tree_size()
    assert error_codes(api.gql(TOPIC)) == ["UNAUTHENTICATED"]
    body = api.as_role("reader")(TOPIC)
    assert error_codes(body) == ["FORBIDDEN"] and "editor" in body["errors"][0]["message"]
    assert error_codes(api.gql(TOPIC, key="clk_not-a-real-key")) == ["UNAUTHENTICATED"]
    malformed = api.client.post("/graphql", json={"query": TOPIC}, headers={"Authorization": "Basic abc"}).json()
    assert error_codes(malformed) == ["UNAUTHENTICATED"]
    assert api.tree_size() == size
    assert api.as_role("editor").data(TOPIC)["defineTopic"]["changed"] is True
    assert api.as_role("admin").data(TOPIC)["defineTopic"]["changed"] is False  # admin >= editor; a repeat


def test_principal_is_recorded_on_events(api: ApiEnv) -> None:
    api.as_role("admin").data(TOPIC)
    events = api.gql.data("query ($a: String) { events(after: $a, first: 100) { nodes { type recordedBy } } }")
    last = events["events"]["nodes"][-1]
    assert last == {"type": "Topic.Defined", "recordedBy": "apikey:admin-key"}


def test_reads_are_open_but_an_invalid_key_is_refused(api: ApiEnv) -> None:
    assert api.gql.data("{ topics { key } }")["topics"]
    assert api.as_role("reader").data("{ topics { key } }")["topics"]
    assert error_codes(api.gql("{ topics { key } }", key="clk_wrong")) == ["UNAUTHENTICATED"]


def test_revoked_key_is_refused(api: ApiEnv) -> None:
    api.ledger.revoke_api_key("editor-key", "left the team", "test:admin")
    api.caught_up()
    body = api.as_role("editor")(TOPIC)
    assert error_codes(body) == ["UNAUTHENTICATED"] and "revoked" in body["errors"][0]["message"]


def test_reads_can_require_a_key(database_url: str) -> None:
    with api_env(database_url, require_key_for_reads=True) as api:
        body = api.gql("{ topics { key } }")
        assert error_codes(body) == ["UNAUTHENTICATED"] and body["data"] is None
        assert api.as_role("reader").data("{ topics { key } }")["topics"]


class _Broken:
    """A read model whose topics() fails the way a bug would."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def topics(self, known_at: Any = None) -> list[Any]:
        raise RuntimeError("secret internals: /var/lib/db password=hunter2")


def test_unexpected_errors_are_masked_and_logged(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    read_model = _Broken(open_read_model(database_url))
    with api_env(database_url, read_model=read_model) as api, caplog.at_level(logging.ERROR, logger="claims.api"):
        body = api.gql("{ topics { key } actors { key } }")
    assert body["data"] is None or body["data"].get("topics") is None
    [error] = body["errors"]
    assert error["message"] == "Internal server error." and error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" not in str(body)
    assert "hunter2" in caplog.text  # the operator sees what happened


def test_syntax_and_validation_errors_have_codes(api: ApiEnv) -> None:
    assert error_codes(api.gql("{ topics { key }")) == ["GRAPHQL_PARSE_FAILED"]
    assert error_codes(api.gql("{ topics { nope } }")) == ["GRAPHQL_VALIDATION_FAILED"]
    body = api.gql('{ claim(id: "c-minister", knownAt: "yesterday") { key } }')
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


def test_subscription_errors_are_coded(api: ApiEnv) -> None:
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json()["type"] == "connection_ack"
        query = 'subscription { ledgerEvents(types: ["Nope"]) { position } }'
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        message = ws.receive_json()
    assert error_codes(message["payload"]) == ["BAD_USER_INPUT"]
    assert message["payload"]["errors"][0]["extensions"]["field"] == "types[0]"


def test_a_subscription_that_does_not_parse_is_answered(api: ApiEnv) -> None:
    # The pipeline parses in strawberry's parsing hook, outside strawberry's own handling of parse errors:
    # a subscription got a bare "complete" (and the server logged a traceback) instead of these.
    from starlette.websockets import WebSocketDisconnect

    long = "subscription { ledgerEvents { position } }\n#" + "x" * 70_000
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": long}})
        message = ws.receive_json()
        assert message["type"] == "error" and message["payload"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
        assert "CLAIMS_MAX_QUERY_LENGTH" in message["payload"][0]["message"]
        # A syntax error closes the socket with 4400 and the error as the reason (graphql-transport-ws).
        ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": "subscription { ledgerEvents( }"}})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4400 and closed.value.reason.startswith("Syntax Error")
