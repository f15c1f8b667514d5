"""Issuing, keeping and checking signed checkpoints of this ledger's log.

The format and signatures are in ``checkpoint.py`` and ``note.py``; this module
joins them to the store: sign the current tree head and keep the note, build the
witness request for a kept checkpoint, and check a checkpoint someone kept
against the log as it is now (signature, cosignature quorum, and a full
recomputation of the tree with a consistency proof from the checkpoint's size).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ledger.errors import BadInput, NotFound
from ledger.integrity import merkle
from ledger.integrity.checkpoint import Checkpoint, Opened, Policy, WitnessRequest, open_checkpoint, sign
from ledger.integrity.note import Signer, parse
from ledger.integrity.verify import Digest, Report, verify
from ledger.persistence import LedgerRecorder


def issue(recorder: LedgerRecorder, signer: Signer) -> str:
    """Sign the current tree head as a checkpoint of origin ``signer.name`` and keep it.

    A head that already has a checkpoint keeps it (its cosignatures stay)."""
    head = recorder.tree_head()
    kept = recorder.checkpoint(head.size)
    if kept is not None and Checkpoint.from_text(parse(kept).text).origin == signer.name:
        return kept
    note = sign(Checkpoint(signer.name, head.size, head.root), signer)
    recorder.save_checkpoint(head.size, note)
    return note


def kept(recorder: LedgerRecorder, size: int | None = None) -> str:
    note = recorder.checkpoint(size)
    if note is None:
        raise NotFound("checkpoint", "latest" if size is None else f"of tree size {size}")
    return note


def add_cosignatures(recorder: LedgerRecorder, lines: str, policy: Policy, size: int | None = None) -> Opened:
    """Merge a witness's cosignature lines into the kept checkpoint, keeping only lines
    that verify against the policy's witness keys."""
    note = parse(kept(recorder, size)).with_signatures(lines)
    opened = open_checkpoint(note.to_text(), policy)
    known = {(v.verifier.name, v.verifier.key_id) for v in opened.cosigned_by}
    log_id = (policy.log.name, policy.log.key_id)
    retained = tuple(s for s in note.signatures if (s.name, s.key_id) in known or (s.name, s.key_id) == log_id)
    merged = type(note)(note.text, retained)
    recorder.save_checkpoint(opened.checkpoint.size, merged.to_text())
    return open_checkpoint(merged.to_text(), policy)


def witness_request(recorder: LedgerRecorder, old_size: int, size: int | None = None) -> WitnessRequest:
    """The tlog-witness add-checkpoint body for a kept checkpoint, proving it extends ``old_size``."""
    note = kept(recorder, size)
    checkpoint = Checkpoint.from_text(parse(note).text)
    if not 0 <= old_size <= checkpoint.size:
        raise BadInput("old", f"{old_size} is not between 0 and the checkpoint's size {checkpoint.size}")
    proof = merkle.consistency_proof(old_size, checkpoint.size, recorder)
    return WitnessRequest(old_size, tuple(proof), note)


@dataclass(frozen=True)
class CheckResult:
    opened: Opened
    report: Report  # the log recomputed from its events and checked against the checkpoint's root

    @property
    def ok(self) -> bool:
        return self.report.ok and self.opened.published


def check(
    recorder: LedgerRecorder, note_text: str, policy: Policy, progress: Callable[[int, int], None] | None = None
) -> CheckResult:
    """Verify the checkpoint's signatures (NoteError if the log's does not verify), then
    recompute the whole tree and prove the current log extends the checkpoint's tree."""
    opened = open_checkpoint(note_text, policy)
    checkpoint = opened.checkpoint
    report = verify(recorder, Digest(checkpoint.size, checkpoint.root), progress)
    return CheckResult(opened, report)
