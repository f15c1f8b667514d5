"""Checkpoints over HTTP (``GET /checkpoint``) and the server's periodic checkpointer.

With ``CLAIMS_CHECKPOINT_KEY`` set (a key file from ``claims checkpoint keygen``)
the server signs a new checkpoint once the log has grown by
``CLAIMS_CHECKPOINT_EVENTS`` events since the last one, or when events have waited
``CLAIMS_CHECKPOINT_SECONDS`` without a checkpoint, whichever comes first; never
when nothing was appended. Several processes may run it: signing a size twice
gives the same note (Ed25519 is deterministic) and the store keeps one per size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from api.graphql.loaders import blocking
from ledger.application import ClaimsLedger
from ledger.errors import NotFound
from ledger.integrity import published
from ledger.integrity.note import Signer

log = logging.getLogger("claims.api.web.checkpoints")
POLL_SECONDS = 1.0


async def checkpoint_route(request: Request) -> Response:
    """The latest kept checkpoint, byte for byte, as tlog tooling reads it."""
    try:
        note = await blocking(request.app.state.services.read_model.checkpoint)
    except NotFound:
        return PlainTextResponse("no checkpoint has been issued yet\n", status_code=404)
    return Response(note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-cache"})


class Checkpointer:
    def __init__(self, ledger: ClaimsLedger, key_file: str, every_seconds: float, every_events: int) -> None:
        self.ledger = ledger
        self.signer = Signer.parse(Path(key_file).read_text("utf-8"))  # fail at start-up on a bad key
        self.every_seconds = every_seconds
        self.every_events = every_events
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="checkpointer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def due(self, size: int, covered: int, waiting_since: float | None, now: float) -> bool:
        if size <= covered:
            return False
        if size - covered >= self.every_events:
            return True
        return waiting_since is not None and now - waiting_since >= self.every_seconds

    async def _run(self) -> None:
        recorder = self.ledger.ledger_recorder
        waiting_since: float | None = None
        while True:
            try:
                size = (await blocking(recorder.tree_head)).size
                sizes = await blocking(recorder.checkpoint_sizes)
                covered = sizes[-1] if sizes else -1
                now = time.monotonic()
                if size > covered and waiting_since is None:
                    waiting_since = now
                if self.due(size, covered, waiting_since, now):
                    await blocking(published.issue, recorder, self.signer)
                    waiting_since = None
                    log.info("checkpoint issued at tree size %d", size)
                await asyncio.sleep(min(POLL_SECONDS, self.every_seconds))
            except asyncio.CancelledError:
                raise
            except Exception:  # keep going: a database hiccup must not stop checkpoints for good
                log.exception("issuing a checkpoint failed; retrying")
                await asyncio.sleep(max(POLL_SECONDS, 1.0))
