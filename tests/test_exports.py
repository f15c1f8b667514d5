"""Interchange formats on the demo corpus, both stores: every term checked offline against vocabularies
written here (schema.org, W3C Web Annotation), passages against their sources, basis in every file."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.cli.main import main
from api.exports import CLAIM_COLUMNS, POSITION_COLUMNS
from ledger import commands as c
from ledger.application import ClaimsLedger
from projections.projector import Projector
from projections.queries import ReadModel
from projections.views import ClaimFilter

# schema.org: the types we emit and, per property, the type it is defined on (schema.org/<Property>'s domain).
SCHEMA_TYPES = {"Thing": None, "CreativeWork": "Thing", "Claim": "CreativeWork", "Dataset": "CreativeWork",
                "Person": "Thing", "Organization": "Thing"}  # fmt: skip
SCHEMA_PROPERTIES = {
    "name": "Thing", "description": "Thing", "identifier": "Thing", "sameAs": "Thing", "url": "Thing",
    "about": "CreativeWork", "author": "CreativeWork", "dateCreated": "CreativeWork", "dateModified": "CreativeWork",
    "datePublished": "CreativeWork", "hasPart": "CreativeWork", "headline": "CreativeWork",
    "inLanguage": "CreativeWork", "keywords": "CreativeWork", "publisher": "CreativeWork", "text": "CreativeWork",
    "version": "CreativeWork", "creativeWorkStatus": "CreativeWork",
    "appearance": "Claim", "firstAppearance": "Claim",
}  # fmt: skip
# Terms of the Web Annotation context (www.w3.org/ns/anno.jsonld) that the export uses.
ANNO_TERMS = {"id", "type", "motivation", "created", "modified", "creator", "name", "body", "purpose", "value",
              "format", "target", "source", "selector", "exact", "prefix", "suffix", "start", "end", "label",
              "first", "items"}  # fmt: skip
ANNO_TYPES = {"Annotation", "AnnotationCollection", "AnnotationPage", "TextualBody", "TextQuoteSelector",
              "TextPositionSelector", "Software"}  # fmt: skip


def _is_a(kind: str, ancestor: str) -> bool:
    current: str | None = kind
    while current is not None:
        if current == ancestor:
            return True
        current = SCHEMA_TYPES[current]
    return False


def check_schema_org(node: Any, path: str = "$") -> int:
    """Every node has a known @type and only properties schema.org defines on that type; the node count."""
    if isinstance(node, list):
        return sum(check_schema_org(n, f"{path}[{i}]") for i, n in enumerate(node))
    if not isinstance(node, dict):
        return 0
    kind = node.get("@type")
    assert kind in SCHEMA_TYPES, f"{path}: unknown type {kind!r}"
    count = 1
    for key, value in node.items():
        if key.startswith("@"):
            assert key in ("@type", "@id", "@context"), f"{path}: {key}"
            continue
        assert key in SCHEMA_PROPERTIES, f"{path}.{key} is not a schema.org property we know"
        assert _is_a(kind, SCHEMA_PROPERTIES[key]), f"{path}.{key} is not defined on {kind}"
        count += check_schema_org(value, f"{path}.{key}")
    return count


def check_annotation_terms(node: Any, path: str = "$") -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            check_annotation_terms(item, f"{path}[{i}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            assert key == "@context" or key in ANNO_TERMS, f"{path}.{key} is not a Web Annotation term"
            if key == "type":
                assert value in ANNO_TYPES, f"{path}: type {value!r}"
            check_annotation_terms(value, f"{path}.{key}")


@pytest.fixture
def demo(database_url: str) -> Iterator[str]:
    assert main(["--database", database_url, "demo"]) == 0
    with ClaimsLedger.open(database_url) as ledger:
        with ledger.batch("desk") as batch:
            key = next(iter(sorted(_claim_keys(ledger))))
            batch.retract_claim(c.RetractClaim(key, None, "quote misattributed"))
    # export reads the read model as it is (like every read command): project first.
    assert main(["--database", database_url, "project"]) == 0
    yield database_url


def _claim_keys(ledger: ClaimsLedger) -> set[str]:
    decode = ledger.mapper.transcoder.decode
    return {decode(e.state)["key"] for e in ledger.ledger_recorder.iter_log() if e.topic.endswith("Claim.Recorded")}


def _export(url: str, tmp_path: Path, fmt: str, *extra: str) -> str:
    out = tmp_path / f"export.{fmt}"
    assert main(["--database", url, "export", "--format", fmt, "--out", str(out), *extra]) == 0
    return out.read_text("utf-8")


def _model(url: str) -> ReadModel:
    projector = Projector(url)
    projector.catch_up()
    projector.close()
    return ReadModel(url)


def test_claimreview_json_ld_uses_only_schema_org_terms(demo: str, tmp_path: Path) -> None:
    document = json.loads(_export(demo, tmp_path, "claimreview"))
    assert document["@context"] == "https://schema.org" and document["@type"] == "Dataset"
    assert check_schema_org(document) > 100
    claims = document["hasPart"]
    model = _model(demo)
    try:
        assert len(claims) == len(list(model.iter_claims(ClaimFilter(), None)))
        size = model.projected_position()
    finally:
        model.close()
    assert document["version"] == str(size) and document["identifier"].startswith("rfc6962-root:")
    putin = next(c for c in claims if c["author"]["name"] == "Vladimir Putin")
    assert putin["author"] == {"@type": "Person", "name": "Vladimir Putin", "sameAs": "http://www.wikidata.org/entity/Q7747"}
    assert putin["appearance"]["@type"] == "CreativeWork" and putin["appearance"]["url"]
    assert putin["firstAppearance"] == putin["appearance"]


def test_web_annotations_select_the_exact_passage_of_their_source(demo: str, tmp_path: Path) -> None:
    document = json.loads(_export(demo, tmp_path, "webannotation"))
    check_annotation_terms(document)
    items = document["first"]["items"]
    assert document["type"] == "AnnotationCollection" and items
    model = _model(demo)
    try:
        sources = {s.url or f"urn:claims-ledger:source:{s.sha256}": s.id for s in model.sources()}
        for item in items:
            quote, position = item["target"]["selector"]
            [text] = model.source_texts([sources[item["target"]["source"]]])
            assert text is not None and text[position["start"] : position["end"]] == quote["exact"]
    finally:
        model.close()


def test_csv_and_json_lines_carry_the_basis_and_the_documented_columns(demo: str, tmp_path: Path) -> None:
    text = _export(demo, tmp_path, "claims-csv")
    basis_line, rest = text.split("\n", 1)
    assert basis_line.startswith("# basis tree_size=")
    rows = list(csv.reader(io.StringIO(rest)))
    assert tuple(rows[0]) == CLAIM_COLUMNS and len(rows) > 50
    assert "quote misattributed" not in text  # retracted records only when asked
    with_retracted = _export(demo, tmp_path, "claims-jsonl", "--include-retracted")
    lines = [json.loads(line) for line in with_retracted.splitlines()]
    assert set(lines[0]) == {"basis"} and lines[0]["basis"]["rootHash"] in basis_line
    retracted = [r for r in lines[1:] if r["retracted"]]
    # every claim in force once more, plus each retracted record (the demo's own and this test's)
    assert len(lines) - 1 == len(rows) - 1 + len(retracted)
    assert any(r["retraction_reason"] == "quote misattributed" for r in retracted)
    assert all(tuple(r) == CLAIM_COLUMNS for r in lines[1:])
    positions = [json.loads(line) for line in _export(demo, tmp_path, "positions-jsonl", "--as-of", "2025-06-30").splitlines()]
    assert all(tuple(p) == POSITION_COLUMNS and p["as_of"] == "2025-06-30" for p in positions[1:])
    earlier = _export(demo, tmp_path, "positions-csv", "--as-of", "2024-01-01")
    assert len(earlier.splitlines()) < len(positions) + 1  # fewer positions had formed by then
    assert _export(demo, tmp_path, "claims-csv") == text  # same basis, same bytes


def test_wikidata_statements_precision_references_and_deprecated_rank(demo: str, tmp_path: Path) -> None:
    lines = [json.loads(line) for line in _export(demo, tmp_path, "wikidata").splitlines()]
    statements = lines[1:]
    precisions = {s["qualifiers"]["P585"]["precision"] for s in statements}
    assert precisions <= {9, 10, 11} and {10, 11} <= precisions
    month = next(s for s in statements if s["qualifiers"]["P585"]["precision"] == 10)
    assert month["qualifiers"]["P585"]["time"].endswith("-00T00:00:00Z")
    assert all(s["references"][0]["P1683"]["text"] for s in statements)
    deprecated = [s for s in statements if s["rank"] == "deprecated"]
    # the demo's own retractions and this test's one, each with its reason
    assert len(deprecated) > 1 and all(d["qualifiers"]["P2241"]["text"] for d in deprecated)
    assert {"text": "quote misattributed"} in [d["qualifiers"]["P2241"] for d in deprecated]


def test_keyset_batches_read_every_claim_once(demo: str) -> None:
    model = _model(demo)
    try:
        all_at_once = [c.id for c in model.iter_claims(ClaimFilter(), None, batch=10_000)]
        in_small_batches = [c.id for c in model.iter_claims(ClaimFilter(), None, batch=7)]
    finally:
        model.close()
    assert in_small_batches == all_at_once and len(set(all_at_once)) == len(all_at_once)


def test_export_over_http(demo: str) -> None:
    from api_support import api_env

    with api_env(demo) as api:
        api.caught_up()
        response = api.client.get("/export/claims-csv?actor=putin&asOf=2025-12-31")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert int(response.headers["claims-tree-size"]) > 0 and len(response.headers["claims-root-hash"]) == 64
        rows = list(csv.reader(io.StringIO(response.text.split("\n", 1)[1])))
        assert len(rows) > 1 and {r[3] for r in rows[1:]} == {"vladimir-putin"}
        assert api.client.get("/export/nonsense").status_code == 404
        assert api.client.get("/export/claims-csv?asOf=yesterday").json()["error"]["code"] == "BAD_USER_INPUT"
        assert api.client.get("/export/claims-csv?actor=nobody-here").status_code == 404
