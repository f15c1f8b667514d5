"""Closing the stores waits for the database calls in flight and refuses new ones: closing a SQLite
connection under a running statement crashed the process (a live subscription's call at shutdown)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from api.graphql.loaders import CrossRequestLoader, ShuttingDown, blocking, closing_stores


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
        await asyncio.sleep(0)  # one turn: the closer's first step (it marks the loop) runs before this
        with pytest.raises(ShuttingDown):
            await blocking(lambda: "late")
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
