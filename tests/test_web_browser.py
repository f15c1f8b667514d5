"""The web frontend in a real browser (Debian's headless Chromium via Playwright) on a live server.

One server per backend serves the demo corpus; the tests share it and only ever add to the ledger.
Every page records its requests and console: a request to another origin or a console error fails
the test that caused it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx  # the maintained fork starlette's TestClient uses
import pytest
from api_support import catch_up, live_server
from conftest import BACKENDS
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Route,
    expect,
    sync_playwright,
)
from web_support import AXE, SCREENSHOTS, chromium_path, load_demo

from ledger.application import ClaimsLedger

expect.set_options(timeout=15_000)

# The source the editing tests write to (the README's screenshots show others).
SOURCE = "apolut-2025-12-30-nato-ukraine-artikel-5"
PASSAGE = "Man sei sich nur noch in zwei Punkten uneinig."


@pytest.fixture(scope="module", params=BACKENDS, ids=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One demo ledger per backend for the whole module (overrides conftest's per-test database)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'ledger.db'}"
        load_demo(url)
        yield url
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    try:
        url = server.url(name)
        load_demo(url)
        yield url
    finally:
        if server.alive:
            server.drop_database(name)


@dataclass
class Site:
    base: str
    url: str
    backend: str
    editor_key: str
    scratch: Path  # the module's own temporary folder

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(f"{self.base}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture(scope="module")
def site(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with ClaimsLedger.open(database_url) as ledger:
        key = ledger.issue_api_key("web-editor", "editor", "test:setup")
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with live_server(database_url) as base:
        yield Site(base, database_url, backend, key, tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        yield launch(playwright)


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])


@dataclass
class Watch:
    """What a page asked for and logged."""

    origin: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    graphql_posts: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> Page:
        ws_origin = self.origin.replace("http://", "ws://")

        def on_request(request: Any) -> None:
            if not (request.url.startswith(self.origin + "/") or request.url.startswith("data:")):
                self.foreign.append(request.url)
            if request.method == "POST" and request.url == f"{self.origin}/graphql":
                self.graphql_posts.append(request.post_data or "")

        def on_websocket(ws: Any) -> None:
            if not ws.url.startswith(ws_origin + "/"):
                self.foreign.append(ws.url)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(message.text)

        page.on("request", on_request)
        page.on("websocket", on_websocket)
        page.on("console", on_console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page


@pytest.fixture
def watch(site: Site) -> Iterator[Watch]:
    w = Watch(site.base)
    yield w
    assert not w.foreign, f"requests left the page's origin: {w.foreign}"
    assert not w.errors, f"console errors: {w.errors}"


@pytest.fixture
def page(browser: Browser, watch: Watch) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = watch.attach(context.new_page())
    yield page
    context.close()


def shot(site: Site, page: Page, name: str) -> None:
    """Screenshots of the SQLite run; into the README's docs/screenshots only when asked
    (CLAIMS_UPDATE_SCREENSHOTS=1), so a test run leaves the checkout as it was."""
    if site.backend == "sqlite":
        folder = SCREENSHOTS if os.environ.get("CLAIMS_UPDATE_SCREENSHOTS") == "1" else site.scratch / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"))


def serious_violations(page: Page) -> list[str]:
    page.evaluate(AXE.read_text(encoding="utf-8"))  # evaluated by the driver: not subject to the page's CSP
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def cell(page: Page, actor: str, topic: str) -> Any:
    return page.locator(f'td[data-actor="{actor}"][data-topic="{topic}"]')


# ------------------------------------------------------------------ what the API says (the page must agree)

# The facts are read from the API at the start, not written into the tests: the demo corpus is curated
# further over time, and the page must show whatever the ledger holds.
STANCE_LABEL = {"SUPPORTS": "supports", "OPPOSES": "opposes", "CONDITIONAL": "conditional", "NEUTRAL": "neutral"}
PDATE = "date precision approximate earliest latest"
CLAIMS_PAGE = f"""query($after: String) {{ claims(first: 100, after: $after) {{
  pageInfo {{ hasNextPage endCursor }}
  nodes {{ key stance countsFrom actor {{ key name kind }} topic {{ key title }} statedOn {{ {PDATE} }} passage {{ exact }}
          source {{ key genre }} history {{ version type recordedAt changes {{ field before after }} }} }} }} }}"""
POSITIONS = f"""query($asOf: Date, $knownAt: DateTime) {{ positions(asOf: $asOf, knownAt: $knownAt) {{
  stance since {{ {PDATE} }} actor {{ key name kind }} topic {{ key title }} claim {{ source {{ genre }} }} }} }}"""


def shown(date: dict[str, Any]) -> str:
    """A partial date as the page writes it."""
    suffix = "" if date["precision"] == "DAY" else f" ({date['precision'].lower()})"
    return f"{'≈ ' if date['approximate'] else ''}{date['date']}{suffix}"


@dataclass
class Facts:
    claims: list[dict[str, Any]]
    actors: list[str]
    topics: list[str]

    def free_pairs(self) -> list[tuple[str, str]]:
        """(actor, topic) pairs no claim is about, in a fixed order."""
        taken = {(c["actor"]["key"], c["topic"]["key"]) for c in self.claims}
        return [(a, t) for a in self.actors for t in self.topics if (a, t) not in taken]


@pytest.fixture(scope="module")
def facts(site: Site) -> Facts:
    claims: list[dict[str, Any]] = []
    after = None
    while True:
        page = site.gql(CLAIMS_PAGE, {"after": after})["claims"]
        claims += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    names = site.gql("{ actors { key } topics { key } }")
    return Facts(claims, sorted(a["key"] for a in names["actors"]), sorted(t["key"] for t in names["topics"]))


def positions(site: Site, as_of: str, known_at: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    answer = site.gql(POSITIONS, {"asOf": as_of, "knownAt": known_at})["positions"]
    return {(p["actor"]["key"], p["topic"]["key"]): p for p in answer}


def expect_cell(page: Page, position: dict[str, Any]) -> None:
    """The matrix cell shows the API's stance (word and symbol besides the colour) and since when."""
    shown_cell = cell(page, position["actor"]["key"], position["topic"]["key"])
    expect(shown_cell).to_contain_text(STANCE_LABEL[position["stance"]])
    expect(shown_cell).to_contain_text(f"since {shown(position['since'])}")


