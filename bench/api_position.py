#!/usr/bin/env python
"""The ``position`` as-of query over HTTP: our API vs PostGraphile, 10k -> 1M claims (PostgreSQL).

    python bench/api_position.py                                  # 10k, 100k, 1M; private PostgreSQL
    python bench/api_position.py --sizes 10000,100000 --duration 10
    python bench/api_position.py --url postgresql://postgres:pw@127.0.0.1:5432/postgres   # may CREATE DATABASE

One database grows through the sizes (claims are appended through the ledger's
batch API with the generator of ``bench/rebuild.py``: 50 actors x 20 topics,
5% revisions, 1% retractions; then the projector catches up). At each size:

1. our API (``uvicorn api.web.app:create_app``, one process, projector external)
   answers ``position(actor, topic, asOf)`` with the claim, its passage and its
   source: ``wrk`` (10 connections, fixed duration, Lua script choosing random
   pairs and dates) measures req/s and the p50/p99 latency; the server's RSS is
   read from /proc afterwards;
2. PostGraphile (npm ``postgraphile`` v4, one Node process) answers the same
   question on the same read-model tables through a SQL function we create for
   it (``bench_api.position``: the same three index probes plus the source);
   the same wrk run measures it.

Loopback only (127.0.0.1); every run is bounded by ``--duration`` seconds. Prints
Markdown; ``--write`` replaces this benchmark's section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx2 as httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import rebuild as generator  # noqa: E402  (bench/rebuild.py: the ledger generator)
from rebuild_cpu import server_cpu as database_cpu_seconds  # noqa: E402  (every process of the server, reaped too)
from results_file import write_section  # noqa: E402

from ledger import commands as c  # noqa: E402
from ledger.application import ClaimsLedger  # noqa: E402
from ledger.domain import claim_id  # noqa: E402
from projections.projector import Projector  # noqa: E402

OUR_QUERY = (
    "query P($a: String!, $t: String!, $d: Date) { position(actor: $a, topic: $t, asOf: $d) { stance "
    "since { date precision } claim { key summary quote statedOn { date precision } passage { exact } "
    "source { title publisher } } } }"
)
PG_QUERY = (
    "query P($a: String!, $t: String!, $d: Date) { position(actor: $a, topic: $t, asOf: $d) { stance "
    "sinceDate sincePrecision claimKey summary quote statedDate statedPrecision passageExact "
    "sourceTitle sourcePublisher } }"
)

POSTGRAPHILE_SQL = """
CREATE SCHEMA IF NOT EXISTS bench_api;
DROP FUNCTION IF EXISTS bench_api.position(text, text, date);
DROP TYPE IF EXISTS bench_api.position_answer;
CREATE TYPE bench_api.position_answer AS (
    stance text, since_date text, since_precision text, claim_key text, summary text, quote text,
    stated_date text, stated_precision text, passage_exact text, source_title text, source_publisher text
);
-- The as-of question of ReadModel.position (known now), with the same three index probes on
-- rm_claim_versions_pair: the latest qualifying claim of the pair, the latest earlier claim of
-- another stance (the breaker), the first claim after the breaker (since); plus the claim's source.
-- PL/pgSQL so that the plan is cached per connection (a SQL function would be planned per call).
CREATE FUNCTION bench_api.position(actor text, topic text, as_of date)
RETURNS bench_api.position_answer LANGUAGE plpgsql STABLE AS $$
DECLARE
  answer bench_api.position_answer;
