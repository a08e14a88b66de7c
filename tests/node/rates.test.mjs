// Authorization rates through the binding (js.md, "Rates"): bad rates give a
// SwitchyardError whose issues point into the rates (/rates/0/attempts),
// with the engine's codes; hostile values (getters that throw, cycles,
// BigInt, huge arrays) never trap the module; the router's own rates, per-call
// rates and setRates behave as js.md says. A fresh module instance per file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, loadCases } from './cases.mjs';

const PKG = path.join(ROOT, 'www/pkg');
const sy = await import(pathToFileURL(path.join(PKG, 'switchyard.js')).href);
sy.initSync({ module: fs.readFileSync(path.join(PKG, 'switchyard_bg.wasm')) });

const CASE = loadCases().find(({ name }) => name === 'auth_rate_best_rate_adyen_eu.json').c;
const { ruleset: RULES, payment: PAYMENT, rates: RATES } = CASE;
const GOOD = { processor: 'stripe', brand: 'visa', country: 'US', funding: 'credit', attempts: 200, authorized: 160 };

/** The SwitchyardError f throws (fails if it returns or throws something else). */
function thrown(f) {
  try {
    f();
  } catch (e) {
    assert.equal(e?.name, 'SwitchyardError', `threw ${e}`);
    if (sy.SwitchyardError) assert.ok(e instanceof sy.SwitchyardError);
    assert.ok(Array.isArray(e.issues) && e.issues.length > 0);
    return e;
  }
  assert.fail('did not throw');
}
const pairs = (e) => e.issues.map((i) => [i.path, i.code]);

/** Every way the binding takes rates: each must refuse `rates` the same way. */
function everyEntry(rates) {
  const router = new sy.Router(RULES);
  try {
    return [
      ['preview', () => sy.preview(RULES, PAYMENT, { rates })],
      ['new Router', () => new sy.Router(RULES, { rates }).free()],
      ['setRates', () => router.setRates(rates)],
      ['route', () => router.route(PAYMENT, { rates })],
      ['route(trace)', () => router.route(PAYMENT, { rates, trace: true })],
      ['simulate', () => router.simulate([PAYMENT], { rates })],
      ['simulate(text)', () => router.simulate(JSON.stringify([PAYMENT]), { rates })],
    ].map(([via, f]) => [via, thrown(f)]);
  } finally {
    router.free();
  }
}

const BAD = [
  ['not an array', { processor: 'stripe' }, [['/rates', 'wrong_type']]],
  ['an entry not an object', [GOOD, 5], [['/rates/1', 'wrong_type']]],
  ['attempts a string', [{ ...GOOD, attempts: '200' }], [['/rates/0/attempts', 'wrong_type']]],
  ['attempts negative', [{ ...GOOD, attempts: -1 }], [['/rates/0/attempts', 'invalid_count']]],
  ['attempts fractional', [{ ...GOOD, attempts: 1.5 }], [['/rates/0/attempts', 'invalid_count']]],
  ['no attempts', [{ processor: 'stripe', authorized: 1 }], [['/rates/0/attempts', 'missing_key']]],
  ['no processor', [{ attempts: 1, authorized: 1 }], [['/rates/0/processor', 'missing_key']]],
  ['a misspelt key', [{ ...GOOD, atempts: 3 }], [['/rates/0/atempts', 'unknown_key']]],
  ['an unknown brand', [{ ...GOOD, brand: 'vsia' }], [['/rates/0/brand', 'invalid_value']]],
  ['an unknown country', [{ ...GOOD, country: 'XX' }], [['/rates/0/country', 'invalid_value']]],
  ['authorized above attempts', [{ ...GOOD, attempts: 10, authorized: 11 }], [['/rates/0/authorized', 'invalid_count']]],
  ['a group twice', [GOOD, { ...GOOD, attempts: 5, authorized: 1 }], [['/rates/1', 'duplicate_rate']]],
  ['JSON text that is not JSON', '[{"processor": ', [['/rates', 'invalid_json']]],
  ['a number', 5, [['/rates', 'wrong_type']]],
  ['a function', () => [], [['/rates', 'wrong_type']]],
];