# ------------------------------------------------------------------ the matrix (both backends)


def test_matrix_shows_positions_as_of_a_date_in_at_most_two_requests(site: Site, page: Page, watch: Watch) -> None:
    early, late = positions(site, "2025-02-20"), positions(site, "2025-12-31")
    assert early and set(late) - set(early)
    page.goto(f"{site.base}/?asOf=2025-02-20")
    expect(page.locator("table.matrix td.cell")).to_have_count(len(early))
    for position in early.values():
        expect_cell(page, position)
    some = next(iter(early.values()))
    symbol = {"SUPPORTS": "✓", "OPPOSES": "✗", "CONDITIONAL": "◐", "NEUTRAL": "○"}[some["stance"]]
    expect(cell(page, some["actor"]["key"], some["topic"]["key"]).locator(".stance")).to_contain_text(symbol)
    # A position that begins later is not there yet.
    (actor, topic) = sorted(set(late) - set(early))[0]
    expect(cell(page, actor, topic)).to_have_count(0)
    # An empty cell shows the legend's mark for "no position" as of the date (and says it to a screen reader).
    empty = page.locator("table.matrix td.cell-none").first
    expect(empty.locator("[aria-hidden=true]")).to_have_text("—")
    expect(empty.locator(".visually-hidden")).to_have_text("no position")
    expect(page.locator(".legend")).to_contain_text("— no position")
    assert len(watch.graphql_posts) <= 2, watch.graphql_posts
    assert all("positions" in p for p in watch.graphql_posts)
    shot(site, page, "matrix")

    # The date control writes the URL: a reader can cite what they saw.
    page.get_by_label("As of (date in the world)").fill("2025-12-31")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"asOf=2025-12-31"))
    expect(page.get_by_role("heading", name="Positions as of 2025-12-31")).to_be_visible()
    expect(page.locator("table.matrix td.cell")).to_have_count(len(late))
    expect_cell(page, late[(actor, topic)])


def test_matrix_filters_and_a_cell_opens_its_timeline_by_keyboard(site: Site, page: Page) -> None:
    late = positions(site, "2025-12-31")
    genre = "COMMENTARY"
    commentary = {p["actor"]["name"] for p in late.values() if p["claim"]["source"]["genre"] == genre}
    assert commentary and commentary != {p["actor"]["name"] for p in late.values()}
    page.goto(f"{site.base}/?asOf=2025-12-31&genre={genre}")
    rows = page.locator("table.matrix tbody th")
    expect(rows).to_have_count(len(commentary))
    assert set(rows.all_inner_texts()) == commentary

    position = late[sorted(late)[0]]
    actor, topic = position["actor"], position["topic"]
    page.goto(f"{site.base}/?asOf=2025-12-31&topic={topic['key']}&kind={actor['kind']}")
    link = cell(page, actor["key"], topic["key"]).get_by_role("link")
    link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/actor/{actor['key']}/topic/{topic['key']}\?asOf=2025-12-31"))
    expect(page.get_by_test_id("position")).to_contain_text(STANCE_LABEL[position["stance"]])


def test_a_pinned_view_keeps_what_the_reader_saw_while_the_ledger_advances(
    site: Site, facts: Facts, page: Page
) -> None:
    actor, topic = facts.free_pairs()[0]
    page.goto(f"{site.base}/?asOf=2025-12-31&topic={topic}")
    expect(page.get_by_role("heading", name="Positions as of 2025-12-31")).to_be_visible()
    page.get_by_role("button", name="Pin for citing").click()
    expect(page).to_have_url(re.compile(r"knownAt="))
    expect(page.get_by_role("note")).to_contain_text("As the ledger stood at")
    pinned = page.url
    record_claim(site, f"pinned-{site.backend}", actor, topic, "2025-12-28")
    page.goto(f"{site.base}/?asOf=2025-12-31&topic={topic}")
    expect(cell(page, actor, topic)).to_contain_text("opposes")
    page.goto(pinned)  # the cited URL still shows what the reader saw
    expect(page.get_by_role("note")).to_contain_text("As the ledger stood at")
    expect(page.locator("p.loading")).to_have_count(0)
    expect(cell(page, actor, topic)).to_have_count(0)


# ------------------------------------------------------------------ reading views


def test_topic_timeline_draws_runs_shifts_and_partial_dates(site: Site, facts: Facts, page: Page) -> None:
    # A shift, as the API's timeline reports it; the page computes its runs from the claims itself.
    pairs = sorted({(c["actor"]["key"], c["topic"]["key"]) for c in facts.claims})
    shift = None
    for start in range(0, len(pairs), 25):
        chunk = pairs[start : start + 25]
        body = " ".join(
            f'p{i}: timeline(actor: "{a}", topic: "{t}") {{ stance previousStance since {{ {PDATE} }} }}'
            for i, (a, t) in enumerate(chunk)
        )
        answers = site.gql(f"{{ {body} }}")
        found = [(chunk[i], answers[f"p{i}"]) for i in range(len(chunk)) if len(answers[f"p{i}"]) > 1]
        if found:
            shift = found[0]
            break
    assert shift, "the demo corpus has no shift of position"
    (actor, topic), changes = shift
    name = next(c["actor"]["name"] for c in facts.claims if c["actor"]["key"] == actor)
    page.goto(f"{site.base}/topic/{topic}?asOf=2025-12-31")
    runs = page.get_by_test_id("runs").locator("li").filter(has=page.get_by_role("link", name=name, exact=True))
    expect(runs).to_contain_text(f"{STANCE_LABEL[changes[0]['stance']]} from {shown(changes[0]['since'])}")
    shifted = f"{STANCE_LABEL[changes[1]['stance']]} from {re.escape(shown(changes[1]['since']))}"
    expect(runs).to_contain_text(re.compile(rf"shift \S+ {shifted}"))  # the marker, the symbol, the word
    expect(page.locator("svg .shift-marker").first).to_be_attached()
    shot(site, page, "timeline")
    # A month-precision claim is drawn as the interval it is, not as a point.
    month = next(c for c in facts.claims if c["statedOn"]["precision"] == "MONTH")
    page.goto(f"{site.base}/topic/{month['topic']['key']}")
    period = page.locator("svg rect.claim-period title", has_text=month["key"])
    expect(period).to_contain_text(f"{month['statedOn']['earliest']} … {month['statedOn']['latest']}")


