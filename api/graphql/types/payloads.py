"""What mutations answer: the record as the read model now shows it, and whether it caught up."""

from __future__ import annotations

from typing import Generic, TypeVar

import strawberry

from api.graphql.types.objects import Actor, Claim, Source, Topic

R = TypeVar("R")


class ReadBack(Generic[R]):
    """The record as the read model showed it after a committed write, or why it could not be read.

    The write is committed whatever happens to this read, so its failure (the database gone away, a
    replica down) is the record field's error, null with the error at its path, and not the mutation's:
    the client still learns that and where it was written (``logPosition``, ``pending``)."""

    __slots__ = ("error", "record")

    def __init__(self, record: R | None, error: Exception | None = None) -> None:
        self.record = record
        self.error = error

    @property
    def failed(self) -> bool:
        return self.error is not None

    def get(self) -> R | None:
        if self.error is not None:
            raise self.error
        return self.record


@strawberry.interface(description="Every mutation's answer says where it was written and whether reads show it yet.")
class WriteResult:
    log_position: int | None = strawberry.field(
        description="Log position of the last event written; null when nothing had to be written (a repeat)."
    )
    pending: bool = strawberry.field(
        description="True when the read model had not caught up within the wait limit, or could not be asked: the "
        "write is committed, queries will show it shortly. The record's field is then null or not yet up to date, "
        "and null with an error at its path when it could not be read."
    )


@strawberry.type
class RegisterSourcePayload(WriteResult):
    created: bool = strawberry.field(description="False when exactly this text was registered before.")
    source_id: strawberry.ID
    read_back: strawberry.Private[ReadBack[Source]]

    @strawberry.field
    def source(self) -> Source | None:
        return self.read_back.get()


@strawberry.type
class RegisterActorPayload(WriteResult):
    changed: bool = strawberry.field(description="False when the actor existed with these details.")
    read_back: strawberry.Private[ReadBack[Actor]]

    @strawberry.field
    def actor(self) -> Actor | None:
        return self.read_back.get()


@strawberry.type
class DefineTopicPayload(WriteResult):
    changed: bool
    read_back: strawberry.Private[ReadBack[Topic]]

    @strawberry.field
    def topic(self) -> Topic | None:
        return self.read_back.get()


@strawberry.type
class RecordClaimPayload(WriteResult):
    created: bool = strawberry.field(description="False when the same claim was recorded before (idempotent).")
    claim_id: strawberry.ID
    read_back: strawberry.Private[ReadBack[Claim]]

    @strawberry.field
    def claim(self) -> Claim | None:
        return self.read_back.get()


@strawberry.type
class ReviseClaimPayload(WriteResult):
    claim_id: strawberry.ID
    version: int = strawberry.field(description="The claim's version after the revision.")
    read_back: strawberry.Private[ReadBack[Claim]]

    @strawberry.field
    def claim(self) -> Claim | None:
        return self.read_back.get()


@strawberry.type
class RetractClaimPayload(WriteResult):
    claim_id: strawberry.ID
    version: int
    read_back: strawberry.Private[ReadBack[Claim]]

    @strawberry.field
    def claim(self) -> Claim | None:
        return self.read_back.get()
