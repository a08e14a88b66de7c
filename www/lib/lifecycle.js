// The rule lifecycle's pure parts (issue 12, item 4): the starter examples
// moved onto the worker's processors, the worker's issues placed in the
// editor beside the page's own, and a version described in words. The
// page (app.js) and the Node tests use them alike.

import { placePointer } from './jsonloc.js';

/** Every processor id an action names, in order of first appearance. */
function actionProcessors(action, out) {
  if (!action || typeof action !== 'object') return;
  for (const p of Array.isArray(action.route) ? action.route : []) if (typeof p === 'string') out.push(p);
  for (const s of Array.isArray(action.split) ? action.split : []) if (typeof s?.processor === 'string') out.push(s.processor);
  for (const p of Array.isArray(action.auth_rate?.processors) ? action.auth_rate.processors : []) if (typeof p === 'string') out.push(p);
  for (const p of Array.isArray(action.fallback) ? action.fallback : []) if (typeof p === 'string') out.push(p);
}

/** The processor ids a rule set names, each once, in order of first appearance. */
export function processorsOf(ruleSet) {
  const out = [];
  for (const r of Array.isArray(ruleSet?.rules) ? ruleSet.rules : []) actionProcessors(r?.then, out);
  actionProcessors(ruleSet?.default, out);
  return [...new Set(out)];
}

function mapAction(action, map) {
  if (!action || typeof action !== 'object') return action;
  const m = (p) => (typeof p === 'string' && map.has(p) ? map.get(p) : p);
  const out = { ...action };
  if (Array.isArray(action.route)) out.route = action.route.map(m);
  if (Array.isArray(action.split)) out.split = action.split.map((s) => (s && typeof s === 'object' ? { ...s, processor: m(s.processor) } : s));
  if (action.auth_rate && typeof action.auth_rate === 'object' && Array.isArray(action.auth_rate.processors)) {
    out.auth_rate = { ...action.auth_rate, processors: action.auth_rate.processors.map(m) };
  }
  if (Array.isArray(action.fallback)) out.fallback = action.fallback.map(m);
  return out;
}

/** A copy of the rule set with its processor ids renamed by `map` (a Map). */
export function renameProcessors(ruleSet, map) {
  const out = structuredClone(ruleSet);
  if (Array.isArray(out.rules)) out.rules = out.rules.map((r) => (r && typeof r === 'object' ? { ...r, then: mapAction(r.then, map) } : r));
  if (out.default) out.default = mapAction(out.default, map);
  return out;
}

/**
 * The rule set moved onto `configured` processor ids: ids it names that
 * are configured stay; each other id takes a configured one not yet used,
 * in the configuration's order, so distinct ids stay distinct (a route or
 * split may not name one twice). `preferred` (ids to use first, e.g. the
 * processors whose circuit is closed) reorders the pick.
 * Returns { ruleSet, mapping: [[from, to], ...] }, or null when there are
 * not enough configured processors.
 */
export function remapRuleSet(ruleSet, configured, { preferred = [] } = {}) {
  const named = processorsOf(ruleSet);
  const known = new Set(configured);
  const pool = [...new Set([...preferred.filter((p) => known.has(p)), ...configured])].filter((p) => !named.includes(p));
  const map = new Map();
  for (const id of named) {
    if (known.has(id)) continue;
    const to = pool.shift();
    if (to === undefined) return null;
    map.set(id, to);
  }
  return { ruleSet: map.size ? renameProcessors(ruleSet, map) : structuredClone(ruleSet), mapping: [...map] };
}

/**
 * The examples offered while signed in: each moved onto the configured
 * processors and checked with `validate` (the binding's, with those
 * processors). Returns { offered: [{...example, ruleSet, mapping}],
 * hidden: [{ id, title, reason }] }.
 */
export function examplesFor(examples, configured, validate, options = {}) {
  const offered = [];
  const hidden = [];
  for (const ex of examples) {
    const r = remapRuleSet(ex.ruleSet, configured, options);
    if (!r) {
      const need = processorsOf(ex.ruleSet).length;
      hidden.push({ id: ex.id, title: ex.title, reason: `it names ${need} processors and ${configured.length} are configured` });
      continue;
    }
    const v = validate ? validate(r.ruleSet) : { ok: true };
    if (!v.ok) {
      hidden.push({ id: ex.id, title: ex.title, reason: `it is not valid on these processors: ${v.errors?.[0]?.message ?? 'invalid'}` });
      continue;
    }
    offered.push({ ...ex, ruleSet: r.ruleSet, mapping: r.mapping });
  }
  return { offered, hidden };
}

/** "adyen_eu → sandbox_a, stripe → sandbox_b" (empty for no change). */
export function describeMapping(mapping) {
  return mapping.map(([a, b]) => `${a} → ${b}`).join(', ');
}

/**
 * The marks of the editor: the page's own issues and, for the text they
 * were given for, the worker's (from a refused save). A worker issue at
 * the same path with the same code as a local one replaces it, marked as
 * the worker's (`source: 'worker'`). Each mark is
 * { start, end, exact, severity, issue }.
 */
export function mergeIssues(nodes, local, worker = []) {
  const key = (i) => `${i.code}\u0000${i.path}`;
  const fromWorker = new Set(worker.map(key));
  const marks = [];
  for (const w of worker) marks.push({ ...placePointer(nodes, w.path ?? '', w.code), severity: 'error', issue: { ...w, source: 'worker' } });
  for (const m of local) {
    if (m.severity === 'error' && fromWorker.has(key(m.issue))) continue;
    marks.push(m);
  }
  return marks;
}

/** Seconds since the epoch as `2026-05-01 12:34 UTC`; '' for none. */
export function formatTime(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '';
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * Who did what when to a version, as [label, value] pairs for display:
 * only what the object has (`created_by` and `activated_by` when the
 * worker gives them).
 */
export function versionFacts(v) {
  const facts = [['id', v.id]];
  if (v.name) facts.push(['name', v.name]);
  facts.push(['status', v.status]);
  if (v.created != null) facts.push(['created', formatTime(v.created)]);
  if (v.created_by) facts.push(['created by', String(v.created_by)]);
  if (v.activated_at != null) facts.push(['activated', formatTime(v.activated_at)]);
  if (v.activated_by) facts.push(['activated by', String(v.activated_by)]);
  if (v.promoted_from) facts.push(['promoted from', v.promoted_from]);
  return facts;
}

/** What the page offers for a version: 'activate' (a draft), 'rollback' (an inactive one) or null (the active one). */
export function activationKind(v) {
  if (v.status === 'draft') return 'activate';
  if (v.status === 'inactive') return 'rollback';
  return null;
}