def corrected_claim(site: Site, facts: Facts) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A claim whose stance a revision corrected, changing the position as of its date; with both positions."""
    for claim in facts.claims:
        if not any(c["field"] == "stance" for e in claim["history"] for c in e["changes"]):
            continue
        pair = (claim["actor"]["key"], claim["topic"]["key"])
        as_of = claim["statedOn"]["latest"]
        before = positions(site, as_of, claim["history"][0]["recordedAt"]).get(pair)
        after = positions(site, as_of).get(pair)
        if before and after and before["stance"] != after["stance"]:
            return claim, before, after
    raise AssertionError("the demo corpus has no correction of a stance that changes a position")


def test_claim_history_and_as_known_at_before_and_after_a_correction(site: Site, facts: Facts, page: Page) -> None:
    claim, before, after = corrected_claim(site, facts)
    page.goto(f"{site.base}/claim/{claim['key']}")
    article = page.get_by_test_id("claim")
    expect(article.locator("h1")).to_contain_text(STANCE_LABEL[claim["stance"]])
    history = page.get_by_test_id("history")
    expect(history.locator(":scope > li")).to_have_count(len(claim["history"]))
    index, event = next(
        (i, e) for i, e in enumerate(claim["history"]) if any(c["field"] == "stance" for c in e["changes"])
    )
    change = next(c for c in event["changes"] if c["field"] == "stance")
    revised = history.locator(":scope > li").nth(index)
    expect(revised).to_contain_text("revised")
    stance_row = revised.locator("tr", has=page.locator("th", has_text="stance"))
    expect(stance_row.locator("td.before del")).to_have_text(change["before"])
    expect(stance_row.locator("td.after ins")).to_have_text(change["after"])
    expect(page.get_by_test_id("passage-context").locator("mark.passage")).to_have_text(claim["passage"]["exact"])
    expect(article.get_by_role("link", name=claim["actor"]["name"], exact=True)).to_be_visible()
    expect(article.locator("dt:text-is('Counts for positions from') + dd")).to_contain_text(claim["countsFrom"])
    shot(site, page, "claim")

    # Version 1, as the ledger stood when it was recorded: before the correction.
    history.locator(":scope > li").first.get_by_role("link", name="view as known at this moment").click()
    expect(page).to_have_url(re.compile(r"knownAt="))
    expect(page.get_by_test_id("version-note")).to_contain_text("Version 1")
    first_stance = next(c["before"] for e in claim["history"] for c in e["changes"] if c["field"] == "stance")
    expect(article.locator("h1")).to_contain_text(STANCE_LABEL[first_stance])
    known_at = page.url.split("knownAt=")[1]
    # The matrix as of the statement date, before and after the correction.
    as_of = claim["statedOn"]["latest"]
    page.goto(f"{site.base}/?asOf={as_of}&knownAt={known_at}")
    expect_cell(page, before)
    page.goto(f"{site.base}/?asOf={as_of}")
    expect_cell(page, after)


def test_source_highlights_every_passage_and_links_it(site: Site, page: Page) -> None:
    key = "neuber-2025-04-28-trumps-ukraine-dilemma"
    source = site.gql("query($k: ID!) { source(id: $k) { genre claims { key } } }", {"k": key})["source"]
    page.goto(f"{site.base}/source/{key}")
    expect(page.locator("dl.facts .genre")).to_have_text({"NEWS": "news report"}.get(source["genre"], source["genre"]))
    text = page.get_by_test_id("source-text")
    expect(text.locator("a.passage").first).to_be_visible()
    linked = set(text.locator("a[data-claim]").evaluate_all("els => els.map(e => e.dataset.claim)"))
    assert linked == {c["key"] for c in source["claims"]}
    shot(site, page, "source")
    first = text.locator("a.passage").first
    target = first.get_attribute("data-claim")
    first.click()
    expect(page).to_have_url(re.compile(rf"/claim/{target}$"))
    expect(page.get_by_test_id("claim")).to_be_visible()


def test_actor_and_search(site: Site, page: Page) -> None:
    actors = site.gql("{ actors { key name aliases wikidata } }")["actors"]
    actor = next(a for a in actors if a["wikidata"])
    held = positions(site, "2025-12-31")
    titles = sorted(p["topic"]["title"] for (a, _), p in held.items() if a == actor["key"])
    page.goto(f"{site.base}/actor/{actor['key']}?asOf=2025-12-31")
    expect(page.get_by_role("link", name=actor["wikidata"])).to_have_attribute(
        "href", f"https://www.wikidata.org/wiki/{actor['wikidata']}"
    )
    table = page.get_by_test_id("actor-positions")
    expect(table.locator("tbody tr")).to_have_count(len(titles))
    assert sorted(table.locator("tbody th").all_inner_texts()) == titles
    # Search finds an actor by an alias that is not part of their name.
    spelled = next((a, x) for a in actors for x in a["aliases"] if x.lower() not in a["name"].lower())
    page.goto(f"{site.base}/search?q={spelled[1]}")
    expect(
        page.get_by_test_id("search-results").get_by_role("link", name=spelled[0]["name"], exact=True)
    ).to_be_visible()


# ------------------------------------------------------------------ audit


def test_inclusion_proof_is_verified_in_the_browser_and_a_tampered_one_fails(site: Site, page: Page) -> None:
    page.goto(f"{site.base}/audit")
    expect(page.get_by_test_id("tree-size")).not_to_be_empty()
    recent = page.get_by_test_id("recent")
    expect(recent.locator("li")).to_have_count(10)
    size = int(page.get_by_test_id("tree-size").inner_text())
    expect(recent.locator("li").first).to_contain_text(str(size))
    recent.get_by_role("button", name=f"Check event {size}").click()
    page.keyboard.press("Enter")  # the button took the focus to "Verify inclusion"
    verdict = page.locator("form", has_text="Is an event in the log?").get_by_test_id("verdict")
    expect(verdict).to_contain_text(f"OK: event {size} is leaf {size - 1}")
    page.get_by_label("Event number (log position)").fill("42")
    page.get_by_role("button", name="Verify inclusion").click()
    expect(verdict).to_contain_text("OK: event 42 is leaf 41")
    shot(site, page, "audit")

    def tamper(route: Route) -> None:
        if "inclusionProof" not in (route.request.post_data or ""):
            route.continue_()
            return
        response = route.fetch()
        body = response.json()
        path = body["data"]["inclusionProof"]["auditPath"]
        path[0] = ("1" if path[0][0] == "0" else "0") + path[0][1:]
        route.fulfill(response=response, body=json.dumps(body))

    page.route("**/graphql", tamper)
    page.get_by_role("button", name="Verify inclusion").click()
    expect(verdict).to_contain_text("FAILED: the audit path leads to root")
    page.unroute("**/graphql")


def test_consistency_from_a_pasted_digest(site: Site, page: Page) -> None:
    saved = site.gql("{ ledgerDigest { treeSize rootHash } }")["ledgerDigest"]
    site_write(site, "consistency-check-topic")
    page.goto(f"{site.base}/audit")
    form = page.locator("form", has_text="Did the ledger only grow")
    form.get_by_label("Saved digest (JSON)").fill(json.dumps(saved))
    form.get_by_role("button", name="Verify consistency").click()
    expect(form.get_by_test_id("verdict")).to_contain_text(f"OK: the ledger of {saved['treeSize'] + 1} events")
    forged = {**saved, "rootHash": "0" * 64}
    form.get_by_label("Saved digest (JSON)").fill(json.dumps(forged))
    form.get_by_role("button", name="Verify consistency").click()
    expect(form.get_by_test_id("verdict")).to_contain_text("FAILED: the proof rebuilds the saved tree's root as")


def site_write(site: Site, topic: str) -> None:
    response = httpx.post(
        f"{site.base}/graphql",
        json={"query": "mutation($k: String!) { defineTopic(input: {key: $k, title: $k, proposition: $k}) { changed } }",
              "variables": {"k": topic}},
        headers={"Authorization": f"Bearer {site.editor_key}"},
        timeout=30,
    )  # fmt: skip
    assert not response.json().get("errors"), response.text


# ------------------------------------------------------------------ editing and live updates


def select_text(page: Page, exact: str, container: str = "source-text") -> None:
    """Select `exact` in the source text as a reader's drag would, across highlighted passages."""
    found = page.evaluate(
        """([exact, container]) => {
          const nodes = [];
          let text = '';
          const walker = document.createTreeWalker(document.getElementById(container), NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (node.parentElement.closest('.marker')) continue;
            nodes.push([node, text.length]);
            text += node.data;
          }
          const at = text.indexOf(exact);
          if (at < 0) return false;
          const locate = (offset) => {
            const [node, from] = nodes.filter(([, from]) => from <= offset).pop();
            return [node, offset - from];
          };
          const range = document.createRange();
          range.setStart(...locate(at));
          range.setEnd(...locate(at + exact.length));
          getSelection().removeAllRanges();
          getSelection().addRange(range);
          return true;
        }""",
        [exact, container],
    )
    assert found, f"{exact!r} is not in the source view's text"


