"""Read queries: claims connection, lookups, batch loaders, search."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from factories import ACTORS, SOURCE_KEY, TEXT, TOPICS, Harness, cid, topic_data

from ledger import commands as c
from ledger.domain import source_id
from projections import db
from projections.views import ClaimFilter


@pytest.fixture
def h(database_url: str) -> Iterator[Harness]:
    harness = Harness(database_url)
    yield harness
    harness.close()


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement the read model runs from now on."""
    seen: list[str] = []
    for cls in (db.SQLiteConnection, db.PostgresConnection):
        real = cls.execute

        def counting(
            self: db.Connection, sql: str, params: Any = (), _real: Any = real, **options: Any
        ) -> list[tuple[Any, ...]]:
            seen.append(sql)
            return _real(self, sql, params, **options)  # type: ignore[no-any-return]

        monkeypatch.setattr(cls, "execute", counting)
    return seen


def many_claims(h: Harness, n: int = 25) -> None:
    stances = ("SUPPORTS", "OPPOSES", "NEUTRAL")
    h.world.claims(
        [
            {
                "key": f"k{i:02d}",
                "actor": ACTORS[i % 3],
                "topic": TOPICS[i % 2],
                "stance": stances[i % 3],
                "stated": (date(2024, 1, 1) + timedelta(days=(i * 7) % 40)).isoformat(),
            }
            for i in range(n)
        ]
    )


def test_keyset_pages_cover_every_claim_once_in_order(h: Harness) -> None:
    many_claims(h)
    h.project()
    keys: list[str] = []
    after = None
    pages = 0
    while True:
        page = h.model.claims(ClaimFilter(), 10, after, None)
        assert page.total_count == 25
        keys.extend(claim.key for claim in page.items)
        pages += 1
        if not page.has_next_page:
            break
        after = page.cursors[-1]
    assert pages == 3 and len(keys) == len(set(keys)) == 25
    every = h.model.claims(ClaimFilter(), 100, None, None).items
    assert [claim.key for claim in every] == keys
    order = [(claim.stated.latest, claim.stated.earliest, claim.first_position) for claim in every]
    assert order == sorted(order)
    # A cursor of the middle page resumes right after its item.
    middle = h.model.claims(ClaimFilter(), 10, None, None)
    resumed = h.model.claims(ClaimFilter(), 3, middle.cursors[4], None)
    assert [claim.key for claim in resumed.items] == keys[5:8]
    assert h.model.claims(ClaimFilter(), 0, None, None).items == []


def test_bad_cursor_is_a_value_error(h: Harness) -> None:
    h.project()
    for cursor in ("nonsense", "MXx4", "", "Mnx4fHw="):
        with pytest.raises(ValueError):
            h.model.claims(ClaimFilter(), 10, cursor, None)


def test_claim_filters(h: Harness) -> None:
    many_claims(h)
    h.world.claim(
        "quoted", stance="CONDITIONAL", stated="2024-03-15", quote={"text": "Über alles ÄRGER", "language": "de"}
    )
    h.world.retract("k00")
    h.project()

    def keys(**kwargs: object) -> set[str]:
        page = h.model.claims(ClaimFilter(**kwargs), 100, None, None)  # type: ignore[arg-type]
        assert page.total_count == len(page.items)
        return {claim.key for claim in page.items}

    everything = keys()
    assert "k00" not in everything and "k00" in keys(include_retracted=True)
    assert keys(actor=ACTORS[1]) == {f"k{i:02d}" for i in range(25) if i % 3 == 1}
    assert keys(actor=ACTORS[0], topic=TOPICS[1]) == {f"k{i:02d}" for i in range(1, 25) if i % 6 == 3}
    assert keys(stance="CONDITIONAL") == {"quoted"}
    assert keys(text="ärger") == keys(text="ÜBER ALLES") == {"quoted"}
    assert keys(text="k07") == {"k07"}  # summaries name their key
    assert keys(text="%") == set()  # LIKE wildcards are literal
    assert keys(source_id=source_id(hashlib.sha256(TEXT.encode()).hexdigest())) == everything
    assert keys(attribution="REPORTED") == set()
    window = keys(stated_from=date(2024, 1, 8), stated_to=date(2024, 1, 15))
    assert window == {claim.key for claim in h.model.claims(ClaimFilter(), 100, None, None).items
                      if date(2024, 1, 8) <= claim.stated.latest <= date(2024, 1, 15)}  # fmt: skip
    assert window


