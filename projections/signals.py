"""Wake-ups: how the projector learns of new events and readers learn of projected ones.

* Across processes the database is the truth: readers poll ``rm_tracking``;
  on PostgreSQL the projector LISTENs to the ledger's NOTIFY channel.
* Within one process a :class:`Hub` (one per database URL) short-cuts both
  ways: the projector publishes every commit, and a reader that waits for a
  position asks the projector to look at the log now instead of at its next poll.
"""

from __future__ import annotations

import math
import select
import socket
import threading
import time
from contextlib import suppress
from typing import Any

import psycopg

from ledger.db import connection_options
from ledger.postgres import CHANNEL as LEDGER_CHANNEL
from projections.db import dialect_of


class Hub:
    """In-process signals about one database's read model."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.sequence = 0  # bumped by every projector commit in this process
        self._requested = threading.Event()
        self._wakers: set[Waker] = set()  # of followers blocked on a socket (LedgerWakeup)
        self._wakers_lock = threading.Lock()

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
        with self._wakers_lock:
            wakers = list(self._wakers)
        for waker in wakers:
            waker.wake()

    def add_waker(self, waker: Waker) -> None:
        with self._wakers_lock:
            self._wakers.add(waker)

    def discard_waker(self, waker: Waker) -> None:
        with self._wakers_lock:
            self._wakers.discard(waker)

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


class Waker:
    """A socket another thread makes readable to end a wait on sockets at once (the self-pipe idiom).

    A thread blocked in ``poll`` on a LISTENing connection learns of nothing else; waiting in slices
    instead (``notifies(timeout=...)`` in a loop) costs an idle server a steady share of a core.
    """

    def __init__(self) -> None:
        self._inbox, self._outbox = socket.socketpair()
        self._inbox.setblocking(False)
        self._outbox.setblocking(False)

    def fileno(self) -> int:
        return self._inbox.fileno()

    def wake(self) -> None:
        with suppress(OSError):  # full: a wake-up is pending anyway; closed: no one waits any more
            self._outbox.send(b"\0")

    def drain(self) -> None:
        with suppress(BlockingIOError):
            while self._inbox.recv(4096):
                pass

    def close(self) -> None:
        self._inbox.close()
        self._outbox.close()


def notified(conn: psycopg.Connection[Any], waker: Waker, timeout: float | None) -> bool:
    """Wait until a notification reaches ``conn`` (which LISTENs), ``waker`` wakes or ``timeout`` seconds
    pass (None: no limit); True if a notification came. A lost connection raises psycopg's error."""
    poller = select.poll()  # (not select(): no limit on the descriptors' numbers)
    poller.register(conn.fileno(), select.POLLIN)
    poller.register(waker.fileno(), select.POLLIN)
    # Milliseconds rounded up: a wait rounded down to 0 ms would spin until the deadline.
    ready = {fd for fd, _ in poller.poll(None if timeout is None else max(1, math.ceil(timeout * 1000)))}
    if waker.fileno() in ready:
        waker.drain()
    if conn.fileno() in ready:
        for _ in conn.notifies(timeout=0, stop_after=1):  # reads what arrived (or raises: the server went away)
            return True
    return False


class LedgerWakeup:
    """Blocks a follower until the ledger may have new events (or a poll interval passes)."""

    def __init__(self, url: str, hub: Hub) -> None:
        self.hub = hub
        self._conn: psycopg.Connection[Any] | None = None
        self._waker: Waker | None = None
        if dialect_of(url) == "postgresql":
            self._conn = psycopg.connect(url, autocommit=True, **connection_options(url))
            try:
                self._conn.execute(f"LISTEN {LEDGER_CHANNEL}")
            except BaseException:
                self._conn.close()
                raise
            self._waker = Waker()
            hub.add_waker(self._waker)

    def wait(self, stop: threading.Event, interval: float) -> None:
        if self._conn is None or self._waker is None:
            # SQLite has no notifications: the poll tick, cut short by an in-process request.
            self.hub.wait_requested(interval)
            return
        deadline = time.monotonic() + interval
        while not stop.is_set() and not self.hub.take_request():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or notified(self._conn, self._waker, remaining):
                return

    def close(self) -> None:
        if self._waker is not None:
            self.hub.discard_waker(self._waker)
            self._waker.close()
            self._waker = None
        if self._conn is not None:
            self._conn.close()
