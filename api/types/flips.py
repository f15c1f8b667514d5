"""Consistency labels (PolitiFact Flip-O-Meter terms) as GraphQL types; the rule is projections/flips.py."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.types.connections import PageInfo
from api.types.enums import FLIP_RULE as RULE
from api.types.enums import FlipLabel
from api.types.objects import Claim
from projections import views


@strawberry.type(description="A label between two consecutive claims of one actor on one topic. " + RULE)
class Flip:
    label: FlipLabel
    before: Claim = strawberry.field(description="The earlier claim (its passage: before.passage).")
    after: Claim = strawberry.field(description="The later claim; the flip counts from after.countsFrom.")

    @classmethod
    def from_view(cls, view: views.FlipView, known_at: datetime | None) -> Flip:
        return cls(
            label=FlipLabel(view.label),
            before=Claim.from_view(view.before, known_at),
            after=Claim.from_view(view.after, known_at),
        )


@strawberry.type
class FlipEdge:
    cursor: str
    node: Flip


@strawberry.type(description="A page of labelled changes, ordered by the later claim's stance order.")
class FlipConnection:
    edges: list[FlipEdge]
    nodes: list[Flip]
    page_info: PageInfo


@strawberry.type(description="How consistent an actor has been on a topic: the labels of all consecutive claims.")
class FlipSummary:
    actor_key: str
    topic_key: str
    claims: int
    no_flips: int
    half_flips: int
    full_flops: int

    @strawberry.field(description="The strongest label seen (FULL_FLOP > HALF_FLIP > NO_FLIP); null with one claim.")
    def strongest(self) -> FlipLabel | None:
        if self.full_flops:
            return FlipLabel.FULL_FLOP
        if self.half_flips:
            return FlipLabel.HALF_FLIP
        return FlipLabel.NO_FLIP if self.no_flips else None

    @classmethod
    def from_view(cls, view: views.FlipSummaryView) -> FlipSummary:
        return cls(
            actor_key=view.actor,
            topic_key=view.topic,
            claims=view.claims,
            no_flips=view.no_flips,
            half_flips=view.half_flips,
            full_flops=view.full_flops,
        )
