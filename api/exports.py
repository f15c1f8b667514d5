"""Interchange formats: the ledger's claims and positions for other tools, streamed.

Formats (``FORMATS``; columns and mappings documented in README "Exports"):

* ``claimreview``   schema.org JSON-LD: a ``Dataset`` whose ``hasPart`` are ``Claim`` items
                    (author with Wikidata ``sameAs``, appearance/firstAppearance = the source)
* ``webannotation`` W3C Web Annotation JSON-LD: an ``AnnotationCollection`` of the passages,
                    each with a TextQuoteSelector and a TextPositionSelector on its source
* ``claims-csv`` / ``claims-jsonl``       one row per claim (CLAIM_COLUMNS)
* ``positions-csv`` / ``positions-jsonl`` the position matrix as of a date (POSITION_COLUMNS)
* ``wikidata``      JSON Lines of Wikidata-style statements (P585 point in time with precision
                    9/10/11, references P248/P854/P1683, deprecated rank with P2241 for retractions)

Every export carries its basis (tree size, root hash, knownAt): a ``basis`` header line
for CSV (``# basis ...``) and JSON Lines (``{"basis": ...}``), the collection's metadata for
JSON-LD. Claims are read in keyset batches and written as they come: memory does not grow
with the number of claims.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from projections.queries import ReadModel
from projections.views import ActorView, ClaimFilter, ClaimView, PositionView, SourceView, TopicView

SCHEMA_ORG = "https://schema.org"
ANNO_CONTEXT = "http://www.w3.org/ns/anno.jsonld"
WIKIDATA_ENTITY = "http://www.wikidata.org/entity/"
GREGORIAN = "http://www.wikidata.org/entity/Q1985727"
PRECISION = {"YEAR": 9, "MONTH": 10, "DAY": 11}  # Wikidata time precision codes
SOURCE_BATCH = 500

CLAIM_COLUMNS = (
    "claim_id", "key", "version", "actor", "topic", "stance", "summary", "quote", "quote_language", "value",
    "conditions", "stated_date", "stated_precision", "stated_earliest", "stated_latest", "counts_from", "channel",
    "source_id", "source_key", "source_url", "passage_start", "passage_end", "passage_exact", "attribution",
    "retracted", "retraction_reason", "first_recorded_at", "first_recorded_by", "version_recorded_at", "log_position",
)  # fmt: skip
POSITION_COLUMNS = (
    "actor", "topic", "stance", "since_date", "since_claim_id", "claim_id", "claim_key", "as_of", "known_at",
)  # fmt: skip


@dataclass(frozen=True)
class Basis:
    tree_size: int
    root_hash: str
    known_at: datetime | None  # None: each claim's current record

    def as_dict(self) -> dict[str, Any]:
        return {
            "treeSize": self.tree_size,
            "rootHash": self.root_hash,
            "knownAt": self.known_at.isoformat() if self.known_at else None,
        }


def basis(read_model: ReadModel, known_at: datetime | None) -> tuple[Basis, datetime | None]:
    """The basis of an export and the knownAt to read with: with no knownAt given, the exact record
    time of the read model's position (so the file is reproducible), when one exists."""
    size = read_model.projected_position()
    if known_at is None:
        known_at = read_model.record_time_at(size)
    root = read_model.root_hash(size).hex()
    return Basis(size, root, known_at), known_at


@dataclass(frozen=True)
class Request:
    format: str
    filter: ClaimFilter
    as_of: date | None = None
    known_at: datetime | None = None


class _Lookups:
    """Actors and topics (few) in memory; sources fetched per batch of claims. All with the details
    the ledger held at the export's knownAt (so the same basis gives the same file), else the current ones."""

    def __init__(self, read_model: ReadModel, known_at: datetime | None) -> None:
        self.read_model = read_model
        self.known_at = known_at
        self.actors: dict[str, ActorView] = {a.key: a for a in read_model.actors(None, known_at)}
        self.topics: dict[str, TopicView] = {t.key: t for t in read_model.topics(known_at)}
        self.sources: dict[Any, SourceView] = {}

    def with_sources(self, claims: Iterable[ClaimView]) -> Iterator[ClaimView]:
        batch: list[ClaimView] = []
        for claim in claims:
            batch.append(claim)
            if len(batch) >= SOURCE_BATCH:
                yield from self._flush(batch)
                batch = []
        yield from self._flush(batch)

    def _flush(self, batch: list[ClaimView]) -> Iterator[ClaimView]:
        wanted = list({c.source_id for c in batch} - set(self.sources))
        if len(self.sources) > 10 * SOURCE_BATCH:  # keep memory bounded on huge exports
            self.sources.clear()
            wanted = list({c.source_id for c in batch})
        at = self.known_at
        found = (
            self.read_model.sources_by_ids(wanted)
            if at is None
            else self.read_model.sources_at([(i, at) for i in wanted])
        )
        for source in found:
            if source is not None:
                self.sources[source.id] = source
        yield from batch


