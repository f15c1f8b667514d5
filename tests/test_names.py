"""Actors and topics by name: key, then name or alias, then words; NOT_FOUND and ambiguity errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_support import ApiEnv, api_env, claim_data, error_codes

from api.errors import NAMES_IN_MESSAGE, unresolved
from ledger import commands as c
from projections.names import AMBIGUOUS, NameMatch, Resolution, fold, words

ACTORS: list[dict[str, Any]] = [
    {"key": "volodymyr-zelensky", "name": "Volodymyr Zelensky", "kind": "PERSON",
     "aliases": ["Selenskyj", "Wolodymyr Selenskyj"]},
    {"key": "pete-hegseth", "name": "Pete Hegseth", "kind": "PERSON", "aliases": ["Hegseth", "SecDef"]},
    {"key": "claudia-toepper", "name": "Claudia Töpper", "kind": "PERSON"},
    {"key": "russia", "name": "Russia", "kind": "STATE", "aliases": ["Moskau"]},
    {"key": "kremlin", "name": "Kremlin", "kind": "ORGANISATION", "aliases": ["Moskau", "Russia"]},
]  # fmt: skip
TOPICS = [
    {"key": "ukraine-nato-membership", "title": "Ukraine's NATO membership", "proposition": "Ukraine joins NATO."},
    {"key": "russia-attacks-nato", "title": "Russian attack on NATO", "proposition": "Russia attacks NATO."},
    {"key": "ukraine-eu-membership", "title": "Ukraine's EU membership", "proposition": "Ukraine joins the EU."},
]
POSITION = """query ($a: String!, $t: String!) {
  position(actor: $a, topic: $t, asOf: "2025-03-01") { stance actor { key } topic { key } } }"""


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        with env.ledger.batch("test:seed") as batch:
            for actor in ACTORS:
                batch.register_actor(c.parse_actor(actor))
            for topic in TOPICS:
                batch.define_topic(c.parse_topic(topic))
            for key, actor_key, topic_key, stance in (
                ("hegseth-nato", "pete-hegseth", "ukraine-nato-membership", "OPPOSES"),
                ("zelensky-nato", "volodymyr-zelensky", "ukraine-nato-membership", "SUPPORTS"),
                ("zelensky-eu", "volodymyr-zelensky", "ukraine-eu-membership", "SUPPORTS"),
                ("toepper-nato", "claudia-toepper", "ukraine-nato-membership", "OPPOSES"),
            ):
                exact = "A ceasefire must come first."
                batch.record_claim(c.parse_claim(claim_data(key, actor_key, topic_key, stance, "2025-02-20", exact)))
        env.caught_up()
        yield env


def position(api: ApiEnv, actor: str, topic: str) -> dict[str, Any]:
    body: dict[str, Any] = api.gql(POSITION, {"a": actor, "t": topic})
    return body


def test_folding_ignores_case_accents_and_punctuation() -> None:
    assert fold("Claudia Töpper") == "claudia topper" and fold("Donald J. Trump") == "donald j trump"
    assert fold("PETE-HEGSETH") == fold("pete hegseth") and words("Ukraine's NATO") == ("ukraine", "s", "nato")
    assert fold("Straße") == "strasse"
    assert fold("Søren Łukasz Ærø") == "soren lukasz aero" and fold("Töpper", german=True) == "toepper"


def test_a_key_read_as_a_name_does_not_hide_a_namesake(api: ApiEnv) -> None:
    with api.ledger.batch("test:seed") as batch:
        batch.register_actor(c.parse_actor({"key": "john-smith", "name": "John Smith", "kind": "PERSON"}))
        batch.register_actor(c.parse_actor({"key": "j-smith-uk", "name": "John Smith", "kind": "PERSON"}))
    api.caught_up()
    for ref in ("John Smith", "john smith", "John-Smith"):
        body = api.gql("query ($a: String!) { positions(actor: $a) { stance } }", {"a": ref})
        assert error_codes(body) == ["BAD_USER_INPUT"], ref
        assert [c["key"] for c in body["errors"][0]["extensions"]["candidates"]] == ["j-smith-uk", "john-smith"]
    # Typed as the key, it is that record.
    assert api.gql.data('{ positions(actor: "john-smith") { stance } }') == {"positions": []}


def test_german_transliterations_and_letters_without_accents(api: ApiEnv) -> None:
    with api.ledger.batch("test:seed") as batch:
        batch.register_actor(c.parse_actor({"key": "us-government", "name": "US-Regierung", "kind": "ORGANISATION",
                                            "aliases": ["Weiße Haus"]}))  # fmt: skip
        batch.register_actor(c.parse_actor({"key": "eu-ministers", "name": "Europäische Außenminister",
                                            "kind": "ORGANISATION"}))  # fmt: skip
        batch.register_actor(c.parse_actor({"key": "lars-lokke", "name": "Lars Løkke Rasmussen", "kind": "PERSON"}))
        batch.register_actor(c.parse_actor({"key": "lech-walesa", "name": "Lech Wałęsa", "kind": "PERSON"}))
        batch.register_actor(c.parse_actor({"key": "ulrike-mueller", "name": "Ulrike Mueller", "kind": "PERSON"}))
    api.caught_up()
    for ref, key in (
        ("Weisse Haus", "us-government"), ("weiße haus", "us-government"),
        ("Europaeische Aussenminister", "eu-ministers"), ("europäische außenminister", "eu-ministers"),
        ("Europaische Aussenminister", "eu-ministers"), ("Aussenminister", "eu-ministers"),
        ("Lars Lokke Rasmussen", "lars-lokke"), ("Løkke", "lars-lokke"), ("Walesa", "lech-walesa"),
        ("Ulrike Müller", "ulrike-mueller"), ("Toepper", "claudia-toepper"), ("Claudia Toepper", "claudia-toepper"),
    ):  # fmt: skip
        got = api.services.read_model.resolve_names([("actor", ref)])[0]
        assert (got.status, got.key) == ("FOUND", key), ref


@pytest.mark.parametrize(
    ("ref", "problem"),
    [("x" * 201, "longer than 200 characters"), (" ".join(["word"] * 13), "more than 12 words")],
)
def test_a_reference_too_long_to_be_a_name_is_refused_before_any_lookup(api: ApiEnv, ref: str, problem: str) -> None:
    body = api.gql("query ($a: String!) { positions(actor: $a) { stance } }", {"a": ref})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    error = body["errors"][0]
    assert error["extensions"]["field"] == "actor" and problem in error["message"]
    assert len(error["message"]) < 200  # the message quotes only the reference's start
    # Twelve words is still a name to look up (unknown here, with the usual NOT_FOUND).
    body = api.gql("query ($a: String!) { positions(topic: $a) { stance } }", {"a": " ".join(["word"] * 12)})
    assert error_codes(body) == ["NOT_FOUND"]


@pytest.mark.parametrize(
    "ref",
    ["volodymyr-zelensky", "Volodymyr-Zelensky", "Volodymyr Zelensky", "selenskyj", "Selenskyj", "SELENSKYJ",
     "Wolodymyr Selenskyj", "Zelensky", "zelensky"],
)  # fmt: skip
def test_an_actor_by_key_name_alias_or_word(api: ApiEnv, ref: str) -> None:
    body = position(api, ref, "ukraine-nato-membership")
    assert "errors" not in body  # (every answer also carries extensions.basis)
    assert body["data"] == {"position": {"stance": "SUPPORTS", "actor": {"key": "volodymyr-zelensky"},
                                         "topic": {"key": "ukraine-nato-membership"}}}  # fmt: skip


def test_accents_and_names_in_every_argument(api: ApiEnv) -> None:
    for ref in ("Töpper", "topper", "Toepper", "claudia töpper"):
        assert position(api, ref, "Ukraine's NATO membership")["data"]["position"]["actor"] == {
            "key": "claudia-toepper"
        }
    assert position(api, "Hegseth", "nato membership")["data"]["position"]["stance"] == "OPPOSES"
    assert position(api, "hegseth", "UKRAINE-NATO-MEMBERSHIP")["data"]["position"]["stance"] == "OPPOSES"
    # A key typed exactly wins over another record's alias that reads the same ("Russia" is also a
    # Kremlin alias); typed otherwise it counts like a name, so "Russia" names two actors.
    assert api.gql.data('{ positions(actor: "russia") { stance } }') == {"positions": []}
    body = api.gql('{ positions(actor: "Russia") { stance } }')
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["candidates"] == [
        {"key": "kremlin", "name": "Kremlin"}, {"key": "russia", "name": "Russia"}
    ]  # fmt: skip

    matrix = api.gql.data('{ positions(topic: "nato membership") { actor { key } } }')["positions"]
    assert sorted(p["actor"]["key"] for p in matrix) == ["claudia-toepper", "pete-hegseth", "volodymyr-zelensky"]
    timeline = api.gql.data('{ timeline(actor: "Selenskyj", topic: "EU membership") { stance claim { key } } }')
    assert timeline["timeline"] == [{"stance": "SUPPORTS", "claim": {"key": "zelensky-eu"}}]
    claims = api.gql.data('{ claims(filter: {actor: "zelensky", topic: "eu"}) { nodes { key } } }')
    assert claims["claims"]["nodes"] == [{"key": "zelensky-eu"}]
    nested = api.gql.data('{ actors(search: "hegseth") { position(topic: "NATO Membership") { stance } } }')
    assert nested["actors"] == [{"position": {"stance": "OPPOSES"}}]


def test_an_unknown_name_is_not_found_with_the_closest_names(api: ApiEnv) -> None:
    body = position(api, "Hegset", "nato membership")
    assert error_codes(body) == ["NOT_FOUND"] and body["data"] == {"position": None}
    error = body["errors"][0]
    assert error["extensions"]["field"] == "actor" and error["extensions"]["kind"] == "actor"
    assert error["extensions"]["suggestions"][0] == {"key": "pete-hegseth", "name": "Pete Hegseth"}
    assert "no actor matches 'Hegset'" in error["message"] and "pete-hegseth (Pete Hegseth)" in error["message"]

    nothing = position(api, "Hegseth", "qqqq zzzz")
    assert error_codes(nothing) == ["NOT_FOUND"] and nothing["errors"][0]["extensions"]["suggestions"] == []
    assert nothing["errors"][0]["extensions"]["field"] == "topic"
    # Every word must match one record: "hegseth nato" names no actor.
    assert error_codes(position(api, "Hegseth Nato", "nato membership")) == ["NOT_FOUND"]

    for query, field in (
        ('{ positions(actor: "Selenski") { stance } }', "actor"),
        ('{ timeline(actor: "Zelensky", topic: "membershp") { stance } }', "topic"),
        ('{ claims(filter: {topic: "no such topic"}) { totalCount } }', "filter.topic"),
    ):
        body = api.gql(query)
        assert error_codes(body) == ["NOT_FOUND"] and body["errors"][0]["extensions"]["field"] == field, body
    assert api.gql('{ positions(actor: "Selenski") { stance } }')["errors"][0]["extensions"]["suggestions"] == [
        {"key": "volodymyr-zelensky", "name": "Volodymyr Zelensky"}
    ]


def test_an_ambiguous_name_lists_the_candidates_and_guesses_none(api: ApiEnv) -> None:
    body = position(api, "Hegseth", "nato")
    assert error_codes(body) == ["BAD_USER_INPUT"] and body["data"] == {"position": None}
    extensions = body["errors"][0]["extensions"]
    assert extensions["field"] == "topic"
    assert extensions["candidates"] == [
        {"key": "russia-attacks-nato", "name": "Russian attack on NATO"},
        {"key": "ukraine-nato-membership", "name": "Ukraine's NATO membership"},
    ]
    alias = api.gql('{ claims(filter: {actor: "moskau"}) { totalCount } }')
    assert error_codes(alias) == ["BAD_USER_INPUT"] and alias["errors"][0]["extensions"]["field"] == "filter.actor"
    assert [x["key"] for x in alias["errors"][0]["extensions"]["candidates"]] == ["kremlin", "russia"]
    assert error_codes(api.gql('{ positions(topic: "membership") { stance } }')) == ["BAD_USER_INPUT"]


def test_a_revised_profile_changes_what_names_it(api: ApiEnv) -> None:
    assert position(api, "secdef", "nato membership")["data"]["position"] is not None
    revised = {**ACTORS[1], "aliases": ["Secretary of War"]}
    with api.ledger.batch("test:seed") as batch:
        batch.register_actor(c.parse_actor(revised), "aliases corrected")
    api.caught_up()
    assert position(api, "secretary of war", "nato membership")["data"]["position"]["stance"] == "OPPOSES"
    assert position(api, "Hegseth", "nato membership")["data"]["position"]["stance"] == "OPPOSES"  # a word of the name
    assert error_codes(position(api, "SecDef", "nato membership")) == ["NOT_FOUND"]


def test_a_long_list_of_candidates_is_cut_in_the_message_but_not_in_extensions() -> None:
    many = [NameMatch(f"topic-{n:02d}", f"Topic {n}") for n in range(NAMES_IN_MESSAGE + 3)]
    error = unresolved("topic", Resolution("topic", "topic", AMBIGUOUS, candidates=many))
    assert error.code == "BAD_USER_INPUT" and len(error.extensions["candidates"]) == NAMES_IN_MESSAGE + 3
    assert "topic-09 (Topic 9) and 3 more" in error.message and "topic-10" not in error.message


def test_a_name_not_kept_counts_one_miss(api: ApiEnv) -> None:
    # On PostgreSQL a batch first looks on the event loop for names kept in process, then reads them on a
    # thread; each asked name counts once, a hit or a miss (the loop's look counted its misses again).
    kept = api.services.read_model.resolved_names
    assert position(api, "hegseth", "nato membership")["data"]["position"]["stance"] == "OPPOSES"
    for actor in ("Pete Hegseth", "PETE HEGSETH"):  # a new spelling: another reference, not kept yet
        hits, misses = kept.hits, kept.misses
        assert position(api, actor, "nato membership")["data"]["position"]["stance"] == "OPPOSES"
        assert (kept.hits - hits, kept.misses - misses) == (1, 1)  # the topic kept, the actor read


def test_a_batch_of_two_record_times_counts_each_name_once(api: ApiEnv) -> None:
    # Two groups in one batch: the first found every name kept, the second did not; the thread's read of
    # the whole batch then counted the first group's names again.
    query = """query($a: String!) { now: position(actor: "hegseth", topic: "nato membership") { stance }
      then: position(actor: $a, topic: "nato membership", knownAt: "2030-01-01T00:00:00Z") { stance } }"""
    kept = api.services.read_model.resolved_names
    assert api.gql.data(query, {"a": "hegseth"})["now"]["stance"] == "OPPOSES"
    hits, misses = kept.hits, kept.misses
    data = api.gql.data(query, {"a": "Pete Hegseth"})  # a new spelling: not kept for the second record time
    assert data["now"] == data["then"] == {"stance": "OPPOSES"}
    assert (kept.hits - hits, kept.misses - misses) == (3, 1)


def test_kept_resolutions_never_outlive_a_write(api: ApiEnv) -> None:
    """The API keeps resolved names in memory (projections/resolved_names.py) until the read model's
    names move: a new actor, then a rename, are resolved fresh by the very next request."""
    kept = api.services.read_model.resolved_names
    assert error_codes(position(api, "Mark Rutte", "nato membership")) == ["NOT_FOUND"]
    hits = kept.hits
    assert position(api, "hegseth", "nato membership")["data"]["position"]["stance"] == "OPPOSES"
    assert error_codes(position(api, "Mark Rutte", "nato membership")) == ["NOT_FOUND"]
    assert kept.hits > hits  # the topic (and the unknown actor) came from memory
    with api.ledger.batch("test:seed") as batch:
        batch.register_actor(c.parse_actor({"key": "mark-rutte", "name": "Mark Rutte", "kind": "PERSON"}))
        exact = "A ceasefire must come first."
        batch.record_claim(
            c.parse_claim(claim_data("rutte-nato", "mark-rutte", "ukraine-nato-membership", "SUPPORTS", "2025-02-21", exact))
        )
    api.caught_up()
    assert position(api, "Mark Rutte", "nato membership")["data"]["position"]["stance"] == "SUPPORTS"
    renamed = {"key": "mark-rutte", "name": "Mark Rutte", "kind": "PERSON", "aliases": ["Hegseth"]}
    with api.ledger.batch("test:seed") as batch:
        batch.register_actor(c.parse_actor(renamed), "alias added")
    api.caught_up()
    ambiguous = position(api, "hegseth", "nato membership")  # was pete-hegseth alone a moment ago
    assert error_codes(ambiguous) == ["BAD_USER_INPUT"]
    assert [x["key"] for x in ambiguous["errors"][0]["extensions"]["candidates"]] == ["mark-rutte", "pete-hegseth"]
