// The processor dashboard (www/dashboard.html, served by the worker) in
// headless Chromium, after a scripted run of payments with known outcomes
// made concurrently through the API (as 13-metrics.test.mjs): signed in
// with the keyboard alone, filtered to the run's own rule, it shows the
// run's numbers (per processor: attempts, authorized, rate, declines by
// code, errors, skips, recoveries and their amounts, latency within the
// histogram's 1/32; volume per processor and per rule; totals), follows a
// filter change, shows each processor's circuit, refreshes by itself, names
// the parameter of a refused query, shows a 5xx, stops refreshing while
// hidden and once signed out, and never puts the key in the URL, storage
// or cookies. At 1366×860 and at 390×844, screenshots in E2E_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { api, SK, BASE, ROOT } from './helpers.mjs';
import {
  metricsReference, nearestRank, latencyTolerance, activateRunRules, runConcurrently,
} from './metrics-reference.mjs';

const WORKER = process.env.E2E_WORKER_URL ?? BASE;
const ART = process.env.E2E_ARTIFACTS ?? path.join(ROOT, 'tests', 'artifacts', 'e2e');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PROCESSORS = JSON.parse(process.env.E2E_PROCESSORS ?? '[{"id":"sandbox_a"},{"id":"sandbox_b"},{"id":"sandbox_c"}]').map((p) => p.id);

const RUN = `d${Date.now().toString(36)}`;
const RULE = `${RUN} dashboard`;
const PMS = {
  pm_card_visa: 'visa',
  pm_card_mastercard: 'mastercard',
  pm_card_visa_debit: 'visa',
  pm_card_chargeDeclinedInsufficientFunds: 'visa',
  pm_card_chargeDeclinedStolenCard: 'visa',
  pm_card_authenticationRequired: 'visa',
  pm_card_amex: 'amex',
  pm_card_jcb: 'jcb',
};
const CURRENCIES = ['usd', 'jpy', 'kwd']; // two, zero and three decimals
const PAYMENTS = 48;
const CONCURRENCY = 6;
const DECIMALS = { usd: 2, jpy: 0, kwd: 3 };

let previousActive;
const made = [];

async function pay(i, pm) {
  const currency = CURRENCIES[i % CURRENCIES.length];
  const amount = currency === 'kwd' ? 1000 + 10 * i : 1000 + i;
  const r = await api('POST', '/v1/payment_intents', {
    amount, currency, confirm: 'true', payment_method: pm, 'metadata[run]': RUN,
  }, { form: true });
  const pi = r.status === 200 ? r.json : r.json?.error?.payment_intent;
  assert.ok(pi?.routing, `payment ${i}: ${r.status} ${r.text}`);
  assert.equal(pi.routing.rule, RULE);
  made.push({ pm, brand: PMS[pm], amount, currency, attempts: pi.routing.attempts });
}

