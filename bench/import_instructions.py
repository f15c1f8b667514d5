#!/usr/bin/env python
"""Instructions per imported event, counted by valgrind (callgrind): a comparison of versions that load does not move.

On a shared 2-core host the CPU time of the same import moves by ±5-10% from run to run (other processes
evict its caches), more than most single changes save. Callgrind counts the instructions executed instead,
which do not depend on the load. Per tree (``PYTHONPATH`` on it, in a subprocess under valgrind, the trees in
parallel): the process once with the workload generated and a SQLite ledger opened (``setup``), once also
importing it with ``import_rate.import_file`` (``import``); the difference, per event, is the import's.
``PYTHONHASHSEED`` is fixed. What it does not show: cache misses and waits (the wall time), and hashing
(valgrind hides SHA-NI from OpenSSL, whose fallback then counts several times the instructions of the real
one; the same for both trees). Takes ~2-5 minutes per tree.

    python bench/import_instructions.py --trees /work/base/<start> . --claims 2000
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def child(mode: str, claims: int) -> None:
    """Under valgrind: generate the workload and open a ledger; with ``mode == "import"`` also import it."""
    tree = Path(os.environ["PYTHONPATH"].split(os.pathsep)[0])
    sys.path[:0] = [str(tree), str(tree / "bench")]
    import import_rate  # type: ignore[import-not-found]  # that tree's

    from ledger.application import ClaimsLedger

    workload = import_rate.generate(claims, max(1, claims // 2), 1)
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp:
        ledger = ClaimsLedger.open(f"sqlite:///{tmp}/ledger.db")
        if mode == "import":
            print("events", sum(import_rate.import_file(ledger, doc) for doc in workload.files))
        ledger.close()


def count(tree: Path, mode: str, claims: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__]
    command += ["--child", mode, "--claims", str(claims)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--trees", nargs="+", type=Path, default=[Path(".")])
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--child", choices=["setup", "import"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.claims)
        return 0
    runs = {
        (tree, mode): count(tree.resolve(), mode, args.claims) for tree in args.trees for mode in ("setup", "import")
    }
    results: dict[tuple[Path, str], tuple[int, int]] = {}
    for key, process in runs.items():
        output, _ = process.communicate()
        instructions = re.search(r"Collected : (\d+)", output)
        written = re.search(r"^events (\d+)", output, re.MULTILINE)
        # (valgrind prints its count when the Python child failed too: a failed setup would inflate the result)
        if process.returncode != 0 or instructions is None or (key[1] == "import" and written is None):
            raise SystemExit(f"{key}: the child failed (exit {process.returncode}):\n{output[-2000:]}")
        results[key] = (int(instructions.group(1)), int(written.group(1)) if written else 0)
    print("| tree | events | instructions of the import | per event |")
    print("|---|---:|---:|---:|")
    for tree in args.trees:
        (setup, _), (total, events) = results[(tree, "setup")], results[(tree, "import")]
        print(f"| {tree} | {events:,} | {total - setup:,} | {(total - setup) / events:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
