// The processor dashboard's pure parts (www/lib/format.js, metrics.js,
// poller.js): amounts per currency, the bucket of a window, the query
// string of the filters, an answer as chart series and rows, and refreshes
// that never overlap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { currencyDecimals, formatAmount, formatAmounts, formatRate, formatMs, formatCount } from '../../www/lib/format.js';
import {
  WINDOWS, bucketFor, pointsFor, metricsQuery, activeFilters, bucketStarts, chartSeries,
  processorRows, ruleRows, totalsOf, describeCircuit,
} from '../../www/lib/metrics.js';
import { createPoller } from '../../www/lib/poller.js';

const sp = (s) => s.replace(/\u00a0/g, ' ');

test('amounts in minor units take their currency\'s decimals', () => {
  assert.equal(currencyDecimals('usd'), 2);
  assert.equal(currencyDecimals('JPY'), 0);
  assert.equal(currencyDecimals('krw'), 0);
  assert.equal(currencyDecimals('bhd'), 3);
  assert.equal(currencyDecimals('kwd'), 3);
  assert.equal(currencyDecimals('isk'), 2); // Stripe's (and the worker's) minor unit, not ISO 4217's 0
  assert.equal(sp(formatAmount(123456, 'usd')), 'USD 1,234.56');
  assert.equal(sp(formatAmount(5, 'eur')), 'EUR 0.05');
  assert.equal(sp(formatAmount(1500, 'jpy')), 'JPY 1,500');
  assert.equal(sp(formatAmount(99999999, 'krw')), 'KRW 99,999,999');
  assert.equal(sp(formatAmount(1250, 'kwd')), 'KWD 1.250');
  assert.equal(sp(formatAmount(7, 'bhd')), 'BHD 0.007');
  assert.equal(sp(formatAmount(0, 'gbp')), 'GBP 0.00');
  // Exact for sums beyond a double's exact cents (no division by 100).
  assert.equal(sp(formatAmount(900719925474099, 'usd')), 'USD 9,007,199,254,740.99');
  assert.equal(formatAmount(null, 'usd'), '—');
  assert.equal(formatAmount(undefined, 'usd'), '—');
  assert.deepEqual(formatAmounts({ usd: 1050, jpy: 300, bhd: 20 }).map(sp), ['BHD 0.020', 'JPY 300', 'USD 10.50']);
  assert.deepEqual(formatAmounts({}), []);
  assert.deepEqual(formatAmounts(null), []);
});

test('rates, latencies and counts; null is a dash', () => {
  assert.equal(formatRate(0.9166666666666666), '91.7%');
  assert.equal(formatRate(1), '100.0%');
  assert.equal(formatRate(0), '0.0%');
  assert.equal(formatRate(null), '—');
  assert.equal(formatMs(41), '41 ms');
  assert.equal(formatMs(1234), '1,234 ms');
  assert.equal(formatMs(null), '—');
  assert.equal(formatCount(12345), '12,345');
  assert.equal(formatCount(0), '0');
  assert.equal(formatCount(undefined), '—');
});

test('each window gets a bucket the API accepts, with at most ~170 points', () => {
  assert.equal(bucketFor(3600), 'minute');
  assert.equal(bucketFor(86400), 'hour');
  assert.equal(bucketFor(7 * 86400), 'hour');
  assert.equal(bucketFor(30 * 86400), 'day');
  assert.equal(bucketFor(366 * 86400), 'day');
  for (const w of WINDOWS) {
    const b = bucketFor(w.seconds);
    const points = pointsFor(w.seconds, b);
    assert.ok(points <= 170, `${w.label}: ${points} points`);
    // The API refuses minute buckets beyond 2 days and more than 1500 buckets.
    assert.ok(!(b === 'minute' && w.seconds > 2 * 86400), w.label);
    assert.ok(points <= 1500, w.label);
  }
  assert.equal(pointsFor(3600, 'minute'), 61);
  assert.throws(() => bucketFor(0), RangeError);
  assert.throws(() => bucketFor('x'), RangeError);
});

