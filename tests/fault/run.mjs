// The fault-injection run: payments through `wrangler dev` to the Adyen,
// Checkout.com and Braintree fakes, each behind a fault proxy that refuses
// connections, resets answers mid-way, holds answers past the timeout
// (after processing), delivers requests late, answers 5xx, 429 and
// malformed bodies, and answers slowly; clients retry with the same keys,
// sometimes at once, sometimes concurrently. Then the faults stop,
// reconciliation runs (POST /v1/routing/reconcile), and the fakes' own
// ledgers are reconciled with the worker's payments:
//
// - no payment is authorized at two processors;
// - every authorization alive at a processor is the worker's payment's,
//   with the same reference, in a state that holds it (requires_capture,
//   succeeded); captured amounts agree;
// - no refund is unknown to the worker (every refund at a processor is a
//   succeeded refund of the worker), and no refund exceeds its capture;
// - nothing is left `processing` or `pending`.
//
// localstripe is not in this run: it has no idempotency (a retry of a call
// whose answer was lost charges twice there, as real Stripe would not).
//
//   node tests/fault/run.mjs [--payments 10000] [--concurrency 16]
//                            [--rate 0.15] [--seed 1] [--out FILE]
// Needs the worker built (scripts/e2e.sh builds it; or worker-build --release).
// Exits 1 on any violation. Writes its counts as JSON to --out.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startWrangler, DEFAULT_SK } from '../e2e/helpers.mjs';
import { startPeers } from '../fakes/peers.mjs';
import { FAULT_KINDS } from '../fakes/fault-proxy.mjs';
import { mulberry32 } from '../../scripts/prng.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const PAYMENTS = Number(args.payments ?? process.env.FAULT_PAYMENTS ?? 10000);
const CONCURRENCY = Number(args.concurrency ?? 16);
const RATE = Number(args.rate ?? 0.15);
const SEED = Number(args.seed ?? 1);
const OUT = args.out ?? path.join(ROOT, 'tests/artifacts/fault-run.json');
const TIMEOUT_MS = 1000;

const random = mulberry32(SEED);
const pick = (xs) => xs[Math.floor(random() * xs.length)];
const chance = (p) => random() < p;

const CARDS = [
  ['4242424242424242', 0.8], // approves everywhere
  ['4000000000009995', 0.1], // insufficient funds (soft): fails over
  ['4000000000000069', 0.05], // expired (hard): stops
  ['5555555555554444', 0.05],
];
function card() {
  let r = random();
  for (const [n, p] of CARDS) { if ((r -= p) < 0) return n; }
  return CARDS[0][0];
}

let base;
const counts = {
  payments: 0, requests: 0, client_retries: 0, concurrent_retries: 0,
  statuses: {}, captures: 0, cancels: 0, refunds: 0, http: {},
};

async function call(method, p, form, key) {
  const headers = { authorization: `Bearer ${DEFAULT_SK}` };
  if (key) headers['idempotency-key'] = key;
  let body;
  if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  counts.requests += 1;
  let res;
  let text;
  try {
    // A client gives up on a request after a minute (Stripe's SDKs: 80 s),
    // and (below) sends it again with the same key.
    res = await fetch(base + p, { method, headers, body, signal: AbortSignal.timeout(60_000) });
    text = await res.text();
  } catch (e) {
    counts.client_timeouts = (counts.client_timeouts ?? 0) + 1;
    process.stderr.write(`fault run: ${method} ${p} gave no answer: ${e.message}\n`);
    return { status: 599, json: undefined, headers: new Headers() };
  }
  counts.http[res.status] = (counts.http[res.status] ?? 0) + 1;
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, headers: res.headers };
}

/** A request as a client makes it: with a key, sometimes sent again. */
async function client(method, p, form) {
  const key = `fk_${Math.floor(random() * 2 ** 48).toString(36)}_${counts.requests}`;
  if (chance(0.05)) {
    counts.concurrent_retries += 1;
    const both = await Promise.all([call(method, p, form, key), call(method, p, form, key)]);
    // The one that was not refused as in flight (409).
    let r = both.find((x) => x.status !== 409) ?? both[0];
    for (let i = 0; i < 10 && r.status === 409; i++) {
      await new Promise((res) => setTimeout(res, 300));
      r = await call(method, p, form, key);
    }
    return r;
  }
  let r = await call(method, p, form, key);
  // A client's network retry: the same request again, same key.
  if (chance(0.2)) {
    counts.client_retries += 1;
    r = await call(method, p, form, key);
  }
  // As Stripe's SDKs do: a 429 or 5xx is retried (with backoff) unless the
  // answer says a retry would change nothing.
  for (let i = 0; i < 10 && r.status === 409; i++) {
    // Another request with this key is in flight: ask again in a moment.
    await new Promise((res) => setTimeout(res, 300));
    r = await call(method, p, form, key);
  }
  for (let i = 0; i < 3 && (r.status >= 500 || r.status === 429) && r.headers.get('stripe-should-retry') !== 'false'; i++) {
    counts.client_retries += 1;
    await new Promise((res) => setTimeout(res, 200 * (i + 1)));
    r = await call(method, p, form, key);
  }
  return r;
}

