"""Strawberry's ASGI view, with our context, authentication and GraphiQL page."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from api import graphiql
from api.auth import Caller, bearer, key_from_connection_params
from api.context import Context, Services
from api.errors import UNAUTHENTICATED
from api.loaders import blocking
from api.schema import LedgerSchema
from api.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"


class LedgerGraphQL(GraphQL[Context, None]):
    """``/graphql``: POST and GET queries, graphql-transport-ws subscriptions, GraphiQL for browsers."""

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
        return Context(services, caller)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a WebSocket from ``connectionParams`` (or the handshake's Authorization header)."""
        secret = key_from_connection_params(context.connection_params)
        if secret is not None:
            context.caller = await blocking(context.services.keys.identify, secret)
        caller = context.caller
        if caller.rejected:
            raise ConnectionRejectionError({"message": caller.rejected, "code": UNAUTHENTICATED})
        if caller.principal is None and self.settings.require_key_for_reads:
            raise ConnectionRejectionError(
                {
                    "message": 'this server requires an API key: send connectionParams {"apiKey": KEY}',
                    "code": UNAUTHENTICATED,
                }
            )
        unset: UnsetType = UNSET
        return unset

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql.page()

    # GraphQL over HTTP: answer ``application/graphql-response+json`` to clients that accept it,
    # with 4xx status codes for requests that fail before execution (legacy JSON clients get 200).

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        if isinstance(request, Request) and GRAPHQL_RESPONSE in request.headers.get("accept", ""):
            request.state.graphql_response = sub_response
        return sub_response

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        data = await super().process_result(request, result)
        sub_response = getattr(request.state, "graphql_response", None)
        if sub_response is None:
            return data
        sub_response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            data.pop("data", None)  # a request error: nothing was executed
            codes = {(e.extensions or {}).get("code") for e in result.errors}
            sub_response.status_code = 401 if codes == {UNAUTHENTICATED} else 400
        return data

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        content_type = sub_response.headers.get("content-type")
        if content_type:
            response.headers["content-type"] = content_type
        return response
