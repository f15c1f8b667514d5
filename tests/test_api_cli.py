"""`claims apikey create|list|revoke` and the `serve` arguments (registered by api/cli/serve.py)."""

from __future__ import annotations

import pytest
from api_support import catch_up

from api.cli.main import build_parser, main
from projections.queries import ReadModel


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
    read_model = ReadModel(database_url)
    try:
        catch_up(database_url)
        [key] = read_model.api_keys()
        assert (key.name, key.role, key.created_by, key.revoked) == ("desk", "editor", "cli:tester", False)
    finally:
        read_model.close()
    assert main(["--database", database_url, "apikey", "list"]) == 0
    listing, err = capsys.readouterr()
    assert "desk" in listing and "editor" in listing and "active" in listing and secret not in listing
    assert "by cli:tester" in listing and not err
    assert main(["--database", database_url, "apikey", "revoke", "desk", "--reason", "rotated"]) == 0
    capsys.readouterr()
    # The list reads the read model: until it is projected, the revocation shows with a warning that it lags.
    assert main(["--database", database_url, "apikey", "list"]) == 0
    listing, err = capsys.readouterr()
    assert "active" in listing and "reflects the ledger up to event" in err
    catch_up(database_url)
    assert main(["--database", database_url, "apikey", "list"]) == 0
    listing, err = capsys.readouterr()
    assert "revoked: rotated" in listing and not err
    assert main(["--database", database_url, "apikey", "create", "--role", "editor", "--name", "desk"]) == 2


def test_serve_arguments() -> None:
    args = build_parser().parse_args(["serve", "--port", "9000", "--workers", "2"])
    assert (args.host, args.port, args.workers) == ("127.0.0.1", 9000, 2)
    assert callable(args.func)