const paymentIds = new Set();
const refundIds = new Set();

async function onePayment() {
  const manual = chance(0.5);
  const amount = 1000 + Math.floor(random() * 90_000);
  const r = await client('POST', '/v1/payment_intents', {
    amount: String(amount), currency: 'usd', confirm: 'true',
    capture_method: manual ? 'manual' : 'automatic',
    'payment_method_data[type]': 'card',
    'payment_method_data[card][number]': card(),
    'payment_method_data[card][exp_month]': '3',
    'payment_method_data[card][exp_year]': '2030',
    'payment_method_data[card][cvc]': '737',
  });
  counts.payments += 1;
  const pi = r.json?.id?.startsWith('pi_') ? r.json : r.json?.error?.payment_intent;
  if (!pi?.id) return;
  paymentIds.add(pi.id);
  counts.statuses[pi.status] = (counts.statuses[pi.status] ?? 0) + 1;
  let status = pi.status;
  if (status === 'requires_capture') {
    if (chance(0.2)) {
      counts.cancels += 1;
      await client('POST', `/v1/payment_intents/${pi.id}/cancel`, {});
      return;
    }
    counts.captures += 1;
    const part = chance(0.3) ? { amount_to_capture: String(Math.floor(amount / 2)) } : {};
    const c = await client('POST', `/v1/payment_intents/${pi.id}/capture`, part);
    status = c.json?.status;
  }
  if (status === 'succeeded' && chance(0.5)) {
    for (let i = 0; i < (chance(0.3) ? 2 : 1); i++) {
      counts.refunds += 1;
      const form = { payment_intent: pi.id };
      if (chance(0.5)) form.amount = String(Math.max(1, Math.floor(amount / 3)));
      const rf = await client('POST', '/v1/refunds', form);
      if (rf.json?.id?.startsWith('re_')) refundIds.add(rf.json.id);
    }
  }
}

/**
 * Reconciliation passes until nothing but given-up payments (watched for a
 * day) is left; a capture or void of unknown outcome is sent again only
 * once abandoned (60 s after it started), so this takes a minute or two.
 */
async function reconcileAll() {
  let last;
  for (let round = 0; round < 400; round++) {
    const r = await call('POST', '/v1/routing/reconcile');
    last = r.json;
    const open = (last?.data ?? []).filter((d) => d.kind !== 'given_up_payment' && !d.settled);
    if (round % 10 === 9) process.stderr.write(`fault run: reconciling, ${open.length} open (${JSON.stringify(open.slice(0, 3))}), ${last?.remaining} remaining\n`);
    // Payments and refunds come first in a pass: once a pass reaches a
    // given-up payment, every payment and refund was in it.
    const reachedGivenUp = (last?.data ?? []).some((d) => d.kind === 'given_up_payment');
    const covered = last?.remaining === 0 || reachedGivenUp;
    if (r.status === 200 && open.length === 0 && covered && round > 0) break;
    if (r.status === 200 && open.length === 0 && !covered) continue;
    await new Promise((res) => setTimeout(res, 2000));
  }
  return last;
}

const LIVE = /^(authori[sz]ed|captured|partially[ _]captured|refunded|partially[ _]refunded|submitted_for_settlement|settling|settled)$/i;

