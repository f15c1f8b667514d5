"""Per-request DataLoaders: nested fields of many objects cost one query per kind.

Each loader batches the keys asked for in one tick of the event loop and calls
the read model's batch query once, in a worker thread (the read model blocks).
Keys that depend on the record time carry ``known_at`` with them: for actors, topics,
sources and names, ``None`` reads the current details (the current-state tables) and an
instant the details in force then (``projections/record_versions.py``).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import date, datetime
from functools import cached_property, partial
from typing import Any, Generic, TypeVar
from uuid import UUID

from strawberry.dataloader import DataLoader

from api.errors import ShuttingDown
from projections.names import Resolution
from projections.queries import ReadModel
from projections.views import ActorView, ClaimEventView, ClaimView, PositionView, SourceView, TopicView

K = TypeVar("K", bound=Hashable)
G = TypeVar("G", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")

ClaimKey = tuple[UUID, datetime | None]
PositionKey = tuple[str, str, date | None, datetime | None]
NameKey = tuple[str, str, datetime | None]  # (actor | topic, what the user typed, names in force then)
DetailsKey = tuple[K, datetime | None]  # an actor key, topic key or source id; record time (None: now)
HistoryKey = tuple[UUID, int | None]  # a claim id; the tree size its history stops at (None: the whole log)


# Database calls block: they run on these threads, never on the event loop. A plain executor
# hands work over faster than anyio's thread portal (it matters at a few hundred µs per query).
log = logging.getLogger("claims.api")
_EXECUTOR = ThreadPoolExecutor(max_workers=8, thread_name_prefix="claims-db")


BatchKey = tuple[asyncio.AbstractEventLoop, ReadModel]
# How long questions asked while a batch is in flight wait for it to land before they go anyway: a cold
# `position` batch's statement takes ~0.3 ms at 10k claims, ~1 ms at 1M (p50); a slow one holds the
# others no longer than this.
HOLD_SECONDS = 0.002


# Database calls running on _EXECUTOR, so a shutting-down app can wait for them before it closes the
# stores they use: closing a SQLite connection under a running statement crashes the process.
_IN_FLIGHT: set[Future[Any]] = set()
# The same for database calls running on an event loop (CrossRequestLoader's ``on_loop``).
_ON_LOOPS: set[asyncio.Future[Any]] = set()
_CLOSING: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
_LOADERS: weakref.WeakSet[CrossRequestLoader[Any, Any]] = weakref.WeakSet()  # (for closing_stores)


def _submit(loop: asyncio.AbstractEventLoop, fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
    if loop in _CLOSING:
        raise ShuttingDown()
    work = _EXECUTOR.submit(fn, *args)
    _IN_FLIGHT.add(work)
    work.add_done_callback(_IN_FLIGHT.discard)
    return asyncio.wrap_future(work, loop=loop)


async def blocking(fn: Callable[..., T], *args: object) -> T:
    """Run a read-model or ledger call off the event loop."""
    return await _submit(asyncio.get_running_loop(), fn, *args)


async def blocking_chunks(chunks: Iterator[T]) -> AsyncIterator[T]:
    """A blocking iterator (e.g. an export reading the database lazily) read chunk by chunk on the database
    threads, each step counted in flight as ``blocking`` calls are (starlette's own thread pool is not)."""
    end: Any = object()
    while (chunk := await blocking(next, chunks, end)) is not end:
        yield chunk


@asynccontextmanager
async def closing_stores(timeout: float) -> AsyncIterator[None]:
    """While the body closes the stores: no new database call from this event loop (they raise
    ShuttingDown), and the calls in flight first finish (at most ``timeout`` seconds: a statement
    timeout bounds the read model's queries; ledger reads and the cost estimate's sizes read, on its own
    connection, have no bound, so those still running then are logged). A call of another loop's app is
    waited for too, harmlessly. One app per event loop: while it closes, another app's calls on the same
    loop are refused too. Questions gathered behind a batch in flight (``CrossRequestLoader``) are refused
    at once: sent when it lands, they could reach the stores after they closed."""
    loop = asyncio.get_running_loop()
    _CLOSING.add(loop)
    try:
        for loader in list(_LOADERS):
            loader.refuse_gathered(loop)
        pending = [asyncio.wrap_future(work, loop=loop) for work in list(_IN_FLIGHT)]
        pending += [task for task in list(_ON_LOOPS) if task.get_loop() is loop]  # (another loop's: its own app waits)
        if pending:
            _, late = await asyncio.wait(pending, timeout=timeout)
            if late:
                log.warning(
                    "closing the stores with %d database call(s) still running after %.0f s", len(late), timeout
                )
        yield
    finally:
        for loader in list(_LOADERS):
            loader.forget(loop)  # (a batch still late lands on nothing; a later app starts afresh)
        _CLOSING.discard(loop)  # (a later app on this loop may read again)


class AskAlone(Exception):
    """An ``answer`` entry: this question's batch failed in a way a batch can and one question
    alone need not (a statement timeout the batch's size reached); ask it again on its own."""


class CrossRequestLoader(Generic[K, V]):
    """Questions of every request in flight, answered together: those asked in one tick of the
    event loop (the requests a server took in together reach their resolvers together) go to
    the database in one thread hop and one call of ``answer``, per read model.

    ``answer(read_model, questions)`` runs on a database thread and returns one entry per
    question, in order: its answer, the exception that request raises (e.g. an unknown name),
    or :class:`AskAlone`, and then the question is asked again alone, each such question in its
    own thread hop at once, so each ends as it would alone and none waits for another. An exception
    ``answer`` raises fails every request of the batch. Unlike a request's DataLoader, nothing is
    cached: a question asked again is asked again.

    ``on_loop(read_model, questions)``, if given, is asked first: a coroutine answering as ``answer``
    would, run on the event loop (no thread hop), or None when it cannot answer these without blocking.

    While a batch is in flight, the questions asked meanwhile gather and go together when it lands, or
    ``hold`` seconds after the first of them was asked if it has not landed by then (a slow statement
    delays the others by that much at most). Why: a statement costs the loop ~80 us of CPU and the database
    some too, whatever its size; sent at each tick's end, cold `position` batches carried 3.4 questions on
    average under 10 connections, and gathered the loop's CPU per request fell 5-8% and the database's ~20%
    at 10k claims (bench/RESULTS.md, "Position batches gathered while one is in flight"). A question asked
    while nothing is in flight goes at its tick's end, as before.
    """

    def __init__(
        self,
        answer: Callable[[ReadModel, list[K]], list[V | Exception]],
        on_loop: Callable[[ReadModel, list[K]], Coroutine[Any, Any, list[V | Exception]] | None] | None = None,
        *,
        hold: float = HOLD_SECONDS,
    ) -> None:
        self.answer = answer
        self.on_loop = on_loop
        self.hold = hold
        self._waiting: dict[BatchKey, list[tuple[K, asyncio.Future[V]]]] = {}
        self._going: dict[BatchKey, asyncio.Handle] = {}  # when the questions waiting go (cancelled if sooner)
        self._flying: dict[BatchKey, int] = {}  # batches in flight (absent: none)
        self.batches = 0  # (how well requests coalesce: questions / batches)
        self.questions = 0
        _LOADERS.add(self)

    async def load(self, read_model: ReadModel, question: K) -> V:
        loop = asyncio.get_running_loop()
        if loop in _CLOSING:  # (not gathered behind a batch in flight, to be sent after the stores closed)
            raise ShuttingDown()
        future: asyncio.Future[V] = loop.create_future()
        key = (loop, read_model)
        waiting = self._waiting.get(key)
        if waiting is None:
            waiting = self._waiting[key] = []
            self._going[key] = (
                loop.call_later(self.hold, self._dispatch, key)
                if key in self._flying
                else loop.call_soon(self._dispatch, key)
            )
        waiting.append((question, future))
        return await future

    def _dispatch(self, key: BatchKey) -> None:
        """Send the questions waiting (at their tick's end, when the batch in flight lands, or at the hold's end)."""
        going = self._going.pop(key, None)
        if going is not None:
            going.cancel()  # (no-op when it is the one running)
        batch = self._waiting.pop(key, None)
        if batch is not None:
            batch = [(question, future) for question, future in batch if not future.done()]  # (requests gone)
        if not batch:
            return
        if len(self._flying) > (key in self._flying):  # (another key: perhaps a closed loop's)
            self._forget_closed_loops()
        loop, read_model = key
        self.batches += 1
        self.questions += len(batch)
        self._flying[key] = self._flying.get(key, 0) + 1
        try:
            self._ask(loop, read_model, batch, alone=False, landed=partial(self._landed, key))
        except BaseException:
            self._landed(key)
            raise

    def _landed(self, key: BatchKey, _done: object = None) -> None:
        """A batch of ``key`` is answered (or failed): the questions that gathered meanwhile go now."""
        left = self._flying.pop(key, 1) - 1  # (absent: forgotten when its loop's stores closed)
        if left > 0:
            self._flying[key] = left
        if key in self._waiting:
            self._dispatch(key)

    def refuse_gathered(self, loop: asyncio.AbstractEventLoop) -> None:
        """The questions of ``loop`` waiting to go fail with ShuttingDown (its stores are closing); a closed
        loop's are only dropped (nothing runs on it any more)."""
        closed = loop.is_closed()
        for key in [k for k in self._waiting if k[0] is loop]:
            going = self._going.pop(key, None)
            if going is not None and not closed:
                going.cancel()
            for _, future in self._waiting.pop(key):
                if not closed and not future.done():
                    future.set_exception(ShuttingDown())

    def forget(self, loop: asyncio.AbstractEventLoop) -> None:
        """Drop what is kept of ``loop``'s batches (its stores are closed)."""
        self.refuse_gathered(loop)
        for key in [k for k in self._flying if k[0] is loop]:
            del self._flying[key]

    def _forget_closed_loops(self) -> None:
        """Keys of loops closed with a batch in flight (no app closed its stores first: its landing never came)."""
        for key in [k for k in self._flying if k[0].is_closed()]:
            self.forget(key[0])

    def _ask(
        self,
        loop: asyncio.AbstractEventLoop,
        read_model: ReadModel,
        batch: list[tuple[K, asyncio.Future[V]]],
        alone: bool,
        landed: Callable[[object], None] | None = None,
    ) -> None:
        """Send ``batch``; ``landed`` is called once it is answered or failed (at once if it could not go)."""
        questions = [question for question, _ in batch]
        done: asyncio.Future[list[V | Exception]]
        try:
            coroutine = self.on_loop(read_model, questions) if self.on_loop is not None else None
            if coroutine is not None:
                if loop in _CLOSING:
                    coroutine.close()
                    raise ShuttingDown()
                done = loop.create_task(coroutine)
                _ON_LOOPS.add(done)
                done.add_done_callback(_ON_LOOPS.discard)
            else:
                done = _submit(loop, self.answer, read_model, questions)
        except Exception as error:  # (shutting down): the requests fail, none waits forever
            for _, future in batch:
                if not future.done():
                    future.set_exception(own_copy(error))
            if landed is not None:
                landed(None)
            return
        done.add_done_callback(partial(self._deliver, loop, read_model, batch, alone))
        if landed is not None:
            done.add_done_callback(landed)  # (after the answers are delivered)

    def _deliver(
        self,
        loop: asyncio.AbstractEventLoop,
        read_model: ReadModel,
        batch: list[tuple[K, asyncio.Future[V]]],
        alone: bool,
        done: asyncio.Future[list[V | Exception]],
    ) -> None:
        if done.cancelled():  # (the executor shut down)
            for _, future in batch:
                future.cancel()
            return
        error = done.exception()
        answers: Sequence[V | BaseException]
        answers = [own_copy(error) for _ in batch] if error is not None else done.result()
        for (question, future), answer in zip(batch, answers, strict=True):
            if future.done():  # (its request went away)
                continue
            if isinstance(answer, AskAlone):
                if alone:  # (answer broke its contract: a question alone is not asked again)
                    future.set_exception(RuntimeError("a question asked alone was sent back to be asked alone"))
                else:
                    self._ask(loop, read_model, [(question, future)], alone=True)
            elif isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)


