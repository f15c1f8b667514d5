"""The HTTP protocol `claims serve` runs (api/web/server.py): each response of known length in one write,
streams and every other case as uvicorn writes them; then a live server answering pipelined requests
(both stores)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from types import SimpleNamespace
from typing import Any, cast

from api_support import live_server

from api.web.server import OneWriteCycle


class Transport:
    """What the cycle writes, write by write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def cycle(transport: Transport, method: str = "POST", keep_alive: bool = True) -> OneWriteCycle:
    scope: Any = {"method": method, "http_version": "1.1", "path": "/graphql", "query_string": b"", "headers": []}
    return OneWriteCycle(
        scope, transport, SimpleNamespace(write_paused=False), logging.getLogger("test"), logging.getLogger("test"), False, [],  # type: ignore[arg-type]
        asyncio.Event(), False, keep_alive, lambda: None,
    )  # fmt: skip


async def answer(c: OneWriteCycle, headers: list[tuple[bytes, bytes]], *bodies: bytes) -> None:
    await c.send({"type": "http.response.start", "status": 200, "headers": headers})
    for i, body in enumerate(bodies):
        await c.send({"type": "http.response.body", "body": body, "more_body": i < len(bodies) - 1})


def test_a_response_of_known_length_is_written_once_and_the_rest_as_uvicorn_writes_it() -> None:
    sized = [(b"content-length", b"5"), (b"content-type", b"text/plain")]

    async def run() -> None:
        one = Transport()
        await answer(cycle(one), sized, b"hello")
        assert len(one.writes) == 1 and one.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
        assert one.writes[0].endswith(b"content-length: 5\r\ncontent-type: text/plain\r\n\r\nhello")
        parts = Transport()  # a body in two messages: the head with the first
        await answer(cycle(parts), sized, b"hel", b"lo")
        assert [w[-3:] for w in parts.writes] == [b"hel", b"lo"]
        head = Transport()  # HEAD: no body is written, the head still is
        await answer(cycle(head, "HEAD"), sized, b"")
        assert len(head.writes) == 1 and head.writes[0].endswith(b"\r\n\r\n")
        closing = Transport()  # Connection: close: the head and body are written before the close
        await answer(cycle(closing, keep_alive=False), sized, b"hello")
        assert closing.closed and b"".join(closing.writes).endswith(b"\r\n\r\nhello")
        stream = Transport()  # chunked: the head at once (a feed's first event may come much later)
        c = cycle(stream)
        await c.send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        assert len(stream.writes) == 1 and b"transfer-encoding: chunked" in stream.writes[0]
        await c.send({"type": "http.response.body", "body": b"x", "more_body": False})
        assert stream.writes[1:] == [b"1\r\nx\r\n0\r\n\r\n"]

    asyncio.run(run())


def _responses(sock: socket.socket, count: int, deadline: float) -> list[tuple[list[bytes], bytes]]:
    """``count`` HTTP/1.1 responses of known length (or none: a 304) read from ``sock``: (the status line
    and header lines, names lower-cased; the body)."""
    data = b""
    out: list[tuple[list[bytes], bytes]] = []
    while len(out) < count:
        assert time.monotonic() < deadline, (out, data)
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            lines = data[:head_end].split(b"\r\n")
            head = [lines[0]] + [h.split(b":", 1)[0].lower() + b":" + h.split(b":", 1)[1] for h in lines[1:]]
            length = next((int(h.split(b":")[1]) for h in head if h.startswith(b"content-length:")), 0)
            if len(data) >= head_end + 4 + length:
                out.append((head, data[head_end + 4 : head_end + 4 + length]))
                data = data[head_end + 4 + length :]
                continue
        data += sock.recv(65536)
    return out


