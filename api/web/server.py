"""uvicorn's HTTP protocol (httptools), writing each response in one piece.

uvicorn writes a response's status line and headers as soon as the app starts the response, and
its body in a second write: two ``send`` calls per answer on the socket, and on loopback or a
local proxy each costs the whole TCP path (a cold GraphQL answer spent about as much CPU in the
first write as in its GraphQL pipeline; bench/RESULTS.md). :class:`HttpTools` holds the head of a
response of known length until its first body bytes (or anything else touching the connection) and
writes both at once; a streamed (chunked) response's head is written at once, as uvicorn does.
Everything else is uvicorn's own code: ``claims serve`` and the benchmarks run with
``--http api.web.server:HttpTools``.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle


class _Head:
    """A transport stand-in that keeps what is written (the response head)."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


class _Prefixed:
    """The connection's transport, writing ``head`` before the first thing it writes or does."""

    def __init__(self, transport: Any, head: bytes) -> None:
        self._transport = transport
        self._head: bytes | None = head

    def write(self, data: bytes) -> None:
        head, self._head = self._head, None
        self._transport.write(head + data if head is not None else data)

    def flush(self) -> None:
        head, self._head = self._head, None
        if head is not None:
            self._transport.write(head)

    def __getattr__(self, name: str) -> Any:  # close(), is_closing()...: the head goes first
        self.flush()
        return getattr(self._transport, name)


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request/response cycle, its head written together with the body's first bytes."""

    _held: bytes | None = None

    async def send(self, message: Any) -> None:
        transport = self.transport
        if message["type"] == "http.response.start" and not self.response_started:
            head = _Head()
            self.transport = head  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = transport
            if self.chunked_encoding:  # a stream (the feed...): its head now, whenever its first bytes come
                transport.write(head.data)
            elif head.data:
                self._held = head.data
            return
        held, self._held = self._held, None
        if held is None:
            await super().send(message)
            return
        prefixed = _Prefixed(transport, held)
        self.transport = prefixed  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = transport
            prefixed.flush()  # (a HEAD answer, or nothing written): the head alone


class HttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`OneWriteCycle`."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # The cycle was just made and its task only scheduled: it has not sent anything yet.
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = OneWriteCycle
