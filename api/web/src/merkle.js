// RFC 6962 / RFC 9162 verification in the browser with WebCrypto SHA-256: the page does
// the math itself rather than taking the server's word.

export function hexToBytes(hex) {
  if (typeof hex !== "string" || !/^([0-9a-f]{2})*$/i.test(hex)) throw new Error(`not a hex string: ${hex}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(...parts) {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", all));
}

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);
export const leafHash = (data) => sha256(LEAF, data);
export const nodeHash = (left, right) => sha256(NODE, left, right);

/** The bytes an event's leaf commits to (see LedgerEvent in the schema). */
export function leafData(event) {
  const header = `claims-ledger/1\n${event.position}\n${event.aggregateId}\n${event.version}\n${event.storedTopic}\n`;
  const state = Uint8Array.from(atob(event.stateBase64), (c) => c.charCodeAt(0));
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(head.length + state.length);
  out.set(head);
  out.set(state, head.length);
  return out;
}

/** RFC 9162 §2.1.3.2: the root an audit path leads to, or throws with what does not fit. */
export async function rootFromInclusion(index, size, leaf, path) {
  if (index >= size) throw new Error(`leaf index ${index} is not inside a tree of ${size} leaves`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) throw new Error(`the audit path has ${path.length} hashes, more than a tree of ${size} needs`);
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) [fn, sn] = [fn >> 1, sn >> 1];
    } else {
      r = await nodeHash(r, p);
    }
    [fn, sn] = [fn >> 1, sn >> 1];
  }
  if (sn !== 0) throw new Error(`the audit path has ${path.length} hashes, fewer than a tree of ${size} needs`);
  return r;
}

/** Verify an event's inclusion: recompute its leaf from the stored bytes, then climb to the root. */
export async function verifyInclusion(event, proof, expectedRoot) {
  const leaf = await leafHash(leafData(event));
  if (bytesToHex(leaf) !== proof.leafHash)
    return { ok: false, message: `the leaf hash computed from event ${event.position}'s bytes (${bytesToHex(leaf)}) is not the proof's leaf hash (${proof.leafHash})` };
  let root;
  try {
    root = await rootFromInclusion(proof.leafIndex, proof.treeSize, leaf, proof.auditPath.map(hexToBytes));
  } catch (error) {
    return { ok: false, message: error.message };
  }
  if (bytesToHex(root) !== expectedRoot)
    return { ok: false, message: `the audit path leads to root ${bytesToHex(root)}, not to the ledger's root ${expectedRoot} (tree of ${proof.treeSize})` };
  return { ok: true, message: `event ${event.position} is leaf ${proof.leafIndex} of the tree of ${proof.treeSize} events with root ${expectedRoot}` };
}

/** RFC 9162 §2.1.4.2: is the tree (first, firstRoot) a prefix of (second, secondRoot)? */
export async function verifyConsistency(first, second, firstRoot, secondRoot, proofHex) {
  const roots = [hexToBytes(firstRoot), hexToBytes(secondRoot)];
  let path = proofHex.map(hexToBytes);
  if (first > second) return { ok: false, message: `the saved digest's size ${first} is larger than the ledger's ${second}: the log shrank` };
  if (first === second) {
    const same = firstRoot === secondRoot && path.length === 0;
    return same
      ? { ok: true, message: `the ledger still has ${second} events with the saved root` }
      : { ok: false, message: `the ledger has the same size ${second} but root ${secondRoot}, not the saved ${firstRoot}: history was rewritten` };
  }
  if (first === 0) return { ok: true, message: "an empty tree is a prefix of every tree" };
  if (path.length === 0) return { ok: false, message: "the consistency proof is empty" };
  if ((first & (first - 1)) === 0) path = [roots[0], ...path];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) [fn, sn] = [fn >> 1, sn >> 1];
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return { ok: false, message: "the consistency proof is longer than these tree sizes need" };
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) [fn, sn] = [fn >> 1, sn >> 1];
    } else {
      sr = await nodeHash(sr, c);
    }
    [fn, sn] = [fn >> 1, sn >> 1];
  }
  if (sn !== 0) return { ok: false, message: "the consistency proof is shorter than these tree sizes need" };
  if (bytesToHex(fr) !== firstRoot)
    return { ok: false, message: `the proof rebuilds the saved tree's root as ${bytesToHex(fr)}, not the saved ${firstRoot}: the first ${first} events changed` };
  if (bytesToHex(sr) !== secondRoot)
    return { ok: false, message: `the proof leads to ${bytesToHex(sr)}, not to the ledger's current root ${secondRoot}` };
  return { ok: true, message: `the ledger of ${second} events extends the saved ${first} events (root ${firstRoot}) without rewriting them` };
}
