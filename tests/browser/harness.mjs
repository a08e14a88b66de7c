// Shared set-up for the preview page's browser tests and measurements:
// the real wasm binding in Node (to compute expected answers), the static
// server and Debian's Chromium driven by playwright-core. Never downloads a
// browser.

import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve, ROOT, WWW } from './serve.mjs';

export { ROOT, WWW };
export const ARTIFACTS = join(ROOT, 'tests', 'artifacts');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The wasm binding, initialised synchronously in Node from www/pkg. */
export async function loadEngine() {
  const js = join(WWW, 'pkg', 'switchyard.js');
  const wasm = join(WWW, 'pkg', 'switchyard_bg.wasm');
  if (!existsSync(js) || !existsSync(wasm)) {
    throw new Error(`${js} is missing: build the binding first (scripts/build-pkg.sh)`);
  }
  const engine = await import(new URL(`file://${js}`).href);
  engine.initSync({ module: readFileSync(wasm) });
  return engine;
}

/** www/vendor/ is git-ignored and produced by scripts/vendor.sh. */
export function ensureVendor() {
  if (!existsSync(join(WWW, 'vendor', 'chart.umd.min.js'))) {
    execFileSync('sh', [join(ROOT, 'scripts', 'vendor.sh')], { stdio: 'inherit' });
  }
}

export function samplePayments() {
  return JSON.parse(readFileSync(join(WWW, 'sample-payments.json'), 'utf8'));
}

/** Server + browser + a fresh context (empty localStorage). */
export async function startBrowser({ viewport = { width: 1366, height: 860 } } = {}) {
  ensureVendor();
  mkdirSync(ARTIFACTS, { recursive: true });
  const server = await serve(WWW);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  return {
    server,
    browser,
    context,
    page,
    problems,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Opens the page and waits until the engine is loaded and the draft validated. */
export async function openPage(page, url) {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20000 });
}

/**
 * Replaces the editor's text in one input event, as a paste does. (Playwright's
 * fill() goes through Chromium's insertText, which takes seconds for a
 * thousand-line text; typing is tested with page.keyboard.)
 */
export async function setEditor(page, text) {
  await page.locator('#source').evaluate((ta, t) => {
    ta.focus();
    ta.value = t;
    ta.setSelectionRange(0, 0);
    ta.dispatchEvent(new Event('input', { bubbles: true }));
  }, text);
}

export function shot(page, name) {
  return page.screenshot({ path: join(ARTIFACTS, `preview-${name}.png`), fullPage: true });
}

/** A valid card number (Luhn) with the given prefix and length. */
export function luhnNumber(prefix, length = 16) {
  let body = prefix.padEnd(length - 1, '0');
  let sum = 0;
  for (let k = 0; k < body.length; k++) {
    let d = Number(body[body.length - 1 - k]);
    if (k % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
}

/** A rule set with `n` rules touching every field, for latency measurements. */
export function bigRuleSet(n = 100) {
  const countries = ['FR', 'DE', 'ES', 'IT', 'NL', 'BE', 'US', 'GB', 'SE', 'PL'];
  const currencies = ['eur', 'usd', 'gbp', 'sek', 'pln'];
  const rules = [];
  for (let k = 0; k < n; k++) {
    const cur = currencies[k % currencies.length];
    const conds = [
      { field: 'currency', eq: cur },
      { field: 'amount', between: [k * 100, k * 100 + 50000] },
      { field: 'card.country', in: [countries[k % 10], countries[(k + 3) % 10]] },
    ];
    if (k % 3 === 0) conds.push({ field: 'card.funding', ne: 'prepaid' });
    if (k % 4 === 0) conds.push({ any: [{ field: 'metadata.channel', eq: 'web' }, { not: { field: 'off_session', eq: true } }] });
    if (k % 5 === 0) conds.push({ field: 'card.bin', prefix: [String(400000 + k)] });
    const then =
      k % 7 === 0
        ? { split: [{ processor: 'stripe', weight: 60 }, { processor: 'checkout', weight: 40 }], fallback: ['adyen_eu'] }
        : k % 11 === 0
          ? { decline: { code: 'do_not_honor' } }
          : { route: k % 2 ? ['adyen_eu', 'stripe'] : ['checkout', 'stripe'] };
    rules.push({ name: `rule ${k + 1}`, if: { all: conds }, then });
  }
  return { name: `${n} rules`, rules, default: { route: ['stripe'] } };
}
