"""The web frontend in a real browser (Debian's headless Chromium via Playwright) on a live server.

One server per backend serves the demo corpus; the tests share it and only ever add to the ledger.
Every page records its requests and console: a request to another origin or a console error fails
the test that caused it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from api_support import live_server
from conftest import BACKENDS
from playwright.sync_api import Browser, Page, Playwright, Route, expect, sync_playwright
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

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(f"{self.base}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[Site]:
    with ClaimsLedger.open(database_url) as ledger:
        key = ledger.issue_api_key("web-editor", "editor", "test:setup")
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with live_server(database_url) as base:
        yield Site(base, database_url, backend, key)


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

        page.on("request", on_request)
        page.on("websocket", on_websocket)
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
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
    """Screenshots for the README come from the SQLite run."""
    if site.backend == "sqlite":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


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


# ------------------------------------------------------------------ the matrix (both backends)


def test_matrix_shows_positions_as_of_a_date_in_at_most_two_requests(site: Site, page: Page, watch: Watch) -> None:
    page.goto(f"{site.base}/?asOf=2025-02-20")
    hegseth = cell(page, "pete-hegseth", "ukraine-nato-membership")
    expect(hegseth).to_contain_text("opposes")
    expect(hegseth).to_contain_text("since 2025-02-12")
    expect(hegseth.locator(".stance")).to_contain_text("✗")  # a symbol besides the colour
    # Nothing after the date counts: Zelensky's December stance on NATO membership is not there yet.
    expect(cell(page, "volodymyr-zelensky", "ukraine-nato-membership")).to_have_count(0)
    assert len(watch.graphql_posts) <= 2, watch.graphql_posts
    assert all("positions" in p or "ledgerEvents" in p for p in watch.graphql_posts)
    shot(site, page, "matrix")

    # The date control writes the URL: a reader can cite what they saw.
    page.get_by_label("As of (date in the world)").fill("2025-12-31")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"asOf=2025-12-31"))
    expect(cell(page, "volodymyr-zelensky", "ukraine-nato-membership")).to_contain_text("opposes")
    expect(page.get_by_role("heading", name="Positions as of 2025-12-31")).to_be_visible()


def test_matrix_filters_and_a_cell_opens_its_timeline_by_keyboard(site: Site, page: Page) -> None:
    page.goto(f"{site.base}/?asOf=2025-12-31&genre=COMMENTARY")
    rows = page.locator("table.matrix tbody tr")
    expect(rows.first).to_be_visible()
    all_rows = page.locator("table.matrix tbody th").all_inner_texts()
    assert "Claudia Töpper" in all_rows and "Pete Hegseth" not in all_rows  # Hegseth is only in NEWS
    page.goto(f"{site.base}/?asOf=2025-12-31&topic=ukraine-nato-membership&kind=PERSON")
    link = cell(page, "pete-hegseth", "ukraine-nato-membership").get_by_role("link")
    link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/actor/pete-hegseth/topic/ukraine-nato-membership\?asOf=2025-12-31"))
    expect(page.get_by_test_id("position")).to_contain_text("opposes")


def test_a_pinned_view_keeps_what_the_reader_saw_while_the_ledger_advances(site: Site, page: Page) -> None:
    page.goto(f"{site.base}/?asOf=2025-12-31&topic=sanctions-on-russia")
    expect(page.locator("table.matrix")).to_be_visible()
    page.get_by_role("button", name="Pin for citing").click()
    expect(page).to_have_url(re.compile(r"knownAt=.*topic=sanctions-on-russia|topic=sanctions-on-russia.*knownAt="))
    expect(page.get_by_role("note")).to_contain_text("As the ledger stood at")
    pinned = page.url
    record_claim(site, f"neuber-sanctions-{site.backend}", "sanctions-on-russia", "2025-12-28", start=0, length=20)
    page.goto(f"{site.base}/?asOf=2025-12-31&topic=sanctions-on-russia")
    expect(cell(page, "harald-neuber", "sanctions-on-russia")).to_contain_text("opposes")
    page.goto(pinned)  # the cited URL still shows what the reader saw
    expect(page.locator("table.matrix")).to_be_visible()
    expect(cell(page, "harald-neuber", "sanctions-on-russia")).to_have_count(0)


# ------------------------------------------------------------------ reading views


def test_topic_timeline_draws_runs_shifts_and_partial_dates(site: Site, page: Page) -> None:
    page.goto(f"{site.base}/topic/europe-at-the-table?asOf=2025-12-31")
    trump = page.get_by_test_id("runs").locator("li", has_text="Donald Trump")
    expect(trump).to_contain_text("opposes from ≈ 2025-02-12")
    expect(trump).to_contain_text("shift")
    expect(trump).to_contain_text("conditional from 2025-12-28")
    expect(page.locator("svg .shift-marker").first).to_be_attached()
    shot(site, page, "timeline")
    # A month-precision claim is drawn as the interval it is, not as a point.
    page.goto(f"{site.base}/topic/western-troops-in-ukraine")
    period = page.locator("svg rect.claim-period title", has_text="macron-troops-away-from-front-2025-11")
    expect(period).to_contain_text("2025-11-01 … 2025-11-30")


def test_claim_history_and_as_known_at_before_and_after_a_correction(site: Site, page: Page) -> None:
    page.goto(f"{site.base}/claim/hegseth-western-troops-2025-02-12")
    article = page.get_by_test_id("claim")
    expect(article.locator("h1")).to_contain_text("conditional")
    history = page.get_by_test_id("history")
    expect(history.locator(":scope > li")).to_have_count(2)
    revised = history.locator(":scope > li").nth(1)
    expect(revised).to_contain_text("revised")
    stance_row = revised.locator("tr", has=page.locator("th", has_text="stance"))
    expect(stance_row.locator("td.before del")).to_have_text("OPPOSES")
    expect(stance_row.locator("td.after ins")).to_have_text("CONDITIONAL")
    expect(page.get_by_test_id("passage-context").locator("mark.passage")).to_contain_text(
        "Dafür müssten europäische und andere Länder eingesetzt werden."
    )
    expect(article.get_by_role("link", name="Pete Hegseth")).to_be_visible()
    shot(site, page, "claim")

    # Version 1, as the ledger stood when it was recorded: before the correction.
    history.locator(":scope > li").first.get_by_role("link", name="view as known at this moment").click()
    expect(page).to_have_url(re.compile(r"knownAt="))
    expect(page.get_by_test_id("version-note")).to_contain_text("Version 1")
    expect(article.locator("h1")).to_contain_text("opposes")
    known_at = page.url.split("knownAt=")[1]
    # The matrix as of the statement date, before and after the correction.
    page.goto(f"{site.base}/?asOf=2025-02-12&knownAt={known_at}")
    expect(cell(page, "pete-hegseth", "western-troops-in-ukraine")).to_contain_text("opposes")
    page.goto(f"{site.base}/?asOf=2025-02-12")
    expect(cell(page, "pete-hegseth", "western-troops-in-ukraine")).to_contain_text("conditional")


def test_source_highlights_every_passage_and_links_it(site: Site, page: Page) -> None:
    key = "neuber-2025-04-28-trumps-ukraine-dilemma"
    page.goto(f"{site.base}/source/{key}")
    expect(page.get_by_text("news report").first).to_be_visible()
    text = page.get_by_test_id("source-text")
    expect(text.locator("a.passage").first).to_be_visible()
    claims = site.gql("query($k: ID!) { source(id: $k) { claims { key } } }", {"k": key})["source"]["claims"]
    linked = set(text.locator("a[data-claim]").evaluate_all("els => els.map(e => e.dataset.claim)"))
    assert linked == {c["key"] for c in claims}
    shot(site, page, "source")
    text.locator('a.passage[data-claim="trump-no-nato-during-term-2025-04"]').first.click()
    expect(page).to_have_url(re.compile(r"/claim/trump-no-nato-during-term-2025-04$"))


def test_actor_and_search(site: Site, page: Page) -> None:
    page.goto(f"{site.base}/actor/donald-trump?asOf=2025-03-01")
    expect(page.get_by_role("link", name="Q22686")).to_be_visible()
    expect(page.get_by_test_id("actor-positions")).to_contain_text("Ukraine and Europe at the negotiating table")
    page.goto(f"{site.base}/search?q=Hnatow")
    expect(page.get_by_test_id("search-results").get_by_role("link", name="Andrii Hnatov")).to_be_visible()


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
    expect(form.get_by_test_id("verdict")).to_contain_text("OK: the ledger of")
    forged = {**saved, "rootHash": "0" * 64}
    form.get_by_label("Saved digest (JSON)").fill(json.dumps(forged))
    form.get_by_role("button", name="Verify consistency").click()
    expect(form.get_by_test_id("verdict")).to_contain_text(
        f"FAILED: the proof rebuilds the saved tree's root as {saved['rootHash']}"
    )


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


def select_text(page: Page, exact: str) -> None:
    found = page.evaluate(
        """(exact) => {
          const walker = document.createTreeWalker(document.getElementById('source-text'), NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const i = node.data.indexOf(exact);
            if (i < 0) continue;
            const range = document.createRange();
            range.setStart(node, i);
            range.setEnd(node, i + exact.length);
            getSelection().removeAllRanges();
            getSelection().addRange(range);
            return true;
          }
          return false;
        }""",
        exact,
    )
    assert found, f"{exact!r} is not in one text node of the source view"


def test_editor_records_a_claim_by_selecting_a_passage_and_another_page_shows_it(
    site: Site, browser: Browser, page: Page, watch: Watch
) -> None:
    # A reader's page is open on the actor's view before the claim exists.
    reader_context = browser.new_context()
    reader = watch.attach(reader_context.new_page())
    reader.goto(f"{site.base}/actor/donald-trump/topic/peace-deal-close")
    expect(reader.get_by_test_id("live-status")).to_have_attribute("data-connected", "true")
    expect(reader.locator("ol.claims")).to_be_visible()
    expect(reader.locator("ol.claims")).not_to_contain_text(PASSAGE)

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
    form.get_by_label("Actor", exact=True).select_option("donald-trump")
    form.get_by_label("Topic", exact=True).select_option("peace-deal-close")
    form.get_by_label("Stance", exact=True).select_option("NEUTRAL")
    form.get_by_label("Summary (English)").fill("Trump said the two sides disagreed on only two points.")
    form.get_by_label("Stated on").fill("2025-12-28")
    form.get_by_role("button", name="Record the claim").click()
    # The server's field error appears next to the field; nothing was written.
    expect(form.locator(".field.invalid", has=page.get_by_label("Claim key")).locator(".field-error")).to_be_visible()
    key = f"trump-two-points-open-{site.backend}"
    form.get_by_label("Claim key").fill(key)
    form.get_by_role("button", name="Record the claim").click()
    expect(page.get_by_test_id("recorded")).to_contain_text(key)
    # The new passage is highlighted in the source, and the reader's page shows the claim without a reload.
    expect(page.locator(f'a.passage[data-claim="{key}"]')).to_have_text(PASSAGE)
    expect(reader.locator("ol.claims")).to_contain_text(PASSAGE)
    reader_context.close()


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


def test_an_editor_retracts_a_claim_with_a_reason_and_the_history_keeps_it(site: Site, page: Page) -> None:
    key = f"to-retract-{site.backend}"
    record_claim(site, key, "security-guarantees", "2025-12-28", start=0, length=12)
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


def record_claim(site: Site, key: str, topic: str, stated: str, *, start: int, length: int) -> None:
    """Records a claim of Harald Neuber's on SOURCE through the API (as another editor would)."""
    text = site.gql("query($k: ID!) { source(id: $k) { text } }", {"k": SOURCE})["source"]["text"]
    claim = {
        "key": key,
        "actor": "harald-neuber",
        "topic": topic,
        "stance": "OPPOSES",
        "summary": f"A claim recorded by the test ({key}).",
        "stated": {"date": stated},
        "source": SOURCE,
        "passage": {"start": start, "end": start + length, "exact": text[start : start + length]},
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


def test_a_stale_correction_shows_the_conflict_and_the_current_version(
    site: Site, browser: Browser, page: Page
) -> None:
    claim = "rubio-close-not-close-enough-2025-04-27"
    page.add_init_script(f"sessionStorage.setItem('claims-ledger.apiKey', {json.dumps(site.editor_key)})")
    page.goto(f"{site.base}/claim/{claim}")
    form = page.get_by_role("form", name="Correct this claim")
    expect(form).to_be_visible()
    version = int(page.get_by_test_id("claim").get_attribute("data-version") or "0")
    # Someone else corrects the claim meanwhile.
    response = httpx.post(
        f"{site.base}/graphql",
        json={"query": "mutation($id: ID!, $v: Int!) { reviseClaim(id: $id, expectedVersion: $v, "
                       "changes: {channel: \"TV interview\"}, reason: \"channel named in the source\") { version } }",
              "variables": {"id": claim, "v": version}},
        headers={"Authorization": f"Bearer {site.editor_key}"}, timeout=30,
    )  # fmt: skip
    assert not response.json().get("errors"), response.text
    form.get_by_label("Reason for the correction").fill("summary sharpened")
    form.get_by_label("Summary").fill("Rubio said the deal was within reach.")
    form.get_by_role("button", name=re.compile("Save the correction")).click()
    # The editor worked from the version they saw: the stale write gets CONFLICT and writes nothing.
    conflict = page.get_by_test_id("conflict")
    expect(conflict).to_contain_text(f"the current version is {version + 1}")
    conflict.get_by_role("button", name="Show the current version").click()
    expect(page.get_by_test_id("claim")).to_have_attribute("data-version", str(version + 1))
    expect(page.locator("dl.facts")).to_contain_text("TV interview")
    expect(page.get_by_test_id("claim").locator("h1")).not_to_contain_text("within reach")
    expect(form.get_by_role("button", name=re.compile("Save the correction"))).to_contain_text(
        f"from version {version + 1}"
    )


# ------------------------------------------------------------------ accessibility and small screens


def test_no_serious_accessibility_violations_and_phone_width(site: Site, browser: Browser, watch: Watch) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = watch.attach(context.new_page())
    for path, ready in (
        ("/?asOf=2025-12-31", "table.matrix"),
        ("/topic/europe-at-the-table", "svg"),
        ("/claim/hegseth-western-troops-2025-02-12", "ol.history"),
        ("/source/report-2025-02-13-trump-putin-call-hegseth", "a.passage"),
        ("/audit", "code.hash"),
        ("/edit", "form"),
        ("/actor/donald-trump", "table.positions"),
        ("/actor/pete-hegseth/topic/ukraine-nato-membership", "ol.claims li"),
        ("/search?q=nato", "[data-testid=search-results] li"),
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