async function main() {
  const started = Date.now();
  const peers = await startPeers({ only: ['adyen', 'checkout', 'braintree'], timeoutMs: TIMEOUT_MS, seed: SEED });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-fault-'));
  const logFile = path.join(ROOT, 'tests/artifacts/fault-run-wrangler.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const worker = await startWrangler({
    stateDir, logFile,
    vars: {
      SWITCHYARD_TEST_PROCESSORS: JSON.stringify(peers.processors()),
      SWITCHYARD_TEST_CREDENTIALS: JSON.stringify(peers.credentials()),
    },
  });
  base = worker.base;
  const violations = [];
  try {
    // Every payment split across the three, the others as fallback.
    const rs = await fetch(`${base}/v1/routing/rulesets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEFAULT_SK}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'fault run',
        rules: [{ name: 'spread', if: { field: 'amount', gte: 0 },
          then: { split: [{ processor: 'checkout', weight: 1 }, { processor: 'adyen', weight: 1 }, { processor: 'braintree', weight: 1 }],
            fallback: ['checkout', 'adyen', 'braintree'] } }],
        default: { route: ['checkout', 'adyen', 'braintree'] },
      }),
    }).then((r) => r.json());
    await fetch(`${base}/v1/routing/rulesets/${rs.id}/activate`, { method: 'POST', headers: { authorization: `Bearer ${DEFAULT_SK}` } });

    for (const p of Object.values(peers.peers)) p.proxy.setFaults({ rate: RATE, kinds: FAULT_KINDS, hold_ms: TIMEOUT_MS * 3 });
    let next = 0;
    let done = 0;
    const progress = setInterval(() => process.stderr.write(`fault run: ${done}/${PAYMENTS}\n`), 15_000);
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < PAYMENTS) {
        next += 1;
        try { await onePayment(); } catch (e) { counts.driver_errors = (counts.driver_errors ?? 0) + 1; process.stderr.write(`${e.stack}\n`); }
        done += 1;
      }
    }));
    clearInterval(progress);
    const faults = Object.fromEntries(Object.entries(peers.peers).map(([k, p]) => [k, p.proxy.stats()]));
    for (const p of Object.values(peers.peers)) p.proxy.setFaults({ rate: 0 });
    // Late deliveries land within hold_ms; then reconcile.
    await new Promise((r) => setTimeout(r, TIMEOUT_MS * 3 + 1000));
    const rec = await reconcileAll();
    counts.reconciliation_last_pass = { checked: rec?.checked, settled: rec?.settled, unsettled: rec?.unsettled };
    counts.given_up_voided = (rec?.data ?? []).filter((d) => d.status === 'voided').length;

    // The worker's view.
    const payments = new Map();
    for (const id of paymentIds) {
      const r = await call('GET', `/v1/payment_intents/${id}`);
      payments.set(id, r.json);
      if (r.json?.status === 'processing') violations.push(`${id} is still processing`);
    }
    const refunds = new Map();
    for (const id of refundIds) {
      const r = await call('GET', `/v1/refunds/${id}`);
      refunds.set(id, r.json);
      if (r.json?.status === 'pending') violations.push(`refund ${id} is still pending`);
    }

    // The processors' books.
    const liveAt = new Map();
    let live = 0;
    for (const [kind, p] of Object.entries(peers.peers)) {
      const books = (await (await fetch(`${p.direct}/__ledger`)).json()).payments;
      for (const b of books) {
        if (b.refunded > b.captured) violations.push(`${kind} ${b.id}: refunded ${b.refunded} > captured ${b.captured}`);
        if (!LIVE.test(b.status)) continue;
        live += 1;
        const m = /^(pi_[A-Za-z0-9]+)-authorize-/.exec(b.reference ?? '');
        if (!m) { violations.push(`${kind} ${b.id}: a live authorization with reference ${b.reference}`); continue; }
        const piId = m[1];
        liveAt.set(piId, [...(liveAt.get(piId) ?? []), kind]);
        let pi = payments.get(piId);
        if (!pi) {
          // The client never learned its id (its answers were 409s or 5xx):
          // ask the worker.
          const r = await call('GET', `/v1/payment_intents/${piId}`);
          if (r.status === 200) { pi = r.json; payments.set(piId, pi); counts.learned_after = (counts.learned_after ?? 0) + 1; }
        }
        if (!pi) { violations.push(`${kind} ${b.id}: ${piId} unknown to the worker`); continue; }
        const d = pi.processor_details ?? {};
        if (d.processor !== kind || d.reference !== b.id) {
          violations.push(`${kind} ${b.id}: ${piId} is ${pi.status} with ${JSON.stringify(d)} at the worker`);
          continue;
        }
        if (!['requires_capture', 'succeeded'].includes(pi.status)) violations.push(`${kind} ${b.id}: live there, ${pi.status} at the worker`);
        const want = pi.status === 'succeeded' ? pi.amount_received : 0;
        if (b.captured !== want) violations.push(`${kind} ${b.id}: captured ${b.captured}, worker ${want}`);
        const refunded = pi.amount_refunded ?? 0;
        if (b.refunded !== refunded) violations.push(`${kind} ${b.id}: refunded ${b.refunded}, worker ${refunded}`);
      }
    }
    for (const [piId, kinds] of liveAt) {
      if (kinds.length > 1) violations.push(`${piId} is authorized at ${kinds.join(' and ')}`);
    }
    const result = {
      payments: PAYMENTS, concurrency: CONCURRENCY, fault_rate: RATE, seed: SEED,
      seconds: Math.round((Date.now() - started) / 1000),
      live_authorizations: live, refunds_known: refunds.size,
      ...counts, faults, violations: violations.length,
    };
    fs.writeFileSync(OUT, JSON.stringify(result, null, 2));
    console.log(JSON.stringify(result, null, 2));
    for (const v of violations.slice(0, 50)) console.error(`VIOLATION: ${v}`);
  } finally {
    await worker.stop();
    await peers.close();
  }
  process.exit(violations.length === 0 ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(2); });
