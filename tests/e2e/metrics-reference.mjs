// What a scripted run's payments should count for in GET /v1/routing/metrics,
// computed from the payments' own answers (`routing.attempts`): the
// reference of 13-metrics.test.mjs and 14-dashboard.test.mjs, and the run's set-up they share.
// `payments`: [{ amount, currency, attempts }]; answers { processor | '*': counts }.

export function metricsReference(payments) {
  const by = {};
  const get = (k) => (by[k] ??= {
    attempts: 0, authorized: 0, soft_declines: 0, hard_declines: 0, authentication_required: 0,
    not_processed: 0, unknown: 0, skipped: 0, payments: 0, recovered_by_retry: 0,
    amount: {}, authorized_amount: {}, recovered_amount: {}, latencies: [], codes: {},
  });
  const add = (m, cur, n) => { m[cur] = (m[cur] ?? 0) + n; };
  get('*');
  for (const p of payments) {
    const madeIdx = p.attempts.map((a, i) => (a.outcome === 'skipped' ? -1 : i)).filter((i) => i >= 0);
    const first = madeIdx.length ? madeIdx[0] : 0;
    const lastMade = madeIdx.length ? madeIdx[madeIdx.length - 1] : -1;
    p.attempts.forEach((a, i) => {
      for (const c of [get(a.processor), get('*')]) {
        if (i === first) { c.payments++; add(c.amount, p.currency, p.amount); }
        if (a.outcome === 'skipped') { c.skipped++; continue; }
        c.attempts++;
        c.latencies.push(a.latency_ms);
        const code = a.decline_code ?? a.code ?? 'unspecified';
        switch (a.outcome) {
          case 'authorized': {
            c.authorized++;
            add(c.authorized_amount, p.currency, p.amount);
            const earlier = p.attempts.slice(0, i).some((e) => e.outcome !== 'skipped' && e.processor !== a.processor);
            if (i === lastMade && earlier) { c.recovered_by_retry++; add(c.recovered_amount, p.currency, p.amount); }
            break;
          }
          case 'soft_decline': c.soft_declines++; c.codes[code] = (c.codes[code] ?? 0) + 1; break;
          case 'hard_decline': c.hard_declines++; c.codes[code] = (c.codes[code] ?? 0) + 1; break;
          case 'authentication_required': c.authentication_required++; break;
          case 'not_processed': c.not_processed++; break;
          default: c.unknown++;
        }
      }
    });
  }
  return by;
}

/** The exact nearest-rank percentile. */
export function nearestRank(values, q) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length, Math.max(1, Math.ceil(q * s.length))) - 1];
}

/** The histogram's stated error: exact below 32 ms, within 1/32 above. */
export const latencyTolerance = (exact) => (exact < 32 ? 0 : exact / 32);

/**
 * Activates a rule set whose one rule, `rule`, routes the payments with
 * `metadata[run]=run` to sandbox_down (never processed; its circuit opens
 * after a few, then it is skipped), sandbox_a, sandbox_b (they answer by
 * the card). Answers the id of the set that was active before.
 */
export async function activateRunRules(api, { name, run, rule }) {
  const list = await api('GET', '/v1/routing/rulesets?limit=100');
  const previous = list.json.data.find((r) => r.status === 'active')?.id;
  const rs = await api('POST', '/v1/routing/rulesets', {
    ruleset: {
      name,
      rules: [{ name: rule, if: { field: 'metadata.run', eq: run }, then: { route: ['sandbox_down', 'sandbox_a', 'sandbox_b'] } }],
      default: { route: ['sandbox_a'] },
    },
  });
  if (rs.status !== 200) throw new Error(`rule set not stored: ${rs.text}`);
  const a = await api('POST', `/v1/routing/rulesets/${rs.json.id}/activate`);
  if (a.status !== 200) throw new Error(`rule set not activated: ${a.text}`);
  return previous;
}

/** Calls `pay(i)` for i = 0 .. count-1, `concurrency` at a time. */
export async function runConcurrently(count, concurrency, pay) {
  let next = 0;
  const worker = async () => {
    while (next < count) await pay(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
