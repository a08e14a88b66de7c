// Malformed input: 400s naming the field, 404s, 405s; never a 500.
import fs from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api } from './helpers.mjs';

test('malformed payment requests are 400s naming the parameter', async () => {
  const cases = [
    [{}, 'amount'],
    [{ amount: 'ten', currency: 'usd' }, 'amount'],
    [{ amount: '-5', currency: 'usd' }, 'amount'],
    [{ amount: '99999999999999999999999', currency: 'usd' }, 'amount'],
    [{ amount: '100' }, 'currency'],
    [{ amount: '100', currency: 'dollars' }, 'currency'],
    [{ amount: '100', currency: 'usd', confirm: 'maybe' }, 'confirm'],
    [{ amount: '100', currency: 'usd', bogus: '1' }, 'bogus'],
    [{ amount: '100', currency: 'usd', 'payment_method_data[type]': 'sepa' }, 'payment_method_data[type]'],
    [{ amount: '100', currency: 'usd', confirm: 'true', 'payment_method_data[type]': 'card', 'payment_method_data[card][number]': '4242424242424242' }, 'payment_method_data[card][exp_month]'],
    [{ amount: '100', currency: 'usd', 'metadata[k]': 'x'.repeat(501) }, 'metadata'],
  ];
  for (const [body, param] of cases) {
    const r = await api('POST', '/v1/payment_intents', body, { form: true });
    assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.text}`);
    assert.equal(r.json.error.param, param, JSON.stringify(body));
    assert.ok(r.json.error.message);
  }
});

test('broken bodies are 400s, never 500s', async () => {
  const bodies = ['a[=1', 'a=%zz', '[x]=1', 'a=1&a[b]=2', '%', 'amount[][][][][][][][][][]=1'];
  for (const b of bodies) {
    const r = await api('POST', '/v1/payment_intents', b, { form: true });
    assert.equal(r.status, 400, `${b} -> ${r.text}`);
    assert.equal(r.json.error.type, 'invalid_request_error');
  }
  for (const b of ['{', '[]', 'null', '{"amount": {"x": 1}, "currency": "usd"}']) {
    const r = await api('POST', '/v1/payment_intents', b);
    assert.equal(r.status, 400, `${b} -> ${r.text}`);
  }
  const huge = await api('POST', '/v1/payment_intents', 'a=' + 'x'.repeat(3 * 1024 * 1024), { form: true });
  assert.equal(huge.status, 400);
});

test('unknown ids, routes and methods', async () => {
  for (const p of ['/v1/payment_intents/pi_x', '/v1/payment_intents/..%2F..%2Fx', '/v1/refunds/re_nope', '/v1/payment_intents/pi_000000000000000000000000']) {
    const r = await api('GET', p);
    assert.equal(r.status, 404, `${p}: ${r.text}`);
    assert.equal(r.json.error.type, 'invalid_request_error');
  }
  const c = await api('POST', '/v1/payment_intents/pi_000000000000000000000000/capture', {}, { form: true });
  assert.equal(c.status, 404);
  assert.equal((await api('GET', '/v1/charges')).status, 404);
  assert.equal((await api('GET', '/v1/payment_intents')).status, 405);
  assert.equal((await api('DELETE', '/v1/payment_intents/pi_000000000000000000000000')).status, 405);
  assert.equal((await api('POST', '/v1/refunds/re_x', {}, { form: true })).status, 405);
  assert.equal((await api('GET', '/nothing-here')).status, 404);
});

test("each request's Request-Id is in its log line, and nothing of its body", async () => {
  const r = await api('POST', '/v1/payment_intents', { amount: '100', currency: 'usd', bogus: 'xyzzy-body-value' }, { form: true });
  assert.equal(r.status, 400);
  const id = r.headers.get('request-id');
  assert.match(id ?? '', /^req_[0-9A-Za-z]{14}$/);
  const log = process.env.E2E_LOG;
  assert.ok(log, 'scripts/e2e.sh sets E2E_LOG');
  // wrangler writes the worker's console to its log as it comes.
  let line;
  for (let i = 0; i < 50 && !line; i++) {
    line = fs.readFileSync(log, 'utf8').split('\n').find((l) => l.includes(id));
    if (!line) await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(line, `no log line carries ${id}`);
  assert.match(line, /POST \/v1\/payment_intents -> 400/);
  assert.ok(!line.includes('xyzzy-body-value'));
});
