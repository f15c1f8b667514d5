"""Upgrading the read model across a schema change, and rebuilds in several processes at once.

One rebuild at a time per database (``rebuilder_lock``); an upgrade builds the new model beside the
old one, which readers of the old version keep, whole, until the switch; readers of the new version
are told the model is upgrading (never answered from the old schema's tables); a projector writes
only into a model of its own schema version. Threads stand for processes: the locks (PostgreSQL's
session advisory lock, SQLite's ``flock``) exclude connections and open files, not processes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from api_support import seed
from factories import Harness, model_rows
from starlette.testclient import TestClient
from test_projections_projector import beside_left, busy_ledger

from api.settings import Settings
from api.web.app import create_app
from projections import schema
from projections.db import ReadModelUpgrading, connect, rebuilder_lock
from projections.projector import Projector
from projections.queries import ReadModel

READ_MODEL_UPGRADING = "READ_MODEL_UPGRADING"  # the error code clients see (a contract: spelt out)
WAIT = 60  # seconds an event of these tests may take at most (they never wait it out when all is well)
NEXT_VERSION = "the-next-version"


@pytest.fixture
def h(database_url: str) -> Iterator[Harness]:
    harness = Harness(database_url, batch_size=4)  # many batches: a rebuild can be held between two
    yield harness
    harness.close()


class Held:
    """A progress callback that holds its rebuild at its first batch until released."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, position: int, size: int) -> None:
        if not self.reached.is_set():
            self.reached.set()
            assert self.release.wait(WAIT), "the test never released the rebuild"


class WaitSeen(logging.Handler):
    """Set when a projector says it waits for another process's rebuild."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "waiting for it to finish" in record.getMessage():
            self.seen.set()


@pytest.fixture
def wait_seen() -> Iterator[WaitSeen]:
    handler = WaitSeen()
    logger = logging.getLogger("projections.projector")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def in_thread(
    results: dict[str, Any], name: str, call: Callable[[], Any], done: threading.Event | None = None
) -> threading.Thread:
    """Run ``call`` in a daemon thread: its result (or exception) in ``results[name]``; ``done`` set when it ends."""

    def run() -> None:
        try:
            results[name] = call()
        except BaseException as error:  # (asserted by the test)
            results[name] = error
        finally:
            if done is not None:
                done.set()

    thread = threading.Thread(target=run, daemon=True)  # (daemon: a test failing on a hang still ends)
    thread.start()
    return thread


def joined(*threads: threading.Thread) -> bool:
    for thread in threads:
        thread.join(WAIT)
    return not any(thread.is_alive() for thread in threads)


def test_two_rebuilds_at_once_run_one_after_the_other(h: Harness, wait_seen: WaitSeen) -> None:
    """The second waits for the first, then finds the model rebuilt: nothing to do. Without the lock the
    second dropped the first's model beside and switched; the first then failed (or, on SQLite, spun)."""
    busy_ledger(h)
    head = h.world.head()
    h.project()
    complete = model_rows(h.url)
    second = Projector(h.url, batch_size=4, ledger=h.world.ledger)
    held, results = Held(), dict[str, Any]()
    try:
        first = in_thread(results, "first", lambda: h.projector.rebuild(held))
        assert held.reached.wait(WAIT)
        # The second rebuild's thread: it says it waits (or, unlocked, ends) before the first goes on.
        other = in_thread(results, "second", second.rebuild, wait_seen.seen)
        assert wait_seen.seen.wait(WAIT)
        held.release.set()
        assert joined(first, other), "a rebuild never ended"
        assert results == {"first": head, "second": None}, results
        assert model_rows(h.url) == complete and not beside_left(h.url)
        assert second.run_once() == 0 and h.projector.run_once() == 0  # both follow on from the new model
        h.world.claim("after-both", stated="2025-01-01")
        assert second.catch_up() == 1 and h.projector.catch_up() == 0
    finally:
        held.release.set()
        second.close()


def test_a_rebuild_that_may_not_wait_returns_at_once_while_another_runs(h: Harness) -> None:
    busy_ledger(h)
    h.project()
    complete = model_rows(h.url)
    second = Projector(h.url, batch_size=4, ledger=h.world.ledger)
    held, results = Held(), dict[str, Any]()
    try:
        first = in_thread(results, "first", lambda: h.projector.rebuild(held))
        assert held.reached.wait(WAIT)
        assert second.rebuild(wait=False) is None
        assert model_rows(h.url) == complete
        held.release.set()
        assert joined(first) and results == {"first": h.world.head()}
        assert second.rebuild(wait=False) == h.world.head()  # free again
        assert model_rows(h.url) == complete and not beside_left(h.url)
    finally:
        held.release.set()
        second.close()


