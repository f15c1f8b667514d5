"""The projector's inlined hot path (``Changes.fast``) writes the same tables as the reference.

The reference applies every event through its handler in ``handlers.HANDLERS``; the fast path
inlines ``claim_recorded`` and the row it writes. Both rebuild the same generated ledger
(claims in every date precision, with and without quotes, revisions of content, speaker,
topic and source, retractions, links, actor and topic renames, a source whose publication
moves, API keys) and every read-model table must hold the same rows, value for value.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import pytest
from factories import ACTORS, TEXT, TOPICS, Harness, actor_data, model_rows, source_data

from ledger import commands as c
from ledger.errors import BadInput
from projections import handlers
from projections.db import connect
from projections.projector import Projector

SOURCES = ("src-main", "src-late")


@pytest.fixture
def h(database_url: str) -> Iterator[Harness]:
    harness = Harness(database_url, batch_size=7)
    yield harness
    harness.close()


def revise_publication(h: Harness, source_key: str, day: str) -> None:
    # No command revises a source; the projector follows a Source.Revised event all the same.
    with h.world.ledger.batch("editor") as batch:
        source = batch.source_for(source_key)
        published = source.metadata["published"]
        after = {**published, "date": day}
        source.revise(changes={"published": {"before": published, "after": after}}, reason="dateline", recorded_by="ed")
        batch.stage(source)


def generate(h: Harness, seed: int = 13) -> None:
    rng = random.Random(seed)
    w = h.world

    def revise(key: str, changes: dict[str, Any]) -> None:
        with contextlib.suppress(BadInput):  # a random change that changes nothing
            w.revise(key, changes)

    with w.ledger.batch("tester") as batch:
        batch.register_source(c.parse_source(source_data("src-late", text=TEXT + " Late edition.")))
    keys: list[str] = []  # claims not retracted
    recorded = 0
    for round_ in range(6):
        specs = []
        for _ in range(rng.randrange(3, 12)):
            key, recorded = f"c{recorded}", recorded + 1
            stated = rng.choice(("2024-05-17", "2024-05", "2024", "2023-02-28"))
            spec: dict[str, Any] = {
                "key": key, "actor": rng.choice(ACTORS), "topic": rng.choice(TOPICS),
                "stance": rng.choice(("SUPPORTS", "OPPOSES", "NEUTRAL")), "source": rng.choice(SOURCES),
                "stated": {"date": stated, "approximate": rng.random() < 0.3} if rng.random() < 0.5 else stated,
            }  # fmt: skip
            if rng.random() < 0.4:
                spec["quote"] = {"text": f"Quoted «{key}» — Straße", "language": rng.choice(("en", "de"))}
            if rng.random() < 0.3:
                spec["value"], spec["conditions"] = "12%", "if the budget allows"
            specs.append(spec)
        w.claims(specs)  # many claims in one ledger batch
        keys.extend(s["key"] for s in specs)
        for key in rng.sample(keys, 3):
            revise(key, {"summary": f"revised {key} in round {round_}", "stance": rng.choice(("OPPOSES", "NEUTRAL"))})
        revise(rng.choice(keys), {"actor": rng.choice(ACTORS), "topic": rng.choice(TOPICS)})
        revise(rng.choice(keys), {"source": rng.choice(SOURCES), "stated": {"date": "2023-11"}})
        w.link(rng.choice(keys), rng.choice(("SUPERSEDES", "DISPUTES")), rng.choice(keys))
        if round_ == 2:
            revise_publication(h, "src-late", "2024-06-30")  # moves the bound of claims citing it
            w.revise_actor(ACTORS[1], name="Robert Renamed", aliases=["Bobby", "R. R."])
            w.ledger.issue_api_key("reader-1", "reader", "admin")
        if round_ == 4:
            revise_publication(h, "src-late", "2024-11-30")
            with w.ledger.batch("tester") as batch:
                batch.define_topic(
                    c.parse_topic({"key": TOPICS[0], "title": "Renamed topic", "proposition": "p."}), "renamed"
                )
            w.ledger.revoke_api_key("reader-1", "leaked", "admin")
        w.retract(keys.pop(rng.randrange(len(keys))))
    with w.ledger.batch("tester") as batch:  # a pair whose only claim is never revised
        batch.register_actor(c.parse_actor(actor_data("dave-d")))
    w.claim("only-recorded", actor="dave-d", topic=TOPICS[1])


def event_kinds(url: str) -> set[str]:
    conn = connect(url)
    try:
        return {str(row[0]) for row in conn.execute("SELECT DISTINCT event FROM rm_claim_versions")}
    finally:
        conn.close()


@pytest.mark.parametrize("batch_size", [7, 5000])
def test_the_fast_path_writes_the_tables_the_reference_handlers_write(h: Harness, batch_size: int) -> None:
    generate(h)
    head = h.world.head()
    reference = Projector(h.url, batch_size=batch_size, ledger=h.world.ledger, fast=False)
    fast = Projector(h.url, batch_size=batch_size, ledger=h.world.ledger)
    try:
        assert reference.rebuild() == head
        expected = model_rows(h.url)
        assert fast.rebuild() == head
        assert model_rows(h.url) == expected
    finally:
        reference.close()
        fast.close()
    assert event_kinds(h.url) == {"RECORDED", "REVISED", "RETRACTED", "LINKED", "SOURCE_REVISED"}


def test_the_fast_path_does_not_go_through_the_claim_recorded_handler(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So the comparison above compares two paths, not one with itself."""
    h.world.claim("c1")

    def refuse(changes: handlers.Changes, e: handlers.Event) -> None:
        raise AssertionError("the reference handler ran")

    monkeypatch.setitem(handlers.BY_TOPIC, handlers.CLAIM_RECORDED, refuse)
    assert h.projector.rebuild() == h.world.head()
    reference = Projector(h.url, ledger=h.world.ledger, fast=False)
    try:
        with pytest.raises(AssertionError, match="the reference handler ran"):
            reference.rebuild()
    finally:
        reference.close()
