"""Cross-request batches gather while one is in flight (api/graphql/loaders.py, ``CrossRequestLoader``): the
questions asked meanwhile go together when it lands, a slow one holds them no longer than ``hold``, and a
failed one lets them go at once. The batching alone is under test here: the answer is computed in process;
tests/test_api_position_batches.py checks the real position batches against the database."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from test_api_shutdown import until  # (a bounded number of the loop's turns)

from api.errors import ShuttingDown
from api.graphql.loaders import CrossRequestLoader, closing_stores

MODEL = None  # the batches' read model is only a key here: no database is reached


class Flights:
    """An ``on_loop`` answer whose batches land when the test says: each batch's questions recorded, its
    answer (each question doubled) given once :meth:`land` is called for it, or its error raised."""

    def __init__(self) -> None:
        self.sent: list[list[int]] = []
        self.gates: list[asyncio.Future[Exception | None]] = []
        self.more = asyncio.Event()  # set at each batch sent

    def on_loop(self, _model: object, questions: list[int]) -> object:
        self.sent.append(list(questions))
        self.more.set()
        gate: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.gates.append(gate)

        async def answer() -> list[int | Exception]:
            error = await gate
            if error is not None:
                raise error
            return [q * 2 for q in questions]

        return answer()

    def land(self, batch: int, error: Exception | None = None) -> None:
        self.gates[batch].set_result(error)


def ask(loader: CrossRequestLoader[int, int], question: int, model: object = MODEL) -> asyncio.Future[int]:
    """A request asking ``question`` (its task, started)."""
    return asyncio.ensure_future(loader.load(model, question))  # type: ignore[arg-type]


async def one_in_flight(loader: CrossRequestLoader[int, int], flights: Flights) -> asyncio.Future[int]:
    """Question 1 asked, its batch sent and in flight (until ``flights.land(0)``)."""
    first = ask(loader, 1)
    await until(lambda: len(flights.sent) == 1)
    return first


def _loader(flights: Flights, hold: float) -> CrossRequestLoader[int, int]:
    def answer(_model: object, _questions: list[int]) -> list[int | Exception]:
        raise AssertionError("every batch goes to on_loop")

    return CrossRequestLoader(answer, flights.on_loop, hold=hold)  # type: ignore[arg-type]


def test_questions_asked_while_a_batch_is_in_flight_go_together_when_it_lands() -> None:
    async def scenario() -> None:
        flights = Flights()
        loader = _loader(flights, hold=60)  # (only the landing sends the second batch)
        first = await one_in_flight(loader, flights)
        later = []
        for q in (2, 3, 4):  # in three different ticks, while the first batch is in flight
            later.append(ask(loader, q))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        assert flights.sent == [[1]]  # (before: one batch per tick)
        flights.land(0)
        assert await first == 2
        await until(lambda: len(flights.sent) == 2)
        assert flights.sent[1] == [2, 3, 4]
        flights.land(1)
        assert await asyncio.gather(*later) == [4, 6, 8]
        assert (loader.batches, loader.questions) == (2, 4)
        assert not loader._flying and not loader._waiting and not loader._going  # (nothing left behind)

    asyncio.run(scenario())


def test_a_question_asked_alone_goes_in_its_own_tick() -> None:
    async def scenario() -> None:
        flights = Flights()
        loader = _loader(flights, hold=60)
        asked = [ask(loader, q) for q in (1, 2)]
        await until(lambda: len(flights.sent) == 1)
        assert flights.sent == [[1, 2]]  # (one tick's questions: one batch, sent without waiting)
        flights.land(0)
        assert await asyncio.gather(*asked) == [2, 4]
        third = ask(loader, 3)
        await until(lambda: len(flights.sent) == 2)  # (nothing in flight: at once, no hold)
        flights.land(1)
        assert await third == 6

    asyncio.run(scenario())


def test_a_slow_batch_holds_the_questions_gathered_behind_it_no_longer_than_the_hold() -> None:
    async def scenario() -> None:
        flights = Flights()
        loader = _loader(flights, hold=0.01)
        slow = ask(loader, 1)
        await until(lambda: len(flights.sent) == 1)
        behind = ask(loader, 2)
        # The slow batch never lands before the second goes: the hold's end sends it.
        await asyncio.wait_for(_sent(flights, 2), 10)
        assert flights.sent == [[1], [2]] and not slow.done()
        flights.land(1)
        assert await behind == 4
        flights.land(0)
        assert await slow == 2
        assert not loader._flying and not loader._going

    asyncio.run(scenario())


async def _sent(flights: Flights, count: int) -> None:
    while len(flights.sent) < count:
        flights.more.clear()
        await flights.more.wait()


def test_a_failed_batch_fails_its_questions_and_lets_the_gathered_ones_go_at_once() -> None:
    async def scenario() -> None:
        flights = Flights()
        loader = _loader(flights, hold=60)
        failing = ask(loader, 1)
        await until(lambda: len(flights.sent) == 1)
        behind = ask(loader, 2)
        await asyncio.sleep(0)
        flights.land(0, RuntimeError("the statement failed"))
        with pytest.raises(RuntimeError, match="the statement failed"):
            await failing
        await until(lambda: len(flights.sent) == 2)  # (not after the hold of 60 s)
        flights.land(1)
        assert await behind == 4
        assert not loader._flying

    asyncio.run(scenario())


def test_batches_of_different_read_models_do_not_wait_for_each_other() -> None:
    async def scenario() -> None:
        flights = Flights()
        loader = _loader(flights, hold=60)
        one = ask(loader, 1, "model one")
        await until(lambda: len(flights.sent) == 1)
        other = ask(loader, 2, "model two")
        await until(lambda: len(flights.sent) == 2)  # (its own key: nothing of it in flight)
        flights.land(1)
        flights.land(0)
        assert (await one, await other) == (2, 4)

    asyncio.run(scenario())


def test_the_next_batch_goes_only_after_the_answers_of_the_one_that_landed_are_delivered() -> None:
    async def scenario() -> None:
        flights = Flights()
        loader = _loader(flights, hold=60)
        steps: list[str] = []
        deliver, landed = loader._deliver, loader._landed

        def delivering(*args: Any) -> None:
            steps.append("answers delivered")
            deliver(*args)

        def landing(*args: Any) -> None:
            steps.append(f"landed, {len(flights.sent)} sent")
            landed(*args)

        loader._deliver = delivering  # type: ignore[method-assign, assignment]
        loader._landed = landing  # type: ignore[method-assign, assignment]
        first = await one_in_flight(loader, flights)
        behind = ask(loader, 2)
        await asyncio.sleep(0)
        flights.land(0)
        await until(lambda: len(flights.sent) == 2)
        assert steps == ["answers delivered", "landed, 1 sent"]  # (then the gathered question went)
        flights.land(1)
        assert (await first, await behind) == (2, 4)

    asyncio.run(scenario())


def test_the_hold_of_questions_sent_at_a_landing_is_cancelled() -> None:
    """A hold's timer that outlived its questions would send the next gathered ones early."""

    async def scenario() -> None:
        flights = Flights()
        loader = _loader(flights, hold=60)
        key: Any = (asyncio.get_running_loop(), MODEL)
        first = await one_in_flight(loader, flights)
        behind = ask(loader, 2)
        await until(lambda: key in loader._going)
        hold = loader._going[key]
        flights.land(0)
        await until(lambda: len(flights.sent) == 2)
        assert hold.cancelled()
        flights.land(1)
        assert (await first, await behind) == (2, 4)

    asyncio.run(scenario())


