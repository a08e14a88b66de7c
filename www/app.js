// Switchyard rule preview: write a rule set, check it, try payments on it,
// simulate traffic and compare it with the current rule set. Everything runs
// in this page on the wasm routing engine (www/pkg, docs/js.md);
// no rule or card data leaves the browser.
//
// Signed in with a mode's secret key (the rule lifecycle, at the end), the
// page also talks to the worker that serves it: it loads the mode's active
// rule set as "current" and its processors as the known ones, saves the
// editor as a draft, activates, rolls back and promotes. Only rule sets
// travel; the key lives in memory (lib/api.js), never in storage or a URL.
//
// Storage: only rule sets and settings are stored (localStorage): the draft,
// the "current" rule set for comparisons, the known-processor list and the
// authorization rates typed (not those loaded from the worker). Payment form
// values, and the card number above all, live in the DOM only.

import { indexJson, placePointer, lineCol } from './lib/jsonloc.js';
import { parseTraffic } from './lib/traffic.js';
import { EXAMPLES, DEFAULT_EXAMPLE } from './lib/examples.js';
import { describeTraceEntry, describeAuthRate, formatMoney, outcomeOf } from './lib/explain.js';
import { readRates, rateIssueText, ratesFromAnswer } from './lib/rates.js';
import { conditionInsertion } from './lib/insert.js';
import { createClient, describeError, listRuleSetsUntil } from './lib/api.js';
import { examplesFor, describeMapping, mergeIssues, versionFacts, activationKind } from './lib/lifecycle.js';

const STORE = {
  draft: 'switchyard.preview.draft.v1',
  current: 'switchyard.preview.current.v1',
  processors: 'switchyard.preview.processors.v1',
  rates: 'switchyard.preview.rates.v1',
};

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
};
// replaceChildren that skips null/false (conditional parts).
const setKids = (node, ...kids) => node.replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined && k !== false));
const fmt = (n) => Number(n).toLocaleString('en-US');
const pct = (n, total) => (total ? `${((100 * n) / total).toFixed(1)}%` : '0%');

// Exposed for the browser tests and the measurement script: timings only,
// never payment data.
const metrics = (window.__switchyardMetrics = { validations: [] });

let engine = null; // the wasm module's exports

// ---------------------------------------------------------------------------
// Storage (rule sets only)

function load(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
function save(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    /* private mode or quota: the page still works, it just forgets */
  }
}

// ---------------------------------------------------------------------------
// Toasts

let toastTimer = 0;
function toast(message, kind = 'info') {
  const t = $('toast');
  t.textContent = message;
  t.dataset.kind = kind;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 2600);
}

// ---------------------------------------------------------------------------
// Editor: a textarea over a layer of issue marks, with a line-number gutter.

const source = $('source');
const backdrop = $('backdrop');
const gutter = $('gutter');

const state = {
  text: '',
  index: null, // indexJson result for the draft
  result: null, // validate() result
  marks: [], // [{start, end, severity, issue}]
  valid: false,
  router: null, // Router for the draft, built lazily
  routerText: null,
  routerRates: -1, // the rates version bound to `router`
  traffic: null, // { name, payments }
  simShown: false,
  workerIssues: null, // { text, issues }: the worker's refusal of a save of `text`
};

// Signed in (the rule lifecycle, at the end of this file): the worker's
// view of one mode. The key itself is only inside `client` (lib/api.js).
const session = {
  client: null,
  mode: null, // 'test' | 'live'
  processors: null, // the mode's processor ids, from the worker
  active: null, // { id, name, text } of the mode's active set, or null
  versions: [],
  hasMore: false,
  examples: null, // { offered, hidden } on the worker's processors
};

function knownProcessors() {
  return $('known-processors')
    .value.split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}
function engineOptions() {
  // Signed in: the worker's processors, so that "Valid" means the worker
  // accepts the rule set.
  if (session.processors) return { processors: session.processors };
  const p = knownProcessors();
  return p.length ? { processors: p } : undefined;
}

// Marks are absolutely placed boxes over the text (the editor's font is
// monospaced, so a place is line x line-height by column x character width).
// A keystroke therefore costs O(issues) in the DOM, not a re-render of the
// whole text: a 100-rule set stays well within one frame.
const marksLayer = $('marks');
let charWidth = 0;
let lineHeightPx = 0;
function lineHeight() {
  if (!lineHeightPx) lineHeightPx = parseFloat(getComputedStyle(source).lineHeight) || 20;
  return lineHeightPx;
}
function measureCharWidth() {
  const probe = el('span', { class: 'measure' }, 'x'.repeat(100));
  backdrop.append(probe);
  charWidth = probe.getBoundingClientRect().width / 100 || 7.8;
  probe.remove();
}

function visualColumn(lineText, index) {
  let col = 0;
  for (let k = 0; k < index && k < lineText.length; k++) col = lineText[k] === '\t' ? col + 2 - (col % 2) : col + 1;
  return col;
}

function renderMarks() {
  if (!charWidth) measureCharWidth();
  const text = state.text;
  const lh = lineHeight();
  const boxes = [];
  for (const m of state.marks) {
    let start = Math.min(m.start, text.length);
    const lineStart = text.lastIndexOf('\n', start - 1) + 1;
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    let end = Math.min(Math.max(m.end, start), lineEnd); // one line at most
    if (end === start) {
      // a place with no width (end of text, empty line): one character wide
      if (start === lineEnd && start > lineStart) start -= 1;
      end = start + 1;
    }
    const lineText = text.slice(lineStart, lineEnd);
    const { line } = lineCol(text, lineStart);
    const c0 = visualColumn(lineText, start - lineStart);
    const c1 = Math.max(c0 + 1, visualColumn(lineText, end - lineStart));
    boxes.push(
      el('mark', { class: m.severity, style: `top:${(line - 1) * lh}px;left:${c0 * charWidth}px;width:${(c1 - c0) * charWidth}px;height:${lh}px` }, text.slice(start, end)),
    );
  }
  setKids(marksLayer, ...boxes);
}

let gutterLineCount = 0;
let gutterMarked = [];
function renderGutter() {
  let lines = 1;
  const text = state.text;
  for (let k = text.indexOf('\n'); k >= 0; k = text.indexOf('\n', k + 1)) lines++;
  if (lines !== gutterLineCount) {
    let html = '';
    for (let k = 1; k <= lines + 3; k++) html += k <= lines ? `<div class="ln">${k}</div>` : '<div class="ln">&nbsp;</div>';
    gutter.innerHTML = html;
    gutterLineCount = lines;
    gutterMarked = [];
    syncScroll();
  }
  for (const node of gutterMarked) node.classList.remove('error', 'warning');
  gutterMarked = [];
  const byLine = new Map();
  for (const m of state.marks) {
    const { line } = lineCol(text, m.start);
    if (byLine.get(line) !== 'error') byLine.set(line, m.severity);
  }
  for (const [line, sev] of byLine) {
    const node = gutter.children[line - 1];
    if (node) {
      node.classList.add(sev);
      gutterMarked.push(node);
    }
  }
}

function syncScroll() {
  marksLayer.style.transform = `translate(${-source.scrollLeft}px, ${-source.scrollTop}px)`;
  gutter.scrollTop = source.scrollTop;
}

function goTo(start, end = start) {
  source.focus();
  source.setSelectionRange(start, end);
  // Scroll the place into the middle of the editor.
  const { line } = lineCol(state.text, start);
  const lh = parseFloat(getComputedStyle(source).lineHeight) || 20;
  const target = (line - 1) * lh - source.clientHeight / 2 + lh;
  source.scrollTop = Math.max(0, target);
  syncScroll();
}

function goToPointer(pointer) {
  if (!state.index) return;
  const place = placePointer(state.index.nodes, pointer, '');
  goTo(place.start, place.end);
}

// ---------------------------------------------------------------------------
// Validation

function validateDraft() {
  const t0 = performance.now();
  const text = state.text;
  const index = indexJson(text);
  state.index = index;
  let result;
  try {
    result = engine.validate(text, engineOptions());
  } catch (e) {
    // validate never throws for a bad rule set (js.md); anything else is a bug worth showing
    result = { ok: false, errors: [{ path: '', code: 'internal', message: String(e && e.message ? e.message : e) }], warnings: [] };
  }
  state.result = result;
  state.valid = !!result.ok;
  const marks = [];
  const place = (issue, severity) => {
    let where;
    if (issue.code === 'invalid_json' && !index.ok) {
      const off = index.error.offset;
      where = { start: off, end: Math.min(text.length, off + 1), exact: true };
    } else {
      where = placePointer(index.nodes, issue.path, issue.code);
    }
    marks.push({ ...where, severity, issue });
  };
  for (const i of result.errors ?? []) place(i, 'error');
  for (const i of result.warnings ?? []) place(i, 'warning');
  // The worker's issues from a refused save, for this very text.
  const fromWorker = state.workerIssues?.text === text ? state.workerIssues.issues : [];
  state.marks = fromWorker.length ? mergeIssues(index.nodes, marks, fromWorker) : marks;
  renderMarks();
  renderGutter();
  renderIssues();
  renderStatus();
  const ms = performance.now() - t0;
  metrics.validations.push(ms);
  if (metrics.validations.length > 200) metrics.validations.shift();
  metrics.lastValidationMs = ms;
  document.body.dataset.validatedAt = String(performance.now());
}

function renderStatus() {
  const s = $('status');
  const ne = state.marks.filter((m) => m.severity === 'error').length;
  const nw = state.marks.length - ne;
  s.className = 'status ' + (ne ? 'bad' : nw ? 'warn' : 'good');
  if (ne) {
    s.textContent = `${ne} error${ne > 1 ? 's' : ''}${nw ? ` · ${nw} warning${nw > 1 ? 's' : ''}` : ''}`;
    s.removeAttribute('title');
  } else {
    const rules = state.index?.ok && Array.isArray(state.index.value?.rules) ? state.index.value.rules.length : 0;
    // Signed in, valid means valid on the worker's processors of that mode.
    const where = session.mode ? ` for ${session.mode} mode` : '';
    s.textContent = `Valid${where} · ${rules} rule${rules === 1 ? '' : 's'}${nw ? ` · ${nw} warning${nw > 1 ? 's' : ''}` : ''}`;
    if (session.mode) s.title = `Checked against the worker's ${session.mode}-mode processors: ${session.processors.join(', ')}`;
    else s.title = 'Checked in this page; sign in to check against the worker\'s processors';
  }
  s.dataset.errors = String(ne);
  s.dataset.warnings = String(nw);
}

