"""API keys: who is calling, and may they do this?

A key is sent as ``Authorization: Bearer KEY`` (HTTP) or in the WebSocket's
``connectionParams`` (``{"Authorization": "Bearer KEY"}`` or ``{"apiKey": KEY}``).
Only its SHA-256 is looked up (read model ``api_key``), with a short cache so a
busy client does not cost a query per request; revocation takes effect within
``CLAIMS_KEY_CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from api.errors import ApiError, forbidden, unauthenticated
from projections.views import ApiKeyView

ROLE_RANK = {"reader": 1, "editor": 2, "admin": 3}
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

    def require(self, role: str) -> Principal:
        if self.rejected:
            raise unauthenticated(self.rejected)
        if self.principal is None:
            raise unauthenticated()
        if not self.principal.has(role):
            raise forbidden(f"this needs the {role} role; key {self.principal.key_name!r} is {self.principal.role}")
        return self.principal


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


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


class KeyStore:
    """Looks keys up by their digest, caching answers for ``ttl`` seconds."""

    def __init__(
        self, lookup: Callable[[str], ApiKeyView | None], ttl: float, catch_up: Callable[[], object] | None = None
    ) -> None:
        self.lookup = lookup
        self.ttl = ttl
        self.catch_up = catch_up  # lets the read model catch up with the log (a key issued a moment ago)
        self._cache: dict[str, tuple[float, ApiKeyView | None]] = {}
        self._lock = threading.Lock()

    def identify(self, secret: str | None) -> Caller:
        """Blocking (it may query the read model): call it from a worker thread."""
        if secret is None:
            return Caller()
        if not secret:
            return Caller(rejected="malformed Authorization header: use 'Bearer KEY'")
        digest = secret_digest(secret)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self.ttl:
            view = cached[1]
        else:
            view = self.lookup(digest)
            if view is None and self.catch_up is not None:
                self.catch_up()
                view = self.lookup(digest)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (now, view)
        if view is None:
            return Caller(rejected="unknown API key")
        if view.revoked:
            return Caller(rejected=f"API key {view.name!r} has been revoked")
        return Caller(Principal(view.name, view.role))


class HasRole(BasePermission):
    """Field permission: the caller's key has at least ``role``."""

    role = "reader"

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        info.context.caller.require(self.role)  # raises a coded error
        return True


class IsEditor(HasRole):
    role = "editor"


class IsAdmin(HasRole):
    role = "admin"


__all__ = ["ApiError", "Caller", "HasRole", "IsAdmin", "IsEditor", "KeyStore", "Principal"]
