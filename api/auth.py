"""API keys: who is calling, and may they do this?

A key is sent as ``Authorization: Bearer KEY`` (HTTP) or in the WebSocket's
``connectionParams`` (``{"Authorization": "Bearer KEY"}`` or ``{"apiKey": KEY}``).
Only its SHA-256 is looked up, in the ledger's own ``ApiKey`` events (read from the
log through ``ReadModel.access_events``, not from the read-model tables, so a key works the
moment ``claims apikey create`` returns, however far the projector lags, and an unknown key
is refused at once). Each process keeps the keys
in memory and reads the access events added since, at most every
``CLAIMS_KEY_CACHE_SECONDS`` for a known key (the bound on a revocation reaching
reads) and at most every 50 ms for a key it does not know. A write re-reads them
before it commits: a key revoked before the write began cannot write.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from strawberry.permission import BasePermission
from strawberry.types import Info

from api.errors import ApiError, forbidden, unauthenticated
from ledger.application import API_ROLES, secret_digest

ROLE_RANK = {role: rank for rank, role in enumerate(API_ROLES, 1)}
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller; ``name`` is what events record as ``recorded_by``."""

    key_name: str
    role: str

    @property
    def name(self) -> str:
        return f"apikey:{self.key_name}"

    def has(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]


@dataclass(frozen=True)
class Caller:
    """What a request presented: a principal, nothing, or a key that did not check out."""

    principal: Principal | None = None
    rejected: str | None = None  # why a presented key was refused
    digest: str | None = None  # the SHA-256 of the key presented, to check it again before a write

    def require(self, role: str) -> Principal:
        if self.rejected:
            raise unauthenticated(self.rejected)
        if self.principal is None:
            raise unauthenticated()
        if not self.principal.has(role):
            raise forbidden(f"this needs the {role} role; key {self.principal.key_name!r} is {self.principal.role}")
        return self.principal


def bearer(value: str | None) -> str | None:
    """The key in an ``Authorization`` header value, or None when there is none."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""  # present but malformed: refused, not ignored
    return token.strip()


def key_from_connection_params(params: object) -> str | None:
    if not isinstance(params, Mapping):
        return None
    for name in ("Authorization", "authorization"):
        if isinstance(params.get(name), str):
            return bearer(params[name])
    for name in ("apiKey", "api_key"):
        if isinstance(params.get(name), str):
            return str(params[name]).strip()
    return None


# (log position, topic, aggregate id, decoded payload) of one ApiKey event
AccessEvent = tuple[int, str, UUID, Mapping[str, Any]]
UNKNOWN_KEY_REFRESH_SECONDS = 0.05  # an unknown key re-reads the log at most this often (a key issued just now)


@dataclass(frozen=True)
class KeyRecord:
    name: str
    role: str
    revoked: str | None = None  # the reason, once revoked


class KeyStore:
    """The API keys the ledger's ApiKey events define, followed incrementally.

    ``read_events(after)`` returns the log size it read up to and the access events
    after ``after`` up to it. Refreshes are single-flight: concurrent requests wait for
    the one read in progress instead of repeating it. Memory holds issued keys only;
    unknown keys are never cached, so random keys cannot grow it.
    """

    def __init__(
        self,
        read_events: Callable[[int], tuple[int, Sequence[AccessEvent]]],
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read_events = read_events
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._by_digest: dict[str, KeyRecord] = {}
        self._digest_of: dict[UUID, str] = {}
        self._position = 0
        self._refreshed = -float("inf")
        self._lock = threading.Lock()

    def refresh(self, max_age: float) -> None:
        """Read the access events committed since the last read, unless that was under ``max_age`` ago."""
        with self._lock:
            started = self.clock()
            if started - self._refreshed < max_age:
                return
            position, events = self.read_events(self._position)
            for _, topic, key_id, payload in events:
                if topic.endswith(".Issued"):
                    digest = str(payload["secret_sha256"])
                    self._digest_of[key_id] = digest
                    self._by_digest[digest] = KeyRecord(str(payload["name"]), str(payload["role"]))
                elif topic.endswith(".Revoked") and key_id in self._digest_of:
                    digest = self._digest_of[key_id]
                    self._by_digest[digest] = replace(self._by_digest[digest], revoked=str(payload["reason"]))
            self._position = max(self._position, position)
            self._refreshed = started

    def identify(self, secret: str | None) -> Caller:
        """Blocking (it may read the log): call it from a worker thread."""
        if secret is None:
            return Caller()
        if not secret:
            return Caller(rejected="malformed Authorization header: use 'Bearer KEY'")
        return self._caller(secret_digest(secret), self.refresh_seconds)

    def recheck(self, caller: Caller) -> Caller:
        """The caller as the log says now (before a write): a revocation already committed counts."""
        if caller.digest is None:
            return caller
        return self._caller(caller.digest, 0.0)

    def _caller(self, digest: str, max_age: float) -> Caller:
        self.refresh(max_age)
        record = self._by_digest.get(digest)
        if record is None and max_age > UNKNOWN_KEY_REFRESH_SECONDS:
            self.refresh(UNKNOWN_KEY_REFRESH_SECONDS)  # a key issued a moment ago, in any process
            record = self._by_digest.get(digest)
        if record is None:
            return Caller(rejected="unknown API key", digest=digest)
        if record.revoked is not None:
            return Caller(rejected=f"API key {record.name!r} has been revoked", digest=digest)
        return Caller(Principal(record.name, record.role), digest=digest)


class HasRole(BasePermission):
    """Field permission: the caller's key has at least ``role``."""

    role = "reader"

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        info.context.caller.require(self.role)  # raises a coded error
        return True


class IsEditor(HasRole):
    role = "editor"


__all__ = ["ApiError", "Caller", "HasRole", "IsEditor", "KeyStore", "Principal"]
