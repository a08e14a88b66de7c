// The worker's rule-set API (docs/api.md, "Rule sets", "Processors", rates) for
// the page, signed in with a mode's secret key.
//
// The key lives in this client's closure only: it is sent in the
// Authorization header and nowhere else (never a URL, never storage, never
// the console). Forgetting the client forgets the key. Every answer is
// parsed JSON; every failure throws an ApiError carrying the API's `error`
// (`type`, `code`, `param`, `message`, `issues`) and the HTTP status.
// Pure apart from `fetch`, which the Node tests pass in.

export class ApiError extends Error {
  constructor({ status = 0, type = 'api_error', code = 'unknown', param, message, issues } = {}) {
    super(message || 'The worker answered with an error.');
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.code = code;
    if (param !== undefined && param !== null) this.param = param;
    this.issues = Array.isArray(issues) ? issues : [];
  }
}

/** 'test' or 'live' for a secret key, null for anything else. */
export function modeOfKey(key) {
  if (typeof key !== 'string') return null;
  if (key.startsWith('sk_test_')) return 'test';
  if (key.startsWith('sk_live_')) return 'live';
  return null;
}

/** `sk_test_…abcd`: enough to tell keys apart, never the key. */
export function redactKey(key) {
  if (typeof key !== 'string' || !key) return '';
  const prefix = /^(sk|pk|rk)_(test|live)_/.exec(key)?.[0] ?? '';
  const tail = key.length - prefix.length >= 8 ? key.slice(-4) : '';
  return `${prefix}…${tail}`;
}

/** An error as one sentence: the API's message, naming its parameter. */
export function describeError(e) {
  if (!e) return '';
  const msg = String(e.message ?? e);
  const param = e.param ? ` (parameter: ${e.param})` : '';
  const code = e.code && e.code !== 'unknown' ? ` [${e.code}]` : '';
  return `${msg}${param}${code}`;
}

/**
 * A client for one secret key. `base` is the worker's origin ('' in the
 * page: the worker serves it). Throws at once, without a request, only
 * for an empty key.
 */
export function createClient(key, { base = '', fetch: doFetch = globalThis.fetch.bind(globalThis) } = {}) {
  if (typeof key !== 'string' || !key.trim()) throw new ApiError({ code: 'api_key_missing', message: 'Enter a secret key.' });
  const secret = key.trim();
  const mode = modeOfKey(secret);
  const shown = redactKey(secret);

  async function request(method, path, body) {
    const headers = { authorization: `Bearer ${secret}`, accept: 'application/json' };
    let payload;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    let res;
    try {
      res = await doFetch(base + path, { method, headers, body: payload, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' });
    } catch (e) {
      throw new ApiError({ code: 'network_error', type: 'network_error', message: `The worker could not be reached (${e?.message ?? e}).` });
    }
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok && json !== undefined) return json;
    const err = json && typeof json.error === 'object' && json.error ? json.error : null;
    if (err) throw new ApiError({ status: res.status, ...err });
    throw new ApiError({
      status: res.status,
      code: 'unexpected_answer',
      message: `The worker answered HTTP ${res.status} ${res.ok ? 'without JSON' : 'without an error object'} on ${method} ${path}.`,
    });
  }

  const enc = encodeURIComponent;
  const client = {
    mode,
    shown,
    request,
    processors: () => request('GET', '/v1/routing/processors'),
    /** The mode's recent authorization rates: `{ object: 'routing_rates', rates: [...] , ...}`. */
    rates: () => request('GET', '/v1/routing/rates'),
    listRuleSets: ({ limit = 100, startingAfter } = {}) =>
      request('GET', `/v1/routing/rulesets?limit=${limit}${startingAfter ? `&starting_after=${enc(startingAfter)}` : ''}`),
    getRuleSet: (id) => request('GET', `/v1/routing/rulesets/${enc(id)}`),
    /** `text` is the editor's JSON, sent as it is (`{"ruleset": <text>}`). */
    createRuleSet: (text) => request('POST', '/v1/routing/rulesets', ruleSetBody(text)),
    activate: (id) => request('POST', `/v1/routing/rulesets/${enc(id)}/activate`),
    promote: (id) => request('POST', `/v1/routing/rulesets/${enc(id)}/promote`),
  };
  return Object.freeze(client);
}

/**
 * The body of a save: the editor's text embedded as it is when it is JSON
 * (so the worker's issue paths point into that very text); otherwise the
 * text as a string, which the worker reports as invalid JSON.
 */
export function ruleSetBody(text) {
  try {
    JSON.parse(text);
    return `{"ruleset":${text}}`;
  } catch {
    return JSON.stringify({ ruleset: text });
  }
}

/**
 * Pages of the mode's rule sets, newest first, until `until(item)` holds
 * for one of them (or every page is read, or `maxPages`). Returns
 * { data, hasMore, found }.
 */
export async function listRuleSetsUntil(client, { until = () => false, maxPages = 20, limit = 100, startingAfter } = {}) {
  const data = [];
  let after = startingAfter;
  let hasMore = true;
  let found = null;
  for (let page = 0; page < maxPages && hasMore; page++) {
    const list = await client.listRuleSets({ limit, startingAfter: after });
    const items = Array.isArray(list?.data) ? list.data : [];
    data.push(...items);
    hasMore = !!list?.has_more && items.length > 0;
    after = items.at(-1)?.id;
    found = items.find((r) => until(r)) ?? null;
    if (found) break;
  }
  return { data, hasMore, found };
}
