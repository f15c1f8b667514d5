#!/usr/bin/env python
"""Latency of cold ``position`` requests in process (no HTTP server, no wrk), for the tail wrk cannot resolve
on a loaded machine.

    python bench/api_cold_latency.py --url postgresql://.../m_10000 [--tree /work/base/<commit>]

Sends ``--requests`` new random questions (as bench/api_position.py's cold mode) through the ASGI app on uvloop
(as ``claims serve`` runs), ``--in-flight`` at a time, after a warm-up, and prints req/s, process CPU per request
and the wall latency's p50, p99, p99.9 and max. ``--tree DIR``: the code of another checkout (a baseline),
imported from there (as bench/api_cold_profile.py, whose request driver this uses).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time

import api_cold_profile as driver  # (reads --tree from sys.argv and imports the app from that checkout)

# isort: split
# (after the driver, which put --tree's checkout first on sys.path)
from api.settings import Settings
from api.web.app import create_app


async def run(url: str, n: int, in_flight: int) -> tuple[float, float, list[float]]:
    """(req/s, CPU ms per request, sorted latencies in ms) of ``n`` requests after a warm-up."""
    rng = random.Random(time.time_ns())  # (new questions: nothing is answered from the response cache)
    settings = Settings.from_env({}, database_url=url, projector="external", rate_reads=0)
    app = create_app(settings)
    latencies: list[float] = []

    async def worker(count: int, keep: bool) -> None:
        for _ in range(count):
            body = json.dumps({"query": driver.OUR_QUERY, "variables": driver.question(rng)}).encode()
            started = time.perf_counter()
            assert await driver.call(app, body) == 200
            if keep:
                latencies.append((time.perf_counter() - started) * 1e3)

    async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
        await asyncio.gather(*(worker(100, False) for _ in range(in_flight)))
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(n // in_flight, True) for _ in range(in_flight)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    latencies.sort()
    return len(latencies) / wall, cpu * 1e3 / len(latencies), latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", required=True, help="database holding bench/api_position.py's ledger")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--in-flight", type=int, default=10)
    parser.add_argument("--tree", help="a checkout whose code to measure (default: this one)")
    args = parser.parse_args(argv)
    import uvloop

    rate, cpu, ms = uvloop.run(run(args.url, args.requests, args.in_flight))

    def q(p: float) -> float:
        return ms[min(len(ms) - 1, int(p * len(ms)))]

    print(
        f"code: {driver.TREE}: {rate:,.0f} req/s, CPU {cpu:.3f} ms/req, latency ms p50 {q(0.5):.2f} "
        f"p99 {q(0.99):.2f} p99.9 {q(0.999):.2f} max {ms[-1]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
