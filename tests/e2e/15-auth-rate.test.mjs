// Routing by authorization rate (`auth_rate`), end to end: a rule set whose
// default picks between two sandboxes by their recent authorization rate.
// Warm-up: both get rated, and with equal rates the first listed takes the
// traffic but the explored share; a decline spike at the first
// (`POST /v1/sandbox/processors/:id decline_share=1`) moves the traffic to
// the second within the rates' window, explored payments still reaching
// the first; once the spike ends and its declines leave the window, the
// traffic comes back. Each payment's `routing.auth_rate` is checked against
// the candidates' rates it shows, and `GET /v1/routing/rates` against the
// attempts the test made.
//
// scripts/e2e.sh configures the pair (`sandbox_rate_a`, `sandbox_rate_b`,
// routed to by this test only, so that no other test's attempts count in
// their rates) and a rates window of 60 s refreshed every second. The
// assertions have wide margins: which payments are explored depends on
// their (random) ids, every other pick on the rates alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api } from './helpers.mjs';

const A = 'sandbox_rate_a';
const B = 'sandbox_rate_b';
const MIN_SAMPLE = 20;
const EXPLORE = 0.1;
const RUN = `ar${Date.now().toString(36)}`;
/** Payments in flight at once, and the least time each worker takes per payment (at most ~15 a second). */
const CONCURRENCY = 3;
const PACE_MS = 200;
/** Payments looked at in each phase's settled state. */
const SAMPLE = 150;

const CONFIGURED = JSON.parse(process.env.E2E_PROCESSORS ?? '[]').map((p) => p.id);
const skip = !(CONFIGURED.includes(A) && CONFIGURED.includes(B))
  && `${A} and ${B} are not configured (scripts/e2e.sh configures them)`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log('15-auth-rate:', ...a);

let previousActive;
let windowS;
let refreshS;
/** Every payment made: { start, end, status, id, info (routing.auth_rate), attempts }. */
const made = [];

/** The mode's active rule set, through every page of the list. */
async function activeRuleset() {
  let after_;
  for (;;) {
    const r = await api('GET', `/v1/routing/rulesets?limit=100${after_ ? `&starting_after=${after_}` : ''}`);
    assert.equal(r.status, 200, r.text);
    const found = r.json.data.find((x) => x.status === 'active');
    if (found) return found.id;
    if (!r.json.has_more || !r.json.data.length) return undefined;
    after_ = r.json.data[r.json.data.length - 1].id;
  }
}

async function setDeclineShare(id, share) {
  const r = await api('POST', `/v1/sandbox/processors/${id}`, { decline_share: String(share) }, { form: true });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.decline_share, share);
  return r.json;
}

/** One payment (create + confirm); its answer is checked and kept. */
async function pay(i) {
  const start = Date.now();
  const r = await api('POST', '/v1/payment_intents', {
    amount: String(1000 + (i % 50)), currency: 'usd', confirm: 'true', payment_method: 'pm_card_visa',
    'metadata[run]': RUN,
  }, { form: true });
  const end = Date.now();
  const pi = r.status === 200 ? r.json : r.json?.error?.payment_intent;
  assert.ok(pi?.routing?.auth_rate, `payment ${i}: ${r.status} ${r.text}`);
  const p = { start, end, status: r.status, id: pi.id, info: pi.routing.auth_rate, attempts: pi.routing.attempts };
  checkPayment(p, r);
  made.push(p);
  return p;
}

/**
 * What a payment's `routing.auth_rate` must say (docs/rules.md): the
 * candidates in the listed order with the counts it saw; a rate only for a
 * candidate rated (min_sample attempts in its group); a best_rate pick is
 * the best rated candidate (the first listed on a tie); an explored pick is
 * another; with no candidate rated, the first listed. The one attempt (no
 * fallback) is at the processor picked.
 */
