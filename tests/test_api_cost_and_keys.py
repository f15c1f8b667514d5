"""Query cost budgets, and API keys checked against the ledger's own events (not the read model)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_support import ApiEnv, api_env, error_codes

from ledger import commands as c
from projections.queries import ReadModel

DEEP = "{ sources { text claims { source { text claims { source { text claims { source { text } } } } } } } }"
TOPIC = 'mutation { defineTopic(input: {key: "nato", title: "NATO", proposition: "Ukraine joins NATO"}) { changed } }'


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        yield env


def test_the_deep_query_of_the_issue_is_refused_naming_the_budget(api: ApiEnv) -> None:
    body = api.gql(DEEP)
    assert error_codes(body) == ["QUERY_TOO_COSTLY"] and body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["budget"] == 20_000 and error["extensions"]["cost"] > 20_000
    assert "CLAIMS_MAX_QUERY_COST" in error["message"]
    # Two levels of the same query are an ordinary question and are answered.
    answer = api.gql.data("{ sources { text claims { source { text } } } }")
    assert answer["sources"][0]["claims"][0]["source"]["text"].startswith("Berlin")


def test_the_budget_depends_on_the_role(database_url: str) -> None:
    with api_env(database_url, max_cost_anonymous=100, max_cost_with_key=1_000) as api:
        query = "{ sources { claims { key } } }"  # estimated 10 sources x 50 claims at least
        body = api.gql(query)
        assert error_codes(body) == ["QUERY_TOO_COSTLY"] and body["errors"][0]["extensions"]["budget"] == 100
        assert len(api.as_role("reader").data(query)["sources"][0]["claims"]) == 4
        assert error_codes(api.as_role("editor")(DEEP)) == ["QUERY_TOO_COSTLY"]


def test_page_sizes_count_including_variables(database_url: str) -> None:
    with api_env(database_url, max_cost_anonymous=1_000) as api:
        query = "query ($n: Int) { claims(first: $n) { nodes { key source { claims { key } } } } }"
        assert len(api.gql.data(query, {"n": 2})["claims"]["nodes"]) == 2
        body = api.gql(query, {"n": 100})
        assert error_codes(body) == ["QUERY_TOO_COSTLY"]
        fragment = "query { ...Q } fragment Q on Query { claims(first: 100) { nodes { source { claims { key } } } } }"
        assert error_codes(api.gql(fragment)) == ["QUERY_TOO_COSTLY"]
        # A variable not given counts with its default, as it runs; a given null is null (the default page).
        defaulted = "query ($n: Int = 100) { claims(first: $n) { nodes { key source { claims { key } } } } }"
        for _ in range(2):  # (the second time from the prepared path's kept operation)
            assert error_codes(api.gql(defaulted)) == ["QUERY_TOO_COSTLY"]
            assert len(api.gql.data(defaulted, {"n": 2})["claims"]["nodes"]) == 2
        unpaged = api.gql("query { claims { nodes { key source { claims { key } } } } }")["errors"][0]["extensions"]
        assert api.gql(defaulted, {"n": None})["errors"][0]["extensions"]["cost"] == unpaged["cost"]
        assert api.gql(defaulted)["errors"][0]["extensions"]["cost"] > unpaged["cost"]


def test_mutation_payloads_are_costed_too(database_url: str) -> None:
    with api_env(database_url, max_cost_with_key=100) as api:
        size = api.tree_size()
        mutation = (
            'mutation { retractClaim(id: "c-minister", expectedVersion: 1, reason: "dup") '
            "{ claim { source { claims { source { claims { key } } } } } } }"
        )
        assert error_codes(api.as_role("editor")(mutation)) == ["QUERY_TOO_COSTLY"]
        assert api.tree_size() == size  # refused before it ran: nothing written


class _CountingReadModel(ReadModel):
    """Counts waits for the projector (an unknown key used to wait up to 2 s for it)."""

    waits = 0

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        type(self).waits += 1
        return super().wait_for(position, timeout)


@pytest.fixture
def lagging(database_url: str) -> Iterator[ApiEnv]:
    """An API whose projector never runs after start-up: the read model lags behind every new event."""
    _CountingReadModel.waits = 0
    read_model = _CountingReadModel(database_url)
    with api_env(database_url, read_model=read_model, projector="external", key_cache_seconds=60.0) as env:
        with env.ledger.batch("test:lag") as batch:
            batch.define_topic(c.parse_topic({"key": "lag", "title": "Lag", "proposition": "P"}))
        _CountingReadModel.waits = 0  # (the fixture's own wait for the start-up projection)
        yield env


def test_an_unknown_key_is_refused_without_waiting_for_the_projector(lagging: ApiEnv) -> None:
    body = lagging.gql("{ topics { key } }", key="clk_made-up")
    assert error_codes(body) == ["UNAUTHENTICATED"] and "unknown" in body["errors"][0]["message"]
    assert _CountingReadModel.waits == 0


def test_a_new_key_works_at_once_while_the_projector_lags(lagging: ApiEnv) -> None:
    secret = lagging.ledger.issue_api_key("fresh", "editor", "test:admin")
    assert lagging.ledger.ledger_recorder.tree_head().size > lagging.services.read_model.projected_position()
    assert lagging.gql.data("{ topics { key } }", key=secret)["topics"]
    body = lagging.gql(TOPIC, key=secret)
    assert not body.get("errors") or error_codes(body) == [], body  # the write itself is accepted
    assert _CountingReadModel.waits <= 1  # only the mutation's own read-your-writes wait


def _revoke(api: ApiEnv, name: str) -> None:
    api.ledger.revoke_api_key(name, "laptop lost", "test:admin")  # as `claims apikey revoke` does


def test_revocation_stops_writes_at_once_and_reads_within_the_refresh_bound(database_url: str) -> None:
    now = [1000.0]
    with api_env(database_url, key_cache_seconds=30.0) as api:
        api.services.keys.clock = lambda: now[0]
        editor, admin = api.as_role("editor"), api.as_role("admin")
        assert editor.data("{ topics { key } }") and admin.data("{ topics { key } }")  # known and fresh
        _revoke(api, "editor-key")
        # Reads trust a key for at most CLAIMS_KEY_CACHE_SECONDS after the last look at the log...
        now[0] += 29.0
        assert editor.data("{ topics { key } }")
        now[0] += 1.5
        # ...then the revocation reaches them.
        body = editor("{ topics { key } }")
        assert error_codes(body) == ["UNAUTHENTICATED"] and "revoked" in body["errors"][0]["message"]
        # A write looks at the log first: refused as soon as the revocation has committed.
        assert admin.data("{ topics { key } }")
        _revoke(api, "admin-key")
        size = api.tree_size()
        body = admin(TOPIC)
        assert error_codes(body) == ["UNAUTHENTICATED"] and "revoked" in body["errors"][0]["message"]
        assert api.tree_size() == size


def test_random_keys_do_not_grow_the_key_store(api: ApiEnv) -> None:
    for i in range(50):
        assert error_codes(api.gql("{ topics { key } }", key=f"clk_random-{i}")) == ["UNAUTHENTICATED"]
    known: dict[str, Any] = api.services.keys._by_digest
    assert len(known) == 3  # the three issued keys, nothing else


def test_collection_sizes_read_earlier_never_replace_ones_read_later() -> None:
    """Two overlapping reads of the sizes (a background refresh, a direct one): the one begun first ends last,
    and the sizes kept are the later read's."""
    import threading

    from api.graphql.cost import SizesCache

    first_reading, first_may_end = threading.Event(), threading.Event()
    older, newer = object(), object()  # (what the cache keeps is opaque to it)
    reads = iter([older, newer])

    def read() -> Any:
        value = next(reads)
        if value is older:
            first_reading.set()
            assert first_may_end.wait(30)
        return value

    cache = SizesCache(read)
    earlier = threading.Thread(target=cache.refresh)
    earlier.start()
    assert first_reading.wait(30)
    cache.refresh()  # begun later, ends first
    first_may_end.set()
    earlier.join(30)
    assert not earlier.is_alive() and cache._sizes is newer


