// GET /v1/routing/metrics after a scripted run of payments with known
// outcomes, made concurrently: every counter equals the reference computed
// from the payments' own answers (`routing.attempts`), exactly; the
// latency percentiles agree with the exact nearest-rank percentiles within
// the histogram's stated error (1/32, exact below 32 ms). The run routes
// by a rule of its own name, so other tests' payments are filtered out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api } from './helpers.mjs';
import {
  metricsReference as reference, nearestRank, latencyTolerance, activateRunRules, runConcurrently,
} from './metrics-reference.mjs';

const RUN = `m${Date.now().toString(36)}`;
const RULE = `${RUN} all`;
const PMS = {
  pm_card_visa: 'visa',
  pm_card_mastercard: 'mastercard',
  pm_card_visa_debit: 'visa',
  pm_card_fr: 'visa',
  pm_card_chargeDeclinedInsufficientFunds: 'visa',
  pm_card_chargeDeclinedStolenCard: 'visa',
  pm_card_authenticationRequired: 'visa',
  pm_card_amex: 'amex',
};
const PAYMENTS = 96;
const CONCURRENCY = 12;

let previousActive;
let doneAt;
const made = [];

before(async () => {
  previousActive = await activateRunRules(api, { name: `metrics ${RUN}`, run: RUN, rule: RULE });
  const pms = Object.keys(PMS);
  await runConcurrently(PAYMENTS, CONCURRENCY, async (i) => {
    const pm = pms[i % pms.length];
    const amount = 1000 + i;
    const currency = i % 3 === 0 ? 'eur' : 'usd';
    const r = await api('POST', '/v1/payment_intents', {
      amount, currency, confirm: 'true', payment_method: pm,
      'metadata[run]': RUN,
    }, { form: true });
    const pi = r.status === 200 ? r.json : r.json?.error?.payment_intent;
    assert.ok(pi?.routing, `payment ${i}: ${r.status} ${r.text}`);
    assert.equal(pi.routing.rule, RULE);
    made.push({ pm, brand: PMS[pm], amount, currency, attempts: pi.routing.attempts });
  });
  doneAt = Date.now();
});

after(async () => {
  if (previousActive) await api('POST', `/v1/routing/rulesets/${previousActive}/activate`);
});

function assertFigures(got, want, what) {
  for (const k of ['attempts', 'authorized', 'soft_declines', 'hard_declines', 'authentication_required',
    'not_processed', 'unknown', 'skipped', 'payments', 'recovered_by_retry']) {
    assert.equal(got[k], want[k], `${what}: ${k}`);
  }
  assert.equal(got.errors, want.not_processed + want.unknown, `${what}: errors`);
  for (const k of ['amount', 'authorized_amount', 'recovered_amount']) {
    assert.deepEqual(got[k], want[k], `${what}: ${k}`);
  }
  assert.equal(got.authorization_rate, want.attempts ? want.authorized / want.attempts : null, `${what}: rate`);
  for (const [p, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]]) {
    if (!want.latencies.length) { assert.equal(got.latency_ms[p], null); continue; }
    const exact = nearestRank(want.latencies, q);
    const tolerance = latencyTolerance(exact);
    assert.ok(Math.abs(got.latency_ms[p] - exact) <= tolerance, `${what}: ${p} ${got.latency_ms[p]} vs exact ${exact}`);
  }
  const codes = Object.entries(want.codes).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
  assert.deepEqual(got.decline_codes.map((c) => [c.code, c.count]), codes, `${what}: decline codes`);
}

