// The rule lifecycle from the preview page (issue 12, item 4), in headless
// Chromium (playwright-core, Debian's chromium) against the worker, which
// serves the page at `/`: sign in with the test secret key, the active set
// loaded as current and the worker's processors as the known ones; edit,
// save (and a save the worker refuses, its issue at its place in the
// editor); activate after the comparison, then a payment through the API
// is routed by the new set; roll back from the page, and a payment is
// routed by the old set again; promote to live with the live key. The key
// is never in the URL, storage, cookies or the console. At desktop width
// and at phone width; screenshots in E2E_ARTIFACTS/lifecycle-*.png.
//
// Other files share the worker's state: the test-mode set active at the
// start is active again at the end.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { api, stripeFor, SK, ROOT } from './helpers.mjs';

const WORKER = process.env.E2E_WORKER_URL ?? process.env.E2E_BASE_URL ?? 'http://127.0.0.1:8787';
const LIVE_KEY = process.env.E2E_LIVE_KEY;
const ART = process.env.E2E_ARTIFACTS ?? path.join(ROOT, 'tests', 'artifacts', 'e2e');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PROCESSORS = JSON.parse(process.env.E2E_PROCESSORS ?? '[{"id":"sandbox_a"},{"id":"sandbox_b"},{"id":"sandbox_c"}]').map((p) => p.id);
const stripe = stripeFor();

const GBP_RULE = 'GBP to sandbox_b (e2e lifecycle)';

async function activeSet() {
  const list = await api('GET', '/v1/routing/rulesets?limit=100');
  assert.equal(list.status, 200, list.text);
  let found = list.json.data.find((r) => r.status === 'active');
  let after = list.json.data.at(-1)?.id;
  let more = list.json.has_more;
  while (!found && more) {
    const page = await api('GET', `/v1/routing/rulesets?limit=100&starting_after=${after}`);
    found = page.json.data.find((r) => r.status === 'active');
    after = page.json.data.at(-1)?.id;
    more = page.json.has_more;
  }
  return found ?? null;
}

async function payGbp(amount) {
  return stripe.paymentIntents.create({ amount, currency: 'gbp', confirm: true, payment_method: 'pm_card_visa' });
}

/** Replaces the editor's text in one input event, as a paste does. */
async function setEditor(page, text) {
  await page.locator('#source').evaluate((ta, t) => {
    ta.focus();
    ta.value = t;
    ta.setSelectionRange(0, 0);
    ta.dispatchEvent(new Event('input', { bubbles: true }));
  }, text);
}

const pretty = (v) => JSON.stringify(v, null, 2) + '\n';

async function launch(viewport) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const console = [];
  const problems = [];
  page.on('console', (m) => console.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(WORKER + '/');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20000 });
  return { browser, page, console, problems };
}

function shot(page, name) {
  fs.mkdirSync(ART, { recursive: true });
  return page.screenshot({ path: path.join(ART, `lifecycle-${name}.png`), fullPage: true });
}

/** Whether the page is wider than the screen (sideways scrolling). */
async function overflows(page) {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
}

/** Nothing of a key anywhere the page could keep or leak it. */
async function assertKeyNowhere(env, keys) {
  const seen = await env.page.evaluate(async () => ({
    url: location.href,
    local: Object.keys(localStorage).map((k) => k + '=' + localStorage.getItem(k)).join('\n'),
    session: Object.keys(sessionStorage).map((k) => k + '=' + sessionStorage.getItem(k)).join('\n'),
    cookie: document.cookie,
    idb: (await indexedDB.databases()).map((d) => d.name).join('\n'),
    text: document.body.innerText,
    inputs: [...document.querySelectorAll('input')].map((i) => i.value).join('\n'),
  }));
  for (const key of keys) {
    for (const [where, value] of Object.entries(seen)) assert.ok(!value.includes(key), `the key is in ${where}`);
    assert.ok(!env.console.some((line) => line.includes(key)), 'the key was logged to the console');
  }
  assert.equal(new URL(seen.url).search, '');
  assert.equal(new URL(seen.url).hash, '');
  return seen;
}

async function signInByKeyboard(page, key) {
  await page.locator('#signin-btn').focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('#signin-dialog[open]');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'signin-key', 'the key field has focus');
  await page.keyboard.type(key);
  await page.keyboard.press('Enter');
  await page.waitForSelector('body[data-signed-in]');
  await page.waitForSelector('#signin-dialog:not([open])', { state: 'attached' });
}

