#!/usr/bin/env python
"""Import rate of the claims ledger against a raw psycopg baseline, on the same rows.

Generates N synthetic claims (with the sources, actors and topics they cite and
10% revisions) as import documents of ``--per-file`` claims each; then, per run
(``--repeat``, medians reported), on fresh databases:

1. imports them through the ledger path (``commands.parse_*``, ``Batch``, the
   aggregates, eventsourcing's mapper, our recorder; one file = one batch = one
   transaction, as ``claims import`` does) into PostgreSQL;
2. inserts that ledger's stored events (same rows, same bytes, same transactions)
   into a plain table with psycopg ``executemany`` (the baseline), with binary
   ``COPY``, and through our recorder alone (``insert_events``);
3. runs ``ledger.integrity.verify`` on the log (every leaf recomputed from the
   stored event, the tree rebuilt, every stored tree head and node compared);
4. imports and verifies the same documents with SQLite.

``--importer N`` also times ``ledger.importer.import_file`` (YAML/JSON reading and
schema validation included) on the first N claims written as JSON files.

PostgreSQL: ``--url`` names a server whose user may CREATE DATABASE (databases are
created and dropped per run); without it a private server is started with
``tests/pg_server.py``. Prints Markdown; ``--write`` replaces this benchmark's block
of bench/RESULTS.md.

    python bench/import_rate.py                      # 20,000 claims, 3 runs
    python bench/import_rate.py --claims 2000 --url postgresql://postgres@127.0.0.1:55432/postgres
    python bench/import_rate.py --profile /tmp/prof   # cProfile of the first PostgreSQL import
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib
import json
import os
import platform
import pstats
import random
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from ledger import commands as c
from ledger.application import ClaimsLedger
from ledger.domain import SourceKey, actor_id, claim_id, source_id, topic_id
from ledger.integrity.verify import verify

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from results_file import write_section  # noqa: E402

PRINCIPAL = "bench-import"
RawRow = tuple[int, UUID, int, str, bytes]

# ---------------------------------------------------------------- workload


def _vocabulary(rng: random.Random, size: int = 600) -> list[str]:
    syllables = ["ka", "lo", "mi", "ren", "sto", "vi", "dar", "po", "te", "uns", "ber", "gal", "ri", "zen", "ol"]
    words = {"".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def _sentence(rng: random.Random, words: Sequence[str], low: int, high: int) -> str:
    text = " ".join(rng.choice(words) for _ in range(rng.randint(low, high)))
    return text[0].upper() + text[1:] + "."


def _day(rng: random.Random) -> tuple[int, int, int]:
    return rng.randint(2015, 2024), rng.randint(1, 12), rng.randint(1, 28)


@dataclass
class Workload:
    files: list[dict[str, Any]]
    claims: int
    revisions: int
    seed: int
    per_file: int


def generate(claims: int, per_file: int, seed: int) -> Workload:
    """Import documents (format v1): per file its own sources (1 per 10 claims),
    actors (1 per 50) and topics (1 per 100); 10% of claims cite an actor or topic
    of an earlier file; revisions for 10% of claims, a fifth of them of a claim
    recorded by an earlier file."""
    rng = random.Random(seed)
    words = _vocabulary(rng)
    files: list[dict[str, Any]] = []
    earlier_actors: list[str] = []
    earlier_topics: list[str] = []
    earlier_claims: list[str] = []
    summaries: dict[str, str] = {}
    revisions_total = 0
    for f, start in enumerate(range(0, claims, per_file)):
        n = min(per_file, claims - start)
        sources: list[dict[str, Any]] = []
        for i in range(max(1, n // 10)):
            year, month, day = _day(rng)
            body = " ".join(_sentence(rng, words, 8, 30) for _ in range(rng.randint(15, 45)))
            sources.append(
                {
                    "key": f"s-{f}-{i}",
                    "title": _sentence(rng, words, 4, 12),
                    "publisher": _sentence(rng, words, 1, 3),
                    "authors": [_sentence(rng, words, 2, 2) for _ in range(rng.randint(0, 3))],
                    "url": f"https://news.example/{f}/{i}/{rng.randrange(10**9)}",
                    "published": f"{year:04d}-{month:02d}-{day:02d}",
                    "language": rng.choice(["de", "en", "fr"]),
                    "genre": rng.choice(c.GENRES),
                    "text": body,
                }
            )
        actors: list[dict[str, Any]] = [
            {
                "key": f"a-{f}-{i}",
                "name": _sentence(rng, words, 2, 3),
                "kind": rng.choice(c.ACTOR_KINDS),
                "aliases": [_sentence(rng, words, 1, 2) for _ in range(rng.randint(0, 2))],
                "wikidata": f"Q{rng.randint(1, 10**7)}",
                "roles": [{"title": _sentence(rng, words, 2, 5), "from": "2019-01-01"}],
            }
            for i in range(max(1, n // 50))
        ]
        topics: list[dict[str, Any]] = [
            {"key": f"t-{f}-{i}", "title": _sentence(rng, words, 2, 6), "proposition": _sentence(rng, words, 8, 25)}
            for i in range(max(1, n // 100))
        ]
        file_claims: list[dict[str, Any]] = []
        for i in range(n):
            source = rng.choice(sources)
            body = source["text"]
            length = rng.randint(40, 300)
            begin = rng.randrange(0, max(1, len(body) - length))
            exact = body[begin : begin + length]
            actor = rng.choice(earlier_actors) if earlier_actors and rng.random() < 0.1 else rng.choice(actors)["key"]
            topic = rng.choice(earlier_topics) if earlier_topics and rng.random() < 0.1 else rng.choice(topics)["key"]
            key = f"c-{f}-{i}"
            summary = _sentence(rng, words, 10, 40)
            summaries[key] = summary
            claim: dict[str, Any] = {
                "key": key,
                "actor": actor,
                "topic": topic,
                "stance": rng.choice(c.STANCES),
                "summary": summary,
                "quote": {"text": exact, "language": source["language"]} if rng.random() < 0.5 else None,
                "value": f"{rng.randint(1, 99)} %" if rng.random() < 0.2 else None,
                "conditions": _sentence(rng, words, 4, 12) if rng.random() < 0.1 else None,
                "stated": source["published"] if rng.random() < 0.7 else source["published"][:7],
                "channel": rng.choice([None, "interview", "press release", "speech"]),
                "source": source["key"],
                "passage": {"start": begin, "end": begin + length, "exact": exact},
                "attribution": rng.choice(c.ATTRIBUTIONS),
            }
            file_claims.append(claim)
        own = [cl["key"] for cl in file_claims]
        revisions: list[dict[str, Any]] = []
        for i in range(n // 10):
            target = rng.choice(earlier_claims) if earlier_claims and rng.random() < 0.2 else rng.choice(own)
            summary = summaries[target] + f" Corrected ({f}-{i})."
            summaries[target] = summary
            revisions.append(
                {
                    "key": f"r-{f}-{i}",
                    "claim": target,
                    "changes": {"summary": summary},
                    "reason": _sentence(rng, words, 5, 15),
                }
            )
        revisions_total += len(revisions)
        files.append(
            {
                "format": "claims-ledger/import/v1",
                "sources": sources,
                "actors": actors,
                "topics": topics,
                "claims": file_claims,
                "revisions": revisions,
            }
        )
        earlier_actors += [a["key"] for a in actors]
        earlier_topics += [t["key"] for t in topics]
        earlier_claims += own
    return Workload(files, claims, revisions_total, seed, per_file)


# ---------------------------------------------------------------- the ledger path


def import_file(ledger: ClaimsLedger, doc: dict[str, Any]) -> int:
    """One import document = one Batch = one transaction (as ``claims import``).

    Returns the number of events written.
    """
    sources = [c.parse_source(d) for d in doc.get("sources", ())]
    actors = [c.parse_actor(d) for d in doc.get("actors", ())]
    topics = [c.parse_topic(d) for d in doc.get("topics", ())]
    claims = [c.parse_claim(d) for d in doc.get("claims", ())]
    revisions = [
        c.ReviseClaim(
            claim=d["claim"],
            expected_version=None,
            changes=c.parse_changes(d["changes"]),
            reason=c.parse_reason(d["reason"]),
            revision_key=d["key"],
        )
        for d in doc.get("revisions", ())
    ]
    with ledger.batch(PRINCIPAL) as batch:
        # Everything the file creates or refers to, so that one query tells what is new. A list, as
        # ``claims import`` gives (``prefetch`` drops repeats by ``UUID.int``; a set would hash each UUID in Python).
        batch.prefetch(
            [
                *(source_id(s.sha256) for s in sources),
                *(SourceKey.create_id(s.key) for s in sources),
                *(actor_id(a.key) for a in actors),
                *(topic_id(t.key) for t in topics),
                *(claim_id(cl.key) for cl in claims),
                *(actor_id(cl.content["actor"]) for cl in claims),
                *(topic_id(cl.content["topic"]) for cl in claims),
                *(SourceKey.create_id(cl.content["source"]) for cl in claims),
                *(claim_id(r.claim) for r in revisions),
            ]
        )
        for source in sources:
            batch.register_source(source)
        for actor in actors:
            batch.register_actor(actor)
        for topic in topics:
            batch.define_topic(topic)
        for claim in claims:
            batch.record_claim(claim)
        for revision in revisions:
            batch.revise_claim(revision)
    return batch.events


@dataclass
class Timing:
    events: int
    seconds: float  # wall clock
    transactions: int
    cpu_seconds: float | None = None  # this process only (not the PostgreSQL server)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def run_import(url: str, workload: Workload, profile: Path | None = None) -> Timing:
    ledger = ClaimsLedger.open(url)
    try:
        profiler = cProfile.Profile() if profile else None
        events = 0
        start, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        for doc in workload.files:
            events += import_file(ledger, doc)
        if profiler:
            profiler.disable()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        if profiler and profile:
            profiler.dump_stats(profile)
        head = ledger.ledger_recorder.tree_head()
        if head.size != events:
            raise AssertionError(f"tree head covers {head.size} events, {events} were written")
        return Timing(events, seconds, len(workload.files), cpu)
    finally:
        ledger.close()


# ---------------------------------------------------------------- verification


def run_verify(url: str) -> Timing:
    """``ledger.integrity.verify``: every leaf recomputed from the stored event, the tree
    rebuilt, every stored tree head and node compared."""
    ledger = ClaimsLedger.open(url)
    recorder = ledger.ledger_recorder
    try:
        start = time.perf_counter()
        report = verify(recorder)
        seconds = time.perf_counter() - start
    finally:
        ledger.close()
    if not report.ok:
        raise AssertionError(f"verify failed: {report.problem}")
    return Timing(report.events, seconds, 0)


# ---------------------------------------------------------------- raw baseline

RAW_TABLE = """
CREATE TABLE raw_events (
    position bigint,
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text NOT NULL,
    state bytea NOT NULL
)
"""


def stored_transactions(url: str) -> list[list[RawRow]]:
    """The ledger's stored events, grouped as they were committed (by tree head)."""
    ledger = ClaimsLedger.open(url)
    recorder = ledger.ledger_recorder
    try:
        sizes = [h.size for h in recorder.tree_heads()]
        out: list[list[RawRow]] = [[] for _ in sizes]
        index = 0
        for e in recorder.iter_log():
            while e.position > sizes[index]:
                index += 1
            out[index].append((e.position, e.originator_id, e.originator_version, e.topic, e.state))
        return out
    finally:
        ledger.close()