BEGIN
  WITH lv AS (
    SELECT v.* FROM public.rm_claim_versions v
    WHERE v.actor = $1 AND v.topic = $2 AND v.known_to_us IS NULL AND NOT v.retracted
      AND v.counts_from <= coalesce($3, current_date)
    ORDER BY v.counts_from DESC, v.stated_earliest DESC, v.first_position DESC LIMIT 1),
  bv AS (
    SELECT lv.*, coalesce(x.counts_from, DATE '0001-01-01') AS bl, coalesce(x.stated_earliest, DATE '0001-01-01') AS be,
           coalesce(x.first_position, 0) AS bp
    FROM lv LEFT JOIN LATERAL (
      SELECT w.counts_from, w.stated_earliest, w.first_position FROM public.rm_claim_versions w
      WHERE w.actor = $1 AND w.topic = $2 AND w.known_to_us IS NULL AND NOT w.retracted
        AND w.counts_from <= coalesce($3, current_date) AND w.stance <> lv.stance
        AND (w.counts_from, w.stated_earliest, w.first_position) < (lv.counts_from, lv.stated_earliest, lv.first_position)
      ORDER BY w.counts_from DESC, w.stated_earliest DESC, w.first_position DESC LIMIT 1) x ON true)
  SELECT bv.stance, st.stated_date, st.stated_precision, bv.key, bv.summary, bv.quote_text, bv.stated_date,
         bv.stated_precision, bv.passage_exact, s.title, s.publisher
  INTO answer
  FROM bv
  CROSS JOIN LATERAL (
    SELECT y.stated_date, y.stated_precision FROM public.rm_claim_versions y
    WHERE y.actor = $1 AND y.topic = $2 AND y.known_to_us IS NULL AND NOT y.retracted
      AND y.counts_from <= coalesce($3, current_date)
      AND (y.counts_from, y.stated_earliest, y.first_position) > (bv.bl, bv.be, bv.bp)
    ORDER BY y.counts_from, y.stated_earliest, y.first_position LIMIT 1) st
  LEFT JOIN public.rm_sources s ON s.id = bv.source_id;
  IF answer.stance IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN answer;
END
$$;
"""

WRK_SCRIPT = """
local query = %s
local actors, topics, pool = %d, %d, %d
math.randomseed(7)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local function question()
  local a = string.format("actor-%%02d", math.random(0, actors - 1))
  local t = string.format("topic-%%02d", math.random(0, topics - 1))
  local d = string.format("%%04d-%%02d-%%02d", math.random(2001, 2025), math.random(1, 12), math.random(1, 28))
  return {a, t, d}
end
-- warm: the same `pool` questions over and over (as many readers of one page); cold: always new ones
local questions = {}
for i = 1, pool do questions[i] = question() end
-- Each run's own stream (the warm-up's is not the measured run's): a cold question the warm-up asked
-- would be answered from the response cache in the measured run.
math.randomseed(%d)
request = function()
  local q = pool > 0 and questions[math.random(1, pool)] or question()
  local a, t, d = q[1], q[2], q[3]
  local body = '{"query":' .. query .. ',"variables":{"a":"' .. a .. '","t":"' .. t .. '","d":"' .. d .. '"}}'
  return wrk.format(nil, nil, nil, body)
