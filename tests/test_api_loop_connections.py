"""The event loop's read connections (projections/db.py AsyncReaders) under what a server does to them:
its connection limit reached, a statement timeout, a backend terminated, a server that never answers a
connect, and the app's shutdown with a batch or a connect under way (PostgreSQL only: SQLite reads on
threads)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg_pool import PoolTimeout
from test_api_position_batches import _ledger, _settled

from api.errors import ShuttingDown
from api.graphql import loaders
from api.graphql.resolvers.reading import POSITIONS, PositionQuestion, answer_positions, answer_positions_on_loop
from api.settings import Settings
from api.web.app import create_app
from ledger.errors import DatabaseUnavailable
from projections.db import AsyncReaders, QueryTimeout, Readers

ROLE = "loop_limited"


async def until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    """Let the loop run (the server answer) until ``condition`` holds, ``seconds`` at most."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.005)


def _waiting_for_a_lock(admin: psycopg.Connection[Any], user: str | None = None) -> bool:
    """A backend of this database (of ``user``, if given) waits for a lock (a table another one holds)."""
    rows = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        " AND (%s::text IS NULL OR usename = %s)",
        (user, user),
    ).fetchall()
    return bool(rows[0][0])


@pytest.fixture
def held_table(postgres_database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An admin connection (autocommit) of the test's database, which has a table ``held`` of one row."""
    with psycopg.connect(postgres_database_url, autocommit=True) as admin:
        admin.execute("CREATE TABLE held (x int)")
        admin.execute("INSERT INTO held VALUES (1)")
        yield admin


def test_a_batch_waits_for_an_open_connection_when_the_server_refuses_another(
    postgres_database_url: str, held_table: psycopg.Connection[Any], monkeypatch: Any
) -> None:
    """The role's connection limit reached: a batch waiting while the loop's one connection is held (a
    table lock) is answered on it when it is given back, not failed with the refused connect's error
    (the threads' pool queues too)."""
    admin = held_table
    admin.execute(f"DROP ROLE IF EXISTS {ROLE}")
    admin.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD 'limited' CONNECTION LIMIT 1")
    admin.execute(f"GRANT SELECT ON held TO {ROLE}")
    refused: list[BaseException] = []
    connect = psycopg.AsyncConnection.connect

    async def counted(*args: Any, **kwargs: Any) -> Any:
        try:
            return await connect(*args, **kwargs)
        except psycopg.OperationalError as error:
            refused.append(error)
            raise

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", counted)
    readers = AsyncReaders(make_conninfo(postgres_database_url, user=ROLE, password="limited"), size=4)

    async def run() -> None:
        assert await readers.execute("SELECT 1") == [(1,)]  # (the role's one connection, now idle)
        with psycopg.connect(postgres_database_url) as lock:
            lock.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
            first = asyncio.ensure_future(readers.execute("SELECT count(*) FROM held"))
            await until(lambda: _waiting_for_a_lock(admin, ROLE))
            second = asyncio.ensure_future(readers.execute("SELECT 2"))
            await until(lambda: bool(refused))  # (the connect opened beside it: too many for the role)
            assert "too many connections" in str(refused[0])
            later = asyncio.ensure_future(readers.execute("SELECT 3"))
            for _ in range(100):  # (a few turns of the loop: no connect tried again yet, none failed)
                await asyncio.sleep(0)
            assert not second.done() and not later.done() and len(refused) == 1
            lock.commit()
        assert await first == [(1,)]
        assert await second == [(2,)] and await later == [(3,)]
        assert readers.opened == 1

    try:
        asyncio.run(asyncio.wait_for(run(), 60))
    finally:
        readers.close()
        with psycopg.connect(postgres_database_url, autocommit=True) as admin2:
            admin2.execute(f"DROP OWNED BY {ROLE}")
            admin2.execute(f"DROP ROLE {ROLE}")


def test_a_server_that_never_answers_holds_no_batch_nor_the_shutdown(postgres_server: Any) -> None:
    """Connects get a timeout unless the URL sets one (psycopg's default is 130 s); a batch waits for a
    connection ``wait_timeout`` at most (then the pool's error, as on a thread); ``settle`` cancels a
    connect still under way after its bound."""
    with socket.socket() as server:  # accepts, never answers
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        url = f"postgresql://nobody@127.0.0.1:{server.getsockname()[1]}/none?sslmode=disable"
        assert AsyncReaders(url).kwargs["connect_timeout"] == AsyncReaders.CONNECT_TIMEOUT
        assert "connect_timeout" not in AsyncReaders(url + "&connect_timeout=3").kwargs
        assert AsyncReaders(url).kwargs["keepalives_idle"] == 30  # (a silent host noticed: test_recorders.py)
        readers = AsyncReaders(url, size=1, wait_timeout=0.5)

        async def run() -> None:
            loop = asyncio.get_running_loop()
            batch = asyncio.ensure_future(readers.execute("SELECT 1"))
            peer, _ = await loop.sock_accept(server)  # (the connect reached the server)
            with peer, pytest.raises(DatabaseUnavailable) as refused:  # (coded for the client: HTTP 503)
                await batch
            assert isinstance(refused.value.__cause__, PoolTimeout)
            assert refused.value.reason == "couldn't get a connection after 0.50 sec"
            connections = readers._loops[loop]
            assert connections.opening and not connections.waiters  # (the connect still waits)
            began = time.monotonic()
            await readers.settle(0.2)
            assert time.monotonic() - began < 5 and not connections.opening

            # A connect timeout of the URL's: the batch gets the connect's error.
            bounded = AsyncReaders(url + "&connect_timeout=2", size=1)
            try:
                began = time.monotonic()
                batch = asyncio.ensure_future(bounded.execute("SELECT 1"))
                peer, _ = await loop.sock_accept(server)
                with peer, pytest.raises(DatabaseUnavailable) as refused:
                    await batch
                assert "timeout" in refused.value.reason
                assert time.monotonic() - began < 8
            finally:
                bounded.close()

        try:
            asyncio.run(asyncio.wait_for(run(), 30))
        finally:
            readers.close()


def test_a_statement_timeout_on_the_event_loop_is_the_threads_error(
    postgres_database_url: str, held_table: psycopg.Connection[Any]
) -> None:
    """A real statement timeout (a statement held by a table lock) raises the same QueryTimeout on the loop
    as on a thread, and the loop's connection serves the next statement."""
    threads = Readers(postgres_database_url, pool_size=1, statement_timeout=0.2)
    readers = AsyncReaders(postgres_database_url, size=2, statement_timeout=0.2)

    async def run() -> tuple[BaseException, list[Any]]:
        with pytest.raises(Exception) as on_loop:
            await readers.execute("SELECT count(*) FROM held")
        return on_loop.value, await readers.execute("SELECT 2")

    try:
        with psycopg.connect(postgres_database_url) as lock:
            lock.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(Exception) as on_thread, threads.connection() as conn:
                conn.execute("SELECT count(*) FROM held")
            on_loop, after = asyncio.run(run())
        assert type(on_thread.value) is QueryTimeout
        assert type(on_loop) is QueryTimeout and str(on_loop) == str(on_thread.value)
        assert after == [(2,)] and readers.opened == 1
    finally:
        threads.close()
        readers.close()


def test_a_terminated_event_loop_connection_is_replaced_before_any_batch_uses_it(
    postgres_database_url: str, held_table: psycopg.Connection[Any]
) -> None:
    """A backend ended under the loop (pg_terminate_backend, a restart): the next batch is answered on a new
    connection (the closed one is noticed before it is used: no batch fails; it used to fail one)."""
    admin = held_table
    readers = AsyncReaders(postgres_database_url, size=2)

    async def run() -> None:
        [(pid,)] = await readers.execute("SELECT pg_backend_pid()")
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        query = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
        await until(lambda: admin.execute(query, (pid,)).fetchall() == [(0,)])  # (the backend ended)
        [(new,)] = await readers.execute("SELECT pg_backend_pid()")
        assert new != pid and await readers.execute("SELECT 3") == [(3,)]
        assert readers.opened == 2 and readers.open_connections() == 1

    try:
        asyncio.run(asyncio.wait_for(run(), 30))
    finally:
        readers.close()


def test_event_loop_connections_left_unused_are_closed(
    postgres_database_url: str, held_table: psycopg.Connection[Any]
) -> None:
    """Connections the loop opened for a burst are closed when not needed for ``max_idle`` seconds (they held
    backends until shutdown), also while a steady trickle of batches uses them in turn; the next burst opens
    new ones."""
    admin = held_table
    readers = AsyncReaders(postgres_database_url, size=2, max_idle=0.3)
    query = "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)"

    async def run() -> None:
        with psycopg.connect(postgres_database_url, autocommit=True) as lock:
            lock.execute("BEGIN; LOCK TABLE held")
            burst = [asyncio.create_task(readers.execute("SELECT pg_backend_pid() FROM held")) for _ in range(2)]
            waiting = (
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            await until(lambda: admin.execute(waiting).fetchall() == [(2,)])  # (both batches, on two connections)
            lock.execute("COMMIT")
            pids = [rows[0][0] for rows in await asyncio.gather(*burst)]
        assert readers.opened == 2 and len(set(pids)) == 2
        stop = asyncio.Event()

        async def trickle() -> None:  # (one batch at a time: one connection is all it needs)
            while not stop.is_set():
                await readers.execute("SELECT 1")
                await asyncio.sleep(0.01)

        steady = asyncio.create_task(trickle())
        await until(lambda: readers.open_connections() == 1)
        stop.set()
        await steady
        await until(lambda: readers.open_connections() == 0)
        await until(lambda: admin.execute(query, (pids,)).fetchall() == [(0,)])  # (their backends ended)
        [(pid,)] = await readers.execute("SELECT pg_backend_pid()")
        assert pid not in pids and readers.opened == 3
        with pytest.raises(ValueError, match="max_idle"):
            AsyncReaders(postgres_database_url, max_idle=0)

    try:
        asyncio.run(asyncio.wait_for(run(), 60))
    finally:
        readers.close()


def _app_backends(admin: psycopg.Connection[Any]) -> int:
    rows = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchall()
    return int(rows[0][0])


def test_shutdown_waits_for_an_event_loop_batch_refuses_new_ones_and_leaves_no_backend(
    postgres_database_url: str,
) -> None:
    """A position batch on the loop, held by a table lock when the app shuts down: new batches are refused
    (ShuttingDown), the held one is answered, then every connection of the app is closed."""
    _ledger(postgres_database_url)
    settings = Settings.from_env(
        {}, database_url=postgres_database_url, projector="external", rate_reads=0, response_cache_bytes=0
    )
    app = create_app(settings)
    question = PositionQuestion("chancellor", "taurus", None, None, True)

    async def run(admin: psycopg.Connection[Any]) -> None:
        lifespan = app.router.lifespan_context(app)  # type: ignore[attr-defined]
        await lifespan.__aenter__()
        model = app.state.services.read_model
        await loaders.blocking(answer_positions, model, [question])  # (its names read and kept)
        _settled(model)
        on_loop = answer_positions_on_loop(model, [question])
        assert on_loop is not None  # (the batch goes to the loop)
        on_loop.close()
        with psycopg.connect(postgres_database_url) as lock:
            lock.execute("LOCK TABLE rm_claim_versions IN ACCESS EXCLUSIVE MODE")
            held = asyncio.ensure_future(POSITIONS.load(model, question))
            await until(lambda: _waiting_for_a_lock(admin))
            closer = asyncio.ensure_future(lifespan.__aexit__(None, None, None))
            loop = asyncio.get_running_loop()
            await until(lambda: loop in loaders._CLOSING)
            late = asyncio.ensure_future(POSITIONS.load(model, question))
            await until(late.done, 5)
            assert isinstance(late.exception(), ShuttingDown)
            assert not held.done() and not closer.done()  # (the shutdown waits for the batch)
            lock.commit()
        view, source = await held
        assert view is not None and view.stance and source is not None
        await closer
        assert model.async_readers.open_connections() == 0
        await until(lambda: _app_backends(admin) == 0)  # (a backend ends just after its client closes)

    with psycopg.connect(postgres_database_url, autocommit=True) as admin:
        asyncio.run(asyncio.wait_for(run(admin), 60))


def test_shutdown_cancels_a_connect_still_under_way(postgres_database_url: str, monkeypatch: Any) -> None:
    """A connect opened beside a waiting batch that another connection answered first is still under way at
    shutdown (here: one that never ends): the shutdown ends it within ``settle``'s bound, none outlives
    the app."""
    _ledger(postgres_database_url)
    connect = psycopg.AsyncConnection.connect
    calls: list[str] = []

    async def second_never_ends(*args: Any, **kwargs: Any) -> Any:
        calls.append("connect")
        if len(calls) == 2:
            try:
                await asyncio.Event().wait()
            finally:
                calls.append("ended")
        return await connect(*args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", second_never_ends)
    settings = Settings.from_env(
        {}, database_url=postgres_database_url, projector="external", rate_reads=0, response_cache_bytes=0
    )
    app = create_app(settings)

    async def run() -> None:
        before = asyncio.all_tasks()
        async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
            readers = app.state.services.read_model.async_readers
            # Two batches at once: a connect for each; the first connection answers both in turn.
            answers = await asyncio.gather(readers.execute("SELECT 1"), readers.execute("SELECT 2"))
            assert list(answers) == [[(1,)], [(2,)]]
            assert calls == ["connect", "connect"] and readers.opened == 1  # (the second still connecting)
            began = time.monotonic()
        assert calls[-1] == "ended" and time.monotonic() - began < 10
        assert asyncio.all_tasks() <= before  # (no task of the app's left)

    asyncio.run(asyncio.wait_for(run(), 30))