/** Until the API counts every attempt of the run (recorded just after each answer). */
async function counted() {
  const all = metricsReference(made)['*'];
  for (let i = 0; i < 100; i++) {
    const r = await api('GET', `/v1/routing/metrics?window=3600&rule=${encodeURIComponent(RULE)}`);
    assert.equal(r.status, 200, r.text);
    if (r.json.totals.attempts + r.json.totals.skipped >= all.attempts + all.skipped) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.fail('the run was not counted in time');
}

before(async () => {
  fs.mkdirSync(ART, { recursive: true });
  previousActive = await activateRunRules(api, { name: `dashboard ${RUN}`, run: RUN, rule: RULE });
  const pms = Object.keys(PMS);
  await runConcurrently(PAYMENTS, CONCURRENCY, (i) => pay(i, pms[i % pms.length]));
  // Every kind of outcome is in the run. sandbox_down's calls are not
  // processed (and the payment recovered by sandbox_a), or skipped once its
  // circuit is open: after 13-metrics' run it may stay open for minutes,
  // and then no payment can be recovered (every sandbox declines a card
  // alike): run alone, this test sees recoveries.
  const all = metricsReference(made)['*'];
  assert.ok(all.authorized > 0 && all.soft_declines > 0 && all.hard_declines > 0 && all.authentication_required > 0
    && (all.not_processed > 0 ? all.recovered_by_retry > 0 : all.skipped > 0), JSON.stringify(all));
  await counted();
});

after(async () => {
  if (previousActive) await api('POST', `/v1/routing/rulesets/${previousActive}/activate`);
});

// ---------------------------------------------------------------------------
// The expected texts, formatted here independently of www/lib/format.js.

const sp = (s) => String(s).replace(/\u00a0/g, ' ').trim();
const count = (n) => n.toLocaleString('en-US');
function money(minor, currency) {
  const d = DECIMALS[currency];
  return `${currency.toUpperCase()} ${(minor / 10 ** d).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })}`;
}
const moneyList = (m) => (Object.keys(m).length ? Object.keys(m).sort().map((c) => money(m[c], c)).join('\n') : '—');
const pctOf = (text) => Number(sp(text).replace('%', ''));
const msOf = (text) => Number(sp(text).replace(/[ ,]|ms/g, ''));

/** Everything the page's tables and figures show, as text. */
function readPage(page) {
  return page.evaluate(() => {
    const cells = (tr) => Object.fromEntries([...tr.querySelectorAll('[data-k]')].map((c) => [c.dataset.k, c.innerText.trim()]));
    const rows = (sel, key) => Object.fromEntries([...document.querySelectorAll(sel)].map((tr) => [tr.dataset[key], cells(tr)]));
    const declines = {};
    for (const tr of document.querySelectorAll('#decline-table tr[data-code]')) {
      (declines[tr.dataset.processor] ??= {})[tr.dataset.code || 'other codes'] = tr.querySelector('[data-k="count"]')?.innerText.trim() ?? tr.children[tr.children.length - 2].innerText.trim();
    }
    return {
      processors: rows('#processor-table tbody tr[data-processor]', 'processor'),
      all: cells(document.querySelector('#processor-table tfoot tr') ?? document.createElement('tr')),
      volume: rows('#volume-table tbody tr[data-processor]', 'processor'),
      rules: rows('#rule-table tbody tr[data-rule]', 'rule'),
      totals: Object.fromEntries([...document.querySelectorAll('#totals [data-k]')].map((s) => [s.dataset.k, s.querySelector('.stat-value').innerText.trim()])),
      declines,
      circuits: Object.fromEntries([...document.querySelectorAll('#circuits li[data-processor]')].map((li) => [li.dataset.processor, { state: li.dataset.state, label: li.querySelector('.circuit-state').innerText.trim() }])),
    };
  });
}

/** The page's figures for one processor (or all) against the reference. */
function assertRow(got, want, what) {
  assert.ok(got, `${what}: no row`);
  for (const k of ['payments', 'attempts', 'authorized', 'soft_declines', 'hard_declines', 'authentication_required', 'skipped', 'recovered_by_retry']) {
    assert.equal(sp(got[k]), count(want[k]), `${what}: ${k}`);
  }
  assert.equal(sp(got.errors), count(want.not_processed + want.unknown), `${what}: errors`);
  if (want.attempts) assert.ok(Math.abs(pctOf(got.authorization_rate) - (100 * want.authorized) / want.attempts) <= 0.05 + 1e-9, `${what}: rate ${got.authorization_rate}`);
  else assert.equal(sp(got.authorization_rate), '—', `${what}: rate`);
  assert.equal(sp(got.recovered_amount), moneyList(want.recovered_amount), `${what}: recovered amount`);
  for (const [q, f] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]]) {
    if (!want.latencies.length) { assert.equal(sp(got[q]), '—', `${what}: ${q}`); continue; }
    const exact = nearestRank(want.latencies, f);
    assert.ok(Math.abs(msOf(got[q]) - exact) <= latencyTolerance(exact), `${what}: ${q} ${got[q]} vs exact ${exact} ms`);
  }
}

