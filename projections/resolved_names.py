"""Names already resolved, kept in this process while the read model's names cannot have changed.

A cold ``position`` request resolves its actor and topic before reading the position:
a second statement (and its Python) for an answer that changes only when an actor or
topic event is projected. The read model is a pure function of the log prefix, so a
resolution read while the read model's last actor/topic/source change was at position
``p`` (:meth:`~projections.freshness.PositionWatch.current`, second position) stays
right for as long as that position is still ``p``: no time bound, no guess.

The position is taken *before* the names are read, so an entry is never tagged with a
position newer than its answer; a rebuild that ends at the same position rebuilds the
same names. The staleness bound is the watch's (freshness.py): none for this process's
own writes and its embedded projector, the NOTIFY delivery (PostgreSQL) or
``poll_seconds`` (SQLite) for a projector in another process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from projections.names import Resolution

MAX_RESOLUTIONS = 8192  # a reference is at most MAX_REFERENCE_CHARS: a few MB at most

# (kind, the reference as typed, the record time it was resolved at: None for now)
Asked = tuple[str, str, datetime | None]


class ResolvedNames:
    """Resolutions read at one details position; a different position empties them."""

    def __init__(self, limit: int = MAX_RESOLUTIONS) -> None:
        self.limit = limit
        self._at: int | None = None
        # (ordered: a plain dict's oldest key is found by scanning the holes its deletions left, ~3 µs a
        # request once it turns over; an OrderedDict drops its oldest in O(1))
        self._found: OrderedDict[Asked, Resolution] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, at: int, asked: Sequence[Asked]) -> list[Resolution | None]:
        """Each asked reference's resolution read at details position ``at`` (None: not kept)."""
        with self._lock:
            if self._at != at:
                return [None] * len(asked)
            found = [self._found.get(a) for a in asked]
        hits = sum(r is not None for r in found)
        self.hits += hits
        self.misses += len(found) - hits
        return found

    def get_all(self, at: int, asked: Sequence[Asked]) -> list[Resolution] | None:
        """Every asked reference's resolution, or None when one is not kept. Counts nothing: a caller that
        then reads the names goes through :meth:`get`, which counts each once; one that does not calls
        :meth:`count_hits`."""
        with self._lock:
            if self._at != at:
                return None
            found = [self._found.get(a) for a in asked]
        if any(r is None for r in found):
            return None
        return found  # type: ignore[return-value]  # (no None left)

    def count_hits(self, hits: int) -> None:
        self.hits += hits

    def put(self, at: int, resolved: Sequence[tuple[Asked, Resolution]]) -> None:
        """Keep resolutions read after the details position was seen to be ``at``."""
        with self._lock:
            if self._at != at:  # the read model moved (or a slower reader read at an older position)
                self._found.clear()
                self._at = at
            for asked, resolution in resolved:
                if len(self._found) >= self.limit:
                    self._found.popitem(last=False)  # the oldest first
                self._found[asked] = resolution
