// The Adyen adapter's wire tests: starts the stateful Adyen fake and prism
// (serving Adyen's own OpenAPI description, which refuses any request that
// breaks the schema with a 422) on free ports on 127.0.0.1, then runs
// `cargo test -p switchyard-processors --test adyen_wire -- --ignored`.
// Run: node --test tests/processors/adyen.test.mjs (CARGO_TARGET_DIR is
// taken from the environment).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort, spawnPeer } from '../fakes/spawn-peer.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const spec = path.join(root, 'tests/fakes/adyen/openapi/CheckoutService-v71.json');

// The fake runs in a child process: spawnSync (cargo) blocks this one.
let fake;
let fakeProc;
let prism;
let prismUrl;
let prismLog = '';


async function waitForPrism(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (prism.exitCode !== null) throw new Error(`prism exited: ${prismLog}`);
    try {
      // Any HTTP answer means it is up (a GET on a POST-only path is a 405/404).
      await fetch(`${url}/payments`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`prism did not start in ${ms} ms: ${prismLog}`);
}

async function startFake() {
  const peer = await spawnPeer(process.execPath, [path.join(root, 'tests/fakes/adyen.mjs'), '--port', '0'], {
    cwd: root,
    name: 'the Adyen fake',
  });
  fakeProc = peer.child;
  return peer;
}

before(async () => {
  fake = await startFake();
  const port = await freePort();
  prismUrl = `http://127.0.0.1:${port}`;
  prism = spawn(path.join(root, 'node_modules/.bin/prism'), ['mock', '-h', '127.0.0.1', '-p', String(port), spec], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  prism.stdout.on('data', (d) => { prismLog += d; });
  prism.stderr.on('data', (d) => { prismLog += d; });
  await waitForPrism(prismUrl, 60_000);
});

after(async () => {
  if (fakeProc && fakeProc.exitCode === null) fakeProc.kill('SIGTERM');
  if (prism && prism.exitCode === null) prism.kill('SIGTERM');
});

async function post(url, body, headers = {}) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k', ...headers },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

test('the Adyen adapter against its fake and Adyen\'s schema (cargo wire tests)', { timeout: 900_000 }, () => {
  const r = spawnSync('cargo', ['test', '-p', 'switchyard-processors', '--test', 'adyen_wire', '--', '--ignored', '--test-threads=1'], {
    cwd: root,
    env: { ...process.env, ADYEN_URL: fake.url, ADYEN_PRISM_URL: prismUrl },
    stdio: 'inherit',
  });
  assert.equal(r.status, 0, 'cargo test --test adyen_wire failed');
});

test('prism enforces Adyen\'s schema: requests missing a required field are refused with 422', async () => {
  const r = await post(`${prismUrl}/payments`, {
    merchantAccount: 'M', amount: { value: 1, currency: 'EUR' }, reference: 'x',
    paymentMethod: { type: 'scheme', number: '4111111111111111', expiryMonth: '03', expiryYear: '2030', cvc: '737' },
  });
  assert.equal(r.status, 422, JSON.stringify(r.body));
  // And on the modification endpoints: a capture without an amount.
  const c = await post(`${prismUrl}/payments/993617895204576J/captures`, { merchantAccount: 'M', reference: 'x' });
  assert.equal(c.status, 422, JSON.stringify(c.body));
  const t = await post(`${prismUrl}/cancels`, { merchantAccount: 'M', reference: 'x' });
  assert.equal(t.status, 422, JSON.stringify(t.body));
});

test('the fake\'s ledger has the documented shape and reconciles after the flows', async () => {
  const ledger = await (await fetch(`${fake.url}/__ledger`)).json();
  assert.ok(Array.isArray(ledger.payments) && ledger.payments.length > 0);
  for (const p of ledger.payments) {
    for (const k of ['id', 'reference', 'amount', 'currency', 'status', 'captured', 'refunded', 'refunds']) {
      assert.ok(k in p, `${k} missing in ${JSON.stringify(p)}`);
    }
    assert.ok(p.captured <= p.amount, JSON.stringify(p));
    assert.ok(p.refunded <= p.captured, JSON.stringify(p));
    assert.equal(p.refunds.reduce((s, r) => s + r.amount, 0), p.refunded);
    for (const r of p.refunds) assert.deepEqual(Object.keys(r).sort(), ['amount', 'id', 'reference']);
  }
  // References are unique: every retry was deduplicated.
  const refs = ledger.payments.map((p) => p.reference);
  assert.equal(new Set(refs).size, refs.length);
});

test('the fake honours Idempotency-Key, documented triggers and errors', async () => {
  const body = (holderName, extra = {}) => ({
    merchantAccount: 'M', amount: { value: 1000, currency: 'EUR' }, reference: `t-${holderName}`,
    returnUrl: 'https://x', paymentMethod: { type: 'scheme', number: '4111111111111111', expiryMonth: '03', expiryYear: '2030', cvc: '737', holderName },
    ...extra,
  });
  let r = await post(`${fake.url}/payments`, body('NOT_ENOUGH_BALANCE'), { 'idempotency-key': 'fk-1' });
  assert.equal(r.body.resultCode, 'Refused');
  assert.equal(r.body.refusalReasonCode, '12');
  r = await post(`${fake.url}/payments`, body('ERROR'));
  assert.equal(r.body.resultCode, 'Error');
  r = await post(`${fake.url}/payments`, body('x', { reference: 'rq', additionalData: { RequestedTestAcquirerResponseCode: '6' } }));
  assert.equal(r.body.refusalReasonCode, '6');
  // Replay: the first answer again, even with another body.
  const again = await post(`${fake.url}/payments`, body('APPROVED'), { 'idempotency-key': 'fk-1' });
  assert.equal(again.body.refusalReasonCode, '12');
  // No API key: 401 security; no merchant account: 403 security.
  const unauth = await fetch(`${fake.url}/payments`, { method: 'POST', body: '{}' });
  assert.equal(unauth.status, 401);
  assert.equal((await unauth.json()).errorType, 'security');
  r = await post(`${fake.url}/payments`, { ...body('x'), merchantAccount: undefined });
  assert.equal(r.status, 403);
  r = await post(`${fake.url}/payments`, { ...body('x'), returnUrl: undefined });
  assert.equal(r.status, 422);
  assert.equal(r.body.errorType, 'validation');
  // A capture above the authorised amount is refused.
  r = await post(`${fake.url}/payments`, body('y', { reference: 'cap', additionalData: { manualCapture: 'true' } }));
  assert.equal(r.body.resultCode, 'Authorised');
  const c = await post(`${fake.url}/payments/${r.body.pspReference}/captures`, { merchantAccount: 'M', amount: { value: 1001, currency: 'EUR' } });
  assert.equal(c.status, 422);
});
