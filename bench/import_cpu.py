#!/usr/bin/env python
"""CPU per event of the import path, for comparing versions of the code on a busy machine.

``bench/import_rate.py`` reports wall-clock rates, which other work on the machine moves by
2x between runs. This script times the same path (``import_rate.import_file`` of each tree:
parsing, ``Batch``, encoding, the recorder) into a fresh SQLite file by the CPU time of its own
process, and the cyclic garbage collector's share of it (``gc.callbacks``). Each tree runs in
its own subprocess (``PYTHONPATH`` on it), the trees alternating round by round.

    python bench/import_cpu.py --trees /work/base/bf79940 . --claims 4000 --rounds 3 --runs 7
    python bench/import_cpu.py --importer --trees /work/base/bee0d16 . --claims 4000 --rounds 3 --runs 5

``--importer`` times ``claims import`` instead: each tree's ``ledger.importer.import_file`` on the same
documents written as JSON files (reading, the schema check, the records' validation, the batch).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def one(tree: Path, claims: int, runs: int, end_to_end: bool = False) -> dict[str, Any]:
    """In this process, with ``tree`` first on the path: min and median over ``runs`` imports."""
    sys.path[:0] = [str(tree), str(tree / "bench")]
    from import_rate import PRINCIPAL, generate, import_file  # type: ignore[import-not-found]  # that tree's

    from ledger import importer
    from ledger.application import ClaimsLedger

    collecting = [0.0, 0.0]  # seconds in the collector, start of the current collection

    def timer(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collecting[1] = time.perf_counter()
        else:
            collecting[0] += time.perf_counter() - collecting[1]

    gc.callbacks.append(timer)
    workload = generate(claims, 2000, 1)
    cpu, collector = [], []
    with tempfile.TemporaryDirectory(prefix="claims-cpu-") as tmp:
        paths = []
        for i, doc in enumerate(workload.files):
            paths.append(Path(tmp) / f"import-{i:04d}.json")
            paths[-1].write_text(json.dumps(doc), encoding="utf-8")
        for run in range(runs):
            ledger = ClaimsLedger.open(f"sqlite:///{tmp}/ledger{run}.db")
            gc.collect()
            collecting[0] = 0.0
            start = time.process_time()
            if end_to_end:
                events = sum(importer.import_file(ledger, path, PRINCIPAL).events for path in paths)
            else:
                events = sum(import_file(ledger, doc) for doc in workload.files)
            cpu.append((time.process_time() - start) / events * 1e6)
            collector.append(collecting[0] / events * 1e6)
            if run == runs - 1:
                encoding = encode_costs(ledger)
            ledger.close()
    return {
        **encoding,
        "tree": str(tree),
        "events": events,
        "cpu_us_per_event_min": round(min(cpu), 1),
        "cpu_us_per_event_median": round(statistics.median(cpu), 1),
        "gc_us_per_event_median": round(statistics.median(collector), 2),
    }


def encode_costs(ledger: Any) -> dict[str, float]:
    """Encoding the states of the ledger's events again, as ``Mapper.to_stored_event`` encodes them: with the
    library's ``JSONTranscoder`` and with the ledger's own transcoder (us/event, best of 5)."""
    from eventsourcing.persistence import JSONTranscoder

    library = JSONTranscoder()
    ledger.register_transcodings(library)
    states = []
    for stored in ledger.ledger_recorder.iter_log():
        state = dict(vars(ledger.mapper.to_domain_event(stored)))
        del state["originator_id"], state["originator_version"]
        states.append(state)
    out = {}
    for name, transcoder in (("encode_library_us", library), ("encode_ledger_us", ledger.mapper.transcoder)):
        best = min(_seconds(transcoder.encode, states) for _ in range(5))
        out[name] = round(best / len(states) * 1e6, 2)
    return out


def _seconds(encode: Any, states: list[Any]) -> float:
    start = time.process_time()
    for state in states:
        encode(state)
    return time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--trees", nargs="+", type=Path, default=[Path(".")], help="source trees to compare")
    parser.add_argument("--claims", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3, help="each tree once per round, alternating")
    parser.add_argument("--runs", type=int, default=7, help="imports per tree and round")
    parser.add_argument("--importer", action="store_true", help="time claims import (importer.import_file) end to end")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one.resolve(), args.claims, args.runs, args.importer)))
        return 0
    print("| round | load (1 min) | tree | CPU us/event min | median | of it GC (median) | encode: library / ledger's (us/event) |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for round_ in range(1, args.rounds + 1):
        for tree in args.trees:
            tree = tree.resolve()
            load = f"{os.getloadavg()[0]:.2f}"
            env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
            command = [sys.executable, __file__, "--one", str(tree), "--claims", str(args.claims), "--runs", str(args.runs)]
            command += ["--importer"] if args.importer else []
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"| {round_} | {load} | {tree} | {r['cpu_us_per_event_min']} | {r['cpu_us_per_event_median']}"
                f" | {r['gc_us_per_event_median']} | {r['encode_library_us']} / {r['encode_ledger_us']} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
