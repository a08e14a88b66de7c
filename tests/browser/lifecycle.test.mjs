// The rule lifecycle's signed-out side, on the static server (no worker):
// the Versions tab says what signing in does; the sign-in dialog works
// from the keyboard (Escape closes it, focus goes back), says plainly that
// no worker answers here, and keeps no key anywhere. The signed-in side is
// tests/e2e/12-lifecycle-page.test.mjs, against the worker.
//
//   node --test tests/browser/lifecycle.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBrowser, openPage, shot } from './harness.mjs';

const KEY = 'sk_test_static_server_never_kept_4321';

for (const [name, viewport] of [['desktop', { width: 1366, height: 860 }], ['phone', { width: 390, height: 844 }]]) {
  describe(`signing in, signed out, at ${name} width`, () => {
    let env;
    let page;
    before(async () => {
      env = await startBrowser({ viewport });
      page = env.page;
      await openPage(page, env.server.url);
    });
    after(async () => {
      await env?.close();
    });

    it('the Versions tab explains signing in; nothing claims to be running', async () => {
      await page.locator('#tab-versions').click();
      assert.equal(await page.locator('#versions-signed-out').isVisible(), true);
      assert.match(await page.locator('#versions-signed-out').textContent(), /never stored, never put in the URL/);
      assert.equal(await page.locator('#save-draft-btn').isHidden(), true);
      assert.equal(await page.locator('#baseline-info').getAttribute('data-origin'), 'local');
      assert.doesNotMatch(await page.locator('#pane-compare').textContent(), /running today/);
      assert.match(await page.locator('#compare-lede').textContent(), /kept in this browser/);
      const wide = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      assert.ok(wide[0] <= wide[1], `the page is ${wide[0]}px wide on a ${wide[1]}px screen`);
      await shot(page, `lifecycle-signed-out-${name}`);
    });

    it('signs in from the keyboard: no worker here, said plainly; Escape closes and focus goes back; no key kept', async () => {
      await page.locator('#versions-signin-btn').focus();
      await page.keyboard.press('Enter');
      await page.waitForSelector('#signin-dialog[open]');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'signin-key');
      assert.equal(await page.locator('#signin-key').getAttribute('type'), 'password');
      assert.equal(await page.locator('#signin-key').getAttribute('name'), null, 'an unnamed field: no submission could carry it');
      assert.equal(await page.locator('label[for="signin-key"]').count(), 1);
      await page.keyboard.type(KEY);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#signin-error:not([hidden])');
      assert.match(await page.locator('#signin-error').textContent(), /No worker answers on this page's host/);
      const dialog = await page.locator('#signin-dialog').boundingBox();
      assert.ok(dialog.x >= 0 && dialog.x + dialog.width <= viewport.width, 'the dialog fits the screen');
      await shot(page, `lifecycle-no-worker-${name}`);
      await page.keyboard.press('Escape');
      await page.waitForSelector('#signin-dialog:not([open])', { state: 'attached' });
      assert.equal(await page.evaluate(() => document.activeElement.id), 'versions-signin-btn');
      assert.equal(await page.locator('body').getAttribute('data-signed-in'), null);
      await page.waitForTimeout(300); // past the draft's save debounce
      const seen = await page.evaluate(async () => ({
        url: location.href,
        local: Object.keys(localStorage).map((k) => k + '=' + localStorage.getItem(k)).join('\n'),
        session: Object.keys(sessionStorage).map((k) => k + '=' + sessionStorage.getItem(k)).join('\n'),
        cookie: document.cookie,
        idb: (await indexedDB.databases()).map((d) => d.name).join('\n'),
        inputs: [...document.querySelectorAll('input, textarea')].map((i) => i.value).join('\n'),
      }));
      for (const [where, value] of Object.entries(seen)) assert.ok(!value.includes(KEY), `the key is in ${where}`);
      // The browser's own line for the failed request names the URL only.
      assert.ok(!env.problems.some((p) => p.includes(KEY)), 'the key was logged');
    });
  });
}
