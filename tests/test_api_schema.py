"""The committed SDL matches the code, and the enums match the ledger's vocabularies."""

from __future__ import annotations

from api.graphql.schema import SDL_PATH, sdl
from api.graphql.types import enums
from ledger import commands as c


def test_committed_schema_file_is_up_to_date() -> None:
    assert SDL_PATH.read_text(encoding="utf-8") == sdl(), "api/graphql/schema.graphql is stale: run `python -m api.graphql.schema`"


def test_enums_match_the_ledger() -> None:
    assert tuple(m.value for m in enums.Stance) == c.STANCES
    assert tuple(m.value for m in enums.Attribution) == c.ATTRIBUTIONS
    assert tuple(m.value for m in enums.Genre) == c.GENRES
    assert tuple(m.value for m in enums.ActorKind) == c.ACTOR_KINDS
    assert tuple(m.value for m in enums.LinkRelation) == c.RELATIONS


def test_contract_fields_exist() -> None:
    text = sdl()
    for line in (
        "position(actor: String!, topic: String!, asOf: Date = null, knownAt: DateTime = null, atTreeSize: Int = null):"
        " Position",
        "positions(actor: String = null, topic: String = null, asOf: Date = null, knownAt: DateTime = null,"
        " atTreeSize: Int = null): [Position!]!",
        "timeline(actor: String!, topic: String!, knownAt: DateTime = null, atTreeSize: Int = null): [PositionChange!]!",
        "claim(id: ID!, knownAt: DateTime = null, atTreeSize: Int = null): Claim",
        "ledgerEvents(types: [String!] = null, after: Int = null): LedgerEvent!",
    ):
        assert line in text, line


def test_readme_documents_every_setting() -> None:
    from api.settings import Settings

    readme = (SDL_PATH.parents[2] / "README.md").read_text(encoding="utf-8")
    for env, _, _ in Settings.documented():
        assert f"`{env}`" in readme, f"{env} is missing from the configuration table of README.md"
