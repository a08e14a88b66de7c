// Runs after the others (scripts/e2e.sh runs it once wrangler has stopped):
// every object and error the worker returned in the run, as
// record-proxy.mjs recorded them (tests/artifacts/e2e/responses.jsonl),
// validated against Stripe's own published OpenAPI description
// (tests/stripe-openapi/, see stripe-schema.mjs). Drift from Stripe's shapes
// fails here.
//
// What is validated, by the response body's top level:
// - an `error` key, on any /v1 path: the `error` schema;
// - `object` payment_intent, refund or charge: that schema;
// - `object` list or search_result: the envelope, and each item by its own
//   `object` (payment_intent, refund, charge, ...);
// the bodies of Switchyard's own routes (/v1/routing/*, /v1/sandbox/*) are
// left out, except their errors (the proxy of scripts/e2e.sh records only
// the Stripe API's paths). It also asserts that at least MIN
// payment_intents, refunds, charges, lists and errors were validated, and a
// search result, so that it cannot pass on an empty or broken recording.
//
// Env: E2E_RESPONSES (the recording; default
// $E2E_ARTIFACTS/responses.jsonl, else tests/artifacts/e2e/responses.jsonl),
// STRIPE_CONFORMANCE_MIN (default 5).
//   node --test tests/e2e/98-stripe-conformance.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_VERSION, stripeOperation, unknownFields, validate, validateList } from './stripe-schema.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FILE = process.env.E2E_RESPONSES
  ?? path.join(process.env.E2E_ARTIFACTS ?? path.join(ROOT, 'tests/artifacts/e2e'), 'responses.jsonl');
const MIN = Number(process.env.STRIPE_CONFORMANCE_MIN ?? 5);
const SHOWN = 30;

const OBJECTS = new Set(['payment_intent', 'refund', 'charge']);
const isV1 = (p) => p === '/v1' || p.startsWith('/v1/');
const ownRoute = (p) => /^\/v1\/(routing|sandbox)(\/|$)/.test(p);

/** The request as a route: Stripe's template when Stripe has the operation. */
function routeOf(method, p) {
  const op = stripeOperation(method, p);
  return `${method} ${op ? op.template : p.replace(/\/(pi|re|ch|rs|req)_[0-9A-Za-z_]+/g, '/$1_…')}`;
}

function readRecording() {
  const lines = fs.readFileSync(FILE, 'utf8').split('\n').filter(Boolean);
  return lines.map((l, i) => {
    try {
      return JSON.parse(l);
    } catch (e) {
      throw new Error(`${FILE}:${i + 1}: not JSON (${e.message})`);
    }
  });
}

const recorded = fs.existsSync(FILE);
const required = Boolean(process.env.E2E_ARTIFACTS || process.env.E2E_RESPONSES);
const skip = !recorded && !required && `no recording at ${path.relative(ROOT, FILE)} (scripts/e2e.sh records one)`;

/** The recording, judged once for both tests. */
function judge() {
  assert.ok(recorded, `no recording at ${FILE}: did record-proxy.mjs run in front of the worker?`);
  const counts = { payment_intent: 0, refund: 0, charge: 0, error: 0, list: 0, search_result: 0 };
  /** violation key -> {schema, field, message, count, routes, example} */
  const violations = new Map();
  const unknown = new Map();
  let responses = 0;

  const note = (schema, rec, errors) => {
    for (const e of errors) {
      const s = e.item ? `${schema}.data[]: ${e.item}` : schema;
      const key = `${s}\0${e.field}\0${e.message}`;
      let v = violations.get(key);
      if (!v) {
        v = { schema: s, field: e.field, message: e.message, count: 0, routes: new Set(), example: `${rec.status} ${rec.method} ${rec.path}${rec.requestId ? ` (${rec.requestId})` : ''}` };
        violations.set(key, v);
      }
      v.count++;
      v.routes.add(routeOf(rec.method, rec.path));
    }
  };
  const noteUnknown = (kind, rec, obj) => {
    for (const f of unknownFields(kind, obj)) {
      const key = `${kind} ${f}`;
      if (!unknown.has(key)) unknown.set(key, routeOf(rec.method, rec.path));
    }
  };

  for (const rec of readRecording()) {
    responses++;
    const body = rec.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) continue;
    if ('error' in body) {
      if (!isV1(rec.path)) continue;
      counts.error++;
      note('error', rec, validate('error', body));
      continue;
    }
    if (ownRoute(rec.path)) continue;
    if (OBJECTS.has(body.object)) {
      counts[body.object]++;
      note(body.object, rec, validate(body.object, body));
      noteUnknown(body.object, rec, body);
    } else if (body.object === 'list' || body.object === 'search_result') {
      counts[body.object]++;
      const items = {};
      note(body.object, rec, validateList(body, { counts: items }));
      for (const [k, n] of Object.entries(items)) if (k in counts) counts[k] += n;
      for (const item of Array.isArray(body.data) ? body.data : []) {
        if (OBJECTS.has(item?.object)) noteUnknown(item.object, rec, item);
      }
    }
  }
  return { responses, counts, violations: [...violations.values()], unknown };
}

let judged;
const result = () => (judged ??= judge());

test(`every object and error the worker returned conforms to Stripe's OpenAPI description (API ${API_VERSION})`, { skip }, (t) => {
  const { responses, counts, violations, unknown } = result();
  t.diagnostic(`${responses} responses recorded; validated ${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ')}`);
  // Stripe's schemas allow fields they do not name: these are not
  // violations, only what the worker adds beside its documented extensions.
  if (unknown.size) t.diagnostic(`fields Stripe's schemas do not name: ${[...unknown.entries()].map(([k, r]) => `${k} (${r})`).join('; ')}`);

  const list = violations.sort((a, b) => a.schema.localeCompare(b.schema) || a.field.localeCompare(b.field));
  const bySchema = new Map();
  for (const v of list.slice(0, SHOWN)) {
    if (!bySchema.has(v.schema)) bySchema.set(v.schema, []);
    const routes = [...v.routes].slice(0, 3).join(', ') + (v.routes.size > 3 ? ', …' : '');
    bySchema.get(v.schema).push(`  ${v.field}: ${v.message} (${v.count}×; ${routes}; e.g. ${v.example})`);
  }
  const report = [...bySchema.entries()].map(([s, ls]) => `${s}:\n${ls.join('\n')}`).join('\n')
    + (list.length > SHOWN ? `\n… and ${list.length - SHOWN} more` : '');
  assert.equal(list.length, 0, `${list.length} distinct violations of Stripe's schemas (API ${API_VERSION}):\n${report}`);
});

test(`at least ${MIN} payment_intents, refunds, charges, lists and errors were validated (the recording is not empty)`, { skip }, () => {
  const { counts } = result();
  for (const kind of ['payment_intent', 'refund', 'charge', 'list', 'error']) {
    assert.ok(counts[kind] >= MIN, `only ${counts[kind]} ${kind} objects validated (at least ${MIN} expected): is the recording complete?`);
  }
  assert.ok(counts.search_result >= 1, 'no search_result validated');
});
