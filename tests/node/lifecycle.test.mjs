// The rule lifecycle's pure parts (www/lib/lifecycle.js): the starter
// examples moved onto the worker's processors (checked by the real
// binding), the worker's issues placed in the editor's text, a version's
// facts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { initSync, validate } from '../../www/pkg/switchyard.js';
import { EXAMPLES } from '../../www/lib/examples.js';
import { indexJson, lineCol } from '../../www/lib/jsonloc.js';
import { processorsOf, remapRuleSet, examplesFor, describeMapping, mergeIssues, versionFacts, activationKind, formatTime } from '../../www/lib/lifecycle.js';

initSync({ module: fs.readFileSync(new URL('../../www/pkg/switchyard_bg.wasm', import.meta.url)) });

const TEST = ['sandbox_a', 'sandbox_b', 'sandbox_c', 'sandbox_down'];
const LIVE = ['sandbox_a', 'sandbox_b'];

test('the processors a rule set names: routes, splits, fallbacks and the default, each once', () => {
  const full = EXAMPLES.find((e) => e.id === 'full').ruleSet;
  assert.deepEqual(processorsOf(full), ['adyen_eu', 'stripe', 'checkout']);
  assert.deepEqual(processorsOf({ default: { split: [{ processor: 'x', weight: 1 }], fallback: ['y'] } }), ['x', 'y']);
  assert.deepEqual(processorsOf({}), []);
  assert.deepEqual(processorsOf({ default: { auth_rate: { processors: ['a', 'b'] }, fallback: ['c', 'a'] } }), ['a', 'b', 'c']);
});

test('an example moved onto configured processors: distinct ids stay distinct, configured ids stay', () => {
  const full = EXAMPLES.find((e) => e.id === 'full').ruleSet;
  const r = remapRuleSet(full, TEST);
  assert.deepEqual(r.mapping, [['adyen_eu', 'sandbox_a'], ['stripe', 'sandbox_b'], ['checkout', 'sandbox_c']]);
  assert.deepEqual(r.ruleSet.rules[1].then.route, ['sandbox_a', 'sandbox_b']);
  assert.deepEqual(r.ruleSet.rules[2].then.split.map((s) => s.processor), ['sandbox_b', 'sandbox_c']);
  assert.deepEqual(r.ruleSet.rules[2].then.fallback, ['sandbox_a']);
  assert.deepEqual(r.ruleSet.default.route, ['sandbox_b']);
  assert.equal(r.ruleSet.rules[0].then.decline.code, 'do_not_honor', 'a decline is left as it is');
  assert.equal(full.default.route[0], 'stripe', 'the example itself is not changed');
  assert.ok(validate(r.ruleSet, { processors: TEST }).ok);
  // An id that is configured keeps its name, and no other id takes it.
  const mixed = remapRuleSet({ rules: [{ name: 'r', then: { route: ['stripe', 'sandbox_a'] } }], default: { route: ['adyen_eu'] } }, TEST);
  assert.deepEqual(mixed.mapping, [['stripe', 'sandbox_b'], ['adyen_eu', 'sandbox_c']]);
  assert.deepEqual(mixed.ruleSet.rules[0].then.route, ['sandbox_b', 'sandbox_a']);
  // Preferred processors go first.
  assert.deepEqual(remapRuleSet({ default: { route: ['stripe'] } }, TEST, { preferred: ['sandbox_c'] }).mapping, [['stripe', 'sandbox_c']]);
  // Too few processors: no mapping.
  assert.equal(remapRuleSet(full, LIVE), null);
  assert.equal(describeMapping(r.mapping), 'adyen_eu → sandbox_a, stripe → sandbox_b, checkout → sandbox_c');
  // auth_rate's processors are moved too, its other keys kept
  const byRate = EXAMPLES.find((e) => e.id === 'auth_rate').ruleSet;
  const moved = remapRuleSet(byRate, TEST);
  assert.deepEqual(moved.ruleSet.rules[0].then.auth_rate, { processors: ['sandbox_a', 'sandbox_b', 'sandbox_c'], explore: 0.05, min_sample: 100 });
  assert.deepEqual(moved.ruleSet.rules[0].then.fallback, ['sandbox_down']);
  assert.ok(validate(moved.ruleSet, { processors: TEST }).ok);
});

