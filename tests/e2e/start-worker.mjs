// `wrangler dev` without its inspector, for the benchmark (not the tests).
//   node tests/e2e/start-worker.mjs <port> <persist dir> [NAME=value ...]
// Runs the built worker (no build step) with wrangler's programmatic dev
// server, `unstable_startWorker`, whose `dev.inspector: false` turns off the
// devtools inspector: with it on, every subrequest of the worker (each
// Durable Object call) is reported to wrangler's Node process as inspector
// events, which costs workerd and Node CPU on the same cores as the worker.
// Everything else is as `wrangler dev --local`: same config, same workerd,
// same SQLite-backed Durable Objects persisted to <persist dir>.
import { unstable_startWorker } from 'wrangler';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const [port, persist, ...vars] = process.argv.slice(2);
const bindings = {};
for (const kv of vars) {
  const i = kv.indexOf('=');
  bindings[kv.slice(0, i)] = { type: 'plain_text', value: kv.slice(i + 1) };
}
const worker = await unstable_startWorker({
  config: path.join(root, 'wrangler.toml'),
  bindings,
  build: { custom: { command: 'true' } },
  dev: {
    inspector: false,
    remote: false,
    watch: false,
    persist,
    server: { hostname: '127.0.0.1', port: Number(port) },
  },
});
await worker.ready;
console.log(`ready on http://127.0.0.1:${port}`);
const stop = async () => { await worker.dispose(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
