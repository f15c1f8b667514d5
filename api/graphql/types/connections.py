"""Relay-style connections with opaque keyset cursors."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

from api.errors import bad_input
from api.graphql.loaders import blocking
from api.graphql.types.objects import Claim


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, cursors: list[str], has_next_page: bool, after: str | None) -> PageInfo:
        """The page info of a forward page with these cursors, read after cursor ``after``."""
        return cls(
            has_next_page=has_next_page,
            has_previous_page=after is not None,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


@strawberry.type
class ClaimEdge:
    cursor: str
    node: Claim


@strawberry.type(description="A page of claims ordered by statement date, then log position.")
class ClaimConnection:
    edges: list[ClaimEdge]
    nodes: list[Claim]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Claims matching the filter, on all pages.")


def page_size(first: int | None, default: int, maximum: int) -> int:
    """`first` checked against the configured maximum."""
    if first is None:
        return min(default, maximum)
    if first < 0:
        raise bad_input("first", "must not be negative")
    if first > maximum:
        raise bad_input("first", f"is {first}; the largest page is {maximum}")
    return first


NOT_OUR_CURSOR = "is not a cursor of this connection"
PageT = TypeVar("PageT")


async def read_page(fetch: Callable[..., PageT], *args: Any) -> PageT:
    """A keyset page from the read model; a cursor it cannot decode (ValueError) is the caller's `after`."""
    try:
        return await blocking(fetch, *args)
    except ValueError:
        raise bad_input("after", NOT_OUR_CURSOR) from None


MAX_POSITION = 2**63 - 1  # the stores' largest integer: a larger cursor is no cursor of ours


def encode_position_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"event:{position}".encode()).decode("ascii")


def decode_position_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii").partition(":")
        position = int(value)
    except ValueError:
        raise bad_input("after", NOT_OUR_CURSOR) from None
    if kind != "event" or not 0 <= position <= MAX_POSITION:
        raise bad_input("after", NOT_OUR_CURSOR)
    return position