E = TypeVar("E", bound=BaseException)


def own_copy(error: E) -> E:
    """The same error as a new exception object, for one request of many: one object raised in many
    requests would mix their tracebacks. Its class, arguments and attributes, without calling its
    constructor (which may take other arguments than ``args``); the original is its cause."""
    try:
        copy = type(error).__new__(type(error))
        copy.__dict__.update(vars(error))
        copy.args = error.args
    except Exception:  # (a class built otherwise, e.g. with slots only: the one object, shared)
        return error
    copy.__cause__ = error
    return copy


def grouped_by_basis(keys: Sequence[tuple[K, G]], fetch: Callable[[list[K], G], Sequence[V]]) -> list[V]:
    """Call ``fetch`` once per distinct basis the keys read at (a known_at, or a tree size; almost always
    one), keep the key order."""
    groups: dict[G, list[int]] = defaultdict(list)
    for i, (_, basis) in enumerate(keys):
        groups[basis].append(i)
    out: list[V | None] = [None] * len(keys)
    for basis, indexes in groups.items():
        values = fetch([keys[i][0] for i in indexes], basis)
        for i, value in zip(indexes, values, strict=True):
            out[i] = value
    return out  # type: ignore[return-value]


def _details(
    keys: Sequence[tuple[K, datetime | None]],
    current: Callable[[list[K]], Sequence[V]],
    at: Callable[[list[tuple[K, datetime]]], Sequence[V]],
) -> list[V]:
    """Current details for keys without a record time (one query), the versions in force for the others
    (one query, whatever mix of times)."""
    now = [i for i, (_, known_at) in enumerate(keys) if known_at is None]
    then = [i for i, (_, known_at) in enumerate(keys) if known_at is not None]
    out: list[V | None] = [None] * len(keys)
    if now:
        for i, value in zip(now, current([keys[i][0] for i in now]), strict=True):
            out[i] = value
    if then:
        asked = [(keys[i][0], keys[i][1]) for i in then]
        for i, value in zip(then, at(asked), strict=True):  # type: ignore[arg-type]
            out[i] = value
    return out  # type: ignore[return-value]


