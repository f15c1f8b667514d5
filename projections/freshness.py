"""The read model's positions as this process knows them, without a database read per request.

An answer reused from the API's response cache is right while the read model has
not moved past the position it was computed at. Reading ``rm_tracking`` on every
request to learn that costs a thread hop and a round trip, more than the reused
answer itself. :class:`PositionWatch` keeps the last positions read and reads
them again only when they may have moved:

* an in-process projector committed (its :class:`~projections.signals.Hub`
  sequence changed: no delay);
* a projector in another process committed: on PostgreSQL it NOTIFYs
  ``claims_read_model`` at commit, and a listener thread marks the positions
  stale when the notification arrives (delay: the notification's delivery,
  well under a millisecond on one host); without a listener (SQLite, or the
  listening connection failed) the positions are re-read when older than
  ``poll_seconds``;
* this process waited for the read model (:meth:`invalidate`; the API calls it
  from every read-your-writes wait), so a write answered by this process makes
  its next read fresh, whatever the delays above.

The staleness bound for a write made through *another* API process is therefore
the NOTIFY delivery (PostgreSQL) or ``poll_seconds`` (SQLite); as a safety net the
positions are also re-read at least every ``listen_poll_seconds`` while listening.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

import psycopg

from ledger.db import connection_options
from projections.db import READ_MODEL_CHANNEL, dialect_of
from projections.signals import Hub, Waker, notified

log = logging.getLogger("claims.projections")

POLL_SECONDS = 0.005  # without notifications: positions read at most this long ago
LISTEN_POLL_SECONDS = 1.0  # with notifications: a lost one still ages out
RELISTEN_FIRST_SECONDS, RELISTEN_MAX_SECONDS = 0.5, 10.0  # the listener's connection lost: tries again after
CLOSE_WAIT_SECONDS = 1.0  # closing waits this long for the listener to stop (it is woken at once)


class _Positions(Protocol):
    url: str
    hub: Hub

    def cache_positions(self) -> tuple[int, int]: ...


class PositionWatch:
    """(projected position, last actor/topic/source change) as last read, and whether that may be stale."""

    def __init__(
        self, model: _Positions, *, poll_seconds: float = POLL_SECONDS, listen_poll_seconds: float = LISTEN_POLL_SECONDS
    ) -> None:
        self._model = model
        self._hub = model.hub
        self.poll_seconds = poll_seconds
        self.listen_poll_seconds = listen_poll_seconds
        self._known: tuple[int, int] | None = None
        self._read_at = 0.0
        self._sequence = -1  # the hub's sequence when the positions were read
        # Every "may have moved" (a notification, invalidate) counts one epoch; the positions kept
        # are valid only in the epoch their read began in. Two refreshes racing: the one that began
        # earlier never overwrites a later one (a bool flag let an old read land last and look fresh).
        self._epoch = 1
        self._known_epoch = 0
        self.listening = False
        self._started = False
        self._stop = threading.Event()
        self._waker: Waker | None = None  # ends the listener's wait when closing (PostgreSQL)
        self._listener_done = False
        self._waker_orphaned = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.reads = 0  # how many times the positions were read from the database

    def current(self) -> tuple[int, int] | None:
        """The positions if they cannot have moved unseen; None: call :meth:`refresh` (blocking)."""
        if not self._started:
            self._start()
        known = self._known
        if known is None or self._known_epoch != self._epoch or self._hub.sequence != self._sequence:
            return None
        bound = self.listen_poll_seconds if self.listening else self.poll_seconds
        if time.monotonic() - self._read_at > bound:
            return None
        return known

    def refresh(self) -> tuple[int, int]:
        """Read the positions from the database (blocking: run it off the event loop)."""
        # The epoch is taken *before* the read: a commit announced while it runs starts a new one,
        # so what this read finds is kept but not trusted.
        epoch = self._epoch
        sequence = self._hub.sequence
        read_at = time.monotonic()
        positions = self._model.cache_positions()
        with self._lock:
            self.reads += 1
            if epoch < self._known_epoch or (epoch == self._known_epoch and read_at < self._read_at):
                return positions  # a later read is kept already
            self._known = positions
            self._known_epoch = epoch
            self._sequence = sequence
            self._read_at = read_at
        return positions

    def invalidate(self) -> None:
        """The read model may have moved (this process waited for it): the next :meth:`current` reads again."""
        self._epoch += 1

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            try:
                postgresql = dialect_of(self._model.url) == "postgresql"
            except ValueError:
                postgresql = False
            if postgresql:
                self._waker = Waker()
                self._thread = threading.Thread(target=self._listen, name="claims-position-watch", daemon=True)
                self._thread.start()

    def _listen(self) -> None:
        assert self._waker is not None
        failures = 0
        while not self._stop.is_set():
            conn: psycopg.Connection[Any] | None = None
            try:
                conn = psycopg.connect(self._model.url, autocommit=True, **connection_options(self._model.url))
                conn.execute(f"LISTEN {READ_MODEL_CHANNEL}")
                self._epoch += 1  # a commit may have happened before LISTEN took effect
                self.listening = True
                if failures:
                    log.warning("position watch: listening for read-model commits again")
                    failures = 0
                while not self._stop.is_set():
                    if notified(conn, self._waker, None):  # (or woken to stop)
                        self._epoch += 1
            except psycopg.Error as error:
                # The database restarted or cut the connection: poll (every poll_seconds) meanwhile, and
                # listen again as soon as it answers.
                failures += 1
                if failures == 1:
                    log.warning("position watch: not listening for read-model commits (%s); polling every %ss",
                                error, self.poll_seconds)  # fmt: skip
            finally:
                self.listening = False
                self._epoch += 1
                if conn is not None:
                    conn.close()
            if failures:
                self._stop.wait(min(RELISTEN_FIRST_SECONDS * 2 ** min(failures - 1, 8), RELISTEN_MAX_SECONDS))
        with self._lock:  # the waker is closed by whichever of this thread and close() comes last
            self._listener_done = True
            if self._waker_orphaned:
                self._waker.close()

    def close(self) -> None:
        self._stop.set()
        if self._waker is not None:
            self._waker.wake()
        if self._thread is not None:
            self._thread.join(CLOSE_WAIT_SECONDS)
            self._thread = None
            with self._lock:
                if self._listener_done and self._waker is not None:
                    self._waker.close()
                else:  # (still connecting: it closes the waker when it ends)
                    self._waker_orphaned = True