def test_gathering_on_the_thread_path() -> None:
    """``answer`` on the database threads (SQLite's path, or a name not kept in process) gathers alike."""
    started, release = threading.Event(), threading.Event()
    sent: list[list[int]] = []

    def answer(_model: object, questions: list[int]) -> list[int | Exception]:
        sent.append(list(questions))
        if len(sent) == 1:
            started.set()
            assert release.wait(10)
        return [q * 2 for q in questions]

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        loader: CrossRequestLoader[int, int] = CrossRequestLoader(answer, hold=60)
        first = ask(loader, 1)
        assert await loop.run_in_executor(None, started.wait, 10)
        behind = []
        key: Any = (loop, MODEL)
        for n, q in enumerate((2, 3), 1):  # in different ticks, while the first batch is on its thread
            behind.append(ask(loader, q))
            await until(lambda n=n: len(loader._waiting.get(key, ())) == n)  # type: ignore[misc]
            await asyncio.sleep(0)
        assert sent == [[1]]
        release.set()
        assert await first == 2
        assert await asyncio.gather(*behind) == [4, 6]
        assert sent == [[1], [2, 3]]

    asyncio.run(scenario())


def test_questions_whose_requests_went_away_are_not_sent() -> None:
    async def scenario() -> None:
        flights = Flights()
        loader = _loader(flights, hold=60)
        first = await one_in_flight(loader, flights)
        gone = ask(loader, 2)
        kept = ask(loader, 3)
        key: Any = (asyncio.get_running_loop(), MODEL)
        await until(lambda: len(loader._waiting.get(key, ())) == 2)
        gone.cancel()  # (its client left)
        await until(gone.done)
        flights.land(0)
        await until(lambda: len(flights.sent) == 2)
        assert flights.sent[1] == [3]
        flights.land(1)
        assert (await first, await kept) == (2, 6)
        assert (loader.batches, loader.questions) == (2, 2)

        alone = ask(loader, 4)
        await until(lambda: len(flights.sent) == 3)
        left = ask(loader, 5)
        await until(lambda: key in loader._waiting)
        left.cancel()  # every gathered question gone: no batch at all
        await until(left.done)
        flights.land(2)
        assert await alone == 8
        await until(lambda: not loader._flying)
        assert len(flights.sent) == 3 and not loader._waiting and not loader._going

    asyncio.run(scenario())


