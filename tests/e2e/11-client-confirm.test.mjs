// Client-side confirmation in headless Chromium (playwright-core, Debian's
// chromium): a checkout page on another origin, holding only the
// publishable key and a payment's client secret, confirms the payment with
// card data through www/client/checkout.js (CORS preflight included). The
// same key cannot read another payment or capture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { stripeFor, BASE, PK, ROOT } from './helpers.mjs';

const stripe = stripeFor();
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const PAGE = `<!doctype html><meta charset="utf-8"><title>checkout</title>
<form id="pay"><input id="number" value="4242424242424242"><button>Pay</button></form>
<pre id="out"></pre>
<script type="module">
import { retrievePaymentIntent, confirmCardPayment } from './checkout.js';
const q = new URLSearchParams(location.search);
const api = q.get('api'), pk = q.get('pk'), secret = q.get('secret');
window.checkout = { retrievePaymentIntent, confirmCardPayment, api, pk, secret };
window.ready = true;
</script>`;

function serve() {
  const js = fs.readFileSync(path.join(ROOT, 'www', 'client', 'checkout.js'));
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/checkout.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(js);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(PAGE);
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('a page with only the publishable key and the client secret confirms the payment', async () => {
  const pi = await stripe.paymentIntents.create({ amount: 4100, currency: 'eur', capture_method: 'manual' });
  const other = await stripe.paymentIntents.create({ amount: 4200, currency: 'eur' });
  const server = await serve();
  // Another origin than the worker's: localhost vs 127.0.0.1.
  const origin = `http://localhost:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    const q = new URLSearchParams({ api: BASE, pk: PK, secret: pi.client_secret });
    await page.goto(`${origin}/?${q}`);
    await page.waitForFunction(() => window.ready === true);
    const result = await page.evaluate(async ({ otherId }) => {
      const { retrievePaymentIntent, confirmCardPayment, api, pk, secret } = window.checkout;
      const out = {};
      const before = await retrievePaymentIntent(api, pk, secret);
      out.before = { status: before.status, amount: before.amount, keys: Object.keys(before) };
      const done = await confirmCardPayment(api, pk, secret, {
        number: document.querySelector('#number').value, exp_month: 12, exp_year: 2034, cvc: '123',
      });
      out.after = { status: done.status, keys: Object.keys(done) };
      // The same secret does not open another payment.
      try {
        await retrievePaymentIntent(api, pk, `${otherId}_secret_${secret.split('_secret_')[1]}`);
        out.other = 'read';
      } catch (e) { out.other = { status: e.status, param: e.param }; }
      // Nor can the key capture.
      const id = secret.split('_secret_')[0];
      const cap = await fetch(`${api}/v1/payment_intents/${id}/capture`, {
        method: 'POST', headers: { authorization: `Bearer ${pk}` },
      });
      out.capture = cap.status;
      return out;
    }, { otherId: other.id });
    assert.equal(result.before.status, 'requires_payment_method');
    assert.equal(result.before.amount, 4100);
    assert.ok(!result.before.keys.includes('metadata') && !result.before.keys.includes('routing'), result.before.keys.join());
    assert.equal(result.after.status, 'requires_capture');
    assert.deepEqual(result.other, { status: 400, param: 'client_secret' });
    assert.equal(result.capture, 403);
    // The merchant's server sees the authorization, and captures it.
    const captured = await stripe.paymentIntents.capture(pi.id);
    assert.equal(captured.status, 'succeeded');
    assert.equal(captured.payment_method_details.card.last4, '4242');
  } finally {
    await browser.close();
    server.close();
  }
});