def test_a_slow_read_of_the_sizes_is_repeated_less_often() -> None:
    """The sizes are read again after the TTL, or after SIZES_READ_SPACING times the last read's duration when
    that is longer (a clock the test moves: the read "takes" what the test says)."""
    import asyncio

    from api.graphql.cost import SIZES_READ_SPACING, UNKNOWN_SIZES, SizesCache

    now = [0.0]
    reads: list[float] = []

    def read() -> Any:
        reads.append(now[0])
        now[0] += 0.2  # a read of 0.2 s: the next one no sooner than 20 s after this one began
        return UNKNOWN_SIZES

    async def run(call: Any) -> Any:
        return call()

    async def ask_at(t: float) -> None:
        now[0] = t
        await cache.current(run)
        if cache._task is not None:
            await cache._task

    cache = SizesCache(read, ttl=5.0, clock=lambda: now[0])
    for t in (0.0, 6.0, 19.9, 20.1, 30.0, 40.3):
        asyncio.run(ask_at(t))
    assert reads == [0.0, 20.1, 40.3], reads
    assert SIZES_READ_SPACING == 100  # (what the reads above assume)


def test_the_sizes_are_read_at_start_up(api: ApiEnv) -> None:
    """No request waits for the first read of the sizes (seconds at a million claims): the app read them."""
    assert api.services.sizes._sizes is not None


