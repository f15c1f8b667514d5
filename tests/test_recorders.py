"""The ledger's recorders are eventsourcing's, extended: chosen through the library's environment,
subscriptions on both stores (LISTEN/NOTIFY on PostgreSQL, polling on SQLite), and the library
internals the extensions rely on (each check fails when the library changes under them)."""

from __future__ import annotations

import contextlib
import inspect
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import ListenNotifySubscription, Notification
from eventsourcing.popo import POPOAggregateRecorder, POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresSubscription
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteConnectionPool, SQLiteTransaction
from ledger_support import actor, seed_world

from ledger import commands as c
from ledger.application import ClaimsLedger, persistence_env
from ledger.db import KEEPALIVES, SQLITE_BUSY_TIMEOUT_MS, connection_options
from ledger.integrity import merkle
from ledger.integrity.verify import verify
from ledger.memory import POPOLedgerRecorder
from ledger.postgres import CHANNEL, ListeningSubscription, PostgresLedgerRecorder
from ledger.sqlite import PollingSubscription, SQLiteLedgerRecorder, stored_nodes_query
from projections.db import PostgresConnection, connect_schema
from projections.queries import ReadModel

DEADLINE = 15.0  # seconds a subscriber may take to see an event (a failure, not a wait)


@pytest.fixture
def ledger(database_url: str) -> Iterator[ClaimsLedger]:
    with ClaimsLedger.open(database_url) as app:
        yield app


def test_the_store_is_chosen_through_the_library_environment(database_url: str) -> None:
    env = persistence_env(database_url)
    with ClaimsLedger(env=env) as ledger:
        recorder = ledger.recorder
        if database_url.startswith("sqlite"):
            assert isinstance(recorder, SQLiteLedgerRecorder) and isinstance(recorder, SQLiteApplicationRecorder)
            assert env["PERSISTENCE_MODULE"] == "ledger.sqlite:SQLiteLedgerFactory"
        else:
            assert isinstance(recorder, PostgresLedgerRecorder) and isinstance(recorder, PostgresApplicationRecorder)
            assert env["PERSISTENCE_MODULE"] == "ledger.postgres:PostgresLedgerFactory"
    with ClaimsLedger() as memory:
        assert isinstance(memory.recorder, POPOLedgerRecorder)
        assert isinstance(memory.recorder, POPOApplicationRecorder)


class _Collector:
    """Reads a subscription on a thread; ``wait_for(n)`` waits (with a deadline) until it has n."""

    def __init__(self, subscription: Any) -> None:
        self.subscription = subscription
        self.seen: list[Notification] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for notification in self.subscription:
            with self.changed:
                self.seen.append(notification)
                self.changed.notify_all()

    def wait_for(self, count: int) -> list[Notification]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.seen) >= count, DEADLINE), f"saw {len(self.seen)} of {count}"
            return list(self.seen)


def test_subscribe_delivers_past_and_new_events_in_log_order(ledger: ClaimsLedger, database_url: str) -> None:
    seed_world(ledger)  # positions 1..5
    subscription = ledger.recorder.subscribe(gt=2)
    expected_kind = PollingSubscription if database_url.startswith("sqlite") else ListeningSubscription
    assert type(subscription) is expected_kind
    with subscription:
        collector = _Collector(subscription)
        assert [n.id for n in collector.wait_for(3)] == [3, 4, 5]
        with ledger.batch("tester") as batch:  # written after the subscriber started: woken, then pulled
            batch.register_actor(c.parse_actor(actor("new-speaker")))
        seen = collector.wait_for(4)
        assert [n.id for n in seen] == [3, 4, 5, 6]
        assert seen[-1].topic == "ledger.domain:Actor.Registered"
        assert seen[-1].state == ledger.ledger_recorder.read_log(5, 1)[0].state
    collector.thread.join(DEADLINE)
    assert not collector.thread.is_alive()


def test_subscribe_with_topics_skips_the_others(ledger: ClaimsLedger) -> None:
    seed_world(ledger)
    with ledger.recorder.subscribe(gt=0, topics=["ledger.domain:Topic.Defined"]) as subscription:
        collector = _Collector(subscription)
        assert [n.topic for n in collector.wait_for(1)] == ["ledger.domain:Topic.Defined"]


def test_a_subscription_gives_its_pooled_connection_back_listening_to_nothing(postgres_database_url: str) -> None:
    """Else every append's NOTIFY reaches that idle connection, which then passes for one the server
    closed (its socket readable): it would be dropped and opened again at each use."""
    with ClaimsLedger.open(postgres_database_url) as ledger:
        seed_world(ledger)
        with ledger.recorder.subscribe(gt=0) as subscription:
            _Collector(subscription).wait_for(1)
        recorder = ledger.recorder
        assert isinstance(recorder, PostgresLedgerRecorder)
        datastore = recorder.datastore
        with contextlib.ExitStack() as held:  # every connection the pool has, at once
            size = datastore.pool.get_stats()["pool_size"]
            conns = [held.enter_context(datastore.get_connection()) for _ in range(size)]
            assert conns and all(c.execute("SELECT pg_listening_channels()").fetchall() == [] for c in conns)