def test_two_projectors_of_a_new_version_upgrade_the_model_once_and_readers_never_see_part_of_one(
    h: Harness, wait_seen: WaitSeen, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two projectors of the new version start at once (two servers, or a server and ``claims project``):
    one upgrades beside the old model; the other, following, writes nothing meanwhile, and one that
    waits finds the model upgraded. Old-version readers see the old model whole until the switch, the
    new version's readers are told it is upgrading, and then both see the new model whole."""
    busy_ledger(h)
    head = h.world.head()
    h.project()
    old = model_rows(h.url)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", NEXT_VERSION)  # this code is now the next version
    reader = ReadModel(h.url)
    upgrading, follower = Projector(h.url, batch_size=4, ledger=h.world.ledger), None
    held, results = Held(), dict[str, Any]()
    try:
        follower = Projector(h.url, batch_size=4, ledger=h.world.ledger)
        assert upgrading.rebuilt and follower.rebuilt
        assert model_rows(h.url) == old  # not emptied: both upgrade beside it
        with pytest.raises(ReadModelUpgrading, match="upgraded"):
            reader.position("alice-a", "topic-x", None, None)

        first = in_thread(results, "upgrading", lambda: upgrading.catch_up(held))
        assert held.reached.wait(WAIT)
        assert model_rows(h.url) == old  # the old version's readers: the old model, whole
        with pytest.raises(ReadModelUpgrading):
            reader.topics()
        assert follower.catch_up(wait=False) == 0  # (a follower: another process upgrades, it goes on later)
        assert follower.run_once(wait=False) == 0
        assert model_rows(h.url) == old

        other = in_thread(results, "waiting", follower.catch_up, wait_seen.seen)
        assert wait_seen.seen.wait(WAIT)
        held.release.set()
        assert joined(first, other), "an upgrade never ended"
        assert results == {"upgrading": head, "waiting": 0}, results

        new = model_rows(h.url)
        assert new.pop("rm_meta") == [("indexes", "built"), ("schema_version", NEXT_VERSION)]
        old.pop("rm_meta")
        assert new == old and not beside_left(h.url)
        assert reader.position("alice-a", "topic-x", None, None) is not None and not reader.upgrading
        h.world.claim("after-the-upgrade", stated="2025-01-01")
        assert follower.catch_up() == 1 and upgrading.catch_up() == 0
    finally:
        held.release.set()
        reader.close()
        upgrading.close()
        if follower is not None:
            follower.close()


def test_a_projector_writes_nothing_into_a_model_of_another_schema_version(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """As a projector of an older version left running after an upgrade's switch: the model's stored
    version (the newer one's) is not its own. It logs an error, once, and writes nothing."""
    h.world.claim("c1")
    h.project()
    conn = connect(h.url)
    try:
        with conn.write_transaction():
            conn.execute("UPDATE rm_meta SET value = ? WHERE name = 'schema_version'", (NEXT_VERSION,))
    finally:
        conn.close()
    h.world.claim("c2", stated="2025-01-01")
    before = model_rows(h.url)
    with caplog.at_level(logging.ERROR, logger="projections.projector"):
        assert h.projector.run_once() == 0
        assert h.projector.catch_up() == 0
    assert model_rows(h.url) == before
    refusals = [r for r in caplog.records if r.levelno == logging.ERROR and NEXT_VERSION in r.getMessage()]
    assert len(refusals) == 1, caplog.text


@pytest.mark.parametrize("front", ["cache", "strawberry"])
def test_the_api_answers_read_model_upgrading_until_the_switch(
    database_url: str, monkeypatch: pytest.MonkeyPatch, front: str
) -> None:
    """An API process of the new version on the old model (its projector building the new one beside):
    503 with Retry-After and a coded error, never an answer read from the old schema's tables; the
    same question answered once the model is switched. ``front``: through the answer cache and the
    prepared path (the defaults), or with both off (strawberry's view and the GraphQL error codes)."""
    ledger = seed(database_url)
    key = ledger.issue_api_key("reader-key", "reader", "test:setup")
    editor = {"Authorization": f"Bearer {ledger.issue_api_key('editor-key', 'editor', 'test:setup')}"}
    mutation = {"query": 'mutation { defineTopic(input: {key: "new", title: "New", proposition: "P"}) { changed } }'}
    projector = Projector(database_url)
    projector.catch_up()
    projector.close()
    monkeypatch.setattr(schema, "SCHEMA_VERSION", NEXT_VERSION)
    fronts: dict[str, Any] = {} if front == "cache" else {"response_cache_bytes": 0, "prepared_http": False}
    settings = Settings.from_env(
        {}, database_url=database_url, projector="external", key_cache_seconds=0.0, write_wait_seconds=0.0, **fronts
    )
    query = {"query": '{ position(actor: "chancellor", topic: "taurus", asOf: "2025-12-31") { stance } }'}
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with TestClient(create_app(settings)) as client:
            for _ in range(2):  # (the second as a document seen before: the prepared path and the cache)
                answer = client.post("/graphql", json=query, headers=headers)
                assert answer.status_code == 503 and answer.headers["retry-after"] == "5", answer.text
                body = answer.json()
                assert {e["extensions"]["code"] for e in body["errors"]} == {READ_MODEL_UPGRADING}
                assert not body.get("data") or body["data"].get("position") is None
            # A mutation too, before it writes: its answer reads the model, and a client told to retry
            # must not have written already.
            size = ledger.ledger_recorder.tree_head().size
            written = client.post("/graphql", json=mutation, headers=editor)
            assert written.status_code == 503 and written.headers["retry-after"] == "5", written.text
            assert {e["extensions"]["code"] for e in written.json()["errors"]} == {READ_MODEL_UPGRADING}
            assert ledger.ledger_recorder.tree_head().size == size
            export = client.get("/export/claims-csv", headers=headers)
            assert (
                export.status_code == 503 and export.json()["errors"][0]["extensions"]["code"] == READ_MODEL_UPGRADING
            )
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["reason"] == "read model upgrading"

            upgrade = Projector(database_url)  # the new version's projector: upgrades beside, then switches
            try:
                assert upgrade.catch_up() == upgrade.recorder.tree_head().size
            finally:
                upgrade.close()
            answer = client.post("/graphql", json=query, headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["data"] == {"position": {"stance": "SUPPORTS"}}, answer.text
            assert client.get("/readyz").status_code == 200
            written = client.post("/graphql", json=mutation, headers=editor)
            assert written.json().get("data") == {"defineTopic": {"changed": True}}, written.text
    finally:
        ledger.close()


def test_claims_rebuild_waits_for_a_rebuild_running_elsewhere_and_then_has_nothing_to_do(
    h: Harness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.cli import projections as cli
    from api.cli.main import main

    busy_ledger(h)
    h.project()
    complete = model_rows(h.url)
    waits = threading.Event()
    say = cli._say_waiting

    def say_and_tell() -> None:
        say()
        waits.set()

    monkeypatch.setattr(cli, "_say_waiting", say_and_tell)
    results: dict[str, Any] = {}
    with rebuilder_lock(h.url, wait=True):  # another process's rebuild, under way
        command = in_thread(results, "cli", lambda: main(["--database", h.url, "rebuild"]), waits)
        assert waits.wait(WAIT)
        assert "cli" not in results  # it waits
        h.projector._rebuild_locked(None)  # (the other one's work: it holds the lock)
    assert joined(command) and results == {"cli": 0}
    out = capsys.readouterr()
    assert "waiting for it to finish" in out.err
    assert "another process rebuilt the read model meanwhile" in out.out and "nothing to do" in out.out
    assert model_rows(h.url) == complete and not beside_left(h.url)


@pytest.fixture
def pg_h(postgres_database_url: str) -> Iterator[Harness]:
    """``h`` on PostgreSQL only (the event loop's reads)."""
    harness = Harness(postgres_database_url, batch_size=4)
    yield harness
    harness.close()


@contextmanager
def reading(h: Harness, **options: Any) -> Iterator[ReadModel]:
    """A reader (an API process's ``ReadModel``) of ``h``'s model, closed after the block."""
    reader = ReadModel(h.url, **options)
    try:
        yield reader
    finally:
        reader.close()


def test_a_rebuild_that_switched_between_the_try_and_the_wait_counts(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The mark of the last switch was read after the failed try of the lock: a rebuild that switched and let
    # go in between left its own mark as "before", and this call rebuilt the whole model again.
    import projections.projector as projector_module

    for i in range(5):
        h.world.claim(f"c{i}")
    h.project()
    other = Projector(h.url, ledger=h.world.ledger)
    real = rebuilder_lock
    tries: list[bool] = []

    @contextmanager
    def lock(url: str, *, wait: bool, waiting: Any = None) -> Iterator[bool]:
        tries.append(wait)
        if len(tries) == 1:  # this call's try: the other holds the lock, switches and lets go
            yield False
            other._rebuild_locked(None)
            return
        with real(url, wait=wait, waiting=waiting) as got:
            yield got

    monkeypatch.setattr(projector_module, "rebuilder_lock", lock)
    try:
        assert h.projector.rebuild() is None and tries == [False, True]
    finally:
        other.close()


def test_the_cost_sizes_are_not_read_from_a_model_being_upgraded(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    # collection_sizes reads on a connection of its own, which no gate guarded: it read the old schema's tables.
    h.world.claim("c1")
    h.project()
    monkeypatch.setattr(schema, "SCHEMA_VERSION", "next-version")
    with reading(h) as model:
        assert model.upgrading
        with pytest.raises(ReadModelUpgrading):
            model.collection_sizes()


def test_a_running_reader_sees_a_switch_to_another_version(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    # The gate was armed only at start: after another version's projector switched the model (a rollback, a
    # newer version deployed beside), a running server read that version's tables with this code, unchecked.
    import projections.queries as queries_module

    monkeypatch.setattr(queries_module, "VERSION_RECHECK_SECONDS", 0.0)  # (a look at every read)
    h.world.claim("c1")
    h.project()
    mine = schema.SCHEMA_VERSION
    with reading(h) as reader:
        assert reader.topics() and not reader.upgrading
        monkeypatch.setattr(schema, "SCHEMA_VERSION", "another-version")
        other = Projector(h.url, ledger=h.world.ledger)
        assert other.catch_up() > 0  # rebuilt beside and switched to its version
        other.close()
        monkeypatch.setattr(schema, "SCHEMA_VERSION", mine)
        with pytest.raises(ReadModelUpgrading, match="another version's projector"):
            reader.topics()
        assert reader.upgrading
        with pytest.raises(ReadModelUpgrading):
            reader.refuse_while_upgrading()
        back = Projector(h.url, ledger=h.world.ledger)  # this version's projector, started: upgrades back
        try:
            assert back.catch_up() > 0
        finally:
            back.close()
        assert reader.topics() and not reader.upgrading


def test_the_loops_version_recheck_takes_no_thread_pool_connection(pg_h: Harness) -> None:
    # The event loop's position batch rechecked the version through the threads' pool: with its connections
    # all held by worker threads, the whole loop waited for one (up to the pool's timeout).
    import asyncio

    pg_h.world.claim("c1")
    pg_h.project()
    with reading(pg_h, pool_size=1) as reader:
        held, release = threading.Event(), threading.Event()

        def hold_the_only_connection() -> None:
            with reader.readers.connection():
                held.set()
                release.wait(WAIT)

        holder = threading.Thread(target=hold_the_only_connection)
        holder.start()
        assert held.wait(WAIT)
        reader._recheck_at = 0.0  # a recheck is due

        async def batch() -> None:
            await asyncio.wait_for(reader.positions_and_sources_async([], None), WAIT / 2)

        try:
            asyncio.run(batch())  # (a TimeoutError: it waited for the held connection)
        finally:
            release.set()
            holder.join(WAIT)
        assert reader._recheck_at > 0.0 and not reader.upgrading


def test_a_look_that_began_before_the_gate_was_set_does_not_clear_it(h: Harness) -> None:
    # Two threads looked at the version around another version's switch: the later look gated, then the
    # earlier one (its read from before the switch) cleared the gate again.
    h.project()
    with reading(h) as reader:
        before = reader._gate_seen  # a look begins...
        with pytest.raises(ReadModelUpgrading):
            reader._judge_version("another-version", reader._gate_seen)  # ...another sees the switch...
        reader._judge_version(schema.SCHEMA_VERSION, before)  # ...and the first ends with what it read
        assert reader.upgrading
        reader._judge_version(schema.SCHEMA_VERSION, reader._gate_seen)  # a look begun after: it clears
        assert not reader.upgrading


def test_the_loops_recheck_of_a_model_without_its_tables_is_a_coded_refusal(pg_h: Harness) -> None:
    # The loop's recheck read rm_meta bare: with the model gone it raised UndefinedTable (an internal error),
    # where the threads' recheck gates (READ_MODEL_UPGRADING).
    import asyncio

    pg_h.project()
    with reading(pg_h) as reader:
        conn = connect(pg_h.url)
        try:
            conn.execute("DROP TABLE rm_meta")
        finally:
            conn.close()
        reader._recheck_at = 0.0
        assert reader.async_readers is not None
        opened = reader.async_readers.opened

        async def twice() -> None:
            for _ in range(2):  # (the second gated: it looks again)
                with pytest.raises(ReadModelUpgrading):
                    await reader.positions_and_sources_async([], None)

        asyncio.run(twice())
        assert reader.upgrading
        # The refused statement left its connection idle: reused, not closed and opened again per look.
        assert reader.async_readers.opened == opened + 1


def test_the_batches_in_flight_when_a_recheck_falls_due_look_once(pg_h: Harness) -> None:
    import asyncio

    pg_h.project()
    with reading(pg_h) as reader:
        readers = reader.async_readers
        assert readers is not None
        looks: list[str] = []
        execute = readers.execute

        async def counting(sql: str, *args: Any, **kwargs: Any) -> Any:
            looks.append(sql)
            return await execute(sql, *args, **kwargs)

        readers.execute = counting  # type: ignore[method-assign]
        reader._recheck_at = 0.0

        async def batches() -> None:
            await asyncio.gather(*(reader.positions_and_sources_async([], None) for _ in range(5)))

        asyncio.run(batches())
        assert looks.count(schema.VERSION_SQL) == 1
        assert not reader.upgrading
