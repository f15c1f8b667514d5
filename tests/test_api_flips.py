"""Consistency labels over GraphQL: flips, flipSummaries and PositionChange.label (both stores)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_support import ApiEnv, api_env, error_codes


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        env.caught_up()
        yield env


FLIPS = """query($label: FlipLabel, $from: Date, $to: Date, $actor: String) {
  flips(label: $label, from: $from, to: $to, actor: $actor) {
    nodes { label before { key stance passage { exact } } after { key stance countsFrom } }
    pageInfo { hasNextPage }
  }
}"""


def test_every_full_flop_in_2025(api: ApiEnv) -> None:
    data = api.gql.data(FLIPS, {"label": "FULL_FLOP", "from": "2025-01-01", "to": "2025-12-31"})
    assert data["flips"]["nodes"] == [
        {
            "label": "FULL_FLOP",
            "before": {
                "key": "c-taurus-no",
                "stance": "OPPOSES",
                "passage": {"exact": "We will not deliver Taurus missiles."},
            },
            "after": {"key": "c-taurus-yes", "stance": "SUPPORTS", "countsFrom": "2025-02-28"},
        }
    ]
    none_in_2024 = api.gql.data(FLIPS, {"label": "FULL_FLOP", "from": "2024-01-01", "to": "2024-12-31"})
    assert none_in_2024["flips"]["nodes"] == []
    by_name = api.gql.data(FLIPS, {"actor": "THE CHANCELLOR"})
    assert [n["label"] for n in by_name["flips"]["nodes"]] == ["FULL_FLOP"]


def test_summaries_timeline_labels_and_bad_input(api: ApiEnv) -> None:
    data = api.gql.data("{ flipSummaries { actorKey topicKey claims fullFlops halfFlips noFlips strongest } }")
    assert {(s["actorKey"], s["topicKey"]): (s["claims"], s["fullFlops"], s["strongest"]) for s in data["flipSummaries"]} == {
        ("chancellor", "taurus"): (2, 1, "FULL_FLOP"),
        ("party-leader", "ceasefire"): (1, 0, None),
        ("minister", "ceasefire"): (1, 0, None),
    }
    timeline = api.gql.data('{ timeline(actor: "chancellor", topic: "taurus") { stance label } }')
    assert timeline["timeline"] == [{"stance": "OPPOSES", "label": None}, {"stance": "SUPPORTS", "label": "FULL_FLOP"}]
    backwards = api.gql(FLIPS, {"from": "2025-12-31", "to": "2025-01-01"})
    assert error_codes(backwards) == ["BAD_USER_INPUT"] and backwards["data"] is None
    assert error_codes(api.gql(FLIPS, {"actor": "nobody-at-all"})) == ["NOT_FOUND"]
