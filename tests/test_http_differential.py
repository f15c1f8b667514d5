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

A second test puts a correction between an answer and its repeat: a ``reviseClaim`` through ``fast`` (which
projects in process, so its read-your-writes wait is the one that tells its cache), then the same requests
again. Unpinned, the answer must be the reference's (a stale entry shows in the data or, at least, in the
basis' ``treeSize``); pinned, it must be the reference's and, for a document the pin freezes that answered
without errors, the answer of before the correction, byte for byte when it was sent ``immutable``. (A cache
that froze pinned answers with a ``knownAt`` of their own fails it with ``CLAIMS_FUZZ_EXAMPLES=60``, not
always with the default 20: tests/test_api_http_cache.py has that case by hand.)

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
from factories import ACTORS, TOPICS, World
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
from graphql import (
    REMOVE,
    FieldNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    parse,
    print_ast,
    visit,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries

from api.graphql.cost import QUERY_TOO_COSTLY
from api.settings import Settings
from api.web.app import create_app
from api.web.http_cache import LOG_FIELDS, RECORD_TIME_ARGUMENTS, UNPINNED_FIELDS
from ledger import commands as c
from ledger.application import ClaimsLedger
from projections.projector import Projector

EXAMPLES = int(os.environ.get("CLAIMS_FUZZ_EXAMPLES", "20"))
GRAPHQL_RESPONSE = "application/graphql-response+json"
ACCEPTS = (None, "application/json", GRAPHQL_RESPONSE, f"{GRAPHQL_RESPONSE}, application/json;q=0.9")


@dataclass
class Apps:
    """The same ledger served by the fast paths and by strawberry's view alone."""

    fast: Any  # starlette TestClient
    reference: Any
    size: int  # the ledger's tree size before any correction (the pin)
    keys: dict[str, list[str]]  # argument name -> real values of the ledger
    cache: Any  # the fast app's ResponseCache
    editor_key: str
    url: str  # the ledger's database
    apps: tuple[Any, Any]  # (fast, reference) Starlette apps

    def post_both(self, body: dict[str, Any], headers: dict[str, str], pinned: bool, what: str) -> Any:
        """``body`` POSTed to both apps, the answers compared; the fast app's answer."""
        fast = self.fast.post("/graphql", json=body, headers=headers)
        self.answers_alike(fast, self.reference.post("/graphql", json=body, headers=headers), pinned, what)
        return fast

    def post_pinned(self, body: dict[str, Any], headers: dict[str, str], frozen: bool) -> Any:
        """As :meth:`post_both` for a pinned body, but for one difference the product means, where the pin freezes
        the answer (``frozen``: then the test compares it with the answer of before): an answer kept as immutable
        is served from the cache even where computing it anew would now be refused as too costly (the estimate
        reads today's collection sizes, which grow with every correction; see api/web/http_cache.py)."""
        hits = self.cache.hits
        fast = self.fast.post("/graphql", json=body, headers=headers)
        reference = self.reference.post("/graphql", json=body, headers=headers)
        kept = self.cache.hits == hits + 1 and "immutable" in fast.headers.get("cache-control", "")
        refused = reference.json().get("errors") if "json" in reference.headers.get("content-type", "") else None
        codes = {(e.get("extensions") or {}).get("code") for e in refused or [{}]}
        if not (frozen and kept and codes == {QUERY_TOO_COSTLY}):
            self.answers_alike(fast, reference, True, json.dumps(body))
        return fast

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
        same_extensions(mine.get("extensions") or {}, theirs.get("extensions") or {}, what)
        same_errors(_result(mine), _result(theirs), what, _document(reference.request))


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


def _document(request: Any) -> str | None:
    """The query text a request sent (None: a persisted query sent by its id alone)."""
    get = request.method == "GET"
    query = request.url.params.get("query") if get else json.loads(request.content).get("query")
    return query if isinstance(query, str) else None


def _result(body: dict[str, Any]) -> Any:
    """A response body as ``same_errors`` reads results (``data``; ``errors`` with ``formatted``)."""
    errors = [SimpleNamespace(formatted=e) for e in body.get("errors") or ()]
    return SimpleNamespace(data=body.get("data"), errors=errors or None)


@pytest.fixture(params=["demo", "generated"])
def apps(request: pytest.FixtureRequest, database_url: str, capsys: pytest.CaptureFixture[str]) -> Iterator[Apps]:
    from starlette.testclient import TestClient

    fill_ledger(request.param, database_url, capsys)
    if request.param == "demo":  # (the generated ledger has them): what correct() records new claims with
        World.open(database_url).ledger.close()
    with ClaimsLedger.open(database_url) as ledger:
        editor_key = ledger.issue_api_key("differential-editor", "editor", "test:setup")
    projector = Projector(database_url)
    projector.catch_up()
    projector.close()
    common: dict[str, Any] = {"database_url": database_url, "rate_reads": 0, "key_cache_seconds": 0.0}
    # The fast app projects (a correction sent to it waits for its own projector, as a served app does); the
    # reference reads the same tables and follows nothing.
    fast = create_app(Settings.from_env({}, projector="embedded", **common))
    reference = create_app(
        Settings.from_env(
            {}, projector="external", response_cache_bytes=0, prepared_http=False, compiled_execution=False, **common
        )
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
        cache = fast.state.response_cache
        # The fast app learns that the model moved from its own signals (its projector's commits, its
        # read-your-writes waits; PostgreSQL's NOTIFY), not because its positions aged out.
        watch = read_model.positions_watch()
        watch.poll_seconds = watch.listen_poll_seconds = 3600.0
        yield Apps(fast_client, reference_client, size, keys, cache, editor_key, database_url, (fast, reference))


@dataclass
class Generated:
    """A generated document as the tests send it."""

    document: str
    variables: dict[str, Any]
    headers: dict[str, str]  # a random Accept
    plain: dict[str, Any]  # the POST body
    # The body without its record-time arguments: hypothesis-graphql writes every argument, so nearly every
    # document gives a knownAt (null or not), which a pin does not freeze (never kept under the pinned key).
    frozen: dict[str, Any]

    @classmethod
    def of(cls, apps: Apps, query: str, rng: random.Random) -> Generated:
        document, variables = Rewriter(rng, apps.keys, apps.size).document(query)
        headers = {"accept": accept} if (accept := rng.choice(ACCEPTS)) else {}
        frozen_document, frozen_variables = without_record_times(document, variables)
        return cls(
            document, variables, headers, {"query": document, "variables": variables},
            {"query": frozen_document, "variables": frozen_variables},
        )  # fmt: skip


def pinned(body: dict[str, Any], size: int) -> dict[str, Any]:
    return {**body, "extensions": {"atTreeSize": size}}


def generated_documents(test: Any) -> Any:
    """``test(query, rng)`` run on generated documents (and randomness for their rewriting)."""
    return settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )(given(query=queries(SCHEMA, custom_scalars=SCALARS), rng=st.randoms(use_true_random=False))(test))  # fmt: skip


def test_generated_documents_answer_alike_through_every_http_path(apps: Apps) -> None:
    sent = {"cached": 0, "data": 0, "immutable": 0}

    @generated_documents
    def check(query: str, rng: random.Random) -> None:
        asked = Generated.of(apps, query, rng)
        headers = asked.headers
        for is_pinned, body in (
            (False, asked.plain),
            (True, pinned(asked.plain, apps.size)),
            (True, pinned(asked.frozen, apps.size)),
        ):
            what = json.dumps(body)
            first = apps.post_both(body, headers, is_pinned, what)
            hits = apps.cache.hits
            again = apps.fast.post("/graphql", json=body, headers=headers)  # (from the cache, if it kept it)
            # Kept: an answer with an ETag, but a pinned one the pin does not freeze (not immutable). A pinned
            # answer computed again has the same bytes and ETag: only the count tells that it was reused.
            kept = "etag" in first.headers and (not is_pinned or "immutable" in first.headers["cache-control"])
            assert apps.cache.hits == hits + kept, (what, first.headers)
            sent["immutable"] += is_pinned and kept
            apps.answers_alike(again, apps.reference.post("/graphql", json=body, headers=headers), is_pinned, what)
            etag = first.headers.get("etag")
            sent["data"] += first.status_code == 200 and first.json().get("data") is not None
            if etag is None:
                continue
            sent["cached"] += 1
            assert (again.content, again.headers.get("etag")) == (first.content, etag), what
            assert apps.fast.post("/graphql", json=body, headers={**headers, "if-none-match": etag}).status_code == 304
        params = {"query": asked.document, "variables": json.dumps(asked.variables)}
        by_text = apps.fast.get("/graphql", params=params, headers=headers)
        reference = apps.reference.get("/graphql", params=params, headers=headers)
        apps.answers_alike(by_text, reference, False, asked.document)
        if by_text.headers.get("etag") is not None:  # (a document that answered is registered)
            digest = hashlib.sha256(asked.document.encode("utf-8")).hexdigest()
            by_id = apps.fast.get("/graphql", params={"id": digest, "variables": params["variables"]}, headers=headers)
            apps.answers_alike(by_id, reference, False, asked.document)

    check()
    # worth something only if the fast paths kept and answered: most documents answer with data
    # (of two requests per document; 130 and 262 of 300 documents with CLAIMS_FUZZ_EXAMPLES=300)
    assert sent["cached"] >= EXAMPLES * 0.3 and sent["data"] >= EXAMPLES * 0.5, sent
    assert sent["immutable"] >= EXAMPLES * 0.1, sent  # pinned answers kept under the pinned key


REVISE = """mutation ($id: ID!, $v: Int!, $changes: ClaimChangesInput!, $reason: String!) {
  reviseClaim(id: $id, expectedVersion: $v, changes: $changes, reason: $reason) { pending version }
}"""
CLAIM_NOW = "query ($id: ID!) { claim(id: $id) { version stance retracted } }"
TURNED = {"SUPPORTS": "OPPOSES", "OPPOSES": "SUPPORTS", "NEUTRAL": "SUPPORTS"}  # (CONDITIONAL holds conditions)


def correct(apps: Apps, rng: random.Random, n: int) -> None:
    """Corrections between an answer and its repeat, so that most answers at the head change: every claim not
    retracted revised (a new summary; the stance turned, but a conditional one's; the last one through the
    fast app, whose wait for it, its read-your-writes, is what tells its cache that the model moved) and a new
    claim recorded. (Revising a third of them instead let a cache that froze pinned answers with a knownAt
    pass.)"""
    current = {}
    for key in apps.keys["id"]:
        claim = apps.reference.post("/graphql", json={"query": CLAIM_NOW, "variables": {"id": key}}).json()
        if not claim["data"]["claim"]["retracted"]:
            current[key] = claim["data"]["claim"]
    chosen = sorted(current)
    last = rng.choice(chosen)

    def changes(key: str) -> dict[str, Any]:
        stance = current[key]["stance"]
        return {"summary": f"correction {n}: {key}"} | ({"stance": TURNED[stance]} if stance in TURNED else {})

    world = World.open(apps.url, seed=False)
    world.count = n
    with world.ledger.batch("test:differential") as batch:
        for key in chosen:
            if key != last:
                batch.revise_claim(c.ReviseClaim(key, None, c.parse_changes(changes(key)), "a test's correction"))
    stated = f"{rng.randint(2015, 2025)}-{rng.randint(1, 12):02d}"
    stance = rng.choice(["SUPPORTS", "OPPOSES", "NEUTRAL"])
    world.claim(f"new-{n}", actor=rng.choice(ACTORS), topic=rng.choice(TOPICS), stance=stance, stated=stated)
    world.ledger.close()
    variables = {"id": last, "v": current[last]["version"], "changes": changes(last), "reason": "a test's correction"}
    revised = apps.fast.post(
        "/graphql", json={"query": REVISE, "variables": variables},
        headers={"authorization": f"Bearer {apps.editor_key}"},
    ).json()  # fmt: skip
    assert "errors" not in revised and revised["data"]["reviseClaim"]["pending"] is False, revised
    # The cost estimate reads collection sizes anew after a TTL, each app on its own clock: both read them
    # now, or a document near the budget could be refused by one app only.
    for app in apps.apps:
        app.state.services.sizes.refresh()


def frozen_by_a_pin(document: str) -> bool:
    """Whether a pinned answer to ``document`` (without record-time arguments) can never change: it selects no
    field of the log (their answers follow the log's head) and none that ignores the pin."""
    names = {f.name.value for f in _fields(parse(document))}
    return not names & (LOG_FIELDS | UNPINNED_FIELDS)


def _fields(document: Any) -> list[FieldNode]:
    found: list[FieldNode] = []

    class Fields(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            found.append(node)

    visit(document, Fields())
    return found


def test_a_correction_between_an_answer_and_its_repeat(apps: Apps) -> None:
    sent = {"corrected": 0, "frozen": 0, "immutable": 0}

    @generated_documents
    def check(query: str, rng: random.Random) -> None:
        asked = Generated.of(apps, query, rng)
        # Every draw before the first request, so a replay that fails earlier has drawn the same.
        chooser = random.Random(rng.getrandbits(32))
        headers = asked.headers
        bodies = [pinned(asked.plain, apps.size), pinned(asked.frozen, apps.size)]
        # (for each of bodies: the plain one too when it gives no record time, and is then the frozen one)
        freezes = [asked.plain["query"] == asked.frozen["query"], True]
        freezes = [f and frozen_by_a_pin(asked.frozen["query"]) for f in freezes]
        before = [apps.post_pinned(body, headers, frozen) for body, frozen in zip(bodies, freezes, strict=True)]
        apps.post_both(asked.plain, headers, False, asked.document)  # (kept by the cache, if it answered)
        correct(apps, chooser, sent["corrected"])
        sent["corrected"] += 1
        # Unpinned: the reference's answer, with the basis after the correction (not a kept one of before).
        apps.post_both(asked.plain, headers, False, f"after a correction: {asked.document}")
        params = {"query": asked.document, "variables": json.dumps(asked.variables)}
        by_text = apps.fast.get("/graphql", params=params, headers=headers)
        apps.answers_alike(by_text, apps.reference.get("/graphql", params=params, headers=headers), False, "GET")
        # Pinned: the reference's answer; and where the pin freezes it, the answer of before.
        for body, first, frozen in zip(bodies, before, freezes, strict=True):
            later = apps.post_pinned(body, headers, frozen)
            answered = first.status_code == 200 and "errors" not in first.json()
            # (An answer with errors can change: a cost refusal reads today's collection sizes; a field's
            # literal atTreeSize beyond the log's head then can be within it now.)
            if frozen and answered:
                sent["frozen"] += 1
                assert later.json() == first.json(), (body, first.text, later.text)
                if "immutable" in first.headers.get("cache-control", ""):
                    sent["immutable"] += 1
                    assert (later.content, later.headers.get("etag")) == (first.content, first.headers["etag"])

    check()
    # That the test saw enough frozen answers: 7 to 12 of 20 documents (as the examples drawn change with the
    # test's source); a smaller share in longer runs, as hypothesis explores more documents that answer with
    # errors (130 of 600 on the demo corpus, SQLite): a quarter of a short run, at most 50 + 5% of a long one.
    floor = min(EXAMPLES * 0.25, 50 + EXAMPLES * 0.05)
    assert sent["frozen"] >= floor and sent["immutable"] >= floor, sent


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
