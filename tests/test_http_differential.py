"""The HTTP fast paths answer generated documents as the app without them does (both stores).

Two apps over the same ledger (the demo corpus; a generated ledger with revisions, retractions and links):
``fast`` as served (the response cache and ``WarmFront``, the prepared path, compiled execution) and
``reference`` with all three off (``CLAIMS_RESPONSE_CACHE_BYTES=0``, ``CLAIMS_PREPARED_HTTP=0``,
``CLAIMS_COMPILED_EXECUTION=0``: strawberry's view and graphql-core's execution, behind the same reading
of the request and writing of the answer, so a defect there shows on both sides and is not caught here).
Each generated document (``generated_queries.Rewriter``: aliases, fragments, ``@skip``/``@include``,
variables, real keys) is sent:

* as a POST to both, unpinned and pinned (``extensions.atTreeSize``), and pinned again without its record-time
  arguments (hypothesis-graphql writes every argument: with a ``knownAt``, even null, a pinned answer is never
  kept under the pinned key), with a random ``Accept``;
* again to ``fast``: now from its response cache (through ``WarmFront`` when anonymous; the cache's hit count
  must move exactly for an answer it kept), same status and, for an answer it kept, the same bytes and ETag,
  and ``If-None-Match`` with that ETag answers 304;
* as a GET (query in the URL) and, once registered, as a GET of its persisted id, to ``fast``.

Every answer must be the reference's: status, content type, ``data``, ``extensions`` and errors (but for
the errors a null propagation may or may not drop, ``generated_queries.same_errors``); unpinned answers
with what they read from the clock (``knownAt``) masked. tests/test_compiled_execution.py compares the
executions alone; tests/test_prepared_http.py hand-written requests. A longer run:
``CLAIMS_FUZZ_EXAMPLES=500``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from generated_queries import (
    SCALARS,
    SCHEMA,
    Rewriter,
    all_claims,
    fill_ledger,
    masked,
    same_errors,
    same_extensions,
)
from graphql import REMOVE, FieldNode, VariableDefinitionNode, VariableNode, Visitor, parse, print_ast, visit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries

from api.settings import Settings
from api.web.app import create_app
from api.web.http_cache import RECORD_TIME_ARGUMENTS
from projections.projector import Projector

EXAMPLES = int(os.environ.get("CLAIMS_FUZZ_EXAMPLES", "20"))
GRAPHQL_RESPONSE = "application/graphql-response+json"
ACCEPTS = (None, "application/json", GRAPHQL_RESPONSE, f"{GRAPHQL_RESPONSE}, application/json;q=0.9")


@dataclass
class Apps:
    """The same ledger served by the fast paths and by strawberry's view alone."""

    fast: Any  # starlette TestClient
    reference: Any
    size: int  # the ledger's tree size (the pin)
    keys: dict[str, list[str]]  # argument name -> real values of the ledger
    cache: Any  # the fast app's ResponseCache

    def answers_alike(self, fast: Any, reference: Any, pinned: bool, what: str) -> None:
        assert fast.status_code == reference.status_code, (what, fast.text, reference.text)
        assert fast.headers.get("content-type") == reference.headers.get("content-type"), what
        if "json" not in fast.headers.get("content-type", ""):
            assert fast.text == reference.text, what
            return
        mine, theirs = fast.json(), reference.json()
        if not pinned:  # (a pinned answer reads no clock: compared as it is)
            mine, theirs = masked(mine), masked(theirs)
        assert mine.get("data") == theirs.get("data"), (what, mine, theirs)
        assert json.dumps(mine.get("data")) == json.dumps(theirs.get("data")), (what, "key order differs")
        errored = bool(mine.get("errors") or theirs.get("errors"))
        same_extensions(mine.get("extensions") or {}, theirs.get("extensions") or {}, errored, what)
        same_errors(_result(mine), _result(theirs), what)


