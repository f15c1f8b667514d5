#!/usr/bin/env python
"""Reads from a streaming replica vs the primary, and writes with read-your-writes on each (PostgreSQL).

    python bench/replica.py                          # 10,000 claims, 5 s per measured run
    python bench/replica.py --claims 2000 --duration 3 --write   # replace this benchmark's block of RESULTS.md

Starts a private primary and a hot standby made with ``pg_basebackup -R`` (``tests/pg_replica.py``),
grows a ledger of ``--claims`` claims on the primary (the generator of ``bench/api_position.py``),
runs ``claims project --follow`` against the primary, and two API processes (uvicorn, one process
each, response cache and rate limits off so every request reaches the database):

* ``primary``: reads the primary (the baseline);
* ``replica``: ``CLAIMS_READ_DATABASE_URL`` names the standby.

Measured in the same run, one after the other: reads/s of each process (wrk, ``--connections``,
random ``position(actor, topic, asOf)`` questions), then writes/s through each process's
``recordClaim`` mutation (``--writers`` client threads, each waiting for its answer: the
mutation returns once the read model it reads from (the primary's, or the replica's) shows the
write). Loopback only; every run is bounded by ``--duration`` seconds. Prints Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from api_position import MEASURED, OUR_QUERY, WARM_UP, Load, free_port, grow, machine, process, wrk  # noqa: E402
from pg_replica import start_primary_and_replica  # noqa: E402
from results_file import write_section  # noqa: E402

from ledger import commands as c  # noqa: E402
from ledger.application import ClaimsLedger  # noqa: E402

RECORD = "mutation ($i: RecordClaimInput!) { recordClaim(input: $i) { created pending logPosition } }"
SOURCE_TEXT = "The minister said the talks would continue. The envoy said nothing had been agreed."


@dataclass
class Writes:
    latencies: list[float] = field(default_factory=list)
    pending: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def write_load(url: str, key: str, label: str, writers: int, duration: float) -> Writes:
    """``writers`` threads send recordClaim (new keys) for ``duration`` seconds, each waiting for its answer."""
    tally = Writes()
    stop = time.monotonic() + duration

    def client(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {key}"}) as http:
            i = 0
            while time.monotonic() < stop:
                i += 1
                variables = {
                    "i": {
                        "key": f"w-{label}-{n}-{i}", "actor": f"actor-{rng.randrange(50):02d}",
                        "topic": f"topic-{rng.randrange(20):02d}", "stance": rng.choice(["SUPPORTS", "OPPOSES"]),
                        "summary": "bench write", "stated": {"date": "2025-01-01"}, "source": "bench-replica-source",
                        "passage": {"exact": "the talks would continue"}, "attribution": "INDIRECT_SPEECH",
                    }
                }  # fmt: skip
                began = time.perf_counter()
                answer = http.post(url, json={"query": RECORD, "variables": variables})
                took = time.perf_counter() - began
                body = answer.json()
                with tally.lock:
                    if answer.status_code != 200 or body.get("errors"):
                        tally.errors.append(str(body)[:300])
                    else:
                        tally.latencies.append(took)
                        tally.pending += bool(body["data"]["recordClaim"]["pending"])

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tally.seconds = time.monotonic() - began
    return tally


@contextlib.contextmanager
def api(primary_url: str, replica_url: str | None) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ, "CLAIMS_DATABASE_URL": primary_url, "CLAIMS_PROJECTOR": "external",
        "CLAIMS_RATE_LIMIT_READS": "0", "CLAIMS_RATE_LIMIT_WRITES": "0", "CLAIMS_RESPONSE_CACHE_BYTES": "0",
    }  # fmt: skip
    if replica_url:
        env["CLAIMS_READ_DATABASE_URL"] = replica_url
    argv = [sys.executable, "-m", "uvicorn", "api.web.app:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    url = f"http://127.0.0.1:{port}/graphql"
    probe = {"query": OUR_QUERY, "variables": {"a": "actor-00", "t": "topic-00", "d": "2025-06-01"}}
    with process(argv, env, url, probe):
        yield url


@contextlib.contextmanager
def projector(primary_url: str) -> Iterator[None]:
    import subprocess

    env = {**os.environ, "CLAIMS_DATABASE_URL": primary_url}
    proc = subprocess.Popen([sys.executable, "-m", "api.cli.main", "project", "--follow"], cwd=ROOT, env=env)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of each measured run")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections of the read runs")
    parser.add_argument("--writers", type=int, default=4, help="client threads of the write runs")
    parser.add_argument("--rounds", type=int, default=3, help="read runs per process (alternating); the median")
    parser.add_argument("--write", action="store_true", help="replace this benchmark's section of bench/RESULTS.md")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("error: wrk is required (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    pair = start_primary_and_replica()
    try:
        name, primary_url, replica_url = pair.create_database()
        seconds = grow(primary_url, 0, args.claims)
        print(f"ledger of {args.claims:,} claims generated and projected in {seconds:.0f}s", file=sys.stderr)
        with ClaimsLedger.open(primary_url) as ledger:
            editor = ledger.issue_api_key("bench-editor", "editor", "bench")
            source = {
                "key": "bench-replica-source", "title": "Bench", "publisher": "Bench Wire",
                "published": "2025-12-31", "language": "en", "genre": "NEWS", "text": SOURCE_TEXT,
            }  # fmt: skip
            with ledger.batch("bench") as batch:
                batch.register_source(c.parse_source(source))
        rows: dict[str, tuple[Load, Writes]] = {}
        with projector(primary_url), api(primary_url, None) as on_primary, api(primary_url, replica_url) as on_replica:
            for url in (on_primary, on_replica):
                wrk(url, OUR_QUERY, min(3.0, args.duration), args.connections, seed=WARM_UP)  # warm-up
            runs: dict[str, list[Load]] = {"primary": [], "replica": []}
            for n in range(args.rounds):  # alternating, so a change in the machine's load hits both alike
                for label, url in (("primary", on_primary), ("replica", on_replica)):
                    # each round its own questions, though none could be answered from the response cache:
                    # it is off in both processes (api(): CLAIMS_RESPONSE_CACHE_BYTES=0), so every read reaches
                    # PostgreSQL (checked in bench3, bench/RESULTS.md)
                    reads = wrk(url, OUR_QUERY, args.duration, args.connections, seed=MEASURED + n)
                    print(f"  reads from the {label}: {reads}", file=sys.stderr)
                    runs[label].append(reads)
            for label, loads in runs.items():
                rows[label] = (sorted(loads, key=lambda r: r.rps)[len(loads) // 2], Writes())
            every = {label: [round(r.rps) for r in loads] for label, loads in runs.items()}
            write_runs: dict[str, list[float]] = {"primary": [], "replica": []}
            for n in range(args.rounds):  # alternating too; the rows add the rounds up
                for label, url in (("primary", on_primary), ("replica", on_replica)):
                    writes = write_load(url, editor, f"{label}{n}", args.writers, args.duration)
                    print(f"  writes, read model on the {label}: {len(writes.latencies)} in {writes.seconds:.1f}s, "
                          f"{len(writes.errors)} errors", file=sys.stderr)  # fmt: skip
                    write_runs[label].append(len(writes.latencies) / writes.seconds)
                    total = rows[label][1]
                    total.latencies += writes.latencies
                    total.pending += writes.pending
                    total.errors += writes.errors
                    total.seconds += writes.seconds
        pair.drop_database(name)
    finally:
        pair.stop()
    report = render(rows, every, write_runs, args, machine())
    print(report)
    if args.write:
        write_section("replica", report)
    return 0


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f}"


def spread(what: str, every: dict[str, list[float]]) -> str:
    """Whether the two processes' runs overlap: on a shared machine a difference inside the spread is noise."""
    (low_a, high_a), (low_b, high_b) = ((min(v), max(v)) for v in (every["primary"], every["replica"]))
    if low_a <= high_b and low_b <= high_a:
        return (
            f"The two processes' {what} runs overlap (other sessions share the cores): their difference is "
            "within the noise of this machine."
        )
    return f"The two processes' {what} runs do not overlap."


