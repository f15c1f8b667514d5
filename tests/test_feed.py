"""Resumable change feeds against a real uvicorn: GET /feed (SSE, NDJSON) and ledgerEvents(after:)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx  # the maintained fork starlette's TestClient uses
import websockets
from api_support import live_server, seed

from ledger.application import ClaimsLedger

PROTOCOL = "graphql-transport-ws"


def _sse_events(lines: Iterator[str], count: int) -> list[dict[str, Any]]:
    """The next ``count`` SSE messages (id, event, data) from a streaming response's lines."""
    out: list[dict[str, Any]] = []
    message: dict[str, Any] = {}
    while len(out) < count:
        line = next(lines)
        if not line:
            if message:
                out.append(message)
                message = {}
            continue
        name, _, value = line.partition(": ")
        message[name] = json.loads(value) if name == "data" else value
    return out


def _write(ledger: ClaimsLedger, n: int, tag: str) -> None:
    for i in range(n):
        ledger.issue_api_key(f"{tag}-{i}", "reader", "test:feed")


def test_sse_feed_resumes_after_a_restart_with_nothing_lost_or_repeated(database_url: str) -> None:
    ledger = seed(database_url)
    try:
        head = ledger.ledger_recorder.tree_head().size
        with live_server(database_url) as base, httpx.stream("GET", f"{base}/feed", timeout=20) as response:
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
            seen = _sse_events(response.iter_lines(), head)
        assert [int(m["id"]) for m in seen] == list(range(1, head + 1))
        assert seen[0]["event"] == seen[0]["data"]["type"] and seen[0]["data"]["position"] == 1
        last = seen[-1]["id"]

        _write(ledger, 5, "while-away")  # the server is down: nobody is following the log
        with live_server(database_url) as base:
            headers = {"Last-Event-ID": last}
            with httpx.stream("GET", f"{base}/feed", headers=headers, timeout=20) as response:
                lines = response.iter_lines()
                missed = _sse_events(lines, 5)
                _write(ledger, 1, "live")
                live = _sse_events(lines, 1)
        positions = [int(m["id"]) for m in missed + live]
        assert positions == list(range(int(last) + 1, int(last) + 7))
        assert [m["data"]["payload"]["name"] for m in missed + live] == [f"while-away-{i}" for i in range(5)] + ["live-0"]
    finally:
        ledger.close()


def test_ndjson_feed_filters_and_bad_input(database_url: str) -> None:
    ledger = seed(database_url)
    try:
        with live_server(database_url) as base:
            with httpx.stream(
                "GET", f"{base}/feed?after=0&types=Topic", headers={"Accept": "application/x-ndjson"}, timeout=20
            ) as response:
                assert response.headers["content-type"].startswith("application/x-ndjson")
                lines = response.iter_lines()
                topics = [json.loads(next(lines)) for _ in range(2)]
            assert [t["type"] for t in topics] == ["Topic.Defined", "Topic.Defined"]
            assert topics[0]["position"] < topics[1]["position"]
            bad = httpx.get(f"{base}/feed?after=-3", timeout=10)
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "BAD_USER_INPUT"
            beyond = httpx.get(f"{base}/feed?after=100000", timeout=10)
            assert beyond.status_code == 400 and "beyond the log" in beyond.json()["error"]["message"]
            wrong = httpx.get(f"{base}/feed?types=Nonsense", timeout=10)
            assert wrong.status_code == 400 and "Nonsense" in wrong.json()["error"]["message"]
    finally:
        ledger.close()


async def _subscribe_after(base: str, after: int, expect: int, ledger: ClaimsLedger) -> list[int]:
    ws_url = base.replace("http://", "ws://") + "/graphql"
    query = "subscription ($after: Int) { ledgerEvents(after: $after) { position type } }"
    async with websockets.connect(ws_url, subprotocols=[PROTOCOL], open_timeout=10) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"after": after}}}))
        positions: list[int] = []
        while len(positions) < expect:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert message["type"] == "next", message
            positions.append(message["payload"]["data"]["ledgerEvents"]["position"])
        await asyncio.to_thread(_write, ledger, 2, "live")  # then live events follow the replay
        while len(positions) < expect + 2:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            positions.append(message["payload"]["data"]["ledgerEvents"]["position"])
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
        return positions


def test_ledger_events_subscription_replays_from_after_then_goes_live(database_url: str) -> None:
    ledger = seed(database_url)
    try:
        with live_server(database_url) as base:
            _write(ledger, 3, "before-reconnect")
            head = ledger.ledger_recorder.tree_head().size
            positions = asyncio.run(_subscribe_after(base, head - 5, 5, ledger))
        assert positions == list(range(head - 4, head + 3))
    finally:
        ledger.close()


def test_feed_streams_count_against_the_callers_subscription_limit(database_url: str) -> None:
    ledger = seed(database_url)
    try:
        env = {"CLAIMS_MAX_SUBSCRIPTIONS_PER_CLIENT": "1"}
        with live_server(database_url, env) as base:
            with httpx.stream("GET", f"{base}/feed?format=ndjson", timeout=20) as first:
                assert first.status_code == 200
                lines = first.iter_lines()  # kept: dropping the iterator would close the stream
                next(lines)  # the first stream is open and replaying
                with httpx.stream("GET", f"{base}/feed?format=ndjson", timeout=10) as second:
                    # the same address already holds its one stream: refused with a status, not a broken 200
                    assert second.status_code == 429, second.status_code
                    assert json.loads(second.read())["error"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
    finally:
        ledger.close()
