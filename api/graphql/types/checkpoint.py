"""Signed checkpoints (C2SP tlog-checkpoint) as GraphQL objects."""

from __future__ import annotations

import strawberry

from ledger.integrity.checkpoint import Checkpoint
from ledger.integrity.note import parse


@strawberry.type(description="A note signature line: the key name and the 4-byte key ID (hex) it claims.")
class NoteSignature:
    key_name: str
    key_id: str


@strawberry.type(
    description="A signed checkpoint of the log (c2sp.org/tlog-checkpoint): the log's Ed25519 signature over "
    "origin, tree size and root hash, plus any witness cosignatures. `note` is the exact text GET /checkpoint "
    "serves; verify it with `claims checkpoint verify` or any tlog tool."
)
class SignedCheckpoint:
    note: str
    origin: str
    tree_size: int
    root_hash: str = strawberry.field(description="Hex; the note carries it in base64.")
    signatures: list[NoteSignature] = strawberry.field(description="As written in the note; nothing is verified here.")

    @classmethod
    def from_note(cls, note: str) -> SignedCheckpoint:
        parsed = parse(note)
        checkpoint = Checkpoint.from_text(parsed.text)
        return cls(
            note=note,
            origin=checkpoint.origin,
            tree_size=checkpoint.size,
            root_hash=checkpoint.root.hex(),
            signatures=[NoteSignature(key_name=s.name, key_id=f"{s.key_id:08x}") for s in parsed.signatures],
        )
