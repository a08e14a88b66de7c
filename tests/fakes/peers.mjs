// Every processor peer of the worker's end-to-end tests, each behind a
// fault proxy (tests/fakes/fault-proxy.mjs, no faults until asked):
// localstripe (with Stripe's search, tests/fakes/localstripe_plus.py), the
// Adyen, Checkout.com and Braintree fakes. `processors()` and
// `credentials()` are the worker's SWITCHYARD_TEST_PROCESSORS and
// SWITCHYARD_TEST_CREDENTIALS for them.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startFaultProxy } from './fault-proxy.mjs';
import { freePort, spawnPeer } from './spawn-peer.mjs';
import { start as startAdyen } from './adyen.mjs';
import { start as startCheckout } from './checkout.mjs';
import { start as startBraintree } from './braintree.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** localstripe (PyPI) with our search addition, on a free port (it cannot
 * pick one itself). */
export async function startLocalstripe() {
  const port = await freePort();
  return spawnPeer(path.join(ROOT, '.venv/bin/python'),
    [path.join(ROOT, 'tests/fakes/localstripe_plus.py'), '--port', String(port)],
    { cwd: ROOT, name: 'localstripe' });
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
