// A claim: its record as known at an instant, the passage in its source, links, and its full history.
import { html, href, useQuery, Loading, Stance, PartialDate, Genre, timeParams, codePoints, formatInstant } from "../ui.js";
import { diffWords } from "../diff.js";
import { apiKey } from "../client.js";
import { ReviseForm, RetractForm } from "./edit.js";

export const CLAIM_QUERY = `query Claim($id: ID!, $knownAt: DateTime) {
  claim(id: $id, knownAt: $knownAt) {
    id key version stance summary quote quoteLanguage value conditions channel attribution countsFrom countsFromReason
    retracted retractionReason firstRecordedAt firstRecordedBy versionRecordedAt versionRecordedBy logPosition
    statedOn { date precision earliest latest approximate note }
    passage { start end exact }
    actor { key name }
    topic { key title proposition }
    source { id key title publisher url genre language published { date precision approximate note } text }
    links { relation targetId target { key summary stance } }
    linkedFrom { relation claim { key summary retracted } }
    history { version type logPosition recordedAt recordedBy reason changes { field before after } }
  }
}`;

const BACKLINK = { SUPERSEDES: "superseded by", DISPUTES: "disputed by" }; // the reverse of a link's relation
const CONTEXT = 400; // code points of source text shown around the passage

export function ClaimView({ args, live }) {
  const [id] = args;
  const { knownAt } = timeParams();
  const state = useQuery(CLAIM_QUERY, { id, knownAt }, live);
  return html`<${Loading} state=${state}>${() => {
    const claim = state.data.claim;
    if (!claim)
      return html`<h1>No such claim</h1><p>No claim <code>${id}</code> was recorded${knownAt ? ` by ${formatInstant(knownAt)}` : ""}.</p>`;
    const latest = claim.history.filter((e) => e.type !== "LINKED").length;
    return html`<article aria-labelledby="claim-title" data-testid="claim" data-version=${claim.version}>
      <h1 id="claim-title"><${Stance} stance=${claim.stance} /> ${claim.summary}</h1>
      ${claim.retracted ? html`<p class="retracted" role="note"><strong>Retracted</strong> by the ledger: ${claim.retractionReason}</p>` : ""}
      <p class="version-note" data-testid="version-note">
        Version ${claim.version}${knownAt ? html`, as the ledger stood at ${formatInstant(knownAt)}` : ""}; recorded${" "}
        ${formatInstant(claim.versionRecordedAt)} by ${claim.versionRecordedBy}.
        ${knownAt ? html` <a href=${href(location.pathname, { knownAt: null })}>Show the current record</a>.` : ""}
      </p>
      <dl class="facts">
        <dt>Actor</dt><dd><a href=${href(`/actor/${claim.actor.key}`)}>${claim.actor.name}</a></dd>
        <dt>Topic</dt><dd><a href=${href(`/topic/${claim.topic.key}`)}>${claim.topic.title}</a> — <q>${claim.topic.proposition}</q>${" "}
          (<a href=${href(`/actor/${claim.actor.key}/topic/${claim.topic.key}`)}>this actor's timeline</a>)</dd>
        <dt>Stance</dt><dd><${Stance} stance=${claim.stance} />${claim.conditions ? html` — conditions: ${claim.conditions}` : ""}</dd>
        ${claim.value ? html`<dt>Value</dt><dd>${claim.value}</dd>` : ""}
        <dt>Stated</dt><dd><${PartialDate} value=${claim.statedOn} withNote=${true} /></dd>
        <dt>Counts for positions from</dt><dd>${claim.countsFrom}${" "}(${claim.countsFromReason === "SOURCE_PUBLISHED"
          ? "the source's publication: a statement is not later than the article reporting it"
          : "the end of the stated period"})</dd>
        <dt>Attribution</dt><dd>${claim.attribution.replace("_", " ").toLowerCase()}</dd>
        ${claim.channel ? html`<dt>Channel</dt><dd>${claim.channel}</dd>` : ""}
        ${claim.quote ? html`<dt>Original words</dt><dd><blockquote lang=${claim.quoteLanguage || ""}>${claim.quote}</blockquote></dd>` : ""}
        <dt>Source</dt><dd><a href=${href(`/source/${claim.source.key}`)}>${claim.source.title}</a>${" "}
          — <${Genre} genre=${claim.source.genre} />${claim.source.publisher ? `, ${claim.source.publisher}` : ""},
          published <${PartialDate} value=${claim.source.published} /></dd>
        ${claim.links.length
          ? html`<dt>Links</dt><dd><ul>${claim.links.map(
              (l) => html`<li>${l.relation.toLowerCase()} <a href=${href(`/claim/${l.target ? l.target.key : l.targetId}`)}
                >${l.target ? l.target.summary : l.targetId}</a></li>`,
            )}</ul></dd>`
          : ""}
        ${claim.linkedFrom.length
          ? html`<dt>Linked from</dt><dd><ul data-testid="linked-from">${claim.linkedFrom.map(
              (b) => html`<li>${BACKLINK[b.relation] || b.relation.toLowerCase()} <a href=${href(`/claim/${b.claim.key}`)}
                >${b.claim.summary}</a>${b.claim.retracted ? " (retracted)" : ""}</li>`,
            )}</ul></dd>`
          : ""}
      </dl>
      <h2>The passage in its source</h2>
      <${PassageInContext} text=${claim.source.text} passage=${claim.passage} lang=${claim.source.language} />
      <h2>History</h2>
      <${History} claim=${claim} />
      ${apiKey() && !knownAt && !claim.retracted
        ? html`<h2>Correct this record</h2>
            <${ReviseForm} claim=${claim} onDone=${state.reload} />
            <${RetractForm} claim=${claim} onDone=${state.reload} />`
        : ""}
      <p class="meta">${latest} version${latest === 1 ? "" : "s"} in the history; first recorded ${formatInstant(claim.firstRecordedAt)}${" "}
        by ${claim.firstRecordedBy}; event ${claim.logPosition} of the log (<a href=${href("/audit", { event: claim.logPosition })}>verify it</a>).</p>
    </article>`;
  }}<//>`;
}

function PassageInContext({ text, passage, lang }) {
  const points = codePoints(text);
  const from = Math.max(0, passage.start - CONTEXT);
  const to = Math.min(points.length, passage.end + CONTEXT);
  return html`<div class="source-text context" lang=${lang} data-testid="passage-context">
    ${from > 0 ? "… " : ""}${points.slice(from, passage.start).join("")}<mark class="passage">${points
      .slice(passage.start, passage.end)
      .join("")}</mark>${points.slice(passage.end, to).join("")}${to < points.length ? " …" : ""}
  </div>`;
}

function show(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (value.exact !== undefined) return `${value.exact} [${value.start}–${value.end}]`;
  if (value.date !== undefined) return `${value.date}${value.precision && value.precision !== "DAY" ? ` (${value.precision.toLowerCase()})` : ""}`;
  if (value.text !== undefined) return value.text;
  return JSON.stringify(value);
}

function Change({ change }) {
  const before = show(change.before);
  const after = show(change.after);
  const parts = diffWords(before, after);
  return html`<tr>
    <th scope="row">${change.field}</th>
    <td class="before">${before === "" ? html`<em>none</em>` : parts.filter((p) => p.op !== "ins").map((p) =>
      p.op === "del" ? html`<del>${p.text}</del>` : p.text)}</td>
    <td class="after">${after === "" ? html`<em>none</em>` : parts.filter((p) => p.op !== "del").map((p) =>
      p.op === "ins" ? html`<ins>${p.text}</ins>` : p.text)}</td>
  </tr>`;
}

function History({ claim }) {
  return html`<ol class="history" data-testid="history">
    ${claim.history.map(
      (e) => html`<li class=${e.version === claim.version ? "current" : ""}>
        <p><strong>${e.type.toLowerCase()}</strong> — version ${e.version}, ${formatInstant(e.recordedAt)} by ${e.recordedBy}${" "}
          · <a href=${href(location.pathname, { knownAt: e.recordedAt })}>view as known at this moment</a>
          ${e.version === claim.version ? html` <span class="badge">shown above</span>` : ""}</p>
        ${e.reason ? html`<p class="reason">Why: ${e.reason}</p>` : ""}
        ${e.changes.length
          ? html`<table class="changes" tabindex="0">
              <caption class="visually-hidden">Fields changed by version ${e.version}</caption>
              <thead><tr><th scope="col">field</th><th scope="col">before</th><th scope="col">after</th></tr></thead>
              <tbody>${e.changes.map((c) => html`<${Change} change=${c} />`)}</tbody>
            </table>`
          : ""}
      </li>`,
    )}
  </ol>`;
}