/** The whole page against the reference of these payments. */
function assertShows(view, payments, what) {
  const ref = metricsReference(payments);
  const all = ref['*'];
  assertRow(view.all, all, `${what}, all processors`);
  const withCalls = Object.keys(ref).filter((p) => p !== '*');
  assert.deepEqual(Object.keys(view.processors).sort(), withCalls.sort(), `${what}: processors shown`);
  for (const p of withCalls) {
    assertRow(view.processors[p], ref[p], `${what}, ${p}`);
    assert.equal(sp(view.volume[p].payments), count(ref[p].payments), `${what}, ${p}: volume payments`);
    assert.equal(sp(view.volume[p].amount), moneyList(ref[p].amount), `${what}, ${p}: volume amount`);
    assert.equal(sp(view.volume[p].authorized_amount), moneyList(ref[p].authorized_amount), `${what}, ${p}: authorized amount`);
    const codes = Object.entries(ref[p].codes).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
    assert.deepEqual(Object.entries(view.declines[p] ?? {}).filter(([c]) => c !== 'other codes').map(([c, n]) => [c, sp(n)]), codes.map(([c, n]) => [c, count(n)]), `${what}, ${p}: decline codes`);
  }
  assert.equal(view.totals.payments, count(all.payments), `${what}: total payments`);
  assert.equal(view.totals.attempts, count(all.attempts), `${what}: total attempts`);
  assert.equal(view.totals.recovered, count(all.recovered_by_retry), `${what}: total recovered`);
  assert.equal(view.totals.skipped, count(all.skipped), `${what}: total skipped`);
  const rule = view.rules[RULE];
  assert.ok(rule, `${what}: the run's rule is listed: ${JSON.stringify(Object.keys(view.rules))}`);
  assert.equal(sp(rule.payments), count(payments.length), `${what}: the rule's payments`);
  assert.equal(sp(rule.amount), moneyList(all.amount), `${what}: the rule's amount`);
  assert.equal(sp(rule.attempts), count(all.attempts), `${what}: the rule's attempts`);
  assert.deepEqual(Object.keys(view.rules), [RULE], `${what}: only the run's rule under its filter`);
}

/** Until the page's total attempts read `n` (the page asked again). */
function waitForAttempts(page, n, timeout = 15_000) {
  return page.waitForFunction((want) => document.querySelector('#totals [data-k="attempts"] .stat-value')?.textContent.trim() === want, count(n), { timeout });
}

async function openBrowser(viewport) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // A refused request's own line ("Failed to load resource: ... 401") is the browser's, not the page's.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console error: ${m.text()}`);
    if (m.text().includes(SK)) problems.push('the key was logged');
  });
  const requests = [];
  page.on('request', (r) => { if (new URL(r.url()).pathname.startsWith('/v1/')) requests.push({ url: r.url(), at: Date.now() }); });
  return { browser, page, problems, requests };
}

const shot = (page, name) => page.screenshot({ path: path.join(ART, `dashboard-${name}.png`), fullPage: true });

/** Presses Tab until `id` has the focus; answers the ids passed on the way. */
async function tabTo(page, id, most = 15) {
  const seen = [];
  for (let k = 0; k < most; k++) {
    await page.keyboard.press('Tab');
    const at = await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
    seen.push(at);
    if (at === id) return seen;
  }
  assert.fail(`Tab never reached #${id}: ${seen.join(' → ')}`);
}

async function keyNowhere(page, what) {
  const where = await page.evaluate(async () => ({
    href: location.href,
    local: JSON.stringify(Object.entries(localStorage)),
    session: JSON.stringify(Object.entries(sessionStorage)),
    cookie: document.cookie,
    dbs: JSON.stringify(await indexedDB.databases()),
    html: document.documentElement.outerHTML,
    input: document.getElementById('key-input').value,
    title: document.title,
  }));
  for (const [k, v] of Object.entries(where)) assert.ok(!v.includes(SK), `${what}: the key is in ${k}`);
  // The preview page (visited first) keeps its draft there; the dashboard nothing.
  assert.deepEqual(JSON.parse(where.local).map(([k]) => k).filter((k) => !k.startsWith('switchyard.preview.')), [], `${what}: localStorage`);
  assert.equal(where.session, '[]', `${what}: sessionStorage`);
  assert.equal(where.cookie, '', `${what}: cookies`);
}