def test_batch_loaders_cost_a_handful_of_queries(h: Harness, statements: list[str]) -> None:
    many_claims(h, 30)
    h.world.revise("k01", {"stance": "CONDITIONAL"})
    h.project()
    actors = [*ACTORS, *(f"nobody-{i}" for i in range(47))]  # 50 actors
    topics = [*TOPICS, *(f"nothing-{i}" for i in range(8))]  # 10 topics
    pairs = [(a, t) for a in actors for t in topics]
    statements.clear()
    found = h.model.positions_for_pairs(pairs, None, None)
    assert len(statements) <= 3
    assert len(found) == 500 and sum(p is not None for p in found) == 6
    pair = h.model.claims(ClaimFilter(actor=ACTORS[0], topic=TOPICS[0]), 100, None, None).items
    latest = max(pair, key=lambda claim: (claim.stated.latest, claim.stated.earliest, claim.first_position))
    assert found[0] is not None and found[0].claim == latest

    ids = [cid(f"k{i:02d}") for i in range(30)]
    for load in (
        lambda: h.model.claims_by_ids(ids, None),
        lambda: h.model.claim_histories(ids),
        lambda: h.model.actors_by_keys(actors),
        lambda: h.model.topics_by_keys(topics),
        lambda: h.model.sources_by_ids([source_id("0" * 64), *ids]),
        lambda: h.model.claims_for_sources([*ids[:3]], None),
    ):
        statements.clear()
        load()
        assert len(statements) == 1

    claims = h.model.claims_by_ids([ids[1], cid("missing"), ids[1]], None)
    assert claims[0] is not None and claims[0].stance == "CONDITIONAL" and claims[1] is None and claims[2] == claims[0]
    histories = h.model.claim_histories([ids[1], cid("missing")])
    assert [e.type for e in histories[0]] == ["RECORDED", "REVISED"] and histories[1] == []


def test_claim_history_records_links(h: Harness) -> None:
    h.world.claim("a", stated="2024-01-01")
    h.world.claim("b", stated="2024-01-02", stance="OPPOSES")
    h.world.link("b", "DISPUTES", "a")
    h.project()
    history = h.history("b")
    assert [(e.version, e.type, e.recorded_by) for e in history] == [(1, "RECORDED", "tester"), (2, "LINKED", "editor")]
    assert history[1].changes[0].field == "links"
    assert history[1].changes[0].after == [{"relation": "DISPUTES", "target": str(cid("a"))}]
    claim = h.model.claims_by_ids([cid("b")], None)[0]
    assert claim is not None and [(link.relation, link.target_id) for link in claim.links] == [("DISPUTES", cid("a"))]
    before = h.model.claims_by_ids([cid("b")], history[1].recorded_at - timedelta(microseconds=1))[0]
    assert before is not None and before.links == []


def test_claims_linking_to_is_the_reverse_of_links_as_known_at(h: Harness, statements: list[str]) -> None:
    h.world.claim("a", stated="2024-01-01")
    h.world.claim("b", stated="2024-01-02", stance="OPPOSES")
    h.world.claim("c", stated="2024-01-03")
    h.world.link("b", "DISPUTES", "a")
    h.world.link("c", "SUPERSEDES", "a")
    h.world.link("c", "DISPUTES", "b")
    h.project()
    statements.clear()
    found = h.model.claims_linking_to([cid("a"), cid("b"), cid("c"), cid("missing")], None)
    assert len(statements) == 1  # one query for the whole batch
    assert [(relation, claim.key) for relation, claim in found[0]] == [("DISPUTES", "b"), ("SUPERSEDES", "c")]
    assert [(relation, claim.key) for relation, claim in found[1]] == [("DISPUTES", "c")]
    assert found[2] == [] and found[3] == []
    linked = h.history("c")[1].recorded_at  # c's first link: before it, only b disputed a
    earlier = h.model.claims_linking_to([cid("a"), cid("b")], linked - timedelta(microseconds=1))
    assert [(relation, claim.key, claim.version) for relation, claim in earlier[0]] == [("DISPUTES", "b", 2)]
    assert earlier[1] == []


def test_actors_topics_sources_and_keys(h: Harness) -> None:
    h.world.revise_actor("carol-c", name="Carole Müller", aliases=["Die Müllerin"])
    h.world.claim("src-claim")
    secret = h.world.ledger.issue_api_key("editor-1", "editor", "admin")
    h.project()

    assert [a.key for a in h.model.actors(None)] == sorted(ACTORS)
    assert [a.key for a in h.model.actors("MÜLLER")] == ["carol-c"]  # name and alias, any case
    assert [a.key for a in h.model.actors("müllerin")] == ["carol-c"]
    assert [a.key for a in h.model.actors("bob-")] == ["bob-b"]  # key
    assert [a.key for a in h.model.actors("alias")] == ["alice-a", "bob-b"]
    assert h.model.actors("_") == []
    carol = h.model.actors_by_keys(["carol-c", "zed"])
    assert carol[0] is not None and carol[0].name == "Carole Müller" and carol[1] is None
    assert carol[0].aliases == ["Die Müllerin"]

    assert [t.key for t in h.model.topics()] == sorted(TOPICS)
    assert h.model.topics_by_keys(["topic-y", "none"])[0] is not None

    (source,) = h.model.sources()
    assert source.key == SOURCE_KEY and source.published.date == "2025-12-31" and source.language == "en"
    assert source.authors == ["Reporter"] and source.sha256 == hashlib.sha256(TEXT.encode()).hexdigest()
    assert h.model.sources_by_ids([source.id]) == [source]
    assert h.model.source_texts([source.id, cid("nope")]) == [TEXT, None]
    assert h.model.source_texts([cid("nope"), source.id]) == [None, TEXT]
    (claims,) = h.model.claims_for_sources([source.id], None)
    assert [claim.key for claim in claims] == ["src-claim"]

    [key] = h.model.api_keys()
    assert (key.name, key.role, key.revoked, key.revoked_reason) == ("editor-1", "editor", False, None)
    assert secret not in repr(key) and hashlib.sha256(secret.encode()).hexdigest() not in repr(key)
    h.world.ledger.revoke_api_key("editor-1", "rotated", "admin")
    h.project()
    [revoked] = h.model.api_keys()
    assert (revoked.revoked, revoked.revoked_reason, revoked.created_at) == (True, "rotated", key.created_at)


