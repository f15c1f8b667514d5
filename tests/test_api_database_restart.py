"""PostgreSQL cuts every connection of a running API (a restart, a failover, an idle-connection killer).

The pools then hold connections the server has closed. Each used to fail one request (HTTP 500) when it
was next handed out, and the embedded projector died with its own: writes were no longer projected.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from api_support import ApiEnv, api_env
from pg_server import start_server

from ledger.db import POOL_WAIT_SECONDS
from ledger.errors import DatabaseUnavailable
from projections.queries import ReadModel

QUERY = """query Page($first: Int) {
  claims(first: $first) { nodes { key stance } totalCount }
  position(actor: "chancellor", topic: "taurus", asOf: "2025-12-31") { stance claim { key } }
}"""
RETRACT = 'mutation { retractClaim(id: "c-minister", expectedVersion: 1, reason: "duplicate") { version } }'


def cut_every_connection(url: str) -> int:
    """Terminate every other backend of the database and wait until they are gone; how many."""
    with psycopg.connect(url, autocommit=True) as admin:
        others = "datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        pids = [row[0] for row in admin.execute(f"SELECT pid FROM pg_stat_activity WHERE {others}")]
    terminate(url, pids)
    return len(pids)


def terminate(url: str, pids: list[int]) -> None:
    """End these backends and wait until they are gone."""
    with psycopg.connect(url, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 30
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchone() != (0,):
            assert time.monotonic() < deadline, "the backends did not end"
            time.sleep(0.01)  # (PostgreSQL announces no backend's end: look again)


@pytest.fixture
def api(postgres_database_url: str) -> Iterator[ApiEnv]:
    with api_env(postgres_database_url) as env:
        yield env


def _read(api: ApiEnv, first: int) -> Any:
    """A read the response cache cannot answer (a new ``first`` each time): the database is asked."""
    response = api.client.post("/graphql", json={"query": QUERY, "variables": {"first": first}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("errors") is None, body
    return body


def test_reads_and_writes_after_the_database_cut_every_connection(api: ApiEnv) -> None:
    for first in range(1, 4):  # several connections in each pool, so several go stale
        before = _read(api, first)
    assert before["data"]["claims"]["totalCount"] == 4
    assert cut_every_connection(api.url) >= 3  # the readers', the ledger's, the projector's at least

    for first in range(4, 10):
        after = _read(api, first)
        assert after["data"]["position"] == before["data"]["position"]
        assert after["data"]["claims"]["totalCount"] == 4
    assert api.client.get("/readyz").status_code == 200

    # A write, answered once projected (read-your-writes): the embedded projector follows on.
    done = api.client.post(
        "/graphql", json={"query": RETRACT}, headers={"Authorization": f"Bearer {api.keys['editor']}"}
    )
    assert done.status_code == 200 and done.json().get("errors") is None, done.text
    assert _read(api, 10)["data"]["claims"]["totalCount"] == 3
    assert api.services.read_model.projected_position() == api.tree_size()


def test_while_the_database_is_down_requests_are_refused_with_a_code_then_answered_again() -> None:
    """A private server, stopped under a running API and started again: while it is down each request gets
    HTTP 503 with the code UNAVAILABLE and Retry-After within the pool's wait (it hung for 30 s, then a
    plain-text 500); once it is back, reads and writes are answered without restarting the API."""
    server = start_server()
    try:
        url = server.url(server.create_database())
        with api_env(url) as api:
            before = _read(api, 1)
            with server.down():
                started = time.monotonic()
                refused = api.client.post("/graphql", json={"query": QUERY, "variables": {"first": 2}})
                waited = time.monotonic() - started
                assert refused.status_code == 503, refused.text
                assert refused.headers["retry-after"] == "2"
                (error,) = refused.json()["errors"]
                assert error["extensions"]["code"] == "UNAVAILABLE"
                assert "cannot be reached" in error["message"] and url.rsplit("/", 1)[1] in error["message"]
                assert waited < POOL_WAIT_SECONDS + 5, waited  # (not the library's 30 s)
                ready = api.client.get("/readyz")
                assert ready.status_code == 503 and ready.json()["reason"] == "database unreachable"
            deadline = time.monotonic() + 60
            while (
                answer := api.client.post("/graphql", json={"query": QUERY, "variables": {"first": 3}})
            ).status_code != 200:
                # (the pools connect again on their own backoff: refused meanwhile, never a 500)
                assert answer.status_code == 503 and time.monotonic() < deadline, answer.text
                time.sleep(0.1)  # (the pools' own reconnect backoff: nothing to wait on from here)
            assert answer.json()["data"]["position"] == before["data"]["position"]
            done = api.client.post(
                "/graphql", json={"query": RETRACT}, headers={"Authorization": f"Bearer {api.keys['editor']}"}
            )
            assert done.status_code == 200 and done.json().get("errors") is None, done.text
            assert _read(api, 4)["data"]["claims"]["totalCount"] == 3
    finally:
        server.stop()


@pytest.mark.parametrize("gone", ["before the wait", "after the wait"])
def test_a_write_committed_just_before_the_database_went_away_is_answered_as_committed(
    gone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database stops after a mutation's commit: before the wait for the read model (then the record is
    not read), or after it (then reading the record fails). The client must still learn that the write is
    committed and where (logPosition, pending: true): the record's field is null with UNAVAILABLE at its own
    path, and a message saying the write stands. It used to be the mutation's error ("wrote nothing; retry"),
    telling a client whose write had committed to send it again (a retraction repeated is then a CONFLICT)."""
    server = start_server()
    try:
        url = server.url(server.create_database())
        with api_env(url) as api, contextlib.ExitStack() as outage:
            model = api.services.read_model
            wait_for = model.wait_for

            def database_gone_after_the_commit(position: int, timeout: float) -> bool:
                if gone == "before the wait":
                    outage.enter_context(server.down())  # committed: this runs only after the batch's commit
                    return bool(wait_for(position, timeout))
                projected = bool(wait_for(position, timeout))
                outage.enter_context(server.down())
                return projected

            monkeypatch.setattr(model, "wait_for", database_gone_after_the_commit)
            mutation = RETRACT.replace("{ version }", "{ logPosition pending version claim { key retracted } }")
            editor = {"Authorization": f"Bearer {api.keys['editor']}"}
            written = api.tree_size() + 1  # (asked now: the ledger is on the server about to stop)
            answer = api.client.post("/graphql", json={"query": mutation}, headers=editor)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["data"]["retractClaim"] == {
                "logPosition": written, "pending": True, "version": 2, "claim": None,
            }  # fmt: skip
            (error,) = body["errors"]
            assert error["path"] == ["retractClaim", "claim"]
            assert error["extensions"] == {"code": "UNAVAILABLE", "retryAfter": 2}
            assert f"the write is committed at log position {written}" in error["message"]
            assert "do not send the write again" in error["message"]

            monkeypatch.undo()
            outage.close()  # the database is back
            deadline = time.monotonic() + 60
            while (again := api.client.post("/graphql", json={"query": mutation}, headers=editor)).status_code != 200:
                assert again.status_code == 503 and time.monotonic() < deadline, again.text  # (pools reconnecting)
                time.sleep(0.1)  # (the pools' own reconnect backoff: nothing to wait on from here)
            (conflict,) = again.json()["errors"]  # the retraction was committed: version 1 is stale now
            assert conflict["extensions"] == {"code": "CONFLICT", "currentVersion": 2, "expectedVersion": 1}
            api.caught_up()  # (the projector follows on after its own back-off)
            assert _read(api, 5)["data"]["claims"]["totalCount"] == 3
    finally:
        server.stop()


