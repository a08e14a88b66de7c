// Rule sets (drafts, activation, promotion, listing, preview by id) and
// routing across processors (outage, timeout after accept, declines).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, stripeFor, PK, SK, uniqueKey } from './helpers.mjs';

const stripe = stripeFor();
const LIVE_KEY = process.env.E2E_LIVE_KEY;

const RULESET = {
  name: 'e2e routing',
  rules: [
    { name: 'outage first', if: { field: 'metadata.scenario', eq: 'outage' }, then: { route: ['sandbox_down', 'sandbox_b'] } },
    { name: 'timeout first', if: { field: 'metadata.scenario', eq: 'timeout' }, then: { route: ['sandbox_timeout', 'sandbox_b'] } },
    { name: 'lost answers', if: { field: 'metadata.scenario', eq: 'lost' }, then: { route: ['sandbox_lost', 'sandbox_b'] } },
    { name: 'slow', if: { field: 'metadata.scenario', eq: 'slow' }, then: { route: ['sandbox_slow', 'sandbox_b'] } },
    { name: 'all down', if: { field: 'metadata.scenario', eq: 'all_down' }, then: { route: ['sandbox_down'] } },
    { name: 'blocked BIN', if: { field: 'card.bin', prefix: '37828224' }, then: { decline: { code: 'do_not_honor', message: 'amex blocked by rule' } } },
  ],
  default: { route: ['sandbox_a', 'sandbox_b', 'sandbox_c'] },
};

