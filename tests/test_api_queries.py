"""GraphQL reads and writes end to end (TestClient, real database, embedded projector)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_support import ApiEnv, api_env, error_codes, passage

POSITION = """
query ($actor: String!, $topic: String!, $asOf: Date, $knownAt: DateTime) {
  position(actor: $actor, topic: $topic, asOf: $asOf, knownAt: $knownAt) {
    stance asOf knownAt
    since { date precision earliest latest approximate note }
    sinceClaim { key }
    actor { key name kind } topic { key proposition }
    claim {
      id key version stance summary quote attribution retracted
      statedOn { date precision }
      source { id title publisher }
      passage { start end exact prefix suffix }
    }
  }
}"""


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        yield env


def test_position_as_of_and_since(api: ApiEnv) -> None:
    now = api.gql.data(POSITION, {"actor": "chancellor", "topic": "taurus"})["position"]
    assert now["stance"] == "SUPPORTS"
    assert now["since"] == {
        "date": "2025-02", "precision": "MONTH", "earliest": "2025-02-01", "latest": "2025-02-28",
        "approximate": False, "note": None,
    }  # fmt: skip
    claim = now["claim"]
    assert claim["key"] == "c-taurus-yes" and claim["statedOn"] == {"date": "2025-02", "precision": "MONTH"}
    assert claim["passage"]["exact"] == "We will deliver Taurus missiles after all."
    assert claim["source"]["title"] == "Interview in Berlin" and claim["source"]["publisher"] == "Example News"
    assert now["actor"]["kind"] == "PERSON" and now["topic"]["proposition"] == "Deliver Taurus missiles"

    # A MONTH date counts only once the whole month has passed.
    mid_february = api.gql.data(POSITION, {"actor": "chancellor", "topic": "taurus", "asOf": "2025-02-15"})["position"]
    assert mid_february["stance"] == "OPPOSES" and mid_february["since"]["date"] == "2025-01-12"
    assert mid_february["asOf"] == "2025-02-15"
    before = api.gql.data(POSITION, {"actor": "chancellor", "topic": "taurus", "asOf": "2024-12-31"})
    assert before["position"] is None
    unknown = api.gql(POSITION, {"actor": "nobody", "topic": "taurus"})
    assert error_codes(unknown) == ["NOT_FOUND"] and unknown["data"] == {"position": None}


def test_positions_timeline_and_catalog(api: ApiEnv) -> None:
    data = api.gql.data("{ positions { stance actor { key } topic { key } } }")
    assert {(p["actor"]["key"], p["topic"]["key"], p["stance"]) for p in data["positions"]} == {
        ("chancellor", "taurus", "SUPPORTS"),
        ("party-leader", "ceasefire", "SUPPORTS"),
        ("minister", "ceasefire", "CONDITIONAL"),
    }
    only = api.gql.data('{ positions(topic: "ceasefire") { actor { key } } }')["positions"]
    assert sorted(p["actor"]["key"] for p in only) == ["minister", "party-leader"]

    timeline = api.gql.data(
        '{ timeline(actor: "chancellor", topic: "taurus") { stance previousStance since { date } claim { key } } }'
    )["timeline"]
    assert [(t["stance"], t["previousStance"], t["claim"]["key"]) for t in timeline] == [
        ("OPPOSES", None, "c-taurus-no"),
        ("SUPPORTS", "OPPOSES", "c-taurus-yes"),
    ]
    catalog = api.gql.data(
        '{ actors(search: "PARTY") { key name aliases } topics { key } sources { key title genre published { date } } }'
    )
    assert [a["key"] for a in catalog["actors"]] == ["party-leader"]
    assert sorted(t["key"] for t in catalog["topics"]) == ["ceasefire", "taurus"]
    assert catalog["sources"][0]["genre"] == "NEWS" and catalog["sources"][0]["published"]["date"] == "2025-03-01"
    nested = api.gql.data('{ actors(search: "chancellor") { position(topic: "taurus") { stance } } }')
    assert nested["actors"][0]["position"]["stance"] == "SUPPORTS"


def test_source_with_text_and_claims(api: ApiEnv) -> None:
    by_key = api.gql.data('{ source(id: "berlin-interview") { id text claims { key } } }')["source"]
    assert "Taurus" in by_key["text"] and len(by_key["claims"]) == 4
    by_id = api.gql.data("query ($id: ID!) { source(id: $id) { key } }", {"id": by_key["id"]})
    assert by_id["source"]["key"] == "berlin-interview"
    assert api.gql.data('{ source(id: "no-such-source") { key } }')["source"] is None


def test_claims_connection_pages_with_keyset_cursors(api: ApiEnv) -> None:
    query = """query ($after: String) { claims(first: 3, after: $after) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { key } } } }"""
    first = api.gql.data(query)["claims"]
    assert first["totalCount"] == 4 and first["pageInfo"]["hasNextPage"] and len(first["edges"]) == 3
    second = api.gql.data(query, {"after": first["pageInfo"]["endCursor"]})["claims"]
    assert [e["node"]["key"] for e in second["edges"]] == ["c-taurus-yes"] and not second["pageInfo"]["hasNextPage"]
    keys = [e["node"]["key"] for e in first["edges"] + second["edges"]]
    assert keys == ["c-taurus-no", "c-ceasefire", "c-minister", "c-taurus-yes"]  # by stated.latest (2025-02 ends last)
    filtered = api.gql.data('{ claims(filter: {actor: "chancellor", stance: OPPOSES}) { nodes { key } } }')
    assert [n["key"] for n in filtered["claims"]["nodes"]] == ["c-taurus-no"]
    bad = api.gql('{ claims(after: "not-a-cursor") { totalCount } }')
    assert error_codes(bad) == ["BAD_USER_INPUT"] and bad["errors"][0]["extensions"]["field"] == "after"


def test_claim_by_key_or_id_with_history(api: ApiEnv) -> None:
    by_key = api.gql.data('{ claim(id: "c-taurus-no") { id key history { version type recordedBy } } }')["claim"]
    assert by_key["history"] == [{"version": 1, "type": "RECORDED", "recordedBy": "test:seed"}]
    by_id = api.gql.data("query ($id: ID!) { claim(id: $id) { key } }", {"id": by_key["id"]})["claim"]
    assert by_id["key"] == "c-taurus-no"
    assert api.gql.data('{ claim(id: "no-such-claim") { key } }')["claim"] is None


REVISE = """mutation ($id: ID!, $v: Int!, $changes: ClaimChangesInput!, $reason: String!) {
  reviseClaim(id: $id, expectedVersion: $v, changes: $changes, reason: $reason) {
    pending logPosition version claim { version stance summary versionRecordedBy }
  }
}"""
RETRACT = """mutation ($id: ID!, $v: Int!, $reason: String!) {
  retractClaim(id: $id, expectedVersion: $v, reason: $reason) { pending version claim { retracted retractionReason } }
}"""
HISTORY = """query ($id: ID!) { claim(id: $id) { history { version type recordedAt recordedBy reason
  changes { field before after } } } }"""


def test_both_time_axes_revision_and_retraction_via_known_at(api: ApiEnv) -> None:
    editor = api.as_role("editor")
    revised = editor.data(
        REVISE,
        {"id": "c-taurus-yes", "v": 1, "changes": {"stance": "CONDITIONAL", "conditions": "allies agree"},
         "reason": "the interview made the delivery conditional"},
    )["reviseClaim"]  # fmt: skip
    assert revised["pending"] is False and revised["version"] == 2
    assert revised["claim"]["stance"] == "CONDITIONAL" and revised["claim"]["versionRecordedBy"] == "apikey:editor-key"
    retracted = editor.data(RETRACT, {"id": "c-taurus-yes", "v": 2, "reason": "misattributed quote"})["retractClaim"]
    assert retracted["claim"] == {"retracted": True, "retractionReason": "misattributed quote"}

    history = api.gql.data(HISTORY, {"id": "c-taurus-yes"})["claim"]["history"]
    assert [(h["version"], h["type"]) for h in history] == [(1, "RECORDED"), (2, "REVISED"), (3, "RETRACTED")]
    assert history[1]["reason"] == "the interview made the delivery conditional"
    assert {"field": "stance", "before": "SUPPORTS", "after": "CONDITIONAL"} in history[1]["changes"]
    assert history[2]["recordedBy"] == "apikey:editor-key"
    recorded, revised_at, retracted_at = (h["recordedAt"] for h in history)

    def stance_known_at(known_at: str | None) -> str | None:
        position = api.gql.data(POSITION, {"actor": "chancellor", "topic": "taurus", "knownAt": known_at})["position"]
        return position["stance"] if position else None

    # Record time: what the ledger said at each instant of the claim's history.
    assert stance_known_at(recorded) == "SUPPORTS"
    assert stance_known_at(revised_at) == "CONDITIONAL"
    assert stance_known_at(retracted_at) == "OPPOSES"  # retracted: the earlier claim stands again
    assert stance_known_at(None) == "OPPOSES"
    claim_then = api.gql.data(
        'query ($k: DateTime) { claim(id: "c-taurus-yes", knownAt: $k) { version stance retracted knownAt } }',
        {"k": recorded},
    )["claim"]
    assert claim_then["version"] == 1 and claim_then["stance"] == "SUPPORTS" and not claim_then["retracted"]
    claim_now = api.gql.data('{ claim(id: "c-taurus-yes") { version retracted } }')["claim"]
    assert claim_now == {"version": 3, "retracted": True}
    timeline_then = api.gql.data(
        'query ($k: DateTime) { timeline(actor: "chancellor", topic: "taurus", knownAt: $k) { stance } }',
        {"k": revised_at},
    )["timeline"]
    assert [t["stance"] for t in timeline_then] == ["OPPOSES", "CONDITIONAL"]
    # Valid time and record time together.
    both = api.gql.data(POSITION, {"actor": "chancellor", "topic": "taurus", "asOf": "2025-01-31", "knownAt": recorded})
    assert both["position"]["stance"] == "OPPOSES"


RECORD = """mutation ($input: RecordClaimInput!) {
  recordClaim(input: $input) { created pending logPosition claimId claim { key stance firstRecordedBy } }
}"""


def test_read_your_writes_registering_and_recording(api: ApiEnv) -> None:
    editor = api.as_role("editor")
    actor = editor.data(
        """mutation { registerActor(input: {key: "speaker", name: "The Speaker", kind: PERSON, aliases: ["Spkr"],
             roles: [{title: "Speaker", from: "2021-10-26"}]}) { changed pending actor { key roles { title from } } } }"""
    )["registerActor"]
    assert actor["changed"] and not actor["pending"]
    assert actor["actor"] == {"key": "speaker", "roles": [{"title": "Speaker", "from": "2021-10-26"}]}
    topic = editor.data(
        'mutation { defineTopic(input: {key: "sanctions", title: "Sanctions", proposition: "Keep sanctions"}) '
        "{ changed topic { key title } } }"
    )["defineTopic"]
    assert topic == {"changed": True, "topic": {"key": "sanctions", "title": "Sanctions"}}
    source = editor.data(
        """mutation ($text: String!) { registerSource(input: {key: "speech", title: "A speech", text: $text,
             published: {date: "2025-03", note: "month only"}, language: "en", genre: PRIMARY_STATEMENT})
             { created sourceId source { key published { date precision note } } } }""",
        {"text": "Sanctions stay until peace is agreed."},
    )["registerSource"]
    assert source["created"] and source["source"]["published"] == {
        "date": "2025-03",
        "precision": "MONTH",
        "note": "month only",
    }
    data = {
        "key": "c-speaker", "actor": "speaker", "topic": "sanctions", "stance": "SUPPORTS",
        "summary": "keep sanctions", "stated": {"date": "2025-03"}, "source": "speech",
        "passage": {"start": 0, "end": 14, "exact": "Sanctions stay"}, "attribution": "DIRECT_QUOTE",
        "quote": {"text": "Sanctions stay until peace is agreed.", "language": "en"},
    }  # fmt: skip
    recorded = editor.data(RECORD, {"input": data})["recordClaim"]
    assert recorded["created"] and not recorded["pending"] and recorded["logPosition"] == api.tree_size()
    assert recorded["claim"] == {"key": "c-speaker", "stance": "SUPPORTS", "firstRecordedBy": "apikey:editor-key"}
    # The very next query sees it.
    position = api.gql.data(POSITION, {"actor": "speaker", "topic": "sanctions"})["position"]
    assert position["stance"] == "SUPPORTS" and position["claim"]["quote"] == "Sanctions stay until peace is agreed."
    # Recording the same claim again is idempotent: nothing written.
    size = api.tree_size()
    again = editor.data(RECORD, {"input": data})["recordClaim"]
    assert again["created"] is False and again["logPosition"] is None and api.tree_size() == size


def test_mutation_reports_pending_when_the_read_model_lags(database_url: str) -> None:
    with api_env(database_url, write_wait_seconds=0.0, projector="external") as api:
        # No projector runs: the write commits, the read model cannot show it.
        result = api.as_role("editor").data(RETRACT, {"id": "c-minister", "v": 1, "reason": "duplicate"})[
            "retractClaim"
        ]
        assert result["pending"] is True and result["version"] == 2


def test_supersedes_links_resolve_to_claims(api: ApiEnv) -> None:
    data = {
        "key": "c-taurus-final", "actor": "chancellor", "topic": "taurus", "stance": "SUPPORTS", "summary": "final",
        "stated": {"date": "2025-02-28"}, "source": "berlin-interview", "attribution": "DIRECT_QUOTE",
        "passage": passage("We will deliver Taurus missiles after all."), "supersedes": "c-taurus-yes",
    }  # fmt: skip
    api.as_role("editor").data(RECORD, {"input": data})
    links = api.gql.data('{ claim(id: "c-taurus-final") { links { relation target { key } } } }')["claim"]["links"]
    assert links == [{"relation": "SUPERSEDES", "target": {"key": "c-taurus-yes"}}]


LINKED_FROM = """query ($id: ID!, $knownAt: DateTime) {
  claim(id: $id, knownAt: $knownAt) { versionRecordedAt linkedFrom { relation claimId claim { key version } } }
}"""


def test_linked_from_is_the_reverse_of_links_and_respects_known_at(api: ApiEnv) -> None:
    before = api.gql.data(LINKED_FROM, {"id": "c-taurus-yes"})["claim"]
    assert before["linkedFrom"] == []
    editor = api.as_role("editor")
    data = {
        "key": "c-taurus-final", "actor": "chancellor", "topic": "taurus", "stance": "SUPPORTS", "summary": "final",
        "stated": {"date": "2025-02-28"}, "source": "berlin-interview", "attribution": "DIRECT_QUOTE",
        "passage": passage("We will deliver Taurus missiles after all."), "supersedes": "c-taurus-yes",
        "disputes": ["c-taurus-no"],
    }  # fmt: skip
    final_id = editor.data(RECORD, {"input": data})["recordClaim"]["claimId"]
    now = api.gql.data(LINKED_FROM, {"id": "c-taurus-yes"})["claim"]["linkedFrom"]
    assert now == [{"relation": "SUPERSEDES", "claimId": final_id, "claim": {"key": "c-taurus-final", "version": 1}}]
    disputed = api.gql.data(LINKED_FROM, {"id": "c-taurus-no"})["claim"]["linkedFrom"]
    assert [(b["relation"], b["claim"]["key"]) for b in disputed] == [("DISPUTES", "c-taurus-final")]
    # As the ledger stood before the new claim, nothing pointed at the old one.
    then = api.gql.data(LINKED_FROM, {"id": "c-taurus-yes", "knownAt": before["versionRecordedAt"]})["claim"]
    assert then["linkedFrom"] == []
