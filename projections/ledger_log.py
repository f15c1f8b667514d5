"""The read side's reads of the ledger's own log: its events, tree head, proofs and kept checkpoints.

:class:`projections.queries.ReadModel` inherits these, so the API and the read
commands have one read-side object for every read: the read-model tables and
the log alike. The log is read through the ledger's recorder (opened on first
use, or the API process's own ledger); proofs come from ``ledger.integrity.proofs``
and checkpoints from ``ledger.integrity.published`` only, never rebuilt here.
"""

from __future__ import annotations

import threading
from typing import Any

from ledger.application import ClaimsLedger
from ledger.integrity import merkle, proofs, published
from ledger.persistence import LoggedEvent, TreeHead

# One event of the log with its decoded state (timestamp, recorded_by and the event's fields).
Entry = tuple[LoggedEvent, dict[str, Any]]


class LedgerLog:
    """Read-only access to the log of the ledger at ``url``."""

    url: str

    def __init__(self, url: str, ledger: ClaimsLedger | None = None) -> None:
        """``ledger``: read through this (open) ledger instead of opening one; it stays the caller's to close."""
        self.url = url
        self._ledger = ledger
        self._owns_ledger = ledger is None
        self._opening = threading.Lock()

    def _log(self) -> ClaimsLedger:
        if self._ledger is None:
            with self._opening:
                if self._ledger is None:
                    self._ledger = ClaimsLedger.open(self.url)
        return self._ledger

    def close_log(self) -> None:
        if self._owns_ledger and self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def tree_head(self) -> TreeHead:
        return self._log().ledger_recorder.tree_head()

    def tree_size(self) -> int:
        """How many events the log holds (every one of them has committed)."""
        return self.tree_head().size

    def root_hash(self, tree_size: int) -> bytes:
        """The Merkle root of the log's first ``tree_size`` events."""
        return merkle.subtree_root(0, tree_size, self._log().ledger_recorder)

    def events(self, after: int, limit: int, upto: int | None = None) -> list[Entry]:
        """At most ``limit`` events after log position ``after`` (and at most up to ``upto``), decoded."""
        ledger = self._log()
        logged = ledger.ledger_recorder.read_log(after, limit)
        if upto is not None:
            logged = [e for e in logged if e.position <= upto]
        decode = ledger.mapper.transcoder.decode
        return [(e, decode(e.state)) for e in logged]

    def access_events(self, after: int, upto: int) -> list[Entry]:
        """The ApiKey events after ``after`` up to ``upto``, decoded (what the API's key store follows)."""
        ledger = self._log()
        decode = ledger.mapper.transcoder.decode
        return [(e, decode(e.state)) for e in ledger.ledger_recorder.read_access_events(after, upto)]

    def inclusion_proof(self, position: int, tree_size: int | None = None) -> proofs.InclusionProof:
        return proofs.inclusion(self._log().ledger_recorder, position, tree_size)

    def consistency_proof(self, from_size: int, to_size: int | None = None) -> proofs.ConsistencyProof:
        return proofs.consistency(self._log().ledger_recorder, from_size, to_size)

    def checkpoint(self, tree_size: int | None = None) -> str:
        """The kept signed checkpoint of that tree size (default: the latest); NotFound when none is kept."""
        return published.kept(self._log().ledger_recorder, tree_size)
