// Router.simulate(array) through www/pkg: the columnar hand-off
// (crates/preview/js/columns.js, crates/rules/src/columns.rs) must count
// exactly what route() decides one payment at a time, agree with
// simulate(JSON text), and refuse a malformed payment with the issues the
// JSON path gives. Build www/pkg first (scripts/build-pkg.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './cases.mjs';
import { mulberry32 as rng } from '../../scripts/prng.mjs';

const PKG = path.join(ROOT, 'www/pkg');
const sy = await import(pathToFileURL(path.join(PKG, 'switchyard.js')).href);
sy.initSync({ module: fs.readFileSync(path.join(PKG, 'switchyard_bg.wasm')) });

// Reads every field, metadata.channel and metadata.tier, with splits keyed by
// routing key (or position) and a decline.
const RULES = {
  name: 'simulate test',
  rules: [
    { name: 'blocked bins', if: { field: 'card.bin', prefix: ['411111', '5555'] }, then: { decline: { code: 'do_not_honor' } } },
    { name: 'gold tier', if: { field: 'metadata.tier', eq: 'gold' }, then: { route: ['adyen', 'stripe'] } },
    { name: 'société issuer', if: { field: 'card.issuer', prefix: 'Société' }, then: { route: ['checkout'] } },
    {
      name: 'japan apps',
      if: { all: [{ field: 'metadata.channel', in: ['web', 'ios'] }, { field: 'billing.country', eq: 'JP' }] },
      then: { route: ['stripe'] },
    },
    {
      name: 'large eur',
      if: { all: [{ field: 'currency', eq: 'eur' }, { field: 'amount', gte: 10000 }] },
      then: { split: [{ processor: 'adyen', weight: 1 }, { processor: 'stripe', weight: 2 }], fallback: ['checkout'] },
    },
    { name: 'manual capture', if: { field: 'capture_method', eq: 'manual' }, then: { route: ['braintree'] } },
    {
      name: 'merchant initiated',
      if: { all: [{ field: 'off_session', eq: true }, { field: 'three_d_secure', ne: true }] },
      then: { route: ['stripe', 'adyen'] },
    },
    {
      name: 'visa credit',
      if: { all: [{ field: 'card.brand', eq: 'visa' }, { field: 'card.funding', eq: 'credit' }, { field: 'card.country', in: ['US', 'GB'] }] },
      then: { split: [{ processor: 'stripe', weight: 70 }, { processor: 'checkout', weight: 30 }] },
    },
    { name: 'emoji channel', if: { field: 'metadata.channel', eq: 'app 😀' }, then: { route: ['checkout'] } },
    { name: 'amex', if: { field: 'card.brand', eq: 'amex' }, then: { split: [{ processor: 'adyen', weight: 50 }, { processor: 'braintree', weight: 50 }] } },
  ],
  default: { split: [{ processor: 'stripe', weight: 1 }, { processor: 'adyen', weight: 1 }] },
};


class Holder {
  constructor(fields) {
    Object.assign(this, fields);
  }
}

/** n valid payments of every shape simulate reads. */
function payments(n, seed = 1) {
  const r = rng(seed);
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const maybe = (p, f) => (r() < p ? f() : undefined);
  const numbers = ['4242424242424242', '4000002500003155', '5555555555554444', '378282246310005', '6011111111111117', '4111 1111 1111 1111'];
  const out = [];
  for (let i = 0; i < n; i++) {
    const p = { amount: 1 + Math.floor(r() * 50000), currency: pick(['eur', 'usd', 'EUR', 'gbp', 'jpy', 'sek']) };
    const card = {};
    if (r() < 0.3) card.number = pick(numbers);
    else if (r() < 0.6) card.bin = pick(['411111', '555544', '4242', '37828224', '601111', '123456']).padEnd(6, '0');
    if (r() < 0.5) card.brand = pick(['visa', 'mastercard', 'amex', 'discover', 'unknown']);
    if (r() < 0.7) card.country = pick(['US', 'GB', 'FR', 'JP', 'DE']);
    if (r() < 0.6) card.funding = pick(['credit', 'debit', 'prepaid', 'unknown']);
    if (r() < 0.4) card.issuer = pick(['Société Générale', 'Chase', '日本銀行', 'Bank 😀', '']);
    if (r() < 0.8) p.card = card;
    if (r() < 0.6) p.billing = r() < 0.9 ? { country: pick(['JP', 'US', 'FR', 'BR']) } : {};
    p.capture_method = maybe(0.5, () => pick(['automatic', 'manual']));
    p.off_session = maybe(0.5, () => r() < 0.5);
    p.three_d_secure = maybe(0.5, () => r() < 0.5);
    if (r() < 0.6) {
      const m = {};
      if (r() < 0.8) m.channel = pick(['web', 'ios', 'moto', 'app 😀', '']);
      if (r() < 0.4) m.tier = pick(['gold', 'silver', 'ñandú']);
      if (r() < 0.3) m['note ✓'] = pick(['x', 'ü', '😀😀']);
      p.metadata = m;
    }
    if (r() < 0.7) p.routing_key = pick(['order_', 'ordér_', 'キー_', '😀_', '']) + i;
    // undefined values are left out, as JSON.stringify does
    if (r() < 0.5) delete p.capture_method;
    if (r() < 0.5) delete p.off_session;
    const shape = r();
    if (shape < 0.02) out.push(Object.assign(Object.create(null), p));
    else if (shape < 0.04) out.push(new Holder(p));
    else out.push(p);
  }
  return out;
}

