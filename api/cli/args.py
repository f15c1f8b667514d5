"""Global command-line options shared by every subcommand module."""

from __future__ import annotations

import argparse
import getpass

from ledger.db import database_url


def principal(args: argparse.Namespace) -> str:
    """Who records the events of this command: ``--as NAME``, else ``cli:USER``."""
    return str(getattr(args, "principal", None) or f"cli:{getpass.getuser()}")


def url(args: argparse.Namespace) -> str:
    """The database: ``--database``, else $CLAIMS_DATABASE_URL, else the SQLite default."""
    return database_url(getattr(args, "database", None))
