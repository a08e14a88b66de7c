// Switchyard's route call and json-logic-js (the npm package) side by side,
// in one Node process, on the same generated rule sets and payments as
// bench/wasm.mjs (BENCHMARKS.md, "Against json-logic-js").
//
//   cargo run --release -p switchyard-rules --example gen_bench -- target/bench-data
//   bash scripts/build-pkg.sh
//   node bench/jsonlogic.mjs [target/bench-data]
//
// Each rule set is translated into one json-logic expression per enabled
// rule (translate() below, faithful to docs/rules.md: a leaf on a missing
// field is false but for `exists: false`, BINs compare by the rule value's
// length, text by prefix case-sensitively). A checkout using json-logic
// evaluates them in order and takes the first that holds: that is what is
// timed, against `router.route(payment)` without options. Before timing,
// both must pick the same rule for the benchmark's payments and for the
// first 2,000 payments of the generated traffic when it is there.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import jsonLogic from 'json-logic-js';
import { initSync, Router } from '../www/pkg/switchyard.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.resolve(process.argv[2] ?? path.join(root, 'target/bench-data'));
initSync({ module: fs.readFileSync(path.join(root, 'www/pkg/switchyard_bg.wasm')) });
const read = (f) => fs.readFileSync(path.join(dir, f), 'utf8');

// --- the rule language in json-logic ------------------------------------------
const CASE = {
  currency: (v) => v.toLowerCase(),
  'card.country': (v) => v.toUpperCase(),
  'billing.country': (v) => v.toUpperCase(),
  'card.brand': (v) => v.toLowerCase(),
  'card.funding': (v) => v.toLowerCase(),
  capture_method: (v) => v.toLowerCase(),
};
const present = (x) => ({ '!==': [x, null] });
const startsWith = (x, s) => ({ '===': [{ substr: [x, 0, s.length] }, s] });

function leaf(l) {
  const x = { var: l.field };
  const norm = (v) => (typeof v === 'string' && CASE[l.field] ? CASE[l.field](v) : v);
  const bin = l.field === 'card.bin';
  const eq = (v) => (bin ? startsWith(x, v) : { '===': [x, norm(v)] });
  const anyOf = (vs) => (bin ? { or: vs.map(eq) } : { in: [x, vs.map(norm)] });
  if ('eq' in l) return { and: [present(x), eq(l.eq)] };
  if ('ne' in l) return { and: [present(x), { '!': eq(l.ne) }] };
  if ('in' in l) return { and: [present(x), anyOf(l.in)] };
  if ('not_in' in l) return { and: [present(x), { '!': anyOf(l.not_in) }] };
  if ('lt' in l) return { '<': [x, l.lt] };
  if ('lte' in l) return { '<=': [x, l.lte] };
  if ('gt' in l) return { '>': [x, l.gt] };
  if ('gte' in l) return { '>=': [x, l.gte] };
  if ('between' in l) return { '<=': [l.between[0], x, l.between[1]] };
  if ('prefix' in l) {
    const ps = Array.isArray(l.prefix) ? l.prefix : [l.prefix];
    return { and: [present(x), { or: ps.map((p) => startsWith(x, p)) }] };
  }
  if ('exists' in l) return l.exists ? present(x) : { '===': [x, null] };
  throw new Error(`no translation for ${JSON.stringify(l)}`);
}

function translate(c) {
  if (c.all) return { and: c.all.map(translate) };
  if (c.any) return { or: c.any.map(translate) };
  if (c.not) return { '!': translate(c.not) };
  return leaf(c);
}

/** The rule set as [index, expression] for its enabled rules, in order. */
const compile = (rs) =>
  (rs.rules ?? []).flatMap((r, i) => (r.enabled === false ? [] : [[i, r.if === undefined ? true : translate(r.if)]]));

/** The first enabled rule that holds, json-logic's way; null for the default. */
function decide(logic, p) {
  for (const [i, e] of logic) if (e === true || jsonLogic.truthy(jsonLogic.apply(e, p))) return i;
  return null;
}

// --- timing -------------------------------------------------------------------
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
function perCall(fn, budgetMs = 400) {
  let batch = 1;
  for (;;) {
    const t = performance.now();
    for (let i = 0; i < batch; i++) fn();
    if (performance.now() - t > 2) break;
    batch *= 2;
  }
  for (let i = 0; i < batch * 3; i++) fn(); // warm up (JIT, caches)
  const times = [];
  const end = performance.now() + budgetMs;
  while (times.length < 11 || performance.now() < end) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    times.push(Number(process.hrtime.bigint() - t) / batch);
    if (times.length >= 201) break;
  }
  return median(times);
}

let traffic = [];
try {
  // The traffic file is large (268 MB): its first 2,000 payments are enough.
  const fd = fs.openSync(path.join(dir, 'traffic-1m.json'), 'r');
  const buf = Buffer.alloc(2_000_000);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  fs.closeSync(fd);
  const head = buf.toString('utf8', 0, n);
  const cut = head.lastIndexOf('},{');
  traffic = JSON.parse(`${head.slice(0, cut + 1)}]`).slice(0, 2000);
} catch {
  console.log('(no traffic-1m.json: agreement checked on the benchmark payments only)');
}

const hit = { ...JSON.parse(read('target-hit.json')), routing_key: 'order_1' };
const miss = { ...JSON.parse(read('target-miss.json')), routing_key: 'order_1' };
const rows = [];
const sets = [];
for (const n of [10, 100, 1000, 10000]) {
  for (const label of ['start', 'middle', 'none']) {
    const text = read(`rules-${n}-${label}.json`);
    sets.push({ name: `rules-${n}-${label}`, router: new Router(text), logic: compile(JSON.parse(text)) });
    const { router, logic } = sets[sets.length - 1];
    const p = label === 'none' ? miss : hit;
    agree(sets[sets.length - 1], p);
    const sy = perCall(() => router.route(p));
    const jl = perCall(() => decide(logic, p));
    rows.push({ rules: n, deciding: label, switchyard_ns: Math.round(sy), json_logic_ns: Math.round(jl), times: Math.round(jl / sy) });
  }
}
// After the timing: payments of other shapes would make the route call's
// property reads polymorphic, which a checkout sending one shape never sees.
for (const s of sets) for (const q of traffic) agree(s, q);
console.log(`agreement: the same deciding rule for ${1 + traffic.length} payments on each of ${sets.length} rule sets`);
console.table(rows);

// The mixed traffic: each of its first 2,000 payments in turn (their rules
// decide at every position, or none does), per payment.
if (traffic.length) {
  const mixed = [];
  for (const s of sets.filter((x) => x.name.endsWith('-middle'))) {
    let i = 0;
    const next = () => traffic[i++ % traffic.length];
    const sy = perCall(() => s.router.route(next()));
    const jl = perCall(() => decide(s.logic, next()));
    mixed.push({ rules: Number(s.name.split('-')[1]), switchyard_ns: Math.round(sy), json_logic_ns: Math.round(jl), times: Math.round(jl / sy) });
  }
  console.log(`the first ${traffic.length} payments of the traffic, in turn:`);
  console.table(mixed);
}

function agree({ name, router, logic }, q) {
  const a = router.route(q).rule_index;
  const b = decide(logic, q);
  if (a !== b) throw new Error(`${name}: Switchyard decides by ${a}, json-logic by ${b}, for ${JSON.stringify(q)}`);
}
