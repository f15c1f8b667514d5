"""The ledger log and its Merkle tree, for auditors (RFC 6962 hashes, hex-encoded)."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from api.graphql.types.connections import PageInfo
from ledger.persistence import LoggedEvent

ACCESS_AGGREGATE = "ApiKey"
PUBLIC_ACCESS_FIELDS = ("name", "timestamp", "recorded_by", "originator_id", "originator_version")
LEAF_FORMULA = (
    "leafHash = SHA-256(0x00 || 'claims-ledger/1\\n' || position || '\\n' || aggregateId || '\\n' || version"
    " || '\\n' || storedTopic || '\\n' || base64decode(stateBase64))"
)


@strawberry.type(description="One event of the ledger log, exactly as stored. " + LEAF_FORMULA)
class LedgerEvent:
    id: strawberry.ID = strawberry.field(description="The event's id: its log position (use it in inclusionProof).")
    position: int = strawberry.field(description="1-based place in the log; leaf index = position - 1.")
    aggregate_id: strawberry.ID
    aggregate_type: str = strawberry.field(description="Claim, Source, SourceKey, Actor, Topic or ApiKey.")
    version: int = strawberry.field(description="The aggregate's version this event made.")
    type: str = strawberry.field(description="Aggregate and event name, e.g. Claim.Revised.")
    recorded_at: datetime
    recorded_by: str | None
    payload: JSON = strawberry.field(
        description="The event's stored fields (dates as ISO strings); an ApiKey event read without a key shows only "
        "the key's name."
    )
    stored_topic: str = strawberry.field(description="The stored event topic, as hashed into the leaf.")
    state_base64: str = strawberry.field(
        description="The stored event bytes, as hashed into the leaf (empty for an ApiKey event read without a key)."
    )
    leaf_hash: str

    @classmethod
    def from_logged(cls, event: LoggedEvent, decoded: dict[str, Any]) -> LedgerEvent:
        _, _, name = event.topic.partition(":")
        kind, _, event_name = name.partition(".")
        timestamp = decoded.get("timestamp")
        recorded_at = timestamp if isinstance(timestamp, datetime) else datetime.fromtimestamp(0, UTC)
        recorded_by = decoded.get("recorded_by")
        return cls(
            id=strawberry.ID(str(event.position)),
            position=event.position,
            aggregate_id=strawberry.ID(str(event.originator_id)),
            aggregate_type=kind,
            version=event.originator_version,
            type=f"{kind}.{event_name}",
            recorded_at=recorded_at,
            recorded_by=recorded_by if isinstance(recorded_by, str) else None,
            payload=_plain(decoded),
            stored_topic=event.topic,
            state_base64=base64.b64encode(event.state).decode("ascii"),
            leaf_hash=event.leaf_hash.hex(),
        )

    def for_reader(self, anonymous: bool) -> LedgerEvent:
        """What this caller may see: an access-control event (ApiKey) shows an anonymous reader only
        which key it concerns; its role, secret hash, revocation reason and stored bytes are for key
        holders. Its leafHash stays, so its place in the tree is still provable."""
        if not anonymous or self.aggregate_type != ACCESS_AGGREGATE:
            return self
        stored: dict[str, Any] = self.payload  # type: ignore[assignment]
        payload: Any = {k: v for k, v in stored.items() if k in PUBLIC_ACCESS_FIELDS}
        return dataclasses.replace(self, payload=payload, state_base64="")

    def matches(self, types: list[str] | None) -> bool:
        """A filter entry names an event type (Claim.Revised) or a whole aggregate type (Claim)."""
        return not types or self.type in types or self.aggregate_type in types


@strawberry.type
class LedgerEventEdge:
    cursor: str
    node: LedgerEvent


@strawberry.type(description="A page of the ledger log, in log order.")
class LedgerEventConnection:
    edges: list[LedgerEventEdge]
    nodes: list[LedgerEvent]
    page_info: PageInfo
    tree_size: int = strawberry.field(description="Events in the log when the page was read.")


@strawberry.type(description="The signed-off state of the whole log: its size and Merkle root.")
class LedgerDigest:
    tree_size: int
    root_hash: str
    algorithm: str = "RFC 6962 Merkle tree, SHA-256"


@strawberry.type(description="Proof that an event is in the log of treeSize events with rootHash.")
class InclusionProof:
    event_id: strawberry.ID
    leaf_index: int = strawberry.field(description="0-based leaf index (position - 1).")
    leaf_hash: str
    tree_size: int
    root_hash: str
    audit_path: list[str] = strawberry.field(description="RFC 6962 PATH(leafIndex, D[treeSize]), leaf to root.")


@strawberry.type(description="Proof that the log of fromSize events is a prefix of the log of toSize events.")
class ConsistencyProof:
    from_size: int
    to_size: int
    from_root_hash: str
    root_hash: str = strawberry.field(description="Root of the tree of toSize events.")
    tree_size: int = strawberry.field(description="Same as toSize.")
    proof: list[str] = strawberry.field(description="RFC 6962 PROOF(fromSize, D[toSize]).")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value
