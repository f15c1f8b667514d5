"""What every resolver gets in ``info.context``: the services, the caller, the loaders.

Reads go through ``read_model`` (``projections.queries.ReadModel``: the read-model tables and
the ledger's log, proofs and checkpoints); ``ledger`` is for the mutations' batches only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from strawberry.types import Info as StrawberryInfo

from api.auth import Caller, KeyStore
from api.graphql.basis import DEFAULT_KNOWN_AT, PINS  # (basis imports this module only inside functions)
from api.graphql.cost import UNKNOWN_SIZES, SizesCache
from api.graphql.loaders import Loaders
from api.graphql.ratelimit import RateLimiter
from api.settings import Settings
from ledger.application import ClaimsLedger
from projections.queries import ReadModel
from projections.views import CollectionSizes

if TYPE_CHECKING:
    from api.graphql.subscriptions import Broadcaster


@dataclass
class Services:
    """The long-lived objects of one API process, shared by all requests."""

    settings: Settings
    ledger: ClaimsLedger  # writes only: every read goes through read_model
    read_model: ReadModel
    keys: KeyStore
    broadcaster: Broadcaster
    sizes: SizesCache
    reads: RateLimiter
    writes: RateLimiter


class Context:
    """One request's (or one WebSocket connection's) context."""

    connection_params: Any = None  # set by strawberry for graphql-transport-ws
    websocket: Any = None  # the WebSocket of a subscription connection (starlette.websockets.WebSocket)

    def __init__(
        self, services: Services, caller: Caller, sizes: CollectionSizes = UNKNOWN_SIZES, address: str = "unknown"
    ) -> None:
        self.services = services
        self.caller = caller
        self.address = address  # the client's network address
        self.sizes = sizes  # the read model's collection sizes, for the query's cost estimate
        self.loaders = Loaders(services.read_model)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def client(self) -> str:
        """Who rate limits and subscription limits count against: the key's name, else the address."""
        return client_of(self.caller, self.address)

    @property
    def read_model(self) -> ReadModel:
        """The read side: every read of a resolver goes through it."""
        return self.services.read_model

    @property
    def ledger(self) -> ClaimsLedger:
        """The write side: mutations only."""
        return self.services.ledger


Info = StrawberryInfo[Context, None]


def client_of(caller: Caller, address: str) -> str:
    """:attr:`Context.client` of a caller at a network address (also asked before a context exists)."""
    principal = caller.principal
    return f"key {principal.key_name!r}" if principal is not None else f"address {address}"


def instant(value: datetime | None, info: Info | None) -> datetime | None:
    """A record-time argument as an aware UTC instant (a naive one is taken as UTC); when not
    given, the operation's default: the current record, or the pinned basis (``api/graphql/basis.py``).
    ``info``: the field reading it, whose path the basis needs to tell whether its value reached the data
    (required, so that no resolver forgets it; None only outside a GraphQL operation, e.g. an export)."""
    if value is None:
        pins = PINS.get()
        if pins is not None:  # (the basis reports whether a field answered on the operation's default)
            pins.read_default(info.path if info is not None else None)
        default = DEFAULT_KNOWN_AT.get()
        if isinstance(default, Exception):
            raise default
        return default
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
