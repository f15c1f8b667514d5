#!/usr/bin/env python
"""More kill -9 trials and fuzzed documents than the suite runs (both stores, private PostgreSQL).

    python bench/faults.py                       # 20 kill trials per kind and store, 2,000 fuzzed documents
    python bench/faults.py --trials 5 --examples 300

Runs ``tests/test_faults.py`` (``claims import`` and the projector killed at random
points: all-or-nothing imports, ``claims verify`` OK, a resumed projector equal to a
rebuild) with ``CLAIMS_FAULT_TRIALS`` and ``tests/test_fuzz.py`` (hypothesis-graphql
documents against the app) with ``CLAIMS_FUZZ_EXAMPLES``; exits with pytest's status.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20, help="kill trials per test and store")
    parser.add_argument("--examples", type=int, default=2000, help="fuzzed documents per store")
    args = parser.parse_args(argv)
    env = {**os.environ, "CLAIMS_FAULT_TRIALS": str(args.trials), "CLAIMS_FUZZ_EXAMPLES": str(args.examples)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_faults.py",
        "tests/test_fuzz.py",
    ]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