def test_a_batch_landing_after_its_loops_stores_closed_changes_nothing() -> None:
    async def scenario() -> None:
        failures: list[dict[str, Any]] = []  # (an error in a callback, e.g. the landing's, is only logged)
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: failures.append(context))
        flights = Flights()
        loader = _loader(flights, hold=60)
        first = await one_in_flight(loader, flights)
        gathered = ask(loader, 2)
        await asyncio.sleep(0)
        async with closing_stores(0.01):  # (the batch is still in flight at the timeout: logged, left)
            pass
        assert isinstance(gathered.exception(), ShuttingDown)
        assert not loader._flying and not loader._waiting and not loader._going  # (forgotten)
        flights.land(0)  # late
        assert await first == 2
        assert not loader._flying and flights.sent == [[1]]
        later = ask(loader, 3)  # (a later app)
        await until(lambda: len(flights.sent) == 2)
        flights.land(1)
        assert await later == 6
        assert failures == []

    asyncio.run(scenario())


def test_closing_the_stores_refuses_the_gathered_questions_and_every_new_one() -> None:
    async def scenario() -> None:
        flights = Flights()
        loader = _loader(flights, hold=60)
        first = await one_in_flight(loader, flights)
        gathered = ask(loader, 2)
        await asyncio.sleep(0)

        async def close() -> None:
            async with closing_stores(10):  # (waits for the batch in flight, landed below)
                with pytest.raises(ShuttingDown):
                    await loader.load(MODEL, 3)  # type: ignore[arg-type]

        closer = asyncio.ensure_future(close())
        await until(gathered.done)
        assert isinstance(gathered.exception(), ShuttingDown)  # (at once: never sent after the stores closed)
        flights.land(0)
        await closer
        assert await first == 2
        assert flights.sent == [[1]]
        assert not loader._flying and not loader._waiting and not loader._going

    asyncio.run(scenario())


def test_a_loop_closed_with_a_batch_in_flight_leaves_nothing_behind_for_long() -> None:
    """No app closed its stores: the landing never reaches the closed loop; the next batch forgets it."""
    release = threading.Event()

    def answer(_model: object, questions: list[int]) -> list[int | Exception]:
        release.wait(10)
        return list(questions)

    loader: CrossRequestLoader[int, int] = CrossRequestLoader(answer, hold=60)

    left: list[asyncio.Future[int]] = []  # (the requests the loops' ends cancel)

    async def leave_one_in_flight() -> None:
        left.append(ask(loader, 1))
        await until(lambda: bool(loader._flying))
        left.append(ask(loader, 2))  # (gathered behind it)
        await asyncio.sleep(0)

    try:
        for _ in range(4):
            asyncio.run(leave_one_in_flight())
        assert len(loader._flying) <= 2 and len(loader._waiting) <= 2 and len(loader._going) <= 2
    finally:
        release.set()