def _source_ref(source: SourceView | None) -> str:
    if source is None:
        return ""
    return source.url or f"urn:claims-ledger:source:{source.sha256}"


def claim_row(claim: ClaimView, source: SourceView | None) -> dict[str, Any]:
    return {
        "claim_id": str(claim.id),
        "key": claim.key,
        "version": claim.version,
        "actor": claim.actor,
        "topic": claim.topic,
        "stance": claim.stance,
        "summary": claim.summary,
        "quote": claim.quote_text,
        "quote_language": claim.quote_language,
        "value": claim.value,
        "conditions": claim.conditions,
        "stated_date": claim.stated.date,
        "stated_precision": claim.stated.precision,
        "stated_earliest": claim.stated.earliest.isoformat(),
        "stated_latest": claim.stated.latest.isoformat(),
        "counts_from": claim.counts_from.isoformat(),
        "channel": claim.channel,
        "source_id": str(claim.source_id),
        "source_key": source.key if source else None,
        "source_url": source.url if source else None,
        "passage_start": claim.passage.start,
        "passage_end": claim.passage.end,
        "passage_exact": claim.passage.exact,
        "attribution": claim.attribution,
        "retracted": claim.retracted,
        "retraction_reason": claim.retraction_reason,
        "first_recorded_at": claim.first_recorded_at.isoformat(),
        "first_recorded_by": claim.first_recorded_by,
        "version_recorded_at": claim.version_recorded_at.isoformat(),
        "log_position": claim.position,
    }


def position_row(position: PositionView) -> dict[str, Any]:
    return {
        "actor": position.actor,
        "topic": position.topic,
        "stance": position.stance,
        "since_date": position.since.date,
        "since_claim_id": str(position.since_claim_id),
        "claim_id": str(position.claim.id),
        "claim_key": position.claim.key,
        "as_of": position.as_of.isoformat(),
        "known_at": position.known_at.isoformat(),
    }


def _published(source: SourceView | None) -> str | None:
    return source.published.date if source else None


def _author(actor: ActorView | None, key: str) -> dict[str, Any]:
    if actor is None:
        return {"@type": "Person", "name": key}
    node: dict[str, Any] = {"@type": "Person" if actor.kind == "PERSON" else "Organization", "name": actor.name}
    if actor.wikidata:
        node["sameAs"] = WIKIDATA_ENTITY + actor.wikidata
    return node


def _creative_work(source: SourceView | None) -> dict[str, Any]:
    if source is None:
        return {"@type": "CreativeWork"}
    work: dict[str, Any] = {"@type": "CreativeWork", "headline": source.title, "url": _source_ref(source)}
    if source.published.date:
        work["datePublished"] = source.published.date
    if source.publisher:
        work["publisher"] = {"@type": "Organization", "name": source.publisher}
    work["inLanguage"] = source.language
    return work


def schema_org_claim(claim: ClaimView, lookups: _Lookups) -> dict[str, Any]:
    source = lookups.sources.get(claim.source_id)
    topic = lookups.topics.get(claim.topic)
    appearance = _creative_work(source)
    node: dict[str, Any] = {
        "@type": "Claim",
        "@id": f"urn:uuid:{claim.id}",
        "identifier": claim.key,
        "name": claim.summary,
        "author": _author(lookups.actors.get(claim.actor), claim.actor),
        "about": {"@type": "Thing", "name": topic.title if topic else claim.topic}
        | ({"description": topic.proposition} if topic else {}),
        "keywords": [f"stance:{claim.stance}", f"attribution:{claim.attribution}"],
        "dateCreated": claim.stated.date,
        "appearance": appearance,
        "firstAppearance": appearance,
    }
    if claim.quote_text:
        node["text"] = claim.quote_text
    if claim.quote_language:
        node["inLanguage"] = claim.quote_language
    if claim.retracted:
        node["creativeWorkStatus"] = f"retracted: {claim.retraction_reason or ''}".strip()
    return node


