"""Read subcommands: ``claims position ACTOR TOPIC`` and ``claims timeline ACTOR TOPIC``.

Actors and topics are taken by key, name, alias or title, resolved like the
GraphQL arguments (``projections/names.py``); an unknown or ambiguous name is an
error naming the closest matches or the candidates (exit status 2), never an
empty answer.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from api.cli_args import url
from api.errors import unresolved
from projections.names import FOUND
from projections.projector import Projector
from projections.queries import ReadModel
from projections.views import ClaimView, StatedDate


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("position", help="where an actor stands on a topic as of a date, and since when")
    _pair_arguments(p)
    p.add_argument("--as-of", type=date.fromisoformat, metavar="YYYY-MM-DD", help="date in the world (default: today)")
    p.set_defaults(func=cmd_position)

    p = subparsers.add_parser("timeline", help="each change of an actor's stance on a topic, oldest first")
    _pair_arguments(p)
    p.set_defaults(func=cmd_timeline)


def _pair_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("actor", help="actor key, name or alias (any case, accents optional)")
    p.add_argument("topic", help="topic key or title")
    p.add_argument(
        "--known-at", type=datetime.fromisoformat, metavar="INSTANT", help="ledger record time (default: now)"
    )
    p.add_argument("--json", action="store_true", help="one JSON object")


def cmd_position(args: argparse.Namespace) -> int:
    with _read_model(args) as model:
        pair = _resolve(model, args)
        if pair is None:
            return 2
        found = model.position(*pair, args.as_of, args.known_at)
    as_of = (args.as_of or date.today()).isoformat()
    if args.json:
        answer = None
        if found is not None:
            answer = {"stance": found.stance, "since": _date(found.since), "claim": _claim(found.claim)}
        print(json.dumps({"actor": pair[0], "topic": pair[1], "asOf": as_of, "position": answer}, ensure_ascii=False))
    elif found is None:
        print(f"{pair[0]} on {pair[1]} as of {as_of}: no claim counts yet")
    else:
        claim = found.claim
        print(f"{pair[0]} on {pair[1]} as of {as_of}: {found.stance} since {found.since.date}")
        print(f"  {claim.key} (stated {claim.stated.date}, counts from {claim.counts_from}): {claim.summary}")
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    with _read_model(args) as model:
        pair = _resolve(model, args)
        if pair is None:
            return 2
        changes = model.timeline(*pair, args.known_at)
    if args.json:
        entries = [
            {"stance": c.stance, "previousStance": c.previous_stance, "since": _date(c.since), "claim": _claim(c.claim)}
            for c in changes
        ]
        print(json.dumps({"actor": pair[0], "topic": pair[1], "timeline": entries}, ensure_ascii=False))
    else:
        for change in changes:
            claim = change.claim
            print(f"{claim.counts_from}  {change.stance:<11} {claim.key} (stated {claim.stated.date})")
    return 0


@contextmanager
def _read_model(args: argparse.Namespace) -> Iterator[ReadModel]:
    """The read model, brought up to date first (the projector's writer lock makes that safe)."""
    database = url(args)
    projector = Projector(database)
    try:
        projector.catch_up()
    finally:
        projector.close()
    model = ReadModel(database, pool_size=1)
    try:
        yield model
    finally:
        model.close()


def _resolve(model: ReadModel, args: argparse.Namespace) -> tuple[str, str] | None:
    actor, topic = model.resolve_names([("actor", args.actor), ("topic", args.topic)])
    for field, resolution in (("actor", actor), ("topic", topic)):
        if resolution.status != FOUND:
            print(f"error: {unresolved(field, resolution).message}", file=sys.stderr)
            return None
    assert actor.key is not None and topic.key is not None
    return actor.key, topic.key


def _date(stated: StatedDate) -> dict[str, Any]:
    return {"date": stated.date, "precision": stated.precision, "note": stated.note}


def _claim(claim: ClaimView) -> dict[str, Any]:
    return {
        "key": claim.key,
        "summary": claim.summary,
        "statedOn": _date(claim.stated),
        "countsFrom": claim.counts_from.isoformat(),
        "countsFromReason": claim.counts_from_reason,
    }
