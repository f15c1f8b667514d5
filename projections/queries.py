"""Every read query of the product.

The API calls these and holds no SQL. Times: ``as_of`` is a date in the world
(valid time), ``known_at`` an instant of the ledger's own record (record time);
``None`` means today / now.

Partial dates rule: a claim counts *as of D* once the evidence guarantees the
statement had been made: ``counts_from <= D``, where ``counts_from`` is the
earlier of the end of the stated period and the last day of the source's
publication (a statement cannot be later than the article that reports it;
computed by the projector). Claims are ordered by counts_from, then
stated.earliest, then log position (of the claim's first recording, so a
revision does not reorder claims with equal dates).

A claim counts *known at K* in the version that was the ledger's record at K
(``known_from_us <= K < known_to_us``); with ``known_at=None`` the current one.
Tables and row decoding: declared by the views (``views.py``), listed in ``schema.py``.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID

import psycopg

from ledger.application import ClaimsLedger
from ledger.db import chunks, database_url
from projections import changes as record_changes
from projections import flips as consistency
from projections import names, record_versions, schema
from projections.db import PG_TEXT, AsyncReaders, Connection, Readers, ReadModelUpgrading, Row, connect
from projections.freshness import PositionWatch
from projections.ledger_log import LedgerLog
from projections.resolved_names import ResolvedNames
from projections.signals import hub
from projections.tables import constructor
from projections.values import as_date, as_uuid, from_us, like_pattern, to_us
from projections.views import (
    ACTORS,
    API_KEYS,
    CLAIM_EVENTS,
    CLAIM_VERSIONS,
    SOURCES,
    TOPICS,
    ActorView,
    ApiKeyView,
    ClaimEventView,
    ClaimFilter,
    ClaimView,
    CollectionSizes,
    FlipPage,
    FlipSummaryView,
    FlipView,
    Page,
    PositionChangeView,
    PositionView,
    SourceView,
    StatedDate,
    TopicView,
)

T = TypeVar("T")
PositionAsked = tuple[str, str, date | None]  # (actor key, topic key, as of: None for today)
PAIR_CHUNK = 2000  # pairs per positions query
ORDER = "{a}.counts_from, {a}.stated_earliest, {a}.first_position"
ORDER_DESC = "{a}.counts_from DESC, {a}.stated_earliest DESC, {a}.first_position DESC"
KEY = "({a}.counts_from, {a}.stated_earliest, {a}.first_position)"
BEFORE_ALL = "0001-01-01"  # a stated date earlier than any: "no breaker" in the since-when query
WAIT_TICK = 0.05  # longest wait_for waits before re-reading the tracked position
FIRST_TICK = 0.001  # its first re-read: a commit elsewhere usually lands within milliseconds
# How often a reader of a model of its own schema looks at the model's version again (another version's
# projector may switch it): seconds, one small read each.
VERSION_RECHECK_SECONDS = 5.0


class ReadModelUnavailable(RuntimeError):
    """The read model is missing or of another schema version, and the caller may not create it."""


class ReadModel(LedgerLog):
    """The read side: every read of the API and the read commands goes through this one object.

    Query functions over the read-model tables of one database, and (inherited from
    ``ledger_log.py``) the reads of the ledger's own log; safe to share between threads."""

    def __init__(
        self,
        url: str | None = None,
        *,
        pool_size: int = 8,
        create: bool = True,
        statement_timeout: float = 0.0,
        ledger: ClaimsLedger | None = None,
    ) -> None:
        """``create=False``: only read (a read command): a missing or other-version model is an error.
        ``ledger``: read the log through this open ledger (the API process's) instead of opening one."""
        super().__init__(database_url(url), ledger)
        self.readers = Readers(self.url, pool_size=pool_size, statement_timeout=statement_timeout)
        # The API's cold ``position`` batches read on its event loop (PostgreSQL; SQLite blocks: threads).
        self.async_readers: AsyncReaders | None = None
        if self.readers.dialect == "postgresql":
            self.async_readers = AsyncReaders(self.url, size=pool_size, statement_timeout=statement_timeout)
        self.hub = hub(self.url)
        self._watch: PositionWatch | None = None
        self.resolved_names = ResolvedNames()
        with self.readers.connection() as conn:
            installed = schema.installed_version(conn)
        missing = installed is None
        if not create and installed != schema.SCHEMA_VERSION:
            self.readers.close()
            state = "has no read model" if missing else f"has a read model of schema {installed}"
            raise ReadModelUnavailable(
                f"the database {state} (this version reads schema {schema.SCHEMA_VERSION}):"
                " run `claims project` (or `claims serve`, whose projector builds it) first"
            )
        # This code reads only a model of its own schema. One of another (an upgrade: this version's projector
        # rebuilds it beside the old one and switches) raises ReadModelUpgrading (a coded 503) on every read
        # until the switch. Then the version is looked at again at most every VERSION_RECHECK_SECONDS: another
        # version's projector may switch the model away (a rollback, a newer version deployed beside this one).
        self._gated = not missing and installed != schema.SCHEMA_VERSION
        self._gate_seen = 0  # how often a look found another version (see _judge_version)
        self._gate_lock = threading.Lock()
        self._recheck_at = time.monotonic() + VERSION_RECHECK_SECONDS
        self.readers.gate = self._check_version
        if missing:  # first start: create the (empty) tables so queries work before the projector runs
            writer = connect(self.url)
            try:
                with writer.write_transaction():
                    if schema.installed_version(writer) is None:
                        schema.recreate(writer)
            finally:
                writer.close()

    @property
    def upgrading(self) -> bool:
        """Whether the model was of another schema at the last look (at start, or since: see ``_check_version``)."""
        return self._gated

    def refuse_while_upgrading(self) -> None:
        """Raise ReadModelUpgrading if the model is of another schema (a mutation asks first: it would commit,
        then fail to read its answer, and a client told to retry would write twice). Reads that take no
        reader connection (the cost sizes) ask here; the event loop's asks :meth:`refuse_while_upgrading_async`."""
        if self._recheck_due():
            with self.readers.connection():  # (its gate looks, and raises or clears)
                pass

    def _recheck_due(self) -> bool:
        """Whether a read looks at the model's version first: every read while gated, else once a period."""
        return self._gated or time.monotonic() >= self._recheck_at

    async def refuse_while_upgrading_async(self) -> None:
        """:meth:`refuse_while_upgrading` on the event loop: the version read on a loop connection (the
        threads' pool could keep the loop waiting for a connection)."""
        if not self._recheck_due():
            return
        assert self.async_readers is not None
        seen = self._gate_seen
        if not self._gated:  # (the next look is due a period from now: the batches asked meanwhile do not look too)
            with self._gate_lock:
                self._recheck_at = time.monotonic() + VERSION_RECHECK_SECONDS
        try:
            rows = await self.async_readers.execute(schema.VERSION_SQL)
        except psycopg.errors.UndefinedTable:  # (no model at all: as schema.installed_version says None)
            rows = []
        self._judge_version(schema.version_in(rows), seen)

    def _check_version(self, conn: Connection) -> None:
        """The readers' gate: one attribute and a clock read, but while the model is of another schema or when
        a recheck is due, which reads its version (two small statements)."""
        if not self._recheck_due():
            return
        seen = self._gate_seen
        self._judge_version(schema.installed_version(conn), seen)

    def _judge_version(self, installed: str | None, seen: int) -> None:
        """Gate or ungate on a version read after the gate had been set ``seen`` times: a read that began
        before the gate was last set (another thread saw the switch first) does not clear it."""
        with self._gate_lock:
            self._recheck_at = time.monotonic() + VERSION_RECHECK_SECONDS
            if installed != schema.SCHEMA_VERSION:
                self._gated = True
                self._gate_seen += 1
                raise ReadModelUpgrading(
                    f"the read model is of schema {installed}; this server reads {schema.SCHEMA_VERSION}: it is "
                    "being upgraded beside (retry shortly), or another version's projector switched it (then "
                    "restart this server with that version)"
                )
            if seen == self._gate_seen:
                self._gated = False  # switched (a switch is one transaction: the whole new model from here)

    def positions_watch(self) -> PositionWatch:
        """The read model's positions without a database read per request (the API's answer cache,
        ``api/web/http_cache.py``); made on first use, closed with the model."""
        if self._watch is None:
            self._watch = PositionWatch(self)
        return self._watch

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
        if self.async_readers is not None:
            self.async_readers.close()
        self.readers.close()
        self.close_log()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.readers.connection() as conn:
            return conn.execute(sql, params)

    # ------------------------------------------------------------ positions

    def position(self, actor: str, topic: str, as_of: date | None, known_at: datetime | None) -> PositionView | None:
        return self.position_and_source(actor, topic, as_of, known_at, with_source=False)[0]

    def position_and_source(
        self, actor: str, topic: str, as_of: date | None, known_at: datetime | None, *, with_source: bool = True
    ) -> tuple[PositionView | None, SourceView | None]:
        """One pair's position and (``with_source``) its claim's source: one prepared statement, one round trip."""
        return self.positions_and_sources([(actor, topic, as_of)], known_at, with_source=with_source)[0]

    def positions_and_sources(
        self, asked: Sequence[PositionAsked], known_at: datetime | None, *, with_source: bool = True
    ) -> list[tuple[PositionView | None, SourceView | None]]:
        """Each (actor key, topic key, as of) question's position and (``with_source``) its claim's source,
        in order, at one record time: one prepared statement (per PAIR_CHUNK questions), one round trip.

        The API's cold ``position`` requests in flight together arrive here as one batch
        (``api/graphql/loaders.py``)."""
        answers = _PositionAnswers(asked, known_at, with_source)
        with self.readers.connection() as conn:
            typed = conn.dialect == "postgresql"
            for start, (sql, params) in answers.statements(conn):
                answers.read(start, conn.execute(sql, params, prepare=True), typed=typed)
        return answers.out

    async def positions_and_sources_async(
        self, asked: Sequence[PositionAsked], known_at: datetime | None, *, with_source: bool = True
    ) -> list[tuple[PositionView | None, SourceView | None]]:
        """:meth:`positions_and_sources` on the running event loop (PostgreSQL only: :attr:`async_readers`):
        the same statements and rows to views, without a thread."""
        readers = self.async_readers
        assert readers is not None, "async reads need PostgreSQL"
        if self._recheck_due():  # (no coroutine made per batch otherwise)
            await self.refuse_while_upgrading_async()
        answers = _PositionAnswers(asked, known_at, with_source)
        for start, (sql, params) in answers.statements(PG_TEXT):
            answers.read(start, await readers.execute(sql, params, prepare=True), typed=True)
        return answers.out

    def positions(
        self, actor: str | None, topic: str | None, as_of: date | None, known_at: datetime | None
    ) -> list[PositionView]:
        """Current stance for every (actor, topic) pair with a qualifying claim, filtered."""
        where, params = [], []
        if actor is not None:
            where.append("actor = ?")
            params.append(actor)
        if topic is not None:
            where.append("topic = ?")
            params.append(topic)
        sql = "SELECT actor, topic FROM rm_pairs" + (f" WHERE {' AND '.join(where)}" if where else "")
        pairs = [(r[0], r[1]) for r in self._rows(sql + " ORDER BY actor, topic", params)]
        return [p for p in self.positions_for_pairs(pairs, as_of, known_at) if p is not None]

    def positions_for_pairs(
        self, pairs: Sequence[tuple[str, str]], as_of: date | None, known_at: datetime | None
    ) -> list[PositionView | None]:
        """Batch form for DataLoaders: one result per pair, in order, in O(1) queries (two per 2,000 pairs)."""
        day = as_of or date.today()
        instant = known_at or datetime.now(UTC)
        found: dict[int, tuple[int, int]] = {}
        with self.readers.connection() as conn:
            for n, chunk in enumerate(chunks(pairs, PAIR_CHUNK)):
                for i, latest, start in _position_rows(conn, chunk, day, known_at):
                    found[n * PAIR_CHUNK + i] = (latest, start)
            wanted = sorted({p for both in found.values() for p in both})
            claims = {c.row: c for c in _claims_at(conn, wanted)}
        out: list[PositionView | None] = []
        for i, (actor, topic) in enumerate(pairs):
            hit = found.get(i)
            if hit is None:
                out.append(None)
                continue
            claim, start = claims[hit[0]], claims[hit[1]]
            out.append(
                PositionView(
                    actor=actor,
                    topic=topic,
                    stance=claim.stance,
                    since=start.stated,
                    since_claim_id=start.id,
                    claim=claim,
                    as_of=day,
                    known_at=instant,
                )
            )
        return out

    def timeline(self, actor: str, topic: str, known_at: datetime | None) -> list[PositionChangeView]:
        """Each change of stance, oldest first (first entry has previous_stance None)."""
        known, params = _known("v", known_at)
        rows = self._rows(
            f"SELECT {CLAIM_VERSIONS.select('v')} FROM rm_claim_versions v"
            f" WHERE v.actor = ? AND v.topic = ? AND {known} AND NOT v.retracted ORDER BY {ORDER.format(a='v')}",
            [actor, topic, *params],
        )
        changes: list[PositionChangeView] = []
        previous: str | None = None
        for row in rows:
            claim = CLAIM_VERSIONS.view(row)
            if claim.stance != previous:
                changes.append(PositionChangeView(claim.stance, previous, claim.stated, claim))
                previous = claim.stance
        return changes

    # --------------------------------------------------------------- claims

    def claims_by_ids(self, ids: Sequence[UUID], known_at: datetime | None) -> list[ClaimView | None]:
        """Version current at known_at (None if not yet recorded then); retracted ones included, flagged."""
        known, params = _known("v", known_at)
        found: dict[UUID, ClaimView] = {}
        with self.readers.connection() as conn:
            for chunk in chunks([str(i) for i in dict.fromkeys(ids)]):
                among, values = conn.in_list(chunk, "uuid")
                rows = conn.execute(
                    f"SELECT {CLAIM_VERSIONS.select('v')} FROM rm_claim_versions v WHERE v.claim_id {among} AND {known}",
                    [*values, *params],
                )
                found.update((c.id, c) for c in map(CLAIM_VERSIONS.view, rows))
        return [found.get(i) for i in ids]

    def claims_linking_to(self, ids: Sequence[UUID], known_at: datetime | None) -> list[list[tuple[str, ClaimView]]]:
        """For each claim, the (relation, claim) pairs of the claims whose links name it, as known at known_at.

        Links are JSON text on the version rows: the SQL narrows to versions whose text names one of the ids,
        the decoded links decide (a UUID in the text could only be a link target, but the check is cheap).
        """
        known, params = _known("v", known_at)
        found: dict[UUID, list[tuple[str, ClaimView]]] = {i: [] for i in ids}
        with self.readers.connection() as conn:
            for chunk in chunks([str(i) for i in dict.fromkeys(ids)]):
                names = " OR ".join("v.links LIKE ?" for _ in chunk)
                rows = conn.execute(
                    f"SELECT {CLAIM_VERSIONS.select('v')} FROM rm_claim_versions v"
                    f" WHERE v.links <> '[]' AND ({names}) AND {known} ORDER BY {ORDER.format(a='v')}",
                    [*(f"%{i}%" for i in chunk), *params],  # a UUID has no LIKE wildcards
                )
                asked = {UUID(i) for i in chunk}  # a row naming ids of two chunks is read twice: count it once each
                for claim in map(CLAIM_VERSIONS.view, rows):
                    for link in claim.links:
                        if link.target_id in asked:
                            found[link.target_id].append((link.relation, claim))
        return [found[i] for i in ids]

    def claim_histories(self, ids: Sequence[UUID], tree_size: int | None = None) -> list[list[ClaimEventView]]:
        """Each claim's events, oldest first: all of them, or (``tree_size``) those among the log's first
        ``tree_size`` events, whatever their record time (a pinned answer's history)."""
        found: dict[UUID, list[ClaimEventView]] = {i: [] for i in ids}
        # Log positions start at 1: the tree of N events holds positions 1..N. A SOURCE_REVISED row's
        # log_position is its Source.Revised event's, so it falls inside or outside the tree with it.
        within, bound = ("", []) if tree_size is None else (" AND log_position <= ?", [tree_size])
        with self.readers.connection() as conn:
            for chunk in chunks([str(i) for i in dict.fromkeys(ids)]):
                among, values = conn.in_list(chunk, "uuid")
                rows = conn.execute(
                    f"SELECT {CLAIM_EVENTS.select()} FROM rm_claim_versions WHERE claim_id {among}{within}"
                    " ORDER BY claim_id, known_from_us, version, log_position",
                    [*values, *bound],
                )
                for row in rows:
                    event = CLAIM_EVENTS.view(row)
                    found[event.claim_id].append(event)
        return [found[i] for i in ids]

    def claims(self, filter: ClaimFilter, first: int, after: str | None, known_at: datetime | None) -> Page:
        """Keyset-paginated claims ordered by (counts_from, stated.earliest, position of first recording).

        Raises ValueError on a bad cursor or a negative ``first``.
        """
        if first < 0:
            raise ValueError("first must not be negative")
        where, params = _claim_filter(filter, known_at)
        page_where, page_params = list(where), list(params)
        if after is not None:
            page_where.append(f"{KEY.format(a='v')} > (?, ?, ?)")
            page_params.extend(decode_cursor(after))
        with self.readers.connection() as conn:
            rows = conn.execute(
                f"SELECT {CLAIM_VERSIONS.select('v')} FROM rm_claim_versions v WHERE {' AND '.join(page_where)}"
                f" ORDER BY {ORDER.format(a='v')} LIMIT ?",
                [*page_params, first + 1],
            )
            total = conn.execute(f"SELECT COUNT(*) FROM rm_claim_versions v WHERE {' AND '.join(where)}", params)
        items = [CLAIM_VERSIONS.view(r) for r in rows[:first]]
        return Page(
            items=items,
            cursors=[encode_cursor(c) for c in items],
            has_next_page=len(rows) > first,
            total_count=int(total[0][0]),
        )

    def claims_for_sources(
        self, source_ids: Sequence[UUID], known_at: datetime | None, *, include_retracted: bool = False
    ) -> list[list[ClaimView]]:
        """Claims taken from each source, in claim order (retracted ones only if asked)."""
        known, params = _known("v", known_at)
        if not include_retracted:
            known += " AND NOT v.retracted"
        found: dict[UUID, list[ClaimView]] = {i: [] for i in source_ids}
        with self.readers.connection() as conn:
            for chunk in chunks([str(i) for i in dict.fromkeys(source_ids)]):
                among, values = conn.in_list(chunk, "uuid")
                rows = conn.execute(
                    f"SELECT {CLAIM_VERSIONS.select('v')} FROM rm_claim_versions v"
                    f" WHERE v.source_id {among} AND {known} ORDER BY {ORDER.format(a='v')}",
                    [*values, *params],
                )
                for claim in map(CLAIM_VERSIONS.view, rows):
                    found[claim.source_id].append(claim)
        return [found[i] for i in source_ids]

    # ------------------------------------------------------ names to keys

    def resolve_names(
        self, refs: Sequence[tuple[str, str]], known_at: datetime | None = None, *, reuse: bool = False
    ) -> list[names.Resolution]:
        """What each (kind, reference) names, kind ``actor`` or ``topic`` (rules: ``names.py``), among
        the names the ledger held at ``known_at`` (None: the current ones; see ``record_versions.py``).

        One query for all of them; one more per kind only when a reference matches nothing
        (to suggest the closest names). ``reuse`` (a long-lived process, the API): answer from the
        resolutions this process read since the read model's names last changed (``resolved_names.py``),
        reading only the others.
        """
        if not reuse:
            return self._read_names(refs, known_at)
        watch = self.positions_watch()
        at = (watch.current() or watch.refresh())[1]  # before the names are read: never newer than them
        asked = [(kind, ref, known_at) for kind, ref in refs]
        found = self.resolved_names.get(at, asked)
        missing = [i for i, hit in enumerate(found) if hit is None]
        if missing:
            fresh = self._read_names([refs[i] for i in missing], known_at)
            self.resolved_names.put(at, [(asked[i], r) for i, r in zip(missing, fresh, strict=True)])
            for i, r in zip(missing, fresh, strict=True):
                found[i] = r
        return [r for r in found if r is not None]

    def kept_names(
        self, refs: Sequence[tuple[str, str]], known_at: datetime | None = None
    ) -> list[names.Resolution] | None:
        """:meth:`resolve_names` (``reuse``) when every reference's resolution is kept in process and the
        watch knows the names' position without a read; None otherwise. Never blocks (the event loop's).
        Counts no hit: the caller counts them (``resolved_names.count_hits``) once it uses them all."""
        at = self.positions_watch().current()
        if at is None:
            return None
        return self.resolved_names.get_all(at[1], [(kind, ref, known_at) for kind, ref in refs])

    def _read_names(self, refs: Sequence[tuple[str, str]], known_at: datetime | None) -> list[names.Resolution]:
        table, known, known_params = record_versions.names_table(known_at)
        invalid = [names.check(kind, ref) for kind, ref in refs]  # too long to be a name: no lookup
        wanted = [
            (kind, form)
            for (kind, ref), bad in zip(refs, invalid, strict=True)
            if bad is None
            for form in names.lookup_forms(ref)
        ]
        rows: dict[str, list[tuple[str, str, str, str]]] = {}
        with self.readers.connection() as conn:
            for chunk in chunks(list(dict.fromkeys(wanted))):
                forms, params = conn.rows_cte("forms", ("kind", "folded"), ("text", "text"), chunk)
                for kind, folded, key, how, label in conn.execute(
                    f"WITH {forms} SELECT n.kind, n.folded, n.key, n.how, n.label FROM {table} n"
                    f" JOIN forms ON forms.kind = n.kind AND forms.folded = n.folded{known}",
                    [*params, *known_params],
                ):
                    rows.setdefault(kind, []).append((folded, key, how, label))
            out = [
                bad or names.resolve(kind, ref, rows.get(kind, []))
                for (kind, ref), bad in zip(refs, invalid, strict=True)
            ]
            every: dict[str, list[tuple[str, str, str]]] = {}
            for (kind, _), found in zip(refs, out, strict=True):
                if found is None and kind not in every:
                    every[kind] = [
                        (r[0], r[1], r[2])
                        for r in conn.execute(
                            f"SELECT n.folded, n.key, n.label FROM {table} n WHERE n.kind = ?{known}",
                            [kind, *known_params],
                        )
                    ]
        return [found or names.suggest(kind, ref, every[kind]) for (kind, ref), found in zip(refs, out, strict=True)]

    # ------------------------------------------------- actors, topics, sources

    def actors(self, search: str | None, known_at: datetime | None = None) -> list[ActorView]:
        """Search matches key, name or any alias, case-insensitively (as a substring); ``known_at``:
        the actors registered then, with the details they had then (None: now)."""
        if known_at is not None:
            with self.readers.connection() as conn:
                return record_versions.all_actors_at(conn, known_at, search)
        if search:
            rows = self._rows(
                f"SELECT {ACTORS.select()} FROM rm_actors WHERE search LIKE ? ESCAPE '\\' ORDER BY key",
                [like_pattern(search)],
            )
        else:
            rows = self._rows(f"SELECT {ACTORS.select()} FROM rm_actors ORDER BY key")
        return [ACTORS.view(r) for r in rows]

    def actors_by_keys(self, keys: Sequence[str]) -> list[ActorView | None]:
        found = {a.key: a for a in self._by("rm_actors", ACTORS.select(), "key", "text", keys, ACTORS.view)}
        return [found.get(k) for k in keys]

    def actors_at(self, asked: Sequence[tuple[str, datetime]]) -> list[ActorView | None]:
        """Each (actor key, record time): the actor as recorded then (None: not registered yet)."""
        with self.readers.connection() as conn:
            return record_versions.actors_at(conn, asked)

    def topics(self, known_at: datetime | None = None) -> list[TopicView]:
        if known_at is not None:
            with self.readers.connection() as conn:
                return record_versions.all_topics_at(conn, known_at)
        return [TOPICS.view(r) for r in self._rows(f"SELECT {TOPICS.select()} FROM rm_topics ORDER BY key")]

    def topics_by_keys(self, keys: Sequence[str]) -> list[TopicView | None]:
        found = {t.key: t for t in self._by("rm_topics", TOPICS.select(), "key", "text", keys, TOPICS.view)}
        return [found.get(k) for k in keys]

    def topics_at(self, asked: Sequence[tuple[str, datetime]]) -> list[TopicView | None]:
        with self.readers.connection() as conn:
            return record_versions.topics_at(conn, asked)

    def sources(self, known_at: datetime | None = None) -> list[SourceView]:
        if known_at is not None:
            with self.readers.connection() as conn:
                return record_versions.all_sources_at(conn, known_at)
        return [SOURCES.view(r) for r in self._rows(f"SELECT {SOURCES.select()} FROM rm_sources ORDER BY key")]

    def source_by_ref(self, ref: str) -> SourceView | None:
        """A source by its id or its key (None if it is neither)."""
        try:
            return self.sources_by_ids([UUID(ref)])[0]
        except ValueError:
            found = self._rows(f"SELECT {SOURCES.select()} FROM rm_sources WHERE key = ?", [ref])
            return SOURCES.view(found[0]) if found else None

    def sources_by_ids(self, ids: Sequence[UUID]) -> list[SourceView | None]:
        found = {
            s.id: s for s in self._by("rm_sources", SOURCES.select(), "id", "uuid", [str(i) for i in ids], SOURCES.view)
        }
        return [found.get(i) for i in ids]

    def sources_at(self, asked: Sequence[tuple[UUID, datetime]]) -> list[SourceView | None]:
        """Each (source id, record time): the source's details as recorded then (None: not registered yet)."""
        with self.readers.connection() as conn:
            return record_versions.sources_at(conn, [(str(i), at) for i, at in asked])

    def source_texts(self, source_ids: Sequence[UUID]) -> list[str | None]:
        """Each source's full text, in the order asked (None for an unknown id; one query)."""
        rows = self._by("rm_sources", "id, text", "id", "uuid", [str(i) for i in source_ids], tuple)
        found = {as_uuid(r[0]): str(r[1]) for r in rows}
        return [found.get(i) for i in source_ids]

    def collection_sizes(self) -> CollectionSizes:
        """Counts for query cost estimates (scans of the claim versions; callers cache the answer).

        A source's (a pair's) claims are counted once each, however often revised: every claim that ever
        cited the source (had the pair) is at most what a list of its claims holds at any record time.
        Counting versions instead made a much corrected ledger refuse cheap queries."""
        sql = (
            "SELECT (SELECT COUNT(*) FROM rm_sources), (SELECT COUNT(*) FROM rm_actors),"
            " (SELECT COUNT(*) FROM rm_topics), (SELECT COUNT(*) FROM rm_pairs),"
            " (SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM"
            "  (SELECT DISTINCT source_id, claim_id FROM rm_claim_versions) c GROUP BY source_id) s),"
            " (SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM"
            "  (SELECT DISTINCT actor, topic, claim_id FROM rm_claim_versions) c GROUP BY actor, topic) p),"
            # A claim's history lists its versions and, beside them, the SOURCE_REVISED rows of its source's
            # revised publication dates (same version number): the most of both, an upper bound of its length.
            " (SELECT MAX(version) FROM rm_claim_versions),"
            " (SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM rm_claim_versions WHERE event = 'SOURCE_REVISED'"
            "  GROUP BY claim_id) r)"
        )
        # On a connection of its own, without the readers' statement timeout: the scans take seconds at
        # millions of claims (~2.4 s at one million on PostgreSQL), and a read cancelled every time would
        # leave the estimate on its defaults for good. It runs once every few minutes at that size.
        self.refuse_while_upgrading()  # (its own connection passes no gate: not the old schema's tables)
        conn = connect(self.url)
        try:
            if conn.dialect == "postgresql":  # (nor one the server, role or database would set)
                conn.execute("SET statement_timeout = 0")
            counts = conn.execute(sql)[0]
        finally:
            conn.close()
        return CollectionSizes(
            sources=int(counts[0]),
            actors=int(counts[1]),
            topics=int(counts[2]),
            pairs=int(counts[3]),
            claims_per_source=int(counts[4] or 0),
            claims_per_pair=int(counts[5] or 0),
            versions_per_claim=int(counts[6] or 0) + int(counts[7] or 0),
        )

    def api_keys(self) -> list[ApiKeyView]:
        """Every API key, by name (never its secret's hash)."""
        return [API_KEYS.view(r) for r in self._rows(f"SELECT {API_KEYS.select()} FROM rm_api_keys ORDER BY name")]

    def _by(self, table: str, columns: str, column: str, pg_type: str, values: Sequence[str], view: Any) -> list[Any]:
        out: list[Any] = []
        with self.readers.connection() as conn:
            for chunk in chunks(list(dict.fromkeys(values))):
                among, params = conn.in_list(chunk, pg_type)
                rows = conn.execute(f"SELECT {columns} FROM {table} WHERE {column} {among}", params)
                out.extend(view(r) for r in rows)
        return out

    # ------------------------------------------------- consistency labels

    def flips(self, f: consistency.FlipFilter, first: int, after: str | None, known_at: datetime | None) -> FlipPage:
        """Labelled changes between consecutive claims (rule: ``flips.py``), keyset-paginated."""
        if first < 0:
            raise ValueError("first must not be negative")
        cursor = decode_cursor(after) if after is not None else None
        with self.readers.connection() as conn:
            found = consistency.flips(conn, f, _known("v", known_at), first, cursor)
            wanted = sorted({p for _, before, after_ in found[:first] for p in (before, after_)})
            by_row = {c.row: c for c in _claims_at(conn, wanted)}
        items = [FlipView(label, by_row[b], by_row[a]) for label, b, a in found[:first]]
        return FlipPage(items, [encode_cursor(i.after) for i in items], len(found) > first)

    def flip_summaries(self, f: consistency.FlipFilter, known_at: datetime | None) -> list[FlipSummaryView]:
        with self.readers.connection() as conn:
            rows = consistency.summaries(conn, f, _known("v", known_at))
        return [FlipSummaryView(*row) for row in rows]

    # ------------------------------------------------------ what changed

    def changes(
        self, f: record_changes.ChangeFilter, after: int, first: int
    ) -> tuple[list[record_changes.ChangeView], bool]:
        """Claim events recorded in a record-time window, in log order after position ``after``."""
        if first < 0:
            raise ValueError("first must not be negative")
        with self.readers.connection() as conn:
            found = record_changes.changes(conn, f, after, first)
        return found[:first], len(found) > first

    def iter_claims(self, filter: ClaimFilter, known_at: datetime | None, batch: int = 1000) -> Iterator[ClaimView]:
        """Every claim matching ``filter`` in claim order, read in keyset batches: memory stays
        constant however many claims there are (exports)."""
        where, params = _claim_filter(filter, known_at)
        key: tuple[str, str, int] | None = None
        while True:
            page_where, page_params = list(where), list(params)
            if key is not None:
                page_where.append(f"{KEY.format(a='v')} > (?, ?, ?)")
                page_params.extend(key)
            rows = self._rows(
                f"SELECT {CLAIM_VERSIONS.select('v')} FROM rm_claim_versions v WHERE {' AND '.join(page_where)}"
                f" ORDER BY {ORDER.format(a='v')} LIMIT ?",
                [*page_params, batch],
            )
            claims = [CLAIM_VERSIONS.view(r) for r in rows]
            yield from claims
            if len(claims) < batch:
                return
            last = claims[-1]
            key = (last.counts_from.isoformat(), last.stated.earliest.isoformat(), last.first_position)

    # ------------------------------------------------------------ bases

    def record_time_at(self, tree_size: int) -> datetime | None:
        """The record time at which the ledger's claims, actors, topics and sources were exactly those of its
        first ``tree_size`` events: the latest record time among them, provided no later event has a record
        time at or before it (concurrent writers can interleave timestamps); None when no such instant exists."""
        with self.readers.connection() as conn:
            # (SOURCE_REVISED rows, position < 0, follow a Source.Revised: its source version counts instead)
            rows = conn.execute(
                "SELECT MAX(known_from_us) FROM rm_claim_versions WHERE position > 0 AND position <= ?", [tree_size]
            )
            details_latest, details_next = record_versions.latest_change(conn, tree_size)
            latest = max(int(rows[0][0]) if rows and rows[0][0] is not None else 0, details_latest or 0)
            later = conn.execute(
                "SELECT 1 FROM rm_claim_versions WHERE position > ? AND known_from_us <= ? LIMIT 1", [tree_size, latest]
            )
        return None if later or (details_next is not None and details_next <= latest) else from_us(latest)

    # ------------------------------------------------------------ freshness

    def projected_position(self) -> int:
        """The last ledger log position the read model reflects."""
        rows = self._rows("SELECT position FROM rm_tracking WHERE name = ?", [schema.TRACKING_NAME])
        return int(rows[0][0]) if rows else 0

    def cache_positions(self) -> tuple[int, int]:
        """(the projected position, the position of the last event that changed an actor, topic or source).

        One statement; a model projected before the second row existed reports the projected position.
        """
        rows = self._rows(
            "SELECT name, position FROM rm_tracking WHERE name IN (?, ?)", [schema.TRACKING_NAME, schema.DETAILS_NAME]
        )
        found = {str(name): int(position) for name, position in rows}
        projected = found.get(schema.TRACKING_NAME, 0)
        return projected, found.get(schema.DETAILS_NAME, projected)

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Block until the read model reflects log ``position`` (read-your-writes); False after ``timeout`` s.

        Asks an in-process projector to look at once and wakes on its commits; also notices a
        projector in another process (or a replica's replay) by re-reading the tracked position
        at growing intervals, FIRST_TICK doubling up to WAIT_TICK, from FIRST_TICK again after
        an in-process commit.
        """
        try:
            deadline = time.monotonic() + timeout
            self.hub.request()
            tick = FIRST_TICK
            while True:
                seen = self.hub.sequence
                if self.projected_position() >= position:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                committed = self.hub.wait_published(seen, min(remaining, tick))
                tick = FIRST_TICK if committed else min(tick * 2, WAIT_TICK)
        finally:
            if self._watch is not None:
                self._watch.invalidate()  # read-your-writes: this process's next read sees at least ``position``


def open_read_model(url: str | None = None, statement_timeout: float = 0.0) -> ReadModel:
    """The read model of the database at ``url`` (default: $CLAIMS_DATABASE_URL); a query running
    longer than ``statement_timeout`` seconds (0: no limit) raises ``projections.db.QueryTimeout``."""
    return ReadModel(url, statement_timeout=statement_timeout)


# ---------------------------------------------------------------- SQL pieces


def _known(alias: str, known_at: datetime | None) -> tuple[str, list[Any]]:
    """The version of each claim that was the record at ``known_at`` (None: the current one)."""
    if known_at is None:
        return f"{alias}.known_to_us IS NULL", []
    k = to_us(known_at)
    return f"{alias}.known_from_us <= ? AND ({alias}.known_to_us IS NULL OR {alias}.known_to_us > ?)", [k, k]


def _qualifying(alias: str, day: str, known_at: datetime | None) -> tuple[str, list[Any]]:
    """Counts for a position as of the date in column ``day``, known at ``known_at``."""
    known, params = _known(alias, known_at)
    return f"{known} AND NOT {alias}.retracted AND {alias}.counts_from <= {day}", params


def _position_rows(
    conn: Connection, pairs: Sequence[tuple[str, str]], day: date, known_at: datetime | None
) -> list[Row]:
    """(index, position of the latest qualifying claim, position of the first claim of its stance run).

    Per pair three index probes on (actor, topic, counts_from, stated_earliest,
    first_position): the latest claim, the latest earlier claim of another stance
    (the "breaker"), and the first claim after the breaker.
    """
    sql, params = _position_sql(conn, [(a, t, day) for a, t in pairs], known_at)
    return conn.execute(sql, params, prepare=True)


# The position query of _position_sql, plus the latest claim, the first claim of its stance run
# and (optionally) the claim's source, so one statement answers whole questions.
_ANSWERS = """
WITH r AS ({position})
SELECT r.i, {claim}, st.claim_id, st.stated_date, st.stated_precision, st.stated_approximate, st.stated_note,
       st.stated_earliest, st.stated_latest{source}
FROM r JOIN rm_claim_versions c ON c.position = r.position
JOIN rm_claim_versions st ON st.position = r.start{join}"""


def _position_sql(
    conn: Connection, asked: Sequence[tuple[str, str, date]], known_at: datetime | None
) -> tuple[str, list[Any]]:
    """The SQL of :func:`_position_rows` and its parameters, for (actor, topic, as-of date) questions."""
    q = {a: _qualifying(a, f"{d}.day", known_at) for a, d in (("v", "p"), ("w", "lv"), ("y", "bv"))}
    columns = ("i", "actor", "topic", "day")
    if conn.dialect == "sqlite":
        values, params = conn.values_cte("p", columns, [(n, a, t, d.isoformat()) for n, (a, t, d) in enumerate(asked)])
    elif len(asked) == 1:  # (a date parameter is typed: the column is a date)
        values, params = conn.values_cte("p", columns, [(0, *asked[0])])
    else:
        # One array per column, reaching unnest opaquely (``rows_cte``): the statement's text is the
        # same for any number of questions and its one generic plan serves them all (a VALUES list of
        # 3,000 parameters cost more to split and plan than to run; an array the planner could see
        # made every execution of fewer than ~100 questions a new custom plan: ~1 ms each). One
        # question: VALUES, whose parameters cost less to send than four arrays.
        rows = [(n, a, t, d) for n, (a, t, d) in enumerate(asked)]
        values, params = conn.rows_cte("p", columns, ("int", "text", "text", "date"), rows, opaque=True)
    params += q["v"][1] + q["w"][1] + [BEFORE_ALL, BEFORE_ALL] + q["y"][1]
    # The text depends only on the questions' WITH item and whether a record time is asked for; a cold
    # ``position`` request's batch would otherwise build these few kilobytes again each time.
    shape = (values, known_at is None)
    sql = _POSITION_SQL.get(shape)
    if sql is not None:
        return sql, params
    sql = f"""
    WITH {values},
    latest AS (
        SELECT p.i, p.day, (SELECT v.position FROM rm_claim_versions v
                     WHERE v.actor = p.actor AND v.topic = p.topic AND {q["v"][0]}
                     ORDER BY {ORDER_DESC.format(a="v")} LIMIT 1) AS position
        FROM p),
    lv AS (
        SELECT latest.i, latest.day, v.actor, v.topic, v.position, v.stance, v.counts_from, v.stated_earliest,
               v.first_position
        FROM latest JOIN rm_claim_versions v ON v.position = latest.position),
    brk AS (
        SELECT lv.i, lv.day, lv.actor, lv.topic, lv.position,
               (SELECT w.position FROM rm_claim_versions w
                WHERE w.actor = lv.actor AND w.topic = lv.topic AND {q["w"][0]} AND w.stance <> lv.stance
                  AND {KEY.format(a="w")} < {KEY.format(a="lv")}
                ORDER BY {ORDER_DESC.format(a="w")} LIMIT 1) AS breaker
        FROM lv),
    bv AS (
        SELECT brk.i, brk.day, brk.actor, brk.topic, brk.position,
               COALESCE(x.counts_from, ?) AS bl, COALESCE(x.stated_earliest, ?) AS be,
               COALESCE(x.first_position, 0) AS bp
        FROM brk LEFT JOIN rm_claim_versions x ON x.position = brk.breaker)
    SELECT bv.i, bv.position,
           (SELECT y.position FROM rm_claim_versions y
            WHERE y.actor = bv.actor AND y.topic = bv.topic AND {q["y"][0]}
              AND {KEY.format(a="y")} > (bv.bl, bv.be, bv.bp)
            ORDER BY {ORDER.format(a="y")} LIMIT 1) AS start
    FROM bv"""
    if len(_POSITION_SQL) < STATEMENT_TEXTS:
        _POSITION_SQL[shape] = sql
    return sql, params


# Statement texts kept by shape (a few: one or many questions, now or at a record time; on SQLite one
# per batch size), bounded so that no sequence of questions grows them without end.
STATEMENT_TEXTS = 256
_POSITION_SQL: dict[tuple[str, bool], str] = {}
_ANSWERS_SQL: dict[tuple[str, bool], str] = {}


def _answers_sql(position: str, with_source: bool) -> str:
    """:data:`_ANSWERS` around a position statement (kept by text, as :func:`_position_sql`'s)."""
    sql = _ANSWERS_SQL.get((position, with_source))
    if sql is None:
        sql = _ANSWERS.format(
            position=position,
            claim=CLAIM_VERSIONS.select("c"),
            source=", " + SOURCES.select("s") if with_source else "",
            join=" LEFT JOIN rm_sources s ON s.id = c.source_id" if with_source else "",
        )
        if len(_ANSWERS_SQL) < STATEMENT_TEXTS:
            _ANSWERS_SQL[(position, with_source)] = sql
    return sql


# PositionView(actor, topic, stance, since, since_claim_id, claim, as_of, known_at) and StatedDate(date, precision,
# earliest, latest, approximate, note), by position, built as a row's views are (``tables.constructor``).
_new_position = constructor(PositionView)
_new_stated = constructor(StatedDate)


class _PositionAnswers:
    """The statements of :meth:`ReadModel.positions_and_sources` and its rows made views, shared by its
    thread and event-loop forms so both answer alike."""

    def __init__(self, asked: Sequence[PositionAsked], known_at: datetime | None, with_source: bool) -> None:
        today = date.today()
        self.asked = asked
        self.known_at = known_at
        self.with_source = with_source
        self.instant = known_at or datetime.now(UTC)
        self.days = [as_of or today for _, _, as_of in asked]
        self.out: list[tuple[PositionView | None, SourceView | None]] = [(None, None)] * len(asked)

    def statements(self, conn: Connection) -> Iterator[tuple[int, tuple[str, list[Any]]]]:
        """(first question's index, (sql, params)) per PAIR_CHUNK questions."""
        asked, days = self.asked, self.days
        for n, chunk in enumerate(chunks(range(len(asked)), PAIR_CHUNK)):
            questions = [(asked[i][0], asked[i][1], days[i]) for i in chunk]
            sql, params = _position_sql(conn, questions, self.known_at)
            yield n * PAIR_CHUNK, (_answers_sql(sql, self.with_source), params)

    def read(self, start: int, rows: Sequence[Row], *, typed: bool = False) -> None:
        """The rows' views into :attr:`out`. ``typed``: PostgreSQL's rows, whose dates, UUIDs and booleans
        are Python's already (``Reader.reading``): the cold ``position`` batch's ~4 us a row on the loop."""
        n = len(CLAIM_VERSIONS.names)
        asked, with_source, out, days, instant = self.asked, self.with_source, self.out, self.days, self.instant
        claim_of, source_of = _ANSWER_READINGS[typed]
        for row in rows:
            i = start + row[0]
            actor, topic, _ = asked[i]
            claim = claim_of(row)
            start_id, stated_, precision, approximate, note, earliest, latest = row[n + 1 : n + 8]
            if typed:
                since = _new_stated(stated_, precision, earliest, latest, approximate, note)
            else:
                since = _new_stated(stated_, precision, as_date(earliest), as_date(latest), bool(approximate), note)
                start_id = as_uuid(start_id)
            view = _new_position(actor, topic, claim.stance, since, start_id, claim, days[i], instant)
            source = source_of(row) if with_source and row[n + 8] is not None else None
            out[i] = (view, source)


# The claim and source of an answer row (:data:`_ANSWERS`: its index, the claim's columns, the start's
# seven, the source's), read in place; by whether the row is PostgreSQL's (typed).
_ANSWER_READINGS = {
    typed: (
        CLAIM_VERSIONS.reading(1, typed=typed),
        SOURCES.reading(len(CLAIM_VERSIONS.names) + 8, typed=typed),
    )
    for typed in (False, True)
}


def _claims_at(conn: Connection, positions: Sequence[int]) -> list[ClaimView]:
    out: list[ClaimView] = []
    for chunk in chunks(positions):
        among, params = conn.in_list(chunk, "bigint")
        rows = conn.execute(
            f"SELECT {CLAIM_VERSIONS.select('v')} FROM rm_claim_versions v WHERE v.position {among}", params
        )
        out.extend(map(CLAIM_VERSIONS.view, rows))
    return out


def _claim_filter(f: ClaimFilter, known_at: datetime | None) -> tuple[list[str], list[Any]]:
    known, params = _known("v", known_at)
    where = [known]
    if not f.include_retracted:
        where.append("NOT v.retracted")
    for column, value in (
        ("actor", f.actor),
        ("topic", f.topic),
        ("source_id", None if f.source_id is None else str(f.source_id)),
        ("stance", f.stance),
        ("attribution", f.attribution),
    ):
        if value is not None:
            where.append(f"v.{column} = ?")
            params.append(value)
    if f.stated_from is not None:
        where.append("v.counts_from >= ?")
        params.append(f.stated_from.isoformat())
    if f.stated_to is not None:
        where.append("v.counts_from <= ?")
        params.append(f.stated_to.isoformat())
    if f.text:  # within the summary or within the quote, not across the two (views._summary_search)
        where.append("(v.search_summary LIKE ? ESCAPE '\\' OR v.search_quote LIKE ? ESCAPE '\\')")
        pattern = like_pattern(f.text)
        params += [pattern, pattern]
    return where, params


# ------------------------------------------------------------------- cursors


def encode_cursor(claim: ClaimView) -> str:
    raw = f"2|{claim.counts_from.isoformat()}|{claim.stated.earliest.isoformat()}|{claim.first_position}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, latest, earliest, position = raw.split("|")
        if version != "2":  # version 1 ordered by stated.latest
            raise ValueError(version)
        first_position = int(position)
        if not 0 <= first_position < 2**63:  # the stores' integers are 64-bit
            raise ValueError(position)
        return date.fromisoformat(latest).isoformat(), date.fromisoformat(earliest).isoformat(), first_position
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValueError(f"invalid cursor {cursor!r}") from None


# --------------------------------------------------------------------- utils
