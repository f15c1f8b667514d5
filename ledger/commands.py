"""Commands: the ledger's inputs, validated before anything is written.

Each ``parse_*`` function takes plain data (from an import file, the API or the
command line) and either returns a typed command or raises :class:`BadInput`
naming the field. The fields, their limits and their errors are declared once,
in ``ledger.records``; this module turns a validated record into the command the
application runs. Checks that need other records (does the actor exist, does the
passage match the source text) live in the application service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ledger import records as r
from ledger.anchoring import anchor
from ledger.domain import source_sha256
from ledger.errors import BadInput
from ledger.records import CLAIM_FIELDS as CLAIM_FIELDS
from ledger.records import MAX_NAME as MAX_NAME
from ledger.records import MAX_TEXT as MAX_TEXT

STANCES = tuple(s.value for s in r.Stance)
ATTRIBUTIONS = tuple(a.value for a in r.Attribution)
GENRES = tuple(g.value for g in r.Genre)
ACTOR_KINDS = tuple(k.value for k in r.ActorKind)
RELATIONS = tuple(k.value for k in r.Relation)
KEY_PATTERN = re.compile(r.KEY)
QUOTE_CONTEXT = 32  # characters of prefix/suffix kept with a passage (TextQuoteSelector)


@dataclass(frozen=True)
class RegisterSource:
    key: str
    text: str
    sha256: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class RegisterActor:
    key: str
    profile: dict[str, Any]


@dataclass(frozen=True)
class DefineTopic:
    key: str
    title: str
    proposition: str


@dataclass(frozen=True)
class RecordClaim:
    key: str
    content: dict[str, Any]
    links: list[tuple[str, str]] = field(default_factory=list)  # (relation, claim key or id)
    # Where the record came from when not typed by a curator: {"assistant": ..., "accepted_by": ...}.
    # Stored with the Recorded event's content; absent from older events.
    origin: dict[str, Any] | None = None


@dataclass(frozen=True)
class ReviseClaim:
    claim: str
    expected_version: int | None
    changes: dict[str, Any]
    reason: str
    revision_key: str | None = None


@dataclass(frozen=True)
class RetractClaim:
    claim: str
    expected_version: int | None
    reason: str


def check_name(value: str, path: str) -> str:
    """A name or title: refused if it holds a control or bidirectional-control character."""
    result: str = _value(_NAME, value, path)
    return result


_NAME = TypeAdapter(r.Name)
_KEY = TypeAdapter(r.Key)
_REASON = TypeAdapter(r.Reason)


def _value(adapter: TypeAdapter[Any], value: Any, path: str) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        raise r.bad_input(error, path) from None


def parse_key(value: Any, path: str = "key") -> str:
    result: str = _value(_KEY, value, path)
    return result


def parse_source(data: Any) -> RegisterSource:
    source: r.Source = r.check(r.Source, data)
    metadata = r.plain(source, exclude={"key", "text"})
    sha = source_sha256(source.text)
    return RegisterSource(key=source.key, text=source.text, sha256=sha, metadata=metadata)


def parse_actor(data: Any) -> RegisterActor:
    actor: r.Actor = r.check(r.Actor, data)
    return RegisterActor(key=actor.key, profile=r.plain(actor, exclude={"key"}))


def parse_topic(data: Any) -> DefineTopic:
    topic: r.Topic = r.check(r.Topic, data)
    return DefineTopic(key=topic.key, title=topic.title, proposition=topic.proposition)


def parse_claim(data: Any) -> RecordClaim:
    try:  # the claim's plain form without building the model (the same result for what it accepts)
        fields: dict[str, Any] = r.claim_fields_validator.validate_python(data)
    except ValidationError:  # the model's check says what is wrong (or takes what only it accepts: instances)
        fields = r.plain(r.check(r.Claim, data))
    key, supersedes, disputes = fields.pop("key"), fields.pop("supersedes"), fields.pop("disputes")
    links = [(r.Relation.SUPERSEDES.value, supersedes)] if supersedes is not None else []
    links += [(r.Relation.DISPUTES.value, target) for target in disputes]
    return RecordClaim(key=key, content=fields, links=links)


def parse_changes(data: Any) -> dict[str, Any]:
    if isinstance(data, Mapping) and not data:
        raise BadInput("changes", "must name at least one field to change")
    changes = r.check(r.ClaimChanges, data, "changes")
    return r.plain(changes, exclude_unset=True)


def parse_reason(value: Any) -> str:
    result: str = _value(_REASON, value, "reason")
    return result


def parse_expected_version(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadInput("expectedVersion", "must be a positive integer")
    return value


def passage_selector(source_text: str, passage: Mapping[str, Any], where: str = "passage") -> dict[str, Any]:
    """Anchor a passage in the source text (by its offsets or its words) and add TextQuoteSelector context.

    The stored selector always holds the source's own characters at the offsets, with
    the source's own prefix and suffix, whatever variant of the words the curator typed.
    """
    found = anchor(
        source_text,
        passage["exact"],
        prefix=passage.get("prefix"),
        suffix=passage.get("suffix"),
        start=passage.get("start"),
        end=passage.get("end"),
        where=where,
    )
    start, end = found.start, found.end
    return {
        "start": start,
        "end": end,
        "exact": found.exact,
        "prefix": source_text[max(0, start - QUOTE_CONTEXT) : start],
        "suffix": source_text[end : end + QUOTE_CONTEXT],
    }
