// Review of the extraction assistant's candidates for one source: the text with every candidate's
// passage highlighted, and a card per candidate to edit, accept (recordClaim with the assistant
// origin) or dismiss (for this browser session: nothing is written, see dismissedKey).
import { useEffect, useState } from "preact/hooks";
import { html, href, useQuery, Loading, STANCES, codePoints } from "../ui.js";
import { gql, apiKey } from "../client.js";
import { ATTRIBUTIONS, describe, Field, General, PendingNote } from "./edit.js";
import { segments, selectedPassage } from "./source.js";

const REVIEW_QUERY = `query Review($source: ID!) {
  extractionCandidates(source: $source) {
    language
    source { id key title text published { date } claims { key summary passage { start end } } }
    candidates {
      key form attribution confidence cue speaker rule notes summary channel
      passage { start end exact }
      actor { key name }
      proposedActor { key name kind aliases }
      stated { date precision approximate note }
      topicSuggestions { topic { key title } score }
    }
  }
  actors { key name }
  topics { key title }
}`;

const NEW_ACTOR = "__new__";
const ACTOR_KINDS = ["PERSON", "ORGANISATION", "STATE", "GROUP"];
const TEXT_ID = "review-text";

/** A candidate's identity across reloads: its rule and original passage (its number may shift). */
/** The curator's words as a passage: with offsets when they occur exactly once (else the server says why). */
function locate(text, exact) {
  const at = exact ? text.indexOf(exact) : -1;
  if (at < 0 || text.indexOf(exact, at + 1) >= 0) return { exact };
  const start = Array.from(text.slice(0, at)).length;
  return { start, end: start + Array.from(exact).length, exact };
}

const signature = (c) => `${c.rule}@${c.passage.start}-${c.passage.end}`;

// Dismissing writes nothing to the ledger (a dismissed candidate is not a fact about the source):
// it is remembered in this tab's sessionStorage, like the API key, and can be undone.
const dismissedKey = (sourceId) => `claims-ledger.dismissed.${sourceId}`;

function loadDismissed(sourceId) {
  try {
    return new Set(JSON.parse(sessionStorage.getItem(dismissedKey(sourceId)) || "[]"));
  } catch {
    return new Set();
  }
}

function saveDismissed(sourceId, set) {
  try {
    sessionStorage.setItem(dismissedKey(sourceId), JSON.stringify([...set]));
  } catch {
    // storage unavailable: dismissals last until the page is left
  }
}

