#!/usr/bin/env python
"""Array parameters on PostgreSQL: psycopg's list dumper against ``projections.db.array_text``.

    python bench/array_params.py --url postgresql://.../db

``rows_cte`` (projections/db.py) sends one array per column: the position batches of the API
(four short arrays) and the projector's closed rows, pairs and names (up to a chunk's size). The
same statement (``unnest`` of two arrays, counted) with the arrays given as Python lists (psycopg's
list dumper, as before) and as their array input text (``array_text``), alternating; wall time and
this process's CPU per statement (the client side: dumping, sending, reading the answer).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from projections.db import array_text

STATEMENT = "WITH c AS (SELECT * FROM unnest(%s::{0}[], %s::{0}[])) SELECT count(*) FROM c"


def columns(kind: str, n: int, rng: random.Random) -> tuple[list[Any], list[Any]]:
    if kind == "bigint":
        return [rng.randrange(10**12) for _ in range(n)], [rng.randrange(10**15) for _ in range(n)]
    return [f"actor-{rng.randrange(10**6)}" for _ in range(n)], [f'topic "{i}", {{x}}' for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="any PostgreSQL database (nothing is written)")
    parser.add_argument("--sizes", default="2,100,2000,10000", help="elements per array")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rng = random.Random(5)
    print("| elements | type | as | wall ms/statement | client CPU ms/statement |\n|---:|---|---|---:|---:|")
    with psycopg.connect(args.url, autocommit=True) as conn:
        for n in (int(s) for s in args.sizes.split(",")):
            for kind in ("bigint", "text"):
                first, second = columns(kind, n, rng)
                sql = STATEMENT.format(kind)
                times: dict[str, list[tuple[float, float]]] = {"list": [], "text": []}
                repeats = max(3, 20_000 // n)
                for _ in range(args.rounds):  # alternating, so a change in the machine's load hits both alike
                    for form in ("list", "text"):
                        wall, cpu = time.perf_counter(), time.process_time()
                        for _ in range(repeats):
                            params = [first, second] if form == "list" else [array_text(first), array_text(second)]
                            (count,) = conn.execute(sql, params, prepare=True).fetchall()[0]  # type: ignore[arg-type]
                            assert count == n
                        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                        times[form].append((wall * 1e3 / repeats, cpu * 1e3 / repeats))
                for form, runs in times.items():
                    wall_ms, cpu_ms = sorted(runs)[len(runs) // 2]
                    print(f"| {n:,} | {kind} | {form} | {wall_ms:.3f} | {cpu_ms:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
