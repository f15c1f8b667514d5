"""RFC 6962 hashing and proofs, checked against a direct transcription of the RFC."""

from __future__ import annotations

import hashlib

import pytest

from ledger.integrity import merkle


def rfc_mth(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 6962 section 2.1, recursive and slow on purpose."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return merkle.leaf_hash(leaves[0])
    k = 1 << ((n - 1).bit_length() - 1)
    return merkle.node_hash(rfc_mth(leaves[:k]), rfc_mth(leaves[k:]))


DATA = [f"event {i}".encode() for i in range(70)]
LEAVES = [merkle.leaf_hash(d) for d in DATA]


def test_hashing_uses_rfc6962_domain_separation() -> None:
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert merkle.Frontier().root() == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 70])
def test_frontier_and_memory_tree_roots_match_the_rfc(size: int) -> None:
    frontier = merkle.Frontier()
    frontier.extend(LEAVES[:size])
    assert frontier.root() == rfc_mth(DATA[:size])
    assert merkle.MemoryTree(LEAVES).root(size) == rfc_mth(DATA[:size])
    restored = merkle.Frontier.from_bytes(frontier.size, frontier.to_bytes())
    assert restored.root() == frontier.root()


def test_frontier_reports_every_completed_node() -> None:
    frontier = merkle.Frontier()
    nodes = {(level, index): h for level, index, h in frontier.extend(LEAVES[:64])}
    tree = merkle.MemoryTree(LEAVES[:64])
    assert len(nodes) == 63
    assert all(tree.perfect([key])[0] == h for key, h in nodes.items())


def test_frontier_rejects_a_wrong_number_of_peaks() -> None:
    with pytest.raises(ValueError, match="3 peaks"):
        merkle.Frontier(7, [b"\x00" * 32])


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 70])
def test_every_inclusion_proof_verifies_and_wrong_ones_do_not(size: int) -> None:
    tree = merkle.MemoryTree(LEAVES[:size])
    root = tree.root()
    for index in range(size):
        proof = merkle.inclusion_proof(index, size, tree)
        assert merkle.verify_inclusion(LEAVES[index], index, size, proof, root)
        other = LEAVES[(index + 1) % len(LEAVES)]
        assert not merkle.verify_inclusion(other, index, size, proof, root)
        if size > 1:
            assert not merkle.verify_inclusion(LEAVES[index], (index + 1) % size, size, proof, root)


def test_rfc9162_example_paths_have_the_documented_length() -> None:
    # RFC 9162 2.1.5: in a tree of 7 leaves, the path for d0 is [b, h, l] (3 hashes).
    tree = merkle.MemoryTree(LEAVES[:7])
    assert len(merkle.inclusion_proof(0, 7, tree)) == 3
    assert len(merkle.inclusion_proof(6, 7, tree)) == 2
    assert len(merkle.consistency_proof(3, 7, tree)) == 4
    assert len(merkle.consistency_proof(4, 7, tree)) == 1
    assert len(merkle.consistency_proof(6, 7, tree)) == 3


def test_every_consistency_proof_verifies_and_a_rewrite_does_not() -> None:
    size = 23
    tree = merkle.MemoryTree(LEAVES[:size])
    for old in range(0, size + 1):
        for new in range(old, size + 1):
            proof = merkle.consistency_proof(old, new, tree)
            assert merkle.verify_consistency(old, new, tree.root(old), tree.root(new), proof), (old, new)
    rewritten = merkle.MemoryTree([LEAVES[0], merkle.leaf_hash(b"forged"), *LEAVES[2:size]])
    proof = merkle.consistency_proof(5, size, rewritten)
    assert not merkle.verify_consistency(5, size, tree.root(5), rewritten.root(size), proof)


def test_proof_arguments_out_of_range_are_refused() -> None:
    tree = merkle.MemoryTree(LEAVES[:4])
    with pytest.raises(ValueError):
        merkle.inclusion_proof(4, 4, tree)
    with pytest.raises(ValueError):
        merkle.consistency_proof(5, 4, tree)
    assert not merkle.verify_consistency(5, 4, b"", b"", [])