def recorder_only(url: str, transactions: list[list[RawRow]]) -> Timing:
    """Our recorder alone: ``insert_events`` of the same stored events, one call per transaction
    (positions, leaf hashes, tree nodes and heads, constraints): the persistence ceiling."""
    batches = [[StoredEvent(r[1], r[2], r[3], r[4]) for r in rows] for rows in transactions]
    ledger = ClaimsLedger.open(url)
    recorder = ledger.ledger_recorder
    try:
        start = time.perf_counter()
        for events in batches:
            recorder.insert_events(events)
        seconds = time.perf_counter() - start
    finally:
        ledger.close()
    return Timing(sum(map(len, batches)), seconds, len(batches))


def raw_executemany(url: str, transactions: list[list[RawRow]]) -> Timing:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RAW_TABLE)
        start = time.perf_counter()
        for rows in transactions:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO raw_events (position, originator_id, originator_version, topic, state)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    rows,
                )
        seconds = time.perf_counter() - start
        conn.execute("DROP TABLE raw_events")
    return Timing(sum(map(len, transactions)), seconds, len(transactions))


def raw_copy(url: str, transactions: list[list[RawRow]]) -> Timing:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RAW_TABLE)
        start = time.perf_counter()
        for rows in transactions:
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(
                    "COPY raw_events (position, originator_id, originator_version, topic, state)"
                    " FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["bigint", "uuid", "bigint", "text", "bytea"])
                for row in rows:
                    copy.write_row(row)
        seconds = time.perf_counter() - start
        conn.execute("DROP TABLE raw_events")
    return Timing(sum(map(len, transactions)), seconds, len(transactions))


# ---------------------------------------------------------------- PostgreSQL server


@dataclass
class Server:
    admin_url: str
    stop: Callable[[], None]
    private: bool
    token: str = field(default_factory=lambda: secrets.token_hex(3))
    created: list[str] = field(default_factory=list)

    def url(self, dbname: str) -> str:
        return urlunsplit(urlsplit(self.admin_url)._replace(path="/" + quote(dbname, safe="")))

    def create_database(self, purpose: str) -> str:
        name = f"bench_{purpose}_{self.token}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name)))
        self.created.append(name)
        return self.url(name)

    def drop_databases(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in self.created:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self.created.clear()


@contextlib.contextmanager
def postgres(url: str | None, durable: bool) -> Iterator[Server]:
    if url:
        server = Server(url, lambda: None, private=False)
    else:
        sys.path.insert(0, str(REPO / "tests"))
        pg_server = importlib.import_module("pg_server")  # tests/pg_server.py: a throw-away server

        settings = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"} if durable else {}
        started = pg_server.start_server(extra_settings=settings)
        server = Server(started.admin_url, started.stop, private=True)
    try:
        yield server
    finally:
        with contextlib.suppress(psycopg.Error):
            server.drop_databases()
        server.stop()


def server_facts(url: str) -> dict[str, str]:
    names = ["server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "wal_level"]
    with psycopg.connect(url) as conn:
        return {n: str(conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(n))).fetchone()[0]) for n in names}  # type: ignore[index]


def machine_facts() -> dict[str, str]:
    memory = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "ram": memory,
        "python": platform.python_version(),
        "psycopg": metadata.version("psycopg"),
        "eventsourcing": metadata.version("eventsourcing"),
        "sqlite": sqlite3.sqlite_version,
    }


