"""Verify the stored log from scratch, and prove it extends a saved digest.

``verify`` recomputes every leaf from the stored event bytes, rebuilds the tree
in log order and checks, in this order: positions are contiguous (presence),
each event matches its recorded leaf hash (content and order, since a leaf binds
its position), every stored tree head and tree node matches the recomputed
tree, and the tree's size matches the latest head (nothing missing at the end).
Given a saved digest, it also checks that the recomputed tree at the digest's
size has the digest's root, and verifies an RFC 6962 consistency proof from the
saved digest to the current tree.

A rewrite that recomputes every hash, node and head in the database is only
caught against a digest kept outside the system: that is what digests are for.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.errors import BadInput
from ledger.integrity import merkle
from ledger.persistence import STORED_NODE_LEVEL, LedgerRecorder

DIGEST_FORMAT = "claims-ledger/digest/v1"
VERIFY_BATCH = 5_000  # events read per query (smaller batches let PostgreSQL read several at once)
READ_AHEAD = 2  # batches read meanwhile where the store allows concurrent reads


@dataclass(frozen=True)
class Digest:
    tree_size: int
    root_hash: bytes

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": DIGEST_FORMAT,
                "tree_size": self.tree_size,
                "root_hash": self.root_hash.hex(),
                "hashing": "RFC 6962 (SHA-256, leaf 0x00, node 0x01)",
                "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Digest:
        try:
            data: Any = json.loads(text)
            if data.get("format") != DIGEST_FORMAT:
                raise BadInput("digest.format", f"must be {DIGEST_FORMAT!r}")
            size, root = data["tree_size"], bytes.fromhex(data["root_hash"])
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise BadInput("digest", f"is not a claims-ledger digest ({error})") from None
        if not isinstance(size, int) or size < 0 or len(root) != merkle.HASH_SIZE:
            raise BadInput("digest", "needs a non-negative tree_size and a 32-byte root_hash")
        return cls(size, root)


@dataclass(frozen=True)
class Report:
    ok: bool
    events: int
    root_hash: bytes
    problem: str | None = None
    position: int | None = None  # the first event found wrong, where there is one
    digest_checked: Digest | None = None
    consistency_proof: list[bytes] | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "ok": self.ok,
                "events": self.events,
                "root_hash": self.root_hash.hex(),
                "problem": self.problem,
                "position": self.position,
                "digest": None
                if self.digest_checked is None
                else {"tree_size": self.digest_checked.tree_size, "root_hash": self.digest_checked.root_hash.hex()},
                "consistency_proof": None
                if self.consistency_proof is None
                else [h.hex() for h in self.consistency_proof],
            },
            indent=2,
        )


def current_digest(recorder: LedgerRecorder) -> Digest:
    head = recorder.tree_head()
    return Digest(head.size, head.root)


def verify(
    recorder: LedgerRecorder, saved: Digest | None = None, progress: Callable[[int, int], None] | None = None
) -> Report:
    with _Batches(recorder) as batches:
        return _verify(recorder, batches, saved, progress)


class _Batches:
    """``checked_leaves`` batch after batch; where the store serves concurrent reads (PostgreSQL hashes
    on the server), the next READ_AHEAD batches of a contiguous log are already being read meanwhile."""

    def __init__(self, recorder: LedgerRecorder) -> None:
        self.recorder = recorder
        concurrent = recorder.concurrent_reads
        self.pool = ThreadPoolExecutor(READ_AHEAD, thread_name_prefix="verify-read") if concurrent else None
        self.ahead: dict[int, Future[Sequence[tuple[int, bool, bytes]]]] = {}

    def after(self, after: int) -> Sequence[tuple[int, bool, bytes]]:
        found = self.ahead.pop(after, None)
        if self.pool is not None:
            for stale in [a for a in self.ahead if a < after]:
                self.ahead.pop(stale).cancel()
            for k in range(1, READ_AHEAD + 1):
                start = after + k * VERIFY_BATCH
                if start not in self.ahead:
                    self.ahead[start] = self.pool.submit(self.recorder.checked_leaves, start, VERIFY_BATCH)
        return found.result() if found is not None else self.recorder.checked_leaves(after, VERIFY_BATCH)

    def __enter__(self) -> _Batches:
        return self

    def __exit__(self, *_: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _verify(
    recorder: LedgerRecorder,
    batches: _Batches,
    saved: Digest | None,
    progress: Callable[[int, int], None] | None,
) -> Report:
    head = recorder.tree_head()
    heads = {h.size: h.root for h in recorder.tree_heads()}
    frontier = merkle.Frontier()
    saved_root: bytes | None = None
    pending_nodes: dict[tuple[int, int], bytes] = {}

    def fail(problem: str, position: int | None) -> Report:
        return Report(False, frontier.size, frontier.root(), problem, position, saved)

    def check_nodes() -> int | None:
        stored = recorder.stored_nodes(list(pending_nodes))
        for (level, index), expected in pending_nodes.items():
            if stored.get((level, index)) != expected:
                return (index + 1) << level  # last leaf the node covers
        pending_nodes.clear()
        return None

    # Rows are plain (position, leaf hash matches, stored leaf hash): the adapter hashed each leaf's input
    # (PostgreSQL on the server). A batch that is contiguous and all matching grows the tree one level at a
    # time (_extend), stopping at each recorded tree head and at the saved digest's size to compare roots;
    # any other batch goes event by event, and a row whose fast hash differs is checked again through
    # LoggedEvent.expected_leaf_hash (the reference), so the verdicts are the reference's.
    peaks = frontier.peaks
    stops = sorted({*heads, *([saved.tree_size] if saved is not None else [])})
    size = 0
    after = 0

    def at_stop(size: int) -> Report | None:
        nonlocal saved_root
        frontier.size = size
        if size in heads and heads[size] != frontier.root():
            return fail(
                f"the tree head recorded at size {size} does not match the events: "
                f"history up to event {size} was rewritten",
                size,
            )
        if saved is not None and size == saved.tree_size:
            saved_root = frontier.root()
        return None

    while rows := batches.after(after):
        count = len(rows)
        if rows[0][0] == size + 1 and rows[-1][0] == size + count and all(ok for _, ok, _ in rows):
            # Positions are unique and ordered: first and last in place means none is missing.
            leaves = [leaf for _, _, leaf in rows]
            done = 0
            first = bisect.bisect_right(stops, size)
            within = stops[first : bisect.bisect_right(stops, size + count)]
            for stop in within if within and within[-1] == size + count else [*within, size + count]:
                if stop > size:
                    _extend(peaks, size, leaves[done : done + stop - size], pending_nodes)
                    done += stop - size
                    size = stop
                if (failed := at_stop(size)) is not None:
                    return failed
        else:
            for position, ok, stored in rows:
                if position != size + 1:
                    frontier.size = size
                    return fail(
                        f"event {size + 1} is missing: the log jumps from {size} to {position}",
                        size + 1,
                    )
                leaf = bytes(stored)
                if not ok:
                    event = recorder.read_log(position - 1, 1)[0]
                    if event.expected_leaf_hash() != event.leaf_hash:
                        frontier.size = size
                        return fail(
                            f"event {event.position} ({event.topic} of {event.originator_id} "
                            f"v{event.originator_version}) "
                            "does not match its recorded leaf hash: its content or its place in the log changed",
                            event.position,
                        )
                    leaf = event.leaf_hash
                _extend(peaks, size, [leaf], pending_nodes)
                size += 1
                if (failed := at_stop(size)) is not None:
                    return failed
        if len(pending_nodes) >= 1000 and (bad := check_nodes()) is not None:
            frontier.size = size
            return fail(f"a stored tree node covering events up to {bad} does not match the events", bad)
        if progress:
            progress(size, head.size)
        after = size
    frontier.size = size
    if (bad := check_nodes()) is not None:
        return fail(f"a stored tree node covering events up to {bad} does not match the events", bad)
    if progress:
        progress(frontier.size, head.size)
    if frontier.size != head.size:
        return fail(
            f"the latest tree head counts {head.size} events but the log holds {frontier.size}: "
            f"events {frontier.size + 1}..{head.size} are missing",
            frontier.size + 1,
        )
    if saved is None:
        return Report(True, frontier.size, frontier.root())
    return _check_digest(recorder, saved, saved_root, frontier)


def _extend(peaks: list[bytes], size: int, leaves: list[bytes], stored: dict[tuple[int, int], bytes]) -> None:
    """Append ``leaves`` to the frontier of a tree of ``size`` leaves (``peaks``: one per set bit of the
    size, highest level first), as ``merkle.Frontier.append`` would leaf by leaf, but one level at a time;
    nodes completed at levels kept by the store are put in ``stored``."""
    sha256 = hashlib.sha256
    held = dict(zip([level for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1], peaks, strict=True))
    nodes, index, level = leaves, size, 0  # index: place of nodes[0] among the nodes of its level
    while nodes:
        if index & 1:  # its left sibling is the peak of this level
            nodes = [held.pop(level), *nodes]
            index -= 1
        if len(nodes) & 1:
            held[level] = nodes[-1]
        pairs = iter(nodes)  # zip(pairs, pairs): (0, 1), (2, 3)...; an odd last node waits as the peak above
        parents = [sha256(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
        index >>= 1
        level += 1
        if level >= STORED_NODE_LEVEL:
            stored.update(((level, index + i), node) for i, node in enumerate(parents))
        nodes = parents
    peaks[:] = [held[level] for level in sorted(held, reverse=True)]


def _check_digest(
    recorder: LedgerRecorder, saved: Digest, saved_root: bytes | None, frontier: merkle.Frontier
) -> Report:
    if saved.tree_size > frontier.size:
        return Report(
            False, frontier.size, frontier.root(),
            f"the saved digest covers {saved.tree_size} events but the ledger now holds {frontier.size}: "
            "events were removed", frontier.size + 1, saved,
        )  # fmt: skip
    if saved.tree_size == 0:
        return Report(True, frontier.size, frontier.root(), digest_checked=saved, consistency_proof=[])
    if saved_root != saved.root_hash:
        return Report(
            False, frontier.size, frontier.root(),
            f"the first {saved.tree_size} events no longer have the saved digest's root: "
            "history before the digest was rewritten", None, saved,
        )  # fmt: skip
    proof = merkle.consistency_proof(saved.tree_size, frontier.size, recorder)
    if not merkle.verify_consistency(saved.tree_size, frontier.size, saved.root_hash, frontier.root(), proof):
        return Report(
            False, frontier.size, frontier.root(),
            "the consistency proof from the saved digest does not verify: the stored tree nodes were altered",
            None, saved, proof,
        )  # fmt: skip
    return Report(True, frontier.size, frontier.root(), digest_checked=saved, consistency_proof=proof)
