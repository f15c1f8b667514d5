"""Warm reads (api/web/http_cache.py): answers reused until the read model moves, ETags, persisted queries (both stores)."""

from __future__ import annotations

import gc
import hashlib
import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from api_support import ApiEnv, api_env, error_codes

from api.web.http_cache import Entry, ResponseCache, entry_size
from ledger import commands as c

QUERY = """query Page($first: Int) {
  claims(first: $first) { nodes { key stance summary actor { name } } totalCount }
  position(actor: "chancellor", topic: "taurus", asOf: "2025-12-31") { stance claim { key } }
}"""


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        env.caught_up()
        yield env


def _post(api: ApiEnv, body: dict[str, Any], **headers: str) -> Any:
    response = api.client.post("/graphql", json=body, headers=headers)
    return response


def _cache(api: ApiEnv) -> ResponseCache:
    cache: ResponseCache = api.app.state.response_cache
    return cache


def test_the_same_question_is_answered_from_the_cache_until_a_write_moves_the_model(api: ApiEnv) -> None:
    body = {"query": QUERY, "variables": {"first": 10}}
    first = _post(api, body)
    assert first.status_code == 200 and first.json()["data"]["claims"]["totalCount"] == 4
    hits = _cache(api).hits
    again = _post(api, body)
    assert again.content == first.content and _cache(api).hits == hits + 1
    assert again.headers["etag"] == first.headers["etag"] and "no-cache" in again.headers["cache-control"]
    # The same document spelled differently shares the entry (normalised document hash).
    spaced = _post(api, {"query": "  " + QUERY.replace("\n", "\n   "), "variables": {"first": 10}})
    assert (
        _post(api, {"query": "  " + QUERY.replace("\n", "\n   "), "variables": {"first": 10}}).content == spaced.content
    )
    assert spaced.content == first.content
    # A write: the next read is fresh, not the cached answer.
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    api.caught_up()
    fresh = _post(api, body)
    assert fresh.json()["extensions"]["basis"]["treeSize"] == api.tree_size()
    assert fresh.json()["data"]["claims"]["totalCount"] == 3
    assert fresh.headers["etag"] != first.headers["etag"]


