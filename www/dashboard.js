// Switchyard processor dashboard: authorization rate, latency, volume,
// decline reasons, recoveries and circuits per processor, from the
// worker's `GET /v1/routing/metrics` and `GET /v1/routing/processors`
// (docs/api.md), refreshed every 10 s while the tab is visible.
//
// The secret key lives only in the API client's closure (www/lib/api.js):
// sent in the Authorization header, never in a URL, never in storage or
// cookies, never logged. Signing out drops the client, and with it the
// key. Nothing else is stored either: filters reset on reload.

import { createClient, describeError } from './lib/api.js';
import { NONE, formatAmounts, formatCount, formatMs, formatRate } from './lib/format.js';
import {
  WINDOWS, FILTERS, bucketFor, bucketSeconds, metricsQuery, activeFilters, chartSeries,
  processorRows, ruleRows, totalsOf, describeCircuit,
} from './lib/metrics.js';
import { createPoller } from './lib/poller.js';

const REFRESH_MS = 10_000;

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

// ---------------------------------------------------------------------------
// State: the signed-in client (holding the key), what is shown, and a
// generation number that drops answers to older filters or an older sign-in.

let client = null;
let generation = 0;
let processorOrder = [];
let circuits = new Map();
let lastGood = null; // the time of the last answer shown
const poller = createPoller(refresh, { interval: REFRESH_MS, visible: () => document.visibilityState === 'visible' });

// For the tests: counts only, never figures or the key.
const stats = (window.__dashboard = { refreshes: 0, requests: 0 });

// ---------------------------------------------------------------------------
// Colours: a processor keeps its colour in every chart (the preview page's
// pins for named processors, then the palette in configuration order).

const PALETTE = ['#7c3aed', '#0891b2', '#db2777', '#65a30d', '#b45309', '#4f46e5', '#be123c', '#0d9488', '#ca8a04', '#9333ea'];
const PINNED = { stripe: '#635bff', adyen_eu: '#0f766e', adyen: '#0f766e', checkout: '#d97706', braintree: '#2563eb' };
function colorFor(p) {
  if (PINNED[p]) return PINNED[p];
  let k = processorOrder.indexOf(p);
  if (k < 0) {
    k = processorOrder.length;
    for (let i = 0; i < p.length; i++) k = (k * 31 + p.charCodeAt(i)) >>> 0;
  }
  return PALETTE[k % PALETTE.length];
}

// ---------------------------------------------------------------------------
// Signing in and out

function showError(id, text) {
  const box = $(id);
  box.textContent = text;
  box.hidden = !text;
}

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('key-input');
  const btn = $('signin-btn');
  showError('signin-error', '');
  let candidate;
  try {
    candidate = createClient(input.value);
  } catch (err) {
    showError('signin-error', describeError(err));
    input.focus();
    return;
  }
  btn.disabled = true;
  btn.textContent = 'Signing in…';
  try {
    // The processors list checks the key (a 401 names a wrong one) and
    // gives the circuits and the processors' order.
    const list = await candidate.processors();
    input.value = '';
    signedIn(candidate, list);
  } catch (err) {
    const what = err.status === 401 ? 'The worker refused this key' : err.status === 403 ? 'This key cannot read metrics' : 'Signing in failed';
    showError('signin-error', `${what}: ${describeError(err)}`);
    input.focus();
    input.select();
  } finally {
    btn.disabled = false;
    btn.textContent = 'Sign in';
  }
});

function signedIn(c, list) {
  client = c;
  generation++;
  const mode = c.mode;
  const badge = $('mode-badge');
  badge.dataset.mode = mode ?? 'unknown';
  badge.replaceChildren(mode === 'live' ? 'Live mode' : mode === 'test' ? 'Test mode' : 'Unknown mode', el('span', { class: 'key' }, c.shown));
  badge.hidden = false;
  $('signout-btn').hidden = false;
  $('signin').hidden = true;
  $('board').hidden = false;
  document.body.dataset.signedIn = 'true';
  document.title = `Switchyard · Processor dashboard (${mode ?? 'unknown'} mode)`;
  renderCircuits(list);
  $('board-title').focus();
  if ($('auto-refresh').checked) poller.start();
  else {
    poller.stop();
    refresh();
  }
}