def web_annotation(claim: ClaimView, lookups: _Lookups) -> dict[str, Any]:
    source = lookups.sources.get(claim.source_id)
    passage = claim.passage
    return {
        "id": f"urn:uuid:{claim.id}",
        "type": "Annotation",
        "motivation": "describing",
        "created": claim.first_recorded_at.isoformat(),
        "modified": claim.version_recorded_at.isoformat(),
        "creator": {"type": "Software", "name": claim.first_recorded_by},
        "body": {
            "type": "TextualBody",
            "purpose": "describing",
            "value": f"{claim.actor} {claim.stance} {claim.topic}: {claim.summary}",
            "format": "text/plain",
        },
        "target": {
            "source": _source_ref(source),
            "selector": [
                {
                    "type": "TextQuoteSelector",
                    "exact": passage.exact,
                    "prefix": passage.prefix,
                    "suffix": passage.suffix,
                },
                {"type": "TextPositionSelector", "start": passage.start, "end": passage.end},
            ],
        },
    }


def wikidata_time(claim: ClaimView) -> dict[str, Any]:
    """A Wikidata time value: unknown month/day are 00 at coarser precision."""
    precision = claim.stated.precision
    day = claim.stated.earliest
    month = f"{day.month:02d}" if precision in ("MONTH", "DAY") else "00"
    dd = f"{day.day:02d}" if precision == "DAY" else "00"
    return {
        "time": f"+{day.year:04d}-{month}-{dd}T00:00:00Z",
        "timezone": 0,
        "before": 0,
        "after": 0,
        "precision": PRECISION[precision],
        "calendarmodel": GREGORIAN,
    }


def wikidata_statement(claim: ClaimView, lookups: _Lookups) -> dict[str, Any]:
    source = lookups.sources.get(claim.source_id)
    actor = lookups.actors.get(claim.actor)
    topic = lookups.topics.get(claim.topic)
    reference: dict[str, Any] = {
        "P248": {"source": source.key if source else None, "title": source.title if source else None}
    }
    if source is not None and source.url:
        reference["P854"] = source.url
    reference["P1683"] = {"text": claim.quote_text or claim.passage.exact, "language": claim.quote_language}
    statement: dict[str, Any] = {
        "id": str(claim.id),
        "subject": {"actor": claim.actor, "item": actor.wikidata if actor else None},
        "property": "stance on proposition",
        "value": {"topic": claim.topic, "proposition": topic.proposition if topic else None},
        "stance": claim.stance,
        "qualifiers": {"P585": wikidata_time(claim)},
        "references": [reference],
        "rank": "deprecated" if claim.retracted else "normal",
    }
    if claim.retracted:
        statement["qualifiers"]["P2241"] = {"text": claim.retraction_reason}  # reason for deprecated rank
    return statement


# ----------------------------------------------------------------- writers


