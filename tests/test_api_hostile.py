"""Hostile requests: every one gets a coded 4xx or GraphQL error, never a 500 or a masked
INTERNAL_SERVER_ERROR, leaks nothing of the server's insides and logs no traceback."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import ApiEnv, api_env, error_codes

# What must never reach a client: tracebacks, SQL, file paths, exception class names.
LEAKS = ("Traceback", ".py", "SELECT ", "sqlite", "psycopg", "/tmp/", "rm_")
EXCEPTION_NAME = re.compile(r"\b[A-Za-z]+(Error|Exception)\b")

SEARCH = "query ($s: String) { actors(search: $s) { key } }"
TEXT = "query ($s: String) { claims(filter: {text: $s}) { totalCount } }"
CLAIMS_AFTER = "query ($a: String) { claims(after: $a) { nodes { key } } }"
EVENTS_AFTER = "query ($a: String) { events(after: $a) { nodes { id } } }"
JSON = {"content-type": "application/json"}


@pytest.fixture
def api(database_url: str, caplog: pytest.LogCaptureFixture) -> Iterator[ApiEnv]:
    with api_env(database_url) as env, caplog.at_level(logging.INFO):
        yield env
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _clean(text: str, echoed: tuple[str, ...] = ()) -> None:
    # The caller's own strings may be quoted back (e.g. "no actor matches '...'"): that is no leak.
    for sent in echoed:
        text = text.replace(json.dumps(sent)[1:-1], "")
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked to the client: {text[:300]}"
    assert not EXCEPTION_NAME.search(text), f"an exception's name leaked to the client: {text[:300]}"


def _post(api: ApiEnv, **kwargs: Any) -> Any:
    response = api.client.post("/graphql", **kwargs)
    assert response.status_code < 500, response.text
    body = kwargs.get("json")
    variables = body.get("variables") if isinstance(body, dict) else None
    _clean(response.text, tuple(_strings(variables)))
    return response


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# Bodies that are not a GraphQL request at all: a plain 400 that says what is wrong.
MALFORMED_BODIES = {
    "null": (b"null", "JSON object"),
    "a JSON string": (b'"{ topics { key } }"', "JSON object"),
    "a JSON number": (b"42", "JSON object"),
    "invalid UTF-8 in the body": (b'{"query": "{ topics { key } }\xff"}', "UTF-8"),
    "invalid UTF-8 in variables": (b'{"query": "{ topics { key } }", "variables": {"s": "\xc3\x28"}}', "UTF-8"),
    "JSON nested 2,000 deep": (b'{"query": "{ topics { key } }", "variables": {"v": ' + b"[" * 2000 + b"]" * 2000 + b"}}",
                               "nested deeper"),
    "JSON nested 100 deep": (b'{"query": "{ topics { key } }", "variables": {"v": ' + b"[" * 100 + b"]" * 100 + b"}}",
                             "nested deeper"),
    "not JSON": (b"{query: nope", "JSON"),
}  # fmt: skip


@pytest.mark.parametrize("case", MALFORMED_BODIES)
def test_malformed_bodies_get_a_400_that_says_why(api: ApiEnv, case: str) -> None:
    body, says = MALFORMED_BODIES[case]
    response = _post(api, content=body, headers=JSON)
    assert response.status_code == 400 and says in response.text


def test_deep_json_in_a_get_query_gets_a_400(api: ApiEnv) -> None:
    response = api.client.get("/graphql", params={"query": "{ topics { key } }", "variables": "[" * 3000})
    assert response.status_code == 400 and "nested deeper" in response.text


def test_a_subscription_over_post_is_refused_with_a_400(api: ApiEnv) -> None:
    response = _post(api, json={"query": "subscription { ledgerEvents { position } }"})
    assert response.status_code == 400 and "WebSocket" in response.text


def test_two_operations_need_an_operation_name(api: ApiEnv) -> None:
    document = "query A { topics { key } } query B { actors { key } }"
    body = _post(api, json={"query": document}).json()
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"] and body["data"] is None
    assert "operation name" in body["errors"][0]["message"]
    chosen = _post(api, json={"query": document, "operationName": "B"}).json()
    assert {a["key"] for a in chosen["data"]["actors"]} == {"chancellor", "party-leader", "minister"}


@pytest.mark.parametrize(
    ("query", "cursor", "field"),
    [
        (CLAIMS_AFTER, _b64(f"1|2025-01-01|2025-01-01|{2**63}"), "after"),
        (CLAIMS_AFTER, _b64(f"1|2025-01-01|2025-01-01|{10**40}"), "after"),
        (CLAIMS_AFTER, _b64("1|2025-01-01|2025-01-01|-1"), "after"),
        (EVENTS_AFTER, _b64(f"event:{2**63}"), "after"),
        (EVENTS_AFTER, _b64(f"event:{10**40}"), "after"),
    ],
)
def test_cursors_with_huge_integers_are_bad_input(api: ApiEnv, query: str, cursor: str, field: str) -> None:
    body = _post(api, json={"query": query, "variables": {"a": cursor}}).json()
    assert error_codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["field"] == field


def test_the_largest_cursor_position_is_still_answered(api: ApiEnv) -> None:
    body = _post(api, json={"query": EVENTS_AFTER, "variables": {"a": _b64(f"event:{2**63 - 1}")}}).json()
    assert "errors" not in body and body["data"] == {"events": {"nodes": []}}


@pytest.mark.parametrize(("query", "field"), [(SEARCH, "search"), (TEXT, "filter.text")])
def test_a_megabyte_search_is_bad_input(api: ApiEnv, query: str, field: str) -> None:
    body = _post(api, json={"query": query, "variables": {"s": "%_" * 500_000}}).json()
    assert error_codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["field"] == field
    assert "200" in body["errors"][0]["message"]
    # Within the limit, LIKE's own wildcards are searched for literally.
    assert api.gql.data(query, {"s": "%_" * 100}) in ({"actors": []}, {"claims": {"totalCount": 0}})


@pytest.mark.parametrize("query", [SEARCH, TEXT])
@pytest.mark.parametrize(
    ("raw", "says"), [(b'"\\ud800"', "surrogate"), (b'"ch\\udfffan"', "surrogate"), (b'"cha\\u0000ncellor"', "NUL")]
)
def test_nul_and_lone_surrogates_in_variables_are_bad_input(api: ApiEnv, query: str, raw: bytes, says: str) -> None:
    body = b'{"query": "' + query.replace('"', '\\"').encode() + b'", "variables": {"s": ' + raw + b"}}"
    answer = _post(api, content=body, headers=JSON).json()
    assert error_codes(answer) == ["BAD_USER_INPUT"] and answer["errors"][0]["extensions"]["field"] == "$s"
    assert says in answer["errors"][0]["message"] and answer["data"] is None


@pytest.mark.parametrize(
    "document",
    [
        '{ actors(search: "cha\\u0000ncellor") { key } }',
        '{ claims(filter: {text: "\\ud800"}) { totalCount } }',
        '{ claim(id: "c-\\u0000minister") { key } }',
        '{ source(id: "berlin\\u0000") { key } }',
    ],
)
def test_nul_and_lone_surrogates_in_literals_are_bad_input(api: ApiEnv, document: str) -> None:
    body = _post(api, json={"query": document}).json()
    # graphql-core's lexer refuses a surrogate escape itself; NUL is ours to refuse.
    assert error_codes(body) in (["BAD_USER_INPUT"], ["GRAPHQL_PARSE_FAILED"]) and body["data"] is None
    assert ("NUL" in body["errors"][0]["message"]) == ("u0000" in document)


def test_nul_in_a_mutation_writes_nothing(api: ApiEnv) -> None:
    size = api.tree_size()
    mutation = 'mutation ($t: String!) { defineTopic(input: {key: "nul", title: $t, proposition: "P"}) { changed } }'
    body = api.as_role("editor")(mutation, {"t": "ti\x00tle"})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert api.tree_size() == size


@pytest.mark.parametrize(
    "request_",
    [
        {"content": b"null", "headers": JSON},
        {"json": {"query": SEARCH, "variables": {"s": "x" * 1000}}},
        {"json": {"query": EVENTS_AFTER, "variables": {"a": _b64(f"event:{2**64}")}}},
        {"json": {"query": "{ topics { nope } }"}},
    ],
)
def test_a_rejected_request_logs_one_line(api: ApiEnv, caplog: pytest.LogCaptureFixture, request_: Any) -> None:
    caplog.clear()
    _post(api, **request_)
    lines = [r for r in caplog.records if r.name.startswith("claims")]
    assert len(lines) == 1 and "\n" not in lines[0].getMessage() and lines[0].exc_info is None


INJECTIONS = [
    "' OR '1'='1",
    "x'); DROP TABLE ledger_events; --",
    '"; DELETE FROM rm_claim_versions; --',
    "%' UNION SELECT secret_sha256 FROM rm_api_keys --",
    "\\' OR 1=1 /*",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_through_every_string_argument_leaves_the_database_intact(api: ApiEnv, payload: str) -> None:
    from ledger.integrity.verify import verify

    size = api.tree_size()
    claims_before = api.gql.data("{ claims(first: 100) { totalCount } }")["claims"]["totalCount"]
    reads = [
        ("query ($s: String) { actors(search: $s) { key } }", {"s": payload}),
        ("query ($s: String) { claims(filter: {text: $s, actor: $s, topic: $s}) { totalCount } }", {"s": payload}),
        ("query ($s: String!) { position(actor: $s, topic: $s) { stance } }", {"s": payload}),
        ("query ($s: String!) { timeline(actor: $s, topic: $s) { stance } }", {"s": payload}),
        ("query ($s: ID!) { claim(id: $s) { key } source(id: $s) { key } }", {"s": payload}),
        ("query ($s: String) { claims(after: $s) { totalCount } events(after: $s) { treeSize } }", {"s": payload}),
        ("query ($s: [String!]) { positions { stance } }", {"s": [payload]}),
    ]
    for query, variables in reads:
        body = _post(api, json={"query": query, "variables": variables}).json()
        assert "INTERNAL_SERVER_ERROR" not in error_codes(body), body
    editor = api.as_role("editor")
    body = editor(
        "mutation ($i: ID!, $s: String!) { retractClaim(id: $i, expectedVersion: 1, reason: $s) { version } }",
        {"i": payload, "s": payload},
    )
    assert error_codes(body) == ["NOT_FOUND"]
    response = api.client.post(
        "/graphql", json={"query": "{ topics { key } }"}, headers={"Authorization": f"Bearer {payload}"}
    )
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]
    assert api.tree_size() == size
    assert api.gql.data("{ claims(first: 100) { totalCount } }")["claims"]["totalCount"] == claims_before
    assert verify(api.ledger.ledger_recorder).ok
