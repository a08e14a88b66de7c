// `wrangler dev` keeps state on disk: stop it in the middle of a payment's
// life, start it again on the same state, and finish the payment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { DEFAULT_SK, startWrangler, stripeFor, uniqueKey } from './helpers.mjs';

const stateRoot = process.env.E2E_STATE_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-restart-'));
const artifacts = process.env.E2E_ARTIFACTS ?? stateRoot;

test('restart wrangler dev mid-payment, then capture and refund', { timeout: 180_000 }, async () => {
  const stateDir = path.join(stateRoot, 'restart');
  const logFile = path.join(artifacts, 'wrangler-restart.log');
  fs.mkdirSync(stateDir, { recursive: true });
  // No configuration at all: the default keys, three sandbox processors and
  // the example rule set route the first payment of a new user.
  const vars = {};

  let w = await startWrangler({ stateDir, logFile, vars });
  let pi, refund;
  const key = uniqueKey('restart');
  try {
    const stripe = stripeFor(w.base, DEFAULT_SK);
    pi = await stripe.paymentIntents.create({
      amount: 5000, currency: 'usd', confirm: true, capture_method: 'manual', payment_method: 'pm_card_visa',
    }, { idempotencyKey: key });
    assert.equal(pi.status, 'requires_capture');
    assert.equal(pi.routing.ruleset, 'rs_example');
    assert.match(pi.processor_details.processor, /^sandbox_[abc]$/);
  } finally {
    await w.stop();
  }

  w = await startWrangler({ stateDir, logFile, vars });
  try {
    const stripe = stripeFor(w.base, DEFAULT_SK);
    const again = await stripe.paymentIntents.retrieve(pi.id);
    assert.equal(again.status, 'requires_capture');
    assert.equal(again.amount_capturable, 5000);
    assert.deepEqual(again.routing, pi.routing);
    // The idempotency record survived too: a retry replays, no new charge.
    const replay = await stripe.paymentIntents.create({
      amount: 5000, currency: 'usd', confirm: true, capture_method: 'manual', payment_method: 'pm_card_visa',
    }, { idempotencyKey: key });
    assert.equal(replay.id, pi.id);
    const captured = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 4000 });
    assert.equal(captured.status, 'succeeded');
    assert.equal(captured.amount_received, 4000);
    refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 1500 });
    assert.equal(refund.status, 'succeeded');
  } finally {
    await w.stop();
  }

  // And once more: the money state is all there.
  w = await startWrangler({ stateDir, logFile, vars });
  try {
    const stripe = stripeFor(w.base, DEFAULT_SK);
    const last = await stripe.paymentIntents.retrieve(pi.id);
    assert.deepEqual([last.status, last.amount_received, last.amount_refunded], ['succeeded', 4000, 1500]);
    const r = await stripe.refunds.retrieve(refund.id);
    assert.equal(r.amount, 1500);
    const over = await stripe.refunds.create({ payment_intent: pi.id, amount: 2501 }).catch((e) => e);
    assert.equal(over.statusCode, 400);
  } finally {
    await w.stop();
  }
});
