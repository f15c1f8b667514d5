"""`claims apikey create|list|revoke` and the `serve` arguments (registered by api/cli_serve.py)."""

from __future__ import annotations

import pytest

from api.cli import build_parser, main
from api.readside import ReadSide
from ledger.application import ClaimsLedger


def test_apikey_create_list_revoke(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["--database", database_url, "--as", "cli:tester", "apikey", "create", "--role", "editor", "--name", "desk"]
        )
        == 0
    )
    out, err = capsys.readouterr()
    secret = out.strip()
    assert secret.startswith("clk_") and "only time" in err
    with ClaimsLedger.open(database_url) as ledger:
        size = ledger.ledger_recorder.tree_head().size
    read = ReadSide.open(database_url)
    try:
        from projections.projector import Projector

        projector = Projector(database_url)
        projector.catch_up()
        projector.close()
        assert read.wait_for(size, 10)
        from api.auth import secret_digest

        key = read.model.api_key(secret_digest(secret))
        assert key is not None and key.role == "editor" and not key.revoked
    finally:
        read.close()
    assert main(["--database", database_url, "apikey", "list"]) == 0
    listing = capsys.readouterr().out
    assert "desk" in listing and "editor" in listing and "active" in listing and secret not in listing
    assert main(["--database", database_url, "apikey", "revoke", "desk", "--reason", "rotated"]) == 0
    assert main(["--database", database_url, "apikey", "list"]) == 0
    assert "revoked: rotated" in capsys.readouterr().out
    assert main(["--database", database_url, "apikey", "create", "--role", "editor", "--name", "desk"]) == 2


def test_serve_arguments() -> None:
    args = build_parser().parse_args(["serve", "--port", "9000", "--workers", "2"])
    assert (args.host, args.port, args.workers) == ("127.0.0.1", 9000, 2)
    assert callable(args.func)