test('the examples offered in a mode: every one valid on its processors, the others hidden with a reason', () => {
  const check = (procs) => (rs) => validate(rs, { processors: procs });
  const test = examplesFor(EXAMPLES, TEST, check(TEST));
  assert.deepEqual(test.offered.map((e) => e.id), EXAMPLES.map((e) => e.id));
  assert.deepEqual(test.hidden, []);
  const live = examplesFor(EXAMPLES, LIVE, check(LIVE));
  assert.deepEqual(live.offered.map((e) => e.id), ['eur', 'bin']);
  assert.deepEqual(live.hidden.map((h) => h.id), ['full', 'split', 'mit', 'auth_rate']);
  assert.match(live.hidden[0].reason, /names 3 processors and 2 are configured/);
  for (const ex of [...test.offered, ...live.offered]) {
    const procs = test.offered.includes(ex) ? TEST : LIVE;
    assert.ok(validate(ex.ruleSet, { processors: procs }).ok, ex.id);
    assert.ok(processorsOf(ex.ruleSet).every((p) => procs.includes(p)), ex.id);
  }
  // One the binding refuses is hidden too.
  const refused = examplesFor([{ id: 'x', title: 'X', ruleSet: { default: { route: ['sandbox_a'] } } }], LIVE, () => ({ ok: false, errors: [{ message: 'nope' }] }));
  assert.deepEqual(refused.hidden.map((h) => h.reason), ['it is not valid on these processors: nope']);
});

test('the worker\'s issues at their places in the editor, in place of the same local issue', () => {
  const text = '{\n  "rules": [\n    { "name": "a", "then": { "route": ["sandbox_zz"] } }\n  ],\n  "default": { "route": ["sandbox_a"] }\n}\n';
  const index = indexJson(text);
  const local = validate(text, { processors: LIVE }).errors.map((issue) => ({ start: 0, end: 0, severity: 'error', issue }));
  const worker = [
    { path: '/rules/0/then/route/0', code: 'unknown_processor', message: 'unknown processor "sandbox_zz"' },
    { path: '/rules/0/if', code: 'missing_key', message: 'a rule needs "if"' },
  ];
  const marks = mergeIssues(index.nodes, local, worker);
  const at = text.indexOf('"sandbox_zz"');
  const zz = marks.find((m) => m.issue.path === '/rules/0/then/route/0');
  assert.equal(marks.filter((m) => m.issue.path === '/rules/0/then/route/0').length, 1, 'shown once');
  assert.equal(zz.issue.source, 'worker');
  assert.deepEqual([zz.start, zz.end, zz.exact], [at, at + '"sandbox_zz"'.length, true]);
  assert.deepEqual(lineCol(text, zz.start), { line: 3, col: 40 }); // `    { "name": "a", "then": { "route": [` is 39 characters
  // A missing key marks the nearest enclosing object.
  const missing = marks.find((m) => m.issue.code === 'missing_key');
  assert.equal(missing.exact, false);
  assert.equal(missing.start, text.indexOf('{ "name"'));
  // Without worker issues, the local marks are the marks.
  assert.deepEqual(mergeIssues(index.nodes, local, []), local);
});

test('a version in words: only the facts it has, who when it has them', () => {
  const v = { id: 'rs_1', name: 'EU', status: 'inactive', created: 1767225600, activated_at: 1767229200, promoted_from: null };
  assert.deepEqual(versionFacts(v), [['id', 'rs_1'], ['name', 'EU'], ['status', 'inactive'], ['created', '2026-01-01 00:00 UTC'], ['activated', '2026-01-01 01:00 UTC']]);
  const who = versionFacts({ ...v, created_by: 'sk_test_…abcd', activated_by: 'sk_test_…wxyz', promoted_from: 'rs_0' });
  assert.deepEqual(who.slice(3), [['created', '2026-01-01 00:00 UTC'], ['created by', 'sk_test_…abcd'], ['activated', '2026-01-01 01:00 UTC'], ['activated by', 'sk_test_…wxyz'], ['promoted from', 'rs_0']]);
  assert.equal(activationKind({ status: 'draft' }), 'activate');
  assert.equal(activationKind({ status: 'inactive' }), 'rollback');
  assert.equal(activationKind({ status: 'active' }), null);
  assert.equal(formatTime(null), '');
});