async function saveDraft(page) {
  const before = await page.locator('#save-note').getAttribute('data-id');
  await page.locator('#save-draft-btn').click();
  await page.waitForFunction((b) => {
    const n = document.querySelector('#save-note');
    return !n.hidden && n.dataset.id && n.dataset.id !== b;
  }, before);
  const id = await page.locator('#save-note').getAttribute('data-id');
  await page.waitForSelector(`#versions-list li[data-id="${id}"][data-status="draft"]`, { state: 'attached' });
  return id;
}

/** Activate (or roll back to) `id` from its row: the comparison, then the confirmation. */
async function activateFromPage(page, id, kind, shotName, { keyboard = false } = {}) {
  await page.locator('#tab-versions').click();
  const btn = page.locator(`#versions-list li[data-id="${id}"] button[data-action="${kind}"]`);
  if (keyboard) {
    await btn.focus();
    await page.keyboard.press('Enter');
  } else {
    await btn.click();
  }
  await page.waitForSelector('#activate-dialog[open][data-ready="true"]');
  assert.equal(await page.locator('#activate-error').isHidden(), true, await page.locator('#activate-error').textContent());
  assert.equal(await page.locator('#activate-compare').isVisible(), true, 'the comparison is shown before the confirmation');
  assert.equal(await page.locator('#activate-compare').getAttribute('data-total'), '10000');
  const title = await page.locator('#activate-title').textContent();
  assert.match(title, kind === 'rollback' ? /^Roll back to rs_/ : /^Activate rs_/);
  assert.ok(title.includes(id), title);
  await shot(page, shotName);
  const changed = Number(await page.locator('#activate-compare').getAttribute('data-changed'));
  if (keyboard) {
    // Cancel has the focus (the safe choice); the confirmation is next.
    assert.equal(await page.evaluate(() => document.activeElement.id), 'activate-cancel');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'activate-confirm');
    await page.keyboard.press('Enter');
  } else {
    await page.locator('#activate-confirm').click();
  }
  await page.waitForSelector('#activate-dialog:not([open])', { state: 'attached' });
  await page.waitForSelector(`#versions-list[data-active="${id}"]`, { state: 'attached' });
  await page.waitForSelector(`#baseline-info[data-origin="worker"][data-id="${id}"]`, { state: 'attached' });
  if (keyboard) assert.equal(await page.evaluate(() => document.activeElement.dataset.id), id, 'focus on the activated version');
  return changed;
}

let startActive;

before(async () => {
  startActive = await activeSet();
  assert.ok(startActive, 'test mode has an active rule set');
});

after(async () => {
  // Leave test mode as it was found, whatever failed above.
  const now = await activeSet();
  if (now?.id !== startActive.id) {
    const r = await api('POST', `/v1/routing/rulesets/${startActive.id}/activate`);
    assert.equal(r.status, 200, r.text);
  }
});

