"""The basis of every GraphQL answer, and pinning a request to one.

Each response carries ``extensions.basis``: the read model's log position when
the operation started (``treeSize``), the RFC 6962 root hash of the log at that
size (``rootHash``, hex; check it against a signed checkpoint), and the record
time the answer used by default (``knownAt``).

A request pins a basis with the GraphQL request extension ``atTreeSize``
(``{"query": ..., "extensions": {"atTreeSize": 85}}``): every field's default
knownAt becomes the record time after which the ledger held exactly the first 85
events (see ``ReadModel.record_time_at``), so the same query with the same basis
gives the same data later, whatever was corrected since. A size with no such
instant (two writers' timestamps interleaved around it) or beyond the log is
BAD_USER_INPUT on the fields that read claims. Actors, topics and sources are shown
as the ledger held them at that record time, and actor and topic references resolve
among the names in force then (``projections/record_versions.py``, ``api/names.py``).

A field pins itself with its ``atTreeSize`` argument (next to ``knownAt``; giving
both is BAD_USER_INPUT): :func:`record_time` converts the size by the same rule.
When the operation's pinned fields all name one size and no field read the
operation's default, ``extensions.basis`` is that pin; otherwise the basis stays
the operation's and ``basis.pins`` lists each size the arguments pinned.
Pins and default reads are recorded with the field's path as the fields run, and
an answer with errors counts only those of fields whose values reach its data:
when an error nulls a field's parent (or the whole ``data``), the siblings it
cancels may or may not have pinned or read the default before they were
cancelled, and what they did must not decide the basis (it would then depend on
the order the event loop ran them in). An answer whose ``data`` is null has the
operation's basis.

``Claim.history`` lists events by log position, not record time: under the extension, the claim's
events among the first N (:func:`log_prefix`); unpinned, all of them, whatever the ``knownAt`` or
``atTreeSize`` the claim was read at.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from graphql.pyutils import Path
from strawberry.extensions import SchemaExtension

from api.errors import ApiError, bad_input
from api.graphql.loaders import Loaders, blocking

if TYPE_CHECKING:
    from api.graphql.context import Info

PIN_FIELD = "atTreeSize"
# The default knownAt of the running operation (None: the current record), or the error a pin raised.
DEFAULT_KNOWN_AT: ContextVar[datetime | ApiError | None] = ContextVar("default_known_at", default=None)
# The running operation's pinned tree size (None: not pinned, or the pin failed: DEFAULT_KNOWN_AT holds why),
# for fields that read by log position rather than record time (Claim.history).
PINNED_SIZE: ContextVar[int | None] = ContextVar("pinned_size", default=None)
# The read model's position as the HTTP layer read it for this request (api/web/http_cache.py), so the
# basis of an unpinned answer costs no second look at rm_tracking; None: read it here.
OBSERVED_POSITION: ContextVar[int | None] = ContextVar("observed_position", default=None)
# The extensions of the graphql-transport-ws "subscribe" message of the running operation (strawberry's
# handler drops them): set by ``api/graphql/view.py``'s handler, read in place of ``operation_extensions``.
WS_OPERATION_EXTENSIONS: ContextVar[dict[str, Any] | None] = ContextVar("ws_operation_extensions", default=None)
PIN_WAIT_SECONDS = 5.0
# Root hash by (database, tree size): a log never changes below its head, so a root is computed once.
_ROOTS: OrderedDict[tuple[str, int], bytes] = OrderedDict()
_ROOTS_KEPT = 256


@dataclasses.dataclass
class Pins:
    """What the running operation's fields pinned with the ``atTreeSize`` argument, and where."""

    by_size: dict[int, tuple[datetime, str]] = dataclasses.field(default_factory=dict)  # size: (knownAt, root hex)
    # The paths of the fields that pinned a size and of those that read the default (None: a read with no
    # field to name; it always counts), for an answer with errors (:meth:`reaching`).
    pinned_at: list[tuple[Path | None, int]] = dataclasses.field(default_factory=list)
    read_at: list[Path | None] = dataclasses.field(default_factory=list)

    def pin(self, size: int, known_at: datetime, root: str, path: Path | None) -> None:
        self.by_size[size] = (known_at, root)
        self.pinned_at.append((path, size))

    def read_default(self, path: Path | None) -> None:
        self.read_at.append(path)

    @property
    def default_read(self) -> bool:
        """Did a field read the operation's default knownAt?"""
        return bool(self.read_at)

    def reaching(self, data: dict[str, Any] | None) -> Pins:
        """The pins and default reads of the fields whose values are part of ``data``: those of fields an
        error's null propagation cancelled are left out, whether or not they ran that far first."""
        kept = Pins()
        for path, size in self.pinned_at:
            if _reaches(data, path):
                kept.pin(size, *self.by_size[size], path)
        for path in self.read_at:
            if _reaches(data, path):
                kept.read_default(path)
        return kept

    def basis(self, operation: dict[str, Any]) -> dict[str, Any]:
        """The basis to report, given the operation's own."""
        if not self.by_size:
            return operation
        pins = [self._entry(size) for size in sorted(self.by_size)]
        # Fields that read the default answered on the operation's basis: the pin is the basis
        # only when nothing did, or when the default is that same pin (the request extension).
        consistent = not self.default_read or (operation["pinned"] and [operation["treeSize"]] == list(self.by_size))
        if len(pins) == 1 and consistent:
            return {**pins[0], "pinned": True}
        return {**operation, "pins": pins}

    def _entry(self, size: int) -> dict[str, Any]:
        known_at, root = self.by_size[size]
        return {"treeSize": size, "rootHash": root, "knownAt": known_at.isoformat()}