def test_a_read_whose_connection_is_lost_mid_statement_is_unavailable(postgres_database_url: str) -> None:
    """A pooled connection that dies under a statement (the server restarting, a silent host timed out by the
    keepalives) is a coded UNAVAILABLE to retry, on the readers' threads and on the event loop, not an
    unexpected error masked as INTERNAL_SERVER_ERROR; a statement that fails on a live connection is not."""
    model = ReadModel(postgres_database_url)
    try:
        with pytest.raises(DatabaseUnavailable) as lost, model.readers.connection() as conn:
            [(pid,)] = conn.execute("SELECT pg_backend_pid()")
            terminate(postgres_database_url, [pid])
            conn.execute("SELECT 1")
        assert isinstance(lost.value.__cause__, psycopg.OperationalError)
        with pytest.raises(psycopg.errors.UndefinedTable), model.readers.connection() as conn:
            conn.execute("SELECT * FROM no_such_table")

        async def on_the_loop() -> None:
            readers = model.async_readers
            assert readers is not None
            # (an idle connection the server closed is replaced before use: end one under its statement)
            statement = asyncio.ensure_future(readers.execute("SELECT pg_sleep(60) -- lost mid-statement"))
            await asyncio.to_thread(_terminate_running, postgres_database_url, "-- lost mid-statement")
            with pytest.raises(DatabaseUnavailable):
                await statement
            assert await readers.execute("SELECT 2") == [(2,)]  # (a new connection: the dead one was not kept)

        asyncio.run(on_the_loop())
    finally:
        model.close()


def _terminate_running(url: str, marker: str) -> None:
    """End the backend running the statement that contains ``marker``, once it runs."""
    with psycopg.connect(url, autocommit=True) as admin:
        deadline = time.monotonic() + 30
        running = (
            "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s AND pid <> pg_backend_pid()"
        )
        while not (rows := admin.execute(running, (f"%{marker}%",)).fetchall()):
            assert time.monotonic() < deadline, "the statement did not start"
            time.sleep(0.01)  # (PostgreSQL announces no statement's start: look again)
    terminate(url, [rows[0][0]])
