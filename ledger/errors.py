"""The ledger's errors. Each names what was wrong so a user can fix it."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of every error the ledger reports to its users."""

    code = "LEDGER_ERROR"


class BadInput(LedgerError):
    """Input that the ledger refuses; nothing was written."""

    code = "BAD_USER_INPUT"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class NotFound(LedgerError):
    code = "NOT_FOUND"

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!s} not found")


class Conflict(LedgerError):
    """An optimistic-concurrency conflict: someone else changed the record first."""

    code = "CONFLICT"

    def __init__(
        self, kind: str, key: object, expected: int | None, current: int | None, *, race: bool = False
    ) -> None:
        self.kind = kind
        self.key = key
        self.expected_version = expected
        self.current_version = current
        self.race = race  # another writer committed this record while this batch was being checked
        if race:
            now = f" (it is now at version {current})" if current is not None else ""
            message = f"{kind} {key!s} was written by another writer at the same time{now}; nothing was written"
        elif expected is None or current is None:
            message = f"{kind} {key!s} was changed by another writer at the same time; try again"
        else:
            message = (
                f"{kind} {key!s} is at version {current}, not the expected version {expected}; "
                "reload it and apply your change again"
            )
        super().__init__(message)


class ReadOnlyStore(LedgerError):
    """The store is a read-only copy (a PostgreSQL hot standby): it can be read, never written."""

    code = "READ_ONLY"

    def __init__(self, where: str) -> None:
        self.where = where
        super().__init__(
            f"the database {where} is a read-only replica (a PostgreSQL hot standby in recovery): "
            "nothing was written; send writes to the primary (CLAIMS_DATABASE_URL), read from replicas "
            "with CLAIMS_READ_DATABASE_URL"
        )


class DatabaseUnavailable(LedgerError):
    """No connection to the database could be had (it is down, restarting, or refuses connections):
    nothing was read or written; the same request may be sent again."""

    code = "UNAVAILABLE"
    retry_after = 2  # seconds (HTTP Retry-After)

    def __init__(self, where: str, cause: BaseException) -> None:
        self.where = where
        # The driver's own words (host, port, role, the server's refusal): for the logs and the command
        # line, not for an API client (the message names the address only).
        self.reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        super().__init__(
            f"the database {where} cannot be reached, or no connection to it was free in time: this step read "
            "and wrote nothing; retry"
        )