def test_source_metadata_revision(h: Harness) -> None:
    h.project()
    with h.world.ledger.batch("editor") as batch:
        source = batch.source_for(SOURCE_KEY)
        source.revise(changes={"title": {"before": source.metadata["title"], "after": "Better title"}},
                      reason="typo", recorded_by="editor")  # fmt: skip
        batch.stage(source)
        batch.define_topic(c.parse_topic(topic_data("topic-y", title="Retitled")), "clearer title")
    h.project()
    assert [s.title for s in h.model.sources()] == ["Better title"]
    assert [t.title for t in h.model.topics_by_keys(["topic-y"]) if t] == ["Retitled"]


def test_rows_sent_as_arrays_read_back_as_they_were(database_url: str) -> None:
    """``rows_cte`` (PostgreSQL: one array per column, strings, integers and dates sent as the array's
    input text, ``db.array_text``) gives back every value as it was, and ``in_list`` finds them: strings with quotes, backslashes,
    commas, braces, blanks, the word NULL, empty, non-ASCII; NULLs; integers at int8's ends; dates;
    and a column of another type (floats, dumped by psycopg) beside them; on both stores."""
    texts = ['a"b', "back\\slash", "\\", '"', "a,b", "{x}", " padded ", "NULL", "null", "", "é ☃ 𝄞", "tab\tnew\nline"]
    rows: list[tuple[int, str | None, int | None, date | None, float | None]] = [
        (i, text, [-(2**63), 2**63 - 1, 0][i % 3], date(2024, 2, 29) + timedelta(days=i), i / 4)
        for i, text in enumerate(texts)
    ]
    rows.append((len(texts), None, None, None, None))
    conn = db.connect(database_url)
    try:
        for opaque in (False, True):
            cte, params = conn.rows_cte(
                "r", ("i", "t", "n", "d", "u"), ("int", "text", "bigint", "date", "float8"), rows, opaque=opaque
            )
            if conn.dialect == "postgresql":
                assert [isinstance(p, str) for p in params] == [True, True, True, True, False]
            found = conn.execute(f"WITH {cte} SELECT i, t, n, d, u FROM r ORDER BY i", params)
            read = [
                (i, t, n, d if d is None or isinstance(d, date) else date.fromisoformat(d), u)
                for i, t, n, d, u in found
            ]
            assert read == rows
        # strings with nothing to escape (array_text quotes them in one join) read back as they were too
        plain = [t for t in texts if '"' not in t and "\\" not in t]
        assert len(plain) == len(texts) - 4 and db.array_text(plain) == "{" + ",".join(f'"{t}"' for t in plain) + "}"
        cte, params = conn.rows_cte("r", ("i", "t"), ("int", "text"), list(enumerate(plain)), opaque=True)
        assert [t for _, t in conn.execute(f"WITH {cte} SELECT i, t FROM r ORDER BY i", params)] == plain
        # in_list (PostgreSQL: ``= ANY`` of one array, sent the same way) finds exactly the values asked for
        cte, params = conn.rows_cte("r", ("i", "t"), ("int", "text"), [(i, t) for i, t, *_ in rows[:-1]])
        asked = [texts[1], texts[7], texts[9], "not among them"]
        among, values = conn.in_list(asked, "text")
        found = conn.execute(f"WITH {cte} SELECT t FROM r WHERE t {among} ORDER BY i", [*params, *values])
        assert [t for (t,) in found] == asked[:3]
        among, values = conn.in_list([3, 5, 99], "int")
        assert [
            i for (i,) in conn.execute(f"WITH {cte} SELECT i FROM r WHERE i {among} ORDER BY i", [*params, *values])
        ] == [3, 5]
    finally:
        conn.close()
    assert db.array_text([True]) == [True] and db.array_text([1.5]) == [1.5]  # (other kinds: psycopg's)
    # a datetime is a date, but its text would depend on the session's time zone: psycopg dumps it
    moment = datetime(2024, 2, 29, 23, 30, tzinfo=UTC)
    assert db.array_text([moment]) == [moment]
    # mixed kinds are psycopg's to refuse, as before (text would let a date in a text array pass)
    assert db.array_text(["a", 1]) == ["a", 1] and db.array_text([None, "a", None]) == '{NULL,"a",NULL}'