class Loaders:
    """The DataLoaders of one request (or one WebSocket connection)."""

    def __init__(self, read_model: ReadModel) -> None:
        # The load functions get the read model, not this object: a DataLoader holding a bound method of
        # the Loaders that hold it made a reference cycle per request, left to the cyclic collector
        # (whose full collections were the cold path's p99).
        self.read_model = read_model
        self._primed_sources: dict[DetailsKey[UUID], SourceView] | None = None

    def prime_source(self, key: DetailsKey[UUID], view: SourceView) -> None:
        """``source.prime(key, view)`` (the first value primed for a key stays), without making the
        DataLoader until a field loads through it: a cold ``position`` request only reads back the
        source its position primed (:meth:`primed_source`), and a DataLoader made to hold it cost ~2 us."""
        if "source" in self.__dict__:  # (made: cached_property keeps it in the instance's __dict__)
            self.source.prime(key, view)
            return
        if self._primed_sources is None:
            self._primed_sources = {}
        self._primed_sources.setdefault(key, view)

    def primed_source(self, key: DetailsKey[UUID]) -> SourceView | None:
        """The source :meth:`prime_source` primed for ``key``, if any (then the DataLoader holds it too, or will)."""
        primed = self._primed_sources
        return None if primed is None else primed.get(key)

    # Created on first use: most requests need one or two of them.
    @cached_property
    def actor(self) -> DataLoader[DetailsKey[str], ActorView | None]:
        return DataLoader(load_fn=partial(_actors, self.read_model))

    @cached_property
    def topic(self) -> DataLoader[DetailsKey[str], TopicView | None]:
        return DataLoader(load_fn=partial(_topics, self.read_model))

    @cached_property
    def source(self) -> DataLoader[DetailsKey[UUID], SourceView | None]:
        loader: DataLoader[DetailsKey[UUID], SourceView | None] = DataLoader(load_fn=partial(_sources, self.read_model))
        if self._primed_sources:
            loader.prime_many(self._primed_sources)
        return loader

    @cached_property
    def source_text(self) -> DataLoader[UUID, str | None]:
        return DataLoader(load_fn=partial(_source_texts, self.read_model))

    @cached_property
    def claim(self) -> DataLoader[ClaimKey, ClaimView | None]:
        return DataLoader(load_fn=partial(_claims, self.read_model))

    @cached_property
    def history(self) -> DataLoader[HistoryKey, list[ClaimEventView]]:
        return DataLoader(load_fn=partial(_histories, self.read_model))

    @cached_property
    def linked_from(self) -> DataLoader[ClaimKey, list[tuple[str, ClaimView]]]:
        return DataLoader(load_fn=partial(_linked_from, self.read_model))

    @cached_property
    def source_claims(self) -> DataLoader[ClaimKey, list[ClaimView]]:
        return DataLoader(load_fn=partial(_source_claims, self.read_model))

    @cached_property
    def position(self) -> DataLoader[PositionKey, PositionView | None]:
        return DataLoader(load_fn=partial(_positions, self.read_model))

    @cached_property
    def name(self) -> DataLoader[NameKey, Resolution]:
        return DataLoader(load_fn=partial(_names, self.read_model))


