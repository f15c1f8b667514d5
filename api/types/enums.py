"""The ledger's closed vocabularies as GraphQL enums (kept equal to ``ledger.commands``)."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="An actor's stance on a topic's proposition.")
class Stance(Enum):
    SUPPORTS = "SUPPORTS"
    OPPOSES = "OPPOSES"
    CONDITIONAL = "CONDITIONAL"
    NEUTRAL = "NEUTRAL"


@strawberry.enum(description="How directly the source reports the statement.")
class Attribution(Enum):
    DIRECT_QUOTE = "DIRECT_QUOTE"
    INDIRECT_SPEECH = "INDIRECT_SPEECH"
    REPORTED = "REPORTED"
    EDITORIAL = "EDITORIAL"


@strawberry.enum(description="How precisely a date is known.")
class Precision(Enum):
    DAY = "DAY"
    MONTH = "MONTH"
    YEAR = "YEAR"


@strawberry.enum(description="Which bound a claim's countsFrom is.")
class CountsFromReason(Enum):
    STATED_PERIOD = strawberry.enum_value("STATED_PERIOD", description="The last day of the stated period.")
    SOURCE_PUBLISHED = strawberry.enum_value(
        "SOURCE_PUBLISHED", description="The last day of the source's publication, earlier than the period's end."
    )


@strawberry.enum(description="The kind of text a source is.")
class Genre(Enum):
    NEWS = "NEWS"
    COMMENTARY = "COMMENTARY"
    OPINION = "OPINION"
    PRIMARY_STATEMENT = "PRIMARY_STATEMENT"
    TRANSCRIPT = "TRANSCRIPT"


@strawberry.enum(description="What kind of actor makes claims.")
class ActorKind(Enum):
    PERSON = "PERSON"
    ORGANISATION = "ORGANISATION"
    STATE = "STATE"
    GROUP = "GROUP"


@strawberry.enum(description="How one claim relates to another.")
class LinkRelation(Enum):
    SUPERSEDES = "SUPERSEDES"
    DISPUTES = "DISPUTES"


@strawberry.enum(description="What happened to a claim's record.")
class ClaimEventType(Enum):
    RECORDED = "RECORDED"
    REVISED = "REVISED"
    RETRACTED = "RETRACTED"
    LINKED = "LINKED"
    SOURCE_REVISED = "SOURCE_REVISED"
