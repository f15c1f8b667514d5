// Search over actors (names, aliases), topics, sources and claim text.
import { useState } from "preact/hooks";
import { html, href, navigate, useQuery, Loading, Stance, Genre, timeParams } from "../ui.js";

const SEARCH_QUERY = `query Search($q: String!, $knownAt: DateTime) {
  actors(search: $q) { key name aliases }
  topics { key title proposition }
  sources { key title publisher genre }
  claims(filter: {text: $q}, first: 50, knownAt: $knownAt) { totalCount nodes { key stance summary actor { name } } }
}`;

export function SearchView({ live }) {
  const q = new URLSearchParams(location.search).get("q") || "";
  const [draft, setDraft] = useState(q);
  const { knownAt } = timeParams();
  return html`<section aria-labelledby="search-title">
    <h1 id="search-title">Search</h1>
    <form role="search" onSubmit=${(e) => { e.preventDefault(); navigate(href("/search", { q: draft.trim() })); }}>
      <label>Words to find <input type="search" name="q" value=${draft} onInput=${(e) => setDraft(e.target.value)} /></label>
      <button type="submit">Search</button>
    </form>
    ${q ? html`<${Results} q=${q} knownAt=${knownAt} live=${live} />` : ""}
  </section>`;
}

function Results({ q, knownAt, live }) {
  const state = useQuery(SEARCH_QUERY, { q, knownAt }, live);
  const needle = q.toLowerCase();
  return html`<${Loading} state=${state}>${() => {
    const { actors, claims } = state.data;
    const topics = state.data.topics.filter((t) => `${t.key} ${t.title} ${t.proposition}`.toLowerCase().includes(needle));
    const sources = state.data.sources.filter((s) => `${s.key} ${s.title} ${s.publisher || ""}`.toLowerCase().includes(needle));
    return html`<div data-testid="search-results">
      <h2>Actors (${actors.length})</h2>
      <ul>${actors.map((a) => html`<li><a href=${href(`/actor/${a.key}`)}>${a.name}</a>${a.aliases.length ? ` — also ${a.aliases.join(", ")}` : ""}</li>`)}</ul>
      <h2>Topics (${topics.length})</h2>
      <ul>${topics.map((t) => html`<li><a href=${href(`/topic/${t.key}`)}>${t.title}</a>: ${t.proposition}</li>`)}</ul>
      <h2>Sources (${sources.length})</h2>
      <ul>${sources.map((s) => html`<li><a href=${href(`/source/${s.key}`)}>${s.title}</a> (<${Genre} genre=${s.genre} />)</li>`)}</ul>
      <h2>Claims (${claims.totalCount})</h2>
      <ul>${claims.nodes.map((c) => html`<li><${Stance} stance=${c.stance} /> ${c.actor.name}: <a href=${href(`/claim/${c.key}`)}>${c.summary}</a></li>`)}</ul>
    </div>`;
  }}<//>`;
}
