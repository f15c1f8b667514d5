"""The adapters' leaf checks (PostgreSQL hashes on the server, both stores) and verify's level-at-a-time tree growth (ledger/integrity/verify.py ``_extend``) against the reference
``merkle.Frontier.append``, leaf by leaf: same peaks, same root, same completed nodes kept by the store."""

from __future__ import annotations

import hashlib

import pytest
from ledger_support import claim, raw_sql, seed_world

from ledger import commands as c
from ledger.application import ClaimsLedger
from ledger.integrity import merkle
from ledger.integrity.verify import _extend, verify
from ledger.persistence import STORED_NODE_LEVEL


def _leaves(start: int, count: int) -> list[bytes]:
    return [hashlib.sha256(b"leaf %d" % i).digest() for i in range(start, start + count)]


@pytest.mark.parametrize(
    ("size", "count"), [(0, 1), (0, 16), (1, 1), (1, 30), (5, 27), (15, 1), (16, 16), (37, 100), (0, 1000), (255, 258)]
)
def test_extend_grows_the_tree_as_appending_leaf_by_leaf(size: int, count: int) -> None:
    reference = merkle.Frontier()
    reference.extend(_leaves(0, size))
    peaks = list(reference.peaks)
    kept: dict[tuple[int, int], bytes] = {}
    _extend(peaks, size, _leaves(size, count), kept)

    expected = {}
    for leaf in _leaves(size, count):
        for level, index, node in reference.append(leaf):
            if level >= STORED_NODE_LEVEL:
                expected[(level, index)] = node
    assert peaks == reference.peaks
    assert merkle.Frontier(size + count, peaks).root() == reference.root()
    assert kept == expected


def test_extend_in_pieces_equals_extend_at_once() -> None:
    whole: list[bytes] = []
    kept_whole: dict[tuple[int, int], bytes] = {}
    _extend(whole, 0, _leaves(0, 300), kept_whole)
    pieces: list[bytes] = []
    kept_pieces: dict[tuple[int, int], bytes] = {}
    size = 0
    for count in (1, 2, 3, 7, 64, 100, 123):
        _extend(pieces, size, _leaves(size, count), kept_pieces)
        size += count
    assert size == 300 and pieces == whole and kept_pieces == kept_whole


def test_each_store_checks_every_leaf_of_an_untouched_ledger_itself(database_url: str) -> None:
    """The fast path must hold for real data (a wrong assembly would only show as a slow verify),
    and one changed byte must turn exactly its row's check false."""
    with ClaimsLedger.open(database_url) as ledger:
        seed_world(ledger)
        with ledger.batch("tester") as batch:
            for j in range(20):
                batch.record_claim(c.parse_claim(claim(key=f"claim-{j}", summary=f"Claim {j} — «quoted» ünïcode")))
        recorder = ledger.ledger_recorder
        rows = recorder.checked_leaves(0, 1000)
        assert [r[0] for r in rows] == list(range(1, recorder.tree_head().size + 1))
        assert all(ok for _, ok, _ in rows)
        assert [bytes(r[2]) for r in rows] == [e.leaf_hash for e in recorder.read_log(0, 1000)]
        assert [r[0] for r in recorder.checked_leaves(10, 3)] == [11, 12, 13]
        state = bytearray(recorder.read_log(16, 1)[0].state)
        state[-2] ^= 1
        raw_sql(database_url, "UPDATE ledger_events SET state = %s WHERE position = 17", (bytes(state),))
        assert [r[0] for r in recorder.checked_leaves(0, 1000) if not r[1]] == [17]
        report = verify(recorder)
        assert not report.ok and report.position == 17


@pytest.mark.parametrize("batch", [1, 7, 16])
def test_verify_over_many_small_batches_read_ahead_gives_the_same_verdicts(
    database_url: str, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small batches: many tree heads fall inside a batch, PostgreSQL reads ahead, and a gap in the log
    puts the batches read ahead in the wrong place (they must be dropped, not used)."""
    import ledger.integrity.verify as verify_module

    with ClaimsLedger.open(database_url) as ledger:
        seed_world(ledger)
        for i in range(6):
            with ledger.batch("tester") as batch_:
                for j in range(i + 1):
                    batch_.record_claim(c.parse_claim(claim(key=f"claim-{i}-{j}", summary=f"Claim {i}/{j}")))
        recorder = ledger.ledger_recorder
        whole = verify(recorder)
        monkeypatch.setattr(verify_module, "VERIFY_BATCH", batch)
        small = verify(recorder)
        assert small.ok and (small.events, small.root_hash) == (whole.events, whole.root_hash) == (
            recorder.tree_head().size,
            recorder.tree_head().root,
        )
        raw_sql(database_url, "DELETE FROM ledger_events WHERE position = 23")
        report = verify(recorder)
        assert not report.ok and report.position == 23 and "missing" in (report.problem or "")
