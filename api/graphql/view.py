"""Strawberry's ASGI view, with our context, authentication and GraphiQL page."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any, cast

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from api.auth import Caller, bearer, key_from_connection_params
from api.errors import READ_MODEL_UPGRADING, UNAUTHENTICATED, UPGRADE_RETRY_AFTER, coded
from api.graphql.basis import WS_OPERATION_EXTENSIONS
from api.graphql.context import Context, Services
from api.graphql.loaders import blocking
from api.graphql.ratelimit import RATE_LIMITED
from api.graphql.schema import LedgerSchema
from api.settings import Settings
from api.web import graphiql

GRAPHQL_RESPONSE = "application/graphql-response+json"
NOT_AN_OBJECT = (
    "The GraphQL operation's `extensions` must be an object or null, if provided."  # strawberry's words over HTTP
)
log = logging.getLogger("claims.api")


def rejected(status: int, reason: str) -> HTTPException:
    """A request refused before GraphQL sees it: one log line, a plain 4xx answer."""
    log.info("rejected request (%d): %s", status, reason)
    return HTTPException(status, reason)


def accepts_graphql_response(accept: str | bytes) -> bool:
    """Does this ``Accept`` header take ``application/graphql-response+json`` (GraphQL over HTTP)? Both
    HTTP paths (strawberry's view, ``api/graphql/prepared.py`` via ``api/web/http_cache.py``) ask here."""
    return GRAPHQL_RESPONSE in (accept.decode("latin-1") if isinstance(accept, bytes) else accept)


def json_depth(value: object, limit: int) -> bool:
    """Is ``value`` nested at most ``limit`` arrays/objects deep? (iterative: no recursion)"""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True


def close_reason(text: str) -> str:
    """A WebSocket close reason: at most 123 bytes of UTF-8."""
    return text.encode("utf-8")[:123].decode("utf-8", "ignore")


class RefusedJSON(json.JSONDecodeError):
    """JSON we refuse to read (too deep, not UTF-8): over HTTP a 400, over WebSocket an invalid message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)
        self.reason = reason


def encode_json(data: object) -> bytes:
    """A response body: orjson (compact, UTF-8), the standard library for what orjson refuses (integers
    beyond 64 bits). Both HTTP paths (strawberry's view, ``api/graphql/prepared.py``) encode with it."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def answer_status(result: ExecutionResult, data: dict[str, Any], graphql_response: bool) -> tuple[int, str | None]:
    """GraphQL over HTTP: the status of a processed result and its ``Retry-After`` (or None).

    Too many requests: 429 and Retry-After for every client, whatever it accepts. A client that
    accepts ``application/graphql-response+json`` gets 4xx for a request that failed before execution
    (its ``data`` entry is dropped from the answer in place: nothing was executed); legacy JSON clients get 200.
    """
    errors = result.errors or ()
    limited = [e for e in errors if (e.extensions or {}).get("code") == RATE_LIMITED]
    status = 429 if limited else 200
    retry_after = str((limited[0].extensions or {}).get("retryAfter", 1)) if limited else None
    if not limited and any((e.extensions or {}).get("code") == READ_MODEL_UPGRADING for e in errors):
        # Nothing read from the model could be answered: the whole answer is to be asked again after the switch.
        return 503, str(UPGRADE_RETRY_AFTER)
    if graphql_response and result.data is None and errors and all(e.path is None for e in errors):
        data.pop("data", None)
        codes = {(e.extensions or {}).get("code") for e in errors}
        if codes != {RATE_LIMITED}:
            status = 401 if codes == {UNAUTHENTICATED} else 400
    return status, retry_after


class LedgerWebSocketAdapter(ASGIWebSocketAdapter):
    async def close(self, code: int, reason: str) -> None:
        refused = getattr(self.ws.state, "refused", None)
        await super().close(code, refused if code == 4403 and refused else reason)


class LedgerTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with each operation's ``extensions`` (strawberry's handler drops them, so a query
    pinned with ``extensions.atTreeSize`` was answered unpinned)."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        extensions = message["payload"].get("extensions")
        # (strawberry's own refusals first: before the ack, a reused id; then as over HTTP)
        fresh = self.connection_acknowledged and message["id"] not in self.operations
        if fresh and extensions is not None and not isinstance(extensions, dict):
            await self.send_message({"id": message["id"], "type": "error", "payload": [{"message": NOT_AN_OBJECT}]})
            return
        # The handler starts the operation's task in super().handle_subscribe, and a new task copies the
        # current context: the operation reads its own message's extensions (api/graphql/basis.py).
        WS_OPERATION_EXTENSIONS.set(extensions if isinstance(extensions, dict) else None)
        await super().handle_subscribe(message)


class LedgerGraphQL(GraphQL[Context, None]):
    """``/graphql``: POST and GET queries, graphql-transport-ws subscriptions, GraphiQL for browsers."""

    websocket_adapter_class = LedgerWebSocketAdapter  # type: ignore[assignment]
    graphql_transport_ws_handler_class = LedgerTransportWS

    def __init__(self, schema: LedgerSchema, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            # graphql-transport-ws only: the legacy graphql-ws protocol is not offered.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=settings.max_subscriptions,
            allowed_origins=settings.cors_origins,
        )
        self.settings = settings

    @staticmethod
    def services(request: Request | WebSocket) -> Services:
        services: Services = request.app.state.services
        return services

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        services = self.services(request)
        secret = bearer(request.headers.get("authorization"))
        caller = Caller() if secret is None else await blocking(services.keys.identify, secret)
        address = request.client.host if request.client else "unknown"
        context = Context(services, caller, await services.sizes.current(blocking), address)
        if isinstance(request, WebSocket):
            context.websocket = request
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a WebSocket from ``connectionParams`` (or the handshake's Authorization header)."""
        secret = key_from_connection_params(context.connection_params)
        if secret is not None:
            context.caller = await blocking(context.services.keys.identify, secret)
        caller = context.caller
        message = caller.rejected
        if message is None and caller.principal is None and self.settings.require_key_for_reads:
            message = 'this server requires an API key: send connectionParams {"apiKey": KEY}'
        if message is not None:
            # Strawberry closes with 4403; the close frame's reason says why, with the code.
            if context.websocket is not None:
                context.websocket.state.refused = close_reason(f"{UNAUTHENTICATED}: {message}")
            raise ConnectionRejectionError({"message": message, "code": UNAUTHENTICATED})
        unset: UnsetType = UNSET
        return unset

    # Malformed requests: a coded 4xx answer, never an exception reaching the server.

    def decode_json(self, data: str | bytes) -> object:
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as error:
                raise RefusedJSON(f"the request is not valid UTF-8 (byte {error.start})") from None
        try:
            value = json.loads(data)
        except RecursionError:
            value = None
        else:
            if json_depth(value, self.settings.max_json_depth):
                return value
        raise RefusedJSON(
            f"the request's JSON is nested deeper than {self.settings.max_json_depth} (CLAIMS_MAX_JSON_DEPTH)"
        )

    def parse_json(self, data: str | bytes) -> Any:
        try:
            value = self.decode_json(data)
        except RefusedJSON as error:
            raise rejected(400, error.reason) from None
        except json.JSONDecodeError:
            raise rejected(400, "Unable to parse request body as JSON") from None
        if not isinstance(value, dict | list):
            raise rejected(400, 'the request must be a JSON object such as {"query": "{ topics { key } }"}')
        return value

    def parse_query_params(self, params: Any) -> dict[str, Any]:
        # ``variables=null`` in a GET query is allowed, as a POST body's null variables are.
        kept = {k: v for k, v in dict(params).items() if not (k in ("variables", "extensions") and v == "null")}
        return super().parse_query_params(kept)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Queries and mutations only: subscriptions are served over WebSocket."""
        allowed = OperationType.from_http(request_adapter.method) - {OperationType.SUBSCRIPTION}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as error:
            if error.operation_type == OperationType.SUBSCRIPTION:
                raise rejected(400, "subscriptions are served over WebSocket (graphql-transport-ws) only") from None
            raise rejected(400, error.as_http_error_reason(request_adapter.method)) from None
        except CannotGetOperationTypeError as error:
            raise rejected(400, error.as_http_error_reason()) from None
        except MissingQueryError:
            raise rejected(400, "No GraphQL query found in the request") from None

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql.page(host=request.headers.get("host"))

    # GraphQL over HTTP: answer ``application/graphql-response+json`` to clients that accept it,
    # with 4xx status codes for requests that fail before execution (legacy JSON clients get 200).

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        if isinstance(request, Request):
            request.state.sub_response = sub_response
            if accepts_graphql_response(request.headers.get("accept", "")):
                request.state.graphql_response = sub_response
        return sub_response

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:  # an error raised outside CodedErrors' reach (e.g. by the Basis extension)
            result.errors = [e if (e.extensions or {}).get("code") else coded(e) for e in result.errors]
        data = await super().process_result(request, result)
        sub_response = getattr(request.state, "sub_response", None)
        graphql_response = getattr(request.state, "graphql_response", None) is not None
        status, retry_after = answer_status(result, cast(dict[str, Any], data), graphql_response)
        if isinstance(sub_response, Response):
            if retry_after is not None:
                sub_response.headers["Retry-After"] = retry_after
            if graphql_response:
                sub_response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
            if status != 200:
                sub_response.status_code = status
        return data

    def encode_json(self, data: object) -> str:
        # Text: WebSocket messages are sent as text frames (graphql-transport-ws), HTTP bodies as UTF-8.
        return encode_json(data).decode("utf-8")

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        content_type = sub_response.headers.get("content-type")
        if content_type:
            response.headers["content-type"] = content_type
        return response
