#!/usr/bin/env python
"""Server memory under a stream of distinct GraphQL documents (SQLite, demo corpus).

    python bench/memory.py                       # 100,000 distinct documents, 8 clients
    python bench/memory.py --documents 10000     # shorter
    python bench/memory.py --write               # replace this benchmark's block of RESULTS.md

Starts ``uvicorn api.web.app:create_app`` on 127.0.0.1 (one process, the demo corpus,
rate limits off) and sends it N documents that are all different (each a different
mix of fields, aliases and literal arguments, some invalid, some over the cost
budget), reading the server's resident memory (VmRSS from /proc) at the start, after
each tenth, and at the end. What must hold: the memory levels off (parser and
validation caches are LRU-bounded, nothing else keeps per-document state) instead of
growing with N. Loopback only; bounded by N.
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
from results_file import write_section  # noqa: E402

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
    port = free_port()
    env = {**os.environ, "CLAIMS_DATABASE_URL": url, "CLAIMS_RATE_LIMIT_READS": "0", "CLAIMS_RATE_LIMIT_WRITES": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.web.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    samples: list[tuple[int, int]] = []
    codes: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("server did not start")
            time.sleep(0.1)
        samples.append((0, rss_kib(server.pid)))
        step = max(1, args.documents // 10)
        started = time.monotonic()
        with httpx.Client(base_url=base, timeout=60) as http, ThreadPoolExecutor(args.clients) as pool:

            def send(i: int) -> int:
                return http.post("/graphql", json={"query": document(i, random.Random(i))}).status_code

            for start in range(0, args.documents, step):
                for status in pool.map(send, range(start, min(args.documents, start + step))):
                    codes[status] = codes.get(status, 0) + 1
                samples.append((min(args.documents, start + step), rss_kib(server.pid)))
                print(f"{samples[-1][0]:>8} documents: RSS {samples[-1][1] / 1024:.1f} MiB", file=sys.stderr)
        seconds = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    first_tenth = samples[1][1]
    report = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end "
        "(the machine is shared: other work skews the rate, not the memory).",
        f"Command: `python bench/memory.py --documents {args.documents} --clients {args.clients}` "
        "(SQLite, demo corpus, one uvicorn process, rate limits off).",
        "",
        "| documents sent | server RSS (MiB) |",
        "|---:|---:|",
        *[f"| {n:,} | {kib / 1024:.1f} |" for n, kib in samples],
        "",
        f"{args.documents:,} distinct documents in {seconds:.0f} s; HTTP statuses {dict(sorted(codes.items()))}. "
        f"Growth from the first tenth to the end: {(samples[-1][1] - first_tenth) / 1024:+.1f} MiB "
        f"(ratio {samples[-1][1] / first_tenth:.2f}).",
        "",
    ]
    text = "\n".join(report)
    print(text)
    if args.write:
        write_section("memory", "## `memory.py`: server memory under distinct documents\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
