// node server.mjs: POST /pay on http://127.0.0.1:$PORT (default 3000).
//   SWITCHYARD_URL      the worker (http://127.0.0.1:8787 with bash scripts/dev.sh)
//   SWITCHYARD_KEY      its secret key (sk_test_switchyard_sandbox on a local wrangler dev)
//   RULES_FILE          the rule set the worker has active, as JSON (default ./routing-rules.json)
// Rates for auth_rate rules are refreshed from GET /v1/routing/rates every minute.
import http from 'node:http';
import fs from 'node:fs';
import { createPaymentHandler, Router } from './handler.mjs';

const switchyardUrl = process.env.SWITCHYARD_URL ?? 'http://127.0.0.1:8787';
const secretKey = process.env.SWITCHYARD_KEY ?? 'sk_test_switchyard_sandbox';
const rules = JSON.parse(fs.readFileSync(process.env.RULES_FILE ?? new URL('./routing-rules.json', import.meta.url), 'utf8'));
const router = new Router(rules); // throws a SwitchyardError listing every problem of an invalid rule set

async function refreshRates() {
  try {
    const res = await fetch(new URL('/v1/routing/rates', switchyardUrl), {
      headers: { authorization: `Basic ${Buffer.from(`${secretKey}:`).toString('base64')}` },
    });
    if (res.ok) router.setRates((await res.json()).rates);
  } catch (e) {
    console.warn(`rates not refreshed: ${e.message}`); // the router keeps the ones it had
  }
}
await refreshRates();
setInterval(refreshRates, 60_000).unref();

const port = Number(process.env.PORT ?? 3000);
http.createServer(createPaymentHandler({ router, switchyardUrl, secretKey })).listen(port, '127.0.0.1', () => {
  console.log(`POST http://127.0.0.1:${port}/pay  ->  ${switchyardUrl}/v1/payment_intents`);
});