def test_if_none_match_gets_304_and_a_stale_etag_gets_the_new_answer(api: ApiEnv) -> None:
    body = {"query": QUERY, "variables": {"first": 2}}
    first = _post(api, body)
    etag = first.headers["etag"]
    for _ in range(2):  # on the miss that filled the cache and on a hit
        not_modified = _post(api, body, **{"If-None-Match": etag})
        assert not_modified.status_code == 304 and not_modified.content == b""
        assert not_modified.headers["etag"] == etag
        assert "content-length" not in not_modified.headers  # (RFC 9110 8.6: not one that differs from the 200's)
    api.ledger.revise_claim(
        c.ReviseClaim("c-taurus-yes", None, c.parse_changes({"stance": "CONDITIONAL"}), "misread"), "desk"
    )
    api.caught_up()
    changed = _post(api, body, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["data"]["position"]["stance"] == "CONDITIONAL"


def test_a_pinned_answer_never_changes_and_is_immutable(api: ApiEnv) -> None:
    size = api.tree_size()
    body = {"query": QUERY, "variables": {"first": 10}, "extensions": {"atTreeSize": size}}
    first = _post(api, body)
    assert "immutable" in first.headers["cache-control"] and "max-age=" in first.headers["cache-control"]
    api.ledger.revise_claim(
        c.ReviseClaim("c-taurus-yes", None, c.parse_changes({"stance": "CONDITIONAL"}), "misread"), "desk"
    )
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    api.caught_up()
    hits = _cache(api).hits
    again = _post(api, body)
    assert again.content == first.content and _cache(api).hits == hits + 1  # still the entry: claims only changed
    # An actor's details are shown as the ledger held them at the basis: a rename leaves the pinned answer.
    renamed = {"key": "chancellor", "name": "The Former Chancellor", "kind": "PERSON", "aliases": []}
    with api.ledger.batch("desk") as batch:
        batch.register_actor(c.parse_actor(renamed), "renamed")
    api.caught_up()
    after = _post(api, body)
    assert after.content == first.content
    names = {n["actor"]["name"] for n in after.json()["data"]["claims"]["nodes"]}
    assert "The Chancellor" in names and "The Former Chancellor" not in names
    today = _post(api, {"query": QUERY, "variables": {"first": 10}}).json()
    assert "The Former Chancellor" in {n["actor"]["name"] for n in today["data"]["claims"]["nodes"]}
    assert after.json()["data"]["claims"]["totalCount"] == first.json()["data"]["claims"]["totalCount"] == 4


def test_callers_of_different_roles_do_not_share_entries_and_keyed_answers_are_private(api: ApiEnv) -> None:
    body = {"query": QUERY, "variables": {"first": 1}}
    _post(api, body)
    entries = len(_cache(api))
    keyed = _post(api, body, Authorization=f"Bearer {api.keys['reader']}")
    assert len(_cache(api)) == entries + 1 and keyed.headers["cache-control"].startswith("private")
    refused = _post(api, body, Authorization="Bearer not-a-key")
    assert error_codes(refused.json()) == ["UNAUTHENTICATED"] and len(_cache(api)) == entries + 1


def test_mutations_and_errors_are_never_cached(api: ApiEnv) -> None:
    entries = len(_cache(api))
    too_many = _post(api, {"query": "{ claims(first: 100000) { totalCount } }"})
    assert error_codes(too_many.json()) == ["BAD_USER_INPUT"] and "etag" not in too_many.headers
    mutation = 'mutation { retractClaim(input: {id: "c-minister", reason: "dup"}) { claim { key } } }'
    _post(api, {"query": mutation}, Authorization=f"Bearer {api.keys['editor']}")
    assert len(_cache(api)) == entries
    digest = hashlib.sha256(mutation.encode()).hexdigest()
    assert error_codes(api.client.get("/graphql", params={"id": digest}).json()) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_persisted_queries_over_get(api: ApiEnv) -> None:
    digest = hashlib.sha256(QUERY.encode()).hexdigest()
    params = {"id": digest, "variables": json.dumps({"first": 3})}
    unknown = api.client.get("/graphql", params=params)
    assert error_codes(unknown.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    posted = _post(api, {"query": QUERY, "variables": {"first": 3}})
    by_id = api.client.get("/graphql", params=params)
    assert by_id.status_code == 200 and by_id.json()["data"] == posted.json()["data"]
    apq = {"variables": {"first": 3}, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    assert _post(api, apq).json()["data"] == posted.json()["data"]
    wrong = {"query": "{ topics { key } }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    assert _post(api, wrong).json()["data"]["topics"]  # answered as sent, not registered under the hash
    assert api.client.get("/graphql", params=params).json()["data"] == posted.json()["data"]


def test_rate_limits_apply_to_cached_answers(database_url: str) -> None:
    with api_env(database_url, rate_reads=3) as api:
        statuses = [_post(api, {"query": "{ topics { key } }"}).status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]


def test_the_cache_stays_within_its_byte_budget(database_url: str) -> None:
    with api_env(database_url, response_cache_bytes=20_000) as api:
        for first in range(1, 40):
            assert _post(api, {"query": QUERY, "variables": {"first": first}}).status_code == 200
        cache = _cache(api)
        assert 0 < cache.size_bytes <= 20_000 and 1 < len(cache) < 39

    def key(n: int) -> tuple[str, str, str | None, str, bool, tuple[object, ...]]:
        return (f"{n:03}", "", None, "anonymous", False, ("current", 5, "2026-01-01"))

    one = entry_size(key(0), Entry(b"x" * 100, "j", "e", False))
    cache = ResponseCache(10 * one)
    cache.observe(5, 2, "2026-01-01")
    for n in range(100):
        cache.put(key(n), Entry(b"x" * 100, "j", "e", False))
    assert cache.size_bytes == 10 * one and len(cache) == 10
    cache.observe(6, 2, "2026-01-01")  # the model moved: no entry of before is served again...
    assert all(cache.get(key(n)) is None for n in range(90, 95)) and len(cache) == 5  # (a key of before: dropped)
    moved = [(*key(n)[:5], ("current", 6, "2026-01-01")) for n in range(100, 105)]
    for k in moved:
        cache.put(k, Entry(b"x" * 100, "j", "e", False))
    # ...and they age out first (least recently used), within the same budget.
    assert cache.size_bytes == 10 * one and len(cache) == 10
    assert all(cache.get(k) is not None for k in moved)
    cache.observe(7, 2, "2026-01-01")
    assert all(cache.get(k) is None for k in moved)


@pytest.mark.parametrize("body_bytes", [80, 600, 5000])
def test_the_byte_budget_counts_what_entries_keep_alive_not_only_their_bodies(body_bytes: int) -> None:
    # Entries shaped as the server makes them (sha256 keys, variables JSON, weak etags): the bytes the
    # cache accounts must be the memory it holds, within 15%; counting bodies alone let a budget hold
    # twice itself in small answers.
    cache = ResponseCache(1 << 40)
    cache.observe(7, 3, "2026-01-01")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(5000):  # everything built here and not kept by the cache is freed by the next round
            body = orjson.dumps({"data": {"position": {"stance": "OPPOSES", "text": "x" * body_bytes, "n": n}}})
            variables = json.dumps({"actor": f"actor-{n}", "topic": "nato-membership", "asOf": "2025-12-01"})
            key = (
                hashlib.sha256(str(n).encode()).hexdigest(),
                variables,
                None,
                "anonymous",
                False,
                ("current", 7, "2026-01-01"),
            )
            cache.put(key, Entry(body, "application/json", f'W/"{hashlib.sha256(body).hexdigest()[:32]}"', False, 7))
        del body, variables, key
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(cache) == 5000
    assert 0.85 <= cache.size_bytes / held <= 1.15, (cache.size_bytes, held)


def test_the_cache_holds_its_entries_as_objects_the_cyclic_collector_does_not_track(api: ApiEnv) -> None:
    # Tens of thousands of tracked entries lengthened every full collection and triggered more of them.
    for first in range(1, 6):
        assert _post(api, {"query": QUERY, "variables": {"first": first}}).status_code == 200
    gc.collect()  # tuples of untracked items are untracked when the collector first sees them
    held = list(_cache(api)._entries.values())
    assert len(held) == 5 and not any(gc.is_tracked(packed) for packed in held)


def test_requests_remembered_for_repeats_are_not_objects_the_cyclic_collector_tracks(api: ApiEnv) -> None:
    # Under cold load 4,096 remembered requests (an ``Asked`` and its payload dicts each) turned over, and
    # every full collection walked them; the remembered key parts are now a tuple of strings and scalars.
    from api.web.http_cache import Asked

    for first in range(1, 6):
        body = {"query": QUERY, "variables": {"first": first}, "operationName": "Page"}
        first = _post(api, body)
        hits = _cache(api).hits
        assert _post(api, body).content == first.content and _cache(api).hits == hits + 1
    gc.collect()
    assert [o for o in gc.get_objects() if isinstance(o, Asked)] == []


def test_a_request_the_key_cannot_tell_apart_is_never_answered_from_the_cache(api: ApiEnv) -> None:
    # orjson writes NaN and Infinity as null, and 3.0 and true equal 3 as dict keys: the cached answer to
    # null, or to pin 3, was given to requests that fail when asked cold (they must fail every time).
    query = "query Q($f: Int) { claims(first: $f) { nodes { key } } }"
    pinned = {"query": "{ topics { key } }", "extensions": {"atTreeSize": api.tree_size()}}
    for _ in range(2):  # cached now
        assert _post(api, {"query": query, "variables": {"f": None}}).json()["data"]["claims"]
        assert _post(api, pinned).json()["data"]["topics"]
    for number in ("NaN", "Infinity", "1e400"):
        body = f'{{"query": {json.dumps(query)}, "variables": {{"f": {number}}}}}'
        answer = api.client.post("/graphql", content=body, headers={"content-type": "application/json"})
        assert answer.json().get("data") is None and error_codes(answer.json()), (number, answer.text)
        answer = api.client.get("/graphql", params={"query": query, "variables": f'{{"f": {number}}}'})
        assert answer.json().get("data") is None and error_codes(answer.json()), (number, answer.text)
    for pin in (float(api.tree_size()), True, [1], {"a": 1}):
        answer = _post(api, {**pinned, "extensions": {"atTreeSize": pin}})
        assert answer.status_code in (200, 400) and error_codes(answer.json()) == ["BAD_USER_INPUT"], (pin, answer.text)


def test_the_warm_path_answers_only_what_strawberry_would_read(api: ApiEnv) -> None:
    # A cached JSON POST's bytes under another content type, or a POST with no body and a cached GET's
    # query string, were answered from the cache; strawberry refuses both.
    query = "{ topics { key } }"
    body = json.dumps({"query": query}).encode()
    for _ in range(2):
        assert (
            api.client.post("/graphql", content=body, headers={"content-type": "application/json"}).status_code == 200
        )
        assert api.client.get("/graphql", params={"query": query}).status_code == 200
    refused = ("text/plain", "application/x-www-form-urlencoded", "application/vnd.api+json", "Application/JSON")
    for content_type in (*refused, "x=application/json"):  # (strawberry's parse is case-sensitive)
        answer = api.client.post("/graphql", content=body, headers={"content-type": content_type})
        assert answer.status_code == 400, (content_type, answer.status_code, answer.text)
    answer = api.client.post("/graphql", params={"query": query}, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text


def test_answering_a_query_leaves_no_reference_cycle_of_the_request(api: ApiEnv) -> None:
    # Per-request cycles (a DataLoader holding a bound method of its Loaders, a Run's helpers holding a
    # bound method of the Run) left every request to the cyclic collector, whose pauses were the p99.
    from strawberry.dataloader import DataLoader

    from api.graphql.compiled import Run
    from api.graphql.context import Context
    from api.graphql.loaders import Loaders

    request_types = (Run, Context, Loaders, DataLoader)
    _post(api, {"query": QUERY, "variables": {"first": 1}})  # warm: caches and the compiled plan
    gc.collect()
    gc.disable()
    try:
        for first in range(2, 12):  # distinct questions: none answered from the response cache
            assert _post(api, {"query": QUERY, "variables": {"first": first}}).status_code == 200
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage if isinstance(o, request_types)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []


def test_answers_read_from_the_log_are_never_cached(api: ApiEnv) -> None:
    # ledgerDigest, events, proofs and checkpoints come from the log and tree head, not the read model: the
    # projector's position does not date them. Unpinned they follow the log's head; pinned, the log's prefix.
    size = api.tree_size()
    for extensions in ({"atTreeSize": size}, {}):
        body = {"query": "{ ledgerDigest { treeSize } events(first: 1) { treeSize } }", "extensions": extensions}
        first = _post(api, body)
        assert first.json()["data"]["ledgerDigest"]["treeSize"] == api.tree_size()
        assert "immutable" not in first.headers.get("cache-control", "")
        api.ledger.issue_api_key(f"another-{len(extensions)}", "reader", "desk")
        api.caught_up()
        again = _post(api, body).json()["data"]
        expected = size if extensions else api.tree_size()
        assert again["ledgerDigest"]["treeSize"] == again["events"]["treeSize"] == expected


def test_a_kept_answer_costs_its_length_not_the_encoders_buffer() -> None:
    """The cache's budget counts len(body): an entry must not keep the larger buffer orjson wrote the
    answer into (4 KiB for a 400-byte answer), or the budget would bound a tenth of the memory used."""
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        entries = [
            Entry(orjson.dumps({"data": {"stance": "SUPPORTS", "n": n, "summary": "x" * 400}}), "application/json",
                  f'"{n}"', False)
            for n in range(300)
        ]  # fmt: skip
        held = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    finally:
        tracemalloc.stop()
    assert held < 2 * sum(len(entry.body) for entry in entries)


def test_a_text_refused_cold_is_never_answered_from_the_entry_of_its_normal_form(api: ApiEnv) -> None:
    # A NUL in a comment: strawberry refuses the text (no store sees a NUL), but the printed AST has no
    # comments, so the cached answer of the same document without it was given.
    query = "{ topics { key } }"
    for _ in range(2):  # cached now
        assert _post(api, {"query": query}).json()["data"]["topics"]
        assert api.client.get("/graphql", params={"query": query}).json()["data"]["topics"]
    for _ in range(2):
        answer = _post(api, {"query": query + " # \x00"})
        assert answer.json()["data"] is None and error_codes(answer.json()) == ["BAD_USER_INPUT"], answer.text
        assert "etag" not in answer.headers
        answer = api.client.get("/graphql", params={"query": query + " # \x00"})
        assert answer.json()["data"] is None and error_codes(answer.json()) == ["BAD_USER_INPUT"], answer.text


@pytest.mark.parametrize(
    "query",
    [
        '{ claims(first: 10, knownAt: "2100-01-01T00:00:00Z") { totalCount } }',
        "query Q($at: DateTime) { claims(first: 10, knownAt: $at) { totalCount } }",
        '{ changes(from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z") { nodes { __typename } } }',
    ],
)
def test_a_pinned_request_that_gives_a_record_time_is_not_frozen_by_its_pin(api: ApiEnv, query: str) -> None:
    # An explicit knownAt (or changes' ``to``) overrides the pin's record time: its answer moves with the
    # log, but the entry was kept by the pinned key (the last actor/topic/source change) and the answer
    # called immutable, so a retraction after it was never seen.
    body = {"query": query, "variables": {"at": "2100-01-01T00:00:00Z"}, "extensions": {"atTreeSize": api.tree_size()}}
    for _ in range(2):
        first = _post(api, body)
        assert first.json()["data"] and "immutable" not in first.headers["cache-control"], first.text

    def count(data: dict[str, Any]) -> int:
        return int(data["claims"]["totalCount"]) if "claims" in data else len(data["changes"]["nodes"])

    total = count(first.json()["data"])
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    api.caught_up()
    after = _post(api, body).json()["data"]
    assert count(after) == total + (1 if "changes" in query else -1), after


def test_a_request_nested_deeper_than_the_json_limit_is_never_answered_from_the_cache(api: ApiEnv) -> None:
    # Strawberry refuses JSON nested deeper than CLAIMS_MAX_JSON_DEPTH (the whole POST body; a GET's
    # variables and extensions), but the key ignores extensions other than the pin and every other member:
    # the cached answer of the same query was given.
    query = "{ topics { key } }"
    for _ in range(2):  # cached now
        assert _post(api, {"query": query}).json()["data"]["topics"]
        assert api.client.get("/graphql", params={"query": query}).json()["data"]["topics"]
    deep: Any = 1
    for _ in range(api.services.settings.max_json_depth):
        deep = [deep]
    for _ in range(2):
        for body in ({"query": query, "extensions": {"x": deep}}, {"query": query, "other": deep}):
            assert _post(api, body).status_code == 400
        answer = api.client.get("/graphql", params={"query": query, "extensions": json.dumps({"x": deep})})
        assert answer.status_code == 400, answer.text


def test_a_pinned_answer_of_the_extraction_assistant_is_not_called_immutable(api: ApiEnv) -> None:
    # extractionCandidates matches the source's speakers against the actors and topics of now, not of the
    # pin: an actor registered later changes a pinned answer, which was sent as immutable for max-age.
    query = '{ extractionCandidates(source: "berlin-interview") { candidates { speaker actor { key } } } }'
    body = {"query": query, "extensions": {"atTreeSize": api.tree_size()}}
    first = _post(api, body)
    assert first.json()["data"] and "immutable" not in first.headers["cache-control"], first.headers
    actor = {"key": "foreign-minister", "name": "Foreign Minister", "kind": "PERSON", "aliases": ["foreign minister"]}
    with api.ledger.batch("desk") as batch:
        batch.register_actor(c.parse_actor(actor))
    api.caught_up()
    after = _post(api, body)
    assert after.json()["data"] != first.json()["data"]


def test_a_pinned_answer_with_a_claims_history_is_immutable_and_stays_after_corrections(api: ApiEnv) -> None:
    # Pinned, Claim.history lists only the claim's events inside the pinned tree, so the answer is frozen like
    # any other pinned one: sent as immutable, kept under the pinned key (which a claim's correction does not
    # move), and the same whether answered from the cache or computed again after a revision and a retraction.
    size = api.tree_size()
    query = '{ claim(id: "c-minister") { history { type version } } }'
    body = {"query": query, "extensions": {"atTreeSize": size}}
    first = _post(api, body)
    assert first.json()["data"]["claim"]["history"] == [{"type": "RECORDED", "version": 1}]
    assert "immutable" in first.headers["cache-control"], first.headers
    api.ledger.revise_claim(
        c.ReviseClaim("c-minister", None, c.parse_changes({"stance": "SUPPORTS"}), "misread"), "desk"
    )
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    api.caught_up()
    hits = _cache(api).hits
    again = _post(api, body)
    assert _cache(api).hits == hits + 1 and again.content == first.content
    assert "immutable" in again.headers["cache-control"], again.headers
    # Computed again (another document: no entry yet), the pinned answer is the same.
    fresh = _post(api, {**body, "query": query.replace("history", "h: history")})
    assert "immutable" in fresh.headers["cache-control"], fresh.headers
    assert fresh.json()["data"]["claim"]["h"] == first.json()["data"]["claim"]["history"]
    # Unpinned, the history shows the corrections (a new position: computed, not the old entry).
    now = _post(api, {"query": query})
    assert "immutable" not in now.headers["cache-control"], now.headers
    assert [e["type"] for e in now.json()["data"]["claim"]["history"]] == ["RECORDED", "REVISED", "RETRACTED"]


def test_a_body_orjson_reads_holds_no_number_that_is_not_finite() -> None:
    # ``Asked.finite``: a body orjson read skips the walk for NaN and infinities (keys cannot write them
    # back), because orjson refuses them all; the standard library, which reads the rest, accepts them.
    from api.web.http_cache import _loads

    for number in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1.8e308"):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(f'{{"f": {number}}}')
        assert _loads(f'{{"f": {number}}}'.encode())[1] is False, number  # (not strict: never keyed)


@pytest.mark.parametrize("first_json", [True, False])
def test_a_repeated_header_counts_by_its_first_value_on_every_path(api: ApiEnv, first_json: bool) -> None:
    # The cache layer reads the headers once into a dict: a repeated name must still mean its first value, as
    # strawberry reads it (starlette's Headers.get), cold, cached and on the warm path alike.
    types = [("content-type", "application/json"), ("content-type", "text/plain")]
    headers = types if first_json else types[::-1]
    body = json.dumps({"query": "{ topics { key } }"}).encode()
    for _ in range(3):
        answer = api.client.post("/graphql", content=body, headers=headers)
        assert answer.status_code == (200 if first_json else 400), answer.text
    if first_json:
        assert _cache(api).hits >= 2


def test_a_body_received_in_pieces_is_read_whole_once_cold_and_warm(api: ApiEnv) -> None:
    # WarmFront reads the body and hands it to the cache layer as read (no replay): a body that arrives in
    # several messages must be answered as the same body in one piece is, from the cache the second time.
    body = json.dumps({"query": QUERY, "variables": {"first": 2}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def ask(pieces: list[bytes]) -> tuple[int, bytes]:
        messages = [{"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": "/graphql", "raw_path": b"/graphql", "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
        }  # fmt: skip
        await api.app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    pieces = [body[:7], body[7:40], body[40:]]
    hits = _cache(api).hits
    status, cold = api.client.portal.call(ask, pieces)
    assert status == 200 and json.loads(cold)["data"]["claims"]["nodes"] and _cache(api).hits == hits
    assert api.client.portal.call(ask, [body]) == (200, cold)
    assert api.client.portal.call(ask, pieces) == (200, cold)
    assert _cache(api).hits == hits + 2
