"""The projector: exactly-once batches, crash and resume, schema changes, following, one writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic
from factories import Harness, World, model_rows
from ledger_support import event_class

from ledger import domain
from ledger.postgres import CHANNEL as LEDGER_CHANNEL
from projections import db, handlers, schema
from projections import projector as projector_module
from projections.db import REBUILD_SCHEMA, beside_path, connect, dialect_of
from projections.handlers import Changes
from projections.projector import Projector
from projections.queries import ReadModel
from projections.runner import BackgroundProjector
from projections.signals import Hub, LedgerWakeup


@pytest.fixture
def h(database_url: str) -> Iterator[Harness]:
    harness = Harness(database_url, batch_size=4)
    yield harness
    harness.close()


def busy_ledger(h: Harness) -> None:
    """Claims, corrections and links spread over many small batches (batch_size=4)."""
    for i in range(6):
        h.world.claim(f"c{i}", stance=("SUPPORTS", "OPPOSES")[i % 2], stated=f"2024-0{i + 1}")
    h.world.revise("c1", {"stance": "NEUTRAL"})
    h.world.revise("c1", {"summary": "corrected twice"})
    h.world.link("c2", "DISPUTES", "c1")
    h.world.retract("c3")
    h.world.revise_actor("bob-b", name="Robert B", aliases=["Bobby"])
    h.world.ledger.issue_api_key("reader-1", "reader", "admin")
    h.world.ledger.revoke_api_key("reader-1", "leaked", "admin")
    h.world.claim("c6", actor="bob-b", stated="2024-12-24")


def test_rebuild_twice_and_catch_up_again_write_each_event_once(h: Harness) -> None:
    busy_ledger(h)
    head = h.world.head()
    assert h.project() == head
    assert h.model.projected_position() == head
    first = model_rows(h.url)
    claim_events = sum(len(h.history(f"c{i}")) for i in range(7))
    assert len(first["rm_claim_versions"]) == claim_events == 11
    assert h.project() == 0 and h.projector.run_once() == 0  # nothing left: no duplicates
    assert h.projector.rebuild() == head
    assert model_rows(h.url) == first


def domain_events() -> set[type[Any]]:
    """Every event class the domain can record. Each aggregate also carries the library's bases:
    ``Event`` (of all its events) and ``Created``, which it records only when no ``@event`` names
    its creation (``Claim.Recorded`` is then its created event)."""
    found: set[type[Any]] = set()
    for aggregate in vars(domain).values():
        if not (isinstance(aggregate, type) and issubclass(aggregate, Aggregate)):
            continue
        if aggregate.__module__ != domain.__name__:
            continue
        events = {v for v in vars(aggregate).values() if isinstance(v, type) and issubclass(v, Aggregate.Event)}
        events.discard(aggregate.Event)
        if any(e is not aggregate.Created and issubclass(e, Aggregate.Created) for e in events):
            events.discard(aggregate.Created)
        found |= events
    return found


def test_every_domain_event_is_handled_or_explicitly_ignored() -> None:
    events = domain_events()
    assert (
        event_class(domain.Claim, "Recorded") in events and event_class(domain.SourceKey, "Assigned") in events
    )  # the walk finds them
    assert not set(handlers.HANDLERS) & handlers.IGNORED
    missing = events - set(handlers.HANDLERS) - handlers.IGNORED
    assert not missing, f"add a handler or list them in handlers.IGNORED: {sorted(map(get_topic, missing))}"
    assert set(handlers.HANDLERS) | handlers.IGNORED <= events  # nothing stale


def test_an_event_the_projector_does_not_know_fails_the_batch(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    busy_ledger(h)
    monkeypatch.delitem(handlers.BY_TOPIC, get_topic(event_class(domain.Claim, "Linked")))  # as if Linked were new
    with pytest.raises(handlers.UnknownEvent, match=r"\(ledger\.domain:Claim\.Linked\) is neither handled"):
        h.project()
    stopped_at = h.model.projected_position()
    assert stopped_at < h.world.head()
    assert all(int(row[0]) <= stopped_at for row in model_rows(h.url)["rm_claim_versions"])  # the batch rolled back
    monkeypatch.undo()
    h.project()
    assert h.model.projected_position() == h.world.head()


def test_crash_in_a_handler_mid_batch_rolls_back_view_and_tracking(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    busy_ledger(h)
    calls = {"n": 0}
    revised = get_topic(event_class(domain.Claim, "Revised"))
    real = handlers.BY_TOPIC[revised]

    def failing(changes: Changes, event: handlers.Event) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second revision, inside a batch after some committed ones
            raise RuntimeError("power cut")
        real(changes, event)

    monkeypatch.setitem(handlers.BY_TOPIC, revised, failing)
    with pytest.raises(RuntimeError, match="power cut"):
        h.project()
    stopped_at = h.model.projected_position()
    assert 0 < stopped_at < h.world.head()
    partial = model_rows(h.url)
    # Nothing of the failed batch is visible: every version row is at or before the tracked position.
    assert all(int(row[0]) <= stopped_at for row in partial["rm_claim_versions"])

    monkeypatch.setitem(handlers.BY_TOPIC, revised, real)
    h.project()
    resumed = model_rows(h.url)
    h.projector.rebuild()
    assert resumed == model_rows(h.url)


def test_crash_after_rows_were_streamed_rolls_back_too(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    busy_ledger(h)
    h.projector.run_once(8)
    real_flush = Changes.flush
    flushes = {"n": 0}

    def failing_flush(self: Changes) -> None:
        flushes["n"] += 1
        real_flush(self)
        if flushes["n"] == 1:
            raise ConnectionError("killed after writing")

    monkeypatch.setattr(Changes, "flush", failing_flush)
    with pytest.raises(ConnectionError):
        h.projector.run_once(100)
    assert h.model.projected_position() == 8
    assert all(int(row[0]) <= 8 for row in model_rows(h.url)["rm_claim_versions"])
    h.project()
    resumed = model_rows(h.url)
    h.projector.rebuild()
    assert resumed == model_rows(h.url)


def test_two_projectors_never_project_an_event_twice(h: Harness) -> None:
    busy_ledger(h)
    other = Projector(h.url, batch_size=3)
    try:
        while True:
            done = h.projector.run_once() + other.run_once()
            if not done:
                break
        h.project()  # nothing left to project; creates the deferred query indexes
        together = model_rows(h.url)
    finally:
        other.close()
    h.projector.rebuild()
    assert together == model_rows(h.url)


def test_a_read_ahead_that_found_the_end_of_the_log_does_not_hide_later_events(h: Harness) -> None:
    """After a full batch the projector reads the next one ahead, meanwhile; when that read found
    nothing, events appended since are still projected by the next batch (not taken as the end)."""
    h.project()
    h.world.claim("c1")
    pending = h.world.head() - h.projector.position()
    projector = Projector(h.url, batch_size=pending, ledger=h.world.ledger)
    try:
        assert projector.run_once() == pending  # a full batch: the next one is read ahead...
        ahead = projector._ahead._pending
        if h.world.ledger.ledger_recorder.concurrent_reads:
            assert ahead is not None and ahead[2].result(timeout=30) == []  # the log's end, read ahead
        else:  # ...where the store allows reads from several threads (not SQLite: one reader at a time)
            assert ahead is None
        position = h.world.claim("c2", stance="OPPOSES", stated="2025-03-01")
        before = projector.position()
        assert projector.run_once() == position - before
        assert projector.position() == position
        assert h.model.position("alice-a", "topic-x", None, None).claim.key == "c2"  # type: ignore[union-attr]
    finally:
        projector.close()


def test_a_follower_skips_while_another_projector_holds_the_lock(h: Harness) -> None:
    h.world.claim("c1")
    holder = connect(h.url)
    try:
        with holder.write_transaction():
            assert h.projector.run_once(wait=False) == 0
        assert h.projector.run_once(wait=False) > 0
    finally:
        holder.close()


def test_schema_change_triggers_a_rebuild(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    busy_ledger(h)
    h.project()
    before = model_rows(h.url)
    conn = connect(h.url)
    try:
        conn.execute("CREATE TABLE rm_from_an_older_version (x integer)")
    finally:
        conn.close()
    same = Projector(h.url, ledger=h.world.ledger)
    same.close()
    assert not same.rebuilt  # same schema: kept as it is

    monkeypatch.setattr(schema, "SCHEMA_VERSION", "something-else")
    restarted = Projector(h.url, ledger=h.world.ledger)
    try:
        assert restarted.rebuilt
        # The old model stays as readers see it, complete, while the new one is built beside it.
        served = model_rows(h.url)
        assert restarted.position() == h.world.head() and served.pop("rm_from_an_older_version") == []
        assert served == before
        served["rm_from_an_older_version"] = []
        seen_while_building: list[dict[str, Any]] = []
        monkeypatch.setattr(
            Projector, "_switch_sqlite" if h.url.startswith("sqlite") else "_switch_postgresql",
            _before(lambda: seen_while_building.append(model_rows(h.url)),
                    getattr(Projector, "_switch_sqlite" if h.url.startswith("sqlite") else "_switch_postgresql")),
        )  # fmt: skip
        assert restarted.catch_up() == h.world.head()
        assert seen_while_building == [served]
        after = model_rows(h.url)
        assert "rm_from_an_older_version" not in after
        assert after.pop("rm_meta") != before.pop("rm_meta")
        before.pop("rm_from_an_older_version", None)
        assert after == before
    finally:
        restarted.close()


def _before(first: Any, method: Any) -> Any:
    """``method`` that calls ``first()`` before it does its own work."""

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        first()
        return method(self, *args, **kwargs)

    return wrapped


def test_query_indexes_are_created_after_a_rebuild_caught_up(h: Harness) -> None:
    h.world.claim("c1")
    conn = connect(h.url)
    try:
        state = conn.execute("SELECT value FROM rm_meta WHERE name = 'indexes'")
        assert state == [("deferred",)]
        h.project()
        assert conn.execute("SELECT value FROM rm_meta WHERE name = 'indexes'") == [("built",)]
    finally:
        conn.close()


def test_the_deferred_index_builds_sort_in_more_memory_for_their_transaction_only(database_url: str) -> None:
    conn = connect(database_url)
    try:
        schema.ensure(conn)
        memory = "SELECT pg_size_bytes(current_setting('maintenance_work_mem')), pg_size_bytes(?)"
        postgresql = conn.dialect == "postgresql"
        outside, wanted = conn.execute(memory, (schema.INDEX_BUILD_MEMORY,))[0] if postgresql else (0, 0)
        with conn.write_transaction():
            assert schema.create_deferred_indexes(conn)
            if postgresql:
                assert conn.execute(memory, (schema.INDEX_BUILD_MEMORY,))[0][0] == max(outside, wanted)
        if postgresql:
            assert conn.execute(memory, (schema.INDEX_BUILD_MEMORY,))[0][0] == outside  # SET LOCAL
        with conn.write_transaction():
            assert not schema.create_deferred_indexes(conn)  # built once
    finally:
        conn.close()


def test_follow_picks_up_new_events(database_url: str) -> None:
    world = World.open(database_url)
    model = ReadModel(database_url)
    runner = BackgroundProjector(database_url, interval=0.05).start()
    try:
        assert model.wait_for(world.head(), timeout=30)
        position = world.claim("late", stance="OPPOSES", stated="2025-05-05")
        assert model.wait_for(position, timeout=30)
        found = model.position("alice-a", "topic-x", None, None)
        assert found is not None and found.claim.key == "late"
        # A second writer in the same database (another process, say) is noticed too.
        position = _claim_of_another_writer(database_url, "later", stance="SUPPORTS", stated="2025-05-06", index=7)
        assert model.wait_for(position, timeout=30)
        assert model.projected_position() >= position
    finally:
        runner.stop()
        model.close()
        world.close()
    assert not runner.running


def _claim_of_another_writer(url: str, key: str, **kwargs: Any) -> int:
    """A claim recorded through a ledger of its own (as another process would); its log position."""
    other = World.open(url, seed=False)
    try:
        return other.claim(key, **kwargs)
    finally:
        other.close()


def test_wait_for_gives_up_after_its_timeout(h: Harness) -> None:
    position = h.world.claim("unprojected")
    assert not h.model.wait_for(position, timeout=0.2)  # no projector runs
    h.project()
    assert h.model.wait_for(position, timeout=0)


def test_cli_project_and_rebuild(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli.main import main

    world = World.open(database_url)
    position = world.claim("c1")
    world.close()
    assert main(["--database", database_url, "project"]) == 0
    assert f"read model at log position {position}" in capsys.readouterr().out
    assert main(["--database", database_url, "rebuild"]) == 0
    assert f"rebuilt {position} events" in capsys.readouterr().out
    model = ReadModel(database_url)
    try:
        assert model.projected_position() == position
    finally:
        model.close()


def test_a_follower_wakes_at_once_not_at_its_next_poll(database_url: str) -> None:
    """PostgreSQL: the ledger's NOTIFY wakes it; SQLite: a reader waiting in this process does."""
    world = World.open(database_url)
    model = ReadModel(database_url)
    runner = BackgroundProjector(database_url, interval=120).start()
    try:
        assert model.wait_for(world.head(), timeout=30)
        assert runner.projector is not None
        hub = runner.projector.hub
        seen = hub.sequence
        position = world.claim("prompt")
        if database_url.startswith("postgresql"):
            # Nobody asks: only the NOTIFY of the ledger's append can wake the follower in time.
            assert hub.wait_published(seen, timeout=30)
            assert model.projected_position() >= position
        else:
            assert model.wait_for(position, timeout=30)
    finally:
        runner.stop()
        model.close()
        world.close()


