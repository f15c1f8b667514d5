"""GraphQL errors with ``extensions.code``, and masking of everything unexpected.

Resolvers raise the ledger's own errors (``BadInput``, ``NotFound``, ``Conflict``)
or :class:`ApiError`; :class:`CodedErrors` turns each into a GraphQL error whose
``extensions`` carry ``code`` (and ``field`` / ``currentVersion`` where they
apply). Any other exception is logged with its traceback and reaches the client
only as "Internal server error." with code ``INTERNAL_SERVER_ERROR``.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from ledger.errors import BadInput, Conflict, DatabaseUnavailable, LedgerError, NotFound
from projections.db import QueryTimeout, ReadModelUpgrading
from projections.names import AMBIGUOUS, INVALID, Resolution

log = logging.getLogger("claims.api")

BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
CONFLICT = "CONFLICT"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
INTERNAL = "INTERNAL_SERVER_ERROR"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
QUERY_TIMEOUT = "QUERY_TIMEOUT"
UNAVAILABLE = "UNAVAILABLE"
# The read model is of another (older) schema while this version's is built beside it: HTTP 503 with
# Retry-After (seconds; a rebuild takes about 30 s at a million claims).
READ_MODEL_UPGRADING = "READ_MODEL_UPGRADING"
UPGRADE_RETRY_AFTER = 5
INTERNAL_MESSAGE = "Internal server error."
NAMES_IN_MESSAGE = 10  # candidates named in an ambiguity message (extensions list them all)


class ApiError(Exception):
    """An error of the API itself (authentication, limits, bad arguments)."""

    def __init__(self, code: str, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extensions = extensions


class ShuttingDown(ApiError):
    """A database call asked for after the app began closing its stores (api.graphql.loaders)."""

    def __init__(self) -> None:
        super().__init__(UNAVAILABLE, "the server is shutting down; retry (another server may answer)")


# Errors answered 503 before any byte of an answer: what a client may retry, and after how many seconds.
UNAVAILABLE_ERRORS = (ShuttingDown, ReadModelUpgrading, DatabaseUnavailable)
Unavailable = ShuttingDown | ReadModelUpgrading | DatabaseUnavailable


def unavailable(error: Unavailable) -> tuple[dict[str, Any], int]:
    """The 503 body (GraphQL errors, coded) and Retry-After seconds of an error of ``UNAVAILABLE_ERRORS``."""
    if isinstance(error, ShuttingDown):
        code, message, retry_after = error.code, error.message, 1
    elif isinstance(error, DatabaseUnavailable):
        log.warning("answered 503: %s (%s)", error, error.reason)
        code, message, retry_after = error.code, str(error), error.retry_after
    else:
        code, message, retry_after = READ_MODEL_UPGRADING, str(error), UPGRADE_RETRY_AFTER
    return {"errors": [{"message": message, "extensions": {"code": code}}]}, retry_after


def bad_input(field: str, message: str) -> ApiError:
    return ApiError(BAD_USER_INPUT, f"{field}: {message}", field=field)


def unresolved(field: str, resolution: Resolution) -> ApiError:
    """The error for a reference to an actor or topic that names no record, or several.

    Unknown: NOT_FOUND with the closest names as ``suggestions``. Ambiguous:
    BAD_USER_INPUT with every match as ``candidates``. Each entry is {key, name}.
    """
    kind, ref = resolution.kind, resolution.ref
    if resolution.status == INVALID:
        return ApiError(BAD_USER_INPUT, f"{field}: {ref!r} is {resolution.problem}: not a {kind} name", field=field)
    listed = [{"key": c.key, "name": c.label} for c in resolution.candidates]
    names = ", ".join(f"{c.key} ({c.label})" for c in resolution.candidates[:NAMES_IN_MESSAGE])
    if len(listed) > NAMES_IN_MESSAGE:
        names += f" and {len(listed) - NAMES_IN_MESSAGE} more (see extensions.candidates)"
    if resolution.status == AMBIGUOUS:
        message = f"{field}: {ref!r} matches several {kind}s: {names}; give one of these keys"
        return ApiError(BAD_USER_INPUT, message, field=field, candidates=listed)
    hint = f"; closest: {names}" if names else f"; no {kind} has a similar name"
    return ApiError(NOT_FOUND, f"{field}: no {kind} matches {ref!r}{hint}", field=field, kind=kind, suggestions=listed)


def unauthenticated(message: str = "an API key is required: send 'Authorization: Bearer KEY'") -> ApiError:
    return ApiError(UNAUTHENTICATED, message)


def forbidden(message: str) -> ApiError:
    return ApiError(FORBIDDEN, message)


def extensions_of(error: BaseException) -> dict[str, Any] | None:
    """The ``extensions`` for an error we report as is, or None for an unexpected one."""
    if isinstance(error, ApiError):
        return {"code": error.code, **error.extensions}
    if isinstance(error, BadInput):
        return {"code": BAD_USER_INPUT, "field": error.field}
    if isinstance(error, NotFound):
        return {"code": NOT_FOUND, "kind": error.kind}
    if isinstance(error, Conflict):
        out: dict[str, Any] = {"code": CONFLICT, "currentVersion": error.current_version}
        if error.expected_version is not None:
            out["expectedVersion"] = error.expected_version
        return out
    if isinstance(error, DatabaseUnavailable):
        return {"code": error.code, "retryAfter": error.retry_after}
    if isinstance(error, LedgerError):
        return {"code": error.code}
    if isinstance(error, QueryTimeout):
        return {"code": QUERY_TIMEOUT}
    if isinstance(error, ReadModelUpgrading):
        return {"code": READ_MODEL_UPGRADING, "retryAfter": UPGRADE_RETRY_AFTER}
    return None


def coded(error: GraphQLError) -> GraphQLError:
    """The error as the client sees it: coded, or masked when unexpected."""
    original = error.original_error
    if original is None:
        # Raised by graphql-core itself (variable coercion, a limit): coded in place.
        add_code(error)
        return error
    if isinstance(original, GraphQLError):
        return coded(original)
    extensions = extensions_of(original)
    if extensions is None:
        return _copy(error, INTERNAL_MESSAGE, {"code": INTERNAL})
    message = original.message if isinstance(original, ApiError) else str(original)
    return _copy(error, message, extensions)


def add_code(error: GraphQLError) -> None:
    """Give a parse or validation error its code (idempotent: validation results are cached)."""
    if error.extensions is None or "code" not in error.extensions:
        code = PARSE_FAILED if error.message.startswith("Syntax Error") else VALIDATION_FAILED
        error.extensions = {**(error.extensions or {}), "code": code}


def _copy(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def is_unexpected(error: GraphQLError) -> bool:
    """Should this error be masked (and logged)?"""
    original = error.original_error
    while isinstance(original, GraphQLError):
        original = original.original_error
    return original is not None and extensions_of(original) is None


def log_errors(errors: list[GraphQLError]) -> None:
    """Log unexpected errors with their traceback; a request refused for what it asked logs one
    line (at INFO: user errors are answers, not incidents)."""
    refused: list[str] = []
    for error in errors:
        if is_unexpected(error):
            path = ".".join(map(str, error.path or [])) or "(operation)"
            log.error("unexpected error in %s: %s", path, error.message, exc_info=error.original_error)
            continue
        if error.original_error is None:
            add_code(error)
        refused.append(error.message)
    if refused:
        first = refused[0].replace("\n", " ")[:200]
        log.info("refused request: %s%s", first, f" (and {len(refused) - 1} more errors)" if len(refused) > 1 else "")


class CodedErrors(MaskErrors):
    """Strawberry's ``MaskErrors``, masking only unexpected errors and coding the rest."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message=INTERNAL_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return _copy(error, self.error_message, {"code": INTERNAL})

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [coded(e) for e in errors]