# ---------------------------------------------------------------- claims import, end to end


def run_importer(url: str, workload: Workload, tmp: Path) -> Timing:
    """``ledger.importer.import_file`` on the same documents written as JSON files (YAML
    parsing, schema validation, then the ledger path): what ``claims import`` does."""
    from ledger import importer

    paths = []
    for i, doc in enumerate(workload.files):
        path = tmp / f"import-{i:04d}.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        paths.append(path)
    ledger = ClaimsLedger.open(url)
    try:
        events = 0
        start = time.perf_counter()
        for path in paths:
            events += importer.import_file(ledger, path, PRINCIPAL).events
        return Timing(events, time.perf_counter() - start, len(paths))
    finally:
        ledger.close()


# ---------------------------------------------------------------- main


def render(results: dict[str, Any], runs: dict[str, list[Timing]], timings: dict[str, Timing], repeat: int) -> str:
    """The Markdown of this benchmark's section of bench/RESULTS.md."""
    ledger_pg = timings["ledger_postgresql"]
    payload = results["stored_event_bytes"]
    machine = results["machine"]
    pg = results["postgresql"]
    lines = [
        "## Import rate (`bench/import_rate.py`)",
        "",
        f"    {results['command']}",
        "",
        f"- machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['ram']} RAM; Python {machine['python']},"
        f" psycopg {machine['psycopg']}, eventsourcing {machine['eventsourcing']}, SQLite {machine['sqlite']}",
        f"- PostgreSQL {pg['server_version']}, {pg['server']}: fsync {pg['fsync']}, synchronous_commit"
        f" {pg['synchronous_commit']}, full_page_writes {pg['full_page_writes']}, shared_buffers {pg['shared_buffers']}",
        f"- load average (1/5/15 min) before {results['load_average_before']}, after {results['load_average_after']}",
        f"- workload: {results['claims']:,} claims, {results['revisions']:,} revisions, {results['files']} files"
        f" = transactions -> {ledger_pg.events:,} events, {payload / 1e6:,.1f} MB of event state"
        f" ({payload / ledger_pg.events:,.0f} bytes per event)",
        f"- median of {repeat} run(s); each run uses fresh databases",
        "",
        "| what | rows/events | seconds | per second | runs (per second) |",
        "|---|---:|---:|---:|---|",
    ]
    for name, label in LABELS.items():
        if name in timings:
            t = timings[name]
            each = ", ".join(f"{x.rate:,.0f}" for x in runs[name])
            lines.append(f"| {label} | {t.events:,} | {t.seconds:.2f} | {t.rate:,.0f} | {each} |")
    lines.append("")
    for name in ("ledger_postgresql", "ledger_sqlite"):
        if name in timings and timings[name].cpu_seconds is not None:
            t = timings[name]
            lines.append(f"- {LABELS[name]}: {t.cpu_seconds:.2f} s CPU in the Python process of {t.seconds:.2f} s")
    per_run = ", ".join(f"{r:.2f}" for r in results["ratio_per_run"])
    lines += [
        f"- **ledger PostgreSQL / raw executemany = {results['ratio_to_executemany']:.2f}** (per run: {per_run};"
        " target >= 0.35)",
    ]
    return "\n".join(lines) + "\n"


