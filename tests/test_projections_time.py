"""Positions on both time axes: asOf (valid time) and knownAt (record time)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from factories import Harness, cid

A, B = "alice-a", "bob-b"
X, Y = "topic-x", "topic-y"
US = timedelta(microseconds=1)


@pytest.fixture
def h(database_url: str) -> Iterator[Harness]:
    harness = Harness(database_url)
    yield harness
    harness.close()


def stance(
    h: Harness, actor: str = A, topic: str = X, as_of: date | None = None, known_at: datetime | None = None
) -> str | None:
    found = h.model.position(actor, topic, as_of, known_at)
    return None if found is None else found.stance


def test_revision_seen_before_and_after(h: Harness) -> None:
    h.world.claim("c1", stance="OPPOSES", stated="2025-02-12")
    h.world.revise("c1", {"stance": "SUPPORTS"}, reason="misread the article")
    h.project()
    recorded, revised = h.history("c1")
    assert (recorded.type, revised.type) == ("RECORDED", "REVISED")
    assert revised.reason == "misread the article" and revised.recorded_by == "editor"
    assert [(c.field, c.before, c.after) for c in revised.changes] == [("stance", "OPPOSES", "SUPPORTS")]

    assert stance(h, known_at=recorded.recorded_at - US) is None  # not yet recorded
    assert stance(h, known_at=recorded.recorded_at) == "OPPOSES"
    assert stance(h, known_at=revised.recorded_at - US) == "OPPOSES"  # what the ledger said then
    assert stance(h, known_at=revised.recorded_at) == "SUPPORTS"
    assert stance(h) == "SUPPORTS"

    before = h.model.claims_by_ids([cid("c1")], revised.recorded_at - US)[0]
    assert before is not None and before.version == 1 and before.stance == "OPPOSES"
    assert h.model.claims_by_ids([cid("c1")], recorded.recorded_at - US) == [None]
    now = h.model.claims_by_ids([cid("c1")], None)[0]
    assert now is not None and now.version == 2
    assert now.first_recorded_at == recorded.recorded_at and now.version_recorded_at == revised.recorded_at
    assert now.version_recorded_by == "editor" and now.first_recorded_by == "tester"


def test_retraction_seen_before_and_after(h: Harness) -> None:
    h.world.claim("old", stance="OPPOSES", stated="2025-01-10")
    h.world.claim("new", stance="SUPPORTS", stated="2025-02-10")
    h.world.retract("new", reason="wrong speaker")
    h.project()
    retraction = h.history("new")[-1]
    assert retraction.type == "RETRACTED" and retraction.reason == "wrong speaker"

    before = h.model.position(A, X, None, retraction.recorded_at - US)
    assert before is not None and before.stance == "SUPPORTS" and before.claim.key == "new"
    after = h.model.position(A, X, None, None)
    assert after is not None and after.stance == "OPPOSES" and after.claim.key == "old"
    assert after.since_claim_id == cid("old")

    flagged = h.model.claims_by_ids([cid("new")], None)[0]
    assert flagged is not None and flagged.retracted and flagged.retraction_reason == "wrong speaker"
    assert [t.claim.key for t in h.model.timeline(A, X, None)] == ["old"]
    assert [t.claim.key for t in h.model.timeline(A, X, retraction.recorded_at - US)] == ["old", "new"]


def test_partial_dates_count_once_their_whole_period_has_passed(h: Harness) -> None:
    h.world.claim("month", stance="OPPOSES", stated="2024-02")  # latest 2024-02-29 (leap year)
    h.world.claim("year", actor=B, stance="SUPPORTS", stated="2023")
    h.world.claim("day", topic=Y, stance="NEUTRAL", stated="2024-03-01")
    h.project()
    assert stance(h, as_of=date(2024, 2, 28)) is None
    assert stance(h, as_of=date(2024, 2, 29)) == "OPPOSES"
    assert stance(h, B, as_of=date(2023, 12, 30)) is None
    assert stance(h, B, as_of=date(2023, 12, 31)) == "SUPPORTS"
    assert stance(h, A, Y, as_of=date(2024, 2, 29)) is None
    assert stance(h, A, Y, as_of=date(2024, 3, 1)) == "NEUTRAL"
    month = h.model.position(A, X, date(2024, 3, 1), None)
    assert month is not None
    assert (month.since.date, month.since.precision) == ("2024-02", "MONTH")
    assert (month.since.earliest, month.since.latest) == (date(2024, 2, 1), date(2024, 2, 29))
    assert month.as_of == date(2024, 3, 1)


def test_equal_latest_dates_order_by_earliest_then_log_position(h: Harness) -> None:
    h.world.claim("precise", stance="SUPPORTS", stated="2025-03-31")  # earliest 03-31
    h.world.claim("vague", stance="OPPOSES", stated="2025-03")  # earliest 03-01, recorded later
    h.project()
    # Same latest day: the later earliest (the precise one) is the later claim.
    assert stance(h, as_of=date(2025, 3, 31)) == "SUPPORTS"
    h.world.claim("same-day", stance="NEUTRAL", stated="2025-03-31")
    h.project()
    assert stance(h, as_of=date(2025, 3, 31)) == "NEUTRAL"  # ties on both: the later recording
    assert [t.claim.key for t in h.model.timeline(A, X, None)] == ["vague", "precise", "same-day"]


def test_since_when_is_the_start_of_the_current_run(h: Harness) -> None:
    h.world.claims(
        [
            {"key": "s1", "stance": "SUPPORTS", "stated": "2020-01-01"},
            {"key": "s2", "stance": "SUPPORTS", "stated": "2020-06-01"},
            {"key": "o1", "stance": "OPPOSES", "stated": "2021-01-01"},
            {"key": "o2", "stance": "OPPOSES", "stated": "2021-06"},
            {"key": "s3", "stance": "SUPPORTS", "stated": "2022-01-01"},
            {"key": "s4", "stance": "SUPPORTS", "stated": "2022"},
        ]
    )
    h.project()

    def since(as_of: date) -> tuple[str, str, str]:
        found = h.model.position(A, X, as_of, None)
        assert found is not None
        return found.stance, found.since.date, found.claim.key

    assert since(date(2020, 12, 31)) == ("SUPPORTS", "2020-01-01", "s2")
    assert since(date(2021, 6, 29)) == ("OPPOSES", "2021-01-01", "o1")
    assert since(date(2021, 12, 31)) == ("OPPOSES", "2021-01-01", "o2")
    assert since(date(2022, 12, 30)) == ("SUPPORTS", "2022-01-01", "s3")
    assert since(date(2023, 1, 1)) == ("SUPPORTS", "2022-01-01", "s4")
    found = h.model.position(A, X, None, None)
    assert found is not None and found.since_claim_id == cid("s3")


def test_timeline_lists_each_change_of_stance(h: Harness) -> None:
    h.world.claims(
        [
            {"key": "t1", "stance": "SUPPORTS", "stated": "2020-01-01"},
            {"key": "t2", "stance": "SUPPORTS", "stated": "2020-02-01"},
            {"key": "t3", "stance": "OPPOSES", "stated": "2020-03-01"},
            {"key": "t4", "stance": "CONDITIONAL", "stated": "2020-04"},
        ]
    )
    h.world.claim("t5", stance="SUPPORTS", stated="2020-05-01")
    h.project()
    shifts = h.model.timeline(A, X, None)
    assert [(s.stance, s.previous_stance, s.since.date, s.claim.key) for s in shifts] == [
        ("SUPPORTS", None, "2020-01-01", "t1"),
        ("OPPOSES", "SUPPORTS", "2020-03-01", "t3"),
        ("CONDITIONAL", "OPPOSES", "2020-04", "t4"),
        ("SUPPORTS", "CONDITIONAL", "2020-05-01", "t5"),
    ]
    t5 = h.history("t5")[0]
    assert [s.claim.key for s in h.model.timeline(A, X, t5.recorded_at - US)] == ["t1", "t3", "t4"]
    # A revision that makes t3 agree with its neighbours merges the runs, from then on.
    h.world.revise("t3", {"stance": "SUPPORTS"})
    h.project()
    assert [s.claim.key for s in h.model.timeline(A, X, None)] == ["t1", "t4", "t5"]
    assert [s.claim.key for s in h.model.timeline(A, X, t5.recorded_at)] == ["t1", "t3", "t4", "t5"]


def test_revised_speaker_moves_the_claim_to_another_pair(h: Harness) -> None:
    h.world.claim("moved", stance="OPPOSES", stated="2025-02-12")
    h.world.revise("moved", {"actor": B}, reason="it was Bob who said it")
    h.project()
    _, revised = h.history("moved")
    assert stance(h, A, known_at=revised.recorded_at - US) == "OPPOSES"
    assert stance(h, B, known_at=revised.recorded_at - US) is None
    assert stance(h, A) is None
    assert stance(h, B) == "OPPOSES"
    assert [p.actor for p in h.model.positions(None, X, None, None)] == [B]
    assert [p.actor for p in h.model.positions(None, X, None, revised.recorded_at - US)] == [A]
    assert h.model.timeline(A, X, None) == []
    assert [t.claim.key for t in h.model.timeline(B, X, None)] == ["moved"]


def test_positions_filter_and_batch_form(h: Harness) -> None:
    h.world.claim("ax", stance="SUPPORTS", stated="2025-01-01")
    h.world.claim("ay", topic=Y, stance="OPPOSES", stated="2025-01-01")
    h.world.claim("bx", actor=B, stance="NEUTRAL", stated="2025-01-02")
    h.project()
    everything = h.model.positions(None, None, None, None)
    assert [(p.actor, p.topic, p.stance) for p in everything] == [
        (A, X, "SUPPORTS"),
        (A, Y, "OPPOSES"),
        (B, X, "NEUTRAL"),
    ]
    assert [p.topic for p in h.model.positions(A, None, None, None)] == [X, Y]
    assert [p.actor for p in h.model.positions(None, X, None, None)] == [A, B]
    assert h.model.positions(None, None, date(2024, 12, 31), None) == []
    pairs = [(B, Y), (A, X), ("nobody", X), (B, X)]
    found = h.model.positions_for_pairs(pairs, None, None)
    assert [None if p is None else p.stance for p in found] == [None, "SUPPORTS", None, "NEUTRAL"]
