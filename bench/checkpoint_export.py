"""Signed checkpoints (sign, verify, cosign, full check) and export throughput / peak memory.

    python bench/checkpoint_export.py                          # 10,000 and 40,000 claims, SQLite
    python bench/checkpoint_export.py --sizes 5000 --iterations 500
    python bench/checkpoint_export.py --write                  # replace its block in RESULTS.md
    nice -n 10 python bench/checkpoint_export.py --sizes 1000000 --formats claims-csv,claims-jsonl,claimreview \
        --stores sqlite,postgresql                             # the 1M figures (PostgreSQL: a private server)
    python bench/checkpoint_export.py --reuse sqlite:///PATH --formats claims-csv --no-trace
        # exports only, from a ledger generated and projected before (the same generator); peak RSS

Checkpoints: median time of ``checkpoint.sign`` and ``open_checkpoint`` (log signature, then
with two witness cosignatures), against the raw Ed25519 sign/verify of the same note text in
the same run (the baseline: what the format adds around the primitive). Then
``published.check`` (signature + full recomputation of the tree + consistency proof) on the
generated ledger, in events per second.

Exports: a ledger of N claims generated with ``bench/rebuild.py``'s generator (5% revised, 1%
retracted) in a temporary SQLite file (or a database of a private PostgreSQL server,
``tests/pg_server.py``), projected, then each format streamed to a null sink: claims per second,
against a raw ``SELECT`` of the same rows (fetchmany, no formatting) in the same run; and the
peak of Python allocations (tracemalloc, a separate pass) to show whether memory grows with N
(it should not: keyset batches), with the process's peak RSS after the run.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

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


RAW_SQL = "SELECT * FROM rm_claim_versions WHERE known_to_us IS NULL ORDER BY position"


def raw_select(url: str) -> float:
    """Rows per second of a bare read of the exported rows: the baseline no format can beat."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            start = time.perf_counter()
            sqlite_cursor = conn.execute(RAW_SQL)
            rows = 0
            while batch := sqlite_cursor.fetchmany(1000):
                rows += len(batch)
            return rows / (time.perf_counter() - start)
        finally:
            conn.close()
    with psycopg.connect(url) as pg, pg.cursor(name="bench_raw") as cursor:  # server-side: streamed
        start = time.perf_counter()
        cursor.execute(RAW_SQL)
        rows = 0
        while batch := cursor.fetchmany(1000):
            rows += len(batch)
        return rows / (time.perf_counter() - start)


@contextmanager
def ledger_url(store: str) -> Iterator[str]:
    """An empty store for one generated ledger: a temporary SQLite file or a private PostgreSQL database."""
    if store == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    from pg_server import start_server

    server = start_server()
    try:
        yield server.url(server.create_database())
    finally:
        server.stop()


def export_once(model: ReadModel, fmt: str) -> tuple[int, float]:
    start = time.perf_counter()
    _, chunks = stream(model, Request(fmt, ClaimFilter()))
    size = 0
    for chunk in chunks:
        size += len(chunk)
    return size, time.perf_counter() - start


def ratio_note(rate: float, baseline: float) -> str:
    return f"{rate / baseline:.2f}x the raw SELECT ({baseline:,.0f} rows/s)"


@contextmanager
def reused(url: str) -> Iterator[str]:
    yield url


