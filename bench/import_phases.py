#!/usr/bin/env python
"""Where an import's time goes: wall-clock time per event of each step of ``import_rate.import_file``.

Wraps the steps (``commands.parse_*``, ``Batch.prefetch`` and its commands, ``Batch.commit`` and
within it ``Mapper.to_stored_event`` and the recorder's ``insert_events``) in timers (each adds
~1 us per call) and imports the workload into fresh PostgreSQL databases (a private server of
``tests/pg_server.py``, or ``--url``); prints the best of ``--runs``. ``PYTHONPATH`` chooses the tree.

    PYTHONPATH=. python bench/import_phases.py --claims 4000 --runs 5
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TREE = Path(os.environ.get("PYTHONPATH", ".").split(os.pathsep)[0]).resolve()
sys.path[:0] = [str(TREE), str(TREE / "bench")]

import import_rate  # noqa: E402  # the tree's own
from eventsourcing.persistence import Mapper  # noqa: E402

from ledger import commands  # noqa: E402
from ledger.application import Batch, ClaimsLedger  # noqa: E402
from ledger.postgres import PostgresLedgerRecorder  # noqa: E402

spent: dict[str, float] = {}


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

    return wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", help="PostgreSQL URL of a user allowed to CREATE DATABASE; else a private server")
    args = parser.parse_args()

    for name in ("parse_source", "parse_actor", "parse_topic", "parse_claim", "parse_changes", "parse_reason"):
        setattr(commands, name, timed("commands.parse_*", getattr(commands, name)))
    for name in ("prefetch", "register_source", "register_actor", "define_topic", "record_claim", "revise_claim"):
        setattr(Batch, name, timed(f"Batch.{name}", getattr(Batch, name)))
    Batch.commit = timed("Batch.commit", Batch.commit)  # type: ignore[method-assign]
    Mapper.to_stored_event = timed("  of it Mapper.to_stored_event", Mapper.to_stored_event)  # type: ignore[method-assign]
    try:  # the ledger's own mapper, in trees that have it (its to_stored_event does not call the library's)
        from ledger.transcoder import LedgerMapper  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        pass
    else:
        LedgerMapper.to_stored_event = timed("  of it Mapper.to_stored_event", LedgerMapper.to_stored_event)  # type: ignore[method-assign]
    PostgresLedgerRecorder.insert_events = timed(  # type: ignore[method-assign]
        "  of it insert_events", PostgresLedgerRecorder.insert_events
    )

    workload = import_rate.generate(args.claims, 2000, 1)
    best: tuple[float, dict[str, float], int] | None = None
    with import_rate.postgres(args.url, False) as server:
        for run in range(args.runs):
            url = server.create_database(f"phases{run}")
            ledger = ClaimsLedger.open(url)
            spent.clear()
            gc.collect()
            start = time.perf_counter()
            events = sum(import_rate.import_file(ledger, doc) for doc in workload.files)
            total = time.perf_counter() - start
            ledger.close()
            server.drop_databases()
            if best is None or total < best[0]:
                best = (total, dict(spent), events)
    assert best is not None
    total, steps, events = best
    print(f"{TREE}: {events:,} events, {total / events * 1e6:.1f} us/event wall (best of {args.runs}), load {os.getloadavg()[0]:.2f}")
    for name in sorted(steps):
        print(f"  {name:34s} {steps[name] / events * 1e6:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
