"""The page shell the server sends for every view's URL (the views themselves: test_web_browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_support import ApiEnv, api_env

import api.web.frontend as web


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url) as env:
        yield env


def test_every_view_url_gets_the_shell_with_a_same_origin_policy(api: ApiEnv) -> None:
    for path in ("/", "/topic/taurus", "/actor/chancellor/topic/taurus", "/claim/c-taurus-no", "/source/x",
                 "/audit", "/search?q=a", "/edit"):  # fmt: skip
        response = api.client.get(path)
        assert response.status_code == 200, path
        assert '<script type="module" src="/assets/app.js">' in response.text
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp and "connect-src 'self';" in csp
        assert "http" not in csp and "unsafe" not in csp
    assert api.client.get("/assets/app.js").headers["content-type"].startswith("text/javascript")
    assert api.client.get("/assets/app.css").status_code == 200
    assert api.client.get("/no-such-view").status_code == 404


def test_the_shell_explains_a_missing_build(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "BUNDLE", web.STATIC_DIR / "no-such-bundle.js")
    response = api.client.get("/")
    assert response.status_code == 503
    assert "npm ci" in response.text and "python -m api.web.assets" in response.text
    assert "https://" not in response.text
