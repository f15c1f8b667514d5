"""Against a real uvicorn on 127.0.0.1: subscriptions over WebSocket, and the graphql-http audit."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from typing import Any

import httpx2 as httpx  # the maintained fork starlette's TestClient uses
import pytest
import websockets
from api_support import REPO_ROOT, live_server, seed

PROTOCOL = "graphql-transport-ws"
SUBSCRIBE = "subscription ($types: [String!]) { ledgerEvents(types: $types) { type position recordedBy payload } }"
TOPIC = "mutation ($k: String!) { defineTopic(input: {key: $k, title: $k, proposition: $k}) { logPosition } }"
RETRACT = 'mutation { retractClaim(id: "c-minister", expectedVersion: 1, reason: "duplicate") { version } }'


async def _receive(ws: Any, timeout: float) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def _subscription_scenario(base: str, key: str) -> list[dict[str, Any]]:
    ws_url = base.replace("http://", "ws://") + "/graphql"
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http,
        websockets.connect(ws_url, subprotocols=[PROTOCOL], open_timeout=10) as ws,  # type: ignore[list-item]
    ):
        assert ws.subprotocol == PROTOCOL
        await ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": key}}))
        assert (await _receive(ws, 10))["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": {"types": ["Topic.Defined"]}},
                }
            )
        )

        async def mutate(query: str, variables: dict[str, Any] | None = None) -> None:
            response = await http.post("/graphql", json={"query": query, "variables": variables or {}})
            assert not response.json().get("errors"), response.text

        # The subscription starts asynchronously: write until the first event arrives (bounded).
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        n = 0
        while not received:
            assert time.monotonic() < deadline, "no subscription event within 30 s"
            await mutate(TOPIC, {"k": f"warm-up-{n}"})
            n += 1
            try:
                message = await _receive(ws, 1.0)
            except TimeoutError:
                continue
            assert message["type"] == "next", message
            received.append(message["payload"]["data"]["ledgerEvents"])
        # Now a filtered-out event, then a wanted one: only the wanted one arrives, in log order.
        await mutate(RETRACT)
        await mutate(TOPIC, {"k": "after-retraction"})
        while received[-1]["payload"]["key"] != "after-retraction":
            message = await _receive(ws, 10)
            assert message["type"] == "next", message
            received.append(message["payload"]["data"]["ledgerEvents"])
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
        return received


def test_ledger_events_subscription_end_to_end(database_url: str) -> None:
    with seed(database_url) as ledger:
        key = ledger.issue_api_key("live-editor", "editor", "test:setup")
    with live_server(database_url) as base:
        events = asyncio.run(_subscription_scenario(base, key))
    assert all(e["type"] == "Topic.Defined" for e in events)
    assert all(e["recordedBy"] == "apikey:live-editor" for e in events)
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert events[-1]["payload"]["key"] == "after-retraction"


async def _refused(base: str, params: dict[str, Any], subprotocol: str = PROTOCOL) -> tuple[int | None, str]:
    ws_url = base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(ws_url, subprotocols=[subprotocol], open_timeout=10) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": params}))
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else None), (closed.rcvd.reason if closed.rcvd else "")


def test_websocket_auth_and_legacy_protocol_refused(database_url: str) -> None:
    seed(database_url).close()
    with live_server(database_url, {"CLAIMS_REQUIRE_KEY_FOR_READS": "1"}) as base:
        code, _ = asyncio.run(_refused(base, {"apiKey": "clk_wrong"}))
        assert code == 4403
        code, _ = asyncio.run(_refused(base, {}))
        assert code == 4403
        # The legacy graphql-ws protocol (subscriptions-transport-ws) is not offered.
        with pytest.raises((websockets.InvalidHandshake, websockets.ConnectionClosed, AssertionError)):
            asyncio.run(_legacy(base))


async def _legacy(base: str) -> None:
    ws_url = base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(ws_url, subprotocols=["graphql-ws"], open_timeout=10) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "graphql-ws", f"negotiated {ws.subprotocol!r}"
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        await asyncio.wait_for(ws.recv(), 10)


def test_graphql_over_http_audit_has_no_errors(database_url: str) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required for the graphql-http audit: install nodejs (scripts/test does)"
    assert (REPO_ROOT / "node_modules" / "graphql-http").is_dir(), (
        "npm package graphql-http is missing: run `npm ci` in the repository root (scripts/test does)"
    )
    seed(database_url).close()
    with live_server(database_url) as base:
        run = subprocess.run(
            [node, str(REPO_ROOT / "tests" / "graphql_http_audit.mjs"), f"{base}/graphql"],
            capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert len(results) > 40
    errors = [r for r in results if r["status"] == "error"]
    assert not errors, json.dumps(errors, indent=1)
    warnings = [f"{r['name']}: {r['reason']}" for r in results if r["status"] == "warn"]
    print(
        f"graphql-http audit: {len(results)} checks, {len(errors)} errors, {len(warnings)} warnings",
        *warnings,
        sep="\n",
    )
