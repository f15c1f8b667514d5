"""The ``claims`` command line: an entrypoint that only translates arguments.

Ledger commands live here; the read side and the server register their own
subcommands (``api/cli/projections.py``, ``api/cli/serve.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import claims_demo
from api.cli.args import principal
from api.cli.progress import progress_bar
from ledger.application import ClaimsLedger, claim_ref
from ledger.db import DEFAULT_DATABASE_URL
from ledger.errors import DatabaseUnavailable, LedgerError
from ledger.importer import import_file
from ledger.integrity.verify import Digest, current_digest, verify


def cmd_import(args: argparse.Namespace) -> int:
    with ClaimsLedger.open(args.database) as ledger:
        for name in args.files:
            with progress_bar(f"importing {name}") as progress:
                result = import_file(
                    ledger, Path(name), principal(args), progress, accept_unreviewed=args.accept_unreviewed
                )
            created = ", ".join(f"{n} {k}" for k, n in sorted(result.created.items())) or "nothing new"
            print(f"{name}: {result.events} events written ({created}; {result.unchanged} records unchanged)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Load the shipped seed corpus (idempotent: a second run writes nothing)."""
    try:
        seeds = claims_demo.seeds_folder()
    except claims_demo.SeedsMissing as error:
        print(f"error: {error}", file=sys.stderr)
        return 3  # distinct: scripts/serve goes on without the demo
    with claims_demo.staged(seeds) as folder, ClaimsLedger.open(args.database) as ledger:
        total = 0
        for name in claims_demo.DEMO_FILES:
            result = import_file(ledger, folder / name, "demo-loader")
            total += result.events
        print(f"demo corpus: {total} events written" if total else "demo corpus: already loaded, nothing written")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    with ClaimsLedger.open(args.database) as ledger:
        recorder = ledger.ledger_recorder
        aggregate = claim_ref(args.aggregate) if args.aggregate else None
        events = recorder.read_log(args.after, args.limit, aggregate)
        for event in events:
            payload: dict[str, Any] = ledger.mapper.transcoder.decode(event.state)
            row = {
                "position": event.position,
                "type": event.topic.split(":", 1)[-1],
                "aggregate": str(event.originator_id),
                "version": event.originator_version,
                "recorded_at": payload.pop("timestamp").isoformat(),
                "recorded_by": payload.pop("recorded_by", None),
                "leaf_hash": event.leaf_hash.hex(),
            }
            if args.json:
                row["payload"] = {k: v for k, v in payload.items() if k not in ("originator_id", "originator_version")}
                print(json.dumps(row, default=str, ensure_ascii=False))
            else:
                print(
                    f"{row['position']:>7}  {row['recorded_at'][:23]}  {row['type']:<22} "
                    f"{row['aggregate']} v{row['version']}  by {row['recorded_by']}"
                )
        if events and len(events) == args.limit and not args.json:
            print(f"-- more: claims log --after {events[-1].position}", file=sys.stderr)
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    with ClaimsLedger.open(args.database) as ledger:
        print(current_digest(ledger.ledger_recorder).to_json())
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    saved = Digest.from_json(Path(args.digest).read_text("utf-8")) if args.digest else None
    with ClaimsLedger.open(args.database) as ledger, progress_bar("verifying") as progress:
        report = verify(ledger.ledger_recorder, saved, progress)
    if args.json:
        print(report.to_json())
    elif report.ok:
        extension = ""
        if saved is not None:
            extension = (
                f"; append-only extension of the saved digest at {saved.tree_size} events (consistency proof verified)"
            )
        print(f"OK: {report.events} events, root {report.root_hash.hex()}{extension}")
    else:
        print(f"FAILED: {report.problem}", file=sys.stderr)
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claims", description="An event-sourced, verifiable ledger of claims.")
    parser.add_argument(
        "--database", metavar="URL", default=None,
        help=f"sqlite:///PATH or postgresql://user:pass@host:port/db (default: $CLAIMS_DATABASE_URL or {DEFAULT_DATABASE_URL})",
    )  # fmt: skip
    parser.add_argument("--as", dest="principal", metavar="NAME", help="who records the events (default: cli:USER)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("import", help="import curated records from YAML/JSON files (see ledger/schema)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument(
        "--accept-unreviewed", action="store_true",
        help="accept candidates of a `claims extract` draft still marked review: pending, as they stand",
    )  # fmt: skip
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("demo", help="load the shipped seed corpus (idempotent)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("log", help="the raw event log, oldest first")
    p.add_argument("--after", type=int, default=0, metavar="POSITION", help="show events after this position")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--aggregate", metavar="ID|CLAIM-KEY", help="only the events of one aggregate")
    p.add_argument("--json", action="store_true", help="one JSON object per line, with payloads")
    p.set_defaults(func=cmd_log)

    p = sub.add_parser("digest", help="print the current tree size and root hash as JSON (keep it elsewhere)")
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser("verify", help="recompute the Merkle tree from the stored events")
    p.add_argument("--digest", metavar="FILE", help="also prove the ledger extends this saved digest")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)

    for register in _extensions():
        register(sub)
    return parser


def _extensions() -> list[Callable[[Any], None]]:
    from api.cli import checkpoint, export, extract, projections, read, serve

    return [
        projections.register,
        read.register,
        serve.register,
        checkpoint.register,
        export.register,
        extract.register,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except LedgerError as error:
        reason = f" ({error.reason})" if isinstance(error, DatabaseUnavailable) else ""
        print(f"error: {error}{reason}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
