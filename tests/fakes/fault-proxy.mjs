// A fault-injecting HTTP proxy in front of a processor fake (or any HTTP
// peer), for the fault-injection run (tests/fault/run.mjs) and the failover
// scenarios. It forwards requests to `target` and, for a share of them
// (`rate`), does one of:
//
//   refuse     stop listening for a moment (and drop open connections): the
//              next requests are refused before they are sent
//   reset      forward, then cut the connection in the middle of the answer
//              (processed, answer lost)
//   timeout    forward, then never answer (processed, answer lost)
//   late       hold the request past the caller's timeout, then forward it
//              (it reaches the processor after the caller gave up)
//   5xx        answer 502 without forwarding (an unexplained error)
//   429        answer 429 without forwarding
//   malformed  forward, then answer 200 with a body that is not JSON
//   slow       delay the request a little, then forward (answered in time)
//
// `/__ledger` and `/__proxy/*` are never faulted. Control:
//   POST /__proxy/faults {"rate": 0.2, "kinds": ["reset", ...], "hold_ms": 12000}
//   GET  /__proxy/stats  -> {"forwarded": n, "faults": {"reset": n, ...}}
// A seeded generator (`seed`) makes a run repeatable in its choices.

import http from 'node:http';

import { mulberry32 } from '../../scripts/prng.mjs';

/** A seeded generator; small seeds are spread first. */
const prng = (seed) => mulberry32(Math.imul(seed, 0x9e3779b9));


export const FAULT_KINDS = ['refuse', 'reset', 'timeout', 'late', '5xx', '429', 'malformed', 'slow'];

export async function startFaultProxy({ target, port = 0, rate = 0, kinds = FAULT_KINDS, seed = 1, holdMs = 12_000 } = {}) {
  const config = { rate, kinds, holdMs };
  const random = prng(seed);
  const stats = { forwarded: 0, faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) };
  const sockets = new Set();
  const timers = new Set();
  const later = (ms, fn) => {
    const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
    timers.add(t);
  };
  let listening = false;
  let closed = false;
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  function forward(req, body) {
    return new Promise((resolve, reject) => {
      const r = http.request({
        host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, agent,
        headers: { ...req.headers, host: upstream.host },
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end(body);
    });
  }

  function answer(res, up) {
    const headers = { ...up.headers };
    delete headers['transfer-encoding'];
    delete headers.connection;
    headers['content-length'] = String(up.body.length);
    res.writeHead(up.status, headers);
    res.end(up.body);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      // The caller went away (it timed out and aborted): nothing to answer.
      req.socket.destroy();
    });
  });

  async function handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const path = req.url ?? '/';
    if (path.startsWith('/__proxy/')) {
      if (path === '/__proxy/faults' && req.method === 'POST') {
        const c = JSON.parse(body.toString() || '{}');
        if (typeof c.rate === 'number') config.rate = c.rate;
        if (Array.isArray(c.kinds)) config.kinds = c.kinds;
        if (typeof c.hold_ms === 'number') config.holdMs = c.hold_ms;
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(config));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(stats));
    }
    const fault = !path.startsWith('/__ledger') && config.kinds.length > 0 && random() < config.rate
      ? config.kinds[Math.floor(random() * config.kinds.length)]
      : null;
    if (fault) stats.faults[fault] += 1;
    try {
      switch (fault) {
        case 'refuse': {
          // Refuse this one (drop it unanswered is a reset; a refusal needs
          // no listener): stop listening, drop every connection, listen again.
          pause(150 + Math.floor(random() * 350));
          req.socket.destroy();
          return;
        }
        case '5xx':
          res.writeHead(502, { 'content-type': 'text/html' });
          return res.end('<html><body>502 Bad Gateway</body></html>');
        case '429':
          res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '1' });
          return res.end('Too Many Requests');
        case 'late':
          return later(config.holdMs, async () => {
            try { await forward(req, body); } catch { /* the caller is gone anyway */ }
            req.socket.destroy();
          });
        case 'slow':
          await new Promise((r) => later(50 + Math.floor(random() * 400), r));
          break;
        default:
          break;
      }
      const up = await forward(req, body);
      stats.forwarded += 1;
      switch (fault) {
        case 'reset': {
          const head = `HTTP/1.1 ${up.status} OK\r\ncontent-type: application/json\r\ncontent-length: ${up.body.length}\r\n\r\n`;
          req.socket.write(head + up.body.subarray(0, Math.floor(up.body.length / 2)).toString());
          return later(5, () => req.socket.destroy());
        }
        case 'timeout':
          return later(config.holdMs, () => req.socket.destroy());
        case 'malformed':
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end('{"oops": <html>');
        default:
          return answer(res, up);
      }
    } catch (e) {
      if (!res.headersSent && !req.socket.destroyed) {
        res.writeHead(599, { 'content-type': 'text/plain' });
        res.end(`proxy: upstream failed: ${e.message}`);
      }
    }
  }
  server.keepAliveTimeout = 5_000;
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });

  const listen = () => new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => { listening = true; port = server.address().port; resolve(); });
  });
  function pause(ms) {
    if (!listening || closed) return;
    listening = false;
    server.close();
    for (const s of sockets) s.destroy();
    later(ms, () => { if (!closed) listen(); });
  }
  await listen();
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => JSON.parse(JSON.stringify(stats)),
    setFaults(c) { Object.assign(config, c); },
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise((r) => (listening ? server.close(() => r()) : r()));
    },
  };
}