function signOut(message = '') {
  poller.stop();
  client = null;
  generation++;
  lastGood = null;
  for (const c of Object.values(charts)) c.destroy();
  for (const k of Object.keys(charts)) delete charts[k];
  for (const id of ['totals', 'circuits', 'series-table', 'processor-table', 'decline-table', 'volume-table', 'rule-table']) {
    const node = $(id);
    const caption = node.querySelector('caption');
    node.replaceChildren(...(caption ? [caption] : []));
  }
  circuits = new Map();
  processorOrder = [];
  $('updated').textContent = 'Not loaded yet';
  showError('board-error', '');
  markInvalid(null);
  $('mode-badge').hidden = true;
  $('mode-badge').replaceChildren();
  $('signout-btn').hidden = true;
  $('board').hidden = true;
  $('signin').hidden = false;
  document.body.dataset.signedIn = 'false';
  delete document.body.dataset.loaded;
  document.title = 'Switchyard · Processor dashboard';
  showError('signin-error', message);
  $('key-input').focus();
}

$('signout-btn').addEventListener('click', () => signOut());

// ---------------------------------------------------------------------------
// Filters

for (const w of WINDOWS) $('f-window').append(el('option', { value: String(w.seconds) }, w.label));

const FILTER_LABELS = { brand: 'Card brand', country: 'Issuing country', funding: 'Funding', currency: 'Currency', rule: 'Rule', window: 'Window', bucket: 'Window' };
const controlFor = (param) => (param === 'window' || param === 'bucket' ? $('f-window') : document.querySelector(`[data-filter="${param}"]`));

function currentFilters() {
  const out = {};
  for (const name of FILTERS) out[name] = document.querySelector(`[data-filter="${name}"]`)?.value ?? '';
  return activeFilters(out);
}

// The filters and window of the last request asked for: a text filter's
// Enter fires both the form's submit and the input's change, one refresh.
let asked = '';
const askedKey = () => metricsQuery({ window: Number($('f-window').value), filters: currentFilters() });

function filtersChanged() {
  const key = askedKey();
  if (key === asked) return;
  asked = key;
  generation++;
  markInvalid(null);
  poller.now();
}

$('filters').addEventListener('submit', (e) => {
  e.preventDefault();
  filtersChanged();
});
for (const id of ['f-window', 'f-brand', 'f-funding']) $(id).addEventListener('change', filtersChanged);
// Text filters apply on Enter (the form's submit) or when they lose focus changed.
for (const id of ['f-country', 'f-currency', 'f-rule']) $(id).addEventListener('change', filtersChanged);
$('clear-btn').addEventListener('click', () => {
  for (const name of FILTERS) document.querySelector(`[data-filter="${name}"]`).value = '';
  filtersChanged();
});
$('refresh-btn').addEventListener('click', () => poller.now());
$('auto-refresh').addEventListener('change', (e) => {
  if (!client) return;
  if (e.target.checked) poller.start();
  else poller.stop();
});
$('latency-q').addEventListener('change', () => {
  if (lastSeries) drawLatency(lastSeries);
});
document.addEventListener('visibilitychange', () => poller.visibilityChanged());

function markInvalid(param) {
  for (const node of document.querySelectorAll('#filters [aria-invalid]')) {
    node.removeAttribute('aria-invalid');
    node.removeAttribute('aria-errormessage');
  }
  const control = param ? controlFor(param) : null;
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-errormessage', 'board-error');
  }
}

// ---------------------------------------------------------------------------
// Refreshing

