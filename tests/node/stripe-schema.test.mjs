// The Stripe conformance tooling of the end-to-end run, on its own (no
// worker needed): tests/e2e/stripe-schema.mjs (Stripe's OpenAPI description
// as JSON Schema) and tests/e2e/record-proxy.mjs (the recording proxy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  EXTENSIONS_STRIPPED, SPEC, pathParams, toJsonSchema, unknownFields, validate, validateList, validateObject,
} from '../e2e/stripe-schema.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A payment_intent with exactly Stripe's required fields. */
const PI = {
  id: 'pi_1', object: 'payment_intent', amount: 1000, currency: 'usd', status: 'succeeded', created: 1700000000,
  livemode: false, payment_method_types: ['card'], capture_method: 'automatic', confirmation_method: 'automatic',
};
const REFUND = { id: 're_1', object: 'refund', amount: 500, currency: 'usd', created: 1700000000 };
const fields = (errors) => errors.map((e) => e.field).sort();

test('nullable, $ref and OpenAPI-only keywords are converted', () => {
  assert.deepEqual(toJsonSchema({ type: 'string', nullable: true, maxLength: 5, 'x-stripeBypassValidation': true }), { type: ['string', 'null'], maxLength: 5 });
  assert.deepEqual(toJsonSchema({ type: 'string', enum: ['a'], nullable: true }), { type: ['string', 'null'], enum: ['a', null] });
  const ref = toJsonSchema({ anyOf: [{ $ref: '#/components/schemas/charge' }], nullable: true });
  assert.equal(ref.anyOf.length, 2);
  assert.match(ref.anyOf[0].$ref, /#\/\$defs\/charge$/);
  assert.deepEqual(ref.anyOf[1], { type: 'null' });
  // Property names are not keywords.
  const p = toJsonSchema({ type: 'object', properties: { description: { type: 'string', description: 'd' }, nullable: { type: 'boolean' } } });
  assert.deepEqual(p.properties, { description: { type: 'string' }, nullable: { type: 'boolean' } });
});

test('Stripe-shaped objects validate; missing, mistyped and out-of-enum fields are named', () => {
  assert.deepEqual(validate('payment_intent', PI), []);
  assert.deepEqual(validate('payment_intent', { ...PI, description: null, latest_charge: 'ch_1', cancellation_reason: null }), []);
  const { amount: _a, ...noAmount } = PI;
  assert.deepEqual(fields(validate('payment_intent', noAmount)), ['/amount']);
  assert.deepEqual(fields(validate('payment_intent', { ...PI, created: 'x', status: 'done' })), ['/created', '/status']);
  assert.deepEqual(validate('refund', REFUND), []);
  assert.deepEqual(validate('error', { error: { type: 'invalid_request_error', message: 'm', param: 'amount' } }), []);
  assert.deepEqual(fields(validate('error', { error: { type: 'rate_limit' } })), ['/error/type']);
  assert.deepEqual(fields(validate('error', { message: 'x' })), ['/error']);
});

test('an expanded field is judged as the object it holds', () => {
  const errors = validate('payment_intent', { ...PI, latest_charge: { id: 'ch_1', object: 'charge' } });
  assert.ok(errors.length > 0);
  assert.ok(errors.every((e) => e.field.startsWith('/latest_charge/')), JSON.stringify(errors));
  assert.ok(errors.some((e) => e.field === '/latest_charge/amount_captured'));
  const wrongType = validate('payment_intent', { ...PI, latest_charge: 5 });
  assert.equal(wrongType.length, 1);
  assert.match(wrongType[0].message, /is integer; must be string or object/);
});

test("Switchyard's extension fields are allowed: Stripe's schemas do not forbid additional properties", () => {
  for (const k of ['payment_intent', 'refund', 'charge', 'error', 'api_errors']) {
    assert.notEqual(SPEC.components.schemas[k].additionalProperties, false, k);
  }
  assert.deepEqual(EXTENSIONS_STRIPPED, { payment_intent: false, refund: false });
  assert.deepEqual(validate('payment_intent', { ...PI, processor_details: { x: 1 }, routing: { ruleset: 'rs_1' } }), []);
  assert.deepEqual(unknownFields('payment_intent', { ...PI, processor_details: {}, routing: {}, extra: 1, metadata: { k: 'v' } }), ['/extra']);
});

test('lists and search results: the envelope and each item by its object', () => {
  assert.deepEqual(validateList({ object: 'list', data: [PI, REFUND], has_more: false, url: '/v1/payment_intents' }), []);
  assert.deepEqual(validateObject({ object: 'search_result', data: [PI], has_more: false, next_page: null, url: '/v1/payment_intents/search' }), []);
  const bad = validateList({ object: 'list', data: [{ ...PI, amount: 'x' }, { object: 'widget' }], url: '/v1/refunds' });
  assert.deepEqual(fields(bad), ['/data/*/amount', '/data/*/object', '/has_more']);
  const counts = {};
  validateList({ object: 'list', data: [PI, PI, REFUND], has_more: false, url: '/x' }, { counts });
  assert.deepEqual(counts, { payment_intent: 2, refund: 1 });
});

test("pathParams names the parameters of Stripe's operations", () => {
  const create = pathParams('POST', '/v1/payment_intents');
  for (const p of ['amount', 'currency', 'confirm', 'payment_method', 'metadata', 'capture_method']) assert.ok(create.includes(p), p);
  assert.ok(!create.includes('bogus'));
  assert.deepEqual(pathParams('POST', '/v1/payment_intents/pi_123/capture'), pathParams('POST', '/v1/payment_intents/{intent}/capture'));
  assert.ok(pathParams('POST', '/v1/payment_intents/pi_123/capture').includes('amount_to_capture'));
  assert.deepEqual(pathParams('GET', '/v1/payment_intents/pi_123'), ['client_secret', 'expand']);
  assert.ok(pathParams('GET', '/v1/payment_intents/search').includes('query'));
  assert.ok(pathParams('POST', '/v1/refunds').includes('payment_intent'));
  assert.equal(pathParams('GET', '/v1/routing/rulesets'), null);
  assert.equal(pathParams('DELETE', '/v1/payment_intents/pi_1'), null);
});

async function listen(server) {
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server.address().port;
}

async function firstLine(stream) {
  let buf = '';
  for await (const c of stream) {
    buf += c;
    if (buf.includes('\n')) return buf.split('\n')[0];
  }
  throw new Error('no output');
}

test('record-proxy passes requests and responses through unchanged and records responses only', async () => {
  const seen = [];
  const target = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url.startsWith('/v1/refunds/html')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<p>hi</p>');
        return;
      }
      res.writeHead(req.method === 'POST' ? 402 : 200, { 'Content-Type': 'application/json', 'Request-Id': 'req_test', 'X-Two': ['a', 'b'] });
      res.end(JSON.stringify({ error: { type: 'card_error', code: 'card_declined' } }));
    });
  });
  const tport = await listen(target);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'record-proxy-'));
  const out = path.join(dir, 'responses.jsonl');
  const proxy = spawn(process.execPath, [path.join(ROOT, 'tests/e2e/record-proxy.mjs'), '--target', `http://127.0.0.1:${tport}`, '--out', out], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = Number(await firstLine(proxy.stdout));
    assert.ok(port > 0);
    const card = '4242424242424242';
    const r = await fetch(`http://127.0.0.1:${port}/v1/payment_intents?expand[]=latest_charge`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk_test_x', 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'k1' },
      body: `amount=100&payment_method_data[card][number]=${card}`,
    });
    assert.equal(r.status, 402);
    assert.equal(r.headers.get('request-id'), 'req_test');
    assert.equal(r.headers.get('x-two'), 'a, b');
    assert.equal((await r.json()).error.code, 'card_declined');
    assert.equal(seen[0].url, '/v1/payment_intents?expand[]=latest_charge');
    assert.equal(seen[0].headers.authorization, 'Bearer sk_test_x');
    assert.equal(seen[0].headers['idempotency-key'], 'k1');
    assert.equal(seen[0].headers.host, `127.0.0.1:${port}`);
    assert.ok(seen[0].body.includes(card), 'the body reaches the target');
    assert.equal((await fetch(`http://127.0.0.1:${port}/v1/refunds/html`)).status, 200);
    // Only the Stripe API's paths are recorded (the routing API's answers
    // carry rule sets, which a card-data scan cannot tell from card data).
    assert.equal((await fetch(`http://127.0.0.1:${port}/v1/routing/rulesets`)).status, 200);
    proxy.kill('SIGTERM');
    await new Promise((r) => proxy.once('exit', r));
    const text = fs.readFileSync(out, 'utf8');
    assert.ok(!text.includes(card) && !text.includes('payment_method_data'), 'no request body in the recording');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], {
      method: 'POST', path: '/v1/payment_intents', query: 'expand[]=latest_charge', status: 402,
      contentType: 'application/json', requestId: 'req_test', body: { error: { type: 'card_error', code: 'card_declined' } },
    });
    assert.equal(lines[1].path, '/v1/refunds/html');
    assert.equal(lines[1].body, null);
    assert.equal(lines.length, 2, 'nothing of /v1/routing/* recorded');
  } finally {
    proxy.kill('SIGKILL');
    target.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
