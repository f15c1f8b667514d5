"""Resolvers for auditors: the raw log, the tree head and Merkle proofs (hex-encoded).

All read through the read side (``ReadModel``'s log reads); the proofs and their errors are
``ledger.integrity.proofs``'s. Under a pinned basis (the request extension ``atTreeSize``: ``basis.py``) they
answer the log as it stood at that size: the digest is the pin's, ``events`` ends there, an event beyond it
is not found, and a proof's tree size defaults to it. Unpinned they answer the log's head (which may be ahead of
the read model's ``basis.treeSize``). ``checkpoint`` keeps to its own argument: a signed checkpoint is kept by
size, and none may have been signed at the pinned one."""

from __future__ import annotations

import strawberry

from api.errors import bad_input
from api.graphql.basis import log_prefix, tree_root
from api.graphql.context import Info
from api.graphql.loaders import blocking
from api.graphql.types.audit import (
    ConsistencyProof,
    InclusionProof,
    LedgerDigest,
    LedgerEvent,
    LedgerEventConnection,
    LedgerEventEdge,
)
from api.graphql.types.connections import PageInfo, decode_position_cursor, encode_position_cursor, page_size


async def events(info: Info, after: str | None = None, first: int | None = None) -> LedgerEventConnection:
    settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    start = decode_position_cursor(after)
    read_model = info.context.read_model

    pinned = log_prefix(info)

    def read() -> tuple[list[LedgerEvent], bool, int]:
        size_now = read_model.tree_size() if pinned is None else pinned
        logged = read_model.events(start, size + 1, upto=size_now) if size else []
        return [LedgerEvent.from_logged(*e) for e in logged[:size]], len(logged) > size, size_now

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
    read_model = info.context.read_model
    pinned = log_prefix(info)

    def read() -> LedgerEvent | None:
        logged = read_model.events(position - 1, 1, upto=read_model.tree_size() if pinned is None else pinned)
        return LedgerEvent.from_logged(*logged[0]) if logged and logged[0][0].position == position else None

    return await blocking(read)


async def ledger_digest(info: Info) -> LedgerDigest:
    pinned = log_prefix(info)
    if pinned is not None:
        return LedgerDigest(tree_size=pinned, root_hash=(await tree_root(info.context.services, pinned)).hex())
    head = await blocking(info.context.read_model.tree_head)
    return LedgerDigest(tree_size=head.size, root_hash=head.root.hex())


def _hex(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


async def inclusion_proof(info: Info, event_id: strawberry.ID, tree_size: int | None = None) -> InclusionProof:
    try:
        position = int(str(event_id))
    except ValueError:
        raise bad_input("eventId", "is an event's log position, e.g. 42") from None
    if tree_size is None:
        tree_size = log_prefix(info)
        if tree_size is not None and not 0 < position <= tree_size:  # (the proofs' message names treeSize)
            raise bad_input("eventId", f"event {position} is not among the pinned tree's {tree_size} events")
    proof = await blocking(info.context.read_model.inclusion_proof, position, tree_size)
    return InclusionProof(
        event_id=strawberry.ID(str(proof.position)),
        leaf_index=proof.position - 1,
        leaf_hash=proof.leaf_hash.hex(),
        tree_size=proof.tree_size,
        root_hash=proof.root_hash.hex(),
        audit_path=_hex(proof.path),
    )


async def consistency_proof(info: Info, from_size: int, to_size: int | None = None) -> ConsistencyProof:
    if to_size is None:
        to_size = log_prefix(info)
        if to_size is not None and from_size > to_size:  # (the proofs' message names toSize)
            raise bad_input("fromSize", f"{from_size} is larger than the pinned tree size {to_size}")
    proof = await blocking(info.context.read_model.consistency_proof, from_size, to_size)
    return ConsistencyProof(
        from_size=proof.from_size,
        to_size=proof.to_size,
        from_root_hash=proof.from_root.hex(),
        root_hash=proof.to_root.hex(),
        tree_size=proof.to_size,
        proof=_hex(proof.path),
    )
