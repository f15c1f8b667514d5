#!/usr/bin/env python
"""Where a cold ``position`` request's CPU goes, in process (no HTTP server, no wrk).

    python bench/api_cold_profile.py --url postgresql://.../db_with_a_ledger   # e.g. one kept by
                                                                               # bench/api_position.py --keep-database

Calls the ASGI app of ``api.web.app.create_app`` directly (10 requests in flight, each a new random
(actor, topic, asOf) of bench/api_position.py's ledger) and reports the process CPU time per request,
with compiled execution on and off (``CLAIMS_COMPILED_EXECUTION``):

* ``asgi``: the whole request (routing, response cache miss, the prepared path of ``api/graphql/prepared.py``,
  execution, database); ``asgi-view``: the same with ``CLAIMS_PREPARED_HTTP=0`` (strawberry's view and extensions);
* ``execute``: ``schema.execute`` alone, same context;
* ``stubbed``: ``schema.execute`` one request at a time with the database answer replaced by a fixed one
  (the GraphQL pipeline and the hop to the database thread pool);
* ``questions per batch``: how many requests' positions went to the database together, during ``asgi``;
* ``hop``: one round trip to the database thread pool (``api.graphql.loaders.blocking``);
* ``names`` and ``position``: the two statements of a position, on this thread.

``--split 1,2,10`` instead: on uvloop (as ``claims serve`` runs), the whole request through the ASGI app
with that many in flight, its process CPU per request split into the event loop's thread and the
database thread's answer to the position batches (per request and per batch), and the loop CPU of
the batches answered on the loop (PostgreSQL: their own steps, part of the event loop's figure). ``--tree DIR``: the
code of another checkout (a baseline), imported from there.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import random
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# (read before the imports below: they come from --tree's checkout when one is given)
TREE = Path(sys.argv[sys.argv.index("--tree") + 1]).resolve() if "--tree" in sys.argv[:-1] else ROOT
sys.dont_write_bytecode = TREE != ROOT  # (a baseline tree is read, never written)
sys.path.insert(0, str(TREE))


def _our_query() -> str:
    """bench/api_position.py's query, read from its text: importing that module would import this
    checkout's ledger (its generator's), not --tree's."""
    for node in ast.parse((ROOT / "bench" / "api_position.py").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "OUR_QUERY" for t in node.targets):
            return str(ast.literal_eval(node.value))
    raise LookupError("bench/api_position.py defines no OUR_QUERY")


OUR_QUERY = _our_query()

from api.auth import Caller  # noqa: E402
from api.graphql.basis import OBSERVED_POSITION  # noqa: E402
from api.graphql.context import Context  # noqa: E402
from api.graphql.loaders import blocking  # noqa: E402
from api.graphql.resolvers import reading  # noqa: E402
from api.graphql.schema import build_schema  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.web.app import create_app  # noqa: E402


