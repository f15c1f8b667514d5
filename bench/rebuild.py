"""Read-model rebuild benchmark: our batched projector vs the stock eventsourcing runner.

    python bench/rebuild.py --claims 10000            # starts a private PostgreSQL (tests/pg_server.py)
    python bench/rebuild.py --claims 1000000 --url postgresql://...   # an existing, empty database

1. generates a ledger of N claims through the ledger's own batch API (large
   batches; 5% of claims later revised, 1% retracted, 50 actors x 20 topics);
2. times a full ``Projector.rebuild()`` (events/s);
3. times position queries (single pair, as of today and as of 2012; and a
   50 x 10 positions matrix through ``positions_for_pairs``);
4. runs the stock ``eventsourcing`` ProjectionRunner with a minimal equivalent
   projection (one event per transaction, tracking in the same transaction)
   over the first ``--stock-cap`` events of the same log, and reports the ratio.

Prints a Markdown summary (paste it into bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import threading
import time
from datetime import date, timedelta
from functools import singledispatchmethod
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.sql import SQL, Composed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from ledger import commands as c  # noqa: E402
from ledger.application import ClaimsLedger, persistence_env  # noqa: E402
from ledger.domain import claim_id  # noqa: E402
from projections.projector import Projector  # noqa: E402
from projections.queries import ReadModel  # noqa: E402

ACTORS = [f"actor-{i:02d}" for i in range(50)]
TOPICS = [f"topic-{i:02d}" for i in range(20)]
STANCES = ("SUPPORTS", "OPPOSES", "CONDITIONAL", "NEUTRAL")
PASSAGES_PER_SOURCE = 100
FIRST_DAY = date(2000, 1, 1)
DAYS = (date(2025, 6, 30) - FIRST_DAY).days


# ------------------------------------------------------------------ generation


def source_text(batch: int, index: int) -> tuple[str, list[tuple[int, int, str]]]:
    parts, spans, offset = [], [], 0
    for p in range(PASSAGES_PER_SOURCE):
        sentence = f"Statement {p} of source {batch}-{index} on a matter of public interest."
        parts.append(sentence)
        spans.append((offset, offset + len(sentence), sentence))
        offset += len(sentence) + 1
    return " ".join(parts), spans


def stated(rng: random.Random) -> str:
    day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
    roll = rng.random()
    if roll < 0.05:
        return f"{day.year:04d}"
    if roll < 0.20:
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


def generate(url: str, claims: int, batch_size: int, seed: int = 7) -> dict[str, float]:
    rng = random.Random(seed)
    ledger = ClaimsLedger.open(url)
    started = time.perf_counter()
    with ledger.batch("bench") as batch:
        for key in ACTORS:
            batch.register_actor(c.parse_actor({"key": key, "name": key.title(), "kind": "PERSON"}))
        for key in TOPICS:
            batch.define_topic(c.parse_topic({"key": key, "title": key.title(), "proposition": f"{key} holds."}))
    recorded: list[str] = []
    retracted: set[str] = set()
    revisions = retractions = 0
    for b, first in enumerate(range(0, claims, batch_size)):
        keys = [f"claim-{i}" for i in range(first, min(first + batch_size, claims))]
        with ledger.batch("bench") as batch:
            batch.prefetch([claim_id(k) for k in keys])
            sources = []
            for s in range(max(1, len(keys) // PASSAGES_PER_SOURCE)):
                text, spans = source_text(b, s)
                registration = c.parse_source(
                    {"key": f"src-{b}-{s}", "title": f"Source {b}-{s}", "published": "2025-12-31",
                     "language": "en", "genre": "NEWS", "text": text}
                )  # fmt: skip
                source_id, _ = batch.register_source(registration)
                sources.append((str(source_id), spans))
            for n, key in enumerate(keys):
                sid, spans = sources[n % len(sources)]
                start, end, exact = spans[(n // len(sources)) % len(spans)]
                actor, topic = rng.choice(ACTORS), rng.choice(TOPICS)
                when = stated(rng)
                # Stances in runs: mostly a function of the pair and the year.
                bias = hash((actor, topic, when[:4])) % 4
                stance = STANCES[bias] if rng.random() < 0.7 else rng.choice(STANCES)
                command = c.parse_claim(
                    {"key": key, "actor": actor, "topic": topic, "stance": stance,
                     "summary": f"{actor} on {topic}: {stance.lower()} ({key})", "stated": when,
                     "source": sid, "passage": {"start": start, "end": end, "exact": exact},
                     "attribution": "DIRECT_QUOTE"}
                )  # fmt: skip
                batch.record_claim(command)
        # Corrections of earlier claims: revisions (5%) and retractions (1%).
        if recorded:
            with ledger.batch("editor") as batch:
                for _ in range(len(keys) // 20):
                    key = rng.choice(recorded)
                    if key in retracted:
                        continue
                    changes = c.parse_changes({"stance": rng.choice(STANCES), "summary": f"revised {key}"})
                    try:
                        batch.revise_claim(c.ReviseClaim(key, None, changes, "bench correction"))
                        revisions += 1
                    except Exception:  # the same values again: nothing to change
                        pass
                for _ in range(len(keys) // 100):
                    key = rng.choice(recorded)
                    if key not in retracted:
                        batch.retract_claim(c.RetractClaim(key, None, "bench retraction"))
                        retracted.add(key)
                        retractions += 1
        recorded.extend(keys)
        done = first + len(keys)
        rate = done / (time.perf_counter() - started)
        print(f"\r  generated {done:,}/{claims:,} claims ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    events = ledger.ledger_recorder.tree_head().size
    ledger.close()
    return {"seconds": time.perf_counter() - started, "events": events, "revisions": revisions,
            "retractions": retractions}  # fmt: skip


# ------------------------------------------------------------ our projector


def in_place(projector: Projector) -> int:
    """The rebuild as it was before it went beside the live model: empty the live tables, project."""
    from projections import schema

    schema.ensure(projector.conn, force=True)
    return projector.catch_up()


def rebuild(url: str, batch_size: int, runs: int, *, beside: bool = True, fast: bool = True) -> dict[str, Any]:
    """The best of ``runs`` full rebuilds (the host may be shared), with its phase timings.
    ``fast=False``: every event through its handler (the reference of the inlined hot path)."""
    best: dict[str, Any] = {}
    projector = Projector(url, batch_size=batch_size, fast=fast)
    for _ in range(runs):
        projector.timings.clear()
        started = time.perf_counter()
        events = (projector.rebuild() or 0) if beside else in_place(projector)  # (None: another rebuild's)
        seconds = time.perf_counter() - started
        print(f"  rebuild: {events:,} events in {seconds:.2f}s = {events / seconds:,.0f} events/s", file=sys.stderr)
        if not best or seconds < best["seconds"]:
            best = {"events": events, "seconds": seconds, "rate": events / seconds, "phases": dict(projector.timings)}
    projector.close()
    return best


def query_latency(url: str, samples: int = 300) -> dict[str, float]:
    rng = random.Random(11)
    model = ReadModel(url)
    pairs = [(rng.choice(ACTORS), rng.choice(TOPICS)) for _ in range(samples)]
    out: dict[str, float] = {}
    for label, as_of in (("today", None), ("2012", date(2012, 6, 30))):
        model.position(*pairs[0], as_of, None)  # warm up
        timings = []
        for actor, topic in pairs:
            t = time.perf_counter()
            model.position(actor, topic, as_of, None)
            timings.append((time.perf_counter() - t) * 1000)
        out[f"position_{label}_median_ms"] = statistics.median(timings)
        out[f"position_{label}_p95_ms"] = statistics.quantiles(timings, n=20)[18]
    matrix = [(a, t) for a in ACTORS for t in TOPICS[:10]]
    timings = []
    for _ in range(5):
        t = time.perf_counter()
        model.positions_for_pairs(matrix, None, None)
        timings.append((time.perf_counter() - t) * 1000)
    out["matrix_50x10_ms"] = statistics.median(timings)
    model.close()
    return out


# ------------------------------------------------------- the stock runner


class StockLedger(ClaimsLedger):
    """The ledger on PostgreSQL: its recorder has the library's LISTEN/NOTIFY subscription."""

    def __init__(self, env: Any = None) -> None:
        super().__init__(env=persistence_env(os.environ["BENCH_STOCK_URL"]))


