"""Running the projector continuously: in a background thread of ``claims serve``
(the embedded default) or as a worker process (``claims project --follow``)."""

from __future__ import annotations

import threading

from projections.projector import Projector


class BackgroundProjector:
    """A :class:`Projector` following the ledger in a daemon thread.

    ``start()`` creates the projector synchronously (so a broken database fails
    the caller), then catches up and follows in the background. A model of another
    schema is upgraded there: rebuilt beside the old one, then switched (``Projector``),
    or, when another process is doing so, left to it.
    """

    def __init__(self, url: str | None = None, *, interval: float = 0.5, batch_size: int | None = None) -> None:
        self.url = url
        self.interval = interval
        self.batch_size = batch_size
        self.projector: Projector | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> BackgroundProjector:
        if self._thread is not None:
            return self
        if self.batch_size:
            self.projector = Projector(self.url, batch_size=self.batch_size)
        else:
            self.projector = Projector(self.url)
        self._thread = threading.Thread(target=self._run, name="claims-projector", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        assert self.projector is not None
        try:
            self.projector.follow(self._stop, self.interval)
        finally:
            self.projector.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self.projector is not None:
            self.projector.hub.request()  # cut a poll wait short
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> BackgroundProjector:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_in_process(url: str | None = None, *, interval: float = 0.5) -> BackgroundProjector:
    """For ``claims serve`` (embedded default): follow the ledger in this process until ``.stop()``."""
    return BackgroundProjector(url, interval=interval).start()
