"""Resolvers of the read queries: each asks the read model once and wraps the views."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import strawberry
from strawberry.types.nodes import FragmentSpread, InlineFragment

from api.context import Info, instant
from api.errors import bad_input
from api.loaders import blocking
from api.types.connections import ClaimConnection, ClaimEdge, PageInfo, page_size
from api.types.enums import Attribution, Stance
from api.types.inputs import ClaimFilter
from api.types.objects import Actor, Claim, Position, PositionChange, Source, Topic
from ledger.domain import claim_id
from ledger.errors import BadInput
from projections import views
from projections.views import PositionView, SourceView


async def position(
    info: Info, actor: str, topic: str, as_of: date | None = None, known_at: datetime | None = None
) -> Position | None:
    model = info.context.model
    with_source = selects(info, "claim", "source")

    def fetch() -> tuple[PositionView | None, SourceView | None]:
        view = model.position(actor, topic, as_of, instant(known_at))
        if view is None or not with_source:
            return view, None
        return view, model.sources_by_ids([view.claim.source_id])[0]

    # One trip to a worker thread for the position and, when asked for, its claim's source.
    view, source = await blocking(fetch)
    if source is not None:
        info.context.loaders.source.prime(source.id, source)
    return Position.from_view(view) if view else None


def selects(info: Info, *path: str) -> bool:
    """Does the query select this path of fields below the current one (fragments included)?"""
    level = _flatten(list(info.selected_fields))  # the current field itself
    for name in path:
        level = [child for field in level for child in _flatten(field.selections) if child.name == name]
        if not level:
            return False
    return True


def _flatten(selections: list[Any]) -> list[Any]:
    out = []
    for selection in selections:
        if isinstance(selection, FragmentSpread | InlineFragment):
            out.extend(_flatten(selection.selections))
        else:
            out.append(selection)
    return out


async def positions(
    info: Info,
    actor: str | None = None,
    topic: str | None = None,
    as_of: date | None = None,
    known_at: datetime | None = None,
) -> list[Position]:
    found = await blocking(info.context.model.positions, actor, topic, as_of, instant(known_at))
    return [Position.from_view(v) for v in found]


async def timeline(info: Info, actor: str, topic: str, known_at: datetime | None = None) -> list[PositionChange]:
    at = instant(known_at)
    changes = await blocking(info.context.model.timeline, actor, topic, at)
    return [PositionChange.from_view(c, at) for c in changes]


def claim_uuid(ref: str) -> UUID | None:
    """A claim's UUID from its id or its key (None if it is neither)."""
    try:
        return UUID(ref)
    except ValueError:
        return claim_id(ref) if ref.strip() else None


async def claim(info: Info, id: strawberry.ID, known_at: datetime | None = None) -> Claim | None:
    uuid = claim_uuid(str(id))
    if uuid is None:
        return None
    at = instant(known_at)
    view = await info.context.loaders.claim.load((uuid, at))
    return Claim.from_view(view, at) if view else None


async def claims(
    info: Info,
    filter: ClaimFilter | None = None,
    first: int | None = None,
    after: str | None = None,
    known_at: datetime | None = None,
) -> ClaimConnection:
    settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    wanted = _filter(filter or ClaimFilter())
    at = instant(known_at)
    try:
        page = await blocking(info.context.model.claims, wanted, size, after, at)
    except ValueError:
        raise bad_input("after", "is not a cursor of this connection") from None
    nodes = [Claim.from_view(v, at) for v in page.items]
    return ClaimConnection(
        edges=[ClaimEdge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=after is not None,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        total_count=page.total_count,
    )


def _filter(given: ClaimFilter) -> views.ClaimFilter:
    source_id = None
    if given.source is not None:
        try:
            source_id = UUID(str(given.source))
        except ValueError:
            raise bad_input("filter.source", "is not a source id") from None
    return views.ClaimFilter(
        actor=given.actor,
        topic=given.topic,
        source_id=source_id,
        stance=_value(given.stance),
        attribution=_value(given.attribution),
        stated_from=given.stated_from,
        stated_to=given.stated_to,
        text=given.text,
        include_retracted=given.include_retracted,
    )


def _value(member: Stance | Attribution | None) -> str | None:
    return member.value if member is not None else None


async def actors(info: Info, search: str | None = None) -> list[Actor]:
    found = await blocking(info.context.model.actors, search)
    return [Actor.from_view(v) for v in found[: info.context.settings.max_list_size]]


async def topics(info: Info) -> list[Topic]:
    found = await blocking(info.context.model.topics)
    return [Topic.from_view(v) for v in found[: info.context.settings.max_list_size]]


async def sources(info: Info) -> list[Source]:
    found = await blocking(info.context.model.sources)
    return [Source.from_view(v) for v in found[: info.context.settings.max_list_size]]


async def source(info: Info, id: strawberry.ID) -> Source | None:
    try:
        uuid = UUID(str(id))
    except ValueError:
        found: UUID | None = await blocking(_source_id_for_key, info, str(id))
        if found is None:
            return None
        uuid = found
    view = await info.context.loaders.source.load(uuid)
    return Source.from_view(view) if view else None


def _source_id_for_key(info: Info, key: str) -> UUID | None:
    try:
        return info.context.ledger.batch("api:reader").source_for(key).id
    except BadInput:
        return None
