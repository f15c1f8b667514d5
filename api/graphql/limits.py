"""Request limits that are not GraphQL validation rules, and read access.

* :class:`BodyLimit`: ASGI middleware answering 413 to a body larger than
  ``CLAIMS_MAX_BODY_BYTES`` (by Content-Length, or while reading a chunked body).
* :class:`ReadAccess`: refuses an operation when a presented API key is not
  valid, or when reads need a key (``CLAIMS_REQUIRE_KEY_FOR_READS=1``) and none
  was sent.

Depth, token and alias limits are strawberry's extensions (see ``api.graphql.schema``), the document's
length is checked before it is parsed (:func:`too_long`);
page sizes are checked where ``first`` is read (``api.graphql.types.connections``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLSchema,
    ObjectFieldNode,
    OperationDefinitionNode,
    StringValueNode,
    Visitor,
    visit,
)
from graphql.error import GraphQLError
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.errors import BAD_USER_INPUT, PARSE_FAILED, UNAUTHENTICATED, VALIDATION_FAILED
from api.graphql.cost import Limits, estimate, too_costly
from api.graphql.ratelimit import rate_limited


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = f"Request body too large: the limit is {self.max_bytes} bytes (CLAIMS_MAX_BODY_BYTES).\n".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class ReadAccess(SchemaExtension):
    """Refuse the whole operation before it runs: an invalid key, no key when reads need one,
    several operations without ``operationName``, or a string no text can hold."""

    # The prepared HTTP path (api/graphql/prepared.py) makes each of these checks' decisions too
    # (its READ_ACCESS_CHECKS; tests/test_prepared_http.py fails when a check here is not listed there).

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        message = refused_caller(context.caller, context.settings)
        error = GraphQLError(message, extensions={"code": UNAUTHENTICATED}) if message is not None else None
        document = execution.graphql_document
        if error is None and document is not None:
            error = over_rate(context, execution.operation_type == OperationType.MUTATION)
        if error is None and document is not None:
            error = operation_named(document, execution._provided_operation_name) or unclean_strings(
                execution.query or "", document, execution.variables
            )
            if error is None:
                error = over_budget(execution.schema._schema, document, execution.operation_name, execution.variables,
                                    context)  # fmt: skip
        if error is not None:
            execution.result = ExecutionResult(data=None, errors=[error])
        yield


def refused_caller(caller: Any, settings: Any) -> str | None:
    """Why the caller may not read (an invalid key, or none where reads need one), or None."""
    if caller.rejected is not None:
        return str(caller.rejected)
    if caller.principal is None and settings.require_key_for_reads:
        return "this server requires an API key for reads: send 'Authorization: Bearer KEY'"
    return None


def over_rate(context: Any, write: bool) -> GraphQLError | None:
    """Take one request from the client's read or write allowance (``api.graphql.ratelimit``)."""
    settings = context.settings
    limiter = context.services.writes if write else context.services.reads
    wait = limiter.wait_needed(context.client)
    if not wait:
        return None
    if write:
        return rate_limited("writes", context.client, settings.rate_writes, wait, "CLAIMS_RATE_LIMIT_WRITES")
    return rate_limited("reads", context.client, settings.rate_reads, wait, "CLAIMS_RATE_LIMIT_READS")


def over_budget(
    schema: GraphQLSchema, document: DocumentNode, name: str | None, variables: dict[str, Any] | None, context: Any
) -> GraphQLError | None:
    """The operation's estimated cost against the caller's budget (see ``api.graphql.cost``)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = next((o for o in operations if name is None or (o.name and o.name.value == name)), None)
    if operation is None:
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    limits = Limits.of(context.sizes, context.settings)
    return over_the_budget(estimate(schema, operation, fragments, variables, limits), context)


def over_the_budget(cost: int, context: Any) -> GraphQLError | None:
    """An estimated cost against the caller's budget (keyed or anonymous)."""
    settings = context.settings
    keyed = context.caller.principal is not None
    budget = settings.max_cost_with_key if keyed else settings.max_cost_anonymous
    return too_costly(cost, budget, keyed) if cost > budget else None


def operation_named(document: DocumentNode, name: str | None) -> GraphQLError | None:
    """The GraphQL spec: a document of several operations needs ``operationName``."""
    if name is None and sum(isinstance(d, OperationDefinitionNode) for d in document.definitions) > 1:
        return GraphQLError(
            "Must provide operation name if query contains multiple operations.",
            extensions={"code": VALIDATION_FAILED},
        )
    return None


def too_long(query: str, max_length: int) -> GraphQLError | None:
    """A document longer than ``CLAIMS_MAX_QUERY_LENGTH`` characters, refused before it is parsed.

    The token limit does not count comments, so without this a valid document could be as long as the
    body limit (8 MiB), and every cache keyed by a document's text (the parser's, the prepared
    operations', the persisted documents') would keep up to its count of such texts."""
    if len(query) <= max_length:
        return None
    return GraphQLError(
        f"the query document is {len(query):,} characters long, more than the {max_length:,} allowed "
        "(CLAIMS_MAX_QUERY_LENGTH): send values as variables",
        extensions={"code": PARSE_FAILED},
    )


def text_problem(value: str) -> str | None:
    """Why a string is not text the ledger can store or search (None when it is fine)."""
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid Unicode text (it contains a lone surrogate)"
    return None


def _clean_scalars(variables: Mapping[str, Any]) -> bool:
    """Is every variable a string ``text_problem`` passes, a number, a boolean or null?"""
    for value in variables.values():
        if isinstance(value, str):
            if text_problem(value) is not None:
                return False
        elif not (value is None or isinstance(value, (int, float))):  # (bool is an int)
            return False
    return True


def unclean_strings(query: str, document: DocumentNode, variables: Mapping[str, Any] | None) -> GraphQLError | None:
    """A NUL or a lone surrogate in any variable or literal string argument: refused up front, so
    no store sees it (PostgreSQL errors on NUL, SQLite truncates at it, neither encodes surrogates)."""
    stack: list[tuple[str, Any]] = [("query", query)]
    if variables and not _clean_scalars(variables):  # (else no variable needs its path: ~1.5 us a request)
        stack += [(f"${k}", v) for k, v in variables.items()]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return _bad_string(path, problem)
        elif isinstance(value, Mapping):
            stack.extend((f"{path}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
    if "\\u" not in query:  # a literal can only hold NUL or a surrogate through a \u escape
        return None
    found: list[GraphQLError] = []

    class Strings(Visitor):
        def enter_string_value(self, node: StringValueNode, *args: Any) -> Any:
            problem = text_problem(node.value)
            if problem:
                ancestors = args[-1]
                named = [a.name.value for a in ancestors if isinstance(a, ArgumentNode | ObjectFieldNode)]
                found.append(_bad_string(".".join(named) or "argument", problem))
                return Visitor.BREAK
            return None

    visit(document, Strings())
    return found[0] if found else None


def _bad_string(field: str, problem: str) -> GraphQLError:
    return GraphQLError(f"{field}: {problem}", extensions={"code": BAD_USER_INPUT, "field": field})
