// The golden cases (tests/cases) through the JS binding in Node: www/pkg/switchyard.js
// loaded with initSync, every export of js.md. Build www/pkg first (scripts/build-pkg.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import {
  ROOT, loadCases, kindOf, ruleSetOf, decisionProblems, issueProblems, expectedSimulation, report, echoProblem,
} from './cases.mjs';

const PKG = path.join(ROOT, 'www/pkg');
const sy = await import(pathToFileURL(path.join(PKG, 'switchyard.js')).href);
sy.initSync({ module: fs.readFileSync(path.join(PKG, 'switchyard_bg.wasm')) });

const CASES = loadCases();
const VALID_PAYMENT = { amount: 1000, currency: 'eur' };

/** Runs f; returns [value, undefined] or [undefined, thrown]. */
function attempt(f) {
  try {
    return [f(), undefined];
  } catch (e) {
    return [undefined, e];
  }
}

export function isSwitchyardError(e) {
  return (
    e instanceof Error &&
    e.name === 'SwitchyardError' &&
    (sy.SwitchyardError === undefined || e instanceof sy.SwitchyardError) &&
    Array.isArray(e.issues) &&
    e.issues.length > 0 &&
    typeof e.message === 'string' &&
    e.message.length > 0
  );
}

const describeThrown = (e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

function withoutTrace(d) {
  if (d === null || typeof d !== 'object') return d;
  const { trace, ...rest } = d;
  return rest;
}

const showJs = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}` : x));

function runDecision(c) {
  const out = [];
  const exp = c.expect.decision;
  const opts = c.options;
  // The case's rates (tests/cases/README.md), given every way the binding
  // takes them: preview's options, a Router's options, setRates, per call.
  const hasRates = 'rates' in c;
  const withRates = (o) => (hasRates ? { ...o, rates: c.rates } : o);
  // preview: with its trace, from an object and from JSON text (the rates too)
  for (const [via, rs, ro] of [
    ['preview', c.ruleset, hasRates ? { rates: c.rates } : undefined],
    ['preview(text)', JSON.stringify(c.ruleset), hasRates ? { rates: JSON.stringify(c.rates) } : undefined],
  ]) {
    const [d, err] = attempt(() => sy.preview(rs, c.payment, ro));
    if (err) out.push(`${via} threw ${describeThrown(err)} ${JSON.stringify(err?.issues ?? [])}`);
    else {
      out.push(...decisionProblems(exp, d, { withTrace: true }).map((p) => `${via}: ${p}`));
      out.push(...echoProblem(c, via, showJs(d)));
      if (!Array.isArray(d?.trace)) out.push(`${via}: no trace`);
    }
  }
  const [router, err] = attempt(() => new sy.Router(c.ruleset, withRates(opts)));
  if (err) return [...out, `new Router threw ${describeThrown(err)} ${JSON.stringify(err?.issues ?? [])}`];
  // A router whose own rates are empty: per-call rates replace them.
  const [bare, errBare] = attempt(() => new sy.Router(c.ruleset, { ...opts, rates: [] }));
  if (errBare) {
    router.free();
    return [...out, `new Router({rates: []}) threw ${describeThrown(errBare)}`];
  }
  try {
    const [hot, e1] = attempt(() => router.route(c.payment));
    const [traced, e2] = attempt(() => router.route(c.payment, { trace: true }));
    const [viaPreview] = attempt(() => sy.preview(c.ruleset, c.payment, hasRates ? { rates: c.rates } : undefined));
    if (e1) out.push(`route threw ${describeThrown(e1)}`);
    else {
      out.push(...decisionProblems(exp, hot, { withTrace: false }).map((p) => `route: ${p}`));
      if (hot !== null && typeof hot === 'object' && 'trace' in hot) out.push('route: carries a trace without {trace: true}');
    }
    if (e2) out.push(`route({trace:true}) threw ${describeThrown(e2)}`);
    else {
      out.push(...decisionProblems(exp, traced, { withTrace: true }).map((p) => `route({trace:true}): ${p}`));
      if (viaPreview && !isDeepStrictEqual(traced, viaPreview))
        out.push(`preview and route({trace:true}) disagree: ${showJs(viaPreview)} vs ${showJs(traced)}`);
      if (!e1 && !isDeepStrictEqual(withoutTrace(traced), hot))
        out.push(`route and route({trace:true}) disagree beyond the trace`);
    }
    // Per-call rates over the router's empty ones, hot path and traced.
    const perCall = hasRates ? { rates: c.rates } : undefined;
    const [hotCall, e5] = attempt(() => bare.route(c.payment, perCall));
    if (e5) out.push(`route(p, {rates}) threw ${describeThrown(e5)}`);
    else out.push(...decisionProblems(exp, hotCall, { withTrace: false }).map((p) => `route(p, {rates}): ${p}`));
    const [tracedCall, e6] = attempt(() => bare.route(c.payment, { ...perCall, trace: true }));
    if (e6) out.push(`route(p, {trace, rates}) threw ${describeThrown(e6)}`);
    else if (!e2 && !isDeepStrictEqual(tracedCall, traced))
      out.push(`route(p, {trace, rates}) and the router's own rates disagree: ${showJs(tracedCall)} vs ${showJs(traced)}`);
    // setRates binds them; setRates(null) clears them again.
    const [afterSet, e7] = attempt(() => {
      bare.setRates(hasRates ? c.rates : null);
      return bare.route(c.payment, { trace: true });
    });
    if (e7) out.push(`setRates then route threw ${describeThrown(e7)}`);
    else if (!e2 && !isDeepStrictEqual(afterSet, traced)) out.push(`setRates(rates) then route disagrees: ${showJs(afterSet)} vs ${showJs(traced)}`);
    const [cleared, e8] = attempt(() => {
      bare.setRates(null);
      return bare.route(c.payment, { trace: true });
    });
    const [noRates] = attempt(() => sy.preview(c.ruleset, c.payment));
    if (e8) out.push(`setRates(null) then route threw ${describeThrown(e8)}`);
    else if (noRates && !isDeepStrictEqual(cleared, noRates)) out.push(`setRates(null) does not clear the rates: ${showJs(cleared)} vs ${showJs(noRates)}`);

    const [fromText, e4] = attempt(() => new sy.Router(JSON.stringify(c.ruleset), withRates(opts)));
    if (e4) out.push(`new Router(JSON text) threw ${describeThrown(e4)}`);
    else {
      try {
        out.push(...decisionProblems(exp, fromText.route(c.payment), { withTrace: false }).map((p) => `Router(JSON text).route: ${p}`));
      } finally {
        fromText.free();
      }
    }
    // simulate: the router's rates, and per-call rates (columns and JSON text)
    const want = expectedSimulation(exp);
    for (const [via, f] of [
      ['simulate', () => router.simulate([c.payment])],
      ['simulate(text)', () => router.simulate(JSON.stringify([c.payment]))],
      ['simulate(p, {rates})', () => bare.simulate([c.payment], perCall)],
      ['simulate(text, {rates})', () => bare.simulate(JSON.stringify([c.payment]), perCall)],
    ]) {
      const [sim, e3] = attempt(f);
      if (e3) out.push(`${via} threw ${describeThrown(e3)}`);
      else if (!isDeepStrictEqual(sim, want)) out.push(`${via}: expected ${JSON.stringify(want)}, got ${JSON.stringify(sim)}`);
    }
  } finally {
    router.free();
    bare.free();
  }
  return out;
}