// "did you mean `currency`?" in an engine message: offer to apply it.
const SUGGESTION = /did you mean\s+[`"']?([A-Za-z0-9_.\-/*]+)[`"']?\s*\??/i;

function applySuggestion(mark, suggestion) {
  const text = state.text;
  let { start, end } = mark;
  // Replace inside the quotes of a string token, keep the quotes.
  if (text[start] === '"' && text[end - 1] === '"' && end - start >= 2) {
    start += 1;
    end -= 1;
  }
  source.focus();
  source.setSelectionRange(start, end);
  // execCommand keeps the browser's undo history; fall back to a plain edit.
  if (!document.execCommand || !document.execCommand('insertText', false, suggestion)) {
    source.setRangeText(suggestion, start, end, 'end');
    onDraftInput();
  }
}

/** More warnings than this are folded away (errors always show). */
const FOLD_WARNINGS_OVER = 10;
/** null: fold when there are many; true/false: as the user chose. */
let warningsFolded = null;

function renderIssues() {
  const box = $('issues');
  setKids(box);
  const caret = source.selectionStart;
  const sorted = [...state.marks].sort((a, b) => (a.severity === b.severity ? a.start - b.start : a.severity === 'error' ? -1 : 1));
  const warnings = sorted.filter((m) => m.severity !== 'error').length;
  const foldable = warnings > FOLD_WARNINGS_OVER;
  const folded = foldable && warningsFolded !== false;
  const foldBtn = $('issues-fold');
  foldBtn.hidden = !foldable;
  foldBtn.textContent = folded ? `Show ${warnings} warnings` : `Hide ${warnings} warnings`;
  foldBtn.setAttribute('aria-expanded', String(!folded));
  for (const m of sorted) {
    const { line, col } = lineCol(state.text, m.start);
    const match = SUGGESTION.exec(m.issue.message ?? '');
    const worker = m.issue.source === 'worker';
    const row = el(
      'div',
      {
        class: `issue ${m.severity}${worker ? ' worker' : ''}${caret >= m.start && caret <= m.end ? ' at-caret' : ''}`,
        dataset: { code: m.issue.code, path: m.issue.path, line: String(line), col: String(col), source: worker ? 'worker' : 'page' },
      },
      el(
        'button',
        {
          type: 'button',
          class: 'issue-main',
          title: `Go to line ${line}, column ${col}`,
          onclick: () => goTo(m.start, m.end),
        },
        el('span', { class: 'sev', 'aria-label': m.severity }, m.severity === 'error' ? '✕' : '!'),
        el('span', { class: 'where' }, `Ln ${line}, Col ${col}`),
        el('span', { class: 'msg' }, m.issue.message),
        el('span', { class: 'code' }, m.issue.code, m.issue.path ? ` · ${m.issue.path}` : '', worker ? el('strong', { class: 'from-worker' }, ' · refused by the worker') : null),
      ),
      match && m.exact
        ? el('button', { type: 'button', class: 'fix', title: 'Apply the suggestion', onclick: () => applySuggestion(m, match[1]) }, `Use “${match[1]}”`)
        : null,
    );
    // Folded warnings stay in the list (rows follow the marks), hidden.
    if (folded && m.severity !== 'error') row.hidden = true;
    box.append(row);
  }
  box.hidden = sorted.length === 0 || sorted.length === warnings && folded;
}

$('issues-fold').addEventListener('click', () => {
  // Open now: the click folds them; folded: it opens them.
  warningsFolded = $('issues-fold').getAttribute('aria-expanded') === 'true';
  renderIssues();
});

function highlightIssueAtCaret() {
  const caret = source.selectionStart;
  for (const row of $('issues').children) row.classList.remove('at-caret');
  const sorted = [...state.marks].sort((a, b) => (a.severity === b.severity ? a.start - b.start : a.severity === 'error' ? -1 : 1));
  sorted.forEach((m, k) => {
    if (caret >= m.start && caret <= m.end) $('issues').children[k]?.classList.add('at-caret');
  });
}

// ---------------------------------------------------------------------------
// Authorization rates: what auth_rate rules choose by (docs/js.md, "Rates").
// Typed (kept in localStorage) or loaded from the worker (memory only).

const ratesState = {
  text: '',
  rates: undefined, // the array given to the engine; undefined: none or invalid
  issues: [],
  version: 0, // bumped on every change: routers rebind their rates
  fromWorker: null, // summary of the worker's answer while the text is as loaded
};
let ratesChecker = null;

/** The engine's issues for a rates value ([] when valid): a throwaway router's setRates. */
function checkRates(value) {
  try {
    ratesChecker ??= new engine.Router('{"default": {"route": ["x"]}}');
    ratesChecker.setRates(value);
    return [];
  } catch (e) {
    return Array.isArray(e?.issues) && e.issues.length ? e.issues : [{ path: '/rates', code: 'invalid', message: String(e?.message ?? e) }];
  }
}

/** { rates } for the engine's options, or undefined when there are none. */
function ratesOption() {
  return ratesState.rates ? { rates: ratesState.rates } : undefined;
}

function ratesInvalid() {
  return ratesState.issues.length > 0;
}

function setRatesText(text, { fromWorker = null } = {}) {
  const ta = $('rates-source');
  if (ta.value !== text) ta.value = text;
  ratesState.fromWorker = fromWorker;
  onRatesInput({ persist: !fromWorker });
}

function onRatesInput({ persist = true } = {}) {
  const text = $('rates-source').value;
  if (ratesState.fromWorker && text !== ratesState.fromWorker.text) ratesState.fromWorker = null; // edited: the person's own now
  const { rates, issues } = readRates(text, checkRates);
  Object.assign(ratesState, { text, rates, issues, version: ratesState.version + 1 });
  if (persist && !ratesState.fromWorker) save(STORE.rates, text.trim() ? text : null);
  renderRates();
  if (compareMadeFor) markCompareStale();
  schedulePreview();
  clearTimeout(followTimer);
  if (state.simShown && state.valid && state.traffic) followTimer = setTimeout(() => runSimulation(), 400);
}

function renderRates() {
  const ta = $('rates-source');
  const n = Array.isArray(ratesState.rates) ? ratesState.rates.length : 0;
  if (ratesInvalid()) ta.setAttribute('aria-invalid', 'true');
  else ta.removeAttribute('aria-invalid');
  const ne = ratesState.issues.length;
  $('rates-summary').textContent = ne ? `(${ne} error${ne > 1 ? 's' : ''})` : n ? `(${n})` : '(none)';
  $('rates-details').dataset.errors = String(ne);
  $('rates-details').dataset.count = String(n);
  const shown = ratesState.issues.slice(0, 6).map(rateIssueText);
  if (ne > 6) shown.push(`… and ${ne - 6} more`);
  showError('rates-error', ne ? `The rates are not valid, so no decision uses them:\n${shown.join('\n')}` : '');
  $('rates-info').textContent = ratesState.fromWorker ? ratesState.fromWorker.summary : n ? `${n} rate${n === 1 ? '' : 's'}, kept in this browser` : '';
}

async function loadWorkerRates() {
  const client = session.client;
  if (!client) return;
  const btn = $('rates-load');
  btn.disabled = true;
  btn.textContent = 'Loading…';
  showError('rates-error', '');
  try {
    const answer = await client.rates();
    if (session.client !== client) return;
    const got = ratesFromAnswer(answer);
    $('rates-details').open = true;
    setRatesText(got.text, { fromWorker: { text: got.text, summary: got.summary } });
    toast(`Loaded ${got.summary}`);
  } catch (e) {
    showError('rates-error', `Could not load the current rates: ${e instanceof Error && e.name !== 'ApiError' ? e.message : `${e.status ? `HTTP ${e.status}, ` : ''}${describeError(e)}`}`);
  } finally {
    btn.disabled = false;
    btn.textContent = 'Load current rates';
  }
}

$('rates-source').addEventListener('input', () => onRatesInput());
$('rates-clear').addEventListener('click', () => setRatesText(''));
$('rates-load').addEventListener('click', loadWorkerRates);

// ---------------------------------------------------------------------------
// The draft router (compiled once per draft text)

function draftRouter() {
  if (!state.valid) return null;
  if (!state.router || state.routerText !== state.text) {
    if (state.router) state.router.free();
    state.router = null;
    try {
      state.router = new engine.Router(state.text, engineOptions());
      state.routerText = state.text;
      state.routerRates = -1;
    } catch (e) {
      state.routerText = null;
      throw e;
    }
  }
  // The rates are bound once per change, not passed on every call.
  if (state.routerRates !== ratesState.version) {
    state.router.setRates(ratesState.rates ?? null);
    state.routerRates = ratesState.version;
  }
  return state.router;
}

// ---------------------------------------------------------------------------
// Draft changes

let saveTimer = 0;
let followTimer = 0;
/** What the shown comparison was made for (draft and current set): once
 * either changes, the results say they are out of date. */
let compareMadeFor = null;
/** Saves a draft whose saving is still waiting (typing pauses 250 ms). */
function flushDraft() {
  clearTimeout(saveTimer);
  saveTimer = 0;
  save(STORE.draft, state.text);
}
// An edit made just before the page closes or hides is saved then.
window.addEventListener('pagehide', () => { if (saveTimer) flushDraft(); });
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden' && saveTimer) flushDraft();
});
function onDraftInput() {
  state.text = source.value;
  if (state.workerIssues && state.workerIssues.text !== state.text) {
    // The worker's issues were for an earlier text: save again to check this one.
    state.workerIssues = null;
    showError('save-error', '');
  }
  validateDraft();
  clearTimeout(saveTimer);
  saveTimer = setTimeout(flushDraft, 250);
  if (compareMadeFor) markCompareStale();
  schedulePreview();
  // Keep a shown simulation in step with the draft, without re-running on every key.
  clearTimeout(followTimer);
  if (state.simShown && state.valid && state.traffic) followTimer = setTimeout(() => runSimulation(), 400);
}

// Chromium's editing commands (insertText, paste) take seconds on a textarea
// holding thousands of lines; past this size the editor sets its text
// directly, giving up undo for that one change.
const UNDOABLE_LIMIT = 20000;

