// A source: metadata, how its date was determined, and its full text with every recorded passage linked.
import { useEffect, useState } from "preact/hooks";
import { html, href, useQuery, Loading, Stance, PartialDate, Genre, timeParams, codePoints, formatInstant } from "../ui.js";
import { apiKey } from "../client.js";
import { RecordClaimForm } from "./edit.js";

const SOURCE_QUERY = `query Source($id: ID!, $knownAt: DateTime) {
  source(id: $id) {
    id key title publisher authors url genre language sha256 recordedAt text
    published { date precision approximate note }
    claims(knownAt: $knownAt) { key stance summary actor { name } passage { start end } }
  }
  actors { key name }
  topics { key title }
}`;

/** Cut the text at every passage boundary; each piece knows the claims covering it. */
export function segments(length, claims) {
  const cuts = new Set([0, length]);
  for (const c of claims) {
    cuts.add(Math.max(0, Math.min(length, c.passage.start)));
    cuts.add(Math.max(0, Math.min(length, c.passage.end)));
  }
  const points = [...cuts].sort((a, b) => a - b);
  const out = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const [start, end] = [points[i], points[i + 1]];
    out.push({ start, end, claims: claims.filter((c) => c.passage.start <= start && c.passage.end >= end) });
  }
  return out;
}

export function SourceView({ args, live }) {
  const [id] = args;
  const { knownAt } = timeParams();
  const state = useQuery(SOURCE_QUERY, { id, knownAt }, live);
  const [selection, setSelection] = useState(null);
  const [find, setFind] = useState("");
  const text = state.data && state.data.source ? state.data.source.text : null;
  useEffect(() => {
    // A selection made with the mouse, by touch or by keyboard (caret browsing) becomes the passage.
    if (!text || !apiKey() || knownAt) return undefined;
    const points = codePoints(text);
    const onChange = () => {
      const chosen = selectedPassage(points);
      if (chosen) setSelection(chosen);
    };
    document.addEventListener("selectionchange", onChange);
    return () => document.removeEventListener("selectionchange", onChange);
  }, [text]);
  return html`<${Loading} state=${state}>${() => {
    const source = state.data.source;
    if (!source) return html`<h1>No such source</h1><p>No source <code>${id}</code> is registered.</p>`;
    const points = codePoints(source.text);
    const claims = [...source.claims].sort((a, b) => a.passage.start - b.passage.start);
    const editing = Boolean(apiKey()) && !knownAt;
    const findWords = (e) => {
      e.preventDefault();
      const at = source.text.indexOf(find);
      if (!find || at < 0) return setSelection({ error: `“${find}” does not occur in the text` });
      const start = Array.from(source.text.slice(0, at)).length;
      return setSelection({ start, end: start + Array.from(find).length, exact: find });
    };
    return html`<article aria-labelledby="source-title">
      <h1 id="source-title">${source.title}</h1>
      <dl class="facts">
        <dt>Genre</dt><dd><${Genre} genre=${source.genre} /></dd>
        ${source.publisher ? html`<dt>Publisher</dt><dd>${source.publisher}</dd>` : ""}
        ${source.authors.length ? html`<dt>Authors</dt><dd>${source.authors.join(", ")}</dd>` : ""}
        <dt>Published</dt><dd><${PartialDate} value=${source.published} withNote=${true} /></dd>
        <dt>Language</dt><dd>${source.language}</dd>
        ${source.url ? html`<dt>Address</dt><dd><a href=${source.url} rel="noreferrer noopener">${source.url}</a></dd>` : ""}
        <dt>Registered</dt><dd>${formatInstant(source.recordedAt)}</dd>
        <dt>SHA-256 of the text</dt><dd><code class="hash">${source.sha256}</code></dd>
      </dl>
      <h2>Claims from this source (${claims.length})</h2>
      <ol class="source-claims">
        ${claims.map((c) => html`<li id=${`claim-${c.key}`}><${Stance} stance=${c.stance} /> ${c.actor.name}: <a href=${href(`/claim/${c.key}`)}>${c.summary}</a></li>`)}
      </ol>
      ${editing ? html`<p><a href=${href(`/review/${source.key || source.id}`)}>Review the extraction assistant's candidate claims from this source</a></p>` : ""}
      <h2>Full text</h2>
      <p class="note">Every recorded passage is highlighted and links to its claim.${editing ? " Select text to record a claim from it." : ""}</p>
      <div class="source-text" id="source-text" lang=${source.language} data-testid="source-text">
        ${segments(points.length, claims).map((s) => {
          const text = points.slice(s.start, s.end).join("");
          // The innermost passage gets the text; every passage ending here gets a numbered marker,
          // so passages that overlap (or coincide) each keep a link of their own.
          const inner = [...s.claims].sort((a, b) => a.passage.end - a.passage.start - (b.passage.end - b.passage.start))[0];
          const ending = claims.map((c, i) => [c, i + 1]).filter(([c]) => c.passage.end === s.end && s.claims.includes(c));
          return html`${inner
            ? html`<a class="passage" href=${href(`/claim/${inner.key}`)} data-claim=${inner.key}
                title=${s.claims.map((x) => `${x.actor.name}: ${x.summary}`).join("\n")}>${text}</a>`
            : text}${ending.map(
            ([c, n]) => html`<sup class="marker"><a href=${href(`/claim/${c.key}`)} data-claim=${c.key}
              aria-label=${`${n}: claim by ${c.actor.name}`}>${n}</a></sup>`,
          )}`;
        })}
      </div>
      ${editing
        ? html`<section class="editor" aria-labelledby="record-title">
            <h2 id="record-title">Record a claim from a passage</h2>
            <form class="find" onSubmit=${findWords}>
              <label>Or find the exact words in the text <input name="find" type="text" value=${find}
                onInput=${(e) => setFind(e.target.value)} /></label>
              <button type="submit">Use these words</button>
            </form>
            ${selection && selection.error ? html`<p class="error" role="alert">${selection.error}</p>` : ""}
            ${selection && !selection.error
              ? html`<p data-testid="selected-passage">Selected characters ${selection.start}–${selection.end}:${" "}
                  <mark>${selection.exact}</mark></p>
                  <${RecordClaimForm} key=${`${selection.start}-${selection.end}`} source=${source} passage=${selection}
                    actors=${state.data.actors} topics=${state.data.topics} onDone=${state.reload} />`
              : html`<p class="note">No passage chosen yet: select it in the full text above.</p>`}
          </section>`
        : ""}
    </article>`;
  }}<//>`;
}

/** The selection inside a source text (element `containerId`) as code-point offsets (the API's unit), or null. */
export function selectedPassage(points, containerId = "source-text") {
  const container = document.getElementById(containerId);
  const selection = getSelection();
  if (!container || !selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
  const range = selection.getRangeAt(0);
  if (!container.contains(range.startContainer) || !container.contains(range.endContainer)) return null;
  // Offsets count the source's text only, not the claim markers between passages.
  const textOf = (node) => (node.parentElement && node.parentElement.closest(".marker") ? "" : node.data);
  let before = "";
  let exact = "";
  const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const data = textOf(node);
    if (range.startContainer === node) before += data.slice(0, range.startOffset);
    else if (range.comparePoint(node, 0) < 0) before += data;
    if (range.intersectsNode(node)) {
      const from = node === range.startContainer ? range.startOffset : 0;
      const to = node === range.endContainer ? range.endOffset : data.length;
      exact += data.slice(from, to);
    }
  }
  const start = Array.from(before).length;
  const end = start + Array.from(exact).length;
  if (points.slice(start, end).join("") !== exact) return null;
  return { start, end, exact };
}
