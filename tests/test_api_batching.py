"""DataLoaders: a 50 x 10 positions matrix with nested objects costs a handful of SQL queries."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast
from uuid import UUID

from api_support import SOURCE, api_env, passage

from api.graphql.loaders import Loaders
from ledger import commands as c
from ledger.application import ClaimsLedger
from projections.queries import open_read_model
from projections.views import SourceView

ACTORS, TOPICS = 50, 10
MATRIX = """{ positions {
  stance since { date precision }
  actor { key name } topic { key title }
  sinceClaim { key }
  claim { key statedOn { date } passage { exact } source { id title publisher } actor { name } topic { proposition } }
} }"""


class _CountingConnection:
    def __init__(self, conn: Any, counter: list[str]) -> None:
        self._conn = conn
        self._counter = counter

    def execute(self, sql: str, params: Any = (), **options: Any) -> Any:
        self._counter.append(sql)
        return self._conn.execute(sql, params, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class _CountingReaders:
    """Wraps the read model's connection source: every SQL statement is counted, then run for real."""

    def __init__(self, readers: Any) -> None:
        self._readers = readers
        self.statements: list[str] = []

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        with self._readers.connection() as conn:
            yield _CountingConnection(conn, self.statements)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._readers, name)


def _matrix(url: str) -> None:
    with ClaimsLedger.open(url) as ledger, ledger.batch("test:matrix") as b:
        for t in range(TOPICS):
            b.define_topic(c.parse_topic({"key": f"topic-{t}", "title": f"Topic {t}", "proposition": f"P{t}"}))
        for a in range(ACTORS):
            b.register_actor(c.parse_actor({"key": f"actor-{a}", "name": f"Actor {a}", "kind": "PERSON"}))
            for t in range(TOPICS):
                data = {
                    "key": f"m-{a}-{t}", "actor": f"actor-{a}", "topic": f"topic-{t}",
                    "stance": ("SUPPORTS", "OPPOSES")[(a + t) % 2], "summary": "s", "stated": "2025-02-01",
                    "source": SOURCE["key"], "passage": passage("A ceasefire must come first."),
                    "attribution": "REPORTED",
                }  # fmt: skip
                b.record_claim(c.parse_claim(data))


def test_positions_matrix_costs_a_handful_of_queries(database_url: str) -> None:
    model = open_read_model(database_url)
    counting = _CountingReaders(model.readers)
    model.readers = counting  # type: ignore[assignment]
    with api_env(database_url, read_model=model) as api:
        _matrix(database_url)
        api.caught_up()
        counting.statements.clear()
        data = api.gql.data(MATRIX)
        statements = list(counting.statements)
    positions = data["positions"]
    matrix = [p for p in positions if p["actor"]["key"].startswith("actor-")]
    assert len(matrix) == ACTORS * TOPICS
    assert {p["claim"]["source"]["title"] for p in matrix} == {"Interview in Berlin"}
    assert all(p["sinceClaim"]["key"] == p["claim"]["key"] for p in matrix)
    # positions (pairs + positions) + actors + topics + sources + since-claims: no per-row queries;
    # plus two per request: collection sizes for the cost check and the projected position for the basis.
    print(f"positions matrix: {len(statements)} SQL statements")
    assert len(statements) <= 12, "\n".join(statements)


def test_a_primed_source_is_answered_without_a_dataloader_and_the_dataloader_made_later_holds_it() -> None:
    """``Loaders.prime_source`` (a position's claim's source, read with the position): kept beside until a
    field loads sources through the DataLoader, which then starts with it; the first value primed for a
    key stays, as DataLoader.prime keeps it; once the DataLoader is made, priming goes to it."""

    def source(n: int, title: str) -> SourceView:
        return cast(SourceView, SimpleNamespace(id=UUID(int=n), title=title))

    async def check() -> None:
        loaders = Loaders(cast(Any, None))  # (no read: every key asked is primed)
        first, second = (UUID(int=1), None), (UUID(int=2), None)
        loaders.prime_source(first, source(1, "A"))
        loaders.prime_source(first, source(1, "A again"))
        assert "source" not in vars(loaders)  # no DataLoader made
        primed = loaders.primed_source(first)
        assert primed is not None and primed.title == "A"
        assert loaders.primed_source((UUID(int=1), datetime(2026, 1, 1, tzinfo=UTC))) is None  # (another time)
        assert (await loaders.source.load(first)).title == "A"  # type: ignore[union-attr]
        loaders.prime_source(second, source(2, "B"))
        assert (await loaders.source.load(second)).title == "B"  # type: ignore[union-attr]

    asyncio.run(check())
