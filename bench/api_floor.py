#!/usr/bin/env python
"""How fast could a Python server answer bench/api_position.py's cold question with no GraphQL at all?

    python bench/api_floor.py --url postgresql://.../m_10000 [--url postgresql://.../m_1000000]

A floor for issue 13's cold target, measured beside our API and PostGraphile in the same run (wrk, 10
connections, one process each, the same Lua stream of new questions as bench/api_position.py's cold mode):

* ``floor``: a bare ASGI app on the same uvicorn protocol (``api.web.server:HttpTools``). It reads the JSON
  body, asks the same question through the same batching (``POSITIONS``: names kept in process, one
  statement per batch on the event loop's connections, rows made views), and writes the same answer (its
  data and ``extensions.basis``) with orjson; the run checks that its data equals our API's on a sample. It has no GraphQL: no parsing or validation, no execution, no response cache, no
  limits, no error handling beyond a 500. It is not a product; it is what is left when all of that is free;
* ``ours``: ``claims serve``'s app as bench/api_position.py runs it;
* ``PostGraphile``: as bench/api_position.py runs it (needs Node; ``npm ci`` made node_modules).

If the floor itself is not well ahead of PostGraphile, no GraphQL layer in Python will be.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.graphql.loaders import blocking  # noqa: E402
from api.graphql.resolvers.reading import POSITIONS, PositionQuestion  # noqa: E402
from projections.queries import ReadModel  # noqa: E402
from projections.views import StatedDate  # noqa: E402


def _stated(stated: StatedDate) -> dict[str, str]:
    return {"date": stated.date, "precision": stated.precision}


class Floor:
    """The bare app: ``POST /graphql`` with bench/api_position.py's variables, answered as our API would."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.model: ReadModel | None = None
        self.roots: dict[int, str] = {}  # (as the API keeps them: a tree head's root is computed once)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.model = await blocking(ReadModel, self.url)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.model is not None:
                        self.model.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        model = self.model
        assert model is not None
        variables = orjson.loads(body)["variables"]
        watch = model.positions_watch()
        positions = watch.current()
        if positions is None:  # (as the API: kept names need the names' position)
            positions = await blocking(watch.refresh)
        size = positions[0]
        root = self.roots.get(size)
        if root is None:
            root = self.roots[size] = (await blocking(model.root_hash, size)).hex()
        basis = {"treeSize": size, "rootHash": root, "knownAt": datetime.now(UTC).isoformat(), "pinned": False}
        asked = PositionQuestion(variables["a"], variables["t"], date.fromisoformat(variables["d"]), None, True)
        view, source = await POSITIONS.load(model, asked)
        position = None
        if view is not None:
            claim = view.claim
            position = {
                "stance": view.stance,
                "since": _stated(view.since),
                "claim": {
                    "key": claim.key,
                    "summary": claim.summary,
                    "quote": claim.quote_text,
                    "statedOn": _stated(claim.stated),
                    "passage": {"exact": claim.passage.exact},
                    "source": {"title": source.title, "publisher": source.publisher} if source else None,
                },
            }
        answer = orjson.dumps({"data": {"position": position}, "extensions": {"basis": basis}})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def create_floor() -> Floor:
    return Floor(os.environ["CLAIMS_DATABASE_URL"])


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT / "bench"))
    import api_position as bench  # (its server, wrk and PostGraphile helpers)

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", action="append", required=True, help="a database holding the benchmark's ledger")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2, help="each server measured this many times, alternating")
    args = parser.parse_args(argv)
    print(f"Machine: {bench.machine()}")
    print("| database | round | server | req/s | p50 ms | p99 ms | CPU ms/req | vs PostGraphile |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    probe = {"query": bench.OUR_QUERY, "variables": {"a": "actor-00", "t": "topic-00", "d": "2025-06-01"}}
    def sample(endpoint: str) -> list[Any]:
        """The data of 50 fixed questions (the same for every server)."""
        rng = random.Random(11)
        out = []
        for _ in range(50):
            variables = {
                "a": f"actor-{rng.randrange(50):02d}", "t": f"topic-{rng.randrange(20):02d}",
                "d": f"{rng.randint(2001, 2025):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            }  # fmt: skip
            out.append(httpx.post(endpoint, json={"query": bench.OUR_QUERY, "variables": variables}).json()["data"])
        return out

    for url in args.url:
        for round_ in range(1, args.rounds + 1):
            sampled: dict[str, list[Any]] = {}
            loads: dict[str, Any] = {}
            order = ("floor", "ours", "PostGraphile") if round_ % 2 else ("PostGraphile", "ours", "floor")
            for server in order:
                if server == "PostGraphile":
                    loads[server] = bench.bench_postgraphile(url, args.duration, 10)[0]
                    continue
                argv_, env, endpoint = bench.our_server(url, 1)
                if server == "floor":
                    argv_[argv_.index("api.web.app:create_app")] = "api_floor:create_floor"
                    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bench"), env.get("PYTHONPATH", "")])
                with bench.process(argv_, env, endpoint, probe) as pid:
                    sampled[server] = sample(endpoint)
                    bench.wrk(endpoint, bench.OUR_QUERY, min(5.0, args.duration), 10, seed=bench.WARM_UP)
                    measured = partial(bench.wrk, endpoint, bench.OUR_QUERY, args.duration, 10)
                    loads[server] = bench.measured(pid, measured)
            if sampled["floor"] != sampled["ours"]:
                raise SystemExit(f"the floor's answers differ from our API's on {url}: not a floor of the same work")
            base = loads["PostGraphile"].rps
            for server, load in loads.items():
                print(
                    f"| {url.rsplit('/', 1)[-1]} | {round_} | {server} | {load.rps:,.0f} | {load.p50_ms:.2f} | "
                    f"{load.p99_ms:.2f} | {load.cpu_ms or 0:.3f} | {load.rps / base:.2f}x |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
