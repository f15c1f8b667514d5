"""Prepared query operations: a document seen before goes from the request straight to execution.

Why: for a cold request (a known document, new variables) strawberry's per-request pipeline —
an execution context, six extension hooks wrapped as context managers, the parse and validation
cache lookups, the cost estimate walking the document, result processing — costs about as much
CPU as executing the compiled plan. None of that depends on the variables except the checks
that read them, so it is done once per (query text, ``operationName``) and kept:

* the parsed document (with ``CLAIMS_MAX_TOKENS``) and the operation's effective name;
* the verdicts that depend on the text alone: it parses, it validates (graphql-core's rules plus
  the depth and alias limits of ``api/graphql/schema.py``), every operation is a query, the
  operation exists (named, when there are several), no literal string holds a NUL or a lone
  surrogate;
* the cost estimate, when it reads no variable (``api/graphql/cost.py``), per collection sizes.

At request time :meth:`PreparedOperations.execute` runs what remains, with the same functions
the strawberry extensions use (``api/graphql/limits.py``, ``basis.py``, ``api/errors.py``): the
variables' strings, the cost against the caller's budget, the caller's read allowance, the
operation on its basis (``extensions.basis``), execution (``api/graphql/compiled.py``, or
graphql-core's ``execute``), unexpected errors logged and masked, the others coded.

Anything it does not decide the same way is left to strawberry, unchanged: :meth:`prepare`
answers None for a document that does not parse or validate, holds a mutation or subscription,
or names no operation; :meth:`execute` answers None (having taken no token and run nothing) for a
request that would be refused before execution (unauthenticated, over budget, rate limited, bad
strings). ``tests/test_prepared_http.py`` sends the same requests through both paths and
compares status, headers and bodies. ``CLAIMS_PREPARED_HTTP=0`` turns the path off.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
)
from graphql import execute as graphql_execute
from graphql.execution import MiddlewareManager
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionResult
from strawberry.utils.await_maybe import await_maybe

from api.errors import coded, log_errors
from api.graphql.basis import operation_basis
from api.graphql.cost import Limits, estimate
from api.graphql.limits import operation_named, over_rate, over_the_budget, unclean_strings

if TYPE_CHECKING:
    from api.graphql.context import Context
    from api.graphql.schema import LedgerSchema
    from api.settings import Settings
    from projections.views import CollectionSizes

# Each check ``api.graphql.limits.ReadAccess`` runs before an operation executes, and the function by
# which this path (or ``api/web/http_cache.py``, which calls it) makes the same decision. In another
# order: a refusal is left to strawberry's pipeline, so this path takes the read token last, only when
# it runs the operation. tests/test_prepared_http.py fails when ReadAccess calls a check not listed here.
READ_ACCESS_CHECKS = {
    "refused_caller": "refused_caller",  # http_cache._role: a refused caller goes strawberry's way
    "over_rate": "over_rate",  # execute, last
    "operation_named": "operation_named",  # _prepare
    "unclean_strings": "unclean_strings",  # _prepare (the text), execute (the variables)
    "over_budget": "over_the_budget",  # execute, with the estimate of _cost
}
PREPARED_KEPT = 512  # (query text, operationName) entries, LRU
COSTS_KEPT = 8  # cost estimates per entry, by collection sizes (they change every few seconds at most)


class Prepared:
    """What a (query text, operationName) needs at request time, decided once."""

    __slots__ = ("costs", "document", "fragments", "operation", "operation_name")

    def __init__(self, document: DocumentNode, operation: OperationDefinitionNode, operation_name: str | None) -> None:
        self.document = document
        self.operation = operation
        self.operation_name = operation_name  # as strawberry's ExecutionContext.operation_name
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        # Cost estimates by collection sizes; None once an estimate read a variable (then made per request).
        self.costs: OrderedDict[CollectionSizes, int] | None = OrderedDict()


class _Watched(Mapping[str, Any]):
    """The variables, noticing whether the cost estimate read any of them."""

    __slots__ = ("_values", "read")

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values
        self.read = False

    def __getitem__(self, key: str) -> Any:
        self.read = True
        return self._values[key]

    def __iter__(self) -> Any:
        self.read = True
        return iter(self._values)

    def __len__(self) -> int:
        self.read = True
        return len(self._values)

    def __bool__(self) -> bool:  # (``variables or {}`` reads nothing)
        return True


class PreparedOperations:
    def __init__(self, schema: LedgerSchema, settings: Settings) -> None:
        from api.graphql.schema import limit_rules  # (the schema module imports this one's users)

        self.schema = schema
        self.settings = settings
        # Exactly the rules strawberry validates with: its defaults plus the limits the pipeline adds.
        self.rules = (*specified_rules, *limit_rules(settings))
        self.middleware = MiddlewareManager()  # what strawberry passes when no extension resolves
        self.executor = execution_context_class_kwargs(schema.execution_context_class)  # and its executor
        self._kept: OrderedDict[tuple[str, str | None], Prepared | None] = OrderedDict()
        self._lock = threading.Lock()

    def prepare(self, query: str, operation_name: str | None) -> Prepared | None:
        """The prepared operation, or None when strawberry must answer (see the module's docstring)."""
        if len(query) > self.settings.max_query_length:  # (refused by strawberry's pipeline; never kept here)
            return None
        key = (query, operation_name)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        prepared = self._prepare(query, operation_name)
        with self._lock:
            self._kept[key] = prepared
            while len(self._kept) > PREPARED_KEPT:
                self._kept.popitem(last=False)
        return prepared

    def _prepare(self, query: str, operation_name: str | None) -> Prepared | None:
        try:
            document = parse(query, max_tokens=self.settings.max_tokens)
        except GraphQLError:
            return None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if not operations or any(o.operation != OperationType.QUERY for o in operations):
            return None
        if operation_named(document, operation_name) is not None:  # several operations, none named
            return None
        if operation_name is None:
            operation = operations[0]
            name = operation.name.value if operation.name else None
        else:
            found = [o for o in operations if o.name and o.name.value == operation_name]
            if not found:
                return None
            operation, name = found[0], operation_name
        if validate_document(self.schema._schema, document, self.rules):
            return None
        if unclean_strings(query, document, None) is not None:
            return None
        return Prepared(document, operation, name)

    async def execute(
        self,
        prepared: Prepared,
        variables: dict[str, Any] | None,
        operation_extensions: dict[str, Any] | None,
        context: Context,
    ) -> ExecutionResult | None:
        """The operation's result as strawberry's pipeline would give it; None (nothing run, no token
        taken) when the request is refused before execution: strawberry then answers it."""
        if unclean_strings("", prepared.document, variables) is not None:
            return None
        if over_the_budget(self._cost(prepared, variables, context), context) is not None:
            return None
        execute: Any = self.schema.compiled or graphql_execute
        basis = operation_basis(context.services, operation_extensions)
        try:  # first, as strawberry's pipeline does (the basis extension wraps the whole operation)
            held = await basis.__aenter__()
        except Exception:  # (the database did not answer): strawberry's pipeline answers it, as before
            return None
        try:
            if over_rate(context, False) is not None:  # no token was left: the refusal is strawberry's to give
                return None
            try:
                result = await await_maybe(
                    execute(
                        self.schema._schema,
                        prepared.document,
                        root_value=None,
                        middleware=self.middleware,
                        variable_values=variables,
                        operation_name=prepared.operation_name,
                        context_value=context,
                        is_awaitable=optimized_is_awaitable,
                        operation_extensions=operation_extensions,
                        **self.executor,
                    )
                )
                data, errors = result.data, result.errors
            except Exception as error:  # (a fault of execution itself: logged and masked, as any unexpected error)
                data = None
                errors = [error if isinstance(error, GraphQLError) else GraphQLError(str(error), original_error=error)]
        finally:
            basis.leave()
        if errors:
            log_errors(errors)  # LedgerSchema.process_errors
            errors = [coded(e) for e in errors]  # CodedErrors
        return ExecutionResult(data=data, errors=errors or None, extensions=held.results(data, bool(errors)))

    def _cost(self, prepared: Prepared, variables: dict[str, Any] | None, context: Context) -> int:
        """``api.graphql.limits.over_budget``'s estimate, reused while it reads no variable."""
        sizes = context.sizes
        costs = prepared.costs
        if costs is not None:
            cost = costs.get(sizes)
            if cost is not None:
                return cost
        limits = Limits.of(sizes, self.settings)
        watched = _Watched(variables or {})
        cost = estimate(self.schema._schema, prepared.operation, prepared.fragments, watched, limits)
        if costs is not None:
            if watched.read:
                prepared.costs = None
            else:
                costs[sizes] = cost
                while len(costs) > COSTS_KEPT:
                    costs.popitem(last=False)
        return cost
