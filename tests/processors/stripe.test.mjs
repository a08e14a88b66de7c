// The Stripe adapter's wire tests against its peer: localstripe (PyPI
// localstripe 1.15.10 in .venv, a stateful Stripe fake written by others)
// with Stripe's payment intent search added by tests/fakes/localstripe_plus.py.
// Starts the peer on a free port of 127.0.0.1, runs
// `cargo test -p switchyard-processors --test stripe_wire -- --ignored`
// with STRIPE_URL set, then reads the peer's state through Stripe's list
// API (localstripe has no /__ledger; this is how the lead reads it too).
//
// Run: node --test tests/processors/stripe.test.mjs (CARGO_TARGET_DIR is
// inherited from the environment).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import { startLocalstripe } from '../fakes/peers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SECRET = 'sk_test_switchyard_runner';


async function stripe(url, pathAndQuery, { method = 'GET', body, key = SECRET } = {}) {
  const headers = { authorization: 'Basic ' + Buffer.from(`${key}:`).toString('base64') };
  if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
  const r = await fetch(url + pathAndQuery, { method, headers, body });
  return { status: r.status, json: await r.json() };
}

let peer;
before(async () => { peer = await startLocalstripe(); });
after(async () => { await peer?.close(); });

test('the Stripe adapter\'s wire tests pass against localstripe', () => {
  const r = spawnSync(
    'cargo',
    ['test', '-p', 'switchyard-processors', '--test', 'stripe_wire', '--', '--ignored', '--test-threads=1'],
    { cwd: root, env: { ...process.env, STRIPE_URL: peer.url }, stdio: 'inherit', timeout: 15 * 60 * 1000 },
  );
  assert.equal(r.status, 0, 'cargo test --test stripe_wire failed');
});

test('the peer holds what the wire tests did (read through Stripe\'s list API)', async () => {
  const { status, json } = await stripe(peer.url, '/v1/payment_intents?limit=100');
  assert.equal(status, 200);
  assert.equal(json.object, 'list');
  const byKey = new Map(json.data.map((pi) => [pi.metadata?.switchyard_key, pi]));
  assert.equal(byKey.get('pay_w1-authorize-1-stripe_a')?.status, 'succeeded');
  assert.equal(byKey.get('pay_w2-authorize-1-stripe_a')?.status, 'succeeded');
  assert.equal(byKey.get('pay_w4-authorize-1-stripe_a')?.status, 'canceled');
  assert.equal(byKey.get('pay_w7-authorize-1-stripe_a')?.status, 'requires_payment_method');
  assert.equal(byKey.get('pay_w10-authorize-1-stripe_a')?.status, 'requires_capture');
  // Refused at the payment method: no payment intent was created.
  assert.equal(byKey.has('pay_w8-authorize-1-stripe_a'), false);
  // One payment intent per authorization key (no retries in these flows).
  const keys = json.data.map((pi) => pi.metadata?.switchyard_key).filter(Boolean);
  assert.equal(new Set(keys).size, keys.length);
  const refunded = byKey.get('pay_w5-authorize-1-stripe_a');
  const refunds = await stripe(peer.url, `/v1/refunds?payment_intent=${refunded.id}&limit=100`);
  assert.equal(refunds.status, 200);
  assert.deepEqual(
    refunds.json.data.map((r) => [r.metadata.switchyard_key, r.amount]).sort(),
    [['pay_w5-refund-1-stripe_a', 300], ['pay_w5-refund-2-stripe_a', 700]],
  );
});

test('the added search answers in Stripe\'s documented format', async () => {
  const q = encodeURIComponent("metadata['switchyard_key']:'pay_w1-authorize-1-stripe_a'");
  const { status, json } = await stripe(peer.url, `/v1/payment_intents/search?query=${q}`);
  assert.equal(status, 200);
  assert.equal(json.object, 'search_result');
  assert.equal(json.url, '/v1/payment_intents/search');
  assert.equal(json.has_more, false);
  assert.equal(json.data.length, 1);
  assert.equal(json.data[0].object, 'payment_intent');
  const none = await stripe(peer.url, `/v1/payment_intents/search?query=${encodeURIComponent("metadata['switchyard_key']:'nope'")}`);
  assert.deepEqual(none.json.data, []);
  const bad = await stripe(peer.url, '/v1/payment_intents/search?query=status%3D1');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.type, 'invalid_request_error');
  // Authentication still applies to the added route.
  const anon = await stripe(peer.url, `/v1/payment_intents/search?query=${q}`, { key: 'nope' });
  assert.equal(anon.status, 401);
});

test('localstripe models what the wire tests rely on (and not idempotency)', async () => {
  const pm = (number) => new URLSearchParams({
    type: 'card', 'card[number]': number, 'card[exp_month]': '12', 'card[exp_year]': '2034', 'card[cvc]': '123',
  }).toString();
  const a = await stripe(peer.url, '/v1/payment_methods', { method: 'POST', body: pm('4242424242424242') });
  const b = await stripe(peer.url, '/v1/payment_methods', { method: 'POST', body: pm('4242424242424242') });
  assert.equal(a.status, 200);
  // Same request twice: two objects. localstripe ignores Idempotency-Key,
  // so deduplication is tested on the adapter's requests, not here.
  assert.notEqual(a.json.id, b.json.id);
  // Its charge decline carries no decline_code and is typed
  // invalid_request_error (Stripe: card_error with a decline_code).
  const declined = await stripe(peer.url, '/v1/payment_methods', { method: 'POST', body: pm('4000000000000341') });
  const pi = await stripe(peer.url, '/v1/payment_intents', {
    method: 'POST',
    body: new URLSearchParams({ amount: '100', currency: 'eur', payment_method: declined.json.id, confirm: 'true' }).toString(),
  });
  assert.equal(pi.status, 402);
  assert.equal(pi.json.error.code, 'card_declined');
  assert.equal(pi.json.error.decline_code, undefined);
});