async function refresh() {
  if (!client) return;
  const c = client;
  const gen = generation;
  const window_ = Number($('f-window').value);
  const bucket = bucketFor(window_);
  const filters = currentFilters();
  asked = askedKey();
  const board = $('board');
  board.setAttribute('aria-busy', 'true');
  stats.requests += 3;
  try {
    const [series, byRule, procs] = await Promise.all([
      c.request('GET', `/v1/routing/metrics?${metricsQuery({ window: window_, bucket, groupBy: ['processor'], filters })}`),
      // With the same bucket, so that it covers the same minutes (a query
      // with a bucket starts at its bucket's start; one without, at the minute).
      c.request('GET', `/v1/routing/metrics?${metricsQuery({ window: window_, bucket, groupBy: ['rule'], filters })}`),
      c.processors(),
    ]);
    if (gen !== generation || c !== client) return; // for older filters, or signed out since
    render({ series, byRule, procs, filters, window_ });
    lastGood = new Date();
    showUpdated();
    showError('board-error', '');
    markInvalid(null);
    stats.refreshes++;
    document.body.dataset.loaded = String(stats.refreshes);
  } catch (err) {
    if (gen !== generation || c !== client) return;
    if (err.status === 401) {
      signOut(`Signed out: the worker no longer accepts this key: ${describeError(err)}`);
      return;
    }
    showQueryError(err);
  } finally {
    board.removeAttribute('aria-busy');
  }
}

function showQueryError(err) {
  const status = err.status ? ` (HTTP ${err.status})` : '';
  const lines = [];
  if (err.status >= 400 && err.status < 500) lines.push(`The worker refused the query${status}: ${describeError(err)}`);
  else lines.push(`The worker could not answer${status}: ${describeError(err)}`);
  if (err.param && controlFor(err.param)) lines.push(`Check the “${FILTER_LABELS[err.param] ?? err.param}” filter.`);
  if (lastGood) lines.push(`The figures below are from ${timeText(lastGood)}.`);
  showError('board-error', lines.join('\n'));
  markInvalid(err.param ?? null);
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const timeText = (d) => clock.format(d);

function showUpdated() {
  const t = el('time', { datetime: lastGood.toISOString() }, timeText(lastGood));
  $('updated').replaceChildren('Updated ', t);
}

// ---------------------------------------------------------------------------
// Rendering

const num = (text, attrs = {}) => el('td', { class: 'num', ...attrs }, text);
const amountsCell = (amounts, k) => {
  const list = formatAmounts(amounts);
  return el('td', { class: 'num amounts', dataset: { k } }, list.length ? list.flatMap((a, i) => (i ? [el('br'), a] : [a])) : NONE);
};

function render({ series, byRule, procs, filters, window_ }) {
  renderCircuits(procs);
  const bucket = series.bucket;
  const windowLabel = WINDOWS.find((w) => w.seconds === window_)?.label ?? `${window_} s`;
  const f = Object.entries(filters).map(([k, v]) => `${k} ${v}`).join(', ');
  $('board-sub').textContent = `${windowLabel.toLowerCase()}${f ? ` · ${f}` : ''}`;
  const since = new Date(series.start * 1000);
  const sinceText = bucket === 'minute' ? since.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }) : since.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  $('bucket-note').textContent = `per ${bucket}, since ${sinceText} (${chartSeries(series, 'attempts').starts.length} points)`;
  const rows = processorRows(series);
  $('empty-note').hidden = rows.length > 0;
  renderTotals(totalsOf(series));
  renderProcessors(rows, totalsOf(series));
  renderDeclines(rows);
  renderVolume(rows);
  renderRules(ruleRows(byRule));
  renderSeriesTable(series);
  drawCharts(series);
}

function stat(label, value, sub, k) {
  return el('div', { class: 'stat', dataset: { k } }, el('div', { class: 'stat-value' }, value), el('div', { class: 'stat-label' }, label, sub ? el('span', { class: 'muted' }, ` · ${sub}`) : null));
}

