// The metrics query under load of stored attempts (a benchmark, not a test).
//   node bench/metrics.mjs [attempts=1000000] [days=30] [queries=15]
// Builds nothing: run worker-build (or scripts/e2e.sh) first.
//
// Runs the built worker (build/index.js) in workerd through Miniflare (the
// simulator `wrangler dev` runs), with its METRICS shards and METRICS_ROLLUP
// Durable Objects on SQLite in a fresh directory of /dev/shm. Seeds `attempts` attempts spread evenly
// over `days` days ending now, through the shards' own `/record` call (the
// message the worker's isolates send: counts per minute and key, a key
// always in the shard its FNV-1a hash names), drawn from a seeded PRNG with
// a skewed mix of processors, brands, countries, funding, currencies and
// rules; waits for the shards to roll it up (every second here). Then times `GET /v1/routing/metrics` from Node (dispatchFetch: the
// worker's front, the fan-out to the 16 shards, their SQL and the merge):
// 30 days grouped by processor, by processor and brand, by country, and
// 30 days of hour buckets by processor; and 1 hour by processor.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { mulberry32 } from '../scripts/prng.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [N = 1_000_000, DAYS = 30, QUERIES = 15] = process.argv.slice(2).map(Number);
const SHARDS = 16;

/** The histogram bin of a latency (src/metrics/sketch.rs). */
function binOf(ms) {
  const v = Math.min(ms, 2 ** 24 - 1);
  if (v < 32) return v;
  const e = 31 - Math.clz32(v);
  const sub = (v >>> (e - 4)) & 15;
  return 32 + (e - 5) * 16 + sub;
}