for (const [label, rates, want] of BAD) {
  test(`bad rates (${label}): a SwitchyardError at the right path, from every entry point`, () => {
    for (const [via, e] of everyEntry(rates)) {
      assert.deepStrictEqual(pairs(e), want, via);
      assert.ok(e.issues.every((i) => typeof i.message === 'string' && i.message.length > 0), via);
      assert.match(e.message, new RegExp(`^${want[0][0].replace(/\//g, '\\/')}: `), via);
    }
  });
}

test('messages help: a misspelt key gets a suggestion, a bad brand lists the brands', () => {
  const [[, misspelt]] = everyEntry([{ ...GOOD, atempts: 3 }]);
  assert.match(misspelt.issues[0].message, /did you mean "attempts"/);
  const [[, brand]] = everyEntry([{ ...GOOD, brand: 'vsia' }]);
  assert.match(brand.issues[0].message, /visa/);
  const [[, count]] = everyEntry([{ ...GOOD, attempts: 10, authorized: 11 }]);
  assert.match(count.issues[0].message, /cannot exceed/);
});

test('every problem of the rates at once, each at its entry', () => {
  const e = thrown(() => sy.preview(RULES, PAYMENT, { rates: [{ ...GOOD, funding: 'plastic' }, GOOD, { processor: '', attempts: 1, authorized: 0 }] }));
  assert.deepStrictEqual(pairs(e).sort(), [['/rates/0/funding', 'invalid_value'], ['/rates/2/processor', 'wrong_type']]);
  assert.match(e.message, /\(and 1 more\)$/);
});

test('rates are checked before the payment, after the rule set', () => {
  const bad = [{ ...GOOD, attempts: -1 }];
  assert.deepStrictEqual(pairs(thrown(() => sy.preview(RULES, { amount: 0, currency: 'usd' }, { rates: bad }))), [['/rates/0/attempts', 'invalid_count']]);
  assert.deepStrictEqual(pairs(thrown(() => sy.preview({ default: 5 }, PAYMENT, { rates: bad })))[0][0], '/default');
});

test('a refused setRates keeps the rates the router had', () => {
  const router = new sy.Router(RULES, { rates: RATES });
  try {
    const before = router.route(PAYMENT, { trace: true });
    assert.equal(before.trace.at(-1).auth_rate.reason, 'best_rate');
    thrown(() => router.setRates([{ ...GOOD, attempts: 1, authorized: 2 }]));
    assert.deepStrictEqual(router.route(PAYMENT, { trace: true }), before);
    router.setRates(undefined);
    assert.equal(router.route(PAYMENT, { trace: true }).trace.at(-1).auth_rate.reason, 'min_sample');
    router.setRates(JSON.stringify(RATES)); // JSON text works too
    assert.deepStrictEqual(router.route(PAYMENT, { trace: true }), before);
  } finally {
    router.free();
  }
});

test('per-call rates replace the router\'s for that call only; null and undefined keep them', () => {
  const router = new sy.Router(RULES, { rates: RATES });
  try {
    const own = router.route(PAYMENT, { trace: true }).trace.at(-1).auth_rate;
    assert.equal(own.picked, 'adyen_eu');
    // stripe best in these
    const other = RATES.map((r) => ({ ...r, authorized: r.processor === 'stripe' ? r.attempts : 0 }));
    assert.equal(router.route(PAYMENT, { rates: other }).processors[0], 'stripe');
    assert.equal(router.route(PAYMENT, { trace: true, rates: other }).trace.at(-1).auth_rate.picked, 'stripe');
    assert.deepStrictEqual(router.route(PAYMENT, { trace: true }).trace.at(-1).auth_rate, own, 'the router\'s own are back');
    for (const none of [null, undefined]) {
      assert.deepStrictEqual(router.route(PAYMENT, { trace: true, rates: none }).trace.at(-1).auth_rate, own);
      assert.deepStrictEqual(router.simulate([PAYMENT], { rates: none }).by_processor, { adyen_eu: 1 });
    }
    assert.deepStrictEqual(router.simulate([PAYMENT], { rates: other }).by_processor, { stripe: 1 });
    assert.deepStrictEqual(router.simulate([PAYMENT], { rates: [] }).by_processor, { stripe: 1 }, 'no rates: the order written');
    // Unknown keys of the options are not looked at, as before.
    assert.deepStrictEqual(router.route(PAYMENT, { rate: other, trce: true }), router.route(PAYMENT));
  } finally {
    router.free();
  }
});

