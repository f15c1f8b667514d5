"""Cold `position` requests in flight together are answered in one batch (api/graphql/resolvers/reading.py
POSITIONS): each answer, error and basis is exactly what the request gets alone (both stores)."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from datetime import UTC, date, datetime
from typing import Any

import httpx2 as httpx  # the maintained fork starlette's TestClient uses
from api_support import claim_data, seed

from api.errors import ApiError
from api.graphql.loaders import own_copy
from api.graphql.resolvers.reading import POSITIONS, PositionQuestion, answer_positions, answer_positions_on_loop
from api.settings import Settings
from api.web.app import create_app
from ledger import commands as c
from projections import queries
from projections.db import QueryTimeout
from projections.projector import Projector
from projections.queries import open_read_model

WITH_SOURCE = """query ($a: String!, $t: String!, $d: Date, $k: DateTime, $n: Int) {
  position(actor: $a, topic: $t, asOf: $d, knownAt: $k, atTreeSize: $n) {
    stance asOf since { date precision } sinceClaim { key }
    claim { key version summary statedOn { date } source { key title } }
  }
}"""
WITHOUT_SOURCE = """query ($a: String!, $t: String!, $d: Date, $k: DateTime, $n: Int) {
  position(actor: $a, topic: $t, asOf: $d, knownAt: $k, atTreeSize: $n) { stance since { date } claim { key version } }
}"""


def _ledger(url: str) -> tuple[int, str]:
    """The seeded ledger, then a correction and a later claim; returns (tree size, an instant) before them."""
    ledger = seed(url)
    try:
        with ledger.batch("test:more") as b:
            b.record_claim(
                c.parse_claim(
                    claim_data("c-taurus-later", "minister", "taurus", "OPPOSES", "2025-02-27", "Taurus missiles")
                )
            )
        before = ledger.ledger_recorder.tree_head().size
        instant = datetime.now(UTC)
        while datetime.now(UTC) <= instant:  # the next events are recorded strictly after it
            pass
        ledger.revise_claim(
            c.ReviseClaim("c-taurus-yes", None, c.parse_changes({"stance": "CONDITIONAL"}), "misread"), "desk"
        )
        with ledger.batch("test:more") as b:
            b.record_claim(
                c.parse_claim(
                    claim_data("c-ceasefire-2", "party-leader", "ceasefire", "OPPOSES", "2025-02-28", "ceasefire")
                )
            )
    finally:
        ledger.close()
    projector = Projector(url)
    projector.catch_up()
    projector.close()
    return before, instant.isoformat()


def _questions(before: int, instant: str) -> list[dict[str, Any]]:
    """Mixed actors (keys, names, aliases, unknown, too long), topics, dates and record times."""
    actors = ["chancellor", "The Chancellor", "PARTY LEADER", "minister", "nobody-at-all", "x" * 500]
    topics = ["taurus", "Ceasefire", "no-such-topic"]
    dates = [None, "2025-01-20", "2025-02-26", "2024-06-01"]
    times: list[dict[str, Any]] = [{}, {"k": instant}, {"n": before}, {"k": instant, "n": before}]
    out = []
    for n, (actor, topic, day, when) in enumerate(itertools.product(actors, topics, dates, times)):
        if n % 3 and (actor, topic) in (("nobody-at-all", "no-such-topic"), ("x" * 500, "no-such-topic")):
            continue  # (a few of these suffice)
        body: dict[str, Any] = {
            "query": WITH_SOURCE if n % 2 else WITHOUT_SOURCE,
            "variables": {"a": actor, "t": topic, "d": day, **when},
        }
        if n % 7 == 0:  # the whole request pinned by the extension
            body["extensions"] = {"atTreeSize": before}
        out.append(body)
    return out


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    """The answer, errors and basis; an unpinned basis's knownAt is the moment the request began."""
    basis = dict(body["extensions"]["basis"])
    if not basis["pinned"]:
        basis.pop("knownAt")
    return {"data": body.get("data"), "errors": body.get("errors"), "basis": basis}


