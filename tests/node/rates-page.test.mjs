// The page's pure parts for authorization rates: www/lib/rates.js (the
// rates text read and placed, the worker's answer) and describeAuthRate of
// www/lib/explain.js, checked against the real binding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { initSync, Router, preview } from '../../www/pkg/switchyard.js';
import { readRates, rateIssueText, formatRates, ratesFromAnswer } from '../../www/lib/rates.js';
import { describeAuthRate, formatRate } from '../../www/lib/explain.js';
import { loadCases } from './cases.mjs';

initSync({ module: fs.readFileSync(new URL('../../www/pkg/switchyard_bg.wasm', import.meta.url)) });

const checker = new Router('{"default": {"route": ["x"]}}');
const check = (v) => {
  try {
    checker.setRates(v);
    return [];
  } catch (e) {
    return e.issues;
  }
};

test('empty text is no rates; valid text is the array', () => {
  assert.deepEqual(readRates('', check), { rates: undefined, issues: [] });
  assert.deepEqual(readRates('  \n', check), { rates: undefined, issues: [] });
  const r = readRates('[{"processor": "stripe", "attempts": 10, "authorized": 9}]', check);
  assert.deepEqual(r, { rates: [{ processor: 'stripe', attempts: 10, authorized: 9 }], issues: [] });
});

test('a JSON syntax error is placed at its line and column', () => {
  const r = readRates('[\n  {"processor": "stripe",\n  "attempts": }\n]', check);
  assert.equal(r.rates, undefined);
  assert.equal(r.issues.length, 1);
  assert.deepEqual([r.issues[0].path, r.issues[0].code, r.issues[0].line], ['/rates', 'invalid_json', 3]);
  assert.match(rateIssueText(r.issues[0]), /^\/rates \(line 3, column \d+\): not JSON/);
});

test('the engine\'s issues are placed in the text: a misspelt key at the key, a count at its value', () => {
  const text = formatRates([
    { processor: 'stripe', brand: 'visa', attempts: 10, authorized: 9 },
    { processor: 'adyen_eu', atempts: 10, authorized: 9 },
    { processor: 'checkout', attempts: 5, authorized: 6 },
  ]);
  const r = readRates(text, check);
  assert.equal(r.rates, undefined);
  const at = Object.fromEntries(r.issues.map((i) => [`${i.code} ${i.path}`, i]));
  const key = at['unknown_key /rates/1/atempts'];
  assert.deepEqual([key.line, text.split('\n')[key.line - 1].slice(key.col - 1).startsWith('"atempts"')], [3, true]);
  assert.match(key.message, /did you mean "attempts"/);
  assert.equal(at['missing_key /rates/1/attempts'].line, 3);
  const count = at['invalid_count /rates/2/authorized'];
  assert.equal(count.line, 4);
  assert.ok(text.split('\n')[3].slice(count.col - 1).startsWith('6'));
});

test('the worker\'s answer becomes the text, with a summary; an answer without rates is refused', () => {
  const answer = { object: 'routing_rates', livemode: false, window_seconds: 900, computed_at: 1764600000, rates: [{ processor: 'sandbox_a', brand: 'visa', country: 'US', funding: 'credit', attempts: 120, authorized: 100 }] };
  const got = ratesFromAnswer(answer);
  assert.deepEqual(JSON.parse(got.text), answer.rates);
  assert.equal(got.count, 1);
  assert.equal(got.summary, '1 rate from the worker (test mode, the last 15 minutes, computed 2025-12-01 14:40:00 UTC)');
  assert.deepEqual(readRates(got.text, check).issues, []);
  assert.equal(ratesFromAnswer({ ...answer, rates: [], window_seconds: 3600, livemode: true }).summary, '0 rates from the worker (live mode, the last 1 hour, computed 2025-12-01 14:40:00 UTC)');
  assert.throws(() => ratesFromAnswer({ object: 'routing_rates' }), /no rates/);
  assert.throws(() => ratesFromAnswer(null), /no rates/);
});

test('describeAuthRate says the choice and the reason for every golden auth_rate case', () => {
  const seen = new Set();
  for (const { name, c } of loadCases()) {
    if (!c.expect?.decision?.auth_rate) continue;
    const info = preview(c.ruleset, c.payment, c.rates ? { rates: c.rates } : undefined).trace.at(-1).auth_rate;
    const a = describeAuthRate(info);
    seen.add(a.reason);
    assert.equal(a.picked, info.picked, name);
    assert.ok(a.headline.includes(info.picked), name);
    assert.equal(a.rows.length, info.candidates.length, name);
    assert.equal(a.rows.filter((r) => r.picked).length, 1, name);
    assert.deepEqual(a.rows.map((r) => r.rateText), info.candidates.map((c) => formatRate(c.rate)), name);
    if (a.reason === 'explored') assert.match(a.detail, /below the exploration share/, name);
    if (a.reason === 'best_rate') assert.match(a.detail, /best authorization rate/, name);
    if (a.reason === 'min_sample') assert.match(a.detail, /No candidate has \d+ attempts/, name);
  }
  assert.deepEqual([...seen].sort(), ['best_rate', 'explored', 'min_sample']);
});

test('describeAuthRate in words: the roll against the share, the groups, the best rate named when exploring', () => {
  const info = {
    picked: 'stripe', reason: 'explored', explored: true, explore: 0.3, roll: 189601, min_sample: 100,
    candidates: [
      { processor: 'stripe', group: 'brand_country_funding', attempts: 200, authorized: 160, rate: 0.8 },
      { processor: 'adyen_eu', group: 'brand', attempts: 500, authorized: 475, rate: 0.95 },
      { processor: 'checkout', group: null, attempts: 20, authorized: 20, rate: null },
    ],
  };
  const a = describeAuthRate(info);
  assert.equal(a.detail, 'This payment\'s roll 18.9601% is below the exploration share 30%, so stripe was tried instead of the best rate (adyen_eu, 95.0%).');
  assert.deepEqual(a.rows.map((r) => [r.groupText, r.rateText, r.picked, r.best]), [
    ['same brand, country and funding', '80.0%', true, false],
    ['same brand', '95.0%', false, true],
    ['under 100 attempts', '—', false, false],
  ]);
  assert.equal(describeAuthRate(null), null);
  const big = describeAuthRate({ ...info, candidates: [{ ...info.candidates[0], attempts: 2n ** 60n, authorized: 1n }] });
  assert.equal(big.rows[0].attempts, String(2n ** 60n));
});
