"""The record declarations (ledger/records.py) and what follows from them: the
import JSON Schema, the parsed commands (the stored event payloads) and the
GraphQL inputs. Pure functions: no store needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from ledger_support import actor, claim, source
from pydantic import Field
from strawberry.types.base import get_object_definition
from strawberry.types.unset import UNSET

from api.graphql.types import inputs
from ledger import commands as c
from ledger import records
from ledger.errors import BadInput

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_import_schema_is_generated_from_the_declarations() -> None:
    committed = json.loads(records.SCHEMA_PATH.read_text("utf-8"))
    assert committed == records.import_schema(), "stale: run `python -m ledger.records` and commit the schema"


def test_import_files_of_todays_format_are_valid_for_schema_and_declarations() -> None:
    validator = jsonschema.Draft202012Validator(records.import_schema())
    files = [ROOT / "claims_demo" / "corpus.yaml", ROOT / "claims_demo" / "corrections.yaml"]
    for path in files:
        data = yaml.safe_load(path.read_text("utf-8"))
        assert not list(validator.iter_errors(data)), path
        parsed = records.ImportFile.model_validate(data)
        assert len(parsed.claims) == len(data.get("claims") or [])


def test_parsed_commands_keep_the_stored_event_shape() -> None:
    # The dicts below are what Source.Registered, Actor.Registered and Claim.Recorded carry
    # (key order included): ledgers written before the declarations read the same.
    metadata = c.parse_source(source(url="https://example.org/a", published="2025-02")).metadata
    assert list(metadata) == ["title", "publisher", "authors", "url", "published", "language", "genre"]
    assert metadata["published"] == {"date": "2025-02", "precision": "MONTH", "approximate": False, "note": None}
    profile = c.parse_actor(
        actor(aliases=["Pete", " Hegseth ", "Pete"], roles=[{"title": "Minister", "from": "2025-01-25"}])
    ).profile
    assert profile == {
        "name": "Pete Hegseth",
        "kind": "PERSON",
        "aliases": ["Hegseth", "Pete"],
        "wikidata": None,
        "roles": [{"title": "Minister", "from": "2025-01-25", "until": None}],
    }
    recorded = c.parse_claim(claim(quote={"text": " nicht realistisch ", "language": "de"}, value="  ", disputes=["x"]))
    assert list(recorded.content) == list(c.CLAIM_FIELDS) == [
        "actor", "topic", "stance", "summary", "quote", "value", "conditions",
        "stated", "channel", "source", "passage", "attribution",
    ]  # fmt: skip
    assert recorded.content["quote"] == {"text": "nicht realistisch", "language": "de"}
    assert recorded.content["value"] is None  # blank optional text reads as absent
    assert recorded.links == [("DISPUTES", "x")]
    changes = c.parse_changes({"value": None, "passage": {"exact": "Ukraine"}, "stance": "NEUTRAL"})
    assert changes == {"value": None, "passage": {"exact": "Ukraine"}, "stance": "NEUTRAL"}


@pytest.mark.parametrize(
    ("parse", "data", "field", "reason"),
    [
        (
            c.parse_actor,
            actor(roles=[{"title": "M", "from": "2025-02-01", "until": "2025-01-01"}]),
            "roles[0].until",
            "2025-01-01 is before 2025-02-01",
        ),
        (c.parse_actor, actor(roles=[{"title": "M", "from": "1.2.2025"}]), "roles[0].from", "not a valid date"),
        (c.parse_actor, actor(aliases=["ok", "evil\u202eexe"]), "aliases[1]", "U+202E"),
        (c.parse_actor, actor(aliases=["a"] * 101), "aliases", "has 101 entries; the limit is 100"),
        (c.parse_claim, claim(quote={"text": "x", "language": "de", "colour": 1}), "quote.colour", "not a known field"),
        (c.parse_claim, claim(passage={"exact": "x", "start": 1, "end": 6000}), "passage", "spans 5999 characters"),
        (c.parse_claim, claim(stated={"date": "2025", "approximate": "yes"}), "stated.approximate", "true or false"),
        (c.parse_claim, claim(key=None), "key", "is required"),
        (c.parse_claim, "a claim", "", "must be an object"),
        (c.parse_source, source(title="x" * 501), "title", "is 501 characters long; the limit is 500"),
        (c.parse_changes, {"summary": None}, "changes.summary", "is required"),
        (c.parse_changes, {}, "changes", "at least one field"),
        (c.parse_changes, {"stated": "2025-02-30"}, "changes.stated.date", "is not a day of the calendar"),
    ],
)
def test_errors_name_the_field_path_and_a_clear_reason(parse: Any, data: Any, field: str, reason: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse(data)
    assert caught.value.field == field
    assert reason in caught.value.message


def test_graphql_inputs_follow_the_declarations() -> None:
    def fields(input_type: Any) -> dict[str, Any]:
        return {f.python_name: f for f in input_type.__strawberry_definition__.fields}

    record, changes = fields(inputs.RecordClaimInput), fields(inputs.ClaimChangesInput)
    assert set(records.Claim.model_fields) == set(record)
    assert set(c.CLAIM_FIELDS) == set(changes)
    assert all(f.default is UNSET for f in changes.values())
    assert record["supersedes"].description == records.Claim.model_fields["supersedes"].description
    assert fields(inputs.RoleInput)["start"].graphql_name == "from"
    assert "precision" not in fields(inputs.PartialDateInput)  # import files only


def test_a_new_optional_field_reaches_the_graphql_inputs_and_the_schema() -> None:
    class Translated(records.Claim):
        language: records.ShortText | None = Field(None, description="Language of the summary.")

    made = inputs.input_type(Translated, "TranslatedClaimInput")
    field = next(f for f in get_object_definition(made, strict=True).fields if f.python_name == "language")
    assert field.default is None and field.description == "Language of the summary."
    partial = inputs.input_type(records._partial(Translated, "TranslatedChanges", "x"), "TranslatedChangesInput")
    assert any(f.python_name == "language" for f in get_object_definition(partial, strict=True).fields)
    assert Translated.model_json_schema()["properties"]["language"]["description"] == "Language of the summary."
