"""C2SP tlog checkpoints (c2sp.org/tlog-checkpoint), cosigning policy and the witness rule.

A checkpoint is a signed note whose text is the log's origin, its tree size in
decimal and its RFC 6962 root hash in base64, one per line::

    claims.example/ledger
    85
    Wq0a...=

    — claims.example/ledger <base64(key ID || Ed25519 signature)>

Witnesses add cosignature/v1 lines (c2sp.org/tlog-cosignature). A checkpoint
*counts as published* under a :class:`Policy` when the log's signature verifies
and at least ``quorum`` of the configured witnesses' cosignatures do.

The witness side (c2sp.org/tlog-witness ``add-checkpoint``) is :func:`witness`:
given the checkpoint it last cosigned for an origin, a new checkpoint and a
consistency proof, it checks the log's signature, the sizes and the proof, and
returns cosignature lines. Pure: the caller keeps the witness's state.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field

from ledger.errors import BadInput, LedgerError
from ledger.integrity import merkle
from ledger.integrity.note import COSIGNATURE_V1, ED25519, Note, NoteError, Signer, Verified, Verifier, open_note, parse

MAX_PROOF_LINES = 63  # tlog-witness: a client sends at most 63 consistency proof lines


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> bytes:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def from_text(cls, text: bytes) -> Checkpoint:
        lines = text.decode().split("\n")
        if lines[-1] != "" or len(lines) < 4:
            raise NoteError("a checkpoint's text is at least three lines (origin, size, root hash), each ending in a newline")
        origin, size_line, root_line, *extensions = lines[:-1]
        if not origin:
            raise NoteError("the checkpoint's origin line is empty")
        if not size_line.isascii() or not size_line.isdigit() or (size_line != "0" and size_line.startswith("0")):
            raise NoteError(f"the checkpoint's size {size_line!r} is not a decimal without leading zeroes")
        try:
            root = base64.b64decode(root_line, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError(f"the checkpoint's root hash {root_line!r} is not base64") from None
        if len(root) != merkle.HASH_SIZE:
            raise NoteError(f"the checkpoint's root hash has {len(root)} bytes, not {merkle.HASH_SIZE}")
        if any(not line for line in extensions):
            raise NoteError("a checkpoint's extension lines must be non-empty")
        return cls(origin, int(size_line), root, tuple(extensions))


def sign(checkpoint: Checkpoint, signer: Signer) -> str:
    """The signed checkpoint note, as served at ``GET /checkpoint``."""
    if signer.signature_type != ED25519:
        raise NoteError("a log signs its checkpoints with an Ed25519 (0x01) key", "key")
    text = checkpoint.text()
    return text.decode() + "\n" + signer.sign(text)


@dataclass(frozen=True)
class Policy:
    """Whom to trust: the log's key, the witnesses' keys, and how many witnesses must cosign."""

    log: Verifier
    witnesses: tuple[Verifier, ...] = ()
    quorum: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.quorum <= len(self.witnesses):
            raise BadInput("quorum", f"{self.quorum} is not between 0 and the {len(self.witnesses)} witnesses configured")
        if any(w.signature_type != COSIGNATURE_V1 for w in self.witnesses):
            raise BadInput("witness", "witness keys are cosignature/v1 (type 0x04) verifier keys")


@dataclass(frozen=True)
class Opened:
    checkpoint: Checkpoint
    note: Note
    cosigned_by: tuple[Verified, ...] = field(default=())
    published: bool = False  # the policy's quorum of witnesses cosigned


def open_checkpoint(note_text: str | bytes, policy: Policy) -> Opened:
    """Verify the log's signature and count the witnesses' cosignatures (NoteError if the log's fails)."""
    note, verified = open_note(note_text, [policy.log, *policy.witnesses])
    if not any(v.verifier == policy.log for v in verified):
        raise NoteError(f"the checkpoint is not signed by the log's key {policy.log.name}")
    checkpoint = Checkpoint.from_text(note.text)
    if policy.log.name != checkpoint.origin:
        raise NoteError(f"the checkpoint's origin {checkpoint.origin!r} is not the log key's name {policy.log.name!r}")
    cosigned = tuple(v for v in verified if v.verifier != policy.log)
    return Opened(checkpoint, note, cosigned, len(cosigned) >= policy.quorum)


@dataclass(frozen=True)
class WitnessRequest:
    """A tlog-witness add-checkpoint body: ``old <size>``, proof lines, a blank line, the checkpoint."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint_note: str

    def to_text(self) -> str:
        proof = "".join(base64.b64encode(h).decode() + "\n" for h in self.proof)
        return f"old {self.old_size}\n{proof}\n{self.checkpoint_note}"

    @classmethod
    def parse(cls, body: str) -> WitnessRequest:
        head, sep, rest = body.partition("\n\n")
        if not sep:
            raise NoteError("an add-checkpoint request is 'old <size>', proof lines, a blank line, then the checkpoint")
        lines = head.split("\n")
        old = lines[0].removeprefix("old ")
        if not lines[0].startswith("old ") or not old.isdigit() or (old != "0" and old.startswith("0")):
            raise NoteError(f"the first line {lines[0]!r} must be 'old <size>' in decimal")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise NoteError(f"at most {MAX_PROOF_LINES} consistency proof lines")
        try:
            proof = tuple(base64.b64decode(line, validate=True) for line in lines[1:])
        except (binascii.Error, ValueError):
            raise NoteError("a consistency proof line is not base64") from None
        if any(len(h) != merkle.HASH_SIZE for h in proof):
            raise NoteError(f"each consistency proof line is a {merkle.HASH_SIZE}-byte hash")
        return cls(int(old), proof, rest)


class WitnessRefusal(LedgerError):
    """The witness does not cosign; ``status`` is the HTTP code tlog-witness prescribes."""

    code = "WITNESS_REFUSED"

    def __init__(self, status: int, message: str, latest_size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.latest_size = latest_size


def witness(
    request: WitnessRequest,
    logs: Sequence[Verifier],
    latest: Checkpoint | None,
    signer: Signer,
    now: int,
) -> tuple[Checkpoint, str]:
    """The witness rule of c2sp.org/tlog-witness: the new checkpoint to remember and the cosignature line.

    ``logs`` are the log keys the witness trusts; ``latest`` the checkpoint it last cosigned
    for this origin (None if never). Raises WitnessRefusal with the prescribed status."""
    if signer.signature_type != COSIGNATURE_V1:
        raise NoteError("a witness cosigns with a cosignature/v1 (0x04) key", "key")
    try:
        note = parse(request.checkpoint_note)
        checkpoint = Checkpoint.from_text(note.text)
    except NoteError as error:
        raise WitnessRefusal(400, str(error)) from None
    trusted = [v for v in logs if v.name == checkpoint.origin]
    if not trusted:
        raise WitnessRefusal(404, f"unknown log origin {checkpoint.origin!r}")
    try:
        open_note(request.checkpoint_note, trusted)
    except NoteError as error:
        raise WitnessRefusal(403, f"no trusted log signature verifies: {error}") from None
    if request.old_size > checkpoint.size:
        raise WitnessRefusal(400, f"old size {request.old_size} is larger than the checkpoint's {checkpoint.size}")
    latest_size = latest.size if latest is not None else 0
    if request.old_size != latest_size:
        raise WitnessRefusal(409, f"the witness last cosigned size {latest_size}, not {request.old_size}", latest_size)
    if latest is not None and latest.size == checkpoint.size and latest.root != checkpoint.root:
        raise WitnessRefusal(409, f"two different roots for size {checkpoint.size}: the log forked")
    if latest is None or latest.size == 0:
        if request.proof:
            raise WitnessRefusal(422, "the consistency proof from size 0 must be empty")
    elif not merkle.verify_consistency(latest.size, checkpoint.size, latest.root, checkpoint.root, request.proof):
        raise WitnessRefusal(422, f"the consistency proof from size {latest.size} to {checkpoint.size} does not verify")
    return checkpoint, signer.sign(note.text, now)