function setDraft(text, { keepUndo = true } = {}) {
  source.focus();
  if (keepUndo && document.execCommand && text.length + source.value.length < UNDOABLE_LIMIT) {
    source.select();
    if (document.execCommand('insertText', false, text)) {
      source.setSelectionRange(0, 0);
      source.scrollTop = 0;
      return; // the input event ran onDraftInput
    }
  }
  source.value = text;
  source.setSelectionRange(0, 0);
  source.scrollTop = 0;
  onDraftInput();
}

function formatDraft() {
  const idx = indexJson(source.value);
  if (!idx.ok) {
    toast('Fix the JSON syntax first', 'bad');
    return;
  }
  setDraft(JSON.stringify(idx.value, null, 2) + '\n');
}

// Tab indents; Escape then Tab leaves the editor (keyboard users are never trapped).
let escaped = false;
source.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') {
    escaped = true;
    return;
  }
  if (e.key === 'Tab' && !escaped && !e.ctrlKey && !e.altKey && !e.metaKey) {
    e.preventDefault();
    const { selectionStart: s, selectionEnd: end, value } = source;
    if (e.shiftKey) {
      const lineStart = value.lastIndexOf('\n', s - 1) + 1;
      if (value.startsWith('  ', lineStart)) {
        source.setSelectionRange(lineStart, lineStart + 2);
        document.execCommand('delete');
        source.setSelectionRange(Math.max(lineStart, s - 2), Math.max(lineStart, end - 2));
      }
    } else {
      document.execCommand('insertText', false, '  ');
    }
    return;
  }
  if (e.key === 'Enter' && !e.shiftKey && !e.ctrlKey && !e.metaKey) {
    // Keep the indentation of the current line.
    const { selectionStart: s, value } = source;
    const lineStart = value.lastIndexOf('\n', s - 1) + 1;
    const indent = /^[ \t]*/.exec(value.slice(lineStart))[0];
    const before = value[s - 1];
    const extra = before === '{' || before === '[' ? '  ' : '';
    e.preventDefault();
    document.execCommand('insertText', false, '\n' + indent + extra);
    return;
  }
  escaped = false;
});
source.addEventListener('input', onDraftInput);
source.addEventListener('paste', (e) => {
  const text = e.clipboardData?.getData('text/plain');
  if (!text || text.length + source.value.length < UNDOABLE_LIMIT) return; // the browser's paste, with undo
  e.preventDefault();
  source.setRangeText(text, source.selectionStart, source.selectionEnd, 'end');
  onDraftInput();
});
source.addEventListener('scroll', syncScroll);
source.addEventListener('keyup', highlightIssueAtCaret);
source.addEventListener('click', highlightIssueAtCaret);

// ---------------------------------------------------------------------------
// Payment tester

const form = $('payment-form');
form.addEventListener('submit', (e) => e.preventDefault());

