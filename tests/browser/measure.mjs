#!/usr/bin/env node
// Measures (does not assert) the preview page's speed in headless Chromium:
//
//   1. simulating the 10,000-payment sample and drawing the charts
//      (Router.simulate + chart.js, as the page times itself, and from the
//      click to the painted frame from outside; the first run also fetches
//      and parses the sample file);
//   2. validation feedback for a 100-rule set: from a keystroke to the issues
//      drawn, and whether that lands within the next frame.
//
//   node tests/browser/measure.mjs [runs]
//
// Prints one line per figure for BENCHMARKS.md.

import { performance } from 'node:perf_hooks';
import { availableParallelism } from 'node:os';
import { loadEngine, samplePayments, startBrowser, openPage, setEditor, bigRuleSet } from './harness.mjs';
import { EXAMPLES } from '../../www/lib/examples.js';

const RUNS = Number(process.argv[2] ?? 15);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];
const ms = (x) => `${x.toFixed(1)} ms`;

const engine = await loadEngine();
const env = await startBrowser();
const { page } = env;
try {
  await openPage(page, env.server.url);
  const full = JSON.stringify(EXAMPLES.find((e) => e.id === 'full').ruleSet, null, 2);
  await setEditor(page, full);

  // --- 1. simulation + charts -------------------------------------------
  await page.locator('#tab-sim').click();
  const inPage = [];
  const outside = [];
  for (let k = 0; k < RUNS + 1; k++) {
    const before = Number((await page.locator('#sim-result').getAttribute('data-runs')) ?? 0);
    const t0 = performance.now();
    await page.locator('#sample-btn').click();
    await page.waitForFunction((n) => Number(document.querySelector('#sim-result').dataset.runs ?? 0) > n, before);
    // wait for the frame that shows the charts
    await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => ok())));
    const t1 = performance.now();
    const m = await page.evaluate(() => window.__switchyardMetrics.lastSimulation);
    if (k === 0) {
      console.log(`first run (cold: fetch + parse of the 2.8 MB sample, router compile, chart set-up): simulate ${ms(m.simulateMs)}, charts ${ms(m.drawMs)}, click to painted frame ${ms(t1 - t0)}`);
      continue;
    }
    inPage.push(m);
    outside.push(t1 - t0);
  }
  const sim = inPage.map((m) => m.simulateMs);
  const draw = inPage.map((m) => m.drawMs);
  const total = inPage.map((m) => m.totalMs);
  console.log(`sample: ${inPage[0].payments} payments, ${RUNS} runs, machine: ${availableParallelism()} cores`);
  console.log(`simulate 10k (Router.simulate in the page): median ${ms(median(sim))}, p95 ${ms(p95(sim))}`);
  console.log(`draw charts + tables:                       median ${ms(median(draw))}, p95 ${ms(p95(draw))}`);
  console.log(`simulate + draw:                            median ${ms(median(total))}, p95 ${ms(p95(total))}`);
  console.log(`click to painted frame (file already loaded):  median ${ms(median(outside))}, p95 ${ms(p95(outside))}`);

  // Node reference for the same call.
  {
    const payments = samplePayments();
    const router = new engine.Router(full);
    const xs = [];
    for (let k = 0; k < RUNS; k++) {
      const t0 = performance.now();
      router.simulate(payments);
      xs.push(performance.now() - t0);
    }
    router.free();
    console.log(`simulate 10k in Node (same binding):        median ${ms(median(xs))}`);
  }

  // --- 2. validation latency, 100 rules --------------------------------
  const big = JSON.stringify(bigRuleSet(100), null, 2);
  await page.locator('#tab-test').click();
  await setEditor(page, big);
  await page.waitForSelector('#status[data-errors="0"]');
  console.log(`100-rule set: ${big.length} characters, ${big.split('\n').length} lines`);
  // Put the caret inside the name of rule 50 and type: each keystroke is one
  // input event, validated synchronously before the next frame.
  const at = big.indexOf('"rule 50"') + 6;
  await page.locator('#source').evaluate((ta, pos) => ta.setSelectionRange(pos, pos), at);
  await page.evaluate(() => {
    window.__lat = [];
    const ta = document.querySelector('#source');
    ta.addEventListener('keydown', (e) => {
      const down = e.timeStamp;
      const before = window.__switchyardMetrics.validations.length;
      requestAnimationFrame((frame) => {
        // rAF callbacks run just before the frame is painted
        const m = window.__switchyardMetrics;
        window.__lat.push({
          validated: m.validations.length > before,
          validateMs: m.lastValidationMs,
          toFrameMs: frame - down,
          handledMs: performance.now() - down,
        });
      });
    });
  });
  const keys = 'abcdefghijklmnopqrstuvwxyzabcd';
  for (const ch of keys) {
    await page.keyboard.type(ch);
    await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))));
  }
  // And a keystroke that makes an error (the mark must appear in the same frame).
  await page.keyboard.press('Backspace');
  await page.keyboard.type('"');
  await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))));
  const lat = await page.evaluate(() => window.__lat);
  const v = lat.map((x) => x.validateMs);
  const h = lat.map((x) => x.handledMs);
  const inFrame = lat.filter((x) => x.validated).length;
  console.log(`validate + draw issues per keystroke (100 rules): median ${ms(median(v))}, p95 ${ms(p95(v))}, max ${ms(Math.max(...v))}`);
  console.log(`keystroke to next frame callback: median ${ms(median(h))}, p95 ${ms(p95(h))}; feedback ready by the next frame on ${inFrame}/${lat.length} keystrokes`);
  console.log(`errors shown after the last keystroke: ${await page.locator('#status').getAttribute('data-errors')}`);
  {
    const xs = [];
    for (let k = 0; k < 50; k++) {
      const t0 = performance.now();
      engine.validate(big);
      xs.push(performance.now() - t0);
    }
    console.log(`validate(100 rules) alone in Node:          median ${ms(median(xs))}`);
  }
  if (env.problems.length) console.log('page problems:', env.problems);
} finally {
  await env.close();
}
