// The golden cases of tests/cases (format: tests/cases/README.md) and their
// comparisons, for the JavaScript runners (Node through www/pkg, and the
// worker end to end). The Rust runners share tests/cases/check.rs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CASES_DIR = path.join(ROOT, 'tests/cases');

/** Every case, sorted by file name: [{ name, c }] where c is the parsed file. */
export function loadCases() {
  return fs
    .readdirSync(CASES_DIR)
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((name) => ({ name, c: JSON.parse(fs.readFileSync(path.join(CASES_DIR, name), 'utf8')) }));
}

export const kindOf = (c) =>
  'decision' in c.expect ? 'decision' : 'payment_errors' in c.expect ? 'payment' : 'validation';

/** The rule set as given to an engine: the value, or the raw text. */
export const ruleSetOf = (c) => ('ruleset_text' in c ? c.ruleset_text : c.ruleset);

const show = (v) =>
  v === undefined ? 'undefined' : JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));

/**
 * Differences between an expected decision and an actual one (one string each).
 * Values are compared strictly: `undefined` is not `null`, a Map is not an object.
 */
export function decisionProblems(expected, actual, { withTrace }) {
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) {
    return [`decision is not a plain object: ${show(actual)}`];
  }
  const out = [];
  for (const k of ['action', 'processors', 'rule', 'rule_index']) {
    if (!(k in actual)) out.push(`${k}: expected ${show(expected[k])}, missing`);
    else if (!isDeepStrictEqual(plain(actual[k]), expected[k]))
      out.push(`${k}: expected ${show(expected[k])}, got ${show(actual[k])}`);
  }
  // How a split picked is in the trace, on the entry that decided; the hot
  // path has no trace and is not asked. The decision itself has only the
  // keys of rules.md.
  for (const k of ['split', 'auth_rate']) {
    if (Array.isArray(actual.trace)) {
      const got = actual.trace.at(-1)?.[k];
      if (k in expected && got === undefined) out.push(`${k}: expected ${show(expected[k])}, missing from the trace`);
      else if (!(k in expected) && got !== undefined) out.push(`${k}: expected absent, got ${show(got)}`);
      else if (got !== undefined && !isDeepStrictEqual(plain(got), expected[k]))
        out.push(`${k}: expected ${show(expected[k])}, got ${show(got)}`);
    }
    if (k in actual) out.push(`${k}: the decision has only the keys of rules.md, got ${show(actual[k])}`);
  }
  for (const k of ['decline']) {
    const has = k in actual && actual[k] !== undefined;
    if (k in expected && !has) out.push(`${k}: expected ${show(expected[k])}, missing`);
    else if (!(k in expected) && has) out.push(`${k}: expected absent, got ${show(actual[k])}`);
    else if (has && !isDeepStrictEqual(plain(actual[k]), expected[k]))
      out.push(`${k}: expected ${show(expected[k])}, got ${show(actual[k])}`);
  }
  if (withTrace && 'trace' in expected) {
    if (!('trace' in actual)) out.push('trace: missing');
    else if (!isDeepStrictEqual(plain(actual.trace), expected.trace))
      out.push(`trace: expected ${show(expected.trace)}, got ${show(actual.trace)}`);
  }
  return out;
}

// A structural copy that keeps undefined as undefined and flags non-plain
// objects (Map, class instances) by leaving them as they are, so that
// isDeepStrictEqual against parsed JSON fails on them.
function plain(v) {
  // Integers past 2^53 - 1 come out of the binding as BigInt (exact); the
  // case files hold them as JSON numbers. Compare the integer values.
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v;
}

/** Differences between an expected [{path, code}] list and actual Issues (set comparison). */
export function issueProblems(what, expected, actual) {
  if (!Array.isArray(actual)) return [`${what}: not an array: ${show(actual)}`];
  const out = [];
  const key = (i) => `${i.code} at ${JSON.stringify(i.path)}`;
  for (const i of actual) {
    if (typeof i?.path !== 'string' || typeof i?.code !== 'string') out.push(`${what}: malformed issue ${show(i)}`);
    else if (typeof i.message !== 'string' || i.message.trim() === '') out.push(`${what}: issue without message ${show(i)}`);
  }
  const want = new Set(expected.map(key));
  const got = new Set(actual.filter((i) => typeof i?.path === 'string').map(key));
  for (const k of want) if (!got.has(k)) out.push(`${what}: missing ${k}`);
  for (const k of got) if (!want.has(k)) out.push(`${what}: unexpected ${k}`);
  return out;
}

/** What simulate([payment]) must count for an expected decision. */
export function expectedSimulation(d) {
  const sim = { total: 1, declined: d.action === 'decline' ? 1 : 0, by_processor: {}, by_rule: {}, default: d.rule === null ? 1 : 0 };
  if (d.processors.length) sim.by_processor[d.processors[0]] = 1;
  if (d.rule !== null) sim.by_rule[d.rule] = 1;
  return sim;
}

/** A failure list reported as one assertion, with every case's file name. */
export function report(failures, total) {
  if (failures.length) {
    throw new Error(`${failures.length} golden failures over ${total} cases:\n${failures.join('\n')}`);
  }
}

/** A problem when text echoes the payment's card number (rules.md: never echoed back). */
export function echoProblem(c, what, text) {
  const number = c.payment?.card?.number;
  return typeof number === 'string' && number.length >= 12 && String(text).includes(number)
    ? [`${what} echoes the card number ${number}`]
    : [];
}