async function stats(id) {
  const r = await api('GET', `/v1/sandbox/processors/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

let activeId;

test('an invalid rule set is refused with every issue', async () => {
  const r = await api('POST', '/v1/routing/rulesets', {
    ruleset: { rules: [{ name: 'x', if: { field: 'amout', gte: 1 }, then: { route: ['nope'] } }], default: { route: [] } },
  });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'ruleset_invalid');
  assert.equal(r.json.error.param, 'ruleset');
  const codes = r.json.error.issues.map((i) => i.code);
  assert.ok(codes.includes('unknown_field'), codes.join());
  assert.ok(codes.includes('unknown_processor'), codes.join());
  assert.ok(codes.includes('empty_list'), codes.join());
});

test('drafts, activation (atomic per mode), list and read with status', async () => {
  const list0 = await api('GET', '/v1/routing/rulesets?limit=100');
  assert.equal(list0.status, 200);
  const previous = list0.json.data.find((r) => r.status === 'active');
  assert.ok(previous, 'an example rule set is active out of the box');
  const c = await api('POST', '/v1/routing/rulesets', { ruleset: RULESET }, { headers: { 'idempotency-key': uniqueKey('rs') } });
  assert.equal(c.status, 200, c.text);
  assert.match(c.json.id, /^rs_/);
  assert.equal(c.json.status, 'draft');
  assert.equal(c.json.name, 'e2e routing');
  assert.deepEqual(c.json.ruleset, RULESET);
  // Who stored it: the key, redacted (never the key itself).
  const label = `${SK.split('_').slice(0, 2).join('_')}_********${SK.length > 12 ? SK.slice(-4) : ''}`;
  assert.equal(c.json.created_by, label);
  assert.equal(c.json.activated_by, null);
  assert.ok(!c.text.includes(SK));
  // A draft is not used: payments still follow the previous set.
  const before = await stripe.paymentIntents.create({ amount: 100, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
  assert.equal(before.routing.ruleset, previous.id);
  const a = await api('POST', `/v1/routing/rulesets/${c.json.id}/activate`);
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.status, 'active');
  assert.equal(a.json.activated_by, label);
  activeId = c.json.id;
  const list = await api('GET', '/v1/routing/rulesets?limit=100');
  const byId = Object.fromEntries(list.json.data.map((r) => [r.id, r.status]));
  assert.equal(byId[c.json.id], 'active');
  assert.equal(byId[previous.id], 'inactive');
  assert.equal(list.json.data.filter((r) => r.status === 'active').length, 1);
  const got = await api('GET', `/v1/routing/rulesets/${c.json.id}`);
  assert.equal(got.json.status, 'active');
  const missing = await api('GET', '/v1/routing/rulesets/rs_nope');
  assert.equal(missing.status, 404);
  // Payments started after activation use it, and record it.
  const after = await stripe.paymentIntents.create({ amount: 100, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
  assert.equal(after.routing.ruleset, c.json.id);
  assert.equal(after.routing.rule, null);
  assert.equal(after.processor_details.processor, 'sandbox_a');
});

test('preview by id, by the active set, and inline', async () => {
  const payment = { amount: 100, currency: 'usd', metadata: { scenario: 'outage' } };
  const byId = await api('POST', '/v1/routing/preview', { ruleset_id: activeId, payment });
  assert.equal(byId.status, 200, byId.text);
  assert.deepEqual(byId.json.processors, ['sandbox_down', 'sandbox_b']);
  const active = await api('POST', '/v1/routing/preview', { payment });
  assert.equal(active.status, 200, active.text);
  assert.equal(active.json.rule, 'outage first');
  // A publishable key is public: it previews only a rule set it sends, so
  // a stored set's values (blocked BINs, thresholds) never reach a page.
  for (const body of [{ payment }, { ruleset_id: activeId, payment }]) {
    const r = await api('POST', '/v1/routing/preview', body, { key: PK });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code, 'secret_key_required');
  }
  const unknown = await api('POST', '/v1/routing/preview', { ruleset_id: 'rs_unknown', payment });
  assert.equal(unknown.status, 404);
});

test('a rule decline refuses without calling any processor', async () => {
  const before = await stats('sandbox_a');
  let err;
  try {
    await stripe.paymentIntents.create({ amount: 100, currency: 'usd', confirm: true, payment_method: 'pm_card_amex' });
  } catch (e) { err = e; }
  assert.equal(err?.type, 'StripeCardError');
  assert.equal(err.decline_code, 'do_not_honor');
  assert.equal(err.message, 'amex blocked by rule');
  assert.deepEqual(err.raw.payment_intent.routing.attempts, []);
  assert.equal(err.raw.payment_intent.routing.rule, 'blocked BIN');
  assert.deepEqual(await stats('sandbox_a'), before);
});

test('an outage: the next processor takes the payment (certainly not charged)', async () => {
  const pi = await stripe.paymentIntents.create({
    amount: 2500, currency: 'usd', confirm: true, payment_method: 'pm_card_visa', metadata: { scenario: 'outage' },
  });
  assert.equal(pi.status, 'succeeded');
  assert.equal(pi.processor_details.processor, 'sandbox_b');
  assert.deepEqual(pi.routing.attempts.map((a) => [a.processor, a.outcome]),
    [['sandbox_down', 'not_processed'], ['sandbox_b', 'authorized']]);
  assert.equal(pi.routing.rule, 'outage first');
});

test('every processor down: a 502, not charged, that the SDK is told not to retry', async () => {
  // The SDK's defaults: it retries 5xx answers unless told not to.
  const sdk = stripeFor(undefined, undefined, { maxNetworkRetries: 2 });
  const down0 = await stats('sandbox_down');
  const t0 = Date.now();
  let err;
  try {
    await sdk.paymentIntents.create({
      amount: 2550, currency: 'usd', confirm: true, payment_method: 'pm_card_visa', metadata: { scenario: 'all_down' },
    });
  } catch (e) { err = e; }
  assert.equal(err?.statusCode, 502);
  assert.equal(err.code, 'processor_unavailable');
  assert.equal(err.headers['stripe-should-retry'], 'false');
  // One request reached the worker: no retry, so no backoff either.
  assert.ok(Date.now() - t0 < 500, `${Date.now() - t0} ms`);
  assert.equal(err.raw.payment_intent.status, 'requires_payment_method');
  assert.deepEqual(err.raw.payment_intent.routing.attempts.map((a) => [a.processor, a.outcome]), [['sandbox_down', 'not_processed']]);
  assert.deepEqual(await stats('sandbox_down'), down0, 'the sandbox recorded nothing: it was down');
});

test('a timeout after accepting: retried at the same processor, never moved on', async () => {
  const b0 = await stats('sandbox_b');
  const t0 = await stats('sandbox_timeout');
  const pi = await stripe.paymentIntents.create({
    amount: 2600, currency: 'usd', confirm: true, payment_method: 'pm_card_visa', metadata: { scenario: 'timeout' },
  });
  assert.equal(pi.status, 'succeeded');
  assert.equal(pi.processor_details.processor, 'sandbox_timeout');
  assert.deepEqual(pi.routing.attempts.map((a) => [a.processor, a.outcome]),
    [['sandbox_timeout', 'unknown'], ['sandbox_timeout', 'authorized']]);
  const t1 = await stats('sandbox_timeout');
  assert.equal((t1.processed.authorize ?? 0) - (t0.processed.authorize ?? 0), 1, 'one authorization at the processor');
  assert.deepEqual(await stats('sandbox_b'), b0, 'the next processor was never asked');
});

test('a second request while the first is in flight is a 409; afterwards it replays', async () => {
  const key = uniqueKey('inflight');
  const body = { amount: '2700', currency: 'usd', confirm: 'true', payment_method: 'pm_card_visa', 'metadata[scenario]': 'timeout' };
  const first = api('POST', '/v1/payment_intents', body, { form: true, headers: { 'idempotency-key': key } });
  await new Promise((r) => setTimeout(r, 300)); // the first waits on sandbox_timeout (>= 1 s)
  const second = await api('POST', '/v1/payment_intents', body, { form: true, headers: { 'idempotency-key': key } });
  assert.equal(second.status, 409, second.text);
  assert.equal(second.json.error.type, 'idempotency_error');
  const a = await first;
  assert.equal(a.status, 200, a.text);
  const third = await api('POST', '/v1/payment_intents', body, { form: true, headers: { 'idempotency-key': key } });
  assert.equal(third.status, 200);
  assert.equal(third.json.id, a.json.id);
});

test('answers lost: left processing, never moved on; a retrieve reconciles it', async () => {
  const b0 = await stats('sandbox_b');
  const l0 = await stats('sandbox_lost');
  const pi = await stripe.paymentIntents.create({
    amount: 2900, currency: 'usd', confirm: true, payment_method: 'pm_card_visa', metadata: { scenario: 'lost' },
  });
  assert.equal(pi.status, 'processing');
  assert.equal(pi.processor_details, null);
  assert.deepEqual(pi.routing.attempts.map((a) => [a.processor, a.outcome]),
    [['sandbox_lost', 'unknown'], ['sandbox_lost', 'unknown']]);
  assert.deepEqual(await stats('sandbox_b'), b0, 'the next processor was never asked');
  const capture = await api('POST', `/v1/payment_intents/${pi.id}/capture`, {}, { form: true });
  assert.equal(capture.status, 400, 'nothing to capture while processing');
  // A retrieve asks sandbox_lost, by the same key, what became of the call.
  const got = await stripe.paymentIntents.retrieve(pi.id);
  assert.equal(got.status, 'succeeded');
  assert.equal(got.processor_details.processor, 'sandbox_lost');
  assert.equal(got.amount_received, 2900);
  assert.deepEqual(got.routing.attempts.at(-1), { ...got.routing.attempts.at(-1), processor: 'sandbox_lost', outcome: 'authorized', code: 'reconciled' });
  const l1 = await stats('sandbox_lost');
  assert.equal((l1.processed.authorize ?? 0) - (l0.processed.authorize ?? 0), 1, 'one authorization, never two');
  const again = await stripe.paymentIntents.retrieve(pi.id);
  assert.deepEqual(again.routing, got.routing, 'reconciled once');
  // A decline whose answer was lost: reconciled to not charged.
  const d = await stripe.paymentIntents.create({
    amount: 2900, currency: 'usd', confirm: true, payment_method: 'pm_card_chargeDeclinedInsufficientFunds', metadata: { scenario: 'lost' },
  });
  assert.equal(d.status, 'processing');
  const dr = await stripe.paymentIntents.retrieve(d.id);
  assert.equal(dr.status, 'requires_payment_method');
  assert.equal(dr.last_payment_error.decline_code, 'insufficient_funds');
  assert.equal(dr.amount_received, 0);
});

test('a slow processor answers slowly, and is waited for', async () => {
  const pi = await stripe.paymentIntents.create({
    amount: 2800, currency: 'usd', confirm: true, payment_method: 'pm_card_visa', metadata: { scenario: 'slow' },
  });
  assert.equal(pi.status, 'succeeded');
  assert.deepEqual(pi.routing.attempts.map((a) => [a.processor, a.outcome]), [['sandbox_slow', 'authorized']]);
  assert.ok(pi.routing.attempts[0].latency_ms >= 400, `latency ${pi.routing.attempts[0].latency_ms}`);
});

test('metrics per processor', async () => {
  // Attempts are recorded just after each response: poll briefly.
  let r;
  for (let i = 0; i < 20; i++) {
    r = await api('GET', '/v1/routing/metrics?window=3600');
    assert.equal(r.status, 200, r.text);
    if (r.json.processors.sandbox_b?.recovered_by_retry >= 1 && r.json.processors.sandbox_slow) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const m = r.json.processors;
  assert.ok(m.sandbox_down.errors >= 1);
  assert.equal(m.sandbox_down.authorized, 0);
  assert.ok(m.sandbox_b.recovered_by_retry >= 1);
  assert.ok(m.sandbox_a.attempts >= m.sandbox_a.authorized);
  assert.ok(m.sandbox_a.authorization_rate > 0 && m.sandbox_a.authorization_rate <= 1);
  assert.equal(typeof m.sandbox_a.latency_ms.p50, 'number');
  assert.ok(m.sandbox_a.latency_ms.p95 >= m.sandbox_a.latency_ms.p50);
  const bad = await api('GET', '/v1/routing/metrics?window=abc');
  assert.equal(bad.status, 400);
});

test('test and live are kept apart; promote copies a test set into live as a draft', { skip: !LIVE_KEY && 'no live key configured' }, async () => {
  const testSet = await api('POST', '/v1/routing/rulesets', { ruleset: { name: 'to promote', default: { route: ['sandbox_a'] } } });
  assert.equal(testSet.status, 200, testSet.text);
  const viaTest = await api('POST', `/v1/routing/rulesets/${testSet.json.id}/promote`);
  assert.equal(viaTest.status, 400, 'promotion writes to live: it needs a live key');
  // Live mode has no active set until one is activated.
  const live = { amount: '1000', currency: 'usd', confirm: 'true', 'payment_method_data[type]': 'card',
    'payment_method_data[card][number]': '4242424242424242', 'payment_method_data[card][exp_month]': '12',
    'payment_method_data[card][exp_year]': '2034', 'payment_method_data[card][cvc]': '592' };
  const noSet = await api('POST', '/v1/payment_intents', live, { form: true, key: LIVE_KEY });
  assert.equal(noSet.status, 400, noSet.text);
  assert.equal(noSet.json.error.code, 'no_active_ruleset');
  // A set naming test-only processors cannot be promoted.
  const notLive = await api('POST', `/v1/routing/rulesets/${activeId}/promote`, undefined, { key: LIVE_KEY });
  assert.equal(notLive.status, 400, notLive.text);
  assert.ok(notLive.json.error.issues.some((i) => i.code === 'unknown_processor'));
  const p = await api('POST', `/v1/routing/rulesets/${testSet.json.id}/promote`, undefined, { key: LIVE_KEY });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.json.status, 'draft');
  assert.equal(p.json.livemode, true);
  assert.equal(p.json.promoted_from, testSet.json.id);
  assert.notEqual(p.json.id, testSet.json.id);
  const liveList = await api('GET', '/v1/routing/rulesets', undefined, { key: LIVE_KEY });
  assert.deepEqual(liveList.json.data.map((r) => r.id), [p.json.id], 'only live sets in live mode');
  assert.equal((await api('GET', `/v1/routing/rulesets/${p.json.id}`)).status, 404, 'invisible to test keys');
  const act = await api('POST', `/v1/routing/rulesets/${p.json.id}/activate`, undefined, { key: LIVE_KEY });
  assert.equal(act.json.status, 'active');
  const testActive = await api('GET', `/v1/routing/rulesets/${activeId}`);
  assert.equal(testActive.json.status, 'active', 'activating in live leaves test alone');
  // Test payment methods are test-mode only.
  const pm = await api('POST', '/v1/payment_intents', { amount: '1000', currency: 'usd', confirm: 'true', payment_method: 'pm_card_visa' }, { form: true, key: LIVE_KEY });
  assert.equal(pm.status, 400);
  assert.equal(pm.json.error.param, 'payment_method');
  // A live payment reaches the live sandbox_a, never the test one.
  const testA = await stats('sandbox_a');
  const paid = await api('POST', '/v1/payment_intents', live, { form: true, key: LIVE_KEY });
  assert.equal(paid.status, 200, paid.text);
  assert.equal(paid.json.livemode, true);
  assert.equal(paid.json.status, 'succeeded');
  assert.equal(paid.json.routing.ruleset, p.json.id);
  assert.deepEqual(await stats('sandbox_a'), testA, 'the test processor saw nothing');
  // Payments are invisible across modes.
  assert.equal((await api('GET', `/v1/payment_intents/${paid.json.id}`)).status, 404);
  const pi = await stripe.paymentIntents.create({ amount: 100, currency: 'usd' });
  assert.equal((await api('GET', `/v1/payment_intents/${pi.id}`, undefined, { key: LIVE_KEY })).status, 404);
  const sbx = await api('GET', '/v1/sandbox/processors/sandbox_a', undefined, { key: LIVE_KEY });
  assert.equal(sbx.status, 404, 'the sandbox dashboard is test mode only');
});

test('a publishable key may only preview', async () => {
  for (const [m, p] of [['POST', '/v1/payment_intents'], ['GET', '/v1/routing/rulesets'], ['GET', '/v1/routing/metrics'], ['POST', '/v1/refunds']]) {
    const r = await api(m, p, m === 'POST' ? { amount: '1' } : undefined, { key: PK, form: true });
    assert.ok(r.status === 401 || r.status === 403, `${m} ${p}: ${r.status}`);
    assert.ok(r.json.error.type);
  }
});

test('back and forth between two sets: each payment uses the set active when it started', async () => {
  const other = await api('POST', '/v1/routing/rulesets', { ruleset: { name: 'all to c', default: { route: ['sandbox_c'] } } });
  assert.equal(other.status, 200, other.text);
  const pay = () => stripe.paymentIntents.create({ amount: 100, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
  for (const [id, processor] of [[other.json.id, 'sandbox_c'], [activeId, 'sandbox_a'], [other.json.id, 'sandbox_c'], [activeId, 'sandbox_a']]) {
    const a = await api('POST', `/v1/routing/rulesets/${id}/activate`);
    assert.equal(a.status, 200, a.text);
    const pi = await pay();
    assert.equal(pi.routing.ruleset, id);
    assert.equal(pi.processor_details.processor, processor);
  }
});

test('many rule sets over time: payments route with the active one, whatever the worker has compiled before', { skip: !LIVE_KEY && 'no live key configured' }, async () => {
  // Test mode routes with its set; then live mode goes through more sets
  // than the worker keeps compiled; then test mode again with the same set.
  const pay = () => stripe.paymentIntents.create({ amount: 100, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
  assert.equal((await pay()).routing.ruleset, activeId);
  const live = { amount: '1000', currency: 'usd', confirm: 'true', 'payment_method_data[type]': 'card',
    'payment_method_data[card][number]': '4242424242424242', 'payment_method_data[card][exp_month]': '12',
    'payment_method_data[card][exp_year]': '2034', 'payment_method_data[card][cvc]': '592' };
  for (let i = 0; i < 70; i++) {
    const route = i % 2 ? ['sandbox_a', 'sandbox_b'] : ['sandbox_b', 'sandbox_a'];
    const c = await api('POST', '/v1/routing/rulesets', { ruleset: { name: `live ${i}`, default: { route } } }, { key: LIVE_KEY });
    assert.equal(c.status, 200, c.text);
    assert.equal((await api('POST', `/v1/routing/rulesets/${c.json.id}/activate`, undefined, { key: LIVE_KEY })).status, 200);
    const paid = await api('POST', '/v1/payment_intents', live, { form: true, key: LIVE_KEY });
    assert.equal(paid.status, 200, paid.text);
    assert.equal(paid.json.routing.ruleset, c.json.id);
    assert.equal(paid.json.processor_details.processor, route[0]);
  }
  const again = await pay();
  assert.equal(again.status, 'succeeded');
  assert.equal(again.routing.ruleset, activeId);
  assert.equal(again.processor_details.processor, 'sandbox_a');
});

test('a sandbox processor called directly: its own answer, test mode only', async () => {
  const body = { amount: '1999', currency: 'usd', confirm: 'true', payment_method: 'pm_card_visa' };
  const before = await stats('sandbox_a');
  const r = await api('POST', '/v1/sandbox/processors/sandbox_a/authorize', body, { form: true });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'captured');
  assert.match(r.json.reference, /^sbx_/);
  const after = await stats('sandbox_a');
  assert.equal(after.processed.authorize, (before.processed.authorize ?? 0) + 1);
  const raw = await api('POST', '/v1/sandbox/processors/sandbox_a/authorize', {
    amount: '1999', currency: 'usd', 'payment_method_data[type]': 'card', 'payment_method_data[card][number]': '4000000000000002',
    'payment_method_data[card][exp_month]': '12', 'payment_method_data[card][exp_year]': '2034', 'payment_method_data[card][cvc]': '123',
  }, { form: true });
  assert.equal(raw.status, 402, raw.text);
  assert.ok(!raw.text.includes('4000000000000002'), 'no card number in the answer');
  assert.equal((await api('POST', '/v1/sandbox/processors/nope/authorize', body, { form: true })).status, 404);
  assert.equal((await api('POST', '/v1/sandbox/processors/sandbox_a/authorize', { amount: '1' }, { form: true })).status, 400);
  assert.equal((await api('GET', '/v1/sandbox/processors/sandbox_a/authorize')).status, 405);
  assert.equal((await api('POST', '/v1/sandbox/processors/sandbox_a/authorize', body, { form: true, key: PK })).status, 403);
  if (LIVE_KEY) {
    assert.equal((await api('POST', '/v1/sandbox/processors/sandbox_a/authorize', body, { form: true, key: LIVE_KEY })).status, 404);
  }
});

test('rule-set lists are paginated the Stripe way, without rules unless asked', async () => {
  const made = [];
  for (const i of [1, 2, 3]) {
    const c = await api('POST', '/v1/routing/rulesets', { ruleset: { name: `page ${i}`, default: { route: ['sandbox_a'] } } });
    assert.equal(c.status, 200, c.text);
    made.push(c.json.id);
  }
  const first = await api('GET', '/v1/routing/rulesets?limit=2');
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.data.length, 2);
  assert.equal(first.json.has_more, true);
  assert.ok(first.json.data.every((r) => !('ruleset' in r)), 'no rule content unless asked');
  // Newest first: the last made leads.
  assert.equal(first.json.data[0].id, made[2]);
  const next = await api('GET', `/v1/routing/rulesets?limit=2&starting_after=${first.json.data[1].id}`);
  assert.equal(next.json.data[0].id, made[0]);
  const back = await api('GET', `/v1/routing/rulesets?limit=1&ending_before=${next.json.data[0].id}`);
  assert.deepEqual(back.json.data.map((r) => r.id), [made[1]]);
  assert.equal(back.json.has_more, true);
  const all = [];
  let after;
  for (;;) {
    const page = await api('GET', `/v1/routing/rulesets?limit=3&expand[]=data.ruleset${after ? `&starting_after=${after}` : ''}`);
    assert.ok(page.json.data.every((r) => r.ruleset && r.ruleset.default), 'expand[]=data.ruleset gives the rules');
    all.push(...page.json.data.map((r) => r.id));
    if (!page.json.has_more) break;
    after = page.json.data.at(-1).id;
  }
  assert.equal(new Set(all).size, all.length, 'no item twice');
  for (const id of made) assert.ok(all.includes(id));
  for (const [q, param] of [['limit=0', 'limit'], ['limit=101', 'limit'], ['starting_after=rs_nope', 'starting_after'], ['foo=1', 'foo']]) {
    const r = await api('GET', `/v1/routing/rulesets?${q}`);
    assert.equal(r.status, 400, `${q} -> ${r.text}`);
    assert.equal(r.json.error.param, param);
  }
});
