// Every processor peer of the worker's end-to-end tests, each behind a
// fault proxy (tests/fakes/fault-proxy.mjs, no faults until asked):
// localstripe (with Stripe's search, tests/fakes/localstripe_plus.py), the
// Adyen, Checkout.com and Braintree fakes. `processors()` and
// `credentials()` are the worker's SWITCHYARD_TEST_PROCESSORS and
// SWITCHYARD_TEST_CREDENTIALS for them.

import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startFaultProxy } from './fault-proxy.mjs';
import { start as startAdyen } from './adyen.mjs';
import { start as startCheckout } from './checkout.mjs';
import { start as startBraintree } from './braintree.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** localstripe (PyPI) with our search addition, on a free port. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function startLocalstripe() {
  // localstripe takes a port; it cannot pick a free one itself.
  const port = await freePort();
  const child = spawn(path.join(ROOT, '.venv/bin/python'),
    [path.join(ROOT, 'tests/fakes/localstripe_plus.py'), '--port', String(port)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`localstripe did not start: ${err}`)), 30_000);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`localstripe exited ${code}: ${err}`)); });
  });
  return {
    url,
    close: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      try { process.kill(-child.pid, 'SIGTERM'); } catch { resolve(); }
    }),
  };
}

export const CREDENTIALS = {
  stripe: { api_key: 'sk_test_switchyard_localstripe' },
  adyen: { api_key: 'AQE_switchyard_test_key' },
  checkout: { api_key: 'sk_sbox_switchyard_test' },
  braintree: { public_key: 'switchyard_public', private_key: 'switchyard_private' },
};

/**
 * Starts the peers (`only`: a subset of stripe, adyen, checkout,
 * braintree), each behind its fault proxy. `timeoutMs`: each processor's
 * timeout in the worker's configuration.
 */
export async function startPeers({ only = ['stripe', 'adyen', 'checkout', 'braintree'], timeoutMs = 2000, seed = 7 } = {}) {
  const starters = {
    stripe: startLocalstripe,
    adyen: () => startAdyen({ port: 0 }),
    checkout: () => startCheckout({ port: 0 }),
    braintree: () => startBraintree({ port: 0 }),
  };
  const peers = {};
  let n = 0;
  for (const kind of only) {
    const peer = await starters[kind]();
    const proxy = await startFaultProxy({ target: peer.url, seed: seed + n++, holdMs: timeoutMs * 3 });
    peers[kind] = { peer, proxy, url: proxy.url, direct: peer.url };
  }
  return {
    peers,
    /** The worker's processors: one of each type, ids = types. */
    processors(extra = []) {
      const list = Object.entries(peers).map(([kind, p]) => ({
        id: kind,
        type: kind,
        base_url: p.url,
        timeout_ms: timeoutMs,
        ...(kind === 'adyen' ? { account: 'SwitchyardECOM' } : {}),
        ...(kind === 'braintree' ? { currency: 'usd' } : {}),
      }));
      return [...list, ...extra];
    },
    credentials(extra = {}) {
      return Object.fromEntries([
        ...Object.keys(peers).map((k) => [k, CREDENTIALS[k]]),
        ...Object.entries(extra),
      ]);
    },
    async close() {
      for (const p of Object.values(peers)) {
        await p.proxy.close();
        await p.peer.close();
      }
    },
  };
}
