"""An upgrade across a read-model schema change, timed, with readers watching the model meanwhile.

On a projected ledger in ``--url`` (a copy of your own: the model is rebuilt), marks the model as of
another schema version (as an older version left it), then runs this tree's projector, as a new
version's ``claims project`` would, while two readers ask over and over:

* an old-version reader (plain SQL on the live tables: how many claim versions, the tracked position),
  which should see the model whole throughout (``partial`` counts the reads that saw fewer rows);
* a new-version reader (``ReadModel``, this tree's code): its answers, and the reads it refused
  (``READ_MODEL_UPGRADING``, on trees that have it).

Prints the upgrade's wall time and what each reader saw. Run it against each tree in turn, e.g.
``PYTHONPATH=TREE python bench/upgrade.py --url postgresql://.../copy``.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from typing import Any

from projections import schema
from projections.db import connect
from projections.projector import Projector
from projections.queries import ReadModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a projected ledger of your own (its model is rebuilt)")
    args = parser.parse_args()

    conn = connect(args.url)
    with conn.write_transaction():
        conn.execute("UPDATE rm_meta SET value = 'an-older-version' WHERE name = 'schema_version'")
    whole = int(conn.execute("SELECT count(*) FROM rm_claim_versions")[0][0])
    pair = conn.execute("SELECT actor, topic FROM rm_pairs LIMIT 1")[0]
    conn.close()

    done = threading.Event()
    old: dict[str, Any] = {"reads": 0, "partial": 0, "fewest": whole}
    new: dict[str, Any] = {"answers": Counter(), "upgrading": 0, "errors": 0, "first_answer": None}
    started = time.perf_counter()

    def old_reader() -> None:
        reader = connect(args.url)
        try:
            while not done.is_set():
                rows = int(reader.execute("SELECT count(*) FROM rm_claim_versions")[0][0])
                old["reads"] += 1
                old["partial"] += rows < whole
                old["fewest"] = min(old["fewest"], rows)
        finally:
            reader.close()

    def new_reader() -> None:
        model = ReadModel(args.url)
        try:
            while not done.is_set():
                try:
                    answer = summary(model.position(pair[0], pair[1], None, None))
                except Exception as error:
                    new["upgrading" if type(error).__name__ == "ReadModelUpgrading" else "errors"] += 1
                    continue
                new["answers"][answer] += 1
                if new["first_answer"] is None:
                    new["first_answer"] = time.perf_counter() - started
        finally:
            model.close()

    readers = [threading.Thread(target=old_reader), threading.Thread(target=new_reader)]
    for thread in readers:
        thread.start()
    projector = Projector(args.url)
    try:
        events = projector.catch_up()
        seconds = time.perf_counter() - started
    finally:
        projector.close()
        done.set()
        for thread in readers:
            thread.join()
    first = new["first_answer"]
    final = ReadModel(args.url)
    try:
        right = summary(final.position(pair[0], pair[1], None, None))
    finally:
        final.close()
    answers: Counter[str] = new["answers"]
    wrong = sum(n for answer, n in answers.items() if answer != right)
    print(
        f"upgrade: {events:,} events in {seconds:.1f} s (schema now {schema.SCHEMA_VERSION}); old-version reader: "
        f"{old['reads']} reads, {old['partial']} partial (fewest rows {old['fewest']:,} of {whole:,}); "
        f"new-version reader: {new['upgrading']} refused as upgrading, {new['errors']} other errors, "
        f"{sum(answers.values())} answers ({wrong} not the upgraded model's), the first at"
        f" {first if first is None else round(first, 1)} s"
    )


def summary(position: Any) -> str:
    """What a position answer says (its stance, since which claim, by which claim version)."""
    if position is None:
        return "none"
    return f"{position.stance} since {position.since_claim_id} by {position.claim.key} v{position.claim.version}"


if __name__ == "__main__":
    main()
