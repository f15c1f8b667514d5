"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and tlog cosignatures.

A note is a text ending in a newline, a blank line, then one signature line per
key: ``— <key name> base64(key ID || signature)``. The key ID is the first four
bytes of SHA-256(key name || 0x0A || signature type || public key). Two
signature types are implemented:

* ``0x01`` Ed25519 over the note text (a log's own signature);
* ``0x04`` timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature): the
  signature covers ``cosignature/v1\\ntime <t>\\n`` + the note text and the
  signature bytes are the 8-byte big-endian timestamp followed by the Ed25519
  signature.

Keys travel as text: a verifier key (vkey) is ``<name>+<hex key ID>+<base64(type
|| public key)>``; a signer key is ``PRIVATE+KEY+<name>+<hex key ID>+<base64(type
|| 32-byte seed)>`` (the form the Go reference implementation reads).

Pure functions over bytes and strings: no files, no clock (callers pass the time).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from ledger.errors import BadInput

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
SIGNATURE_PREFIX = "— "  # em dash U+2014, then a space
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
_PRIVATE_PREFIX = "PRIVATE+KEY+"


class NoteError(BadInput):
    """A note, key or signature that is malformed or does not verify."""

    def __init__(self, message: str, field: str = "note") -> None:
        super().__init__(field, message)