def _print_profile(path: Path, limit: int) -> None:
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)


LABELS = {
    "ledger_postgresql": "ledger import, PostgreSQL",
    "ledger_sqlite": "ledger import, SQLite",
    "raw_executemany": "raw psycopg executemany, PostgreSQL",
    "raw_copy": "raw binary COPY, PostgreSQL",
    "recorder_postgresql": "our recorder alone (insert_events of those rows), PostgreSQL",
    "verify_postgresql": "verify, PostgreSQL",
    "verify_sqlite": "verify, SQLite",
    "importer_postgresql": "`claims import` (importer.import_file), PostgreSQL",
}


def _load() -> str:
    """1-, 5- and 15-minute load averages: other work on the machine skews every figure."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _median(timings: list[Timing]) -> Timing:
    return sorted(timings, key=lambda t: t.rate)[len(timings) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=20_000, help="synthetic claims to import (default 20,000)")
    parser.add_argument("--per-file", type=int, default=2_000, help="claims per import file = per transaction")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the median is reported")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", help="PostgreSQL URL of a user allowed to CREATE DATABASE; else start a private one")
    parser.add_argument(
        "--durable",
        action="store_true",
        help="private server with fsync/synchronous_commit/full_page_writes on (tests/pg_server.py turns them off)",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite import")
    parser.add_argument(
        "--importer",
        type=int,
        default=0,
        metavar="CLAIMS",
        help="also time ledger.importer.import_file end to end on the first CLAIMS claims (slow: YAML + schema)",
    )
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the first PostgreSQL import here")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--write", action="store_true", help="replace this benchmark's block in bench/RESULTS.md")
    args = parser.parse_args(argv)

    print(f"generating {args.claims:,} claims, {args.per_file:,} per file (seed {args.seed}) ...", flush=True)
    workload = generate(args.claims, args.per_file, args.seed)
    results: dict[str, Any] = {
        "command": " ".join(["python", "bench/import_rate.py", *(argv if argv is not None else sys.argv[1:])]),
        "claims": workload.claims,
        "revisions": workload.revisions,
        "files": len(workload.files),
        "machine": machine_facts(),
        "load_average_before": _load(),
    }
    runs: dict[str, list[Timing]] = {name: [] for name in LABELS}
    payload = 0

    with postgres(args.url, args.durable) as server, tempfile.TemporaryDirectory(prefix="claims-bench-") as tmp:
        results["postgresql"] = server_facts(server.admin_url)
        results["postgresql"]["server"] = (
            "private server of tests/pg_server.py" if server.private else "server of --url"
        )
        for run in range(1, args.repeat + 1):
            # Ledger and baselines alternate, so that a busy moment of the machine hits both.
            print(f"run {run}/{args.repeat}: ledger import, PostgreSQL ...", flush=True)
            ledger_url = server.create_database(f"ledger{run}")
            runs["ledger_postgresql"].append(run_import(ledger_url, workload, args.profile if run == 1 else None))
            transactions = stored_transactions(ledger_url)
            payload = sum(len(r[4]) for rows in transactions for r in rows)
            print(f"run {run}/{args.repeat}: raw executemany, raw COPY, recorder alone, PostgreSQL ...", flush=True)
            raw_url = server.create_database(f"raw{run}")
            runs["raw_executemany"].append(raw_executemany(raw_url, transactions))
            runs["raw_copy"].append(raw_copy(raw_url, transactions))
            runs["recorder_postgresql"].append(recorder_only(server.create_database(f"recorder{run}"), transactions))
            del transactions
            print(f"run {run}/{args.repeat}: verify, PostgreSQL ...", flush=True)
            runs["verify_postgresql"].append(run_verify(ledger_url))
            server.drop_databases()
            if not args.no_sqlite:
                sqlite_url = f"sqlite:///{tmp}/ledger{run}.db"
                print(f"run {run}/{args.repeat}: ledger import and verify, SQLite ...", flush=True)
                runs["ledger_sqlite"].append(run_import(sqlite_url, workload))
                runs["verify_sqlite"].append(run_verify(sqlite_url))
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(f"{tmp}/ledger{run}.db{suffix}")
        if args.importer:
            print(f"claims import end to end, {args.importer:,} claims, PostgreSQL ...", flush=True)
            small = generate(args.importer, args.per_file, args.seed)
            runs["importer_postgresql"].append(run_importer(server.create_database("importer"), small, Path(tmp)))
            server.drop_databases()

    results["load_average_after"] = _load()
    timings = {name: _median(t) for name, t in runs.items() if t}
    ledger_pg, raw = timings["ledger_postgresql"], timings["raw_executemany"]
    if raw.events != ledger_pg.events:
        raise AssertionError(f"baseline wrote {raw.events} rows, the ledger {ledger_pg.events} events")
    results["stored_event_bytes"] = payload
    results["ratio_to_executemany"] = round(ledger_pg.rate / raw.rate, 3)
    results["ratio_per_run"] = [
        round(a.rate / b.rate, 3) for a, b in zip(runs["ledger_postgresql"], runs["raw_executemany"], strict=True)
    ]
    results["timings"] = {
        name: {**asdict(timings[name]), "rate": round(timings[name].rate), "runs": [round(t.rate) for t in runs[name]]}
        for name in timings
    }

    report = render(results, runs, timings, args.repeat)
    print()
    print(report, end="")
    if args.write:
        write_section("import_rate", report)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.profile:
        _print_profile(args.profile, 35)
    return 0


if __name__ == "__main__":
    sys.exit(main())
