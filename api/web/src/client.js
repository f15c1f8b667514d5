// The page's only way to the server: the public GraphQL API (HTTP POST, and
// graphql-transport-ws for the live ledger stream). Same origin only.
import { createClient } from "graphql-ws";

const KEY_STORAGE = "claims-ledger.apiKey";

/** The editor's API key, kept for this browser session only (sessionStorage). */
export function apiKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** A GraphQL error answer: `errors` as the server sent them (with extensions.code/field). */
export class GraphQLErrors extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
  }
  code() {
    return this.errors[0]?.extensions?.code;
  }
}

/** POST one GraphQL document; resolves to `data`, rejects with GraphQLErrors or a network Error. */
export async function gql(query, variables = {}) {
  const headers = { "Content-Type": "application/json", Accept: "application/graphql-response+json, application/json" };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  const response = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new Error(`the server answered ${response.status} without a GraphQL response`);
  }
  if (body.errors && body.errors.length) throw new GraphQLErrors(body.errors);
  return body.data;
}

let wsClient = null;
const connectionListeners = new Set();

/** Be told when the live connection opens (true) or closes (false). */
export function onConnection(listener) {
  connectionListeners.add(listener);
  return () => connectionListeners.delete(listener);
}

function socket() {
  if (!wsClient) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    wsClient = createClient({
      url: `${scheme}//${location.host}/graphql`,
      connectionParams: () => (apiKey() ? { apiKey: apiKey() } : {}),
      retryAttempts: Infinity,
      shouldRetry: () => true,
      lazy: true,
      on: {
        connected: () => connectionListeners.forEach((l) => l(true)),
        closed: () => connectionListeners.forEach((l) => l(false)),
      },
    });
  }
  return wsClient;
}

/** Subscribe to ledger events; returns an unsubscribe function. */
export function subscribeLedger(onEvent, onError) {
  return socket().subscribe(
    { query: "subscription { ledgerEvents { position type aggregateId recordedAt recordedBy payload } }" },
    {
      next: (message) => message.data && onEvent(message.data.ledgerEvents),
      error: (error) => onError && onError(error),
      complete: () => {},
    },
  );
}