function checkPayment(p, r) {
  const { info } = p;
  const what = `${p.id}: ${JSON.stringify(info)}`;
  assert.deepEqual(info.candidates.map((c) => c.processor), [A, B], what);
  assert.equal(info.min_sample, MIN_SAMPLE, what);
  assert.equal(info.explore, EXPLORE, what);
  assert.equal(info.explored, info.reason === 'explored', what);
  for (const c of info.candidates) {
    assert.ok(Number.isInteger(c.attempts) && Number.isInteger(c.authorized) && c.authorized <= c.attempts, what);
    if (c.group === null) {
      assert.equal(c.rate, null, what);
    } else {
      assert.ok(['brand_country_funding', 'brand_country', 'brand', 'all'].includes(c.group), what);
      assert.ok(c.attempts >= MIN_SAMPLE, what);
      // Exactly: the payment's stored JSON is read back by serde_json with
      // float_roundtrip, so a rate survives storage to the last bit.
      assert.equal(c.rate, c.authorized / c.attempts, what);
    }
  }
  const rated = info.candidates.filter((c) => c.group !== null);
  // The best: the highest rate (compared exactly, as the engine does), the
  // first listed among equals.
  const beats = (c, b) => c.authorized * b.attempts > b.authorized * c.attempts;
  const best = rated.reduce((b, c) => (b === null || beats(c, b) ? c : b), null);
  switch (info.reason) {
    case 'min_sample':
      assert.equal(rated.length, 0, what);
      assert.equal(info.picked, A, what);
      break;
    case 'best_rate':
      assert.equal(info.picked, best?.processor, what);
      break;
    case 'explored':
      assert.ok(best && info.picked !== best.processor, what);
      break;
    default:
      assert.fail(`unknown reason: ${what}`);
  }
  assert.equal(p.attempts.length, 1, `${p.id}: no fallback: one attempt`);
  assert.equal(p.attempts[0].processor, info.picked, what);
  if (p.attempts[0].outcome === 'authorized') {
    assert.equal(r.status, 200, r.text);
  } else {
    assert.equal(p.attempts[0].outcome, 'soft_decline', JSON.stringify(p.attempts));
    assert.equal(r.status, 402, r.text);
    assert.equal(r.json.error.decline_code, 'try_again_later', r.text);
  }
}

