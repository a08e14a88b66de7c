// Starting a processor peer in a process of its own (the runners call
// cargo with spawnSync, which blocks their own event loop, so a peer inside
// them could not answer): the command prints `listening on <url>` when
// ready. Also a free port on 127.0.0.1, for peers that need one given.
import { spawn } from 'node:child_process';
import net from 'node:net';

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Runs `command args` and resolves with `{ url, child, close() }` once it
 * prints `listening on http://127.0.0.1:N`; rejects if it exits first or
 * stays silent for `timeoutMs`.
 */
export function spawnPeer(command, args, { cwd, timeoutMs = 30_000, name = command } = {}) {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${err}`)), timeoutMs);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          child,
          close: () => new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            try { process.kill(-child.pid, 'SIGTERM'); } catch { done(); }
          }),
        });
      }
    });
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}): ${err}`)); });
  });
}
