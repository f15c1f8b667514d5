"""GraphiQL opens with a query that runs as it is: the page's defaults, executed on the demo corpus."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from starlette.testclient import TestClient

from api.cli.main import main
from api.settings import Settings
from api.web.app import create_app
from api.web.assets import STATIC_DIR
from api.web.graphiql import DEFAULT_QUERY, DEFAULT_VARIABLES
from ledger.application import ClaimsLedger


class _Defaults(HTMLParser):
    """The data attributes GraphiQL is started with (graphiql-init.js reads them)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if dict(attrs).get("id") == "graphiql":
            self.found = dict(attrs)


def test_the_default_query_runs_with_its_default_variables_on_the_demo(database_url: str) -> None:
    assert main(["--database", database_url, "demo"]) == 0
    app = create_app(Settings.from_env({}, database_url=database_url))
    with TestClient(app) as client, ClaimsLedger.open(database_url) as ledger:
        assert app.state.services.read_model.wait_for(ledger.ledger_recorder.tree_head().size, 30.0)
        page = _Defaults()
        page.feed(client.get("/graphql", headers={"Accept": "text/html"}).text)
        query, variables = page.found["data-default-query"], page.found["data-default-variables"]
        assert query == DEFAULT_QUERY and variables is not None and json.loads(variables) == DEFAULT_VARIABLES
        assert "$actor: String!" in query  # it needs its variables: the page must bring them
        body = client.post("/graphql", json={"query": query, "variables": json.loads(variables)}).json()
        without = client.post("/graphql", json={"query": query}).json()
    assert "errors" not in body, body
    position = body["data"]["position"]
    assert position["stance"] and position["claim"]["source"]["title"] and position["claim"]["countsFrom"]
    assert without["errors"]  # what the page opened with before: a query that could not run
    # The page starts GraphiQL with both (a first visit's tab: query and variables).
    script = (STATIC_DIR / "graphiql-init.js").read_text("utf-8")
    assert "dataset.defaultVariables" in script and "props.variables = defaultVariables" in script
