"""What mutations answer: the record as the read model now shows it, and whether it caught up."""

from __future__ import annotations

import strawberry

from api.graphql.types.objects import Actor, Claim, Source, Topic


@strawberry.interface(description="Every mutation's answer says where it was written and whether reads show it yet.")
class WriteResult:
    log_position: int | None = strawberry.field(
        description="Log position of the last event written; null when nothing had to be written (a repeat)."
    )
    pending: bool = strawberry.field(
        description="True when the read model had not caught up within the wait limit: the write is committed, "
        "queries will show it shortly."
    )


@strawberry.type
class RegisterSourcePayload(WriteResult):
    created: bool = strawberry.field(description="False when exactly this text was registered before.")
    source_id: strawberry.ID
    source: Source | None


@strawberry.type
class RegisterActorPayload(WriteResult):
    changed: bool = strawberry.field(description="False when the actor existed with these details.")
    actor: Actor | None


@strawberry.type
class DefineTopicPayload(WriteResult):
    changed: bool
    topic: Topic | None


@strawberry.type
class RecordClaimPayload(WriteResult):
    created: bool = strawberry.field(description="False when the same claim was recorded before (idempotent).")
    claim_id: strawberry.ID
    claim: Claim | None


@strawberry.type
class ReviseClaimPayload(WriteResult):
    claim_id: strawberry.ID
    version: int = strawberry.field(description="The claim's version after the revision.")
    claim: Claim | None


@strawberry.type
class RetractClaimPayload(WriteResult):
    claim_id: strawberry.ID
    version: int
    claim: Claim | None
