"""The projector: reads the ledger's log and keeps the read-model tables up to date.

Each :meth:`Projector.run_once` is ONE transaction that (1) takes the writer
lock, (2) reads the tracked position, (3) applies the next batch of events
(``handlers.py``) and (4) stores the new position. A crash anywhere rolls all
of it back, so the next run resumes exactly where the last commit left off:
every event is reflected exactly once.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from eventsourcing.persistence import OperationalError as EsOperationalError

from ledger.application import ClaimsLedger
from ledger.db import address, database_url
from ledger.errors import DatabaseUnavailable, ReadOnlyStore
from projections import schema
from projections.db import (
    READ_MODEL_CHANNEL,
    REBUILD_SCHEMA,
    Connection,
    beside_path,
    connect,
    connect_beside,
    connect_schema,
    discard_beside,
    rebuilder_lock,
)
from projections.handlers import DETAILS_TOPICS, VERSION_COLUMNS, Changes, Event
from projections.signals import LedgerWakeup, hub
from projections.states import decode_states

log = logging.getLogger(__name__)

DEFAULT_BATCH = 5000
# A follower that failed (the database away) tries again after this long, doubling up to the longest.
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 0.5, 10.0
# SQLSTATE classes of a lost connection: connection exceptions; the server shutting down or restarting.
LOST_CONNECTION_STATES = ("08", "57P")
# Planner statistics of the growing tables are refreshed at these log positions: 5,000, x10, x10...
ANALYZE_FIRST, ANALYZE_GROWTH = 5000, 10
Progress = Callable[[int, int], None]  # (log position reached, log size)
# An event as the recorder's log_rows gives it: (position, originator id as text, version, topic, state, leaf hash).
LogRow = tuple[int, str, int, str, bytes, bytes]


class Projector:
    """The only writer of the ``rm_`` tables (one at a time per database: see ``db.py``)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        batch_size: int = DEFAULT_BATCH,
        ledger: ClaimsLedger | None = None,
        model: Connection | None = None,
        fast: bool = True,
    ) -> None:
        """``model``: project into that connection's tables (a rebuild's model beside the live one),
        announcing nothing to readers; by default the live model of ``url``. ``fast=False``: every
        event through its handler, the reference of the inlined hot path (``Changes.fast``)."""
        self.url = database_url(url)
        self.batch_size = batch_size
        self.fast = fast
        self._owns_ledger = ledger is None
        self.ledger = ledger or ClaimsLedger.open(self.url)
        self.recorder = self.ledger.ledger_recorder
        if model is None and self.recorder.standby:  # the read model is written on the primary
            if self._owns_ledger:
                self.ledger.close()
            raise ReadOnlyStore(address(self.url))
        self.conn = model or connect(self.url)
        self.live = model is None
        self.hub = hub(self.url)
        self.timings: dict[str, float] = {}  # seconds spent per phase of run_once, summed
        self._analyzed_at = 0  # log position at which this projector last refreshed planner statistics
        self._committed = -1  # the position this projector's last batch committed
        self._known_pairs: set[tuple[str, str]] = set()  # in rm_pairs as of that commit
        self._published: dict[str, str] = {}  # source id -> last day of its publication (Changes.published)
        # A model of another schema (an older version's) stays as readers see it, complete, until the first
        # catch_up has rebuilt this version's beside it and switched (:meth:`rebuild`): an upgrade never shows
        # readers an empty or partial model. A missing model is created empty here.
        installed = schema.installed_version(self.conn)
        self._upgrade = self.live and installed is not None and installed != schema.SCHEMA_VERSION
        self.rebuilt = self._upgrade or schema.ensure(self.conn)
        self._refused: str | None = None  # the other schema version last refused (logged once per version)
        self._told_waiting = False  # that another process's rebuild holds up this projector's upgrade
        # Called when this projector is about to wait for another process's rebuild (the CLI prints it).
        self.on_wait: Callable[[], None] = _log_waiting
        self._indexes_built = False  # until catch_up has checked
        self._ahead = _ReadAhead(self.recorder)

    # ------------------------------------------------------------ projecting

    def run_once(self, max_events: int | None = None, *, wait: bool = True) -> int:
        """Project the next batch (at most ``max_events``) in one transaction; the number of events.

        With ``wait=False`` returns 0 at once when another projector holds the writer lock (or,
        during an upgrade, when another process holds the rebuild lock).
        """
        if self._upgrade:
            return self._upgrade_beside(None, wait=wait) or 0
        limit = max_events or self.batch_size
        clock = _Clock(self.timings)
        with self.conn.write_transaction(wait=wait) as locked:
            if not locked:
                return 0
            after = self.position()
            if after != self._committed:  # another projector (or a rebuild) wrote since our last batch
                self._known_pairs.clear()
                self._published.clear()
                self._indexes_built = False  # catch_up checks again whether a rebuild left them deferred
            # Plain rows (the id as text, no objects per event): what the handlers need.
            logged = self._ahead.take(after, limit) or self.recorder.log_rows(after, limit)
            if not logged:
                return 0
            if not self._own_schema():
                return 0
            count, last = len(logged), logged[-1][0]
            if count == limit:  # more may follow: read them while this batch is applied
                self._ahead.start(last, limit)
            details = max((r[0] for r in logged if r[3] in DETAILS_TOPICS), default=None)
            clock("read")
            with _gc_paused():
                new_pairs = self._apply(logged, clock)
                del logged  # freed before the collector runs again: it has nothing to scan
            self.conn.execute(
                "UPDATE rm_tracking SET position = ?, updated_us = ? WHERE name = ?",
                (last, time.time_ns() // 1000, schema.TRACKING_NAME),
            )
            if details is not None:
                self.conn.execute(
                    "INSERT INTO rm_tracking (name, position, updated_us) VALUES (?, ?, ?) ON CONFLICT (name) "
                    "DO UPDATE SET position = excluded.position, updated_us = excluded.updated_us",
                    (schema.DETAILS_NAME, details, time.time_ns() // 1000),
                )
            if last < self._analyzed_at:  # rebuilt meanwhile
                self._analyzed_at = 0
            if last >= max(ANALYZE_FIRST, ANALYZE_GROWTH * self._analyzed_at):
                self.conn.analyze(schema.BIG_TABLES, quick=True)
                self._analyzed_at = last
                clock("analyze")
            if self.live:
                self.conn.notify(READ_MODEL_CHANNEL, str(last))
        clock("commit")
        self._committed = last
        self._known_pairs |= new_pairs
        if self.live:
            self.hub.published()
        return count

    def _own_schema(self) -> bool:
        """Whether the model is of this code's schema; call in the write transaction (so no switch can come
        between the check and the batch's writes). A projector of an older version left running after an
        upgrade's switch must not write into the new tables with its old code: it logs it and writes nothing."""
        installed = schema.version_in(self.conn.execute(schema.VERSION_SQL))
        if installed == schema.SCHEMA_VERSION:
            self._refused = None
            return True
        if self._refused != installed:
            log.error(
                "the read model is of schema %s, this projector's code of schema %s: it writes nothing"
                " (stop it: a projector of the model's version keeps it up to date)",
                installed,
                schema.SCHEMA_VERSION,
            )
            self._refused = installed
        return False

    def _apply(self, logged: Sequence[LogRow], clock: _Clock) -> set[tuple[str, str]]:
        """Decode and project one batch; the (actor, topic) pairs it recorded."""
        events = self._decode(logged)
        clock("decode")
        changes = Changes(self.conn, self._known_pairs, self._published, fast=self.fast)
        changes.preload(events)
        clock("preload")
        with self.conn.row_writer("rm_claim_versions", VERSION_COLUMNS) as write:
            changes.apply(events, write)
            clock("apply")
        clock("copy")
        changes.flush()
        clock("flush")
        return changes.pairs

    def _decode(self, logged: Sequence[LogRow]) -> list[Event]:
        """Event states to attribute dicts (``states.py``: orjson when only timestamps need the transcoder)."""
        mapper = self.ledger.mapper
        decode = mapper.transcoder.decode
        if mapper.cipher is None and mapper.compressor is None:
            datas = decode_states([r[4] if type(r[4]) is bytes else _bytes(r[4]) for r in logged], decode)
        else:  # the general path, one event at a time
            datas = [decode(_plain_state(mapper, _bytes(r[4]))) for r in logged]
        return [Event(r[0], r[1], r[2], r[3], data) for r, data in zip(logged, datas, strict=True)]

    def catch_up(self, progress: Progress | None = None, *, wait: bool = True) -> int:
        """Project until the read model reflects the whole log; the number of events projected.

        Then creates the query indexes if a rebuild deferred them.
        """
        total = 0
        if self._upgrade:
            upgraded = self._upgrade_beside(progress, wait=wait)
            if upgraded is None:  # another process is rebuilding: this one finds its model later
                return 0
            total = upgraded
        size = self.recorder.tree_head().size if progress else 0
        while True:
            done = self.run_once(wait=wait)
            if not done:
                self._finish_rebuild(wait=wait)
                return total
            total += done
            if progress:
                position = self.position()
                size = max(size, position)
                progress(position, size)

    def _finish_rebuild(self, *, wait: bool) -> None:
        if not self._indexes_built:
            with self.conn.write_transaction(wait=wait) as locked:
                if locked and self._own_schema():
                    if schema.create_deferred_indexes(self.conn, self._index_builders()):
                        self.conn.analyze(schema.BIG_TABLES, quick=True)  # autovacuum refines it later
                    self._indexes_built = True

    def _index_builders(self) -> Callable[[], Connection] | None:
        """PostgreSQL: connections to this model's schema, to build its deferred indexes at once."""
        if self.conn.dialect != "postgresql":
            return None
        model_schema = str(self.conn.execute("SELECT current_schema()")[0][0])
        return lambda: connect_schema(self.url, model_schema)

    def _upgrade_beside(self, progress: Progress | None, *, wait: bool) -> int | None:
        """The upgrade of a model of another schema: rebuild beside it and switch; the events projected.

        None, at once, when another process holds the rebuild lock and not ``wait``; after waiting for
        it, a model it switched to this schema needs nothing more (0: the batches follow on from it).
        """
        with rebuilder_lock(self.url, wait=wait, waiting=self.on_wait) as locked:
            if not locked:
                if not self._told_waiting:  # (a follower asks at every wake-up: said once)
                    log.info("another process is rebuilding the read model; this projector writes nothing until then")
                    self._told_waiting = True
                return None
            if schema.installed_version(self.conn) == schema.SCHEMA_VERSION:
                self._upgrade = False  # upgraded by another process meanwhile
                self._committed = -1
                return 0
            return self._rebuild_locked(progress)

    def rebuild(self, progress: Progress | None = None, *, wait: bool = True) -> int | None:
        """Project the whole log into a new read model beside the live one, then switch in one transaction.

        Readers keep the old model, complete, until the switch commits, then see the new one,
        complete: never an empty or partial model. The live model keeps following the log
        meanwhile; the switch takes its writer lock, brings the new model up to the log's head
        and replaces the live tables (PostgreSQL: moves the new schema's tables in; SQLite:
        copies the new file's tables in). Returns the number of events projected.

        One rebuild at a time per database (``rebuilder_lock``): when another process rebuilds,
        returns None at once if not ``wait``; else waits for it, and returns None if it switched to
        a model of this schema meanwhile (a rebuild from the same log by the same code: nothing to
        do), or rebuilds (the other failed, or was of another version). Calls :attr:`on_wait` before it waits.
        """
        before = self._last_rebuild()  # (before trying the lock: a rebuild that switches meanwhile counts)
        with rebuilder_lock(self.url, wait=False) as locked:
            if locked:
                return self._rebuild_locked(progress)
        if not wait:
            return None
        self.on_wait()
        with rebuilder_lock(self.url, wait=True):
            if self._last_rebuild() != before and schema.installed_version(self.conn) == schema.SCHEMA_VERSION:
                self._committed = -1
                self._upgrade = False
                return None
            return self._rebuild_locked(progress)

    def _last_rebuild(self) -> str | None:
        """The mark of the last switch to a rebuilt model (None: none since the model was created)."""
        if "rm_meta" not in self.conn.table_names("rm_"):
            return None
        rows = self.conn.execute("SELECT value FROM rm_meta WHERE name = ?", (REBUILT_MARK,))
        return str(rows[0][0]) if rows else None

    def _rebuild_locked(self, progress: Progress | None) -> int:
        """:meth:`rebuild`, the rebuild lock held."""
        model = connect_beside(self.url)
        build = Projector(self.url, batch_size=self.batch_size, ledger=self.ledger, model=model, fast=self.fast)
        try:
            total = build.catch_up(progress)
            if self.conn.dialect == "sqlite":
                total += self._switch_sqlite(build)
            else:
                total += self._switch_postgresql(build)
        finally:
            for phase, seconds in build.timings.items():
                self.timings[phase] = self.timings.get(phase, 0.0) + seconds
            try:
                discard_beside(self.url, model)  # on the build's connection, which it closes
            finally:
                build.close()
        self._committed = -1  # the next batch starts from the new model's position
        self._upgrade = False  # (the live model is of this schema now)
        return total

    def _switch_postgresql(self, build: Projector) -> int:
        with self.conn.write_transaction():  # the live projector (any process) waits from here
            projected = build.catch_up()  # its own schema and lock: up to the log's head, past the live model
            names, position = build.conn.table_names("rm_"), build.position()
            live_schema = self.conn.execute("SELECT current_schema()")[0][0]
            live = self.conn.table_names("rm_")
            self.conn.lock_for_replacement(live)  # readers finish first (and never deadlock with the drops)
            drops = [f"DROP TABLE {table}" for table in live]
            moves = [f"ALTER TABLE {REBUILD_SCHEMA}.{table} SET SCHEMA {live_schema}" for table in names]
            self.conn.execute_script([*drops, *moves])  # one round trip
            _mark_rebuilt(self.conn)
            self.conn.notify(READ_MODEL_CHANNEL, str(position))
        self.hub.published()
        return projected

    def _switch_sqlite(self, build: Projector) -> int:
        # BEGIN IMMEDIATE locks attached files too, so the new model cannot be written while the
        # live lock is held: catch it up, lock, and switch if no event came in between (else again).
        path = beside_path(self.url)
        projected = 0
        self.conn.execute("ATTACH DATABASE ? AS rm_build", (path,))
        try:
            while True:
                projected += build.catch_up()
                with self.conn.write_transaction():  # the database's write lock: appends and projectors wait
                    head = self.recorder.tree_head().size
                    rows = self.conn.execute(
                        "SELECT position FROM rm_build.rm_tracking WHERE name = ?", (schema.TRACKING_NAME,)
                    )
                    if int(rows[0][0]) < head:
                        continue  # an append came first: catch up again
                    for table in self.conn.table_names("rm_"):
                        self.conn.execute(f"DROP TABLE main.{table}")
                    objects = self.conn.execute(
                        "SELECT type, name, sql FROM rm_build.sqlite_master WHERE substr(name, 1, 3) = 'rm_'"
                        " AND sql IS NOT NULL ORDER BY type = 'index', rowid"
                    )
                    for kind, name, sql in objects:
                        self.conn.execute(sql)
                        if kind == "table":
                            self.conn.execute(f"INSERT INTO main.{name} SELECT * FROM rm_build.{name}")
                    _mark_rebuilt(self.conn)
                    break
        finally:
            self.conn.execute("DETACH DATABASE rm_build")
        self.hub.published()
        return projected

    def position(self) -> int:
        rows = self.conn.execute("SELECT position FROM rm_tracking WHERE name = ?", (schema.TRACKING_NAME,))
        return int(rows[0][0]) if rows else 0

    # ------------------------------------------------------------- following

    def follow(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Keep projecting new events until ``stop`` is set.

        Woken by the ledger's NOTIFY (PostgreSQL) or by readers waiting in this
        process; otherwise polls every ``interval`` seconds. If another projector
        holds the writer lock this one waits for the next wake-up and tries again.
        """
        wakeup: LedgerWakeup | None = None
        failures, reconnect = 0, False
        try:
            while not stop.is_set():
                try:
                    if failures:
                        self._forget(reconnect=reconnect)
                    if wakeup is None:  # (LISTENing before the log is read: no event slips in between)
                        wakeup = LedgerWakeup(self.url, self.hub)
                    self.catch_up(wait=False)
                    if failures:
                        log.warning("projecting the ledger again, after %d failed attempts", failures)
                        failures = 0
                    wakeup.wait(stop, interval)
                except Exception as error:
                    # The database restarted, a connection was cut, a batch failed: never give up (the
                    # model would stop for good while the API kept answering from it); back off instead.
                    failures += 1
                    reconnect = self.conn.dialect == "postgresql" and _lost_connection(error)
                    delay = min(RETRY_FIRST_SECONDS * 2 ** min(failures - 1, 8), RETRY_MAX_SECONDS)
                    if failures == 1:
                        log.exception("projecting the ledger failed; retrying in %.1fs", delay)
                    else:
                        log.warning("projecting the ledger failed again (%s); retrying in %.1fs", error, delay)
                    if wakeup is not None:
                        wakeup.close()
                        wakeup = None
                    self._back_off(stop, delay)
        finally:
            if wakeup is not None:
                wakeup.close()

    def _back_off(self, stop: threading.Event, delay: float) -> None:
        """Wait ``delay`` seconds before trying again, or until ``stop``: at least RETRY_FIRST_SECONDS
        whatever readers ask (every pinned read and every write asks; a failure that recurs must not turn
        into a busy loop), then cut short by the next reader waiting for the model."""
        if stop.wait(min(delay, RETRY_FIRST_SECONDS)):
            return
        deadline = time.monotonic() + delay - RETRY_FIRST_SECONDS
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if self.hub.wait_requested(min(left, RETRY_FIRST_SECONDS)):  # (and a look at stop this often)
                return

    def _forget(self, *, reconnect: bool) -> None:
        """After a failure: assume nothing of the model (the next batch reads its position and starts its
        caches afresh); if a connection was lost (``reconnect``), open new ones where the database may have
        closed the old ones (a connection learns it only when used): the model's, and the ledger's if this
        projector opened it."""
        self._committed = -1
        self._ahead.close()  # (a read ahead of the failed batch is not used; a new one starts when needed)
        if not reconnect:
            return
        if self.live:
            old_conn, self.conn = self.conn, connect(self.url)
            with suppress(Exception):
                old_conn.close()
        if self._owns_ledger:
            old, self.ledger = self.ledger, ClaimsLedger.open(self.url)
            self.recorder = self.ledger.ledger_recorder
            self._ahead = _ReadAhead(self.recorder)
            with suppress(Exception):
                old.close()

    def close(self) -> None:
        self._ahead.close()
        self.conn.close()
        if self._owns_ledger:
            self.ledger.close()


def _lost_connection(error: BaseException) -> bool:
    """Whether ``error`` says a PostgreSQL connection was lost (then new ones are opened), not that a
    statement failed on a live one (a lock timeout, a cancelled query, a deadlock). By SQLSTATE: the
    failed connection itself is not at hand here (the library's, or one a batch opened)."""
    if isinstance(error, DatabaseUnavailable):
        return True
    driver = error.__cause__ if isinstance(error, EsOperationalError) else error  # (the library wraps it)
    if not isinstance(driver, psycopg.OperationalError):
        return False
    state = driver.sqlstate or ""
    return not state or state.startswith(LOST_CONNECTION_STATES)  # (none: the socket itself failed)


def _log_waiting() -> None:
    log.info("another process is rebuilding the read model: waiting for it to finish")


# rm_meta's row naming the last switch to a rebuilt model (a new random value each time): a rebuild
# that waited for another's sees whether that one finished (rows, not DDL: not in the schema version).
REBUILT_MARK = "rebuilt"


def _mark_rebuilt(conn: Connection) -> None:
    conn.execute(
        "INSERT INTO rm_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (REBUILT_MARK, uuid.uuid4().hex),
    )


class _ReadAhead:
    """The next batch of the log, read by a thread while the projector applies this one.

    The log is append-only, so rows read ahead are the rows a read after the batch would get
    (or a prefix of them). Reading overlaps the server's work and the network with applying;
    psycopg releases the GIL while it waits. Taken only for the same (after, limit), and only
    when not empty: an empty read ahead may predate events appended since. Only where the
    recorder lets several threads read at once (``concurrent_reads``: PostgreSQL's pool), as verify.
    """

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self._pool: ThreadPoolExecutor | None = None
        self._pending: tuple[int, int, Future[Sequence[LogRow]]] | None = None

    def start(self, after: int, limit: int) -> None:
        if not getattr(self.recorder, "concurrent_reads", False):
            return  # the store reads one thread at a time (SQLite, memory): as verify, no read ahead
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="projector-read-ahead")
        self._pending = (after, limit, self._pool.submit(self.recorder.log_rows, after, limit))

    def take(self, after: int, limit: int) -> Sequence[LogRow]:
        pending, self._pending = self._pending, None
        if pending is None:
            return ()
        if pending[:2] != (after, limit):  # not the batch asked for: let it finish, never read beside it
            pending[2].exception()
            return ()
        return pending[2].result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending = None


class _Clock:
    """Adds the time since the previous call to ``timings[phase]``."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.timings[phase] = self.timings.get(phase, 0.0) + now - self.last
        self.last = now


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A batch makes ~10 objects per event and no cycles: the cyclic GC would only rescan them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _bytes(state: Any) -> bytes:
    # log_rows may give another buffer (or, from a hand-edited SQLite row, text).
    return state.encode("utf-8") if isinstance(state, str) else bytes(state)


def _plain_state(mapper: Any, state: bytes) -> bytes:
    if mapper.cipher is not None:
        state = mapper.cipher.decrypt(state)
    if mapper.compressor is not None:
        state = mapper.compressor.decompress(state)
    return bytes(state)