async def _names(read_model: ReadModel, refs: list[NameKey]) -> list[Resolution]:
    keyed = [((kind, ref), known_at) for kind, ref, known_at in refs]
    # Resolutions kept while the read model's names are unchanged (projections/resolved_names.py).
    return await blocking(grouped_by_basis, keyed, partial(read_model.resolve_names, reuse=True))


async def _actors(read_model: ReadModel, keys: list[DetailsKey[str]]) -> list[ActorView | None]:
    return await blocking(_details, keys, read_model.actors_by_keys, read_model.actors_at)


async def _topics(read_model: ReadModel, keys: list[DetailsKey[str]]) -> list[TopicView | None]:
    return await blocking(_details, keys, read_model.topics_by_keys, read_model.topics_at)


async def _sources(read_model: ReadModel, keys: list[DetailsKey[UUID]]) -> list[SourceView | None]:
    return await blocking(_details, keys, read_model.sources_by_ids, read_model.sources_at)


async def _source_texts(read_model: ReadModel, ids: list[UUID]) -> list[str | None]:
    return await blocking(read_model.source_texts, ids)


async def _claims(read_model: ReadModel, keys: list[ClaimKey]) -> list[ClaimView | None]:
    return await blocking(grouped_by_basis, keys, read_model.claims_by_ids)


