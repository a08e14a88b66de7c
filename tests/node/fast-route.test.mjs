// The route call without JSON (crates/preview/js/route.js): for every
// payment, `route(payment)` answers exactly what the JSON path answers
// (`route(payment, {})` takes it), the same Decision or the same
// SwitchyardError word for word; the fast path is taken for plain payments
// and left for the rest; a card number never enters the string table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, loadCases } from './cases.mjs';

const PKG = path.join(ROOT, 'www/pkg');
const sy = await import(pathToFileURL(path.join(PKG, 'switchyard.js')).href);
sy.initSync({ module: fs.readFileSync(path.join(PKG, 'switchyard_bg.wasm')) });

/** route(p) and the JSON path's answer for p: a value, or the error's name, message and issues. */
function both(router, p) {
  const run = (f) => {
    try {
      return { value: f() };
    } catch (e) {
      return { error: { name: e?.name, message: e?.message, issues: e?.issues } };
    }
  };
  return [run(() => router.route(p)), run(() => router.route(p, {}))];
}

const show = (p) => {
  try {
    return JSON.stringify(p);
  } catch {
    return String(p);
  }
};

/** Counts the fast route's calls into the router. */
function counting() {
  const original = sy.Router.prototype.__routeFast;
  let n = 0;
  sy.Router.prototype.__routeFast = function (...a) {
    n++;
    return original.apply(this, a);
  };
  return { calls: () => n, restore: () => (sy.Router.prototype.__routeFast = original) };
}

const RULESET = {
  name: 'fast',
  rules: [
    { name: 'eur credit', if: { all: [{ field: 'currency', eq: 'eur' }, { field: 'card.funding', eq: 'credit' }] }, then: { route: ['adyen', 'stripe'] } },
    { name: 'web channel', if: { field: 'metadata.channel', eq: 'web' }, then: { split: [{ processor: 'stripe', weight: 1 }, { processor: 'checkout', weight: 1 }], fallback: ['adyen'] } },
    { name: 'blocked bin', if: { field: 'card.bin', prefix: '411111' }, then: { decline: { code: 'do_not_honor' } } },
    { name: 'by rate', if: { field: 'card.brand', eq: 'amex' }, then: { auth_rate: { processors: ['stripe', 'adyen'], explore: 0.2, min_sample: 1 } } },
    { name: 'moto', if: { field: 'off_session', eq: true }, then: { decline: { code: 'moto', message: 'no MOTO' } } },
  ],
  default: { route: ['stripe'] },
};

test('route(payment) answers as the JSON path for valid, invalid and odd payments', () => {
  const router = new sy.Router(RULESET, { rates: [{ processor: 'adyen', attempts: 10, authorized: 9 }, { processor: 'stripe', attempts: 10, authorized: 5 }] });
  const spy = counting();
  const payments = [];
  for (let i = 0; i < 300; i++) {
    payments.push({
      amount: 100 + i,
      currency: ['eur', 'usd', 'EUR', 'gbp'][i % 4],
      card: { bin: ['41111111', '42424242', '37828224'][i % 3], brand: ['visa', 'amex', undefined][i % 3], country: ['FR', 'us', 'DE'][i % 3], funding: ['credit', 'debit'][i % 2] },
      billing: { country: 'FR' },
      capture_method: i % 5 ? 'automatic' : 'manual',
      off_session: i % 7 === 0,
      three_d_secure: i % 2 === 0,
      metadata: { channel: ['web', 'app'][i % 2], order: `o_${i}` },
      routing_key: `order_${i}`,
    });
  }
  const odd = [
    {}, { amount: 1 }, { currency: 'eur' }, { amount: -1, currency: 'eur' }, { amount: 1.5, currency: 'eur' },
    { amount: 1, currency: 'xxx' }, { amount: 1, currency: 'eur', card: { brand: 'vsa' } }, { amount: 1, currency: 'eur', card: { country: 'ZZ' } },
    { amount: 1, currency: 'eur', card: { funding: 'charge' } }, { amount: 1, currency: 'eur', card: { bin: '12' } }, { amount: 1, currency: 'eur', capture_method: 'later' },
    { amount: 1, currency: 'eur', extra: 1 }, { amount: 1, currency: 'eur', card: { number: '4242424242424242' } }, { amount: 1, currency: 'eur', card: { number: '4242424242424241' } },
    { amount: 1, currency: 'eur', metadata: { a: 1 } }, { amount: 1, currency: 'eur', metadata: [] }, { amount: '1', currency: 'eur' }, { amount: NaN, currency: 'eur' },
    { amount: 1, currency: 'eur', off_session: 'yes' }, { amount: 1, currency: 'eur', routing_key: 7 }, { amount: 1, currency: 'eur', routing_key: 'k'.repeat(10_000) },
    { amount: 1, currency: 'eur', card: null }, { amount: 1, currency: 'eur', billing: { country: 'FR', city: 'Paris' } }, { amount: 1, currency: 'eur', currency2: undefined },
    Object.create({ amount: 1, currency: 'eur' }), { amount: 1, currency: 'eur', get card() { throw new Error('boom'); } }, [1, 2], 'text', null, undefined, 42,
    JSON.stringify({ amount: 5, currency: 'eur' }), { amount: 9007199254740993, currency: 'eur' }, { amount: 1, currency: 'eur', metadata: { ['k'.repeat(300)]: 'v' } },
    // Strings JSON text cannot carry (a lone surrogate), wherever they are.
    { amount: 1, currency: 'eur', routing_key: 'k\ud800' }, { amount: 1, currency: 'eur', card: { issuer: 'B\udc00' } },
    { amount: 1, currency: 'e\ud800' }, { amount: 1, currency: 'eur', metadata: { channel: 'w\ud800' } }, { amount: 1, currency: 'eur', metadata: { order: '\ud800' } },
    { amount: 1, currency: 'eur', metadata: { ['\udfff']: 'x' } }, { amount: 1, currency: 'eur', routing_key: 'ключ-😀' },
    { amount: 1, currency: 'eur', routing_key: 'é'.repeat(600) }, { amount: 1, currency: 'eur', routing_key: 'k'.repeat(1024) }, { amount: 1, currency: 'eur', routing_key: 'k'.repeat(1025) },
    // Objects JSON.stringify does not write as their own properties.
    { amount: 1, currency: 'eur', card: [] }, { amount: 1, currency: 'eur', card: new Date(0) }, { amount: 1, currency: 'eur', metadata: new Map([['a', 'b']]) },
    { amount: 1, currency: 'eur', card: { bin: '42424242', toJSON: () => ({ bin: '41111111' }) } }, { amount: 1, currency: 'eur', billing: Object.create(null, { country: { value: 'FR', enumerable: true } }) },
    new (class Payment { constructor() { this.amount = 1; this.currency = 'eur'; } })(), { amount: 1, currency: 'eur', metadata: { toJSON: 'x' } },
    { amount: 1, currency: 'eur', card: Object.create({ toJSON: () => 'x' }) }, { amount: 1, currency: 'eur', card: new String('x') }, { amount: new Number(1), currency: 'eur' },
  ];
  for (const p of [...payments, ...odd]) {
    const [fast, json] = both(router, p);
    assert.deepStrictEqual(fast, json, `payment ${show(p)}`);
  }
  // The 300 plain payments took the fast path (twice for none of them).
  assert.ok(spy.calls() >= 300, `fast route calls: ${spy.calls()}`);
  spy.restore();
  router.free();
});