end
"""


# ---------------------------------------------------------------- the ledger


def grow(url: str, start: int, end: int, batch_size: int = 10_000, seed: int = 7) -> float:
    """Append claims start..end-1 (generator of bench/rebuild.py, with an offset) and project them."""
    rng = random.Random(seed + start)
    began = time.perf_counter()
    with ClaimsLedger.open(url) as ledger:
        if start == 0:
            with ledger.batch("bench") as batch:
                for key in generator.ACTORS:
                    batch.register_actor(c.parse_actor({"key": key, "name": key.title(), "kind": "PERSON"}))
                for key in generator.TOPICS:
                    batch.define_topic(
                        c.parse_topic({"key": key, "title": key.title(), "proposition": f"{key} holds."})
                    )
        recorded = [f"claim-{i}" for i in range(start)]
        for b, first in enumerate(range(start, end, batch_size), start=start // batch_size):
            keys = [f"claim-{i}" for i in range(first, min(first + batch_size, end))]
            with ledger.batch("bench") as batch:
                batch.prefetch([claim_id(k) for k in keys])
                sources = []
                for s in range(max(1, len(keys) // generator.PASSAGES_PER_SOURCE)):
                    text, spans = generator.source_text(b, s)
                    command = c.parse_source(
                        {"key": f"src-{b}-{s}", "title": f"Source {b}-{s}", "publisher": "Bench Wire",
                         "published": "2025-12-31", "language": "en", "genre": "NEWS", "text": text}
                    )  # fmt: skip
                    source_id, _ = batch.register_source(command)
                    sources.append((str(source_id), spans))
                for n, key in enumerate(keys):
                    sid, spans = sources[n % len(sources)]
                    s_start, s_end, exact = spans[(n // len(sources)) % len(spans)]
                    actor, topic = rng.choice(generator.ACTORS), rng.choice(generator.TOPICS)
                    when = generator.stated(rng)
                    bias = zlib.crc32(f"{actor}|{topic}|{when[:4]}".encode()) % 4
                    stance = generator.STANCES[bias] if rng.random() < 0.7 else rng.choice(generator.STANCES)
                    batch.record_claim(c.parse_claim(
                        {"key": key, "actor": actor, "topic": topic, "stance": stance,
                         "summary": f"{actor} on {topic}: {stance.lower()} ({key})", "stated": when, "source": sid,
                         "passage": {"start": s_start, "end": s_end, "exact": exact}, "attribution": "DIRECT_QUOTE"}
                    ))  # fmt: skip
            if recorded:
                with ledger.batch("editor") as batch:
                    for _ in range(len(keys) // 20):
                        key = rng.choice(recorded)
                        changes = c.parse_changes(
                            {"stance": rng.choice(generator.STANCES), "summary": f"revised {key}"}
                        )
                        with contextlib.suppress(Exception):  # retracted, or the same values: nothing to do
                            batch.revise_claim(c.ReviseClaim(key, None, changes, "bench correction"))
                    for _ in range(len(keys) // 100):
                        with contextlib.suppress(Exception):
                            batch.retract_claim(c.RetractClaim(rng.choice(recorded), None, "bench retraction"))
            recorded.extend(keys)
            print(f"\r  ledger: {first + len(keys):,}/{end:,} claims", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    projector = Projector(url)
    projector.catch_up()
    projector.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - began


# ---------------------------------------------------------------- servers


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def process(
    argv: list[str], env: dict[str, str], probe: str, body: dict[str, Any], timeout: float = 120, cwd: Path = ROOT
) -> Iterator[int]:
    """Start a server (in ``cwd``), wait (bounded) until it answers ``body`` at ``probe``; yields its pid."""
    log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {log.read().decode()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                answer = httpx.post(probe, json=body, timeout=5)
                if answer.status_code == 200 and "errors" not in answer.json():
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{argv[0]} did not answer within {timeout}s")
            time.sleep(0.2)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def with_children(pid: int) -> list[int]:
    """A process and its children (uvicorn workers)."""
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return pids


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), in MiB."""
    total = 0
    for p in with_children(pid):
        with contextlib.suppress(OSError):
            match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{p}/status").read_text())
            total += int(match.group(1)) if match else 0
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) of a process and its children (uvicorn workers) so far."""
    total = 0.0
    for p in with_children(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


@dataclass
class Load:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float | None = None  # the server's CPU per request (not PostgreSQL's): insensitive to other load
    database_ms: float | None = None  # PostgreSQL's CPU per request (all its processes), when it runs on this host


def measured(pid: int, run: Callable[[], Load], database: int | None = None) -> Load:
    """``run``'s load, with the server's CPU time per request during it (and the database's: ``database``,
    its postmaster's pid)."""
    before = cpu_seconds(pid)
    database_before = database_cpu_seconds(database) if database is not None else 0.0
    load = run()
    load.cpu_ms = (cpu_seconds(pid) - before) * 1e3 / max(1, load.requests)
    if database is not None:
        load.database_ms = (database_cpu_seconds(database) - database_before) * 1e3 / max(1, load.requests)
    return load


def postmaster_of(db_url: str) -> int | None:
    """The pid of the PostgreSQL server of ``db_url`` when it runs on this host: the one its data directory's
    ``postmaster.pid`` names, if that file is here and tells the server's own start time; else None (a remote
    server, a role that may not read ``data_directory``, or an OS user that may not read that directory)."""
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT current_setting('data_directory'), floor(extract(epoch FROM pg_postmaster_start_time()))::bigint"
            ).fetchone()
    except psycopg.Error:
        return None
    if row is None:
        return None
    try:
        pid, _, started = Path(str(row[0]), "postmaster.pid").read_text().split("\n")[:3]
        return int(pid) if abs(int(started) - int(row[1])) <= 1 else None  # (whole seconds)
    except (OSError, ValueError):
        return None


WARM_UP, MEASURED = 1, 2  # the seeds of the warm-up's questions and the measured run's (WRK_SCRIPT)

# Appended to every script: a bad answer (not 200, or GraphQL errors) counts, and the summary line.
WRK_DONE = (
    "response = function(status, headers, body)\n"
    "  if status ~= 200 or string.find(body, '\"errors\"') then\n"
    "    errors = (errors or 0) + 1\n"
    '    if errors <= 1 then io.stderr:write("bad response: " .. status .. " " .. string.sub(body, 1, 300) .. "\\n") end\n'
    "  end\n"
    "end\n"
    "done = function(summary, latency, requests)\n"
    '  io.write(string.format("RESULT %d %f %f %f %d\\n", summary.requests, summary.duration / 1e6,'
    " latency:percentile(50) / 1000, latency:percentile(99) / 1000,"
    " (errors or 0) + summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))\n"
    "end\n"
)


