"""The ``checkpoint`` query: a kept signed checkpoint of the log."""

from __future__ import annotations

from api.graphql.context import Info
from api.graphql.loaders import blocking
from api.graphql.types.checkpoint import SignedCheckpoint


async def checkpoint(info: Info, tree_size: int | None = None) -> SignedCheckpoint:
    note = await blocking(info.context.read_model.checkpoint, tree_size)  # NOT_FOUND when none is kept
    return SignedCheckpoint.from_note(note)
