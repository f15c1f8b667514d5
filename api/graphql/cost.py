"""Query cost analysis: an operation's answer is estimated before it runs, and refused
when the estimate is over the caller's budget.

The cost is the number of objects the answer would hold: every object field counts
once per object it is reached through, a list field multiplies what is below it by
its expected length, and a source's ``text`` (up to 2 million characters) counts as
:data:`TEXT_WEIGHT` objects. Expected lengths come from the request (``first`` of a
connection, at most the page limit) and from the read model's collection sizes
(:class:`projections.views.CollectionSizes`, re-read every :data:`SIZES_TTL_SECONDS`):
``sources`` costs as many objects as there are sources, ``Source.claims`` as many as
the largest source has claims, and so on. Nesting multiplies: ``sources { claims {
source { claims ... } } }`` grows as the product of the levels, which is exactly what
ran servers out of memory.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    value_from_ast_untyped,
)
from graphql.error import GraphQLError

from projections.views import CollectionSizes

QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
TEXT_WEIGHT = 10  # a source text is up to 2,000,000 characters: it weighs like ten objects
OTHER_LIST = 10  # a list whose length nothing tells (an actor's roles, a claim's links)
SIZES_TTL_SECONDS = 5.0
# ... or this many times as long as the last read took, if longer: the counts scan the claim versions (~0.5 s
# at a million on PostgreSQL), and a read every 5 s would then take a tenth of a database core from the reads
# it is for. Sizes a minute old only make an estimate a little less tight.
SIZES_READ_SPACING = 100
# Sizes never estimated below these: counts read a few seconds ago (or before the projector
# caught up) may be smaller than the collections are now.
FLOOR = CollectionSizes(
    sources=10, actors=10, topics=10, pairs=100, claims_per_source=50, claims_per_pair=20, versions_per_claim=5
)
UNKNOWN_SIZES = CollectionSizes(
    sources=1000, actors=1000, topics=1000, pairs=10_000, claims_per_source=100, claims_per_pair=100,
    versions_per_claim=10,
)  # fmt: skip
CONNECTIONS = ("ClaimConnection", "LedgerEventConnection")
log = logging.getLogger("claims.api")


class Limits:
    """What the estimate needs besides the document: page sizes, list caps, collection sizes."""

    def __init__(self, sizes: CollectionSizes, default_page: int, max_page: int, max_list: int) -> None:
        self.sizes = CollectionSizes(**{k: max(v, getattr(FLOOR, k)) for k, v in vars(sizes).items()})
        self.default_page = default_page
        self.max_page = max_page
        self.max_list = max_list

    @classmethod
    def of(cls, sizes: CollectionSizes, settings: Any) -> Limits:
        """The limits a server's settings set (``CLAIMS_DEFAULT_PAGE_SIZE``...), with these sizes."""
        return cls(sizes, settings.default_page_size, settings.max_page_size, settings.max_list_size)

    def list_length(self, parent: str, field: str, arguments: Mapping[str, Any]) -> int:
        """The expected length of a list field of an object of type ``parent``."""
        sizes = self.sizes
        if parent == "Query":
            if field == "sources":
                return min(sizes.sources, self.max_list)
            if field == "actors":
                return min(sizes.actors, self.max_list)
            if field == "topics":
                return min(sizes.topics, self.max_list)
            if field == "positions":
                if arguments.get("actor") is not None and arguments.get("topic") is not None:
                    return 1
                if arguments.get("actor") is not None:
                    return min(sizes.topics, sizes.pairs)
                if arguments.get("topic") is not None:
                    return min(sizes.actors, sizes.pairs)
                return sizes.pairs
            if field == "timeline":
                return sizes.claims_per_pair
        if parent == "Source" and field == "claims":
            return sizes.claims_per_source
        if parent == "Claim" and field == "history":
            return sizes.versions_per_claim
        return OTHER_LIST

    def page(self, arguments: Mapping[str, Any]) -> int:
        first = arguments.get("first")
        if isinstance(first, int) and not isinstance(first, bool) and 0 <= first <= self.max_page:
            return first
        return self.max_page if first is not None else min(self.default_page, self.max_page)


