"""The ledger in memory: eventsourcing's POPO recorder with the Merkle log beside its events.

``ClaimsLedger()`` uses it (nothing to set up, nothing left behind): the domain tests of
every rule run against it in a fraction of a second, with the same log positions, leaf
hashes, tree heads and proofs as the stored ledgers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory

from ledger.integrity import merkle
from ledger.persistence import ACCESS_TOPICS, EventRow, LedgerRecorder, LoggedEvent, NodeRow, TreeHead


class POPOLedgerRecorder(LedgerRecorder, POPOApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._log: list[LoggedEvent] = []  # position - 1 -> event, beside the library's _stored_events
        self._frontier = merkle.Frontier()
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._heads: list[TreeHead] = []
        self._checkpoints: dict[int, str] = {}

    def _update_table(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        # The library's insertion step, called under its lock once the uniqueness check passed:
        # the events (the library's table) and their Merkle rows are stored together.
        session = _Session(self._frontier)
        positions = self._append_to_log(session, stored_events)
        notification_ids = super()._update_table(stored_events, **kwargs)
        if list(notification_ids or ()) != positions:  # pragma: no cover (the library numbers from 1, gapless)
            raise AssertionError(f"the library gave ids {notification_ids}, the log positions {positions}")
        self._log += session.rows
        self._nodes.update(((level, index), digest) for level, index, digest in session.nodes)
        self._frontier = session.new_frontier
        self._heads.append(TreeHead(session.new_frontier.size, session.new_frontier.root()))
        return positions

    def read_log(
        self,
        after: int,
        limit: int,
        originator_id: UUID | None = None,
        *,
        topics: Sequence[str] = (),
        stop: int | None = None,
    ) -> list[LoggedEvent]:
        out: list[LoggedEvent] = []
        with self._database_lock:
            for event in self._log[max(after, 0) : stop]:
                if originator_id is not None and event.originator_id != originator_id:
                    continue
                if topics and event.topic not in topics:
                    continue
                out.append(event)
                if len(out) == limit:
                    break
        return out

    def read_access_events(self, after: int, upto: int) -> list[LoggedEvent]:
        return self.read_log(after, upto, topics=ACCESS_TOPICS, stop=upto)

    def tree_head(self) -> TreeHead:
        with self._database_lock:
            return self._heads[-1] if self._heads else TreeHead(0, merkle.EMPTY_ROOT)

    def tree_heads(self) -> list[TreeHead]:
        with self._database_lock:
            return list(self._heads)

    def stored_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        with self._database_lock:
            return {k: self._nodes[k] for k in keys if k in self._nodes}

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        with self._database_lock:
            return [e.leaf_hash for e in self._log[start:end]]

    def save_checkpoint(self, size: int, note: str) -> None:
        with self._database_lock:
            self._checkpoints[size] = note

    def checkpoint(self, size: int | None = None) -> str | None:
        with self._database_lock:
            if size is None:
                return self._checkpoints[max(self._checkpoints)] if self._checkpoints else None
            return self._checkpoints.get(size)

    def checkpoint_sizes(self) -> list[int]:
        with self._database_lock:
            return sorted(self._checkpoints)


class _Session:
    """One append: the rows are kept by the recorder once they were all hashed."""

    def __init__(self, frontier: merkle.Frontier) -> None:
        self.new_frontier = merkle.Frontier.from_bytes(frontier.size, frontier.to_bytes())  # a copy
        self.rows: list[LoggedEvent] = []
        self.nodes: Sequence[NodeRow] = ()

    def frontier(self) -> merkle.Frontier:
        return self.new_frontier

    def write_events(self, rows: Iterable[EventRow]) -> None:
        self.rows = [LoggedEvent(*row) for row in rows]

    def write_tree(self, nodes: Sequence[NodeRow], frontier: merkle.Frontier) -> None:
        self.nodes = nodes


class POPOLedgerFactory(POPOFactory):
    """The library's in-memory factory, making the ledger's recorder."""

    def application_recorder(self) -> ApplicationRecorder:
        return POPOLedgerRecorder()
