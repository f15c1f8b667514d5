#!/usr/bin/env python
"""CPU an idle API server spends: `claims serve` (embedded projector) answering no request.

    python bench/idle_cpu.py --url postgresql://.../db [--seconds 60] [--rounds 2] [--baseline-tree DIR]

Starts the server on a copy of ``--url``'s database (``CREATE DATABASE ... TEMPLATE``; dropped after; a
SQLite URL is copied as a file), waits until it answers one query and 5 s more (start-up done), then reads
the process's CPU time (user + system, /proc/<pid>/stat) over ``--seconds``: the background work alone
(the projector's follower, the NOTIFY listeners, the event loop's timers). One query is asked first, so
the readers' pools and the position watch are running, as in a server that has answered before.
``--baseline-tree``: the same, alternated, with another checkout's code (e.g. a worktree of an older commit).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from api_position import free_port, process  # noqa: E402

from ledger.db import dialect_of, sqlite_path  # noqa: E402

QUERY = {"query": "{ actors { key } }"}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15 of stat)


@contextlib.contextmanager
def copy_of(url: str) -> Iterator[str]:
    if dialect_of(url) == "sqlite":
        folder = tempfile.mkdtemp(prefix="idle-")
        try:
            shutil.copy(sqlite_path(url), f"{folder}/copy.db")
            yield f"sqlite:///{folder}/copy.db"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    parts = urlsplit(url)
    source, name = parts.path.lstrip("/"), f"idle_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE {name} TEMPLATE "{source}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def idle_share(url: str, seconds: float, tree: Path) -> float:
    """Percent of one core the server used while idle."""
    port = free_port()
    env = {**os.environ, "CLAIMS_DATABASE_URL": url, "PYTHONPATH": str(tree)}
    argv = [sys.executable, "-m", "api.cli.main", "serve", "--port", str(port), "--log-level", "warning"]
    with process(argv, env, f"http://127.0.0.1:{port}/graphql", QUERY, cwd=tree) as pid:
        time.sleep(5)  # start-up's own work (the first catch-up, imports) done
        before = cpu_seconds(pid)
        time.sleep(seconds)  # (the measured period: nothing asks the server anything)
        return 100 * (cpu_seconds(pid) - before) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a database with a ledger and its read model (copied)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-tree", type=Path, help="another checkout, measured alternately")
    args = parser.parse_args()
    trees = [("this tree", ROOT)] + ([("baseline", args.baseline_tree.resolve())] if args.baseline_tree else [])
    results: dict[str, list[float]] = {name: [] for name, _ in trees}
    for round_ in range(args.rounds):
        for name, tree in trees if round_ % 2 == 0 else trees[::-1]:
            with copy_of(args.url) as url:
                share = idle_share(url, args.seconds, tree)
            results[name].append(share)
            print(f"round {round_ + 1}: {name}: {share:.2f}% of a core", flush=True)
    for name, shares in results.items():
        print(f"{name}: " + ", ".join(f"{s:.2f}" for s in shares) + " % of a core while idle")


if __name__ == "__main__":
    main()
