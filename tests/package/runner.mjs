// Runs the golden cases (tests/cases) through one loaded copy of the package
// and records what it answered, for package.test.mjs to compare with the
// cases' expectations (tests/node/cases.mjs). Pure JavaScript, no Node
// built-ins: the same file runs in Node (ESM, CommonJS, compiled TypeScript)
// and, bundled by esbuild, in Chromium.
//
// runCases(sy, cases) -> JSON text of [{ name, kind, out }], where each
// thrown value is { thrown: { name, message, issues, switchyardError } } and
// BigInts are written as Numbers (as cases.mjs compares them).

function attempt(sy, f) {
  try {
    return f();
  } catch (e) {
    return {
      thrown: {
        name: e?.name,
        message: String(e?.message ?? e),
        issues: e?.issues,
        switchyardError: e instanceof sy.SwitchyardError && e instanceof Error,
      },
    };
  }
}

function decision(sy, c) {
  const rates = 'rates' in c ? { rates: c.rates } : undefined;
  const out = {};
  out.preview = attempt(sy, () => sy.preview(c.ruleset, c.payment, rates));
  const router = attempt(sy, () => new sy.Router(c.ruleset, { ...c.options, ...rates }));
  if (router.thrown) {
    out.router = router;
    return out;
  }
  try {
    out.route = attempt(sy, () => router.route(c.payment));
    out.traced = attempt(sy, () => router.route(c.payment, { trace: true }));
    out.simulate = attempt(sy, () => router.simulate([c.payment]));
    router.setRates(null);
    out.perCall = attempt(sy, () => router.route(c.payment, rates));
  } finally {
    router.free();
  }
  return out;
}

function validation(sy, c) {
  const rs = 'ruleset_text' in c ? c.ruleset_text : c.ruleset;
  const out = { validate: attempt(sy, () => sy.validate(rs, c.options)) };
  const router = attempt(sy, () => new sy.Router(rs, c.options));
  if (router.thrown) out.router = router;
  else {
    router.free();
    out.router = { built: true };
  }
  return out;
}

function payment(sy, c) {
  const out = { preview: attempt(sy, () => sy.preview(c.ruleset, c.payment)) };
  const router = new sy.Router(c.ruleset, c.options);
  try {
    out.route = attempt(sy, () => router.route(c.payment));
  } finally {
    router.free();
  }
  return out;
}

export function runCases(sy, cases) {
  const results = cases.map(({ name, c }) => {
    const kind = 'decision' in c.expect ? 'decision' : 'payment_errors' in c.expect ? 'payment' : 'validation';
    const run = { decision, validation, payment }[kind];
    return { name, kind, out: attempt(sy, () => run(sy, c)) };
  });
  return JSON.stringify({ version: sy.version(), results }, (_, v) => (typeof v === 'bigint' ? Number(v) : v));
}
