"""Closing the stores waits for the database calls in flight and refuses new ones: closing a SQLite
connection under a running statement crashed the process (a live subscription's call at shutdown)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from api.errors import ShuttingDown
from api.graphql import loaders
from api.graphql.loaders import CrossRequestLoader, blocking, blocking_chunks, closing_stores
from api.settings import Settings
from api.web.app import create_app
from projections.queries import ReadModel


async def until(condition: Callable[[], bool], turns: int = 10_000) -> None:
    """Let the loop's other tasks run until ``condition`` holds (a bounded number of turns)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


def test_closing_the_stores_waits_for_calls_in_flight_and_refuses_new_ones() -> None:
    started, release = threading.Event(), threading.Event()
    order: list[str] = []

    def slow_read() -> str:
        started.set()
        assert release.wait(10)
        order.append("read finished")
        return "answer"

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        read = asyncio.ensure_future(blocking(slow_read))
        assert await loop.run_in_executor(None, started.wait, 10)

        async def close() -> None:
            async with closing_stores(10):
                order.append("stores closed")

        closer = asyncio.ensure_future(close())
        await until(lambda: loop in loaders._CLOSING)
        with pytest.raises(ShuttingDown):
            await blocking(lambda: "late")
        with pytest.raises(ShuttingDown):
            await anext(blocking_chunks(iter(["chunk"])))
        assert order == [] and not closer.done()  # still waiting for the read in flight
        release.set()
        await closer
        assert order == ["read finished", "stores closed"]
        assert await read == "answer"
        assert await blocking(lambda: "again") == "again"  # a later app on this loop reads again

    asyncio.run(scenario())


def test_a_batch_of_positions_asked_while_closing_fails_instead_of_waiting() -> None:
    async def scenario() -> None:
        loader: CrossRequestLoader[int, int] = CrossRequestLoader(lambda _model, questions: list(questions))
        async with closing_stores(1):
            with pytest.raises(ShuttingDown):
                await loader.load(None, 1)  # type: ignore[arg-type]  # (no read model is reached)

    asyncio.run(scenario())


class _Recording(ReadModel):
    """The read model of a served app whose ``tree_size`` can be held, and whose close is recorded."""

    def __init__(self, url: str, order: list[str]) -> None:
        super().__init__(url)
        self.order = order
        self.hold = False
        self.started, self.release = threading.Event(), threading.Event()

    def tree_size(self) -> int:
        if self.hold:
            self.started.set()
            assert self.release.wait(10)
            self.order.append("read finished")
        return super().tree_size()

    def close(self) -> None:
        self.order.append("read model closed")
        super().close()


def test_an_app_shutting_down_closes_its_read_model_only_after_the_read_in_flight(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    order: list[str] = []
    settings = Settings.from_env({}, database_url=url, projector="external", response_cache_bytes=0)
    read_model = _Recording(url, order)
    app = create_app(settings, read_model=read_model)

    async def scenario() -> None:
        async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
            read_model.hold = True
            read = asyncio.ensure_future(blocking(read_model.tree_size))
            assert await asyncio.get_running_loop().run_in_executor(None, read_model.started.wait, 10)

            async def release_when_closing() -> None:
                await until(lambda: asyncio.get_running_loop() in loaders._CLOSING)
                read_model.release.set()

            releaser = asyncio.ensure_future(release_when_closing())
        await releaser
        assert await read == 0
        assert order == ["read finished", "read model closed"]

    asyncio.run(scenario())


def test_an_export_is_read_through_the_database_threads(tmp_path: Path) -> None:
    """Its chunks count as calls in flight, so a shutdown waits for the one being read."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    settings = Settings.from_env({}, database_url=url, projector="external", response_cache_bytes=0)
    seen: list[bool] = []
    original = loaders._submit

    def counting(loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: object) -> asyncio.Future[object]:
        seen.append(fn is next)
        return original(loop, fn, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loaders, "_submit", counting)
        with TestClient(create_app(settings)) as client:
            answer = client.get("/export/claims-csv")
    assert answer.status_code == 200 and answer.text.startswith("# basis tree_size=0")
    assert any(seen), "no chunk of the export was read through the tracked database threads"


@pytest.mark.parametrize("cache_bytes", [0, 1 << 20])
def test_a_request_asked_while_the_app_closes_is_told_unavailable_not_an_internal_error(
    tmp_path: Path, cache_bytes: int
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    settings = Settings.from_env({}, database_url=url, projector="external", response_cache_bytes=cache_bytes)
    app = create_app(settings)
    asked = [
        ("POST", "/graphql", {"query": "{ topics { key } }"}),
        ("POST", "/graphql", {"query": 'mutation { retractClaim(id: "x", expectedVersion: 1, reason: "y") { __typename } }'}),
        ("GET", "/export/claims-csv", None),
        ("GET", "/checkpoint", None),
    ]

    async def scenario() -> tuple[list[httpx.Response], httpx.Response]:
        async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                async with closing_stores(1):
                    answers = [await client.request(method, path, json=body) for method, path, body in asked]
                    ready = await client.get("/readyz")
        return answers, ready

    answers, ready = asyncio.run(scenario())
    for (_, path, body), answer in zip(asked, answers, strict=True):
        # refused before execution: 503 and Retry-After; refused within an operation: its coded error (200)
        refused = answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert refused or (path == "/graphql" and answer.status_code == 200), (path, body, answer.text)
        assert [e["extensions"]["code"] for e in answer.json()["errors"]] == ["UNAVAILABLE"], (path, body)
    assert ready.status_code == 503 and ready.json()["reason"] == "shutting down"
