"""Request limits that are not GraphQL validation rules, and read access.

* :class:`BodyLimit`: ASGI middleware answering 413 to a body larger than
  ``CLAIMS_MAX_BODY_BYTES`` (by Content-Length, or while reading a chunked body).
* :class:`ReadAccess`: refuses an operation when a presented API key is not
  valid, or when reads need a key (``CLAIMS_REQUIRE_KEY_FOR_READS=1``) and none
  was sent.

Depth, token and alias limits are strawberry's extensions (see ``api.schema``);
page sizes are checked where ``first`` is read (``api.types.connections``).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult
from graphql.error import GraphQLError
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from api.errors import UNAUTHENTICATED


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
    """Refuse the whole operation for an invalid key, or for no key when reads need one."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        caller = context.caller
        message = caller.rejected
        if message is None and caller.principal is None and context.settings.require_key_for_reads:
            message = "this server requires an API key for reads: send 'Authorization: Bearer KEY'"
        if message is not None:
            self.execution_context.result = ExecutionResult(
                data=None, errors=[GraphQLError(message, extensions={"code": UNAUTHENTICATED})]
            )
        yield
