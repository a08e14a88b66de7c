// The engine through the wasm binding in Node, on the same generated rule
// sets and payments as the criterion benchmarks (crates/rules/benches).
//
//   cargo run --release -p switchyard-rules --example gen_bench -- target/bench-data
//   bash scripts/build-pkg.sh
//   node bench/wasm.mjs [target/bench-data]
//
// Prints, per rule-set size and position of the deciding rule, the median
// time of one `router.route(payment)` call (batches of calls, median batch),
// and the time to compile each size.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initSync, Router } from '../www/pkg/switchyard.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.resolve(process.argv[2] ?? path.join(root, 'target/bench-data'));
initSync({ module: fs.readFileSync(path.join(root, 'www/pkg/switchyard_bg.wasm')) });

const read = (f) => fs.readFileSync(path.join(dir, f), 'utf8');
const hit = { ...JSON.parse(read('target-hit.json')), routing_key: 'order_1' };
const miss = { ...JSON.parse(read('target-miss.json')), routing_key: 'order_1' };

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// The median batch and the fastest: this machine shares its host, which
// runs it at two speeds (about 2x apart) for seconds at a time; the fastest
// batch is the code's cost on an undisturbed core, the median shows the
// host.
function perCall(fn, batch = 2000, batches = 101) {
  for (let i = 0; i < batch * 5; i++) fn(); // warm up (JIT, caches)
  const times = [];
  for (let b = 0; b < batches; b++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    times.push(Number(process.hrtime.bigint() - t) / batch);
  }
  return { median: median(times), fastest: Math.min(...times) };
}

const rows = [];
for (const n of [10, 100, 1000, 10000]) {
  for (const label of ['start', 'middle', 'none']) {
    const text = read(`rules-${n}-${label}.json`);
    const router = new Router(text);
    const p = label === 'none' ? miss : hit;
    const d = router.route(p);
    const want = label === 'none' ? null : label === 'start' ? 1 : n / 2;
    if (d.rule_index !== want) throw new Error(`rules-${n}-${label}: decided by ${d.rule_index}, expected ${want}`);
    const t = perCall(() => router.route(p));
    rows.push({ rules: n, deciding: label, route_ns: Math.round(t.median), fastest_ns: Math.round(t.fastest) });
    router.free();
  }
}
console.table(rows);

for (const n of [1000, 10000]) {
  const text = read(`rules-${n}-middle.json`);
  const times = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    new Router(text).free();
    times.push(performance.now() - t);
  }
  console.log(`compile ${n} rules (new Router from JSON text): median ${median(times).toFixed(1)} ms`);
}

// The engine alone, compiled to wasm32-wasip1 and run by this same V8
// (bench/timing: the same loop as natively), when it has been built:
//   cargo build --release -p switchyard-bench-timing --target wasm32-wasip1
const wasi = path.join(root, 'target/wasm32-wasip1/release/switchyard-bench-timing.wasm');
if (fs.existsSync(wasi)) {
  const { WASI } = await import('node:wasi');
  const w = new WASI({ version: 'preview1', args: ['timing', '/data'], preopens: { '/data': dir } });
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(fs.readFileSync(wasi)), w.getImportObject());
  console.log('\nengine alone in wasm (Router::select, WASI in Node):');
  w.start(instance);
} else {
  console.log(`\n(${path.relative(root, wasi)} not built: skipping the engine-alone wasm figures)`);
}
