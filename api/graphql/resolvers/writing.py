"""Mutation resolvers: parse with ``ledger.commands``, write one batch, wait for the read model.

Validation is the ledger's (``parse_*`` and the batch's cross-record rules); a
rejected command raises before anything is written. After the commit the
resolver waits, bounded by ``CLAIMS_WRITE_WAIT_SECONDS``, until the read model
reflects the write, so the payload (and the caller's next query) shows it. Once
committed, the payload is answered whatever happens next: a read model that cannot
be asked makes it ``pending``, and a record that cannot be read back is its field's
error (``ReadBack``), never the mutation's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Annotated, Generic, TypeVar
from uuid import UUID

import strawberry

from api.errors import UNAVAILABLE, ApiError
from api.graphql.context import Info
from api.graphql.loaders import blocking
from api.graphql.resolvers.extraction import assistant_origin
from api.graphql.types.extraction import AssistantOriginInput
from api.graphql.types.inputs import (
    ClaimChangesInput,
    DefineTopicInput,
    RecordClaimInput,
    RegisterActorInput,
    RegisterSourceInput,
    plain,
)
from api.graphql.types.inputs import changes as changes_of
from api.graphql.types.objects import Actor, Claim, Source, Topic
from api.graphql.types.payloads import (
    DefineTopicPayload,
    ReadBack,
    RecordClaimPayload,
    RegisterActorPayload,
    RegisterSourcePayload,
    RetractClaimPayload,
    ReviseClaimPayload,
)
from ledger import commands as c
from ledger.application import Batch
from ledger.errors import Conflict, DatabaseUnavailable, NotFound

T = TypeVar("T")
V = TypeVar("V")
WRITE_ATTEMPTS = 3  # a write that lost a race is checked and tried again, at most this often

log = logging.getLogger("claims.api")


@dataclass(frozen=True)
class _Written(Generic[T]):
    """A write done: the action's result, the log position of its last event (None: nothing had to be written),
    whether the read model had not shown it in time, and why it could not be asked (then it is not read)."""

    result: T
    position: int | None
    pending: bool
    unasked: Exception | None = None

    async def read_back(self, read: Callable[[], Awaitable[V | None]]) -> ReadBack[V]:
        """The record as the read model shows it now; a failure is the record field's error (ReadBack), and
        the payload's ``pending``."""
        if self.unasked is not None:
            return ReadBack(None, self._unread(self.unasked))
        try:
            return ReadBack(await read())
        except Exception as error:  # committed all the same: the payload must still say so
            log.warning("after a write (log position %s), reading its record back failed", self.position, exc_info=True)
            return ReadBack(None, self._unread(error))

    def _unread(self, error: Exception) -> Exception:
        """The read-back's error as the client sees it: a database out of reach is coded UNAVAILABLE, with a
        message saying that the write stands (the error's own says "wrote nothing; retry")."""
        if isinstance(error, DatabaseUnavailable) or (isinstance(error, ApiError) and error.code == UNAVAILABLE):
            done = f"committed at log position {self.position}" if self.position else "recorded before"
            return ApiError(
                UNAVAILABLE,
                f"the write is {done}; reading the record back failed (the database could not be reached): "
                "query it again shortly, and do not send the write again",
                retryAfter=DatabaseUnavailable.retry_after,
            )
        return error  # (unexpected: masked and logged, at the record's field)


async def _write(info: Info, action: Callable[[Batch], T]) -> _Written[T]:
    """Run ``action`` in one batch as the caller; then wait (bounded) until the read model shows it."""
    caller = info.context.caller
    caller.require("editor")
    ledger = info.context.ledger
    keys = info.context.services.keys

    def run() -> tuple[T, int]:
        principal = keys.recheck(caller).require("editor")  # a key revoked since the request began cannot write
        # Before writing: the answer reads the model, and a client told to retry must not have written. (The
        # operation's basis, which reads the model's position, refuses first today; this keeps it so.)
        info.context.read_model.refuse_while_upgrading()
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with ledger.batch(principal.name) as batch:
                    result = action(batch)
                return result, batch.last_position
            except Conflict as conflict:
                # Another writer committed one of these records first: check the command again
                # against what it wrote (an identical recordClaim is then `created: false`, a
                # stale expectedVersion a CONFLICT with the current version).
                if not conflict.race or attempt == WRITE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    result, position = await blocking(run)
    if not position:
        return _Written(result, None, False)
    info.context.services.broadcaster.poke()  # subscribers of this process hear of it at once
    try:
        caught_up = await blocking(info.context.read_model.wait_for, position, info.context.settings.write_wait_seconds)
    except Exception as error:  # committed: only its projection could not be seen (the database away...): pending
        log.warning("a write committed at log position %d; waiting for its projection failed", position, exc_info=True)
        return _Written(result, position, True, error)
    return _Written(result, position, not caught_up)


