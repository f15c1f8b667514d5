// Timelines: a topic's runs of colour per actor with shift markers, and one actor's claims on one topic.
import { gql } from "../client.js";
import {
  html, href, useQuery, Loading, Stance, STANCES, PartialDate, Genre, timeParams, today,
} from "../ui.js";

const CLAIM_FIELDS = `key stance summary quote countsFrom countsFromReason
  statedOn { date precision earliest latest approximate note }
  actor { key name }
  source { id key title genre }
  passage { exact }`;

const TOPIC_QUERY = `query TopicTimeline($topic: String!, $statedTo: Date, $knownAt: DateTime, $after: String,
    $withTopics: Boolean!) {
  topics @include(if: $withTopics) { key title proposition }
  claims(filter: {topic: $topic, statedTo: $statedTo}, first: 100, after: $after, knownAt: $knownAt) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { ${CLAIM_FIELDS} }
  }
}`;
const MAX_PAGES = 50; // 5,000 claims on one topic: beyond that the page says how many it left out

/** Every claim on the topic that counts by asOf (one request per 100 claims). */
async function loadTopic({ topic, asOf, knownAt }) {
  const nodes = [];
  let first = null;
  let after = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const data = await gql(TOPIC_QUERY, { topic, statedTo: asOf, knownAt, after, withTopics: page === 0 });
    first = first || data;
    nodes.push(...data.claims.nodes);
    if (!data.claims.pageInfo.hasNextPage) break;
    after = data.claims.pageInfo.endCursor;
  }
  return { topics: first.topics, claims: { totalCount: first.claims.totalCount, nodes } };
}

const DAY = 86400000;
const toTime = (isoDate) => Date.parse(`${isoDate}T00:00:00Z`);

/**
 * Runs of one stance per actor: a run starts on the day a claim of another stance counts from
 * (Claim.countsFrom). `claims` come in the API's order, the position rule's: countsFrom, then the
 * stated period's start, then first recording.
 */
export function runsOf(claims, end) {
  const runs = [];
  for (const claim of claims) {
    const last = runs[runs.length - 1];
    if (last && last.stance === claim.stance) {
      last.claims.push(claim);
      continue;
    }
    if (last) last.end = claim.countsFrom;
    runs.push({ stance: claim.stance, start: claim.countsFrom, end, claims: [claim], shift: Boolean(last), from: last?.stance });
  }
  return runs;
}

export function TopicTimelineView({ args, live }) {
  const [topicKey] = args;
  const { asOf, knownAt } = timeParams();
  const state = useQuery(loadTopic, { topic: topicKey, asOf: asOf || today(), knownAt }, live);
  return html`<${Loading} state=${state}>${() => {
    const topic = state.data.topics.find((t) => t.key === topicKey);
    if (!topic) return html`<h1>Unknown topic</h1><p>No topic has the key <code>${topicKey}</code>.</p>`;
    const end = asOf || today();
    const claims = state.data.claims.nodes.filter((c) => c.countsFrom <= end);
    const byActor = new Map();
    for (const c of claims) {
      if (!byActor.has(c.actor.key)) byActor.set(c.actor.key, { actor: c.actor, claims: [] });
      byActor.get(c.actor.key).claims.push(c);
    }
    const rows = [...byActor.values()]
      .map((row) => ({ ...row, runs: runsOf(row.claims, end) }))
      .sort((a, b) => a.actor.name.localeCompare(b.actor.name));
    return html`<section aria-labelledby="timeline-title">
      <h1 id="timeline-title">${topic.title}: every actor over time</h1>
      <p class="proposition">Proposition: <q>${topic.proposition}</q></p>
      ${state.data.claims.totalCount > state.data.claims.nodes.length
        ? html`<p class="note">Showing the first ${state.data.claims.nodes.length} of ${state.data.claims.totalCount} claims.</p>`
        : ""}
      ${rows.length ? html`<${TimelineChart} rows=${rows} end=${end} />` : html`<p class="empty">No claim on this topic counts by ${end}.</p>`}
      <h2>Runs and shifts</h2>
      <ul class="runs" data-testid="runs">
        ${rows.map(
          (row) => html`<li>
            <a href=${href(`/actor/${row.actor.key}/topic/${topic.key}`)}>${row.actor.name}</a>:${" "}
            ${row.runs.map(
              (run, i) => html`${i ? " → " : ""}<span class=${run.shift ? "run shift" : "run"}
                >${run.shift ? html`<strong>shift</strong> ` : ""}<${Stance} stance=${run.stance} />${" from "}<${PartialDate}
                value=${run.claims[0].statedOn} />${run.start !== run.claims[0].statedOn.latest
                ? ` (counts from ${run.start}, the source's publication)`
                : ""}</span
              >`,
            )}
          </li>`,
        )}
      </ul>
    </section>`;
  }}<//>`;
}

