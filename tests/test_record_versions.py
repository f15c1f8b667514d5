"""Actors, topics and sources have record-time versions: a pinned answer shows them as they were (both stores)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import ApiEnv, api_env, error_codes

from api.exports import Request, stream
from ledger import commands as c
from projections.projector import Projector
from projections.views import ClaimFilter

# Every kind of field that shows an actor's, topic's or source's details, and references by name
# ("THE CHANCELLOR" is an alias the chancellor loses below, "Taurus" the title the topic loses).
FIELDS = """
  claims(first: 50, {pin}) {{ nodes {{ key actor {{ key name aliases }} topic {{ title proposition }}
    source {{ title url published {{ date }} }} }} }}
  position(actor: "THE CHANCELLOR", topic: "Taurus", asOf: "2025-12-31", {pin}) {{
    stance actor {{ name }} topic {{ title }} claim {{ actor {{ name }} source {{ title }} }}
    sinceClaim {{ topic {{ title }} }} }}
  positions(asOf: "2025-12-31", {pin}) {{ actor {{ name }} topic {{ title }} }}
  timeline(actor: "THE CHANCELLOR", topic: "Taurus", {pin}) {{ claim {{ actor {{ name }} }} }}
  flips({pin}) {{ nodes {{ before {{ actor {{ name }} }} }} }}
  actors({pin}) {{ key name aliases position(topic: "Taurus", asOf: "2025-12-31", {pin}) {{ actor {{ name }} }} }}
  topics({pin}) {{ key title }}
  sources({pin}) {{ key title published {{ date }} }}
  source(id: "berlin-interview", {pin}) {{ title claims({pin}) {{ source {{ title }} }} }}
"""
BY_SIZE = "query ($n: Int!) {" + FIELDS.format(pin="atTreeSize: $n") + "}"
BY_TIME = "query ($k: DateTime!) {" + FIELDS.format(pin="knownAt: $k") + "}"


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        yield env


def _ask(api: ApiEnv, query: str, variables: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The answer's ``data`` as sent (bytes up to the extensions) and the decoded body."""
    response = api.client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return response.text[: response.text.index(',"extensions"')], body


def _revise_everything(api: ApiEnv) -> None:
    """Rename the chancellor (alias dropped), retitle the topic, retitle and redate the source; add an actor."""
    renamed = {"key": "chancellor", "name": "Olaf Example", "kind": "PERSON", "aliases": []}
    with api.ledger.batch("desk") as batch:
        batch.register_actor(c.parse_actor(renamed), "renamed")
    retitled = {"key": "taurus", "title": "Cruise missiles", "proposition": "Deliver cruise missiles"}
    with api.ledger.batch("desk") as batch:
        batch.define_topic(c.parse_topic(retitled), "clearer title")
    with api.ledger.batch("desk") as batch:  # (no command revises a source: the event, as an editor would)
        source = batch.source_for("berlin-interview")
        published = source.metadata["published"]
        source.revise(
            changes={
                "title": {"before": source.metadata["title"], "after": "Interview in Berlin (corrected)"},
                "published": {"before": published, "after": {**published, "date": "2025-03-02"}},
            },
            reason="headline and dateline corrected",
            recorded_by="desk",
        )
        batch.stage(source)
    newcomer = {"key": "newcomer", "name": "New Speaker", "kind": "PERSON", "aliases": []}
    with api.ledger.batch("desk") as batch:
        batch.register_actor(c.parse_actor(newcomer))
    api.caught_up()