class StockView(PostgresTrackingRecorder):
    """A minimal equivalent of rm_claim_versions: one row per claim event, previous version closed."""

    cap = 0
    done = threading.Event()
    first_at = 0.0
    last_at = 0.0
    count = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.extend(
            Composed([SQL(statement)])
            for statement in (
                "CREATE TABLE IF NOT EXISTS bench_stock_versions (position bigint PRIMARY KEY, claim_id uuid,"
                " version int, known_from timestamptz, known_to timestamptz, actor text, topic text, stance text,"
                " summary text, stated text, source text, passage text, retracted boolean)",
                "CREATE INDEX IF NOT EXISTS bench_stock_pair ON bench_stock_versions (actor, topic, stated)",
                "CREATE INDEX IF NOT EXISTS bench_stock_claim ON bench_stock_versions (claim_id)",
                "CREATE TABLE IF NOT EXISTS bench_stock_entities (id uuid PRIMARY KEY, kind text, state text)",
            )
        )

    def record(self, event: Any, tracking: Tracking) -> None:
        name = type(event).__qualname__
        with self.datastore.transaction(commit=True) as curs:
            if name == "Claim.Recorded":
                k = event.content
                curs.execute(
                    "INSERT INTO bench_stock_versions VALUES (%s,%s,%s,%s,NULL,%s,%s,%s,%s,%s,%s,%s,false)",
                    (tracking.notification_id, event.originator_id, event.originator_version, event.timestamp,
                     k["actor"], k["topic"], k["stance"], k["summary"], k["stated"]["date"], k["source"],
                     str(k["passage"])),
                )  # fmt: skip
            elif name.startswith("Claim."):
                curs.execute(
                    "UPDATE bench_stock_versions SET known_to = %s WHERE claim_id = %s AND known_to IS NULL"
                    " RETURNING actor, topic, stance, summary, stated, source, passage, retracted",
                    (event.timestamp, event.originator_id),
                )
                row = curs.fetchone()
                assert row is not None
                current = dict(row)
                for field, change in getattr(event, "changes", {}).items():
                    if field in current:
                        current[field] = change["after"]
                curs.execute(
                    "INSERT INTO bench_stock_versions VALUES (%s,%s,%s,%s,NULL,%s,%s,%s,%s,%s,%s,%s,%s)",
                    (tracking.notification_id, event.originator_id, event.originator_version, event.timestamp,
                     current["actor"], current["topic"], current["stance"], current["summary"], str(current["stated"]),
                     current["source"], str(current["passage"]), current["retracted"] or name == "Claim.Retracted"),
                )  # fmt: skip
            elif name.endswith(("Registered", "Defined", "Issued")):
                curs.execute(
                    "INSERT INTO bench_stock_entities VALUES (%s, %s, %s)",
                    (event.originator_id, name, str(getattr(event, "key", ""))),
                )
            self._insert_tracking(curs, tracking)
        cls = type(self)
        cls.count += 1
        if cls.count == 1:
            cls.first_at = time.perf_counter()
        if cls.count == cls.cap:
            cls.last_at = time.perf_counter()
            cls.done.set()