/** What simulate must count: route() of each, keyed by its position when it has no routing_key. */
function expected(router, list) {
  const want = { total: 0, declined: 0, by_processor: {}, by_rule: {}, default: 0 };
  list.forEach((p, i) => {
    const d = router.route(p.routing_key === undefined ? { ...p, routing_key: String(i) } : p);
    want.total++;
    if (d.action === 'decline') want.declined++;
    else want.by_processor[d.processors[0]] = (want.by_processor[d.processors[0]] ?? 0) + 1;
    if (d.rule === null) want.default++;
    else want.by_rule[d.rule] = (want.by_rule[d.rule] ?? 0) + 1;
  });
  return want;
}

/** The SwitchyardError f throws (fails the test if it returns or throws anything else). */
function thrown(f, what) {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof Error && e.name === 'SwitchyardError' && Array.isArray(e.issues), `${what}: threw ${e}`);
    return { message: e.message, issues: e.issues };
  }
  assert.fail(`${what}: did not throw`);
}

const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
const normal = (s) => ({ ...s, by_processor: sorted(s.by_processor), by_rule: sorted(s.by_rule) });

test('simulate(array) counts what route() decides, and agrees with simulate(JSON text)', () => {
  const router = new sy.Router(RULES);
  try {
    const list = payments(4000);
    const want = expected(router, list);
    assert.deepStrictEqual(normal(router.simulate(list)), normal(want));
    assert.deepStrictEqual(router.simulate(list), router.simulate(JSON.stringify(list)));
    // every rule and the default decided some of them
    assert.equal(Object.keys(want.by_rule).length, RULES.rules.length);
    assert.ok(want.default > 0 && want.declined > 0);
    assert.deepStrictEqual(router.simulate([]), { total: 0, declined: 0, by_processor: {}, by_rule: {}, default: 0 });
  } finally {
    router.free();
  }
});

test('a rule set that reads no metadata still refuses metadata that is not strings', () => {
  const router = new sy.Router({ rules: [], default: { route: ['stripe'] } });
  try {
    const list = payments(500, 7);
    assert.deepStrictEqual(router.simulate(list), router.simulate(JSON.stringify(list)));
    list[321] = { amount: 5, currency: 'eur', metadata: { anything: 5 } };
    const e = thrown(() => router.simulate(list), 'metadata value 5');
    assert.deepStrictEqual(e, thrown(() => router.simulate(JSON.stringify(list)), 'text'));
    assert.equal(e.issues[0].path, '/321/metadata/anything');
  } finally {
    router.free();
  }
});