def test_editor_records_a_claim_by_selecting_a_passage_and_another_page_shows_it(
    site: Site, facts: Facts, browser: Browser, page: Page, watch: Watch
) -> None:
    actor, topic = facts.free_pairs()[1]
    # A reader's page is open on the actor's view of the topic before any claim exists.
    reader_context = browser.new_context()
    reader = watch.attach(reader_context.new_page())
    reader.goto(f"{site.base}/actor/{actor}/topic/{topic}")
    expect(reader.get_by_test_id("live-status")).to_have_attribute("data-connected", "true")
    expect(reader.get_by_test_id("position")).to_contain_text("No position")
    expect(reader.locator("ol.claims li")).to_have_count(0)

    page.goto(f"{site.base}/edit")
    page.get_by_label("API key (editor role").fill(site.editor_key)
    page.get_by_role("button", name="Use this key").click()
    expect(page.get_by_text("A key is set for this session")).to_be_visible()
    page.goto(f"{site.base}/source/{SOURCE}")
    expect(page.get_by_test_id("source-text").locator("a.passage").first).to_be_visible()
    # Keyboard users can name the passage by its exact words instead of selecting it.
    finder = page.get_by_label("Or find the exact words in the text")
    finder.fill("Worte, die nicht im Text stehen")
    finder.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("does not occur in the text")
    finder.fill("zwei Punkten")
    finder.press("Enter")
    expect(page.get_by_test_id("selected-passage")).to_contain_text("zwei Punkten")
    select_text(page, PASSAGE)
    expect(page.get_by_test_id("selected-passage")).to_contain_text(PASSAGE)
    form = page.get_by_role("form", name="Record a claim")
    form.get_by_label("Claim key").fill(f"Not A Slug {site.backend}")
    form.get_by_label("Actor", exact=True).select_option(actor)
    form.get_by_label("Topic", exact=True).select_option(topic)
    form.get_by_label("Stance", exact=True).select_option("NEUTRAL")
    form.get_by_label("Summary (English)").fill("Only two points were said to remain disputed.")
    form.get_by_label("Stated on").fill("2025-12-28")
    form.get_by_role("button", name="Record the claim").click()
    # The server's field error appears next to the field; nothing was written.
    expect(form.locator(".field.invalid", has=page.get_by_label("Claim key")).locator(".field-error")).to_be_visible()
    key = f"selected-passage-{site.backend}"
    form.get_by_label("Claim key").fill(key)
    form.get_by_role("button", name="Record the claim").click()
    expect(page.get_by_test_id("recorded")).to_contain_text(key)
    expect(page.get_by_test_id("pending")).to_have_count(0)  # (projected within the wait: nothing pending)
    # The new passage is linked in the source, and the reader's page shows the claim without a reload.
    expect(page.locator(f'#source-text a[data-claim="{key}"]').first).to_be_attached()
    expect(reader.locator("ol.claims")).to_contain_text(PASSAGE)
    expect(reader.get_by_test_id("position")).to_contain_text("neutral")
    reader_context.close()


