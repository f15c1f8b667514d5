#!/usr/bin/env python
"""The schema pass of ``claims import``: CPU per event of each way to check a file against the import schema.

On the workload of ``bench/import_rate.py`` (as the importer reads it: ``importer._json`` of each file),
best of ``--runs``, microseconds of this process's CPU per event the files make:

- ``jsonschema``: ``import_schema.validator().iter_errors`` (the report; the importer's only pass before);
- ``compiled``: ``import_schema.fits`` (the schema compiled by fastjsonschema; the happy path now);
- ``jsonschema_rs``: its ``is_valid``, only when that package is installed (it is not a dependency:
  measured to decide, see bench/RESULTS.md).

    python bench/import_schema_check.py --claims 4000 --runs 5
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from import_rate import generate  # noqa: E402

from ledger import import_schema, importer  # noqa: E402


def best(check: Callable[[Any], Any], files: list[Any], runs: int, events: int) -> float:
    seconds = []
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        for data in files:
            check(data)
        seconds.append(time.process_time() - start)
    return min(seconds) / events * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    workload = generate(args.claims, 2000, 1)
    files = [importer._json(json.dumps(doc)) for doc in workload.files]
    # Events the files make: a claim, a topic, an actor, a revision one each; a source two (its key's index).
    events = sum(
        len(doc["claims"]) + len(doc["actors"]) + len(doc["topics"]) + len(doc["revisions"]) + 2 * len(doc["sources"])
        for doc in workload.files
    )
    validator = import_schema.validator()
    if not all(import_schema.fits(data) for data in files):
        raise AssertionError("the compiled check refuses the workload")
    checks: dict[str, Callable[[Any], Any]] = {
        "jsonschema (iter_errors, the report)": lambda data: list(validator.iter_errors(data)),
        "compiled (fastjsonschema, import_schema.fits)": import_schema.fits,
    }
    try:
        rs: Any = importlib.import_module("jsonschema_rs")
    except ImportError:
        pass
    else:
        compiled_rs = rs.validator_for(import_schema.committed())
        checks["jsonschema_rs (is_valid; not a dependency)"] = compiled_rs.is_valid
    print(f"{args.claims:,} claims, {events:,} events, best of {args.runs}, load {os.getloadavg()[0]:.2f}")
    print("| check | CPU us/event |")
    print("|---|---:|")
    for name, check in checks.items():
        runs = max(1, args.runs // 3) if name.startswith("jsonschema (") else args.runs
        print(f"| {name} | {best(check, files, runs, events):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
