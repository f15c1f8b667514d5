"""Wake-ups: how the projector learns of new events and readers learn of projected ones.

* Across processes the database is the truth: readers poll ``rm_tracking``;
  on PostgreSQL the projector LISTENs to the ledger's NOTIFY channel.
* Within one process a :class:`Hub` (one per database URL) short-cuts both
  ways: the projector publishes every commit, and a reader that waits for a
  position asks the projector to look at the log now instead of at its next poll.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg

from ledger.postgres import CHANNEL as LEDGER_CHANNEL
from projections.db import dialect_of

# Longest a PostgreSQL follower blocks on its socket before looking at stop/requests.
_SLICE = 0.05


class Hub:
    """In-process signals about one database's read model."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.sequence = 0  # bumped by every projector commit in this process
        self._requested = threading.Event()

    def published(self) -> None:
        with self._changed:
            self.sequence += 1
            self._changed.notify_all()

    def wait_published(self, seen: int, timeout: float) -> bool:
        """Wait until a commit after sequence number ``seen``; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self.sequence != seen, timeout)

    def request(self) -> None:
        """Ask the in-process projector (if any) to look at the log now."""
        self._requested.set()

    def wait_requested(self, timeout: float) -> bool:
        fired = self._requested.wait(timeout)
        self._requested.clear()
        return fired

    def take_request(self) -> bool:
        fired = self._requested.is_set()
        self._requested.clear()
        return fired


_hubs: dict[str, Hub] = {}
_hubs_lock = threading.Lock()


def hub(url: str) -> Hub:
    with _hubs_lock:
        found = _hubs.get(url)
        if found is None:
            found = _hubs[url] = Hub()
        return found


class LedgerWakeup:
    """Blocks a follower until the ledger may have new events (or a poll interval passes)."""

    def __init__(self, url: str, hub: Hub) -> None:
        self.hub = hub
        self._conn: psycopg.Connection[Any] | None = None
        if dialect_of(url) == "postgresql":
            self._conn = psycopg.connect(url, autocommit=True)
            self._conn.execute(f"LISTEN {LEDGER_CHANNEL}")

    def wait(self, stop: threading.Event, interval: float) -> None:
        if self._conn is None:
            # SQLite has no notifications: the poll tick, cut short by an in-process request.
            self.hub.wait_requested(interval)
            return
        deadline = time.monotonic() + interval
        while not stop.is_set() and not self.hub.take_request():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            for _ in self._conn.notifies(timeout=min(remaining, _SLICE), stop_after=1):
                return

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
