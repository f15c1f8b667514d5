"""Every answer carries its basis; a request pinned to a tree size answers the same later (both stores)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_support import ApiEnv, api_env, error_codes

from ledger import commands as c
from ledger.integrity import merkle

QUERY = """{
  claims(first: 50) { nodes { key stance version summary retracted } totalCount }
  timeline(actor: "chancellor", topic: "taurus") { stance label claim { key } }
  position(actor: "chancellor", topic: "taurus", asOf: "2025-12-31") { stance }
}"""


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        env.caught_up()
        yield env


def _post(api: ApiEnv, extensions: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"query": QUERY}
    if extensions is not None:
        body["extensions"] = extensions
    response = api.client.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_every_answer_names_its_basis(api: ApiEnv) -> None:
    body = _post(api)
    basis = body["extensions"]["basis"]
    size = api.tree_size()
    assert basis["treeSize"] == size and basis["pinned"] is False and basis["knownAt"]
    assert basis["rootHash"] == merkle.subtree_root(0, size, api.ledger.ledger_recorder).hex()


def test_a_pinned_basis_gives_byte_identical_data_after_corrections(api: ApiEnv) -> None:
    size = api.tree_size()
    first = api.client.post("/graphql", json={"query": QUERY, "extensions": {"atTreeSize": size}})
    assert first.json()["extensions"]["basis"]["treeSize"] == size
    # Corrections and new records after the basis...
    api.ledger.revise_claim(
        c.ReviseClaim("c-taurus-yes", None, c.parse_changes({"stance": "CONDITIONAL"}), "misread"), "desk"
    )
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate"), "desk")
    api.caught_up()
    assert _post(api)["data"] != first.json()["data"]  # ...change today's answer,
    again = api.client.post("/graphql", json={"query": QUERY, "extensions": {"atTreeSize": size}})
    data_bytes = lambda r: r.text[: r.text.index(',"extensions"')]  # noqa: E731
    assert data_bytes(again) == data_bytes(first)  # ...not the pinned one, to the byte
    assert again.json()["extensions"]["basis"] == first.json()["extensions"]["basis"]


def test_a_pin_beyond_the_log_or_malformed_is_bad_input(api: ApiEnv) -> None:
    beyond = _post(api, {"atTreeSize": api.tree_size() + 10})
    assert set(error_codes(beyond)) == {"BAD_USER_INPUT"}
    assert "beyond the log" in beyond["errors"][0]["message"]
    assert set(error_codes(_post(api, {"atTreeSize": "latest"}))) == {"BAD_USER_INPUT"}
