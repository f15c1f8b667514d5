"""Signed checkpoints (C2SP tlog-checkpoint / signed-note), cosignatures and the witness rule."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_support import claim, raw_sql, seed_world

from api.cli.main import main
from ledger import commands as c
from ledger.application import ClaimsLedger
from ledger.integrity import merkle, published
from ledger.integrity.checkpoint import (
    Checkpoint,
    Policy,
    WitnessRefusal,
    WitnessRequest,
    open_checkpoint,
    sign,
    witness,
)
from ledger.integrity.note import COSIGNATURE_V1, NoteError, Signer, Verifier, open_note, parse
from ledger.integrity.verify import verify
from ledger.persistence import STORED_NODE_LEVEL, leaf_data

# --- vectors written by hand from the specifications' text ------------------------------------------
# The signed-note example key and note of the Go reference implementation (golang.org/x/mod/sumdb/note),
# which c2sp.org/signed-note standardises: Ed25519 is deterministic, so signing must reproduce it exactly.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = b"If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIGNATURE = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
# c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature examples.
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
SPEC_COSIGNATURE_TIME = 1679315147  # the "time" line of tlog-cosignature's signed message example


def test_the_reference_key_parses_and_its_id_is_the_spec_hash() -> None:
    verifier = Verifier.parse(GO_VKEY)
    assert verifier.name == "PeterNeumann" and verifier.signature_type == 0x01
    assert f"{verifier.key_id:08x}" == "c74f20a3"  # SHA-256(name || 0x0A || 0x01 || key)[:4]
    assert verifier.vkey() == GO_VKEY
    signer = Signer.parse(GO_SKEY)
    assert signer.verifier == verifier and signer.skey() == GO_SKEY


def test_signing_reproduces_the_reference_note_byte_for_byte() -> None:
    assert Signer.parse(GO_SKEY).sign(GO_TEXT) == GO_SIGNATURE
    note, verified = open_note(GO_TEXT.decode() + "\n" + GO_SIGNATURE, [Verifier.parse(GO_VKEY)])
    assert note.text == GO_TEXT and [v.verifier.name for v in verified] == ["PeterNeumann"]


def test_a_changed_text_or_a_mangled_key_is_refused() -> None:
    changed = GO_TEXT.decode().replace("cryptography", "cryptographY") + "\n" + GO_SIGNATURE
    with pytest.raises(NoteError, match="does not verify"):
        open_note(changed, [Verifier.parse(GO_VKEY)])
    with pytest.raises(NoteError, match="key ID does not match"):
        Verifier.parse(GO_VKEY.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note(GO_TEXT.decode() + "\n" + GO_SIGNATURE, [Signer.generate("PeterNeumann").verifier])


def test_the_spec_checkpoint_and_cosignature_examples_parse() -> None:
    note = parse(SPEC_CHECKPOINT)
    checkpoint = Checkpoint.from_text(note.text)
    assert checkpoint.origin == "example.com/behind-the-sofa" and checkpoint.size == 20852163
    assert checkpoint.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.text() == note.text  # the body re-serialises to the same bytes
    log, cosignature = note.signatures
    assert log.name == "example.com/behind-the-sofa" and len(log.signature) == 64
    # A cosignature is key ID, then an 8-byte big-endian timestamp, then the Ed25519 signature.
    assert cosignature.name == "witness.example.com/w1" and len(cosignature.signature) == 8 + 64
    assert int.from_bytes(cosignature.signature[:8], "big") == SPEC_COSIGNATURE_TIME


def test_a_cosignature_signs_the_header_time_and_body() -> None:
    witness_key = Signer.generate("witness.example/w1", COSIGNATURE_V1)
    text = parse(SPEC_CHECKPOINT).text
    line = witness_key.sign(text, SPEC_COSIGNATURE_TIME)
    raw = base64.b64decode(line.split(" ")[-1])
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    message = b"cosignature/v1\ntime 1679315147\n" + text
    Ed25519PublicKey.from_public_bytes(witness_key.verifier.public_key).verify(raw[12:], message)
    assert raw[4:12] == SPEC_COSIGNATURE_TIME.to_bytes(8, "big")


# --- checkpoints of a real ledger, on both stores ----------------------------------------------------


@pytest.fixture
def ledger(database_url: str) -> Iterator[ClaimsLedger]:
    with ClaimsLedger.open(database_url) as app:
        seed_world(app)
        for i in range(4):
            with app.batch("tester") as batch:
                for j in range(5):
                    stance = "OPPOSES" if (i + j) % 2 else "SUPPORTS"
                    batch.record_claim(c.parse_claim(claim(key=f"claim-{i}-{j}", summary=f"C {i}/{j}", stance=stance)))
        yield app


def _grow(app: ClaimsLedger, tag: str, n: int = 3) -> None:
    with app.batch("tester") as batch:
        for j in range(n):
            batch.record_claim(c.parse_claim(claim(key=f"later-{tag}-{j}", summary=f"Later {tag}")))


LOG = Signer.generate("claims.test/ledger")


def test_a_checkpoint_round_trip(ledger: ClaimsLedger) -> None:
    recorder = ledger.ledger_recorder
    note = published.issue(recorder, LOG)
    assert recorder.checkpoint() == note and published.issue(recorder, LOG) == note  # kept, not re-signed
    head = recorder.tree_head()
    lines = note.split("\n")
    assert lines[:4] == ["claims.test/ledger", str(head.size), base64.b64encode(head.root).decode(), ""]
    assert lines[4].startswith("— claims.test/ledger ") and note.endswith("\n")
    opened = open_checkpoint(note, Policy(LOG.verifier))
    assert opened.checkpoint.size == head.size and opened.published
    _grow(ledger, "a")
    result = published.check(recorder, note, Policy(LOG.verifier))
    assert result.ok and result.report.events == head.size + 3
    assert result.report.consistency_proof is not None
    later = published.issue(recorder, LOG)
    assert recorder.checkpoint_sizes() == [head.size, head.size + 3] and recorder.checkpoint() == later


def test_a_signature_over_a_different_root_fails(ledger: ClaimsLedger) -> None:
    note = published.issue(ledger.ledger_recorder, LOG)
    other_root = base64.b64encode(merkle.leaf_hash(b"another history")).decode()
    forged = note.replace(note.split("\n")[2], other_root)
    with pytest.raises(NoteError, match="does not verify"):
        open_checkpoint(forged, Policy(LOG.verifier))
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_checkpoint(note, Policy(Signer.generate("claims.test/ledger").verifier))


def _rebuild_tree(database_url: str, leaves: list[bytes]) -> None:
    """Rewrite every tree node and head so the store agrees with itself again."""
    raw_sql(database_url, "DELETE FROM ledger_tree_nodes")
    raw_sql(database_url, "DELETE FROM ledger_tree_heads")
    frontier = merkle.Frontier()
    for leaf in leaves:
        for level, index, node in frontier.append(leaf):
            if level >= STORED_NODE_LEVEL:
                raw_sql(
                    database_url, 'INSERT INTO ledger_tree_nodes (level, "index", hash) VALUES (%s, %s, %s)',
                    (level, index, node),
                )  # fmt: skip
    raw_sql(
        database_url, "INSERT INTO ledger_tree_heads (size, root, peaks) VALUES (%s, %s, %s)",
        (frontier.size, frontier.root(), frontier.to_bytes()),
    )  # fmt: skip


def test_a_consistently_rewritten_history_is_caught_by_a_signed_checkpoint(
    ledger: ClaimsLedger, database_url: str
) -> None:
    recorder = ledger.ledger_recorder
    note = published.issue(recorder, LOG)
    _grow(ledger, "b")
    # Flip one claim's stance and recompute its leaf, every node and every head: the store agrees with itself.
    event = next(e for e in recorder.iter_log() if b"OPPOSES" in e.state)
    forged = event.state.replace(b"OPPOSES", b"SUPPORTS")
    leaf = merkle.leaf_hash(
        leaf_data(event.position, event.originator_id, event.originator_version, event.topic, forged)
    )
    raw_sql(database_url, "UPDATE ledger_events SET state = %s, leaf_hash = %s WHERE position = %s",
            (forged, leaf, event.position))  # fmt: skip
    _rebuild_tree(database_url, [e.leaf_hash for e in recorder.iter_log()])
    assert verify(recorder).ok  # the store alone cannot tell...
    result = published.check(recorder, note, Policy(LOG.verifier))
    assert not result.ok  # ...the signed checkpoint can
    assert "rewritten" in (result.report.problem or "")


def test_witnesses_cosign_and_a_quorum_publishes(ledger: ClaimsLedger) -> None:
    recorder = ledger.ledger_recorder
    w1, w2 = (Signer.generate(f"witness.test/w{i}", COSIGNATURE_V1) for i in (1, 2))
    policy = Policy(LOG.verifier, (w1.verifier, w2.verifier), quorum=2)
    note = published.issue(recorder, LOG)
    first = published.witness_request(recorder, 0)
    assert not open_checkpoint(note, policy).published
    seen1, line1 = witness(WitnessRequest.parse(first.to_text()), [LOG.verifier], None, w1, 1_700_000_000)
    assert not published.add_cosignatures(recorder, line1, policy).published  # 1 of 2
    _, line2 = witness(first, [LOG.verifier], None, w2, 1_700_000_001)
    opened = published.add_cosignatures(recorder, line2, policy)
    assert opened.published and {v.verifier.name for v in opened.cosigned_by} == {"witness.test/w1", "witness.test/w2"}
    assert {v.timestamp for v in opened.cosigned_by} == {1_700_000_000, 1_700_000_001}
    kept = recorder.checkpoint()
    assert kept is not None and kept.startswith(note) and kept.count("\n— ") == 3 - 1 + 1

    # The log grows: the witness checks the consistency proof from what it cosigned before.
    _grow(ledger, "c")
    published.issue(recorder, LOG)
    request = published.witness_request(recorder, seen1.size)
    assert request.proof  # a real proof, not the empty one of size 0
    seen1b, _ = witness(request, [LOG.verifier], seen1, w1, 1_700_000_100)
    assert seen1b.size == seen1.size + 3

    with pytest.raises(WitnessRefusal) as stale:  # old size is not what the witness last cosigned
        witness(request, [LOG.verifier], seen1b, w1, 1_700_000_200)
    assert stale.value.status == 409 and stale.value.latest_size == seen1b.size
    bad_proof = WitnessRequest(request.old_size, tuple(reversed(request.proof)), request.checkpoint_note)
    with pytest.raises(WitnessRefusal) as unproven:
        witness(bad_proof, [LOG.verifier], seen1, w1, 1_700_000_200)
    assert unproven.value.status == 422
    with pytest.raises(WitnessRefusal) as unknown:
        witness(request, [Signer.generate("other.test/log").verifier], seen1, w1, 1_700_000_200)
    assert unknown.value.status == 404
    with pytest.raises(WitnessRefusal) as untrusted:
        witness(request, [Signer.generate("claims.test/ledger").verifier], seen1, w1, 1_700_000_200)
    assert untrusted.value.status == 403


def test_a_witness_refuses_a_fork(ledger: ClaimsLedger) -> None:
    recorder = ledger.ledger_recorder
    w1 = Signer.generate("witness.test/w1", COSIGNATURE_V1)
    published.issue(recorder, LOG)
    seen, _ = witness(published.witness_request(recorder, 0), [LOG.verifier], None, w1, 1)
    # The log (its key stolen, or its operator lying) signs another root at the same size.
    fork = sign(Checkpoint(LOG.name, seen.size, merkle.leaf_hash(b"fork")), LOG)
    with pytest.raises(WitnessRefusal) as refused:
        witness(WitnessRequest(seen.size, (), fork), [LOG.verifier], seen, w1, 2)
    assert refused.value.status == 409 and "forked" in str(refused.value)


def test_cli_keygen_issue_verify_and_a_second_ledger_witnessing(
    ledger: ClaimsLedger, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database", database_url]
    key_file, witness_file = tmp_path / "log.key", tmp_path / "witness.key"
    assert main(["checkpoint", "keygen", "--name", "claims.test/a", "--out", str(key_file)]) == 0
    vkey = capsys.readouterr().out.strip()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert Verifier.parse(vkey).name == "claims.test/a" and "PRIVATE" not in vkey
    assert main(["checkpoint", "keygen", "--name", "claims.test/b-witness", "--out", str(witness_file), "--witness"]) == 0
    wkey = capsys.readouterr().out.strip()
    assert main(["checkpoint", "keygen", "--name", "x", "--out", str(key_file)]) == 2  # never overwrites a key
    capsys.readouterr()

    assert main([*db, "checkpoint", "issue", "--key", str(key_file)]) == 0
    saved = tmp_path / "checkpoint.txt"
    saved.write_text(capsys.readouterr().out, "utf-8")
    assert main([*db, "checkpoint", "request", "--old", "0"]) == 0
    request = tmp_path / "request.txt"
    request.write_text(capsys.readouterr().out, "utf-8")
    state = tmp_path / "witness-state.json"
    witness_args = ["witness", str(request), "--key", str(witness_file), "--log", vkey, "--state", str(state)]
    assert main(witness_args) == 0
    cosignature = tmp_path / "cosignature.txt"
    cosignature.write_text(capsys.readouterr().out, "utf-8")
    assert main(witness_args) == 1  # the same request again: the witness already holds that size
    assert "refused (409)" in capsys.readouterr().err
    assert main([*db, "checkpoint", "cosigned", str(cosignature), "--key", vkey, "--witness", wkey]) == 0
    assert "published" in capsys.readouterr().out

    _grow(ledger, "d")
    assert main([*db, "checkpoint", "show"]) == 0
    cosigned = tmp_path / "cosigned.txt"
    cosigned.write_text(capsys.readouterr().out, "utf-8")
    assert main([*db, "checkpoint", "verify", str(cosigned), "--key", vkey, "--witness", wkey]) == 0
    assert "consistent with it" in capsys.readouterr().out
    other = Signer.generate("claims.test/b-witness", COSIGNATURE_V1).verifier.vkey()
    assert main([*db, "checkpoint", "verify", str(saved), "--key", vkey, "--witness", other]) == 1
    assert "0 of the 1 witness cosignatures" in capsys.readouterr().err