export function ReviewView({ args, live }) {
  const [id] = args;
  const state = useQuery(REVIEW_QUERY, { source: id }, live);
  const result = state.data && state.data.extractionCandidates;
  const sourceId = result ? result.source.id : null;
  const [dismissed, setDismissed] = useState(new Set());
  const [showDismissed, setShowDismissed] = useState(false);
  const [accepted, setAccepted] = useState({}); // signature -> claim key
  const [passages, setPassages] = useState({}); // signature -> the curator's passage
  const [selection, setSelection] = useState(null);
  useEffect(() => {
    if (sourceId) setDismissed(loadDismissed(sourceId));
  }, [sourceId]);
  const text = result ? result.source.text : null;
  useEffect(() => {
    // The last selection inside the text (mouse, touch or keyboard) is what "use the selection" takes.
    if (!text) return undefined;
    const points = codePoints(text);
    const onChange = () => {
      const chosen = selectedPassage(points, TEXT_ID);
      if (chosen) setSelection(chosen);
    };
    document.addEventListener("selectionchange", onChange);
    return () => document.removeEventListener("selectionchange", onChange);
  }, [text]);
  const toggle = (sig, on) => {
    const next = new Set(dismissed);
    if (on) next.add(sig);
    else next.delete(sig);
    setDismissed(next);
    saveDismissed(sourceId, next);
  };
  return html`<${Loading} state=${state}>${() => {
    const { source, candidates } = result;
    const editing = Boolean(apiKey());
    const numbered = candidates.map((c, i) => ({ ...c, n: i + 1, sig: signature(c) }));
    const recorded = (c) => source.claims.some((x) => x.passage.start < c.passage.end && x.passage.end > c.passage.start);
    const status = (c) => (accepted[c.sig] ? "accepted" : dismissed.has(c.sig) ? "dismissed" : recorded(c) ? "recorded" : "open");
    const shown = numbered.filter((c) => status(c) !== "dismissed");
    const hidden = numbered.filter((c) => status(c) === "dismissed");
    // A passage typed that is not (uniquely) in the text keeps the original highlight until it is.
    const marked = shown.map((c) => ({ ...c, passage: passages[c.sig] && passages[c.sig].start !== undefined ? passages[c.sig] : c.passage }));
    const points = codePoints(source.text);
    return html`<article aria-labelledby="review-title" class="review">
      <h1 id="review-title">Review candidates: ${source.title}</h1>
      <p class="lede">The extraction assistant proposes ${candidates.length} candidate claim${candidates.length === 1 ? "" : "s"}${" "}
        (language ${result.language}). Nothing is recorded until you accept a candidate; the stance is always yours to choose.${" "}
        <a href=${href(`/source/${source.key || source.id}`)}>Back to the source</a>.</p>
      ${editing ? "" : html`<p class="banner" role="note">No API key is set: you can read the candidates, but to accept
        one enter an editor key in <a href=${href("/edit")}>Editing</a>.</p>`}
      <div class="review-layout">
        <section aria-labelledby="review-text-title" class="review-text-panel">
          <h2 id="review-text-title">Text</h2>
          <p class="note">Each candidate's passage is marked and numbered; select words here to move a candidate's passage.</p>
          <div class="source-text" id=${TEXT_ID} lang=${result.language} data-testid="review-text"
            tabindex="0" role="region" aria-label="Source text with the candidates' passages">
            ${segments(points.length, marked).map((s) => {
              const words = points.slice(s.start, s.end).join("");
              const inner = [...s.claims].sort((a, b) => a.passage.end - a.passage.start - (b.passage.end - b.passage.start))[0];
              const ending = marked.filter((c) => c.passage.end === s.end && s.claims.includes(c));
              return html`${inner
                ? html`<mark class=${`candidate candidate-${status(inner) === "open" ? "open" : "accepted"}`} data-candidate=${inner.n}>${words}</mark>`
                : words}${ending.map((c) => html`<sup class="marker"><a href=${`#candidate-${c.n}`}
                  aria-label=${`candidate ${c.n} (${status(c)})`}>[${c.n}${status(c) === "open" ? "" : " ✓"}]</a></sup>`)}`;
            })}
          </div>
          ${selection ? html`<p class="note" data-testid="review-selection">Selected: “${selection.exact}”</p>` : ""}
        </section>
        <section aria-labelledby="candidates-title" class="review-candidates">
          <h2 id="candidates-title">Candidates (${shown.length} shown${hidden.length ? `, ${hidden.length} dismissed` : ""})</h2>
          ${shown.length === 0 ? html`<p>No candidate left to review.</p>` : ""}
          <ol class="candidates">
            ${shown.map((c) => html`<li key=${c.sig}>
              <${CandidateCard} candidate=${c} source=${source} actors=${state.data.actors} topics=${state.data.topics}
                editing=${editing} status=${status(c)} selection=${selection}
                passage=${passages[c.sig] || c.passage} setPassage=${(p) => setPassages({ ...passages, [c.sig]: p })}
                onAccepted=${(key) => setAccepted({ ...accepted, [c.sig]: key })} onDismiss=${() => toggle(c.sig, true)} />
            </li>`)}
          </ol>
          ${hidden.length
            ? html`<p><button type="button" aria-expanded=${String(showDismissed)} onClick=${() => setShowDismissed(!showDismissed)}>
                ${showDismissed ? "Hide" : "Show"} dismissed candidates (${hidden.length})</button></p>
              ${showDismissed
                ? html`<ul class="dismissed" data-testid="dismissed">${hidden.map((c) => html`<li>
                    Candidate ${c.n}: ${c.speaker || "unknown speaker"} — “${c.passage.exact}”
                    <button type="button" onClick=${() => toggle(c.sig, false)}>Restore candidate ${c.n}</button></li>`)}</ul>`
                : ""}`
            : ""}
        </section>
      </div>
    </article>`;
  }}<//>`;
}

