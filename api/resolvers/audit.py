"""Resolvers for auditors: the raw log, the tree head and Merkle proofs (hex-encoded)."""

from __future__ import annotations

from typing import Any

import strawberry

from api.context import Info
from api.errors import bad_input
from api.loaders import blocking
from api.types.audit import (
    ConsistencyProof,
    InclusionProof,
    LedgerDigest,
    LedgerEvent,
    LedgerEventConnection,
    LedgerEventEdge,
)
from api.types.connections import PageInfo, decode_position_cursor, encode_position_cursor, page_size
from ledger.application import ClaimsLedger
from ledger.errors import NotFound
from ledger.integrity import merkle
from ledger.persistence import LoggedEvent


def decode(ledger: ClaimsLedger, event: LoggedEvent) -> LedgerEvent:
    state: dict[str, Any] = ledger.mapper.transcoder.decode(event.state)
    return LedgerEvent.from_logged(event, state)


async def events(info: Info, after: str | None = None, first: int | None = None) -> LedgerEventConnection:
    settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    start = decode_position_cursor(after)
    ledger = info.context.ledger

    def read() -> tuple[list[LedgerEvent], bool, int]:
        size_now = ledger.ledger_recorder.tree_head().size
        logged = ledger.ledger_recorder.read_log(start, size + 1) if size else []
        logged = [e for e in logged if e.position <= size_now]
        return [decode(ledger, e) for e in logged[:size]], len(logged) > size, size_now

    nodes, has_next, tree_size = await blocking(read)
    anonymous = info.context.caller.principal is None
    nodes = [n.for_reader(anonymous) for n in nodes]
    cursors = [encode_position_cursor(n.position) for n in nodes]
    return LedgerEventConnection(
        edges=[LedgerEventEdge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=start > 0,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
        tree_size=tree_size,
    )


async def event(info: Info, id: strawberry.ID) -> LedgerEvent | None:
    try:
        position = int(str(id))
    except ValueError:
        raise bad_input("id", "is an event's log position, e.g. 42") from None
    if position < 1:
        raise bad_input("id", "log positions start at 1")
    ledger = info.context.ledger

    def read() -> LedgerEvent | None:
        if position > ledger.ledger_recorder.tree_head().size:
            return None
        logged = ledger.ledger_recorder.read_log(position - 1, 1)
        return decode(ledger, logged[0]) if logged and logged[0].position == position else None

    return await blocking(read)


async def ledger_digest(info: Info) -> LedgerDigest:
    head = await blocking(info.context.ledger.ledger_recorder.tree_head)
    return LedgerDigest(tree_size=head.size, root_hash=head.root.hex())


def _hex(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


async def inclusion_proof(info: Info, event_id: strawberry.ID, tree_size: int | None = None) -> InclusionProof:
    try:
        position = int(str(event_id))
    except ValueError:
        raise bad_input("eventId", "is an event's log position, e.g. 42") from None
    recorder = info.context.ledger.ledger_recorder

    def prove() -> InclusionProof:
        size = _checked_size(tree_size, recorder.tree_head().size, "treeSize")
        if not 1 <= position <= size:
            raise NotFound("event", event_id)
        leaf = recorder.leaf_hashes(position - 1, position)[0]
        return InclusionProof(
            event_id=strawberry.ID(str(position)),
            leaf_index=position - 1,
            leaf_hash=leaf.hex(),
            tree_size=size,
            root_hash=merkle.subtree_root(0, size, recorder).hex(),
            audit_path=_hex(merkle.inclusion_proof(position - 1, size, recorder)),
        )

    return await blocking(prove)


async def consistency_proof(info: Info, from_size: int, to_size: int | None = None) -> ConsistencyProof:
    recorder = info.context.ledger.ledger_recorder

    def prove() -> ConsistencyProof:
        size = _checked_size(to_size, recorder.tree_head().size, "toSize")
        if not 0 <= from_size <= size:
            raise bad_input("fromSize", f"must lie between 0 and toSize ({size})")
        return ConsistencyProof(
            from_size=from_size,
            to_size=size,
            from_root_hash=merkle.subtree_root(0, from_size, recorder).hex(),
            root_hash=merkle.subtree_root(0, size, recorder).hex(),
            tree_size=size,
            proof=_hex(merkle.consistency_proof(from_size, size, recorder)),
        )

    return await blocking(prove)


def _checked_size(asked: int | None, current: int, field: str) -> int:
    if asked is None:
        return current
    if not 0 <= asked <= current:
        raise bad_input(field, f"must lie between 0 and the current tree size ({current})")
    return asked
