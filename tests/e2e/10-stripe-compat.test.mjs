// Stripe compatibility with the official `stripe` SDK (stripe-node): lists
// with auto-pagination, update, search, Charges and `expand`, refunds'
// list, update and cancel, the everyday parameters, Stripe's money checks,
// the wire details (Stripe-Version, Idempotency-Key, 401, 429) and the
// refusal by name of what the worker does not honour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, stripeFor, stripeError, uniqueKey, eventually, PK } from './helpers.mjs';

const stripe = stripeFor();
const run = uniqueKey('compat');

const card = (number = '4242424242424242') => ({
  type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' },
});

async function refused(promise, param) {
  const r = await stripeError(promise);
  assert.equal(r.ok, false, 'expected a refusal');
  assert.equal(r.error.type, 'StripeInvalidRequestError', `${r.error.type}: ${r.error.message}`);
  assert.equal(r.error.statusCode, 400, r.error.message);
  if (param) assert.equal(r.error.param, param, r.error.message);
  return r.error;
}

test('list: newest first, auto-pagination over several pages, cursors, created and customer filters', async () => {
  const customer = `cus_${run}`;
  const made = [];
  for (let i = 0; i < 5; i++) {
    made.push(await stripe.paymentIntents.create({ amount: 1000 + i, currency: 'usd', customer }));
  }
  const newestFirst = made.map((p) => p.id).reverse();
  // Lists read the index, written just after each response.
  await eventually(async () => {
    const all = await stripe.paymentIntents.list({ customer, limit: 2 }).autoPagingToArray({ limit: 100 });
    assert.deepEqual(all.map((p) => p.id), newestFirst);
  });
  const page1 = await stripe.paymentIntents.list({ customer, limit: 2 });
  assert.equal(page1.object, 'list');
  assert.equal(page1.url, '/v1/payment_intents');
  assert.equal(page1.has_more, true);
  assert.deepEqual(page1.data.map((p) => p.id), newestFirst.slice(0, 2));
  const page2 = await stripe.paymentIntents.list({ customer, limit: 2, starting_after: page1.data[1].id });
  assert.deepEqual(page2.data.map((p) => p.id), newestFirst.slice(2, 4));
  const back = await stripe.paymentIntents.list({ customer, limit: 2, ending_before: page2.data[0].id });
  assert.deepEqual(back.data.map((p) => p.id), newestFirst.slice(0, 2));
  assert.equal(back.has_more, false);
  // The SDK pages backwards too.
  const fromEnd = await stripe.paymentIntents.list({ customer, limit: 2, ending_before: made[0].id })
    .autoPagingToArray({ limit: 100 });
  assert.deepEqual(new Set(fromEnd.map((p) => p.id)), new Set(newestFirst.slice(0, 4)));
  const created = made[0].created;
  const after = await stripe.paymentIntents.list({ customer, created: { gte: created }, limit: 100 });
  assert.equal(after.data.length, 5);
  const before = await stripe.paymentIntents.list({ customer, created: { lt: created }, limit: 100 });
  assert.equal(before.data.length, 0);
  // All of the mode's payments, across the index's shards.
  const any = await stripe.paymentIntents.list({ limit: 100 });
  assert.ok(any.data.length >= 5);
  const times = any.data.map((p) => p.created);
  assert.deepEqual(times, [...times].sort((a, b) => b - a));
});