function renderTotals(t) {
  const volume = formatAmounts(t.amount);
  const recovered = formatAmounts(t.recoveredAmount);
  $('totals').replaceChildren(
    stat('Payments', formatCount(t.payments), volume.length ? volume.join(', ') : null, 'payments'),
    stat('Attempts', formatCount(t.attempts), null, 'attempts'),
    stat('Authorization rate', formatRate(t.authorizationRate), `${formatCount(t.authorized)} authorized`, 'authorization_rate'),
    stat('Declines', formatCount(t.softDeclines + t.hardDeclines), `${formatCount(t.softDeclines)} soft, ${formatCount(t.hardDeclines)} hard`, 'declines'),
    stat('Errors', formatCount(t.errors), 'not processed or unknown', 'errors'),
    stat('Recovered by retry', formatCount(t.recovered), recovered.length ? recovered.join(', ') : null, 'recovered'),
    stat('Skipped', formatCount(t.skipped), 'circuit open', 'skipped'),
    stat('Latency p95', formatMs(t.latency.p95), `p50 ${formatMs(t.latency.p50)}, p99 ${formatMs(t.latency.p99)}`, 'p95'),
  );
}

function renderCircuits(list) {
  const data = Array.isArray(list?.data) ? list.data : [];
  processorOrder = data.map((p) => p.id);
  circuits = new Map(data.map((p) => [p.id, p.circuit ?? null]));
  const now = Date.now();
  $('circuits').replaceChildren(
    ...data.map((p) => {
      const c = describeCircuit(p.circuit, now);
      return el(
        'li',
        { class: 'circuit', dataset: { processor: p.id, state: c.state } },
        el('span', { class: 'swatch', style: `background:${colorFor(p.id)}` }),
        el('span', { class: 'circuit-name' }, p.id, el('span', { class: 'muted' }, ` ${p.type ?? ''}`)),
        el('span', { class: 'circuit-state', dataset: { state: c.state } }, c.label),
        el('span', { class: 'circuit-detail' }, c.detail),
      );
    }),
  );
}

const COLUMNS = [
  ['payments', 'Payments', (r) => formatCount(r.payments)],
  ['attempts', 'Attempts', (r) => formatCount(r.attempts)],
  ['authorized', 'Authorized', (r) => formatCount(r.authorized)],
  ['authorization_rate', 'Auth. rate', (r) => formatRate(r.authorizationRate)],
  ['soft_declines', 'Soft declines', (r) => formatCount(r.softDeclines)],
  ['hard_declines', 'Hard declines', (r) => formatCount(r.hardDeclines)],
  ['authentication_required', 'Auth. required', (r) => formatCount(r.authenticationRequired)],
  ['errors', 'Errors', (r) => formatCount(r.errors)],
  ['skipped', 'Skipped (circuit open)', (r) => formatCount(r.skipped)],
  ['recovered_by_retry', 'Recovered', (r) => formatCount(r.recovered)],
];

function renderProcessors(rows, totals) {
  const head = el('tr', {}, el('th', { scope: 'col' }, 'Processor'), el('th', { scope: 'col' }, 'Circuit'),
    COLUMNS.map(([, label]) => el('th', { scope: 'col', class: 'num' }, label)),
    el('th', { scope: 'col', class: 'num' }, 'Recovered amount'),
    ['p50', 'p95', 'p99'].map((q) => el('th', { scope: 'col', class: 'num' }, el('span', { class: 'sr-only' }, 'Latency '), q)));
  const line = (r, name, circuitText) =>
    el('tr', { dataset: { processor: r.processor ?? '' } },
      el('th', { scope: 'row' }, r.processor ? el('span', { class: 'swatch', style: `background:${colorFor(r.processor)}` }) : null, name),
      el('td', { dataset: { k: 'circuit' } }, circuitText),
      COLUMNS.map(([k, , f]) => num(f(r), { dataset: { k } })),
      amountsCell(r.recoveredAmount, 'recovered_amount'),
      ['p50', 'p95', 'p99'].map((q) => num(formatMs(r.latency[q]), { dataset: { k: q } })));
  $('processor-table').replaceChildren(
    el('caption', { class: 'sr-only' }, 'Figures per processor over the window'),
    el('thead', {}, head),
    el('tbody', {}, rows.length ? rows.map((r) => line(r, r.processor, circuits.has(r.processor) ? describeCircuit(circuits.get(r.processor)).label : NONE))
      : el('tr', {}, el('td', { colspan: String(COLUMNS.length + 6), class: 'muted' }, 'No attempts in this window.'))),
    rows.length ? el('tfoot', {}, line({ ...totals, processor: null }, 'All processors', '')) : null,
  );
}

