#!/usr/bin/env python
"""Mixed load: N clients, ~95% reads and ~5% writes, against SQLite and PostgreSQL deployments.

    python bench/load.py                              # 50 clients, 60 s per store
    python bench/load.py --clients 20 --duration 10   # a short run
    python bench/load.py --stores sqlite --write      # one store; replace this benchmark's block of RESULTS.md

Deployments (loopback only):

* ``sqlite``: one ``claims serve``-style uvicorn process with the embedded projector;
* ``postgresql`` (a private PostgreSQL 15 from ``tests/pg_server.py``): two API processes
  with ``CLAIMS_PROJECTOR=external`` and one ``claims project --follow`` worker; clients
  alternate between the two API processes.

Each client loops until the duration is over: with probability ``--writes`` (0.05) it
records a new claim (``recordClaim``, a unique key, an editor's key), otherwise it asks
one of five reads (a position, a page of claims, actors, a claim with its history, a
page of the log). Rate limits are off for the run. Reported: requests per second, p50
and p99 latency of reads and of writes, errors (non-200 answers, GraphQL errors). Then
every acknowledged write is checked: its ``Claim.Recorded`` event is in the log, and
``claim(id: KEY)`` answers it through the API.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from api_support import claim_data, free_port, seed  # noqa: E402
from results_file import write_section  # noqa: E402

from ledger.application import ClaimsLedger  # noqa: E402

READS = [
    ('query { position(actor: "chancellor", topic: "taurus") { stance since { date } claim { key summary } } }', {}),
    ("query ($n: Int) { claims(first: $n) { totalCount nodes { key stance statedOn { date } } } }", {"n": 20}),
    ('query { actors(search: "a") { key name aliases } }', {}),
    ('query { claim(id: "c-minister") { key version history { version type recordedBy } } }', {}),
    ("query { events(first: 20) { treeSize nodes { position type } } }", {}),
]
RECORD = "mutation ($i: RecordClaimInput!) { recordClaim(input: $i) { created logPosition } }"
EXACTS = ["Berlin", "chancellor", "ceasefire", "Taurus missiles", "security guarantees"]


@dataclass
class Tally:
    reads: list[float] = field(default_factory=list)
    writes: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def wait_ready(base: str, timeout: float = 120.0) -> None:
    """Poll a starting server's ``/readyz`` until it answers 200 (bench/memory.py uses it too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{base} did not become ready")


def _uvicorn(url: str, port: int, projector: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ, "CLAIMS_DATABASE_URL": url, "CLAIMS_PROJECTOR": projector,
        "CLAIMS_RATE_LIMIT_READS": "0", "CLAIMS_RATE_LIMIT_WRITES": "0",
    }  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.web.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env,
    )  # fmt: skip


def _client(bases: list[str], key: str, stop: float, writes: float, tally: Tally, seed_: int) -> None:
    rng = random.Random(seed_)
    with httpx.Client(timeout=60) as http:
        n = 0
        while time.monotonic() < stop:
            base = bases[n % len(bases)]
            n += 1
            write = rng.random() < writes
            if write:
                claim_key = f"load-{seed_}-{n}"
                exact = rng.choice(EXACTS)
                data = claim_data(claim_key, "minister", "ceasefire", "NEUTRAL", "2025-02-26", exact)
                payload = {"query": RECORD, "variables": {"i": {**data, "stated": {"date": "2025-02-26"}}}}
                headers = {"Authorization": f"Bearer {key}"}
            else:
                query, variables = rng.choice(READS)
                payload, headers = {"query": query, "variables": variables}, {}
            started = time.perf_counter()
            try:
                response = http.post(f"{base}/graphql", json=payload, headers=headers)
                elapsed = time.perf_counter() - started
                body = response.json() if response.status_code == 200 else None
                problem = (
                    None
                    if body is not None and not body.get("errors")
                    else f"{response.status_code} {response.text[:200]}"
                )
            except httpx.HTTPError as error:
                elapsed, problem, body = time.perf_counter() - started, f"transport: {error!r}", None
            with tally.lock:
                (tally.writes if write else tally.reads).append(elapsed)
                if problem:
                    tally.errors.append(problem)
                elif write and body is not None:
                    tally.acknowledged.append(claim_key)