def export_figures(
    sizes: list[int], formats: list[str], stores: list[str], reuse: str | None = None, *, trace: bool = True
) -> tuple[list[tuple[str, int, str, float, float, float, float]], list[str]]:
    """``reuse``: the URL of a ledger generated and projected before (sizes and stores are ignored);
    ``trace``: also the tracemalloc pass (peak of Python allocations; NaN without it)."""
    rows: list[tuple[str, int, str, float, float, float, float]] = []
    checks: list[str] = []
    runs = [(reuse.split(":")[0], 0)] if reuse else [(store, n) for store in stores for n in sizes]
    for store, n in runs:
        with reused(reuse) if reuse else ledger_url(store) as url:
            generated = {"seconds": 0.0} if reuse else generate(url, n, 5000)
            start = time.perf_counter()
            projector = Projector(url)
            projector.catch_up()
            projector.close()
            projected = time.perf_counter() - start
            with ClaimsLedger.open(url) as ledger:
                model = ReadModel(url)
                try:
                    claims = sum(1 for _ in model.iter_claims(ClaimFilter(), None))
                    n = n or claims
                    baseline = max(raw_select(url), raw_select(url))  # the second with a warm cache
                    for fmt in formats:
                        size, seconds = export_once(model, fmt)
                        peak = float("nan")
                        if trace:
                            tracemalloc.start()
                            export_once(model, fmt)
                            _, peak = tracemalloc.get_traced_memory()
                            tracemalloc.stop()
                        rate = claims / seconds
                        rows.append((store, n, fmt, rate, rate / baseline, peak / 2**20, size / 2**20))
                        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                        print(f"  {store} {n:,} {fmt}: {rate:,.0f} claims/s ({seconds:.1f} s), {ratio_note(rate, baseline)},"
                              f" peak traced {peak / 2**20:.1f} MiB, process peak RSS so far {rss:,.0f} MiB,"
                              f" output {size / 2**20:.1f} MiB", file=sys.stderr, flush=True)  # fmt: skip
                    signer = Signer.generate("bench.example/ledger")
                    checkpoint_note = published.issue(ledger.ledger_recorder, signer)
                    start = time.perf_counter()
                    result = published.check(ledger.ledger_recorder, checkpoint_note, Policy(signer.verifier))
                    seconds = time.perf_counter() - start
                    assert result.ok
                    events = result.report.events
                    made = "reused" if reuse else f"generated in {generated['seconds']:.0f} s"
                    checks.append(
                        line := f"{store}, {n:,} claims ({events:,} events; {made},"
                        f" projected in {projected:.0f} s): `checkpoint verify` (signature, full tree"
                        f" recomputation, consistency proof) {seconds:.2f} s = {events / seconds:,.0f} events/s;"
                        f" raw row read {baseline:,.0f} rows/s"
                    )
                    print(f"  {line}", file=sys.stderr, flush=True)
                finally:
                    model.close()
    return rows, checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,40000", help="claims per generated ledger, comma-separated")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--formats", default=",".join(FORMATS), help="export formats, comma-separated")
    parser.add_argument("--stores", default="sqlite", help="sqlite and/or postgresql (a private server)")
    parser.add_argument("--reuse", help="URL of a ledger this generator made before: exports only (no --sizes)")
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc pass (peak RSS only)")
    parser.add_argument("--write", action="store_true", help="replace this benchmark's block in RESULTS.md")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    load = os.getloadavg()
    signing = checkpoint_figures(args.iterations)
    formats = args.formats.split(",")
    stores = args.stores.split(",")
    unknown = [f for f in formats if f not in FORMATS] + [s for s in stores if s not in ("sqlite", "postgresql")]
    if unknown:
        parser.error(f"unknown format or store: {', '.join(unknown)}")
    started = time.perf_counter()
    exports, checks = export_figures(sizes, formats, stores, args.reuse, trace=not args.no_trace)
    elapsed = time.perf_counter() - started
    end_load = os.getloadavg()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    lines = [
        "## Checkpoints and exports (bench/checkpoint_export.py)",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}; load average at start "
        f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} (shared with other work).",
        "",
        f"Command: `python bench/checkpoint_export.py --iterations {args.iterations} --formats {args.formats}"
        f"{f' --reuse {args.reuse}' if args.reuse else f' --sizes {args.sizes} --stores {args.stores}'}"
        f"{' --no-trace' if args.no_trace else ''}`"
        f" ({time.strftime('%Y-%m-%d')}); exports part"
        f" {elapsed / 60:.0f} min, load average at the end {end_load[0]:.2f}/{end_load[1]:.2f}/{end_load[2]:.2f};"
        f" peak RSS of the process {peak_rss:,.0f} MiB (includes the ledger's generation and projection, and"
        " `checkpoint verify`'s tree recomputation).",
        "",
        "| operation | median µs | raw Ed25519 primitive µs (same run) | ratio |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {ours:.1f} | {raw:.1f} | {ours / raw:.2f}x |" for name, ours, raw in signing),
        "",
        *(f"- {line}" for line in checks),
        "",
        "| store | claims | format | claims/s | vs raw SELECT of the rows | peak Python memory MiB | output MiB |",
        "|---|---:|---|---:|---:|---:|---:|",
        *(
            f"| {store} | {n:,} | {fmt} | {rate:,.0f} | {ratio:.2f}x | {'n/a' if math.isnan(peak) else f'{peak:.1f}'}"
            f" | {size:.1f} |"
            for store, n, fmt, rate, ratio, peak, size in exports
        ),
        "",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write:
        write_section("checkpoint_export", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