async def _alone_then_together(url: str, questions: list[dict[str, Any]]) -> tuple[list[Any], list[Any], int, int]:
    settings = Settings.from_env({}, database_url=url, projector="external", rate_reads=0, response_cache_bytes=0)
    app = create_app(settings)
    async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def ask(body: dict[str, Any]) -> dict[str, Any]:
                response = await client.post("/graphql", json=body)
                assert response.status_code == 200, response.text
                answer: dict[str, Any] = response.json()
                return answer

            alone = [_comparable(await ask(q)) for q in questions]
            batches, asked = POSITIONS.batches, POSITIONS.questions
            together = [_comparable(b) for b in await asyncio.gather(*(ask(q) for q in questions))]
            return alone, together, POSITIONS.batches - batches, POSITIONS.questions - asked


def test_positions_asked_together_answer_as_each_alone(database_url: str) -> None:
    before, instant = _ledger(database_url)
    questions = _questions(before, instant)
    alone, together, batches, asked = asyncio.run(_alone_then_together(database_url, questions))
    for question, one, many in zip(questions, alone, together, strict=True):
        assert many == one, question
    # The questions did share batches, and every kind of answer was among them.
    assert 0 < batches < asked
    codes = {e["extensions"]["code"] for one in alone for e in one["errors"] or []}
    assert codes == {"NOT_FOUND", "BAD_USER_INPUT"}  # unknown names, too long a name, knownAt with atTreeSize
    stances = {one["data"]["position"]["stance"] for one in alone if one["data"] and one["data"]["position"]}
    assert {"SUPPORTS", "OPPOSES", "CONDITIONAL"} <= stances  # (CONDITIONAL: the correction, read today)
    assert any(one["data"] and one["data"]["position"] is None for one in alone)  # no claim as of that date
    pinned = [one for q, one in zip(questions, alone, strict=True) if "extensions" in q and not one["errors"]]
    assert pinned and all(one["basis"]["treeSize"] == before for one in pinned)


def test_a_batch_of_positions_reads_as_one_position_each(database_url: str) -> None:
    _, instant = _ledger(database_url)
    model = open_read_model(database_url)
    try:
        pairs = [(a, t) for a in ("chancellor", "party-leader", "minister") for t in ("taurus", "ceasefire")]
        days = [None, date(2025, 1, 20), date(2025, 2, 26), date(2024, 6, 1)]
        asked = [(a, t, d) for (a, t), d in itertools.product(pairs, days)]
        for known_at in (None, datetime.fromisoformat(instant)):
            for with_source in (True, False):
                batch = model.positions_and_sources(asked, known_at, with_source=with_source)
                alone = [model.position_and_source(a, t, d, known_at, with_source=with_source) for a, t, d in asked]
                # (a position's known_at is the moment it was read when no record time was asked for)
                same = [((v and v.__class__(**{**vars(v), "known_at": None})), s) for v, s in batch]
                assert same == [((v and v.__class__(**{**vars(v), "known_at": None})), s) for v, s in alone]
                assert sum(v is not None for v, _ in batch) >= len(pairs)
                assert all((s is not None) == (with_source and v is not None) for v, s in batch)
    finally:
        model.close()


