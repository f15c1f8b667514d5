"""changes(from, to, ...): every claim event in a record-time window, with who, why and before/after."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from api_support import ApiEnv, api_env, error_codes

from ledger import commands as c

CHANGES = """query($from: DateTime!, $to: DateTime, $actor: String, $source: String, $first: Int, $after: String) {
  changes(from: $from, to: $to, actor: $actor, source: $source, first: $first, after: $after) {
    nodes { event { type version logPosition recordedBy reason changes { field before after } }
            claim { key stance version retracted } }
    pageInfo { hasNextPage endCursor }
  }
}"""


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        env.caught_up()
        yield env


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def test_a_window_holds_exactly_the_changes_recorded_in_it(api: ApiEnv) -> None:
    before = datetime.now(UTC)
    all_of_it = api.gql.data(CHANGES, {"from": "2000-01-01T00:00:00Z"})["changes"]["nodes"]
    assert [n["event"]["type"] for n in all_of_it] == ["RECORDED"] * 4  # the seed's four claims
    start = datetime.now(UTC)
    api.ledger.revise_claim(
        c.ReviseClaim("c-taurus-yes", None, c.parse_changes({"stance": "CONDITIONAL"}), "misread the quote"), "desk"
    )
    api.ledger.retract_claim(c.RetractClaim("c-minister", None, "duplicate record"), "desk")
    api.caught_up()
    window = api.gql.data(CHANGES, {"from": _iso(start)})["changes"]["nodes"]
    assert [(n["event"]["type"], n["claim"]["key"]) for n in window] == [
        ("REVISED", "c-taurus-yes"),
        ("RETRACTED", "c-minister"),
    ]
    revised = window[0]
    assert revised["event"]["recordedBy"] == "desk" and revised["event"]["reason"] == "misread the quote"
    assert revised["event"]["changes"] == [{"field": "stance", "before": "SUPPORTS", "after": "CONDITIONAL"}]
    assert revised["claim"] == {"key": "c-taurus-yes", "stance": "CONDITIONAL", "version": 2, "retracted": False}
    assert window[1]["claim"]["retracted"] is True
    # The window's end is exclusive; before it nothing of today's corrections shows.
    assert api.gql.data(CHANGES, {"from": "2000-01-01T00:00:00Z", "to": _iso(before)})["changes"]["nodes"] == all_of_it
    by_actor = api.gql.data(CHANGES, {"from": _iso(start), "actor": "Minister"})["changes"]["nodes"]
    assert [n["claim"]["key"] for n in by_actor] == ["c-minister"]
    by_source = api.gql.data(CHANGES, {"from": "2000-01-01T00:00:00Z", "source": "berlin-interview", "first": 4})
    assert len(by_source["changes"]["nodes"]) == 4 and by_source["changes"]["pageInfo"]["hasNextPage"]
    rest = api.gql.data(
        CHANGES, {"from": "2000-01-01T00:00:00Z", "after": by_source["changes"]["pageInfo"]["endCursor"]}
    )
    assert [n["event"]["type"] for n in rest["changes"]["nodes"]] == ["REVISED", "RETRACTED"]
    assert api.gql.data(CHANGES, {"from": "2000-01-01T00:00:00Z", "source": "no-such-source"})["changes"]["nodes"] == []


def test_a_backwards_window_is_bad_input(api: ApiEnv) -> None:
    body = api.gql(CHANGES, {"from": "2025-02-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"})
    assert error_codes(body) == ["BAD_USER_INPUT"] and body["data"] is None
