// A crash in the middle of a processor call: `wrangler dev` (workerd and
// all) is killed while the payment's object waits for the processor's
// answer, then started again on the same state. The payment is found
// `processing` (the pending confirmation was stored before the processor
// was called), a retry with the same Idempotency-Key is refused while the
// first may still be running (409), and once the first is abandoned (60 s)
// the same retry takes it over with the same processor-side key: the
// processor deduplicates it, and the card is authorized exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { DEFAULT_SK, startWrangler, api, uniqueKey } from './helpers.mjs';

const stateRoot = process.env.E2E_STATE_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-crash-'));
const artifacts = process.env.E2E_ARTIFACTS ?? stateRoot;
// Every processor takes 4 s to answer, after it has recorded the request.
const SLOW = JSON.stringify(['sandbox_a', 'sandbox_b', 'sandbox_c'].map((id) => ({
  id, type: 'sandbox', latency_ms: 5, failure: 'slow', slow_ms: 4000,
})));
const STALE_MS = 60_000; // STALE_AFTER_MS / IDEM_STALE_MS in the worker
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function authorizations(base) {
  let n = 0;
  for (const id of ['sandbox_a', 'sandbox_b', 'sandbox_c']) {
    const r = await api('GET', `/v1/sandbox/processors/${id}`, undefined, { base, key: DEFAULT_SK });
    assert.equal(r.status, 200, r.text);
    n += r.json.processed.authorize ?? 0;
  }
  return n;
}

test('crash during the processor call: processing, 409, then taken over once', { timeout: 240_000 }, async () => {
  const stateDir = path.join(stateRoot, 'crash');
  const logFile = path.join(artifacts, 'wrangler-crash.log');
  fs.mkdirSync(stateDir, { recursive: true });
  const vars = { SWITCHYARD_TEST_PROCESSORS: SLOW };
  const opts = { key: DEFAULT_SK, form: true };

  let w = await startWrangler({ stateDir, logFile, vars });
  const created = await api('POST', '/v1/payment_intents', { amount: '7300', currency: 'usd' }, { ...opts, base: w.base });
  assert.equal(created.status, 200, created.text);
  const id = created.json.id;
  const key = uniqueKey('crash');
  const confirm = { payment_method: 'pm_card_visa' };
  const sent = Date.now();
  // The confirmation, never answered: workerd dies under it.
  const first = api('POST', `/v1/payment_intents/${id}/confirm`, confirm,
    { ...opts, base: w.base, headers: { 'idempotency-key': key } }).catch((e) => e);
  await sleep(1500);
  assert.equal(await authorizations(w.base), 1, 'the processor has the request by now');
  await w.kill();
  const lost = await first;
  assert.ok(lost instanceof Error, 'the first request got no answer');

  w = await startWrangler({ stateDir, logFile, vars });
  try {
    const during = await api('GET', `/v1/payment_intents/${id}`, undefined, { ...opts, base: w.base });
    assert.equal(during.status, 200, during.text);
    assert.equal(during.json.status, 'processing');
    assert.equal(during.json.amount_received, 0);
    // The same request again, while the first may still be running: 409.
    const early = await api('POST', `/v1/payment_intents/${id}/confirm`, confirm,
      { ...opts, base: w.base, headers: { 'idempotency-key': key } });
    assert.equal(early.status, 409, early.text);
    assert.equal(early.json.error.type, 'idempotency_error');

    await sleep(Math.max(0, sent + STALE_MS + 1500 - Date.now()));
    const retry = await api('POST', `/v1/payment_intents/${id}/confirm`, confirm,
      { ...opts, base: w.base, headers: { 'idempotency-key': key } });
    assert.equal(retry.status, 200, retry.text);
    assert.equal(retry.json.status, 'succeeded');
    assert.equal(retry.json.amount_received, 7300);
    // The processor deduplicated the retry by its key: one authorization.
    assert.equal(await authorizations(w.base), 1);
    // And the retry's answer is the key's answer from now on.
    const replay = await api('POST', `/v1/payment_intents/${id}/confirm`, confirm,
      { ...opts, base: w.base, headers: { 'idempotency-key': key } });
    assert.equal(replay.status, 200, replay.text);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(replay.json.status, 'succeeded');
  } finally {
    await w.stop();
  }
});