def _jsonl(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"


def _csv_line(values: Iterable[Any]) -> str:
    out = io.StringIO()
    # Empty for null, true/false for booleans (what spreadsheets and pandas read back as such).
    cells = ["" if v is None else ("true" if v else "false") if isinstance(v, bool) else v for v in values]
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


def _json_ld(head: dict[str, Any], list_key: str, items: Iterator[dict[str, Any]], tail: str = "}") -> Iterator[str]:
    """A JSON document whose ``list_key`` array is written item by item."""
    opening = json.dumps(head, ensure_ascii=False)[:-1]  # drop the closing brace
    yield f"{opening}, {json.dumps(list_key)}: [\n"
    first = True
    for item in items:
        yield ("" if first else ",\n") + json.dumps(item, ensure_ascii=False)
        first = False
    yield "\n]" + tail + "\n"


def stream(read_model: ReadModel, request: Request) -> tuple[Basis, Iterator[str]]:
    """The export's basis (computed now) and its text, chunk by chunk (computed as it is read)."""
    if request.format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    the_basis, known_at = basis(read_model, request.known_at)
    return the_basis, FORMATS[request.format](read_model, the_basis, known_at, request)


def _claims(read_model: ReadModel, known_at: datetime | None, request: Request) -> tuple[_Lookups, Iterator[ClaimView]]:
    lookups = _Lookups(read_model, known_at)
    wanted = request.filter
    if request.as_of is not None and (wanted.stated_to is None or wanted.stated_to > request.as_of):
        wanted = ClaimFilter(**{**wanted.__dict__, "stated_to": request.as_of})
    return lookups, lookups.with_sources(read_model.iter_claims(wanted, known_at))


def _claims_table(
    read_model: ReadModel, b: Basis, known_at: datetime | None, request: Request, csv_: bool
) -> Iterator[str]:
    lookups, claims = _claims(read_model, known_at, request)
    if csv_:
        yield f"# basis tree_size={b.tree_size} root_hash={b.root_hash} known_at={b.as_dict()['knownAt']}\n"
        yield _csv_line(CLAIM_COLUMNS)
    else:
        yield _jsonl({"basis": b.as_dict()})
    for claim in claims:
        row = claim_row(claim, lookups.sources.get(claim.source_id))
        yield _csv_line(row[c] for c in CLAIM_COLUMNS) if csv_ else _jsonl(row)


def _positions_table(
    read_model: ReadModel, b: Basis, known_at: datetime | None, request: Request, csv_: bool
) -> Iterator[str]:
    positions = read_model.positions(request.filter.actor, request.filter.topic, request.as_of, known_at)
    if csv_:
        yield f"# basis tree_size={b.tree_size} root_hash={b.root_hash} known_at={b.as_dict()['knownAt']}\n"
        yield _csv_line(POSITION_COLUMNS)
    else:
        yield _jsonl({"basis": b.as_dict()})
    for position in positions:
        row = position_row(position)
        yield _csv_line(row[c] for c in POSITION_COLUMNS) if csv_ else _jsonl(row)


def _claimreview(read_model: ReadModel, b: Basis, known_at: datetime | None, request: Request) -> Iterator[str]:
    lookups, claims = _claims(read_model, known_at, request)
    head = {
        "@context": SCHEMA_ORG,
        "@type": "Dataset",
        "name": "claims-ledger export",
        "version": str(b.tree_size),
        "identifier": f"rfc6962-root:{b.root_hash}",
        "dateModified": (known_at or datetime.now(UTC)).isoformat(),
        "description": f"Claims as recorded by the ledger at tree size {b.tree_size} (root {b.root_hash}).",
    }
    return _json_ld(head, "hasPart", (schema_org_claim(c, lookups) for c in claims))


def _webannotation(read_model: ReadModel, b: Basis, known_at: datetime | None, request: Request) -> Iterator[str]:
    lookups, claims = _claims(read_model, known_at, request)
    head = {
        "@context": ANNO_CONTEXT,
        "id": f"urn:claims-ledger:export:{b.tree_size}:{b.root_hash}",
        "type": "AnnotationCollection",
        "label": f"claims-ledger passages at tree size {b.tree_size}, root {b.root_hash}",
    }
    # {"...", "first": {"type": "AnnotationPage", "items": [ ... ]}}: the items array is streamed.
    page = _json_ld({"type": "AnnotationPage"}, "items", (web_annotation(c, lookups) for c in claims), "}}")
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "first": '
    yield from page


def _wikidata(read_model: ReadModel, b: Basis, known_at: datetime | None, request: Request) -> Iterator[str]:
    lookups, claims = _claims(read_model, known_at, request)
    yield _jsonl({"basis": b.as_dict()})
    for claim in claims:
        yield _jsonl(wikidata_statement(claim, lookups))


def _with_retracted(request: Request) -> Request:
    return Request(
        request.format, ClaimFilter(**{**request.filter.__dict__, "include_retracted": True}), request.as_of,
        request.known_at,
    )  # fmt: skip


Writer = Callable[[ReadModel, Basis, "datetime | None", Request], Iterator[str]]
FORMATS: dict[str, Writer] = {
    "claimreview": _claimreview,
    "webannotation": _webannotation,
    "claims-csv": lambda m, b, k, r: _claims_table(m, b, k, r, True),
    "claims-jsonl": lambda m, b, k, r: _claims_table(m, b, k, r, False),
    "positions-csv": lambda m, b, k, r: _positions_table(m, b, k, r, True),
    "positions-jsonl": lambda m, b, k, r: _positions_table(m, b, k, r, False),
    "wikidata": lambda m, b, k, r: _wikidata(m, b, k, _with_retracted(r)),
}
MEDIA_TYPES = {
    "claimreview": "application/ld+json",
    "webannotation": 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"',
    "claims-csv": "text/csv",
    "claims-jsonl": "application/x-ndjson",
    "positions-csv": "text/csv",
    "positions-jsonl": "application/x-ndjson",
    "wikidata": "application/x-ndjson",
}