def wrk(url: str, query: str, duration: float, connections: int, pool: int = 0, *, seed: int = MEASURED) -> Load:
    """A bounded wrk run (fixed duration, fixed connections) on loopback; ``seed``: its stream of questions
    (every server gets the same stream in its warm-up, and another in its measured run)."""
    actors, topics = len(generator.ACTORS), len(generator.TOPICS)
    script = WRK_SCRIPT % (json.dumps(json.dumps(query)), actors, topics, pool, seed)
    return run_wrk(url, script, duration, connections)


def run_wrk(url: str, script: str, duration: float, connections: int) -> Load:
    """wrk with a Lua ``script`` (its requests; counting bad answers in ``errors``) for ``duration`` s."""
    assert urlsplit(url).hostname == "127.0.0.1", "load is only ever sent to loopback"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script + WRK_DONE)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{round(duration)}s", "--timeout", "20s", "-s", file.name, url],
            capture_output=True, text=True, timeout=duration + 90, check=True,
        )  # fmt: skip
    finally:
        os.unlink(file.name)
    match = re.search(r"RESULT (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", out.stdout)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    n, seconds, p50, p99, errors = (float(g) for g in match.groups())
    if errors:
        print(f"  wrk: {int(errors)} bad responses; {out.stderr.strip()[:400]}", file=sys.stderr)
    return Load(int(n), seconds, n / seconds, p50, p99, int(errors))


def our_server(db_url: str, workers: int, settings: dict[str, str] | None = None) -> tuple[list[str], dict[str, str], str]:
    """The command, environment and GraphQL URL of our API on a free loopback port (projector external)."""
    port = free_port()
    env = {**os.environ, "CLAIMS_DATABASE_URL": db_url, "CLAIMS_PROJECTOR": "external", "CLAIMS_RATE_LIMIT_READS": "0"}
    argv = [sys.executable, "-m", "uvicorn", "api.web.app:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers),
            "--http", "api.web.server:HttpTools"]  # fmt: skip  (as `claims serve` runs it)
    return argv, {**env, **(settings or {})}, f"http://127.0.0.1:{port}/graphql"


def bench_ours(
    db_url: str,
    duration: float,
    connections: int,
    workers: int,
    pool: int = 0,
    cache: bool = True,
    compiled: bool = True,
    prepared: bool = True,
    tree: Path | None = None,
) -> tuple[Load, float]:
    """Our API on the database; ``tree``: the code of another checkout (a baseline), run from there."""
    settings = {} if cache else {"CLAIMS_RESPONSE_CACHE_BYTES": "0"}
    # api/graphql/prepared.py: query documents seen before skip strawberry's view and extensions
    settings["CLAIMS_PREPARED_HTTP"] = "1" if prepared else "0"
    # api/graphql/compiled.py: plans compiled once per document; off, graphql-core executes field by field
    settings["CLAIMS_COMPILED_EXECUTION"] = "1" if compiled else "0"
    argv, env, url = our_server(db_url, workers, settings)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # (a baseline tree is read, never written)
        if not (tree / "api" / "web" / "server.py").exists():  # (a tree from before our uvicorn protocol)
            argv = argv[: argv.index("--http")]
    probe = {"query": OUR_QUERY, "variables": {"a": "actor-00", "t": "topic-00", "d": "2025-06-01"}}
    with process(argv, env, url, probe, cwd=tree or ROOT) as pid:
        # warm-up: caches, pools, JIT-free but still (its own questions: see WRK_SCRIPT)
        wrk(url, OUR_QUERY, min(5.0, duration), connections, pool, seed=WARM_UP)
        load = measured(pid, lambda: wrk(url, OUR_QUERY, duration, connections, pool), postmaster_of(db_url))
        return load, rss_mib(pid)


