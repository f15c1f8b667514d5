"""``ledgerEvents``: newly committed ledger events pushed to WebSocket subscribers.

One background task per API process (started in the app's lifespan) follows
the ledger log while anyone is subscribed: it reads events past the last
position it delivered, decodes each once and hands it to every subscriber
whose filter matches. Several processes on one database each follow the log,
so a subscriber sees writes made through any of them. A subscriber that does
not keep up (its queue fills) is told so and disconnected rather than allowed
to grow memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass, field

from eventsourcing.domain import Aggregate

from api.errors import ApiError, bad_input
from api.graphql.loaders import blocking
from api.graphql.types.audit import LedgerEvent
from ledger import domain
from projections.queries import ReadModel

log = logging.getLogger("claims.api.graphql.subscriptions")

READ_BATCH = 500
QUEUE_SIZE = 1000
TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"


def _event_types() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for cls in (domain.Source, domain.SourceKey, domain.Actor, domain.Topic, domain.Claim, domain.ApiKey):
        names = {n for n, v in vars(cls).items() if isinstance(v, type) and issubclass(v, Aggregate.Event)} - {
            "Event",
            "Created",
        }
        out[cls.__name__] = names
    return out


EVENT_TYPES = _event_types()


def check_types(types: list[str] | None) -> list[str] | None:
    """Each filter entry is an aggregate type (``Claim``) or an event type (``Claim.Revised``)."""
    if not types:
        return None
    for i, name in enumerate(types):
        kind, _, event = name.partition(".")
        if kind not in EVENT_TYPES or (event and event not in EVENT_TYPES[kind]):
            known = ", ".join(sorted(EVENT_TYPES))
            raise bad_input(f"types[{i}]", f"{name!r} is not an event type such as Claim.Revised, nor one of {known}")
    return types


_OVERFLOW = object()


@dataclass(eq=False)
class _Subscriber:
    after: int
    types: list[str] | None
    queue: asyncio.Queue[LedgerEvent | object] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False
    client: str = ""  # whose subscription this is (key name or address), for the limits


class Broadcaster:
    """Follows the ledger log for the subscribers of this process."""

    def __init__(self, read_model: ReadModel, poll_seconds: float) -> None:
        self.read_model = read_model
        self.poll_seconds = poll_seconds
        self.subscribers: set[_Subscriber] = set()
        # Streams held per client, from the start of a replay to the end of the live stream: what limits count.
        self.held: Counter[str] = Counter()
        self.position: int | None = None  # last position delivered (None while nobody listens)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ledger-events")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def poke(self) -> None:
        """Look for new events now (called after a write in this process)."""
        self._wake.set()

    def admit(self, client: str, per_client: int, total: int) -> None:
        """Refuse a subscription over the limits (per client, all clients of this process)."""
        if sum(self.held.values()) >= total:
            raise ApiError(
                TOO_MANY_SUBSCRIPTIONS,
                f"this server holds {total} subscriptions already (CLAIMS_MAX_SUBSCRIPTIONS); try again later",
            )
        if self.held[client] >= per_client:
            raise ApiError(
                TOO_MANY_SUBSCRIPTIONS,
                f"{client} holds {per_client} subscriptions already (CLAIMS_MAX_SUBSCRIPTIONS_PER_CLIENT)",
            )

    @contextlib.contextmanager
    def slot(self, client: str, per_client: int, total: int) -> Iterator[None]:
        """Hold one of ``client``'s streams (refused over the limits) for as long as the block runs."""
        self.admit(client, per_client, total)  # no await between this check and holding
        self.held[client] += 1
        try:
            yield
        finally:
            self.held[client] -= 1
            if self.held[client] <= 0:
                del self.held[client]

    @contextlib.asynccontextmanager
    async def subscribe(
        self, types: list[str] | None, after: int | None = None, client: str = ""
    ) -> AsyncIterator[_Subscriber]:
        """Events after log position ``after`` (default: the current head) as they are committed."""
        start = await blocking(self.read_model.tree_size) if after is None else after
        subscriber = _Subscriber(after=start, types=types, client=client)
        if self.position is None or self.position > start:
            self.position = start
        self.subscribers.add(subscriber)
        self.poke()
        try:
            yield subscriber
        finally:
            self.subscribers.discard(subscriber)
            if not self.subscribers:
                self.position = None

    async def _run(self) -> None:
        while True:
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), None if not self.subscribers else self.poll_seconds)
                self._wake.clear()
                while self.subscribers and self.position is not None and await self._deliver():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # keep following: a database hiccup must not end subscriptions
                log.exception("reading the ledger log for subscriptions failed; retrying")
                await asyncio.sleep(max(self.poll_seconds, 1.0))

    async def _deliver(self) -> bool:
        """Deliver one batch; True when there may be more right away."""
        after = self.position
        assert after is not None
        logged = await blocking(self.read_model.events, after, READ_BATCH)
        if not logged:
            return False
        events = [LedgerEvent.from_logged(*e) for e in logged]
        for subscriber in list(self.subscribers):
            for event in events:
                if event.position > subscriber.after and event.matches(subscriber.types):
                    self._offer(subscriber, event)
        if self.position is not None:
            self.position = max(self.position, events[-1].position)
        return len(logged) == READ_BATCH

    @staticmethod
    def _offer(subscriber: _Subscriber, event: LedgerEvent) -> None:
        if subscriber.overflowed:
            return
        if subscriber.queue.qsize() >= QUEUE_SIZE - 1:
            subscriber.overflowed = True
            subscriber.queue.put_nowait(_OVERFLOW)
            return
        subscriber.queue.put_nowait(event)
        subscriber.after = event.position


@dataclass(frozen=True)
class Subscriber:
    """Who subscribes: whether they sent a key, who limits count against, and the limits."""

    anonymous: bool = True
    client: str = ""
    per_client: int = 50
    total: int = 1000


async def ledger_events(
    broadcaster: Broadcaster, types: list[str] | None, after: int | None = None, who: Subscriber | None = None
) -> AsyncGenerator[LedgerEvent, None]:
    """Each ledger event committed after the subscription started, in log order (an access-control
    event without its secrets for an anonymous subscriber); with ``after``, first every event after
    that log position (a reconnecting client passes the last position it saw), then the live ones:
    no gap and no event twice."""
    who = who or Subscriber()
    wanted = check_types(types)
    if after is not None and after < 0:
        raise bad_input("after", "is a log position: 0 or more")
    with broadcaster.slot(who.client, who.per_client, who.total):
        async for event in _replay_then_follow(broadcaster, wanted, after):
            yield event.for_reader(who.anonymous)


async def _replay_then_follow(
    broadcaster: Broadcaster, wanted: list[str] | None, after: int | None
) -> AsyncGenerator[LedgerEvent, None]:
    if after is not None:
        head = await blocking(broadcaster.read_model.tree_size)
        if after > head:
            raise bad_input("after", f"{after} is beyond the log's {head} events")
        # Replay by pulling pages from the log at the client's pace (the live queue is bounded),
        # until a page comes back empty: then the live subscription starts exactly there.
        while logged := await blocking(broadcaster.read_model.events, after, READ_BATCH):
            for entry in logged:
                event = LedgerEvent.from_logged(*entry)
                if event.matches(wanted):
                    yield event
            after = logged[-1][0].position
    async with broadcaster.subscribe(wanted, after) as subscriber:
        while True:
            item = await subscriber.queue.get()
            if item is _OVERFLOW:
                raise ApiError(
                    "SUBSCRIBER_TOO_SLOW", "events arrived faster than this subscriber read them; resubscribe"
                )
            assert isinstance(item, LedgerEvent)
            yield item
