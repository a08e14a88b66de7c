// The payment path end to end with the official Stripe SDK pointed at the
// worker: create/confirm, manual capture, refunds, cancel, retrieve,
// declines as card errors, idempotent replay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stripeFor, api, uniqueKey } from './helpers.mjs';
import { CARDS } from './cards.mjs';

const stripe = stripeFor();

function card(number, cvc = '846') {
  return { type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc } };
}

const plain = (o) => JSON.parse(JSON.stringify(o));

async function cardError(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('expected an error');
}

test('create and confirm at once routes, authorizes and captures', async () => {
  const pi = await stripe.paymentIntents.create({
    amount: 2000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa',
    metadata: { order: '8812' },
  });
  assert.match(pi.id, /^pi_/);
  assert.equal(pi.object, 'payment_intent');
  assert.equal(pi.status, 'succeeded');
  assert.equal(pi.amount_received, 2000);
  assert.equal(pi.livemode, false);
  assert.deepEqual(pi.metadata, { order: '8812' });
  assert.equal(pi.processor_details.type, 'sandbox');
  assert.match(pi.processor_details.reference, /^sbx_/);
  assert.ok(pi.routing.ruleset, 'records the rule set');
  assert.equal(pi.routing.attempts.at(-1).outcome, 'authorized');
  assert.equal(pi.routing.attempts.at(-1).processor, pi.processor_details.processor);
  assert.equal(typeof pi.routing.attempts[0].latency_ms, 'number');
});

test('raw card data: routed by its facts, the number is never returned', async () => {
  const raw = await api('POST', '/v1/payment_intents', {
    amount: '1500', currency: 'eur', confirm: 'true',
    'payment_method_data[type]': 'card', 'payment_method_data[card][number]': CARDS.fr,
    'payment_method_data[card][exp_month]': '12', 'payment_method_data[card][exp_year]': '2031',
    'payment_method_data[card][cvc]': '846',
  }, { form: true });
  assert.equal(raw.status, 200, raw.text);
  assert.equal(raw.json.status, 'succeeded');
  const details = raw.json.payment_method_details.card;
  assert.deepEqual([details.brand, details.last4, details.country, details.exp_year], ['visa', '0003', 'FR', 2031]);
  assert.ok(!raw.text.includes(CARDS.fr) && !raw.text.includes('846'));
  const pi = await stripe.paymentIntents.create({
    amount: 1500, currency: 'usd', confirm: true, payment_method_data: card(CARDS.mastercard),
  });
  assert.equal(pi.status, 'succeeded');
  assert.equal(pi.payment_method_details.card.brand, 'mastercard');
});

test('create, then confirm', async () => {
  const created = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', payment_method: 'pm_card_mastercard' });
  assert.equal(created.status, 'requires_confirmation');
  assert.equal(created.processor_details, null);
  const confirmed = await stripe.paymentIntents.confirm(created.id);
  assert.equal(confirmed.status, 'succeeded');
  const bare = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd' });
  assert.equal(bare.status, 'requires_payment_method');
  const e = await cardError(stripe.paymentIntents.confirm(bare.id));
  assert.equal(e.type, 'StripeInvalidRequestError');
  const ok = await stripe.paymentIntents.confirm(bare.id, { payment_method_data: card(CARDS.visa) });
  assert.equal(ok.status, 'succeeded');
  const again = await cardError(stripe.paymentIntents.confirm(bare.id, { payment_method: 'pm_card_visa' }));
  assert.equal(again.code, 'payment_intent_unexpected_state');
});

