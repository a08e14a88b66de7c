// js.md, Promises: no export panics on any input; bad input gets an Issue or a
// SwitchyardError, and the module keeps working afterwards. A fresh module
// instance per test file, so a panic here cannot hide behind another test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, loadCases, decisionProblems } from './cases.mjs';

const PKG = path.join(ROOT, 'www/pkg');
const sy = await import(pathToFileURL(path.join(PKG, 'switchyard.js')).href);
sy.initSync({ module: fs.readFileSync(path.join(PKG, 'switchyard_bg.wasm')) });

const RULESET = loadCases().find(({ name }) => name === 'example_eur_credit.json').c;

function nested(depth, make) {
  let v = {};
  for (let i = 0; i < depth; i++) v = make(v);
  return v;
}

function cyclic() {
  const o = { name: 'x', rules: [] };
  o.default = o;
  return o;
}

const HUGE = 'x'.repeat(8 * 1024 * 1024);
const GARBAGE = {
  'number 0': 0,
  'number -1': -1,
  NaN: NaN,
  Infinity: Infinity,
  'number 1e308': 1e308,
  null: null,
  undefined: undefined,
  true: true,
  'empty string': '',
  'string x': 'x',
  'string "null"': 'null',
  'string "{"': '{',
  'string deep JSON': '['.repeat(200000) + ']'.repeat(200000),
  'empty array': [],
  'array of numbers': [1, 2, 3],
  'empty object': {},
  'object of nulls': { name: null, rules: null, default: null, amount: null, currency: null, card: null },
  'wrong-typed keys': { rules: 'x', default: 5, amount: 'many', currency: 7, card: [], metadata: 'm' },
  'deep object': nested(100000, (v) => ({ not: v })),
  'deep array': nested(100000, (v) => [v]),
  'deep rule condition': { name: 'x', rules: [{ name: 'r', if: nested(5000, (v) => ({ not: v })), then: { route: ['stripe'] } }], default: { route: ['stripe'] } },
  'huge string': HUGE,
  'huge string fields': { name: HUGE, rules: [], default: { route: [HUGE] }, amount: 1, currency: HUGE, routing_key: HUGE, card: { number: HUGE, issuer: HUGE } },
  'huge amount': { amount: 1e300, currency: 'eur' },
  'fractional amount': { amount: 10.5, currency: 'eur' },
  'unsafe integer amount': { amount: 2 ** 64, currency: 'eur' },
  'bigint': 10n,
  'symbol': Symbol('s'),
  'function': () => 1,
  'Map': new Map([['amount', 1]]),
  'Date': new Date(0),
  'Uint8Array': new Uint8Array(16),
  'null prototype': Object.assign(Object.create(null), { amount: 1, currency: 'eur' }),
  'cyclic object': cyclic(),
  'getter that throws': Object.defineProperty({}, 'amount', { enumerable: true, get() { throw new Error('boom'); } }),
  'lone surrogate': { amount: 1, currency: 'eur', routing_key: '\ud800', metadata: { '\udfff': '\ud800' } },
  'array of garbage': [null, 1, 'x', [], {}],
};

/** Calls f; a normal return or a SwitchyardError is fine, anything else is a finding. */
function mustNotMisbehave(what, f, problems) {
  try {
    f();
  } catch (e) {
    const ok = e instanceof Error && e.name === 'SwitchyardError' && Array.isArray(e.issues) && e.issues.length > 0;
    if (!ok) problems.push(`${what}: threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}

test('no export throws anything but SwitchyardError on garbage input', () => {
  const problems = [];
  const router = new sy.Router(RULESET.ruleset);
  for (const [label, g] of Object.entries(GARBAGE)) {
    // validate never throws for a bad rule set
    try {
      const r = sy.validate(g);
      if (r?.ok !== false || !Array.isArray(r.errors) || r.errors.length === 0) problems.push(`validate(${label}): ${JSON.stringify(r)?.slice(0, 200)}`);
    } catch (e) {
      problems.push(`validate(${label}) threw ${e?.name}: ${e?.message}`);
    }
    mustNotMisbehave(`validate(valid, options=${label})`, () => sy.validate(RULESET.ruleset, g), problems);
    mustNotMisbehave(`preview(${label}, payment)`, () => sy.preview(g, RULESET.payment), problems);
    mustNotMisbehave(`preview(valid, ${label})`, () => sy.preview(RULESET.ruleset, g), problems);
    mustNotMisbehave(`new Router(${label})`, () => new sy.Router(g).free(), problems);
    mustNotMisbehave(`new Router(valid, ${label})`, () => new sy.Router(RULESET.ruleset, g).free(), problems);
    mustNotMisbehave(`router.route(${label})`, () => router.route(g), problems);
    mustNotMisbehave(`router.route(payment, ${label})`, () => router.route(RULESET.payment, g), problems);
    mustNotMisbehave(`router.simulate(${label})`, () => router.simulate(g), problems);
    mustNotMisbehave(`router.simulate([${label}])`, () => router.simulate([g]), problems);
  }
  // the module is still usable: a fresh preview, and the router used above, still decide
  const want = RULESET.expect.decision;
  for (const [what, f] of [
    ['preview', () => decisionProblems(want, sy.preview(RULESET.ruleset, RULESET.payment), { withTrace: true })],
    ['the router used above', () => decisionProblems(want, router.route(RULESET.payment), { withTrace: false })],
  ]) {
    try {
      problems.push(...f().map((p) => `after garbage, ${what}: ${p}`));
    } catch (e) {
      problems.push(`after garbage, ${what} is broken: ${e?.name}: ${e?.message}`);
    }
  }
  try {
    router.free();
  } catch (e) {
    problems.push(`after garbage, router.free() threw ${e?.name}: ${e?.message}`);
  }
  assert.deepStrictEqual(problems, []);
});

test('garbage rule sets get issues from validate, with paths and codes', () => {
  const r = sy.validate('{');
  assert.equal(r.ok, false);
  assert.deepStrictEqual(r.errors.map((i) => [i.path, i.code]), [['', 'invalid_json']]);
  const big = sy.validate(HUGE);
  assert.equal(big.ok, false);
  assert.deepStrictEqual(big.errors.map((i) => [i.path, i.code]), [['', 'too_large']]);
  let thrown;
  try {
    sy.preview({ name: 'x', rules: [], default: { route: ['a stripe'] } }, { amount: 1, currency: 'eur' });
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof Error, 'preview threw');
  assert.equal(thrown.name, 'SwitchyardError');
  if (sy.SwitchyardError) assert.ok(thrown instanceof sy.SwitchyardError);
  assert.deepStrictEqual(thrown.issues.map((i) => [i.path, i.code]), [['/default/route/0', 'invalid_processor_id']]);
  assert.match(thrown.message, /\/default\/route\/0/);
});
