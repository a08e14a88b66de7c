// Runs after the others (scripts/e2e.sh runs it once wrangler has stopped):
// pages through everything the run left on disk — wrangler's state directory
// (SQLite files of every Durable Object, caches), the worker's logs and
// wrangler's own debug logs (every inspector event) — and
// finds no full card number and no CVC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CARD_NUMBERS, CVCS } from './cards.mjs';

function* files(dir) {
  if (!dir || !fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.isFile()) yield p;
  }
}

function luhn(s) {
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    let d = s.charCodeAt(s.length - 1 - i) - 48;
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * Whether `needle` is in `t` other than as the fraction of a decimal
 * number: the digits of a stored rate (`"rate":0.4242424242424242`, 14/33,
 * in a payment's `routing.auth_rate`) are no card number.
 */
function holds(t, needle) {
  for (let i = t.indexOf(needle); i >= 0; i = t.indexOf(needle, i + 1)) {
    if (!(t[i - 1] === '.' && /\d/.test(t[i - 2] ?? ''))) return true;
  }
  return false;
}

/** Card data found in one file's bytes. */
function scan(buf, name) {
  const findings = [];
  // latin1 keeps every byte; UTF-16 copies are checked too.
  const text = buf.toString('latin1');
  const wide = buf.toString('utf16le');
  for (const n of CARD_NUMBERS) {
    const spaced = n.replace(/(\d{4})(?=\d)/g, '$1 ');
    for (const needle of [n, spaced]) {
      if (holds(text, needle) || holds(wide, needle)) findings.push(`${name}: card number ${n.slice(0, 6)}…`);
    }
  }
  // Any 15/16-digit Luhn-valid run starting like a card (3, 4, 5, 6),
  // standing alone: a run of digits inside a hex id or digest (which the
  // state is full of) is not a card number, and one in ten of them is
  // Luhn-valid by chance; nor is the fraction of a decimal number.
  for (const m of text.matchAll(/(?<![0-9A-Za-z])(?<!\d\.)[3-6]\d{14,15}(?![0-9A-Za-z])/g)) {
    if (luhn(m[0]) && !/^(\d)\1+$/.test(m[0])) findings.push(`${name}: Luhn-valid digits ${m[0].slice(0, 6)}… at ${m.index}`);
  }
  // A prefix of a number used in the run that is longer than PCI DSS lets
  // be kept beside the last four (8 digits from 16-digit numbers, 6 below):
  // with the last four it would rebuild the number (8 + 4 of a 15-digit
  // Amex leaves 100 guesses).
  // (A rule set holds the merchant's own BIN ranges, not payment data: the
  // state of the rule-set objects and their replicas is not searched for
  // prefixes.)
  const ruleSets = /RuleSetsObject|ActiveSetObject/.test(name);
  for (const m of ruleSets ? [] : text.matchAll(/(?<![0-9A-Za-z])(?<!\d\.)\d{7,19}(?![0-9A-Za-z])/g)) {
    for (const n of CARD_NUMBERS) {
      const allowed = n.length >= 16 ? 8 : 6;
      if (m[0].length > allowed && m[0].length < n.length && n.startsWith(m[0])) {
        findings.push(`${name}: the first ${m[0].length} digits of ${n.slice(0, 4)}… (at most ${allowed} may be kept) at ${m.index}`);
      }
    }
  }
  // A CVC is only ever sent under the name cvc/cvv: no such key may be
  // kept (decline codes such as incorrect_cvc are fine).
  for (const t of [text, wide]) {
    for (const m of t.matchAll(/["\[]cv[cv]["\]]|\bcv[cv]=/gi)) findings.push(`${name}: ${m[0]} at ${m.index}`);
    for (const c of CVCS) {
      if (t.includes(`"${c}"`) || t.includes(`=${c}&`)) findings.push(`${name}: CVC value ${c}`);
    }
  }
  return findings;
}

test('the scanner finds planted card data (control)', () => {
  const planted = [
    `x{"number":"${CARD_NUMBERS[0]}"}`,
    'x 5105105105105100 y',
    'payment_method_data[card][cvc]=7391&',
    Buffer.from('{"cvc":"846"}', 'utf16le').toString('latin1'),
  ];
  const amex = CARD_NUMBERS.find((n) => n.length === 15);
  planted.push(`{"bin":"${amex.slice(0, 8)}","last4":"${amex.slice(-4)}"}`);
  planted.push(`x.${CARD_NUMBERS[0]} `, `{"n":"${CARD_NUMBERS[0]}.5"}`, '0.5,5105105105105100');
  for (const p of planted) assert.ok(scan(Buffer.from(p, 'latin1'), 'planted').length > 0, p);
  assert.deepEqual(scan(Buffer.from('{"decline_code":"incorrect_cvc","last4":"4242","bin":"42424242"}'), 'clean'), []);
  assert.deepEqual(scan(Buffer.from(`{"bin":"${amex.slice(0, 6)}","last4":"${amex.slice(-4)}"}`), 'clean'), []);
  // Rates' fractions (auth_rate's candidates), one a test card's digits.
  assert.deepEqual(scan(Buffer.from('{"rate":0.4553571428571428},{"rate":0.4242424242424242}'), 'clean'), []);
});

const dirs = [process.env.E2E_STATE_DIR, process.env.E2E_ARTIFACTS].filter(Boolean);

test('the state directory and the logs hold no card number and no CVC', { skip: dirs.length === 0 && 'run by scripts/e2e.sh' }, () => {
  let scanned = 0;
  let bytes = 0;
  const findings = [];
  for (const dir of dirs) {
    for (const f of files(dir)) {
      const buf = fs.readFileSync(f);
      scanned++;
      bytes += buf.length;
      findings.push(...scan(buf, f));
    }
  }
  assert.ok(scanned > 0, 'nothing to scan');
  // wrangler's own debug logs (every inspector event of the run) are in.
  const debugLogs = process.env.E2E_ARTIFACTS ? [...files(path.join(process.env.E2E_ARTIFACTS, 'wrangler-debug'))] : [];
  if (process.env.E2E_ARTIFACTS) assert.ok(debugLogs.length > 0, "wrangler's debug logs were not written where the scan reads");
  assert.ok(bytes > 0);
  assert.deepEqual(findings, [], findings.slice(0, 20).join('\n'));
  console.log(`scanned ${scanned} files, ${bytes} bytes`);
});