test('the query string: window, bucket, group_by[], then the filters with a value', () => {
  assert.equal(metricsQuery({ window: 3600, bucket: 'minute', groupBy: ['processor'] }), 'window=3600&bucket=minute&group_by[]=processor');
  assert.equal(
    metricsQuery({ window: 86400, groupBy: ['rule'], filters: { currency: ' usd ', brand: 'visa', country: '', funding: null, rule: 'EU & cards / 3DS' } }),
    'window=86400&group_by[]=rule&brand=visa&currency=usd&rule=EU%20%26%20cards%20%2F%203DS',
  );
  // Never anything but the known filters.
  assert.equal(metricsQuery({ window: 60, filters: { key: 'sk_test_x', colour: 'red' } }), 'window=60');
  assert.deepEqual(activeFilters({ brand: 'visa', country: '  ', rule: ' r ', key: 'x' }), { brand: 'visa', rule: 'r' });
  // The API parses it back as sent.
  const q = new URLSearchParams(metricsQuery({ window: 60, bucket: 'hour', groupBy: ['processor', 'rule'], filters: { rule: 'a=b&c' } }));
  assert.deepEqual(q.getAll('group_by[]'), ['processor', 'rule']);
  assert.equal(q.get('rule'), 'a=b&c');
});

const ANSWER = {
  object: 'routing_metrics', window_seconds: 180, start: 600, end: 780, bucket: 'minute', group_by: ['processor'], filters: {},
  totals: { payments: 3, amount: { usd: 3000 }, attempts: 5, authorized: 3, authorization_rate: 0.6, skipped: 1, latency_ms: { p50: 20, p95: 40, p99: 41 }, decline_codes: [{ code: 'insufficient_funds', count: 2 }], recovered_by_retry: 1, recovered_amount: { usd: 1000 } },
  processors: {},
  groups: [
    {
      key: { processor: 'sandbox_b' }, payments: 1, amount: { usd: 1000 }, attempts: 3, authorized: 1, authorization_rate: 1 / 3,
      soft_declines: 2, hard_declines: 0, errors: 0, skipped: 0, latency_ms: { p50: 20, p95: 40, p99: 40 },
      decline_codes: [{ code: 'insufficient_funds', count: 2 }], recovered_by_retry: 1, recovered_amount: { usd: 1000 },
      series: [
        { start: 600, attempts: 0, authorization_rate: null, latency_ms: { p50: null, p95: null, p99: null } },
        { start: 660, attempts: 2, authorization_rate: 0.5, latency_ms: { p50: 20, p95: 40, p99: 40 } },
        { start: 720, attempts: 1, authorization_rate: 0, latency_ms: { p50: 21, p95: 21, p99: 21 } },
      ],
    },
    {
      key: { processor: 'sandbox_a' }, payments: 2, attempts: 2, authorized: 2, authorization_rate: 1, skipped: 1,
      latency_ms: { p50: 10, p95: 12, p99: 12 }, decline_codes: [],
      series: [
        { start: 660, attempts: 2, authorization_rate: 1, latency_ms: { p50: 10, p95: 12, p99: 12 } },
      ],
    },
  ],
};

test('an answer as chart series: a dataset per processor, a value per bucket, null where none', () => {
  assert.deepEqual(bucketStarts(ANSWER), [600, 660, 720]);
  const rate = chartSeries(ANSWER, 'authorization_rate');
  assert.deepEqual(rate.starts, [600, 660, 720]);
  assert.deepEqual(rate.datasets, [
    { processor: 'sandbox_a', data: [null, 100, null] },
    { processor: 'sandbox_b', data: [null, 50, 0] },
  ]);
  assert.deepEqual(chartSeries(ANSWER, 'p95').datasets.map((d) => d.data), [[null, 12, null], [null, 40, 21]]);
  assert.deepEqual(chartSeries(ANSWER, 'attempts', ['sandbox_b', 'sandbox_a']).datasets, [
    { processor: 'sandbox_b', data: [0, 2, 1] },
    { processor: 'sandbox_a', data: [null, 2, null] },
  ]);
  assert.equal(chartSeries(ANSWER, 'authorization_rate').datasets[1].data[1], 50);
  assert.deepEqual(chartSeries({ ...ANSWER, groups: [] }, 'p50'), { starts: [600, 660, 720], datasets: [] });
  assert.deepEqual(bucketStarts({ ...ANSWER, bucket: null }), []);
});

test('an answer as rows: per processor in the answer\'s order, per rule with the default route as null', () => {
  const rows = processorRows(ANSWER);
  assert.deepEqual(rows.map((r) => r.processor), ['sandbox_b', 'sandbox_a']);
  assert.equal(rows[0].softDeclines, 2);
  assert.deepEqual(rows[0].recoveredAmount, { usd: 1000 });
  assert.deepEqual(rows[1].recoveredAmount, {});
  assert.equal(rows[1].skipped, 1);
  assert.deepEqual(rows[1].latency, { p50: 10, p95: 12, p99: 12 });
  const t = totalsOf(ANSWER);
  assert.equal(t.attempts, 5);
  assert.equal(t.hardDeclines, 0);
  assert.deepEqual(t.declineCodes, [{ code: 'insufficient_funds', count: 2 }]);
  const rules = ruleRows({ groups: [{ key: { rule: 'EU' }, payments: 4, amount: { eur: 100 } }, { key: { rule: null }, payments: 1 }] });
  assert.deepEqual(rules.map((r) => [r.rule, r.payments]), [['EU', 4], [null, 1]]);
  assert.deepEqual(processorRows({}), []);
});