function runValidation(c) {
  const out = [];
  const { errors, warnings } = c.expect;
  const inputs = 'ruleset_text' in c ? [['validate(text)', c.ruleset_text]] : [['validate', c.ruleset], ['validate(text)', JSON.stringify(c.ruleset)]];
  for (const [via, rs] of inputs) {
    const [r, err] = attempt(() => sy.validate(rs, c.options));
    if (err) {
      out.push(`${via} threw ${describeThrown(err)}`);
      continue;
    }
    out.push(...issueProblems(`${via} errors`, errors, r.errors));
    out.push(...issueProblems(`${via} warnings`, warnings, r.warnings));
    if (r.ok !== (errors.length === 0)) out.push(`${via}: ok is ${r.ok} with ${errors.length} expected errors`);
  }
  const [router, err] = attempt(() => new sy.Router(ruleSetOf(c), c.options));
  if (errors.length === 0) {
    if (err) out.push(`new Router threw for a valid rule set: ${describeThrown(err)}`);
    else router.free();
  } else if (!err) {
    router.free();
    out.push('new Router accepted an invalid rule set');
  } else if (!isSwitchyardError(err)) {
    out.push(`new Router threw something else than SwitchyardError: ${describeThrown(err)}`);
  } else {
    out.push(...issueProblems('Router issues', errors, err.issues));
  }
  // preview takes no options: only a case without options is invalid for it too
  if (errors.length > 0 && !c.options) {
    const [, perr] = attempt(() => sy.preview(ruleSetOf(c), VALID_PAYMENT));
    if (!isSwitchyardError(perr)) out.push(`preview of an invalid rule set did not throw SwitchyardError: ${perr ? describeThrown(perr) : 'no throw'}`);
  }
  return out;
}

function runPaymentErrors(c) {
  const out = [];
  const want = c.expect.payment_errors;
  const [, err] = attempt(() => sy.preview(c.ruleset, c.payment));
  if (!isSwitchyardError(err)) out.push(`preview did not throw SwitchyardError: ${err ? describeThrown(err) : 'no throw'}`);
  else {
    out.push(...issueProblems('preview issues', want, err.issues));
    out.push(...echoProblem(c, 'SwitchyardError', `${err.message} ${JSON.stringify(err.issues)}`));
  }
  const router = new sy.Router(c.ruleset, c.options);
  try {
    const [, rerr] = attempt(() => router.route(c.payment));
    if (!isSwitchyardError(rerr)) out.push(`route did not throw SwitchyardError: ${rerr ? describeThrown(rerr) : 'no throw'}`);
    else out.push(...issueProblems('route issues', want, rerr.issues));
  } finally {
    router.free();
  }
  return out;
}