def estimate(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any] | None,
    limits: Limits,
) -> int:
    """The estimated number of objects in the operation's answer."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    given = variables or {}
    defaults = {
        definition.variable.name.value: value_from_ast_untyped(definition.default_value)
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
    }
    if defaults:  # (a variable not given has its default, as execution gives it)
        given = _Defaulted(given, defaults)
    return _selection_cost(operation.selection_set, root, 1, None, fragments, given, limits)


class _Defaulted(Mapping[str, Any]):
    """The variables given, and the defaults of those not given (a given ``null`` stays null)."""

    def __init__(self, given: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
        self.given = given
        self.defaults = defaults

    def __getitem__(self, key: str) -> Any:
        return self.given[key] if key in self.given else self.defaults[key]

    def __iter__(self) -> Any:
        return iter({**dict.fromkeys(self.defaults), **dict.fromkeys(self.given)})

    def __len__(self) -> int:
        return len({**dict.fromkeys(self.defaults), **dict.fromkeys(self.given)})


def _selection_cost(
    selection_set: SelectionSetNode | None,
    parent: GraphQLObjectType,
    multiplier: int,
    page: int | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    limits: Limits,
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for field in _fields(selection_set.selections, fragments):
        definition = parent.fields.get(field.name.value)
        if definition is None:  # __typename and friends
            continue
        field_type = definition.type
        if isinstance(field_type, GraphQLNonNull):
            field_type = field_type.of_type
        is_list = isinstance(field_type, GraphQLList)
        inner: Any = field_type
        while isinstance(inner, GraphQLList | GraphQLNonNull):
            inner = inner.of_type
        name = field.name.value
        if not isinstance(inner, GraphQLObjectType):
            if parent.name == "Source" and name == "text":
                total += multiplier * TEXT_WEIGHT
            continue
        # Arguments only matter for a list's length or a connection's page: read them only then, so an
        # estimate that reads no variable can be reused for other values (api/graphql/prepared.py).
        sized = is_list or inner.name in CONNECTIONS
        arguments = _arguments(field, variables) if sized else {}
        if is_list:
            length = page if page is not None and parent.name in CONNECTIONS else None
            count = multiplier * (length if length is not None else limits.list_length(parent.name, name, arguments))
        else:
            count = multiplier
        total += count
        below = limits.page(arguments) if inner.name in CONNECTIONS else None
        total += _selection_cost(field.selection_set, inner, count, below, fragments, variables, limits)
    return total


def _fields(selections: Sequence[Any], fragments: Mapping[str, FragmentDefinitionNode]) -> list[FieldNode]:
    out: list[FieldNode] = []
    for selection in selections:
        if isinstance(selection, FieldNode):
            out.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            out.extend(_fields(selection.selection_set.selections, fragments))
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:  # validation refuses unknown and cyclic fragments first
                out.extend(_fields(fragment.selection_set.selections, fragments))
    return out


def _arguments(field: FieldNode, variables: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for argument in field.arguments or ():
        value = argument.value
        if isinstance(value, VariableNode):
            out[argument.name.value] = variables.get(value.name.value)
        else:  # a literal: the variables are consulted only when a variable sits inside it
            out[argument.name.value] = value_from_ast_untyped(
                value, dict(variables) if _holds_variable(value) else None
            )
    return out


def _holds_variable(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_holds_variable(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_holds_variable(field.value) for field in value.fields)
    return False


def too_costly(cost: int, budget: int, keyed: bool) -> GraphQLError:
    setting = "CLAIMS_MAX_QUERY_COST_WITH_KEY" if keyed else "CLAIMS_MAX_QUERY_COST"
    who = "callers with an API key" if keyed else "callers without an API key"
    return GraphQLError(
        f"this query would answer an estimated {cost} objects; the budget for {who} is {budget} ({setting}). "
        "Ask for fewer nested lists or smaller pages.",
        extensions={"code": QUERY_TOO_COSTLY, "cost": cost, "budget": budget},
    )


class SizesCache:
    """The read model's collection sizes, re-read in the background once they are older than the TTL (or than
    ``SIZES_READ_SPACING`` times the last read's duration)."""

    def __init__(
        self,
        read: Callable[[], CollectionSizes],
        ttl: float = SIZES_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read = read
        self.ttl = ttl
        self.clock = clock
        self._sizes: CollectionSizes | None = None
        self._read_at = -float("inf")
        self._took = 0.0  # how long the last read took
        self._failed_at = -float("inf")  # when the last failed read ended
        self._lock = threading.Lock()
        self._refreshing = False
        self._task: asyncio.Task[Any] | None = None

    def refresh(self) -> None:
        """Read the sizes now (blocking: off the event loop). The app does once at start-up, so that no request
        waits for the first read (about two seconds at a million claims on PostgreSQL)."""
        # Stamped when the read begins: of two reads that overlap (a background refresh and a direct one), the
        # one begun earlier may end last, and its older sizes must not replace the newer ones.
        began = self.clock()
        try:
            sizes = self.read()
        except Exception:
            # Keep the last sizes read (UNKNOWN_SIZES only before the first), and try again a TTL after this
            # try ended (a statement timeout outlasts the TTL: counted from its start, reads would run back to
            # back). Not stamped as sizes are: it neither spaces the next try by its own duration (a timeout
            # would put it off for a quarter of an hour) nor discards an overlapping read.
            log.exception("reading collection sizes for query costs failed")
            with self._lock:
                self._failed_at = max(self._failed_at, self.clock())
            return
        took = self.clock() - began
        with self._lock:
            if began >= self._read_at:
                self._sizes, self._read_at, self._took = sizes, began, took

    async def current(self, run: Callable[..., Any]) -> CollectionSizes:
        """The sizes (``run`` runs a blocking call off the event loop); waits only for the very first read."""
        with self._lock:
            now = self.clock()
            stale = now - self._read_at > max(self.ttl, self._took * SIZES_READ_SPACING)
            start = stale and now - self._failed_at > self.ttl and not self._refreshing
            if start:
                self._refreshing = True
            sizes = self._sizes
        if start:
            if sizes is None:
                await self._read(run)
                return self._sizes or UNKNOWN_SIZES
            self._task = asyncio.get_running_loop().create_task(self._read(run))
        return sizes or UNKNOWN_SIZES

    async def _read(self, run: Callable[..., Any]) -> None:
        try:
            await run(self.refresh)
        finally:  # (also when the read never ran: cancelled, or refused at shutdown)
            with self._lock:
                self._refreshing = False
