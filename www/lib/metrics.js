// The processor dashboard's view of `GET /v1/routing/metrics` and
// `GET /v1/routing/processors` (src/metrics/report.rs, docs/api.md): the
// windows and their bucket, the query string built from the filters, and
// the answer turned into chart series and table rows. Pure.

/** The windows offered, in seconds. */
export const WINDOWS = [
  { seconds: 3600, label: 'Last hour' },
  { seconds: 86400, label: 'Last 24 hours' },
  { seconds: 7 * 86400, label: 'Last 7 days' },
  { seconds: 30 * 86400, label: 'Last 30 days' },
];

/** The filters the page offers, in the order they are sent. */
export const FILTERS = ['brand', 'country', 'funding', 'currency', 'rule'];

// What the API allows (src/metrics/query.rs): minute rows are kept 2 days,
// hour rows 32, day rows 400; at most 1500 buckets in a series.
const KEEP_S = { minute: 2 * 86400, hour: 32 * 86400, day: 400 * 86400 };
const BUCKET_S = { minute: 60, hour: 3600, day: 86400 };
const MAX_POINTS = 1500;

/** The bucket's length in seconds. */
export const bucketSeconds = (bucket) => BUCKET_S[bucket];

/** How many buckets a series of this window has (the API adds the current, partial one). */
export function pointsFor(windowSeconds, bucket) {
  return Math.ceil(windowSeconds / BUCKET_S[bucket]) + 1;
}

/**
 * The bucket for a window: per minute up to 2 hours (at most 121 points),
 * per hour up to 7 days (at most 169: a week of days would be 8 points),
 * per day beyond. Always one the API accepts for that window.
 */
export function bucketFor(windowSeconds) {
  const w = Number(windowSeconds);
  if (!Number.isFinite(w) || w <= 0) throw new RangeError(`a window is a positive number of seconds, not ${windowSeconds}`);
  const wanted = w <= 2 * 3600 ? 'minute' : w <= 7 * 86400 ? 'hour' : 'day';
  // Guard the API's limits if the thresholds above ever change.
  for (const b of ['minute', 'hour', 'day']) {
    if (BUCKET_S[b] < BUCKET_S[wanted]) continue;
    if (w < KEEP_S[b] && pointsFor(w, b) <= MAX_POINTS) return b;
  }
  return 'day';
}

/**
 * The query string of a metrics request (no leading "?"): the window, the
 * bucket if any, `group_by[]` per dimension, then each filter that has a
 * value (trimmed; empty ones are left out), in FILTERS order.
 */
export function metricsQuery({ window = 3600, bucket = null, groupBy = [], filters = {} } = {}) {
  const parts = [`window=${encodeURIComponent(String(window))}`];
  if (bucket) parts.push(`bucket=${encodeURIComponent(bucket)}`);
  for (const d of groupBy) parts.push(`group_by[]=${encodeURIComponent(d)}`);
  for (const name of [...FILTERS, 'processor']) {
    const v = filters?.[name];
    if (v === null || v === undefined) continue;
    const s = String(v).trim();
    if (s) parts.push(`${name}=${encodeURIComponent(s)}`);
  }
  return parts.join('&');
}

/** The filters that have a value, trimmed (what the page shows as applied). */
export function activeFilters(filters = {}) {
  const out = {};
  for (const name of FILTERS) {
    const s = String(filters?.[name] ?? '').trim();
    if (s) out[name] = s;
  }
  return out;
}

/** Every bucket start (seconds) of an answer with a bucket, in order. */
export function bucketStarts(answer) {
  const step = BUCKET_S[answer?.bucket];
  if (!step) return [];
  const out = [];
  for (let t = answer.start; t < answer.end; t += step) out.push(t);
  return out;
}

/** The processor of a group (of an answer grouped by processor). */
const processorOf = (g) => g?.key?.processor ?? null;

/**
 * One chart's series from an answer grouped by processor with a bucket:
 * `{ starts, datasets: [{ processor, data }] }`, a dataset per processor
 * (by `order`, then by name), a value per bucket start, `null` where the
 * bucket has no attempt (no rate, no latency). `metric` is
 * `authorization_rate` (as a percentage, 0 to 100), `p50`, `p95`, `p99`
 * (milliseconds), or a count of the series (`attempts`, `payments`, ...).
 */