def bench_postgraphile(db_url: str, duration: float, connections: int, pool: int = 0) -> tuple[Load, float]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(POSTGRAPHILE_SQL)  # type: ignore[arg-type]
    cli = ROOT / "node_modules" / ".bin" / "postgraphile"
    if not cli.exists():
        raise FileNotFoundError("node_modules/.bin/postgraphile is missing: run `npm ci` in the repository root")
    port = free_port()
    argv = [str(cli), "-c", db_url, "-s", "bench_api", "-n", "127.0.0.1", "-p", str(port), "--disable-query-log",
            "--disable-graphiql"]  # fmt: skip
    url = f"http://127.0.0.1:{port}/graphql"
    probe = {"query": PG_QUERY, "variables": {"a": "actor-00", "t": "topic-00", "d": "2025-06-01"}}
    with process(argv, dict(os.environ), url, probe) as pid:
        wrk(url, PG_QUERY, min(5.0, duration), connections, pool, seed=WARM_UP)
        load = measured(pid, lambda: wrk(url, PG_QUERY, duration, connections, pool), postmaster_of(db_url))
        return load, rss_mib(pid)


def same_answers(db_url: str, samples: int = 200) -> int:
    """Both servers must answer the same question identically (checked on random pairs)."""
    from projections.queries import ReadModel

    rng = random.Random(3)
    model = ReadModel(db_url)
    mismatches = 0
    with psycopg.connect(db_url) as conn:
        for _ in range(samples):
            a, t = rng.choice(generator.ACTORS), rng.choice(generator.TOPICS)
            d = date(rng.randint(2001, 2025), rng.randint(1, 12), rng.randint(1, 28))
            ours = model.position(a, t, d, None)
            row = conn.execute("SELECT * FROM bench_api.position(%s, %s, %s)", (a, t, d)).fetchone()
            theirs = None if row is None or row[0] is None else (row[0], row[1], row[3])
            mine = None if ours is None else (ours.stance, ours.since.date, ours.claim.key)
            mismatches += mine != theirs
    model.close()
    return mismatches


# ---------------------------------------------------------------- main


@contextlib.contextmanager
def database(admin_url: str | None, keep: str | None) -> Iterator[str]:
    """A fresh database (dropped afterwards), or with ``keep`` a named one that is reused and kept."""
    server = None
    if admin_url is None:
        import pg_server

        server = pg_server.start_server()
        admin_url = server.admin_url
    name = keep or f"bench_api_{secrets.token_hex(3)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path="/" + quote(name, safe="")))
    finally:
        if keep is None:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if server is not None:
            server.stop()


def claims_present(url: str) -> int:
    """How many generated claims a kept database holds already (claim-0 .. claim-N-1 exist)."""
    with ClaimsLedger.open(url) as ledger:
        recorder = ledger.ledger_recorder

        def exists(key: str) -> bool:
            return bool(recorder.select_events(claim_id(key), limit=1))

        if not exists("claim-0"):
            return 0
        low, high = 1, 1
        while exists(f"claim-{high - 1}"):
            low, high = high, high * 2
        while low < high:  # the first n in [low, high) with claim-n missing
            mid = (low + high) // 2
            if exists(f"claim-{mid}"):
                low = mid + 1
            else:
                high = mid
        return low


