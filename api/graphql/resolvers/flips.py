"""``flips`` and ``flipSummaries``: consistency labels over the read model."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry

from api.errors import bad_input
from api.graphql.basis import record_time
from api.graphql.context import Info
from api.graphql.loaders import blocking
from api.graphql.types.connections import PageInfo, page_size, read_page
from api.graphql.types.enums import FlipLabel
from api.graphql.types.flips import Flip, FlipConnection, FlipEdge, FlipSummary
from api.names import resolve_keys
from projections.flips import FlipFilter


async def flips(
    info: Info,
    label: FlipLabel | None = None,
    actor: str | None = None,
    topic: str | None = None,
    from_: Annotated[
        date | None, strawberry.argument(name="from", description="later claim counts from this day on")
    ] = None,
    to: Annotated[date | None, strawberry.argument(description="... up to this day, inclusive")] = None,
    known_at: datetime | None = None,
    at_tree_size: int | None = None,
    first: int | None = None,
    after: str | None = None,
) -> FlipConnection:
    if from_ is not None and to is not None and from_ > to:
        raise bad_input("to", f"{to} is before from ({from_})")
    settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    at = await record_time(info, known_at, at_tree_size)
    actor_key, topic_key = await resolve_keys(info, ("actor", "actor", actor), ("topic", "topic", topic), at=at)
    wanted = FlipFilter(label.value if label else None, actor_key, topic_key, from_, to)
    page = await read_page(info.context.read_model.flips, wanted, size, after, at)
    nodes = [Flip(v, at) for v in page.items]
    return FlipConnection(
        edges=[FlipEdge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=PageInfo.of(page.cursors, page.has_next_page, after),
    )


async def flip_summaries(
    info: Info,
    actor: str | None = None,
    topic: str | None = None,
    known_at: datetime | None = None,
    at_tree_size: int | None = None,
) -> list[FlipSummary]:
    at = await record_time(info, known_at, at_tree_size)
    actor_key, topic_key = await resolve_keys(info, ("actor", "actor", actor), ("topic", "topic", topic), at=at)
    rows = await blocking(info.context.read_model.flip_summaries, FlipFilter(None, actor_key, topic_key), at)
    return [FlipSummary(r) for r in rows]