def test_a_pinned_answer_keeps_the_names_titles_and_source_details_of_its_basis(api: ApiEnv) -> None:
    size = api.tree_size()
    by_size, body = _ask(api, BY_SIZE, {"n": size})
    known_at = body["extensions"]["basis"]["knownAt"]
    by_time, _ = _ask(api, BY_TIME, {"k": known_at})
    assert body["data"]["position"]["actor"]["name"] == "The Chancellor"

    _revise_everything(api)

    assert _ask(api, BY_SIZE, {"n": size})[0] == by_size  # to the byte
    assert _ask(api, BY_TIME, {"k": known_at})[0] == by_time
    # Unpinned (and pinned at the new head), the new details; the old alias names nothing now.
    today = api.gql.data("""{
      claims(first: 1) { nodes { actor { name } topic { title } source { title published { date } } } }
      actors { key name } topics { title } sources { title }
    }""")
    node = today["claims"]["nodes"][0]
    assert node["topic"] == {"title": "Cruise missiles"}
    assert node["source"] == {"title": "Interview in Berlin (corrected)", "published": {"date": "2025-03-02"}}
    assert {"key": "chancellor", "name": "Olaf Example"} in today["actors"]
    assert {"key": "newcomer", "name": "New Speaker"} in today["actors"]
    head = _ask(api, BY_SIZE.replace('"THE CHANCELLOR"', '"chancellor"').replace('"Taurus"', '"taurus"'),
                {"n": api.tree_size()})[1]  # fmt: skip
    assert head["data"]["position"]["actor"]["name"] == "Olaf Example"
    assert head["data"]["position"]["topic"]["title"] == "Cruise missiles"
    unpinned = api.gql('{ position(actor: "THE CHANCELLOR", topic: "taurus") { stance } }')
    assert error_codes(unpinned) == ["NOT_FOUND"]
    # A record registered after the basis did not exist there.
    later = api.gql(
        'query ($n: Int!) { position(actor: "newcomer", topic: "taurus", atTreeSize: $n) { stance } }', {"n": size}
    )
    assert error_codes(later) == ["NOT_FOUND"]

    # A rebuild from the log gives the same versions.
    projector = Projector(api.url)
    try:
        projector.rebuild()
    finally:
        projector.close()
    assert _ask(api, BY_SIZE, {"n": size})[0] == by_size
    assert _ask(api, BY_TIME, {"k": known_at})[0] == by_time


def test_each_revision_is_its_own_version_and_a_pin_between_them_sees_the_one_in_force(api: ApiEnv) -> None:
    sizes = [api.tree_size()]
    for n, name in enumerate(("First Rename", "Second Rename")):
        profile = {"key": "chancellor", "name": name, "kind": "PERSON", "aliases": [f"alias {n}"]}
        with api.ledger.batch("desk") as batch:
            batch.register_actor(c.parse_actor(profile), "renamed")
        sizes.append(api.tree_size())
    api.caught_up()
    query = 'query ($n: Int!) { actors(search: "chancellor", atTreeSize: $n) { name aliases } }'
    seen = [api.gql.data(query, {"n": n})["actors"] for n in sizes]
    assert seen == [
        [{"name": "The Chancellor", "aliases": ["THE CHANCELLOR"]}],
        [{"name": "First Rename", "aliases": ["alias 0"]}],
        [{"name": "Second Rename", "aliases": ["alias 1"]}],
    ]
    # Names resolve among those in force at the pin: "alias 0" only at the middle size.
    by_alias = 'query ($n: Int!) { timeline(actor: "alias 0", topic: "taurus", atTreeSize: $n) { stance } }'
    assert not api.gql(by_alias, {"n": sizes[1]}).get("errors")
    assert error_codes(api.gql(by_alias, {"n": sizes[2]})) == ["NOT_FOUND"]
    assert error_codes(api.gql(by_alias, {"n": sizes[0]})) == ["NOT_FOUND"]


def test_an_export_at_a_known_at_has_the_same_claims_after_renames(api: ApiEnv) -> None:
    model = api.services.read_model

    def claims(fmt: str, known_at: Any) -> Any:
        """The exported claims, without the basis (whose tree size is the model's, which moves)."""
        _, chunks = stream(model, Request(fmt, ClaimFilter(), known_at=known_at))
        text = "".join(chunks)
        if fmt == "claimreview":
            return json.loads(text)["hasPart"]
        if fmt == "webannotation":
            return json.loads(text)["first"]["items"]
        return text.splitlines()[1:]  # CSV and JSON Lines: the first line is the basis

    basis, _ = stream(model, Request("claimreview", ClaimFilter()))
    before = {fmt: claims(fmt, basis.known_at) for fmt in ("claimreview", "claims-csv", "webannotation", "wikidata")}
    authors = {node["author"]["name"] for node in before["claimreview"]}
    assert "The Chancellor" in authors
    assert before["claimreview"][0]["appearance"]["headline"] == "Interview in Berlin"
    _revise_everything(api)
    assert {fmt: claims(fmt, basis.known_at) for fmt in before} == before
    now = claims("claimreview", None)
    assert "Olaf Example" in {node["author"]["name"] for node in now}
    assert now[0]["appearance"]["headline"] == "Interview in Berlin (corrected)"