def test_a_statement_timeout_is_the_batchs_not_each_questions(database_url: str, monkeypatch: Any) -> None:
    """A batch can run longer than any of its questions alone: when its statement times out, each question
    is asked again alone (all at once), so each ends as it would alone; another failure gives each request
    its own error object."""
    _ledger(database_url)
    model = open_read_model(database_url)
    try:
        asked = [
            PositionQuestion(a, t, d, None, False)
            for a in ("chancellor", "party-leader", "minister", "nobody-at-all")
            for t in ("taurus", "ceasefire")
            for d in (None, date(2025, 2, 26))
        ]
        alone = [answer_positions(model, [q])[0] for q in asked]
        read, read_on_loop = model.positions_and_sources, model.positions_and_sources_async
        slow = ("minister", "ceasefire")  # one question that times out even alone
        statements: list[int] = []

        def timing_out(keys: list[tuple[str, str, date | None]], *args: Any, **kwargs: Any) -> Any:
            statements.append(len(keys))
            if len(keys) > 2 or any(k[:2] == slow for k in keys):  # (what a real timeout depends on: the work)
                raise QueryTimeout("the query ran longer than the statement timeout")
            return read(keys, *args, **kwargs)

        # PostgreSQL answers these on the event loop (its names are kept by now): the same rule there.
        on_loop: list[int] = []

        async def timing_out_on_loop(keys: list[tuple[str, str, date | None]], *args: Any, **kwargs: Any) -> Any:
            statements.append(len(keys))
            on_loop.append(len(keys))
            if len(keys) > 2 or any(k[:2] == slow for k in keys):
                raise QueryTimeout("the query ran longer than the statement timeout")
            return await read_on_loop(keys, *args, **kwargs)

        async def together() -> list[Any]:
            return await asyncio.gather(*(POSITIONS.load(model, q) for q in asked), return_exceptions=True)

        monkeypatch.setattr(model, "positions_and_sources", timing_out)
        monkeypatch.setattr(model, "positions_and_sources_async", timing_out_on_loop)
        if database_url.startswith("postgresql"):
            _settled(model)
        answers = asyncio.run(together())
        assert len(on_loop) == (len(statements) if database_url.startswith("postgresql") else 0)
        assert statements[0] > 2 and len(statements) == 1 + sum(not isinstance(a, ApiError) for a in alone)
        for q, got, expected in zip(asked, answers, alone, strict=True):
            if (q.actor, q.topic) == slow:
                assert isinstance(got, QueryTimeout)
            elif isinstance(expected, Exception):
                assert type(got) is type(expected) and str(got) == str(expected)
            else:  # (a position's known_at is the moment it was read when no record time was asked for)
                assert isinstance(got, tuple) and isinstance(expected, tuple)
                assert _read_whenever(got) == _read_whenever(expected)

        def unreachable(*_: Any, **__: Any) -> Any:
            raise ConnectionError("the database is unreachable")

        async def unreachable_on_loop(*_: Any, **__: Any) -> Any:
            raise ConnectionError("the database is unreachable")

        monkeypatch.setattr(model, "positions_and_sources", unreachable)
        monkeypatch.setattr(model, "positions_and_sources_async", unreachable_on_loop)
        failed = [got for got in asyncio.run(together()) if isinstance(got, ConnectionError)]
        assert len(failed) == sum(not isinstance(a, Exception) for a in alone) > 1
        assert len({id(error) for error in failed}) == len(failed)  # (no exception object shared by requests)
        assert {str(error) for error in failed} == {"the database is unreachable"}
        assert len({id(error.__cause__) for error in failed}) == 1  # (the one failure, the cause of each)
    finally:
        model.close()


def test_a_copy_of_an_error_keeps_its_class_message_and_attributes() -> None:
    """Errors whose constructors take other arguments than ``args`` are copied faithfully, not rebuilt."""

    class Formatted(Exception):
        def __init__(self, table: str) -> None:
            super().__init__(f"table {table} is missing")
            self.table = table

    for error in (ApiError("NOT_FOUND", "no such actor", field="actor"), Formatted("positions"), QueryTimeout("slow")):
        copy = own_copy(error)
        assert copy is not error and type(copy) is type(error) and copy.__cause__ is error
        assert str(copy) == str(error) and vars(copy) == vars(error) and copy.args == error.args


def _read_whenever(answer: tuple[Any, Any]) -> tuple[Any, Any]:
    view, source = answer
    return (view and view.__class__(**{**vars(view), "known_at": None})), source