test('the golden decisions through route(payment) are the JSON path\'s; a payment with a card number never takes the fast path', () => {
  const cases = loadCases().filter(({ c }) => 'decision' in c.expect && c.ruleset);
  const spy = counting();
  let fast = 0;
  for (const { name, c } of cases) {
    const router = new sy.Router(c.ruleset, { ...(c.options ?? {}), ...(c.rates ? { rates: c.rates } : {}) });
    const before = spy.calls();
    const [a, b] = both(router, c.payment);
    assert.deepStrictEqual(a, b, name);
    const took = spy.calls() - before;
    // A card number stays out of the string table: the JSON path reads it.
    if (c.payment?.card?.number !== undefined) assert.equal(took, 0, `${name}: a card number took the fast path`);
    fast += took;
    router.free();
  }
  spy.restore();
  assert.ok(fast >= 50, `only ${fast} golden payments took the fast path`);
});

test('metadata the rules do not read: unique values route as the JSON path does', () => {
  const router = new sy.Router(RULESET);
  // The glue asks each router once for the metadata keys its rules read
  // and interns only their values; the rest is type-checked and left out.
  assert.deepStrictEqual(router.__metadataKeys(), ['channel']);
  const spy = counting();
  for (let i = 0; i < 10_000; i++) {
    const p = { amount: 100, currency: 'usd', metadata: { channel: i % 2 ? 'web' : 'app', order: `o_${i}` }, routing_key: `k${i}` };
    const d = router.route(p);
    assert.deepStrictEqual(d, router.route(p, {}));
    assert.equal(d.rule, i % 2 ? 'web channel' : null);
  }
  assert.equal(spy.calls(), 10_000, 'every payment took the fast path');
  spy.restore();
  router.free();
});

test('wasm memory that grows while a payment is read (its views detach) does not change the answer', () => {
  const router = new sy.Router(RULESET);
  const spy = counting();
  for (let i = 0; i < 12; i++) {
    // A new 2 MB string the rules read: interning it grows wasm memory
    // partway through reading the payment.
    const big = `${i}`.padEnd(2 << 20, 'x');
    const p = { amount: 100, currency: 'eur', card: { funding: i % 2 ? 'credit' : 'debit' }, metadata: { channel: big }, routing_key: `k${i}` };
    assert.deepStrictEqual(router.route(p), router.route(p, {}));
    const q = { amount: 100, currency: 'eur', card: { funding: 'credit' }, metadata: { channel: 'web' }, routing_key: `k${i}` };
    assert.deepStrictEqual(router.route(q), router.route(q, {}));
  }
  assert.ok(spy.calls() >= 12, `fast route calls: ${spy.calls()}`);
  spy.restore();
  router.free();
});

test('a table that fills up is emptied, and routing goes on', () => {
  const router = new sy.Router(RULESET);
  for (let i = 0; i < 10_000; i++) {
    const p = { amount: 100, currency: 'eur', card: { funding: 'credit', issuer: `bank ${i}` }, metadata: { order: `o_${i}` }, routing_key: `k${i}` };
    assert.deepStrictEqual(router.route(p), router.route(p, {}));
  }
  router.free();
});
