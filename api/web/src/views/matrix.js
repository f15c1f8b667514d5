// The matrix: actors × topics as of a date, as the ledger stood at an instant. One GraphQL request.
import { html, href, navigate, useQuery, Loading, Stance, STANCES, GENRES, PartialDate, timeParams } from "../ui.js";

export const MATRIX_QUERY = `query Matrix($asOf: Date, $knownAt: DateTime) {
  actors { key name kind }
  topics { key title proposition }
  positions(asOf: $asOf, knownAt: $knownAt) {
    stance
    since { date precision approximate }
    actor { key }
    topic { key }
    claim { key source { genre } }
  }
}`;

const KINDS = ["PERSON", "ORGANISATION", "STATE", "GROUP"];

export function MatrixView({ live }) {
  const { asOf, knownAt } = timeParams();
  const params = new URLSearchParams(location.search);
  const filters = {
    topic: params.get("topic") || "",
    actor: params.get("actor") || "",
    kind: params.get("kind") || "",
    genre: params.get("genre") || "",
  };
  const state = useQuery(MATRIX_QUERY, { asOf, knownAt }, live);
  const setFilter = (name, value) => navigate(href(location.pathname, { ...filters, [name]: value }), { replace: true });
  return html`<section aria-labelledby="matrix-title">
    <h1 id="matrix-title">Positions${asOf ? ` as of ${asOf}` : " today"}</h1>
    <p class="lede">
      Where each actor stands on each topic's proposition: the latest claim that counts by that date, and since when.
      Choose a cell to see its timeline.
    </p>
    <form class="filters" onSubmit=${(e) => e.preventDefault()} aria-label="Filter the matrix">
      <label>Topic <select name="topic" value=${filters.topic} onChange=${(e) => setFilter("topic", e.target.value)}>
        <option value="">all topics</option>
        ${(state.data?.topics || []).map((t) => html`<option value=${t.key}>${t.title}</option>`)}
      </select></label>
      <label>Actor <input name="actor" type="search" value=${filters.actor} placeholder="name or key"
        onInput=${(e) => setFilter("actor", e.target.value)} /></label>
      <label>Kind of actor <select name="kind" value=${filters.kind} onChange=${(e) => setFilter("kind", e.target.value)}>
        <option value="">any kind</option>
        ${KINDS.map((k) => html`<option value=${k}>${k.toLowerCase()}</option>`)}
      </select></label>
      <label>Source genre <select name="genre" value=${filters.genre} onChange=${(e) => setFilter("genre", e.target.value)}>
        <option value="">any genre</option>
        ${Object.entries(GENRES).map(([g, label]) => html`<option value=${g}>${label}</option>`)}
      </select></label>
    </form>
    <${Legend} />
    <${Loading} state=${state}>${() => html`<${Matrix} data=${state.data} filters=${filters} />`}<//>
  </section>`;
}

function Legend() {
  return html`<ul class="legend" aria-label="Stances">
    ${Object.keys(STANCES).map((s) => html`<li><${Stance} stance=${s} /></li>`)}
    <li><span class="stance stance-none">— no position</span></li>
  </ul>`;
}

function Matrix({ data, filters }) {
  const needle = filters.actor.toLowerCase();
  const cells = new Map();
  for (const p of data.positions) {
    if (filters.genre && p.claim.source.genre !== filters.genre) continue;
    cells.set(`${p.actor.key}\u0000${p.topic.key}`, p);
  }
  const has = (a, t) => cells.has(`${a.key}\u0000${t.key}`);
  const candidates = data.actors.filter(
    (a) => (!filters.kind || a.kind === filters.kind) && (!needle || a.name.toLowerCase().includes(needle) || a.key.includes(needle)),
  );
  // Only rows and columns with at least one position: an empty column says nothing.
  const topics = data.topics.filter((t) => (!filters.topic || t.key === filters.topic) && candidates.some((a) => has(a, t)));
  const actors = candidates.filter((a) => topics.some((t) => has(a, t)));
  if (!actors.length) return html`<p class="empty" role="status">No positions match these filters at this date.</p>`;
  return html`<div class="matrix-scroll" tabindex="0" role="region" aria-label="Matrix of positions, scrollable">
    <table class="matrix" data-testid="matrix">
      <caption class="visually-hidden">Stance of each actor (rows) on each topic (columns)</caption>
      <thead>
        <tr>
          <th scope="col">Actor</th>
          ${topics.map(
            (t) => html`<th scope="col"><a href=${href(`/topic/${t.key}`)} title=${t.proposition}>${t.title}</a></th>`,
          )}
        </tr>
      </thead>
      <tbody>
        ${actors.map(
          (a) => html`<tr>
            <th scope="row"><a href=${href(`/actor/${a.key}`)}>${a.name}</a></th>
            ${topics.map((t) => {
              const p = cells.get(`${a.key}\u0000${t.key}`);
              if (!p) return html`<td class="cell-none"><span class="stance-none" aria-hidden="true">—</span><span class="visually-hidden">no position</span></td>`;
              return html`<td class=${`cell cell-${p.stance}`} data-actor=${a.key} data-topic=${t.key}>
                <a href=${href(`/actor/${a.key}/topic/${t.key}`)}
                  ><span class="visually-hidden">${a.name} on ${t.title}:${" "}</span><${Stance} stance=${p.stance} /><span class="since">since <${PartialDate} value=${p.since} /></span
                ></a>
              </td>`;
            })}
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}
