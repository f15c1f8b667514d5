"""Consistency labels (PolitiFact Flip-O-Meter terms) as GraphQL types; the rule is projections/flips.py."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.graphql.types.connections import PageInfo
from api.graphql.types.enums import FLIP_RULE as RULE
from api.graphql.types.enums import FlipLabel
from api.graphql.types.objects import Claim, FromView, reads_view
from projections import views


@reads_view
@strawberry.type(description="A label between two consecutive claims of one actor on one topic. " + RULE)
class Flip(FromView):
    label: FlipLabel
    before: Claim = strawberry.field(
        resolver=lambda root: Claim(root.view.before, root.known_at),
        description="The earlier claim (its passage: before.passage).",
    )
    after: Claim = strawberry.field(
        resolver=lambda root: Claim(root.view.after, root.known_at),
        description="The later claim; the flip counts from after.countsFrom.",
    )
    view: strawberry.Private[views.FlipView]
    known_at: strawberry.Private[datetime | None]

    def __init__(self, view: views.FlipView, known_at: datetime | None) -> None:
        self.view = view
        self.known_at = known_at


@strawberry.type
class FlipEdge:
    cursor: str
    node: Flip


@strawberry.type(description="A page of labelled changes, ordered by the later claim's stance order.")
class FlipConnection:
    edges: list[FlipEdge]
    nodes: list[Flip]
    page_info: PageInfo


@reads_view
@strawberry.type(description="How consistent an actor has been on a topic: the labels of all consecutive claims.")
class FlipSummary(FromView):
    actor: str = strawberry.field(name="actorKey")
    topic: str = strawberry.field(name="topicKey")
    claims: int = strawberry.field(
        description="How many claims of the actor on the topic the ledger held at the record time asked (retracted "
        "ones left out), whatever their countsFrom (one that counts in positions only from a later date is "
        "included): in stance order, each after the first is labelled against the one before it."
    )
    no_flips: int = strawberry.field(description="How many of those labels are NO_FLIP.")
    half_flips: int = strawberry.field(description="... HALF_FLIP.")
    full_flops: int = strawberry.field(description="... FULL_FLOP (noFlips + halfFlips + fullFlops = claims - 1).")
    view: strawberry.Private[views.FlipSummaryView]

    def __init__(self, view: views.FlipSummaryView) -> None:
        self.view = view

    @strawberry.field(description="The strongest label seen (FULL_FLOP > HALF_FLIP > NO_FLIP); null with one claim.")
    def strongest(self) -> FlipLabel | None:
        if self.full_flops:
            return FlipLabel.FULL_FLOP
        if self.half_flips:
            return FlipLabel.HALF_FLIP
        return FlipLabel.NO_FLIP if self.no_flips else None
