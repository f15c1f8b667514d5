"""Helpers for the API tests: a small ledger, a GraphQL client, a live uvicorn server."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx  # the maintained fork starlette's TestClient uses

from ledger import commands as c
from ledger.application import ClaimsLedger

REPO_ROOT = Path(__file__).resolve().parent.parent

TEXT = (
    "Berlin, 1 March 2025. In an interview on Sunday the chancellor said: "
    '"We will not deliver Taurus missiles." Weeks later his party leader declared: '
    '"A ceasefire must come first." The foreign minister said she supports a ceasefire '
    "only with security guarantees. In February the chancellor changed course: "
    '"We will deliver Taurus missiles after all."'
)


def passage(exact: str) -> dict[str, Any]:
    start = TEXT.index(exact)
    return {"start": start, "end": start + len(exact), "exact": exact}


def claim_data(key: str, actor: str, topic: str, stance: str, stated: str, exact: str, **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "actor": actor,
        "topic": topic,
        "stance": stance,
        "summary": f"{actor} {stance.lower()} {topic}",
        "stated": stated,
        "source": "berlin-interview",
        "passage": passage(exact),
        "attribution": "DIRECT_QUOTE",
        **extra,
    }


SOURCE = {
    "key": "berlin-interview",
    "title": "Interview in Berlin",
    "publisher": "Example News",
    "authors": ["A. Writer"],
    "published": "2025-03-01",
    "language": "en",
    "genre": "NEWS",
    "text": TEXT,
}


def seed(url: str, principal: str = "test:seed") -> ClaimsLedger:
    """A small ledger: 1 source, 3 actors, 2 topics, 4 claims. Returns the open ledger."""
    ledger = ClaimsLedger.open(url)
    with ledger.batch(principal) as b:
        b.register_source(c.parse_source(SOURCE))
        for key, name in (("chancellor", "The Chancellor"), ("party-leader", "Party Leader"), ("minister", "Minister")):
            b.register_actor(c.parse_actor({"key": key, "name": name, "kind": "PERSON", "aliases": [name.upper()]}))
        b.define_topic(c.parse_topic({"key": "taurus", "title": "Taurus", "proposition": "Deliver Taurus missiles"}))
        b.define_topic(c.parse_topic({"key": "ceasefire", "title": "Ceasefire", "proposition": "Ceasefire first"}))
        claims = [
            claim_data(
                "c-taurus-no", "chancellor", "taurus", "OPPOSES", "2025-01-12", "We will not deliver Taurus missiles."
            ),
            claim_data(
                "c-taurus-yes",
                "chancellor",
                "taurus",
                "SUPPORTS",
                "2025-02",
                "We will deliver Taurus missiles after all.",
            ),
            claim_data(
                "c-ceasefire", "party-leader", "ceasefire", "SUPPORTS", "2025-02-20", "A ceasefire must come first."
            ),
            claim_data(
                "c-minister",
                "minister",
                "ceasefire",
                "CONDITIONAL",
                "2025-02-25",
                "supports a ceasefire only with security guarantees",
                attribution="INDIRECT_SPEECH",
                conditions="security guarantees",
            ),
        ]
        for data in claims:
            b.record_claim(c.parse_claim(data))
    return ledger


@dataclass
class GraphQLClient:
    """POSTs GraphQL to a TestClient or an httpx.Client; returns the decoded body."""

    http: Any  # starlette TestClient or httpx.Client
    key: str | None = None

    def __call__(
        self, query: str, variables: Mapping[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        headers = {}
        secret = key if key is not None else self.key
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        response = self.http.post(
            "/graphql", json={"query": query, "variables": dict(variables or {})}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, variables: Mapping[str, Any] | None = None, key: str | None = None) -> dict[str, Any]:
        body = self(query, variables, key)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data


def error_codes(body: Mapping[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def live_server(url: str, env: Mapping[str, str] | None = None, timeout: float = 30.0) -> Iterator[str]:
    """A real `uvicorn api.web.app:create_app` on 127.0.0.1 (random port), with the HTTP protocol
    `claims serve` uses (api/web/server.py); yields its base URL."""
    port = free_port()
    environment = {**os.environ, "CLAIMS_DATABASE_URL": url, **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.web.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--http", "api.web.server:HttpTools"],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"uvicorn exited with {proc.returncode}:\n{output}")
            try:
                ready = httpx.get(f"{base}/readyz", timeout=1.0)
                if ready.status_code == 200 and ready.json()["lag"] == 0:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn did not become ready on {base} within {timeout}s")
            time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- fixtures


@dataclass
class ApiEnv:
    """A seeded ledger served by the app under a TestClient, with one key per role."""

    url: str
    ledger: ClaimsLedger
    client: Any  # starlette.testclient.TestClient
    keys: dict[str, str]
    app: Any

    @property
    def gql(self) -> GraphQLClient:
        return GraphQLClient(self.client)

    def as_role(self, role: str) -> GraphQLClient:
        return GraphQLClient(self.client, self.keys[role])

    @property
    def services(self) -> Any:
        return self.app.state.services

    def tree_size(self) -> int:
        return self.ledger.ledger_recorder.tree_head().size

    def caught_up(self) -> None:
        assert self.services.read_model.wait_for(self.tree_size(), 30.0), "read model did not catch up"


def catch_up(url: str) -> None:
    """Project the ledger at ``url`` up to its end, once (no projector follows it afterwards)."""
    from projections.projector import Projector

    projector = Projector(url)
    try:
        projector.catch_up()
    finally:
        projector.close()


@contextlib.contextmanager
def api_env(url: str, read_model: Any = None, **settings: Any) -> Iterator[ApiEnv]:
    from starlette.testclient import TestClient

    from api.settings import Settings
    from api.web.app import create_app

    ledger = seed(url)
    keys = {role: ledger.issue_api_key(f"{role}-key", role, "test:setup") for role in ("reader", "editor", "admin")}
    settings.setdefault("key_cache_seconds", 0.0)
    if settings.get("projector") == "external":  # project once now; nothing follows the log afterwards
        catch_up(url)
    app = create_app(Settings.from_env({}, database_url=url, **settings), read_model=read_model)
    try:
        with TestClient(app) as client:
            env = ApiEnv(url, ledger, client, keys, app)
            env.caught_up()
            yield env
    finally:
        ledger.close()