class StockProjection(Projection[StockView]):
    name = "stockbench"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.record(domain_event, tracking)


def stock(url: str, cap: int) -> dict[str, float]:
    parts = urlsplit(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")),
        "POSTGRES_HOST": parts.hostname or "localhost",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or ""),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
    }
    os.environ["BENCH_STOCK_URL"] = url
    drop = "DROP TABLE IF EXISTS bench_stock_versions, bench_stock_entities, stockbench_tracking"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(drop)  # a run that was interrupted
    StockView.cap = cap
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=StockLedger, projection_class=StockProjection, view_class=StockView, env=env
    ) as runner:
        deadline = time.monotonic() + 3600
        while not StockView.done.wait(1.0):
            runner.run_forever(timeout=0.001)  # re-raises a processing error
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stock runner projected {StockView.count} of {cap} events in an hour")
        runner.stop()
    # From the runner's start (subscription, first select) to the cap-th commit.
    seconds = StockView.last_at - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(drop)
    return {"events": cap, "seconds": seconds, "rate": cap / seconds}


# ------------------------------------------------------------------- main


def machine(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        settings = conn.execute(
            "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings"
            " WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'full_page_writes')"
        ).fetchone()
    pg = row[0] if row else "?"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"load average {load}; {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), {mem:.0f} GiB RAM, "
        f"PostgreSQL {pg} on the same host ({settings[0] if settings else ''}), Python {platform.python_version()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--url", help="an empty PostgreSQL database (default: start a private server)")
    parser.add_argument("--reuse", action="store_true", help="--url already holds a generated ledger: skip step 1")
    parser.add_argument("--batch-size", type=int, default=5000, help="projector events per transaction")
    parser.add_argument("--gen-batch", type=int, default=10_000, help="claims per ledger batch when generating")
    parser.add_argument("--stock-cap", type=int, default=20_000, help="events the stock runner projects")
    parser.add_argument("--runs", type=int, default=3, help="full rebuilds to time (the best is reported)")
    parser.add_argument(
        "--durable", action="store_true", help="private server with fsync, synchronous_commit, full_page_writes on"
    )
    parser.add_argument("--in-place", action="store_true", help="also time the old in-place rebuild (baseline)")
    parser.add_argument(
        "--reference", action="store_true", help="also time the rebuild with every event through its handler"
    )
    parser.add_argument("--queries-only", action="store_true", help="with --url: only time the position queries")
    args = parser.parse_args()

    server = None
    url = args.url
    if url is None:
        from pg_server import start_server

        durable = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
        server = start_server(extra_settings=durable if args.durable else None)
        url = server.url(server.create_database())
    try:
        print(f"machine: {machine(url)}")
        if args.queries_only:
            q = query_latency(url)
            print("queries: " + ", ".join(f"{k}={v:.2f}" for k, v in q.items()))
            return 0
        if not args.reuse:
            g = generate(url, args.claims, args.gen_batch)
            print(
                f"generated {args.claims:,} claims = {g['events']:,.0f} events ({g['revisions']:,.0f} revisions,"
                f" {g['retractions']:,.0f} retractions) in {g['seconds']:.1f}s"
            )
        r = rebuild(url, args.batch_size, args.runs)
        print(f"projector rebuild: {r['events']:,.0f} events in {r['seconds']:.2f}s = {r['rate']:,.0f} events/s")
        if args.in_place:
            p = rebuild(url, args.batch_size, args.runs, beside=False)
            print(
                f"in place (readers see a partial model): {p['rate']:,.0f} events/s; beside / in place "
                f"{r['rate'] / p['rate']:.2f}x"
            )
        if args.reference:
            f = rebuild(url, args.batch_size, args.runs, fast=False)
            print(
                f"reference handlers (Changes.fast off): {f['rate']:,.0f} events/s; fast / reference {r['rate'] / f['rate']:.2f}x"
            )
        print("  phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in r["phases"].items()))
        q = query_latency(url)
        print("queries: " + ", ".join(f"{k}={v:.2f}" for k, v in q.items()))
        s = stock(url, min(args.stock_cap, int(r["events"])))
        print(f"stock runner: {s['events']:,.0f} events in {s['seconds']:.2f}s = {s['rate']:,.0f} events/s")
        print(f"ratio: {r['rate'] / s['rate']:.0f}x")
        print("load average at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
        print()
        print(
            f"| {args.claims:,} | {r['events']:,.0f} | {r['seconds']:.1f} | {r['rate']:,.0f} | {s['rate']:,.0f}"
            f" ({s['events']:,.0f} ev) | {r['rate'] / s['rate']:.0f}x | {q['position_today_median_ms']:.2f}"
            f" / {q['position_today_p95_ms']:.2f} | {q['position_2012_median_ms']:.2f} | {q['matrix_50x10_ms']:.1f} |"
        )
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
