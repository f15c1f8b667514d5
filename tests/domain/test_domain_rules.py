"""The fast tier (``.venv/bin/pytest tests/domain -q``, seconds, no database). Rules of the write
side, on the in-memory ledger: refusals name the field and write nothing,
idempotent commands write nothing twice, revisions and retractions follow the claim's rules.
(Moved from tests/test_ledger.py, which keeps what depends on a store: concurrency, every event
as stored, notifications.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from ledger_support import actor, claim, domain_event, passage, record, seed_world, size, source, topic

from ledger import commands as c
from ledger.application import ClaimsLedger
from ledger.errors import BadInput, Conflict, NotFound


@pytest.fixture
def ledger() -> Iterator[ClaimsLedger]:
    """The in-memory ledger (eventsourcing's POPO recorder with the Merkle log): no database."""
    with ClaimsLedger() as app:
        yield app


def test_stale_expected_version_is_a_conflict_naming_the_current_version(ledger: ClaimsLedger) -> None:
    seed_world(ledger)
    record(ledger)
    ledger.revise_claim(c.ReviseClaim("hegseth-nato-1", 1, c.parse_changes({"stance": "NEUTRAL"}), "fix"), "a")
    before = size(ledger)
    with pytest.raises(Conflict) as caught:
        ledger.revise_claim(c.ReviseClaim("hegseth-nato-1", 1, c.parse_changes({"stance": "SUPPORTS"}), "fix"), "b")
    assert caught.value.current_version == 2
    assert "version 2" in str(caught.value)
    with pytest.raises(Conflict):
        ledger.retract_claim(c.RetractClaim("hegseth-nato-1", 1, "gone"), "b")
    assert size(ledger) == before


def test_registration_and_recording_are_idempotent(ledger: ClaimsLedger) -> None:
    seed_world(ledger)
    first_id, _ = record(ledger)
    before = size(ledger)
    with ledger.batch("other") as batch:
        sid, created = batch.register_source(c.parse_source(source()))
        assert not created
        assert batch.register_actor(c.parse_actor(actor()))[1] is False
        assert batch.define_topic(c.parse_topic(topic()))[1] is False
        assert batch.record_claim(c.parse_claim(claim())) == (first_id, False)
    assert size(ledger) == before
    assert (
        sid == ledger.get_claim("hegseth-nato-1").content["source"]
        or str(sid) == ledger.get_claim("hegseth-nato-1").content["source"]
    )


def test_a_registered_text_under_a_new_key_is_refused_naming_its_key(ledger: ClaimsLedger) -> None:
    seed_world(ledger)
    before = size(ledger)
    with pytest.raises(BadInput, match="already registered as source 'tagesschau") as caught:
        ledger.register_source(c.parse_source(source(key="same-text-other-key", title="Copy")), "tester")
    assert caught.value.field == "key" and size(ledger) == before


def test_a_source_key_cannot_point_to_two_texts(ledger: ClaimsLedger) -> None:
    seed_world(ledger)
    with pytest.raises(BadInput, match="already used for a different text"):
        ledger.register_source(c.parse_source(source(text="Ein anderer Text.")), "tester")


def _bad(ledger: ClaimsLedger, field: str, match: str, **overrides: Any) -> None:
    before = size(ledger)
    with pytest.raises(BadInput, match=match) as caught:
        record(ledger, **overrides)
    assert caught.value.field.startswith(field)
    assert size(ledger) == before


@pytest.mark.parametrize(
    ("field", "match", "overrides"),
    [
        ("actor", "unknown actor key 'nobody'", {"actor": "nobody"}),
        ("topic", "unknown topic key 'moon-landing'", {"topic": "moon-landing"}),
        ("source", "unknown source 'no-such-source'", {"source": "no-such-source"}),
        ("stated.date", "is not a day of the calendar", {"stated": {"date": "2025-02-30"}}),
        ("stated.date", "has no month 13", {"stated": {"date": "2025-13"}}),
        ("stated.date", "is not YYYY-MM-DD", {"stated": {"date": "13.02.2025"}}),
        ("stated.precision", "does not match", {"stated": {"date": "2025-02", "precision": "DAY"}}),
        ("stated", "after the source's publication", {"stated": {"date": "2025-02-14"}}),
        ("passage.exact", "does not match the source text", {"passage": {**passage(), "start": 3}}),
        ("passage.end", "beyond the end of the source text", {"passage": {"start": 150, "end": 999, "exact": "x"}}),
        ("passage.end", "must be greater than start", {"passage": {"start": 9, "end": 9, "exact": "x"}}),
        ("passage.start", "non-negative integer", {"passage": {"start": -1, "end": 9, "exact": "x"}}),
        ("summary", "must not be empty", {"summary": "   "}),
        ("summary", "the limit is 2000", {"summary": "x" * 2001}),
        ("stance", "'AGREES' is not one of", {"stance": "AGREES"}),
        ("attribution", "is not one of", {"attribution": "RUMOUR"}),
        ("key", "is not a key", {"key": "Not A Slug"}),
        ("quote.language", "ISO 639-1", {"quote": {"text": "nicht realistisch", "language": "deu"}}),
        ("disputes", "unknown claim 'ghost'", {"disputes": ["ghost"]}),
        ("colour", "is not a known field", {"colour": "red"}),
        ("summary", "NUL", {"summary": "bad\x00byte"}),
        ("summary", "not valid UTF-8", {"summary": "lone \udcff surrogate"}),
    ],
)
def test_bad_claims_are_refused_with_the_field_named(
    ledger: ClaimsLedger, field: str, match: str, overrides: dict[str, Any]
) -> None:
    seed_world(ledger)
    _bad(ledger, field, match, **overrides)


def test_future_dates_are_refused(ledger: ClaimsLedger) -> None:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    with pytest.raises(BadInput, match="lies in the future"):
        c.parse_source(source(published={"date": tomorrow}))


def test_a_date_given_again_is_checked_again() -> None:
    """Dates are parsed once per form given (ledger.records keeps the parses): the second time gives the
    same value, and a refusal is given every time, with the same words."""
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    for _ in range(2):
        assert c.parse_claim(claim(stated="2025-02")).content["stated"] == {
            "date": "2025-02", "precision": "MONTH", "approximate": False, "note": None
        }  # fmt: skip
        for given, field, words in (
            ({"date": "2025-02", "precision": "DAY"}, "stated.precision", "does not match '2025-02'"),
            ({"date": "2025-02-30"}, "stated.date", "is not a day of the calendar"),
            (tomorrow, "stated", "lies in the future"),
        ):
            with pytest.raises(BadInput, match=words) as caught:
                c.parse_claim(claim(stated=given))
            assert caught.value.field == field


@pytest.mark.parametrize(
    ("data", "field", "match"),
    [
        ({"language": "German"}, "language", "ISO 639-1"),
        ({"genre": "BLOG"}, "genre", "is not one of"),
        ({"text": ""}, "text", "must not be empty"),
        ({"url": "ftp://x"}, "url", "http"),
        ({"title": "t" * 501}, "title", "limit is 500"),
        ({"published": {"date": "2025-02-29"}}, "published.date", "not a day"),
    ],
)
def test_bad_sources_are_refused(data: dict[str, Any], field: str, match: str) -> None:
    with pytest.raises(BadInput, match=match) as caught:
        c.parse_source(source(**data))
    assert caught.value.field == field


def test_bad_actors_and_topics_are_refused() -> None:
    with pytest.raises(BadInput, match="Wikidata QID"):
        c.parse_actor(actor(wikidata="22686"))
    with pytest.raises(BadInput, match="is before"):
        c.parse_actor(actor(roles=[{"title": "Minister", "from": "2025-02-01", "until": "2025-01-01"}]))
    with pytest.raises(BadInput, match="is not one of"):
        c.parse_actor(actor(kind="ALIEN"))
    with pytest.raises(BadInput, match="limit is 100"):
        c.parse_actor(actor(aliases=[f"a{i}" for i in range(101)]))
    with pytest.raises(BadInput, match="must not be empty"):
        c.parse_topic(topic(proposition=""))


def test_revisions_and_retractions_need_a_reason_and_a_change(ledger: ClaimsLedger) -> None:
    seed_world(ledger)
    record(ledger)
    with pytest.raises(BadInput, match="reason: must not be empty"):
        c.parse_reason("  ")
    with pytest.raises(BadInput, match="change nothing"):
        ledger.revise_claim(c.ReviseClaim("hegseth-nato-1", 1, c.parse_changes({"stance": "OPPOSES"}), "why"), "e")
    with pytest.raises(BadInput, match=r"changes\.stance"):
        c.parse_changes({"stance": "MAYBE"})
    with pytest.raises(BadInput, match="at least one field"):
        c.parse_changes({})
    with pytest.raises(NotFound):
        ledger.retract_claim(c.RetractClaim("no-such-claim", None, "why"), "e")
    ledger.retract_claim(c.RetractClaim("hegseth-nato-1", 1, "wrong article"), "e")
    with pytest.raises(BadInput, match="already retracted"):
        ledger.retract_claim(c.RetractClaim("hegseth-nato-1", None, "again"), "e")
    with pytest.raises(BadInput, match="retracted and can no longer be revised"):
        ledger.revise_claim(c.ReviseClaim("hegseth-nato-1", None, c.parse_changes({"stance": "NEUTRAL"}), "x"), "e")


def test_a_revision_is_checked_like_a_new_record(ledger: ClaimsLedger) -> None:
    seed_world(ledger)
    record(ledger)
    before = size(ledger)
    with pytest.raises(BadInput, match="after the source's publication"):
        ledger.revise_claim(
            c.ReviseClaim("hegseth-nato-1", 1, c.parse_changes({"stated": {"date": "2025-03"}}), "x"), "e"
        )
    with pytest.raises(BadInput, match="unknown actor key"):
        ledger.revise_claim(c.ReviseClaim("hegseth-nato-1", 1, c.parse_changes({"actor": "nobody"}), "x"), "e")
    assert size(ledger) == before
    revised = ledger.revise_claim(
        c.ReviseClaim("hegseth-nato-1", 1, c.parse_changes({"actor": "volodymyr-zelensky"}), "wrong speaker"), "e"
    )
    assert revised.content["actor"] == "volodymyr-zelensky"
    assert revised.recorded_content["actor"] == "pete-hegseth"


def test_a_claim_recorded_and_revised_in_one_batch_keeps_both_versions(ledger: ClaimsLedger) -> None:
    """Regression: the pending Recorded event must not be changed by the later revision."""
    seed_world(ledger)
    with ledger.batch("tester") as batch:
        batch.record_claim(c.parse_claim(claim()))
        batch.revise_claim(c.ReviseClaim("hegseth-nato-1", None, c.parse_changes({"stance": "NEUTRAL"}), "fix"))
    recorded, revised = [domain_event(ledger, e) for e in ledger.ledger_recorder.read_log(5, 2)]
    assert recorded.content["stance"] == "OPPOSES"
    assert revised.changes["stance"] == {"before": "OPPOSES", "after": "NEUTRAL"}


def test_principal_is_required() -> None:
    with pytest.raises(BadInput, match="who recorded it"):
        ClaimsLedger.batch(object.__new__(ClaimsLedger), "")


def test_api_keys_store_only_a_hash(ledger: ClaimsLedger) -> None:
    secret = ledger.issue_api_key("desk", "reader", "admin")
    stored = b"".join(e.state for e in ledger.ledger_recorder.iter_log())
    assert secret.encode() not in stored
    with pytest.raises(BadInput, match="exists already"):
        ledger.issue_api_key("desk", "editor", "admin")
    with pytest.raises(BadInput, match="is not one of"):
        ledger.issue_api_key("other", "god", "admin")


def test_a_claim_is_checked_against_its_sources_publication_as_revised_in_the_same_batch(ledger: ClaimsLedger) -> None:
    """A batch parses a source's publication date once for the claims citing it; a revision of the source in
    the batch (the positions oracle's ``republish``) replaces it, and later claims are checked against the new."""
    seed_world(ledger)
    with pytest.raises(BadInput, match="after the source's publication"), ledger.batch("tester") as batch:
        batch.record_claim(c.parse_claim(claim(stated={"date": "2025-02-12"})))  # before 2025-02-13: accepted
        source = batch.source_for("tagesschau-2025-02-13")
        before = source.metadata["published"]
        after = {**before, "date": "2025-02-10"}
        source.revise(changes={"published": {"before": before, "after": after}}, reason="dateline", recorded_by="ed")
        batch.stage(source)
        batch.record_claim(c.parse_claim(claim(key="hegseth-nato-2", stated={"date": "2025-02-12"})))
