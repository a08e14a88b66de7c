// The golden cases (tests/cases) through the worker: every case is POSTed to
// /v1/routing/preview on a running `wrangler dev` as {ruleset, payment, options},
// plus `rates` when the case has them (for auth_rate).
// Decision cases must answer 200 with the expected decision (and its trace);
// invalid rule sets and payments must answer a Stripe-shaped 400 whose
// error.issues hold exactly the expected (path, code) pairs.
//
// Env: SWITCHYARD_URL (or E2E_BASE_URL, set by scripts/e2e.sh) and
// SWITCHYARD_KEY (or E2E_SECRET_KEY; default: the sandbox test key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCases, kindOf, decisionProblems, issueProblems, report, echoProblem } from '../node/cases.mjs';

const BASE = process.env.SWITCHYARD_URL ?? process.env.E2E_BASE_URL;
const KEY = process.env.SWITCHYARD_KEY ?? process.env.E2E_SECRET_KEY ?? 'sk_test_switchyard_sandbox';
const CASES = loadCases();
const VALID_PAYMENT = { amount: 1000, currency: 'eur' };

async function post(body) {
  const res = await fetch(`${BASE}/v1/routing/preview`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(300_000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

function requestOf(c) {
  const body = { ruleset: 'ruleset_text' in c ? c.ruleset_text : c.ruleset, payment: c.payment ?? VALID_PAYMENT };
  if (c.options) body.options = c.options;
  if ('rates' in c) body.rates = c.rates;
  return body;
}

async function runCase(c) {
  const r = await post(requestOf(c));
  const kind = kindOf(c);
  const echoed = echoProblem(c, 'the response', r.text);
  if (echoed.length) return echoed;
  if (kind === 'decision' || (kind === 'validation' && c.expect.errors.length === 0)) {
    if (r.status !== 200) return [`expected 200, got ${r.status}: ${r.text.slice(0, 500)}`];
    if (kind === 'validation') return r.json && typeof r.json.action === 'string' ? [] : [`not a decision: ${r.text.slice(0, 300)}`];
    const out = decisionProblems(c.expect.decision, r.json, { withTrace: true });
    if (!Array.isArray(r.json?.trace)) out.push('no trace in the preview');
    return out;
  }
  const want = kind === 'payment' ? c.expect.payment_errors : c.expect.errors;
  const onlyTooLarge = want.length === 1 && want[0].code === 'too_large';
  if (r.status !== 400 && !(onlyTooLarge && r.status === 413)) return [`expected 400, got ${r.status}: ${r.text.slice(0, 500)}`];
  const err = r.json?.error;
  const out = [];
  if (!err || typeof err.type !== 'string' || typeof err.message !== 'string') {
    return [`not a Stripe-shaped error: ${r.text.slice(0, 300)}`];
  }
  if (err.param !== undefined && !String(err.param).startsWith(kind === 'payment' ? 'payment' : 'ruleset')) {
    out.push(`error.param ${err.param} does not name the ${kind === 'payment' ? 'payment' : 'rule set'}`);
  }
  if (err.issues === undefined && onlyTooLarge) return out;
  out.push(...issueProblems('error.issues', want, err.issues));
  return out;
}

test(`golden cases through POST /v1/routing/preview (${CASES.length} cases)`, { skip: BASE ? false : 'set SWITCHYARD_URL (scripts/e2e.sh sets E2E_BASE_URL)' }, async () => {
  assert.ok(CASES.length >= 100);
  // one clear failure, not one per case, when nothing answers
  await fetch(BASE, { signal: AbortSignal.timeout(10_000) }).catch((e) => {
    throw new Error(`nothing answers at ${BASE} (is wrangler dev running?): ${e?.cause?.code ?? e?.message}`);
  });
  const failures = [];
  for (const { name, c } of CASES) {
    try {
      failures.push(...(await runCase(c)).map((p) => `${name}: ${p}`));
    } catch (e) {
      failures.push(`${name}: request failed: ${e?.name}: ${e?.message}`);
    }
  }
  report(failures, CASES.length);
});
