"""Test data built through the real ledger (commands, batches), for any test to reuse.

    world = World.open(database_url)          # ledger with a source, actors, a topic
    world.claim("c1", stance="OPPOSES", stated="2025-02")
    world.revise("c1", {"stance": "SUPPORTS"})
    world.retract("c1")

Every claim quotes a passage of one generated source text, so claims can be
recorded in any number without writing passages by hand. Positions returned
are ledger log positions (for ``ReadModel.wait_for``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger import commands as c
from ledger.application import ClaimsLedger
from ledger.domain import claim_id

PRINCIPAL = "tester"
SOURCE_KEY = "src-main"
PASSAGES = [f"Passage number {i} says something quotable." for i in range(200)]
TEXT = " ".join(PASSAGES)
ACTORS = ("alice-a", "bob-b", "carol-c")
TOPICS = ("topic-x", "topic-y")


def source_data(key: str = SOURCE_KEY, text: str = TEXT, published: str = "2025-12-31") -> dict[str, Any]:
    return {
        "key": key,
        "title": f"Source {key}",
        "publisher": "Example Times",
        "authors": ["Reporter"],
        "url": "https://example.org/article",
        "published": {"date": published, "note": "dateline"},
        "language": "en",
        "genre": "NEWS",
        "text": text,
    }


def actor_data(key: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": key,
        "name": key.replace("-", " ").title(),
        "kind": "PERSON",
        "aliases": [f"{key.split('-')[0].title()} Alias"],
    }
    data.update(overrides)
    return data


def topic_data(key: str, **overrides: Any) -> dict[str, Any]:
    data = {"key": key, "title": key.replace("-", " ").title(), "proposition": f"{key} is a good idea."}
    data.update(overrides)
    return data


def passage(index: int, text: str = TEXT) -> dict[str, Any]:
    exact = PASSAGES[index % len(PASSAGES)]
    start = text.index(exact)
    return {"start": start, "end": start + len(exact), "exact": exact}


def claim_data(
    key: str,
    *,
    actor: str = ACTORS[0],
    topic: str = TOPICS[0],
    stance: str = "SUPPORTS",
    stated: str | dict[str, Any] = "2025-02-12",
    index: int = 0,
    source: str = SOURCE_KEY,
    **overrides: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": key,
        "actor": actor,
        "topic": topic,
        "stance": stance,
        "summary": f"{actor} {stance.lower()} {topic} ({key})",
        "stated": stated if isinstance(stated, dict) else {"date": stated},
        "source": source,
        "passage": passage(index),
        "attribution": "DIRECT_QUOTE",
    }
    data.update(overrides)
    return data


@dataclass
class World:
    """A ledger seeded with one source, ACTORS and TOPICS; helpers return log positions."""

    ledger: ClaimsLedger
    url: str
    count: int = 0

    @classmethod
    def open(cls, url: str, *, seed: bool = True) -> World:
        world = cls(ClaimsLedger.open(url), url)
        if seed:
            world.seed()
        return world

    def seed(self) -> int:
        with self.ledger.batch(PRINCIPAL) as batch:
            batch.register_source(c.parse_source(source_data()))
            for key in ACTORS:
                batch.register_actor(c.parse_actor(actor_data(key)))
            for key in TOPICS:
                batch.define_topic(c.parse_topic(topic_data(key)))
        return batch.last_position

    def claim(self, key: str, **kwargs: Any) -> int:
        """Record one claim (see :func:`claim_data`); its log position."""
        kwargs.setdefault("index", self.count)
        self.count += 1
        with self.ledger.batch(PRINCIPAL) as batch:
            batch.record_claim(c.parse_claim(claim_data(key, **kwargs)))
        return batch.last_position

    def claims(self, specs: list[dict[str, Any]]) -> int:
        """Record many claims in one batch (each spec: key plus claim_data kwargs)."""
        with self.ledger.batch(PRINCIPAL) as batch:
            for spec in specs:
                spec = dict(spec)
                spec.setdefault("index", self.count)
                self.count += 1
                batch.record_claim(c.parse_claim(claim_data(**spec)))
        return batch.last_position

    def revise(self, key: str, changes: dict[str, Any], reason: str = "correction", by: str = "editor") -> int:
        with self.ledger.batch(by) as batch:
            batch.revise_claim(c.ReviseClaim(key, None, c.parse_changes(changes), reason))
        return batch.last_position

    def retract(self, key: str, reason: str = "not what was said", by: str = "editor") -> int:
        with self.ledger.batch(by) as batch:
            batch.retract_claim(c.RetractClaim(key, None, reason))
        return batch.last_position

    def link(self, key: str, relation: str, target: str, by: str = "editor") -> int:
        """A Claim.Linked event (no command issues one yet; this uses the aggregate directly)."""
        with self.ledger.batch(by) as batch:
            claim = batch.claim(key)
            claim.link(relation=relation, target=str(batch.claim(target).id), recorded_by=by)
            batch.stage(claim)
        return batch.last_position

    def revise_actor(self, key: str, reason: str = "profile update", **changes: Any) -> int:
        with self.ledger.batch(PRINCIPAL) as batch:
            batch.register_actor(c.parse_actor(actor_data(key, **changes)), reason)
        return batch.last_position

    def head(self) -> int:
        return self.ledger.ledger_recorder.tree_head().size

    def close(self) -> None:
        self.ledger.close()


def model_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table as the store returns it (no conversion), in a stable order."""
    from projections.db import connect

    conn = connect(url)
    try:
        out = {}
        for table in sorted(conn.table_names("rm_")):
            columns = "name, position" if table == "rm_tracking" else "*"  # not when it was updated
            rows = [tuple(row) for row in conn.execute(f"SELECT {columns} FROM {table}")]
            if table == "rm_meta":  # (nor the random mark of the last rebuild's switch)
                rows = [row for row in rows if row[0] != "rebuilt"]
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        conn.close()


def cid(key: str) -> Any:
    """The claim id of a claim key."""
    return claim_id(key)


class Harness:
    """A World plus the read side over the same database: project, then query."""

    def __init__(self, url: str, *, seed: bool = True, batch_size: int = 5000) -> None:
        from projections.projector import Projector
        from projections.queries import ReadModel

        self.url = url
        self.world = World.open(url, seed=seed)
        self.projector = Projector(url, batch_size=batch_size, ledger=self.world.ledger)
        self.model = ReadModel(url)

    def project(self) -> int:
        """Bring the read model up to date; the number of events projected."""
        return self.projector.catch_up()

    def history(self, key: str) -> list[Any]:
        return self.model.claim_histories([cid(key)])[0]

    def close(self) -> None:
        self.model.close()
        self.projector.close()
        self.world.close()
