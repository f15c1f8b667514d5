"""The HTTP surface besides GraphQL: GraphiQL from local assets, health, readiness, CORS."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from api_support import ApiEnv, api_env

from api.web import assets


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url, cors_origins=("https://newsroom.example",)) as env:
        yield env


def test_graphiql_page_uses_only_local_assets(api: ApiEnv) -> None:
    assert not assets.missing(), f"GraphiQL assets missing: {assets.INSTALL_HINT}"
    response = api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert urls and all(u.startswith("/static/") for u in urls), urls
    assert "http://" not in page and "https://" not in page and "//" not in page.replace("<!doctype", "")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    for url in urls:
        asset = api.client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100
    assert "createFetcher" in api.client.get("/static/graphiql-init.js").text
    assert "javascript" in api.client.get("/static/vendor/graphiql.min.js").headers["content-type"]


def test_graphiql_page_explains_missing_assets(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assets, "VENDOR_DIR", assets.STATIC_DIR / "no-such-dir")
    response = api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 503
    assert "npm ci" in response.text and "python -m api.web.assets" in response.text
    assert "https://" not in response.text


def test_queries_via_get(api: ApiEnv) -> None:
    response = api.client.get("/graphql", params={"query": "{ topics { key } }"})
    assert response.status_code == 200 and response.json()["data"]["topics"]


def test_mutations_are_refused_over_get(api: ApiEnv) -> None:
    response = api.client.get(
        "/graphql",
        params={"query": 'mutation { defineTopic(input: {key: "x", title: "X", proposition: "X"}) { changed } }'},
        headers={"Authorization": f"Bearer {api.keys['editor']}"},
    )
    assert response.status_code in (400, 405)


def test_health_and_readiness(api: ApiEnv) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["lag"] == 0 and body["treeSize"] == api.tree_size()


def test_readiness_fails_while_the_read_model_lags(database_url: str) -> None:
    with api_env(database_url, projector="external", ready_max_lag=0) as api:
        api.ledger.revoke_api_key("reader-key", "test", "test:admin")  # nobody projects it
        response = api.client.get("/readyz")
        assert response.status_code == 503 and response.json()["status"] == "lagging"


def test_cors_allows_configured_origins_only(api: ApiEnv) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = api.client.options("/graphql", headers={"Origin": "https://newsroom.example", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://newsroom.example"
    other = api.client.options("/graphql", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers


def test_subscriptions_are_not_served_over_plain_http(api: ApiEnv) -> None:
    response = api.client.post("/graphql", json={"query": "subscription { ledgerEvents { position } }"})
    assert response.status_code in (400, 405) or response.json().get("errors")
