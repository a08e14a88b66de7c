// Times Router.simulate(payments) through the JS binding in Node (www/pkg):
//   bash scripts/build-pkg.sh
//   cargo run --release -p switchyard-rules --example gen_bench -- target/bench-data
//   node bench/simulate.mjs [rules.json] [traffic.json] [runs] [pkg dir]
// Prints each run and the median of simulate(array) (the target: 1,000,000
// payments in at most 2 s), and of simulate(JSON text) for comparison.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const [rulesFile = 'target/bench-data/rules-100-middle.json', trafficFile = 'target/bench-data/traffic-1m.json', runsArg = '5', pkgArg = 'www/pkg'] =
  process.argv.slice(2);
const runs = Math.max(1, Number(runsArg) || 5);
const PKG = path.resolve(ROOT, pkgArg);
const sy = await import(pathToFileURL(path.join(PKG, 'switchyard.js')).href);
sy.initSync({ module: fs.readFileSync(path.join(PKG, 'switchyard_bg.wasm')) });

const rulesText = fs.readFileSync(path.resolve(ROOT, rulesFile), 'utf8');
const trafficText = fs.readFileSync(path.resolve(ROOT, trafficFile), 'utf8');
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let t0 = process.hrtime.bigint();
const payments = JSON.parse(trafficText);
const parseMs = ms(t0);
console.log(`load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} on ${os.cpus().length} cores; node ${process.version}`);
console.log(`${path.basename(rulesFile)}, ${payments.length} payments (${(trafficText.length / 1e6).toFixed(0)} MB JSON); JSON.parse ${parseMs.toFixed(0)} ms`);

const router = new sy.Router(rulesText);
let first;
const times = { array: [], text: [] };
for (let r = 0; r < runs; r++) {
  t0 = process.hrtime.bigint();
  const sim = router.simulate(payments);
  times.array.push(ms(t0));
  first ??= JSON.stringify(sim);
  if (JSON.stringify(sim) !== first) throw new Error('simulate(array) gave different results across runs');
}
for (let r = 0; r < Math.min(runs, 3); r++) {
  t0 = process.hrtime.bigint();
  const sim = router.simulate(trafficText);
  times.text.push(ms(t0));
  if (JSON.stringify(sim) !== first) throw new Error('simulate(text) and simulate(array) disagree');
}
// The error path: the last payment is invalid (found after deciding all others).
const last = payments[payments.length - 1];
payments[payments.length - 1] = { amount: 1, currency: 'xyz' };
for (let r = 0; r < Math.min(runs, 3); r++) {
  t0 = process.hrtime.bigint();
  try {
    router.simulate(payments);
    throw new Error('simulate accepted an invalid payment');
  } catch (e) {
    if (e.name !== 'SwitchyardError') throw e;
  }
  (times['array, last payment invalid'] ??= []).push(ms(t0));
}
payments[payments.length - 1] = last;
router.free();
for (const [k, xs] of Object.entries(times)) {
  console.log(`simulate(${k}): median ${median(xs).toFixed(0)} ms over ${xs.length} runs [${xs.map((x) => x.toFixed(0)).join(', ')}]`);
}
console.log(`result: ${first.slice(0, 200)}${first.length > 200 ? '…' : ''}`);