test('simulate with rates: columns, JSON text and route agree on many payments', () => {
  const payments = [];
  const brands = ['visa', 'mastercard', 'amex'];
  for (let i = 0; i < 600; i++) {
    payments.push({ amount: 1000 + i, currency: i % 5 ? 'usd' : 'eur', card: { brand: brands[i % 3], country: i % 2 ? 'US' : 'FR', funding: i % 4 ? 'credit' : 'debit' }, ...(i % 7 ? { routing_key: `k${i}` } : {}) });
  }
  payments.push({ amount: 5, currency: 'usd', metadata: { odd: 'x' }, extra: undefined });
  const rates = [];
  for (const processor of ['stripe', 'adyen_eu', 'checkout']) {
    for (const brand of brands) {
      rates.push({ processor, brand, attempts: 500, authorized: 300 + processor.length * 10 + brand.length });
    }
  }
  const rules = { ...RULES, rules: [{ ...RULES.rules[0], then: { auth_rate: { processors: ['stripe', 'adyen_eu', 'checkout'], explore: 0.2, min_sample: 50 } } }] };
  const router = new sy.Router(rules, { rates });
  try {
    const want = { total: 0, declined: 0, default: 0, by_processor: {}, by_rule: {} };
    payments.forEach((p, i) => {
      const d = router.route(p.routing_key ? p : { ...p, routing_key: String(i) });
      want.total++;
      want.by_processor[d.processors[0]] = (want.by_processor[d.processors[0]] ?? 0) + 1;
      if (d.rule === null) want.default++;
      else want.by_rule[d.rule] = (want.by_rule[d.rule] ?? 0) + 1;
    });
    assert.ok(Object.keys(want.by_processor).length === 3, JSON.stringify(want));
    assert.deepStrictEqual(router.simulate(payments), want);
    assert.deepStrictEqual(router.simulate(JSON.stringify(payments)), want);
    const bare = new sy.Router(rules);
    try {
      assert.deepStrictEqual(bare.simulate(payments, { rates }), want);
      assert.deepStrictEqual(bare.simulate(JSON.stringify(payments), { rates: JSON.stringify(rates) }), want);
      assert.notDeepStrictEqual(bare.simulate(payments), want);
    } finally {
      bare.free();
    }
  } finally {
    router.free();
  }
});

