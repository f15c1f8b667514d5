"""``changes``: what the ledger's record of claims gained in a record-time window."""

from __future__ import annotations

import strawberry

from api.graphql.types.connections import PageInfo
from api.graphql.types.objects import Claim, ClaimEvent, FromView, reads_view
from projections.changes import ChangeView


@reads_view
@strawberry.type(
    description="One claim event: a new claim (RECORDED), a correction (REVISED, with the field-level before and "
    "after), a retraction or a link; who recorded it and why, and the claim as the event left it."
)
class Change(FromView):
    event: ClaimEvent = strawberry.field(resolver=lambda root: ClaimEvent(root.view.event))
    claim: Claim = strawberry.field(
        resolver=lambda root: Claim(root.view.claim, root.view.event.recorded_at),
        description="The claim in the version this event made.",
    )
    view: strawberry.Private[ChangeView]

    def __init__(self, view: ChangeView) -> None:
        self.view = view


@strawberry.type
class ChangeEdge:
    cursor: str
    node: Change


@strawberry.type(description="A page of changes in log order (cursors are log positions).")
class ChangeConnection:
    edges: list[ChangeEdge]
    nodes: list[Change]
    page_info: PageInfo
