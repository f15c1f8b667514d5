"""GraphQL enums: the ledger's closed vocabularies (the same classes) and the API's own."""

from __future__ import annotations

from enum import Enum

import strawberry

from ledger.dates import Precision
from ledger.records import ActorKind, Attribution, Genre, Stance
from ledger.records import Relation as LinkRelation

__all__ = ["ActorKind", "Attribution", "Genre", "LinkRelation", "Precision", "Stance"]


# The ledger's vocabularies (declared once, in ledger.records and ledger.dates) as GraphQL enums.
strawberry.enum(Stance, description="An actor's stance on a topic's proposition.")
strawberry.enum(Attribution, description="How directly the source reports the statement.")
strawberry.enum(Precision, description="How precisely a date is known.")
strawberry.enum(Genre, description="The kind of text a source is.")
strawberry.enum(ActorKind, description="What kind of actor makes claims.")
strawberry.enum(LinkRelation, name="LinkRelation", description="How one claim relates to another.")


@strawberry.enum(description="Which bound a claim's countsFrom is.")
class CountsFromReason(Enum):
    STATED_PERIOD = strawberry.enum_value("STATED_PERIOD", description="The last day of the stated period.")
    SOURCE_PUBLISHED = strawberry.enum_value(
        "SOURCE_PUBLISHED", description="The last day of the source's publication, earlier than the period's end."
    )


@strawberry.enum(description="What happened to a claim's record.")
class ClaimEventType(Enum):
    RECORDED = "RECORDED"
    REVISED = "REVISED"
    RETRACTED = "RETRACTED"
    LINKED = "LINKED"
    SOURCE_REVISED = "SOURCE_REVISED"


FLIP_RULE = (
    "Consecutive claims of one actor on one topic, in stance order (countsFrom, stated.earliest, first "
    "recording), retracted ones left out: the same stance restated is NO_FLIP; SUPPORTS to OPPOSES or back is "
    "FULL_FLOP; any other change (into or out of CONDITIONAL or NEUTRAL) is HALF_FLIP."
)


@strawberry.enum(description="PolitiFact Flip-O-Meter terms. " + FLIP_RULE)
class FlipLabel(Enum):
    NO_FLIP = "NO_FLIP"
    HALF_FLIP = "HALF_FLIP"
    FULL_FLOP = "FULL_FLOP"
