"""Commands: the ledger's inputs, validated field by field before anything is written.

Each ``parse_*`` function takes plain data (from an import file, the API or the
command line) and either returns a typed command or raises :class:`BadInput`
naming the field. Checks that need other records (does the actor exist, does the
passage match the source text) live in the application service.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ledger.anchoring import anchor
from ledger.dates import PartialDate
from ledger.errors import BadInput

STANCES = ("SUPPORTS", "OPPOSES", "CONDITIONAL", "NEUTRAL")
ATTRIBUTIONS = ("DIRECT_QUOTE", "INDIRECT_SPEECH", "REPORTED", "EDITORIAL")
GENRES = ("NEWS", "COMMENTARY", "OPINION", "PRIMARY_STATEMENT", "TRANSCRIPT")
ACTOR_KINDS = ("PERSON", "ORGANISATION", "STATE", "GROUP")
RELATIONS = ("SUPERSEDES", "DISPUTES")

# Limits: generous for real material, small enough that nobody stores a book by accident.
MAX_KEY = 80
MAX_NAME = 300
MAX_TEXT = 2_000_000
MAX_SUMMARY = 2_000
MAX_QUOTE = 5_000
MAX_SHORT = 500
MAX_REASON = 2_000
MAX_LIST = 100
QUOTE_CONTEXT = 32  # characters of prefix/suffix kept with a passage (TextQuoteSelector)

KEY_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2}$")
QID_PATTERN = re.compile(r"^Q[1-9][0-9]*$")
URL_PATTERN = re.compile(r"^https?://\S+$")

CLAIM_FIELDS = (
    "actor", "topic", "stance", "summary", "quote", "value", "conditions",
    "stated", "channel", "source", "passage", "attribution",
)  # fmt: skip


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


# ---------------------------------------------------------------- primitives


def _mapping(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise BadInput(where, "must be an object")
    return data


def _no_unknown(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        prefix = f"{where}." if where else ""
        raise BadInput(f"{prefix}{sorted(unknown)[0]}", "is not a known field")


def text(data: Mapping[str, Any], name: str, limit: int, where: str = "", *, required: bool = True) -> str | None:
    path = f"{where}.{name}" if where else name
    value = data.get(name)
    if value is None:
        if required:
            raise BadInput(path, "is required")
        return None
    if not isinstance(value, str):
        raise BadInput(path, "must be a string")
    value = value.strip()
    if required and not value:
        raise BadInput(path, "must not be empty")
    if len(value) > limit:
        raise BadInput(path, f"is {len(value)} characters long; the limit is {limit}")
    _check_clean(value, path)
    return value or None


def _check_clean(value: str, path: str) -> None:
    # Lone surrogates come from undecodable bytes; NUL breaks PostgreSQL text.
    if "\x00" in value:
        raise BadInput(path, "contains a NUL character")
    if value.isascii():  # no surrogates possible; skips copying the text into bytes
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(path, "is not valid UTF-8 text") from None


def key(data: Mapping[str, Any], name: str = "key", where: str = "") -> str:
    value = text(data, name, MAX_KEY, where)
    assert value is not None
    if not KEY_PATTERN.match(value):
        path = f"{where}.{name}" if where else name
        raise BadInput(path, f"{value!r} is not a key (lower-case letters, digits and single hyphens)")
    return value


def choice(data: Mapping[str, Any], name: str, allowed: tuple[str, ...], where: str = "") -> str:
    value = text(data, name, MAX_KEY, where)
    if value not in allowed:
        path = f"{where}.{name}" if where else name
        raise BadInput(path, f"{value!r} is not one of {', '.join(allowed)}")
    assert value is not None
    return value


def string_list(data: Mapping[str, Any], name: str, limit: int, where: str = "") -> list[str]:
    path = f"{where}.{name}" if where else name
    value = data.get(name) or []
    if not isinstance(value, list):
        raise BadInput(path, "must be a list of strings")
    if len(value) > MAX_LIST:
        raise BadInput(path, f"has {len(value)} entries; the limit is {MAX_LIST}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise BadInput(f"{path}[{i}]", "must be a non-empty string")
        if len(item) > limit:
            raise BadInput(f"{path}[{i}]", f"is longer than {limit} characters")
        _check_clean(item, f"{path}[{i}]")
        out.append(item.strip())
    return out


def partial_date(data: Mapping[str, Any], name: str, where: str = "", *, today: date | None = None) -> PartialDate:
    path = f"{where}.{name}" if where else name
    if data.get(name) is None:
        raise BadInput(path, "is required")
    value = PartialDate.from_dict(data[name], path)
    if value.earliest > (today or date.today()):
        raise BadInput(path, f"{value.iso()} lies in the future")
    return value


def _iso_day(value: Any, path: str) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        raise BadInput(path, "must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadInput(path, f"{value!r} is not a valid date YYYY-MM-DD") from None


# ---------------------------------------------------------------- commands


def parse_source(data: Any) -> RegisterSource:
    data = _mapping(data, "source")
    _no_unknown(data, {"key", "title", "publisher", "authors", "url", "published", "language", "genre", "text"}, "")
    body = data.get("text")
    if not isinstance(body, str) or not body.strip():
        raise BadInput("text", "is required and must not be empty")
    if len(body) > MAX_TEXT:
        raise BadInput("text", f"is {len(body)} characters long; the limit is {MAX_TEXT}")
    _check_clean(body, "text")
    language = text(data, "language", MAX_KEY)
    if not LANGUAGE_PATTERN.match(language or ""):
        raise BadInput("language", f"{language!r} is not an ISO 639-1 code such as 'de'")
    url = text(data, "url", MAX_SHORT, required=False)
    if url is not None and not URL_PATTERN.match(url):
        raise BadInput("url", f"{url!r} is not an http(s) URL")
    metadata = {
        "title": text(data, "title", MAX_SHORT),
        "publisher": text(data, "publisher", MAX_NAME, required=False),
        "authors": string_list(data, "authors", MAX_NAME),
        "url": url,
        "published": partial_date(data, "published").to_dict(),
        "language": language,
        "genre": choice(data, "genre", GENRES),
    }
    sha = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return RegisterSource(key=key(data), text=body, sha256=sha, metadata=metadata)


def parse_actor(data: Any) -> RegisterActor:
    data = _mapping(data, "actor")
    _no_unknown(data, {"key", "name", "kind", "aliases", "wikidata", "roles"}, "")
    wikidata = text(data, "wikidata", 20, required=False)
    if wikidata is not None and not QID_PATTERN.match(wikidata):
        raise BadInput("wikidata", f"{wikidata!r} is not a Wikidata QID such as 'Q22686'")
    roles = data.get("roles") or []
    if not isinstance(roles, list) or len(roles) > MAX_LIST:
        raise BadInput("roles", f"must be a list of at most {MAX_LIST} roles")
    parsed_roles = []
    for i, role in enumerate(roles):
        where = f"roles[{i}]"
        role = _mapping(role, where)
        _no_unknown(role, {"title", "from", "until"}, where)
        start = _iso_day(role["from"], f"{where}.from") if role.get("from") is not None else None
        until = _iso_day(role["until"], f"{where}.until") if role.get("until") is not None else None
        if start and until and until < start:
            raise BadInput(f"{where}.until", f"{until} is before {start}")
        parsed_roles.append({"title": text(role, "title", MAX_NAME, where), "from": start, "until": until})
    profile = {
        "name": text(data, "name", MAX_NAME),
        "kind": choice(data, "kind", ACTOR_KINDS),
        "aliases": sorted(set(string_list(data, "aliases", MAX_NAME))),
        "wikidata": wikidata,
        "roles": parsed_roles,
    }
    return RegisterActor(key=key(data), profile=profile)


def parse_topic(data: Any) -> DefineTopic:
    data = _mapping(data, "topic")
    _no_unknown(data, {"key", "title", "proposition"}, "")
    title = text(data, "title", MAX_SHORT)
    proposition = text(data, "proposition", MAX_SUMMARY)
    assert title is not None and proposition is not None
    return DefineTopic(key=key(data), title=title, proposition=proposition)


def _claim_field(data: Mapping[str, Any], name: str) -> Any:
    """Validate one claim field; shared by recording and revising."""
    if name in ("actor", "topic"):
        return key(data, name)
    if name == "stance":
        return choice(data, "stance", STANCES)
    if name == "attribution":
        return choice(data, "attribution", ATTRIBUTIONS)
    if name == "summary":
        return text(data, "summary", MAX_SUMMARY)
    if name in ("value", "conditions", "channel"):
        return text(data, name, MAX_SHORT, required=False)
    if name == "source":
        return text(data, "source", MAX_KEY)
    if name == "stated":
        return partial_date(data, "stated").to_dict()
    if name == "quote":
        if data.get("quote") is None:
            return None
        quote = _mapping(data["quote"], "quote")
        _no_unknown(quote, {"text", "language"}, "quote")
        language = text(quote, "language", MAX_KEY, "quote")
        if not LANGUAGE_PATTERN.match(language or ""):
            raise BadInput("quote.language", f"{language!r} is not an ISO 639-1 code")
        return {"text": text(quote, "text", MAX_QUOTE, "quote"), "language": language}
    if name == "passage":
        return _passage(data.get("passage"))
    raise BadInput(name, "is not a field of a claim")  # pragma: no cover


def parse_claim(data: Any, *, default_key: str | None = None) -> RecordClaim:
    data = _mapping(data, "claim")
    _no_unknown(data, {"key", *CLAIM_FIELDS, "supersedes", "disputes"}, "")
    claim_key = key(data) if data.get("key") is not None else default_key
    if claim_key is None:
        raise BadInput("key", "is required")
    content = {name: _claim_field(data, name) for name in CLAIM_FIELDS}
    links: list[tuple[str, str]] = []
    if data.get("supersedes") is not None:
        links.append(("SUPERSEDES", text(data, "supersedes", MAX_KEY) or ""))
    for target in string_list(data, "disputes", MAX_KEY):
        links.append(("DISPUTES", target))
    return RecordClaim(key=claim_key, content=content, links=links)


def parse_changes(data: Any) -> dict[str, Any]:
    data = _mapping(data, "changes")
    if not data:
        raise BadInput("changes", "must name at least one field to change")
    _no_unknown(data, set(CLAIM_FIELDS), "changes")
    try:
        return {name: _claim_field(data, name) for name in data}
    except BadInput as error:
        raise BadInput(f"changes.{error.field}", error.message) from None


def parse_reason(value: Any) -> str:
    reason = text({"reason": value}, "reason", MAX_REASON)
    assert reason is not None
    return reason


def parse_expected_version(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadInput("expectedVersion", "must be a positive integer")
    return value


def _passage(value: Any) -> dict[str, Any]:
    """A passage by its words (``exact``, optional ``prefix``/``suffix``) and, optionally, its offsets.

    Offsets come as a pair or not at all; where they are missing the batch finds them
    in the source text (``passage_selector``).
    """
    passage = _mapping(value, "passage")
    _no_unknown(passage, {"start", "end", "exact", "prefix", "suffix"}, "passage")
    start, end = passage.get("start"), passage.get("end")
    if (start is None) != (end is None):
        missing = "end" if end is None else "start"
        raise BadInput(f"passage.{missing}", "must be given with the other offset, or leave both out to anchor by words")
    out: dict[str, Any] = {}
    if start is not None:
        for label, offset in (("start", start), ("end", end)):
            if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
                raise BadInput(f"passage.{label}", "must be a non-negative integer character offset")
        assert isinstance(start, int) and isinstance(end, int)
        if end <= start:
            raise BadInput("passage.end", f"{end} must be greater than start {start}")
        if end - start > MAX_QUOTE:
            raise BadInput("passage", f"spans {end - start} characters; the limit is {MAX_QUOTE}")
        out = {"start": start, "end": end}
    exact = passage.get("exact")
    if not isinstance(exact, str) or not exact.strip():
        raise BadInput("passage.exact", "is required: the exact words of the passage")
    if len(exact) > MAX_QUOTE:
        raise BadInput("passage.exact", f"is {len(exact)} characters long; the limit is {MAX_QUOTE}")
    out["exact"] = exact
    for label in ("prefix", "suffix"):
        context = passage.get(label)
        if context is not None:
            if not isinstance(context, str):
                raise BadInput(f"passage.{label}", "must be a string")
            if len(context) > MAX_SHORT:
                raise BadInput(f"passage.{label}", f"is longer than {MAX_SHORT} characters")
            out[label] = context
    return out


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
