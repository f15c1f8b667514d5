"""Checkpoints served by the API: the server signs as the log grows, GET /checkpoint and GraphQL."""

from __future__ import annotations

import time
from pathlib import Path

from api_support import api_env

from ledger.integrity.checkpoint import Policy, open_checkpoint
from ledger.integrity.note import Signer


def _wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met before the deadline")


def test_the_server_signs_checkpoints_and_serves_the_latest(database_url: str, tmp_path: Path) -> None:
    signer = Signer.generate("claims.test/api")
    key_file = tmp_path / "log.key"
    key_file.write_text(signer.skey(), "utf-8")
    # Every 2 events, or after 3600 s: the count rule is what triggers here.
    with api_env(database_url, checkpoint_key=str(key_file), checkpoint_events=2, checkpoint_seconds=3600) as api:
        recorder = api.ledger.ledger_recorder
        size = api.tree_size()
        _wait_for(lambda: recorder.checkpoint_sizes()[-1:] == [size])
        response = api.client.get("/checkpoint")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        opened = open_checkpoint(response.text, Policy(signer.verifier))
        assert opened.checkpoint.size == size and opened.checkpoint.root == recorder.tree_head().root

        data = api.gql.data("{ checkpoint { note origin treeSize rootHash signatures { keyName keyId } } }")
        assert data["checkpoint"]["note"] == response.text
        assert data["checkpoint"]["treeSize"] == size and data["checkpoint"]["origin"] == "claims.test/api"
        assert data["checkpoint"]["signatures"] == [{"keyName": "claims.test/api", "keyId": f"{signer.verifier.key_id:08x}"}]
        missing = api.gql("{ checkpoint(treeSize: 1) { note } }")
        assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"

        # One more event is below the count and the time rule: no new checkpoint...
        api.ledger.revoke_api_key("reader-key", "rotated", "test:setup")
        api.ledger.revoke_api_key("editor-key", "rotated", "test:setup")
        _wait_for(lambda: recorder.checkpoint_sizes()[-1] == size + 2)
        assert size + 1 not in recorder.checkpoint_sizes()
        assert open_checkpoint(api.client.get("/checkpoint").text, Policy(signer.verifier)).checkpoint.size == size + 2


def test_events_that_wait_long_enough_get_a_checkpoint(database_url: str, tmp_path: Path) -> None:
    signer = Signer.generate("claims.test/api")
    key_file = tmp_path / "log.key"
    key_file.write_text(signer.skey(), "utf-8")
    with api_env(database_url, checkpoint_key=str(key_file), checkpoint_events=1000, checkpoint_seconds=0.2) as api:
        recorder = api.ledger.ledger_recorder
        _wait_for(lambda: recorder.checkpoint_sizes()[-1:] == [api.tree_size()])
        api.ledger.revoke_api_key("reader-key", "rotated", "test:setup")  # 1 event, far below the count rule
        _wait_for(lambda: recorder.checkpoint_sizes()[-1:] == [api.tree_size()])


def test_no_checkpoint_yet_is_a_404(database_url: str) -> None:
    with api_env(database_url) as api:
        response = api.client.get("/checkpoint")
        assert response.status_code == 404 and "no checkpoint" in response.text
