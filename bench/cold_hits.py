#!/usr/bin/env python
"""Are the benchmarks' cold requests cold? Response-cache hits of their question streams, counted in process.

    python bench/cold_hits.py --url postgresql://.../db_with_a_ledger   # bench/api_position.py's ledger
    python bench/cold_hits.py --url ... --rate 36 --claims 10000        # rate: the run's req/s to replay

Sends, through the ASGI app of ``api.web.app.create_app`` (one request at a time, the response cache on
as in those runs, rate limits off), the requests a cold run of each script sends in the order it sends
them, and reads the cache's hit counter (``app.state.response_cache.hits``) after each part. A hit is a
"cold" request answered from an earlier request's answer. Streams:

* ``api_mixed``: a server's 5 s warm-up, its measured run and the 50-session latency walk, as many
  requests as ``--rate`` req/s gives in 5 s and ``--duration`` s; with the sessions drawn independently
  (``--draws independent``, the script before this check) and from one set per server (``asked``, now);
* ``api_cold_profile``: the ``asgi`` measure's 200 warm-up and ``--requests`` measured questions (seed 1);
* ``frontend_paint``: the GraphQL request of its warm-up load and of 9 measured loads, all of the same date
  (the script before this check) or each of a new one (now); the frontend's own matrix document.

A fresh app (an empty cache) for each stream, as each server of a run is a new process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import api_cold_profile as profile  # noqa: E402  (its ASGI call, question stream and query)
import api_mixed as mixed  # noqa: E402

from api.settings import Settings  # noqa: E402
from api.web.app import create_app  # noqa: E402


async def replay(url: str, parts: list[tuple[str, list[bytes]]]) -> list[tuple[str, int, int]]:
    """(part, requests, hits) for each part, sent in order to one fresh app."""
    settings = Settings.from_env({}, database_url=url, projector="external", rate_reads=0)
    app: Any = create_app(settings)
    counts: list[tuple[str, int, int]] = []
    async with app.router.lifespan_context(app):
        cache = app.state.response_cache
        for name, bodies in parts:
            before = cache.hits
            for body in bodies:
                assert await profile.call(app, body) == 200
            counts.append((name, len(bodies), cache.hits - before))
    return counts


def mixed_parts(claims: int, rate: float, duration: float, shared: bool) -> list[tuple[str, list[bytes]]]:
    """api_mixed's cold run on one server (1 process: its measured walk's seed is claims + 1)."""
    docs = mixed.frontend_documents()
    asked: set[str] | None = set() if shared else None
    warm = mixed.bodies(docs, mixed.sessions(500, claims, seed=99, asked=asked))
    readers = mixed.bodies(docs, mixed.sessions(50, claims, seed=5, asked=asked))
    walk = mixed.bodies(docs, mixed.sessions(5000, claims, seed=claims + 1, asked=asked))
    return [
        ("warm-up", [b.encode() for b in warm[: int(rate * 5)]]),
        ("measured", [b.encode() for b in walk[: int(rate * duration)]]),
        ("latency walk", [b.encode() for b in readers]),
    ]


def profile_parts(requests: int) -> list[tuple[str, list[bytes]]]:
    """api_cold_profile's ``asgi`` measure (compiled on; off repeats it on a new app)."""
    rng = random.Random(1)
    bodies = [
        json.dumps({"query": profile.OUR_QUERY, "variables": profile.question(rng)}).encode()
        for _ in range(200 + requests)
    ]
    return [("warm-up", bodies[:200]), ("measured", bodies[200:])]


def paint_parts(runs: int, new_dates: bool) -> list[tuple[str, list[bytes]]]:
    """frontend_paint's matrix loads: one warm-up load, then ``runs`` (the same date, or each a new one)."""
    query = mixed.frontend_documents()["matrix"]

    def body(day: str) -> bytes:
        return json.dumps({"query": query, "variables": {"asOf": day, "knownAt": None}}).encode()

    days = [f"2026-01-{run + 1:02d}" if new_dates else "2025-12-31" for run in range(runs)]
    return [("warm-up", [body("2025-12-31")]), ("measured", [body(day) for day in days])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="database holding bench/api_position.py's ledger")
    parser.add_argument("--claims", type=int, default=10_000, help="the ledger's claims (api_mixed's claim ids)")
    parser.add_argument("--rate", type=float, default=36.0, help="req/s of the api_mixed run to replay")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of the api_mixed measured run")
    parser.add_argument("--requests", type=int, default=2000, help="api_cold_profile's measured requests")
    parser.add_argument("--draws", default="independent,shared", help="api_mixed's session draws to replay")
    args = parser.parse_args(argv)
    streams: list[tuple[str, list[tuple[str, list[bytes]]]]] = [
        (
            f"api_mixed cold, {draws} draws, {args.rate:g} req/s",
            mixed_parts(args.claims, args.rate, args.duration, draws == "shared"),
        )
        for draws in args.draws.split(",")
    ]
    streams.append(("api_cold_profile asgi", profile_parts(args.requests)))
    streams.append(("frontend_paint matrix, one date", paint_parts(9, new_dates=False)))
    streams.append(("frontend_paint matrix, a new date each load", paint_parts(9, new_dates=True)))
    print("| stream | part | requests | response-cache hits |\n|---|---|---:|---:|")
    for label, parts in streams:
        for name, count, hits in asyncio.run(replay(args.url, parts)):
            print(f"| {label} | {name} | {count:,} | {hits:,} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
