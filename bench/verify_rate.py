#!/usr/bin/env python
"""``claims verify`` throughput: ledger.integrity.verify against its previous version and raw SHA-256.

    python bench/verify_rate.py                       # 20,000 claims, SQLite and a private PostgreSQL
    python bench/verify_rate.py --claims 100000 --repeat 3 --write

Generates one ledger per store with bench/rebuild.py's generator, then per run
(median of ``--repeat``), on the same log: the current ``verify`` (full: leaves,
tree heads, stored nodes); the ``verify`` of git revision ``--before`` (loaded
from git history, so before and after run in the same process on the same data);
and the floor: SHA-256 alone over every leaf's bytes and the tree's nodes, from
rows already in memory. Both verifies must report the same root.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import rebuild as generator  # noqa: E402
from results_file import write_section  # noqa: E402

from ledger.application import ClaimsLedger  # noqa: E402
from ledger.integrity import verify as current  # noqa: E402
from ledger.persistence import leaf_data  # noqa: E402

BEFORE = "1b7b03e"  # the last commit with the per-event verify (LoggedEvent objects, iter_log)


def previous(revision: str) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{revision}:ledger/integrity/verify.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "verify_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("verify_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def floor(url: str) -> tuple[int, float]:
    """SHA-256 of every leaf and of each tree node (one per leaf), rows read beforehand."""
    with ClaimsLedger.open(url) as ledger:
        events = list(ledger.ledger_recorder.iter_log())
    datas = [b"\x00" + leaf_data(e.position, e.originator_id, e.originator_version, e.topic, e.state) for e in events]
    sha = hashlib.sha256
    began = time.perf_counter()
    node = b"\x00" * 32
    for data in datas:
        leaf = sha(data).digest()
        node = sha(b"\x01" + node + leaf).digest()
    return len(datas), time.perf_counter() - began


def timed(module: ModuleType, url: str) -> tuple[int, float, bytes]:
    with ClaimsLedger.open(url) as ledger:
        began = time.perf_counter()
        report = module.verify(ledger.ledger_recorder)
        seconds = time.perf_counter() - began
    if not report.ok:
        raise AssertionError(f"verify failed: {report.problem}")
    return int(report.events), seconds, bytes(report.root_hash)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", default=BEFORE, help="git revision of the verify to compare with")
    parser.add_argument("--write", action="store_true", help="replace this benchmark's block of bench/RESULTS.md")
    args = parser.parse_args(argv)
    from pg_server import start_server

    old = previous(args.before)
    server = start_server()
    tmp = tempfile.mkdtemp()
    stores = {"SQLite": f"sqlite:///{tmp}/ledger.db", "PostgreSQL": server.url(server.create_database())}
    rows = []
    try:
        for name, url in stores.items():
            generator.generate(url, args.claims, 10_000)
            results: dict[str, list[float]] = {"after": [], "before": [], "floor": []}
            events = 0
            for _ in range(args.repeat):
                events, seconds, root = timed(current, url)
                results["after"].append(events / seconds)
                before_events, seconds, before_root = timed(old, url)
                assert (before_events, before_root) == (events, root), "the two verifies disagree"
                results["before"].append(events / seconds)
                n, seconds = floor(url)
                results["floor"].append(n / seconds)
            medians = {k: statistics.median(v) for k, v in results.items()}
            rows.append((name, events, medians))
            print(f"{name}: {events:,} events; " + ", ".join(f"{k} {v:,.0f}/s" for k, v in medians.items()))
    finally:
        server.stop()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "## Verify rate (bench/verify_rate.py)",
        "",
        f"Machine: {os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}, PostgreSQL 15 "
        f"(private server, fsync off) on the same host; load average at the end {load} (the machine is shared: "
        "compare the ratios of one run).",
        "",
        f"Command: `python bench/verify_rate.py --claims {args.claims} --repeat {args.repeat}` "
        f"(medians of {args.repeat}; before = `ledger/integrity/verify.py` of {args.before}, same process, same log).",
        "",
        "| store | events | verify now, events/s | verify before, events/s | now / before | SHA-256 floor, events/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, events, m in rows:
        lines.append(
            f"| {name} | {events:,} | {m['after']:,.0f} | {m['before']:,.0f} | {m['after'] / m['before']:.2f}x"
            f" | {m['floor']:,.0f} |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write:
        write_section("verify_rate", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
