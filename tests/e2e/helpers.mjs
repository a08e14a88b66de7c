// Shared helpers of the end-to-end tests (run by scripts/e2e.sh, which starts
// `wrangler dev` and sets E2E_BASE_URL).
import Stripe from 'stripe';
import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BASE = process.env.E2E_BASE_URL ?? 'http://127.0.0.1:8787';
/** The documented keys of a worker with no configuration. */
export const DEFAULT_SK = 'sk_test_switchyard_sandbox';
export const DEFAULT_PK = 'pk_test_switchyard_sandbox';
/** The keys of the worker under test (scripts/e2e.sh configures its own). */
export const SK = process.env.E2E_SECRET_KEY ?? DEFAULT_SK;
export const PK = process.env.E2E_PUBLISHABLE_KEY ?? DEFAULT_PK;
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The official Stripe SDK pointed at a worker. */
export function stripeFor(base = BASE, key = SK, options = {}) {
  const u = new URL(base);
  return new Stripe(key, {
    host: u.hostname,
    port: Number(u.port),
    protocol: u.protocol.replace(':', ''),
    maxNetworkRetries: 0,
    telemetry: false,
    ...options,
  });
}

/** A raw call: JSON body by default, `form: true` for Stripe's encoding. */
export async function api(method, p, body, { key = SK, headers = {}, form = false, base = BASE } = {}) {
  const h = { ...headers };
  if (key !== null) h.authorization = `Bearer ${key}`;
  let payload;
  if (body !== undefined) {
    if (form) {
      h['content-type'] = 'application/x-www-form-urlencoded';
      payload = typeof body === 'string' ? body : new URLSearchParams(body).toString();
    } else {
      h['content-type'] = 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
  }
  const res = await fetch(base + p, { method, headers: h, body: payload });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, json, text };
}

export function uniqueKey(prefix = 'k') {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2)}`;
}

export async function freePort() {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a second `wrangler dev` (already built: the [build] command is made a
 * no-op) on a free port with the given state directory; returns {base, stop}.
 * `inspector: false` starts it without the devtools inspector.
 */
export async function startWrangler({ stateDir, logFile, vars = {}, inspector = true, args: extra = [] }) {
  const port = await freePort();
  let cmd;
  let args;
  if (inspector) {
    cmd = 'npx';
    args = ['wrangler', 'dev', '--ip', '127.0.0.1', '--port', String(port),
      '--persist-to', stateDir, '--show-interactive-dev-session=false'];
    for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
    args.push(...extra);
  } else {
    // The same dev server through wrangler's API, with the inspector off
    // (the benchmark's second configuration; see start-worker.mjs).
    cmd = process.execPath;
    args = [path.join(ROOT, 'tests/e2e/start-worker.mjs'), String(port), stateDir];
    for (const [k, v] of Object.entries(vars)) args.push(`${k}=${v}`);
  }
  const out = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, {
    cwd: ROOT,
    detached: true, // own process group, so that stop() ends workerd too
    stdio: ['ignore', out, out],
    env: { ...process.env, WORKER_BUILD: 'true', WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try { await fetch(base + '/v1/'); break; } catch { /* not yet */ }
    if (child.exitCode !== null) throw new Error(`wrangler exited (${child.exitCode}); see ${logFile}`);
    if (Date.now() > deadline) { stopGroup(child); throw new Error(`wrangler did not start; see ${logFile}`); }
    await new Promise((r) => setTimeout(r, 300));
  }
  return {
    base,
    /** The process group of wrangler and its workerd. */
    pgid: child.pid,
    /** SIGKILL of wrangler and workerd at once: a crash, no shutdown. */
    async kill() {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      const t = Date.now() + 10_000;
      while (child.exitCode === null && child.signalCode === null && Date.now() < t) {
        await new Promise((r) => setTimeout(r, 50));
      }
      fs.closeSync(out);
    },
    async stop() {
      stopGroup(child);
      const t = Date.now() + 10_000;
      while (child.exitCode === null && child.signalCode === null && Date.now() < t) {
        await new Promise((r) => setTimeout(r, 100));
      }
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      fs.closeSync(out);
    },
  };
}

/**
 * For the benchmarks (bench.mjs, probe.mjs): a `wrangler dev` of their own
 * whose three sandboxes answer at once, its state in a fresh directory (in
 * /dev/shm with `tmpfs`) that stop() removes.
 */
export async function startBenchWorker({ name, inspector = true, tmpfs = false, logFile }) {
  const stateDir = fs.mkdtempSync(path.join(tmpfs ? '/dev/shm' : os.tmpdir(), `switchyard-${name}-`));
  const processors = ['sandbox_a', 'sandbox_b', 'sandbox_c'].map((id) => ({ id, type: 'sandbox', latency_ms: 0 }));
  const w = await startWrangler({
    stateDir,
    logFile: logFile ?? path.join(stateDir, 'wrangler.log'),
    vars: { SWITCHYARD_TEST_PROCESSORS: JSON.stringify(processors) },
    inspector,
  });
  return {
    ...w,
    async stop() {
      await w.stop();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

function stopGroup(child) {
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
}

/** A Stripe SDK error's useful fields, or the value itself. */
export async function stripeError(promise) {
  try {
    const v = await promise;
    return { ok: true, value: v };
  } catch (e) {
    return { ok: false, error: e };
  }
}

/**
 * Runs `check` until it stops throwing (at most `ms`): for reads of the
 * mode's index (lists, search), which the worker writes just after each
 * operation's response.
 */
export async function eventually(check, ms = 3000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
