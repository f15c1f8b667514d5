"""The projector's row building alone: ``Changes.apply`` over synthetic ``Claim.Recorded`` events.

    PYTHONPATH=. python bench/apply_rows.py

No database: the row writer is a list's ``append``, so this times only the Python that
turns claim events into ``rm_claim_versions`` rows (the rebuild's apply phase without the
COPY), steadier than the whole rebuild on a shared host. Prints the best of 7 runs.
"""

from __future__ import annotations

import copy
import time
import uuid
from datetime import UTC, datetime

from projections import handlers as h

CLAIMS = 10_000
SOURCE = str(uuid.UUID(int=1))
STATED = (("2012-03-04", "DAY"), ("2012-03", "MONTH"), ("2011", "YEAR"))


def content(i: int) -> dict[str, object]:
    day, precision = STATED[i % 3]
    return {
        "actor": "actor-01", "topic": "topic-02", "stance": "SUPPORTS",
        "summary": f"actor-01 on topic-02: supports (claim-{i})", "value": None, "conditions": None,
        "stated": {"date": day, "precision": precision, "approximate": False, "note": None},
        "channel": None, "source": SOURCE,
        "passage": {"start": 1, "end": 50, "exact": "Statement 0 of source", "prefix": "", "suffix": ""},
        "attribution": "DIRECT_QUOTE",
    }  # fmt: skip


def main() -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    events = [
        h.Event(i + 1, str(uuid.UUID(int=i + 2)), 1, h.CLAIM_RECORDED,
                {"timestamp": at, "recorded_by": "bench", "key": f"claim-{i}", "content": content(i)})
        for i in range(CLAIMS)
    ]  # fmt: skip
    best = float("inf")
    for _ in range(7):
        batch = copy.deepcopy(events)  # the handlers edit the decoded content in place
        changes = h.Changes(None, set(), {SOURCE: "2025-12-31"})  # type: ignore[arg-type]  # never queried
        rows: list[object] = []
        started = time.perf_counter()
        changes.apply(batch, rows.append)
        best = min(best, time.perf_counter() - started)
    print(
        f"apply of {CLAIMS:,} claim events without COPY: best {best * 1000:.1f} ms ({best / CLAIMS * 1e6:.2f} us a row)"
    )


if __name__ == "__main__":
    main()
