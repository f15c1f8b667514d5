"""Signed checkpoints (sign, verify, cosign, full check) and export throughput / peak memory.

    python bench/checkpoint_export.py                          # 10,000 and 40,000 claims, SQLite
    python bench/checkpoint_export.py --sizes 5000 --iterations 500
    python bench/checkpoint_export.py --write                  # replace its block in RESULTS.md

Checkpoints: median time of ``checkpoint.sign`` and ``open_checkpoint`` (log signature, then
with two witness cosignatures), against the raw Ed25519 sign/verify of the same note text in
the same run (the baseline: what the format adds around the primitive). Then
``published.check`` (signature + full recomputation of the tree + consistency proof) on the
generated ledger, in events per second.

Exports: a ledger of N claims generated with ``bench/rebuild.py``'s generator (5% revised, 1%
retracted) in a temporary SQLite file, projected, then each format streamed to a null sink:
claims per second, against a raw ``SELECT`` of the same rows (fetchmany, no formatting) in the
same run; and the peak of Python allocations (tracemalloc, a separate pass) to show whether
memory grows with N (it should not: keyset batches).
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rebuild import generate
from results_file import write_section

from api.exports import Request, stream
from ledger.application import ClaimsLedger
from ledger.integrity import published
from ledger.integrity.checkpoint import Checkpoint, Policy, open_checkpoint, sign
from ledger.integrity.note import COSIGNATURE_V1, Signer
from projections.projector import Projector
from projections.queries import ReadModel
from projections.views import ClaimFilter

FORMATS = ("claims-csv", "claims-jsonl", "claimreview", "webannotation", "wikidata")


def median_us(fn: Callable[[], object], iterations: int) -> float:
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def checkpoint_figures(iterations: int) -> list[tuple[str, float, float]]:
    log = Signer.generate("bench.example/ledger")
    witnesses = [Signer.generate(f"bench.example/w{i}", COSIGNATURE_V1) for i in (1, 2)]
    checkpoint = Checkpoint("bench.example/ledger", 1_000_000, os.urandom(32))
    text = checkpoint.text()
    note = sign(checkpoint, log)
    cosigned = note + "".join(w.sign(text, 1_700_000_000) for w in witnesses)
    public = log.private_key.public_key()
    raw_signature = log.private_key.sign(text)
    raw_sign = median_us(lambda: log.private_key.sign(text), iterations)
    raw_verify = median_us(lambda: public.verify(raw_signature, text), iterations)
    alone = Policy(log.verifier)
    quorum = Policy(log.verifier, tuple(w.verifier for w in witnesses), 2)
    return [
        ("sign a checkpoint (`checkpoint.sign`)", median_us(lambda: sign(checkpoint, log), iterations), raw_sign),
        ("verify the log's signature (`open_checkpoint`)", median_us(lambda: open_checkpoint(note, alone), iterations),
         raw_verify),
        ("verify log + 2 witness cosignatures (2-of-2)", median_us(lambda: open_checkpoint(cosigned, quorum), iterations),
         raw_verify),
        ("cosign as a witness (`Signer.sign`, cosignature/v1)",
         median_us(lambda: witnesses[0].sign(text, 1_700_000_000), iterations), raw_sign),
    ]  # fmt: skip


def raw_select(path: str) -> float:
    conn = sqlite3.connect(path)
    try:
        start = time.perf_counter()
        cursor = conn.execute("SELECT * FROM rm_claim_versions WHERE known_to_us IS NULL ORDER BY position")
        rows = 0
        while batch := cursor.fetchmany(1000):
            rows += len(batch)
        return rows / (time.perf_counter() - start)
    finally:
        conn.close()


def export_once(model: ReadModel, fmt: str) -> tuple[int, float]:
    start = time.perf_counter()
    _, chunks = stream(model, Request(fmt, ClaimFilter()))
    size = 0
    for chunk in chunks:
        size += len(chunk)
    return size, time.perf_counter() - start


def export_figures(sizes: list[int]) -> tuple[list[tuple[int, str, float, float, float, float]], list[str]]:
    rows: list[tuple[int, str, float, float, float, float]] = []
    checks: list[str] = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = f"{tmp}/bench.db"
            url = f"sqlite:///{path}"
            generate(url, n, 5000)
            projector = Projector(url)
            projector.catch_up()
            projector.close()
            with ClaimsLedger.open(url) as ledger:
                model = ReadModel(url)
                try:
                    claims = sum(1 for _ in model.iter_claims(ClaimFilter(), None))
                    baseline = max(raw_select(path), raw_select(path))  # the second with a warm cache
                    for fmt in FORMATS:
                        size, seconds = export_once(model, fmt)
                        tracemalloc.start()
                        export_once(model, fmt)
                        _, peak = tracemalloc.get_traced_memory()
                        tracemalloc.stop()
                        rate = claims / seconds
                        rows.append((n, fmt, rate, rate / baseline, peak / 2**20, size / 2**20))
                    signer = Signer.generate("bench.example/ledger")
                    checkpoint_note = published.issue(ledger.ledger_recorder, signer)
                    start = time.perf_counter()
                    result = published.check(ledger.ledger_recorder, checkpoint_note, Policy(signer.verifier))
                    seconds = time.perf_counter() - start
                    assert result.ok
                    events = result.report.events
                    checks.append(
                        f"{n:,} claims ({events:,} events): `checkpoint verify` (signature, full tree recomputation, "
                        f"consistency proof) {seconds:.2f} s = {events / seconds:,.0f} events/s; raw row read "
                        f"{baseline:,.0f} rows/s"
                    )
                finally:
                    model.close()
    return rows, checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,40000", help="claims per generated ledger, comma-separated")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--write", action="store_true", help="replace this benchmark's block in RESULTS.md")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    load = os.getloadavg()
    signing = checkpoint_figures(args.iterations)
    exports, checks = export_figures(sizes)
    lines = [
        "## Checkpoints and exports (bench/checkpoint_export.py)",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}; load average at start "
        f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} (shared with other work).",
        "",
        f"Command: `python bench/checkpoint_export.py --sizes {args.sizes} --iterations {args.iterations}`"
        f" ({time.strftime('%Y-%m-%d')})",
        "",
        "| operation | median µs | raw Ed25519 primitive µs (same run) | ratio |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {ours:.1f} | {raw:.1f} | {ours / raw:.2f}x |" for name, ours, raw in signing),
        "",
        *(f"- {line}" for line in checks),
        "",
        "| claims | format | claims/s | vs raw SELECT of the rows | peak Python memory MiB | output MiB |",
        "|---:|---|---:|---:|---:|---:|",
        *(f"| {n:,} | {fmt} | {rate:,.0f} | {ratio:.2f}x | {peak:.1f} | {size:.1f} |"
          for n, fmt, rate, ratio, peak, size in exports),
        "",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write:
        write_section("checkpoint_export", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
