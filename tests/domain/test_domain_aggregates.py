"""Rules that belong to one aggregate live in its command methods (as in eventsourcing's examples):
a refused command raises before any event is made, and replaying history never re-checks them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ledger_support import claim, seed_world

from ledger import commands as c
from ledger.application import ClaimsLedger
from ledger.domain import Actor, ApiKey, Claim, Topic
from ledger.errors import BadInput


@pytest.fixture
def ledger() -> Iterator[ClaimsLedger]:
    """The in-memory ledger (eventsourcing's POPO recorder with the Merkle log): no database."""
    with ClaimsLedger() as app:
        yield app


CHANGE = {"stance": {"before": "OPPOSES", "after": "NEUTRAL"}}


def recorded() -> Claim:
    return Claim(key="k1", content=claim(), recorded_by="tester")


def refused(action: Any, field: str, match: str) -> None:
    with pytest.raises(BadInput, match=match) as caught:
        action()
    assert caught.value.field == field


def test_a_retracted_claim_cannot_be_revised_or_retracted_again() -> None:
    item = recorded()
    item.retract(reason="wrong article", recorded_by="e")
    events = len(item.pending_events)
    refused(lambda: item.revise(changes=CHANGE, reason="fix", recorded_by="e"), "id", "retracted and can no longer")
    refused(lambda: item.retract(reason="again", recorded_by="e"), "id", "already retracted")
    assert len(item.pending_events) == events == 2 and item.retracted == "wrong article"


def test_a_revision_changes_something_and_says_why() -> None:
    item = recorded()
    refused(lambda: item.revise(changes={}, reason="fix", recorded_by="e"), "changes", "change nothing")
    refused(lambda: item.revise(changes=CHANGE, reason="", recorded_by="e"), "reason", "needs a reason")
    refused(lambda: item.retract(reason="", recorded_by="e"), "reason", "needs a reason")
    item.revise(changes=CHANGE, reason="fix", recorded_by="e", revision_key="r1")
    assert item.content["stance"] == "NEUTRAL" and item.revision_keys == ["r1"] and item.version == 2


def test_registered_records_are_revised_only_with_a_reason() -> None:
    actor = Actor(key="a", profile={"name": "A"}, recorded_by="t")
    topic = Topic(key="t", title="T", proposition="P", recorded_by="t")
    name = {"name": {"before": "A", "after": "B"}}
    refused(lambda: actor.revise(changes=name, reason="", recorded_by="t"), "key", "actor 'a' exists with other")
    refused(lambda: topic.revise(changes={"title": {}}, reason="", recorded_by="t"), "key", "topic 't' exists")
    actor.revise(changes=name, reason="renamed", recorded_by="t")
    assert actor.profile["name"] == "B"


def test_revoking_a_revoked_key_records_nothing() -> None:
    key = ApiKey(name="desk", role="reader", secret_sha256="0" * 64, recorded_by="admin")
    key.revoke(reason="rotated", recorded_by="admin")
    key.revoke(reason="again", recorded_by="admin")
    assert key.revoked == "rotated" and len(key.pending_events) == 2


def test_history_replays_without_re_checking_the_rules(ledger: ClaimsLedger) -> None:
    seed_world(ledger)
    with ledger.batch("tester") as batch:
        batch.record_claim(c.parse_claim(claim()))
    ledger.revise_claim(c.ReviseClaim("hegseth-nato-1", None, c.parse_changes({"stance": "NEUTRAL"}), "fix"), "e")
    ledger.retract_claim(c.RetractClaim("hegseth-nato-1", None, "wrong article"), "e")
    replayed = ledger.get_claim("hegseth-nato-1")  # Recorded, Revised, Retracted folded again
    assert replayed.version == 3 and replayed.retracted == "wrong article" and replayed.content["stance"] == "NEUTRAL"
    with pytest.raises(BadInput, match="already retracted"):
        ledger.retract_claim(c.RetractClaim("hegseth-nato-1", None, "again"), "e")
    assert ledger.ledger_recorder.tree_head().size == 8