test('manual capture: authorize, then capture part of it', async () => {
  const pi = await stripe.paymentIntents.create({
    amount: 1000, currency: 'usd', confirm: true, capture_method: 'manual', payment_method: 'pm_card_visa',
  });
  assert.equal(pi.status, 'requires_capture');
  assert.equal(pi.amount_capturable, 1000);
  assert.equal(pi.amount_received, 0);
  const e = await cardError(stripe.paymentIntents.capture(pi.id, { amount_to_capture: 1001 }));
  assert.equal(e.type, 'StripeInvalidRequestError');
  assert.equal(e.param, 'amount_to_capture');
  const captured = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 600 });
  assert.equal(captured.status, 'succeeded');
  assert.equal(captured.amount_received, 600);
  assert.equal(captured.amount_capturable, 0);
  assert.equal(captured.processor_details.processor, pi.processor_details.processor);
  const twice = await cardError(stripe.paymentIntents.capture(pi.id));
  assert.equal(twice.code, 'payment_intent_unexpected_state');
});

test('refunds: partial, partial, the rest; over-refund refused; retrieve', async () => {
  const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
  const r1 = await stripe.refunds.create({ payment_intent: pi.id, amount: 300, reason: 'requested_by_customer', metadata: { ticket: 't1' } });
  assert.match(r1.id, /^re_/);
  assert.equal(r1.object, 'refund');
  assert.equal(r1.status, 'succeeded');
  assert.equal(r1.amount, 300);
  assert.equal(r1.payment_intent, pi.id);
  assert.equal(r1.processor_details.processor, pi.processor_details.processor);
  const r2 = await stripe.refunds.create({ payment_intent: pi.id, amount: 200 });
  assert.equal(r2.amount, 200);
  const over = await cardError(stripe.refunds.create({ payment_intent: pi.id, amount: 501 }));
  assert.equal(over.type, 'StripeInvalidRequestError');
  assert.equal(over.param, 'amount');
  const rest = await stripe.refunds.create({ payment_intent: pi.id });
  assert.equal(rest.amount, 500);
  const none = await cardError(stripe.refunds.create({ payment_intent: pi.id, amount: 1 }));
  assert.equal(none.code, 'charge_already_refunded');
  const got = await stripe.refunds.retrieve(r1.id);
  assert.deepEqual([got.id, got.amount, got.metadata.ticket], [r1.id, 300, 't1']);
  const after = await stripe.paymentIntents.retrieve(pi.id);
  assert.equal(after.amount_refunded, 1000);
});

test('a refund of an uncaptured payment is refused', async () => {
  const pi = await stripe.paymentIntents.create({
    amount: 1000, currency: 'usd', confirm: true, capture_method: 'manual', payment_method: 'pm_card_visa',
  });
  const e = await cardError(stripe.refunds.create({ payment_intent: pi.id, amount: 100 }));
  assert.equal(e.type, 'StripeInvalidRequestError');
  for (const id of ['pi_doesnotexist000000000000', 'pi_nope']) {
    const missing = await cardError(stripe.refunds.create({ payment_intent: id, amount: 1 }));
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.code, 'resource_missing');
    assert.equal(missing.param, 'payment_intent');
  }
});

