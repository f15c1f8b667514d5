"""The ledger's storage interface: one global, hash-chained order of events.

The adapters (``memory.py``, ``sqlite.py``, ``postgres.py``: subclasses of the
library's POPO, SQLite and PostgreSQL application recorders) store every event with
its place in the log (``position``, 1-based, gapless: the library's notification id)
and its Merkle leaf hash, and in the same transaction the tree's completed nodes and
the new tree head. So there is no moment when a committed event is not covered by
the tree.

The appending algorithm lives here once; adapters supply the storage.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification, StoredEvent

from ledger.integrity import merkle

# Completed tree nodes from this level up are stored (one row per 2**level leaves);
# smaller subtrees are recomputed from at most 2**level - 1 leaf hashes.
STORED_NODE_LEVEL = 4

# Access-control events (API keys issued and revoked). The API checks keys against these
# events, not against the read model, so a key is valid (or revoked) as soon as its event
# commits. Both stores keep a partial index of them; the predicate is spelled out as
# literals because a planner uses a partial index only for a query that repeats it.
ACCESS_TOPICS = ("ledger.domain:ApiKey.Issued", "ledger.domain:ApiKey.Revoked")
ACCESS_PREDICATE = "topic IN (" + ", ".join(f"'{t}'" for t in ACCESS_TOPICS) + ")"
ACCESS_INDEX = f"CREATE INDEX IF NOT EXISTS ledger_events_access ON ledger_events (position) WHERE {ACCESS_PREDICATE}"


def leaf_header(position: int, originator_id: UUID, version: int, topic: str) -> bytes:
    return f"claims-ledger/1\n{position}\n{originator_id}\n{version}\n{topic}\n".encode()


def leaf_data(position: int, originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """The bytes a leaf commits to: the event and its place in the log.

    Binding the position means a swap of two events changes both leaves.
    """
    return leaf_header(position, originator_id, version, topic) + state


@dataclass(frozen=True)
class LoggedEvent:
    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
    leaf_hash: bytes

    def expected_leaf_hash(self) -> bytes:
        return _leaf_hash(self.position, self.originator_id, self.originator_version, self.topic, self.state)


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


# (position, originator_id, originator_version, topic, state, leaf_hash)
EventRow = tuple[int, UUID, int, str, bytes, bytes]
# (level, index, hash) of a completed tree node
NodeRow = tuple[int, int, bytes]


class AppendSession(Protocol):
    """One append transaction, as the adapters implement it."""

    def frontier(self) -> merkle.Frontier: ...

    def write_events(self, rows: Iterable[EventRow]) -> None:
        """Store every row. ``rows`` is lazy: it hashes each event as it is consumed, so
        an adapter that streams (PostgreSQL COPY) overlaps hashing with the server's work."""

    def write_tree(self, nodes: Sequence[NodeRow], frontier: merkle.Frontier) -> None:
        """Store the completed tree nodes and the new tree head."""


