"""Consistency labels in the terms of PolitiFact's Flip-O-Meter, derived from the read model.

The rule (one place; the SQL below is generated from it):

* Claims of one actor on one topic are taken in the ledger's stance order
  (counts_from, stated.earliest, log position of first recording), as known at
  the asked record time, retracted ones left out. Each claim after the first is
  compared with the claim just before it.
* ``NO_FLIP``: the same stance restated.
* ``FULL_FLOP``: SUPPORTS to OPPOSES, or OPPOSES to SUPPORTS (a complete reversal).
* ``HALF_FLIP``: any other change, i.e. into or out of CONDITIONAL or NEUTRAL
  (SUPPORTS to CONDITIONAL, NEUTRAL to OPPOSES, CONDITIONAL to NEUTRAL, ...).

A flip counts from the later claim's counts_from (the date its stance starts to
count in positions); "every full flop in 2025" filters on that date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from projections.db import Connection
from projections.values import equal_conditions

NO_FLIP = "NO_FLIP"
HALF_FLIP = "HALF_FLIP"
FULL_FLOP = "FULL_FLOP"
REVERSALS = (("SUPPORTS", "OPPOSES"), ("OPPOSES", "SUPPORTS"))


def flip_label(before: str, after: str) -> str:
    if before == after:
        return NO_FLIP
    if (before, after) in REVERSALS:
        return FULL_FLOP
    return HALF_FLIP


def _label_sql(before: str, after: str) -> str:
    reversal = " OR ".join(f"({before} = '{a}' AND {after} = '{b}')" for a, b in REVERSALS)
    return f"CASE WHEN {before} = {after} THEN '{NO_FLIP}' WHEN {reversal} THEN '{FULL_FLOP}' ELSE '{HALF_FLIP}' END"


@dataclass(frozen=True)
class FlipFilter:
    label: str | None = None
    actor: str | None = None
    topic: str | None = None
    start: date | None = None  # the later claim counts from this day or after
    end: date | None = None  # ... up to this day, inclusive


def sequence_sql(known: str, where: Sequence[str]) -> str:
    """Each qualifying claim with the one before it in its pair's stance order, and the label."""
    pair = " AND ".join(["NOT v.retracted", known, *where])
    return f"""
    WITH seq AS (
        SELECT v.position, v.actor, v.topic, v.stance, v.counts_from, v.stated_earliest, v.first_position,
               LAG(v.position) OVER w AS before_position, LAG(v.stance) OVER w AS before_stance
        FROM rm_claim_versions v WHERE {pair}
        WINDOW w AS (PARTITION BY v.actor, v.topic ORDER BY v.counts_from, v.stated_earliest, v.first_position)),
    labelled AS (
        SELECT seq.*, CASE WHEN seq.before_position IS NULL THEN NULL
                           ELSE {_label_sql("seq.before_stance", "seq.stance")} END AS label
        FROM seq)"""


def pair_conditions(f: FlipFilter) -> tuple[list[str], list[Any]]:
    return equal_conditions("v", actor=f.actor, topic=f.topic)


def flips(
    conn: Connection, f: FlipFilter, known: tuple[str, list[Any]], first: int, after: tuple[str, str, int] | None
) -> list[tuple[str, int, int]]:
    """(label, row before, row after) of each labelled change matching ``f``, in stance order of the later
    claim (then actor, topic), at most ``first`` + 1 of them (the extra one says: more). Rows are the
    read model's (``ClaimView.row``), not log positions: a SOURCE_REVISED row's is negative."""
    where, params = pair_conditions(f)
    outer: list[str] = ["before_position IS NOT NULL"]
    outer_params: list[Any] = []
    if f.label is not None:
        outer.append("label = ?")
        outer_params.append(f.label)
    if f.start is not None:
        outer.append("counts_from >= ?")
        outer_params.append(f.start.isoformat())
    if f.end is not None:
        outer.append("counts_from <= ?")
        outer_params.append(f.end.isoformat())
    if after is not None:
        outer.append("(counts_from, stated_earliest, first_position) > (?, ?, ?)")
        outer_params.extend(after)
    sql = sequence_sql(known[0], where) + (
        " SELECT label, before_position, position FROM labelled"
        + f" WHERE {' AND '.join(outer)}"
        + " ORDER BY counts_from, stated_earliest, first_position LIMIT ?"
    )
    rows = conn.execute(sql, [*known[1], *params, *outer_params, first + 1])
    return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]


def summaries(
    conn: Connection, f: FlipFilter, known: tuple[str, list[Any]]
) -> list[tuple[str, str, int, int, int, int]]:
    """Per (actor, topic): (actor, topic, claims, no flips, half flips, full flops), by actor then topic."""
    where, params = pair_conditions(f)
    sql = sequence_sql(known[0], where) + (
        " SELECT actor, topic, COUNT(*),"
        f" SUM(CASE WHEN label = '{NO_FLIP}' THEN 1 ELSE 0 END),"
        f" SUM(CASE WHEN label = '{HALF_FLIP}' THEN 1 ELSE 0 END),"
        f" SUM(CASE WHEN label = '{FULL_FLOP}' THEN 1 ELSE 0 END)"
        " FROM labelled GROUP BY actor, topic ORDER BY actor, topic"
    )
    rows = conn.execute(sql, [*known[1], *params])
    return [(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]