def test_a_live_server_answers_pipelined_requests_in_order(database_url: str) -> None:
    with live_server(database_url) as base:
        port = int(base.rsplit(":", 1)[1])
        body = json.dumps({"query": "{ ledgerDigest { treeSize } }"}).encode()
        post = b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                post % (len(body), body) + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + post % (len(body), body)
            )
            answers = _responses(sock, 3, time.monotonic() + 20)
            # A 304 (an ETag the cache holds) has no body and no Content-Length; the next answer follows it.
            cached = json.dumps({"query": "{ topics { key } }"}).encode()
            sock.sendall(post % (len(cached), cached))
            sock.sendall(post % (len(cached), cached))
            (first, _), (again, _) = _responses(sock, 2, time.monotonic() + 20)
            etag = next(h for h in first if h.startswith(b"etag:")).split(b":", 1)[1].strip()
            conditional = post.replace(b"\r\n\r\n", b"\r\nIf-None-Match: " + etag + b"\r\n\r\n", 1)
            sock.sendall(conditional % (len(cached), cached) + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            (not_modified, _), (health, _) = _responses(sock, 2, time.monotonic() + 20)
        assert not_modified[0] == b"HTTP/1.1 304 Not Modified" and again[0] == b"HTTP/1.1 200 OK"
        assert not [h for h in not_modified if h.startswith((b"content-length", b"transfer-encoding"))]
        assert health[0] == b"HTTP/1.1 200 OK"
        assert [head[0] for head, _ in answers] == [b"HTTP/1.1 200 OK"] * 3
        assert json.loads(answers[0][1])["data"]["ledgerDigest"]["treeSize"] == 0
        assert json.loads(answers[1][1]) == {"status": "ok"}
        assert json.loads(answers[2][1])["data"] == json.loads(answers[0][1])["data"]


def test_after_a_disconnect_nothing_is_written_and_a_failing_app_gets_uvicorns_answer() -> None:
    sized = [(b"content-length", b"5")]

    async def run() -> None:
        gone = Transport()  # the client left between the head and the body: the body's send returns quietly
        c = cycle(gone)
        await c.send({"type": "http.response.start", "status": 200, "headers": sized})
        gone.closed, c.disconnected = True, True  # (what the protocol's connection_lost does)
        await c.send({"type": "http.response.body", "body": b"hello"})
        assert gone.writes == []
        failed = Transport()  # the app raised after the head: uvicorn writes the head, then closes
        c = cycle(failed)

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": sized})
            raise RuntimeError("the body could not be read")

        await c.run_asgi(app)
        assert failed.closed and len(failed.writes) == 1 and failed.writes[0].endswith(b"content-length: 5\r\n\r\n")
        unfinished = Transport()  # the app returned without its body: the same
        c = cycle(unfinished)

        async def quits(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": sized})

        await c.run_asgi(quits)
        assert unfinished.closed and len(unfinished.writes) == 1

    asyncio.run(run())


def test_a_client_leaving_between_head_and_body_raises_nothing_into_the_app(caplog: Any) -> None:
    """A live uvicorn (uvloop, as `claims serve` runs) and a real client that disconnects after the head."""
    import threading

    import uvicorn

    from api.web.server import HttpTools

    outcome: list[BaseException | None] = []
    done = threading.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()  # the request
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        while (await receive())["type"] != "http.disconnect":
            pass  # the client has gone: now the body
        try:
            await send({"type": "http.response.body", "body": b"hello"})
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)
            raise
        finally:
            done.set()

    from api_support import free_port

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=HttpTools, loop="uvloop", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    with caplog.at_level(logging.ERROR, logger="uvicorn.error"):
        thread.start()
        try:
            deadline = time.monotonic() + 20
            while not server.started:
                assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
                time.sleep(0.01)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert done.wait(20), "the app never sent its body"
        finally:
            server.should_exit = True
            thread.join(20)
    assert outcome == [None]
    assert not [r for r in caplog.records if "Exception in ASGI application" in r.getMessage()]


def test_while_the_head_is_held_the_cycle_still_answers_for_its_connection() -> None:
    """uvicorn's ``send`` may wait for a paused writer while the head is being held; a concurrent
    ``receive`` (Expect: 100-continue) then asks the cycle's transport whether it is closing."""

    async def run() -> None:
        drained = asyncio.Event()
        transport = Transport()
        c = cycle(transport)
        c.flow = SimpleNamespace(write_paused=True, drain=drained.wait)  # type: ignore[assignment]
        start = asyncio.ensure_future(
            c.send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        )
        while not start.done() and c.transport is cast(object, transport):  # (until the head is being held)
            await asyncio.sleep(0)  # one turn of the loop: the send runs up to its wait
        assert c.transport.is_closing() is False
        transport.closed = True
        assert c.transport.is_closing() is True  # (the connection's own answer, not a stand-in's)
        transport.closed = False
        drained.set()
        await start
        c.flow = SimpleNamespace(write_paused=False)  # type: ignore[assignment]
        await c.send({"type": "http.response.body", "body": b"ok", "more_body": False})
        assert len(transport.writes) == 1 and transport.writes[0].endswith(b"\r\n\r\nok")

    asyncio.run(run())
