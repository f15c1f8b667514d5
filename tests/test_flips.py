"""Consistency labels (Flip-O-Meter terms) between consecutive claims of a pair, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from factories import Harness

from projections.flips import FULL_FLOP, HALF_FLIP, NO_FLIP, FlipFilter, flip_label


@pytest.fixture
def h(database_url: str) -> Iterator[Harness]:
    harness = Harness(database_url)
    yield harness
    harness.close()


def test_the_rule_is_complete() -> None:
    stances = ("SUPPORTS", "OPPOSES", "CONDITIONAL", "NEUTRAL")
    for before in stances:
        for after in stances:
            label = flip_label(before, after)
            if before == after:
                assert label == NO_FLIP
            elif {before, after} == {"SUPPORTS", "OPPOSES"}:
                assert label == FULL_FLOP
            else:
                assert label == HALF_FLIP and ("CONDITIONAL" in (before, after) or "NEUTRAL" in (before, after))


def _story(h: Harness) -> None:
    # alice on topic-x: SUPPORTS (2024-03) -> SUPPORTS (2024-06) -> OPPOSES (2025-01) -> CONDITIONAL (2025-05)
    #                   -> SUPPORTS (2025-09, later retracted)
    # bob on topic-x: OPPOSES (2025-02) -> SUPPORTS (2025-04); carol on topic-y: one claim only.
    h.world.claims(
        [
            {"key": "a1", "stance": "SUPPORTS", "stated": "2024-03-01"},
            {"key": "a2", "stance": "SUPPORTS", "stated": "2024-06-01"},
            {"key": "a3", "stance": "OPPOSES", "stated": "2025-01-10"},
            {"key": "a4", "stance": "CONDITIONAL", "stated": "2025-05-05"},
            {"key": "a5", "stance": "SUPPORTS", "stated": "2025-09-09"},
            {"key": "b1", "actor": "bob-b", "stance": "OPPOSES", "stated": "2025-02-02"},
            {"key": "b2", "actor": "bob-b", "stance": "SUPPORTS", "stated": "2025-04-04"},
            {"key": "c1", "actor": "carol-c", "topic": "topic-y", "stance": "NEUTRAL", "stated": "2025-03-03"},
        ]
    )


def test_labels_tie_the_two_claims_and_filter_by_label_and_date(h: Harness) -> None:
    _story(h)
    h.project()
    page = h.model.flips(FlipFilter(actor="alice-a"), 10, None, None)
    assert [(f.label, f.before.key, f.after.key) for f in page.items] == [
        (NO_FLIP, "a1", "a2"),
        (FULL_FLOP, "a2", "a3"),
        (HALF_FLIP, "a3", "a4"),
        (HALF_FLIP, "a4", "a5"),
    ]
    in_2025 = FlipFilter(label=FULL_FLOP, start=date(2025, 1, 1), end=date(2025, 12, 31))
    every = h.model.flips(in_2025, 10, None, None)
    assert [(f.after.actor, f.before.key, f.after.key) for f in every.items] == [
        ("alice-a", "a2", "a3"),
        ("bob-b", "b1", "b2"),
    ]
    first = h.model.flips(in_2025, 1, None, None)
    assert first.has_next_page and [f.after.key for f in first.items] == ["a3"]
    rest = h.model.flips(in_2025, 1, first.cursors[-1], None)
    assert not rest.has_next_page and [f.after.key for f in rest.items] == ["b2"]
    assert h.model.flips(FlipFilter(label=FULL_FLOP, end=date(2024, 12, 31)), 10, None, None).items == []


def test_summaries_and_record_time(h: Harness) -> None:
    _story(h)
    h.project()
    before_retraction = h.model.flip_summaries(FlipFilter(), None)
    assert [(s.actor, s.topic, s.claims, s.no_flips, s.half_flips, s.full_flops) for s in before_retraction] == [
        ("alice-a", "topic-x", 5, 1, 2, 1),
        ("bob-b", "topic-x", 2, 0, 0, 1),
        ("carol-c", "topic-y", 1, 0, 0, 0),
    ]
    moment = datetime.now(UTC)
    h.world.retract("a5")
    h.world.revise("b2", {"stance": "CONDITIONAL"})
    h.project()
    now = {(s.actor, s.topic): (s.claims, s.half_flips, s.full_flops) for s in h.model.flip_summaries(FlipFilter(), None)}
    assert now[("alice-a", "topic-x")] == (4, 1, 1)  # the retracted claim no longer counts
    assert now[("bob-b", "topic-x")] == (2, 1, 0)  # a revision turned the full flop into a half flip
    then = h.model.flips(FlipFilter(actor="bob-b"), 10, None, moment)
    assert [f.label for f in then.items] == [FULL_FLOP]  # as the ledger knew it before the corrections