function cyclicRates() {
  const r = [{ ...GOOD }];
  r[0].self = r;
  return r;
}
const throwing = (key) => [Object.defineProperty({ ...GOOD }, key, { enumerable: true, get() { throw new Error('boom'); } })];
const HOSTILE = {
  'a getter that throws': throwing('attempts'),
  'a cycle': cyclicRates(),
  'a BigInt count': [{ ...GOOD, attempts: 200n }],
  'BigInt rates': 5n,
  'a Symbol': Symbol('r'),
  'NaN attempts (null in JSON)': [{ ...GOOD, attempts: NaN }],
  'a huge array': new Array(200_000).fill(GOOD),
  'a sparse array of 100 million': new Array(100_000_000),
  'an array with a toJSON that throws': Object.assign([GOOD], { toJSON() { throw new Error('boom'); } }),
  'a 70 MiB string': ' '.repeat(70 * 1024 * 1024),
  'deeply nested JSON text': '['.repeat(100_000) + ']'.repeat(100_000),
  'deep nesting': [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[GOOD]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
  'a lone surrogate processor': [{ ...GOOD, processor: '\ud800' }],
  'a huge processor id': [{ ...GOOD, processor: 'x'.repeat(1 << 20) }],
  'counts past 2^53': [{ ...GOOD, attempts: 2 ** 60, authorized: 1 }],
  'a Map': new Map([['processor', 'stripe']]),
};

test('no export misbehaves on hostile rates, and the module keeps working', () => {
  const problems = [];
  const router = new sy.Router(RULES, { rates: RATES });
  const before = router.route(PAYMENT, { trace: true });
  for (const [label, rates] of Object.entries(HOSTILE)) {
    const entries = [
      ['preview', () => sy.preview(RULES, PAYMENT, { rates })],
      ['new Router', () => new sy.Router(RULES, { rates }).free()],
      ['setRates', () => router.setRates(rates)],
      ['route', () => router.route(PAYMENT, { rates, trace: true })],
      ['simulate', () => router.simulate([PAYMENT], { rates })],
    ];
    for (const [via, f] of entries) {
      try {
        f();
        problems.push(`${via}(${label}) accepted them`);
      } catch (e) {
        const ok = e?.name === 'SwitchyardError' && Array.isArray(e.issues) && e.issues.length > 0 && e.issues.every((i) => i.path.startsWith('/rates'));
        if (!ok) problems.push(`${via}(${label}) threw ${e?.name}: ${e?.message} ${JSON.stringify(e?.issues)}`);
      }
    }
  }
  // options whose rates cannot even be read
  const getter = Object.defineProperty({}, 'rates', { enumerable: true, get() { throw new Error('boom'); } });
  for (const [via, f] of [
    ['preview', () => sy.preview(RULES, PAYMENT, getter)],
    ['new Router', () => new sy.Router(RULES, getter)],
    ['route', () => router.route(PAYMENT, getter)],
    ['simulate', () => router.simulate([PAYMENT], getter)],
  ]) {
    try {
      f();
      problems.push(`${via}(a throwing options.rates getter) accepted it`);
    } catch (e) {
      if (e?.name !== 'SwitchyardError' || e.issues?.[0]?.path !== '/rates') problems.push(`${via}(a throwing options.rates getter) threw ${e?.name}: ${e?.message}`);
    }
  }
  try {
    assert.deepStrictEqual(router.route(PAYMENT, { trace: true }), before, 'the router kept its rates');
    assert.deepStrictEqual(sy.preview(RULES, PAYMENT, { rates: RATES }), before);
  } catch (e) {
    problems.push(`after hostile rates: ${e?.message}`);
  }
  router.free();
  assert.deepStrictEqual(problems, []);
});

test('the codes of huge inputs: too_many_rates before anything is written, too_large for a long text', () => {
  assert.deepStrictEqual(pairs(thrown(() => sy.preview(RULES, PAYMENT, { rates: new Array(100_001) }))), [['/rates', 'too_many_rates']]);
  assert.deepStrictEqual(pairs(thrown(() => sy.preview(RULES, PAYMENT, { rates: ' '.repeat(65 * 1024 * 1024) }))), [['/rates', 'too_large']]);
  // exactly MAX_RATES entries is fine
  const many = Array.from({ length: 100_000 }, (_, i) => ({ processor: `p${i}`, attempts: 1, authorized: 1 }));
  const d = sy.preview(RULES, PAYMENT, { rates: many });
  assert.equal(d.trace.at(-1).auth_rate.reason, 'min_sample');
});

test('sums past 2^53 - 1 and a huge min_sample come out exact (BigInt), not as an error', () => {
  const M = 2 ** 53 - 1;
  const rates = [{ processor: 'stripe', brand: 'visa', attempts: M, authorized: M }, { processor: 'stripe', brand: 'amex', attempts: M, authorized: 1 }];
  const d = sy.preview(RULES, { ...PAYMENT, card: { brand: 'mastercard' } }, { rates });
  const stripe = d.trace.at(-1).auth_rate.candidates.find((c) => c.processor === 'stripe');
  assert.deepStrictEqual([stripe.group, stripe.attempts, stripe.authorized], ['all', 2n * BigInt(M), BigInt(M) + 1n]);
  const big = { ...RULES, rules: [{ ...RULES.rules[0], then: { auth_rate: { processors: ['stripe'], min_sample: 10000000000000000000 } } }] };
  assert.equal(sy.preview(big, PAYMENT, { rates: RATES }).trace.at(-1).auth_rate.min_sample, 10000000000000000000n);
});
