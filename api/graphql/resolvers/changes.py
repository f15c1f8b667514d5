"""The ``changes`` query: claim events recorded between two instants of record time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.errors import bad_input
from api.graphql.context import Info, instant
from api.graphql.loaders import blocking
from api.graphql.types.changes import Change, ChangeConnection, ChangeEdge
from api.graphql.types.connections import PageInfo, decode_position_cursor, encode_position_cursor, page_size
from api.names import resolve_keys
from projections.changes import ChangeFilter


async def changes(
    info: Info,
    from_: Annotated[datetime, strawberry.argument(name="from", description="record time, inclusive")],
    to: Annotated[datetime | None, strawberry.argument(description="record time, exclusive (default: now)")] = None,
    actor: str | None = None,
    topic: str | None = None,
    source: Annotated[str | None, strawberry.argument(description="a source's id or key")] = None,
    first: int | None = None,
    after: str | None = None,
) -> ChangeConnection:
    start, end = instant(from_, info), instant(to, info)
    assert start is not None
    if end is not None and end < start:
        raise bad_input("to", f"{to} is before from ({from_})")
    settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    position = decode_position_cursor(after)
    # A record-time window, not a pinned answer: references name the current records.
    actor_key, topic_key = await resolve_keys(info, ("actor", "actor", actor), ("topic", "topic", topic), at=None)
    wanted = ChangeFilter(start, end, actor_key, topic_key, source)
    found, has_next = await blocking(info.context.read_model.changes, wanted, position, size)
    nodes = [Change(v) for v in found]
    cursors = [encode_position_cursor(v.event.position) for v in found]
    return ChangeConnection(
        edges=[ChangeEdge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=PageInfo.of(cursors, has_next, after),
    )