function renderDeclines(rows) {
  const body = [];
  for (const r of rows) {
    const declines = r.softDeclines + r.hardDeclines;
    if (!declines) continue;
    const shown = r.declineCodes.reduce((n, c) => n + c.count, 0);
    r.declineCodes.forEach((c, i) => {
      body.push(el('tr', { dataset: { processor: r.processor, code: c.code } },
        i === 0 ? el('th', { scope: 'row', rowspan: String(r.declineCodes.length + (declines > shown ? 1 : 0)) }, r.processor) : null,
        el('td', {}, el('code', {}, c.code)),
        num(formatCount(c.count), { dataset: { k: 'count' } }),
        num(formatRate(c.count / declines))));
    });
    if (declines > shown) {
      const row = el('tr', { dataset: { processor: r.processor, code: '' } },
        shown ? null : el('th', { scope: 'row' }, r.processor),
        el('td', { class: 'muted' }, 'other codes'), num(formatCount(declines - shown)), num(formatRate((declines - shown) / declines)));
      body.push(row);
    }
  }
  $('decline-table').replaceChildren(
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Processor'), el('th', { scope: 'col' }, 'Code'), el('th', { scope: 'col', class: 'num' }, 'Declines'), el('th', { scope: 'col', class: 'num' }, 'Share'))),
    el('tbody', {}, body.length ? body : el('tr', {}, el('td', { colspan: '4', class: 'muted' }, 'No declines in this window.'))),
  );
}

function renderVolume(rows) {
  $('volume-table').replaceChildren(
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Processor'), el('th', { scope: 'col', class: 'num' }, 'Payments'), el('th', { scope: 'col', class: 'num' }, 'Amount'), el('th', { scope: 'col', class: 'num' }, 'Authorized amount'))),
    el('tbody', {}, rows.length
      ? rows.map((r) => el('tr', { dataset: { processor: r.processor } },
        el('th', { scope: 'row' }, r.processor),
        num(formatCount(r.payments), { dataset: { k: 'payments' } }),
        amountsCell(r.amount, 'amount'),
        amountsCell(r.authorizedAmount, 'authorized_amount')))
      : el('tr', {}, el('td', { colspan: '4', class: 'muted' }, 'No payments in this window.'))),
  );
}

function renderRules(rows) {
  $('rule-table').replaceChildren(
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Rule'), el('th', { scope: 'col', class: 'num' }, 'Payments'), el('th', { scope: 'col', class: 'num' }, 'Amount'),
      el('th', { scope: 'col', class: 'num' }, 'Attempts'), el('th', { scope: 'col', class: 'num' }, 'Auth. rate'), el('th', { scope: 'col', class: 'num' }, 'Recovered'))),
    el('tbody', {}, rows.length
      ? rows.map((r) => el('tr', { dataset: { rule: r.rule ?? '' } },
        el('th', { scope: 'row' }, r.rule ?? el('span', { class: 'muted' }, 'default route')),
        num(formatCount(r.payments), { dataset: { k: 'payments' } }),
        amountsCell(r.amount, 'amount'),
        num(formatCount(r.attempts), { dataset: { k: 'attempts' } }),
        num(formatRate(r.authorizationRate), { dataset: { k: 'authorization_rate' } }),
        num(formatCount(r.recovered), { dataset: { k: 'recovered_by_retry' } })))
      : el('tr', {}, el('td', { colspan: '6', class: 'muted' }, 'No payments in this window.'))),
  );
}

