"""The ledger's storage interface: one global, hash-chained order of events.

Both adapters (``sqlite.py``, ``postgres.py``) store every event with its place
in the log (``position``, 1-based, gapless) and its Merkle leaf hash, and in the
same transaction the tree's completed nodes and the new tree head. So there is
no moment when a committed event is not covered by the tree.

The appending algorithm lives here once; adapters supply the SQL.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification, StoredEvent, Subscription

from ledger.integrity import merkle

# Completed tree nodes from this level up are stored (one row per 2**level leaves);
# smaller subtrees are recomputed from at most 2**level - 1 leaf hashes.
STORED_NODE_LEVEL = 4


def leaf_data(position: int, originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """The bytes a leaf commits to: the event and its place in the log.

    Binding the position means a swap of two events changes both leaves.
    """
    header = f"claims-ledger/1\n{position}\n{originator_id}\n{version}\n{topic}\n"
    return header.encode("utf-8") + state


@dataclass(frozen=True)
class LoggedEvent:
    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
    leaf_hash: bytes

    def expected_leaf_hash(self) -> bytes:
        return merkle.leaf_hash(
            leaf_data(self.position, self.originator_id, self.originator_version, self.topic, self.state)
        )


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


@dataclass
class Appended:
    """What one append transaction writes besides the events themselves."""

    rows: list[tuple[int, UUID, int, str, bytes, bytes]]
    nodes: list[tuple[int, int, bytes]]
    frontier: merkle.Frontier


class AppendSession(Protocol):
    def frontier(self) -> merkle.Frontier: ...

    def write(self, appended: Appended) -> None: ...


class LedgerRecorder(ApplicationRecorder):
    """An eventsourcing ApplicationRecorder whose log is a Merkle tree."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        with self.appending() as session:
            frontier = session.frontier()
            first = frontier.size + 1
            rows: list[tuple[int, UUID, int, str, bytes, bytes]] = []
            nodes: list[tuple[int, int, bytes]] = []
            for event in stored_events:
                position = frontier.size + 1
                originator_id = UUID(str(event.originator_id))
                leaf = merkle.leaf_hash(
                    leaf_data(position, originator_id, event.originator_version, event.topic, event.state)
                )
                nodes.extend(n for n in frontier.append(leaf) if n[0] >= STORED_NODE_LEVEL)
                rows.append((position, originator_id, event.originator_version, event.topic, event.state, leaf))
            session.write(Appended(rows, nodes, frontier))
        return list(range(first, first + len(rows)))

    # ------------------------------------------------------------ adapter SQL

    @abstractmethod
    def create_tables(self) -> None: ...

    @abstractmethod
    def appending(self) -> AbstractContextManager[AppendSession]:
        """One exclusive write transaction: no other append interleaves."""

    @abstractmethod
    def read_log(self, after: int, limit: int, originator_id: UUID | None = None) -> list[LoggedEvent]:
        """Events with position > after, in log order."""

    @abstractmethod
    def tree_head(self) -> TreeHead: ...

    @abstractmethod
    def tree_heads(self) -> list[TreeHead]:
        """Every tree head recorded, one per append transaction, by size."""

    @abstractmethod
    def stored_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]: ...

    @abstractmethod
    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes of positions start+1..end (0-based leaf indexes start..end-1)."""

    @abstractmethod
    def versions(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The current version of each of the given aggregates that exists."""

    @abstractmethod
    def close(self) -> None: ...

    # ------------------------------------------------------------ proofs

    def perfect(self, keys: Sequence[tuple[int, int]]) -> list[bytes]:
        """SubtreeSource: stored nodes where kept, else recomputed from leaves."""
        stored = self.stored_nodes([k for k in keys if k[0] >= STORED_NODE_LEVEL])
        out = []
        for level, index in keys:
            if level >= STORED_NODE_LEVEL:
                if (level, index) not in stored:
                    raise LookupError(f"tree node {level}/{index} is missing from the store")
                out.append(stored[(level, index)])
            else:
                leaves = self.leaf_hashes(index << level, (index + 1) << level)
                out.append(merkle.MemoryTree(leaves).root())
        return out

    # ------------------------------------------------------------ eventsourcing

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        after = 0 if start is None else (start - 1 if inclusive_of_start else start)
        events = self.read_log(after, limit)
        return [
            Notification(
                id=e.position,
                originator_id=e.originator_id,
                originator_version=e.originator_version,
                topic=e.topic,
                state=e.state,
            )
            for e in events
            if (stop is None or e.position <= stop) and (not topics or e.topic in topics)
        ]

    def max_notification_id(self) -> int | None:
        return self.tree_head().size or None

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        # The projector follows the log itself (projections/follow.py).
        raise NotImplementedError("follow the log with projections.follow instead")

    def iter_log(self, after: int = 0, batch: int = 5000) -> Iterator[LoggedEvent]:
        while True:
            events = self.read_log(after, batch)
            if not events:
                return
            yield from events
            after = events[-1].position