def question(rng: random.Random) -> dict[str, str]:
    return {
        "a": f"actor-{rng.randrange(50):02d}",
        "t": f"topic-{rng.randrange(20):02d}",
        "d": f"{rng.randint(2001, 2025):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    }


async def call(app: Any, body: bytes) -> int:
    """One POST /graphql through the ASGI app; its status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/graphql", "raw_path": b"/graphql", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # never: the app does not read past the body
        return {}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def cpu_per_call(fn: Callable[[], Awaitable[Any]], n: int, in_flight: int) -> float:
    """Process CPU milliseconds per call of ``fn``, ``in_flight`` at a time (after a warm-up)."""
    for _ in range(200):
        await fn()

    async def worker(count: int) -> None:
        for _ in range(count):
            await fn()

    started = time.process_time()
    await asyncio.gather(*(worker(n // in_flight) for _ in range(in_flight)))
    return (time.process_time() - started) * 1e3 / (n // in_flight * in_flight)


async def measure(url: str, n: int) -> list[tuple[str, str, float]]:
    rows: list[tuple[str, str, float]] = []
    for compiled in (True, False):
        rows += await measure_one(url, n, compiled)
    return rows


async def measure_one(url: str, n: int, compiled: bool) -> list[tuple[str, str, float]]:
    rows: list[tuple[str, str, float]] = []
    rng = random.Random(1)
    label = "on" if compiled else "off"
    settings = Settings.from_env({}, database_url=url, projector="external", rate_reads=0, compiled_execution=compiled)
    app = create_app(settings)
    async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
        services = app.state.services
        model = services.read_model
        sizes = await services.sizes.current(blocking)
        schema = build_schema(settings)

        async def asgi() -> None:
            assert await call(app, json.dumps({"query": OUR_QUERY, "variables": question(rng)}).encode()) == 200

        async def execute() -> None:
            context = Context(services, Caller(), sizes)
            result = await schema.execute(OUR_QUERY, variable_values=question(rng), context_value=context)
            assert not result.errors, result.errors

        async def names() -> None:
            q = question(rng)
            model.resolve_names([("actor", q["a"]), ("topic", q["t"])], None)

        async def position() -> None:
            q = question(rng)
            model.position_and_source(q["a"], q["t"], date.fromisoformat(q["d"]), None, with_source=True)

        before = (reading.POSITIONS.questions, reading.POSITIONS.batches)
        rows.append(("asgi", label, await cpu_per_call(asgi, n, 10)))
        asked, batches = reading.POSITIONS.questions - before[0], reading.POSITIONS.batches - before[1]
        rows.append(("questions per batch (asgi)", label, asked / max(batches, 1)))
        if compiled:
            rows.append(("asgi-view", label, await asgi_view(url, n, rng)))
        token = OBSERVED_POSITION.set(model.projected_position())  # as the HTTP layer does
        rows.append(("execute", label, await cpu_per_call(execute, n, 10)))
        real = reading.POSITIONS.answer
        canned = model.position_and_source("actor-01", "topic-01", None, None, with_source=True)
        reading.POSITIONS.answer = lambda _, questions: [canned] * len(questions)
        try:
            rows.append(("stubbed", label, await cpu_per_call(execute, n, 1)))
        finally:
            reading.POSITIONS.answer = real
            OBSERVED_POSITION.reset(token)
        if compiled:
            rows.append(("hop", "", await cpu_per_call(lambda: blocking(int), n, 1)))
            rows.append(("names", "", await cpu_per_call(names, n, 1)))
            rows.append(("position", "", await cpu_per_call(position, n, 1)))
    return rows


async def asgi_view(url: str, n: int, rng: random.Random) -> float:
    """The whole request through strawberry's view (``CLAIMS_PREPARED_HTTP=0``), compiled execution on."""
    settings = Settings.from_env({}, database_url=url, projector="external", rate_reads=0, prepared_http=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):  # type: ignore[attr-defined]

        async def asgi() -> None:
            assert await call(app, json.dumps({"query": OUR_QUERY, "variables": question(rng)}).encode()) == 200

        return await cpu_per_call(asgi, n, 10)


class _TimedSteps:
    """Awaits a coroutine, adding the thread CPU of each of its steps (not the waits between them) to
    ``spent[0]``: a batch's own CPU on the event loop."""

    def __init__(self, coroutine: Any, spent: list[float]) -> None:
        self.coroutine, self.spent = coroutine, spent

    def __await__(self) -> Any:
        steps = self.coroutine.__await__()
        value: Any = None
        error: BaseException | None = None
        while True:
            started = time.thread_time()
            try:
                yielded = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration as done:
                return done.value
            finally:
                self.spent[0] += time.thread_time() - started
            try:
                value, error = (yield yielded), None
            except BaseException as thrown:  # (a cancellation: passed on to the batch)
                value, error = None, thrown


async def split(url: str, n: int, in_flight: int) -> tuple[float, ...]:
    """(process, event loop thread, database thread answering positions) CPU ms per request, the
    last also per batch, questions per batch, and the batches answered on the event loop (PostgreSQL):
    their own loop CPU (name look-ups, statement, psycopg's steps, rows to views; not the loop's waits
    and wake-ups) per request and per batch; ``in_flight`` requests at a time."""
    rng = random.Random(time.time_ns())  # (new questions: nothing is answered from the response cache)
    spent = [0.0]
    on_loop_spent, on_loop_batches = [0.0], [0]
    real = reading.POSITIONS.answer
    real_on_loop = reading.POSITIONS.on_loop

    def timed(model: Any, questions: Any) -> Any:
        started = time.thread_time()
        try:
            return real(model, questions)
        finally:
            spent[0] += time.thread_time() - started

    def timed_on_loop(model: Any, questions: Any) -> Any:
        assert real_on_loop is not None
        started = time.thread_time()
        try:
            coroutine = real_on_loop(model, questions)
        finally:
            on_loop_spent[0] += time.thread_time() - started
        if coroutine is None:
            return None
        on_loop_batches[0] += 1

        async def steps() -> Any:
            return await _TimedSteps(coroutine, on_loop_spent)

        return steps()

    reading.POSITIONS.answer = timed
    if real_on_loop is not None:
        reading.POSITIONS.on_loop = timed_on_loop
    settings = Settings.from_env({}, database_url=url, projector="external", rate_reads=0)
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):  # type: ignore[attr-defined]

            async def worker(count: int) -> None:
                for _ in range(count):
                    body = json.dumps({"query": OUR_QUERY, "variables": question(rng)}).encode()
                    assert await call(app, body) == 200

            await asyncio.gather(*(worker(300 // in_flight) for _ in range(in_flight)))  # warm-up
            spent[0] = on_loop_spent[0] = 0.0
            on_loop_batches[0] = 0
            batches, questions = reading.POSITIONS.batches, reading.POSITIONS.questions
            process, loop = time.process_time(), time.thread_time()
            await asyncio.gather(*(worker(n // in_flight) for _ in range(in_flight)))
            process, loop = time.process_time() - process, time.thread_time() - loop
            batches, questions = reading.POSITIONS.batches - batches, reading.POSITIONS.questions - questions
    finally:
        reading.POSITIONS.answer = real
        reading.POSITIONS.on_loop = real_on_loop
    per = 1e3 / max(questions, 1)
    return (
        process * per, loop * per, spent[0] * per, spent[0] * 1e3 / max(batches, 1), questions / max(batches, 1),
        on_loop_spent[0] * per, on_loop_spent[0] * 1e3 / max(on_loop_batches[0], 1),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="database holding bench/api_position.py's ledger")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--split", help="in-flight counts, e.g. 2,10: the CPU split of a request (see above)")
    parser.add_argument("--tree", help="a checkout whose code to measure (default: this one)")
    args = parser.parse_args(argv)
    if args.split:
        import uvloop

        print(
            f"code: {TREE}\n| in flight | process ms/req | event loop | database thread | per batch | questions/batch"
            " | batch on loop | per batch |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for in_flight in (int(k) for k in args.split.split(",")):
            row = uvloop.run(split(args.url, args.requests, in_flight))
            print(
                f"| {in_flight} | " + " | ".join(f"{x:.3f}" for x in row[:4]) + f" | {row[4]:.2f} | "
                + " | ".join(f"{x:.3f}" for x in row[5:]) + " |"
            )  # fmt: skip
        return 0
    rows = asyncio.run(measure(args.url, args.requests))
    print("| measure | compiled execution | CPU ms per request |\n|---|---|---:|")
    for name, label, ms in rows:
        print(f"| {name} | {label or '-'} | {ms:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