def test_a_claim_recorded_while_the_read_model_lags_says_so_and_its_page_shows_it_once_projected(
    browser: Browser, tmp_path: Path
) -> None:
    """The write is committed when the mutation answers, but the pages read the read model: when that has not
    caught up within the server's wait (here no projector runs, and the wait is 0 s), the editor is told so
    rather than sent to a claim page that does not show the claim yet; once projected, it does."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    load_demo(url)
    with ClaimsLedger.open(url) as ledger:
        key = ledger.issue_api_key("lagging-editor", "editor", "test:setup")
    catch_up(url)  # (the key's event too: the server starts with the read model level with the log)
    lagging = {"CLAIMS_PROJECTOR": "external", "CLAIMS_WRITE_WAIT_SECONDS": "0"}
    with live_server(url, env=lagging) as base:
        watch = Watch(base)
        context, page = editor_page(browser, watch, key)
        page.goto(f"{base}/source/{SOURCE}")
        finder = page.get_by_label("Or find the exact words in the text")
        finder.fill(PASSAGE)
        finder.press("Enter")
        expect(page.get_by_test_id("selected-passage")).to_contain_text(PASSAGE)
        form = page.get_by_role("form", name="Record a claim")
        form.get_by_label("Claim key").fill("recorded-while-lagging")
        form.get_by_label("Actor", exact=True).select_option(index=1)
        form.get_by_label("Topic", exact=True).select_option(index=1)
        form.get_by_label("Stance", exact=True).select_option("NEUTRAL")
        form.get_by_label("Summary (English)").fill("Only two points were said to remain disputed.")
        form.get_by_label("Stated on").fill("2025-12-28")
        form.get_by_role("button", name="Record the claim").click()
        recorded = page.get_by_test_id("recorded")
        expect(recorded).to_contain_text("recorded-while-lagging")
        expect(recorded).to_contain_text("recorded-while-lagging. The other pages may not show it yet")

        catch_up(url)  # the projector that was not running: now it catches up
        recorded.get_by_role("link", name="recorded-while-lagging").click()
        expect(page.locator("main")).to_contain_text(PASSAGE)

        # The review screen says it too, for a candidate accepted while the read model lags.
        assert register_review_source(base, key, "review-lagging") == {"pending": True}
        catch_up(url)  # (the review screen reads the source from the read model)
        page.goto(f"{base}/review/review-lagging")
        first = page.get_by_role("form", name="Candidate 1")
        first.get_by_label("Topic").select_option("western-troops-in-ukraine")
        first.get_by_label("Stance").select_option("OPPOSES")
        first.get_by_label("Summary").fill("Peskov calls foreign soldiers in Ukraine unacceptable.")
        first.get_by_label("Claim key").fill("accepted-while-lagging")
        first.get_by_role("button", name="Accept candidate 1").click()
        expect(page.get_by_test_id("accepted")).to_contain_text("accepted-while-lagging. The other pages may not")
        context.close()
        assert not watch.foreign and not watch.errors, (watch.foreign, watch.errors)


def test_an_editor_registers_a_source_by_pasting_its_text(site: Site, page: Page) -> None:
    page.add_init_script(f"sessionStorage.setItem('claims-ledger.apiKey', {json.dumps(site.editor_key)})")
    page.goto(f"{site.base}/edit")
    form = page.get_by_role("form", name="Register a source")
    key = f"pasted-note-{site.backend}"
    form.get_by_label("Key (lower-case slug)").fill(key)
    form.get_by_label("Title").fill("A pasted note")
    form.get_by_label("Published").fill("2025-13")
    form.get_by_label("Language").fill("en")
    form.get_by_label("Full text").fill('The minister said: "We will talk." Nothing else was agreed.')
    form.get_by_role("button", name="Register the source").click()
    published = form.locator(".field.invalid", has=page.get_by_label("Published"))
    expect(published.locator(".field-error")).to_contain_text("has no month 13")
    assert site.gql("query($k: ID!) { source(id: $k) { key } }", {"k": key})["source"] is None  # nothing written
    form.get_by_label("Published").fill("2025-03")
    form.get_by_role("button", name="Register the source").click()
    expect(page).to_have_url(re.compile(f"/source/{key}$"))
    expect(page.get_by_test_id("source-text")).to_have_text(
        'The minister said: "We will talk." Nothing else was agreed.'
    )
    expect(page.locator("dl.facts")).to_contain_text("2025-03 (month)")


def test_an_editor_retracts_a_claim_with_a_reason_and_the_history_keeps_it(
    site: Site, facts: Facts, page: Page
) -> None:
    key = f"to-retract-{site.backend}"
    record_claim(site, key, *facts.free_pairs()[2], "2025-12-28")
    page.add_init_script(f"sessionStorage.setItem('claims-ledger.apiKey', {json.dumps(site.editor_key)})")
    page.goto(f"{site.base}/claim/{key}")
    form = page.get_by_role("form", name="Retract this claim")
    form.get_by_role("button", name="Retract the record").click()
    expect(form.locator(".field-error")).to_contain_text("reason")  # the server refuses an empty reason
    form.get_by_label("Reason for retracting").fill("recorded from the wrong paragraph")
    form.get_by_role("button", name="Retract the record").click()
    expect(page.get_by_role("note").filter(has_text="Retracted")).to_contain_text("recorded from the wrong paragraph")
    expect(page.get_by_test_id("history").locator(":scope > li")).to_have_count(2)
    expect(page.get_by_test_id("history")).to_contain_text("retracted")


def record_claim(site: Site, key: str, actor: str, topic: str, stated: str) -> None:
    """Records a claim on the first words of SOURCE through the API (as another editor would)."""
    text = site.gql("query($k: ID!) { source(id: $k) { text } }", {"k": SOURCE})["source"]["text"]
    claim = {
        "key": key,
        "actor": actor,
        "topic": topic,
        "stance": "OPPOSES",
        "summary": f"A claim recorded by the test ({key}).",
        "stated": {"date": stated},
        "source": SOURCE,
        "passage": {"start": 0, "end": 20, "exact": text[:20]},
        "attribution": "EDITORIAL",
    }
    response = httpx.post(
        f"{site.base}/graphql",
        json={
            "query": "mutation($c: RecordClaimInput!) { recordClaim(input: $c) { created } }",
            "variables": {"c": claim},
        },
        headers={"Authorization": f"Bearer {site.editor_key}"},
        timeout=30,
    )
    assert response.json()["data"]["recordClaim"]["created"], response.text


def test_a_stale_correction_shows_the_conflict_and_the_current_version(site: Site, facts: Facts, page: Page) -> None:
    claim = f"to-correct-{site.backend}"
    record_claim(site, claim, *facts.free_pairs()[3], "2025-12-28")
    page.add_init_script(f"sessionStorage.setItem('claims-ledger.apiKey', {json.dumps(site.editor_key)})")
    page.goto(f"{site.base}/claim/{claim}")
    form = page.get_by_role("form", name="Correct this claim")
    expect(form).to_be_visible()
    expect(page.get_by_test_id("claim")).to_have_attribute("data-version", "1")
    # Someone else corrects the claim meanwhile.
    response = httpx.post(
        f"{site.base}/graphql",
        json={"query": "mutation($id: ID!) { reviseClaim(id: $id, expectedVersion: 1, "
                       "changes: {channel: \"TV interview\"}, reason: \"channel named in the source\") { version } }",
              "variables": {"id": claim}},
        headers={"Authorization": f"Bearer {site.editor_key}"}, timeout=30,
    )  # fmt: skip
    assert not response.json().get("errors"), response.text
    form.get_by_label("Reason for the correction").fill("summary sharpened")
    form.get_by_label("Summary").fill("The deal was said to be within reach.")
    form.get_by_role("button", name=re.compile("Save the correction")).click()
    # The editor worked from the version they saw: the stale write gets CONFLICT and writes nothing.
    conflict = page.get_by_test_id("conflict")
    expect(conflict).to_contain_text("the current version is 2")
    conflict.get_by_role("button", name="Show the current version").click()
    expect(page.get_by_test_id("claim")).to_have_attribute("data-version", "2")
    expect(page.locator("dl.facts")).to_contain_text("TV interview")
    expect(page.get_by_test_id("claim").locator("h1")).not_to_contain_text("within reach")
    expect(form.get_by_role("button", name=re.compile("Save the correction"))).to_contain_text("from version 2")


LINKED = """query($after: String) { claims(first: 100, after: $after) {
  pageInfo { hasNextPage endCursor } nodes { key summary linkedFrom { relation claim { key summary } } } } }"""


def test_a_claim_links_to_the_claims_that_supersede_or_dispute_it(site: Site, page: Page) -> None:
    targets: list[dict[str, Any]] = []
    after = None
    while True:
        answer = site.gql(LINKED, {"after": after})["claims"]
        targets += [c for c in answer["nodes"] if c["linkedFrom"]]
        if not answer["pageInfo"]["hasNextPage"]:
            break
        after = answer["pageInfo"]["endCursor"]
    words = {"SUPERSEDES": "superseded by", "DISPUTES": "disputed by"}
    for relation, said in words.items():
        target = next(c for c in targets if any(b["relation"] == relation for b in c["linkedFrom"]))
        page.goto(f"{site.base}/claim/{target['key']}")
        shown = page.get_by_test_id("linked-from").locator("li")
        expect(shown).to_have_count(len(target["linkedFrom"]))
        for i, backlink in enumerate(target["linkedFrom"]):
            expect(shown.nth(i)).to_contain_text(f"{words[backlink['relation']]} {backlink['claim']['summary']}")
        linker = next(b["claim"] for b in target["linkedFrom"] if b["relation"] == relation)
        shown.filter(has_text=said).get_by_role("link", name=linker["summary"]).first.click()
        expect(page).to_have_url(re.compile(rf"/claim/{linker['key']}$"))
        # The linking claim links back, in its own words (supersedes / disputes).
        links = page.locator("dl.facts dt:text-is('Links') + dd")
        expect(links.get_by_role("link", name=target["summary"])).to_be_visible()
        expect(links).to_contain_text(f"{relation.lower()} {target['summary']}")


def test_an_editor_corrects_a_claims_passage_by_selection_and_its_attribution(
    site: Site, facts: Facts, page: Page
) -> None:
    demo = {c["key"] for c in facts.claims}
    source = site.gql(
        "query($k: ID!) { source(id: $k) { claims { key attribution passage { start end exact } } } }", {"k": SOURCE}
    )["source"]
    # A reported demo claim whose passage is longer than the sentence PASSAGE: it is narrowed to that sentence.
    claim = next(
        c for c in source["claims"]
        if c["key"] in demo and c["attribution"] == "REPORTED" and PASSAGE in c["passage"]["exact"] != PASSAGE
    )  # fmt: skip
    before, words = claim["passage"], PASSAGE
    start = before["start"] + before["exact"].index(PASSAGE)
    page.add_init_script(f"sessionStorage.setItem('claims-ledger.apiKey', {json.dumps(site.editor_key)})")
    page.goto(f"{site.base}/claim/{claim['key']}")
    version = int(page.get_by_test_id("claim").get_attribute("data-version") or 0)
    form = page.get_by_role("form", name="Correct this claim")
    text = form.locator(".revise-text")
    expect(text.locator("mark.passage")).to_have_text(before["exact"])
    assert serious_violations(page) == []
    # Words that are not in the source: the server's error appears next to the passage, nothing is written.
    passage = page.get_by_label("Passage:")
    passage.fill("Worte, die nicht im Text stehen")
    form.get_by_label("Attribution", exact=True).select_option("INDIRECT_SPEECH")
    form.get_by_label("Reason for the correction").fill("only the first sentence is the claim; it is indirect speech")
    form.get_by_role("button", name=re.compile("Save the correction")).click()
    invalid = form.locator(".field.invalid", has=passage)
    expect(invalid.locator(".field-error")).to_contain_text("does not occur in the source text")
    expect(page.get_by_test_id("claim")).to_have_attribute("data-version", str(version))
    # The passage chosen by selecting it in the source text.
    select_text(page, words, text.get_attribute("id") or "")
    expect(form.get_by_test_id("revise-passage")).to_contain_text(f"characters {start}–{start + len(words)}")
    expect(passage).to_have_value(words)
    form.get_by_role("button", name=re.compile("Save the correction")).click()
    expect(page.get_by_test_id("claim")).to_have_attribute("data-version", str(version + 1))
    expect(page.get_by_test_id("passage-context").locator("mark.passage")).to_have_text(words)
    expect(page.locator("dl.facts dt:text-is('Attribution') + dd")).to_have_text("indirect speech")
    # The history shows the correction with both fields before and after.
    latest = page.get_by_test_id("history").locator(":scope > li").last
    expect(latest).to_contain_text("revised")
    expect(latest).to_contain_text("only the first sentence is the claim")
    row = latest.locator("tr", has=page.locator("th", has_text="passage"))
    expect(row.locator("td.before")).to_contain_text(f"[{before['start']}–{before['end']}]")
    expect(row.locator("td.after")).to_have_text(f"{words} [{start}–{start + len(words)}]")
    expect(row.locator("td.before del").first).to_be_attached()  # the words dropped are marked
    row = latest.locator("tr", has=page.locator("th", has_text="attribution"))
    expect(row.locator("td.before")).to_have_text("REPORTED")
    expect(row.locator("td.after")).to_have_text("INDIRECT_SPEECH")
    expect(form.get_by_role("button", name=re.compile("Save the correction"))).to_contain_text(
        f"from version {version + 1}"
    )


# ------------------------------------------------------------------ reviewing the extraction assistant's candidates

# A short article written for this test: a quotation, a Konjunktiv clause, a "laut" attribution, and a
# speaker who is no known actor.
REVIEW_TEXT = (
    "Neuer Streit über Friedenstruppen\n\n"
    "Kremlsprecher Dmitri Peskow sagte am Dienstag: „Ausländische Soldaten in der Ukraine sind für uns inakzeptabel.“ "
    "Der französische Präsident Emmanuel Macron erklärte gestern, Europa werde die Ukraine weiter mit Waffen "
    "unterstützen. Laut Selenskyj braucht das Land vor allem Sicherheitsgarantien. Die Verteidigungsexpertin "
    "Marta Kowalczyk sagte, ohne amerikanische Luftabwehr sei jede europäische Truppe verwundbar."
)
QUOTE = "Ausländische Soldaten in der Ukraine sind für uns inakzeptabel."
ORIGIN_QUERY = """query($k: ID!) { claim(id: $k) { key stance topic { key } actor { key } passage { exact }
  history { recordedBy } } ledgerDigest { treeSize } }"""


def register_review_source(base: str, editor_key: str, key: str) -> dict[str, Any]:
    """The review screen's source (REVIEW_TEXT) registered under ``key``; the mutation's ``pending``."""
    source = {"key": key, "title": "Neuer Streit über Friedenstruppen", "text": REVIEW_TEXT,
              "published": {"date": "2025-09-10"}, "language": "de", "genre": "NEWS"}  # fmt: skip
    response = httpx.post(
        f"{base}/graphql",
        json={"query": "mutation($s: RegisterSourceInput!) { registerSource(input: $s) { pending } }",
              "variables": {"s": source}},
        headers={"Authorization": f"Bearer {editor_key}"}, timeout=30,
    )  # fmt: skip
    body = response.json()
    assert not body.get("errors"), response.text
    answer: dict[str, Any] = body["data"]["registerSource"]
    return answer


def editor_page(browser: Browser, watch: Watch, key: str) -> tuple[BrowserContext, Page]:
    """A new browser context's page, watched, with the editor's API key set for its session."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = watch.attach(context.new_page())
    page.add_init_script(f"sessionStorage.setItem('claims-ledger.apiKey', {json.dumps(key)})")
    return context, page


