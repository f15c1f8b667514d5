// Shared pieces of the views: html templates, stances, URLs, data loading.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { gql } from "./client.js";

export const html = htm.bind(h);

// Colour is never the only carrier of a stance: each has a symbol and a word too.
export const STANCES = {
  SUPPORTS: { symbol: "✓", label: "supports" },
  OPPOSES: { symbol: "✗", label: "opposes" },
  CONDITIONAL: { symbol: "◐", label: "conditional" },
  NEUTRAL: { symbol: "○", label: "neutral" },
};

export const GENRES = {
  NEWS: "news report",
  COMMENTARY: "commentary",
  OPINION: "opinion",
  PRIMARY_STATEMENT: "primary statement",
  TRANSCRIPT: "transcript",
};

export function Stance({ stance, short = false }) {
  const s = STANCES[stance] || { symbol: "?", label: stance };
  return html`<span class=${`stance stance-${stance}`}
    ><span aria-hidden="true">${s.symbol}</span> ${short ? s.label.slice(0, 4) + "." : s.label}</span
  >`;
}

export function Genre({ genre }) {
  return html`<span class=${`genre genre-${genre}`}>${GENRES[genre] || genre}</span>`;
}

/** A partial date as what it is: "2025-04 (month)", "≈", and its note on demand. */
export function PartialDate({ value, withNote = false }) {
  if (!value) return html`<span>—</span>`;
  const precision = value.precision === "DAY" ? "" : ` (${value.precision.toLowerCase()})`;
  return html`<span class="pdate" title=${value.note || ""}
    >${value.approximate ? "≈ " : ""}<time datetime=${value.date}>${value.date}</time>${precision}${withNote &&
    value.note
      ? html` <span class="note">— ${value.note}</span>`
      : ""}</span
  >`;
}

/** The current URL's time axes (asOf: a date in the world; knownAt: an instant of the ledger's record). */
export function timeParams() {
  const params = new URLSearchParams(location.search);
  return { asOf: params.get("asOf") || null, knownAt: params.get("knownAt") || null };
}

/** A view's URL that keeps the reader's asOf/knownAt (so every page can be cited as seen). */
export function href(path, extra = {}) {
  const params = new URLSearchParams();
  const { asOf, knownAt } = timeParams();
  if (asOf) params.set("asOf", asOf);
  if (knownAt) params.set("knownAt", knownAt);
  for (const [key, value] of Object.entries(extra)) {
    if (value === null || value === undefined || value === "") params.delete(key);
    else params.set(key, value);
  }
  const query = params.toString();
  return query ? `${path}?${query}` : path;
}

/** This view's URL with some parameters changed (null removes one); the others stay. */
export function withParams(changes) {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "") params.delete(key);
    else params.set(key, value);
  }
  const query = params.toString();
  return query ? `${location.pathname}?${query}` : location.pathname;
}

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  dispatchEvent(new Event("claims:navigate"));
}

export function today() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

const LIVE_DELAY_MS = 250;

/**
 * Load one GraphQL document (or run a loader function of the variables). `live` is the
 * ledger's advance counter: when the view is not pinned to a knownAt, a new event makes
 * it load again (no reload).
 */
export function useQuery(query, variables, live) {
  const [state, setState] = useState({ loading: true, data: null, error: null });
  const key = JSON.stringify(variables);
  const pinned = Boolean(variables && variables.knownAt);
  const tick = pinned ? 0 : live;
  const [reloads, setReloads] = useState(0);
  const asked = useRef(null);
  useEffect(() => {
    let current = true;
    const run = () => {
      setState((s) => ({ ...s, loading: true }));
      (typeof query === "function" ? query(variables) : gql(query, variables)).then(
        (data) => current && setState({ loading: false, data, error: null }),
        (error) => current && setState({ loading: false, data: null, error }),
      );
    };
    // A burst of ledger events (an import) becomes one reload, LIVE_DELAY after the last event.
    const liveOnly = asked.current === `${key}|${reloads}`;
    asked.current = `${key}|${reloads}`;
    const timer = liveOnly ? setTimeout(run, LIVE_DELAY_MS) : (run(), null);
    return () => {
      current = false;
      if (timer) clearTimeout(timer);
    };
  }, [query, key, tick, reloads]);
  return { ...state, reload: () => setReloads((n) => n + 1) };
}

export function Loading({ state, children }) {
  if (state.error) {
    const needsKey = state.error.code && state.error.code() === "UNAUTHENTICATED";
    return html`<p class="error" role="alert">Could not load: ${state.error.message}${needsKey
      ? html` This server asks for an API key to read: <a href="/edit">enter one</a>.`
      : ""}</p>`;
  }
  if (!state.data) return html`<p class="loading" aria-busy="true">Loading…</p>`;
  return children();
}

export function Link({ to, children, ...rest }) {
  return html`<a href=${to} ...${rest}>${children}</a>`;
}

/** Split a string into code points: the API's offsets count Unicode code points, not UTF-16 units. */
export function codePoints(text) {
  return Array.from(text || "");
}

export function formatInstant(iso) {
  if (!iso) return "";
  return iso.replace("T", " ").replace(/(\.\d{3})\d*/, "$1");
}

export function TimeBanner() {
  const { asOf, knownAt } = timeParams();
  if (!asOf && !knownAt) return null;
  return html`<p class="banner" role="note">
    ${asOf ? html`As of <strong>${asOf}</strong>. ` : ""}${knownAt
      ? html`As the ledger stood at <strong>${formatInstant(knownAt)}</strong> (later records and corrections hidden). `
      : ""}
    <a href=${withParams({ asOf: null, knownAt: null })}>Show now</a>
  </p>`;
}
