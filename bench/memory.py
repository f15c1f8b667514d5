#!/usr/bin/env python
"""Server memory under a stream of distinct GraphQL documents (SQLite, demo corpus).

    python bench/memory.py                       # 100,000 distinct documents, 8 clients
    python bench/memory.py --documents 10000     # shorter
    python bench/memory.py --write               # replace this benchmark's block of RESULTS.md

Starts two ``uvicorn api.web.app:create_app`` processes on 127.0.0.1 (the demo corpus,
rate limits off): one with the default settings, one with the response cache off
(``CLAIMS_RESPONSE_CACHE_BYTES=0``), and sends both the same N documents, all different
(each a different mix of fields, aliases and literal arguments, some invalid), reading
each server's resident memory (VmRSS from /proc) at the start, after each tenth, and at
the end. What must hold: the memory levels off instead of growing with N. Every store
that keeps per-document state is bounded: the parser, validation, prepared-operation and
compiled-plan caches by count or plan size, the request and document registries by count,
and the response cache by ``CLAIMS_RESPONSE_CACHE_BYTES`` (what its entries keep alive).
The gap between the two columns is that cache, and should level off near its budget.
Loopback only; bounded by N.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from api_support import free_port  # noqa: E402
from load import wait_ready  # noqa: E402
from results_file import write_section  # noqa: E402

from api.settings import Settings  # noqa: E402

FIELDS = {
    "actors": "key name aliases kind",
    "topics": "key title proposition",
    "sources": "key title publisher",
    "claims(first: {n})": "totalCount nodes {{ key stance summary }}",
    "events(first: {n})": "treeSize nodes {{ position type }}",
    "ledgerDigest": "treeSize rootHash",
}


def document(i: int, rng: random.Random) -> str:
    """The i-th document: distinct for every i (its aliases and a literal carry i)."""
    parts = []
    for j, (field, selection) in enumerate(rng.sample(sorted(FIELDS.items()), rng.randint(1, 4))):
        n = rng.randint(1, 20)
        head = field.format(n=n) if "{n}" in field else field
        if field == "actors":
            head = f'actors(search: "{i % 997}-{j}")'
        parts.append(f"a{i}x{j}: {head} {{ {selection.format(n=n)} }}")
    if i % 10 == 0:
        parts.append(f"bad{i}: nope")  # invalid: a validation error, cached like the rest
    return f"query Q{i} {{ {' '.join(parts)} }}"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--write", action="store_true", help="replace this benchmark's block in bench/RESULTS.md")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="claims-memory-")
    url = f"sqlite:///{folder}/ledger.db"
    subprocess.run([sys.executable, "-m", "api.cli.main", "--database", url, "demo"], check=True, cwd=ROOT)
    budget = Settings.from_env().response_cache_bytes  # the server's default, or as set in the environment
    base_env = {
        **os.environ,
        "CLAIMS_DATABASE_URL": url,
        "CLAIMS_RATE_LIMIT_READS": "0",
        "CLAIMS_RATE_LIMIT_WRITES": "0",
    }
    servers: list[tuple[subprocess.Popen[bytes], str]] = []
    samples: list[tuple[int, int, int]] = []  # (documents sent, RSS KiB with the cache, without)
    codes: dict[int, int] = {}
    try:
        for cache_bytes in (budget, 0):
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "api.web.app:create_app", "--factory", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "warning"],
                cwd=ROOT, env={**base_env, "CLAIMS_RESPONSE_CACHE_BYTES": str(cache_bytes)},
            )  # fmt: skip
            servers.append((process, f"http://127.0.0.1:{port}"))
        for _, base in servers:
            wait_ready(base)
        cached, uncached = (process.pid for process, _ in servers)
        samples.append((0, rss_kib(cached), rss_kib(uncached)))
        step = max(1, args.documents // 10)
        started = time.monotonic()
        with httpx.Client(timeout=60) as http, ThreadPoolExecutor(args.clients) as pool:

            def send(i: int) -> list[int]:
                body = {"query": document(i, random.Random(i))}
                return [http.post(f"{base}/graphql", json=body).status_code for _, base in servers]

            for start in range(0, args.documents, step):
                for statuses in pool.map(send, range(start, min(args.documents, start + step))):
                    for status in statuses:
                        codes[status] = codes.get(status, 0) + 1
                samples.append((min(args.documents, start + step), rss_kib(cached), rss_kib(uncached)))
                n, on, off = samples[-1]
                print(
                    f"{n:>8} documents: RSS {on / 1024:.1f} MiB, without the response cache {off / 1024:.1f}",
                    file=sys.stderr,
                )
        seconds = time.monotonic() - started
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=30)
    first_tenth = samples[1]
    end = samples[-1]
    report = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end "
        "(the machine is shared: other work skews the rate, not the memory).",
        f"Command: `python bench/memory.py --documents {args.documents} --clients {args.clients}` "
        "(SQLite, demo corpus, two uvicorn processes sent the same documents, rate limits off).",
        "",
        f"| documents sent | server RSS (MiB), response cache {budget / 2**20:.0f} MiB | without the response cache |",
        "|---:|---:|---:|",
        *[f"| {n:,} | {on / 1024:.1f} | {off / 1024:.1f} |" for n, on, off in samples],
        "",
        f"{args.documents:,} distinct documents to each server in {seconds:.0f} s; HTTP statuses "
        f"{dict(sorted(codes.items()))}. Growth from the first tenth to the end: "
        f"{(end[1] - first_tenth[1]) / 1024:+.1f} MiB with the response cache, {(end[2] - first_tenth[2]) / 1024:+.1f} MiB "
        f"without; the cache's share at the end {(end[1] - end[2]) / 1024:.1f} MiB (budget {budget / 2**20:.0f} MiB).",
        "",
    ]
    text = "\n".join(report)
    print(text)
    if args.write:
        write_section("memory", "## `memory.py`: server memory under distinct documents\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
