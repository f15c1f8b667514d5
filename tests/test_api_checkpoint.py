"""Checkpoints served by the API: the server signs as the log grows, GET /checkpoint and GraphQL."""

from __future__ import annotations

import time
from pathlib import Path

from api_support import api_env

from ledger.integrity.checkpoint import Checkpoint, Policy, open_checkpoint, sign
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


def test_the_server_witnesses_another_log_over_http(database_url: str, tmp_path: Path) -> None:
    from ledger.integrity import published
    from ledger.integrity.note import COSIGNATURE_V1

    other_log = Signer.generate("other.test/ledger")
    witness_key = Signer.generate("witness.test/w", COSIGNATURE_V1)
    key_file = tmp_path / "witness.key"
    key_file.write_text(witness_key.skey(), "utf-8")
    settings = {
        "witness_key": str(key_file),
        "witness_logs": (other_log.verifier.vkey(),),
        "witness_state": str(tmp_path / "state.json"),
    }
    with api_env(database_url, **settings) as api:
        # The other ledger's checkpoint (here: this test's ledger, signed with the other log's key).
        recorder = api.ledger.ledger_recorder
        published.issue(recorder, other_log)
        body = published.witness_request(recorder, 0).to_text()
        answer = api.client.post("/witness/add-checkpoint", content=body.encode())
        assert answer.status_code == 200 and answer.text.startswith("— witness.test/w ")
        opened = open_checkpoint(recorder.checkpoint() + answer.text, Policy(other_log.verifier, (witness_key.verifier,), 1))
        assert opened.published
        again = api.client.post("/witness/add-checkpoint", content=body.encode())
        assert again.status_code == 409 and again.headers["content-type"].startswith("text/x.tlog.size")
        assert again.text == f"{api.tree_size()}\n"
        stranger = sign(Checkpoint("stranger.test/ledger", 1, recorder.tree_head().root), Signer.generate("stranger.test/ledger"))
        assert api.client.post("/witness/add-checkpoint", content=f"old 0\n\n{stranger}".encode()).status_code == 404
        forged = sign(Checkpoint("other.test/ledger", 1, recorder.tree_head().root), Signer.generate("other.test/ledger"))
        assert api.client.post("/witness/add-checkpoint", content=f"old 0\n\n{forged}".encode()).status_code == 403
        malformed = api.client.post("/witness/add-checkpoint", content=b"hello")
        assert malformed.status_code == 400


def test_a_server_without_a_witness_key_is_no_witness(database_url: str) -> None:
    with api_env(database_url) as api:
        assert api.client.post("/witness/add-checkpoint", content=b"old 0\n\n").status_code == 404