def test_position_statements_are_kept_by_shape_with_their_own_parameters(database_url: str) -> None:
    _, instant = _ledger(database_url)
    before_revision = datetime.fromisoformat(instant)
    model = open_read_model(database_url)
    try:
        asked = [("chancellor", "taurus", None), ("minister", "taurus", date(2025, 2, 28))]

        def read(known_at: datetime | None) -> list[Any]:
            answers = model.positions_and_sources(asked, known_at, with_source=True)
            return [(v and (v.stance, v.claim.key, v.claim.version), s and s.key) for v, s in answers]

        queries._POSITION_SQL.clear()
        queries._ANSWERS_SQL.clear()
        then, now = read(before_revision), read(datetime.now(UTC))
        assert len(queries._POSITION_SQL) == len(queries._ANSWERS_SQL) == 1  # one text for both record times
        assert then != now  # (the revision came between): each call's own record time was asked
        for known_at, kept in ((before_revision, then), (None, None)):
            queries._POSITION_SQL.clear()
            queries._ANSWERS_SQL.clear()
            fresh = read(known_at)
            assert read(known_at) == fresh  # the kept text answers as the one just built
            if kept is not None:
                assert fresh == kept
        assert len(queries._POSITION_SQL) == 1  # (now: its own shape, no record-time parameters)
    finally:
        model.close()


# PostgreSQL only (``postgres_database_url``): SQLite has no event-loop reads, its batches keep the thread.


def _settled(model: queries.ReadModel) -> None:
    """The names' position known without a read for the whole test (kept names are used only then):
    no time bound, and listening for commits (as tests/test_api_http_cache_freshness.py)."""
    watch = model.positions_watch()
    watch.poll_seconds = watch.listen_poll_seconds = 3600.0
    deadline = time.monotonic() + 30
    while watch.current() is None or not watch.listening:
        assert time.monotonic() < deadline, "the watch never settled"
        watch.refresh()


def test_positions_on_the_event_loop_answer_as_on_a_thread(postgres_database_url: str, monkeypatch: Any) -> None:
    """A batch whose names are kept is answered on the event loop (no thread), exactly as a thread answers it:
    positions, sources, names' errors, mixed record times; a name not kept yet sends the batch to a thread."""
    _, instant = _ledger(postgres_database_url)
    model = open_read_model(postgres_database_url)
    try:
        assert model.async_readers is not None
        questions = [
            PositionQuestion(a, t, d, k, s)
            for a in ("chancellor", "The Chancellor", "minister", "nobody-at-all", "x" * 500)
            for t in ("taurus", "Ceasefire", "no-such-topic")
            for d in (None, date(2025, 2, 26), date(2024, 6, 1))
            for k in (None, datetime.fromisoformat(instant))
            for s in (True, False)
        ]
        _settled(model)
        new = PositionQuestion("party-leader", "ceasefire", None, None, True)  # names never asked yet
        assert answer_positions_on_loop(model, [new]) is None  # (not kept: a thread reads them)
        on_thread = answer_positions(model, questions)  # (reads and keeps every name)
        coroutine = answer_positions_on_loop(model, questions)
        assert coroutine is not None
        on_loop = asyncio.run(coroutine)
        for q, a, b in zip(questions, on_thread, on_loop, strict=True):
            if isinstance(a, Exception):
                assert type(b) is type(a) and str(b) == str(a) and vars(b) == vars(a), q
            else:
                assert isinstance(b, tuple) and _read_whenever(b) == _read_whenever(a), q
        assert sum(isinstance(a, tuple) and a[0] is not None for a in on_thread) > 10
        assert any(isinstance(a, tuple) and a[1] is not None for a in on_thread)

        # Through the loader, many at once: every batch on the loop (the threads' read would fail).
        def no_thread(*_: Any, **__: Any) -> Any:
            raise AssertionError("read on a thread")

        monkeypatch.setattr(model, "positions_and_sources", no_thread)

        async def together() -> list[Any]:
            return await asyncio.gather(*(POSITIONS.load(model, q) for q in questions), return_exceptions=True)

        for got, expected in zip(asyncio.run(together()), on_thread, strict=True):
            assert type(got) is type(expected)
            if isinstance(got, tuple):
                assert _read_whenever(got) == _read_whenever(expected)  # type: ignore[arg-type]
        assert model.async_readers.opened <= model.async_readers.size
    finally:
        model.close()
    assert model.async_readers.open_connections() == 0


