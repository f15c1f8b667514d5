"""What changed in the ledger's record of claims between two record-time instants.

Every claim event (RECORDED, REVISED, RETRACTED, LINKED) is one row of
``rm_claim_versions``: who recorded it, why, the field-level before/after of a
revision, and the claim as that event left it. A window is [start, end) on the
event's record time; rows come in log order, paged by log position.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from projections.db import Connection
from projections.values import equal_conditions, to_us
from projections.views import CLAIM_EVENTS, CLAIM_VERSIONS, ClaimEventView, ClaimView

_EVENT = CLAIM_EVENTS.select("v")
_EVENT_WIDTH = len(CLAIM_EVENTS.names)


@dataclass(frozen=True)
class ChangeFilter:
    start: datetime
    end: datetime | None = None
    actor: str | None = None
    topic: str | None = None
    source: str | None = None  # a source's UUID or key


@dataclass(frozen=True)
class ChangeView:
    event: ClaimEventView
    claim: ClaimView  # the claim as this event left it


def changes(conn: Connection, f: ChangeFilter, after: int, first: int) -> list[ChangeView]:
    """At most ``first`` + 1 changes after log position ``after`` (the extra one says: more)."""
    # A source's revised publication date is not a change of its claims: its SOURCE_REVISED rows have negative
    # positions, which the position bound leaves out (never below 0).
    where = ["v.known_from_us >= ?", "v.position > ?"]
    params: list[Any] = [to_us(f.start), max(after, 0)]
    if f.end is not None:
        where.append("v.known_from_us < ?")
        params.append(to_us(f.end))
    pair, pair_params = equal_conditions("v", actor=f.actor, topic=f.topic)
    where += pair
    params += pair_params
    if f.source is not None:
        try:
            where.append("v.source_id = ?")
            params.append(str(UUID(f.source)))
        except ValueError:
            where[-1] = "v.source_id IN (SELECT s.id FROM rm_sources s WHERE s.key = ?)"
            params.append(f.source)
    rows = conn.execute(
        f"SELECT {_EVENT}, {CLAIM_VERSIONS.select('v')} FROM rm_claim_versions v"
        f" WHERE {' AND '.join(where)} ORDER BY v.position LIMIT ?",
        [*params, first + 1],
    )
    return [ChangeView(CLAIM_EVENTS.view(r[:_EVENT_WIDTH]), CLAIM_VERSIONS.view(r[_EVENT_WIDTH:])) for r in rows]
