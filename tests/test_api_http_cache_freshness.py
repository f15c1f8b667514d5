"""The response cache learns the read model's position without a database read per request
(projections/freshness.py), and still never serves an answer from before a write (both stores)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from api_support import ApiEnv, api_env

from ledger import commands as c
from projections.db import READ_MODEL_CHANNEL
from projections.freshness import PositionWatch
from projections.signals import Hub

QUERY = """query Page($first: Int) {
  claims(first: $first) { nodes { key stance } totalCount }
  position(actor: "chancellor", topic: "taurus", asOf: "2025-12-31") { stance claim { key } }
}"""
BODY = {"query": QUERY, "variables": {"first": 10}}
RETRACT = 'mutation { retractClaim(id: "c-minister", expectedVersion: 1, reason: "duplicate") { version } }'


def _watch(api: ApiEnv) -> PositionWatch:
    watch: PositionWatch = api.services.read_model.positions_watch()
    return watch


def _post(api: ApiEnv, body: dict[str, Any], **headers: str) -> Any:
    return api.client.post("/graphql", json=body, headers=headers)


def _no_time_bound(watch: PositionWatch, url: str) -> None:
    """Only commits and this process's writes may make the watch read again (no poll within the test);
    returns once the watch holds the positions (and, on PostgreSQL, listens for commits)."""
    watch.poll_seconds = watch.listen_poll_seconds = 3600.0
    deadline = time.monotonic() + 30
    while watch.current() is None or (url.startswith("postgresql") and not watch.listening):
        assert time.monotonic() < deadline, "the watch never settled"
        watch.refresh()


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        yield env


@pytest.fixture
def external(database_url: str) -> Iterator[ApiEnv]:
    """An API whose projector runs in another process."""
    with api_env(database_url, projector="external") as env:
        yield env


def test_reused_answers_read_no_position_from_the_database(api: ApiEnv) -> None:
    watch = _watch(api)
    _no_time_bound(watch, api.url)
    first = _post(api, BODY)
    reads, hits = watch.reads, api.app.state.response_cache.hits
    for _ in range(5):
        assert _post(api, BODY).content == first.content
    assert api.app.state.response_cache.hits == hits + 5
    assert watch.reads == reads  # the position came from memory every time


def test_a_mutation_through_this_process_makes_its_next_read_fresh(api: ApiEnv) -> None:
    _no_time_bound(_watch(api), api.url)
    before = _post(api, BODY).json()
    assert before["data"]["claims"]["totalCount"] == 4
    done = _post(api, {"query": RETRACT}, Authorization=f"Bearer {api.keys['editor']}").json()
    assert done.get("errors") is None, done
    after = _post(api, BODY).json()
    assert after["data"]["claims"]["totalCount"] == 3
    assert after["extensions"]["basis"]["treeSize"] == api.tree_size() > before["extensions"]["basis"]["treeSize"]


def test_the_embedded_projector_makes_the_next_read_fresh(api: ApiEnv) -> None:
    """A write by another writer of the log (here the ledger directly), projected by this process's projector."""
    _no_time_bound(_watch(api), api.url)
    assert _post(api, BODY).json()["data"]["claims"]["totalCount"] == 4
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    size = api.tree_size()
    model = api.services.read_model
    hub = model.hub
    deadline = time.monotonic() + 30
    while model.projected_position() < size:  # the projector's commit (read directly: the watch is untouched)
        assert time.monotonic() < deadline, "the embedded projector did not project the write"
        hub.request()
        hub.wait_published(hub.sequence, 0.05)
    after = _post(api, BODY).json()
    assert after["data"]["claims"]["totalCount"] == 3 and after["extensions"]["basis"]["treeSize"] == size


def test_a_projector_in_another_process_makes_reads_fresh(external: ApiEnv, database_url: str) -> None:
    """PostgreSQL: its NOTIFY at commit marks the position stale; SQLite: the position is re-read after
    ``poll_seconds`` (here the other process takes far longer than that)."""
    watch = _watch(external)
    if database_url.startswith("postgresql"):
        _no_time_bound(watch, database_url)
    assert _post(external, BODY).json()["data"]["claims"]["totalCount"] == 4
    deadline = time.monotonic() + 30
    external.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    script = (
        "import sys; from projections.projector import Projector; p = Projector(sys.argv[1]); p.catch_up(); p.close()"
    )
    subprocess.run([sys.executable, "-c", script, database_url], check=True, timeout=120)
    while watch.current() is not None:  # PostgreSQL: until the notification arrives
        assert time.monotonic() < deadline, "the projector's commit was never noticed"
        time.sleep(0.01)
    after = _post(external, BODY).json()
    assert after["data"]["claims"]["totalCount"] == 3
    assert after["extensions"]["basis"]["treeSize"] == external.tree_size()