async def _histories(read_model: ReadModel, keys: list[HistoryKey]) -> list[list[ClaimEventView]]:
    return await blocking(grouped_by_basis, keys, read_model.claim_histories)


async def _linked_from(read_model: ReadModel, keys: list[ClaimKey]) -> list[list[tuple[str, ClaimView]]]:
    return await blocking(grouped_by_basis, keys, read_model.claims_linking_to)


async def _source_claims(read_model: ReadModel, keys: list[ClaimKey]) -> list[list[ClaimView]]:
    return await blocking(grouped_by_basis, keys, read_model.claims_for_sources)


async def _positions(read_model: ReadModel, keys: list[PositionKey]) -> list[PositionView | None]:
    def fetch() -> list[PositionView | None]:
        groups: dict[tuple[date | None, datetime | None], list[int]] = defaultdict(list)
        for i, (_, _, as_of, known_at) in enumerate(keys):
            groups[(as_of, known_at)].append(i)
        out: list[PositionView | None] = [None] * len(keys)
        for (as_of, known_at), indexes in groups.items():
            pairs = [(keys[i][0], keys[i][1]) for i in indexes]
            for i, view in zip(indexes, read_model.positions_for_pairs(pairs, as_of, known_at), strict=True):
                out[i] = view
        return out

    return await blocking(fetch)