function luhnOk(digits) {
  let sum = 0;
  let dbl = false;
  for (let k = digits.length - 1; k >= 0; k--) {
    let d = digits.charCodeAt(k) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

function readPayment() {
  const p = {};
  const amountRaw = $('pf-amount').value.trim().replace(/[\s_,]/g, '');
  p.amount = /^-?\d+$/.test(amountRaw) ? Number(amountRaw) : amountRaw;
  p.currency = $('pf-currency').value.trim();
  const card = {};
  const cardRaw = $('pf-card').value.replace(/[\s-]/g, '');
  const hint = $('pf-card-hint');
  if (cardRaw) {
    if (/^\d{6,8}$/.test(cardRaw)) {
      card.bin = cardRaw;
      hint.textContent = `Read as a BIN (${cardRaw.length} digits). Stays on this page: never stored, never sent.`;
    } else {
      card.number = cardRaw;
      hint.textContent = /^\d{12,19}$/.test(cardRaw)
        ? `Card number, ${luhnOk(cardRaw) ? 'Luhn check passes' : 'Luhn check fails'} · BIN ${cardRaw.slice(0, 8)}. Stays on this page: never stored, never sent.`
        : 'A card number has 12 to 19 digits; a BIN 6 to 8. Stays on this page: never stored, never sent.';
    }
  } else {
    hint.textContent = 'Stays on this page: never stored, never sent.';
  }
  if ($('pf-brand').value) card.brand = $('pf-brand').value;
  const country = $('pf-country').value.trim();
  if (country) card.country = country.toUpperCase();
  if ($('pf-funding').value) card.funding = $('pf-funding').value;
  const issuer = $('pf-issuer').value.trim();
  if (issuer) card.issuer = issuer;
  if (Object.keys(card).length) p.card = card;
  const billing = $('pf-billing').value.trim();
  if (billing) p.billing = { country: billing.toUpperCase() };
  if ($('pf-capture').value) p.capture_method = $('pf-capture').value;
  if ($('pf-offsession').value) p.off_session = $('pf-offsession').value === 'true';
  if ($('pf-3ds').value) p.three_d_secure = $('pf-3ds').value === 'true';
  const metadata = {};
  for (const line of $('pf-metadata').value.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    const eq = t.indexOf('=');
    if (eq < 0) metadata[t] = '';
    else metadata[t.slice(0, eq).trim()] = t.slice(eq + 1).trim();
  }
  if (Object.keys(metadata).length) p.metadata = metadata;
  const key = $('pf-key').value.trim();
  if (key) p.routing_key = key;
  const words = formatMoney(typeof p.amount === 'number' ? p.amount : NaN, p.currency);
  $('pf-amount-words').textContent = words ? `= ${words}` : 'minor units';
  return p;
}

function clearFieldErrors() {
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
}

function markFieldErrors(issues) {
  for (const issue of issues) {
    const path = issue.path ?? '';
    let best = null;
    for (const input of form.querySelectorAll('[data-path]')) {
      const p = input.dataset.path;
      if (path === p || path.startsWith(p + '/')) best = input;
      if (!best && path.startsWith('/card/bin') && p === '/card/number') best = input;
    }
    if (best) best.setAttribute('aria-invalid', 'true');
  }
}

function renderChips(processors) {
  return el(
    'ol',
    { class: 'plan' },
    processors.map((p, k) => el('li', { class: 'chip', dataset: { processor: p } }, el('span', { class: 'ord' }, String(k + 1)), p)),
  );
}

// The decision follows the draft one frame later: validation feedback is
// painted first, then the payment is decided on the new rule set.
let previewPending = false;
function schedulePreview() {
  if (previewPending) return;
  previewPending = true;
  requestAnimationFrame(() =>
    setTimeout(() => {
      previewPending = false;
      runPreview();
    }, 0),
  );
}

function runPreview() {
  const box = $('decision');
  const trace = $('trace');
  clearFieldErrors();
  const payment = readPayment();
  if (!state.valid) {
    box.className = 'decision idle';
    setKids(box, el('p', {}, 'Fix the rule set’s errors to try a payment on it.'));
    setKids(trace);
    return;
  }
  if (ratesInvalid()) {
    box.className = 'decision idle';
    box.dataset.action = 'idle';
    setKids(box, el('p', {}, 'Fix the authorization rates’ errors (under the editor) to try a payment with them.'));
    setKids(trace);
    return;
  }
  let d;
  try {
    d = engine.preview(state.text, payment, ratesOption());
  } catch (e) {
    const issues = e && Array.isArray(e.issues) ? e.issues : [];
    markFieldErrors(issues);
    box.className = 'decision invalid';
    box.dataset.action = 'invalid';
    setKids(box, 
      el('div', { class: 'verdict' }, el('span', { class: 'badge bad' }, 'Payment not valid')),
      el('ul', { class: 'payment-issues' }, (issues.length ? issues : [{ path: '', message: String(e?.message ?? e) }]).map((i) => el('li', {}, el('code', {}, i.path || '/'), ' ', i.message))),
    );
    setKids(trace);
    return;
  }
  box.dataset.action = d.action;
  box.dataset.rule = d.rule ?? '';
  // How a split picked is explained on the trace entry that decided.
  const split = d.trace?.at(-1)?.split;
  const byRate = describeAuthRate(d.trace?.at(-1)?.auth_rate);
  box.dataset.processors = (d.processors ?? []).join(',');
  const who =
    d.rule === null || d.rule === undefined
      ? el('p', { class: 'by' }, 'No rule matched: the ', el('button', { type: 'button', class: 'link', onclick: () => goToPointer('/default') }, 'default'), ' decided.')
      : el('p', { class: 'by' }, 'Decided by rule ', el('strong', {}, `${d.rule_index}`), ' ', el('button', { type: 'button', class: 'link', title: 'Show the rule in the editor', onclick: () => goToPointer(`/rules/${d.rule_index}`) }, `“${d.rule}”`), '.');
  if (d.action === 'decline') {
    box.className = 'decision declined';
    setKids(box, 
      el('div', { class: 'verdict' }, el('span', { class: 'badge bad' }, 'Decline'), el('code', { class: 'decline-code' }, d.decline?.code ?? ''), d.decline?.message ? el('span', { class: 'muted' }, ` ${d.decline.message}`) : null),
      who,
    );
  } else {
    box.className = 'decision routed';
    setKids(box, 
      el('div', { class: 'verdict' }, el('span', { class: 'badge good' }, 'Route'), renderChips(d.processors ?? [])),
      who,
      split ? el('p', { class: 'muted split' }, `Split picked ${split.picked}: bucket ${split.bucket} of ${split.total_weight}, from routing key ${payment.routing_key ? `“${payment.routing_key}”` : '(random: no key given)'}.`) : null,
      byRate ? renderAuthRate(byRate, payment) : null,
    );
  }
  // The trace, in words.
  const outcome = d.action === 'decline' ? `decline, ${d.decline?.code ?? ''}` : (d.processors ?? []).join(' → ');
  const entries = (d.trace ?? []).map((t) => {
    const e = { raw: t, ...describeTraceEntry(t, payment.currency) };
    if (t.matched) e.detail = t.default ? `no rule matched; default decides: ${outcome}` : `matched, decides: ${outcome}`;
    return e;
  });
  setKids(trace, 
    ...entries.map((e) =>
      el(
        'li',
        { class: `t ${e.status}`, dataset: { status: e.status, rule: e.title } },
        el('button', { type: 'button', class: 't-main', title: 'Show in the editor', onclick: () => goToPointer(e.path) },
          el('span', { class: 't-icon', 'aria-label': e.status }, e.status === 'matched' ? '✓' : e.status === 'disabled' ? '–' : '✕'),
          el('span', { class: 't-name' }, e.raw.default ? 'default' : el('span', {}, el('span', { class: 'idx' }, String(e.raw.rule_index)), e.title)),
          el('span', { class: 't-detail' }, e.status === 'failed' ? el('span', {}, el('span', { class: 'cond' }, e.detail), e.actual ? el('span', { class: 'actual' }, ` — ${e.actual}`) : null) : e.detail),
        ),
      ),
    ),
  );
  const rules = state.index?.value?.rules;
  const looked = (d.trace ?? []).filter((t) => !t.default).length;
  if (Array.isArray(rules) && d.rule_index !== null && d.rule_index !== undefined && rules.length > looked) {
    const rest = rules.length - looked;
    trace.append(el('li', { class: 't skipped' }, el('span', { class: 'muted' }, `${rest} later rule${rest > 1 ? 's' : ''} not looked at`)));
  }
}

/** How an auth_rate picked: the choice, the reason, and every candidate's rate. */
function renderAuthRate(a, payment) {
  const badge = { best_rate: 'good', explored: 'warn', min_sample: 'idle' }[a.reason] ?? 'idle';
  const reason = { best_rate: 'best rate', explored: 'explored', min_sample: 'below minimum sample' }[a.reason] ?? a.reason;
  const keyNote = a.reason === 'explored' || a.reason === 'best_rate'
    ? ` The roll comes from the routing key ${payment.routing_key ? `“${payment.routing_key}”` : '(random: no key given)'}.`
    : '';
  return el(
    'div',
    { class: 'auth-rate', id: 'auth-rate', dataset: { picked: a.picked, reason: a.reason, explored: String(a.explored) } },
    el('p', { class: 'headline' }, el('span', { class: `badge ${badge}` }, reason), a.headline),
    el('p', { class: 'muted detail' }, a.detail, keyNote),
    el('div', { class: 'auth-rate-wrap' }, el(
      'table',
      { class: 'auth-rate-table' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Processor'), el('th', {}, 'Rate from'), el('th', { class: 'num' }, 'Attempts'), el('th', { class: 'num' }, 'Authorized'), el('th', { class: 'num' }, 'Rate'))),
      el('tbody', {}, a.rows.map((r) => el(
        'tr',
        { class: r.picked ? 'picked' : null, dataset: { processor: r.processor, group: r.group ?? '', rate: r.rate === null ? '' : String(r.rate) } },
        el('td', {}, r.processor, r.picked ? el('span', { class: 'muted' }, ' · picked') : null, r.best && !r.picked ? el('span', { class: 'muted' }, ' · best rate') : null),
        el('td', {}, r.groupText),
        el('td', { class: 'num' }, fmt(r.attempts)),
        el('td', { class: 'num' }, fmt(r.authorized)),
        el('td', { class: 'num' }, r.rateText),
      ))),
    )),
  );
}

form.addEventListener('input', runPreview);
form.addEventListener('change', runPreview);

// ---------------------------------------------------------------------------
// Charts (chart.js from www/vendor; tables carry the same numbers)

const PALETTE = ['#7c3aed', '#db2777', '#0891b2', '#65a30d', '#b45309', '#4f46e5', '#be123c', '#0d9488', '#ca8a04', '#9333ea'];
const DECLINED_COLOR = '#94a3b8';
const DEFAULT_COLOR = '#64748b';
// A processor keeps its colour in every chart and table, run after run.
const PINNED = { stripe: '#635bff', adyen_eu: '#0f766e', adyen: '#0f766e', checkout: '#d97706', braintree: '#2563eb' };
function colorFor(name) {
  if (name === 'declined') return DECLINED_COLOR;
  if (PINNED[name]) return PINNED[name];
  let h = 0;
  for (let k = 0; k < name.length; k++) h = (h * 31 + name.charCodeAt(k)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

const charts = {};
function drawChart(id, config) {
  if (!window.Chart) return false;
  const existing = charts[id];
  if (existing && existing.config.type === config.type) {
    existing.data = config.data;
    existing.options = config.options;
    existing.update('none');
    return true;
  }
  existing?.destroy();
  charts[id] = new window.Chart($(id), config);
  return true;
}

const chartFont = { family: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', size: 12 };
function baseOptions(extra = {}) {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { display: false }, tooltip: { enabled: true } },
    ...extra,
  };
}

// ---------------------------------------------------------------------------
// Traffic

let sampleCache = null; // parsed once per page load
async function loadSample() {
  if (!sampleCache) {
    $('traffic-info').textContent = 'Loading the sample…';
    const res = await fetch('sample-payments.json');
    if (!res.ok) throw new Error(`could not load sample-payments.json (HTTP ${res.status})`);
    sampleCache = parseTraffic(await res.text(), 'sample-payments.json');
  }
  setTraffic('sample-payments.json', sampleCache);
}

function setTraffic(name, payments) {
  state.traffic = { name, payments };
  const msg = `${name} · ${fmt(payments.length)} payments`;
  $('traffic-info').textContent = msg;
  $('compare-traffic-info').textContent = `Traffic: ${msg}`;
}

async function readFileText(input) {
  const file = input.files?.[0];
  input.value = '';
  if (!file) return null;
  return { name: file.name, text: await file.text() };
}

function issueText(e) {
  const issues = e && Array.isArray(e.issues) ? e.issues : [];
  if (!issues.length) return String(e?.message ?? e);
  const shown = issues.slice(0, 5).map((i) => {
    const m = /^\/(\d+)(\/.*)?$/.exec(i.path ?? '');
    return m ? `payment ${Number(m[1]) + 1}${m[2] ? ` (${m[2]})` : ''}: ${i.message}` : `${i.path || '/'}: ${i.message}`;
  });
  return shown.join('\n') + (issues.length > 5 ? `\n… and ${issues.length - 5} more` : '');
}

function showError(id, message) {
  const box = $(id);
  box.textContent = message;
  box.hidden = !message;
}

// ---------------------------------------------------------------------------
// Simulation

function countsTable(table, rows, total, kind) {
  setKids(table, 
    el('thead', {}, el('tr', {}, el('th', {}, kind === 'processor' ? 'Processor' : 'Rule'), el('th', { class: 'num' }, 'Payments'), el('th', { class: 'num' }, 'Share'))),
    el(
      'tbody',
      {},
      rows.map((r) =>
        el(
          'tr',
          { dataset: { [kind]: r.key, count: String(r.count) }, class: r.count === 0 ? 'zero' : null },
          el('td', {}, el('span', { class: 'swatch', style: `background:${r.color}` }), r.label),
          el('td', { class: 'num' }, fmt(r.count)),
          el('td', { class: 'num' }, pct(r.count, total)),
        ),
      ),
    ),
  );
}

function runSimulation() {
  showError('sim-error', '');
  if (!state.traffic) return;
  if (!state.valid) {
    showError('sim-error', 'Fix the rule set’s errors to simulate traffic.');
    return;
  }
  if (ratesInvalid()) {
    showError('sim-error', 'Fix the authorization rates’ errors (under the editor) to simulate traffic with them.');
    return;
  }
  const t0 = performance.now();
  let res;
  try {
    res = draftRouter().simulate(state.traffic.payments);
  } catch (e) {
    showError('sim-error', `The traffic has payments the engine cannot route:\n${issueText(e)}`);
    $('sim-result').hidden = true;
    return;
  }
  const t1 = performance.now();
  const total = res.total;
  const proc = Object.entries(res.by_processor ?? {})
    .map(([key, count]) => ({ key, label: key, count, color: colorFor(key) }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
  if (res.declined) proc.push({ key: 'declined', label: 'declined', count: res.declined, color: DECLINED_COLOR });

  const byRule = res.by_rule ?? {};
  const ruleNames = Array.isArray(state.index?.value?.rules) ? state.index.value.rules.map((r) => r?.name) : Object.keys(byRule);
  // Rules are coloured by what they do: route (teal), split (blue), decline (red).
  const ruleList = Array.isArray(state.index?.value?.rules) ? state.index.value.rules : [];
  const actionColor = (r) => (r?.then?.decline ? '#dc2626' : r?.then?.split ? '#2563eb' : r?.then?.auth_rate ? '#7c3aed' : '#0f766e');
  const rules = ruleNames.map((name, k) => ({ key: name, label: `${k} · ${name}`, count: byRule[name] ?? 0, color: actionColor(ruleList[k]) }));
  for (const [name, count] of Object.entries(byRule)) if (!ruleNames.includes(name)) rules.push({ key: name, label: name, count, color: '#0f766e' });
  rules.push({ key: '(default)', label: 'default', count: res.default ?? 0, color: DEFAULT_COLOR });

  $('sim-result').hidden = false;
  state.simShown = true;
  const declinedShare = pct(res.declined ?? 0, total);
  setKids($('sim-stats'), 
    stat('Payments', fmt(total)),
    stat('Routed', fmt(total - (res.declined ?? 0))),
    stat('Declined by rules', `${fmt(res.declined ?? 0)}`, declinedShare),
    stat('Decided by default', fmt(res.default ?? 0), pct(res.default ?? 0, total)),
    el('div', { class: 'stat timing', id: 'sim-timing' }),
  );
  countsTable($('table-processors'), proc, total, 'processor');
  countsTable($('table-rules'), rules, total, 'rule');

  drawChart('chart-processors', {
    type: 'doughnut',
    data: { labels: proc.map((r) => r.label), datasets: [{ data: proc.map((r) => r.count), backgroundColor: proc.map((r) => r.color), borderWidth: 2, borderColor: '#fff' }] },
    options: baseOptions({ cutout: '60%' }),
  });
  // A row of at least 22 px per rule, however many: past the card's height
  // the chart scrolls (labels never overlap).
  const ruleBoxHeight = Math.max(140, 24 * rules.length + 40);
  $('chart-rules').parentElement.style.height = `${ruleBoxHeight}px`;
  drawChart('chart-rules', {
    type: 'bar',
    data: { labels: rules.map((r) => r.label), datasets: [{ data: rules.map((r) => r.count), backgroundColor: rules.map((r) => r.color), borderRadius: 4, maxBarThickness: 22 }] },
    options: baseOptions({
      indexAxis: 'y',
      scales: { x: { beginAtZero: true, ticks: { font: chartFont } }, y: { ticks: { font: chartFont, autoSkip: false, callback: shortLabel } } },
    }),
  });
  const t2 = performance.now();
  metrics.lastSimulation = { payments: total, simulateMs: t1 - t0, drawMs: t2 - t1, totalMs: t2 - t0 };
  $('sim-timing').textContent = `Simulated in ${(t1 - t0).toFixed(0)} ms, drawn in ${(t2 - t1).toFixed(0)} ms`;
  $('sim-result').dataset.total = String(total);
  $('sim-result').dataset.runs = String(Number($('sim-result').dataset.runs ?? 0) + 1);
}

function shortLabel(value) {
  const label = this.getLabelForValue(value);
  return label.length > 28 ? label.slice(0, 27) + '…' : label;
}

function stat(label, value, sub) {
  return el('div', { class: 'stat' }, el('div', { class: 'stat-value' }, value), el('div', { class: 'stat-label' }, label, sub ? el('span', { class: 'muted' }, ` · ${sub}`) : null));
}

async function ensureTraffic() {
  if (!state.traffic) await loadSample();
}

$('sample-btn').addEventListener('click', async () => {
  try {
    await loadSample();
    runSimulation();
  } catch (e) {
    showError('sim-error', String(e.message ?? e));
  }
});
$('traffic-btn').addEventListener('click', () => $('traffic-file').click());
$('traffic-file').addEventListener('change', async () => {
  const f = await readFileText($('traffic-file'));
  if (!f) return;
  try {
    setTraffic(f.name, parseTraffic(f.text, f.name));
    runSimulation();
  } catch (e) {
    showError('sim-error', String(e.message ?? e));
  }
});

// ---------------------------------------------------------------------------
// Compare: current vs draft

let baselineText = '';
let baselineTimer = 0;
/** Where "current" came from: null for a copy kept in this browser, or
 * { id, name, mode } for the mode's active set loaded from the worker
 * (`id` null when the mode has none). Only the latter is "running". */
let baselineOrigin = null;

function markCompareStale() {
  const result = $('compare-result');
  const stale = !!compareMadeFor && (compareMadeFor.draft !== state.text || compareMadeFor.baseline !== baselineText || compareMadeFor.rates !== ratesState.text);
  result.dataset.stale = String(stale);
  $('compare-stale').hidden = !stale;
}

function setBaseline(text, { persist = true, origin = null } = {}) {
  baselineText = text ?? '';
  baselineOrigin = origin;
  if (compareMadeFor) markCompareStale();
  if (persist) save(STORE.current, baselineText || null);
  $('baseline-source').value = baselineText;
  renderBaselineInfo();
}

function renderBaselineInfo() {
  const info = $('baseline-info');
  showError('baseline-error', '');
  const o = baselineOrigin;
  info.dataset.origin = o ? 'worker' : 'local';
  info.dataset.id = o?.id ?? '';
  renderCompareLede();
  if (!baselineText) {
    info.textContent = o
      ? `none: no rule set is active in ${o.mode} mode (the worker refuses ${o.mode} payments until one is activated)`
      : 'not set: make the draft current, open a file or paste one';
    $('compare-btn').disabled = true;
    return;
  }
  const r = engine.validate(baselineText, engineOptions());
  if (!r.ok) {
    info.textContent = 'invalid';
    showError('baseline-error', `The current rule set is not valid:\n${r.errors.slice(0, 4).map((i) => `${i.path || '/'}: ${i.message}`).join('\n')}`);
    $('compare-btn').disabled = true;
    return;
  }
  let name = '';
  let n = 0;
  try {
    const v = JSON.parse(baselineText);
    name = v.name ?? '';
    n = v.rules?.length ?? 0;
  } catch {
    /* validated above */
  }
  const where = o ? ` · ${o.id}, active in ${o.mode} mode (from the worker)` : ' · a copy kept in this browser';
  info.textContent = `${name ? `“${name}” · ` : ''}${n} rule${n === 1 ? '' : 's'}${where}`;
  $('compare-btn').disabled = false;
}

/** What "current" means, said plainly: running only when the worker said so. */
function renderCompareLede() {
  const o = baselineOrigin;
  const lede = $('compare-lede');
  if (o) {
    setKids(lede, 'See what the draft would change. ', el('strong', {}, 'Current'), ` is the rule set active in ${o.mode} mode, loaded from the worker; the `, el('strong', {}, 'draft'), ' is the editor.');
  } else if (session.mode) {
    setKids(lede, 'See what the draft would change. ', el('strong', {}, 'Current'), ' is a rule set kept in this browser, not the one the worker runs (“Use the active set” loads that); the ', el('strong', {}, 'draft'), ' is the editor.');
  } else {
    setKids(lede, 'See what the draft would change. ', el('strong', {}, 'Current'), ' is a rule set kept in this browser to compare with (sign in to load the one the worker runs); the ', el('strong', {}, 'draft'), ' is the editor.');
  }
}

/**
 * Every payment routed by two routers (the current rule set and the one
 * after the change): how many change processor (or decline), the flows
 * from → to, per outcome before and after. Throws the engine's error for a
 * payment it cannot route. Used by the Compare tab and before an
 * activation.
 */
function routeBoth(current, next, payments) {
  const t0 = performance.now();
  const flows = new Map();
  const before = new Map();
  const after = new Map();
  let changed = 0;
  let ruleChanged = 0;
  for (let k = 0; k < payments.length; k++) {
    const a = current.route(payments[k]);
    const b = next.route(payments[k]);
    const oa = outcomeOf(a);
    const ob = outcomeOf(b);
    before.set(oa, (before.get(oa) ?? 0) + 1);
    after.set(ob, (after.get(ob) ?? 0) + 1);
    if (oa !== ob) {
      changed++;
      const key = `${oa}\u0000${ob}`;
      flows.set(key, (flows.get(key) ?? 0) + 1);
    }
    if ((a.rule ?? null) !== (b.rule ?? null)) ruleChanged++;
  }
  const rows = [...flows.entries()].map(([k, count]) => {
    const [from, to] = k.split('\u0000');
    return { from, to, count };
  }).sort((x, y) => y.count - x.count || x.from.localeCompare(y.from) || x.to.localeCompare(y.to));
  const names = [...new Set([...before.keys(), ...after.keys()])].sort((x, y) => (x === 'declined') - (y === 'declined') || (after.get(y) ?? 0) - (after.get(x) ?? 0) || x.localeCompare(y));
  return { total: payments.length, changed, ruleChanged, before, after, rows, names, ms: performance.now() - t0 };
}

function compareStats(r) {
  return [
    stat('Change processor', fmt(r.changed), `${pct(r.changed, r.total)} of ${fmt(r.total)}`),
    stat('Stay where they are', fmt(r.total - r.changed)),
    stat('Decided by another rule', fmt(r.ruleChanged)),
    el('div', { class: 'stat timing' }, `Routed twice in ${r.ms.toFixed(0)} ms`),
  ];
}

function renderProcessorTable(table, r, [labelA, labelB] = ['Current', 'Draft']) {
  setKids(
    table,
    el('thead', {}, el('tr', {}, el('th', {}, 'Processor'), el('th', { class: 'num' }, labelA), el('th', { class: 'num' }, labelB), el('th', { class: 'num' }, 'Change'))),
    el(
      'tbody',
      {},
      r.names.map((n) => {
        const a = r.before.get(n) ?? 0;
        const b = r.after.get(n) ?? 0;
        const delta = b - a;
        return el(
          'tr',
          { dataset: { processor: n, current: String(a), draft: String(b) } },
          el('td', {}, el('span', { class: 'swatch', style: `background:${colorFor(n)}` }), n),
          el('td', { class: 'num' }, fmt(a)),
          el('td', { class: 'num' }, fmt(b)),
          el('td', { class: `num delta ${delta > 0 ? 'up' : delta < 0 ? 'down' : ''}` }, delta === 0 ? '—' : `${delta > 0 ? '▲ +' : '▼ −'}${fmt(Math.abs(delta))}`),
        );
      }),
    ),
  );
}

function renderFlows(table, r, emptyText, { bars = true } = {}) {
  const max = r.rows[0]?.count ?? 1;
  if (!r.rows.length) {
    setKids(table, el('tbody', {}, el('tr', {}, el('td', { class: 'muted' }, emptyText))));
    return;
  }
  setKids(table,
    el('thead', {}, el('tr', {}, el('th', {}, 'From'), el('th', {}, ''), el('th', {}, 'To'), el('th', { class: 'num' }, 'Payments'), el('th', { class: 'num' }, 'Share'), bars ? el('th', { class: 'barcol' }, '') : null)),
    el(
      'tbody',
      {},
      r.rows.map((row) =>
        el(
          'tr',
          { dataset: { from: row.from, to: row.to, count: String(row.count) } },
          el('td', {}, el('span', { class: 'swatch', style: `background:${colorFor(row.from)}` }), row.from),
          el('td', { class: 'arrow', 'aria-label': 'to' }, '→'),
          el('td', {}, el('span', { class: 'swatch', style: `background:${colorFor(row.to)}` }), row.to),
          el('td', { class: 'num' }, fmt(row.count)),
          el('td', { class: 'num' }, pct(row.count, r.total)),
          bars ? el('td', { class: 'barcol' }, el('span', { class: 'bar', style: `width:${Math.max(2, (100 * row.count) / max)}%;background:${colorFor(row.to)}` })) : null,
        ),
      ),
    ),
  );
}

function runCompare() {
  showError('compare-error', '');
  if (!state.valid) {
    showError('compare-error', 'Fix the draft’s errors to compare it.');
    return;
  }
  if (ratesInvalid()) {
    showError('compare-error', 'Fix the authorization rates’ errors (under the editor) to compare with them.');
    return;
  }
  let current;
  try {
    // Both sets decide with the same rates.
    current = new engine.Router(baselineText, { ...engineOptions(), ...ratesOption() });
  } catch (e) {
    showError('compare-error', `The current rule set is not valid: ${e.message}`);
    return;
  }
  let r;
  try {
    r = routeBoth(current, draftRouter(), state.traffic.payments);
  } catch (e) {
    showError('compare-error', `The traffic has payments the engine cannot route:\n${issueText(e)}`);
    return;
  } finally {
    current.free();
  }
  metrics.lastCompare = { payments: r.total, ms: r.ms };
  compareMadeFor = { draft: state.text, baseline: baselineText, rates: ratesState.text };
  markCompareStale();
  $('compare-result').hidden = false;
  $('compare-result').dataset.changed = String(r.changed);
  $('compare-result').dataset.total = String(r.total);
  setKids($('compare-stats'), ...compareStats(r));

  const names = r.names;
  names.forEach((n) => colorFor(n));
  drawChart('chart-compare', {
    type: 'bar',
    data: {
      labels: names,
      datasets: [
        { label: 'Current', data: names.map((n) => r.before.get(n) ?? 0), backgroundColor: '#cbd5e1', borderRadius: 4, maxBarThickness: 34 },
        { label: 'Draft', data: names.map((n) => r.after.get(n) ?? 0), backgroundColor: names.map(colorFor), borderRadius: 4, maxBarThickness: 34 },
      ],
    },
    options: baseOptions({ plugins: { legend: { display: true, position: 'top', labels: { font: chartFont, boxWidth: 12 } } }, scales: { y: { beginAtZero: true, ticks: { font: chartFont } }, x: { ticks: { font: chartFont } } } }),
  });
  renderProcessorTable($('compare-processors'), r);
  renderFlows($('compare-flows'), r, 'No payment changes processor. The draft routes this traffic exactly like the current rule set.');
}

$('compare-btn').addEventListener('click', async () => {
  const btn = $('compare-btn');
  try {
    btn.disabled = true;
    btn.textContent = 'Comparing…';
    await ensureTraffic();
    await new Promise((ok) => requestAnimationFrame(() => setTimeout(ok, 0))); // let the label paint
    runCompare();
  } catch (e) {
    showError('compare-error', String(e.message ?? e));
  } finally {
    btn.textContent = 'Compare on the loaded traffic';
    btn.disabled = !baselineText;
  }
});
$('baseline-from-draft').addEventListener('click', () => {
  if (!state.valid) {
    toast('The draft has errors: fix them first', 'bad');
    return;
  }
  setBaseline(state.text);
  toast('The draft is now the current rule set');
});
$('baseline-open').addEventListener('click', () => $('baseline-file').click());
$('baseline-file').addEventListener('change', async () => {
  const f = await readFileText($('baseline-file'));
  if (f) setBaseline(f.text);
});
$('baseline-edit-btn').addEventListener('click', () => {
  const ta = $('baseline-source');
  ta.hidden = !ta.hidden;
  $('baseline-edit-btn').setAttribute('aria-expanded', String(!ta.hidden));
  if (!ta.hidden) ta.focus();
});
$('baseline-source').addEventListener('input', () => {
  clearTimeout(baselineTimer);
  baselineTimer = setTimeout(() => setBaseline($('baseline-source').value), 200);
});

// ---------------------------------------------------------------------------
// Field catalogue

function sampleValue(f) {
  if (f.name === 'currency') return 'eur';
  if (/country/.test(f.name)) return 'FR';
  if (f.name === 'card.bin') return '424242';
  if (f.name === 'amount' || f.type === 'integer') return 10000;
  if (f.type === 'boolean') return true;
  if (Array.isArray(f.values) && f.values.length) return f.values[0];
  return '';
}

function insertCondition(f) {
  const op = (f.operators ?? ['eq']).includes('eq') ? 'eq' : f.operators?.[0] ?? 'eq';
  let name = f.name;
  if (name.endsWith('*') || name.includes('KEY')) name = name.replace(/\*|KEY/, 'channel');
  const v = op === 'exists' ? true : sampleValue(f);
  const snippet = `{ "field": ${JSON.stringify(name)}, ${JSON.stringify(op)}: ${JSON.stringify(v)} }`;
  // In place of a selected condition, or at the cursor; only where the
  // JSON stays valid (www/lib/insert.js).
  const caret = source.selectionEnd;
  const place = conditionInsertion(source.value, source.selectionStart, caret, snippet);
  source.focus();
  if (!place) {
    source.setSelectionRange(caret, caret);
    toast('Put the cursor inside an "all" or "any" list, or right after "if":, or select a condition, then insert');
    return;
  }
  source.setSelectionRange(place.at, place.end);
  if (!document.execCommand || !document.execCommand('insertText', false, place.insert)) {
    source.setRangeText(place.insert, place.at, place.end, 'end');
    onDraftInput();
  }
  toast(`Inserted a ${name} condition`);
}

// Long value lists (every ISO 4217 currency) show a few, the rest on demand.
function renderValues(values) {
  if (!Array.isArray(values) || !values.length) return el('span', { class: 'muted' }, '—');
  const chip = (v) => el('code', { class: 'val' }, String(v));
  if (values.length <= 12) return values.map(chip);
  const more = el('button', { type: 'button', class: 'link more' }, `+${values.length - 10} more`);
  const wrap = el('div', {}, values.slice(0, 10).map(chip), more);
  more.addEventListener('click', () => {
    more.remove();
    wrap.append(...values.slice(10).map(chip));
  });
  return wrap;
}

function renderCatalogue(list) {
  const table = $('catalogue');
  setKids(table, 
    el('thead', {}, el('tr', {}, el('th', {}, 'Field'), el('th', {}, 'Type'), el('th', {}, 'Operators'), el('th', {}, 'Values'))),
    el(
      'tbody',
      {},
      list.map((f) =>
        el(
          'tr',
          { dataset: { field: f.name } },
          el('td', {}, el('button', { type: 'button', class: 'field-btn', title: `Insert a ${f.name} condition at the cursor`, onclick: () => insertCondition(f) }, f.name), f.description ? el('div', { class: 'desc' }, f.description) : null),
          el('td', { class: 'muted' }, f.type),
          el('td', {}, (f.operators ?? []).map((o) => el('code', { class: 'op' }, o))),
          el('td', { class: 'values' }, renderValues(f.values)),
        ),
      ),
    ),
  );
}

function fillSelect(select, values) {
  for (const v of values ?? []) select.append(el('option', { value: v }, v));
}

// ---------------------------------------------------------------------------
// Tabs (arrow keys move between them, as in the ARIA tabs pattern)

const tabs = [...document.querySelectorAll('[role="tab"]')];
function selectTab(tab, focus = true) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
  if (focus) tab.focus();
  // Charts measure their box: redraw when their pane becomes visible.
  for (const c of Object.values(charts)) c.resize();
}
for (const t of tabs) {
  t.addEventListener('click', () => selectTab(t));
  t.addEventListener('keydown', (e) => {
    const k = tabs.indexOf(t);
    let next = null;
    if (e.key === 'ArrowRight') next = tabs[(k + 1) % tabs.length];
    else if (e.key === 'ArrowLeft') next = tabs[(k - 1 + tabs.length) % tabs.length];
    else if (e.key === 'Home') next = tabs[0];
    else if (e.key === 'End') next = tabs[tabs.length - 1];
    if (next) {
      e.preventDefault();
      selectTab(next);
    }
  });
}

// ---------------------------------------------------------------------------
// Sharing: copy, download, open

function ruleSetFileName() {
  const name = state.index?.ok ? state.index.value?.name : null;
  const slug = typeof name === 'string' ? name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') : '';
  return `${slug || 'rule-set'}.json`;
}

async function copyJson() {
  try {
    await navigator.clipboard.writeText(state.text);
  } catch {
    const ta = el('textarea', { style: 'position:fixed;opacity:0' });
    ta.value = state.text;
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  toast('Rule set JSON copied');
}

function downloadJson() {
  const blob = new Blob([state.text.endsWith('\n') ? state.text : state.text + '\n'], { type: 'application/json' });
  const a = el('a', { href: URL.createObjectURL(blob), download: ruleSetFileName() });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  toast(`Downloaded ${ruleSetFileName()}`);
}

$('copy-btn').addEventListener('click', copyJson);
$('download-btn').addEventListener('click', downloadJson);
$('format-btn').addEventListener('click', formatDraft);
$('open-btn').addEventListener('click', () => $('open-file').click());
$('open-file').addEventListener('change', async () => {
  const f = await readFileText($('open-file'));
  if (f) {
    setDraft(f.text);
    toast(`Opened ${f.name}`);
  }
});
/** The examples offered: as written, or, signed in, moved onto the
 * worker's processors (those that cannot be are left out, and the list
 * says so). */
function offeredExamples() {
  return session.examples ? session.examples.offered : EXAMPLES;
}
function fillExamples() {
  const select = $('example-select');
  setKids(select, el('option', { value: '' }, 'Load example…'));
  for (const ex of offeredExamples()) {
    const moved = ex.mapping?.length ? ` Processors: ${describeMapping(ex.mapping)}.` : '';
    select.append(el('option', { value: ex.id, title: ex.blurb + moved }, ex.title));
  }
  const hidden = session.examples?.hidden ?? [];
  if (hidden.length) {
    const why = hidden.map((h) => `“${h.title}”: ${h.reason}`).join('; ');
    select.append(el('option', { value: '', disabled: true, title: why, dataset: { hidden: String(hidden.length) } },
      `${hidden.length} example${hidden.length > 1 ? 's' : ''} hidden: more processors than ${session.mode} mode has`));
  }
}
$('example-select').addEventListener('change', (e) => {
  const ex = offeredExamples().find((x) => x.id === e.target.value);
  e.target.value = '';
  if (!ex) return;
  setDraft(JSON.stringify(ex.ruleSet, null, 2) + '\n');
  const moved = ex.mapping?.length ? ` on ${session.mode} mode's processors (${describeMapping(ex.mapping)})` : '';
  toast(`Loaded “${ex.title}”${moved} (Ctrl+Z undoes)`);
});

document.addEventListener('keydown', (e) => {
  const mod = e.ctrlKey || e.metaKey;
  if (mod && !e.shiftKey && e.key.toLowerCase() === 's') {
    e.preventDefault();
    downloadJson();
  } else if (mod && e.shiftKey && e.key.toLowerCase() === 'c') {
    e.preventDefault();
    copyJson();
  } else if (e.altKey && e.shiftKey && e.key.toLowerCase() === 'f') {
    e.preventDefault();
    formatDraft();
  }
});

$('known-processors').addEventListener('input', () => {
  const list = knownProcessors();
  save(STORE.processors, list.length ? list.join(', ') : null);
  $('known-summary').textContent = list.length ? `(${list.length})` : '(any)';
  if (state.router) state.router.free();
  state.router = null;
  onDraftInput();
  renderBaselineInfo();
});

// ---------------------------------------------------------------------------
// The rule lifecycle, signed in with a mode's secret key: the worker's
// processors are the known ones, its active set is "current", and the
// Versions tab lists the stored sets to load, activate, roll back to and
// promote. The key is held by the client of lib/api.js only: never stored,
// never in a URL, never logged; signing out (or leaving) forgets it.

/** Processors changed (signed in or out): the draft and current set are checked again. */
function processorsChanged() {
  if (state.router) state.router.free();
  state.router = null;
  onDraftInput();
  renderBaselineInfo();
}

function renderKnown() {
  const fromWorker = !!session.processors;
  $('known-local').hidden = fromWorker;
  $('known-from-worker').hidden = !fromWorker;
  if (fromWorker) {
    $('known-from-worker').textContent = `From the worker, ${session.mode} mode: ${session.processors.join(', ')}. Any other processor is an error, as it is for the worker.`;
    $('known-summary').textContent = `(${session.processors.length}, ${session.mode} mode)`;
  } else {
    const local = knownProcessors();
    $('known-summary').textContent = local.length ? `(${local.length})` : '(any)';
  }
}

function renderSession() {
  const on = !!session.client;
  if (on) document.body.dataset.signedIn = session.mode;
  else delete document.body.dataset.signedIn;
  $('signin-btn').hidden = on;
  $('signout-btn').hidden = !on;
  const badge = $('mode-badge');
  badge.hidden = !on;
  if (on) {
    badge.dataset.mode = session.mode;
    setKids(badge, session.mode === 'live' ? 'Live mode' : 'Test mode', el('span', { class: 'key' }, session.client.shown));
    badge.title = `Signed in to the worker in ${session.mode} mode with ${session.client.shown}; the key is kept in this page's memory only`;
  }
  const save = $('save-draft-btn');
  save.hidden = !on;
  if (on) {
    save.textContent = `Save draft in ${session.mode} mode`;
    save.title = `Store the editor's rule set in the worker as a ${session.mode}-mode draft (not used until it is activated)`;
  }
    save.title = `Store the editor's rule set in the worker as a ${session.mode}-mode draft (it is not used until activated)`;
  $('versions-signed-out').hidden = on;
  $('versions-signed-in').hidden = !on;
  $('baseline-from-worker').hidden = !on;
  $('rates-load').hidden = !on;
  $('rates-help-signin').textContent = on ? `“Load current rates” reads ${session.mode} mode’s from the worker (not stored).` : 'sign in to load the worker’s current rates.';
  if (!on) {
    $('save-note').hidden = true;
    showError('save-error', '');
  }
  renderKnown();
  fillExamples();
  renderVersions();
}

/** Everything the page shows of the worker, read with `client`. */
async function fetchWorkerState(client) {
  const [procs, list] = await Promise.all([
    client.processors(),
    listRuleSetsUntil(client, { until: (r) => r.status === 'active' }),
  ]);
  let active = null;
  if (list.found) {
    const full = await client.getRuleSet(list.found.id);
    active = { id: full.id, name: full.name ?? '', text: JSON.stringify(full.ruleset, null, 2) + '\n' };
  }
  const first = list.data[0];
  return {
    mode: client.mode ?? (first && !first.livemode ? 'test' : 'live'),
    processors: (procs.data ?? []).map((p) => p.id),
    versions: list.data,
    hasMore: list.hasMore,
    active,
  };
}

function applyWorkerState(snap, { baseline = true } = {}) {
  session.mode = snap.mode;
  session.processors = snap.processors;
  session.versions = snap.versions;
  session.hasMore = snap.hasMore;
  session.active = snap.active;
  session.examples = examplesFor(EXAMPLES, snap.processors, (rs) => engine.validate(rs, { processors: snap.processors }));
  if (baseline) useActiveAsCurrent();
  renderSession();
  processorsChanged();
}

function useActiveAsCurrent() {
  const a = session.active;
  setBaseline(a?.text ?? '', { persist: false, origin: { id: a?.id ?? null, name: a?.name ?? '', mode: session.mode } });
}

async function signIn(key) {
  const client = createClient(key);
  const snap = await fetchWorkerState(client); // a wrong key: the API's 401 surfaces here
  session.client = client;
  applyWorkerState(snap);
}

function signOut() {
  Object.assign(session, { client: null, mode: null, processors: null, active: null, versions: [], hasMore: false, examples: null });
  state.workerIssues = null;
  setBaseline(load(STORE.current) ?? '', { persist: false });
  // Rates the worker gave are forgotten with the key; typed ones come back.
  if (ratesState.fromWorker) setRatesText(load(STORE.rates) ?? '');
  renderSession();
  processorsChanged();
  toast('Signed out: the key is forgotten');
  $('signin-btn').focus();
}

/** The worker's view again (after an activation, or on Reload). */
async function reloadWorker({ baseline = true } = {}) {
  const client = session.client;
  if (!client) return;
  showError('versions-error', '');
  try {
    const snap = await fetchWorkerState(client);
    if (session.client !== client) return; // signed out meanwhile
    applyWorkerState(snap, { baseline });
  } catch (e) {
    showError('versions-error', `Could not load the rule sets: ${describeError(e)}`);
  }
}

let justSaved = null;

function renderVersions() {
  const list = $('versions-list');
  if (!session.client) {
    setKids(list);
    return;
  }
  const mode = session.mode;
  $('versions-title').textContent = `Rule sets in ${mode} mode`;
  const n = session.versions.length;
  const a = session.active;
  $('versions-info').textContent = `${n} version${n === 1 ? '' : 's'}, newest first${session.hasMore ? ' (older ones below the button)' : ''}. `
    + (a ? `Active: ${a.id}${a.name ? ` “${a.name}”` : ''}.` : `None is active: ${mode} payments are refused until one is activated.`);
  list.dataset.active = a?.id ?? '';
  list.dataset.count = String(n);
  setKids(list, session.versions.map(versionItem));
  $('versions-more').hidden = !session.hasMore;
}

function versionItem(v) {
  const facts = versionFacts(v).filter(([k]) => k !== 'name' && k !== 'status');
  const kind = activationKind(v);
  const sr = (t) => el('span', { class: 'sr-only' }, ` ${t}`);
  return el(
    'li',
    { class: `version${v.id === justSaved ? ' just-saved' : ''}`, tabindex: '-1', dataset: { id: v.id, status: v.status } },
    el('div', { class: 'version-head' },
      el('span', { class: 'version-name' }, v.name || '(no name)'),
      el('span', { class: 'status-badge', dataset: { status: v.status } }, v.status),
    ),
    el('dl', { class: 'version-facts' }, facts.flatMap(([k, val]) => [el('dt', {}, k), el('dd', { dataset: { fact: k } }, val)])),
    el('div', { class: 'version-actions' },
      el('button', { type: 'button', class: 'small', dataset: { action: 'load' }, onclick: () => loadVersion(v) }, 'Load into editor', sr(v.id)),
      kind ? el('button', { type: 'button', class: 'small primary', dataset: { action: kind }, onclick: (e) => openActivation(v, e.currentTarget) },
        kind === 'rollback' ? 'Roll back to this…' : 'Activate…', sr(v.id)) : null,
      session.mode === 'test' ? el('button', { type: 'button', class: 'small', dataset: { action: 'promote' }, onclick: (e) => openPromote(v, e.currentTarget) }, 'Promote to live…', sr(v.id)) : null,
    ),
  );
}

async function loadVersion(v) {
  showError('versions-error', '');
  try {
    const full = await session.client.getRuleSet(v.id);
    setDraft(JSON.stringify(full.ruleset, null, 2) + '\n');
    toast(`Loaded ${v.id} into the editor (Ctrl+Z undoes)`);
  } catch (e) {
    showError('versions-error', `Could not load ${v.id}: ${describeError(e)}`);
  }
}

async function loadOlderVersions() {
  const client = session.client;
  const btn = $('versions-more');
  btn.disabled = true;
  try {
    const page = await client.listRuleSets({ startingAfter: session.versions.at(-1)?.id });
    if (session.client !== client) return;
    session.versions.push(...(page.data ?? []));
    session.hasMore = !!page.has_more;
    renderVersions();
  } catch (e) {
    showError('versions-error', `Could not load older versions: ${describeError(e)}`);
  } finally {
    btn.disabled = false;
  }
}

async function saveDraft() {
  const client = session.client;
  if (!client) return;
  const text = state.text;
  const btn = $('save-draft-btn');
  const label = btn.textContent;
  btn.disabled = true;
  btn.textContent = 'Saving…';
  showError('save-error', '');
  $('save-note').hidden = true;
  try {
    const rs = await client.createRuleSet(text);
    state.workerIssues = null;
    validateDraft();
    justSaved = rs.id;
    const nw = Array.isArray(rs.warnings) ? rs.warnings.length : 0;
    const note = $('save-note');
    note.dataset.id = rs.id;
    setKids(note, 'Saved ', el('code', {}, rs.id), ` as a draft in ${session.mode} mode${nw ? ` (${nw} warning${nw > 1 ? 's' : ''})` : ''}. Activate it from the Versions tab.`);
    note.hidden = false;
    await reloadWorker({ baseline: baselineOrigin !== null });
  } catch (e) {
    if (e.code === 'ruleset_invalid' && e.issues?.length) {
      // Shown at their places in the editor, as the page's own issues are.
      state.workerIssues = { text, issues: e.issues };
      if (state.text === text) validateDraft();
      const n = e.issues.length;
      showError('save-error', `Not saved: the worker refused the rule set (${e.code}), ${n} issue${n > 1 ? 's' : ''} marked in the editor.`);
    } else {
      showError('save-error', `Not saved: ${e.status ? `HTTP ${e.status}, ` : ''}${describeError(e)}`);
    }
  } finally {
    btn.disabled = false;
    btn.textContent = session.mode ? `Save draft in ${session.mode} mode` : label;
  }
}

// Dialogs: native <dialog> (Escape closes it, focus stays inside); focus
// goes back to what opened it, or where the page says.
function openDialog(dlg, opener, focusEl) {
  dlg._opener = opener ?? document.activeElement;
  if (!dlg.open) dlg.showModal();
  (focusEl ?? dlg.querySelector('button'))?.focus();
}
for (const id of ['signin-dialog', 'activate-dialog', 'promote-dialog']) {
  $(id).addEventListener('close', () => {
    const back = $(id)._opener;
    $(id)._opener = null;
    // Keys typed into a dialog never outlive it.
    for (const input of $(id).querySelectorAll('input[type="password"]')) input.value = '';
    if (back && back.isConnected && !back.closest('[hidden]')) back.focus();
  });
}

// Sign in
function openSignIn(opener) {
  showError('signin-error', '');
  $('signin-key').value = '';
  openDialog($('signin-dialog'), opener, $('signin-key'));
}
$('signin-btn').addEventListener('click', (e) => openSignIn(e.currentTarget));
$('versions-signin-btn').addEventListener('click', (e) => openSignIn(e.currentTarget));
$('signin-cancel').addEventListener('click', () => $('signin-dialog').close());
$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault(); // never a real submission: the key must not reach a URL
  const input = $('signin-key');
  const btn = $('signin-submit');
  showError('signin-error', '');
  btn.disabled = true;
  btn.textContent = 'Signing in…';
  try {
    await signIn(input.value);
    input.value = '';
    const dlg = $('signin-dialog');
    dlg._opener = null;
    dlg.close();
    toast(`Signed in: ${session.mode} mode`);
    $('mode-badge').focus();
  } catch (err) {
    // A static server (no worker behind the page) answers /v1 with no API error.
    const noWorker = err.code === 'unexpected_answer' || err.code === 'network_error'
      ? ' No worker answers on this page\'s host: signing in needs the page served by the worker (wrangler dev).' : '';
    const refused = err.status && !noWorker ? `The worker refused the key (HTTP ${err.status}): ` : '';
    showError('signin-error', `${refused}${describeError(err)}${noWorker}`);
    input.focus();
    input.select();
  } finally {
    btn.disabled = false;
    btn.textContent = 'Sign in';
  }
});
$('signout-btn').addEventListener('click', signOut);
$('save-draft-btn').addEventListener('click', saveDraft);
$('versions-reload').addEventListener('click', () => reloadWorker());
$('versions-more').addEventListener('click', loadOlderVersions);
$('baseline-from-worker').addEventListener('click', () => {
  useActiveAsCurrent();
  toast(session.active ? `Current is ${session.active.id}, active in ${session.mode} mode` : `No rule set is active in ${session.mode} mode`);
});

// Activate and roll back: the comparison first, then the confirmation.
let activation = null; // { id, kind }
async function openActivation(v, opener) {
  const dlg = $('activate-dialog');
  const kind = activationKind(v);
  const mode = session.mode;
  const client = session.client;
  activation = { id: v.id, kind };
  const verb = kind === 'rollback' ? 'Roll back' : 'Activate';
  $('activate-title').textContent = kind === 'rollback' ? `Roll back to ${v.id}` : `Activate ${v.id}`;
  $('activate-lede').textContent = `Comparing ${v.id} with the rule set active in ${mode} mode…`;
  $('activate-compare').hidden = true;
  showError('activate-error', '');
  const confirm = $('activate-confirm');
  confirm.disabled = true;
  confirm.textContent = verb;
  delete dlg.dataset.ready;
  openDialog(dlg, opener, $('activate-cancel'));
  try {
    const full = await client.getRuleSet(v.id);
    await ensureTraffic();
    if (activation?.id !== v.id || !dlg.open) return;
    const a = session.active;
    const name = v.name ? ` “${v.name}”` : '';
    if (!a) {
      $('activate-lede').textContent = `No rule set is active in ${mode} mode: ${mode} payments are refused today. Once ${v.id}${name} is active, they route by it.`;
    } else {
      // Routing does not depend on which processors are configured: both
      // sets are compiled as they are.
      // Both with the page's rates, when valid (auth_rate rules decide by them).
      const rates = ratesInvalid() ? undefined : ratesOption();
      const current = new engine.Router(a.text, rates);
      let next;
      let r;
      try {
        next = new engine.Router(JSON.stringify(full.ruleset), rates);
        r = routeBoth(current, next, state.traffic.payments);
      } finally {
        current.free();
        next?.free();
      }
      const what = kind === 'rollback' ? `back to ${v.id}${name} (inactive)` : `to ${v.id}${name} (${v.status})`;
      $('activate-lede').textContent = `${mode === 'live' ? 'Live' : 'Test'} mode moves from ${a.id}${a.name ? ` “${a.name}”` : ''} (active) ${what}. `
        + `${state.traffic.name}, ${fmt(r.total)} payments, routed by both: ${fmt(r.changed)} (${pct(r.changed, r.total)}) would change processor.`;
      setKids($('activate-stats'), ...compareStats(r));
      renderProcessorTable($('activate-processors'), r, ['Active now', kind === 'rollback' ? 'After the roll-back' : 'After activation']);
      renderFlows($('activate-flows'), r, `No payment changes processor: ${v.id} routes this traffic exactly like ${a.id}.`, { bars: false });
      $('activate-compare').hidden = false;
      $('activate-compare').dataset.changed = String(r.changed);
      $('activate-compare').dataset.total = String(r.total);
    }
  } catch (e) {
    showError('activate-error', `The comparison could not be made: ${e?.name === 'SwitchyardError' ? issueText(e) : describeError(e)}`);
  } finally {
    if (activation?.id === v.id) {
      confirm.disabled = false;
      dlg.dataset.ready = 'true';
    }
  }
}

$('activate-cancel').addEventListener('click', () => $('activate-dialog').close());
$('activate-dialog').addEventListener('close', () => {
  activation = null;
});
$('activate-confirm').addEventListener('click', async () => {
  const act = activation;
  const client = session.client;
  if (!act || !client) return;
  const btn = $('activate-confirm');
  const verb = act.kind === 'rollback' ? 'Roll back' : 'Activate';
  btn.disabled = true;
  btn.textContent = act.kind === 'rollback' ? 'Rolling back…' : 'Activating…';
  showError('activate-error', '');
  try {
    await client.activate(act.id);
    const dlg = $('activate-dialog');
    dlg._opener = null;
    dlg.close();
    toast(act.kind === 'rollback' ? `Rolled back: ${act.id} is active in ${session.mode} mode` : `${act.id} is active in ${session.mode} mode`);
    await reloadWorker();
    (document.querySelector(`#versions-list li[data-id="${act.id}"]`) ?? $('versions-title')).focus();
  } catch (e) {
    if (activation !== act) return;
    if (e.code === 'activation_incomplete') {
      showError('activate-error', `Not every copy of the active set has ${act.id} yet, so some payments may still use the previous set (${e.code}): retry the activation.\n${e.message}`);
      btn.textContent = 'Retry activation';
    } else {
      showError('activate-error', `Not activated: ${e.status ? `HTTP ${e.status}, ` : ''}${describeError(e)}`);
      btn.textContent = verb;
    }
    btn.disabled = false;
  }
});

// Promote a test set to live: asks for the live key for this one call.
let promotion = null; // { id }
function openPromote(v, opener) {
  promotion = { id: v.id };
  $('promote-title').textContent = `Promote ${v.id} to live`;
  $('promote-lede').textContent = `Copies ${v.id}${v.name ? ` “${v.name}”` : ''} from test mode into live mode as a new draft. Live payments do not use it until it is activated in live mode.`;
  $('promote-key').value = '';
  showError('promote-error', '');
  $('promote-result').hidden = true;
  $('promote-submit').disabled = false;
  openDialog($('promote-dialog'), opener, $('promote-key'));
}
$('promote-cancel').addEventListener('click', () => $('promote-dialog').close());
$('promote-dialog').addEventListener('close', () => {
  promotion = null;
});
$('promote-form').addEventListener('submit', async (e) => {
  e.preventDefault(); // never a real submission: the key must not reach a URL
  const p = promotion;
  if (!p) return;
  const input = $('promote-key');
  const btn = $('promote-submit');
  showError('promote-error', '');
  btn.disabled = true;
  try {
    const live = createClient(input.value); // this call's only: dropped when it returns
    const rs = await live.promote(p.id);
    input.value = '';
    const out = $('promote-result');
    out.dataset.id = rs.id;
    setKids(out, 'Promoted: live draft ', el('code', { id: 'promote-new-id' }, rs.id), ` (promoted from ${rs.promoted_from ?? p.id}). Sign in with the live key to activate it.`);
    out.hidden = false;
    $('promote-cancel').focus();
  } catch (err) {
    const issues = err.issues?.length ? `\n${err.issues.map((i) => `${i.path || '/'}: ${i.message}`).join('\n')}` : '';
    showError('promote-error', `Not promoted: ${err.status ? `HTTP ${err.status}, ` : ''}${describeError(err)}${issues}`);
    btn.disabled = false;
    input.focus();
  }
});

// ---------------------------------------------------------------------------
// Boot

async function boot() {
  try {
    const mod = await import('./pkg/switchyard.js');
    await mod.default();
    engine = mod;
  } catch (e) {
    const box = $('boot-error');
    box.hidden = false;
    box.textContent = `The routing engine did not load (www/pkg/switchyard.js): ${e.message ?? e}. Build it with scripts/build-pkg.sh.`;
    document.body.dataset.ready = 'error';
    return;
  }
  $('engine-version').textContent = `engine ${engine.version()}`;
  fillExamples();

  const catalogue = engine.fields();
  renderCatalogue(catalogue);
  const byName = new Map(catalogue.map((f) => [f.name, f]));
  fillSelect($('pf-brand'), byName.get('card.brand')?.values);
  fillSelect($('pf-funding'), byName.get('card.funding')?.values);
  $('pf-funding').value = 'credit';

  const known = load(STORE.processors);
  if (known) {
    $('known-processors').value = known;
    $('known-summary').textContent = `(${knownProcessors().length})`;
  }
  if (!window.Chart) {
    $('sim-error').hidden = false;
    $('sim-error').textContent = 'Charts are unavailable (www/vendor/chart.umd.min.js is missing: run scripts/vendor.sh); the tables below still show every count.';
  }

  const storedRates = load(STORE.rates);
  if (storedRates) {
    $('rates-source').value = storedRates;
    $('rates-details').open = true;
  }
  onRatesInput({ persist: false });

  const draft = load(STORE.draft);
  source.value = draft ?? JSON.stringify(DEFAULT_EXAMPLE.ruleSet, null, 2) + '\n';
  // A value set by script leaves the caret at the end, where the first
  // focus would scroll: start at the top instead.
  source.setSelectionRange(0, 0);
  state.text = source.value;
  onDraftInput();
  setBaseline(load(STORE.current) ?? '', { persist: false });
  document.fonts?.ready.then(() => {
    charWidth = 0;
    lineHeightPx = 0;
    renderMarks();
  });
  window.addEventListener('resize', () => {
    charWidth = 0;
    lineHeightPx = 0;
    renderMarks();
  });
  document.body.dataset.ready = 'true';
}

boot();
