// Per-hop latency probe (a benchmark, not a test: run it by hand after a
// build). Starts its own `wrangler dev` like bench.mjs (same flags:
// --no-inspector, --tmpfs) with instant sandboxes and times, sequentially,
// 200 requests of each kind after 30 of warm-up, p50 and p90:
// - an unknown route (HTTP into workerd and the front; no object);
// - a preview with the active rule set (one read at the rule-set object);
// - a retrieve of an existing payment (one read at its object);
// - a create without confirm (a new payment object, one commit);
// - the sandbox called directly (one existing object, a ledger write);
// - a create + confirm (a payment).
//   node tests/e2e/probe.mjs [--no-inspector] [--tmpfs] [rounds=2]
import { startBenchWorker, SK } from './helpers.mjs';

const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const rounds = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 2);
const tmpfs = flags.includes('--tmpfs');
const w = await startBenchWorker({ name: 'probe', inspector: !flags.includes('--no-inspector'), tmpfs });
const H = { authorization: `Bearer ${SK}`, 'content-type': 'application/x-www-form-urlencoded' };
const pay = 'amount=1999&currency=usd&confirm=true&payment_method=pm_card_visa';
const post = async (p, body) => (await fetch(w.base + p, { method: 'POST', headers: H, body })).text();
const get = async (p) => (await fetch(w.base + p, { headers: H })).text();
async function time(label, fn, n = 200) {
  for (let i = 0; i < 30; i++) await fn();
  const xs = [];
  for (let i = 0; i < n; i++) { const t0 = performance.now(); await fn(); xs.push(performance.now() - t0); }
  xs.sort((a, b) => a - b);
  console.log(`${label.padEnd(44)} p50 ${xs[Math.floor(n / 2)].toFixed(2)}  p90 ${xs[Math.floor(n * 0.9)].toFixed(2)} ms`);
}
try {
  const one = JSON.parse(await post('/v1/payment_intents', pay));
  for (let r = 0; r < rounds; r++) {
    console.log(`round ${r + 1} (inspector ${flags.includes('--no-inspector') ? 'off' : 'on'}, state on ${tmpfs ? 'tmpfs' : 'disk'})`);
    await time('unknown route (no object)', () => get('/v1/nothing'));
    await time('preview, active set (rule-set object read)', () => post('/v1/routing/preview', 'payment[amount]=100&payment[currency]=usd'));
    await time('retrieve (payment object read)', () => get(`/v1/payment_intents/${one.id}`));
    await time('create, no confirm (new payment object)', () => post('/v1/payment_intents', 'amount=1999&currency=usd'));
    await time('direct sandbox call', () => post('/v1/sandbox/processors/sandbox_a/authorize', pay));
    await time('payment (create + confirm)', () => post('/v1/payment_intents', pay));
  }
} finally {
  await w.stop();
}
