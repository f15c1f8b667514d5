// Editing with an API key (kept for this browser session only): sources, claims, corrections.
import { useEffect, useState } from "preact/hooks";
import { html, href, navigate, useQuery, codePoints, STANCES, GENRES, today } from "../ui.js";
import { gql, apiKey, setApiKey, GraphQLErrors } from "../client.js";
import { selectedPassage } from "./source.js";

export const ATTRIBUTIONS = ["DIRECT_QUOTE", "INDIRECT_SPEECH", "REPORTED", "EDITORIAL"];

// A write is committed when its mutation answers; `pending` says the read model (what every page reads)
// had not shown it within the server's wait (or could not be asked): its pages show it a moment later.
export function PendingNote({ pending }) {
  return pending
    ? html`${" "}<span data-testid="pending">The other pages may not show it yet; they will in a moment.</span>`
    : "";
}

/** The server's errors by form field (first segment of extensions.field), plus those for no field. */
export function describe(error) {
  const fields = {};
  const general = [];
  if (error instanceof GraphQLErrors) {
    for (const e of error.errors) {
      const field = e.extensions && e.extensions.field;
      // A correction's errors name "changes.passage.exact" and the like: the form field is "passage".
      if (field) fields[String(field).replace(/^changes\./, "").split(/[.[]/)[0]] = e.message;
      else general.push(e.message);
    }
  } else {
    general.push(error.message);
  }
  return { fields, general, code: error instanceof GraphQLErrors ? error.code() : null, errors: error.errors || [] };
}

let fieldCount = 0;

export function Field({ name, label, errors, children }) {
  const message = errors && errors.fields[name];
  const [uid] = useState(() => ++fieldCount); // several forms on one page: ids stay unique
  const id = `error-${uid}`;
  return html`<div class=${message ? "field invalid" : "field"}>
    <label for=${`field-${uid}`}>${label}</label>
    ${children({ id: `field-${uid}`, name, "aria-invalid": message ? "true" : "false", "aria-describedby": message ? id : undefined })}
    ${message ? html`<p class="field-error" id=${id} role="alert">${message}</p>` : ""}
  </div>`;
}

export function General({ errors }) {
  if (!errors || !errors.general.length) return null;
  return html`<div class="error" role="alert">${errors.general.map((m) => html`<p>${m}</p>`)}</div>`;
}

export function EditView() {
  const [key, setKey] = useState(apiKey());
  const [saved, setSaved] = useState(Boolean(apiKey()));
  return html`<section aria-labelledby="edit-title">
    <h1 id="edit-title">Editing</h1>
    <form class="apikey" onSubmit=${(e) => { e.preventDefault(); setApiKey(key.trim()); setSaved(Boolean(key.trim())); }}>
      <label for="api-key">API key (editor role; kept in this tab only, until you close it)</label>
      <input id="api-key" name="apiKey" type="password" autocomplete="off" value=${key} onInput=${(e) => setKey(e.target.value)} />
      <button type="submit">Use this key</button>
      <button type="button" onClick=${() => { setApiKey(""); setKey(""); setSaved(false); }}>Forget the key</button>
      <p role="status">${saved ? "A key is set for this session: claim and source pages offer editing." : "No key set: the pages are read-only."}</p>
    </form>
    ${saved ? html`<${ReviewSourceForm} /><${RegisterSourceForm} />` : ""}
    <p class="note">To record a claim, open a <a href=${href("/search")}>source</a> and select its passage. To correct or
      retract a claim, open the claim.</p>
  </section>`;
}

/** Opens the review screen of the extraction assistant's candidates for a source. */
function ReviewSourceForm() {
  const [source, setSource] = useState("");
  const open = (e) => {
    e.preventDefault();
    if (source.trim()) navigate(href(`/review/${encodeURIComponent(source.trim())}`));
  };
  return html`<form class="editor" onSubmit=${open} aria-labelledby="review-open-title">
    <h2 id="review-open-title">Review candidate claims</h2>
    <p class="note">The extraction assistant proposes claims from a registered source; you check and accept or dismiss each.</p>
    <label for="review-source">Source (key or id)</label>
    <input id="review-source" name="source" type="text" value=${source} onInput=${(e) => setSource(e.target.value)} />
    <button type="submit">Review its candidates</button>
  </form>`;
}

function RegisterSourceForm() {
  const [form, setForm] = useState({ key: "", title: "", publisher: "", url: "", published: today(), language: "de", genre: "NEWS", text: "" });
  const [errors, setErrors] = useState(null);
  const set = (name) => (e) => setForm({ ...form, [name]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setErrors(null);
    const input = { key: form.key, title: form.title, text: form.text, published: { date: form.published },
      language: form.language, genre: form.genre, publisher: form.publisher || null, url: form.url || null };
    try {
      // The answer's ids only: once the write is committed, the record read back may be null with an
      // error (the database out of reach just then), and the key sent is the one recorded.
      const data = await gql(`mutation ($input: RegisterSourceInput!) { registerSource(input: $input) { sourceId } }`, { input });
      navigate(href(`/source/${input.key.trim() || data.registerSource.sourceId}`));  // (keys are recorded trimmed)
    } catch (error) {
      setErrors(describe(error));
    }
  };
  const input = (name, label, type = "text") => html`<${Field} name=${name} label=${label} errors=${errors}>${(p) =>
    html`<input ...${p} type=${type} value=${form[name]} onInput=${set(name)} />`}<//>`;
  return html`<form class="editor" onSubmit=${submit} aria-labelledby="register-title" novalidate>
    <h2 id="register-title">Register a source</h2>
    ${input("key", "Key (lower-case slug)")} ${input("title", "Title")} ${input("publisher", "Publisher")}
    ${input("url", "Address (URL)")} ${input("published", "Published (2025-02-13, 2025-02 or 2025)")} ${input("language", "Language (ISO 639-1)")}
    <${Field} name="genre" label="Genre" errors=${errors}>${(p) => html`<select ...${p} value=${form.genre} onChange=${set("genre")}>
      ${Object.entries(GENRES).map(([g, label]) => html`<option value=${g}>${label}</option>`)}</select>`}<//>
    <${Field} name="text" label="Full text (pasted exactly)" errors=${errors}>${(p) =>
      html`<textarea ...${p} rows="10" value=${form.text} onInput=${set("text")}></textarea>`}<//>
    <${General} errors=${errors} />
    <button type="submit">Register the source</button>
  </form>`;
}

export function RecordClaimForm({ source, passage, actors, topics, onDone }) {
  const [form, setForm] = useState({ key: "", actor: "", topic: "", stance: "SUPPORTS", summary: "", stated: source.published.date,
    attribution: "DIRECT_QUOTE", conditions: "" });
  const [errors, setErrors] = useState(null);
  const [done, setDone] = useState(null);
  const set = (name) => (e) => setForm({ ...form, [name]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setErrors(null);
    const input = { key: form.key, actor: form.actor, topic: form.topic, stance: form.stance, summary: form.summary,
      stated: { date: form.stated }, source: source.key, passage: { start: passage.start, end: passage.end, exact: passage.exact },
      attribution: form.attribution, conditions: form.conditions || null };
    try {
      const data = await gql(`mutation ($input: RecordClaimInput!) { recordClaim(input: $input) { created claimId pending } }`, { input });
      // (the ids only: see registerSource above)
      setDone({ key: input.key.trim() || data.recordClaim.claimId, pending: data.recordClaim.pending });
      onDone && onDone();
    } catch (error) {
      setErrors(describe(error));
    }
  };
  if (done) return html`<p role="status" data-testid="recorded">Recorded: <a href=${href(`/claim/${done.key}`)}>${done.key}</a>.
    <${PendingNote} pending=${done.pending} /></p>`;
  const choose = (name, label, options) => html`<${Field} name=${name} label=${label} errors=${errors}>${(p) =>
    html`<select ...${p} value=${form[name]} onChange=${set(name)}>${options.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select>`}<//>`;
  const text = (name, label) => html`<${Field} name=${name} label=${label} errors=${errors}>${(p) =>
    html`<input ...${p} type="text" value=${form[name]} onInput=${set(name)} />`}<//>`;
  return html`<form class="editor" onSubmit=${submit} aria-label="Record a claim" novalidate>
    ${text("key", "Claim key (lower-case slug)")}
    ${choose("actor", "Actor", [["", "choose an actor"], ...actors.map((a) => [a.key, a.name])])}
    ${choose("topic", "Topic", [["", "choose a topic"], ...topics.map((t) => [t.key, t.title])])}
    ${choose("stance", "Stance", Object.entries(STANCES).map(([s, d]) => [s, `${d.symbol} ${d.label}`]))}
    ${text("summary", "Summary (English)")}
    ${text("stated", "Stated on (2025-02-12, 2025-02 or 2025)")}
    ${choose("attribution", "Attribution", ATTRIBUTIONS.map((a) => [a, a.replace("_", " ").toLowerCase()]))}
    ${text("conditions", "Conditions (for a conditional stance)")}
    <${General} errors=${errors} />
    <button type="submit">Record the claim</button>
  </form>`;
}

function Conflict({ errors, onReload }) {
  if (!errors || errors.code !== "CONFLICT") return null;
  const current = errors.errors[0].extensions.currentVersion;
  return html`<div class="error" role="alert" data-testid="conflict">
    <p>Someone else changed this claim: the current version is ${current}. Nothing was written. The page now shows
      the current version; check it before you correct it again.</p>
    <button type="button" onClick=${onReload}>Show the current version</button>
  </div>`;
}

const REVISE_CHOICES = `query ReviseChoices($source: ID!) {
  actors { key name }
  topics { key title }
  sources { id title }
  source(id: $source) { id text language }
}`;

// The fields of the correction form; a server error naming another field (e.g. "changes") is shown in general.
const REVISE_FIELDS = ["actor", "topic", "stance", "summary", "quote", "value", "conditions", "stated", "channel",
  "attribution", "source", "passage", "reason"];

let reviseCount = 0;

/** A claim as the correction form's values (empty string for an unset optional field). */
function claimValues(claim) {
  return { actor: claim.actor.key, topic: claim.topic.key, stance: claim.stance, summary: claim.summary,
    quote: claim.quote || "", quoteLanguage: claim.quoteLanguage || claim.source.language, value: claim.value || "",
    stated: claim.statedOn.date, conditions: claim.conditions || "", channel: claim.channel || "",
    attribution: claim.attribution, source: claim.source.id };
}

export function ReviseForm({ claim, onDone }) {
  // The version the editor started from: a live update underneath must not silently become the base.
  const [base, setBase] = useState(claim.version);
  // Only the fields the editor touched: the others show (and keep) the claim's current values.
  const [edits, setEdits] = useState({ reason: "" });
  const current = claimValues(claim);
  const form = { ...current, ...edits };
  // A new passage: selected in the text below ({start, end, exact}) or typed ({exact}); null keeps the current one.
  const [passage, setPassage] = useState(null);
  const [errors, setErrors] = useState(null);
  const [textId] = useState(() => `revise-text-${++reviseCount}`);
  const choices = useQuery(REVISE_CHOICES, { source: form.source });
  // Until the newly chosen source has loaded, the text shown (and selectable) is none.
  const source = choices.data && choices.data.source && choices.data.source.id === form.source ? choices.data.source : null;
  useEffect(() => {
    if (!source) return undefined;
    const points = codePoints(source.text);
    const onChange = () => {
      const chosen = selectedPassage(points, textId);
      if (chosen) setPassage(chosen);
    };
    document.addEventListener("selectionchange", onChange);
    return () => document.removeEventListener("selectionchange", onChange);
  }, [source && source.id, source && source.text]);
  const set = (name) => (e) => {
    setEdits({ ...edits, [name]: e.target.value });
    if (name === "source") setPassage(null); // a passage chosen in another source does not fit this one
  };
  const submit = async (e) => {
    e.preventDefault();
    setErrors(null);
    const changes = {};
    const differs = (name) => form[name] !== current[name];
    for (const name of ["actor", "topic", "stance", "summary", "attribution", "source"]) if (differs(name)) changes[name] = form[name];
    for (const name of ["value", "conditions", "channel"]) if (differs(name)) changes[name] = form[name] || null;
    if (differs("stated")) changes.stated = { date: form.stated };
    if (differs("quote") || (form.quote && differs("quoteLanguage")))
      changes.quote = form.quote ? { text: form.quote, language: form.quoteLanguage } : null;
    if (passage) changes.passage = passage;
    try {
      const data = await gql(
        `mutation ($id: ID!, $v: Int!, $changes: ClaimChangesInput!, $reason: String!) {
          reviseClaim(id: $id, expectedVersion: $v, changes: $changes, reason: $reason) { version } }`,
        { id: claim.id, v: base, changes, reason: form.reason },
      );
      setBase(data.reviseClaim.version);
      setEdits({ reason: "" });
      setPassage(null);
      onDone && onDone();
    } catch (error) {
      setErrors(placed(describe(error), REVISE_FIELDS));
    }
  };
  const text = (name, label) => html`<${Field} name=${name} label=${label} errors=${errors}>${(p) =>
    html`<input ...${p} type="text" value=${form[name]} onInput=${set(name)} />`}<//>`;
  const choose = (name, label, options) => html`<${Field} name=${name} label=${label} errors=${errors}>${(p) =>
    html`<select ...${p} value=${form[name]} onChange=${set(name)}>${options.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select>`}<//>`;
  const lists = choices.data || { actors: [claim.actor], topics: [claim.topic], sources: [claim.source] };
  const shown = form.source === claim.source.id ? claim.passage : null;
  const points = source ? codePoints(source.text) : [];
  return html`<form class="editor" onSubmit=${submit} aria-label="Correct this claim" novalidate>
    ${choose("actor", "Actor", lists.actors.map((a) => [a.key, a.name]))}
    ${choose("topic", "Topic", lists.topics.map((t) => [t.key, t.title]))}
    ${choose("stance", "Stance", Object.entries(STANCES).map(([s, d]) => [s, `${d.symbol} ${d.label}`]))}
    ${text("summary", "Summary")} ${text("stated", "Stated on")} ${text("conditions", "Conditions")}
    ${choose("attribution", "Attribution", ATTRIBUTIONS.map((a) => [a, a.replace("_", " ").toLowerCase()]))}
    ${text("channel", "Channel (interview, speech, post…)")} ${text("value", "Value (a figure named in the claim)")}
    ${text("quote", "Original words (empty: none)")}
    <div class="field"><label for=${`${textId}-language`}>Language of the original words (ISO 639-1)</label>
      <input id=${`${textId}-language`} name="quoteLanguage" type="text" value=${form.quoteLanguage} onInput=${set("quoteLanguage")} /></div>
    ${choose("source", "Source", lists.sources.map((s) => [s.id, s.title]))}
    <${Field} name="passage" label="Passage: select it in the source text below, or type its exact words" errors=${errors}>${(p) =>
      html`<input ...${p} type="text" value=${passage ? passage.exact : ""} placeholder=${shown ? shown.exact : "select or type the passage"}
        onInput=${(e) => setPassage(e.target.value ? { exact: e.target.value } : null)} />`}<//>
    <p class="note" data-testid="revise-passage">${passage
      ? passage.start !== undefined ? `New passage: characters ${passage.start}–${passage.end}.` : "New passage: the words typed above."
      : shown ? "The passage stays as it is (highlighted below)." : "Choose the passage in the new source."}</p>
    ${source
      ? html`<div class="source-text revise-text" id=${textId} lang=${source.language} tabindex="0" aria-label="Text of the source">${shown
          ? html`${points.slice(0, shown.start).join("")}<mark class="passage">${points.slice(shown.start, shown.end).join("")}</mark>${points
              .slice(shown.end).join("")}`
          : source.text}</div>`
      : html`<p class="loading" aria-busy="true">Loading the source text…</p>`}
    ${text("reason", "Reason for the correction (required)")}
    <${General} errors=${errors && errors.code !== "CONFLICT" ? errors : null} />
    <${Conflict} errors=${errors} onReload=${() => { setBase(errors.errors[0].extensions.currentVersion); setErrors(null); onDone(); }} />
    <button type="submit">Save the correction (from version ${base})</button>
  </form>`;
}

/** Errors naming a field the form does not have go with the general ones, so none is lost. */
function placed(errors, names) {
  const fields = {};
  const general = [...errors.general];
  for (const [name, message] of Object.entries(errors.fields)) {
    if (names.includes(name)) fields[name] = message;
    else general.push(message);
  }
  return { ...errors, fields, general };
}

export function RetractForm({ claim, onDone }) {
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setErrors(null);
    try {
      await gql(`mutation ($id: ID!, $v: Int!, $reason: String!) { retractClaim(id: $id, expectedVersion: $v, reason: $reason) { version } }`,
        { id: claim.id, v: claim.version, reason });
      onDone && onDone();
    } catch (error) {
      setErrors(describe(error));
    }
  };
  return html`<form class="editor" onSubmit=${submit} aria-label="Retract this claim" novalidate>
    <${Field} name="reason" label="Reason for retracting this record (required)" errors=${errors}>${(p) =>
      html`<input ...${p} type="text" value=${reason} onInput=${(e) => setReason(e.target.value)} />`}<//>
    <${General} errors=${errors && errors.code !== "CONFLICT" ? errors : null} />
    <${Conflict} errors=${errors} onReload=${onDone} />
    <button type="submit">Retract the record</button>
  </form>`;
}
