// An actor: names, aliases, roles with dates, Wikidata, and every position as of the chosen date.
import { html, href, useQuery, Loading, Stance, PartialDate, timeParams } from "../ui.js";

const ACTOR_QUERY = `query Actor($key: String!, $asOf: Date, $knownAt: DateTime) {
  actors(search: $key) { key name kind aliases wikidata roles { title from until } }
  positions(actor: $key, asOf: $asOf, knownAt: $knownAt) {
    stance since { date precision approximate note } topic { key title proposition } claim { key summary }
  }
}`;

export function ActorView({ args, live }) {
  const [key] = args;
  const { asOf, knownAt } = timeParams();
  const state = useQuery(ACTOR_QUERY, { key, asOf, knownAt }, live);
  return html`<${Loading} state=${state}>${() => {
    const actor = state.data.actors.find((a) => a.key === key);
    if (!actor) return html`<h1>No such actor</h1><p>No actor has the key <code>${key}</code>.</p>`;
    const positions = [...state.data.positions].sort((a, b) => a.topic.title.localeCompare(b.topic.title));
    return html`<article aria-labelledby="actor-title">
      <h1 id="actor-title">${actor.name}</h1>
      <dl class="facts">
        <dt>Kind</dt><dd>${actor.kind.toLowerCase()}</dd>
        <dt>Key</dt><dd><code>${actor.key}</code></dd>
        ${actor.aliases.length ? html`<dt>Also written</dt><dd>${actor.aliases.join(" · ")}</dd>` : ""}
        ${actor.wikidata
          ? html`<dt>Wikidata</dt><dd><a href=${`https://www.wikidata.org/wiki/${actor.wikidata}`} rel="noreferrer noopener">${actor.wikidata}</a></dd>`
          : ""}
        ${actor.roles.length
          ? html`<dt>Roles</dt><dd><ul>${actor.roles.map(
              (r) => html`<li>${r.title}${r.from || r.until ? ` (${r.from || "…"} – ${r.until || "…"})` : ""}</li>`,
            )}</ul></dd>`
          : ""}
      </dl>
      <h2>Positions${asOf ? ` as of ${asOf}` : ""}</h2>
      ${positions.length
        ? html`<div class="table-scroll" tabindex="0" role="region" aria-label="Positions, scrollable"><table class="positions" data-testid="actor-positions">
            <thead><tr><th scope="col">Topic</th><th scope="col">Stance</th><th scope="col">Since</th><th scope="col">Latest claim</th></tr></thead>
            <tbody>${positions.map(
              (p) => html`<tr>
                <th scope="row"><a href=${href(`/actor/${actor.key}/topic/${p.topic.key}`)}>${p.topic.title}</a></th>
                <td><${Stance} stance=${p.stance} /></td>
                <td><${PartialDate} value=${p.since} /></td>
                <td><a href=${href(`/claim/${p.claim.key}`)}>${p.claim.summary}</a></td>
              </tr>`,
            )}</tbody>
          </table></div>`
        : html`<p class="empty">No position counts by this date.</p>`}
    </article>`;
  }}<//>`;
}
