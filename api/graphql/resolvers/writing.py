"""Mutation resolvers: parse with ``ledger.commands``, write one batch, wait for the read model.

Validation is the ledger's (``parse_*`` and the batch's cross-record rules); a
rejected command raises before anything is written. After the commit the
resolver waits, bounded by ``CLAIMS_WRITE_WAIT_SECONDS``, until the read model
reflects the write, so the payload (and the caller's next query) shows it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, TypeVar
from uuid import UUID

import strawberry

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
    RecordClaimPayload,
    RegisterActorPayload,
    RegisterSourcePayload,
    RetractClaimPayload,
    ReviseClaimPayload,
)
from ledger import commands as c
from ledger.application import Batch
from ledger.errors import Conflict, NotFound

T = TypeVar("T")
WRITE_ATTEMPTS = 3  # a write that lost a race is checked and tried again, at most this often

log = logging.getLogger("claims.api")


async def _write(info: Info, action: Callable[[Batch], T]) -> tuple[T, int | None, bool]:
    """Run ``action`` in one batch as the caller; return its result, the log position and ``pending``."""
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
        return result, None, False
    info.context.services.broadcaster.poke()  # subscribers of this process hear of it at once
    try:
        caught_up = await blocking(info.context.read_model.wait_for, position, info.context.settings.write_wait_seconds)
    except Exception:  # committed: only its projection could not be seen (the database away...): pending
        log.warning("a write committed at log position %d; waiting for its projection failed", position, exc_info=True)
        caught_up = False
    return result, position, not caught_up


async def _claim(info: Info, claim_id: UUID) -> Claim | None:
    view = await info.context.loaders.claim.load((claim_id, None))
    return Claim(view, None) if view else None


async def register_source(info: Info, input: RegisterSourceInput) -> RegisterSourcePayload:
    command = c.parse_source(plain(input))
    (source_id, created), position, pending = await _write(info, lambda b: b.register_source(command))
    view = await info.context.loaders.source.load((source_id, None))
    return RegisterSourcePayload(
        log_position=position,
        pending=pending,
        created=created,
        source_id=strawberry.ID(str(source_id)),
        source=Source(view) if view else None,
    )


async def register_actor(info: Info, input: RegisterActorInput, reason: str | None = None) -> RegisterActorPayload:
    command = c.parse_actor(plain(input))
    why = c.parse_reason(reason) if reason is not None else None
    (_, changed), position, pending = await _write(info, lambda b: b.register_actor(command, why))
    view = await info.context.loaders.actor.load((command.key, None))
    return RegisterActorPayload(
        log_position=position, pending=pending, changed=changed, actor=Actor(view) if view else None
    )


async def define_topic(info: Info, input: DefineTopicInput, reason: str | None = None) -> DefineTopicPayload:
    command = c.parse_topic(plain(input))
    why = c.parse_reason(reason) if reason is not None else None
    (_, changed), position, pending = await _write(info, lambda b: b.define_topic(command, why))
    view = await info.context.loaders.topic.load((command.key, None))
    return DefineTopicPayload(
        log_position=position, pending=pending, changed=changed, topic=Topic(view) if view else None
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
    (claim_id, created), position, pending = await _write(info, lambda b: b.record_claim(command))
    return RecordClaimPayload(
        log_position=position,
        pending=pending,
        created=created,
        claim_id=strawberry.ID(str(claim_id)),
        claim=await _claim(info, claim_id),
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
    claim, position, pending = await _write(info, lambda b: b.revise_claim(command))
    return ReviseClaimPayload(
        log_position=position,
        pending=pending,
        claim_id=strawberry.ID(str(claim.id)),
        version=claim.version,
        claim=await _claim(info, claim.id),
    )


async def retract_claim(info: Info, id: strawberry.ID, expected_version: int, reason: str) -> RetractClaimPayload:
    command = c.RetractClaim(
        claim=_ref(id), expected_version=c.parse_expected_version(expected_version), reason=c.parse_reason(reason)
    )
    claim, position, pending = await _write(info, lambda b: b.retract_claim(command))
    return RetractClaimPayload(
        log_position=position,
        pending=pending,
        claim_id=strawberry.ID(str(claim.id)),
        version=claim.version,
        claim=await _claim(info, claim.id),
    )
