// Authorization rates on the preview page: typed into their textarea, they
// decide an auth_rate rule (the choice and the reason shown with every
// candidate's rate), feed the simulation, survive a reload; bad rates show
// their errors by path and line, and nothing decides with them. Signed out,
// "Load current rates" is not offered (its signed-in side needs the worker).
// Expected answers come from the same binding in Node.
//
//   node --test tests/browser/rates.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EXAMPLES } from '../../www/lib/examples.js';
import { loadEngine, samplePayments, startBrowser, openPage, shot } from './harness.mjs';

const BY_RATE = EXAMPLES.find((e) => e.id === 'auth_rate').ruleSet;
const RATES = [
  { processor: 'stripe', brand: 'visa', country: 'US', funding: 'credit', attempts: 200, authorized: 160 },
  { processor: 'adyen_eu', brand: 'visa', country: 'US', funding: 'credit', attempts: 200, authorized: 190 },
  { processor: 'checkout', brand: 'visa', attempts: 900, authorized: 700 },
];
const PAYMENT = { amount: 12500, currency: 'usd', capture_method: 'automatic', card: { brand: 'visa', country: 'US', funding: 'credit' }, billing: { country: 'FR' }, off_session: false, three_d_secure: false, metadata: { channel: 'web' } };

describe('authorization rates on the preview page', () => {
  let engine;
  let env;
  let page;

  before(async () => {
    engine = await loadEngine();
    env = await startBrowser();
    page = env.page;
    await openPage(page, env.server.url);
  });
  after(async () => {
    await env?.close();
  });

  /** The page's payment form set to PAYMENT with this routing key. */
  async function fillPayment(key) {
    await page.locator('#tab-test').click();
    await page.fill('#pf-currency', 'usd');
    await page.selectOption('#pf-brand', 'visa');
    await page.selectOption('#pf-funding', 'credit');
    await page.fill('#pf-country', 'US');
    await page.fill('#pf-key', key);
  }
  const expected = (key, rates = RATES) => engine.preview(BY_RATE, { ...PAYMENT, routing_key: key }, { rates }).trace.at(-1).auth_rate;

  it('typed rates decide an auth_rate rule: the choice, the reason and every candidate shown', async () => {
    assert.equal(await page.locator('#rates-load').isHidden(), true, 'signed out: no "Load current rates"');
    await page.selectOption('#example-select', 'auth_rate');
    await page.waitForFunction((name) => document.querySelector('#source').value.includes(name), BY_RATE.name);
    await fillPayment('order_8812');
    // without rates: the first listed, below the minimum sample
    await page.waitForSelector('#auth-rate[data-reason="min_sample"][data-picked="stripe"]');
    await page.locator('#rates-details summary').click();
    const text = JSON.stringify(RATES, null, 2);
    // most of it pasted, the end typed by hand
    await page.locator('#rates-source').fill(text.slice(0, -3));
    await page.locator('#rates-source').press('End');
    await page.locator('#rates-source').evaluate((ta) => ta.setSelectionRange(ta.value.length, ta.value.length));
    await page.keyboard.type(text.slice(-3));
    const want = expected('order_8812');
    assert.equal(want.reason, 'best_rate');
    await page.waitForSelector(`#auth-rate[data-reason="best_rate"][data-picked="${want.picked}"]`);
    assert.equal(await page.locator('#decision').getAttribute('data-processors'), `${want.picked},braintree`);
    const box = await page.locator('#auth-rate').textContent();
    assert.match(box, /best rate/i);
    assert.match(box, new RegExp(`Picked ${want.picked}, the best rate`));
    assert.match(box, /95\.0%/);
    assert.match(box, /Not explored: the roll [\d.]+% is not below the exploration share 5%/);
    const rows = await page.locator('#auth-rate tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.dataset.processor, tr.dataset.group, [...tr.cells].map((c) => c.textContent)]));
    assert.deepEqual(rows.map((r) => [r[0], r[1]]), want.candidates.map((c) => [c.processor, c.group ?? '']));
    assert.deepEqual(rows.map((r) => r[2].slice(2)), want.candidates.map((c) => [String(c.attempts), String(c.authorized), `${(100 * c.rate).toFixed(1)}%`]));
    assert.equal(await page.locator('#auth-rate tr.picked').getAttribute('data-processor'), want.picked);
    assert.equal(await page.locator('#rates-summary').textContent(), '(3)');
    await shot(page, 'rates-best');

    // a routing key whose roll falls in the 5% share explores
    let key = null;
    for (let k = 0; k < 2000 && !key; k++) if (expected(`order_${k}`).reason === 'explored') key = `order_${k}`;
    assert.ok(key, 'a key that explores');
    const explored = expected(key);
    await page.fill('#pf-key', key);
    await page.waitForSelector(`#auth-rate[data-reason="explored"][data-picked="${explored.picked}"]`);
    const words = await page.locator('#auth-rate').textContent();
    assert.match(words, /explored/i);
    assert.match(words, new RegExp(`roll ${Number((explored.roll / 1e4).toFixed(4))}% is below the exploration share 5%`));
    assert.match(words, /instead of the best rate \(adyen_eu, 95\.0%\)/);
    await shot(page, 'rates-explored');
    assert.deepEqual(env.problems, []);
  });

  it('the simulation uses the rates, and they are kept across a reload', async () => {
    await page.locator('#tab-sim').click();
    await page.locator('#sample-btn').click();
    await page.waitForSelector('#sim-result:not([hidden])');
    const router = new engine.Router(BY_RATE, { rates: RATES });
    const want = router.simulate(samplePayments());
    router.free();
    const shown = await page.locator('#table-processors tbody tr').evaluateAll((trs) => Object.fromEntries(trs.map((tr) => [tr.dataset.processor, Number(tr.dataset.count)])));
    for (const [p, n] of Object.entries(want.by_processor)) assert.equal(shown[p], n, p);
    const none = new engine.Router(BY_RATE);
    assert.notDeepStrictEqual(none.simulate(samplePayments()).by_processor, want.by_processor, 'the rates change the counts');
    none.free();

    await page.waitForTimeout(300);
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    assert.deepEqual(JSON.parse(await page.locator('#rates-source').inputValue()), RATES);
    assert.equal(await page.locator('#rates-details').getAttribute('open'), '');
    await fillPayment('order_8812');
    await page.waitForSelector(`#auth-rate[data-reason="best_rate"][data-picked="${expected('order_8812').picked}"]`);
  });

  it('bad rates: every error by path and line, nothing decided with them, and fixed again', async () => {
    const bad = '[\n  {"processor": "stripe", "brand": "visa", "attempts": 10, "authorized": 11},\n  {"processor": "adyen_eu", "atempts": 10, "authorized": 1}\n]';
    await page.locator('#rates-source').fill(bad);
    await page.waitForSelector('#rates-error:not([hidden])');
    const err = await page.locator('#rates-error').textContent();
    assert.match(err, /\/rates\/0\/authorized \(line 2, column \d+\): authorized \(11\) cannot exceed attempts \(10\)/);
    assert.match(err, /\/rates\/1\/atempts \(line 3, column \d+\): .*did you mean "attempts"/);
    assert.match(err, /\/rates\/1\/attempts/);
    assert.equal(await page.locator('#rates-source').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#rates-details').getAttribute('data-errors'), '3');
    await page.locator('#decision', { hasText: 'Fix the authorization rates' }).waitFor();
    assert.equal(await page.locator('#auth-rate').count(), 0);
    await shot(page, 'rates-error');
    // not JSON at all
    await page.locator('#rates-source').fill('[{"processor": "stripe",');
    await page.waitForSelector('#rates-error:has-text("not JSON")');
    assert.match(await page.locator('#rates-error').textContent(), /\/rates \(line 1, column \d+\): not JSON/);
    // fixed
    await page.locator('#rates-source').fill(JSON.stringify(RATES));
    await page.waitForSelector('#rates-error[hidden]', { state: 'attached' });
    assert.equal(await page.locator('#rates-source').getAttribute('aria-invalid'), null);
    await page.waitForSelector('#auth-rate');
    // cleared: no rates, stored nothing
    await page.locator('#rates-clear').click();
    await page.waitForSelector('#auth-rate[data-reason="min_sample"]');
    await page.waitForTimeout(50);
    assert.equal(await page.evaluate(() => localStorage.getItem('switchyard.preview.rates.v1')), null);
    assert.deepEqual(env.problems, []);
  });
});