def test_event_loop_batches_do_not_wait_for_each_other(postgres_database_url: str) -> None:
    """Batches asked while another is at the database take their own connection (up to the size), so a
    batch never waits behind another's round trip; connections are reused, not made per statement."""
    import psycopg

    _ledger(postgres_database_url)
    model = open_read_model(postgres_database_url)
    try:
        assert model.async_readers is not None
        readers = model.async_readers

        async def run() -> tuple[int, list[int]]:
            # Two statements at once, the first held by the server (a table lock another connection holds
            # until the second has its answer): the second still finishes first.
            with psycopg.connect(postgres_database_url) as lock:
                lock.execute("LOCK TABLE rm_claim_versions IN ACCESS EXCLUSIVE MODE")
                slow = asyncio.ensure_future(readers.execute("SELECT count(*) FROM rm_claim_versions"))
                fast = await asyncio.wait_for(readers.execute("SELECT 2"), 20)  # (waiting behind: never)
                order = [fast[0][0], 0 if slow.done() else -1]
                lock.commit()
            await slow
            for _ in range(20):
                await readers.execute("SELECT 3")
            return readers.opened, order

        opened, order = asyncio.run(run())
        assert order == [2, -1] and opened == 2
    finally:
        model.close()


def test_event_loop_connections_close_at_shutdown(postgres_database_url: str, monkeypatch: Any) -> None:
    """The app's shutdown closes the event loop's connections: at once, on the client, and the server
    sees their backends end."""
    import psycopg

    _ledger(postgres_database_url)
    made: list[psycopg.AsyncConnection[Any]] = []
    connect = psycopg.AsyncConnection.connect

    async def counted(*args: Any, **kwargs: Any) -> Any:
        conn = await connect(*args, **kwargs)
        made.append(conn)
        return conn

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", counted)
    settings = Settings.from_env(
        {}, database_url=postgres_database_url, projector="external", rate_reads=0, response_cache_bytes=0
    )
    app = create_app(settings)
    questions = [{"query": WITHOUT_SOURCE, "variables": {"a": "chancellor", "t": "taurus", "d": None}}] * 2 + [
        {"query": WITH_SOURCE, "variables": {"a": a, "t": t, "d": d}}
        for a in ("chancellor", "minister")
        for t in ("taurus", "ceasefire")
        for d in (None, "2025-02-26")
    ]

    async def serve() -> list[int]:
        async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                for q in questions:  # (alone: names read on a thread, then kept)
                    assert (await client.post("/graphql", json=q)).status_code == 200
                _settled(app.state.services.read_model)
                answers = await asyncio.gather(*(client.post("/graphql", json=q) for q in questions))
                assert all(a.status_code == 200 and "errors" not in a.json() for a in answers)
            assert made and not any(conn.closed for conn in made)  # (the loop's, kept open between batches)
            return [conn.info.backend_pid for conn in made]

    pids = asyncio.run(serve())
    assert all(conn.closed for conn in made)
    with psycopg.connect(postgres_database_url, autocommit=True) as admin:
        gone = False
        deadline = time.monotonic() + 10
        while not gone and time.monotonic() < deadline:  # (a backend ends just after its client closes)
            rows = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchall()
            gone = rows[0][0] == 0
        assert gone


def test_an_event_loop_connect_that_fails_fails_its_batch_not_waits(postgres_server: Any) -> None:
    """A connect opened for a waiting batch that fails (the database unreachable) gives that batch its
    error; nothing waits forever, and a later batch tries again."""
    import psycopg

    from ledger.errors import DatabaseUnavailable
    from projections.db import AsyncReaders

    with socket.socket() as unused:  # (a port nothing listens on)
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    readers = AsyncReaders(f"postgresql://nobody@127.0.0.1:{port}/none?connect_timeout=5", size=2)

    async def run() -> list[Any]:
        first = await asyncio.gather(*(readers.execute("SELECT 1") for _ in range(3)), return_exceptions=True)
        again = await asyncio.gather(readers.execute("SELECT 1"), return_exceptions=True)
        return [*first, *again]

    try:
        errors = asyncio.run(asyncio.wait_for(run(), 30))
        assert len(errors) == 4 and all(isinstance(e, DatabaseUnavailable) for e in errors)  # (coded: HTTP 503)
        assert all(isinstance(e.__cause__, psycopg.OperationalError) and f":{port}/none" in str(e) for e in errors)
        assert readers.opened == 0
    finally:
        readers.close()
