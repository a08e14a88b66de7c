// The Checkout.com adapter's wire tests, against its fake
// (tests/fakes/checkout.mjs), and the fake itself checked with Checkout.com's
// official Node client (checkout-sdk-node 5.2.1): the client must send what
// the fake reads and parse what it answers.
//
// Run: node --test tests/processors/checkout.test.mjs (from the repository
// root; cargo builds into $CARGO_TARGET_DIR if set).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { Checkout } from "checkout-sdk-node";
import { start } from "../fakes/checkout.mjs";
import { spawnPeer } from "../fakes/spawn-peer.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// The client reads these before its options: keep them out of the way.
for (const v of ["CKO_SECRET", "CKO_SECRET_KEY", "CKO_CLIENT", "CKO_PUBLIC_KEY", "CKO_ENVIRONMENT"]) {
  delete process.env[v];
}
// A current-platform sandbox secret key's shape (the client adds `Bearer`).
const SECRET = "sk_sbox_abcdefghijklmnopqrstuvwxyz2";

let fake;
let cko;
before(async () => {
  fake = await start();
  cko = new Checkout(SECRET, { host: fake.url });
});
after(async () => {
  await fake?.close();
});

const card = (number = "4242424242424242") => ({
  type: "card",
  number,
  expiry_month: 12,
  expiry_year: 2034,
  cvv: "100",
});

async function ledger() {
  const r = await fetch(`${fake.url}/__ledger`);
  assert.equal(r.status, 200);
  return r.json();
}

// A fake in its own process: spawnSync blocks this one's event loop.
async function startChild() {
  const peer = await spawnPeer(process.execPath, [path.join(root, "tests/fakes/checkout.mjs"), "--port", "0"], {
    name: "the Checkout.com fake",
  });
  return { child: peer.child, url: peer.url };
}

test("the adapter's wire tests pass against the fake", async () => {
  const { child, url } = await startChild();
  try {
    const r = spawnSync(
      "cargo",
      ["test", "-p", "switchyard-processors", "--test", "checkout_wire", "--", "--ignored", "--test-threads=1"],
      { cwd: root, stdio: "inherit", env: { ...process.env, CHECKOUT_URL: url }, timeout: 15 * 60 * 1000 },
    );
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.status, 0, "cargo test --test checkout_wire failed");
  } finally {
    child.kill();
  }
});

test("the official client: authorize, capture part, refund, get, actions, list by reference", async () => {
  const reference = `sdk-${Date.now()}-auth`;
  const p = await cko.payments.request(
    { source: card(), amount: 2000, currency: "EUR", reference, capture: false, processing_channel_id: "pc_test" },
    `${reference}-key`,
  );
  assert.match(p.id, /^pay_[a-z2-7]{26}$/);
  assert.match(p.action_id, /^act_/);
  assert.equal(p.approved, true);
  assert.equal(p.status, "Authorized");
  assert.equal(p.response_code, "10000");
  assert.equal(p.amount, 2000);
  assert.equal(p.currency, "EUR");
  assert.equal(p.reference, reference);
  assert.equal(p.requiresRedirect, false);
  assert.equal(p.source.last4, "4242");
  assert.equal(p.source.type, "card");
  assert.ok(p._links.capture.href.endsWith(`/payments/${p.id}/captures`));
  // No card number anywhere in the answer.
  assert.ok(!JSON.stringify(p).includes("4242424242424242"));

  const cap = await cko.payments.capture(p.id, { amount: 1500, reference: `${reference}-cap` }, `${reference}-cap`);
  assert.match(cap.action_id, /^act_/);
  assert.equal(cap.reference, `${reference}-cap`);

  const ref = await cko.payments.refund(p.id, { amount: 500, reference: `${reference}-ref` }, `${reference}-ref`);
  assert.match(ref.action_id, /^act_/);

  const d = await cko.payments.get(p.id);
  assert.equal(d.id, p.id);
  assert.equal(d.status, "Partially Refunded");
  assert.equal(d.approved, true);
  assert.equal(d.balances.total_captured, 1500);
  assert.equal(d.balances.total_refunded, 500);
  assert.equal(d.balances.available_to_refund, 1000);
  assert.equal(d.processing_channel_id, "pc_test");

  const actions = await cko.payments.getActions(p.id);
  assert.ok(Array.isArray(actions));
  assert.deepEqual(actions.map((a) => a.type).sort(), ["Authorization", "Capture", "Refund"]);
  const refund = actions.find((a) => a.type === "Refund");
  assert.equal(refund.id, ref.action_id);
  assert.equal(refund.reference, `${reference}-ref`);
  assert.equal(refund.amount, 500);
  assert.equal(refund.approved, true);

  const list = await cko.payments.getPaymentList({ reference });
  assert.equal(list.total_count, 1);
  assert.equal(list.data[0].id, p.id);
  const none = await cko.payments.getPaymentList({ reference: `${reference}-nothing` });
  assert.equal(none.total_count, 0);
  assert.deepEqual(none.data, []);
});