/** Polls until the run's attempts are all counted (recorded ~250 ms after each answer). */
async function metrics(query, expectAttempts) {
  let r;
  for (let i = 0; i < 50; i++) {
    r = await api('GET', `/v1/routing/metrics?${query}`);
    assert.equal(r.status, 200, r.text);
    if (r.json.totals.attempts + r.json.totals.skipped >= expectAttempts) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  return r.json;
}

test('the metrics of a concurrent scripted run equal the reference exactly', async () => {
  assert.equal(made.length, PAYMENTS);
  const ref = reference(made);
  const all = ref['*'];
  assert.ok(all.not_processed > 0 && all.authorized > 0 && all.soft_declines > 0 && all.hard_declines > 0
    && all.authentication_required > 0 && all.recovered_by_retry > 0, JSON.stringify(all));
  const m = await metrics(`window=3600&rule=${encodeURIComponent(RULE)}`, all.attempts + all.skipped);
  assert.equal(m.object, 'routing_metrics');
  assert.deepEqual(m.filters, { rule: RULE });
  assertFigures(m.totals, all, 'totals');
  for (const [p, want] of Object.entries(ref)) {
    if (p === '*') continue;
    if (want.attempts === 0) { assert.equal(m.processors[p], undefined, p); continue; }
    assertFigures(m.processors[p], want, p);
    const g = m.groups.find((x) => x.key.processor === p);
    assertFigures(g, want, `group ${p}`);
  }
  assert.deepEqual(Object.keys(m.processors).sort(), Object.keys(ref).filter((p) => p !== '*' && ref[p].attempts > 0).sort());
});

test('group by brand and currency, filter by brand, and a per-minute series add up', async () => {
  const all = reference(made)['*'];
  const m = await metrics(`window=3600&rule=${encodeURIComponent(RULE)}&group_by[]=brand&group_by[]=currency`, all.attempts + all.skipped);
  assert.deepEqual(m.group_by, ['brand', 'currency']);
  for (const brand of new Set(made.map((p) => p.brand))) {
    for (const currency of ['usd', 'eur']) {
      const want = reference(made.filter((p) => p.brand === brand && p.currency === currency))['*'];
      const g = m.groups.find((x) => x.key.brand === brand && x.key.currency === currency);
      if (!want.attempts && !want.skipped) { assert.equal(g, undefined); continue; }
      assertFigures(g, want, `${brand}/${currency}`);
    }
  }
  const visa = await metrics(`window=3600&rule=${encodeURIComponent(RULE)}&brand=VISA`, 0);
  assertFigures(visa.totals, reference(made.filter((p) => p.brand === 'visa'))['*'], 'brand=visa');
  const s = await metrics(`window=3600&rule=${encodeURIComponent(RULE)}&bucket=minute&group_by[]=processor`, 0);
  assert.equal(s.bucket, 'minute');
  assert.equal(s.end - s.start, s.groups[0].series.length * 60);
  for (const g of s.groups) {
    const sum = (k) => g.series.reduce((n, p) => n + p[k], 0);
    for (const k of ['attempts', 'authorized', 'soft_declines', 'hard_declines', 'errors', 'skipped', 'payments', 'recovered_by_retry']) {
      assert.equal(sum(k), g[k], `${g.key.processor} series ${k}`);
    }
  }
  // Hour and day buckets hold the same counts (rolled up as written).
  for (const bucket of ['hour', 'day']) {
    const h = await metrics(`window=3600&rule=${encodeURIComponent(RULE)}&bucket=${bucket}`, 0);
    assertFigures(h.totals, all, `bucket=${bucket}`);
  }
  // A 30-day window counts them too.
  const month = await metrics(`window=2592000&rule=${encodeURIComponent(RULE)}`, 0);
  assertFigures(month.totals, all, '30 days');
});

test('once the shards have rolled their minutes up, the rollup gives the same figures', async () => {
  // scripts/e2e.sh sets SWITCHYARD_METRICS_ROLLUP_SECONDS=1: each shard
  // rolls its closed minutes up every second. Wait for the minute of the
  // last payment to close.
  const wait = 60_000 - (Date.now() % 60_000) + 4_000;
  await new Promise((res) => setTimeout(res, wait));
  const ref = reference(made);
  const all = ref['*'];
  const m = await metrics(`window=3600&rule=${encodeURIComponent(RULE)}`, all.attempts + all.skipped);
  // Every shard's counts of the run are in the rollup now.
  assert.ok(m.rolled_up_through * 1000 >= doneAt, `rolled up through ${m.rolled_up_through}, run done at ${doneAt}`);
  assertFigures(m.totals, all, 'rolled up: totals');
  for (const [p, want] of Object.entries(ref)) {
    if (p !== '*' && want.attempts > 0) assertFigures(m.processors[p], want, `rolled up: ${p}`);
  }
  for (const bucket of ['hour', 'day']) {
    const h = await metrics(`window=3600&rule=${encodeURIComponent(RULE)}&bucket=${bucket}&group_by[]=brand`, 0);
    assertFigures(h.totals, all, `rolled up: bucket=${bucket}`);
    for (const brand of new Set(made.map((x) => x.brand))) {
      const g = h.groups.find((x) => x.key.brand === brand);
      assertFigures(g, reference(made.filter((x) => x.brand === brand))['*'], `rolled up: ${bucket} ${brand}`);
    }
  }
  const month = await metrics(`window=2592000&rule=${encodeURIComponent(RULE)}&group_by[]=funding`, 0);
  assertFigures(month.totals, all, 'rolled up: 30 days');
});

test('bad parameters are refused by name, Stripe-shaped', async () => {
  for (const [q, param] of [
    ['window=abc', 'window'], ['window=0', 'window'], ['bucket=week', 'bucket'],
    ['group_by[]=colour', 'group_by'], ['colour=red', 'colour'],
    ['window=2592000&bucket=minute', 'bucket'],
  ]) {
    const r = await api('GET', `/v1/routing/metrics?${q}`);
    assert.equal(r.status, 400, q);
    assert.equal(r.json.error.type, 'invalid_request_error', q);
    assert.equal(r.json.error.param, param, q);
  }
});
