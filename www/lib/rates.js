// Authorization rates on the page (docs/js.md, "Rates"): the text a person
// types or loads, read into the array the engine takes, with every problem
// placed at its line and column; the worker's GET /v1/routing/rates answer
// turned into that text. Pure: the engine's check is passed in.

import { indexJson, placePointer, lineCol } from './jsonloc.js';

/**
 * Reads the rates text. Empty text means no rates.
 * `check(value)` returns the engine's issues for the parsed value (paths
 * under `/rates`), [] when they are valid.
 * Returns { rates, issues }: `rates` is the parsed array (undefined when
 * empty or invalid); each issue is { path, code, message, line, col }.
 */
export function readRates(text, check) {
  if (typeof text !== 'string' || !text.trim()) return { rates: undefined, issues: [] };
  const index = indexJson(text);
  if (!index.ok) {
    const { line, col } = lineCol(text, index.error.offset);
    return { rates: undefined, issues: [{ path: '/rates', code: 'invalid_json', message: `not JSON: ${index.error.message}`, line, col }] };
  }
  const issues = (check(index.value) ?? []).map((i) => {
    const path = typeof i.path === 'string' ? i.path : '/rates';
    const inner = path.startsWith('/rates') ? path.slice('/rates'.length) : path;
    const { start } = placePointer(index.nodes, inner, i.code);
    return { path, code: i.code, message: i.message, ...lineCol(text, start) };
  });
  return { rates: issues.length ? undefined : index.value, issues };
}

/** An issue as one line: where, then what. */
export function rateIssueText(i) {
  return `${i.path} (line ${i.line}, column ${i.col}): ${i.message}`;
}

/** Rates as text: one entry a line, keys in the API's order. */
export function formatRates(rates) {
  if (!Array.isArray(rates) || !rates.length) return '[]\n';
  return `[\n${rates.map((r) => `  ${JSON.stringify(r)}`).join(',\n')}\n]\n`;
}

/**
 * The worker's answer to GET /v1/routing/rates:
 * { object: 'routing_rates', livemode, window_seconds, computed_at, rates: [...] }.
 * Returns { text, count, summary }; throws an Error for an answer without
 * a rates array.
 */
export function ratesFromAnswer(answer) {
  if (!answer || typeof answer !== 'object' || !Array.isArray(answer.rates)) {
    throw new Error('The worker’s answer has no rates (expected {"object": "routing_rates", "rates": [...]}).');
  }
  const parts = [];
  if (typeof answer.livemode === 'boolean') parts.push(answer.livemode ? 'live mode' : 'test mode');
  if (Number.isFinite(answer.window_seconds)) parts.push(`the last ${windowWords(answer.window_seconds)}`);
  if (Number.isFinite(answer.computed_at)) parts.push(`computed ${new Date(answer.computed_at * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`);
  const n = answer.rates.length;
  return {
    text: formatRates(answer.rates),
    count: n,
    summary: `${n} rate${n === 1 ? '' : 's'} from the worker${parts.length ? ` (${parts.join(', ')})` : ''}`,
  };
}

function windowWords(s) {
  if (s % 3600 === 0) return `${s / 3600} hour${s === 3600 ? '' : 's'}`;
  if (s % 60 === 0) return `${s / 60} minutes`;
  return `${s} seconds`;
}