PINS: ContextVar[Pins | None] = ContextVar("argument_pins", default=None)


def _reaches(data: dict[str, Any] | None, path: Path | None) -> bool:
    """Is the field at ``path`` (response keys and list indices) part of ``data``: is every field and list
    item above it there and not null? (A field there ran to its end, its pins and reads with it.)"""
    if path is None:
        return True
    keys = path.as_list()
    value: Any = data
    for key in keys[:-1]:
        if isinstance(key, int):
            value = value[key] if isinstance(value, list) and 0 <= key < len(value) else None
        else:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return False
    return isinstance(value, dict) and keys[-1] in value


class OperationBasis:
    """One operation's basis: computed before it runs, reported (with its fields' pins) after."""

    __slots__ = ("basis", "pins")

    def __init__(self) -> None:
        self.basis: dict[str, Any] | None = None
        self.pins: Pins | None = None

    def results(self, data: dict[str, Any] | None, errored: bool) -> dict[str, Any]:
        """The response's ``extensions`` entries: ``{"basis": ...}`` (nothing without a basis), for an
        answer of ``data`` (``errored``: with errors, which may have cancelled fields that pinned)."""
        if self.basis is None:
            return {}
        pins = self.pins
        if pins is None:
            return {"basis": self.basis}
        return {"basis": (pins.reaching(data) if errored else pins).basis(self.basis)}


# The ISO text of the last second ``utc_now_text`` was asked in: (POSIX seconds, "YYYY-MM-DDTHH:MM:SS").
_second: tuple[int, str] = (-1, "")


def utc_now_text(now_ns: int | None = None) -> str:
    """``datetime.now(UTC).isoformat()`` (the same clock, floored to microseconds; no fraction when it is 0) at
    about half its cost (~0.7 us of ~1.4 a request): the text of the current second is kept. ``now_ns``:
    another instant than now (POSIX nanoseconds)."""
    global _second
    seconds, nanos = divmod(time.time_ns() if now_ns is None else now_ns, 1_000_000_000)
    second, text = _second
    if seconds != second:
        text = datetime.fromtimestamp(seconds, UTC).isoformat()[:19]
        _second = (seconds, text)
    micros = nanos // 1000
    return f"{text}.{micros:06d}+00:00" if micros else text + "+00:00"


class operation_basis:  # (named as the function it was: ``async with operation_basis(...) as held``)
    """Run an operation on its basis: the default knownAt (and pin) its fields read, the basis it reports.

    Shared by the strawberry extension (:class:`Basis`) and the prepared path (``api/graphql/prepared.py``),
    which enters it and calls :meth:`leave` itself. A class, not an ``asynccontextmanager``: entered and
    left through ``AsyncExitStack``, the generator cost ~4 us of a cold request's ~170 on the event loop.
    """

    __slots__ = ("_extensions", "_services", "_tokens")

    def __init__(self, services: Any, operation_extensions: dict[str, Any] | None) -> None:
        self._services = services
        self._extensions = operation_extensions
        self._tokens: tuple[Any, Any, Any] | None = None

    async def __aenter__(self) -> OperationBasis:
        services = self._services
        held = OperationBasis()
        asked = (self._extensions or {}).get(PIN_FIELD)
        pinned: datetime | ApiError | None = None
        known_at: str | None
        if asked is None:
            size = OBSERVED_POSITION.get()
            if size is None:
                size = await blocking(services.read_model.projected_position)
            known_at = utc_now_text()
        else:
            size, pinned = await blocking(_pin, services, asked)
            known_at = pinned.isoformat() if isinstance(pinned, datetime) else None
        held.pins = Pins()
        self._tokens = (
            DEFAULT_KNOWN_AT.set(pinned),
            PINNED_SIZE.set(size if isinstance(pinned, datetime) else None),
            PINS.set(held.pins),
        )
        try:
            root = None
            if size is not None:  # a root already computed costs no thread hop
                root = await tree_root(services, size)
        except BaseException:
            self.leave()
            raise
        held.basis = {
            "treeSize": size,
            "rootHash": root.hex() if root is not None else None,
            "knownAt": known_at,
            "pinned": asked is not None,
        }
        return held

    async def __aexit__(self, *_: object) -> None:
        self.leave()

    def leave(self) -> None:
        """The operation is over: its default knownAt, pin and pins are no longer in force."""
        tokens, self._tokens = self._tokens, None
        if tokens is not None:
            default_token, size_token, pins_token = tokens
            PINS.reset(pins_token)
            PINNED_SIZE.reset(size_token)
            DEFAULT_KNOWN_AT.reset(default_token)