test('a circuit in words', () => {
  assert.equal(describeCircuit({ state: 'closed', calls: 12, failures: 1 }).detail, '12 calls, 1 failed in the last 30 s');
  const open = describeCircuit({ state: 'open', calls: 20, failures: 20, opened_at: 1000, retry_at: 31_000 }, 19_500);
  assert.equal(open.state, 'open');
  assert.match(open.detail, /probed again in 12 s/);
  assert.equal(describeCircuit({ state: 'half_open', calls: 0, failures: 0 }).label, 'half-open');
  assert.equal(describeCircuit(null).state, 'unknown');
});

/** Fake timers: run by hand. */
function fakeTimers() {
  const timers = new Map();
  let id = 0;
  return {
    setTimer: (fn, ms) => { timers.set(++id, { fn, ms }); return id; },
    clearTimer: (k) => timers.delete(k),
    pending: () => [...timers.values()],
    fire() {
      const [[k, t]] = timers.entries();
      timers.delete(k);
      t.fn();
    },
  };
}
const tick = () => new Promise((r) => setImmediate(r));

test('the poller runs one request at a time and queues one more when asked mid-run', async () => {
  const t = fakeTimers();
  let running = 0;
  let most = 0;
  let runs = 0;
  const releases = [];
  const run = () => new Promise((resolve) => {
    runs++;
    running++;
    most = Math.max(most, running);
    releases.push(() => { running--; resolve(); });
  });
  const p = createPoller(run, { interval: 10_000, setTimer: t.setTimer, clearTimer: t.clearTimer });
  p.start();
  assert.equal(runs, 1);
  assert.equal(t.pending().length, 0, 'no timer while a run is under way');
  p.now();
  p.now();
  p.now();
  assert.equal(runs, 1, 'never two at once');
  releases.shift()();
  await tick();
  assert.equal(runs, 2, 'the queued run starts as the first ends, once');
  assert.equal(t.pending().length, 0);
  releases.shift()();
  await tick();
  assert.equal(runs, 2);
  assert.deepEqual(t.pending().map((x) => x.ms), [10_000], 'the next run 10 s after this one ended');
  t.fire();
  assert.equal(runs, 3);
  releases.shift()();
  await tick();
  assert.equal(most, 1);
  p.stop();
  assert.equal(t.pending().length, 0, 'stop leaves no timer');
  // Stopped (automatic refresh off): asked for, one run, nothing scheduled.
  p.now();
  p.now();
  assert.equal(runs, 4);
  releases.shift()();
  await tick();
  assert.equal(runs, 5, 'the queued one, once');
  releases.shift()();
  await tick();
  assert.equal(runs, 5);
  assert.equal(t.pending().length, 0, 'stopped: no timer after a run');
  assert.equal(most, 1);
});

test('stopping during a run drops the run queued behind it', async () => {
  const t = fakeTimers();
  let runs = 0;
  let release;
  const p = createPoller(() => new Promise((r) => { runs++; release = r; }), { setTimer: t.setTimer, clearTimer: t.clearTimer });
  p.start();
  p.now();
  p.stop();
  release();
  await tick();
  assert.equal(runs, 1);
  assert.equal(t.pending().length, 0);
});

test('the poller waits while the page is hidden, runs when it shows again, and survives a failing run', async () => {
  const t = fakeTimers();
  let visible = true;
  let runs = 0;
  let fail = true;
  const p = createPoller(async () => { runs++; if (fail) throw new Error('503'); }, {
    interval: 10_000, visible: () => visible, setTimer: t.setTimer, clearTimer: t.clearTimer,
  });
  await p.start();
  await tick();
  assert.equal(runs, 1);
  assert.equal(t.pending().length, 1, 'a failed run is rescheduled');
  fail = false;
  visible = false;
  p.visibilityChanged();
  assert.equal(t.pending().length, 0, 'hidden: no timer');
  visible = true;
  p.visibilityChanged();
  await tick();
  assert.equal(runs, 2, 'visible again: a run at once');
  assert.equal(t.pending().length, 1);
  p.stop();
  p.visibilityChanged();
  assert.equal(runs, 2);
  assert.equal(p.running, false);
});
