// Runs the GraphQL-over-HTTP audit suite of npm `graphql-http` against a live server
// and prints the results as JSON: node tests/graphql_http_audit.mjs http://127.0.0.1:PORT/graphql
import { auditServer } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node tests/graphql_http_audit.mjs URL");
  process.exit(2);
}
const results = await auditServer({ url });
const out = [];
for (const result of results) {
  let detail = null;
  if (result.status !== "ok") {
    detail = result.reason;
    if (result.response) {
      let body = null;
      try {
        body = await result.response.text();
      } catch {
        body = null;
      }
      detail += ` (status ${result.response.status}${body ? `, body ${body.slice(0, 200)}` : ""})`;
    }
  }
  out.push({ id: result.id, name: result.name, status: result.status, reason: detail });
}
console.log(JSON.stringify(out, null, 1));