test('update: metadata merged, description, amount and currency before confirmation only', async () => {
  const pi = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', metadata: { a: '1', b: '2' } });
  const u = await stripe.paymentIntents.update(pi.id, {
    metadata: { b: '', c: '3' }, description: 'order 8812', amount: 2500, currency: 'eur',
    receipt_email: 'buyer@example.com', statement_descriptor_suffix: 'ORDER 8812',
  });
  assert.deepEqual(u.metadata, { a: '1', c: '3' });
  assert.equal(u.description, 'order 8812');
  assert.equal(u.amount, 2500);
  assert.equal(u.currency, 'eur');
  assert.equal(u.receipt_email, 'buyer@example.com');
  assert.equal(u.statement_descriptor_suffix, 'ORDER 8812');
  const c = await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
  assert.equal(c.status, 'succeeded');
  assert.equal(c.amount_received, 2500);
  await refused(stripe.paymentIntents.update(pi.id, { amount: 100 }), 'amount');
  const m = await stripe.paymentIntents.update(pi.id, { metadata: { shipped: 'yes' } });
  assert.equal(m.metadata.shipped, 'yes');
  // A list shows the payment as it is now (just after the response).
  await eventually(async () => {
    const listed = await stripe.paymentIntents.list({ limit: 10 });
    assert.deepEqual(listed.data.find((p) => p.id === pi.id)?.metadata, { a: '1', c: '3', shipped: 'yes' });
  });
  await refused(stripe.paymentIntents.update(pi.id, { amount: 'x' }), 'amount');
  const nope = await stripeError(stripe.paymentIntents.update('pi_000000000000000000000000', { metadata: { x: '1' } }));
  assert.equal(nope.error?.statusCode, 404);
});

test('Charges: latest_charge, expand, retrieve, list by payment; failed attempts are charges too; refunds name their charge', async () => {
  const pi = await stripe.paymentIntents.create({
    amount: 3000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa',
    receipt_email: 'r@example.com', customer: `cus_${run}_ch`,
  });
  assert.match(pi.latest_charge, /^ch_/);
  const expanded = await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] });
  const ch = expanded.latest_charge;
  assert.equal(ch.object, 'charge');
  assert.equal(ch.id, pi.latest_charge);
  assert.equal(ch.status, 'succeeded');
  assert.equal(ch.paid, true);
  assert.equal(ch.captured, true);
  assert.equal(ch.amount_captured, 3000);
  assert.equal(ch.payment_intent, pi.id);
  assert.equal(ch.receipt_email, 'r@example.com');
  assert.equal(ch.customer, `cus_${run}_ch`);
  assert.equal(ch.payment_method_details.card.last4, '4242');
  assert.equal(ch.outcome.type, 'authorized');
  const got = await stripe.charges.retrieve(ch.id);
  assert.deepEqual(got.id, ch.id);
  const list = await stripe.charges.list({ payment_intent: pi.id });
  assert.deepEqual(list.data.map((c) => c.id), [ch.id]);
  // A refund by charge, and by payment: both name the charge.
  const r1 = await stripe.refunds.create({ charge: ch.id, amount: 1000 });
  assert.equal(r1.charge, ch.id);
  assert.equal(r1.payment_intent, pi.id);
  assert.equal(r1.failure_reason, undefined, 'no failure_reason unless failed');
  const after = await stripe.charges.retrieve(ch.id);
  assert.equal(after.amount_refunded, 1000);
  assert.equal(after.refunded, false);
  // A decline leaves a failed charge.
  const declined = await stripeError(stripe.paymentIntents.create({
    amount: 3000, currency: 'usd', confirm: true, payment_method: 'pm_card_chargeDeclinedInsufficientFunds',
  }));
  assert.equal(declined.error.type, 'StripeCardError');
  const failedPi = declined.error.payment_intent;
  const failed = await stripe.charges.retrieve(failedPi.latest_charge);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.paid, false);
  assert.equal(failed.failure_code, 'card_declined');
  assert.equal(failed.outcome.reason, 'insufficient_funds');
  // The failed charge took nothing: it cannot be refunded.
  await refused(stripe.refunds.create({ charge: failed.id }), 'charge');
  const missing = await stripeError(stripe.charges.retrieve('ch_000000000000000000000000abcdefgh'));
  assert.equal(missing.error.statusCode, 404);
  await refused(stripe.charges.list({ limit: 3 }), 'payment_intent');
  // expand[] of anything else is refused by name, not ignored.
  await refused(stripe.paymentIntents.retrieve(pi.id, { expand: ['payment_method'] }), 'expand');
  await eventually(async () => {
    const listExpanded = await stripe.paymentIntents.list({ customer: `cus_${run}_ch`, expand: ['data.latest_charge'] });
    assert.equal(listExpanded.data[0].latest_charge.id, ch.id);
    assert.equal(listExpanded.data[0].latest_charge.amount_refunded, 1000);
  });
});