def machine() -> str:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    mem = "?"
    with contextlib.suppress(OSError, StopIteration):
        lines = Path("/proc/meminfo").read_text().splitlines()
        kb = int(next(line.split()[1] for line in lines if line.startswith("MemTotal")))
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    wrk_version = wrk_version.split(" [")[0].strip()
    return f"{os.cpu_count()} cores ({cpu}), {mem}; Python {platform.python_version()}, Node {node}, {wrk_version}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="PostgreSQL URL of a role that may CREATE DATABASE (default: a private server)")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="claim counts, ascending")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of each measured wrk run")
    parser.add_argument("--connections", type=int, default=10, help="concurrent clients")
    parser.add_argument("--workers", default="1,2", help="uvicorn process counts of our API to measure")
    parser.add_argument("--no-postgraphile", action="store_true")
    parser.add_argument(
        "--no-compiled-off",
        action="store_true",
        help="skip the cold run with CLAIMS_COMPILED_EXECUTION=0 (graphql-core's own execution)",
    )
    parser.add_argument(
        "--no-prepared-off",
        action="store_true",
        help="skip the cold run with CLAIMS_PREPARED_HTTP=0 (every request through strawberry's view)",
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        metavar="DIR",
        help="also measure (cold, 1 process) our API as checked out in DIR (e.g. an earlier commit's tree)",
    )
    parser.add_argument("--no-cache-off", action="store_true", help="skip the cold run without the response cache")
    parser.add_argument(
        "--modes", default="cold", help="cold (every question new), warm (the same --pool questions again), or both"
    )
    parser.add_argument("--pool", type=int, default=100, help="distinct questions of the warm mode")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every server this many times, alternated; the table gives medians (run-to-run spread ~5%%)",
    )
    parser.add_argument(
        "--keep-database", metavar="NAME", help="use (and keep) databases NAME_<size>, generating only what they lack"
    )
    parser.add_argument("--generate-only", action="store_true", help="only generate (with --keep-database)")
    parser.add_argument("--write", action="store_true", help="replace this benchmark's section of bench/RESULTS.md")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("error: wrk is required (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    sizes = [int(s) for s in args.sizes.split(",")]
    worker_counts = [int(w) for w in str(args.workers).split(",")]
    rows: list[dict[str, Any]] = []
    for size in sizes:
        keep = f"{args.keep_database}_{size}" if args.keep_database else None
        with database(args.url, keep) as db_url:
            print(f"size {size:,}:", file=sys.stderr)
            done = claims_present(db_url)
            if done > size:
                raise SystemExit(f"database {keep} holds {done:,} claims already, more than {size:,}")
            if done < size or not keep:
                seconds = grow(db_url, done, size)
                print(f"  generated and projected in {seconds:.0f}s", file=sys.stderr)
            if args.generate_only:
                continue
            for mode in args.modes.split(","):
                pool = args.pool if mode == "warm" else 0
                row: dict[str, Any] = {"size": size, "mode": mode, "runs": []}
                for _ in range(args.rounds):  # (each round measures every server once: alternated)
                    measure_round(args, db_url, mode, pool, worker_counts, row)
                rows.append(row)
    if args.generate_only:
        return 0
    report = render(rows, args, machine())
    print(report)
    if args.write:
        write_section("api_position", report)
    return 0


def measure_round(
    args: argparse.Namespace, db_url: str, mode: str, pool: int, worker_counts: list[int], row: dict[str, Any]
) -> None:
    """Every server of the run measured once, in order, its loads appended to ``row["runs"]``."""
    for workers in worker_counts:
        load, rss = bench_ours(db_url, args.duration, args.connections, workers, pool)
        print(f"  {mode}: ours ({workers} process(es)): {load}", file=sys.stderr)
        row["runs"].append((f"ours, {workers} process{'es' if workers > 1 else ''}", load, rss))
    if mode == "cold" and args.baseline_tree is not None:
        load, rss = bench_ours(db_url, args.duration, args.connections, 1, pool, tree=args.baseline_tree)
        print(f"  {mode}: ours at {args.baseline_tree}: {load}", file=sys.stderr)
        row["runs"].append((f"ours at `{args.baseline_tree.name}`, 1 process", load, rss))
    if mode == "cold" and not args.no_prepared_off:  # the same server through strawberry's view
        load, rss = bench_ours(db_url, args.duration, args.connections, 1, pool, prepared=False)
        print(f"  {mode}: ours, prepared HTTP path off: {load}", file=sys.stderr)
        row["runs"].append(("ours, 1 process, prepared HTTP path off", load, rss))
    if mode == "cold" and not args.no_cache_off:  # what the cache's lookup costs a request it cannot answer
        load, rss = bench_ours(db_url, args.duration, args.connections, 1, pool, cache=False)
        print(f"  {mode}: ours, no response cache: {load}", file=sys.stderr)
        row["runs"].append(("ours, 1 process, response cache off", load, rss))
    if mode == "cold" and not args.no_compiled_off:  # the same server on graphql-core's execution
        load, rss = bench_ours(db_url, args.duration, args.connections, 1, pool, compiled=False)
        print(f"  {mode}: ours, compiled execution off: {load}", file=sys.stderr)
        row["runs"].append(("ours, 1 process, compiled execution off", load, rss))
    if not args.no_postgraphile:
        load, rss = bench_postgraphile(db_url, args.duration, args.connections, pool)
        print(f"  {mode}: postgraphile: {load}", file=sys.stderr)
        row["runs"].append(("PostGraphile, 1 process", load, rss))
        row["mismatches"] = row.get("mismatches", 0) + same_answers(db_url)


def _cells(runs: list[tuple[Load, float]], pg_runs: list[tuple[Load, float]] | None) -> str:
    """A server's table cells: with several rounds, the median of each figure, and the ratio to PostGraphile
    as the median of the rounds' ratios (each round's own PostGraphile run) followed by every round's."""

    def median_of(values: list[float | None]) -> str:
        known = [v for v in values if v is not None]
        return f"{statistics.median(known):.3f}" if known else "-"

    loads = [load for load, _ in runs]
    rps = statistics.median(load.rps for load in loads)
    p50 = statistics.median(load.p50_ms for load in loads)
    p99 = statistics.median(load.p99_ms for load in loads)
    rss = statistics.median(r for _, r in runs)
    ratio = "-"
    if pg_runs:
        ratios = [load.rps / pg.rps for load, (pg, _) in zip(loads, pg_runs, strict=False)]
        ratio = f"{statistics.median(ratios):.2f}x"
        if len(ratios) > 1:
            ratio += " (" + " / ".join(f"{x:.2f}" for x in ratios) + ")"
    cpu, database = median_of([x.cpu_ms for x in loads]), median_of([x.database_ms for x in loads])
    return f"{rps:,.0f} | {p50:.2f} | {p99:.2f} | {rss:.0f} | {cpu} | {database} | {ratio}"


def render(rows: list[dict[str, Any]], args: argparse.Namespace, machine_line: str) -> str:
    command = (
        f"python bench/api_position.py --sizes {args.sizes} --duration {args.duration:g} "
        f"--connections {args.connections} --workers {args.workers} --modes {args.modes} --pool {args.pool}"
        + (f" --rounds {args.rounds}" if args.rounds > 1 else "")
    )
    lines = [
        "## API: `position` as-of query over HTTP (bench/api_position.py)",
        "",
        f"Machine: {machine_line}. PostgreSQL 15: private server of tests/pg_server.py (fsync off), same machine.",
        "",
        f"Command: `{command}` ({date.today().isoformat()}). Load: wrk, 1 thread, {args.connections} connections, "
        f"{args.duration:g} s per measured run after a 5 s warm-up, POST with random (actor, topic, asOf) over "
        "50 x 20 pairs, loopback only. Query: `position(actor, topic, asOf) { stance since { date precision } "
        "claim { key summary quote statedOn { date precision } passage { exact } source { title publisher } } }`. "
        "Ours: `uvicorn api.web.app:create_app --http api.web.server:HttpTools` (as `claims serve`; no access log, "
        "rate limits off), projector external. PostGraphile 4.14: "
        "one Node process (its default), the same question as SQL function `bench_api.position` "
        "over the same rm_ tables; answers compared on 200 random questions.",
        "",
        f"Modes: cold = every request a new random question; warm = {args.pool} fixed questions asked "
        "again and again (ours answers them from its response cache, api/web/http_cache.py; PostGraphile has none).",
        "",
        "Server CPU: the server process's CPU time (all threads; /proc) per request during the measured run "
        "(the database's own work, and wrk's, not included). Database CPU: the PostgreSQL server's (all its "
        "processes) per request during the same run, when it runs on this host.",
        "",
        "| claims | mode | server | req/s | p50 ms | p99 ms | RSS MiB | server CPU ms/req | database CPU ms/req "
        "| req/s vs PostGraphile |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        by_server: dict[str, list[tuple[Load, float]]] = {}
        for name, load, rss in r["runs"]:
            by_server.setdefault(name, []).append((load, rss))
        pg_runs = next((runs for name, runs in by_server.items() if name.startswith("PostGraphile")), None)
        for name, runs in by_server.items():
            lines.append(f"| {r['size']:,} | {r['mode']} | {name} | {_cells(runs, pg_runs)} |")
    for r in rows:
        if "mismatches" in r:
            asked = 200 * args.rounds
            lines.append(
                f"\nAnswers differing between the two servers at {r['size']:,} claims, after the {r['mode']} runs: "
                f"{r['mismatches']}/{asked}."
            )
    if len({r["size"] for r in rows}) > 1 and all(r["mode"] == "cold" for r in rows):
        lines.append("")
        for i, (name, first, _) in enumerate(rows[0]["runs"]):
            last = rows[-1]["runs"][i][1]
            lines.append(
                f"Latency growth {rows[0]['size']:,} -> {rows[-1]['size']:,} claims, {name}: p50 "
                f"{last.p50_ms / first.p50_ms:.2f}x, p99 {last.p99_ms / first.p99_ms:.2f}x (target <= 1.3x).  "
            )
    errors = sum(load.errors for r in rows for _, load, _ in r["runs"])
    lines += ["", f"Bad responses during the runs: {errors}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
