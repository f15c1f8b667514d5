"""The prepared HTTP path (api/graphql/prepared.py) answers exactly as strawberry's view does (both stores).

Two apps over the same seeded ledger, one with the prepared path (the default), one without
(``CLAIMS_PREPARED_HTTP=0``, the reference): every request is sent to both and the status, the
headers that matter and the JSON bodies must be equal (the basis' ``knownAt`` is the instant of each
answer, so it only has to be present in both). The requests: the frontend's own documents, the
README's kinds of query, and every way a request can fail (bad variables, unknown fields, limits,
cost, masked errors, keys, rate limits, GET and persisted queries, ETags).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from api_support import ApiEnv, api_env, error_codes

from api.graphql.prepared import PreparedOperations
from api.settings import Settings
from api.web.app import create_app
from projections.queries import ReadModel

VIEWS = Path(__file__).resolve().parent.parent / "api" / "web" / "src" / "views"
GRAPHQL_RESPONSE = "application/graphql-response+json"
HEADERS = ("content-type", "cache-control", "vary", "retry-after")


def frontend_documents() -> dict[str, str]:
    """The documents the frontend sends (``const NAME = `...`;`` in its views, template fields expanded)."""
    found: dict[str, str] = {}
    for path in sorted(VIEWS.glob("*.js")):
        text = path.read_text(encoding="utf-8")
        consts = dict(re.findall(r"(?:export )?const ([A-Z_]+) = `(.*?)`;", text, flags=re.S))
        for name, body in consts.items():
            expanded = re.sub(r"\$\{([A-Z_]+)\}", lambda m: consts.get(m.group(1), m.group(0)), body)  # noqa: B023 (called at once)
            if re.match(r"\s*(query|fragment)\b", expanded) and "${" not in expanded:
                found[f"{path.stem}.{name}"] = expanded
    return found


@dataclass
class Pair:
    """The same ledger served twice: ``fast`` with the prepared path, ``reference`` without."""

    env: ApiEnv
    reference: Any  # starlette TestClient
    answered: list[int]  # prepared answers given by ``fast`` (the path really ran)

    def send(self, method: str = "POST", body: Any = None, params: Any = None, **headers: str) -> Any:
        """Send to both; assert they answer alike; the fast path's response."""
        fast = self.env.client.request(method, "/graphql", json=body, params=params, headers=headers)
        slow = self.reference.request(method, "/graphql", json=body, params=params, headers=headers)
        assert fast.status_code == slow.status_code, (fast.text, slow.text)
        for name in HEADERS:
            assert fast.headers.get(name) == slow.headers.get(name), name
        assert ("etag" in fast.headers) == ("etag" in slow.headers)
        assert_alike(_normal(fast), _normal(slow))
        return fast


def assert_alike(fast: Any, slow: Any) -> None:
    """Equal answers; except that when a non-null root field's error nulls ``data``, the spec lets an
    execution report or omit the errors of sibling fields still running (graphql-core cancels them:
    which finish first is timing), so there the shorter list of errors must all be in the longer one."""
    if not (isinstance(fast, dict) and isinstance(slow, dict) and fast.get("data", 0) is None is slow.get("data", 0)):
        assert fast == slow
        return
    assert {k: v for k, v in fast.items() if k != "errors"} == {k: v for k, v in slow.items() if k != "errors"}
    short, long = sorted((fast["errors"], slow["errors"]), key=len)
    assert short and all(error in long for error in short), (fast["errors"], slow["errors"])


def _normal(response: Any) -> Any:
    if "json" not in response.headers.get("content-type", ""):
        return response.text
    if not response.content:
        return None
    body = response.json()
    basis = (body.get("extensions") or {}).get("basis") if isinstance(body, dict) else None
    if isinstance(basis, dict) and basis.get("knownAt") is not None and not basis.get("pinned"):
        basis["knownAt"] = "(the answer's instant)"
    return body


