#!/usr/bin/env python
"""Wall time, the Python process's CPU and the PostgreSQL server's CPU of the ledger import, per event.

``bench/import_rate.py`` gives wall-clock rates, which other work on a shared host moves by 2x between runs;
``bench/import_cpu.py`` gives the Python CPU on SQLite. This script imports ``import_rate``'s workload into fresh
PostgreSQL databases (``import_rate.import_file`` of the tree on ``PYTHONPATH``) and reports, per run and as
medians, the wall time, this process's CPU time and the CPU time of the server's backends of that database (from
``/proc``: the server must run on this host; its clock ticks are 10 ms, ~1.9 us/event at 5,320 events).

    PYTHONPATH=<tree> python bench/import_pg_cpu.py --url postgresql://postgres@127.0.0.1:5432/postgres --runs 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

TREE = Path(os.environ.get("PYTHONPATH", ".").split(os.pathsep)[0]).resolve()
sys.path[:0] = [str(TREE), str(TREE / "bench")]

import import_rate  # noqa: E402  # the tree's own

from ledger.application import ClaimsLedger  # noqa: E402

_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(admin: psycopg.Connection[tuple[int]], database: str) -> float:
    """Seconds of CPU (user + system) of the server processes connected to ``database``."""
    total = 0
    for (pid,) in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)).fetchall():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", required=True, help="PostgreSQL URL of a user allowed to CREATE DATABASE, on this host")
    parser.add_argument("--claims", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    workload = import_rate.generate(args.claims, 2000, 1)
    results: list[tuple[float, float, float]] = []
    events = 0
    with import_rate.postgres(args.url, False) as server, psycopg.connect(args.url, autocommit=True) as admin:
        for run in range(args.runs):
            url = server.create_database(f"pgcpu{run}")
            ledger = ClaimsLedger.open(url)
            ledger.ledger_recorder.tree_head()  # the pool's first connection, before the clocks start
            database = url.rsplit("/", 1)[1]
            server_before = backend_cpu(admin, database)
            wall, cpu = time.perf_counter(), time.process_time()
            events = sum(import_rate.import_file(ledger, doc) for doc in workload.files)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            server_cpu = backend_cpu(admin, database) - server_before
            ledger.close()
            server.drop_databases()
            results.append((wall, cpu, server_cpu))
            print(f"run {run + 1}: " + _line(results[-1], events), flush=True)
    medians = tuple(statistics.median(r[i] for r in results) for i in range(3))
    print(f"{TREE}: median of {args.runs}, load {os.getloadavg()[0]:.2f}: " + _line(medians, events))
    return 0


def _line(seconds: tuple[float, ...], events: int) -> str:
    wall, cpu, server = (s / events * 1e6 for s in seconds)
    return f"wall {wall:.1f} us/event, Python CPU {cpu:.1f}, server CPU {server:.1f}"


if __name__ == "__main__":
    sys.exit(main())
