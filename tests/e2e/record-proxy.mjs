// A transparent recording proxy in front of the worker under test (run by
// scripts/e2e.sh):
//
//   node tests/e2e/record-proxy.mjs --target http://127.0.0.1:PORT --out FILE [--port N]
//
// listens on 127.0.0.1 (a free port unless --port), prints its port as the
// first line of stdout, and forwards every request to the target as it came
// (method, path and query, headers, the body streamed) and every response
// back as it came, while appending one JSON line per response to FILE:
//
//   {method, path, query, status, contentType, requestId, body}
//
// `path` is without the query, `query` the raw query string ('' if none),
// `body` the parsed response when it is JSON (else null). Request bodies are
// never written: card numbers travel in them. Responses only (the worker
// never returns card data; 99-card-data-scan.test.mjs checks FILE too, as it
// lives with the artifacts), and only of the Stripe API's paths
// (/v1/payment_intents, /v1/refunds, /v1/charges). Exits on SIGTERM/SIGINT. No dependencies.
//
// Hop-by-hop headers (Connection, Keep-Alive, Proxy-Connection, TE,
// Trailer, Upgrade, Expect: the proxy answers 100-continue itself) are each
// hop's own, as HTTP has it; every other header passes unchanged, Host
// included. Each request goes to the target on a connection of its own (no
// pooled connection that a restarting `wrangler dev` could have dropped),
// though marked keep-alive as the client's was (unless it said close). If
// the target answers before it has read the whole request body (e.g. 400
// body_too_large), the answer is passed on at once and the rest of the body
// is read and discarded. If the target fails without answering, the client
// gets a 502 (text/plain, so that it is never taken for the worker's own
// JSON error), recorded with `proxyError`.
import http from 'node:http';
import fs from 'node:fs';
import zlib from 'node:zlib';

function parseArgs(argv) {
  const a = { port: 0, host: '127.0.0.1' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--target') a.target = v();
    else if (k === '--out') a.out = v();
    else if (k === '--port') a.port = Number(v());
    else if (k === '--host') a.host = v();
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.target || !a.out) throw new Error('usage: record-proxy.mjs --target URL --out FILE [--port N] [--host H]');
  return a;
}

const args = parseArgs(process.argv.slice(2));
const target = new URL(args.target);
if (target.protocol !== 'http:') throw new Error('--target must be http://');
/** Bodies larger than this are passed on but not recorded. */
const MAX_RECORDED = 16 * 1024 * 1024;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect']);
const agent = new http.Agent({ keepAlive: false });
const fd = fs.openSync(args.out, 'a');

/** Raw headers as an object that keeps their case and repeats, less hop-by-hop ones. */
function headersOf(raw) {
  const named = new Set(HOP_BY_HOP);
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'connection') {
      for (const t of raw[i + 1].split(',')) named.add(t.trim().toLowerCase());
    }
  }
  const out = {};
  const keyOf = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const lower = name.toLowerCase();
    if (named.has(lower)) continue;
    const k = keyOf[lower] ?? (keyOf[lower] = name);
    if (k in out) out[k] = [].concat(out[k], raw[i + 1]);
    else out[k] = raw[i + 1];
  }
  return out;
}

// Only the Stripe API's answers are recorded (the objects the conformance
// test judges). The routing API's answers carry the merchant's rule sets,
// whose values (BIN prefixes, thresholds) a card-data scan cannot tell
// from card data: they are neither recorded nor judged here.
const STRIPE_PATHS = /^\/v1\/(payment_intents|refunds|charges)(\/|$)/;

function record(entry) {
  if (!STRIPE_PATHS.test(entry.path ?? '')) return;
  try {
    fs.writeSync(fd, `${JSON.stringify(entry)}\n`);
  } catch (e) {
    process.stderr.write(`record-proxy: cannot write ${args.out}: ${e.message}\n`);
  }
}

function decode(buf, encoding) {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case '': case 'identity': return buf;
    case 'gzip': case 'x-gzip': return zlib.gunzipSync(buf);
    case 'deflate': return zlib.inflateSync(buf);
    case 'br': return zlib.brotliDecompressSync(buf);
    default: return null;
  }
}

function bodyOf(chunks, truncated, headers) {
  const type = String(headers['content-type'] ?? '');
  if (truncated || !/[/+]json\b/i.test(type)) return null;
  try {
    const buf = decode(Buffer.concat(chunks), headers['content-encoding']);
    if (!buf || buf.length === 0) return null;
    return JSON.parse(buf.toString('utf8'));
  } catch {
    return null;
  }
}

const server = http.createServer((req, res) => {
  const q = req.url.indexOf('?');
  const entry = {
    method: req.method,
    path: q < 0 ? req.url : req.url.slice(0, q),
    query: q < 0 ? '' : req.url.slice(q + 1),
  };
  const upReq = http.request({
    agent,
    host: target.hostname,
    port: target.port || 80,
    method: req.method,
    path: req.url,
    headers: {
      ...headersOf(req.rawHeaders),
      // As the client asked (HTTP/1.1: keep-alive unless it said close),
      // though the proxy's side of the connection ends with the exchange
      // (the agent keeps no socket): a target that answers before reading
      // the whole body then reads the rest instead of closing on it.
      Connection: /\bclose\b/i.test(String(req.headers.connection ?? '')) ? 'close' : 'keep-alive',
    },
  });
  let answered = false;
  upReq.on('response', (upRes) => {
    answered = true;
    const chunks = [];
    let size = 0;
    let truncated = false;
    upRes.on('data', (c) => {
      if (truncated) return;
      size += c.length;
      if (size > MAX_RECORDED) { truncated = true; chunks.length = 0; } else chunks.push(c);
    });
    upRes.on('end', () => {
      record({
        ...entry,
        status: upRes.statusCode,
        contentType: upRes.headers['content-type'] ?? null,
        requestId: upRes.headers['request-id'] ?? null,
        ...(truncated ? { truncated: true } : {}),
        body: bodyOf(chunks, truncated, upRes.headers),
      });
    });
    upRes.on('error', () => res.destroy());
    res.writeHead(upRes.statusCode, upRes.statusMessage, headersOf(upRes.rawHeaders));
    upRes.pipe(res);
    res.on('finish', () => {
      // Answered before the whole request body was read: take the rest
      // and drop it, so that the client finishes sending and reads the
      // answer (as it would from the target itself).
      if (!req.complete) {
        req.unpipe(upReq);
        req.resume();
        upReq.destroy();
      }
    });
  });
  upReq.on('error', (e) => {
    if (answered) {
      if (!res.writableFinished) res.destroy();
      return;
    }
    answered = true;
    record({ ...entry, status: 502, contentType: 'text/plain', requestId: null, proxyError: e.code ?? e.message, body: null });
    req.unpipe(upReq);
    req.resume();
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' });
      res.end(`record-proxy: ${target.host} did not answer (${e.code ?? e.message})\n`);
    } else {
      res.destroy();
    }
  });
  // The client went away before its answer was complete: so does the
  // request to the target.
  res.on('close', () => {
    if (!res.writableFinished) upReq.destroy();
  });
  req.on('error', () => upReq.destroy());
  req.pipe(upReq);
});
// As transparent as the target: no proxy-side time limit on a request
// (a test may wait on a slow processor).
server.requestTimeout = 0;
server.headersTimeout = 120_000;
server.keepAliveTimeout = 5_000;

server.listen(args.port, args.host, () => {
  process.stdout.write(`${server.address().port}\n`);
});

function stop() {
  server.close();
  server.closeAllConnections?.();
  try { fs.closeSync(fd); } catch { /* closed */ }
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
