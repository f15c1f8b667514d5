"""The API's view of projections/: the query contract, read-your-writes and the projector.

Everything the API needs from the read side goes through :class:`ReadSide`, so
the API holds no SQL and changes in one place if the projections package does.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from projections.freshness import PositionWatch
from projections.queries import ReadModel, open_read_model
from projections.views import CollectionSizes, PositionView, SourceView


class Projector(Protocol):
    def stop(self, timeout: float = ...) -> None: ...


class ReadSide:
    """The read model of one database, plus waiting for it and running its projector."""

    def __init__(self, model: ReadModel) -> None:
        self.model = model
        self.watch = PositionWatch(model)  # the positions without a read per request (api/http_cache.py)

    @classmethod
    def open(cls, url: str, statement_timeout: float = 0.0) -> ReadSide:
        return cls(open_read_model(url, statement_timeout))

    def wait_for(self, position: int, timeout: float) -> bool:
        """True once the read model reflects the log up to ``position``; False after ``timeout`` seconds."""
        try:
            return self.model.wait_for(position, timeout)
        finally:
            self.watch.invalidate()  # read-your-writes: this process's next read sees at least ``position``

    def position_and_source(
        self, actor: str, topic: str, as_of: date | None, known_at: datetime | None, with_source: bool
    ) -> tuple[PositionView | None, SourceView | None]:
        """One pair's position and (``with_source``) its claim's source, in one statement."""
        return self.model.position_and_source(actor, topic, as_of, known_at, with_source=with_source)

    def collection_sizes(self) -> CollectionSizes:
        """How many sources, actors... there are (query cost estimates)."""
        return self.model.collection_sizes()

    def projected_position(self) -> int:
        return self.model.projected_position()

    def cache_positions(self) -> tuple[int, int]:
        """(projected position, last actor/topic/source change): when a reused answer goes stale."""
        return self.model.cache_positions()

    @staticmethod
    def start_projector(url: str) -> Projector:
        """Run the projector in this process (a background thread) until ``stop()``."""
        from projections.runner import start_in_process

        return start_in_process(url)

    def close(self) -> None:
        self.watch.close()
        self.model.close()