def pair_of(database_url: str, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Iterator[Pair]:
    from starlette.testclient import TestClient

    with api_env(database_url, **settings) as env:
        prepared: PreparedOperations = env.app.state.prepared
        answered: list[int] = []
        execute = prepared.execute

        async def counted(*args: Any) -> Any:
            result = await execute(*args)
            if result is not None:
                answered.append(1)
            return result

        monkeypatch.setattr(prepared, "execute", counted)
        reference = create_app(
            Settings.from_env(
                {},
                database_url=database_url,
                projector="external",
                key_cache_seconds=0.0,
                prepared_http=False,
                **settings,
            )
        )
        assert reference.state.prepared is None
        with TestClient(reference) as client:
            yield Pair(env, client, answered)


@pytest.fixture
def pair(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pair]:
    yield from pair_of(database_url, monkeypatch)


VALUES: dict[str, Any] = {
    "actor": "chancellor",
    "topic": "taurus",
    "key": "chancellor",
    "asOf": "2025-06-01",
    "statedTo": "2025-12-31",
    "id": "c-taurus-yes",
    "source": "berlin-interview",
    "q": "taurus",
    "withTopics": True,
}


def variables_for(document: str, **changes: Any) -> dict[str, Any]:
    names = re.findall(r"\$(\w+)\s*:", document)
    return {name: changes.get(name, VALUES.get(name)) for name in names}


def test_the_frontends_documents_answer_alike(pair: Pair) -> None:
    documents = frontend_documents()
    assert {"matrix.MATRIX_QUERY", "claim.CLAIM_QUERY", "timeline.TOPIC_QUERY"} <= set(documents)
    for document in documents.values():
        if not document.lstrip().startswith("query"):
            continue
        for changes in ({}, {"knownAt": "2020-01-01T00:00:00Z"}, {"id": "no-such-claim", "q": ""}):
            pair.send(body={"query": document, "variables": variables_for(document, **changes)})
    assert len(pair.answered) >= 3 * 6  # the prepared path answered them (not strawberry)


QUERIES = [
    # the README's kinds of question
    (
        "query P($a: String!, $t: String!, $d: Date) { position(actor: $a, topic: $t, asOf: $d) { stance "
        "since { date precision } claim { key summary quote passage { exact } source { title } } } }",
        {"a": "chancellor", "t": "taurus", "d": "2025-06-01"},
    ),
    ("{ positions { actor { key name } topic { key } stance } }", None),
    ('{ timeline(actor: "chancellor", topic: "taurus") { stance claim { key } } }', None),
    (
        "query C($first: Int) { claims(first: $first) { nodes { key stance } totalCount pageInfo { hasNextPage } } }",
        {"first": 2},
    ),
    ('{ actors(search: "min") { key name aliases } topics { key title } sources { key title } }', None),
    ('{ flips(actor: "chancellor", topic: "taurus") { nodes { label } } }', None),
    ("{ flipSummaries { actor { key } topic { key } } }", None),
    # aliases, fragments, directives, __typename
    (
        'query F($skip: Boolean!) { a: claim(id: "c-taurus-no") { ...C } b: claim(id: "c-minister") '
        "@skip(if: $skip) { ...C } } fragment C on Claim { __typename key stance actor { name } }",
        {"skip": False},
    ),
    # errors in execution: coded, the rest of the answer kept
    ('{ position(actor: "nobody", topic: "taurus") { stance } topics { key } }', None),
    ('{ position(actor: "", topic: "taurus") { stance } }', None),
    ("{ claims(first: 100000) { totalCount } }", None),
    # variables: wrong types, missing, null for non-null, extra, a NUL
    ("query C($first: Int) { claims(first: $first) { totalCount } }", {"first": "ten"}),
    ('query P($a: String!) { position(actor: $a, topic: "taurus") { stance } }', {}),
    ('query P($a: String!) { position(actor: $a, topic: "taurus") { stance } }', {"a": None}),
    ('query P($a: String!) { position(actor: $a, topic: "taurus") { stance } }', {"a": "x\u0000y"}),
    (
        'query P($d: Date) { position(actor: "chancellor", topic: "taurus", asOf: $d) { stance } }',
        {"d": "not a date"},
    ),
    ("query P($d: Date) { positions(asOf: $d) { stance } }", {"d": "2025-06-01", "unused": [1, 2]}),
    # documents strawberry refuses before execution
    ("{ position { nope } }", None),
    ("{ topics { key ", None),
    ("{ " + "a: topics { key } " * 40 + "}", None),  # aliases
    (
        "{ claims { nodes { source { claims { nodes { source { claims { nodes { source { claims { nodes { key } } } } } }"
        " } } } } } }",
        None,
    ),
    ("{ sources { claims { nodes { source { claims { nodes { source { text } } } } } } } }", None),  # cost
    ('{ topics(search: "a\\u0000b") { key } }', None),
    ("query A { topics { key } } query B { actors { key } }", None),
    ('mutation { defineTopic(input: {key: "x", title: "X", proposition: "p"}) { topic { key } } }', None),
    ("subscription { ledgerEvents { id } }", None),
    ("{ ledgerDigest { treeSize rootHash } }", None),  # the log: never cached, still alike
]


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
def test_queries_and_their_errors_answer_alike(pair: Pair, accept: str) -> None:
    for query, variables in QUERIES:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        pair.send(body=body, accept=accept)
    # operation names: the named one, an unknown one, one of several
    two = "query A { topics { key } } query B { actors { key } }"
    for name in ("A", "B", "C", ""):
        pair.send(body={"query": two, "operationName": name}, accept=accept)
    assert len(pair.answered) >= 12


def test_malformed_bodies_answer_alike(pair: Pair) -> None:
    for raw in (
        b"{",
        b"[]",
        b"5",
        b'{"query": 5}',
        b'{"query": "{ topics { key } }", "variables": [1]}',
        b'{"query": "{ topics { key } }", "extensions": "x"}',
        b'{"query": ""}',
        b'{"query": "{ topics { key } }", "operationName": 7}',
        b'{"query": "query Q($n: Int) { claims(first: $n) { totalCount } }", "variables": {"n": NaN}}',
        b'{"query": "query Q($n: Int) { claims(first: $n) { totalCount } }", '
        b'"variables": {"n": 123456789012345678901234567890}}',
        b'{"query": "query Q($s: String) { topics(search: $s) { key } }", "variables": {"s": "\\ud800"}}',
        b'\xef\xbb\xbf{"query": "{ topics { key } }"}',
        b'{"query": "{ topics { key } }", "variables": ' + b'{"a":' * 40 + b"1" + b"}" * 40 + b"}",
    ):
        for content_type in ("application/json", "application/json; charset=utf-8", "text/plain"):
            fast = pair.env.client.post("/graphql", content=raw, headers={"content-type": content_type})
            slow = pair.reference.post("/graphql", content=raw, headers={"content-type": content_type})
            assert (fast.status_code, _normal(fast)) == (slow.status_code, _normal(slow)), raw


def test_get_persisted_queries_and_etags_answer_alike(pair: Pair) -> None:
    query = "query P($a: String!, $t: String!) { position(actor: $a, topic: $t) { stance claim { key } } }"
    variables = json.dumps({"a": "chancellor", "t": "ceasefire"})
    digest = hashlib.sha256(query.encode()).hexdigest()
    # unknown hash (both: PERSISTED_QUERY_NOT_FOUND), then the text registers it in each app
    pair.send("GET", params={"id": digest, "variables": variables})
    pair.send("GET", params={"query": query, "variables": variables})
    for params in (
        {"id": digest, "variables": variables},
        {"id": digest, "variables": json.dumps({"a": "party-leader", "t": "ceasefire"})},
        {"id": digest, "variables": "null"},
        {"id": digest, "variables": ""},
        {"id": digest, "variables": "[1]"},
        {"id": digest, "variables": variables, "operationName": ""},
        {"query": query, "variables": json.dumps({"a": "minister", "t": "ceasefire"}), "extensions": "null"},
        {"query": "{ topics { key } }"},
    ):
        pair.send("GET", params=params)
        pair.send("GET", params=params, accept=GRAPHQL_RESPONSE)
    ask = {"query": query, "variables": {"a": "chancellor", "t": "taurus"}}
    apq = {"variables": {"a": "minister", "t": "ceasefire"}, "extensions": {"persistedQuery": {"sha256Hash": digest}}}
    pair.send(body=ask)
    pair.send(body=apq)
    for client in (pair.env.client, pair.reference):  # each app's own ETag (the answers' instants differ)
        etag = client.post("/graphql", json=ask).headers["etag"]
        not_modified = client.post("/graphql", json=ask, headers={"if-none-match": f'"x", {etag}'})
        assert (not_modified.status_code, not_modified.content, not_modified.headers["etag"]) == (304, b"", etag)
    pinned = {**ask, "extensions": {"atTreeSize": pair.env.tree_size()}}
    assert "immutable" in pair.send(body=pinned).headers["cache-control"]
    pair.send(body={**ask, "extensions": {"atTreeSize": 10**6}})
    pair.send(body={**ask, "extensions": {"atTreeSize": "x"}})
    assert len(pair.answered) >= 6


def test_blank_parameters_answer_alike_cold_and_warm(pair: Pair) -> None:
    """A GET's parameters are read as strawberry reads them (the last of each name, a blank one kept): a
    blank ``variables``, ``operationName``, ``extensions`` or ``query`` is strawberry's 400, never the
    answer cached for the same query without it (nor the prepared path's)."""
    for query in ("{ topics { key } }", "{ actors { key } }"):
        blanks: list[list[tuple[str, str]]] = [
            [("query", query), ("variables", "")],
            [("query", query), ("operationName", "")],
            [("query", query), ("extensions", "")],
            [("query", query), ("query", "")],
            [("query", ""), ("query", query)],  # (the last one counts: an answer)
            [("query", query), ("utm", "")],  # (a parameter GraphQL does not read: an answer)
        ]
        for warm in (False, True):
            if warm:  # the same query without the blank parameter has filled the response cache
                pair.send("GET", params={"query": query})
                pair.send("GET", params={"query": query})
            for params in blanks:
                for accept in ("application/json", GRAPHQL_RESPONSE):
                    answer = pair.send("GET", params=params, accept=accept)
                    assert answer.status_code == (200 if params[-1][0] == "utm" or params[0][1] == "" else 400)
        # a POST body of the same shapes: operationName "" and extensions that are not an object
        pair.send(body={"query": query})
        for body in ({"query": query, "operationName": ""}, {"query": query, "extensions": "x"}):
            assert pair.send(body=body).status_code == 400


def test_callers_with_keys_without_and_with_bad_ones_answer_alike(pair: Pair) -> None:
    body = {
        "query": 'query P($a: String!) { position(actor: $a, topic: "taurus") { stance } }',
        "variables": {"a": "chancellor"},
    }
    for accept in ("application/json", GRAPHQL_RESPONSE):
        reader = pair.send(body=body, accept=accept, authorization=f"Bearer {pair.env.keys['reader']}")
        assert reader.headers["cache-control"] == "private, no-cache"
        pair.send(body=body, accept=accept, authorization="Bearer not-a-key")
        pair.send(body=body, accept=accept, authorization="Basic abc")


def test_reads_that_need_a_key_and_rate_limits_answer_alike(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for pair in pair_of(database_url, monkeypatch, require_key_for_reads=True, rate_reads=3):
        body = {"query": "{ topics { key } }"}
        pair.send(body=body)
        pair.send(body=body, accept=GRAPHQL_RESPONSE)
        key = f"Bearer {pair.env.keys['reader']}"
        for number in range(5):  # the key's allowance (3 a minute) runs out in both apps alike
            answer = pair.send(body={"query": f"{{ topics {{ key }} a{number}: actors {{ key }} }}"}, authorization=key)
        assert answer.status_code == 429 and answer.headers["retry-after"]


def test_unexpected_errors_are_masked_alike(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail of a failure")

    monkeypatch.setattr(ReadModel, "topics", broken)
    for accept in ("application/json", GRAPHQL_RESPONSE):
        answer = pair.send(body={"query": "{ topics { key } actors { key } }"}, accept=accept)
        assert "secret" not in answer.text and "INTERNAL_SERVER_ERROR" in answer.text
    assert pair.answered


def test_leaf_variables_are_coerced_as_graphql_core_coerces_them() -> None:
    """``compiled.coerce_leaf_variables`` gives graphql-core's answer, or leaves the request to it."""
    from graphql import GraphQLError, OperationDefinitionNode, parse
    from graphql.execution.values import get_variable_values

    from api.graphql.compiled import Operation, coerce_leaf_variables, leaf_signatures
    from api.graphql.schema import build_schema

    schema = build_schema()._schema
    document = parse(
        "query Q($a: String!, $d: Date, $k: DateTime, $n: Int, $b: Boolean!, $s: Stance) "
        "{ position(actor: $a, topic: $a, asOf: $d, knownAt: $k) { stance } "
        "claims(first: $n) @include(if: $b) { totalCount } }"
    )
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    good = {"a": "x", "d": "2025-01-31", "k": "2025-01-31T10:00:00Z", "n": 3, "b": True, "s": "SUPPORTS"}
    cases: list[dict[str, Any]] = [
        good,
        {"a": "x", "b": False},
        {**good, "d": None, "n": None, "s": None},
        {**good, "a": None},
        {**good, "b": "yes"},
        {**good, "n": 2**40},
        {**good, "n": 1.5},
        {**good, "d": "2025-02-30"},
        {**good, "k": 5},
        {**good, "s": "MAYBE"},
        {**good, "a": ["x"]},
        {**good, "a": {"nested": [1]}},
        {"b": True},
        {},
    ]
    signatures = leaf_signatures(schema, operation)
    assert signatures is not None and coerce_leaf_variables(signatures, good) is not None  # (the short way ran)
    for inputs in cases:
        fast = Operation(document, operation).variables(schema, inputs)
        reference = get_variable_values(schema, operation.variable_definitions or (), inputs, max_errors=50)
        if isinstance(reference, list):
            assert isinstance(fast, list) and [str(e) for e in fast] == [str(e) for e in reference], inputs
            assert all(isinstance(e, GraphQLError) for e in fast)
        else:
            assert not isinstance(fast, list), inputs
            assert fast.coerced == reference.coerced, inputs

            def sources(values: Any) -> dict[str, Any]:
                return {k: (s.signature.name, str(s.signature.type), s.value) for k, s in values.sources.items()}

            assert sources(fast) == sources(reference), inputs


def test_an_estimate_is_reused_while_it_reads_no_variable_and_made_per_request_when_it_does(database_url: str) -> None:
    """Literal arguments (``claims(first: 2)``) read no variable: the estimate is kept per collection
    sizes. ``claims(first: $n)`` reads one: estimated per request, so each value gets its own verdict."""
    with api_env(database_url, response_cache_bytes=0, max_cost_anonymous=10) as env:
        prepared: PreparedOperations = env.app.state.prepared
        for query, fits in (
            ("{ claims(first: 2) { nodes { key } } }", True),
            ('{ positions(actor: "chancellor", topic: "taurus") { stance } claims(first: 1) { totalCount } }', True),
            ("{ claims(first: 50) { nodes { key } } }", False),
        ):
            for _ in range(2):
                codes = error_codes(env.client.post("/graphql", json={"query": query}).json())
                assert codes == ([] if fits else ["QUERY_TOO_COSTLY"]), query
            if fits:
                costs = prepared._kept[(query, None)]
                assert costs is not None and costs.costs, query  # the estimate was kept (not made per request)
        sized = "query Q($n: Int) { claims(first: $n) { nodes { key } } }"
        for n, fits in ((2, True), (50, False), (1, True), (50, False)):
            codes = error_codes(env.client.post("/graphql", json={"query": sized, "variables": {"n": n}}).json())
            assert codes == ([] if fits else ["QUERY_TOO_COSTLY"]), n
        entry = prepared._kept[(sized, None)]
        assert entry is not None and entry.costs is None


def _names_used(module: Any) -> set[str]:
    """Every global or attribute name the module's functions and methods refer to."""
    import types

    names: set[str] = set()
    codes = [v.__code__ for v in vars(module).values() if isinstance(v, types.FunctionType)]
    for cls in (v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__):
        codes += [f.__code__ for f in vars(cls).values() if isinstance(f, types.FunctionType)]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return names


def test_the_prepared_path_makes_every_decision_read_access_makes() -> None:
    """``ReadAccess`` and the prepared path check in their own orders; every check ReadAccess calls must be
    listed in ``prepared.READ_ACCESS_CHECKS`` with the function the prepared path (or the HTTP cache in
    front of it) calls for the same decision. A check added to ReadAccess alone fails here."""
    import inspect

    from api.graphql import limits, prepared
    from api.web import http_cache

    checks = {
        name
        for name in limits.ReadAccess.on_execute.__code__.co_names
        if inspect.isfunction(getattr(limits, name, None)) and getattr(limits, name).__module__ == limits.__name__
    }
    assert checks == set(prepared.READ_ACCESS_CHECKS), "a ReadAccess check the prepared path does not list"
    used = _names_used(prepared) | _names_used(http_cache)
    assert set(prepared.READ_ACCESS_CHECKS.values()) <= used
    for name in prepared.READ_ACCESS_CHECKS.values():
        assert inspect.isfunction(getattr(limits, name)), name
