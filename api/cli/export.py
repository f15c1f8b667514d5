"""``claims export --format F``: the claims or positions in an interchange format (``api/exports.py``)."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from typing import Any

from api.cli.read import read_model_of
from api.errors import unresolved
from api.exports import FORMATS, Request, stream
from ledger.domain import source_id as source_uuid
from projections.names import FOUND
from projections.views import ClaimFilter


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export",
        help="write claims or positions as JSON-LD (schema.org, Web Annotation), CSV, JSON Lines or Wikidata statements",
    )
    p.add_argument("--format", required=True, choices=sorted(FORMATS))
    p.add_argument("--as-of", type=date.fromisoformat, metavar="YYYY-MM-DD", help="claims counting by this date")
    p.add_argument("--known-at", type=datetime.fromisoformat, metavar="INSTANT", help="ledger record time")
    p.add_argument("--actor", help="only this actor (key, name or alias)")
    p.add_argument("--topic", help="only this topic (key or title)")
    p.add_argument("--source", metavar="SHA256", help="only claims taken from this source (its content hash)")
    p.add_argument("--include-retracted", action="store_true", help="also retracted records (wikidata always has them)")
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    with read_model_of(args) as read_model:
        if read_model is None:
            return 1
        keys: dict[str, str | None] = {"actor": None, "topic": None}
        asked = [(kind, getattr(args, kind)) for kind in keys if getattr(args, kind)]
        for (kind, _), resolution in zip(asked, read_model.resolve_names(asked), strict=True):
            if resolution.status != FOUND:
                print(f"error: {unresolved(kind, resolution).message}", file=sys.stderr)
                return 2
            keys[kind] = resolution.key
        wanted = ClaimFilter(
            actor=keys["actor"],
            topic=keys["topic"],
            source_id=source_uuid(args.source) if args.source else None,
            include_retracted=args.include_retracted,
        )
        _, chunks = stream(read_model, Request(args.format, wanted, args.as_of, args.known_at))
        out = open(args.out, "w", encoding="utf-8", newline="") if args.out else sys.stdout  # noqa: SIM115
        try:
            for chunk in chunks:
                out.write(chunk)
        finally:
            if args.out:
                out.close()
    return 0