for (const [name, viewport] of [['desktop', { width: 1366, height: 860 }], ['phone', { width: 390, height: 844 }]]) {
  test(`the dashboard at ${name} width shows the scripted run's numbers, signed in and filtered with the keyboard`, async () => {
    const { browser, page, problems, requests } = await openBrowser(viewport);
    try {
      // Linked from the preview page's top bar.
      await page.goto(`${WORKER}/`);
      await page.locator('.topbar a[href="dashboard.html"]').click();
      await page.waitForSelector('body[data-ready="true"]');
      assert.match(await page.locator('h1').innerText(), /Processor dashboard/);
      assert.equal(await page.locator('h1').count(), 1);
      await page.evaluate(() => { window.__sameDocument = true; });

      // A wrong key: the API's own 401 message. Keyboard only from here.
      const wrong = `sk_test_wrong_${RUN}`;
      const refused = await api('GET', '/v1/routing/processors', undefined, { key: wrong });
      assert.equal(refused.status, 401);
      assert.equal(await page.evaluate(() => document.activeElement.id), 'key-input');
      await page.keyboard.type(wrong);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#signin-error:not([hidden])');
      assert.ok((await page.locator('#signin-error').innerText()).includes(refused.json.error.message), await page.locator('#signin-error').innerText());
      assert.equal(await page.locator('#board').isVisible(), false);
      await page.keyboard.press('Control+A');
      await page.keyboard.type(SK);
      await page.keyboard.press('Enter');
      await page.waitForSelector('body[data-loaded]');
      assert.match(await page.locator('#mode-badge').innerText(), /Test mode/);
      await keyNowhere(page, 'signed in');

      // Tab walks the filters in order; the run's rule typed, Enter applies it.
      const order = await tabTo(page, 'f-rule');
      assert.deepEqual(order, ['f-window', 'f-brand', 'f-country', 'f-funding', 'f-currency', 'f-rule']);
      const ring = await page.locator('#f-rule').evaluate((e) => getComputedStyle(e).outlineStyle);
      assert.notEqual(ring, 'none', 'a visible focus ring');
      await page.keyboard.type(RULE);
      await page.keyboard.press('Enter');
      const seen = [...made];
      await waitForAttempts(page, metricsReference(seen)['*'].attempts);
      await page.waitForFunction(() => !document.getElementById('board').hasAttribute('aria-busy'));
      assertShows(await readPage(page), seen, `${name}, rule filter`);
      const fit = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      assert.ok(fit[0] <= fit[1], `the page is ${fit[0]}px wide on a ${fit[1]}px screen`);
      await shot(page, `${name}-run`);

      // Circuits: every configured processor, in the state the API gives.
      // (A circuit's state moves with time: read the API just before and
      // just after a refresh of the page.)
      const loaded = await page.evaluate(() => Number(document.body.dataset.loaded));
      const before_ = await api('GET', '/v1/routing/processors');
      await page.evaluate(() => document.getElementById('refresh-btn').click()); // the focus stays in the filters
      await page.waitForFunction((n) => Number(document.body.dataset.loaded) > n, loaded);
      const view = await readPage(page);
      const after_ = await api('GET', '/v1/routing/processors');
      assert.deepEqual(Object.keys(view.circuits).sort(), [...PROCESSORS].sort());
      for (const p of PROCESSORS) {
        const states = [before_, after_].map((r) => r.json.data.find((x) => x.id === p)?.circuit?.state ?? 'unknown');
        assert.ok(states.includes(view.circuits[p].state), `${p}: page ${view.circuits[p].state}, API ${states}`);
        assert.match(view.circuits[p].label, /^(closed|open|half-open|unknown)$/i);
      }

      // Refreshes by itself: a new payment of the run shows without reload.
      const n0 = made.length;
      await pay(1000 + n0, 'pm_card_mastercard');
      await counted();
      const t0 = Date.now();
      // Within the 10 s period, plus the refresh's own requests on a busy machine.
      await waitForAttempts(page, metricsReference(made)['*'].attempts, 14_000);
      assert.ok(Date.now() - t0 <= 14_000);
      assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
      assertShows(await readPage(page), [...made], `${name}, after a refresh`);

      // A filter change: the currency, from the keyboard (Shift+Tab back to it).
      await page.keyboard.press('Shift+Tab');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'f-currency');
      await page.keyboard.type('jpy');
      await page.keyboard.press('Enter');
      const jpy = made.filter((p) => p.currency === 'jpy');
      await waitForAttempts(page, metricsReference(jpy)['*'].attempts);
      await page.waitForFunction(() => !document.getElementById('board').hasAttribute('aria-busy'));
      assertShows(await readPage(page), jpy, `${name}, currency jpy`);
      assert.match(await page.locator('#board-sub').innerText(), /currency jpy/);
      await shot(page, `${name}-jpy`);

      if (name === 'desktop') {
        // And the brand (the currency cleared).
        await page.locator('#f-currency').fill('');
        await page.locator('#f-brand').selectOption('mastercard');
        const mc = made.filter((p) => p.brand === 'mastercard');
        await waitForAttempts(page, metricsReference(mc)['*'].attempts);
        await page.waitForFunction(() => !document.getElementById('board').hasAttribute('aria-busy'));
        assertShows(await readPage(page), mc, `${name}, brand mastercard`);

        // A refused query names its parameter, at its field.
        await page.locator('#f-rule').fill('r'.repeat(201));
        await page.locator('#f-rule').press('Enter');
        await page.waitForSelector('#board-error:not([hidden])');
        const err = await page.locator('#board-error').innerText();
        assert.match(err, /HTTP 400/);
        assert.match(err, /parameter: rule/);
        assert.match(err, /“Rule” filter/);
        assert.equal(await page.locator('#f-rule').getAttribute('aria-invalid'), 'true');
        await shot(page, `${name}-error-400`);
        // A 5xx: said so, and the figures shown are dated.
        await page.locator('#f-rule').fill(RULE);
        await page.locator('#f-rule').press('Enter');
        await page.waitForSelector('#board-error', { state: 'hidden' });
        await page.route('**/v1/routing/metrics*', (route) => route.fulfill({
          status: 503, contentType: 'application/json',
          body: JSON.stringify({ error: { type: 'api_error', code: 'configuration_error', message: 'SWITCHYARD_TEST_PROCESSORS does not parse.' } }),
        }));
        await page.locator('#refresh-btn').press('Enter');
        await page.waitForSelector('#board-error:not([hidden])');
        const e5 = await page.locator('#board-error').innerText();
        assert.match(e5, /could not answer \(HTTP 503\): SWITCHYARD_TEST_PROCESSORS does not parse/);
        assert.match(e5, /figures below are from/);
        await page.unroute('**/v1/routing/metrics*');

        // Hidden: no request; visible again: one at once.
        await page.evaluate(() => {
          Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
          document.dispatchEvent(new Event('visibilitychange'));
        });
        await page.waitForTimeout(300);
        const k0 = requests.length;
        await page.waitForTimeout(11_000);
        assert.equal(requests.length, k0, 'no refresh while hidden');
        const asked = await page.evaluate(() => window.__dashboard.requests);
        await page.evaluate(() => {
          Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
          document.dispatchEvent(new Event('visibilitychange'));
        });
        await page.waitForFunction((k) => window.__dashboard.requests > k, asked, { timeout: 2000 });
        await page.waitForTimeout(500);
        assert.ok(requests.length > k0, 'visible again: a refresh at once');
      }

      await keyNowhere(page, 'after filtering');
      // Every request carried the key in its header only, never its URL.
      assert.ok(requests.every((r) => !r.url.includes(SK)));

      // Sign out (keyboard): the key and the figures are gone, and nothing more is asked.
      await page.locator('#signout-btn').focus();
      await page.keyboard.press('Enter');
      await page.waitForSelector('#signin:not([hidden])');
      assert.equal(await page.locator('#board').isVisible(), false);
      assert.equal(await page.locator('#processor-table tr').count(), 0);
      assert.equal(await page.locator('#mode-badge').isVisible(), false);
      assert.equal(await page.evaluate(() => document.activeElement.id), 'key-input');
      await keyNowhere(page, 'signed out');
      if (name === 'desktop') {
        await page.waitForTimeout(300);
        const k1 = requests.length;
        await page.waitForTimeout(11_000);
        assert.equal(requests.length, k1, 'no request once signed out');
      }
      await shot(page, `${name}-signed-out`);
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  });
}
