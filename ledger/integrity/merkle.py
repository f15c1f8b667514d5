"""RFC 6962 / RFC 9162 Merkle trees: hashing, proofs and their verification.

Pure functions, no I/O: an auditor can check a proof with this module alone.
Leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right); the tree
over n leaves splits at the largest power of two below n.

Proof construction needs subtree hashes. It asks a :class:`SubtreeSource` for the
hash of *perfect* subtrees (aligned ranges of 2**level leaves), so a store that
keeps the tree's completed nodes answers a proof with O(log n) look-ups.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_below(n: int) -> int:
    """The largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """Split [start, end) into aligned perfect subtrees, left to right, as (level, index).

    Only valid for ranges that occur in RFC 6962 trees (start aligned to a power
    of two at least as large as the range's left part); that covers every range
    that proofs and roots need.
    """
    out: list[tuple[int, int]] = []
    position = start
    while position < end:
        level = (end - position).bit_length() - 1
        # The subtree must also be aligned at `position`.
        while position % (1 << level):
            level -= 1
        out.append((level, position >> level))
        position += 1 << level
    return out


class SubtreeSource(Protocol):
    def perfect(self, keys: Sequence[tuple[int, int]]) -> list[bytes]:
        """Hashes of the perfect subtrees (level, index), in the order asked."""


def subtree_root(start: int, end: int, source: SubtreeSource) -> bytes:
    """MTH of leaves [start, end): fold the perfect subtrees right to left."""
    if end <= start:
        return EMPTY_ROOT
    hashes = source.perfect(perfect_subtrees(start, end))
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_proof(index: int, size: int, source: SubtreeSource) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]): the audit path of leaf `index` in a tree of `size`."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_below(end - start)
        if index < start + k:
            proof.append(subtree_root(start + k, end, source))
            end = start + k
        else:
            proof.append(subtree_root(start, start + k, source))
            start += k
    proof.reverse()
    return proof


def consistency_proof(old_size: int, new_size: int, source: SubtreeSource) -> list[bytes]:
    """RFC 6962 PROOF(m, D[n]): proves the tree of old_size is a prefix of new_size."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(subtree_root(start, end, source))
            break
        k = _largest_power_below(n)
        if m <= k:
            proof.append(subtree_root(start + k, end, source))
            end = start + k
        else:
            proof.append(subtree_root(start, start + k, source))
            start += k
            m -= k
            complete = False
    proof.reverse()
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if old_size > new_size:
        return False
    if old_size == new_size:
        return old_root == new_root and not proof
    if old_size == 0:
        return not proof
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class Frontier:
    """The right edge of a growing tree: one perfect-subtree root per set bit of size.

    Appending a leaf merges equal-sized peaks, yielding the completed nodes so a
    store can keep them for later proofs; the root is the right fold of the peaks.
    """

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        if len(peaks) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} peaks, not {len(peaks)}")
        self.size = size
        self.peaks = list(peaks)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the nodes (level, index, hash) it completed, level >= 1."""
        completed: list[tuple[int, int, bytes]] = []
        node, index, level = leaf, self.size, 0
        while index & 1:
            node = node_hash(self.peaks.pop(), node)
            index >>= 1
            level += 1
            completed.append((level, index, node))
        self.peaks.append(node)
        self.size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        completed: list[tuple[int, int, bytes]] = []
        for leaf in leaves:
            completed.extend(self.append(leaf))
        return completed

    def root(self) -> bytes:
        if not self.peaks:
            return EMPTY_ROOT
        result = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            result = node_hash(peak, result)
        return result

    def to_bytes(self) -> bytes:
        return b"".join(self.peaks)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> Frontier:
        return cls(size, [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)])


class MemoryTree:
    """A SubtreeSource over leaf hashes held in memory (tests, offline auditors)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def perfect(self, keys: Sequence[tuple[int, int]]) -> list[bytes]:
        return [self.levels[level][index] for level, index in keys]

    def root(self, size: int | None = None) -> bytes:
        return subtree_root(0, self.size if size is None else size, self)