def render(
    rows: dict[str, tuple[Load, Writes]],
    every: dict[str, list[int]],
    write_runs: dict[str, list[float]],
    args: argparse.Namespace,
    machine_line: str,
) -> str:
    load = os.getloadavg()[0]
    base_reads, base_writes = rows["primary"]
    base_wps = len(base_writes.latencies) / base_writes.seconds if base_writes.seconds else 0.0
    lines = [
        "## Reads from a streaming replica (bench/replica.py)",
        "",
        f"Machine: {machine_line}; load average {load:.1f} at the end. PostgreSQL 15 primary and hot standby "
        "(`pg_basebackup -R`, tests/pg_replica.py), both on this machine, fsync off, `synchronous_commit=on` "
        "on the primary (asynchronous streaming).",
        "",
        f"Command: `python bench/replica.py --claims {args.claims} --duration {args.duration:g} "
        f"--connections {args.connections} --writers {args.writers} --rounds {args.rounds}` "
        f"({date.today().isoformat()}). One API process "
        "per row (uvicorn, response cache and rate limits off), one `claims project --follow` on the primary. "
        f"Reads: wrk, {args.connections} connections, random `position(actor, topic, asOf)` questions, "
        f"{args.rounds} runs per process alternating between them, the median run shown. Writes, also "
        f"{args.rounds} alternating runs per process: "
        f"{args.writers} client threads sending `recordClaim`, each waiting for the answer, which comes once the "
        "read model that process reads shows the write (read-your-writes).",
        "",
        "| API process reads from | reads/s (median run) | every run, in order | read p50 / p99 ms | reads vs primary "
        "| writes/s (all runs) | every write run | write p50 / p99 ms | pending | write errors | writes vs primary |",
        "|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for label, (reads, writes) in rows.items():
        wps = len(writes.latencies) / writes.seconds if writes.seconds else 0.0
        lines.append(
            f"| {label} | {reads.rps:,.0f} | {', '.join(map(str, every[label]))} | "
            f"{reads.p50_ms:.1f} / {reads.p99_ms:.1f} | "
            f"{reads.rps / base_reads.rps:.2f} | {wps:,.1f} | {', '.join(f'{r:.0f}' for r in write_runs[label])} | "
            f"{_ms(writes.latencies, 0.5)} / "
            f"{_ms(writes.latencies, 0.99)} | {writes.pending} | {len(writes.errors)} | "
            f"{(wps / base_wps if base_wps else 0):.2f} |"
        )
    if any(w.latencies for _, w in rows.values()):
        everything = [x for _, w in rows.values() for x in w.latencies]
        lines.append("")
        lines.append(f"Median write answer over both runs: {statistics.median(everything) * 1000:.0f} ms.")
    lines += [
        "",
        "How to read it: the primary, the standby, both API processes, the projector and the load generators "
        "share the same 2 cores, so the standby adds no capacity here: the rows compare what one API process "
        "serves when its reads go to a standby instead of the primary (same plans, same pages; a hot standby "
        "takes its snapshots from the replayed transaction state), and what read-your-writes costs on each. "
        f"{spread('read', {k: [float(x) for x in v] for k, v in every.items()})} "
        f"{spread('write', write_runs)} Capacity for reads grows by adding standbys and API processes on other machines; writes do not: they "
        "are one ordered log and one projector on the primary, the same for both rows. Both processes wait "
        "for their read model the same way (re-reading its tracked position at 1 ms doubling up to 50 ms, "
        "projections/queries.py); the standby-reading process's answer also waits for the standby's replay.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
