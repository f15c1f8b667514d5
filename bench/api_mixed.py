#!/usr/bin/env python
"""A mixed, realistic read workload: readers clicking through the web frontend (PostgreSQL).

    python bench/api_mixed.py --sizes 10000 --duration 10 --workers 1,2
    python bench/api_mixed.py --keep-database mixed --sizes 10000,1000000   # keeps the generated ledgers

Each simulated reader session is what a person does in the frontend (api/web/src/views):
the positions matrix as of a date, one cell's actor-topic page (its position, shifts and
claims), two of that pair's claims on their claim pages (record, passage, source text,
links, history), and the topic's timeline (its first page of 100 claims). The GraphQL
documents are read from the frontend's own source files, so the bench sends exactly what
the browser sends; a change there changes the bench.

Modes: ``cold`` = every session a new (date, actor, topic), as readers exploring;
``warm`` = ``--pool`` sessions again and again, as many readers on the same pages (a
newsroom's dashboard, a linked article).

Load: wrk (C, 1 thread, ``--connections`` connections) replays a pre-generated list of
request bodies in order: the mix is fixed, the answers differ. Then one sequential client
(httpx) walks 50 cold sessions and reports each page's median and p90 latency.

Only our API is measured: PostGraphile has no equivalent of the matrix or the claim page
without hand-written SQL for each (bench/api_position.py compares the one question both
answer). The baseline of each run, measured in it: one process with graphql-core's own
execution (``CLAIMS_COMPILED_EXECUTION=0``). Loopback only; every run is bounded by ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import api_position as base  # noqa: E402  (the ledger generator, servers, wrk and machine helpers)
import rebuild as generator  # noqa: E402  (bench/rebuild.py: the ledger generator api_position uses)
from results_file import write_section  # noqa: E402

VIEWS = ROOT / "api" / "web" / "src" / "views"
PAGES = ("matrix", "actor-topic", "claim", "claim", "topic-timeline")


def frontend_documents() -> dict[str, str]:
    """The GraphQL documents the frontend sends, read from its sources (template fields expanded)."""

    def consts(path: Path) -> dict[str, str]:
        text = path.read_text(encoding="utf-8")
        found = dict(re.findall(r"(?:export )?const ([A-Z_]+) = `(.*?)`;", text, flags=re.S))
        return {name: re.sub(r"\$\{([A-Z_]+)\}", lambda m: found[m.group(1)], body) for name, body in found.items()}

    timeline = consts(VIEWS / "timeline.js")
    return {
        "matrix": consts(VIEWS / "matrix.js")["MATRIX_QUERY"],
        "actor-topic": timeline["ACTOR_TOPIC_QUERY"],
        "claim": consts(VIEWS / "claim.js")["CLAIM_QUERY"],
        "topic-timeline": timeline["TOPIC_QUERY"],
    }


def sessions(
    count: int, claims: int, seed: int, asked: set[str] | None = None
) -> list[list[tuple[str, dict[str, Any]]]]:
    """``count`` reader sessions: (page, variables) in the order a reader opens them.

    ``asked`` (cold mode: one set per server, shared by its warm-up, measured and latency walks): the
    days and claims already used, drawn again so that no request repeats an earlier one. Every page's
    variables hold the session's day or a claim, and the response cache answers a repeated (document,
    variables) while the read model stays put: independent draws repeated 1-4% of a cold run's requests
    at 20-200 req/s (12% at 1,000), the warm-up's among them. A claim is repeated only once a small
    ledger has none left that is new."""
    rng = random.Random(seed)

    def new(draw: Callable[[], str], tries: int) -> str:
        value = draw()
        if asked is None:
            return value
        for _ in range(tries):
            if value not in asked:
                break
            value = draw()
        asked.add(value)
        return value

    out: list[list[tuple[str, dict[str, Any]]]] = []
    for _ in range(count):
        day = new(lambda: date(rng.randint(2001, 2025), rng.randint(1, 12), rng.randint(1, 28)).isoformat(), 10_000)
        actor = rng.choice(generator.ACTORS)
        topic = rng.choice(generator.TOPICS)
        first, second = (new(lambda: f"claim-{rng.randrange(claims)}", 100) for _ in range(2))
        out.append([
            ("matrix", {"asOf": day, "knownAt": None}),
            ("actor-topic", {"actor": actor, "topic": topic, "asOf": day, "knownAt": None}),
            ("claim", {"id": first, "knownAt": None}),
            ("claim", {"id": second, "knownAt": None}),
            ("topic-timeline", {"topic": topic, "statedTo": day, "knownAt": None, "after": None, "withTopics": True}),
        ])  # fmt: skip
    return out


WRK_SCRIPT = """
local bodies = {%s}
local n = #bodies
local next_body = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  next_body = next_body %% n + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end
"""


def bodies(docs: dict[str, str], walk: list[list[tuple[str, dict[str, Any]]]]) -> list[str]:
    return [json.dumps({"query": docs[page], "variables": v}) for session in walk for page, v in session]


def replay(url: str, payloads: list[str], duration: float, connections: int) -> base.Load:
    """A bounded wrk run replaying ``payloads`` in order (cycling) on loopback."""
    lua = WRK_SCRIPT % ",\n".join(json.dumps(p) for p in payloads)  # a JSON string is a valid Lua string
    return base.run_wrk(url, lua, duration, connections)


def page_latencies(
    url: str, docs: dict[str, str], walk: list[list[tuple[str, dict[str, Any]]]]
) -> dict[str, list[float]]:
    """One reader at a time: each page's latency in ms (the server otherwise idle)."""
    seen: dict[str, list[float]] = {page: [] for page in docs}
    with httpx.Client(timeout=30) as client:
        for session in walk:
            for page, variables in session:
                began = time.perf_counter()
                answer = client.post(url, json={"query": docs[page], "variables": variables})
                seen[page].append((time.perf_counter() - began) * 1000)
                if answer.status_code != 200 or "errors" in answer.json():
                    raise RuntimeError(f"{page}: {answer.status_code} {answer.text[:300]}")
    return seen