def test_revisions_do_not_grow_the_estimated_claims_per_source_or_pair(api: ApiEnv) -> None:
    """A claim revised again and again is still one claim of its source and its pair for the cost estimate."""
    model = api.services.read_model
    before = model.collection_sizes()
    for version in (1, 2, 3):
        with api.ledger.batch("test:corrections") as batch:
            changes = c.parse_changes({"summary": f"corrected {version}"})
            batch.revise_claim(c.ReviseClaim("c-taurus-yes", version, changes, "a correction"))
    api.caught_up()
    after = model.collection_sizes()
    assert (after.claims_per_source, after.claims_per_pair) == (before.claims_per_source, before.claims_per_pair)
    assert after.versions_per_claim == 4 and before.versions_per_claim == 1


def test_a_failed_read_of_the_sizes_keeps_the_last_and_is_tried_again_after_the_ttl() -> None:
    """A read that fails (a statement timeout after 10 s) keeps the sizes read before, and the next try comes
    a TTL after it ended, not 100 times its duration nor at once; a read that never ran frees the next one."""
    import asyncio

    from api.graphql.cost import UNKNOWN_SIZES, SizesCache

    now = [0.0]
    good = object()
    outcomes: list[Any] = [good, TimeoutError("canceling statement due to statement timeout"), good]
    reads: list[float] = []

    def read() -> Any:
        reads.append(now[0])
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            now[0] += 10.0
            raise outcome
        return outcome

    async def run(call: Any) -> Any:
        return call()

    async def refused(call: Any) -> Any:
        raise RuntimeError("shutting down")  # (the read never runs)

    cache = SizesCache(read, ttl=5.0, clock=lambda: now[0])

    async def ask_at(t: float, runner: Any = run) -> Any:
        now[0] = t
        sizes = await cache.current(runner)
        if cache._task is not None:
            task, cache._task = cache._task, None
            await asyncio.gather(task, return_exceptions=True)
        return sizes

    assert asyncio.run(ask_at(0.0)) is good
    assert asyncio.run(ask_at(6.0)) is good  # this read fails, at 6 (to 16)
    assert cache._sizes is good
    assert asyncio.run(ask_at(20.0)) is good  # not yet: the TTL after the failed try ended
    assert asyncio.run(ask_at(21.5, refused)) is good  # tried, but never ran
    assert asyncio.run(ask_at(22.0)) is good  # ... which does not keep the next one from starting
    assert reads == [0.0, 6.0, 22.0] and cache._sizes is good and UNKNOWN_SIZES is not good


def projected_ledger(url: str, claims: int) -> None:
    """A ledger of ``claims`` claims of one source, projected."""
    from factories import World

    from projections.projector import Projector

    world = World.open(url)
    world.claims([{"key": f"c-{i}", "stated": f"20{10 + i % 15}-01"} for i in range(claims)])
    world.ledger.close()
    projector = Projector(url)
    projector.catch_up()
    projector.close()


def test_the_sizes_are_read_without_the_readers_statement_timeout(tmp_path: Any) -> None:
    """The sizes' scans take seconds at millions of claims: a reader's statement timeout (here one SQLite
    cancels at its first check, every 10,000 instructions) would cancel every read and leave the estimate
    on its defaults for good."""
    from projections.db import QueryTimeout

    url = f"sqlite:///{tmp_path}/ledger.db"
    projected_ledger(url, 300)
    model = ReadModel(url, statement_timeout=1e-9)
    try:
        with pytest.raises(QueryTimeout):  # (what a reader does with this timeout)
            model._rows("SELECT COUNT(*) FROM rm_claim_versions a, rm_claim_versions b")
        sizes = model.collection_sizes()
        assert sizes.claims_per_source == 300 and sizes.versions_per_claim == 1
    finally:
        model.close()


def test_the_sizes_read_ignores_a_statement_timeout_the_database_sets(postgres_database_url: str) -> None:
    """PostgreSQL: a default statement timeout of the database (or role) does not cancel the sizes read."""
    import psycopg

    url = postgres_database_url
    projected_ledger(url, 3000)
    model = ReadModel(url)  # (opened before: the setting is for connections made after it)
    with psycopg.connect(url, autocommit=True) as admin:
        name = admin.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        admin.execute(f'ALTER DATABASE "{name}" SET statement_timeout = 1')  # 1 ms
    with psycopg.connect(url, autocommit=True) as probe, pytest.raises(psycopg.errors.QueryCanceled):
        probe.execute("SELECT COUNT(*) FROM rm_claim_versions a, rm_claim_versions b")  # (what 1 ms does)
    try:
        assert model.collection_sizes().claims_per_source == 3000
    finally:
        model.close()
