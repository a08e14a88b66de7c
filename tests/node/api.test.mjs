// The page's client of the worker's rule-set API (www/lib/api.js), against
// a tiny local HTTP server: the key only in the Authorization header, JSON
// bodies, the API's errors carried whole, failures of the network and of
// the answer, paging.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createClient, ApiError, modeOfKey, redactKey, describeError, ruleSetBody, listRuleSetsUntil } from '../../www/lib/api.js';

const KEY = 'sk_test_unit_key_5678';
let server;
let base;
const seen = [];
/** Rule sets the fake lists, newest first. */
const SETS = Array.from({ length: 7 }, (_, i) => ({ id: `rs_${7 - i}`, status: i === 5 ? 'active' : 'draft' }));

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const u = new URL(req.url, 'http://x');
      const send = (status, value, type = 'application/json') => {
        res.writeHead(status, { 'content-type': type });
        res.end(typeof value === 'string' ? value : JSON.stringify(value));
      };
      if (req.headers.authorization !== `Bearer ${KEY}`) {
        return send(401, { error: { type: 'invalid_request_error', code: 'api_key_invalid', message: 'Invalid API Key provided: sk_test_********' } });
      }
      if (u.pathname === '/v1/routing/processors') return send(200, { object: 'list', data: [{ id: 'sandbox_a' }, { id: 'sandbox_b' }] });
      if (u.pathname === '/v1/routing/rates' && req.method === 'GET') {
        return send(200, { object: 'routing_rates', livemode: false, window_seconds: 900, computed_at: 1764600000, rates: [{ processor: 'sandbox_a', brand: 'visa', country: 'US', funding: 'credit', attempts: 120, authorized: 100 }] });
      }
      if (u.pathname === '/v1/routing/rulesets' && req.method === 'GET') {
        const limit = Number(u.searchParams.get('limit') ?? 10);
        const after = u.searchParams.get('starting_after');
        const from = after ? SETS.findIndex((s) => s.id === after) + 1 : 0;
        const data = SETS.slice(from, from + limit);
        return send(200, { object: 'list', data, has_more: from + limit < SETS.length });
      }
      if (u.pathname === '/v1/routing/rulesets' && req.method === 'POST') {
        const parsed = JSON.parse(body);
        if (typeof parsed.ruleset === 'string') {
          return send(400, { error: { type: 'invalid_request_error', code: 'ruleset_invalid', param: 'ruleset', message: 'the rule set is invalid', issues: [{ path: '', code: 'invalid_json', message: 'not JSON' }] } });
        }
        if (JSON.stringify(parsed.ruleset).includes('zz')) {
          return send(400, { error: { type: 'invalid_request_error', code: 'ruleset_invalid', param: 'ruleset', message: 'the rule set is invalid', issues: [{ path: '/default/route/0', code: 'unknown_processor', message: 'unknown processor "zz"' }] } });
        }
        return send(200, { id: 'rs_new', object: 'routing_ruleset', status: 'draft', ruleset: parsed.ruleset });
      }
      if (u.pathname === '/v1/routing/rulesets/rs_busy/activate') {
        return send(503, { error: { type: 'api_error', code: 'activation_incomplete', message: 'retry the activation' } });
      }
      if (u.pathname === '/v1/routing/rulesets/rs_html/activate') return send(502, '<html>bad gateway</html>', 'text/html');
      if (u.pathname.endsWith('/promote')) {
        return send(400, { error: { type: 'invalid_request_error', code: 'live_key_required', message: 'call this with a live secret key' } });
      }
      return send(404, { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'id', message: 'No such rule set' } });
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((ok) => server.close(ok)));

async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('expected the call to throw');
}

test('answers are parsed JSON; the key travels only in the Authorization header', async () => {
  seen.length = 0;
  const c = createClient(KEY, { base });
  const p = await c.processors();
  assert.deepEqual(p.data.map((x) => x.id), ['sandbox_a', 'sandbox_b']);
  await c.listRuleSets({ limit: 2, startingAfter: 'rs_7' });
  for (const r of seen) {
    assert.equal(r.headers.authorization, `Bearer ${KEY}`);
    assert.ok(!r.url.includes(KEY), 'never in a URL');
    assert.equal(r.headers.cookie, undefined);
  }
  assert.equal(seen[1].url, '/v1/routing/rulesets?limit=2&starting_after=rs_7');
  assert.equal(c.mode, 'test');
  assert.equal(c.shown, 'sk_test_…5678');
  assert.ok(!JSON.stringify(c).includes(KEY), 'the client object does not expose the key');
});

test('a save sends the editor\'s text as JSON, as it is', async () => {
  seen.length = 0;
  const c = createClient(KEY, { base });
  const text = '{\n  "name": "x",\n  "default": { "route": ["sandbox_a"] }\n}\n';
  const rs = await c.createRuleSet(text);
  assert.equal(rs.id, 'rs_new');
  assert.equal(seen[0].method, 'POST');
  assert.equal(seen[0].headers['content-type'], 'application/json');
  assert.equal(seen[0].body, `{"ruleset":${text}}`);
  assert.deepEqual(JSON.parse(seen[0].body).ruleset, JSON.parse(text));
});

