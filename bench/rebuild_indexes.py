"""The deferred query-index builds of a rebuild alone: one after another vs several connections at once.

Copies a projected model's ``rm_claim_versions`` (``--url``: a database whose live model is complete,
e.g. after ``bench/rebuild.py``) into a scratch schema once, then per round and per variant builds
the query indexes (``schema.QUERY_INDEXES``) on the copy and drops them again, timing the wall clock
and the PostgreSQL server's CPU (``bench/rebuild_cpu.py``'s ``/proc`` accounting: the server must
serve only this benchmark). Variants: ``1`` is the way a rebuild built them before (one connection,
one transaction); ``N`` is ``schema._build_at_once`` with N connections; ``N/w0`` the same with the
builders' parallel maintenance workers off.

    PYTHONPATH=. python bench/rebuild_indexes.py --url postgresql://.../r1m --variants 1,2,3,2/w0 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import psycopg
from rebuild_cpu import postmaster_of, server_cpu

from projections import schema
from projections.db import Connection, connect_schema, ddl

SCRATCH = "rm_index_bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--variants", default="1,2,3,2/w0")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    statements = schema._statements(ddl(schema.QUERY_INDEXES, "postgresql"))
    names = [s.split()[2] for s in statements]
    postmaster = postmaster_of(args.url)
    with psycopg.connect(args.url, autocommit=True) as raw:
        raw.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE; CREATE SCHEMA {SCRATCH}")
        raw.execute(f"CREATE TABLE {SCRATCH}.rm_claim_versions AS SELECT * FROM public.rm_claim_versions")
        raw.execute(f"VACUUM ANALYZE {SCRATCH}.rm_claim_versions")
        rows = raw.execute(f"SELECT count(*) FROM {SCRATCH}.rm_claim_versions").fetchone()
    print(f"{rows[0] if rows else 0:,} claim versions; {len(statements)} indexes; load {os.getloadavg()[0]:.2f}")
    try:
        for round_ in range(1, args.rounds + 1):
            for variant in args.variants.split(","):
                builders, _, workers = variant.partition("/w")

                def connection(workers: str = workers) -> Connection:
                    conn = connect_schema(args.url, SCRATCH)
                    if workers:
                        conn.execute(f"SET max_parallel_maintenance_workers = {int(workers)}")
                    return conn

                load = os.getloadavg()[0]
                started, cpu = time.perf_counter(), server_cpu(postmaster)
                if builders == "1":  # as a rebuild did: one transaction on the model's connection
                    conn = connection()
                    try:
                        with conn.write_transaction():
                            schema._more_sort_memory(conn, local=True)
                            conn.execute_script(statements)
                    finally:
                        conn.close()
                else:
                    schema.INDEX_BUILDERS = int(builders)
                    schema._build_at_once(statements, connection)
                wall, used = time.perf_counter() - started, server_cpu(postmaster) - cpu
                print(
                    f"round {round_} variant {variant:>5}: wall {wall:6.2f} s, server CPU {used:6.2f} s, load {load:.2f}"
                )
                conn = connection()
                try:
                    conn.execute_script([f"DROP INDEX {name}" for name in names])
                finally:
                    conn.close()
    finally:
        with psycopg.connect(args.url, autocommit=True) as raw:
            raw.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