def test_a_postgresql_append_notifies_the_ledger_channel(postgres_server: Any) -> None:
    """The library's NOTIFY of an append goes to the channel the read side listens on
    (projections/signals.py). SQLite has no notifications: its subscription polls (tests above)."""
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    try:
        with ClaimsLedger.open(url) as ledger, psycopg.connect(url, autocommit=True) as listener:
            listener.execute(f"LISTEN {CHANNEL}")
            assert isinstance(ledger.recorder, PostgresLedgerRecorder) and ledger.recorder.channel_name == CHANNEL
            seed_world(ledger)
            assert [n.channel for n in listener.notifies(timeout=DEADLINE, stop_after=1)] == [CHANNEL]
    finally:
        postgres_server.drop_database(name)


class _LateListener(ListeningSubscription):
    """Its LISTEN runs only once the test opens the gate: the window between the first pull and LISTEN, held open."""

    gate = threading.Event()

    def _listen(self) -> None:
        self.gate.wait(DEADLINE)
        super()._listen()


def test_a_postgresql_subscription_sees_an_event_committed_before_its_listen_began(postgres_server: Any) -> None:
    name = postgres_server.create_database()
    try:
        with ClaimsLedger.open(postgres_server.url(name)) as ledger:
            seed_world(ledger)  # positions 1..5
            _LateListener.gate.clear()
            recorder = ledger.recorder
            assert isinstance(recorder, PostgresLedgerRecorder)
            with _LateListener(recorder, gt=2) as subscription:
                collector = _Collector(subscription)
                assert [n.id for n in collector.wait_for(3)] == [3, 4, 5]  # the first pull is done
                with ledger.batch("tester") as batch:  # its NOTIFY finds no listener yet
                    batch.register_actor(c.parse_actor(actor("new-speaker")))
                _LateListener.gate.set()
                assert [n.id for n in collector.wait_for(4)] == [3, 4, 5, 6]  # the library's waited for a next write
            collector.thread.join(DEADLINE)
    finally:
        _LateListener.gate.set()
        postgres_server.drop_database(name)


def test_memory_ledger_keeps_the_merkle_log_like_the_stores() -> None:
    with ClaimsLedger() as ledger:
        seed_world(ledger)
        ledger.issue_api_key("desk", "reader", "admin")
        recorder = ledger.ledger_recorder
        report = verify(recorder)
        assert report.ok and report.events == 6 == recorder.tree_head().size
        assert [h.size for h in recorder.tree_heads()] == [5, 6]
        assert [e.position for e in recorder.read_access_events(0, 6)] == [6]


# ------------------------------------------------------------------ library internals relied on


