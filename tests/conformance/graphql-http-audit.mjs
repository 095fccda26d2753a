// The GraphQL-over-HTTP conformance audit (npm `graphql-http`, its `auditServer`) against a
// running server, with a bearer token on every request: without one each audit would only meet
// the 401 that guards /graphql.
//
//   LM_AUDIT_URL=http://127.0.0.1:8080/graphql LM_AUDIT_TOKEN=… \
//   LM_GRAPHQL_HTTP_MODULES=target/browser-tools/node_modules node graphql-http-audit.mjs
//
// Prints one line per audit that did not pass (status, id, name, reason), then a summary line
// `audit: N ok, N notice, N warn, N error`; exits 1 when any audit warned or failed. Notices are
// the MAY audits this server chooses not to do (GET requests, which /graphql answers with
// GraphiQL), and do not fail it.

import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const url = process.env.LM_AUDIT_URL;
const token = process.env.LM_AUDIT_TOKEN;
const modules = process.env.LM_GRAPHQL_HTTP_MODULES;
if (!url || !token || !modules) {
  console.error('set LM_AUDIT_URL, LM_AUDIT_TOKEN and LM_GRAPHQL_HTTP_MODULES');
  process.exit(2);
}

// The package lives where the tests install it, not beside this script: resolve it from there.
const require = createRequire(join(modules, 'resolve-from-here.js'));
const { auditServer } = await import(pathToFileURL(require.resolve('graphql-http')).href);

const authorizedFetch = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn: authorizedFetch });
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] += 1;
  if (result.status !== 'ok') {
    console.log(`${result.status} ${result.id} ${result.name}: ${result.reason}`);
  }
  // Free the sockets of responses nobody read.
  if (result.response && !result.response.bodyUsed) {
    await result.response.body?.cancel().catch(() => {});
  }
}
console.log(
  `audit: ${counts.ok} ok, ${counts.notice} notice, ${counts.warn} warn, ${counts.error} error`,
);
process.exit(counts.warn + counts.error === 0 ? 0 : 1);
