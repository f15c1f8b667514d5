"""Bounded resources: per-client rate limits, subscription limits, statement timeouts."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import api_env, error_codes

from api.errors import coded
from projections.db import QueryTimeout
from projections.queries import open_read_model

TOPIC = 'mutation ($k: String!) { defineTopic(input: {key: $k, title: "T", proposition: "P"}) { changed } }'
# Counts for ever: only a statement timeout ends it.
ENDLESS = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) FROM n"


def test_reads_are_limited_per_client_with_a_429(database_url: str) -> None:
    with api_env(database_url, rate_reads=5, rate_writes=1) as api:
        api.services.reads.clock = api.services.writes.clock = lambda: 0.0  # no refill during the test
        for _ in range(5):
            assert api.gql.data("{ topics { key } }")
        response = api.client.post("/graphql", json={"query": "{ topics { key } }"})
        assert response.status_code == 429 and response.headers["retry-after"] == "12"
        body = response.json()
        assert error_codes(body) == ["RATE_LIMITED"] and "CLAIMS_RATE_LIMIT_READS" in body["errors"][0]["message"]
        assert body["errors"][0]["extensions"]["retryAfter"] == 12
        # Another client (a key counts by its name) has its own allowance.
        assert api.as_role("reader").data("{ topics { key } }")
        # Writes have their own, smaller one.
        editor = api.as_role("editor")
        assert editor.data(TOPIC, {"k": "one"})["defineTopic"]["changed"] is True
        size = api.tree_size()
        answer = api.client.post(
            "/graphql", json={"query": TOPIC, "variables": {"k": "two"}},
            headers={"Authorization": f"Bearer {api.keys['editor']}"},
        )  # fmt: skip
        assert answer.status_code == 429 and error_codes(answer.json()) == ["RATE_LIMITED"]
        assert api.tree_size() == size


def test_a_bucket_refills_over_time(database_url: str) -> None:
    with api_env(database_url, rate_reads=60) as api:
        now = [0.0]
        api.services.reads.clock = lambda: now[0]

        def status() -> int:
            code: int = api.client.post("/graphql", json={"query": "{ topics { key } }"}).status_code
            return code

        assert [status() for _ in range(61)] == [200] * 60 + [429]
        now[0] += 1.0  # one a second
        assert [status(), status()] == [200, 429]


def _subscribe(ws: Any, id: str) -> None:
    ws.send_json({"id": id, "type": "subscribe", "payload": {"query": "subscription { ledgerEvents { position } }"}})


@pytest.mark.parametrize(("settings", "says"), [
    ({"max_subscriptions_per_client": 2}, "CLAIMS_MAX_SUBSCRIPTIONS_PER_CLIENT"),
    ({"max_subscriptions_total": 2}, "CLAIMS_MAX_SUBSCRIPTIONS"),
])  # fmt: skip
def test_subscriptions_are_limited_per_client_and_in_total(
    database_url: str, settings: dict[str, int], says: str
) -> None:
    with api_env(database_url, **settings) as api:
        with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": {}})
            assert ws.receive_json()["type"] == "connection_ack"
            _subscribe(ws, "1")
            _subscribe(ws, "2")
            _subscribe(ws, "3")
            message = ws.receive_json()
        # The three start concurrently: one of them (whichever joins last) is refused.
        assert message["id"] in ("1", "2", "3") and message["type"] == "next"
        [error] = message["payload"]["errors"]
        assert error["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS" and says in error["message"]


def test_a_read_model_query_over_the_statement_timeout_is_cancelled(database_url: str) -> None:
    model = open_read_model(database_url, statement_timeout=0.2)
    try:
        with model.readers.connection() as conn, pytest.raises(QueryTimeout):
            conn.execute(ENDLESS)
        with model.readers.connection() as conn:  # the connection is still usable
            assert conn.execute("SELECT 1")[0][0] == 1
    finally:
        model.close()


def test_a_timeout_reaches_the_client_as_a_coded_error() -> None:
    from graphql.error import GraphQLError

    error = coded(GraphQLError("x", original_error=QueryTimeout("the query ran longer than 10 s")))
    assert error.extensions == {"code": "QUERY_TIMEOUT"} and "longer than" in error.message
