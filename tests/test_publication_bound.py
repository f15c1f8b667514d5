"""The publication bound: a claim counts from the earlier of the end of its stated period
and the last day of its source's publication (a statement is never later than its report)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from api_support import api_env
from api_support import claim_data as api_claim
from factories import PRINCIPAL, TEXT, Harness, cid, source_data

from ledger import commands as c
from projections.handlers import counts_from
from projections.views import ClaimFilter

A, X = "alice-a", "topic-x"
US = timedelta(microseconds=1)
FEB_13 = "src-feb-13"  # published 2025-02-13 (DAY)
APRIL = "src-april"  # published "2025-04" (MONTH precision)
JUNE = "src-june"  # published 2025-06-20


@pytest.fixture
def h(database_url: str) -> Iterator[Harness]:
    harness = Harness(database_url)
    with harness.world.ledger.batch(PRINCIPAL) as batch:
        for n, (key, published) in enumerate(((FEB_13, "2025-02-13"), (APRIL, "2025-04"), (JUNE, "2025-06-20"))):
            batch.register_source(c.parse_source(source_data(key, text=f"{TEXT} Edition {n}.", published=published)))
    yield harness
    harness.close()


def bound(h: Harness, key: str) -> tuple[date, str]:
    claim = h.model.claims_by_ids([cid(key)], None)[0]
    assert claim is not None
    return claim.counts_from, claim.counts_from_reason


def stance(h: Harness, as_of: str) -> str | None:
    found = h.model.position(A, X, date.fromisoformat(as_of), None)
    return None if found is None else found.stance


def test_month_and_year_claims_count_from_the_publication_inside_their_period(h: Harness) -> None:
    h.world.claim("month", stated="2025-02", source=FEB_13)
    h.world.claim("year", stated="2025", source=FEB_13, topic="topic-y")
    h.world.claim("day", stated="2025-02-10", source=FEB_13, actor="bob-b")
    h.world.claim("day-of-publication", stated="2025-02-13", source=FEB_13, actor="carol-c")
    h.project()
    assert bound(h, "month") == (date(2025, 2, 13), "SOURCE_PUBLISHED")
    assert bound(h, "year") == (date(2025, 2, 13), "SOURCE_PUBLISHED")
    assert bound(h, "day") == (date(2025, 2, 10), "STATED_PERIOD")
    assert bound(h, "day-of-publication") == (date(2025, 2, 13), "STATED_PERIOD")  # equal: the period says it
    # The period itself is still what the source says.
    month = h.model.claims_by_ids([cid("month")], None)[0]
    assert month is not None and (month.stated.date, month.stated.latest) == ("2025-02", date(2025, 2, 28))

    assert stance(h, "2025-02-12") is None
    assert stance(h, "2025-02-13") == "SUPPORTS"  # no longer waits for 28 February
    assert h.model.position(A, "topic-y", date(2025, 2, 13), None) is not None


def test_a_source_of_month_precision_bounds_at_the_end_of_its_month(h: Harness) -> None:
    h.world.claim("year", stated="2025", source=APRIL)
    h.world.claim("month", stated="2025-04", source=APRIL, topic="topic-y")
    h.world.claim("march", stated="2025-03", source=APRIL, actor="bob-b")
    h.project()
    assert bound(h, "year") == (date(2025, 4, 30), "SOURCE_PUBLISHED")
    assert bound(h, "month") == (date(2025, 4, 30), "STATED_PERIOD")
    assert bound(h, "march") == (date(2025, 3, 31), "STATED_PERIOD")
    assert stance(h, "2025-04-29") is None and stance(h, "2025-04-30") == "SUPPORTS"


def test_order_is_bound_then_start_of_period_then_log_order(h: Harness) -> None:
    # Recorded first: the rejection of 13 February. Then the proposal made "in February",
    # reported by the same article of 13 February: it cannot be later, so it comes first.
    h.world.claim("rejection", stance="OPPOSES", stated="2025-02-13", source=FEB_13)
    h.world.claim("proposal", stance="SUPPORTS", stated="2025-02", source=FEB_13)
    h.world.claim("same-day", stance="OPPOSES", stated="2025-02-13", source=FEB_13, topic="topic-y")
    h.project()
    found = h.model.position(A, X, date(2025, 2, 13), None)
    assert found is not None and found.stance == "OPPOSES" and found.claim.key == "rejection"
    assert found.since.date == "2025-02-13"
    timeline = h.model.timeline(A, X, None)
    assert [(t.stance, t.claim.key) for t in timeline] == [("SUPPORTS", "proposal"), ("OPPOSES", "rejection")]

    every = h.model.claims(ClaimFilter(), 10, None, None).items
    assert [claim.key for claim in every] == ["proposal", "rejection", "same-day"]  # then log order
    walked, after = [], None
    while True:  # keyset pages of one follow the same order
        page = h.model.claims(ClaimFilter(), 1, after, None)
        walked += [claim.key for claim in page.items]
        if not page.has_next_page:
            break
        after = page.cursors[-1]
    assert walked == ["proposal", "rejection", "same-day"]

    # Date filters use the bound: the February proposal counts by 13 February.
    window = h.model.claims(ClaimFilter(stated_from=date(2025, 2, 13), stated_to=date(2025, 2, 13)), 10, None, None)
    assert [claim.key for claim in window.items] == ["proposal", "rejection", "same-day"]
    assert h.model.claims(ClaimFilter(stated_from=date(2025, 2, 14)), 10, None, None).items == []


def test_a_revision_of_the_stated_date_or_the_source_recomputes_the_bound(h: Harness) -> None:
    h.world.claim("moved", stated="2025-02", source=FEB_13)
    h.world.revise("moved", {"stated": {"date": "2025-01"}}, reason="it was January")
    h.world.revise("moved", {"stated": {"date": "2025"}}, reason="only the year is certain")
    h.world.claim("re-sourced", stated="2025", source=FEB_13, topic="topic-y")
    h.world.revise("re-sourced", {"source": JUNE}, reason="taken from the later article")
    h.project()
    assert bound(h, "moved") == (date(2025, 2, 13), "SOURCE_PUBLISHED")
    assert bound(h, "re-sourced") == (date(2025, 6, 20), "SOURCE_PUBLISHED")

    versions = h.history("moved")
    january = h.model.claims_by_ids([cid("moved")], versions[2].recorded_at - US)[0]
    assert january is not None and (january.counts_from, january.counts_from_reason) == (
        date(2025, 1, 31),
        "STATED_PERIOD",
    )
    old_source = h.model.claims_by_ids([cid("re-sourced")], h.history("re-sourced")[1].recorded_at - US)[0]
    assert old_source is not None and old_source.counts_from == date(2025, 2, 13)
    assert h.model.position(A, "topic-y", date(2025, 6, 19), None) is None
    assert h.model.position(A, "topic-y", date(2025, 6, 20), None) is not None


def test_a_rebuilt_read_model_has_the_same_bounds(h: Harness) -> None:
    h.world.claims(
        [
            {"key": "a", "stated": "2025-02", "source": FEB_13},
            {"key": "b", "stated": "2025", "source": APRIL},
            {"key": "c", "stated": "2025-02-01", "source": JUNE},
        ]
    )
    h.project()
    before = [bound(h, k) for k in "abc"]
    h.projector.rebuild()
    assert (
        [bound(h, k) for k in "abc"]
        == before
        == [
            (date(2025, 2, 13), "SOURCE_PUBLISHED"),
            (date(2025, 4, 30), "SOURCE_PUBLISHED"),
            (date(2025, 2, 1), "STATED_PERIOD"),
        ]
    )


def test_the_api_shows_the_bound_and_why(database_url: str) -> None:
    with api_env(database_url) as api:  # its source is published 2025-03-01
        with api.ledger.batch("test:seed") as batch:
            batch.record_claim(
                c.parse_claim(
                    api_claim("c-year", "minister", "taurus", "OPPOSES", "2025", "A ceasefire must come first.")
                )
            )
        api.caught_up()
        query = "{ claims(filter: {actor: $a}) { nodes { key statedOn { latest } countsFrom countsFromReason } } }"
        nodes = api.gql.data(query.replace("$a", '"minister"'))["claims"]["nodes"]
        position = api.gql.data('{ position(actor: "minister", topic: "taurus", asOf: "2025-03-01") { stance } }')
    assert nodes == [
        {"key": "c-minister", "statedOn": {"latest": "2025-02-25"}, "countsFrom": "2025-02-25",
         "countsFromReason": "STATED_PERIOD"},
        {"key": "c-year", "statedOn": {"latest": "2025-12-31"}, "countsFrom": "2025-03-01",
         "countsFromReason": "SOURCE_PUBLISHED"},
    ]  # fmt: skip
    assert position == {"position": {"stance": "OPPOSES"}}


def revise_publication(h: Harness, source_key: str, day: str, reason: str = "dateline") -> None:
    # No command revises a source yet; the projector still follows a Source.Revised event.
    with h.world.ledger.batch("editor") as batch:
        source = batch.source_for(source_key)
        published = source.metadata["published"]
        after = {**published, "date": day}
        source.revise(changes={"published": {"before": published, "after": after}}, reason=reason, recorded_by="editor")
        batch.stage(source)


def test_a_revised_publication_date_moves_the_bound_from_then_on_and_keeps_the_record_before(h: Harness) -> None:
    h.world.claim("before", stated="2025-02", source=FEB_13)
    h.world.claim("day", stated="2025-02-01", source=FEB_13, topic="topic-y")  # its bound does not move
    h.project()  # the projector now remembers FEB_13's publication between batches
    # One batch: a claim revision, the source revision, another claim revision (order inside a batch).
    h.world.revise("before", {"summary": "Said in February."}, reason="wording")
    revise_publication(h, FEB_13, "2025-02-20")
    h.world.revise("before", {"summary": "Said in February, reported late."}, reason="wording")
    h.project()
    h.world.claim("after", stated="2025", source=FEB_13, actor="bob-b")
    h.project()

    history = h.history("before")
    assert [(e.type, e.version) for e in history] == [
        ("RECORDED", 1), ("REVISED", 2), ("SOURCE_REVISED", 2), ("REVISED", 3)
    ]  # fmt: skip
    moved = history[2]
    assert moved.reason == "dateline" and moved.recorded_by == "editor"
    assert [(f.field, f.before, f.after) for f in moved.changes] == [("countsFrom", "2025-02-13", "2025-02-20")]
    assert [e.type for e in h.history("day")] == ["RECORDED"]

    def at(key: str, known_at: datetime | None) -> tuple[int, date] | None:
        claim = h.model.claims_by_ids([cid(key)], known_at)[0]
        return None if claim is None else (claim.version, claim.counts_from)

    def stance_at(known_at: datetime | None) -> str | None:
        found = h.model.position(A, X, date(2025, 2, 15), known_at)
        return None if found is None else found.stance

    t = moved.recorded_at
    for _ in range(2):  # as projected, then rebuilt from the log
        # Known before the source revision: the bound the ledger gave then, in every version.
        assert at("before", history[0].recorded_at) == (1, date(2025, 2, 13))
        assert at("before", t - US) == (2, date(2025, 2, 13)) and stance_at(t - US) == "SUPPORTS"
        # From the revision on: the new bound, for the same version and for the later one.
        assert at("before", t) == (2, date(2025, 2, 20)) and stance_at(t) is None
        assert at("before", None) == (3, date(2025, 2, 20)) and stance_at(None) is None
        assert at("day", t - US) == at("day", None) == (1, date(2025, 2, 1))
        assert bound(h, "after") == (date(2025, 2, 20), "SOURCE_PUBLISHED")
        timeline = h.model.timeline(A, X, t - US)
        assert [c.counts_from for c in (change.claim for change in timeline)] == [date(2025, 2, 13)]
        h.projector.rebuild()


def test_a_publication_revised_to_before_the_stated_period_does_not_bound_the_claim(h: Harness) -> None:
    h.world.claim("feb", stated="2025-02", source=FEB_13)
    h.project()
    # Recording a claim stated after its source's publication is refused; a source revision is not
    # checked, so the read model must not let the claim count before its own stated period.
    revise_publication(h, FEB_13, "2025-01-15")
    h.project()
    assert bound(h, "feb") == (date(2025, 2, 28), "STATED_PERIOD")
    assert stance(h, "2025-02-27") is None and stance(h, "2025-02-28") == "SUPPORTS"
    assert [e.type for e in h.history("feb")] == ["RECORDED", "SOURCE_REVISED"]


def test_a_history_bounded_by_a_tree_size_holds_a_source_revision_from_its_own_event_on(h: Harness) -> None:
    # A pinned Claim.history lists the events among the log's first N: a SOURCE_REVISED row (its own row
    # number negative) counts by the position of the Source.Revised event that made it.
    h.world.claim("feb", stated="2025-02", source=FEB_13)
    h.project()
    before = h.world.head()
    revise_publication(h, FEB_13, "2025-01-15")
    h.project()
    after = h.world.head()

    def types(size: int | None) -> list[tuple[str, int]]:
        return [(e.type, e.position) for e in h.model.claim_histories([cid("feb")], size)[0]]

    recorded = ("RECORDED", before)
    assert types(before) == [recorded] and types(after - 1) == [recorded]
    assert types(after) == types(None) == [recorded, ("SOURCE_REVISED", after)]
    assert types(0) == []


def test_the_api_shows_a_source_revision_in_the_claim_history(database_url: str) -> None:
    with api_env(database_url) as api:  # its source "berlin-interview" is published 2025-03-01
        with api.ledger.batch("test:seed") as batch:
            claim = api_claim("c-year", "minister", "taurus", "OPPOSES", "2025", "A ceasefire must come first.")
            batch.record_claim(c.parse_claim(claim))
        with api.ledger.batch("editor") as batch:
            source = batch.source_for("berlin-interview")
            published = source.metadata["published"]
            after = {**published, "date": "2025-03-05"}
            source.revise(changes={"published": {"before": published, "after": after}}, reason="dateline",
                          recorded_by="editor")  # fmt: skip
            batch.stage(source)
        api.caught_up()
        query = """query ($k: DateTime) { claims(filter: {actor: "minister", topic: "taurus"}, knownAt: $k) {
          nodes { key version countsFrom history { type version changes { field before after } } } } }"""
        nodes = api.gql.data(query)["claims"]["nodes"]
        year = next(n for n in nodes if n["key"] == "c-year")
        assert (year["version"], year["countsFrom"]) == (1, "2025-03-05")
        assert year["history"] == [
            {"type": "RECORDED", "version": 1, "changes": []},
            {"type": "SOURCE_REVISED", "version": 1,
             "changes": [{"field": "countsFrom", "before": "2025-03-01", "after": "2025-03-05"}]},
        ]  # fmt: skip


def test_the_bound_rule_on_each_side_of_the_stated_period() -> None:
    """``handlers.counts_from`` itself: before, inside, on the edges of and after [earliest, latest]."""
    period = ("2025-02-01", "2025-02-28")
    assert counts_from(*period, "2025-01-31") == "2025-02-28"  # published before the period: contradictory, ignored
    assert counts_from(*period, "2025-02-01") == "2025-02-01"
    assert counts_from(*period, "2025-02-13") == "2025-02-13"
    assert counts_from(*period, "2025-02-28") == "2025-02-28"
    assert counts_from(*period, "2025-03-01") == "2025-02-28"  # published after: the period's end


def test_a_source_registered_and_revised_in_one_projected_batch_takes_a_row_of_its_own(h: Harness) -> None:
    """The projector numbers SOURCE_REVISED rows downwards from the lowest in the table: a batch that
    revises the publication of a source it also registers must not start again at -1 (taken by an
    earlier batch's revision: the projector failed on the unique row and retried for ever)."""
    h.world.claim("first", stated="2025-02", source=FEB_13)
    revise_publication(h, FEB_13, "2025-02-20")  # FEB_13's claim moves: a SOURCE_REVISED row (-1)
    h.project()
    with h.world.ledger.batch(PRINCIPAL) as batch:
        batch.register_source(c.parse_source(source_data("src-late", text=f"{TEXT} Late.", published="2025-03-05")))
    h.world.claim("second", stated="2025-03", source="src-late", topic="topic-y")
    revise_publication(h, "src-late", "2025-03-10")  # in the same batch as its source: another row
    h.project()
    assert bound(h, "first") == (date(2025, 2, 20), "SOURCE_PUBLISHED")
    assert bound(h, "second") == (date(2025, 3, 10), "SOURCE_PUBLISHED")
    assert [e.type for e in h.history("second")] == ["RECORDED", "SOURCE_REVISED"]


def test_the_rows_a_source_revision_takes_are_the_same_after_a_rebuild(h: Harness) -> None:
    """The SOURCE_REVISED rows of one revision moving several claims are numbered in the claims' log order:
    the order the projector loaded them in (its preload has no order, and a claim with an event of its own in
    the batch came first) made an incremental model and a rebuild of the same log differ."""
    h.world.claim("first", stated="2025-02", source=FEB_13)
    h.world.claim("second", stated="2025-02", source=FEB_13, topic="topic-y")
    h.project()
    h.world.revise("second", {"summary": "a corrected summary"})  # (its claim loaded first in the next batch)
    revise_publication(h, FEB_13, "2025-02-20")
    h.project()
    query = "SELECT position, log_position, claim_id FROM rm_claim_versions WHERE position < 0 ORDER BY position"
    incremental = list(h.projector.conn.execute(query))
    assert [str(row[2]) for row in incremental] == [str(cid("second")), str(cid("first"))]  # -2, -1: log order
    h.projector.rebuild()
    assert list(h.projector.conn.execute(query)) == incremental