describe('the rule lifecycle from the page, at desktop width (1366×860)', () => {
  let env;
  let page;
  let startContent;
  let goodId;
  let goodText;

  before(async () => {
    env = await launch({ width: 1366, height: 860 });
    page = env.page;
    startContent = (await api('GET', `/v1/routing/rulesets/${startActive.id}`)).json.ruleset;
  });
  after(async () => {
    await env?.browser.close();
  });

  it('refuses a wrong key with the API\'s 401; Escape closes the dialog and gives focus back', async () => {
    assert.equal(await page.locator('body').getAttribute('data-signed-in'), null);
    await page.locator('#signin-btn').focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('#signin-dialog[open]');
    await page.keyboard.type('sk_test_not_a_configured_key_9999');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#signin-error:not([hidden])');
    const text = await page.locator('#signin-error').textContent();
    assert.match(text, /401/);
    assert.match(text, /api_key_invalid/);
    assert.equal(await page.locator('body').getAttribute('data-signed-in'), null);
    await shot(page, 'wrong-key-desktop');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#signin-dialog:not([open])', { state: 'attached' });
    assert.equal(await page.evaluate(() => document.activeElement.id), 'signin-btn', 'focus is back on the button that opened the dialog');
    assert.equal(await page.locator('#signin-key').inputValue(), '', 'a closed dialog keeps no key');
  });

  it('signs in with the test key (keyboard only): the mode shown, the active set loaded as current, the processors known', async () => {
    await signInByKeyboard(page, SK);
    assert.equal(await page.locator('body').getAttribute('data-signed-in'), 'test');
    assert.match(await page.locator('#mode-badge').textContent(), /^Test mode/);
    const info = page.locator('#baseline-info');
    assert.equal(await info.getAttribute('data-origin'), 'worker');
    assert.equal(await info.getAttribute('data-id'), startActive.id);
    assert.match(await info.textContent(), /active in test mode \(from the worker\)/);
    assert.equal(await page.locator('#baseline-source').inputValue(), pretty(startContent));
    assert.match(await page.locator('#compare-lede').textContent(), /active in test mode, loaded from the worker/);
    // The worker's processors are the known ones: the page's starter
    // draft (stripe, adyen_eu, ...) is not valid for this worker.
    const known = await page.locator('#known-from-worker').textContent();
    for (const id of PROCESSORS) assert.ok(known.includes(id), `${id} in ${known}`);
    assert.match(await page.locator('#known-summary').textContent(), new RegExp(`\\(${PROCESSORS.length}, test mode\\)`));
    await setEditor(page, pretty({ name: 'not here', default: { route: ['stripe'] } }));
    await page.waitForSelector('#issues .issue.error[data-code="unknown_processor"][data-path="/default/route/0"]');
    await setEditor(page, pretty({ name: 'here', default: { route: [PROCESSORS[0]] } }));
    await page.waitForSelector('#status[data-errors="0"]');
    assert.match(await page.locator('#status').textContent(), /^Valid for test mode/);
    // The versions list: the active set among them, with its facts.
    await page.locator('#tab-versions').click();
    const row = page.locator(`#versions-list li[data-id="${startActive.id}"]`);
    assert.equal(await row.getAttribute('data-status'), 'active');
    assert.equal(await row.locator('dd[data-fact="id"]').textContent(), startActive.id);
    assert.match(await row.locator('dd[data-fact="created"]').textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    assert.equal(await row.locator('button[data-action="activate"], button[data-action="rollback"]').count(), 0, 'no activation offered for the active set');
    await shot(page, 'signed-in-desktop');
    await assertKeyNowhere(env, [SK]);
  });

  it('offers the examples on the worker\'s processors', async () => {
    const ids = await page.locator('#example-select option:not([disabled])').evaluateAll((o) => o.map((x) => x.value).filter(Boolean));
    assert.ok(ids.includes('eur'), ids.join());
    await page.selectOption('#example-select', 'eur');
    await page.waitForFunction(() => document.querySelector('#source').value.includes('EUR to Adyen'));
    const set = JSON.parse(await page.locator('#source').inputValue());
    const named = [...set.rules.flatMap((r) => r.then.route ?? []), ...set.default.route];
    assert.ok(named.every((p) => PROCESSORS.includes(p)), named.join());
    await page.waitForSelector('#status[data-errors="0"]');
  });

  it('loads the active set, edits it, saves it as a draft (listed), and shows a refused save\'s issue at its place', async () => {
    await page.locator(`#versions-list li[data-id="${startActive.id}"] button[data-action="load"]`).click();
    await page.waitForFunction((t) => document.querySelector('#source').value === t, pretty(startContent));
    // GBP to sandbox_b, ahead of the active set's own rules.
    const edited = structuredClone(startContent);
    edited.name = 'e2e lifecycle: GBP to sandbox_b';
    edited.rules = [{ name: GBP_RULE, if: { field: 'currency', eq: 'gbp' }, then: { route: ['sandbox_b'] } }, ...(edited.rules ?? [])];
    goodText = pretty(edited);
    await setEditor(page, goodText);
    await page.waitForSelector('#status[data-errors="0"]');
    goodId = await saveDraft(page);
    const stored = await api('GET', `/v1/routing/rulesets/${goodId}`);
    assert.equal(stored.status, 200);
    assert.equal(stored.json.status, 'draft');
    assert.deepEqual(stored.json.ruleset, edited);
    assert.equal(await page.locator(`#versions-list li[data-id="${goodId}"]`).count(), 1);
    assert.equal(await page.locator('#versions-list li').first().getAttribute('data-id'), goodId, 'newest first');
    await shot(page, 'saved-desktop');

    // A processor the worker does not have: refused, with its issue.
    const bad = structuredClone(edited);
    bad.rules[0].then.route = ['sandbox_zz'];
    const badText = pretty(bad);
    await setEditor(page, badText);
    const count = await page.locator('#versions-list').getAttribute('data-count');
    await page.locator('#save-draft-btn').click();
    const issue = page.locator('#issues .issue.error[data-source="worker"]');
    await issue.first().waitFor();
    assert.equal(await issue.count(), 1);
    assert.equal(await issue.getAttribute('data-code'), 'unknown_processor');
    assert.equal(await issue.getAttribute('data-path'), '/rules/0/then/route/0');
    const at = badText.indexOf('"sandbox_zz"');
    assert.equal(await issue.getAttribute('data-line'), String(badText.slice(0, at).split('\n').length));
    assert.equal(await issue.getAttribute('data-col'), String(at - badText.lastIndexOf('\n', at)));
    assert.match(await issue.textContent(), /refused by the worker/);
    assert.equal(await page.locator('#backdrop mark.error').first().textContent(), '"sandbox_zz"');
    assert.match(await page.locator('#save-error').textContent(), /ruleset_invalid/);
    assert.equal(await page.locator('#versions-list').getAttribute('data-count'), count, 'nothing was stored');
    await shot(page, 'refused-desktop');
    // The issue goes with the text it was for.
    await setEditor(page, goodText);
    await page.waitForSelector('#issues .issue[data-source="worker"]', { state: 'detached' });
    assert.equal(await page.locator('#save-error').isHidden(), true);
  });

  it('activates the draft after the comparison: a payment is routed by it', async () => {
    const changed = await activateFromPage(page, goodId, 'activate', 'activate-compare-desktop');
    assert.ok(changed > 0, 'GBP payments of the sample move to sandbox_b');
    assert.equal((await api('GET', `/v1/routing/rulesets/${goodId}`)).json.status, 'active');
    assert.equal(await page.locator(`#versions-list li[data-id="${startActive.id}"]`).getAttribute('data-status'), 'inactive');
    assert.equal(await page.locator('#baseline-source').inputValue(), goodText);
    const pi = await payGbp(1500);
    assert.equal(pi.status, 'succeeded');
    assert.equal(pi.routing.ruleset, goodId);
    assert.equal(pi.routing.rule, GBP_RULE);
    assert.equal(pi.processor_details.processor, 'sandbox_b');
    await shot(page, 'activated-desktop');
  });

  it('rolls back to the earlier version after the comparison: a payment is routed by it again', async () => {
    const changed = await activateFromPage(page, startActive.id, 'rollback', 'rollback-compare-desktop');
    assert.ok(changed > 0);
    assert.equal((await api('GET', `/v1/routing/rulesets/${startActive.id}`)).json.status, 'active');
    assert.equal((await api('GET', `/v1/routing/rulesets/${goodId}`)).json.status, 'inactive');
    const pi = await payGbp(1600);
    assert.equal(pi.status, 'succeeded');
    assert.equal(pi.routing.ruleset, startActive.id);
    assert.notEqual(pi.routing.rule, GBP_RULE);
    assert.notEqual(pi.processor_details.processor, 'sandbox_b');
    // The rolled-back version can be activated again from its row.
    assert.equal(await page.locator(`#versions-list li[data-id="${goodId}"] button[data-action="rollback"]`).count(), 1);
    await shot(page, 'rolled-back-desktop');
  });

  it('promotes a test set to live with the live key, asked for at that moment', { skip: !LIVE_KEY && 'no live key configured' }, async () => {
    const set = { name: 'e2e lifecycle: to live', rules: [{ name: 'EUR to b', if: { field: 'currency', eq: 'eur' }, then: { route: ['sandbox_b', 'sandbox_a'] } }], default: { route: ['sandbox_a'] } };
    await setEditor(page, pretty(set));
    await page.waitForSelector('#status[data-errors="0"]');
    const testId = await saveDraft(page);
    const btn = page.locator(`#versions-list li[data-id="${testId}"] button[data-action="promote"]`);
    await btn.click();
    await page.waitForSelector('#promote-dialog[open]');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'promote-key');
    // The test key is not enough: the API says so.
    await page.keyboard.type(SK);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#promote-error:not([hidden])');
    assert.match(await page.locator('#promote-error').textContent(), /live_key_required/);
    await page.locator('#promote-key').fill(LIVE_KEY);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#promote-result:not([hidden])');
    const liveId = await page.locator('#promote-result').getAttribute('data-id');
    assert.match(liveId, /^rs_/);
    assert.equal(await page.locator('#promote-new-id').textContent(), liveId);
    assert.equal(await page.locator('#promote-key').inputValue(), '', 'the live key is dropped after the call');
    await shot(page, 'promoted-desktop');
    const live = await api('GET', `/v1/routing/rulesets/${liveId}`, undefined, { key: LIVE_KEY });
    assert.equal(live.status, 200, live.text);
    assert.equal(live.json.livemode, true);
    assert.equal(live.json.status, 'draft');
    assert.equal(live.json.promoted_from, testId);
    assert.deepEqual(live.json.ruleset, set);
    await page.keyboard.press('Escape');
    await page.waitForSelector('#promote-dialog:not([open])', { state: 'attached' });
    assert.equal(await page.evaluate(() => document.activeElement.dataset.action), 'promote', 'focus back on the row\'s Promote button');
    await assertKeyNowhere(env, [SK, LIVE_KEY]);
  });

  it('signs out: the key forgotten, the page as it was', async () => {
    await page.locator('#signout-btn').click();
    assert.equal(await page.locator('body').getAttribute('data-signed-in'), null);
    assert.equal(await page.locator('#baseline-info').getAttribute('data-origin'), 'local');
    assert.equal(await page.locator('#known-local').isVisible(), false); // folded in its <details>
    assert.equal(await page.locator('#known-from-worker').isHidden(), true);
    assert.equal(await page.locator('#versions-signed-out').isHidden(), false);
    await assertKeyNowhere(env, [SK, LIVE_KEY].filter(Boolean));
    assert.deepEqual(env.problems, []);
  });
});