function bucketLabel(t, bucket) {
  const d = new Date(t * 1000);
  if (bucket === 'day') return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  if (bucket === 'hour' && bucketSeconds(bucket) * 30 < Number($('f-window').value)) {
    return d.toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
  }
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

function renderSeriesTable(answer) {
  const rate = chartSeries(answer, 'authorization_rate', processorOrder);
  const counts = chartSeries(answer, 'attempts', processorOrder);
  const q = Object.fromEntries(['p50', 'p95', 'p99'].map((k) => [k, chartSeries(answer, k, processorOrder)]));
  const body = [];
  rate.starts.forEach((t, i) => {
    counts.datasets.forEach((d, j) => {
      if (!d.data[i]) return;
      body.push(el('tr', {},
        el('td', {}, el('time', { datetime: new Date(t * 1000).toISOString() }, bucketLabel(t, answer.bucket))),
        el('th', { scope: 'row' }, d.processor),
        num(formatCount(d.data[i])),
        num(rate.datasets[j].data[i] === null ? NONE : formatRate(rate.datasets[j].data[i] / 100)),
        ['p50', 'p95', 'p99'].map((k) => num(formatMs(q[k].datasets[j].data[i]))),
      ));
    });
  });
  const caption = $('series-table').querySelector('caption');
  $('series-table').replaceChildren(
    caption,
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, `Bucket (${answer.bucket})`), el('th', { scope: 'col' }, 'Processor'), el('th', { scope: 'col', class: 'num' }, 'Attempts'),
      el('th', { scope: 'col', class: 'num' }, 'Auth. rate'), ['p50', 'p95', 'p99'].map((k) => el('th', { scope: 'col', class: 'num' }, k)))),
    el('tbody', {}, body.length ? body : el('tr', {}, el('td', { colspan: '7', class: 'muted' }, 'No attempts in this window.'))),
  );
}

// ---------------------------------------------------------------------------
// Charts (chart.js from www/vendor, as the preview page; the tables carry
// every figure)

const charts = {};
let lastSeries = null;
const chartFont = { family: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', size: 12 };

function drawChart(id, config) {
  if (!window.Chart) {
    $('chart-error').hidden = false;
    return;
  }
  const existing = charts[id];
  if (existing && existing.config.type === config.type) {
    existing.data = config.data;
    existing.options = config.options;
    existing.update('none');
    return;
  }
  existing?.destroy();
  charts[id] = new window.Chart($(id), config);
}

function options({ yMax, yTick, stacked = false } = {}) {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: 'index', intersect: false },
    plugins: {
      legend: { display: true, position: 'bottom', labels: { font: chartFont, boxWidth: 10, boxHeight: 10 } },
      tooltip: { enabled: true },
    },
    scales: {
      x: { stacked, ticks: { font: chartFont, maxRotation: 0, autoSkip: true, maxTicksLimit: window.innerWidth < 640 ? 4 : 8 }, grid: { display: false } },
      y: { stacked, beginAtZero: true, max: yMax, ticks: { font: chartFont, callback: yTick } },
    },
  };
}

function lineData(s, bucket) {
  return {
    labels: s.starts.map((t) => bucketLabel(t, bucket)),
    datasets: s.datasets.map((d) => ({
      label: d.processor, data: d.data, borderColor: colorFor(d.processor), backgroundColor: colorFor(d.processor),
      borderWidth: 2, pointRadius: 2, pointHoverRadius: 4, spanGaps: false, tension: 0,
    })),
  };
}

function drawLatency(answer) {
  const q = $('latency-q').value;
  drawChart('chart-latency', { type: 'line', data: lineData(chartSeries(answer, q, processorOrder), answer.bucket), options: options({ yTick: (v) => `${v} ms` }) });
}

function drawCharts(answer) {
  lastSeries = answer;
  drawChart('chart-rate', { type: 'line', data: lineData(chartSeries(answer, 'authorization_rate', processorOrder), answer.bucket), options: options({ yMax: 100, yTick: (v) => `${v}%` }) });
  drawLatency(answer);
  const a = chartSeries(answer, 'attempts', processorOrder);
  drawChart('chart-attempts', {
    type: 'bar',
    data: {
      labels: a.starts.map((t) => bucketLabel(t, answer.bucket)),
      datasets: a.datasets.map((d) => ({ label: d.processor, data: d.data, backgroundColor: colorFor(d.processor), borderRadius: 2, maxBarThickness: 24 })),
    },
    options: options({ stacked: true }),
  });
}

// ---------------------------------------------------------------------------

document.body.dataset.signedIn = 'false';
document.body.dataset.ready = 'true';
$('key-input').focus();
