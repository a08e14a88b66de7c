// Load generator for the worker (a benchmark, not a test: run it by hand).
//   node tests/e2e/bench.mjs [payments=1000] [concurrency=8] [rounds=1] [--no-inspector] [--tmpfs] [--keyed]
// Builds nothing: run scripts/e2e.sh (or worker-build) first. Starts its own
// `wrangler dev` with sandbox processors that answer instantly (latency_ms
// 0), then, `rounds` times, alternately:
// - payments: create+confirm (`amount=1999&currency=usd&confirm=true&
//   payment_method=pm_card_visa`, Stripe's wire format) through the worker;
// - direct: the same body to `POST /v1/sandbox/processors/sandbox_a/
//   authorize`, which makes the one sandbox authorization a payment makes
//   and nothing else (no rule set, no payment object): "calling the sandbox
//   directly", measured the same way from the same client.
// Reports payments per second, client latency p50/p99 of both, and the
// latency the worker adds: payment p50 (p99) minus direct p50 (p99). Also
// the older per-request figure (client latency minus the attempt's own
// latency in routing.attempts), and the CPU time workerd used per request
// (utime+stime of the workerd processes from /proc, over the whole phase:
// an upper bound on the worker's CPU, as it includes workerd's HTTP, storage
// and the sandbox). With rounds > 1, each figure is the median over rounds.
// BENCH_LOG=file keeps wrangler's log. --no-inspector runs the same dev
// server with wrangler's devtools inspector off (start-worker.mjs): the
// inspector reports every subrequest to wrangler's Node process, a cost of
// `wrangler dev` on these two cores, not of the worker. --tmpfs keeps
// wrangler's state (one SQLite file per Durable Object) in /dev/shm instead
// of the disk's temporary directory: locally, each new payment's object is a
// new file, and creating files on this machine's ext4 is the largest single
// cost of a payment (see docs/worker-benchmarks.md). --keyed sends each
// payment with its own Idempotency-Key (as Stripe's SDKs do when they may
// retry): the key's binding in the key index is one more read, made
// together with the rule-set check.
import fs from 'node:fs';
import os from 'node:os';
import { startBenchWorker, SK } from './helpers.mjs';

const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const argv = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const inspector = !flags.includes('--no-inspector');
const tmpfs = flags.includes('--tmpfs');
const keyed = flags.includes('--keyed');
let keyN = 0;
const total = Number(argv[0] ?? 1000);
const concurrency = Number(argv[1] ?? 8);
const rounds = Number(argv[2] ?? 1);

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
const r2 = (x) => +x.toFixed(2);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };

/** CPU seconds (user + system) of the processes of a group, by name. */
function groupCpu(pgid) {
  const hz = 100; // USER_HZ on Linux
  const out = {};
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let stat;
    try { stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { continue; }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) !== pgid) continue;
    const name = comm.startsWith('workerd') ? 'workerd' : comm;
    out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) / hz;
  }
  return out;
}

const w = await startBenchWorker({ name: 'bench', inspector, tmpfs, logFile: process.env.BENCH_LOG });
try {
  const body = new URLSearchParams({ amount: '1999', currency: 'usd', confirm: 'true', payment_method: 'pm_card_visa' }).toString();
  const headers = { authorization: `Bearer ${SK}`, 'content-type': 'application/x-www-form-urlencoded' };
  const payment = async () => {
    const t0 = performance.now();
    const h = keyed ? { ...headers, 'idempotency-key': `bench_${process.pid}_${keyN++}` } : headers;
    const r = await fetch(`${w.base}/v1/payment_intents`, { method: 'POST', body, headers: h });
    const j = await r.json();
    const ms = performance.now() - t0;
    if (r.status !== 200 || j.status !== 'succeeded') throw new Error(`payment failed: ${r.status} ${JSON.stringify(j).slice(0, 200)}`);
    const processorMs = j.routing.attempts.reduce((s, a) => s + a.latency_ms, 0);
    return { ms, overhead: ms - processorMs };
  };
  const direct = async () => {
    const t0 = performance.now();
    const r = await fetch(`${w.base}/v1/sandbox/processors/sandbox_a/authorize`, { method: 'POST', body, headers });
    const j = await r.json();
    const ms = performance.now() - t0;
    if (r.status !== 200 || j.status !== 'captured') throw new Error(`sandbox call failed: ${r.status} ${JSON.stringify(j).slice(0, 200)}`);
    return { ms, overhead: 0 };
  };
  const phase = async (one) => {
    const results = [];
    let next = 0;
    const cpu0 = groupCpu(w.pgid);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < total) { next++; results.push(await one()); }
    }));
    const secs = (performance.now() - t0) / 1000;
    const cpu1 = groupCpu(w.pgid);
    const lat = results.map((r) => r.ms).sort((a, b) => a - b);
    const over = results.map((r) => r.overhead).sort((a, b) => a - b);
    const cpuMs = (name) => ((cpu1[name] ?? 0) - (cpu0[name] ?? 0)) * 1000 / results.length;
    return {
      per_second: results.length / secs, p50: pct(lat, 50), p99: pct(lat, 99),
      over_p50: pct(over, 50), over_p99: pct(over, 99),
      workerd_cpu_ms: cpuMs('workerd'), wrangler_node_cpu_ms: cpuMs('node'),
    };
  };
  for (let i = 0; i < 50; i++) { await payment(); await direct(); } // warm-up
  const pays = [];
  const directs = [];
  for (let r = 0; r < rounds; r++) {
    pays.push(await phase(payment));
    directs.push(await phase(direct));
  }
  const m = (xs, k) => r2(median(xs.map((x) => x[k])));
  const report = {
    payments: total, concurrency, rounds, inspector, state: tmpfs ? 'tmpfs' : 'disk', keyed, seconds_per_round: r2(total / m(pays, 'per_second')),
    payments_per_second: m(pays, 'per_second'),
    payment_client_latency_ms: { p50: m(pays, 'p50'), p99: m(pays, 'p99') },
    direct_sandbox_per_second: m(directs, 'per_second'),
    direct_sandbox_latency_ms: { p50: m(directs, 'p50'), p99: m(directs, 'p99') },
    added_by_worker_ms: {
      p50: r2(median(pays.map((p, i) => p.p50 - directs[i].p50))),
      p99: r2(median(pays.map((p, i) => p.p99 - directs[i].p99))),
    },
    added_per_request_minus_attempt_ms: { p50: m(pays, 'over_p50'), p99: m(pays, 'over_p99') },
    workerd_cpu_ms_per_request: { payment: m(pays, 'workerd_cpu_ms'), direct_sandbox: m(directs, 'workerd_cpu_ms') },
    wrangler_node_cpu_ms_per_request: { payment: m(pays, 'wrangler_node_cpu_ms'), direct_sandbox: m(directs, 'wrangler_node_cpu_ms') },
    rounds_payment_p50: pays.map((p) => r2(p.p50)),
    rounds_direct_p50: directs.map((p) => r2(p.p50)),
    load_average: os.loadavg().map(r2),
    wasm_bytes: fs.statSync(new URL('../../build/index_bg.wasm', import.meta.url)).size,
    machine: `${os.cpus().length} cpus, ${os.cpus()[0]?.model ?? '?'}`,
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  await w.stop();
}