test("the official client: void, and an action its state forbids", async () => {
  const reference = `sdk-${Date.now()}-void`;
  const p = await cko.payments.request({ source: card("5436031030606378"), amount: 1200, currency: "GBP", reference, capture: false });
  const v = await cko.payments.void(p.id, { reference: `${reference}-void` }, `${reference}-void`);
  assert.match(v.action_id, /^act_/);
  assert.equal((await cko.payments.get(p.id)).status, "Voided");
  await assert.rejects(cko.payments.capture(p.id, { amount: 1200 }), (e) => e.http_code === 403 && e.name === "ActionNotAllowed");
});

test("the official client: automatic capture, declines by amount, 3-D Secure", async () => {
  const auto = await cko.payments.request({ source: card(), amount: 999, currency: "USD", reference: `sdk-${Date.now()}-auto` });
  assert.equal(auto.status, "Captured");
  assert.equal(auto.approved, true);

  for (const [amount, code] of [
    [1005, "20005"],
    [1051, "20051"],
    [1033, "30033"],
    [4001, "40101"],
    [19998, "20068"],
  ]) {
    const d = await cko.payments.request({ source: card(), amount, currency: "EUR", reference: `sdk-${Date.now()}-${amount}` });
    assert.equal(d.approved, false, `${amount}`);
    assert.equal(d.status, "Declined", `${amount}`);
    assert.equal(d.response_code, code, `${amount}`);
    assert.ok(d.response_summary, `${amount}`);
  }

  const three = await cko.payments.request({ source: card("4485040371536584"), amount: 1000, currency: "EUR", reference: `sdk-${Date.now()}-3ds` });
  assert.equal(three.status, "Pending");
  assert.equal(three.requiresRedirect, true);
  assert.match(three.redirectLink, /^http:\/\/127\.0\.0\.1:\d+\/3ds\/pay_/);
  const enabled = await cko.payments.request({ source: card(), amount: 1000, currency: "EUR", "3ds": { enabled: true } });
  assert.equal(enabled.requiresRedirect, true);
});

test("the official client: errors it knows (422, 401, 404)", async () => {
  await assert.rejects(
    cko.payments.request({ source: card("4242424242424241"), amount: 1000, currency: "EUR" }),
    (e) => e.http_code === 422 && e.body.error_type === "request_invalid" && e.body.error_codes.includes("card_number_invalid"),
  );
  // A public key where the secret key belongs: 401, which the client knows.
  const wrong = new Checkout("pk_sbox_public", { host: fake.url });
  await assert.rejects(
    wrong.payments.request({ source: card(), amount: 1000, currency: "EUR" }),
    (e) => e.http_code === 401 && e.name === "AuthenticationError",
  );
  await assert.rejects(cko.payments.get("pay_doesnotexistdoesnotexist12"), (e) => e.http_code === 404 && e.name === "NotFoundError");
});

test("idempotency keys replay 2xx answers only", async () => {
  const reference = `sdk-${Date.now()}-idem`;
  const key = `${reference}-key`;
  const body = () => ({ source: card(), amount: 3000, currency: "EUR", reference, capture: false });
  const a = await cko.payments.request(body(), key);
  const b = await cko.payments.request(body(), key);
  assert.equal(a.id, b.id);
  assert.equal((await ledger()).payments.filter((p) => p.reference === reference).length, 1);
  // A refused request is not stored: the same key may be used again.
  const k2 = `${reference}-key2`;
  await assert.rejects(cko.payments.request({ ...body(), source: card("4242424242424241") }, k2), (e) => e.http_code === 422);
  const c = await cko.payments.request(body(), k2);
  assert.notEqual(c.id, a.id);
  // Actions too.
  const r1 = await cko.payments.capture(a.id, { amount: 3000 }, `${reference}-cap`);
  const r2 = await cko.payments.capture(a.id, { amount: 3000 }, `${reference}-cap`);
  assert.equal(r1.action_id, r2.action_id);
});

test("the ledger has the reconciliation's shape", async () => {
  const reference = `sdk-${Date.now()}-ledger`;
  const p = await cko.payments.request({ source: card(), amount: 5000, currency: "EUR", reference });
  await cko.payments.refund(p.id, { amount: 1000, reference: `${reference}-r1` }, `${reference}-r1`);
  const entry = (await ledger()).payments.find((x) => x.id === p.id);
  assert.deepEqual(Object.keys(entry).sort(), ["amount", "captured", "currency", "id", "reference", "refunded", "refunds", "status"]);
  assert.equal(entry.reference, reference);
  assert.equal(entry.status, "Partially Refunded");
  assert.equal(entry.captured, 5000);
  assert.equal(entry.refunded, 1000);
  assert.equal(entry.refunds.length, 1);
  assert.deepEqual(Object.keys(entry.refunds[0]).sort(), ["amount", "id", "reference"]);
  assert.equal(entry.refunds[0].reference, `${reference}-r1`);
  // No card data in the ledger.
  assert.ok(!JSON.stringify(await ledger()).includes("4242424242424242"));
});

test("runnable on its own: --port prints where it listens", async () => {
  const { child, url } = await startChild();
  try {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await fetch(`${url}/__ledger`);
    assert.deepEqual(await r.json(), { payments: [] });
  } finally {
    child.kill();
  }
});
