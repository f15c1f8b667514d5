"""The write side: every event type, concurrency, idempotency and bad input, on both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ledger_support import TEXT, ZELENSKY_PASSAGE, actor, domain_event, passage, record, seed_world, size, topic

from ledger import commands as c
from ledger.application import ClaimsLedger
from ledger.errors import Conflict


@pytest.fixture
def ledger(database_url: str) -> Iterator[ClaimsLedger]:
    with ClaimsLedger.open(database_url) as app:
        yield app


def event_types(ledger: ClaimsLedger) -> list[str]:
    return [e.topic.split(":")[1] for e in ledger.ledger_recorder.iter_log()]


def test_every_event_type_is_recorded_with_principal_and_time(ledger: ClaimsLedger) -> None:
    seed_world(ledger)
    record(ledger)
    record(
        ledger, key="zelensky-nato-1", actor="volodymyr-zelensky", stance="SUPPORTS",
        summary="Zelensky: Ukraine belongs in NATO.", passage=passage(ZELENSKY_PASSAGE),
        stated={"date": "2025-02-13"}, attribution="INDIRECT_SPEECH", disputes=["hegseth-nato-1"],
    )  # fmt: skip
    ledger.revise_claim(
        c.ReviseClaim("hegseth-nato-1", 1, c.parse_changes({"stance": "CONDITIONAL"}), "misread the Konjunktiv"),
        "editor",
    )
    ledger.retract_claim(c.RetractClaim("hegseth-nato-1", 2, "duplicate of another record"), "editor")
    with ledger.batch("editor") as batch:
        zelensky = batch.claim("zelensky-nato-1")
        zelensky.link(relation="SUPERSEDES", target=str(batch.claim("hegseth-nato-1").id), recorded_by="editor")
        batch.stage(zelensky)
        batch.register_actor(c.parse_actor(actor(aliases=["Hegseth", "Pete"])), reason="more spellings")
        batch.define_topic(c.parse_topic(topic(title="Ukraine in NATO")), reason="clearer title")
    ledger.issue_api_key("newsroom", "editor", "admin")
    ledger.revoke_api_key("newsroom", "left the project", "admin")

    assert event_types(ledger) == [
        "Source.Registered", "SourceKey.Assigned", "Actor.Registered", "Actor.Registered", "Topic.Defined",
        "Claim.Recorded", "Claim.Recorded", "Claim.Revised", "Claim.Retracted",
        "Claim.Linked", "Actor.Revised", "Topic.Revised", "ApiKey.Issued", "ApiKey.Revoked",
    ]  # fmt: skip
    revised = domain_event(ledger, ledger.ledger_recorder.read_log(7, 1)[0])
    assert revised.recorded_by == "editor"
    assert revised.reason == "misread the Konjunktiv"
    assert revised.changes == {"stance": {"before": "OPPOSES", "after": "CONDITIONAL"}}
    hegseth = ledger.get_claim("hegseth-nato-1")
    assert hegseth.retracted == "duplicate of another record"
    assert hegseth.content["stance"] == "CONDITIONAL"
    zelensky = ledger.get_claim("zelensky-nato-1")
    assert [link["relation"] for link in zelensky.content["links"]] == ["DISPUTES", "SUPERSEDES"]
    # The passage is stored as a TextQuoteSelector with context.
    assert hegseth.content["passage"]["prefix"].endswith("in Brüssel, ")
    assert (
        TEXT[hegseth.content["passage"]["start"] : hegseth.content["passage"]["end"]]
        == hegseth.content["passage"]["exact"]
    )


def test_concurrent_writers_cannot_both_win(database_url: str) -> None:
    """Two processes load version 1 and both revise: the database refuses the second."""
    with ClaimsLedger.open(database_url) as first, ClaimsLedger.open(database_url) as second:
        seed_world(first)
        record(first)
        batch_a, batch_b = first.batch("a"), second.batch("b")
        batch_a.revise_claim(c.ReviseClaim("hegseth-nato-1", 1, c.parse_changes({"stance": "NEUTRAL"}), "x"))
        batch_b.revise_claim(c.ReviseClaim("hegseth-nato-1", 1, c.parse_changes({"stance": "SUPPORTS"}), "y"))
        batch_a.commit()
        before = size(first)
        with pytest.raises(Conflict):
            batch_b.commit()
        assert size(first) == before
        assert first.get_claim("hegseth-nato-1").content["stance"] == "NEUTRAL"


def test_notifications_for_some_topics_are_the_next_matching_events(database_url: str) -> None:
    """The topic filter applies before the limit: no empty page while matching events follow."""
    with ClaimsLedger.open(database_url) as ledger:
        with ledger.batch("tester") as batch:
            for n in range(5):
                batch.register_actor(c.parse_actor(actor(f"actor-{n}")))
            batch.define_topic(c.parse_topic(topic(key="topic-a")))
            for n in range(5, 8):
                batch.register_actor(c.parse_actor(actor(f"actor-{n}")))
            batch.define_topic(c.parse_topic(topic(key="topic-b")))
        recorder = ledger.ledger_recorder
        defined = ["ledger.domain:Topic.Defined"]
        page = recorder.select_notifications(1, 1, topics=defined)
        assert [(n.id, n.topic) for n in page] == [(6, "ledger.domain:Topic.Defined")]
        assert [n.id for n in recorder.select_notifications(7, 2, topics=defined)] == [10]
        assert [n.id for n in recorder.select_notifications(1, 5, stop=9, topics=defined)] == [6]
        assert recorder.select_notifications(1, 5, stop=5, topics=defined) == []
        assert [n.id for n in recorder.select_notifications(2, 3)] == [2, 3, 4]
        assert [n.id for n in recorder.select_notifications(2, 3, inclusive_of_start=False, stop=3)] == [3]