test('refunds: list (all, by payment), update metadata, cancel refused as Stripe refuses card refunds', async () => {
  const pi = await stripe.paymentIntents.create({ amount: 5000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
  const made = [];
  for (const amount of [1000, 1500, 500]) made.push(await stripe.refunds.create({ payment_intent: pi.id, amount }));
  await eventually(async () => {
    const byPayment = await stripe.refunds.list({ payment_intent: pi.id, limit: 2 }).autoPagingToArray({ limit: 10 });
    assert.deepEqual(byPayment.map((r) => r.id), made.map((r) => r.id).reverse());
    const all = await stripe.refunds.list({ limit: 100 });
    assert.equal(all.url, '/v1/refunds');
    for (const r of made) assert.ok(all.data.some((x) => x.id === r.id));
  });
  const u = await stripe.refunds.update(made[0].id, { metadata: { reason_code: 'R12' } });
  assert.deepEqual(u.metadata, { reason_code: 'R12' });
  assert.deepEqual((await stripe.refunds.retrieve(made[0].id)).metadata, { reason_code: 'R12' });
  const c = await refused(stripe.refunds.cancel(made[1].id));
  assert.equal(c.code, 'refund_cannot_be_canceled');
  const missing = await stripeError(stripe.refunds.update('re_000000000000000000000000abcdefgh', { metadata: { a: 'b' } }));
  assert.equal(missing.error.statusCode, 404);
});

test('search: Stripe query language over amount, currency, customer, status, metadata; pages', async () => {
  const tag = uniqueKey('s');
  const made = [];
  for (const amount of [1200, 3400, 5600]) {
    made.push(await stripe.paymentIntents.create({
      amount, currency: 'eur', confirm: true, payment_method: 'pm_card_visa', metadata: { tag },
    }));
  }
  await stripe.paymentIntents.create({ amount: 7800, currency: 'eur', metadata: { tag } });
  const q = `metadata["tag"]:"${tag}" AND status:"succeeded"`;
  await eventually(async () => {
    const r = await stripe.paymentIntents.search({ query: q });
    assert.equal(r.object, 'search_result');
    assert.deepEqual(new Set(r.data.map((p) => p.id)), new Set(made.map((p) => p.id)));
    const all = await stripe.paymentIntents.search({ query: `metadata["tag"]:"${tag}"` });
    assert.equal(all.data.length, 4);
  });
  const big = await stripe.paymentIntents.search({ query: `metadata["tag"]:"${tag}" AND amount>=3400` });
  assert.equal(big.data.length, 3);
  const pages = await stripe.paymentIntents.search({ query: q, limit: 1 }).autoPagingToArray({ limit: 10 });
  assert.equal(pages.length, 3);
  const or = await stripe.paymentIntents.search({ query: `metadata["tag"]:"${tag}" AND -status:"succeeded"` });
  assert.equal(or.data.length, 1);
  await refused(stripe.paymentIntents.search({ query: 'colour:"red"' }), 'query');
  await refused(stripe.paymentIntents.search({ query: 'status:"succeeded" AND amount>1 OR currency:"usd"' }), 'query');
});

test('everyday parameters are kept and shown; 3-D Secure requests refused by name', async () => {
  const pi = await stripe.paymentIntents.create({
    amount: 2000, currency: 'usd', automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    customer: 'cus_kept_as_given', receipt_email: 'a@example.com', statement_descriptor: 'SWITCHYARD SHOP',
    statement_descriptor_suffix: 'ORDER 1', setup_future_usage: 'off_session', capture_method: 'automatic_async',
    payment_method_options: { card: { request_three_d_secure: 'automatic' } },
  });
  assert.deepEqual(pi.automatic_payment_methods, { enabled: true, allow_redirects: 'never' });
  assert.equal(pi.customer, 'cus_kept_as_given');
  assert.equal(pi.statement_descriptor, 'SWITCHYARD SHOP');
  assert.equal(pi.setup_future_usage, 'off_session');
  assert.equal(pi.capture_method, 'automatic_async');
  assert.equal(pi.payment_method_options.card.request_three_d_secure, 'automatic');
  assert.match(pi.client_secret, new RegExp(`^${pi.id}_secret_`));
  const c = await stripe.paymentIntents.confirm(pi.id, {
    payment_method: 'pm_card_visa', return_url: 'https://shop.example/done', off_session: true,
  });
  assert.equal(c.status, 'succeeded', 'automatic_async captures with the authorization');
  assert.equal(c.capture_method, 'automatic_async');
  await refused(stripe.paymentIntents.create({
    amount: 2000, currency: 'usd', payment_method_options: { card: { request_three_d_secure: 'challenge' } },
  }), 'payment_method_options[card][request_three_d_secure]');
  await refused(stripe.paymentIntents.create({ amount: 2000, currency: 'usd', statement_descriptor: 'x'.repeat(23) }), 'statement_descriptor');
  await refused(stripe.paymentIntents.create({ amount: 2000, currency: 'usd', receipt_email: 'not an email' }), 'receipt_email');
  await refused(stripe.paymentIntents.create({ amount: 2000, currency: 'usd', off_session: true }), 'off_session');
  await refused(stripe.paymentIntents.create({ amount: 2000, currency: 'usd', transfer_group: 'g' }), 'transfer_group');
});

test('money checks as Stripe: per-currency minimum, eight digits, three-decimal currencies, ISO codes', async () => {
  await refused(stripe.paymentIntents.create({ amount: 49, currency: 'usd' }), 'amount');
  await refused(stripe.paymentIntents.create({ amount: 29, currency: 'gbp' }), 'amount');
  await refused(stripe.paymentIntents.create({ amount: 100_000_000, currency: 'usd' }), 'amount');
  await refused(stripe.paymentIntents.create({ amount: 1005, currency: 'kwd' }), 'amount');
  await refused(stripe.paymentIntents.create({ amount: 1000, currency: 'xxx' }), 'currency');
  const ok = await stripe.paymentIntents.create({ amount: 1000, currency: 'kwd' });
  assert.equal(ok.currency, 'kwd');
  const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
  await refused(stripe.paymentIntents.update(pi.id, { amount: 10 }), 'amount');
});

test('routing on off_session, and a lock timeout (429) the SDKs retry', async () => {
  const before = await api('GET', '/v1/routing/rulesets?limit=100');
  const previous = before.json.data.find((r) => r.status === 'active');
  const rs = await api('POST', '/v1/routing/rulesets', { ruleset: {
    name: 'compat', rules: [
      { name: 'off session to c', if: { field: 'off_session', eq: true }, then: { route: ['sandbox_c'] } },
      { name: 'French billing to b', if: { field: 'billing.country', eq: 'FR' }, then: { route: ['sandbox_b'] } },
      { name: 'slow', if: { field: 'metadata.scenario', eq: 'slow' }, then: { route: ['sandbox_slow'] } },
    ], default: { route: ['sandbox_a'] },
  } });
  assert.equal(rs.status, 200, rs.text);
  assert.equal((await api('POST', `/v1/routing/rulesets/${rs.json.id}/activate`)).status, 200);
  try {
    const off = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', confirm: true, off_session: true, payment_method: 'pm_card_visa' });
    assert.equal(off.processor_details.processor, 'sandbox_c');
    assert.equal(off.routing.rule, 'off session to c');
    const on = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
    assert.equal(on.processor_details.processor, 'sandbox_a');
    // payment_method_data[billing_details]: routed on (billing.country)
    // and shown on the Charge.
    const billed = await stripe.paymentIntents.create({
      amount: 1000, currency: 'eur', confirm: true, expand: ['latest_charge'],
      payment_method_data: { ...card(), billing_details: { name: 'Ada L', email: 'ada@example.com', address: { country: 'fr', city: 'Paris' } } },
    });
    assert.equal(billed.processor_details.processor, 'sandbox_b');
    assert.equal(billed.routing.rule, 'French billing to b');
    assert.deepEqual(billed.latest_charge.billing_details, {
      address: { city: 'Paris', country: 'FR', line1: null, line2: null, postal_code: null, state: null },
      email: 'ada@example.com', name: 'Ada L', phone: null,
    });
    await refused(stripe.paymentIntents.create({
      amount: 1000, currency: 'eur', confirm: true,
      payment_method_data: { ...card(), billing_details: { address: { country: 'France' } } },
    }), 'payment_method_data[billing_details][address][country]');
    // A capture while the confirmation is at a slow processor: 429.
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', capture_method: 'manual', metadata: { scenario: 'slow' } });
    const confirming = stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    await new Promise((r) => setTimeout(r, 100));
    const locked = await api('POST', `/v1/payment_intents/${pi.id}/capture`, {});
    assert.equal(locked.status, 429, locked.text);
    assert.equal(locked.json.error.code, 'lock_timeout');
    assert.equal(locked.headers.get('stripe-should-retry'), 'true');
    assert.equal((await confirming).status, 'requires_capture');
    // The SDK retries a 429 it is told to retry, and the capture goes through.
    const retrying = stripeFor(undefined, undefined, { maxNetworkRetries: 3 });
    const pi2 = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', capture_method: 'manual', metadata: { scenario: 'slow' } });
    const confirming2 = stripe.paymentIntents.confirm(pi2.id, { payment_method: 'pm_card_visa' });
    await new Promise((r) => setTimeout(r, 100));
    const captured = await retrying.paymentIntents.capture(pi2.id);
    assert.equal(captured.status, 'succeeded');
    await confirming2;
  } finally {
    if (previous) await api('POST', `/v1/routing/rulesets/${previous.id}/activate`);
  }
});

test('wire details: Stripe-Version validated and echoed, Idempotency-Key echoed, a 401 as Stripe types it', async () => {
  const v = await api('POST', '/v1/payment_intents', { amount: 1000, currency: 'usd' }, {
    headers: { 'stripe-version': '2024-09-30.acacia', 'idempotency-key': 'echo-me-' + run },
  });
  assert.equal(v.status, 200, v.text);
  assert.equal(v.headers.get('stripe-version'), '2024-09-30.acacia');
  assert.equal(v.headers.get('idempotency-key'), 'echo-me-' + run);
  const d = await api('GET', `/v1/payment_intents/${v.json.id}`);
  assert.match(d.headers.get('stripe-version'), /^\d{4}-\d{2}-\d{2}/);
  const bad = await api('GET', `/v1/payment_intents/${v.json.id}`, undefined, { headers: { 'stripe-version': 'latest' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.param, 'Stripe-Version');
  const unauth = await api('GET', `/v1/payment_intents/${v.json.id}`, undefined, { key: 'sk_test_wrong' });
  assert.equal(unauth.status, 401);
  assert.equal(unauth.json.error.type, 'invalid_request_error');
  const sdk = await stripeError(stripeFor(undefined, 'sk_test_wrong').paymentIntents.retrieve(v.json.id));
  assert.equal(sdk.error.type, 'StripeAuthenticationError');
  // The SDK's own pinned version is accepted and echoed.
  const raw = await stripe.paymentIntents.retrieve(v.json.id);
  assert.match(raw.lastResponse.headers['stripe-version'], /^\d{4}-\d{2}-\d{2}/);
});

test('what is not honoured is refused by name: Connect headers, unknown query parameters', async () => {
  const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
  const connect = await refused(stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { stripeAccount: 'acct_123' }), 'Stripe-Account');
  assert.match(connect.message, /Stripe-Account/);
  const ctx = await api('GET', `/v1/payment_intents/${pi.id}`, undefined, { headers: { 'stripe-context': 'ctx_1' } });
  assert.equal(ctx.status, 400);
  assert.equal(ctx.json.error.param, 'Stripe-Context');
  const q = await api('GET', `/v1/payment_intents/${pi.id}?foo=1`);
  assert.equal(q.status, 400);
  assert.equal(q.json.error.param, 'foo');
  const lq = await api('GET', '/v1/payment_intents?page=2');
  assert.equal(lq.status, 400);
  assert.equal(lq.json.error.param, 'page');
  // Nothing was created by the refused Connect call.
  await eventually(async () => {
    const mine = await stripe.paymentIntents.list({ limit: 3 });
    assert.equal(mine.data[0].id, pi.id);
  });
});

test('client-side: the publishable key with the client secret retrieves and confirms that payment only', async () => {
  const pi = await stripe.paymentIntents.create({ amount: 2200, currency: 'usd', description: 'browser' });
  const other = await stripe.paymentIntents.create({ amount: 2300, currency: 'usd' });
  const pk = (m, p, body, q = '') => api(m, p + q, body, { key: PK, form: true });
  const got = await pk('GET', `/v1/payment_intents/${pi.id}`, undefined, `?client_secret=${encodeURIComponent(pi.client_secret)}`);
  assert.equal(got.status, 200, got.text);
  assert.equal(got.json.id, pi.id);
  assert.equal(got.json.client_secret, pi.client_secret);
  assert.equal(got.json.metadata, undefined, 'the client-safe subset has no metadata');
  assert.equal(got.json.routing, undefined);
  assert.equal(got.json.processor_details, undefined);
  const wrong = await pk('GET', `/v1/payment_intents/${other.id}`, undefined, `?client_secret=${encodeURIComponent(pi.client_secret)}`);
  assert.equal(wrong.status, 400);
  assert.equal(wrong.json.error.param, 'client_secret');
  const without = await pk('GET', `/v1/payment_intents/${pi.id}`);
  assert.equal(without.status, 400);
  assert.equal(without.json.error.param, 'client_secret');
  const confirmed = await pk('POST', `/v1/payment_intents/${pi.id}/confirm`, {
    client_secret: pi.client_secret, 'payment_method_data[type]': 'card',
    'payment_method_data[card][number]': '4242424242424242', 'payment_method_data[card][exp_month]': '12',
    'payment_method_data[card][exp_year]': '2034', 'payment_method_data[card][cvc]': '123',
  });
  assert.equal(confirmed.status, 200, confirmed.text);
  assert.equal(confirmed.json.status, 'succeeded');
  assert.equal(confirmed.json.routing, undefined);
  for (const [m, p] of [
    ['POST', `/v1/payment_intents/${pi.id}/capture`], ['POST', `/v1/payment_intents/${pi.id}`],
    ['GET', '/v1/payment_intents'], ['POST', '/v1/refunds'], ['GET', `/v1/charges?payment_intent=${pi.id}`],
    ['POST', '/v1/payment_intents'],
  ]) {
    const r = await pk(m, p, m === 'POST' ? { client_secret: pi.client_secret } : undefined);
    assert.equal(r.status, 403, `${m} ${p}: ${r.text}`);
  }
  const server = await stripe.paymentIntents.retrieve(pi.id);
  assert.equal(server.status, 'succeeded');
  assert.equal(server.payment_method_details.card.last4, '4242');
});
