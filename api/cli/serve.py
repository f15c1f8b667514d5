"""``claims serve`` and ``claims apikey create|revoke|list`` (registered by ``api/cli/main.py``)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from api.cli.args import principal
from api.cli.args import url as database_url
from api.cli.read import read_model_of
from api.settings import PROJECTOR_EMBEDDED, PROJECTOR_EXTERNAL, Settings
from ledger.application import API_ROLES, ClaimsLedger


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve the GraphQL API (and GraphiQL) over HTTP",
        description="Serve the GraphQL API with uvicorn. With the embedded default (CLAIMS_PROJECTOR unset) the "
        "projector runs in this process; with CLAIMS_PROJECTOR=external run `claims project --follow` separately "
        "(PostgreSQL deployments). Configuration: CLAIMS_* environment variables (see api/README.md).",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="API processes (they share the database)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=cmd_serve)

    p = subparsers.add_parser("apikey", help="create, revoke or list API keys")
    keys = p.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")
    c = keys.add_parser("create", help="create a key; its secret is printed once and stored only as a hash")
    c.add_argument("--name", required=True, help="the key's name, recorded on every event written with it")
    c.add_argument("--role", required=True, choices=API_ROLES, help="reader < editor (may write) < admin")
    c.set_defaults(func=cmd_apikey_create)
    r = keys.add_parser("revoke", help="revoke a key (writes refused at once; reads within CLAIMS_KEY_CACHE_SECONDS)")
    r.add_argument("name")
    r.add_argument("--reason", required=True)
    r.set_defaults(func=cmd_apikey_revoke)
    ls = keys.add_parser("list", help="list keys with their role and state (never their secrets)")
    ls.set_defaults(func=cmd_apikey_list)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    url = database_url(args)
    os.environ["CLAIMS_DATABASE_URL"] = url  # worker processes read their settings from the environment
    settings = Settings.from_env()  # fail here, with the variable's name, on a bad setting
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    projector = None
    if settings.projector == PROJECTOR_EMBEDDED and args.workers > 1:
        # One projector for all workers: run it here, in the supervising process.
        from projections.runner import start_in_process

        projector = start_in_process(url)
        os.environ["CLAIMS_PROJECTOR"] = PROJECTOR_EXTERNAL
    try:
        uvicorn.run(
            "api.web.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            timeout_graceful_shutdown=5,
            server_header=False,
            http="api.web.server:HttpTools",  # uvicorn's httptools protocol, each response in one write
        )
    finally:
        if projector is not None:
            projector.stop()
    return 0


def cmd_apikey_create(args: argparse.Namespace) -> int:
    with ClaimsLedger.open(database_url(args)) as ledger:
        secret = ledger.issue_api_key(args.name, args.role, principal(args))
    print(secret)
    print(
        f"API key {args.name!r} ({args.role}) created. This is the only time the key is shown: store it now. "
        "Send it as 'Authorization: Bearer KEY'.",
        file=sys.stderr,
    )
    return 0


def cmd_apikey_revoke(args: argparse.Namespace) -> int:
    with ClaimsLedger.open(database_url(args)) as ledger:
        ledger.revoke_api_key(args.name, args.reason, principal(args))
    print(f"API key {args.name!r} revoked")
    return 0


def cmd_apikey_list(args: argparse.Namespace) -> int:
    """Keys as the read model has them (warns when it lags the ledger, like the other read commands)."""
    with read_model_of(args) as read_model:
        if read_model is None:
            return 1
        keys = read_model.api_keys()
    if not keys:
        print("no API keys (create one with: claims apikey create --role editor --name NAME)")
    for key in keys:
        state = f"revoked: {key.revoked_reason}" if key.revoked else "active"
        created = key.created_at.isoformat(timespec="seconds")
        print(f"{key.name:<30} {key.role:<7} created {created} by {key.created_by}  {state}")
    return 0