describe('the rule lifecycle from the page, at phone width (390×844)', () => {
  let env;
  let page;

  before(async () => {
    env = await launch({ width: 390, height: 844 });
    page = env.page;
  });
  after(async () => {
    await env?.browser.close();
  });

  it('signs in, saves, activates after the comparison and rolls back (keyboard only), all within the screen', async () => {
    await signInByKeyboard(page, SK);
    assert.match(await page.locator('#mode-badge').textContent(), /^Test mode/);
    assert.equal(await overflows(page), false, 'no sideways scrolling when signed in');
    await shot(page, 'signed-in-phone');
    const set = { name: 'e2e lifecycle: phone', rules: [{ name: GBP_RULE, if: { field: 'currency', eq: 'gbp' }, then: { route: ['sandbox_b'] } }], default: { route: ['sandbox_a'] } };
    await setEditor(page, pretty(set));
    await page.waitForSelector('#status[data-errors="0"]');
    const id = await saveDraft(page);
    await page.locator('#tab-versions').click();
    assert.equal(await overflows(page), false, 'the versions list fits');
    await shot(page, 'versions-phone');
    await activateFromPage(page, id, 'activate', 'activate-compare-phone', { keyboard: true });
    const pi = await payGbp(1700);
    assert.equal(pi.routing.ruleset, id);
    assert.equal(pi.processor_details.processor, 'sandbox_b');
    await activateFromPage(page, startActive.id, 'rollback', 'rollback-compare-phone', { keyboard: true });
    assert.equal((await activeSet()).id, startActive.id);
    assert.equal(await overflows(page), false);
    await shot(page, 'rolled-back-phone');
    await assertKeyNowhere(env, [SK]);
    assert.deepEqual(env.problems, []);
  });

  it('the activation dialog fits the phone screen', async () => {
    await page.locator('#tab-versions').click();
    const row = page.locator('#versions-list li[data-status="inactive"]').first();
    await row.locator('button[data-action="rollback"]').click();
    await page.waitForSelector('#activate-dialog[open][data-ready="true"]');
    const box = await page.locator('#activate-dialog').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `dialog ${box.x}..${box.x + box.width}`);
    const inner = await page.locator('#activate-dialog').evaluate((d) => d.scrollWidth <= d.clientWidth + 1);
    assert.ok(inner, 'nothing in the dialog is wider than it');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#activate-dialog:not([open])', { state: 'attached' });
    assert.equal(await page.evaluate(() => document.activeElement.dataset.action), 'rollback', 'focus back on the row\'s button');
    assert.equal((await activeSet()).id, startActive.id, 'Escape activated nothing');
  });
});