@dataclass
class Run:
    size: int
    mode: str
    workers: int
    load: base.Load
    rss: float
    baseline: bool = False  # compiled execution off (graphql-core's own), one process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="PostgreSQL URL of a role that may CREATE DATABASE (default: a private server)")
    parser.add_argument("--sizes", default="10000", help="claim counts, ascending")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each measured wrk run")
    parser.add_argument("--connections", type=int, default=10, help="concurrent readers")
    parser.add_argument("--workers", default="1,2", help="uvicorn process counts to measure")
    parser.add_argument("--modes", default="cold,warm", help="cold, warm or both")
    parser.add_argument("--pool", type=int, default=20, help="distinct sessions of the warm mode")
    parser.add_argument("--keep-database", metavar="NAME", help="use (and keep) databases NAME_<size>")
    parser.add_argument("--write", action="store_true", help="replace this benchmark's section of bench/RESULTS.md")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("error: wrk is required (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    docs = frontend_documents()
    runs: list[Run] = []
    pages: dict[int, dict[str, list[float]]] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        keep = f"{args.keep_database}_{size}" if args.keep_database else None
        with base.database(args.url, keep) as db_url:
            print(f"size {size:,}:", file=sys.stderr)
            done = base.claims_present(db_url)
            if done < size or not keep:
                print(f"  generated and projected in {base.grow(db_url, done, size):.0f}s", file=sys.stderr)
            # The baseline of each run: one process executing with graphql-core's own field-by-field
            # execution (before api/graphql/compiled.py), measured in the same run.
            variants: list[tuple[int, dict[str, str]]] = [(int(w), {}) for w in args.workers.split(",")] + [
                (1, {"CLAIMS_COMPILED_EXECUTION": "0"})
            ]
            for mode in args.modes.split(","):
                for workers, settings in variants:
                    baseline = bool(settings)
                    command, env, url = base.our_server(db_url, workers, settings)
                    probe = {"query": docs["matrix"], "variables": {"asOf": None, "knownAt": None}}
                    with base.process(command, env, url, probe) as pid:
                        if mode == "warm":
                            walk = sessions(args.pool, size, seed=11)
                            replay(url, bodies(docs, walk), min(5.0, args.duration), args.connections)
                        else:  # a warm-up on other sessions than the measured ones: nothing answered twice
                            asked: set[str] = set()  # this server's days and claims (see sessions)
                            replay(url, bodies(docs, sessions(500, size, seed=99, asked=asked)), 5.0, args.connections)
                            # drawn before the measured walk: a small ledger's claims run out at the walk's end
                            readers = sessions(50, size, seed=5, asked=asked)
                            walk = sessions(5000, size, seed=size + workers, asked=asked)
                        load = replay(url, bodies(docs, walk), args.duration, args.connections)
                        if mode == "cold" and load.requests > len(walk) * len(PAGES):
                            print(
                                f"  warning: the cold walk ran out and repeated ({load.requests:,} requests)",
                                file=sys.stderr,
                            )
                        rss = base.rss_mib(pid)
                        if mode == "cold" and workers == 1 and not baseline:
                            pages[size] = page_latencies(url, docs, readers)
                    print(f"  {mode}, {workers} process(es){', baseline' if baseline else ''}: {load}", file=sys.stderr)
                    runs.append(Run(size, mode, workers, load, rss, baseline))
    report = render(runs, pages, args, base.machine())
    print(report)
    if args.write:
        write_section("api_mixed", report)
    return 0


def render(runs: list[Run], pages: dict[int, dict[str, list[float]]], args: argparse.Namespace, machine: str) -> str:
    with open("/proc/loadavg") as f:
        load_average = " ".join(f.read().split()[:3])
    command = (
        f"python bench/api_mixed.py --sizes {args.sizes} --duration {args.duration:g} --connections "
        f"{args.connections} --workers {args.workers} --modes {args.modes} --pool {args.pool}"
    )
    lines = [
        "## API: a mixed realistic workload, readers clicking through the frontend (bench/api_mixed.py)",
        "",
        f"Machine: {machine}; load average at the end {load_average}. PostgreSQL 15: private server of "
        "tests/pg_server.py (fsync off), same machine.",
        "",
        f"Command: `{command}` ({date.today().isoformat()}). A session = the matrix as of a date, one pair's "
        "actor-topic page, two claim pages, the topic's timeline (first page): the frontend's own documents. "
        f"wrk, 1 thread, {args.connections} connections, {args.duration:g} s measured after a 5 s warm-up. "
        f"cold: every session new; warm: {args.pool} sessions again and again.",
        "",
        "| claims | mode | server | req/s | sessions/s | p50 ms | p99 ms | RSS MiB | bad | req/s vs baseline |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        base_rps = next(b.load.rps for b in runs if b.baseline and (b.size, b.mode) == (r.size, r.mode))
        server = "1 process, compiled execution off (baseline)" if r.baseline else f"{r.workers} process(es)"
        lines.append(
            f"| {r.size:,} | {r.mode} | {server} | {r.load.rps:,.0f} | {r.load.rps / len(PAGES):,.0f} | "
            f"{r.load.p50_ms:.2f} | {r.load.p99_ms:.2f} | {r.rss:.0f} | {r.load.errors} | {r.load.rps / base_rps:.2f}x |"
        )
    for size, seen in pages.items():
        lines += [
            "",
            f"One reader at a time, {size:,} claims, cold, 1 process (50 sessions): latency per page, ms.",
            "",
        ]
        lines += ["| page | median | p90 |", "|---|---:|---:|"]
        for page, ms in seen.items():
            ms = sorted(ms)
            lines.append(f"| {page} | {statistics.median(ms):.1f} | {ms[int(len(ms) * 0.9) - 1]:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
