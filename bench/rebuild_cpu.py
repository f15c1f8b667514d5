"""Where a PostgreSQL rebuild's time and CPU go: streaming the log, the deferred index builds, the switch.

Runs ``Projector.rebuild()`` on a ledger already in ``--url`` (e.g. one ``bench/rebuild.py`` generated)
and reports, per phase, the wall time, the CPU seconds of this process (projector and its threads) and
of the PostgreSQL server (every process of the server: backends, parallel workers, autovacuum; reaped
ones included), read from ``/proc``. CPU seconds do not depend on what else the host runs, wall time
does: both are printed, with the load average. The server must run on this host and serve only this
benchmark (e.g. ``tests/pg_server.py``). Works on any tree that has ``schema.create_deferred_indexes``
and ``Projector._switch_postgresql`` (run it with ``PYTHONPATH=<tree>`` to measure another one).

    PYTHONPATH=. python bench/rebuild_cpu.py --url postgresql://.../r200k --runs 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from projections import projector as projector_module
from projections import schema
from projections.projector import Projector

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2 :].split()  # fields from the state on (the name may hold spaces)


def server_cpu(postmaster: int) -> float:
    """CPU seconds of the server: the postmaster, its live children and the children it has reaped."""
    fields = _stat(postmaster)
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            child = _stat(int(entry))
        except OSError:  # exited meanwhile
            continue
        if int(child[1]) == postmaster:
            ticks += int(child[11]) + int(child[12])
    return ticks / TICKS


def postmaster_of(url: str) -> int:
    with psycopg.connect(url) as conn:  # read while the backend lives
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        return int(_stat(int(row[0]))[1])  # a backend's parent is the postmaster


class Meter:
    """Wall, projector CPU and server CPU per phase."""

    def __init__(self, postmaster: int) -> None:
        self.postmaster = postmaster
        self.phases: dict[str, list[float]] = {}

    def now(self) -> tuple[float, float, float]:
        return time.perf_counter(), time.process_time(), server_cpu(self.postmaster)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = self.now()
        try:
            yield
        finally:
            end = self.now()
            totals = self.phases.setdefault(name, [0.0, 0.0, 0.0])
            for i in range(3):
                totals[i] += end[i] - start[i]


def _wrap(meter: Meter, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with meter.phase(name):
            return function(*args, **kwargs)

    return wrapped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="a database holding a generated ledger")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument(
        "--index-builders", type=int, help="connections building the indexes at once (if the tree has them)"
    )
    parser.add_argument(
        "--maintenance-workers", type=int, help="max_parallel_maintenance_workers of the index builders' sessions"
    )
    args = parser.parse_args()
    if args.index_builders is not None:
        schema.INDEX_BUILDERS = args.index_builders
    if args.maintenance_workers is not None and hasattr(projector_module, "connect_schema"):
        connect_schema = projector_module.connect_schema

        def with_workers(url: str, name: str) -> Any:
            conn = connect_schema(url, name)
            conn.execute(f"SET max_parallel_maintenance_workers = {int(args.maintenance_workers)}")
            return conn

        projector_module.connect_schema = with_workers  # type: ignore[attr-defined]

    meter = Meter(postmaster_of(args.url))
    # The index builds (with the ANALYZE after them) and the switch, timed wherever they are called.
    create = schema.create_deferred_indexes
    schema.create_deferred_indexes = _wrap(meter, "indexes", create)  # type: ignore[assignment]
    switch = Projector._switch_postgresql
    Projector._switch_postgresql = _wrap(meter, "switch", switch)  # type: ignore[method-assign]
    print(f"tree: {os.path.dirname(os.path.dirname(os.path.abspath(projector_module.__file__)))}")
    projector = Projector(args.url, batch_size=args.batch_size)
    try:
        for run in range(1, args.runs + 1):
            meter.phases.clear()
            load = os.getloadavg()[0]
            with meter.phase("total"):
                events = projector.rebuild() or 0  # (None: another process's rebuild did it)
            total = meter.phases["total"]
            rest = [total[i] - sum(v[i] for k, v in meter.phases.items() if k != "total") for i in range(3)]
            print(
                f"run {run}: {events:,} events, {total[0]:.2f} s wall = {events / total[0]:,.0f} events/s;"
                f" projector CPU {total[1]:.2f} s ({total[1] / events * 1e6:.1f} µs/event), server CPU"
                f" {total[2]:.2f} s ({total[2] / events * 1e6:.1f} µs/event); load {load:.2f} -> {os.getloadavg()[0]:.2f}"
            )
            rows = [("stream (batches)", rest), *((k, v) for k, v in meter.phases.items() if k != "total")]
            for name, (wall, mine, server) in rows:
                print(f"  {name:<17} wall {wall:6.2f} s  projector CPU {mine:6.2f} s  server CPU {server:6.2f} s")
            print("  projector phases (wall s): " + ", ".join(f"{k} {v:.2f}" for k, v in projector.timings.items()))
            projector.timings.clear()
    finally:
        projector.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