def key_id(name: str, signature_type: int, public_key: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def check_key_name(name: str) -> None:
    if not name or any(ch.isspace() or ch == "+" for ch in name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'", "key")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not standard base64", "key") from None


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A public key that checks one name's signatures of one type."""

    name: str
    signature_type: int
    public_key: bytes  # 32 raw Ed25519 bytes

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.signature_type, self.public_key)

    def vkey(self) -> str:
        material = base64.b64encode(bytes([self.signature_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{material}"

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        parts = vkey.strip().split("+", 2)  # the base64 material may contain "+"
        if len(parts) != 3:
            raise NoteError(f"verifier key {vkey!r} is not of the form name+keyid+base64key", "key")
        name, hex_id, material = parts
        check_key_name(name)
        if len(hex_id) != 8 or any(c not in "0123456789abcdef" for c in hex_id):
            raise NoteError(f"verifier key {vkey!r}: the key ID must be 8 lowercase hex digits", "key")
        raw = _b64decode(material, "the verifier key's material")
        if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError(
                f"verifier key {vkey!r}: expected an Ed25519 (0x01) or cosignature/v1 (0x04) key of 32 bytes", "key"
            )
        verifier = cls(name, raw[0], raw[1:])
        if verifier.key_id != int(hex_id, 16):
            raise NoteError(f"verifier key {vkey!r}: the key ID does not match the name and key", "key")
        return verifier

    def message(self, text: bytes, timestamp: int | None) -> bytes:
        if self.signature_type == COSIGNATURE_V1:
            return cosigned_message(text, timestamp or 0)
        return text

    def verify(self, text: bytes, signature: bytes) -> int | None:
        """Check ``signature`` (without its key ID): the cosignature's time (0 for a plain
        signature), or None when it does not verify."""
        timestamp: int | None = None
        if self.signature_type == COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                return None
            (timestamp,) = struct.unpack(">Q", signature[:8])
            signature = signature[8:]
        elif len(signature) != 64:
            return None
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, self.message(text, timestamp))
        except InvalidSignature:
            return None
        return timestamp or 0


@dataclass(frozen=True)
class Signer:
    """A private key that signs notes as ``name`` (type 0x01) or cosigns them (type 0x04)."""

    name: str
    signature_type: int
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str, signature_type: int = ED25519) -> Signer:
        check_key_name(name)
        return cls(name, signature_type, Ed25519PrivateKey.generate())

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.signature_type, _raw_public(self.private_key.public_key()))

    def skey(self) -> str:
        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        material = base64.b64encode(bytes([self.signature_type]) + seed).decode()
        return f"{_PRIVATE_PREFIX}{self.name}+{self.verifier.key_id:08x}+{material}"

    @classmethod
    def parse(cls, skey: str) -> Signer:
        text = skey.strip()
        if not text.startswith(_PRIVATE_PREFIX):
            raise NoteError("a signer key starts with PRIVATE+KEY+", "key")
        parts = text.removeprefix(_PRIVATE_PREFIX).split("+", 2)
        if len(parts) != 3:
            raise NoteError("a signer key is PRIVATE+KEY+name+keyid+base64key", "key")
        name, hex_id, material = parts
        check_key_name(name)
        raw = _b64decode(material, "the signer key's material")
        if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError("the signer key is not an Ed25519 (0x01) or cosignature/v1 (0x04) seed of 32 bytes", "key")
        signer = cls(name, raw[0], Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if f"{signer.verifier.key_id:08x}" != hex_id:
            raise NoteError("the signer key's ID does not match its name and key", "key")
        return signer

    def sign(self, text: bytes, timestamp: int | None = None) -> str:
        """One signature line (with its newline) over the note text."""
        if self.signature_type == COSIGNATURE_V1:
            if timestamp is None or not 0 <= timestamp < 2**63:
                raise NoteError("a cosignature needs a POSIX timestamp", "timestamp")
            body = struct.pack(">Q", timestamp) + self.private_key.sign(cosigned_message(text, timestamp))
        else:
            body = self.private_key.sign(text)
        encoded = base64.b64encode(self.verifier.key_id.to_bytes(4, "big") + body).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"


def cosigned_message(text: bytes, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: a header line, a time line, then the checkpoint text."""
    return b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + text


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: int
    signature: bytes  # without the key ID
    line: str  # as it appeared, with its newline


@dataclass(frozen=True)
class Note:
    text: bytes  # includes the final newline
    signatures: tuple[Signature, ...]

    def to_text(self) -> str:
        return self.text.decode() + "\n" + "".join(s.line for s in self.signatures)

    def with_signatures(self, lines: str) -> Note:
        """This note plus the signature lines (a witness's answer), dropping exact duplicates."""
        added = parse_signature_lines(lines)
        seen = {s.line for s in self.signatures}
        return Note(self.text, self.signatures + tuple(s for s in added if s.line not in seen))


def parse_signature_lines(block: str) -> tuple[Signature, ...]:
    signatures = []
    for line in block.splitlines(keepends=True):
        if not line.endswith("\n") or not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"signature line {line!r} must be '— <name> <base64>' ending in a newline")
        parts = line[len(SIGNATURE_PREFIX) : -1].split(" ")
        if len(parts) != 2:
            raise NoteError(f"signature line {line!r} must have exactly a key name and a signature")
        name, encoded = parts
        check_key_name(name)
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError(f"signature line {line!r}: the signature is not base64") from None
        if len(raw) < 5:
            raise NoteError(f"signature line {line!r}: too short for a key ID and a signature")
        signatures.append(Signature(name, int.from_bytes(raw[:4], "big"), raw[4:], line))
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError(f"a note may carry at most {MAX_SIGNATURES} signatures")
    return tuple(signatures)


def parse(note: str | bytes) -> Note:
    """Split a signed note into its text and signature lines (nothing is verified)."""
    data = note.encode() if isinstance(note, str) else note
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("a note must be UTF-8") from None
    if any(ord(ch) < 0x20 and ch != "\n" for ch in decoded):
        raise NoteError("a note must not contain control characters other than newline")
    split = data.rfind(b"\n\n")
    if split < 0:
        raise NoteError("a note needs its text, a blank line, then signature lines")
    text, block = data[: split + 1], data[split + 2 :]
    if not block:
        raise NoteError("the note has no signature lines")
    return Note(text, parse_signature_lines(block.decode()))


@dataclass(frozen=True)
class Verified:
    verifier: Verifier
    timestamp: int  # a cosignature's time; 0 for a plain signature


def verified_signatures(note: Note, verifiers: list[Verifier]) -> list[Verified]:
    """The signatures from known keys that verify. A known key whose signature fails
    rejects the whole note, as the spec recommends (NoteError naming the key);
    signatures from unknown keys are ignored."""
    known = {(v.name, v.key_id): v for v in verifiers}
    out: list[Verified] = []
    seen: set[tuple[str, int]] = set()
    for signature in note.signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None or (signature.name, signature.key_id) in seen:
            continue
        timestamp = verifier.verify(note.text, signature.signature)
        if timestamp is None:
            raise NoteError(f"the signature of {signature.name} ({signature.key_id:08x}) does not verify")
        seen.add((signature.name, signature.key_id))
        out.append(Verified(verifier, timestamp))
    return out


def open_note(note: str | bytes, verifiers: list[Verifier]) -> tuple[Note, list[Verified]]:
    """Parse and verify: at least one known key must have signed, else NoteError."""
    parsed = parse(note)
    verified = verified_signatures(parsed, verifiers)
    if not verified:
        names = ", ".join(sorted({v.name for v in verifiers})) or "none"
        raise NoteError(f"the note carries no signature from a known key (known: {names})")
    return parsed, verified