def _params(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_library_hooks_the_recorders_override_are_still_there() -> None:
    """Protected methods and attributes of eventsourcing 9.5 the ledger's recorders override or use."""
    # POPO: _insert_events checks uniqueness under _database_lock, then calls _update_table.
    assert _params(POPOAggregateRecorder._update_table) == ["self", "stored_events", "_"]
    assert "self._update_table(" in inspect.getsource(POPOAggregateRecorder._insert_events)
    assert hasattr(POPOApplicationRecorder(), "_database_lock")
    # SQLite: the insertion step, a transaction that translates errors, the pool's connection factory.
    assert _params(SQLiteApplicationRecorder._insert_events) == ["self", "c", "stored_events", "_"]
    assert _params(SQLiteTransaction.__init__) == ["self", "connection", "commit"]
    assert "def _create_connection" in inspect.getsource(SQLiteConnectionPool)
    assert {"db_name", "lock_timeout"} <= set(_params(SQLiteConnectionPool.__init__))
    # PostgreSQL: the table lock and NOTIFY of an append; the subscription listens on channel_name.
    assert _params(PostgresApplicationRecorder._lock_table) == ["self", "curs"]
    assert _params(PostgresApplicationRecorder._notify_channel) == ["self", "curs"]
    # ListeningSubscription replaces the listen loop: the library's listens on channel_name, wakes the pull
    # through _has_been_notified, and reports errors through _thread_error and stop().
    listen = inspect.getsource(PostgresSubscription._listen)
    assert all(name in listen for name in ("channel_name", "_has_been_notified", "_thread_error", "self.stop()"))
    # The SQLite subscription wakes the library's pull loop through this event.
    assert "_has_been_notified" in inspect.getsource(ListenNotifySubscription._loop_on_pull)


def test_sqlite_connections_of_the_recorder_get_the_ledgers_pragmas(tmp_path: Any) -> None:
    with ClaimsLedger.open(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        recorder = ledger.recorder
        assert isinstance(recorder, SQLiteLedgerRecorder)
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 1  # NORMAL
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] == SQLITE_BUSY_TIMEOUT_MS
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"


def _root_of_leaves(leaves: list[bytes]) -> bytes:
    while len(leaves) > 1:
        leaves = [merkle.node_hash(leaves[i], leaves[i + 1]) for i in range(0, len(leaves), 2)]
    return leaves[0]


def test_stored_tree_nodes_are_found_by_level_and_index(ledger: ClaimsLedger) -> None:
    with ledger.batch("tester") as batch:
        for n in range(40):
            batch.register_actor(c.parse_actor(actor(f"actor-{n:02}")))
    recorder = ledger.ledger_recorder
    leaves = recorder.leaf_hashes(0, 40)
    asked = [(4, 1), (5, 0), (4, 0), (4, 7), (9, 0)]  # the last two cover leaves the log does not hold yet
    found = recorder.stored_nodes(asked)
    assert found == {
        (4, 0): _root_of_leaves(leaves[:16]),
        (4, 1): _root_of_leaves(leaves[16:32]),
        (5, 0): _root_of_leaves(leaves[:32]),
    }
    assert recorder.stored_nodes([]) == {}


def test_sqlite_looks_tree_nodes_up_by_primary_key_not_by_scanning_the_table(tmp_path: Any) -> None:
    # A scan per lookup made verify quadratic in the log's length (bench/verify_rate.py at 1M events).
    with ClaimsLedger.open(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        recorder = ledger.recorder
        assert isinstance(recorder, SQLiteLedgerRecorder)
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + stored_nodes_query(3), [4, 0, 4, 1, 5, 0])
            plan = [row[3] for row in cursor.fetchall()]
    assert any("SEARCH n USING PRIMARY KEY" in step for step in plan), plan
    assert not any(step.startswith("SCAN n") or "SCAN ledger_tree_nodes" in step for step in plan), plan


def test_strawberry_private_schema_attribute_is_the_graphql_core_schema() -> None:
    """api/graphql/caching.py and api/graphql/limits.py validate and cost documents against ``Schema._schema``."""
    from graphql import GraphQLSchema

    from api.graphql.schema import build_schema

    schema = build_schema()
    assert isinstance(schema._schema, GraphQLSchema)
    assert schema._schema.query_type is not None and schema._schema.query_type.name == "Query"


def _keepalive_idle(conn: psycopg.Connection[Any]) -> int | None:
    """The kernel's TCP keepalive idle time on a connection's socket, or None when keepalives are off."""
    with socket.socket(fileno=os.dup(conn.pgconn.socket)) as sock:
        if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE):
            return None
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)


def test_every_postgresql_connection_probes_a_silent_host_after_30_seconds(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database host that vanishes without a reset is noticed within about a minute (the kernel's default
    would wait over two hours): the ledger's pool (set up through the library's environment), the read
    model's readers, a projector's and a rebuild's connections all carry KEEPALIVES, unless the URL sets its
    own (or names a service file, which may)."""
    url = postgres_database_url
    assert connection_options(url)["keepalives_idle"] == KEEPALIVES["keepalives_idle"] == 30
    with ClaimsLedger.open(url) as ledger, contextlib.closing(ReadModel(url)) as model:
        recorder = ledger.recorder
        assert isinstance(recorder, PostgresLedgerRecorder)
        with recorder.datastore.get_connection() as conn:
            assert _keepalive_idle(conn) == 30
        with model.readers.connection() as reader:
            assert isinstance(reader, PostgresConnection) and _keepalive_idle(reader.raw) == 30
        for dedicated in (PostgresConnection.connect(url), connect_schema(url, "public")):  # (projector, rebuild)
            try:
                assert isinstance(dedicated, PostgresConnection) and _keepalive_idle(dedicated.raw) == 30
            finally:
                dedicated.close()
    own = f"{url}{'&' if '?' in url else '?'}keepalives_idle=45"
    assert "keepalives_count" not in connection_options(own)  # the URL's keepalive settings are left alone
    assert connection_options("service=claims") == {}
    with psycopg.connect(own, **connection_options(own)) as conn:
        assert _keepalive_idle(conn) == 45
    monkeypatch.setenv("PGSERVICE", "claims")  # (the file it names may set keepalives: ours would override them)
    assert "keepalives_idle" not in connection_options(url) and "connect_timeout" in connection_options(url)