def _baseline(bases: list[str], clients: int, duration: float) -> float:
    """Requests per second the same clients get from ``/healthz`` (the HTTP stack without GraphQL
    or a database): the baseline of the same run."""
    count = [0]
    lock = threading.Lock()
    stop = time.monotonic() + duration

    def loop(i: int) -> None:
        with httpx.Client(timeout=60) as http:
            n = 0
            while time.monotonic() < stop:
                http.get(f"{bases[(i + n) % len(bases)]}/healthz")
                n += 1
            with lock:
                count[0] += n

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count[0] / (time.monotonic() - started)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def run(store: str, url: str, clients: int, duration: float, writes: float) -> dict[str, Any]:
    ledger = seed(url)
    key = ledger.issue_api_key("load", "editor", "bench:load")
    ledger.close()
    processes: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        if store == "sqlite":
            port = free_port()
            processes.append(_uvicorn(url, port, "embedded"))
            bases.append(f"http://127.0.0.1:{port}")
        else:
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "api.cli.main", "--database", url, "project", "--follow"], cwd=ROOT
            ))  # fmt: skip
            for _ in range(2):
                port = free_port()
                processes.append(_uvicorn(url, port, "external"))
                bases.append(f"http://127.0.0.1:{port}")
        for base in bases:
            wait_ready(base)
        tally = Tally()
        stop = time.monotonic() + duration
        threads = [threading.Thread(target=_client, args=(bases, key, stop, writes, tally, i)) for i in range(clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        baseline = _baseline(bases, clients, min(duration, 10.0))
        # Every acknowledged write: in the log, and visible through the API.
        with ClaimsLedger.open(url) as ledger:
            decode = ledger.mapper.transcoder.decode
            logged = {
                decode(e.state)["key"] for e in ledger.ledger_recorder.iter_log() if e.topic.endswith("Claim.Recorded")
            }
        missing_in_log = [k for k in tally.acknowledged if k not in logged]
        invisible = []
        with httpx.Client(timeout=60) as http:
            for claim_key in tally.acknowledged:
                body = http.post(
                    f"{bases[-1]}/graphql",
                    json={"query": "query ($k: ID!) { claim(id: $k) { key } }", "variables": {"k": claim_key}},
                ).json()
                if (body.get("data") or {}).get("claim") is None:
                    invisible.append(claim_key)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    total = len(tally.reads) + len(tally.writes)
    return {
        "store": store,
        "deployment": "1 API process, embedded projector"
        if store == "sqlite"
        else "2 API processes + external projector",
        "requests": total,
        "rps": total / elapsed,
        "baseline_rps": baseline,
        "read_p50": _percentile(tally.reads, 0.50),
        "read_p99": _percentile(tally.reads, 0.99),
        "write_p50": _percentile(tally.writes, 0.50),
        "write_p99": _percentile(tally.writes, 0.99),
        "writes": len(tally.writes),
        "errors": len(tally.errors),
        "error_sample": tally.errors[:3],
        "acknowledged": len(tally.acknowledged),
        "missing_in_log": len(missing_in_log),
        "invisible": len(invisible),
        "mean_read": statistics.fmean(tally.reads) * 1000 if tally.reads else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--writes", type=float, default=0.05, help="share of requests that are writes")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--write", action="store_true", help="replace this benchmark's block in bench/RESULTS.md")
    args = parser.parse_args(argv)
    import tempfile

    results = []
    server = None
    try:
        for store in args.stores.split(","):
            if store == "sqlite":
                url = f"sqlite:///{tempfile.mkdtemp(prefix='claims-load-')}/ledger.db"
            else:
                from pg_server import get_server

                server = server or get_server()
                url = server.url(server.create_database())
            results.append(run(store, url, args.clients, args.duration, args.writes))
            print(results[-1], file=sys.stderr)
    finally:
        if server is not None:
            server.stop()
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; "
        "the clients (Python threads) run on the same machine as the servers.",
        f"Command: `python bench/load.py --clients {args.clients} --duration {args.duration:g} --writes {args.writes}"
        f" --stores {args.stores}` (rate limits off).",
        "",
        "| store | deployment | requests | req/s | /healthz req/s (baseline) | ratio | read p50 / p99 (ms) "
        "| write p50 / p99 (ms) | writes | errors | acknowledged writes in the log / visible |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['store']} | {r['deployment']} | {r['requests']:,} | {r['rps']:.0f} | {r['baseline_rps']:.0f} | "
            f"{r['rps'] / r['baseline_rps']:.2f} | {r['read_p50']:.0f} / "
            f"{r['read_p99']:.0f} | {r['write_p50']:.0f} / {r['write_p99']:.0f} | {r['writes']} | {r['errors']} | "
            f"{r['acknowledged'] - r['missing_in_log']} of {r['acknowledged']} / "
            f"{r['acknowledged'] - r['invisible']} of {r['acknowledged']} |"
        )
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("load", "## `load.py`: mixed load, 95% reads / 5% writes\n\n" + text)
    bad = any(r["missing_in_log"] or r["invisible"] for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
