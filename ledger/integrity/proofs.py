"""Proofs served from the store, checkable offline with ``merkle.verify_*`` alone."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import BadInput, NotFound
from ledger.integrity import merkle
from ledger.persistence import LedgerRecorder


@dataclass(frozen=True)
class InclusionProof:
    position: int  # 1-based log position; the leaf index is position - 1
    tree_size: int
    leaf_hash: bytes
    root_hash: bytes
    path: list[bytes]

    def verify(self) -> bool:
        return merkle.verify_inclusion(self.leaf_hash, self.position - 1, self.tree_size, self.path, self.root_hash)


@dataclass(frozen=True)
class ConsistencyProof:
    from_size: int
    to_size: int
    from_root: bytes
    to_root: bytes
    path: list[bytes]

    def verify(self) -> bool:
        return merkle.verify_consistency(self.from_size, self.to_size, self.from_root, self.to_root, self.path)


# Errors name the request's fields as the GraphQL API spells them (eventId, treeSize,
# fromSize, toSize): the API serves these functions unchanged.


def _tree_size(current: int, size: int | None, field: str) -> int:
    if size is None:
        return current
    if not 0 <= size <= current:
        raise BadInput(field, f"{size} is not a tree size of this ledger (0..{current})")
    return size


def inclusion(recorder: LedgerRecorder, position: int, tree_size: int | None = None) -> InclusionProof:
    """The proof that event ``position`` is in the tree of ``tree_size`` events (default: the whole log).

    An event beyond the log is NotFound; one in the log but beyond ``tree_size`` is bad input."""
    current = recorder.tree_head().size
    size = _tree_size(current, tree_size, "treeSize")
    if position < 1:
        raise BadInput("eventId", f"{position} is not a log position (they start at 1)")
    if position > current:
        raise NotFound("event", position)
    if position > size:
        raise BadInput("treeSize", f"event {position} is not in a tree of {size} events")
    leaf = recorder.leaf_hashes(position - 1, position)[0]
    path = merkle.inclusion_proof(position - 1, size, recorder)
    return InclusionProof(position, size, leaf, merkle.subtree_root(0, size, recorder), path)


def consistency(recorder: LedgerRecorder, from_size: int, to_size: int | None = None) -> ConsistencyProof:
    """The proof that the tree of ``to_size`` events (default: the whole log) extends the tree of ``from_size``."""
    current = recorder.tree_head().size
    new = _tree_size(current, to_size, "toSize")
    old = _tree_size(current, from_size, "fromSize")
    if old > new:
        raise BadInput("fromSize", f"{old} is larger than toSize {new}")
    path = merkle.consistency_proof(old, new, recorder)
    return ConsistencyProof(
        old, new, merkle.subtree_root(0, old, recorder), merkle.subtree_root(0, new, recorder), path
    )
