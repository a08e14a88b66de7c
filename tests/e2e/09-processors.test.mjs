// Real processors through the worker, with the official Stripe SDK: a
// `wrangler dev` of its own whose test mode routes to localstripe (PyPI, a
// Stripe fake written by others) and to the Adyen, Checkout.com and
// Braintree fakes (tests/fakes/), each behind a fault proxy. Routes,
// captures and refunds through each; failover between them; the circuit
// breaker; reconciliation by the API and by the scheduled trigger.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startWrangler, stripeFor, api, freePort, DEFAULT_SK, ROOT, stripeError } from './helpers.mjs';
import { startPeers } from '../fakes/peers.mjs';
import { CARDS, CVCS } from './cards.mjs';

const ART = process.env.E2E_ARTIFACTS ?? path.join(ROOT, 'tests/artifacts/e2e');
let peers;
let worker;
let stripe;

const VISA = { number: CARDS.visa, exp_month: 3, exp_year: 2030, cvc: CVCS[3] };
const CHECKOUT_3DS = CARDS.checkout3ds;

before(async () => {
  peers = await startPeers({ timeoutMs: 1500 });
  // A processor at a port nobody listens on: every connection is refused.
  const dead = { id: 'dead', type: 'checkout', base_url: `http://127.0.0.1:${await freePort()}`, timeout_ms: 1500 };
  fs.mkdirSync(ART, { recursive: true });
  // Inside the run's state directory when there is one: the card-data scan
  // (99) reads it too.
  const stateDir = fs.mkdtempSync(path.join(process.env.E2E_STATE_DIR ?? os.tmpdir(), 'switchyard-processors-'));
  worker = await startWrangler({
    stateDir,
    logFile: path.join(ART, 'wrangler-processors.log'),
    vars: {
      SWITCHYARD_TEST_PROCESSORS: JSON.stringify(peers.processors([dead])),
      SWITCHYARD_TEST_CREDENTIALS: JSON.stringify(peers.credentials({ dead: { api_key: 'sk_sbox_dead' } })),
    },
    args: ['--test-scheduled'],
  });
  stripe = stripeFor(worker.base, DEFAULT_SK);
});

after(async () => {
  await worker?.stop();
  await peers?.close();
});

/** Makes `route` the active rule set's default route. */
async function route(...processors) {
  const rs = await api('POST', '/v1/routing/rulesets', {
    name: `route ${processors.join(',')}`, rules: [], default: { route: processors },
  }, { base: worker.base, key: DEFAULT_SK });
  assert.equal(rs.status, 200, rs.text);
  const a = await api('POST', `/v1/routing/rulesets/${rs.json.id}/activate`, undefined, { base: worker.base, key: DEFAULT_SK });
  assert.equal(a.status, 200, a.text);
}

function pay(amount, { capture_method = 'automatic', card = VISA, currency = 'usd' } = {}) {
  return stripe.paymentIntents.create({
    amount, currency, confirm: true, capture_method,
    payment_method_data: { type: 'card', card },
  });
}

async function ledger(kind) {
  const r = await fetch(`${peers.peers[kind].direct}/__ledger`);
  return (await r.json()).payments;
}

const outcomes = (pi) => pi.routing.attempts.map((a) => `${a.processor}:${a.outcome}`);

for (const kind of ['stripe', 'adyen', 'checkout', 'braintree']) {
  test(`${kind}: authorize, capture in part, refund in two parts; charge at once; void`, async () => {
    await route(kind);
    const pi = await pay(1000, { capture_method: 'manual' });
    assert.equal(pi.status, 'requires_capture', JSON.stringify(pi));
    assert.equal(pi.processor_details.processor, kind);
    assert.equal(pi.processor_details.type, kind);
    const captured = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 600 });
    assert.equal(captured.status, 'succeeded');
    assert.equal(captured.amount_received, 600);
    const r1 = await stripe.refunds.create({ payment_intent: pi.id, amount: 200 });
    assert.equal(r1.status, 'succeeded', JSON.stringify(r1));
    const r2 = await stripe.refunds.create({ payment_intent: pi.id });
    assert.equal(r2.status, 'succeeded');
    assert.equal(r2.amount, 400);

    const charged = await pay(2500);
    assert.equal(charged.status, 'succeeded');
    assert.equal(charged.processor_details.processor, kind);

    const held = await pay(700, { capture_method: 'manual' });
    const voided = await stripe.paymentIntents.cancel(held.id);
    assert.equal(voided.status, 'canceled');

    if (kind !== 'stripe') {
      // The processor's own books agree.
      const books = await ledger(kind);
      const find = (ref) => books.find((p) => p.id === ref);
      const p1 = find(pi.processor_details.reference);
      assert.ok(p1, `${kind} has the payment`);
      assert.equal(p1.captured, 600);
      assert.equal(p1.refunded, 600);
      assert.equal(find(charged.processor_details.reference).captured, 2500);
      assert.equal(find(held.processor_details.reference).captured, 0);
    }
  });
}

test('a soft decline moves on to the next processor, which authorizes', async () => {
  await route('checkout', 'adyen');
  // Checkout.com's documented test amount: ...51 → 20051 insufficient funds.
  const pi = await pay(1051);
  assert.equal(pi.status, 'succeeded');
  assert.equal(pi.processor_details.processor, 'adyen');
  assert.deepEqual(outcomes(pi), ['checkout:soft_decline', 'adyen:authorized']);
  assert.equal(pi.routing.attempts[0].code, '20051');
  assert.equal(pi.routing.attempts[0].decline_code, 'insufficient_funds');
});