test('cancel: before confirmation, and an authorization (voided at the processor)', async () => {
  const a = await stripe.paymentIntents.create({ amount: 700, currency: 'usd' });
  const ca = await stripe.paymentIntents.cancel(a.id, { cancellation_reason: 'abandoned' });
  assert.equal(ca.status, 'canceled');
  assert.equal(ca.cancellation_reason, 'abandoned');
  assert.equal(typeof ca.canceled_at, 'number');
  const b = await stripe.paymentIntents.create({
    amount: 700, currency: 'usd', confirm: true, capture_method: 'manual', payment_method: 'pm_card_visa',
  });
  const cb = await stripe.paymentIntents.cancel(b.id);
  assert.equal(cb.status, 'canceled');
  assert.equal(cb.amount_capturable, 0);
  const e = await cardError(stripe.paymentIntents.capture(b.id));
  assert.equal(e.code, 'payment_intent_unexpected_state');
  const done = await stripe.paymentIntents.create({ amount: 700, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
  const e2 = await cardError(stripe.paymentIntents.cancel(done.id));
  assert.equal(e2.code, 'payment_intent_unexpected_state');
});

test('retrieve', async () => {
  const pi = await stripe.paymentIntents.create({ amount: 900, currency: 'gbp', confirm: true, payment_method: 'pm_card_amex' });
  const got = await stripe.paymentIntents.retrieve(pi.id);
  assert.deepEqual(plain(got), plain(pi));
  const e = await cardError(stripe.paymentIntents.retrieve('pi_000000000000000000000000'));
  assert.equal(e.statusCode, 404);
  assert.equal(e.code, 'resource_missing');
  assert.match(e.requestId, /^req_/);
});

test('declines surface as the SDK card errors with decline codes', async () => {
  const cases = [
    ['pm_card_chargeDeclined', 'card_declined', 'generic_decline'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
    ['pm_card_chargeDeclinedLostCard', 'card_declined', 'lost_card'],
    ['pm_card_chargeDeclinedStolenCard', 'card_declined', 'stolen_card'],
    ['pm_card_chargeDeclinedExpiredCard', 'expired_card', 'expired_card'],
    ['pm_card_chargeDeclinedIncorrectCvc', 'incorrect_cvc', 'incorrect_cvc'],
    ['pm_card_chargeDeclinedProcessingError', 'processing_error', 'processing_error'],
  ];
  for (const [pm, code, declineCode] of cases) {
    const e = await cardError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', confirm: true, payment_method: pm }));
    assert.equal(e.type, 'StripeCardError', pm);
    assert.equal(e.statusCode, 402, pm);
    assert.equal(e.code, code, pm);
    assert.equal(e.decline_code, declineCode, pm);
    const pi = e.raw.payment_intent;
    assert.equal(pi.status, 'requires_payment_method', pm);
    assert.equal(pi.last_payment_error.decline_code, declineCode, pm);
  }
  // A hard decline stops the plan: one attempt. A soft one tries the next.
  const hard = await cardError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', confirm: true, payment_method: 'pm_card_chargeDeclinedLostCard' }));
  assert.equal(hard.raw.payment_intent.routing.attempts.length, 1);
  assert.equal(hard.raw.payment_intent.routing.attempts[0].outcome, 'hard_decline');
  const soft = await cardError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', confirm: true, payment_method: 'pm_card_chargeDeclinedInsufficientFunds' }));
  const attempts = soft.raw.payment_intent.routing.attempts;
  assert.ok(attempts.length >= 2, JSON.stringify(attempts));
  assert.ok(attempts.every((a) => a.outcome === 'soft_decline'));
  assert.equal(new Set(attempts.map((a) => a.processor)).size, attempts.length, 'each processor once');
  // Raw card data: an expired card by number, and a bad number (never echoed).
  const exp = await cardError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', confirm: true, payment_method_data: card(CARDS.expired) }));
  assert.equal(exp.code, 'expired_card');
  const bad = await cardError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', confirm: true, payment_method_data: card('4242424242424241') }));
  assert.equal(bad.type, 'StripeCardError');
  assert.equal(bad.code, 'incorrect_number');
  assert.equal(bad.param, 'payment_method_data[card][number]');
  assert.ok(!JSON.stringify(bad.raw).includes('4242424242424241'));
  // After a decline, a new payment method can be confirmed.
  const retry = await stripe.paymentIntents.confirm(exp.raw.payment_intent.id, { payment_method: 'pm_card_visa' });
  assert.equal(retry.status, 'succeeded');
});

test('idempotent replay through the SDK idempotencyKey', async () => {
  const idempotencyKey = uniqueKey('sdk');
  const params = { amount: 4200, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' };
  const first = await stripe.paymentIntents.create(params, { idempotencyKey });
  const second = await stripe.paymentIntents.create(params, { idempotencyKey });
  assert.equal(second.id, first.id);
  assert.deepEqual(plain(second), plain(first));
  assert.equal(second.lastResponse.headers['idempotent-replayed'], 'true');
  const other = await cardError(stripe.paymentIntents.create({ ...params, amount: 4201 }, { idempotencyKey }));
  assert.equal(other.type, 'StripeIdempotencyError');
  assert.equal(other.statusCode, 400);
  // Declines are replayed too, never re-sent to a processor.
  const dk = uniqueKey('decl');
  const d1 = await cardError(stripe.paymentIntents.create({ ...params, payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: dk }));
  const d2 = await cardError(stripe.paymentIntents.create({ ...params, payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: dk }));
  assert.equal(d2.raw.payment_intent.id, d1.raw.payment_intent.id);
  assert.deepEqual(d2.raw.payment_intent.routing.attempts, d1.raw.payment_intent.routing.attempts);
  // Refunds and captures are idempotent as well.
  const rk = uniqueKey('refund');
  const ra = await stripe.refunds.create({ payment_intent: first.id, amount: 100 }, { idempotencyKey: rk });
  const rb = await stripe.refunds.create({ payment_intent: first.id, amount: 100 }, { idempotencyKey: rk });
  assert.equal(rb.id, ra.id);
  const after = await stripe.paymentIntents.retrieve(first.id);
  assert.equal(after.amount_refunded, 100);
});

test('an idempotency key reused on another payment or endpoint is refused, and nothing happens', async () => {
  const a = await stripe.paymentIntents.create({ amount: 3000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
  const b = await stripe.paymentIntents.create({ amount: 3000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
  const key = uniqueKey('cross');
  const ra = await stripe.refunds.create({ payment_intent: a.id, amount: 500 }, { idempotencyKey: key });
  assert.equal(ra.status, 'succeeded');
  // The same key on another payment's refund: Stripe's 400, no refund.
  const rb = await cardError(stripe.refunds.create({ payment_intent: b.id, amount: 500 }, { idempotencyKey: key }));
  assert.equal(rb.type, 'StripeIdempotencyError');
  assert.equal(rb.statusCode, 400);
  assert.equal((await stripe.paymentIntents.retrieve(b.id)).amount_refunded, 0);
  // ... and on another endpoint: no payment is created.
  const c = await cardError(stripe.paymentIntents.create({ amount: 3000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' }, { idempotencyKey: key }));
  assert.equal(c.type, 'StripeIdempotencyError');
  // ... and on a rule set (a draft is stored nowhere).
  const before = (await api('GET', '/v1/routing/rulesets')).json.data.length;
  const rs = await api('POST', '/v1/routing/rulesets', { ruleset: { name: 'keyed', rules: [], default: { route: ['sandbox_a'] } } }, { headers: { 'idempotency-key': key } });
  assert.equal(rs.status, 400, rs.text);
  assert.equal(rs.json.error.type, 'idempotency_error');
  assert.equal((await api('GET', '/v1/routing/rulesets')).json.data.length, before);
  // The first use still replays.
  const again = await stripe.refunds.create({ payment_intent: a.id, amount: 500 }, { idempotencyKey: key });
  assert.equal(again.id, ra.id);
  assert.equal(again.lastResponse.headers['idempotent-replayed'], 'true');
  assert.equal((await stripe.paymentIntents.retrieve(a.id)).amount_refunded, 500);
});

test('a key whose request was refused before it started can be used again with other parameters', async () => {
  const p = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
  const key = uniqueKey('refused');
  // A refund of a payment that does not exist: refused before anything
  // started, so Stripe saves no result for the key.
  const missing = await cardError(stripe.refunds.create({ payment_intent: 'pi_000000000000000000000000', amount: 400 }, { idempotencyKey: key }));
  assert.equal(missing.statusCode, 400);
  assert.equal(missing.code, 'resource_missing');
  const ok = await stripe.refunds.create({ payment_intent: p.id, amount: 400 }, { idempotencyKey: key });
  assert.equal(ok.status, 'succeeded');
  assert.equal(ok.amount, 400);
});

test('JSON bodies are accepted as well as forms', async () => {
  const r = await api('POST', '/v1/payment_intents', { amount: 500, currency: 'USD', confirm: true, payment_method: 'pm_card_visa' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.currency, 'usd');
  assert.equal(r.json.status, 'succeeded');
});
