// Turns decisions and traces (docs/engine.md) into short sentences a person
// reads at a glance. Pure functions returning plain data; app.js renders.

const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);

/** 12500 eur -> "125.00 EUR"; null when it cannot tell. */
export function formatMoney(amount, currency) {
  if (typeof amount !== 'number' || !Number.isFinite(amount)) return null;
  const cur = typeof currency === 'string' && /^[a-zA-Z]{3}$/.test(currency) ? currency.toLowerCase() : null;
  if (!cur) return null;
  const digits = ZERO_DECIMAL.has(cur) ? 0 : 2;
  const major = amount / 10 ** digits;
  return `${major.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })} ${cur.toUpperCase()}`;
}

const OP_WORDS = {
  eq: 'is',
  ne: 'is not',
  in: 'is one of',
  not_in: 'is not one of',
  lt: 'is less than',
  lte: 'is at most',
  gt: 'is more than',
  gte: 'is at least',
  between: 'is between',
  prefix: 'starts with',
};

function show(v) {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return `"${v}"`;
  return String(v);
}

function list(values, joiner = 'or') {
  const shown = values.map(show);
  if (shown.length <= 1) return shown.join('');
  if (shown.length > 6) return `${shown.slice(0, 5).join(', ')} ${joiner} ${shown.length - 5} more`;
  return `${shown.slice(0, -1).join(', ')} ${joiner} ${shown[shown.length - 1]}`;
}

function amountText(v, currency) {
  const m = formatMoney(v, currency);
  return m ? `${v} (${m})` : show(v);
}

/**
 * The condition of a failed leaf in words: { condition, actual }.
 * `currency` is the payment's, used to show amounts in major units.
 */
export function describeFailure(failed, currency) {
  if (!failed) return null;
  if (failed.op === 'not') {
    return { condition: 'a "not" condition', actual: 'its inner condition held, so the "not" failed' };
  }
  const { field, op, value, actual } = failed;
  const isAmount = field === 'amount';
  const val = (x) => (isAmount ? amountText(x, currency) : show(x));
  let condition;
  if (op === 'exists') {
    condition = `${field} ${value ? 'is present' : 'is absent'}`;
  } else if (op === 'between' && Array.isArray(value)) {
    condition = `${field} is between ${val(value[0])} and ${val(value[1])}`;
  } else if ((op === 'in' || op === 'not_in' || op === 'prefix') && Array.isArray(value)) {
    condition = `${field} ${OP_WORDS[op]} ${list(value, op === 'not_in' ? 'and' : 'or')}`;
  } else {
    condition = `${field} ${OP_WORDS[op] ?? op} ${val(value)}`;
  }
  let actualText;
  if (actual === null || actual === undefined) actualText = `the payment has no ${field}`;
  else actualText = `the payment has ${val(actual)}`;
  return { condition, actual: actualText };
}

/** One trace entry as { status, title, detail, path } for display. */
export function describeTraceEntry(entry, currency) {
  if (entry.default) {
    return { status: 'matched', title: 'default', detail: 'no rule matched, the default decided', path: '/default' };
  }
  const title = entry.rule ?? `rule ${entry.rule_index}`;
  const path = `/rules/${entry.rule_index}`;
  if (entry.disabled) return { status: 'disabled', title, detail: 'disabled, skipped', path: `${path}/enabled` };
  if (entry.matched) return { status: 'matched', title, detail: 'matched and decided', path };
  const f = describeFailure(entry.failed, currency);
  if (!f) return { status: 'failed', title, detail: 'did not match', path };
  return { status: 'failed', title, detail: f.condition, actual: f.actual, path: entry.failed.path ?? path };
}

/** The first processor of a decision, or "declined". */
export function outcomeOf(decision) {
  if (decision.action === 'decline') return 'declined';
  return decision.processors?.[0] ?? 'declined';
}

const GROUP_WORDS = {
  brand_country_funding: 'same brand, country and funding',
  brand_country: 'same brand and country',
  brand: 'same brand',
  all: 'all its payments',
};

/** A rate 0.95 as "95.0%"; null as "—". */
export function formatRate(rate) {
  return typeof rate === 'number' && Number.isFinite(rate) ? `${(100 * rate).toFixed(1)}%` : '—';
}

/** A share or roll 0.05 as "5%" (up to 4 decimals of a percent). */
function share(x) {
  return `${Number((100 * x).toFixed(4))}%`;
}

/**
 * How an auth_rate picked (the trace's `auth_rate`, docs/js.md), for
 * display: { picked, reason, headline, detail, rows }. Each row is
 * { processor, group, groupText, attempts, authorized, rate, rateText, picked, best }.
 */
export function describeAuthRate(info) {
  if (!info || typeof info !== 'object') return null;
  const candidates = Array.isArray(info.candidates) ? info.candidates : [];
  // The best rate among those judged (first listed on a tie), as the engine compares.
  let best = null;
  for (const c of candidates) {
    if (typeof c.rate === 'number' && (best === null || c.rate > best.rate)) best = c;
  }
  const rows = candidates.map((c) => ({
    processor: c.processor,
    group: c.group ?? null,
    groupText: c.group ? GROUP_WORDS[c.group] ?? c.group : `under ${info.min_sample} attempts`,
    attempts: String(c.attempts),
    authorized: String(c.authorized),
    rate: c.rate ?? null,
    rateText: formatRate(c.rate),
    picked: c.processor === info.picked,
    best: best !== null && c.processor === best.processor,
  }));
  const pickedRow = rows.find((r) => r.picked);
  const roll = typeof info.roll === 'number' ? info.roll / 1e6 : null;
  let headline;
  let detail;
  if (info.reason === 'explored') {
    headline = `Picked ${info.picked} to explore`;
    detail = `This payment's roll ${share(roll)} is below the exploration share ${share(info.explore)}, so ${info.picked} was tried instead of the best rate${best ? ` (${best.processor}, ${formatRate(best.rate)})` : ''}.`;
  } else if (info.reason === 'best_rate') {
    headline = `Picked ${info.picked}, the best rate`;
    detail = `${info.picked} has the best authorization rate, ${pickedRow?.rateText ?? '—'} (${pickedRow?.authorized}/${pickedRow?.attempts}, ${pickedRow?.groupText}), of the candidates with at least ${info.min_sample} attempts.`
      + (roll === null ? '' : ` Not explored: the roll ${share(roll)} is not below the exploration share ${share(info.explore)}.`);
  } else {
    headline = `Picked ${info.picked}, the first listed`;
    detail = `No candidate has ${info.min_sample} attempts in any group of this payment, so the first listed, ${info.picked}, decides.`;
  }
  return { picked: info.picked, reason: info.reason, explored: !!info.explored, headline, detail, rows };
}