def without_record_times(document: str, variables: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The document without the arguments that give a record time (``knownAt``, ``changes``' ``to``) and
    the variables only they used."""

    class Strip(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> FieldNode:
            kept = tuple(
                a for a in node.arguments or ()
                if (None, a.name.value) not in RECORD_TIME_ARGUMENTS
                and (node.name.value, a.name.value) not in RECORD_TIME_ARGUMENTS
            )  # fmt: skip
            return FieldNode(
                alias=node.alias, name=node.name, arguments=kept, directives=node.directives,
                selection_set=node.selection_set,
            )  # fmt: skip

    stripped = visit(parse(document), Strip())
    used: set[str] = set()

    class Used(Visitor):
        def enter_variable(self, node: VariableNode, key: Any, parent: Any, *_: Any) -> None:
            if not isinstance(parent, VariableDefinitionNode):
                used.add(node.name.value)

    visit(stripped, Used())

    class Unused(Visitor):
        def enter_variable_definition(self, node: VariableDefinitionNode, *_: Any) -> Any:
            return None if node.variable.name.value in used else REMOVE

    stripped = visit(stripped, Unused())
    return print_ast(stripped), {k: v for k, v in variables.items() if k in used}


def _result(body: dict[str, Any]) -> Any:
    """A response body as ``same_errors`` reads results (``data``; ``errors`` with ``formatted``)."""
    errors = [SimpleNamespace(formatted=e) for e in body.get("errors") or ()]
    return SimpleNamespace(data=body.get("data"), errors=errors or None)


@pytest.fixture(params=["demo", "generated"])
def apps(request: pytest.FixtureRequest, database_url: str, capsys: pytest.CaptureFixture[str]) -> Iterator[Apps]:
    from starlette.testclient import TestClient

    fill_ledger(request.param, database_url, capsys)
    projector = Projector(database_url)
    projector.catch_up()
    projector.close()
    common: dict[str, Any] = {"database_url": database_url, "projector": "external", "rate_reads": 0}
    fast = create_app(Settings.from_env({}, **common))
    reference = create_app(
        Settings.from_env({}, response_cache_bytes=0, prepared_http=False, compiled_execution=False, **common)
    )
    assert fast.state.prepared is not None and reference.state.prepared is None
    with TestClient(fast) as fast_client, TestClient(reference) as reference_client:
        read_model = fast.state.services.read_model
        size = read_model.tree_size()
        assert read_model.wait_for(size, 30.0)
        keys = {
            "actor": [a.key for a in read_model.actors(None, None)],
            "topic": [t.key for t in read_model.topics(None)],
            "id": [v.key for v in read_model.claims(all_claims(), 200, None, None).items],
            "source": [s.key for s in read_model.sources(None)],
        }
        yield Apps(fast_client, reference_client, size, keys, fast.state.response_cache)


def test_generated_documents_answer_alike_through_every_http_path(apps: Apps) -> None:
    sent = {"cached": 0, "data": 0, "immutable": 0}

    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )  # fmt: skip
    @given(query=queries(SCHEMA, custom_scalars=SCALARS), rng=st.randoms(use_true_random=False))  # type: ignore[arg-type]
    def check(query: str, rng: random.Random) -> None:
        document, variables = Rewriter(rng, apps.keys, apps.size).document(query)
        headers = {"accept": accept} if (accept := rng.choice(ACCEPTS)) else {}
        plain: dict[str, Any] = {"query": document, "variables": variables}
        # hypothesis-graphql writes every argument, so nearly every document gives a knownAt (null or not),
        # which a pin does not freeze (never kept under the pinned key): pinned again without them.
        frozen_document, frozen_variables = without_record_times(document, variables)
        frozen = {"query": frozen_document, "variables": frozen_variables}
        for pinned, asked in ((False, plain), (True, plain), (True, frozen)):
            body = {**asked, "extensions": {"atTreeSize": apps.size}} if pinned else asked
            what = json.dumps(body)
            first = apps.fast.post("/graphql", json=body, headers=headers)
            apps.answers_alike(first, apps.reference.post("/graphql", json=body, headers=headers), pinned, what)
            hits = apps.cache.hits
            again = apps.fast.post("/graphql", json=body, headers=headers)  # (from the cache, if it kept it)
            # Kept: an answer with an ETag, but a pinned one the pin does not freeze (not immutable). A pinned
            # answer computed again has the same bytes and ETag: only the count tells that it was reused.
            kept = "etag" in first.headers and (not pinned or "immutable" in first.headers["cache-control"])
            assert apps.cache.hits == hits + kept, (what, first.headers)
            sent["immutable"] += pinned and kept
            apps.answers_alike(again, apps.reference.post("/graphql", json=body, headers=headers), pinned, what)
            etag = first.headers.get("etag")
            sent["data"] += first.status_code == 200 and first.json().get("data") is not None
            if etag is None:
                continue
            sent["cached"] += 1
            assert (again.content, again.headers.get("etag")) == (first.content, etag), what
            assert apps.fast.post("/graphql", json=body, headers={**headers, "if-none-match": etag}).status_code == 304
        params = {"query": document, "variables": json.dumps(variables)}
        by_text = apps.fast.get("/graphql", params=params, headers=headers)
        apps.answers_alike(by_text, apps.reference.get("/graphql", params=params, headers=headers), False, document)
        if by_text.headers.get("etag") is not None:  # (a document that answered is registered)
            digest = hashlib.sha256(document.encode("utf-8")).hexdigest()
            by_id = apps.fast.get("/graphql", params={"id": digest, "variables": params["variables"]}, headers=headers)
            apps.answers_alike(by_id, apps.reference.get("/graphql", params=params, headers=headers), False, document)

    check()
    # worth something only if the fast paths kept and answered: most documents answer with data
    # (of two requests per document; 130 and 262 of 300 documents with CLAIMS_FUZZ_EXAMPLES=300)
    assert sent["cached"] >= EXAMPLES * 0.3 and sent["data"] >= EXAMPLES * 0.5, sent
    assert sent["immutable"] >= EXAMPLES * 0.1, sent  # pinned answers kept under the pinned key


def test_the_comparison_sees_a_difference(apps: Apps) -> None:
    """The harness fails when the answers differ (a changed field value, a missing error)."""
    query = {"query": "{ actors { key name } }"}
    fast, reference = apps.fast.post("/graphql", json=query), apps.reference.post("/graphql", json=query)
    apps.answers_alike(fast, reference, False, "same")
    tampered = SimpleNamespace(
        status_code=200,
        headers=fast.headers,
        text=fast.text.replace(apps.keys["actor"][0], "someone-else", 1),
        json=lambda: json.loads(fast.text.replace(apps.keys["actor"][0], "someone-else", 1)),
    )
    with pytest.raises(AssertionError):
        apps.answers_alike(tampered, reference, False, "tampered")
    failing = {"query": '{ position(actor: "nobody-at-all", topic: "none") { stance } }'}
    with_error = apps.reference.post("/graphql", json=failing)
    assert with_error.json()["errors"], "the reference answers an unknown name with an error"
    without = SimpleNamespace(
        status_code=with_error.status_code, headers=with_error.headers, text=with_error.text,
        json=lambda: {**with_error.json(), "errors": []},
    )  # fmt: skip
    with pytest.raises(AssertionError):
        apps.answers_alike(without, with_error, False, "missing error")