class LedgerRecorder(ApplicationRecorder):
    """What the ledger adds to an eventsourcing ApplicationRecorder: its log is a Merkle tree.

    Mixed into the library's recorders (``ledger/memory.py``: POPO, ``ledger/sqlite.py``,
    ``ledger/postgres.py``), as its ``searchabletimestamps`` example extends them: each adapter
    overrides the library's insertion step to call :meth:`_append_to_log` inside the
    transaction that stores the events, and supplies the reads below.
    """

    standby = False  # True for a read-only copy (a PostgreSQL hot standby): read, never written
    concurrent_reads = False  # may several threads read at once (verify reads ahead)?

    def _append_to_log(self, session: AppendSession, stored_events: Sequence[StoredEvent]) -> list[int]:
        """Give the events the next positions and leaf hashes, and store them with the tree's new
        completed nodes and head through ``session`` (one transaction); returns their positions."""
        if not stored_events:
            return []
        frontier = session.frontier()
        first = frontier.size + 1
        nodes: list[NodeRow] = []
        session.write_events(_hashed_rows(stored_events, frontier, nodes))
        if frontier.size != first - 1 + len(stored_events):  # every event is in the tree, or nothing commits
            raise AssertionError(f"{frontier.size - first + 1} of {len(stored_events)} events were hashed")
        session.write_tree(nodes, frontier)
        return list(range(first, first + len(stored_events)))

    # ------------------------------------------------------------ adapter SQL

    @abstractmethod
    def read_log(
        self,
        after: int,
        limit: int,
        originator_id: UUID | None = None,
        *,
        topics: Sequence[str] = (),
        stop: int | None = None,
    ) -> list[LoggedEvent]:
        """Events with position > after, in log order: at most ``limit`` of those that match
        (one aggregate, any of ``topics``, position <= ``stop``; each only when given)."""

    @abstractmethod
    def read_access_events(self, after: int, upto: int) -> list[LoggedEvent]:
        """API-key events with after < position <= upto, in log order (a partial index finds them)."""

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

    # ------------------------------------------------------------ signed checkpoints
    # Kept beside the log but outside it: a checkpoint signs a tree head, it is not an event.

    @abstractmethod
    def save_checkpoint(self, size: int, note: str) -> None:
        """Keep the signed checkpoint note of tree size ``size`` (replacing the one kept for
        that size: the same checkpoint with more cosignatures)."""

    @abstractmethod
    def checkpoint(self, size: int | None = None) -> str | None:
        """The note kept for ``size``, or the latest one when size is None."""

    @abstractmethod
    def checkpoint_sizes(self) -> list[int]:
        """The tree sizes with a kept checkpoint, oldest first."""

    def select_events_many(self, originator_ids: Sequence[UUID]) -> Sequence[StoredEvent]:
        """Every event of the given aggregates, ordered by aggregate and version
        (adapters answer in one query; this fallback asks once per aggregate)."""
        return [e for i in originator_ids for e in self.select_events(i)]

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
        # Filtered in the query, before the limit: a subscriber to some topics gets the next
        # ``limit`` events of those topics, never an empty page while matching events follow.
        events = self.read_log(after, limit, topics=topics, stop=stop)
        return [
            Notification(
                id=e.position,
                originator_id=e.originator_id,
                originator_version=e.originator_version,
                topic=e.topic,
                state=e.state,
            )
            for e in events
        ]

    def max_notification_id(self) -> int | None:
        return self.tree_head().size or None

    def log_rows(self, after: int, limit: int) -> Sequence[tuple[int, str, int, str, bytes, bytes]]:
        """(position, originator id as text, version, topic, state, leaf hash) of the events after
        ``after``, in log order: the stored values with no objects per event (verification reads
        every event; adapters answer with plain rows). The state may come back as another buffer."""
        return [
            (e.position, str(e.originator_id), e.originator_version, e.topic, e.state, e.leaf_hash)
            for e in self.read_log(after, limit)
        ]

    def leaf_inputs(self, after: int, limit: int) -> Sequence[tuple[int, bytes, bytes]]:
        """(position, the bytes its leaf hash covers: 0x00 + ``leaf_data``, stored leaf hash) of the events
        after ``after``, in log order (what verification hashes; an adapter may assemble it in SQL)."""
        start = _LEAF_PREFIX + b"claims-ledger/1\n%d\n%b\n%d\n%b\n"
        return [
            (position, start % (position, str(originator_id).encode(), version, topic.encode()) + _bytes(state), leaf)
            for position, originator_id, version, topic, state, leaf in self.log_rows(after, limit)
        ]

    def checked_leaves(self, after: int, limit: int) -> Sequence[tuple[int, bool, bytes]]:
        """(position, whether SHA-256 of the bytes its leaf hash covers equals the stored leaf hash, stored leaf
        hash) of the events after ``after``, in log order. An adapter may hash on the server; a row reported
        unequal is checked again through ``LoggedEvent.expected_leaf_hash`` (the reference) by the caller."""
        rows = self.leaf_inputs(after, limit)
        return [(position, sha256(data).digest() == leaf, leaf) for position, data, leaf in rows]

    def iter_log(self, after: int = 0, batch: int = 5000) -> Iterator[LoggedEvent]:
        while True:
            events = self.read_log(after, batch)
            if not events:
                return
            yield from events
            after = events[-1].position


def _hashed_rows(
    stored_events: Sequence[StoredEvent], frontier: merkle.Frontier, nodes: list[NodeRow]
) -> Iterator[EventRow]:
    """Give each event the next position and its leaf hash, appending the leaf to ``frontier``
    and the completed nodes that are stored to ``nodes``, one event at a time."""
    append = frontier.append
    position = frontier.size
    skip = STORED_NODE_LEVEL - 1  # frontier.append returns completed nodes by level 1, 2, ...
    for event in stored_events:
        position += 1
        originator_id = event.originator_id
        if type(originator_id) is not UUID:
            originator_id = UUID(str(originator_id))
        version, topic, state = event.originator_version, event.topic, event.state
        leaf = _leaf_hash(position, originator_id, version, topic, state)
        completed = append(leaf)
        if len(completed) > skip:
            nodes.extend(completed[skip:])
        yield (position, originator_id, version, topic, state, leaf)


def _leaf_hash(position: int, originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """``merkle.leaf_hash(leaf_data(...))`` without concatenating (copying) the state twice."""
    digest = sha256(_LEAF_PREFIX + leaf_header(position, originator_id, version, topic))
    digest.update(state)
    return digest.digest()


def _bytes(value: bytes | str) -> bytes:
    """A stored state as bytes (a hand edit can turn a BLOB into TEXT: read it as its UTF-8)."""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


_LEAF_PREFIX = b"\x00"  # RFC 6962 leaf domain separation, as in merkle.leaf_hash
_SAMPLE = (1, UUID(int=1), 1, "check", b"{}")
if _leaf_hash(*_SAMPLE) != merkle.leaf_hash(leaf_data(*_SAMPLE)):  # pragma: no cover
    raise ImportError("ledger.persistence's leaf hashing no longer matches ledger.integrity.merkle.leaf_hash")