class Basis(SchemaExtension):
    held: OperationBasis | None = None

    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        context = self.execution_context.context
        services = getattr(context, "services", None)
        if services is None:  # (an execution without our context: nothing to report)
            yield
            return
        if getattr(context, "websocket", None) is not None:
            # One Context serves a whole WebSocket connection: its DataLoaders would answer this operation
            # from what an earlier one read (a claim retracted since, shown as it was, under a basis that
            # names the retraction). Each operation reads the model anew, as each HTTP request does.
            context.loaders = Loaders(services.read_model)
            extensions = WS_OPERATION_EXTENSIONS.get()
        else:
            extensions = self.execution_context.operation_extensions
        async with operation_basis(services, extensions) as held:
            self.held = held
            yield

    def get_results(self) -> dict[str, Any]:
        if self.held is None:
            return {}
        # (A subscription's events are not results here: none of its fields pins or reads the default.)
        result = self.execution_context.result
        if result is None:  # (execution itself failed: the answer's data is null, as the prepared path's)
            return self.held.results(None, True)
        return self.held.results(result.data, bool(result.errors))


async def record_time(info: Info, known_at: datetime | None, at_tree_size: int | None) -> datetime | None:
    """The record time a field reads at: its ``knownAt``, or the instant of its ``atTreeSize`` pin
    (same rule as the request extension), or the operation's default (``instant``)."""
    from api.graphql.context import instant

    if at_tree_size is None:
        return instant(known_at, info)
    if known_at is not None:
        raise bad_input(PIN_FIELD, "give knownAt or atTreeSize, not both")
    pins = PINS.get()
    if pins is not None and at_tree_size in pins.by_size:
        known_at, root_hex = pins.by_size[at_tree_size]
        pins.pin(at_tree_size, known_at, root_hex, info.path)
        return known_at
    services = info.context.services
    _, pinned = await blocking(_pin, services, at_tree_size, PIN_FIELD)
    if isinstance(pinned, ApiError):
        raise pinned
    if pins is not None:
        root = await blocking(_root, services, at_tree_size)
        pins.pin(at_tree_size, pinned, root.hex(), info.path)
    return pinned


def unpinnable(what: str) -> None:
    """BAD_USER_INPUT if the operation asked for a pin: ``what`` follows the log as it grows (a subscription)."""
    if DEFAULT_KNOWN_AT.get() is not None:
        raise bad_input(f"extensions.{PIN_FIELD}", f"{what} follows the log as it grows and cannot be pinned")


def log_prefix(info: Info) -> int | None:
    """The tree size a field that lists events by log position (``Claim.history``) stops at: the operation's
    pin; None, unpinned: the whole log. A ``knownAt`` or ``atTreeSize`` argument elsewhere in the query does
    not move it (the claim page shows a claim as known at an instant with the corrections made since)."""
    from api.graphql.context import instant

    instant(None, info)  # the operation's default: raises its pin's error, and counts as read for the basis
    return PINNED_SIZE.get()


def _pin(
    services: Any, asked: object, field: str = f"extensions.{PIN_FIELD}"
) -> tuple[int | None, datetime | ApiError]:
    """The tree size asked for and the record time after which the log held exactly that many
    events, or the error to raise (``field`` names the argument or extension in it)."""
    if not isinstance(asked, int) or isinstance(asked, bool) or asked < 0:
        return None, bad_input(field, f"{asked!r} is not a tree size (an integer, 0 or more)")
    head = services.read_model.tree_size()
    if asked > head:
        return None, bad_input(field, f"{asked} is beyond the log's {head} events")
    if not services.read_model.wait_for(asked, PIN_WAIT_SECONDS):
        return None, ApiError("UNAVAILABLE", f"the read model has not reached tree size {asked} yet; retry shortly")
    known_at = services.read_model.record_time_at(asked)
    if known_at is None:
        return None, bad_input(
            field, f"no record time separates the first {asked} events from later ones (concurrent writes); "
            "pin a neighbouring size"
        )  # fmt: skip
    return asked, known_at


async def tree_root(services: Any, size: int) -> bytes:
    """The Merkle root of the log's first ``size`` events (computed once per database and size)."""
    root = _ROOTS.get((services.settings.database_url, size))
    return root if root is not None else await blocking(_root, services, size)


def _root(services: Any, size: int) -> bytes:
    key = (services.settings.database_url, size)
    root = _ROOTS.get(key)
    if root is None:
        root = services.read_model.root_hash(size)
        _ROOTS[key] = root
        while len(_ROOTS) > _ROOTS_KEPT:
            _ROOTS.popitem(last=False)
    return root