def test_a_curator_reviews_candidates_accepts_one_edited_and_dismisses_another(
    site: Site, browser: Browser, watch: Watch
) -> None:
    source = f"review-{site.backend}"
    register_review_source(site.base, site.editor_key, source)
    context, page = editor_page(browser, watch, site.editor_key)
    page.goto(f"{site.base}/edit")
    opener = page.get_by_label("Source (key or id)")
    opener.fill(source)
    opener.press("Enter")
    expect(page).to_have_url(re.compile(f"/review/{source}$"))
    expect(page.get_by_test_id("candidate")).to_have_count(4)
    expect(page.get_by_test_id("review-text").locator("mark.candidate")).to_have_count(4)

    first = page.get_by_role("form", name="Candidate 1")
    expect(first.get_by_label("Speaker")).to_have_value("dmitry-peskov")
    expect(first.get_by_label("Stance")).to_have_value("")  # the curator's judgment: never pre-filled
    first.get_by_role("button", name="Accept candidate 1").click()
    expect(first.locator(".field.invalid", has=page.get_by_label("Stance")).locator(".field-error")).to_be_visible()
    # The passage without its quotation marks, by selecting it in the text.
    select_text(page, QUOTE, "review-text")
    first.get_by_role("button", name="Use the selected text as the passage").click()
    expect(first.get_by_label("Passage")).to_have_value(QUOTE)
    first.get_by_label("Topic").select_option("western-troops-in-ukraine")
    first.get_by_label("Stance").select_option("OPPOSES")
    first.get_by_label("Summary").fill("Peskov calls foreign soldiers in Ukraine unacceptable.")
    first.get_by_label("Claim key").fill("Not A Slug")
    first.get_by_role("button", name="Accept candidate 1").click()
    # The server's field error appears next to its field.
    expect(first.locator(".field.invalid", has=page.get_by_label("Claim key")).locator(".field-error")).to_be_visible()
    claim = f"peskov-soldiers-{site.backend}"
    first.get_by_label("Claim key").fill(claim)
    first.get_by_role("button", name="Accept candidate 1").click()
    expect(page.get_by_test_id("accepted")).to_contain_text(claim)
    expect(page.get_by_test_id("pending")).to_have_count(0)  # (projected within the wait: nothing pending)
    expect(page.get_by_test_id("review-text").get_by_role("link", name="candidate 1 (accepted)")).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    shot(site, page, "review")

    # Recorded as the curator chose, with the assistant's origin and who accepted it.
    answer = site.gql(ORIGIN_QUERY, {"k": claim})
    assert answer["claim"]["stance"] == "OPPOSES" and answer["claim"]["topic"]["key"] == "western-troops-in-ukraine"
    assert answer["claim"]["actor"]["key"] == "dmitry-peskov" and answer["claim"]["passage"]["exact"] == QUOTE
    # Nothing else writes meanwhile: the latest event is the claim's.
    last = {"id": str(answer["ledgerDigest"]["treeSize"])}
    event = site.gql("query($id: ID!) { event(id: $id) { type payload } }", last)["event"]
    assert event["type"] == "Claim.Recorded" and event["payload"]["key"] == claim
    origin = event["payload"]["content"]["origin"]
    assert origin["assistant"] == "extractionCandidates" and origin["review"] == "accepted after edits"
    assert origin["accepted_by"] == answer["claim"]["history"][0]["recordedBy"] == "apikey:web-editor"

    # Dismissing writes nothing and lasts for the session (a reload keeps it).
    size = site.gql("{ ledgerDigest { treeSize } }")["ledgerDigest"]["treeSize"]
    page.get_by_role("form", name="Candidate 2").get_by_role("button", name="Dismiss candidate 2").click()
    expect(page.get_by_role("form", name="Candidate 2")).to_have_count(0)
    expect(page.get_by_role("button", name="Show dismissed candidates (1)")).to_be_visible()
    page.reload()
    expect(page.get_by_role("form", name="Candidate 3")).to_be_visible()
    expect(page.get_by_role("form", name="Candidate 2")).to_have_count(0)
    # The accepted candidate is known as recorded from the ledger itself, not from the page's memory.
    expect(page.get_by_role("form", name="Candidate 1")).to_have_count(0)
    expect(page.get_by_test_id("covered")).to_contain_text(claim)
    assert site.gql("{ ledgerDigest { treeSize } }")["ledgerDigest"]["treeSize"] == size

    # A speaker no actor matches is proposed as a new actor, registered as the curator names it on accepting.
    # The marker in the text leads to the candidate's card by keyboard.
    page.get_by_test_id("review-text").get_by_role("link", name="candidate 4 (open)").press("Enter")
    expect(page.locator("#candidate-4")).to_be_focused()
    fourth = page.get_by_role("form", name="Candidate 4")
    expect(fourth.get_by_label("Speaker")).to_have_value("__new__")
    actor = f"marta-kowalczyk-{site.backend}"
    fourth.get_by_label("Actor key").fill(actor)
    fourth.get_by_label("Name", exact=True).fill("Marta Kowalczyk")
    fourth.get_by_label("Topic").select_option("western-troops-in-ukraine")
    fourth.get_by_label("Stance").select_option("CONDITIONAL")
    fourth.get_by_label("Conditions").fill("without American air defence")
    fourth.get_by_label("Claim key").fill(f"kowalczyk-air-defence-{site.backend}")
    fourth.get_by_role("button", name="Accept candidate 4").click()
    expect(page.get_by_test_id("accepted")).to_contain_text(f"kowalczyk-air-defence-{site.backend}")
    recorded = site.gql(
        "query($k: ID!) { claim(id: $k) { stance conditions actor { key name } } }",
        {"k": f"kowalczyk-air-defence-{site.backend}"},
    )["claim"]
    assert recorded == {
        "stance": "CONDITIONAL", "conditions": "without American air defence",
        "actor": {"key": actor, "name": "Marta Kowalczyk"},
    }  # fmt: skip
    expect(page.get_by_test_id("review-text")).to_contain_text(REVIEW_TEXT.split("\n")[0])
    assert serious_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the review screen scrolls sideways on a phone by {overflow}px"
    assert serious_violations(page) == []

    # The source view shows the accepted claim's passage, and links to the review screen.
    page.goto(f"{site.base}/source/{source}")
    expect(page.locator(f'#source-text a[data-claim="{claim}"]').first).to_have_text(QUOTE)
    page.get_by_role("link", name=re.compile("Review the extraction assistant")).click()
    expect(page).to_have_url(re.compile(f"/review/{source}$"))
    context.close()