function TimelineChart({ rows, end }) {
  const all = rows.flatMap((r) => r.claims);
  const first = Math.min(...all.map((c) => toTime(c.statedOn.earliest)));
  const last = Math.max(toTime(end), ...all.map((c) => toTime(c.countsFrom))) + DAY;
  const label = 190;
  const width = 900;
  const rowHeight = 30;
  const pad = 40; // right of the asOf line: room for the symbol of a run too short to hold it
  const x = (iso) => label + ((toTime(iso) - first) / (last - first)) * (width - label - pad);
  const height = rows.length * rowHeight + 30;
  const months = [];
  for (let d = new Date(first); d.getTime() <= last; d.setUTCMonth(d.getUTCMonth() + 1, 1)) {
    months.push(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)).toISOString().slice(0, 10));
  }
  const every = Math.max(1, Math.ceil((months.length * 60) / (width - label - pad))); // a label needs ~60 units
  return html`<figure class="timeline-chart" tabindex="0" aria-label="Timeline chart, scrollable">
    <svg viewBox=${`0 0 ${width} ${height}`} role="img" aria-labelledby="chart-desc" data-testid="timeline-chart">
      <desc id="chart-desc">Runs of stance per actor over time; triangles mark shifts; hatched brackets are month- or year-precision dates.</desc>
      ${months.filter((m, i) => toTime(m) >= first && i % every === 0).map(
        (m) => html`<g class="tick"><line x1=${x(m)} x2=${x(m)} y1="0" y2=${height - 20} />
          <text x=${x(m) + 2} y=${height - 6}>${m.slice(0, 7)}</text></g>`,
      )}
      ${rows.map((row, i) => {
        const y = i * rowHeight + 4;
        return html`<g class="row">
          <text class="actor" x="4" y=${y + 17}><title>${row.actor.name}</title>${row.actor.name.length > 28 ? row.actor.name.slice(0, 27) + "…" : row.actor.name}</text>
          ${row.runs.map(
            (run) => html`<rect class=${`run run-${run.stance}`} x=${x(run.start)} y=${y + 6}
                width=${Math.max(2, x(run.end) - x(run.start))} height="14"><title>${`${STANCES[run.stance].label} from ${run.start}`}</title></rect>
              <${RunSymbol} run=${run} last=${run === row.runs[row.runs.length - 1]} x=${x} y=${y} />
              ${run.shift
                ? html`<path class="shift-marker" d=${`M${x(run.start)},${y + 4} l-5,-4 h10 z`}><title>${`shift ${run.from} → ${run.stance}`}</title></path>`
                : ""}`,
          )}
          ${row.claims.map((c) =>
            c.statedOn.precision === "DAY"
              ? html`<circle class="claim-point" cx=${x(c.statedOn.earliest)} cy=${y + 23} r="2.5"><title>${c.key}: ${c.statedOn.date}</title></circle>`
              : html`<rect class="claim-period" x=${x(c.statedOn.earliest)} y=${y + 21} width=${Math.max(2, x(c.statedOn.latest) - x(c.statedOn.earliest) + 1)}
                  height="4"><title>${c.key}: ${c.statedOn.date} (${c.statedOn.precision.toLowerCase()}: ${c.statedOn.earliest} … ${c.statedOn.latest})</title></rect>`,
          )}
        </g>`;
      })}
      <line class="asof" x1=${x(end)} x2=${x(end)} y1="0" y2=${height - 20}><title>as of ${end}</title></line>
    </svg>
  </figure>`;
}