async def _claim(info: Info, claim_id: UUID) -> Claim | None:
    view = await info.context.loaders.claim.load((claim_id, None))
    return Claim(view, None) if view else None


async def _source(info: Info, source_id: UUID) -> Source | None:
    view = await info.context.loaders.source.load((source_id, None))
    return Source(view) if view else None


async def _actor(info: Info, key: str) -> Actor | None:
    view = await info.context.loaders.actor.load((key, None))
    return Actor(view) if view else None


async def _topic(info: Info, key: str) -> Topic | None:
    view = await info.context.loaders.topic.load((key, None))
    return Topic(view) if view else None


async def register_source(info: Info, input: RegisterSourceInput) -> RegisterSourcePayload:
    command = c.parse_source(plain(input))
    written = await _write(info, lambda b: b.register_source(command))
    source_id, created = written.result
    back = await written.read_back(lambda: _source(info, source_id))
    return RegisterSourcePayload(
        log_position=written.position,
        pending=written.pending or back.failed,
        created=created,
        source_id=strawberry.ID(str(source_id)),
        read_back=back,
    )


async def register_actor(info: Info, input: RegisterActorInput, reason: str | None = None) -> RegisterActorPayload:
    command = c.parse_actor(plain(input))
    why = c.parse_reason(reason) if reason is not None else None
    written = await _write(info, lambda b: b.register_actor(command, why))
    back = await written.read_back(lambda: _actor(info, command.key))
    return RegisterActorPayload(
        log_position=written.position,
        pending=written.pending or back.failed,
        changed=written.result[1],
        read_back=back,
    )


async def define_topic(info: Info, input: DefineTopicInput, reason: str | None = None) -> DefineTopicPayload:
    command = c.parse_topic(plain(input))
    why = c.parse_reason(reason) if reason is not None else None
    written = await _write(info, lambda b: b.define_topic(command, why))
    back = await written.read_back(lambda: _topic(info, command.key))
    return DefineTopicPayload(
        log_position=written.position,
        pending=written.pending or back.failed,
        changed=written.result[1],
        read_back=back,
    )


async def record_claim(
    info: Info,
    input: RecordClaimInput,
    assistant: Annotated[
        AssistantOriginInput | None,
        strawberry.argument(
            description="Set when accepting a candidate of extractionCandidates: the claim then records that it "
            "came from the assistant and which key accepted it."
        ),
    ] = None,
) -> RecordClaimPayload:
    command = c.parse_claim(plain(input))
    if assistant is not None:
        command = replace(command, origin=assistant_origin(assistant))
    written = await _write(info, lambda b: b.record_claim(command))
    claim_id, created = written.result
    back = await written.read_back(lambda: _claim(info, claim_id))
    return RecordClaimPayload(
        log_position=written.position,
        pending=written.pending or back.failed,
        created=created,
        claim_id=strawberry.ID(str(claim_id)),
        read_back=back,
    )


def _ref(id: strawberry.ID) -> str:
    if not str(id).strip():  # neither a claim's id nor its key
        raise NotFound("claim", id)
    return str(id)


async def revise_claim(
    info: Info,
    id: strawberry.ID,
    expected_version: int,
    changes: ClaimChangesInput,
    reason: str,
    revision_key: str | None = None,
) -> ReviseClaimPayload:
    command = c.ReviseClaim(
        claim=_ref(id),
        expected_version=c.parse_expected_version(expected_version),
        changes=c.parse_changes(changes_of(changes)),
        reason=c.parse_reason(reason),
        revision_key=c.parse_key(revision_key, "revisionKey") if revision_key is not None else None,
    )
    written = await _write(info, lambda b: b.revise_claim(command))
    claim = written.result
    back = await written.read_back(lambda: _claim(info, claim.id))
    return ReviseClaimPayload(
        log_position=written.position,
        pending=written.pending or back.failed,
        claim_id=strawberry.ID(str(claim.id)),
        version=claim.version,
        read_back=back,
    )


async def retract_claim(info: Info, id: strawberry.ID, expected_version: int, reason: str) -> RetractClaimPayload:
    command = c.RetractClaim(
        claim=_ref(id), expected_version=c.parse_expected_version(expected_version), reason=c.parse_reason(reason)
    )
    written = await _write(info, lambda b: b.retract_claim(command))
    claim = written.result
    back = await written.read_back(lambda: _claim(info, claim.id))
    return RetractClaimPayload(
        log_position=written.position,
        pending=written.pending or back.failed,
        claim_id=strawberry.ID(str(claim.id)),
        version=claim.version,
        read_back=back,
    )