export function chartSeries(answer, metric, order = []) {
  const starts = bucketStarts(answer);
  const groups = (answer?.groups ?? []).filter((g) => processorOf(g) !== null && Array.isArray(g.series));
  groups.sort((a, b) => rank(order, processorOf(a)) - rank(order, processorOf(b)) || (processorOf(a) < processorOf(b) ? -1 : 1));
  const pick = (p) => {
    if (metric === 'authorization_rate') return p.authorization_rate === null || p.authorization_rate === undefined ? null : round(p.authorization_rate * 100, 2);
    if (metric === 'p50' || metric === 'p95' || metric === 'p99') return p.latency_ms?.[metric] ?? null;
    const v = p[metric];
    return typeof v === 'number' ? v : null;
  };
  const datasets = groups.map((g) => {
    const byStart = new Map(g.series.map((p) => [p.start, p]));
    return { processor: processorOf(g), data: starts.map((t) => (byStart.has(t) ? pick(byStart.get(t)) : null)) };
  });
  return { starts, datasets };
}

function rank(order, p) {
  const k = order.indexOf(p);
  return k < 0 ? order.length : k;
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The figures of a group or of `totals`, as the tables show them. */
function figuresOf(g) {
  return {
    payments: g.payments ?? 0,
    amount: g.amount ?? {},
    attempts: g.attempts ?? 0,
    authorized: g.authorized ?? 0,
    authorizedAmount: g.authorized_amount ?? {},
    authorizationRate: g.authorization_rate ?? null,
    softDeclines: g.soft_declines ?? 0,
    hardDeclines: g.hard_declines ?? 0,
    authenticationRequired: g.authentication_required ?? 0,
    errors: g.errors ?? 0,
    skipped: g.skipped ?? 0,
    recovered: g.recovered_by_retry ?? 0,
    recoveredAmount: g.recovered_amount ?? {},
    latency: { p50: g.latency_ms?.p50 ?? null, p95: g.latency_ms?.p95 ?? null, p99: g.latency_ms?.p99 ?? null },
    declineCodes: Array.isArray(g.decline_codes) ? g.decline_codes.map((c) => ({ code: c.code, count: c.count })) : [],
  };
}

/** The window's totals. */
export function totalsOf(answer) {
  return figuresOf(answer?.totals ?? {});
}

/**
 * A row per processor of an answer grouped by processor (those skipped
 * only included: the answer's `processors` map leaves them out), in the
 * answer's order (most attempts and skips first).
 */
export function processorRows(answer) {
  return (answer?.groups ?? [])
    .filter((g) => processorOf(g) !== null)
    .map((g) => ({ processor: processorOf(g), ...figuresOf(g) }));
}

/** A row per rule of an answer grouped by rule; `rule` is null for the rule set's default route. */
export function ruleRows(answer) {
  return (answer?.groups ?? [])
    .filter((g) => g?.key && 'rule' in g.key)
    .map((g) => ({ rule: g.key.rule ?? null, ...figuresOf(g) }));
}

/**
 * A processor's circuit in words: { state, label, detail }. `now` (ms)
 * turns an open circuit's `retry_at` into "retries in 12 s".
 */
export function describeCircuit(circuit, now = Date.now()) {
  if (!circuit || typeof circuit !== 'object') return { state: 'unknown', label: 'unknown', detail: 'its state could not be read' };
  const calls = `${circuit.calls ?? 0} calls, ${circuit.failures ?? 0} failed in the last 30 s`;
  switch (circuit.state) {
    case 'closed':
      return { state: 'closed', label: 'closed', detail: calls };
    case 'half_open':
      return { state: 'half_open', label: 'half-open', detail: `probing: one call every 5 s; ${calls}` };
    case 'open': {
      const left = typeof circuit.retry_at === 'number' ? Math.max(0, Math.ceil((circuit.retry_at - now) / 1000)) : null;
      return { state: 'open', label: 'open', detail: `left out of plans${left === null ? '' : `; probed again in ${left} s`}; ${calls}` };
    }
    default:
      return { state: 'unknown', label: String(circuit.state ?? 'unknown'), detail: calls };
  }
}