# ------------------------------------------------------------------ accessibility and small screens


def test_no_serious_accessibility_violations_and_phone_width(
    site: Site, facts: Facts, browser: Browser, watch: Watch
) -> None:
    claim = facts.claims[0]
    actor, topic = claim["actor"]["key"], claim["topic"]["key"]
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = watch.attach(context.new_page())
    for path, ready in (
        ("/?asOf=2025-12-31", "table.matrix"),
        (f"/topic/{topic}", "svg"),
        (f"/claim/{claim['key']}", "ol.history"),
        (f"/source/{claim['source']['key']}", "a.passage"),
        ("/audit", "code.hash"),
        ("/edit", "form"),
        (f"/actor/{actor}", "table.positions"),
        (f"/actor/{actor}/topic/{topic}", "ol.claims li"),
        (f"/search?q={claim['topic']['title'].split()[0]}", "[data-testid=search-results] li"),
    ):
        page.goto(site.base + path)
        expect(page.locator(ready).first).to_be_attached()
        assert serious_violations(page) == [], path
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{path} scrolls sideways on a phone by {overflow}px"
    page.goto(f"{site.base}/?asOf=2025-12-31")
    expect(page.locator("table.matrix")).to_be_visible()
    shot(site, page, "matrix-phone")
    context.close()