def _listener(url: str) -> int | None:
    """The backend of the watch's LISTEN, if one is connected."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
            (f"LISTEN {READ_MODEL_CHANNEL}",),
        ).fetchone()
    return int(row[0]) if row else None


def test_the_watch_listens_again_after_the_database_cut_its_connection(postgres_database_url: str) -> None:
    """It used to fall back to polling for good (every request then read the position again)."""
    url = postgres_database_url
    with api_env(url, projector="external") as env:
        watch = _watch(env)
        _no_time_bound(watch, url)
        first = _listener(url)
        assert first is not None
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        deadline = time.monotonic() + 30
        while _listener(url) in (None, first):  # (PostgreSQL tells no one of a new LISTEN: look)
            assert time.monotonic() < deadline, "the watch never listened again"
            threading.Event().wait(0.01)
        _no_time_bound(watch, url)
        with psycopg.connect(url, autocommit=True) as other:
            other.execute(f"NOTIFY {READ_MODEL_CHANNEL}, '1'")  # as a projector's commit elsewhere does
        while watch.current() is not None:  # until the notification arrives
            assert time.monotonic() < deadline, "the commit was never noticed"
            threading.Event().wait(0.01)


def test_a_pinned_answer_survives_writes_unchanged(api: ApiEnv) -> None:
    size = api.tree_size()
    pinned = {**BODY, "extensions": {"atTreeSize": size}}
    first = _post(api, pinned)
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    api.caught_up()
    again = _post(api, pinned)
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert _post(api, BODY).json()["data"]["claims"]["totalCount"] == 3  # the current answer did move


def test_requests_seen_are_bounded_by_count_and_bytes() -> None:
    from api.web.http_cache import Seen

    seen = Seen(kept=3, max_bytes=100)
    known = ("{topics{key}}", "null", None, None)
    for i in range(5):
        seen.put((b"%d" % i, b""), known)
    assert [seen.get((b"%d" % i, b"")) is not None for i in range(5)] == [False, False, True, True, True]
    seen.put((b"x" * 90, b""), known)  # too many bytes with the others: the oldest go first
    assert seen.get((b"x" * 90, b"")) is known and seen.get((b"2", b"")) is None and seen.get((b"4", b"")) is known


class _SlowModel:
    """A read model whose reads by the thread named ``slow`` wait, after reading, until released."""

    url = "sqlite:///unused"

    def __init__(self) -> None:
        self.hub = Hub()
        self.details = 10
        self.read_done = threading.Event()
        self.release = threading.Event()

    def cache_positions(self) -> tuple[int, int]:
        seen = self.details
        if threading.current_thread().name == "slow":
            self.read_done.set()
            assert self.release.wait(30)
        return (seen, seen)


def test_a_read_that_began_before_a_commit_never_lands_over_a_later_one() -> None:
    """Two refreshes race: the older read finishing last must not look fresh (it did, and the
    response and name caches then answered from before a write for up to a second)."""
    model = _SlowModel()
    watch = PositionWatch(model, poll_seconds=3600.0, listen_poll_seconds=3600.0)
    watch._started = True  # no listener thread: this test announces the commit itself
    watch.refresh()
    watch.invalidate()  # a commit announced: the next request reads again
    slow = threading.Thread(target=watch.refresh, name="slow")
    slow.start()
    assert model.read_done.wait(30)  # the slow request has read details = 10
    model.details = 11  # another process commits a change...
    watch.invalidate()  # ...and its notification arrives
    assert watch.refresh() == (11, 11)  # a later request reads it
    assert watch.current() == (11, 11)
    model.release.set()
    slow.join(30)
    assert watch.current() == (11, 11)  # the slow read finished last and was not kept


def test_a_read_overtaken_by_a_commit_is_not_trusted() -> None:
    """A commit announced while a read runs: what that read found is not served as current."""
    model = _SlowModel()
    watch = PositionWatch(model, poll_seconds=3600.0, listen_poll_seconds=3600.0)
    watch._started = True
    slow = threading.Thread(target=watch.refresh, name="slow")
    slow.start()
    assert model.read_done.wait(30)
    model.details = 11
    watch.invalidate()
    model.release.set()
    slow.join(30)
    assert watch.current() is None  # must read again
    assert watch.refresh() == (11, 11)
