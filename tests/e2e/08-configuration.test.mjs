// Configuration guardrails, each on a `wrangler dev` of its own: keys in the
// wrong slot refuse every request, by setting and never by value; the
// documented default keys and live-mode sandboxes work on a local run only.
// A deployed worker is played by a request with another Host (wrangler dev
// gives the worker the URL the client asked for; Cloudflare routes no
// loopback host to a deployed worker).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startWrangler, DEFAULT_SK, ROOT } from './helpers.mjs';

const ART = process.env.E2E_ARTIFACTS ?? path.join(ROOT, 'tests/artifacts/e2e');
const workers = [];
after(async () => { for (const w of workers) await w.stop(); });

async function start(name, vars) {
  fs.mkdirSync(ART, { recursive: true });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `switchyard-config-${name}-`));
  const w = await startWrangler({ stateDir, logFile: path.join(ART, `wrangler-config-${name}.log`), vars });
  workers.push(w);
  return w;
}

/** GET with a key, optionally as if the worker were deployed at `host`. */
function get(base, p, key, host) {
  const url = new URL(p, base);
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${key}` };
    if (host) headers.host = host;
    http.get(url, { headers }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text, json: JSON.parse(text) }));
    }).on('error', reject);
  });
}

test('the default keys work locally only; deployed, no keys is a configuration error', async () => {
  const w = await start('nokeys', {});
  const local = await get(w.base, '/v1/routing/rulesets', DEFAULT_SK);
  assert.equal(local.status, 200, local.text);
  const deployed = await get(w.base, '/v1/routing/rulesets', DEFAULT_SK, 'switchyard.example.com');
  assert.equal(deployed.status, 503, deployed.text);
  assert.equal(deployed.json.error.code, 'configuration_error');
  assert.match(deployed.json.error.message, /SWITCHYARD_TEST_SECRET_KEY/);
  assert.equal(deployed.headers['stripe-should-retry'], 'false');
});

test('a key in the wrong slot refuses every request, naming the setting and not the key', async () => {
  const w = await start('slots', {
    SWITCHYARD_TEST_SECRET_KEY: 'sk_test_fine_1',
    SWITCHYARD_TEST_PUBLISHABLE_KEY: 'sk_test_misplacedSECRET42',
    SWITCHYARD_LIVE_SECRET_KEY: 'sk_live_fine_2',
  });
  const r = await get(w.base, '/v1/routing/rulesets', 'sk_test_fine_1');
  assert.equal(r.status, 503, r.text);
  assert.match(r.json.error.message, /SWITCHYARD_TEST_PUBLISHABLE_KEY: holds a test secret key/);
  assert.ok(!r.text.includes('misplacedSECRET42'));
  // Named in the log when the isolate reads its configuration.
  let log = '';
  for (let i = 0; i < 50 && !/configuration: SWITCHYARD_TEST_PUBLISHABLE_KEY/.test(log); i++) {
    await new Promise((res) => setTimeout(res, 100));
    log = fs.readFileSync(path.join(ART, 'wrangler-config-slots.log'), 'utf8');
  }
  assert.match(log, /configuration: SWITCHYARD_TEST_PUBLISHABLE_KEY/, 'named in the log');
  assert.ok(!log.includes('misplacedSECRET42'));
});

test('a sandbox in live mode is refused on a deployed worker', async () => {
  const w = await start('livesandbox', {
    SWITCHYARD_TEST_SECRET_KEY: 'sk_test_fine_3',
    SWITCHYARD_LIVE_SECRET_KEY: 'sk_live_fine_4',
    SWITCHYARD_LIVE_PROCESSORS: '[{"id":"sandbox_a","type":"sandbox"}]',
  });
  // Locally live mode may use a sandbox (the end-to-end tests keep test and
  // live apart that way).
  assert.equal((await get(w.base, '/v1/routing/rulesets', 'sk_live_fine_4')).status, 200);
  const deployed = await get(w.base, '/v1/routing/rulesets', 'sk_live_fine_4', 'switchyard.example.com');
  assert.equal(deployed.status, 503, deployed.text);
  assert.match(deployed.json.error.message, /SWITCHYARD_LIVE_PROCESSORS: processor 'sandbox_a' is a sandbox/);
});
