// Phase 1: the preview endpoint, Stripe-shaped errors, 404/405, auth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { api, BASE, DEFAULT_SK, PK, ROOT, SK } from './helpers.mjs';

const RULESET = {
  name: 'EU routing',
  rules: [
    {
      name: 'large EUR credit cards to Adyen',
      if: { all: [
        { field: 'currency', eq: 'eur' },
        { field: 'amount', gte: 10000 },
        { field: 'card.funding', eq: 'credit' },
      ] },
      then: { route: ['adyen_eu', 'stripe'] },
    },
    {
      name: 'block a leaked BIN range',
      if: { field: 'card.bin', prefix: ['41111199', '555544'] },
      then: { decline: { code: 'do_not_honor', message: 'card blocked by merchant rule' } },
    },
  ],
  default: { route: ['stripe'] },
};

const PAYMENT = {
  amount: 12500, currency: 'eur',
  card: { number: '4000002500003155', country: 'FR', funding: 'credit' },
  routing_key: 'order_8812',
};

test('preview: a matching rule routes, with a trace', async () => {
  const r = await api('POST', '/v1/routing/preview', { ruleset: RULESET, payment: PAYMENT });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.action, 'route');
  assert.deepEqual(r.json.processors, ['adyen_eu', 'stripe']);
  assert.equal(r.json.rule, 'large EUR credit cards to Adyen');
  assert.equal(r.json.rule_index, 0);
  assert.ok(Array.isArray(r.json.trace), 'trace is an array');
  assert.ok(!r.text.includes('4000002500003155'), 'the card number is never echoed');
});

test('preview: the default decides, rule and rule_index are null', async () => {
  const r = await api('POST', '/v1/routing/preview', {
    ruleset: RULESET, payment: { amount: 500, currency: 'usd', routing_key: 'x' },
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.processors, ['stripe']);
  assert.equal(r.json.rule, null);
  assert.equal(r.json.rule_index, null);
});

test('preview: a decline rule', async () => {
  const r = await api('POST', '/v1/routing/preview', {
    ruleset: RULESET, payment: { amount: 500, currency: 'usd', card: { bin: '41111199' } },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.action, 'decline');
  assert.deepEqual(r.json.processors, []);
  assert.equal(r.json.decline.code, 'do_not_honor');
});

test('preview: the rule set may be a JSON string, and form-encoded bodies work', async () => {
  const r = await api('POST', '/v1/routing/preview', { ruleset: JSON.stringify(RULESET), payment: PAYMENT });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.rule_index, 0);
  const f = await api('POST', '/v1/routing/preview',
    { ruleset: JSON.stringify(RULESET), payment: JSON.stringify(PAYMENT) }, { form: true });
  assert.equal(f.status, 200, f.text);
  assert.equal(f.json.rule_index, 0);
});

test('preview: options.processors rejects unknown processors with every issue', async () => {
  const r = await api('POST', '/v1/routing/preview', {
    ruleset: RULESET, payment: PAYMENT, options: { processors: ['stripe'] },
  });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.type, 'invalid_request_error');
  assert.equal(r.json.error.param, 'ruleset');
  assert.ok(r.json.error.issues.length >= 1);
  assert.ok(r.json.error.issues.every((i) => i.path && i.code && i.message));
});

test('preview: an invalid rule set is a 400 listing the issues', async () => {
  const r = await api('POST', '/v1/routing/preview', {
    ruleset: { rules: [{ name: 'x', if: { field: 'amout', gte: 1 }, then: { route: [] } }] },
    payment: PAYMENT,
  });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.type, 'invalid_request_error');
  assert.equal(r.json.error.code, 'ruleset_invalid');
  assert.ok(typeof r.json.error.message === 'string' && r.json.error.message.length > 0);
  const codes = r.json.error.issues.map((i) => i.code);
  assert.ok(codes.includes('missing_key'), codes.join(','));
  const m = await api('POST', '/v1/routing/preview', { ruleset: '{"default":', payment: PAYMENT });
  assert.equal(m.status, 400, m.text);
  assert.equal(m.json.error.issues[0].code, 'invalid_json');
});

test('preview: an invalid payment is a 400 naming the field', async () => {
  const r = await api('POST', '/v1/routing/preview', { ruleset: RULESET, payment: { currency: 'eur' } });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'payment_invalid');
  assert.equal(r.json.error.param, 'payment[amount]');
  const n = await api('POST', '/v1/routing/preview', {
    ruleset: RULESET, payment: { amount: 1, currency: 'eur', card: { number: '4242424242424241' } },
  });
  assert.equal(n.status, 400, n.text);
  assert.ok(!n.text.includes('4242424242424241'), 'a bad number is not echoed');
});

test('preview: malformed bodies and missing fields are 400s, never 500s', async () => {
  for (const body of ['{', '[]', '"x"', '{"payment": 3}', '{"ruleset": {}, "payment": {}, "zzz": 1}', '\u0000\u0001']) {
    const r = await api('POST', '/v1/routing/preview', body);
    assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.text}`);
    assert.equal(r.json.error.type, 'invalid_request_error');
  }
  const big = await api('POST', '/v1/routing/preview', '{"x":"' + 'a'.repeat(3 * 1024 * 1024) + '"}');
  assert.equal(big.status, 400);
});

test('a publishable key may preview', async () => {
  const r = await api('POST', '/v1/routing/preview', { ruleset: RULESET, payment: PAYMENT }, { key: PK });
  assert.equal(r.status, 200, r.text);
});

test('Basic auth with the key as user name is accepted', async () => {
  const basic = Buffer.from(`${SK}:`).toString('base64');
  const r = await api('POST', '/v1/routing/preview', { ruleset: RULESET, payment: PAYMENT },
    { key: null, headers: { authorization: `Basic ${basic}` } });
  assert.equal(r.status, 200, r.text);
});

test('a missing or wrong key is a 401', async () => {
  const none = await api('POST', '/v1/routing/preview', { ruleset: RULESET, payment: PAYMENT }, { key: null });
  assert.equal(none.status, 401);
  // Stripe types a 401 as an invalid request (its SDKs go by the status).
  assert.equal(none.json.error.type, 'invalid_request_error');
  const wrong = await api('POST', '/v1/routing/preview', { ruleset: RULESET, payment: PAYMENT }, { key: 'sk_test_nope' });
  assert.equal(wrong.status, 401);
  assert.ok(!wrong.text.includes('sk_test_nope'), 'the key is not echoed in full');
  if (SK !== DEFAULT_SK) {
    const defaults = await api('POST', '/v1/routing/preview', { ruleset: RULESET, payment: PAYMENT }, { key: DEFAULT_SK });
    assert.equal(defaults.status, 401, 'configured keys replace the defaults');
  }
});

test('unknown routes are Stripe-shaped 404s, wrong methods 405s', async () => {
  const r = await api('GET', '/v1/nope');
  assert.equal(r.status, 404);
  assert.equal(r.json.error.type, 'invalid_request_error');
  const m = await api('GET', '/v1/routing/preview');
  assert.equal(m.status, 405);
  assert.equal(m.json.error.type, 'invalid_request_error');
});

test('www/ is served as static assets; /v1/* always reaches the worker', { skip: !fs.existsSync(path.join(ROOT, 'www/index.html')) && 'no www/index.html yet' }, async () => {
  const page = await fetch(`${BASE}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  const html = await page.text();
  assert.equal(html, fs.readFileSync(path.join(ROOT, 'www/index.html'), 'utf8'));
  const api404 = await api('GET', '/v1/index.html');
  assert.equal(api404.status, 404);
  assert.equal(api404.json.error.type, 'invalid_request_error');
});
