"""``changes``: what the ledger's record of claims gained in a record-time window."""

from __future__ import annotations

import strawberry

from api.types.connections import PageInfo
from api.types.objects import Claim, ClaimEvent
from projections.changes import ChangeView


@strawberry.type(
    description="One claim event: a new claim (RECORDED), a correction (REVISED, with the field-level before and "
    "after), a retraction or a link; who recorded it and why, and the claim as the event left it."
)
class Change:
    event: ClaimEvent
    claim: Claim = strawberry.field(description="The claim in the version this event made.")

    @classmethod
    def from_view(cls, view: ChangeView) -> Change:
        return cls(event=ClaimEvent.from_view(view.event), claim=Claim.from_view(view.claim, view.event.recorded_at))


@strawberry.type
class ChangeEdge:
    cursor: str
    node: Change


@strawberry.type(description="A page of changes in log order (cursors are log positions).")
class ChangeConnection:
    edges: list[ChangeEdge]
    nodes: list[Change]
    page_info: PageInfo
