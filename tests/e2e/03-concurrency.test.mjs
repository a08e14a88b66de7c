// Idempotency and concurrency: duplicates never reach a processor twice,
// refunds never exceed what was captured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, stripeFor, uniqueKey } from './helpers.mjs';

const stripe = stripeFor();
const SANDBOXES = JSON.parse(process.env.E2E_PROCESSORS ?? '[{"id":"sandbox_a"},{"id":"sandbox_b"},{"id":"sandbox_c"}]')
  .map((p) => p.id);

/** Authorizations the sandbox processors themselves have processed. */
async function processedAuthorizations() {
  let n = 0;
  for (const id of SANDBOXES) {
    const r = await api('GET', `/v1/sandbox/processors/${id}`);
    assert.equal(r.status, 200, r.text);
    n += r.json.processed.authorize ?? 0;
  }
  return n;
}

test('50 simultaneous identical requests with one Idempotency-Key: one authorization', async () => {
  const key = uniqueKey('burst');
  const body = { amount: '3100', currency: 'usd', confirm: 'true', payment_method: 'pm_card_visa' };
  const before = await processedAuthorizations();
  const results = await Promise.all(Array.from({ length: 50 }, () =>
    api('POST', '/v1/payment_intents', body, { form: true, headers: { 'idempotency-key': key } })));
  const statuses = results.map((r) => r.status);
  const ok = results.filter((r) => r.status === 200);
  const conflicts = results.filter((r) => r.status === 409);
  assert.equal(ok.length + conflicts.length, 50, `statuses: ${statuses.join(',')}`);
  assert.ok(ok.length >= 1);
  assert.equal(new Set(ok.map((r) => r.json.id)).size, 1, 'one payment');
  for (const c of conflicts) {
    assert.equal(c.json.error.type, 'idempotency_error');
  }
  const after = await processedAuthorizations();
  assert.equal(after - before, 1, 'exactly one authorization reached a processor');
  // Once done, the key replays the same payment.
  const replay = await api('POST', '/v1/payment_intents', body, { form: true, headers: { 'idempotency-key': key } });
  assert.equal(replay.status, 200);
  assert.equal(replay.json.id, ok[0].json.id);
  assert.equal(replay.json.status, 'succeeded');
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
});

test('50 simultaneous refunds never exceed the captured amount', async () => {
  const pi = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
  const results = await Promise.all(Array.from({ length: 50 }, () =>
    api('POST', '/v1/refunds', { payment_intent: pi.id, amount: '150' }, { form: true })));
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 400);
  assert.equal(ok.length + refused.length, 50, results.map((r) => r.status).join(','));
  assert.equal(ok.length, 13, '13 x 150 = 1950 <= 2000 < 14 x 150');
  assert.ok(refused.every((r) => ['amount_too_large', 'charge_already_refunded'].includes(r.json.error.code)));
  const total = ok.reduce((s, r) => s + r.json.amount, 0);
  assert.ok(total <= 2000);
  assert.equal(new Set(ok.map((r) => r.json.id)).size, ok.length, 'distinct refunds');
  const after = await stripe.paymentIntents.retrieve(pi.id);
  assert.equal(after.amount_refunded, total);
  // 50 more for whatever is left, all at once: exactly the remainder.
  const rest = await Promise.all(Array.from({ length: 50 }, () =>
    api('POST', '/v1/refunds', { payment_intent: pi.id }, { form: true })));
  const restOk = rest.filter((r) => r.status === 200);
  assert.equal(restOk.length, 1);
  assert.equal(restOk[0].json.amount, 2000 - total);
  const final = await stripe.paymentIntents.retrieve(pi.id);
  assert.equal(final.amount_refunded, 2000);
});

test('concurrent captures of one authorization: one capture', async () => {
  const pi = await stripe.paymentIntents.create({
    amount: 1000, currency: 'usd', confirm: true, capture_method: 'manual', payment_method: 'pm_card_visa',
  });
  const results = await Promise.all(Array.from({ length: 20 }, () =>
    api('POST', `/v1/payment_intents/${pi.id}/capture`, {}, { form: true })));
  const ok = results.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, results.map((r) => r.status).join(','));
  assert.ok(results.every((r) => [200, 400, 429].includes(r.status)));
  const after = await stripe.paymentIntents.retrieve(pi.id);
  assert.equal(after.amount_received, 1000);
});

test('an Idempotency-Key reused with other parameters is a 400 idempotency_error', async () => {
  const key = uniqueKey('reuse');
  const a = await api('POST', '/v1/payment_intents', { amount: '100', currency: 'usd' }, { form: true, headers: { 'idempotency-key': key } });
  assert.equal(a.status, 200);
  const b = await api('POST', '/v1/payment_intents', { amount: '200', currency: 'usd' }, { form: true, headers: { 'idempotency-key': key } });
  assert.equal(b.status, 400);
  assert.equal(b.json.error.type, 'idempotency_error');
  const long = await api('POST', '/v1/payment_intents', { amount: '100', currency: 'usd' }, { form: true, headers: { 'idempotency-key': 'x'.repeat(256) } });
  assert.equal(long.status, 400);
});
