"""Shared helpers for the ledger tests: a small valid world and raw SQL for tampering."""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from ledger import commands as c
from ledger.application import ClaimsLedger
from ledger.persistence import LoggedEvent

TEXT = (
    "Am Mittwoch sagte US-Verteidigungsminister Pete Hegseth in Brüssel, eine Nato-Mitgliedschaft "
    "der Ukraine sei nicht realistisch. Selenskyj widersprach am Donnerstag: Die Ukraine gehöre in die Nato."
)
HEGSETH_PASSAGE = "eine Nato-Mitgliedschaft der Ukraine sei nicht realistisch"
ZELENSKY_PASSAGE = "Die Ukraine gehöre in die Nato"


def source(**overrides: Any) -> dict[str, Any]:
    data = {
        "key": "tagesschau-2025-02-13",
        "title": "Hegseth in Brüssel",
        "publisher": "tagesschau.de",
        "authors": ["Redaktion"],
        "published": {"date": "2025-02-13", "note": "dateline"},
        "language": "de",
        "genre": "NEWS",
        "text": TEXT,
    }
    data.update(overrides)
    return data


def actor(key: str = "pete-hegseth", **overrides: Any) -> dict[str, Any]:
    data = {"key": key, "name": key.replace("-", " ").title(), "kind": "PERSON", "aliases": [key.split("-")[-1]]}
    data.update(overrides)
    return data


def topic(**overrides: Any) -> dict[str, Any]:
    data = {
        "key": "ukraine-nato-membership",
        "title": "NATO membership",
        "proposition": "Ukraine becomes a member of NATO.",
    }
    data.update(overrides)
    return data


def passage(exact: str = HEGSETH_PASSAGE) -> dict[str, Any]:
    start = TEXT.index(exact)
    return {"start": start, "end": start + len(exact), "exact": exact}


def claim(**overrides: Any) -> dict[str, Any]:
    data = {
        "key": "hegseth-nato-1",
        "actor": "pete-hegseth",
        "topic": "ukraine-nato-membership",
        "stance": "OPPOSES",
        "summary": "Hegseth says NATO membership for Ukraine is not realistic.",
        "stated": {"date": "2025-02-12", "note": "'am Mittwoch' relative to publication 2025-02-13"},
        "channel": "press conference",
        "source": "tagesschau-2025-02-13",
        "passage": passage(),
        "attribution": "INDIRECT_SPEECH",
    }
    data.update(overrides)
    return data


def size(ledger: ClaimsLedger) -> int:
    """Events in the ledger's log."""
    return ledger.ledger_recorder.tree_head().size


def record(ledger: ClaimsLedger, **overrides: Any) -> Any:
    """Record :func:`claim` (with ``overrides``) in a batch of its own: (claim id, created)."""
    with ledger.batch("tester") as batch:
        claim_id, created = batch.record_claim(c.parse_claim(claim(**overrides)))
    return claim_id, created


def seed_world(ledger: ClaimsLedger, principal: str = "tester") -> None:
    """Register the source, two actors and the topic (5 events: source+key, 2 actors, topic)."""
    with ledger.batch(principal) as batch:
        batch.register_source(c.parse_source(source()))
        batch.register_actor(c.parse_actor(actor()))
        batch.register_actor(c.parse_actor(actor("volodymyr-zelensky", aliases=["Selenskyj", "Selenkskyj"])))
        batch.define_topic(c.parse_topic(topic()))


def raw_sql(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run SQL directly against the store, bypassing the ledger (for tampering)."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            rows = conn.execute(sql.replace("%s", "?"), params).fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()
    with psycopg.connect(url, autocommit=True) as pg:
        cur = pg.execute(sql, params)
        return cur.fetchall() if cur.description else []


def domain_event(ledger: ClaimsLedger, logged: LoggedEvent) -> Any:
    """The domain event a log entry holds, decoded by the ledger's mapper. ``Any``: the event classes
    (``Claim.Revised``...) and their fields are made by ``@event`` at run time, unseen by type checkers."""
    stored = StoredEvent(logged.originator_id, logged.originator_version, logged.topic, logged.state)
    return ledger.mapper.to_domain_event(stored)


def event_class(aggregate: type[Aggregate], name: str) -> type[Any]:
    """``aggregate``'s event class ``name`` (e.g. ``Claim.Revised``), which ``@event`` makes when the
    aggregate class is created: type checkers do not see it as an attribute."""
    made = getattr(aggregate, name)
    assert isinstance(made, type) and issubclass(made, Aggregate.Event), f"{aggregate.__name__}.{name}"
    return made


def locations(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every location in a JSON-like ``node`` (containers and leaves), outermost first."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from locations(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from locations(value, (*prefix, i))


REMOVED = object()  # as ``with_value_at``'s value: the location is deleted


def with_value_at(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of ``data`` with ``value`` at ``path`` (the whole of it for ``()``; REMOVED deletes)."""
    if not path:
        return value
    out = copy.deepcopy(data)
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    if value is REMOVED:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out

