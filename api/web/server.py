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
    """A transport stand-in that keeps what is written (the response head); anything else it is
    asked (``is_closing`` from a concurrent ``receive``...) the connection's transport answers."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _Prefixed:
    """The connection's transport, writing ``head`` before the first thing it writes or does.

    Once the connection is closing (the client left, or the app's failure closed it) the head is
    dropped, never written: uvicorn writes nothing to a connection it knows is gone.
    """

    def __init__(self, transport: Any, head: bytes) -> None:
        self.transport = transport
        self._head: bytes | None = head

    def write(self, data: bytes) -> None:
        head, self._head = self._head, None
        self.transport.write(head + data if head is not None else data)

    def flush(self) -> None:
        head, self._head = self._head, None
        if head is not None and not self.transport.is_closing():
            self.transport.write(head)

    @property
    def written(self) -> bool:
        return self._head is None

    def __getattr__(self, name: str) -> Any:  # close()...: the head goes first, as uvicorn would have sent it
        self.flush()
        return getattr(self.transport, name)


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request/response cycle, its head written together with the body's first bytes.

    While the head is held, the cycle's transport is a :class:`_Prefixed`: whatever touches the
    connection next (the body, or uvicorn closing it after the app failed or quit) sends the head
    first, exactly as uvicorn would have; a disconnected cycle writes nothing (uvicorn's ``send``
    returns at once).
    """

    async def send(self, message: Any) -> None:
        transport = self.transport
        if isinstance(transport, _Prefixed):
            try:
                await super().send(message)
            finally:
                if self.response_complete and not self.disconnected:
                    transport.flush()  # (a HEAD answer, or nothing written): the head alone
                if transport.written or self.response_complete:
                    self.transport = transport.transport
            return
        if message["type"] == "http.response.start" and not self.response_started:
            head = _Head(transport)
            self.transport = head  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = transport
            if self.chunked_encoding:  # a stream (the feed...): its head now, whenever its first bytes come
                transport.write(head.data)
            elif head.data:
                self.transport = _Prefixed(transport, head.data)  # type: ignore[assignment]
            return
        await super().send(message)


class HttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`OneWriteCycle`."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # The cycle was just made and its task only scheduled: it has not sent anything yet.
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = OneWriteCycle
