"""The in-browser GraphiQL page, built on local assets only.

The page loads React, ReactDOM and GraphiQL from ``/static/vendor/`` (copied
from node_modules by ``python -m api.web.assets``) and starts them with the
committed ``/static/graphiql-init.js``. A Content-Security-Policy keeps the
browser from loading anything from another origin. When the assets are not
installed the page says how to install them; it never falls back to a CDN.
"""

from __future__ import annotations

import html
import json
import re

from starlette.responses import HTMLResponse

from api.web.assets import INSTALL_HINT, VENDOR_FILES, missing

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'{sockets}; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# A Host header as browsers send it (name or address, optional port): anything else is left out
# of the policy rather than copied into a header.
HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


def csp(host: str | None) -> str:
    """The page's policy: fetches and WebSockets to this server's own origin only ('self' covers
    ws: in current browsers; the explicit ws/wss URL of the same host covers older ones)."""
    sockets = f" ws://{host} wss://{host}" if host and HOST.match(host) else ""
    return CSP.format(sockets=sockets)


# What the page opens with (a first visit; GraphiQL keeps a returning visitor's tabs): a
# query that runs as it is, its variables filled in. The page carries both as data
# attributes, because the CSP allows no inline script; graphiql-init.js reads them.
DEFAULT_QUERY = """# Where does an actor stand on a topic, as of a date, and since when?
# Press the run button. Change the variables below: an actor by key,
# name or alias ("Selenskyj"), a topic by key or title ("EU membership").
# Mutations need an API key: under Headers add
# {"Authorization": "Bearer KEY"}
query Position($actor: String!, $topic: String!, $asOf: Date) {
  position(actor: $actor, topic: $topic, asOf: $asOf) {
    stance
    since { date precision }
    claim {
      key summary quote
      statedOn { date precision }
      countsFrom countsFromReason
      source { title publisher published { date } }
      passage { exact }
    }
  }
}
"""
DEFAULT_VARIABLES = {"actor": "Hegseth", "topic": "ukraine-nato-membership", "asOf": "2025-02-20"}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>claims-ledger · GraphiQL</title>
<link rel="stylesheet" href="{static}/vendor/graphiql.min.css">
<link rel="stylesheet" href="{static}/graphiql-page.css">
</head>
<body>
<div id="graphiql" data-default-query="{query}" data-default-variables="{variables}">Loading GraphiQL…</div>
<script src="{static}/vendor/react.production.min.js"></script>
<script src="{static}/vendor/react-dom.production.min.js"></script>
<script src="{static}/vendor/graphiql.min.js"></script>
<script src="{static}/graphiql-init.js"></script>
</body>
</html>
"""

_MISSING = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>claims-ledger · GraphiQL not installed</title>
<link rel="stylesheet" href="{static}/graphiql-page.css">
</head>
<body>
<div class="missing">
<h1>GraphiQL is not installed</h1>
<p>This server serves GraphiQL from local files only, and these are missing:
{files}.</p>
<p>To install them, {hint}.</p>
<p>The GraphQL endpoint itself works: POST queries to this URL.</p>
</div>
</body>
</html>
"""


def page(static_prefix: str = "/static", host: str | None = None) -> HTMLResponse:
    absent = missing()
    if absent:
        text = _MISSING.format(
            static=static_prefix,
            files=", ".join(f"<code>{html.escape(n)}</code>" for n in absent),
            hint=html.escape(INSTALL_HINT).replace("`", ""),
        )
        status = 503
    else:
        text = _PAGE.format(
            static=static_prefix,
            query=html.escape(DEFAULT_QUERY),
            variables=html.escape(json.dumps(DEFAULT_VARIABLES, indent=2)),
        )
        status = 200
    return HTMLResponse(
        text, status_code=status, headers={"Content-Security-Policy": csp(host), "Cache-Control": "no-cache"}
    )


__all__ = ["CSP", "DEFAULT_QUERY", "DEFAULT_VARIABLES", "VENDOR_FILES", "csp", "page"]