/** The shard of a key (src/metrics/mod.rs: FNV-1a over each value and a 0 byte). */
function shardOf(key) {
  let h = 0x811c9dc5;
  for (const v of key) {
    for (const b of [...Buffer.from(v, 'utf8'), 0]) {
      h ^= b;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h % SHARDS;
}

const rnd = mulberry32(20261201);
/** A value drawn with the given weights. */
const pick = (pairs) => {
  const total = pairs.reduce((n, [, w]) => n + w, 0);
  let x = rnd() * total;
  for (const [v, w] of pairs) { if ((x -= w) < 0) return v; }
  return pairs[pairs.length - 1][0];
};
const PROCESSORS = [['stripe', 50], ['adyen', 30], ['checkout', 15], ['braintree', 5]];
const BRANDS = [['visa', 55], ['mastercard', 30], ['amex', 10], ['discover', 3], ['jcb', 2]];
const COUNTRIES = [['US', 40], ['GB', 12], ['DE', 10], ['FR', 9], ['NL', 6], ['ES', 5], ['IT', 5], ['CA', 4], ['AU', 3], ['JP', 2], ['BR', 2], ['unknown', 2]];
const FUNDING = [['credit', 60], ['debit', 35], ['prepaid', 5]];
const CURRENCY_OF = { US: 'usd', GB: 'gbp', CA: 'cad', AU: 'aud', JP: 'jpy', BR: 'brl', unknown: 'usd' };
const RULES = [['EU to Adyen', 30], ['high value', 10], ['amex', 10], ['retry', 5], ['', 45]];
const CODES = ['insufficient_funds', 'generic_decline', 'do_not_honor', 'expired_card', 'incorrect_cvc', 'lost_card', 'stolen_card'];

function seedEntries() {
  const now = Math.floor(Date.now() / 60000);
  const span = DAYS * 1440;
  const byMinute = new Map();
  for (let i = 0; i < N; i++) {
    const m = now - span + 1 + Math.floor((i * span) / N);
    const country = pick(COUNTRIES);
    const key = [pick(PROCESSORS), pick(BRANDS), country, pick(FUNDING), CURRENCY_OF[country] ?? 'eur', pick(RULES)];
    let keys = byMinute.get(m);
    if (!keys) byMinute.set(m, (keys = new Map()));
    const k = key.join('\u0000');
    let c = keys.get(k);
    if (!c) {
      c = { key, c: { payments: 0, amount: 0, attempts: 0, authorized: 0, authorized_amount: 0, soft_declines: 0, hard_declines: 0,
        authentication_required: 0, not_processed: 0, unknown: 0, skipped: 0, recovered: 0, recovered_amount: 0, latency: {}, declines: {} } };
      keys.set(k, c);
    }
    const amount = 500 + Math.floor(rnd() * 20000);
    const x = rnd();
    c.c.payments += 1;
    c.c.amount += amount;
    c.c.attempts += 1;
    if (x < 0.86) { c.c.authorized += 1; c.c.authorized_amount += amount; if (rnd() < 0.03) { c.c.recovered += 1; c.c.recovered_amount += amount; } }
    else if (x < 0.93) { c.c.soft_declines += 1; const code = CODES[Math.floor(rnd() * 3)]; c.c.declines[code] = (c.c.declines[code] ?? 0) + 1; }
    else if (x < 0.97) { c.c.hard_declines += 1; const code = CODES[3 + Math.floor(rnd() * 4)]; c.c.declines[code] = (c.c.declines[code] ?? 0) + 1; }
    else if (x < 0.98) c.c.authentication_required += 1;
    else if (x < 0.995) c.c.not_processed += 1;
    else c.c.unknown += 1;
    // Latency: mostly 150-600 ms, a tail to seconds.
    const ms = Math.round(120 + 300 * -Math.log(1 - rnd() * 0.999));
    const b = binOf(ms);
    c.c.latency[b] = (c.c.latency[b] ?? 0) + 1;
  }
  const shards = Array.from({ length: SHARDS }, () => []);
  let keysSeen = new Set();
  for (const [m, keys] of byMinute) {
    for (const { key, c } of keys.values()) {
      keysSeen.add(key.join('\u0000'));
      shards[shardOf(key)].push({ m, k: key, c });
    }
  }
  return { shards, entries: shards.reduce((n, s) => n + s.length, 0), keys: keysSeen.size };
}

// BENCH_METRICS_STATE=<dir>: seed into <dir> and keep it; when <dir> holds
// a seeded state already, only time the queries against it.
const kept = process.env.BENCH_METRICS_STATE;
const reuse = kept && fs.existsSync(path.join(kept, 'seeded'));
const persist = kept ?? fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'switchyard-metrics-bench-'));
const mf = new Miniflare({
  modules: true,
  scriptPath: path.join(root, 'build', 'index.js'),
  modulesRoot: path.join(root, 'build'),
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
  compatibilityDate: '2026-04-01',
  durableObjects: {
    METRICS: { className: 'MetricsObject', useSQLite: true },
    METRICS_ROLLUP: { className: 'MetricsRollupObject', useSQLite: true },
  },
  durableObjectsPersist: persist,
  // Seeding, shards roll up every second (default 300 s), so the seeded
  // days reach the rollup before the queries; timing a kept state, at the
  // default.
  bindings: { SWITCHYARD_METRICS_ROLLUP_SECONDS: reuse ? '300' : '1' },
});
try {
  let t = performance.now();
  if (!reuse) {
  const { shards, entries, keys } = seedEntries();
  console.log(`generated ${N} attempts over ${DAYS} days: ${entries} minute rows of ${keys} keys (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  const ns = await mf.getDurableObjectNamespace('METRICS');
  t = performance.now();
  const BATCH = 1000;
  // One shard at a time: locally every object runs in one workerd process
  // (16 shards seeded at once, each with its rollups running, brought
  // workerd down at 1,000,000 attempts).
  for (const [n, list] of shards.entries()) {
    const stub = ns.get(ns.idFromName(`test:shard:${n}`));
    for (let i = 0; i < list.length; i += BATCH) {
      const r = await stub.fetch('https://object/record', {
        method: 'POST',
        body: JSON.stringify({ id: `seed-${n}-${i}`, live: false, shard: n, entries: list.slice(i, i + BATCH) }),
      });
      if (r.status !== 200) throw new Error(`record: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    }
  }
  console.log(`seeded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  // Wait for every shard's rollup (a day per alarm) to reach the last
  // minute: the answer's rolled_up_through.
  t = performance.now();
  const lastMinute = Math.floor(Date.now() / 60000) - 1;
  for (;;) {
    const r = await mf.dispatchFetch('http://127.0.0.1/v1/routing/metrics?window=60', {
      headers: { authorization: 'Bearer sk_test_switchyard_sandbox' },
    });
    const m = await r.json();
    const rolledShards = m.rolled_up_through ?? 0;
    if (rolledShards >= lastMinute * 60) break;
    if (performance.now() - t > 30 * 60_000) throw new Error('the rollup did not catch up in 30 minutes');
    await new Promise((res) => setTimeout(res, 1000));
  }
  console.log(`rolled up in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  if (kept) fs.writeFileSync(path.join(kept, 'seeded'), `${N} ${DAYS}\n`);
  }

  const q = async (query) => {
    const r = await mf.dispatchFetch(`http://127.0.0.1/v1/routing/metrics?${query}`, {
      headers: { authorization: 'Bearer sk_test_switchyard_sandbox' },
    });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`${query}: ${r.status} ${text}`);
    return JSON.parse(text);
  };
  const queries = [
    ['30 days, by processor', `window=${30 * 86400}`],
    ['30 days, by processor and brand', `window=${30 * 86400}&group_by[]=processor&group_by[]=brand`],
    ['30 days, by country', `window=${30 * 86400}&group_by[]=country`],
    ['30 days, visa only, by processor', `window=${30 * 86400}&brand=visa`],
    ['30 days of hour buckets, by processor', `window=${30 * 86400}&bucket=hour`],
    ['1 hour, by processor', 'window=3600'],
  ];
  const first = await q(queries[0][1]);
  console.log(`30-day totals: ${first.totals.attempts} attempts (seeded ${N} over ${DAYS} days)`);
  for (const [name, query] of queries) {
    await q(query); // warm
    const ms = [];
    for (let i = 0; i < QUERIES; i++) {
      const t0 = performance.now();
      await q(query);
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    console.log(`${name.padEnd(40)} p50 ${ms[Math.floor(ms.length / 2)].toFixed(1)} ms, max ${ms[ms.length - 1].toFixed(1)} ms`);
  }
} finally {
  await mf.dispose();
  if (!kept) fs.rmSync(persist, { recursive: true, force: true });
}
