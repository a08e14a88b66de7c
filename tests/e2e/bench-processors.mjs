// The latency the worker adds over calling a real processor's fake
// directly (a benchmark, not a test: run it by hand; BENCHMARKS.md).
//   node tests/e2e/bench-processors.mjs [payments=400] [rounds=3] [--no-inspector] [--tmpfs] [--no-connect-check]
// Builds nothing (run scripts/e2e.sh or worker-build first). Starts the
// Checkout.com and Adyen fakes (tests/fakes/) and a `wrangler dev` of its
// own routing to them, then, `rounds` times and alternately, one at a time:
// - payments: create+confirm with card data (Stripe's wire format), capture
//   at once, through the worker, routed to the processor;
// - direct: the same processor requests a payment makes, from this client
//   to the fake: Checkout.com one `POST /payments` (capture: true); Adyen
//   `POST /payments` then `POST /payments/{psp}/captures` (the worker
//   authorizes, then captures, at Adyen).
// Reports p50/p99 of both and the difference: the latency the worker adds
// (its routing, its payment object, the connection check before each
// processor request, the adapter). With rounds > 1, medians over rounds.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startWrangler, DEFAULT_SK } from './helpers.mjs';
import { start as startCheckout } from '../fakes/checkout.mjs';
import { start as startAdyen } from '../fakes/adyen.mjs';
import { CREDENTIALS } from '../fakes/peers.mjs';

const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const argv = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const total = Number(argv[0] ?? 400);
const rounds = Number(argv[1] ?? 3);
const inspector = !flags.includes('--no-inspector');
const tmpfs = flags.includes('--tmpfs');
// --no-connect-check: the processors without the TCP connect check before
// each request (what that check costs).
const connectCheck = !flags.includes('--no-connect-check');

const pct = (s, p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const r2 = (x) => +x.toFixed(2);

const checkout = await startCheckout({ port: 0 });
const adyen = await startAdyen({ port: 0 });
const stateDir = fs.mkdtempSync(path.join(tmpfs ? '/dev/shm' : os.tmpdir(), 'switchyard-bench-processors-'));
const processors = [
  { id: 'checkout', type: 'checkout', base_url: checkout.url, connect_check: connectCheck },
  { id: 'adyen', type: 'adyen', base_url: adyen.url, account: 'SwitchyardECOM', connect_check: connectCheck },
];
const worker = await startWrangler({
  stateDir,
  logFile: process.env.BENCH_LOG ?? path.join(stateDir, 'wrangler.log'),
  inspector,
  vars: {
    SWITCHYARD_TEST_PROCESSORS: JSON.stringify(processors),
    SWITCHYARD_TEST_CREDENTIALS: JSON.stringify({ checkout: CREDENTIALS.checkout, adyen: CREDENTIALS.adyen }),
  },
});
const auth = { authorization: `Bearer ${DEFAULT_SK}` };

async function route(id) {
  const rs = await fetch(`${worker.base}/v1/routing/rulesets`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `bench ${id}`, rules: [], default: { route: [id] } }),
  }).then((r) => r.json());
  await fetch(`${worker.base}/v1/routing/rulesets/${rs.id}/activate`, { method: 'POST', headers: auth });
}

const form = new URLSearchParams({
  amount: '4200', currency: 'usd', confirm: 'true',
  'payment_method_data[type]': 'card', 'payment_method_data[card][number]': '4242424242424242',
  'payment_method_data[card][exp_month]': '3', 'payment_method_data[card][exp_year]': '2030',
  'payment_method_data[card][cvc]': '737',
}).toString();

async function viaWorker() {
  const r = await fetch(`${worker.base}/v1/payment_intents`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: form,
  });
  const j = await r.json();
  if (j.status !== 'succeeded') throw new Error(JSON.stringify(j).slice(0, 300));
}

let n = 0;
const direct = {
  async checkout() {
    const r = await fetch(`${checkout.url}/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CREDENTIALS.checkout.api_key}`, 'content-type': 'application/json', 'cko-idempotency-key': `bench-${n++}` },
      body: JSON.stringify({ source: { type: 'card', number: '4242424242424242', expiry_month: 3, expiry_year: 2030, cvv: '737' },
        amount: 4200, currency: 'USD', reference: `bench-${n}`, capture: true }),
    });
    const j = await r.json();
    if (!j.approved) throw new Error(JSON.stringify(j));
  },
  async adyen() {
    const h = { 'x-api-key': CREDENTIALS.adyen.api_key, 'content-type': 'application/json' };
    const r = await fetch(`${adyen.url}/payments`, {
      method: 'POST', headers: { ...h, 'idempotency-key': `bench-${n++}` },
      body: JSON.stringify({ merchantAccount: 'SwitchyardECOM', amount: { value: 4200, currency: 'USD' }, reference: `bench-${n}`,
        paymentMethod: { type: 'scheme', number: '4242424242424242', expiryMonth: '03', expiryYear: '2030', cvc: '737' },
        returnUrl: 'https://switchyard.invalid/adyen/return', shopperInteraction: 'Ecommerce', additionalData: { manualCapture: 'true' } }),
    }).then((x) => x.json());
    const c = await fetch(`${adyen.url}/payments/${r.pspReference}/captures`, {
      method: 'POST', headers: { ...h, 'idempotency-key': `bench-${n++}` },
      body: JSON.stringify({ merchantAccount: 'SwitchyardECOM', amount: { value: 4200, currency: 'USD' }, reference: `bench-${n}` }),
    });
    if (c.status !== 201) throw new Error(await c.text());
  },
};

async function timed(fn, count) {
  const lat = [];
  for (let i = 0; i < count; i++) {
    const t = process.hrtime.bigint();
    await fn();
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  lat.sort((a, b) => a - b);
  return { p50: pct(lat, 50), p99: pct(lat, 99) };
}

const results = {};
try {
  for (const id of ['checkout', 'adyen']) {
    await route(id);
    await timed(viaWorker, 30); // warm-up: isolates, replicas
    await timed(direct[id], 30);
    const runs = [];
    for (let r = 0; r < rounds; r++) {
      const w = await timed(viaWorker, total);
      const d = await timed(direct[id], total);
      runs.push({ w, d, added50: w.p50 - d.p50, added99: w.p99 - d.p99 });
    }
    results[id] = {
      worker_p50_ms: r2(median(runs.map((x) => x.w.p50))), worker_p99_ms: r2(median(runs.map((x) => x.w.p99))),
      direct_p50_ms: r2(median(runs.map((x) => x.d.p50))), direct_p99_ms: r2(median(runs.map((x) => x.d.p99))),
      added_p50_ms: r2(median(runs.map((x) => x.added50))), added_p99_ms: r2(median(runs.map((x) => x.added99))),
      runs: runs.map((x) => r2(x.added50)),
    };
  }
  console.log(JSON.stringify({ payments: total, rounds, inspector, tmpfs, connectCheck, results }, null, 2));
} finally {
  await worker.stop();
  await checkout.close();
  await adyen.close();
  if (tmpfs) fs.rmSync(stateDir, { recursive: true, force: true });
}