def _cut_connections(url: str) -> int:
    """Terminate every other connection to the database, as a restart or a network cut does; how many."""
    with psycopg.connect(url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_follower_goes_on_after_the_database_cut_its_connections(postgres_database_url: str) -> None:
    """A restart of PostgreSQL, a failover, an idle-connection killer: the embedded projector used to die
    with its connection, and the API went on answering from a model that no longer followed the log."""
    url = postgres_database_url
    world = World.open(url)
    runner = BackgroundProjector(url, interval=120).start()  # (no poll tick in the test: waits are woken)
    model = ReadModel(url)
    try:
        assert model.wait_for(world.head(), timeout=30)
        assert _cut_connections(url) >= 3  # the follower's LISTEN, its model's and its ledger's
        model.close()
        world.close()
        world, model = World.open(url, seed=False), ReadModel(url)
        position = world.claim("after-the-cut", stated="2025-06-01")
        assert model.wait_for(position, timeout=30), "the follower no longer projects"
        assert runner.running
        found = model.position("alice-a", "topic-x", None, None)
        assert found is not None and found.claim.key == "after-the-cut"
        # And it listens again: an append of another process wakes it, with nobody in this one asking.
        assert runner.projector is not None
        seen = runner.projector.hub.sequence
        position = _claim_of_another_writer(url, "woken", stated="2025-06-02", index=9)
        assert runner.projector.hub.wait_published(seen, timeout=30)
        assert model.projected_position() >= position
    finally:
        runner.stop()
        model.close()
        world.close()
    assert not runner.running


def test_a_follower_blocks_on_its_socket_and_is_woken_at_once(postgres_database_url: str) -> None:
    """Idle, it waits in one poll() until a notification, a request or the interval's end: no slices."""
    hub = Hub()
    wakeup = LedgerWakeup(postgres_database_url, hub)
    stop = threading.Event()
    conn = wakeup._conn
    assert conn is not None
    reads = 0
    notifies = conn.notifies

    def counted(**kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return notifies(**kwargs)

    conn.notifies = counted  # type: ignore[method-assign]
    try:
        wakeup.wait(stop, 0.3)  # nothing happens: the whole interval in poll(), no read of the socket
        assert reads == 0
        waiting = threading.Thread(target=wakeup.wait, args=(stop, 120.0))
        waiting.start()
        hub.request()  # as a reader of this process, or BackgroundProjector.stop, asks
        waiting.join(30)
        assert not waiting.is_alive() and reads == 0
        with psycopg.connect(postgres_database_url, autocommit=True) as other:
            waiting = threading.Thread(target=wakeup.wait, args=(stop, 120.0))
            waiting.start()
            other.execute(f"NOTIFY {LEDGER_CHANNEL}, '1'")  # as the ledger's append does
            waiting.join(30)
        assert not waiting.is_alive() and reads == 1
    finally:
        wakeup.close()


def beside_left(url: str) -> bool:
    """Whether anything of a rebuild's model beside the live one is left (schema or side file)."""
    if dialect_of(url) == "sqlite":
        return any(os.path.exists(beside_path(url) + end) for end in ("", "-wal", "-shm"))
    conn = connect(url)
    try:
        return bool(conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = ?", (REBUILD_SCHEMA,))[0][0])
    finally:
        conn.close()


def test_a_rebuild_leaves_nothing_beside_the_live_model_done_or_failed(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_ledger(h)
    h.project()
    live = model_rows(h.url)
    assert h.projector.rebuild() == h.world.head()
    assert not beside_left(h.url)
    assert model_rows(h.url) == live

    def fail(changes: Changes, event: handlers.Event) -> None:
        raise RuntimeError("a handler failed")

    monkeypatch.setitem(handlers.BY_TOPIC, get_topic(event_class(domain.Claim, "Linked")), fail)
    with pytest.raises(RuntimeError, match="a handler failed"):
        h.projector.rebuild()
    assert not beside_left(h.url)
    assert model_rows(h.url) == live  # the live model was never touched


def test_queries_during_a_rebuild_see_a_complete_model_old_or_new(h: Harness) -> None:
    """The rebuild projects beside the live model (batch_size=4: many commits) and switches at once."""
    busy_ledger(h)
    head = h.world.head()
    h.project()
    complete = (head, h.model.collection_sizes(), len(model_rows(h.url)["rm_claim_versions"]))
    seen: list[tuple[Any, ...]] = []
    done = threading.Event()
    reader = ReadModel(h.url)

    def read() -> None:
        while not done.is_set() or len(seen) < 3:
            rows = len(reader._rows("SELECT position FROM rm_claim_versions"))
            seen.append((reader.projected_position(), reader.collection_sizes(), rows))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        assert h.projector.rebuild() == head
    finally:
        done.set()
        thread.join(30)
        reader.close()
    assert seen and all(observed == complete for observed in seen), [o for o in seen if o != complete][:3]
    assert h.projector.run_once() == 0 and h.model.projected_position() == head  # the live projector follows on
    h.world.claim("after-rebuild", stated="2025-01-01")
    assert h.project() == 1


def test_a_rebuild_switch_waits_for_readers_without_deadlocking_them(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader's transaction holds one live table, and asks for another while the switch waits for the first.

    The switch used to drop the tables one by one: holding those it had dropped while it waited for the
    reader's, it closed a cycle with the reader's next read, and after deadlock_timeout PostgreSQL aborted
    one of the two (the rebuild or, worse, the reader's query). Now it takes every lock or none, never
    waiting as long as half the server's deadlock_timeout.
    """
    # Its longest wait from the first try, as after a few retries behind busy readers.
    monkeypatch.setattr(db, "REPLACEMENT_LOCK_WAIT_S", db.REPLACEMENT_LOCK_WAIT_MAX_S)
    h = Harness(postgres_database_url, batch_size=4)
    reader = psycopg.connect(postgres_database_url)  # not autocommit: one transaction, its locks kept
    watcher = psycopg.connect(postgres_database_url, autocommit=True)
    try:
        busy_ledger(h)
        head = h.project()
        tables = sorted(model_rows(h.url))
        held = tables[-1]  # the last the switch locks: it holds the others while it waits for this one
        reader.execute(f"SELECT count(*) FROM {held}")
        outcome: list[object] = []
        switch = threading.Thread(target=lambda: outcome.append(_outcome(h.projector.rebuild)))
        switch.start()
        # PostgreSQL tells no one that a lock is awaited: look at pg_locks until the switch waits for `held`.
        deadline = time.monotonic() + 30
        while not watcher.execute(
            "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " WHERE NOT l.granted AND l.mode = 'AccessExclusiveLock' AND c.relname = %s",
            (held,),
        ).fetchall():
            assert switch.is_alive() and time.monotonic() < deadline, outcome
            threading.Event().wait(0.005)
        for table in tables[:-1]:  # each the switch may hold at this moment: it lets go instead of deadlocking
            reader.execute(f"SELECT count(*) FROM {table}")
        reader.commit()
        switch.join(60)
        assert outcome == [head]
        assert h.model.projected_position() == head and len(model_rows(h.url)["rm_claim_versions"]) == 11
    finally:
        reader.close()
        watcher.close()
        h.close()


def test_the_lock_for_a_replacement_tries_again_after_being_a_deadlocks_victim(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A LOCK that closed a cycle and was aborted (DeadlockDetected: with a short deadlock_timeout the
    switch, waiting first, is the victim) rolls back to its savepoint and is tried again; the caller's
    transaction and its lock_timeout are as they were."""
    h = Harness(postgres_database_url, batch_size=4)
    conn = connect(postgres_database_url)
    try:
        h.project()
        tables = conn.table_names("rm_")
        raw = conn.raw  # type: ignore[attr-defined]
        execute, failed = raw.execute, list[Any]()

        def once_a_victim(statement: Any, *args: Any, **kwargs: Any) -> Any:
            if str(statement).startswith("LOCK TABLE") and not failed:
                failed.append(statement)
                execute("SELECT 1")  # (inside the savepoint, as the real LOCK would be)
                raise psycopg.errors.DeadlockDetected("deadlock detected")
            return execute(statement, *args, **kwargs)

        monkeypatch.setattr(raw, "execute", once_a_victim)
        with conn.write_transaction():
            raw.execute("SET LOCAL lock_timeout = '7s'")
            conn.lock_for_replacement(tables)
            locked = execute(
                "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND mode = 'AccessExclusiveLock'"
                " AND relation = ANY(%s::regclass[])",
                (tables,),
            ).fetchone()
            assert failed and locked == (len(tables),)
            assert execute("SHOW lock_timeout").fetchone() == ("7s",)
    finally:
        conn.close()
        h.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_claims_project_follow_stops_at_once_on_ctrl_c_or_sigterm(database_url: str, signum: int) -> None:
    """Its interval is long (60 s): the stop must wake the follower, not wait for its next tick."""
    World.open(database_url).close()
    follow = subprocess.Popen(
        [sys.executable, "-m", "api.cli.main", "--database", database_url, "project", "--follow", "--interval", "60"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert follow.stderr is not None
        for line in follow.stderr:  # until it follows
            if line.startswith("following the ledger"):
                break
        follow.send_signal(signum)
        assert follow.wait(timeout=30) == 0
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()


def test_a_follower_backs_off_at_least_its_first_delay_however_often_readers_ask(h: Harness) -> None:
    """Every pinned read and every write asks the follower to look; a failure that recurs must not
    turn those into a busy loop of attempts. A stop ends the wait at once."""
    stop = threading.Event()
    h.projector.hub.request()  # (a reader asked before the wait began)
    began = time.monotonic()
    h.projector._back_off(stop, 5.0)
    assert time.monotonic() - began >= projector_module.RETRY_FIRST_SECONDS
    stop.set()
    began = time.monotonic()
    h.projector._back_off(stop, 3600.0)  # (returns at once: a failure here would hang the test)


def _outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except Exception as error:  # the thread's error, for the test's assertion
        return error


def model_indexes(url: str) -> set[str]:
    """The names of the live model's indexes (the query indexes and the tables' own)."""
    conn = connect(url)
    try:
        if conn.dialect == "sqlite":
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        else:
            rows = conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
        return {str(r[0]) for r in rows if str(r[0]).startswith("rm_")}
    finally:
        conn.close()


QUERY_INDEX_NAMES = {s.split()[2] for s in schema._statements(schema.QUERY_INDEXES)}
# A build that fails (no such column), declared between two that succeed.
BROKEN_INDEXES = schema.QUERY_INDEXES.replace(
    "CREATE INDEX rm_claim_versions_source",
    "CREATE INDEX rm_broken ON rm_claim_versions (no_such_column);\nCREATE INDEX rm_claim_versions_source",
)


def test_a_rebuild_builds_every_query_index_and_a_failed_build_leaves_the_live_model_as_it_was(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the query indexes are built by several connections at once (schema.INDEX_BUILDERS)."""
    busy_ledger(h)
    h.project()
    assert h.projector.rebuild() == h.world.head()
    live, indexes = model_rows(h.url), model_indexes(h.url)
    assert indexes >= QUERY_INDEX_NAMES and live["rm_meta"].count(("indexes", "built")) == 1

    monkeypatch.setattr(schema, "QUERY_INDEXES", BROKEN_INDEXES)
    with pytest.raises(Exception, match="no_such_column"):
        h.projector.rebuild()
    assert not beside_left(h.url)
    assert model_rows(h.url) == live and model_indexes(h.url) == indexes  # untouched
    assert h.projector.run_once() == 0  # the live projector goes on
    h.world.claim("after-a-failed-rebuild", stated="2025-01-01")
    assert h.project() == 1


def test_index_builds_that_failed_halfway_are_finished_by_the_next_call(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: each build commits on its own connection; after a failure the model says 'deferred'
    and the next call builds only what is missing (SQLite: one transaction, rolled back)."""
    conn = connect(database_url)
    projector = Projector(database_url)
    try:
        builders = projector._index_builders()
        monkeypatch.setattr(schema, "QUERY_INDEXES", BROKEN_INDEXES)
        with pytest.raises(Exception, match="no_such_column"), conn.write_transaction():
            schema.create_deferred_indexes(conn, builders)
        assert conn.execute("SELECT value FROM rm_meta WHERE name = 'indexes'") == [("deferred",)]
        monkeypatch.undo()
        with conn.write_transaction():
            assert schema.create_deferred_indexes(conn, builders)
        assert model_indexes(database_url) >= QUERY_INDEX_NAMES
        assert conn.execute("SELECT value FROM rm_meta WHERE name = 'indexes'") == [("built",)]
    finally:
        projector.close()
        conn.close()
