"""The review flow over GraphQL: candidates for a source, accept one (passage by words), origin recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_support import ApiEnv, api_env, error_codes

CANDIDATES = """
query ($source: ID!, $lang: String) {
  extractionCandidates(source: $source, lang: $lang) {
    language
    source { key }
    candidates {
      key form attribution confidence cue speaker rule notes summary quote channel
      passage { start end exact prefix suffix }
      speakerPassage { exact }
      actor { key }
      proposedActor { key name kind }
      stated { date precision approximate note }
      topicSuggestions { topic { key } score }
    }
  }
}
"""
RECORD = """
mutation ($input: RecordClaimInput!, $assistant: AssistantOriginInput) {
  recordClaim(input: $input, assistant: $assistant) {
    created
    claim { key actor { key } passage { start end exact } history { recordedBy } }
  }
}
"""
EVENTS = "query { events(first: 100) { nodes { type recordedBy payload } } }"


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        yield env


def test_candidates_then_accept_records_the_claim_with_its_origin(api: ApiEnv) -> None:
    found = api.gql.data(CANDIDATES, {"source": "berlin-interview"})["extractionCandidates"]
    assert found["language"] == "en" and found["source"]["key"] == "berlin-interview"
    by_quote = {c["quote"]: c for c in found["candidates"]}
    first = by_quote["We will not deliver Taurus missiles."]
    assert first["form"] == "Direct" and first["attribution"] == "DIRECT_QUOTE"
    assert first["actor"] == {"key": "chancellor"} and first["speaker"] == "the chancellor"
    assert first["stated"] == {
        "date": "2025-02-23", "precision": "DAY", "approximate": False,
        "note": "from 'on Sunday' relative to publication",
    }  # fmt: skip
    assert first["passage"]["exact"] == '"We will not deliver Taurus missiles."'
    assert 0 < first["confidence"] <= 1 and first["cue"] == "said"
    assert all(c["key"].startswith("berlin-interview-") for c in found["candidates"])

    # The curator accepts it with its own words (no offsets) and a stance of their own.
    claim = {
        "key": "chancellor-taurus-sunday", "actor": first["actor"]["key"], "topic": "taurus", "stance": "OPPOSES",
        "summary": "The chancellor rules out Taurus deliveries.", "stated": {"date": first["stated"]["date"]},
        "source": "berlin-interview", "attribution": first["attribution"],
        "passage": {"exact": "We will not deliver Taurus missiles."},
    }  # fmt: skip
    origin = {"rule": first["rule"], "confidence": first["confidence"], "edited": True}
    editor = api.as_role("editor")
    recorded = editor.data(RECORD, {"input": claim, "assistant": origin})["recordClaim"]
    assert recorded["created"] is True
    passage = recorded["claim"]["passage"]
    assert passage["exact"] == "We will not deliver Taurus missiles."
    assert passage["end"] - passage["start"] == len(passage["exact"])
    assert recorded["claim"]["history"][0]["recordedBy"] == "apikey:editor-key"

    nodes = api.gql.data(EVENTS)["events"]["nodes"]
    event = next(n for n in nodes if n["type"] == "Claim.Recorded" and n["payload"]["key"] == claim["key"])
    assert event["payload"]["content"]["origin"] == {
        "assistant": "extractionCandidates", "review": "accepted after edits", "confidence": first["confidence"],
        "rule": first["rule"], "accepted_by": "apikey:editor-key",
    }  # fmt: skip


def test_unknown_source_bad_language_and_ambiguous_words_are_errors(api: ApiEnv) -> None:
    body = api.gql(CANDIDATES, {"source": "no-such-source"})
    assert error_codes(body) == ["NOT_FOUND"] and body["data"] is None
    body = api.gql(CANDIDATES, {"source": "berlin-interview", "lang": "fr"})
    assert error_codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["field"] == "lang"

    size = api.tree_size()
    claim = {
        "key": "ambiguous", "actor": "chancellor", "topic": "taurus", "stance": "OPPOSES", "summary": "s",
        "stated": {"date": "2025-02-23"}, "source": "berlin-interview", "attribution": "DIRECT_QUOTE",
        "passage": {"exact": "deliver Taurus missiles"},
    }  # fmt: skip
    body = api.as_role("editor")(RECORD, {"input": claim, "assistant": {"confidence": 0.9}})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "passage.exact"
    assert "occurs 2 times" in body["errors"][0]["message"]
    claim["passage"] = {"exact": "deliver Taurus missiles", "suffix": "after all"}
    body = api.as_role("editor")(RECORD, {"input": claim, "assistant": {"confidence": 1.5}})
    assert body["errors"][0]["extensions"]["field"] == "assistant.confidence"
    assert api.tree_size() == size  # nothing written
    body = api.as_role("reader")(RECORD, {"input": claim, "assistant": {"confidence": 0.5}})
    assert error_codes(body) == ["FORBIDDEN"]
