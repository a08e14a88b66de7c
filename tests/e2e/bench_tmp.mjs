// Load generator for the worker (a benchmark, not a test: run it by hand).
//   node tests/e2e/bench.mjs [payments=1000] [concurrency=8]
// Builds nothing: run scripts/e2e.sh (or worker-build) first. Starts its own
// `wrangler dev` with sandbox processors that answer instantly, then sends
// create+confirm payments through the worker with the Stripe wire format and
// reports payments per second, the latency seen by the client, and the
// latency the worker adds over the processor call it makes (client latency
// minus the processor attempt's own latency, as recorded in routing.attempts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startWrangler, SK } from './helpers.mjs';

const total = Number(process.argv[2] ?? 1000);
const concurrency = Number(process.argv[3] ?? 8);
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-'));
const processors = JSON.stringify(['sandbox_a', 'sandbox_b', 'sandbox_c'].map((id) => ({ id, type: 'sandbox', latency_ms: 0 })));

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const w = await startWrangler({ stateDir, logFile: process.env.BENCH_LOG ?? path.join(stateDir, 'wrangler.log'), vars: { SWITCHYARD_TEST_PROCESSORS: processors } });
try {
  const body = new URLSearchParams({ amount: '1999', currency: 'usd', confirm: 'true', payment_method: 'pm_card_visa' }).toString();
  const one = async () => {
    const t0 = performance.now();
    const r = await fetch(`${w.base}/v1/payment_intents`, {
      method: 'POST', body,
      headers: { authorization: `Bearer ${SK}`, 'content-type': 'application/x-www-form-urlencoded' },
    });
    const j = await r.json();
    const ms = performance.now() - t0;
    if (r.status !== 200 || j.status !== 'succeeded') throw new Error(`payment failed: ${r.status} ${JSON.stringify(j).slice(0, 200)}`);
    const processorMs = j.routing.attempts.reduce((s, a) => s + a.latency_ms, 0);
    return { ms, overhead: ms - processorMs };
  };
  for (let i = 0; i < 50; i++) await one(); // warm-up
  const results = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) { next++; results.push(await one()); }
  }));
  const secs = (performance.now() - t0) / 1000;
  const lat = results.map((r) => r.ms).sort((a, b) => a - b);
  const over = results.map((r) => r.overhead).sort((a, b) => a - b);
  // Breakdown: a request with no storage (preview of the active set) and a
  // request with one Durable Object call (retrieve).
  const timed = async (n, f) => {
    const xs = [];
    for (let i = 0; i < n; i++) { const t = performance.now(); await f(); xs.push(performance.now() - t); }
    xs.sort((a, b) => a - b);
    return { p50: +pct(xs, 50).toFixed(2), p99: +pct(xs, 99).toFixed(2) };
  };
  const auth = { authorization: `Bearer ${SK}`, 'content-type': 'application/json' };
  const inline = JSON.stringify({ ruleset: { default: { route: ['sandbox_a'] } }, payment: { amount: 100, currency: 'usd' } });
  const preview = await timed(200, async () => {
    const r = await fetch(`${w.base}/v1/routing/preview`, { method: 'POST', headers: auth, body: inline });
    await r.text();
  });
  const first = await (await fetch(`${w.base}/v1/payment_intents`, { method: 'POST', body, headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' } })).json();
  const retrieve = await timed(200, async () => {
    const r = await fetch(`${w.base}/v1/payment_intents/${first.id}`, { headers: auth });
    await r.text();
  });
  const report = {
    payments: results.length, concurrency, seconds: +secs.toFixed(2),
    payments_per_second: +(results.length / secs).toFixed(1),
    client_latency_ms: { p50: +pct(lat, 50).toFixed(2), p99: +pct(lat, 99).toFixed(2) },
    added_by_worker_ms: { p50: +pct(over, 50).toFixed(2), p99: +pct(over, 99).toFixed(2) },
    preview_inline_ms: preview,
    retrieve_one_object_ms: retrieve,
    load_average: os.loadavg().map((x) => +x.toFixed(2)),
    wasm_bytes: fs.statSync(new URL('../../build/index_bg.wasm', import.meta.url)).size,
    machine: `${os.cpus().length} cpus, ${os.cpus()[0]?.model ?? '?'}`,
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  await w.stop();
  fs.rmSync(stateDir, { recursive: true, force: true });
}
