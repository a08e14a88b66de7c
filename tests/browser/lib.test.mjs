// The preview page's pure helpers, in Node (no browser, no wasm):
// JSON Pointer -> place in the text, traffic files, trace sentences.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indexJson, placePointer, lineCol, splitPointer, escapeToken } from '../../www/lib/jsonloc.js';
import { parseTraffic, parseCsvRows, keyForPosition } from '../../www/lib/traffic.js';
import { describeFailure, describeTraceEntry, formatMoney } from '../../www/lib/explain.js';

const at = (text, place) => text.slice(place.start, place.end);

test('pointers map to the value, the key or the nearest existing ancestor', () => {
  const text = '{\n  "rules": [\n    { "name": "a", "if": { "field": "curency", "eq": "eur" }, "then": { "route": ["s"] } }\n  ]\n}\n';
  const { ok, nodes } = indexJson(text);
  assert.ok(ok);
  // a value
  const field = placePointer(nodes, '/rules/0/if/field', 'unknown_field');
  assert.equal(at(text, field), '"curency"');
  assert.deepEqual(lineCol(text, field.start), { line: 3, col: 37 });
  // an unknown key or operator: the key itself
  assert.equal(at(text, placePointer(nodes, '/rules/0/if/eq', 'unknown_operator')), '"eq"');
  // an array element
  assert.equal(at(text, placePointer(nodes, '/rules/0/then/route/0', 'unknown_processor')), '"s"');
  // a container: its key and opening bracket only
  assert.equal(at(text, placePointer(nodes, '/rules/0/then', 'invalid_action')), '"then": {');
  // a missing key: the nearest ancestor that exists, flagged as not exact
  const missing = placePointer(nodes, '/default', 'missing_key');
  assert.equal(missing.exact, false);
  assert.equal(at(text, missing), '{');
  const missingRule = placePointer(nodes, '/rules/0/then/route/3', 'x');
  assert.equal(missingRule.exact, false);
  assert.equal(at(text, missingRule), '"route": [');
  // the whole document
  assert.equal(placePointer(nodes, '', 'invalid_json').start, 0);
});

test('pointer tokens are escaped per RFC 6901', () => {
  assert.deepEqual(splitPointer('/metadata/a~1b/c~0d'), ['metadata', 'a/b', 'c~d']);
  assert.equal(escapeToken('a/b~c'), 'a~1b~0c');
  const text = '{"metadata": {"a/b": "x", "c~d": "y"}}';
  const { nodes } = indexJson(text);
  assert.equal(at(text, placePointer(nodes, '/metadata/a~1b', '')), '"x"');
  assert.equal(at(text, placePointer(nodes, '/metadata/c~0d', '')), '"y"');
});

test('syntax errors give the offset of the problem', () => {
  const cases = [
    ['{"a": [1, 2,]}', 12, /trailing comma/],
    ['{"a" 1}', 5, /expected ':'/],
    ['{"a": 1', 7, /expected ',' or '}'/],
    ["{'a': 1}", 1, /double quotes|key/],
    ['{"a": tru}', 6, /expected a value/],
    ['{"a": 1} x', 9, /after the end/],
    ['{"a": "b\nc"}', 8, /control character/],
  ];
  for (const [text, offset, message] of cases) {
    const r = indexJson(text);
    assert.equal(r.ok, false, text);
    assert.equal(r.error.offset, offset, text);
    assert.match(r.error.message, message, text);
  }
  // and valid JSON parses to the same value as JSON.parse
  const good = '{"a": [1, -2.5e3, true, false, null, "\\u00e9\\n"], "b": {}}';
  assert.deepEqual(indexJson(good).value, JSON.parse(good));
});

test('CSV traffic: dotted and underscored columns, quotes, booleans, empty cells', () => {
  const csv = 'amount,currency,card.bin,card_country,off_session,three_d_secure,metadata.note,routing_key\r\n' +
    '12500,eur,424242,FR,yes,0,"a, ""quoted"" note",k1\r\n' +
    '300,usd,,,false,,,\r\n';
  const payments = parseTraffic(csv, 'x.csv');
  assert.deepEqual(payments, [
    { amount: 12500, currency: 'eur', card: { bin: '424242', country: 'FR' }, off_session: true, three_d_secure: false, metadata: { note: 'a, "quoted" note' }, routing_key: 'k1' },
    { amount: 300, currency: 'usd', off_session: false, routing_key: keyForPosition(1) },
  ]);
  assert.equal(keyForPosition(1), '1', 'the key Router.simulate gives a keyless payment');
  assert.throws(() => parseTraffic('amount,currency\n12.5,eur\n'), /line 2: amount "12.5"/);
  assert.throws(() => parseTraffic('currency\neur\n'), /header row/);
  assert.deepEqual(parseCsvRows('a,b\n\n1,2'), [['a', 'b'], ['1', '2']]);
});

test('JSON traffic: an array or {payments: [...]}; keys only where missing', () => {
  const list = parseTraffic('[{"amount": 1, "currency": "eur"}, {"amount": 2, "currency": "eur", "routing_key": "mine"}]');
  assert.deepEqual(list.map((p) => p.routing_key), ['0', 'mine']);
  assert.equal(parseTraffic('{"payments": [{"amount": 1, "currency": "eur"}]}').length, 1);
  assert.throws(() => parseTraffic('{"amount": 1}'), /array of payments/);
  assert.throws(() => parseTraffic('[1,', 'p.json'), /not valid JSON/);
});

test('trace entries read as sentences with the actual value', () => {
  assert.equal(formatMoney(12500, 'eur'), '125.00 EUR');
  assert.equal(formatMoney(1200, 'JPY'), '1,200 JPY');
  assert.equal(formatMoney(1, 'nope'), null);
  assert.deepEqual(describeFailure({ path: '/rules/0/if', field: 'amount', op: 'gte', value: 10000, actual: 2500 }, 'eur'), {
    condition: 'amount is at least 10000 (100.00 EUR)',
    actual: 'the payment has 2500 (25.00 EUR)',
  });
  assert.deepEqual(describeFailure({ path: '/x', field: 'card.country', op: 'in', value: ['US', 'CA', 'MX'], actual: null }), {
    condition: 'card.country is one of "US", "CA" or "MX"',
    actual: 'the payment has no card.country',
  });
  assert.equal(describeFailure({ path: '/x', field: 'card.bin', op: 'prefix', value: '4111', actual: '55554444' }).condition, 'card.bin starts with "4111"');
  assert.equal(describeFailure({ path: '/x', field: 'amount', op: 'between', value: [1, 2], actual: 3 }).condition, 'amount is between 1 and 2');
  assert.equal(describeFailure({ path: '/x', field: 'metadata.channel', op: 'exists', value: true, actual: null }).condition, 'metadata.channel is present');
  assert.match(describeFailure({ path: '/rules/0/if', op: 'not' }).actual, /inner condition held/);
  assert.deepEqual(describeTraceEntry({ rule_index: 2, rule: 'paused', matched: false, disabled: true }), {
    status: 'disabled', title: 'paused', detail: 'disabled, skipped', path: '/rules/2/enabled',
  });
  assert.equal(describeTraceEntry({ rule_index: null, rule: null, default: true, matched: true }).title, 'default');
});
