"""The reader's web frontend, served at ``/`` by ``claims serve``.

A single page (Preact + htm, bundled by esbuild into ``static/app.js`` by
``python -m api.web.assets``) that talks to the public GraphQL API only: HTTP POST
to ``/graphql`` and ``graphql-transport-ws`` for the live stream. The server
side is nothing but the HTML shell for every view's URL and the static files;
it adds no endpoint the API lacks.
"""

from __future__ import annotations

import html
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
BUNDLE = STATIC_DIR / "app.js"
ASSET_PREFIX = "/assets"

# The views' URL paths (the page routes them in the browser; the server only serves the shell).
VIEW_PATHS = ("/", "/topic/{rest:path}", "/actor/{rest:path}", "/claim/{rest:path}", "/source/{rest:path}",
              "/audit", "/search", "/edit", "/review/{rest:path}")  # fmt: skip

# Nothing from another origin: scripts, styles, connections (also the WebSocket) are same-origin only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>claims-ledger</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{assets}/app.css">
<script type="module" src="{assets}/app.js"></script>
</head>
<body>
<div id="app"><p class="loading">Loading the ledger…</p></div>
<noscript>This page needs JavaScript. The GraphQL API answers at <a href="/graphql">/graphql</a>.</noscript>
</body>
</html>
"""

_MISSING = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>claims-ledger · frontend not built</title></head>
<body>
<main>
<h1>The web frontend is not built</h1>
<p>{file} is missing. To build it, {hint}.</p>
<p>The GraphQL API works: <a href="/graphql">/graphql</a>.</p>
</main>
</body>
</html>
"""


def missing() -> list[str]:
    """Files the page needs that are not built."""
    return [] if BUNDLE.is_file() else [str(BUNDLE.relative_to(WEB_DIR.parent.parent))]


async def page(request: Request) -> Response:
    from api.web.assets import INSTALL_HINT

    headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"}
    absent = missing()
    if absent:
        text = _MISSING.format(file=html.escape(absent[0]), hint=html.escape(INSTALL_HINT).replace("`", ""))
        return HTMLResponse(text, status_code=503, headers=headers)
    return HTMLResponse(_PAGE.format(assets=ASSET_PREFIX), headers=headers)


def routes() -> list[BaseRoute]:
    """The routes to add to the app: every view's URL, and the page's static files."""
    views: list[BaseRoute] = [Route(path, page, methods=["GET", "HEAD"]) for path in VIEW_PATHS]
    return [*views, Mount(ASSET_PREFIX, StaticFiles(directory=STATIC_DIR, check_dir=False), name="web-assets")]


__all__ = ["CSP", "STATIC_DIR", "routes"]
