"""Read subcommands: ``claims position ACTOR TOPIC`` and ``claims timeline ACTOR TOPIC``; their
``read_model_of`` is also how ``claims apikey list`` and ``claims export`` read.

Actors and topics are taken by key, name, alias or title, resolved like the
GraphQL arguments (``projections/names.py``); an unknown or ambiguous name is an
error naming the closest matches or the candidates (exit status 2), never an
empty answer.

Read commands only read: they never project, rebuild or create the read model
(like ``claims log``, which reads the ledger). A missing read model, or one of
another schema version, is an error (run ``claims project``); one that lags the
ledger answers as of what it reflects, with a warning naming both positions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from api.cli.args import url
from api.errors import ApiError
from api.names import resolve_keys_now
from projections.queries import ReadModel, ReadModelUnavailable
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
    with pair_of(args) as opened:
        if isinstance(opened, int):
            return opened
        read_model, pair = opened
        found = read_model.position(*pair, args.as_of, args.known_at)
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
    with pair_of(args) as opened:
        if isinstance(opened, int):
            return opened
        read_model, pair = opened
        changes = read_model.timeline(*pair, args.known_at)
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
def read_model_of(args: argparse.Namespace) -> Iterator[ReadModel | None]:
    """The read model as it is (None after printing why there is none to read)."""
    database = url(args)
    try:
        read_model = ReadModel(database, pool_size=1, create=False)
    except ReadModelUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        yield None
        return
    try:
        logged = read_model.tree_size()
        projected = read_model.projected_position()
        if projected < logged:
            print(
                f"warning: the read model reflects the ledger up to event {projected} of {logged}; the answer"
                " leaves out the rest (run `claims project`, or wait for a running projector)",
                file=sys.stderr,
            )
        yield read_model
    finally:
        read_model.close()


@contextmanager
def pair_of(args: argparse.Namespace) -> Iterator[tuple[ReadModel, tuple[str, str]] | int]:
    """The read model and the (actor, topic) keys the arguments name, or the exit code after printing why
    not (1: no read model, 2: a name that resolves to nothing)."""
    with read_model_of(args) as read_model:
        if read_model is None:
            yield 1
            return
        pair = _resolve(read_model, args)
        yield 2 if pair is None else (read_model, pair)


def _resolve(read_model: ReadModel, args: argparse.Namespace) -> tuple[str, str] | None:
    try:
        refs = ("actor", "actor", args.actor), ("topic", "topic", args.topic)
        actor, topic = resolve_keys_now(read_model, *refs, at=args.known_at)  # names known then (api/names.py)
    except ApiError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return None
    assert actor is not None and topic is not None
    return actor, topic


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