/** The run's symbol inside its bar, or past the asOf line for a last run too short to hold it. */
function RunSymbol({ run, last, x, y }) {
  const inside = x(run.end) - x(run.start) >= 14;
  if (!inside && !last) return null; // the list below the chart names it
  return html`<text class=${inside ? "run-label" : "run-label outside"} x=${inside ? x(run.start) + 3 : x(run.end) + 4}
    y=${y + 17} aria-hidden="true">${STANCES[run.stance].symbol}</text>`;
}

const ACTOR_TOPIC_QUERY = `query ActorTopic($actor: String!, $topic: String!, $asOf: Date, $knownAt: DateTime) {
  position(actor: $actor, topic: $topic, asOf: $asOf, knownAt: $knownAt) {
    stance since { date precision approximate note } claim { key }
  }
  timeline(actor: $actor, topic: $topic, knownAt: $knownAt) {
    stance previousStance since { date precision approximate note } claim { key }
  }
  claims(filter: {actor: $actor, topic: $topic}, first: 100, knownAt: $knownAt) {
    nodes { ${CLAIM_FIELDS} attribution }
  }
  actors(search: $actor) { key name }
  topics { key title proposition }
}`;

export function ActorTopicView({ args, live }) {
  const [actorKey, topicKey] = args;
  const { asOf, knownAt } = timeParams();
  const state = useQuery(ACTOR_TOPIC_QUERY, { actor: actorKey, topic: topicKey, asOf, knownAt }, live);
  return html`<${Loading} state=${state}>${() => {
    const { position, timeline, claims } = state.data;
    const actor = state.data.actors.find((a) => a.key === actorKey) || { key: actorKey, name: actorKey };
    const topic = state.data.topics.find((t) => t.key === topicKey) || { key: topicKey, title: topicKey };
    return html`<section aria-labelledby="at-title">
      <h1 id="at-title"><a href=${href(`/actor/${actor.key}`)}>${actor.name}</a> on <a href=${href(`/topic/${topic.key}`)}>${topic.title}</a></h1>
      <p class="proposition">Proposition: <q>${topic.proposition}</q></p>
      <p class="position" data-testid="position">
        ${position
          ? html`Position${asOf ? ` as of ${asOf}` : ""}: <${Stance} stance=${position.stance} />${" since "}
              <${PartialDate} value=${position.since} /> (<a href=${href(`/claim/${position.claim.key}`)}>latest claim</a>)`
          : html`No position${asOf ? ` as of ${asOf}` : ""}: no claim counts yet.`}
      </p>
      <h2>Shifts</h2>
      <ol class="shifts" data-testid="shifts">
        ${timeline.map(
          (t) => html`<li>
            <${PartialDate} value=${t.since} />: ${t.previousStance ? html`<${Stance} stance=${t.previousStance} /> → ` : ""}<${Stance}
              stance=${t.stance} /> (<a href=${href(`/claim/${t.claim.key}`)}>${t.claim.key}</a>)
          </li>`,
        )}
      </ol>
      <h2>Claims, with their passages</h2>
      <ol class="claims">
        ${claims.nodes.map(
          (c) => html`<li class="claim-item">
            <p><${Stance} stance=${c.stance} /> <${PartialDate} value=${c.statedOn} /> —${" "}
              <a href=${href(`/claim/${c.key}`)}>${c.summary}</a></p>
            <blockquote><mark>${c.passage.exact}</mark></blockquote>
            <p class="meta">${c.attribution.replace("_", " ").toLowerCase()} in${" "}
              <a href=${href(`/source/${c.source.key}`)}>${c.source.title}</a> (<${Genre} genre=${c.source.genre} />)</p>
          </li>`,
        )}
      </ol>
    </section>`;
  }}<//>`;
}