test(`golden cases through www/pkg (${CASES.length} cases)`, () => {
  assert.ok(CASES.length >= 100, `only ${CASES.length} cases`);
  const failures = [];
  for (const { name, c } of CASES) {
    const run = { decision: runDecision, validation: runValidation, payment: runPaymentErrors }[kindOf(c)];
    const [problems, err] = attempt(() => run(c));
    if (err) failures.push(`${name}: runner threw ${describeThrown(err)}`);
    else failures.push(...problems.map((p) => `${name}: ${p}`));
  }
  report(failures, CASES.length);
});

test('simulate counts a batch of payments like route decides them one by one', () => {
  const c = CASES.find(({ name }) => name === 'example_us_split.json').c;
  const payments = [];
  for (let i = 0; i < 200; i++) {
    payments.push({ amount: 500 + i * 100, currency: i % 3 ? 'eur' : 'usd', card: { number: '4242424242424242', country: i % 2 ? 'US' : 'FR', funding: 'credit' }, routing_key: `order_${i}` });
  }
  payments.push({ amount: 500, currency: 'gbp', card: { bin: '41111199', country: 'GB' } });
  const router = new sy.Router(c.ruleset);
  try {
    const want = { total: 0, declined: 0, by_processor: {}, by_rule: {}, default: 0 };
    for (const p of payments) {
      const d = router.route(p);
      want.total++;
      if (d.action === 'decline') want.declined++;
      else want.by_processor[d.processors[0]] = (want.by_processor[d.processors[0]] ?? 0) + 1;
      if (d.rule === null) want.default++;
      else want.by_rule[d.rule] = (want.by_rule[d.rule] ?? 0) + 1;
    }
    assert.deepStrictEqual(router.simulate(payments), want);
    assert.ok(want.by_processor.stripe > 0 && want.by_processor.checkout > 0 && want.declined === 1);
  } finally {
    router.free();
  }
});

test('fields() lists every field of rules.md with exactly its operators', () => {
  const all = ['eq', 'ne', 'exists'];
  const lists = [...all, 'in', 'not_in'];
  const want = {
    amount: [...lists, 'lt', 'lte', 'gt', 'gte', 'between'],
    currency: lists,
    'card.brand': lists,
    'card.bin': [...lists, 'prefix'],
    'card.country': lists,
    'card.funding': lists,
    'card.issuer': [...lists, 'prefix'],
    'billing.country': lists,
    capture_method: lists,
    off_session: all,
    three_d_secure: all,
    metadata: [...lists, 'prefix'],
  };
  const got = sy.fields();
  assert.ok(Array.isArray(got));
  const byName = Object.fromEntries(got.map((f) => [f.name.startsWith('metadata') ? 'metadata' : f.name, f]));
  assert.deepStrictEqual(Object.keys(byName).sort(), Object.keys(want).sort());
  for (const [name, ops] of Object.entries(want)) {
    assert.deepStrictEqual([...byName[name].operators].sort(), [...ops].sort(), `operators of ${name}`);
    assert.equal(typeof byName[name].type, 'string');
  }
  assert.deepStrictEqual([...byName['card.brand'].values].sort(),
    ['amex', 'cartes_bancaires', 'diners', 'discover', 'jcb', 'maestro', 'mastercard', 'unionpay', 'unknown', 'visa']);
  assert.deepStrictEqual([...byName['card.funding'].values].sort(), ['credit', 'debit', 'prepaid', 'unknown']);
  assert.deepStrictEqual([...byName.capture_method.values].sort(), ['automatic', 'manual']);
  assert.match(sy.version(), /^\d+\.\d+\.\d+/);
});

test('messages suggest the nearest name for a misspelt field, key or processor (rules.md, Validation)', () => {
  const rs = {
    name: 'x',
    rules: [
      { name: 'a', if: { field: 'card.brnd', eq: 'visa' }, then: { route: ['stripe'] } },
      { name: 'b', iff: { field: 'currency', eq: 'eur' }, then: { route: ['adyn_eu'] } },
    ],
    default: { route: ['stripe'] },
  };
  const r = sy.validate(rs, { processors: ['stripe', 'adyen_eu'] });
  const at = (path, code) => r.errors.find((i) => i.path === path && i.code === code);
  assert.match(at('/rules/0/if/field', 'unknown_field')?.message ?? '', /card\.brand/);
  assert.match(at('/rules/1/iff', 'unknown_key')?.message ?? '', /\bif\b/);
  assert.match(at('/rules/1/then/route/0', 'unknown_processor')?.message ?? '', /adyen_eu/);
});

test('switchyard.d.ts declares every export of js.md', () => {
  const dts = fs.readFileSync(path.join(PKG, 'switchyard.d.ts'), 'utf8');
  for (const re of [
    /export function validate\(/, /export function preview\(/, /export function fields\(/, /export function version\(/,
    /export class Router\b/, /\broute\(/, /\bsimulate\(/, /\bfree\(\)/, /SwitchyardError/, /export function initSync\(/,
  ]) {
    assert.match(dts, re);
  }
  for (const name of ['validate', 'preview', 'Router', 'fields', 'version', 'initSync']) {
    assert.equal(typeof sy[name], 'function', `${name} is exported`);
  }
});
