// The preview page's authorization rates from the worker (issue 13, item
// 4), in headless Chromium against the worker: signed in with the test
// secret key, "Load current rates" fills the rates with the mode's table
// (GET /v1/routing/rates), which holds the payments just made; a payment
// typed on the page is then decided by an auth_rate rule with those rates,
// and the page shows the choice and why. The key is never in storage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { api, stripeFor, SK, ROOT } from './helpers.mjs';

const WORKER = process.env.E2E_WORKER_URL ?? process.env.E2E_BASE_URL ?? 'http://127.0.0.1:8787';
const ART = process.env.E2E_ARTIFACTS ?? path.join(ROOT, 'tests', 'artifacts', 'e2e');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const stripe = stripeFor();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('the page loads the mode\'s current rates and decides an auth_rate rule with them', async () => {
  // Some attempts of this mode, so the table is not empty.
  for (let i = 0; i < 3; i++) {
    const pi = await stripe.paymentIntents.create({ amount: 1200 + i, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
    assert.equal(pi.status, 'succeeded');
  }
  let table;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await api('GET', '/v1/routing/rates');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'routing_rates');
    table = r.json;
    if (table.rates.some((e) => e.brand === 'visa' && e.attempts > 0)) break;
    assert.ok(Date.now() < deadline, `no visa rates after 60 s: ${r.text}`);
    await sleep(500);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(WORKER + '/');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20000 });
    assert.equal(await page.locator('#rates-load').isHidden(), true, 'Load current rates needs a sign-in');
    await page.locator('#signin-btn').click();
    await page.waitForSelector('#signin-dialog[open]');
    await page.locator('#signin-key').fill(SK);
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-signed-in]');
    await page.locator('#rates-details summary').click();
    await page.locator('#rates-load').click();
    await page.waitForFunction(() => document.querySelector('#rates-info').textContent.includes('from the worker'), null, { timeout: 20000 });
    const loaded = JSON.parse(await page.locator('#rates-source').inputValue());
    assert.ok(Array.isArray(loaded) && loaded.length > 0, 'rates loaded');
    const processors = [...new Set(loaded.map((e) => e.processor))];
    for (const e of loaded) {
      assert.deepEqual(Object.keys(e).sort(), ['attempts', 'authorized', 'brand', 'country', 'funding', 'processor']);
      assert.ok(e.authorized <= e.attempts);
    }
    // The worker's answer, entry for entry (it may have moved on since:
    // a later table only adds attempts).
    for (const e of table.rates) {
      const now = loaded.find((x) => x.processor === e.processor && x.brand === e.brand && x.country === e.country && x.funding === e.funding);
      assert.ok(now && now.attempts >= e.attempts, `${JSON.stringify(e)} is in the loaded rates`);
    }
    // An auth_rate rule over the processors seen, and a visa payment: the
    // decision names the picked processor and the reason.
    const rs = { name: 'rates page (e2e)', rules: [], default: { auth_rate: { processors: [...processors, 'sandbox_c'].filter((p, i, a) => a.indexOf(p) === i), explore: 0, min_sample: 1 } } };
    await page.locator('#source').evaluate((ta, t) => {
      ta.value = t;
      ta.dispatchEvent(new Event('input', { bubbles: true }));
    }, JSON.stringify(rs, null, 2));
    const want = (await api('POST', '/v1/routing/preview', { ruleset: rs, payment: { amount: 12500, currency: 'usd', card: { brand: 'visa', country: 'US', funding: 'credit' }, routing_key: 'page' }, rates: loaded })).json;
    const info = want.trace.at(-1).auth_rate;
    assert.equal(info.reason, 'best_rate', JSON.stringify(want));
    // The same payment typed on the page: the same choice, and why.
    await page.locator('#tab-test').click();
    await page.fill('#pf-currency', 'usd');
    await page.fill('#pf-amount', '12500');
    await page.selectOption('#pf-brand', 'visa');
    await page.selectOption('#pf-funding', 'credit');
    await page.fill('#pf-country', 'US');
    await page.fill('#pf-key', 'page');
    await page.waitForSelector(`#auth-rate[data-reason="best_rate"][data-picked="${info.picked}"]`, { timeout: 20000 });
    assert.equal(await page.locator('#decision').getAttribute('data-processors'), want.processors.join(','));
    const text = await page.locator('body').innerText();
    fs.mkdirSync(ART, { recursive: true });
    await page.screenshot({ path: path.join(ART, 'rates-page-loaded.png'), fullPage: true });
    assert.ok(text.includes('Authorization rates'), 'the rates section is on the page');
    // Nothing of the key in storage.
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert.ok(!stored.includes(SK), 'the key is not stored');
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});
