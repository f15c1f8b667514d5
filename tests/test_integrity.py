"""Tamper evidence: direct SQL edits of the store are caught, proofs verify offline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ledger_support import claim, raw_sql, seed_world

from ledger import commands as c
from ledger.application import ClaimsLedger
from ledger.errors import BadInput, NotFound
from ledger.integrity import merkle, proofs
from ledger.integrity.verify import Digest, current_digest, verify


@pytest.fixture
def ledger(database_url: str) -> Iterator[ClaimsLedger]:
    """A ledger of 40 events written in several transactions (so several tree heads)."""
    with ClaimsLedger.open(database_url) as app:
        seed_world(app)
        for i in range(7):
            with app.batch("tester") as batch:
                for j in range(5):
                    batch.record_claim(c.parse_claim(claim(key=f"claim-{i}-{j}", summary=f"Claim {i}/{j}")))
        yield app


def test_an_untouched_ledger_verifies(ledger: ClaimsLedger) -> None:
    report = verify(ledger.ledger_recorder)
    assert report.ok, report.problem
    assert report.events == 40
    assert report.root_hash == ledger.ledger_recorder.tree_head().root


def test_one_changed_byte_is_named(ledger: ClaimsLedger, database_url: str) -> None:
    state = raw_sql(database_url, "SELECT state FROM ledger_events WHERE position = 17")[0][0]
    tampered = bytearray(state)
    tampered[len(tampered) // 2] ^= 0x01
    raw_sql(database_url, "UPDATE ledger_events SET state = %s WHERE position = 17", (bytes(tampered),))
    report = verify(ledger.ledger_recorder)
    assert not report.ok
    assert report.position == 17
    assert "event 17" in (report.problem or "")


def test_a_deleted_event_is_named(ledger: ClaimsLedger, database_url: str) -> None:
    raw_sql(database_url, "DELETE FROM ledger_events WHERE position = 23")
    report = verify(ledger.ledger_recorder)
    assert not report.ok
    assert report.position == 23
    assert "event 23 is missing" in (report.problem or "")


def test_a_deleted_last_event_is_caught(ledger: ClaimsLedger, database_url: str) -> None:
    raw_sql(database_url, "DELETE FROM ledger_events WHERE position = 40")
    report = verify(ledger.ledger_recorder)
    assert not report.ok
    assert "events 40..40 are missing" in (report.problem or "")


def test_two_swapped_events_are_caught(ledger: ClaimsLedger, database_url: str) -> None:
    a = raw_sql(database_url, "SELECT state FROM ledger_events WHERE position = 11")[0][0]
    b = raw_sql(database_url, "SELECT state FROM ledger_events WHERE position = 12")[0][0]
    raw_sql(database_url, "UPDATE ledger_events SET state = %s WHERE position = 11", (b,))
    raw_sql(database_url, "UPDATE ledger_events SET state = %s WHERE position = 12", (a,))
    report = verify(ledger.ledger_recorder)
    assert not report.ok
    assert report.position == 11


def test_a_rewrite_that_recomputes_leaf_hashes_is_caught_by_tree_heads(ledger: ClaimsLedger, database_url: str) -> None:
    event = ledger.ledger_recorder.read_log(29, 1)[0]
    forged = event.state.replace(b"OPPOSES", b"SUPPORTS")
    from ledger.persistence import leaf_data

    leaf = merkle.leaf_hash(leaf_data(30, event.originator_id, event.originator_version, event.topic, forged))
    raw_sql(database_url, "UPDATE ledger_events SET state = %s, leaf_hash = %s WHERE position = 30", (forged, leaf))
    report = verify(ledger.ledger_recorder)
    assert not report.ok
    assert "rewritten" in (report.problem or "")


def test_a_full_rewrite_is_caught_by_a_saved_digest(ledger: ClaimsLedger, database_url: str) -> None:
    saved = Digest.from_json(current_digest(ledger.ledger_recorder).to_json())
    # Rewrite history consistently inside the database: drop the last events and every head after them.
    raw_sql(database_url, "DELETE FROM ledger_events WHERE position > 35")
    raw_sql(database_url, "DELETE FROM ledger_tree_heads WHERE size > 35")
    internal = verify(ledger.ledger_recorder)
    assert internal.ok  # the store alone cannot tell...
    report = verify(ledger.ledger_recorder, saved)
    assert not report.ok  # ...but the digest kept outside can
    assert "events were removed" in (report.problem or "")


def test_a_digest_proves_append_only_growth(ledger: ClaimsLedger) -> None:
    saved = current_digest(ledger.ledger_recorder)
    with ledger.batch("tester") as batch:
        batch.record_claim(c.parse_claim(claim(key="later-claim", summary="Later")))
    report = verify(ledger.ledger_recorder, saved)
    assert report.ok, report.problem
    assert report.consistency_proof is not None
    assert merkle.verify_consistency(40, 41, saved.root_hash, report.root_hash, report.consistency_proof)


def test_a_forged_digest_is_refused(ledger: ClaimsLedger) -> None:
    forged = Digest(20, b"\x01" * 32)
    report = verify(ledger.ledger_recorder, forged)
    assert not report.ok
    assert "no longer have the saved digest's root" in (report.problem or "")
    with pytest.raises(BadInput, match="must be 'claims-ledger/digest/v1'"):
        Digest.from_json('{"tree_size": 3}')
    with pytest.raises(BadInput, match="not a claims-ledger digest"):
        Digest.from_json('{"format": "claims-ledger/digest/v1", "tree_size": 3, "root_hash": "zz"}')


def test_inclusion_and_consistency_proofs_verify_without_the_database(ledger: ClaimsLedger) -> None:
    recorder = ledger.ledger_recorder
    root = recorder.tree_head().root
    for position in (1, 16, 17, 33, 40):
        proof = proofs.inclusion(recorder, position)
        assert proof.root_hash == root
        assert proof.verify()
        event = recorder.read_log(position - 1, 1)[0]
        assert merkle.verify_inclusion(event.expected_leaf_hash(), position - 1, 40, proof.path, root)
    old_heads = {h.size: h.root for h in recorder.tree_heads()}
    for old in (1, 5, 10, 16, 25, 40):
        consistency = proofs.consistency(recorder, old)
        assert consistency.verify()
        if old in old_heads:
            assert consistency.from_root == old_heads[old]
    with pytest.raises(NotFound, match="event 41 not found"):
        proofs.inclusion(recorder, 41)
    with pytest.raises(BadInput, match="not in a tree of 20 events"):
        proofs.inclusion(recorder, 21, 20)
    with pytest.raises(BadInput, match="not a tree size"):
        proofs.consistency(recorder, 41)


def test_a_tampered_tree_node_is_caught(ledger: ClaimsLedger, database_url: str) -> None:
    raw_sql(database_url, 'UPDATE ledger_tree_nodes SET hash = %s WHERE level = 4 AND "index" = 1', (b"\x00" * 32,))
    report = verify(ledger.ledger_recorder)
    assert not report.ok
    assert "tree node" in (report.problem or "")