/** Pays, CONCURRENCY at a time, until `done(paymentsOfThisCall)` or `deadline` (ms since the epoch). */
async function drive(done, deadline, what) {
  const got = [];
  let i = made.length;
  let stop = false;
  const worker = async () => {
    try {
      while (!stop) {
        const t0 = Date.now();
        if (t0 > deadline) throw new Error(`${what}: not reached by the deadline (${got.length} payments: ${fmt(shares(got))})`);
        got.push(await pay(i++));
        if (done(got)) { stop = true; break; }
        const rest = PACE_MS - (Date.now() - t0);
        if (rest > 0) await sleep(rest);
      }
    } finally {
      stop = true;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return got.sort((x, y) => x.end - y.end);
}

/** Shares of a list of payments, for the log and the assertions. */
function shares(ps) {
  const n = ps.length;
  if (!n) return { n, a: 0, b: 0, explored: 0, declined: 0, perSecond: 0 };
  const count = (f) => ps.filter(f).length;
  return {
    n,
    a: count((p) => p.info.picked === A) / n,
    b: count((p) => p.info.picked === B) / n,
    explored: count((p) => p.info.explored) / n,
    declined: count((p) => p.attempts[0].outcome !== 'authorized') / n,
    perSecond: n / Math.max(0.001, (ps[n - 1].end - ps[0].start) / 1000),
  };
}
const fmt = (s) => `${s.n} payments (${s.perSecond.toFixed(1)}/s): ${(100 * s.a).toFixed(1)} % to ${A}, `
  + `${(100 * s.b).toFixed(1)} % to ${B}, ${(100 * s.explored).toFixed(1)} % explored, ${(100 * s.declined).toFixed(1)} % declined`;

/**
 * `GET /v1/routing/rates` after the traffic stopped: per processor, its
 * attempts and authorizations summed over the rows, within what the test
 * made in the window. The window is whole minutes, from the minute
 * `window_seconds` before the table was read: it holds every attempt
 * started in the last `window_seconds` (before the read) and none that
 * ended more than 2 x `window_seconds` before it (1 s of margin each way:
 * `computed_at` is in whole seconds).
 */
async function checkRates(what) {
  const lastEnd = Math.max(...made.map((p) => p.end));
  // Recorded within ~250 ms of each answer; a read at least one refresh later.
  await sleep(Math.max(1500, refreshS * 1000 + 500));
  const r = await api('GET', '/v1/routing/rates');
  assert.equal(r.status, 200, r.text);
  const t = r.json;
  assert.equal(t.object, 'routing_rates');
  assert.equal(t.livemode, false);
  assert.ok(t.computed_at * 1000 + 1000 > lastEnd, `${what}: rates read before the last payment: ${t.computed_at}`);
  const readMs = t.computed_at * 1000;
  const figures = {};
  for (const id of [A, B]) {
    const rows = t.rates.filter((x) => x.processor === id);
    for (const x of rows) {
      assert.deepEqual([x.brand, x.country, x.funding], ['visa', 'US', 'credit'], JSON.stringify(x));
    }
    const sum = (k) => rows.reduce((n, x) => n + x[k], 0);
    const mine = (p) => p.attempts[0].processor === id;
    const ok = (p) => p.attempts[0].outcome === 'authorized';
    const surely = made.filter((p) => mine(p) && p.start >= readMs + 1000 - t.window_seconds * 1000);
    const maybe = made.filter((p) => mine(p) && p.end >= readMs - 2 * t.window_seconds * 1000 - 1000);
    const got = { attempts: sum('attempts'), authorized: sum('authorized') };
    const bounds = {
      attempts: [surely.length, maybe.length],
      authorized: [surely.filter(ok).length, maybe.filter(ok).length],
      declined: [surely.filter((p) => !ok(p)).length, maybe.filter((p) => !ok(p)).length],
    };
    figures[id] = { ...got, bounds };
    for (const k of ['attempts', 'authorized']) {
      assert.ok(got[k] >= bounds[k][0] && got[k] <= bounds[k][1], `${what}: ${id} ${k} ${got[k]} not in ${bounds[k]}`);
    }
    const declined = got.attempts - got.authorized;
    assert.ok(declined >= bounds.declined[0] && declined <= bounds.declined[1],
      `${what}: ${id} declines ${declined} not in ${bounds.declined}`);
  }
  log(`${what}: GET /v1/routing/rates (window ${t.window_seconds} s): ${JSON.stringify(figures)}`);
  return figures;
}

before(async () => {
  if (skip) return;
  const r = await api('GET', '/v1/routing/rates');
  assert.equal(r.status, 200, r.text);
  windowS = r.json.window_seconds;
  refreshS = r.json.refresh_seconds;
  assert.ok(windowS <= 120, `the rates' window is ${windowS} s: scripts/e2e.sh sets SWITCHYARD_RATES_WINDOW_SECONDS=60`);
  for (const id of [A, B]) await setDeclineShare(id, 0);
  // A run just before on the same worker may have left declines in the
  // window: wait until they are out of it.
  const clean = Date.now() + (2 * windowS + refreshS) * 1000 + 10_000;
  for (;;) {
    const t = await api('GET', '/v1/routing/rates');
    const declined = t.json.rates.filter((x) => [A, B].includes(x.processor) && x.authorized < x.attempts);
    if (!declined.length) break;
    assert.ok(Date.now() < clean, `declines still in the window: ${JSON.stringify(declined)}`);
    await sleep(2_000);
  }
  previousActive = await activeRuleset();
  const rs = await api('POST', '/v1/routing/rulesets', {
    ruleset: {
      name: `auth rate ${RUN}`,
      rules: [],
      default: { auth_rate: { processors: [A, B], explore: EXPLORE, min_sample: MIN_SAMPLE }, fallback: [] },
    },
  });
  assert.equal(rs.status, 200, rs.text);
  const a = await api('POST', `/v1/routing/rulesets/${rs.json.id}/activate`);
  assert.equal(a.status, 200, a.text);
});

after(async () => {
  if (skip) return;
  for (const id of [A, B]) await api('POST', `/v1/sandbox/processors/${id}`, { decline_share: '0' }, { form: true });
  if (previousActive) await api('POST', `/v1/routing/rulesets/${previousActive}/activate`);
});

const bothRated = (p) => p.info.candidates.every((c) => c.group !== null);
const PHASES = {};

test('warm-up: both get rated; at equal rates the first listed takes all but the explored share', { skip, timeout: 180_000 }, async () => {
  const t0 = Date.now();
  // First every payment goes to the first listed (no one rated), then the
  // second gets the explored share until it is rated too.
  await drive((got) => got.length >= 20 && got.slice(-20).every(bothRated), t0 + 120_000, 'both rated');
  const ratedAfter = (Date.now() - t0) / 1000;
  const sample = await drive((got) => got.length >= SAMPLE, Date.now() + 120_000, 'warm-up sample');
  const s = shares(sample);
  log(`warm-up: both rated after ${ratedAfter.toFixed(1)} s, ${made.length - sample.length} payments; then ${fmt(s)}`);
  PHASES.warmup = s;
  // No declines: equal rates (1.0), so every pick not explored is the first listed.
  for (const p of sample) {
    assert.equal(p.attempts[0].outcome, 'authorized');
    assert.equal(p.info.picked, p.info.explored ? B : A, JSON.stringify(p.info));
  }
  assert.ok(s.a >= 0.75, fmt(s));
  assert.ok(s.explored > 0, `some payments explored: ${fmt(s)}`);
});

test('degrade: a decline spike at the first moves the traffic to the second; explored payments still reach the first', { skip, timeout: 300_000 }, async () => {
  assert.ok(PHASES.warmup, 'warm-up done');
  const spike = await setDeclineShare(A, 1);
  assert.equal(spike.decline_code, 'try_again_later');
  const t0 = Date.now();
  const settled = t0 + (windowS + refreshS) * 1000 + 5_000;
  // Until the window has passed since the spike began.
  const moving = await drive(() => Date.now() >= settled, settled + 60_000, 'the window after the spike');
  const firstMoved = moving.find((p) => p.info.reason === 'best_rate' && p.info.picked === B);
  assert.ok(firstMoved, `traffic moved to ${B} within the window: ${fmt(shares(moving))}`);
  const movedAfter = (firstMoved.end - t0) / 1000;
  const sample = await drive((got) => got.length >= SAMPLE, Date.now() + 120_000, 'degraded sample');
  const s = shares(sample);
  log(`degrade: first best_rate pick of ${B} ${movedAfter.toFixed(1)} s after the spike; in the window: ${fmt(shares(moving))}; after it: ${fmt(s)}`);
  PHASES.degrade = s;
  assert.ok(movedAfter <= windowS + refreshS + 5, `moved ${movedAfter} s after the spike`);
  assert.ok(s.b >= 0.8, `at least 80 % to ${B}: ${fmt(s)}`);
  for (const p of sample) {
    if (p.info.explored) {
      // Explored: the first, which declines them all.
      assert.equal(p.info.picked, A, JSON.stringify(p.info));
      assert.equal(p.attempts[0].outcome, 'soft_decline');
      assert.equal(p.status, 402);
    } else {
      assert.equal(p.info.picked, B, JSON.stringify(p.info));
      assert.equal(p.attempts[0].outcome, 'authorized');
      const [ca, cb] = p.info.candidates;
      assert.ok(ca.group === null || cb.rate > ca.rate, JSON.stringify(p.info));
    }
  }
  assert.ok(sample.some((p) => p.info.explored), `explored payments still reach ${A}: ${fmt(s)}`);
  const rates = await checkRates('after the spike');
  assert.ok(rates[A].attempts > rates[A].authorized, `${A}'s declines counted: ${JSON.stringify(rates[A])}`);
  assert.equal(rates[B].authorized, rates[B].attempts, `${B} declines nothing`);
});

test('recover: once the spike ends and its declines leave the window, the traffic comes back to the first', { skip, timeout: 420_000 }, async () => {
  assert.ok(PHASES.degrade, 'degrade done');
  await setDeclineShare(A, 0);
  const t0 = Date.now();
  // The window is whole minutes: the last decline leaves it at most
  // 2 x window later, then one refresh.
  const deadline = t0 + (2 * windowS + refreshS) * 1000 + 30_000;
  const waiting = await drive((got) => got.some((p) => p.info.reason === 'best_rate' && p.info.picked === A), deadline, `traffic back to ${A}`);
  const back = waiting.find((p) => p.info.reason === 'best_rate' && p.info.picked === A);
  const backAfter = (back.end - t0) / 1000;
  for (const p of waiting) {
    if (p.start > t0) assert.equal(p.attempts[0].outcome, 'authorized', 'the spike is over');
  }
  const sample = await drive((got) => got.length >= SAMPLE, Date.now() + 120_000, 'recovered sample');
  const s = shares(sample);
  log(`recover: first best_rate pick of ${A} ${backAfter.toFixed(1)} s after the spike ended; until then: ${fmt(shares(waiting))}; after: ${fmt(s)}`);
  PHASES.recover = s;
  assert.ok(s.a >= 0.75, `a majority back to ${A} (at least 75 %): ${fmt(s)}`);
  for (const p of sample) {
    assert.equal(p.attempts[0].outcome, 'authorized');
    assert.equal(p.info.picked, p.info.explored ? B : A, JSON.stringify(p.info));
  }
  const rates = await checkRates('after the recovery');
  assert.equal(rates[B].authorized, rates[B].attempts);
  log(`phases: ${JSON.stringify(PHASES)}`);
});