function CandidateCard({ candidate: c, source, actors, topics, editing, status, selection, passage, setPassage, onAccepted, onDismiss }) {
  const suggested = c.topicSuggestions.map((s) => s.topic.key);
  const initial = {
    key: c.key,
    actor: c.actor ? c.actor.key : c.proposedActor ? NEW_ACTOR : "",
    topic: suggested[0] || "",
    stance: "", // the curator's judgment: never pre-filled
    summary: c.summary,
    stated: c.stated.date,
    attribution: c.attribution,
    channel: c.channel || "",
    conditions: "",
  };
  const [form, setForm] = useState(initial);
  const proposed = c.proposedActor || { key: "", name: c.speaker || "", kind: "PERSON", aliases: [] };
  const [actorForm, setActorForm] = useState({ key: proposed.key, name: proposed.name, kind: proposed.kind });
  const [errors, setErrors] = useState(null);
  const [actorErrors, setActorErrors] = useState(null);
  const [recorded, setRecorded] = useState(null);
  const [busy, setBusy] = useState(false);
  const [again, setAgain] = useState(false); // record another claim from a passage already recorded
  const set = (name) => (e) => setForm({ ...form, [name]: e.target.value });
  const setActor = (name) => (e) => setActorForm({ ...actorForm, [name]: e.target.value });
  const id = `candidate-${c.n}`;
  const accept = async (e) => {
    e.preventDefault();
    setErrors(null);
    setActorErrors(null);
    if (!form.stance) {
      setErrors({ fields: { stance: "Choose a stance: the assistant does not judge it." }, general: [], code: null, errors: [] });
      return;
    }
    setBusy(true);
    try {
      let actor = form.actor;
      if (actor === NEW_ACTOR) {
        // Registering is idempotent: accepting again after a claim error does not register twice.
        const aliases = proposed.aliases.length ? proposed.aliases : c.speaker ? [c.speaker] : [];
        try {
          // (no record read back: once committed, a failed read-back is an error of the answer; see edit.js)
          await gql(`mutation ($input: RegisterActorInput!) { registerActor(input: $input) { changed } }`,
            { input: { key: actorForm.key, name: actorForm.name, kind: actorForm.kind, aliases } });
        } catch (error) {
          setActorErrors(describe(error));
          return;
        }
        actor = actorForm.key;
      }
      const sameDate = form.stated === c.stated.date;
      const input = {
        key: form.key, actor, topic: form.topic, stance: form.stance, summary: form.summary,
        stated: sameDate ? { date: form.stated, approximate: c.stated.approximate, note: c.stated.note } : { date: form.stated },
        source: source.key || source.id,
        passage: passage.start === undefined ? { exact: passage.exact } : { start: passage.start, end: passage.end, exact: passage.exact },
        attribution: form.attribution, channel: form.channel || null, conditions: form.conditions || null,
      };
      const edited = Object.keys(initial).some((k) => k !== "stance" && form[k] !== initial[k])
        || passage.exact !== c.passage.exact || form.actor === NEW_ACTOR;
      const data = await gql(
        `mutation ($input: RecordClaimInput!, $assistant: AssistantOriginInput) {
          recordClaim(input: $input, assistant: $assistant) { created claimId pending } }`,
        { input, assistant: { rule: c.rule, confidence: c.confidence, edited } },
      );
      const key = input.key.trim() || data.recordClaim.claimId;  // (keys are recorded trimmed)
      setRecorded({ key, pending: data.recordClaim.pending });
      onAccepted(key);
    } catch (error) {
      setErrors(describe(error));
    } finally {
      setBusy(false);
    }
  };
  const covered = source.claims.filter((x) => x.passage.start < c.passage.end && x.passage.end > c.passage.start);
  const title = html`<h3 id=${`${id}-title`}>Candidate ${c.n}: ${c.speaker || "speaker not found"}
    <span class="badge">${status}</span></h3>`;
  const facts = html`<p class="meta">${c.form} speech${c.cue ? html`, cue “${c.cue}”` : ""}; confidence ${Math.round(c.confidence * 100)}%
      (rule: ${c.rule})</p>
    ${c.notes.length ? html`<ul class="notes">${c.notes.map((n) => html`<li>${n}</li>`)}</ul>` : ""}
    ${covered.length ? html`<p class="note" data-testid="covered">Already recorded from this passage:${" "}
      ${covered.map((x, i) => html`${i ? ", " : ""}<a href=${href(`/claim/${x.key}`)}>${x.key}</a>`)}</p>` : ""}`;
  if (recorded) {
    return html`<section class="candidate-card accepted" id=${id} aria-labelledby=${`${id}-title`} tabindex="-1">
      ${title}
      <p role="status" data-testid="accepted">Accepted and recorded as <a href=${href(`/claim/${recorded.key}`)}>${recorded.key}</a>.
        <${PendingNote} pending=${recorded.pending} /></p>
    </section>`;
  }
  if (status === "recorded" && !again) {
    return html`<section class="candidate-card accepted" id=${id} aria-labelledby=${`${id}-title`} tabindex="-1" data-testid="candidate">
      ${title} ${facts}
      <button type="button" onClick=${() => setAgain(true)}>Record another claim from candidate ${c.n}</button>
    </section>`;
  }
  const text = (name, label, extra = {}) => html`<${Field} name=${name} label=${label} errors=${errors}>${(p) =>
    html`<input ...${p} ...${extra} type="text" value=${form[name]} onInput=${set(name)} />`}<//>`;
  const others = topics.filter((t) => !suggested.includes(t.key));
  return html`<section class="candidate-card" id=${id} aria-labelledby=${`${id}-title`} tabindex="-1" data-testid="candidate">
    ${title} ${facts}
    <form class="editor" onSubmit=${accept} aria-label=${`Candidate ${c.n}`} novalidate>
      <${Field} name="passage" label="Passage (the exact words; or select them in the text)" errors=${errors}>${(p) =>
        html`<textarea ...${p} rows="2" value=${passage.exact} onInput=${(e) => setPassage(locate(source.text, e.target.value))}></textarea>`}<//>
      <button type="button" disabled=${!selection} onClick=${() => selection && setPassage(selection)}>
        Use the selected text as the passage</button>
      <${Field} name="actor" label="Speaker (actor)" errors=${errors}>${(p) => html`<select ...${p} value=${form.actor} onChange=${set("actor")}>
        <option value="">choose an actor</option>
        <option value=${NEW_ACTOR}>a new actor…${c.proposedActor ? ` (proposed: ${c.proposedActor.name})` : ""}</option>
        ${actors.map((a) => html`<option value=${a.key}>${a.name}${c.actor && c.actor.key === a.key ? " (found in the text)" : ""}</option>`)}
      </select>`}<//>
      ${form.actor === NEW_ACTOR
        ? html`<fieldset class="new-actor"><legend>New actor (registered when you accept)</legend>
            ${[["key", "Actor key (lower-case slug)"], ["name", "Name"]].map(([name, label]) => html`<${Field} name=${name} label=${label} errors=${actorErrors}>${(p) =>
              html`<input ...${p} type="text" value=${actorForm[name]} onInput=${setActor(name)} />`}<//>`)}
            <${Field} name="kind" label="Kind" errors=${actorErrors}>${(p) => html`<select ...${p} value=${actorForm.kind} onChange=${setActor("kind")}>
              ${ACTOR_KINDS.map((k) => html`<option value=${k}>${k.toLowerCase()}</option>`)}</select>`}<//>
            <${General} errors=${actorErrors} />
          </fieldset>`
        : ""}
      <${Field} name="topic" label=${suggested.length ? "Topic (suggestions first, from shared words: check them)" : "Topic (the assistant found no confident topic)"} errors=${errors}>${(p) =>
        html`<select ...${p} value=${form.topic} onChange=${set("topic")}>
          <option value="">choose a topic</option>
          ${suggested.length ? html`<optgroup label="Suggested">${c.topicSuggestions.map((s) => html`<option value=${s.topic.key}>${s.topic.title} (suggested)</option>`)}</optgroup>` : ""}
          <optgroup label="All topics">${others.map((t) => html`<option value=${t.key}>${t.title}</option>`)}</optgroup>
        </select>`}<//>
      <${Field} name="stance" label="Stance (your judgment; no suggestion)" errors=${errors}>${(p) =>
        html`<select ...${p} value=${form.stance} onChange=${set("stance")}>
          <option value="">choose a stance</option>
          ${Object.entries(STANCES).map(([s, d]) => html`<option value=${s}>${d.symbol} ${d.label}</option>`)}
        </select>`}<//>
      ${text("conditions", "Conditions (what a conditional position depends on)")}
      ${text("summary", "Summary (English)")}
      ${text("stated", `Stated on (suggested: ${c.stated.date}, ${c.stated.note})`)}
      <${Field} name="attribution" label="Attribution" errors=${errors}>${(p) => html`<select ...${p} value=${form.attribution} onChange=${set("attribution")}>
        ${ATTRIBUTIONS.map((a) => html`<option value=${a}>${a.replace("_", " ").toLowerCase()}</option>`)}</select>`}<//>
      ${text("key", "Claim key (lower-case slug)")}
      ${text("channel", "Channel (optional)")}
      <${General} errors=${errors} />
      <div class="actions">
        <button type="submit" disabled=${!editing || busy}>Accept candidate ${c.n}</button>
        <button type="button" onClick=${onDismiss}>Dismiss candidate ${c.n}</button>
      </div>
    </form>
  </section>`;
}