test('a hard decline stops: the next processor is never asked', async () => {
  await route('checkout', 'adyen');
  const before = (await ledger('adyen')).length;
  const { error: e } = await stripeError(pay(1033));
  assert.equal(e.statusCode, 402);
  assert.equal(e.raw.payment_intent.routing.attempts.length, 1);
  assert.equal(e.raw.payment_intent.routing.attempts[0].outcome, 'hard_decline');
  assert.equal((await ledger('adyen')).length, before);
});

test('authentication required stops: another processor would ask the same', async () => {
  await route('checkout', 'adyen');
  const { error: e } = await stripeError(pay(1000, { card: { ...VISA, number: CHECKOUT_3DS } }));
  assert.equal(e.code, 'authentication_required');
  assert.deepEqual(e.raw.payment_intent.routing.attempts.map((a) => a.outcome), ['authentication_required']);
});

test('a refused connection moves on (nothing was sent)', async () => {
  await route('dead', 'checkout');
  const pi = await pay(1200);
  assert.equal(pi.status, 'succeeded');
  assert.deepEqual(outcomes(pi), ['dead:not_processed', 'checkout:authorized']);
});

test('a timeout after the processor accepted does not move on; reconciliation settles it', async () => {
  await route('checkout', 'adyen');
  const adyenBefore = (await ledger('adyen')).length;
  peers.peers.checkout.proxy.setFaults({ rate: 1, kinds: ['timeout'] });
  let pi;
  try {
    pi = await pay(1300);
  } finally {
    peers.peers.checkout.proxy.setFaults({ rate: 0 });
  }
  assert.equal(pi.status, 'processing');
  assert.deepEqual(outcomes(pi), ['checkout:unknown', 'checkout:unknown']);
  assert.equal((await ledger('adyen')).length, adyenBefore, 'never sent elsewhere');
  // Checkout.com did authorize it (its answer was lost): the API call asks.
  const rec = await api('POST', '/v1/routing/reconcile', undefined, { base: worker.base, key: DEFAULT_SK });
  assert.equal(rec.status, 200, rec.text);
  const mine = rec.json.data.find((d) => d.id === pi.id);
  assert.deepEqual(mine, { id: pi.id, kind: 'payment_intent', status: 'succeeded', settled: true });
  const now = await stripe.paymentIntents.retrieve(pi.id);
  assert.equal(now.processor_details.processor, 'checkout');

  // The same through the scheduled trigger.
  peers.peers.checkout.proxy.setFaults({ rate: 1, kinds: ['timeout'] });
  let pi2;
  try {
    pi2 = await pay(1301);
  } finally {
    peers.peers.checkout.proxy.setFaults({ rate: 0 });
  }
  assert.equal(pi2.status, 'processing');
  const s = await fetch(`${worker.base}/__scheduled?cron=${encodeURIComponent('*/5 * * * *')}`);
  assert.equal(s.status, 200);
  let settled;
  for (let i = 0; i < 50; i++) {
    settled = await api('GET', `/v1/payment_intents/${pi2.id}`, undefined, { base: worker.base, key: DEFAULT_SK });
    if (settled.json.status !== 'processing') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(settled.json.status, 'succeeded');
});

test('an open circuit skips a processor, and a probe closes it', async () => {
  await route('adyen', 'checkout');
  peers.peers.adyen.proxy.setFaults({ rate: 1, kinds: ['429'] });
  let skipped;
  try {
    for (let i = 0; i < 45 && !skipped; i++) {
      const pi = await pay(1400 + 10 * i);
      assert.equal(pi.status, 'succeeded');
      assert.equal(pi.processor_details.processor, 'checkout');
      if (pi.routing.attempts[0].outcome === 'skipped') skipped = pi;
    }
  } finally {
    peers.peers.adyen.proxy.setFaults({ rate: 0 });
  }
  assert.ok(skipped, 'the circuit opened');
  assert.deepEqual(skipped.routing.attempts[0], { processor: 'adyen', outcome: 'skipped', code: 'circuit_open', latency_ms: 0 });
  const list = await api('GET', '/v1/routing/processors', undefined, { base: worker.base, key: DEFAULT_SK });
  const adyen = list.json.data.find((p) => p.id === 'adyen');
  assert.equal(adyen.circuit.state, 'open');
  assert.ok(adyen.circuit.failures >= 10);
  // Open: skipped until its retry time, then one probe goes through.
  const wait = adyen.circuit.retry_at - Date.now();
  await new Promise((r) => setTimeout(r, Math.max(0, wait) + 2500));
  let probed;
  for (let i = 0; i < 10 && !probed; i++) {
    const pi = await pay(1500 + 10 * i);
    if (pi.processor_details.processor === 'adyen') probed = pi;
    else await new Promise((r) => setTimeout(r, 1000));
  }
  assert.ok(probed, 'a probe reached adyen');
  let state;
  for (let i = 0; i < 30; i++) {
    const l = await api('GET', '/v1/routing/processors', undefined, { base: worker.base, key: DEFAULT_SK });
    state = l.json.data.find((p) => p.id === 'adyen').circuit.state;
    if (state === 'closed') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(state, 'closed');
});

test('the processors list never shows credentials', async () => {
  const l = await api('GET', '/v1/routing/processors', undefined, { base: worker.base, key: DEFAULT_SK });
  assert.equal(l.status, 200);
  for (const secret of ['sk_test_switchyard_localstripe', 'AQE_switchyard_test_key', 'sk_sbox_switchyard_test', 'switchyard_private']) {
    assert.ok(!l.text.includes(secret));
  }
  assert.deepEqual(l.json.data.map((p) => p.id).sort(), ['adyen', 'braintree', 'checkout', 'dead', 'stripe']);
});