test('a refused save throws the API\'s error whole, with its issues', async () => {
  const c = createClient(KEY, { base });
  const e = await rejection(c.createRuleSet('{"default":{"route":["zz"]}}'));
  assert.ok(e instanceof ApiError);
  assert.equal(e.status, 400);
  assert.equal(e.type, 'invalid_request_error');
  assert.equal(e.code, 'ruleset_invalid');
  assert.equal(e.param, 'ruleset');
  assert.equal(e.message, 'the rule set is invalid');
  assert.deepEqual(e.issues, [{ path: '/default/route/0', code: 'unknown_processor', message: 'unknown processor "zz"' }]);
  assert.equal(describeError(e), 'the rule set is invalid (parameter: ruleset) [ruleset_invalid]');
  // Text that is not JSON goes as a string: the worker names the problem.
  const j = await rejection(c.createRuleSet('{"default": '));
  assert.equal(j.issues[0].code, 'invalid_json');
});

test('a wrong key is the API\'s 401; other statuses keep their codes', async () => {
  const bad = createClient('sk_test_wrong_0000', { base });
  const e = await rejection(bad.processors());
  assert.equal(e.status, 401);
  assert.equal(e.code, 'api_key_invalid');
  assert.equal(e.param, undefined);
  const c = createClient(KEY, { base });
  const busy = await rejection(c.activate('rs_busy'));
  assert.equal(busy.status, 503);
  assert.equal(busy.code, 'activation_incomplete');
  assert.equal(busy.type, 'api_error');
  const missing = await rejection(c.getRuleSet('rs_nope'));
  assert.equal(missing.status, 404);
  assert.equal(missing.param, 'id');
  const live = await rejection(c.promote('rs_1'));
  assert.equal(live.code, 'live_key_required');
});

test('an answer that is not JSON, or no answer at all, is still an ApiError', async () => {
  const c = createClient(KEY, { base });
  const html = await rejection(c.activate('rs_html'));
  assert.ok(html instanceof ApiError);
  assert.equal(html.status, 502);
  assert.equal(html.code, 'unexpected_answer');
  assert.match(html.message, /HTTP 502/);
  // A port nothing listens on.
  const probe = http.createServer();
  await new Promise((ok) => probe.listen(0, '127.0.0.1', ok));
  const port = probe.address().port;
  await new Promise((ok) => probe.close(ok));
  const down = createClient(KEY, { base: `http://127.0.0.1:${port}` });
  const net = await rejection(down.processors());
  assert.ok(net instanceof ApiError);
  assert.equal(net.code, 'network_error');
  assert.equal(net.status, 0);
  assert.ok(!net.message.includes(KEY));
});

test('an empty key is refused before any request', async () => {
  seen.length = 0;
  assert.throws(() => createClient('  ', { base }), (e) => e instanceof ApiError && e.code === 'api_key_missing');
  assert.equal(seen.length, 0);
});

test('pages are read via starting_after until the active set is found', async () => {
  seen.length = 0;
  const c = createClient(KEY, { base });
  const r = await listRuleSetsUntil(c, { limit: 2, until: (s) => s.status === 'active' });
  assert.equal(r.found.id, 'rs_2');
  assert.deepEqual(r.data.map((s) => s.id), ['rs_7', 'rs_6', 'rs_5', 'rs_4', 'rs_3', 'rs_2']);
  assert.equal(r.hasMore, true);
  assert.deepEqual(seen.map((s) => s.url), [
    '/v1/routing/rulesets?limit=2',
    '/v1/routing/rulesets?limit=2&starting_after=rs_6',
    '/v1/routing/rulesets?limit=2&starting_after=rs_4',
  ]);
  const none = await listRuleSetsUntil(c, { limit: 3, until: () => false });
  assert.equal(none.found, null);
  assert.equal(none.data.length, 7);
  assert.equal(none.hasMore, false);
});

test('keys: mode and redaction', () => {
  assert.equal(modeOfKey('sk_test_abc'), 'test');
  assert.equal(modeOfKey('sk_live_abc'), 'live');
  assert.equal(modeOfKey('pk_test_abc'), null);
  assert.equal(modeOfKey(undefined), null);
  assert.equal(redactKey('sk_live_0123456789abcd'), 'sk_live_…abcd');
  assert.equal(redactKey('sk_test_abc'), 'sk_test_…', 'a short key shows no characters of its secret');
  assert.equal(redactKey('whatever_long_key'), '…_key');
  assert.equal(ruleSetBody('{"a":1}'), '{"ruleset":{"a":1}}');
  assert.equal(ruleSetBody('{"a":'), '{"ruleset":"{\\"a\\":"}');
});

test('the current rates: GET /v1/routing/rates, signed with the key', async () => {
  seen.length = 0;
  const c = createClient(KEY, { base });
  const r = await c.rates();
  assert.equal(r.object, 'routing_rates');
  assert.deepEqual(r.rates.map((x) => x.processor), ['sandbox_a']);
  assert.deepEqual([seen[0].method, seen[0].url, seen[0].headers.authorization], ['GET', '/v1/routing/rates', `Bearer ${KEY}`]);
  const e = await rejection(createClient('sk_test_wrong_key_0000', { base }).rates());
  assert.equal(e.status, 401);
});
