// The reader's frontend: one URL per view, each carrying its asOf/knownAt.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { gql, onConnection, subscribeLedger } from "./client.js";
import { html, href, navigate, timeParams, TimeBanner, today, withParams } from "./ui.js";
import { MatrixView } from "./views/matrix.js";
import { TopicTimelineView, ActorTopicView } from "./views/timeline.js";
import { ClaimView } from "./views/claim.js";
import { SourceView } from "./views/source.js";
import { ActorView } from "./views/actor.js";
import { AuditView } from "./views/audit.js";
import { SearchView } from "./views/search.js";
import { EditView } from "./views/edit.js";
import { ReviewView } from "./views/review.js";

// The server serves the page shell at the same paths (api/web VIEW_PATHS).
const ROUTES = [
  [/^\/$/, MatrixView, "Positions"],
  [/^\/topic\/([^/]+)$/, TopicTimelineView, "Topic timeline"],
  [/^\/actor\/([^/]+)\/topic\/([^/]+)$/, ActorTopicView, "Actor on a topic"],
  [/^\/actor\/([^/]+)$/, ActorView, "Actor"],
  [/^\/claim\/([^/]+)$/, ClaimView, "Claim"],
  [/^\/source\/([^/]+)$/, SourceView, "Source"],
  [/^\/audit$/, AuditView, "Audit"],
  [/^\/search$/, SearchView, "Search"],
  [/^\/edit$/, EditView, "Editing"],
  [/^\/review\/([^/]+)$/, ReviewView, "Review candidates"],
];

function match(path) {
  for (const [pattern, view, title] of ROUTES) {
    const m = path.match(pattern);
    if (m) return { View: view, args: m.slice(1).map(decodeURIComponent), title };
  }
  return null;
}

function TimeControls() {
  const { asOf, knownAt } = timeParams();
  const [draft, setDraft] = useState({ asOf: asOf || "", knownAt: knownAt || "" });
  useEffect(() => setDraft({ asOf: asOf || "", knownAt: knownAt || "" }), [asOf, knownAt]);
  const apply = (e) => {
    e.preventDefault();
    navigate(withParams(draft));
  };
  // A citable URL: today's date and the instant of the ledger's latest event, so the view never changes.
  const [pinError, setPinError] = useState(null);
  const pin = async () => {
    try {
      const { ledgerDigest } = await gql("{ ledgerDigest { treeSize } }");
      const { event } = await gql("query ($id: ID!) { event(id: $id) { recordedAt } }", { id: String(ledgerDigest.treeSize || 1) });
      setPinError(null);
      navigate(withParams({ asOf: asOf || today(), knownAt: event ? event.recordedAt : null }));
    } catch (error) {
      setPinError(`Could not pin the view: ${error.message}`);
    }
  };
  return html`<form class="time-controls" onSubmit=${apply} aria-label="Time">
    <label>As of (date in the world)
      <input type="date" name="asOf" value=${draft.asOf} onInput=${(e) => setDraft({ ...draft, asOf: e.target.value })} />
    </label>
    <label>As the ledger stood at (record time, ISO 8601; empty: now)
      <input type="text" name="knownAt" placeholder="2025-03-01T12:00:00+00:00" size="26"
        value=${draft.knownAt} onInput=${(e) => setDraft({ ...draft, knownAt: e.target.value.trim() })} />
    </label>
    <button type="submit">Show</button>
    <button type="button" onClick=${pin} title="Fix today's date and the ledger's current record in the URL">Pin for citing</button>
    ${pinError ? html`<p class="error" role="alert">${pinError}</p>` : ""}
  </form>`;
}

function App() {
  const [url, setUrl] = useState(location.href);
  const [live, setLive] = useState({ tick: 0, last: null, connected: false });
  useEffect(() => {
    const onNavigate = () => setUrl(location.href);
    addEventListener("popstate", onNavigate);
    addEventListener("claims:navigate", onNavigate);
    // Same-origin links are routed here: no reload, the URL still names the view.
    const onClick = (e) => {
      const a = e.target.closest && e.target.closest("a[href]");
      if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
      const target = new URL(a.href, location.href);
      if (target.origin !== location.origin || target.pathname.startsWith("/graphql") || !match(target.pathname))
        return;
      if (target.hash && target.pathname === location.pathname && target.search === location.search) return; // in-page
      e.preventDefault();
      navigate(target.pathname + target.search + target.hash);
      window.scrollTo(0, 0);
      // Keyboard and screen-reader users continue at the new view's content, not at the old link.
      document.getElementById("main").focus({ preventScroll: true });
    };
    document.addEventListener("click", onClick);
    // On reconnecting, views load again: nothing recorded while disconnected is missed.
    let connectedBefore = false;
    const offConnection = onConnection((connected) => {
      const again = connected && connectedBefore;
      connectedBefore = connectedBefore || connected;
      setLive((l) => ({ ...l, connected, tick: again ? l.tick + 1 : l.tick }));
    });
    const unsubscribe = subscribeLedger(
      (event) => setLive((l) => ({ tick: l.tick + 1, last: event, connected: true })),
      () => setLive((l) => ({ ...l, connected: false })),
    );
    return () => {
      removeEventListener("popstate", onNavigate);
      removeEventListener("claims:navigate", onNavigate);
      document.removeEventListener("click", onClick);
      unsubscribe();
      offConnection();
    };
  }, []);
  const route = match(location.pathname);
  useEffect(() => {
    document.title = `${route ? route.title : "Not found"} · claims-ledger`;
  }, [url]);
  return html`<header class="site">
      <a class="skip" href="#main">Skip to content</a>
      <nav aria-label="Views">
        <a class="brand" href=${href("/")}>claims-ledger</a>
        <a href=${href("/")}>Matrix</a>
        <a href=${href("/search")}>Search</a>
        <a href=${href("/audit")}>Audit</a>
        <a href=${href("/edit")}>Editing</a>
        <a href="/graphql">GraphQL</a>
      </nav>
      <${TimeControls} />
    </header>
    <main id="main" tabindex="-1">
      <${TimeBanner} />
      ${route
        ? html`<${route.View} key=${location.pathname} args=${route.args} live=${live.tick} lastEvent=${live.last} />`
        : html`<h1>Not found</h1><p>No view at this address. <a href="/">Back to the matrix</a>.</p>`}
    </main>
    <footer class="site">
      <p role="status" aria-live="polite" class="live-status" data-testid="live-status" data-connected=${String(live.connected)}>
        ${live.connected ? "Live: views update as the ledger advances." : "Not connected to the live stream."}
        ${live.last ? ` Latest: event ${live.last.position} (${live.last.type}).` : ""}
      </p>
    </footer>`;
}

const root = document.getElementById("app");
root.textContent = ""; // the "Loading…" placeholder the server sent
render(html`<${App} />`, root);
