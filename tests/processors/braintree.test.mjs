// The braintree adapter against its fake: starts tests/fakes/braintree.mjs on
// a free port, runs the wire tests (crates/processors/tests/braintree_wire.rs)
// against it, and checks that every GraphQL document the adapter can send,
// and every one the fake received, validates against the schema
// (tests/fakes/braintree/schema.graphql).
//
// Run: node --test tests/processors/braintree.test.mjs
// (inherits CARGO_TARGET_DIR from the environment)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, validate } from 'graphql';
import { schema } from '../fakes/braintree.mjs';
import { spawnPeer } from '../fakes/spawn-peer.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let peer;

const FAKE = fileURLToPath(new URL('../fakes/braintree.mjs', import.meta.url));

// The fake runs in a child process of its own: the wire tests are run with
// spawnSync, which blocks this process's event loop.
const startPeer = () => spawnPeer(process.execPath, [FAKE, '--port', '0'], { name: 'the braintree fake' });

before(async () => {
  peer = await startPeer();
});

after(() => {
  peer?.close();
});

const cargo = (args, env = {}) =>
  spawnSync('cargo', args, {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...env },
  });

const post = (body, headers = {}) =>
  fetch(`${peer.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from('public_key:private_key').toString('base64')}`,
      'braintree-version': '2025-04-29',
      ...headers,
    },
    body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));

function assertValid(doc) {
  const errors = validate(schema, parse(doc));
  assert.deepEqual(errors.map((e) => e.message), [], doc.slice(0, 80));
}

test('every document the adapter can send validates against the schema', () => {
  const dir = mkdtempSync(join(tmpdir(), 'braintree-docs-'));
  const out = join(dir, 'documents.json');
  try {
    const r = cargo(
      ['test', '-q', '-p', 'switchyard-processors', '--lib', 'braintree::tests::write_documents'],
      { BRAINTREE_DOCUMENTS_OUT: out },
    );
    assert.equal(r.status, 0, 'cargo test (write_documents) failed');
    const docs = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(docs.length, 8);
    for (const d of docs) assertValid(d);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wire tests pass against the fake', () => {
  const r = cargo(
    ['test', '-p', 'switchyard-processors', '--test', 'braintree_wire', '--', '--ignored', '--test-threads=1'],
    { BRAINTREE_URL: peer.url },
  );
  assert.equal(r.status, 0, 'braintree wire tests failed');
});

test('every document the fake received validated, and the ledger is consistent', async () => {
  const { documents, invalid } = await fetch(`${peer.url}/__documents`).then((r) => r.json());
  assert.ok(documents.length > 0, 'the wire tests sent nothing');
  assert.equal(invalid, 0);
  for (const d of documents) assertValid(d);
  const { payments } = await fetch(`${peer.url}/__ledger`).then((r) => r.json());
  for (const p of payments) {
    assert.ok(p.captured <= p.amount, JSON.stringify(p));
    assert.equal(p.refunded, p.refunds.reduce((s, r) => s + r.amount, 0));
    assert.ok(p.refunded <= p.captured || p.refunded === 0, JSON.stringify(p));
  }
  // Every authorization key appears on one transaction only (no double
  // charge from the retries the wire tests make).
  const keys = payments.map((p) => p.reference);
  assert.equal(new Set(keys).size, keys.length, `duplicate orderIds: ${keys}`);
});

test('the fake answers as Braintree does: errors with an errorClass, always HTTP 200', async () => {
  const invalid = await post({ query: '{ transaction { id } }' });
  assert.equal(invalid.status, 200);
  assert.equal(invalid.body.errors[0].extensions.errorClass, 'VALIDATION');
  assert.ok(invalid.body.extensions.requestId);
  assert.equal(invalid.body.data, undefined);

  const unauth = await post({ query: '{ ping }' }, { authorization: 'Basic ' + Buffer.from('x:').toString('base64') });
  assert.equal(unauth.body.errors[0].extensions.errorClass, 'AUTHENTICATION');

  const noVersion = await post({ query: '{ ping }' }, { 'braintree-version': '' });
  assert.equal(noVersion.body.errors[0].extensions.errorClass, 'UNSUPPORTED_CLIENT');

  const ping = await post({ query: '{ ping }' });
  assert.deepEqual(ping.body.data, { ping: 'pong' });

  // An input field Braintree's types do not have is refused, not ignored.
  const extra = await post({
    query: 'mutation T($input: TokenizeCreditCardInput!) { tokenizeCreditCard(input: $input) { paymentMethod { id } } }',
    variables: { input: { creditCard: { number: '4111111111111111', expirationMonth: '12', expirationYear: '2030', pin: '1' } } },
  });
  assert.equal(extra.body.errors[0].extensions.errorClass, 'VALIDATION');

  // A Luhn-invalid number: Braintree's 81715.
  const luhn = await post({
    query: 'mutation T($input: TokenizeCreditCardInput!) { tokenizeCreditCard(input: $input) { paymentMethod { id } } }',
    variables: { input: { creditCard: { number: '4111111111111112', expirationMonth: '12', expirationYear: '2030' } } },
  });
  assert.equal(luhn.body.errors[0].extensions.legacyCode, '81715');
  assert.equal(luhn.body.data.tokenizeCreditCard, null);

  // Braintree has no idempotency: the same orderId twice is two transactions.
  const tokenize = async () => (await post({
    query: 'mutation T($input: TokenizeCreditCardInput!) { tokenizeCreditCard(input: $input) { paymentMethod { id } } }',
    variables: { input: { creditCard: { number: '4111111111111111', expirationMonth: '12', expirationYear: '2030' } } },
  })).body.data.tokenizeCreditCard.paymentMethod.id;
  const charge = async () => (await post({
    query: 'mutation C($input: AuthorizePaymentMethodInput!) { authorizePaymentMethod(input: $input) { transaction { id status } } }',
    variables: { input: { paymentMethodId: await tokenize(), transaction: { amount: '1.00', orderId: 'same-order' } } },
  })).body.data.authorizePaymentMethod.transaction;
  const a = await charge();
  const b = await charge();
  assert.notEqual(a.id, b.id);
  const { payments } = await fetch(`${peer.url}/__ledger`).then((r) => r.json());
  assert.equal(payments.filter((p) => p.reference === 'same-order').length, 2);

  // The sandbox amounts: 2000.00-2999.99 declined with that code.
  const declined = await post({
    query: 'mutation C($input: AuthorizePaymentMethodInput!) { authorizePaymentMethod(input: $input) { transaction { status statusHistory { ... on ProcessorDeclinedEvent { processorResponse { legacyCode } } } } } }',
    variables: { input: { paymentMethodId: await tokenize(), transaction: { amount: '2057.00' } } },
  });
  const t = declined.body.data.authorizePaymentMethod.transaction;
  assert.equal(t.status, 'PROCESSOR_DECLINED');
  assert.equal(t.statusHistory[0].processorResponse.legacyCode, '2057');
});

test('runnable on its own: --port N prints its address', async () => {
  const child = spawn(process.execPath, [FAKE, '--port', '0']);
  try {
    const line = await new Promise((resolve, reject) => {
      child.stdout.once('data', (d) => resolve(String(d)));
      child.once('error', reject);
    });
    assert.match(line, /^listening on http:\/\/127\.0\.0\.1:\d+/);
  } finally {
    child.kill();
  }
});
