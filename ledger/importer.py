"""Import files: curated sources, actors, topics, claims and corrections.

The format is YAML (JSON is valid YAML), described by
``ledger/schema/import-v1.schema.json`` (generated from ``ledger.records.ImportFile``).
A file is checked completely (encoding, syntax, duplicate keys, schema, field rules,
references) before anything is written; then it is written as one batch, in one
transaction. Every error names the file, the line and the field. Re-importing a
file writes nothing new.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml

from ledger import commands as c
from ledger import import_schema, records
from ledger.application import Batch, ClaimsLedger, claim_ref, source_ref
from ledger.domain import SourceKey, actor_id, claim_id, source_id, source_sha256, topic_id
from ledger.errors import BadInput, Conflict, LedgerError, NotFound

FORMAT = "claims-ledger/import/v1"
SECTIONS = ("sources", "actors", "topics", "claims", "revisions", "retractions")
MAX_REPORTED = 20
# Limits on what an import file may make the machine do (see SECURITY.md).
MAX_DEPTH = 64  # nesting of mappings and lists
MAX_NODES = 1_000_000  # nodes the document holds once its YAML aliases are expanded ("billion laughs")
MAX_TEXT_FILE_BYTES = 4 * c.MAX_TEXT  # a text_file: MAX_TEXT characters of up to 4 UTF-8 bytes each
MAX_MESSAGE = 300  # characters of one reported problem (a schema error may quote a huge value)
IMPORT_ROOT_ENV = "CLAIMS_IMPORT_ROOT"  # text_file may name files below this folder too


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str

    def __post_init__(self) -> None:
        if len(self.message) > MAX_MESSAGE:
            object.__setattr__(self, "message", self.message[:MAX_MESSAGE] + "...")

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ImportFileError(LedgerError):
    """An import file was refused; nothing from it was written."""

    code = "BAD_USER_INPUT"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(str(p) for p in problems[:MAX_REPORTED])
        more = f"\n... and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        super().__init__(f"{shown}{more}\nnothing from {problems[0].file} was written")


@dataclass
class ImportResult:
    file: str
    events: int = 0
    created: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0


Progress = Callable[[int, int], None]  # (done, total) records


# ------------------------------------------------------------------ reading


# libyaml's parser where PyYAML was built with it (~8x faster than the pure-Python one);
# construction, the duplicate-key check and the resolvers below stay in Python either way.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader that refuses duplicate mapping keys (YAML would silently keep the last)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.MarkedYAMLError(
                "duplicate key",
                None,
                f"{key!r} appears twice in one mapping (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Dates stay strings: the ledger parses them itself, with its own precision rules.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, regexp) for tag, regexp in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Lines:
    """Line numbers of records and fields, from the YAML node tree.

    For a JSON file read with ``json.loads`` the tree is composed only when a line is
    asked for, i.e. when there is a problem to report."""

    def __init__(self, root: yaml.Node | None, text: str | None = None) -> None:
        self.root = root
        self._text = text

    def of(self, path: list[Any]) -> int | None:
        if self._text is not None:
            self.root, self._text = _compose(self._text), None
        node = self.root
        line = node.start_mark.line + 1 if node else None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if k.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
            else:
                break
            if node is None:
                break
            line = node.start_mark.line + 1
        return line


def read(path: Path, *, accept_unreviewed: bool = True) -> tuple[dict[str, Any], _Lines]:
    """Decode and parse a file; raise ImportFileError for encoding, syntax or schema problems
    (and, unless ``accept_unreviewed``, for candidates of a draft still pending review: those first)."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ImportFileError([Problem(name, None, "", f"cannot be read: {error.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ImportFileError([Problem(name, line, "", f"is not valid UTF-8 (byte {error.start})")]) from None
    data: Any = _NOT_JSON
    if path.suffix.lower() == ".json":
        data = _json(text)
    if data is not _NOT_JSON:
        lines = _Lines(None, text)
    else:
        try:
            node, data = _parse(text)
        except _TooLarge as error:
            raise ImportFileError([Problem(name, None, "", f"is refused: it {error}")]) from None
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            message = " ".join(str(p) for p in (error.context, error.problem) if p)
            raise ImportFileError(
                [Problem(name, mark.line + 1 if mark else None, "", f"is not valid YAML: {message}")]
            ) from None
        lines = _Lines(node)
    if not isinstance(data, dict):
        raise ImportFileError([Problem(name, 1, "", "must be a mapping with 'format' and sections")])
    if not accept_unreviewed:
        pending = _pending(data, name, lines)
        if pending:
            raise ImportFileError(pending)
    # One schema pass on the happy path: the compiled check; a file it refuses gets jsonschema's report.
    fits = import_schema.worth_compiling(data) and import_schema.fits(data)
    problems = [] if fits else schema_problems(data, name, lines)
    if problems:
        raise ImportFileError(problems)
    return data, lines


def schema_problems(data: Any, name: str, lines: _Lines) -> list[Problem]:
    """jsonschema's report on a file: every error with its line, by path; those inside dismissed candidates left out."""
    validator = import_schema.validator()
    return [
        Problem(name, lines.of(list(e.absolute_path)), _dotted(e.absolute_path), e.message)
        for e in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
        if not _within_dismissed(data, list(e.absolute_path))
    ]


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data, from one parse of the text."""
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise _TooLarge(f"nests deeper than {MAX_DEPTH} levels") from None
        if node is not None:
            _check_size(node)
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, data


class _TooLarge(Exception):
    """The document is too deep, or its aliases expand too far, to be read safely."""


def _check_size(root: yaml.Node) -> None:
    """Refuse a node tree that nests too deep or expands (through aliases, which share nodes) to
    too many nodes, before anything is built from it: one pass over the distinct nodes."""
    expanded: dict[int, int] = {}  # node id -> nodes below it, aliases expanded
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            expanded[key] = 1 + sum(expanded[id(child)] for child in children)
            depth[key] = 1 + max((depth[id(child)] for child in children), default=0)
            if expanded[key] > MAX_NODES:
                raise _TooLarge(
                    f"expands to more than {MAX_NODES:,} values through its aliases (&anchors and *aliases)"
                )
            if depth[key] > MAX_DEPTH:
                raise _TooLarge(f"nests deeper than {MAX_DEPTH} levels")
            continue
        if key in expanded:
            continue
        if key in on_path:
            raise _TooLarge("contains an alias to a node that holds it (a recursive alias)")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in expanded)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _compose(text: str) -> yaml.Node | None:
    loader = _Loader(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
    finally:
        loader.dispose()
    return node


_NOT_JSON = object()


class _NotPlainJson(ValueError):
    pass


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _NotPlainJson("duplicate key")
    return out


def _json_constant(name: str) -> Any:
    raise _NotPlainJson(name)


def _json_float(literal: str) -> float:
    if "e" in literal or "E" in literal:
        raise _NotPlainJson(literal)  # YAML 1.1 reads 1e5 as a string
    return float(literal)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _json(text: str) -> Any:
    """A ``.json`` file with ``json.loads`` (JSON is YAML; this is ~100x faster). Anything
    the YAML path could judge differently (syntax errors, duplicate keys, NaN/Infinity,
    exponents, surrogate escapes) returns ``_NOT_JSON`` and goes through YAML, which
    reports problems with their line."""
    if _SURROGATE_ESCAPE.search(text):
        return _NOT_JSON
    try:
        data = json.loads(text, object_pairs_hook=_json_object, parse_constant=_json_constant, parse_float=_json_float)
    except (ValueError, RecursionError):  # json.JSONDecodeError, _NotPlainJson; too deep: YAML's check says so
        return _NOT_JSON
    return data if _depth(data) <= MAX_DEPTH else _NOT_JSON


def _depth(data: Any) -> int:
    """How deep lists and mappings nest (iterative: a hostile file cannot exhaust the stack).
    Only containers go on the stack: most values of a file are strings and numbers."""
    if not isinstance(data, dict | list):
        return 0
    deepest = 0
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > MAX_DEPTH:
                return deepest
        below = depth + 1
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, below))
    return deepest


def _dotted(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ------------------------------------------------------------------ applying


IMPORT_ATTEMPTS = 2  # an import that lost a race with another writer is checked and applied once more


def import_file(
    ledger: ClaimsLedger,
    path: Path,
    principal: str,
    progress: Progress | None = None,
    *,
    accept_unreviewed: bool = False,
) -> ImportResult:
    data, lines = read(path, accept_unreviewed=accept_unreviewed)
    for attempt in range(1, IMPORT_ATTEMPTS + 1):
        try:
            return _import(ledger, path, data, lines, principal, progress)
        except Conflict as conflict:
            if not conflict.race or attempt == IMPORT_ATTEMPTS:
                raise ImportFileError([_raced(str(path), data, lines, conflict)]) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _raced(name: str, data: dict[str, Any], lines: _Lines, conflict: Conflict) -> Problem:
    """The record of the file another writer wrote at the same time, with its line."""
    for section, i, record in iter_records(data):
        if record.get("key") == conflict.key:
            return Problem(name, lines.of([section, i, "key"]), f"{section}[{i}].key",
                           f"{conflict}; run the import again")  # fmt: skip
    return Problem(name, None, "", f"{conflict}; run the import again")


def _import(
    ledger: ClaimsLedger,
    path: Path,
    data: dict[str, Any],
    lines: _Lines,
    principal: str,
    progress: Progress | None,
) -> ImportResult:
    name = str(path)
    records = list(iter_records(data))
    problems = _duplicates(data, name, lines)
    if problems:
        raise ImportFileError(problems)
    result = ImportResult(name)
    with ledger.batch(principal) as batch:  # an error leaves the block before anything is committed
        batch.prefetch(_referenced_ids(data))
        for done, (section, i, record) in enumerate(records, 1):
            try:
                created = _apply(batch, section, record, path)
            except (BadInput, NotFound) as error:
                field = error.field if isinstance(error, BadInput) else "claim"
                message = error.message if isinstance(error, BadInput) else str(error)
                line = lines.of([section, i, field.split(".")[0].split("[")[0]])
                raise ImportFileError([Problem(name, line, f"{section}[{i}].{field}", message)]) from None
            if created:
                result.created[section] = result.created.get(section, 0) + 1
            else:
                result.unchanged += 1
            if progress:
                progress(done, len(records))
        batch.commit()  # here, to count what it wrote (leaving the block then commits nothing more)
        result.events = batch.events
    return result


def _referenced_ids(data: dict[str, Any]) -> list[UUID]:
    """Every aggregate the file creates or refers to, so that one query (``Batch.prefetch``)
    loads the ones that exist and tells which are new, instead of one query per record.
    Only a hint: a reference that does not parse here is looked up (and refused) later."""
    ids: list[UUID] = []

    def strings(*values: Any) -> list[str]:
        return [v.strip() for v in values if isinstance(v, str)]

    for record in data.get("sources") or []:
        ids += [SourceKey.create_id(k) for k in strings(record.get("key"))]
        text = record.get("text")
        if isinstance(text, str):
            ids.append(source_id(source_sha256(text)))
    for record in data.get("actors") or []:
        ids += [actor_id(k) for k in strings(record.get("key"))]
    for record in data.get("topics") or []:
        ids += [topic_id(k) for k in strings(record.get("key"))]
    for record in data.get("claims") or []:  # (a claim's four references without a call per field: most records)
        for name, to_id in _CLAIM_REFERENCES:
            value = record.get(name)
            if isinstance(value, str):
                ids.append(to_id(value.strip()))
        supersedes, disputes = record.get("supersedes"), record.get("disputes")
        if supersedes is not None or disputes:
            targets = strings(supersedes, *(disputes if isinstance(disputes, list) else ()))
            ids += [claim_ref(k) for k in targets]
    for section in ("revisions", "retractions"):
        ids += [claim_ref(k) for r in data.get(section) or [] for k in strings(r.get("claim"))]
    return ids


_CLAIM_REFERENCES: tuple[tuple[str, Callable[[str], UUID]], ...] = (
    ("key", claim_id), ("actor", actor_id), ("topic", topic_id), ("source", source_ref)
)  # fmt: skip


def _dismissed(record: Any) -> bool:
    """A candidate the curator dismissed in a draft from ``claims extract``: skipped entirely."""
    return isinstance(record, dict) and record.get("review") == "dismissed"


def _within_dismissed(data: dict[str, Any], path: list[Any]) -> bool:
    if len(path) < 2 or path[0] not in ("actors", "claims") or not isinstance(path[1], int):
        return False
    section = data.get(path[0])
    return isinstance(section, list) and path[1] < len(section) and _dismissed(section[path[1]])


def _pending(data: dict[str, Any], name: str, lines: _Lines) -> list[Problem]:
    """Candidates nobody reviewed: refused unless the curator accepts them explicitly."""
    return [
        Problem(
            name, lines.of([section, i, "review"]), f"{section}[{i}].review",
            "is pending: review this candidate and set review: accepted (or dismissed), "
            "or import with --accept-unreviewed to accept every pending candidate as it stands",
        )
        for section in ("actors", "claims")
        if isinstance(data.get(section), list)  # anything else: the schema's report says what is wrong
        for i, record in enumerate(data[section])
        if isinstance(record, dict) and record.get("review") == "pending"
    ]


def _duplicates(data: dict[str, Any], name: str, lines: _Lines) -> list[Problem]:
    problems = []
    for section in ("sources", "actors", "topics", "claims", "revisions"):
        seen: dict[str, int] = {}
        for i, record in enumerate(data.get(section) or []):
            if _dismissed(record):
                continue
            key = record["key"]
            if key in seen:
                problems.append(
                    Problem(name, lines.of([section, i, "key"]), f"{section}[{i}].key",
                            f"{key!r} is used twice in this file (also {section}[{seen[key]}])")
                )  # fmt: skip
            seen[key] = i
    return problems


def _apply(batch: Batch, section: str, record: dict[str, Any], path: Path) -> bool:
    """Apply one record; True when it wrote something."""
    if section == "sources":
        record = dict(record)
        if "text_file" in record:
            record["text"] = _read_text(path, record.pop("text_file"))
        return batch.register_source(c.parse_source(record))[1]
    if section == "actors":
        return batch.register_actor(c.parse_actor(_record_part(record, "actors")), _changed_in(path))[1]
    if section == "topics":
        return batch.define_topic(c.parse_topic(record), _changed_in(path))[1]
    if section == "claims":
        recorded = c.parse_claim(_record_part(record, "claims"))
        if "review" in record or "assistant" in record:
            recorded = replace(recorded, origin=assistant_origin(record))
        return batch.record_claim(recorded)[1]
    if section == "revisions":
        claim = batch.claim(record["claim"])
        if record["key"] in claim.revision_keys:
            return False
        changes = c.parse_changes(record["changes"])
        command = c.ReviseClaim(record["claim"], None, changes, c.parse_reason(record["reason"]), record["key"])
        batch.revise_claim(command)
        return True
    if section == "retractions":
        if batch.claim(record["claim"]).retracted is not None:
            return False
        batch.retract_claim(c.RetractClaim(record["claim"], None, c.parse_reason(record["reason"])))
        return True
    raise AssertionError(section)  # pragma: no cover


# What an entry of a section adds to the record it holds (a draft's review marks), declared in
# ledger.records; the record's own parser does not take these.
_ENTRY_ONLY = {
    "actors": set(records.ActorEntry.model_fields) - set(records.Actor.model_fields),
    "claims": set(records.ClaimEntry.model_fields) - set(records.Claim.model_fields),
}


def _changed_in(path: Path) -> str:
    """The reason of a revision an import file makes to an existing actor or topic."""
    return f"changed in import file {path.name}"


def _record_part(entry: dict[str, Any], section: str) -> dict[str, Any]:
    entry_only = _ENTRY_ONLY[section]
    if entry_only.isdisjoint(entry):
        return entry  # a curator's record (no review marks): the parser reads it, never changes it
    return {k: v for k, v in entry.items() if k not in entry_only}


def _read_text(import_file: Path, name: str) -> str:
    """A source's ``text_file``: a regular file below the import file's folder (or below
    $CLAIMS_IMPORT_ROOT), at most MAX_TEXT_FILE_BYTES, valid UTF-8. Symbolic links are
    followed first, so a link cannot lead outside either."""
    target = (import_file.parent / name).resolve()
    roots = [import_file.parent.resolve()]
    if os.environ.get(IMPORT_ROOT_ENV):
        roots.append(Path(os.environ[IMPORT_ROOT_ENV]).resolve())
    if not any(target.is_relative_to(root) for root in roots):
        raise BadInput(
            "text_file",
            f"{name!r} lies outside the import file's folder; text files must be below it (or below ${IMPORT_ROOT_ENV})",
        )
    try:
        info = target.stat()
        if not stat.S_ISREG(info.st_mode):
            raise BadInput("text_file", f"{name!r} is not a regular file")
        if info.st_size > MAX_TEXT_FILE_BYTES:
            raise BadInput("text_file", f"{name!r} is {info.st_size:,} bytes; the limit is {MAX_TEXT_FILE_BYTES:,}")
        with target.open("rb") as file:
            raw = file.read(MAX_TEXT_FILE_BYTES + 1)
        if len(raw) > MAX_TEXT_FILE_BYTES:  # it grew since stat
            raise BadInput("text_file", f"{name!r} is over {MAX_TEXT_FILE_BYTES:,} bytes")
        return raw.decode("utf-8")
    except OSError as error:
        raise BadInput("text_file", f"{name!r} cannot be read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise BadInput("text_file", f"{name!r} is not valid UTF-8 (byte {error.start})") from None


def assistant_origin(record: dict[str, Any]) -> dict[str, Any]:
    """The origin a claim accepted from the extraction assistant carries (the batch adds who accepted it)."""
    found = record.get("assistant")
    assistant: dict[str, Any] = found if isinstance(found, dict) else {}
    return {
        "assistant": "claims extract",
        "review": "accepted" if record.get("review") == "accepted" else "accepted unreviewed",
        "confidence": record.get("confidence"),
        "rule": assistant.get("rule"),
    }


def iter_records(data: dict[str, Any]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    for section in SECTIONS:
        for i, record in enumerate(data.get(section) or []):
            if not _dismissed(record):
                yield section, i, record
