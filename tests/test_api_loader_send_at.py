"""A cross-request batch sent once ``send_at`` questions wait: its statement starts before the tick's later
requests run (the loop works on them while the database answers), and every question is answered as before."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from api.graphql.loaders import CrossRequestLoader, _started

MODEL: Any = object()  # (the loader only passes the read model on)
MARK: contextvars.ContextVar[str] = contextvars.ContextVar("mark", default="unset")


def _recording_loader(
    order: list[str], send_at: int | None, idle: bool = True, on_loop: bool = True
) -> CrossRequestLoader[int, int]:
    """A loader whose answers are the question times ten; ``order`` records each batch as its statement
    would be sent (the on-loop coroutine's first step, or the thread's call) and as it is answered."""

    def answer(_model: Any, questions: list[int]) -> list[int | Exception]:
        order.append(f"thread {questions}")
        return [q * 10 for q in questions]

    def answer_on_loop(_model: Any, questions: list[int]) -> Any:
        async def run() -> list[int | Exception]:
            order.append(f"sent {questions}")
            MARK.set("set by a batch")
            await asyncio.sleep(0)  # (a statement's wait: the loop goes on meanwhile)
            order.append(f"answered {questions}")
            return [q * 10 for q in questions]

        return run()

    return CrossRequestLoader(answer, answer_on_loop if on_loop else None, send_at=send_at, idle=lambda _: idle)


async def _ask_in_one_tick(loader: CrossRequestLoader[int, int], order: list[str], count: int) -> list[int]:
    async def ask(question: int) -> int:
        order.append(f"asked {question}")
        return await loader.load(MODEL, question)

    return await asyncio.gather(*(ask(q) for q in range(1, count + 1)))


def test_a_batch_of_send_at_questions_is_sent_before_the_ticks_later_requests_run() -> None:
    order: list[str] = []
    loader = _recording_loader(order, send_at=3)
    answers = asyncio.run(_ask_in_one_tick(loader, order, 7))
    assert answers == [10, 20, 30, 40, 50, 60, 70]
    sent = [entry for entry in order if not entry.startswith("answered")]
    assert sent == [
        *("asked 1", "asked 2", "asked 3", "sent [1, 2, 3]"),
        *("asked 4", "asked 5", "asked 6", "sent [4, 5, 6]"),
        *("asked 7", "sent [7]"),  # (the rest at the tick's end, as before)
    ]
    assert (loader.batches, loader.questions) == (3, 7)


def test_a_later_ticks_questions_still_go_together() -> None:
    """A batch sent at once leaves no dispatch of its own behind: the tick's end takes the tick's rest, and the
    questions of the next tick go together (a left-over dispatch split them, one statement each)."""
    order: list[str] = []
    loader = _recording_loader(order, send_at=4)

    async def ask(question: int, ticks_later: int) -> int:
        for _ in range(ticks_later):
            await asyncio.sleep(0)
        return await loader.load(MODEL, question)

    async def scenario() -> list[int]:
        # 6 and 8 ask a tick later; 6's turn comes between the tick's first question and its fifth.
        asked = [(1, 0), (2, 0), (6, 1), (3, 0), (4, 0), (5, 0), (8, 1)]
        return await asyncio.gather(*(ask(q, later) for q, later in asked))

    assert asyncio.run(scenario()) == [10, 20, 60, 30, 40, 50, 80]
    assert [e for e in order if e.startswith("sent")] == ["sent [1, 2, 3, 4]", "sent [5]", "sent [6, 8]"]


@pytest.mark.parametrize("why", ["no connection idle", "answered on a thread", "no send_at"])
def test_otherwise_a_ticks_questions_stay_one_batch(why: str) -> None:
    order: list[str] = []
    loader = _recording_loader(
        order,
        send_at=None if why == "no send_at" else 3,
        idle=why != "no connection idle",
        on_loop=why != "answered on a thread",
    )
    assert asyncio.run(_ask_in_one_tick(loader, order, 7)) == [10, 20, 30, 40, 50, 60, 70]
    batch = "thread [1, 2, 3, 4, 5, 6, 7]" if why == "answered on a thread" else "sent [1, 2, 3, 4, 5, 6, 7]"
    assert [e for e in order if not e.startswith(("asked", "answered"))] == [batch]
    assert loader.batches == 1


def test_a_batch_started_at_once_keeps_what_it_sets_in_its_own_context() -> None:
    order: list[str] = []
    loader = _recording_loader(order, send_at=1)

    async def ask() -> str:
        assert await loader.load(MODEL, 4) == 40
        return MARK.get()

    assert asyncio.run(ask()) == "unset"  # (the batch's first step ran inside this request's task)
    assert order == ["sent [4]", "answered [4]"]


def test_a_coroutine_started_at_once_is_carried_on_as_a_task_would() -> None:
    """What it awaits goes to the loop, a result or an exception comes back to it, a cancellation reaches it."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        later: asyncio.Future[int] = loop.create_future()
        failing: asyncio.Future[int] = loop.create_future()
        steps: list[str] = []

        async def waits() -> int:
            steps.append("first step")
            got = await later
            try:
                await failing
            except ValueError as error:
                steps.append(f"caught {error}")
            await asyncio.sleep(0)
            return got + 1

        done = _started(loop, waits())
        assert steps == ["first step"] and not done.done()  # (ran up to its first wait, there and then)
        later.set_result(41)
        failing.set_exception(ValueError("from the awaited future"))
        assert await done == 42
        assert steps == ["first step", "caught from the awaited future"]

        async def never_waits() -> str:
            return "at once"

        assert await _started(loop, never_waits()) == "at once"

        async def fails_at_once() -> None:
            raise KeyError("in the first step")

        with pytest.raises(KeyError, match="in the first step"):
            await _started(loop, fails_at_once())

        cancelled: list[str] = []

        async def cancellable() -> None:
            try:
                await loop.create_future()  # (never set)
            except asyncio.CancelledError:
                cancelled.append("cancelled inside")
                raise

        task = _started(loop, cancellable())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cancelled == ["cancelled inside"]

    asyncio.run(scenario())


def test_send_at_must_be_positive() -> None:
    with pytest.raises(ValueError, match="send_at must be at least 1"):
        CrossRequestLoader(lambda _m, q: list(q), send_at=0)
