"""``claims checkpoint ...`` and ``claims witness`` (registered by ``api/cli/main.py``).

checkpoint keygen   a new Ed25519 key: private key to a 0600 file, verifier key printed
checkpoint issue    sign the current tree head and keep it
checkpoint show     print a kept checkpoint (the latest by default)
checkpoint verify   check a saved checkpoint's signatures and prove the log extends it
checkpoint request  the tlog-witness add-checkpoint body for a kept checkpoint
checkpoint cosigned merge a witness's cosignature lines into the kept checkpoint
witness             verify an add-checkpoint request and cosign it (c2sp.org/tlog-witness)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from api.cli.args import url as database_url
from api.cli.progress import progress_bar
from ledger.application import ClaimsLedger
from ledger.errors import BadInput
from ledger.integrity import published
from ledger.integrity.checkpoint import Policy
from ledger.integrity.note import COSIGNATURE_V1, ED25519, Signer, Verifier

KEY_ENV = "CLAIMS_CHECKPOINT_KEY"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("checkpoint", help="signed checkpoints of the log (C2SP tlog-checkpoint)")
    sub = p.add_subparsers(dest="checkpoint_command", required=True, metavar="ACTION")

    k = sub.add_parser("keygen", help="create a signing key; prints the verifier key to publish")
    k.add_argument("--name", required=True, help="the key name = the checkpoints' origin, e.g. claims.example/ledger")
    k.add_argument("--out", required=True, metavar="FILE", help="where to write the private key (created 0600)")
    k.add_argument("--witness", action="store_true", help="a witness's cosigning key (cosignature/v1) instead")
    k.set_defaults(func=cmd_keygen)

    i = sub.add_parser("issue", help="sign the current tree head and keep the checkpoint")
    i.add_argument("--key", metavar="FILE", help=f"the private key file (default: ${KEY_ENV})")
    i.set_defaults(func=cmd_issue)

    s = sub.add_parser("show", help="print a kept checkpoint")
    s.add_argument("--size", type=int, help="the checkpoint of this tree size (default: the latest)")
    s.set_defaults(func=cmd_show)

    v = sub.add_parser("verify", help="check a checkpoint's signatures and prove the log is consistent with it")
    v.add_argument("file", metavar="FILE", help="a checkpoint note saved earlier ('-' for stdin)")
    _policy_arguments(v)
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify)

    r = sub.add_parser("request", help="print the tlog-witness add-checkpoint body for a kept checkpoint")
    r.add_argument(
        "--old", type=int, required=True, metavar="SIZE", help="the size the witness last cosigned (0 at first)"
    )
    r.add_argument("--size", type=int, help="the kept checkpoint of this size (default: the latest)")
    r.set_defaults(func=cmd_request)

    c = sub.add_parser("cosigned", help="add a witness's cosignature lines to the kept checkpoint")
    c.add_argument("file", metavar="FILE", help="the witness's answer: cosignature lines ('-' for stdin)")
    c.add_argument("--size", type=int, help="the kept checkpoint of this size (default: the latest)")
    _policy_arguments(c)
    c.set_defaults(func=cmd_cosigned)

    w = subparsers.add_parser(
        "witness",
        help="cosign another log's checkpoint after checking it extends the last one cosigned (tlog-witness)",
    )
    w.add_argument("request", metavar="FILE", help="an add-checkpoint request body ('-' for stdin)")
    w.add_argument("--key", required=True, metavar="FILE", help="this witness's private key (keygen --witness)")
    w.add_argument("--log", action="append", required=True, metavar="VKEY", help="a log verifier key to trust")
    w.add_argument("--state", required=True, metavar="FILE", help="JSON file of the last checkpoint cosigned per log")
    w.set_defaults(func=cmd_witness)


def _policy_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", required=True, metavar="VKEY", help="the log's verifier key (name+hash+key)")
    p.add_argument("--witness", action="append", default=[], metavar="VKEY", help="a trusted witness (repeatable)")
    p.add_argument("--quorum", type=int, default=None, help="witness cosignatures required (default: all given)")


def _policy(args: argparse.Namespace) -> Policy:
    witnesses = tuple(Verifier.parse(w) for w in args.witness)
    quorum = len(witnesses) if args.quorum is None else args.quorum
    log = Verifier.parse(args.key)
    if log.signature_type != ED25519:
        raise BadInput("key", "the log's verifier key is an Ed25519 (type 0x01) key")
    return Policy(log, witnesses, quorum)


def _read(name: str) -> str:
    return sys.stdin.read() if name == "-" else Path(name).read_text("utf-8")


def read_signer(path: str | None) -> Signer:
    path = path or os.environ.get(KEY_ENV)
    if not path:
        raise BadInput("key", f"give --key FILE or set {KEY_ENV}")
    return Signer.parse(Path(path).read_text("utf-8"))


def cmd_keygen(args: argparse.Namespace) -> int:
    signer = Signer.generate(args.name, COSIGNATURE_V1 if args.witness else ED25519)
    # O_EXCL: never overwrite a key; 0600 from creation, not chmod afterwards.
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(signer.skey() + "\n")
    print(signer.verifier.vkey())
    print(f"private key written to {args.out} (keep it secret; it is never stored in the database)", file=sys.stderr)
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    signer = read_signer(args.key)
    with ClaimsLedger.open(database_url(args)) as ledger:
        print(published.issue(ledger.ledger_recorder, signer), end="")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with ClaimsLedger.open(database_url(args)) as ledger:
        print(published.kept(ledger.ledger_recorder, args.size), end="")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    policy = _policy(args)
    note = _read(args.file)
    with ClaimsLedger.open(database_url(args)) as ledger, progress_bar("verifying") as progress:
        result = published.check(ledger.ledger_recorder, note, policy, progress)
    checkpoint, report = result.opened.checkpoint, result.report
    witnesses = [v.verifier.name for v in result.opened.cosigned_by]
    if args.json:
        print(
            json.dumps(
                {
                    "ok": result.ok,
                    "origin": checkpoint.origin,
                    "tree_size": checkpoint.size,
                    "signature": "verified",
                    "cosigned_by": witnesses,
                    "quorum": policy.quorum,
                    "published": result.opened.published,
                    "log": json.loads(report.to_json()),
                },
                indent=2,
            )
        )
    elif not report.ok:
        print(f"FAILED: {report.problem}", file=sys.stderr)
    elif not result.opened.published:
        print(
            f"FAILED: signature verified, but {len(witnesses)} of the {policy.quorum} witness cosignatures required",
            file=sys.stderr,
        )
    else:
        cosigned = f"; cosigned by {', '.join(witnesses)}" if witnesses else ""
        print(
            f"OK: checkpoint {checkpoint.origin} at {checkpoint.size} events signed by {policy.log.name}{cosigned}; "
            f"the log now holds {report.events} events and is consistent with it (consistency proof verified)"
        )
    return 0 if result.ok else 1


def cmd_request(args: argparse.Namespace) -> int:
    with ClaimsLedger.open(database_url(args)) as ledger:
        print(published.witness_request(ledger.ledger_recorder, args.old, args.size).to_text(), end="")
    return 0


def cmd_cosigned(args: argparse.Namespace) -> int:
    policy = _policy(args)
    with ClaimsLedger.open(database_url(args)) as ledger:
        opened = published.add_cosignatures(ledger.ledger_recorder, _read(args.file), policy, args.size)
    names = ", ".join(v.verifier.name for v in opened.cosigned_by) or "nobody"
    state = "published" if opened.published else f"not yet published (quorum {policy.quorum})"
    print(f"checkpoint at {opened.checkpoint.size} events cosigned by {names}: {state}")
    return 0


def cmd_witness(args: argparse.Namespace) -> int:
    from api.witness import Witness

    found = Witness(read_signer(args.key), [Verifier.parse(v) for v in args.log], args.state)
    answer = found.add_checkpoint(_read(args.request))
    if answer.status != 200:
        print(f"refused ({answer.status}): {answer.reason or answer.body.strip()}", file=sys.stderr)
        return 1
    print(answer.body, end="")
    return 0