// Malformed payments, and whether preview() refuses them with the same issues.
const BAD = [
  ['unknown key', { amount: 1, currency: 'eur', amout: 1 }, true],
  ['unknown card key', { amount: 1, currency: 'eur', card: { nubmer: '4242424242424242' } }, true],
  ['amount as a string', { amount: '100', currency: 'eur' }, true],
  ['null', null, true],
  ['a number', 42, true],
  ['a string', 'payment', false], // preview() reads a string as JSON text
  ['undefined', undefined, false],
  ['nested array', [{ amount: 1, currency: 'eur' }], true],
  ['missing currency', { amount: 100 }, true],
  ['unknown currency', { amount: 100, currency: 'xyz' }, true],
  ['metadata value a number', { amount: 100, currency: 'eur', metadata: { channel: 1 } }, true],
  ['metadata value an object', { amount: 100, currency: 'eur', metadata: { other: {} } }, true],
  ['card null', { amount: 100, currency: 'eur', card: null }, true],
  ['billing an array', { amount: 100, currency: 'eur', billing: ['FR'] }, true],
  ['fractional amount', { amount: 10.5, currency: 'eur' }, true],
  ['NaN amount', { amount: NaN, currency: 'eur' }, true],
  ['negative amount', { amount: -3, currency: 'eur' }, true],
  ['huge amount', { amount: 1e300, currency: 'eur' }, true],
  ['bad Luhn', { amount: 100, currency: 'eur', card: { number: '4242424242424241' } }, true],
  ['bin against number', { amount: 100, currency: 'eur', card: { number: '4242424242424242', bin: '555555' } }, true],
  ['many problems', { currency: 'EURO', card: { bin: '123', brand: 'visaa', funding: 'x' }, billing: { country: 'zz' }, capture_method: 'later', three_d_secure: 'yes' }, true],
  ['routing key too long', { amount: 100, currency: 'eur', routing_key: 'k'.repeat(2000) }, true],
  ['NUL in a string', { amount: 100, currency: 'eur\u0000', routing_key: 'a\u0000b' }, true],
  ['off_session null', { amount: 100, currency: 'eur', off_session: null }, true],
  ['a Date', new Date(0), true],
  ['a String object currency', { amount: 100, currency: new String('xyz') }, true],
  ['lone surrogate in routing_key', { amount: 100, currency: 'eur', routing_key: 'a\ud800' }, false],
  ['lone surrogate in an unread metadata key', { amount: 100, currency: 'eur', metadata: { '\udfff': 'x' } }, false],
  ['lone surrogate in a metadata value', { amount: 100, currency: 'eur', metadata: { channel: '\ud800' } }, false],
];

test('a malformed payment at any index throws the issues of the JSON path, as preview() gives them', () => {
  const router = new sy.Router(RULES);
  try {
    const valid = payments(3000, 3);
    for (const [label, bad, likePreview] of BAD) {
      for (const i of [0, 1, 1234, valid.length - 1]) {
        const list = valid.slice();
        list[i] = bad;
        const what = `${label} at ${i}`;
        const got = thrown(() => router.simulate(list), what);
        assert.deepStrictEqual(got, thrown(() => router.simulate(JSON.stringify(list)), `${what} (text)`), what);
        if (likePreview) {
          const p = thrown(() => sy.preview(RULES, bad), `preview(${label})`);
          const want = p.issues.map((x) => ({ path: `/${i}${x.path}`, code: x.code, message: `payment ${i}: ${x.message}` }));
          assert.deepStrictEqual(got.issues, want, what);
        }
      }
    }
  } finally {
    router.free();
  }
});

test('the first malformed payment is the one reported, unless the list cannot be written as JSON', () => {
  const router = new sy.Router(RULES);
  try {
    const list = payments(2000, 5);
    list[700] = { amount: 1, currency: 'xyz' };
    list[900] = { amount: 1, currency: 'eur', extra: true };
    const e = thrown(() => router.simulate(list), 'two bad');
    assert.deepStrictEqual(e, thrown(() => router.simulate(JSON.stringify(list)), 'two bad (text)'));
    assert.ok(e.issues.every((x) => x.path.startsWith('/700/')));
    // a BigInt anywhere: the list is not JSON, as before
    for (const at of [100, 1500]) {
      const l = list.slice();
      l[at] = { amount: 10n, currency: 'eur' };
      const b = thrown(() => router.simulate(l), `BigInt at ${at}`);
      assert.deepStrictEqual(b.issues, [{ path: '', code: 'wrong_type', message: 'the payments cannot be written as JSON' }]);
    }
    // a getter that throws, anywhere
    const g = list.slice(0, 600);
    g[300] = Object.defineProperty({ currency: 'eur' }, 'amount', { enumerable: true, get() { throw new Error('boom'); } });
    assert.equal(thrown(() => router.simulate(g), 'getter').issues[0].message, 'the payments cannot be written as JSON');
    // a lone surrogate before the first invalid payment: the JSON path gives up on the list
    const s = list.slice();
    s[10] = { amount: 1, currency: 'eur', routing_key: '\udc00' };
    assert.deepStrictEqual(thrown(() => router.simulate(s), 'surrogate'), thrown(() => router.simulate(JSON.stringify(s)), 'surrogate (text)'));
    // toJSON is honoured, with the payment's index as key
    const t = payments(50, 9);
    t[20] = { toJSON: (k) => ({ amount: 100 + Number(k), currency: 'eur', routing_key: `k${k}` }) };
    assert.deepStrictEqual(router.simulate(t), router.simulate(JSON.stringify(t)));
    // a hole reads as null, as JSON.stringify writes it
    const h = [t[0], , t[1]];
    assert.deepStrictEqual(thrown(() => router.simulate(h), 'hole'), thrown(() => router.simulate(JSON.stringify(h)), 'hole (text)'));
  } finally {
    router.free();
  }
});
