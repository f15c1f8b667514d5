"""Query depth, tokens, aliases, page size and body size limits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_support import ApiEnv, api_env, error_codes


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    limits = {"max_depth": 6, "max_tokens": 200, "max_query_length": 1500, "max_aliases": 3, "max_page_size": 2}
    with api_env(database_url, **limits, max_body_bytes=4096) as env:
        yield env


def test_depth_limit(api: ApiEnv) -> None:
    shallow = '{ claim(id: "c-minister") { source { claims { key } } } }'
    assert api.gql.data(shallow)["claim"]["source"]["claims"]
    deep = (
        '{ claim(id: "c-minister") { links { target { links { target { links { target { source { key } } } } } } } } }'
    )
    body = api.gql(deep)
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"] and "exceeds maximum operation depth" in str(body)


def test_alias_limit(api: ApiEnv) -> None:
    assert api.gql.data("{ a: topics { key } b: topics { key } c: topics { key } }")
    body = api.gql("{ a: topics { key } b: topics { key } c: topics { key } d: topics { key } }")
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"] and "aliases" in body["errors"][0]["message"]


def test_token_limit(api: ApiEnv) -> None:
    fields = " ".join(["key"] * 250)
    body = api.gql("{ topics { " + fields + " } }")
    assert error_codes(body) == ["GRAPHQL_PARSE_FAILED"] and "token" in body["errors"][0]["message"].lower()


def test_query_length_limit_counts_comments_and_nothing_keeps_the_refused_text(api: ApiEnv) -> None:
    # Comments are not tokens: without a length limit a valid document could be as long as the body limit,
    # and every cache keyed by the text would keep it.
    query = "{ topics { key } }"
    padded = query + "\n#" + "x" * (1500 - len(query) - 2)
    assert len(padded) == 1500 and api.gql.data(padded)["topics"]
    too_long = padded + "x"
    for _ in range(2):  # refused again: not answered from any cache
        body = api.client.post("/graphql", json={"query": too_long}).json()
        assert error_codes(body) == ["GRAPHQL_PARSE_FAILED"] and body.get("data") is None
        assert "1,501 characters long, more than the 1,500 allowed (CLAIMS_MAX_QUERY_LENGTH)" in body["errors"][0]["message"]
        answer = api.client.get("/graphql", params={"query": too_long})
        assert error_codes(answer.json()) == ["GRAPHQL_PARSE_FAILED"]
    assert all(len(text) <= 1500 for text, _ in api.app.state.prepared._kept)


def test_persisted_documents_are_bounded_by_their_characters() -> None:
    from api.web.http_cache import Documents

    documents = Documents(kept=10, max_chars=100)
    for n in range(3):
        documents.register(str(n) * 40, f"d{n}")
    assert [documents.text(f"d{n}") for n in range(3)] == [None, "1" * 40, "2" * 40]  # the oldest went first


def test_page_size_limit(api: ApiEnv) -> None:
    assert len(api.gql.data("{ claims(first: 2) { nodes { key } } }")["claims"]["nodes"]) == 2
    body = api.gql("{ claims(first: 3) { nodes { key } } }")
    assert error_codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["field"] == "first"
    body = api.gql("{ events(first: 50) { nodes { id } } }")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert len(api.gql.data("{ claims { nodes { key } } }")["claims"]["nodes"]) == 2  # default clamps to the max


def test_body_size_limit(api: ApiEnv) -> None:
    size = api.tree_size()
    big = "x" * 5000
    response = api.client.post(
        "/graphql",
        json={"query": "mutation ($t: String!) { registerSource(input: {key: \"big\", title: \"B\", text: $t, "
              "published: {date: \"2025\"}, language: \"en\", genre: NEWS}) { created } }", "variables": {"t": big}},
        headers={"Authorization": f"Bearer {api.keys['editor']}"},
    )  # fmt: skip
    assert response.status_code == 413
    # A chunked body (no Content-Length) is cut off too.
    chunks = iter([b'{"query": "{ topics { key } }", "pad": "', b"y" * 5000, b'"}'])
    response = api.client.post("/graphql", content=chunks, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert api.tree_size() == size


def test_body_size_limit_holds_on_the_warm_path_too(api: ApiEnv) -> None:
    """GET and POST alike, cold and once the same question has been answered (and cached)."""
    query = "{ topics { key } }"
    for _ in range(2):  # the second time the response cache and the seen requests know the question
        assert api.client.get("/graphql", params={"query": query}).status_code == 200
        body = api.client.request("GET", "/graphql", params={"query": query}, content=b"x" * 5000)
        assert body.status_code == 413, body.text
        assert api.client.post("/graphql", json={"query": query}).status_code == 200
        padded = {"query": query, "pad": "y" * 5000}  # within what the warm path reads, over the limit
        assert api.client.post("/graphql", json=padded).status_code == 413
