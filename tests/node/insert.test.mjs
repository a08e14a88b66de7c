// Inserting a condition from the field catalogue (www/lib/insert.js): only
// where the rule set stays valid JSON, with the commas it needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conditionInsertion } from '../../www/lib/insert.js';

const C = '{ "field": "currency", "eq": "eur" }';
const apply = (text, caret, end = caret) => {
  const p = conditionInsertion(text, caret, end, C);
  return p && text.slice(0, p.at) + p.insert + text.slice(p.end);
};
const at = (text, marker = '|') => [text.replace(marker, ''), text.indexOf(marker)];

test('inside an all list: commas on the side that needs one', () => {
  const cases = [
    '{"rules":[{"if":{"all":[|]}}]}',
    '{"rules":[{"if":{"all":[{"field":"amount","gte":1}|]}}]}',
    '{"rules":[{"if":{"all":[|{"field":"amount","gte":1}]}}]}',
    '{"rules":[{"if":{"all":[{"field":"amount","gte":1},|{"field":"amount","lte":9}]}}]}',
    '{"rules":[{"if":{"all":[{"field":"amount","gte":1} | ,{"field":"amount","lte":9}]}}]}',
  ];
  for (const c of cases) {
    const out = apply(...at(c));
    assert.ok(out, c);
    const v = JSON.parse(out);
    assert.equal(v.rules[0].if.all.filter((x) => x.field === 'currency').length, 1, out);
  }
});

test('right after a key whose value is missing', () => {
  // The draft was not valid JSON (a missing value): the condition fills it.
  const out = apply(...at('{"rules":[{"name":"r","if":|}]}'));
  assert.equal(JSON.parse(out).rules[0].if.field, 'currency');
  const [t, k] = at('{"rules":[{"if": | "then":{"route":["a"]}}]}');
  const p = conditionInsertion(t, k, k, C);
  assert.ok(p);
  assert.equal(p.insert, `${C}, `);
});

test('no place outside the rule set, inside a string, or between keys', () => {
  for (const c of [
    '{"rules":[]}|',
    '|{"rules":[]}',
    '{"name":"ab|c","rules":[]}',
    '{"name":"x",| "rules":[]}',
    '{"rules":[{"if":|{"field":"amount","gte":1}}]}',
  ]) {
    const [t, k] = at(c);
    assert.equal(conditionInsertion(t, k, k, C), null, c);
  }
});

test('a selected condition is replaced; a selection of the whole rule set or of part of a value is not', () => {
  const text = '{"rules":[{"if":{"field":"amount","gte":1},"then":{"route":["a"]}}]}';
  const a = text.indexOf('{"field"');
  const b = text.indexOf('}', a) + 1;
  assert.equal(JSON.parse(apply(text, a, b)).rules[0].if.field, 'currency');
  // The whole rule set selected: the snippet goes at its end, where there
  // is no place: nothing.
  assert.equal(conditionInsertion(text, 0, text.length, C), null);
  // Part of a string selected: not replaced, and no place at its end.
  const s = text.indexOf('amount');
  assert.equal(conditionInsertion(text, s, s + 3, C), null);
});
