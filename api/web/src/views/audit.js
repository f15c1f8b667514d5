// Audit: the tree head, the live stream of events, and proofs checked in the browser (WebCrypto).
import { useEffect, useState } from "preact/hooks";
import { html, useQuery, Loading, formatInstant } from "../ui.js";
import { gql } from "../client.js";
import { verifyInclusion, verifyConsistency } from "../merkle.js";

const DIGEST_QUERY = `{ ledgerDigest { treeSize rootHash algorithm } }`;
const RECENT = 10;

/** The tree head and the latest events (aliases of `event`, one request after the head). */
async function loadHead() {
  const { ledgerDigest } = await gql(DIGEST_QUERY);
  const positions = [];
  for (let p = ledgerDigest.treeSize; p > 0 && positions.length < RECENT; p--) positions.push(p);
  const recent = positions.length
    ? await gql(`{ ${positions.map((p) => `e${p}: event(id: "${p}") { position type recordedAt recordedBy payload }`).join(" ")} }`)
    : {};
  return { ledgerDigest, recent: positions.map((p) => recent[`e${p}`]).filter(Boolean) };
}
const EVENT_FIELDS = `id position aggregateId aggregateType version type recordedAt recordedBy storedTopic stateBase64 leafHash`;

export function AuditView({ live, lastEvent }) {
  const digest = useQuery(loadHead, {}, live);
  const [eventId, setEventId] = useState(new URLSearchParams(location.search).get("event") || "");
  const [stream, setStream] = useState([]);
  useEffect(() => {
    if (lastEvent) setStream((s) => [lastEvent, ...s].slice(0, 50));
  }, [lastEvent]);
  return html`<section aria-labelledby="audit-title">
    <h1 id="audit-title">Audit</h1>
    <${Loading} state=${digest}>${() => html`<dl class="facts" data-testid="digest">
      <dt>Events in the log (tree size)</dt><dd data-testid="tree-size">${digest.data.ledgerDigest.treeSize}</dd>
      <dt>Root hash (${digest.data.ledgerDigest.algorithm})</dt><dd><code class="hash" data-testid="root-hash">${digest.data.ledgerDigest.rootHash}</code></dd>
    </dl>
    <p class="note">Save this digest outside the system (a note, an email):${" "}
      <code class="hash">${JSON.stringify({ treeSize: digest.data.ledgerDigest.treeSize, rootHash: digest.data.ledgerDigest.rootHash })}</code></p>
    `}<//>
    <${InclusionCheck} eventId=${eventId} setEventId=${setEventId} />
    <${ConsistencyCheck} />
    <h2>Latest events</h2>
    <${Loading} state=${digest}>${() => html`<ol class="stream" data-testid="recent">
      ${digest.data.recent.map((e) => html`<li><${EventLine} event=${e} />${" "}<button type="button"
        onClick=${() => { setEventId(String(e.position)); document.getElementById("verify-inclusion").focus(); }}>Check event ${e.position}</button></li>`)}
    </ol>`}<//>
    <h2>Live stream of new events</h2>
    <p class="note">New events appear here as the ledger records them (subscription over WebSocket).</p>
    <ol class="stream" data-testid="stream" aria-live="polite">
      ${stream.map((e) => html`<li><${EventLine} event=${e} /></li>`)}
    </ol>
  </section>`;
}

function EventLine({ event }) {
  const key = event.payload && event.payload.key;
  return html`<strong>${event.position}</strong> ${event.type} at ${formatInstant(event.recordedAt)} by ${event.recordedBy || "?"}${key
    ? html` — <code>${key}</code>`
    : ""}`;
}

function Result({ result }) {
  if (!result) return null;
  return html`<p class=${result.ok ? "verdict ok" : "verdict failed"} role="status" data-testid="verdict">
    <strong>${result.ok ? "OK" : "FAILED"}:</strong> ${result.message}</p>`;
}

function InclusionCheck({ eventId, setEventId }) {
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const check = async (e) => {
    e.preventDefault();
    setBusy(true);
    setResult(null);
    try {
      // The root comes from the tree head; the proof is asked for that same tree size.
      const { ledgerDigest } = await gql(DIGEST_QUERY);
      const data = await gql(
        `query ($id: ID!, $size: Int!) { event(id: $id) { ${EVENT_FIELDS} }
          inclusionProof(eventId: $id, treeSize: $size) { eventId leafIndex leafHash treeSize rootHash auditPath } }`,
        { id: eventId, size: ledgerDigest.treeSize },
      );
      if (!data.event) setResult({ ok: false, message: `event ${eventId} is not in the log` });
      else setResult(await verifyInclusion(data.event, data.inclusionProof, ledgerDigest.rootHash));
    } catch (error) {
      setResult({ ok: false, message: `could not check: ${error.message}` });
    }
    setBusy(false);
  };
  return html`<form class="check" onSubmit=${check} aria-labelledby="inclusion-title">
    <h2 id="inclusion-title">Is an event in the log?</h2>
    <p class="note">The page recomputes the event's leaf hash from its stored bytes and climbs its audit path
      with SHA-256 (RFC 6962) to the root hash above.</p>
    <label>Event number (log position)
      <input name="event" type="number" min="1" required value=${eventId} onInput=${(e) => setEventId(e.target.value)} /></label>
    <button type="submit" id="verify-inclusion" disabled=${busy}>Verify inclusion</button>
    <${Result} result=${result} />
  </form>`;
}

function ConsistencyCheck() {
  const [saved, setSaved] = useState("");
  const [result, setResult] = useState(null);
  const check = async (e) => {
    e.preventDefault();
    setResult(null);
    let digest;
    try {
      digest = JSON.parse(saved);
    } catch {
      setResult({ ok: false, message: 'the digest is not JSON like {"treeSize": 142, "rootHash": "…"} (as `claims digest` prints it)' });
      return;
    }
    const size = digest.treeSize ?? digest.tree_size ?? digest.size;
    const root = String(digest.rootHash ?? digest.root_hash ?? digest.root ?? "").toLowerCase();
    if (!Number.isInteger(size) || !/^[0-9a-f]{64}$/.test(root)) {
      setResult({ ok: false, message: "the digest needs an integer treeSize and a 64-character hex rootHash" });
      return;
    }
    try {
      const { ledgerDigest } = await gql(DIGEST_QUERY);
      if (size > ledgerDigest.treeSize) {
        setResult({ ok: false, message: `the saved digest has ${size} events, the ledger only ${ledgerDigest.treeSize}: events were removed` });
        return;
      }
      const { consistencyProof } = await gql(
        `query ($from: Int!, $to: Int!) { consistencyProof(fromSize: $from, toSize: $to) { proof } }`,
        { from: size, to: ledgerDigest.treeSize },
      );
      setResult(await verifyConsistency(size, ledgerDigest.treeSize, root, ledgerDigest.rootHash, consistencyProof.proof));
    } catch (error) {
      setResult({ ok: false, message: `could not check: ${error.message}` });
    }
  };
  return html`<form class="check" onSubmit=${check} aria-labelledby="consistency-title">
    <h2 id="consistency-title">Did the ledger only grow since a saved digest?</h2>
    <label>Saved digest (JSON)
      <textarea name="digest" rows="3" value=${saved} onInput=${(e) => setSaved(e.target.value)}
        placeholder='{"treeSize": 142, "rootHash": "caaa85…"}'></textarea></label>
    <button type="submit">Verify consistency</button>
    <${Result} result=${result} />
  </form>`;
}
