// Stripe's own published OpenAPI description (tests/stripe-openapi/, the
// payments subset of stripe/openapi spec3, API version 2023-08-16) as a judge
// of the objects and errors the worker returns, and of the parameters it
// accepts.
//
//   validate(kind, obj)        errors of one object against components.schemas[kind]
//                              (payment_intent, refund, charge, error, or any other
//                              schema of the file)
//   validateList(obj)          a {object:'list'} or {object:'search_result'} page:
//                              its envelope (as Stripe's list responses define it)
//                              and each item by its own `object`
//   validateObject(obj)        dispatches on obj.object (list, search_result, or a schema)
//   pathParams(method, path)   the parameter names Stripe's operation accepts:
//                              the form properties of the request body for POST,
//                              the query parameters otherwise; null if Stripe has
//                              no such operation (path as a template or concrete)
//   unknownFields(kind, obj)   fields of obj that Stripe's schema does not name
//                              (informational: Stripe's schemas allow more)
//
// Each error is {instancePath, schemaPath, keyword, message, params, field}:
// `field` is instancePath with array indices as `*` and, for a missing
// required property, the property itself (e.g. `/latest_charge` or
// `/data/*/amount_details`), so that the same defect on many objects groups.
//
// OpenAPI 3.0 is not JSON Schema: `nullable: true` becomes a `null` in
// `type` (and in `enum`), or a `{type: 'null'}` branch beside `anyOf`/`oneOf`/
// `$ref`; `$ref: '#/components/schemas/X'` becomes `<id>#/$defs/X` of one schema
// document; the OpenAPI-only keywords (x-expandableFields, x-resourceId,
// x-stripeBypassValidation, x-expansionResources, ... and `discriminator`,
// `example`, `externalDocs`, `xml`) are dropped; `maxLength`, `pattern`,
// `enum`, `required` and `additionalProperties` stay as Stripe wrote them.
// Stripe's two formats are defined: `unix-time` (an integer) and `decimal`
// (a decimal string). Ajv runs in strict mode, so a keyword this converter
// missed fails loudly instead of being ignored.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SPEC_FILE = path.resolve(HERE, '../stripe-openapi/payments-subset.json');
export const SPEC = JSON.parse(fs.readFileSync(SPEC_FILE, 'utf8'));
const SCHEMAS = SPEC.components.schemas;
export const API_VERSION = SPEC.info.version;

/** The objects the conformance test expects the worker to return. */
export const KINDS = ['payment_intent', 'refund', 'charge', 'error'];

/**
 * Switchyard's documented extension fields (docs: the payment object's
 * routing decision and the processor's own references).
 *
 * Stripe's schemas do not forbid additional properties: none of the 513
 * schemas of the file sets `additionalProperties: false` on an object (it is
 * set only on request bodies, and maps such as `metadata` constrain their
 * values), which is also how Stripe's SDKs read objects (unknown fields are
 * kept, not refused). So these fields validate as they are. Should a later
 * spec forbid additional properties on one of these schemas, validate()
 * removes the extension fields before validating (see EXTENSIONS_STRIPPED).
 */
export const EXTENSION_FIELDS = {
  payment_intent: ['processor_details', 'routing'],
  refund: ['processor_details'],
};
export const EXTENSIONS_STRIPPED = Object.fromEntries(
  Object.keys(EXTENSION_FIELDS).map((k) => [k, SCHEMAS[k]?.additionalProperties === false]),
);

const DROPPED = new Set(['nullable', 'discriminator', 'example', 'externalDocs', 'xml', 'description']);
const SCHEMA_MAP_KEYWORDS = new Set(['properties', 'patternProperties']);
const SCHEMA_KEYWORDS = new Set(['items', 'additionalProperties', 'not']);
const SCHEMA_LIST_KEYWORDS = new Set(['anyOf', 'oneOf', 'allOf']);
const REF_PREFIX = '#/components/schemas/';
// Refs are absolute (this id), so that any part of the document compiles alone.
const DOC_ID = 'https://switchyard.invalid/stripe-openapi/payments-subset.json';

/** One OpenAPI 3.0 schema object as JSON Schema (draft 7 / ajv 8). */
export function toJsonSchema(s) {
  if (typeof s !== 'object' || s === null) return s;
  if (Array.isArray(s)) return s.map(toJsonSchema);
  const out = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-') || DROPPED.has(k)) continue;
    if (k === '$ref') {
      if (typeof v !== 'string' || !v.startsWith(REF_PREFIX)) throw new Error(`unexpected $ref ${v}`);
      out.$ref = `${DOC_ID}#/$defs/${v.slice(REF_PREFIX.length)}`;
    } else if (SCHEMA_MAP_KEYWORDS.has(k)) {
      // Property names are names, not keywords (payment_intent has a
      // property called `description`).
      out[k] = Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, toJsonSchema(sub)]));
    } else if (SCHEMA_KEYWORDS.has(k)) {
      out[k] = typeof v === 'boolean' ? v : toJsonSchema(v);
    } else if (SCHEMA_LIST_KEYWORDS.has(k)) {
      out[k] = v.map(toJsonSchema);
    } else {
      out[k] = structuredClone(v);
    }
  }
  if (s.nullable === true) {
    if (typeof out.type === 'string') {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    } else if (Array.isArray(out.anyOf) && out.type === undefined) {
      out.anyOf = [...out.anyOf, { type: 'null' }];
    } else if (Array.isArray(out.oneOf) && out.type === undefined) {
      out.oneOf = [...out.oneOf, { type: 'null' }];
    } else {
      // A `$ref` (or anything else) that may be null: Stripe writes these as
      // anyOf, this is for completeness.
      return { anyOf: [out, { type: 'null' }] };
    }
  }
  return out;
}

function makeAjv() {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    // Stripe writes `properties` without `type: object` in a few places and
    // `maxLength` beside `type: [string, null]`: valid JSON Schema that
    // ajv's strictTypes would only warn about.
    strictTypes: false,
    strictTuples: false,
    allowUnionTypes: true,
    validateFormats: true,
    // Errors carry their schema and value (the branches of a failed anyOf
    // are judged again one by one).
    verbose: true,
  });
  addFormats(ajv);
  ajv.addFormat('unix-time', { type: 'number', validate: (n) => Number.isInteger(n) });
  ajv.addFormat('decimal', { type: 'string', validate: (s) => /^-?\d+(\.\d+)?$/.test(s) });
  const $defs = Object.fromEntries(Object.entries(SCHEMAS).map(([k, v]) => [k, toJsonSchema(v)]));
  // The envelopes of Stripe's list and search responses, taken from its own
  // list operations (GET /v1/refunds, GET /v1/payment_intents/search) with
  // the items left to validateList (each by its `object`) and the url's
  // per-path `pattern` left out.
  $defs['switchyard:list'] = envelope(SPEC.paths['/v1/refunds'].get);
  $defs['switchyard:search_result'] = envelope(SPEC.paths['/v1/payment_intents/search'].get);
  ajv.addSchema({ $id: DOC_ID, $defs });
  return ajv;
}

function envelope(op) {
  const s = structuredClone(op.responses['200'].content['application/json'].schema);
  s.properties.data = { type: 'array' };
  delete s.properties.url.pattern;
  return toJsonSchema(s);
}

let AJV;
const compiled = new Map();
function validatorFor(kind) {
  AJV ??= makeAjv();
  let v = compiled.get(kind);
  if (!v) {
    if (!kind.startsWith('switchyard:') && !SCHEMAS[kind]) throw new Error(`Stripe's description has no schema ${kind}`);
    v = AJV.getSchema(`${DOC_ID}#/$defs/${kind}`);
    compiled.set(kind, v);
  }
  return v;
}

function typeOf(x) {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  if (Number.isInteger(x)) return 'integer';
  return typeof x;
}

function fieldOf(e) {
  let f = e.instancePath.replace(/\/\d+(?=\/|$)/g, '/*');
  if (e.keyword === 'required') f += `/${e.params.missingProperty}`;
  return f || '/';
}

/** What a branch of an anyOf wants, from its errors on a value it refused. */
function describeType(branchErrors, at) {
  const t = branchErrors.find((e) => e.instancePath === at && (e.keyword === 'type' || e.keyword === 'enum'));
  if (!t) return `an object of its schema (${branchErrors.length} violations)`;
  return t.keyword === 'type' ? String(t.params.type) : `one of ${JSON.stringify(t.params.allowedValues)}`;
}

const under = (p, at) => p === at || p.startsWith(`${at}/`);

/**
 * Errors of data against a compiled validator, made readable: an
 * `anyOf`/`oneOf` that failed is judged again branch by branch, and replaced
 * by the errors of the one branch whose type fits the value (an expandable
 * field holding an object is judged as that object, not as "must be
 * string"); when no branch or several fit, one error names the types
 * allowed. (Ajv's own branch errors cannot be told apart reliably: inside a
 * `$ref` their schemaPath starts again from the referenced schema.)
 */
function check(v, data, prefix) {
  if (v(data)) return [];
  const errors = v.errors;
  const alternatives = errors
    .filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')
    .sort((a, b) => a.instancePath.length - b.instancePath.length);
  const done = [];
  const out = [];
  for (const alt of alternatives) {
    if (done.some((at) => under(alt.instancePath, at))) continue;
    done.push(alt.instancePath);
    const value = alt.data;
    const judged = alt.schema.map((branch) => check(branchValidator(branch), value, prefix + alt.instancePath));
    // A branch fits when the value is of its type (no type/enum error at
    // the value itself).
    const at = prefix + alt.instancePath;
    const fitting = judged.filter((es) => !es.some((e) => e.instancePath === at && (e.keyword === 'type' || e.keyword === 'enum')));
    if (fitting.length === 1) {
      out.push(...fitting[0]);
    } else {
      const allowed = [...new Set(judged.map((es) => describeType(es, at)))].join(' or ');
      out.push(rec({ ...alt, message: `is ${typeOf(value)}; must be ${allowed}` }, prefix));
    }
  }
  for (const e of errors) {
    if (!done.some((at) => under(e.instancePath, at))) out.push(rec(e, prefix));
  }
  return out;
}

function rec(e, prefix) {
  const r = {
    instancePath: prefix + e.instancePath,
    schemaPath: e.schemaPath,
    keyword: e.keyword,
    message: messageOf(e),
    params: e.params,
  };
  r.field = fieldOf(r);
  return r;
}

function messageOf(e) {
  switch (e.keyword) {
    case 'additionalProperties': return `${e.message} '${e.params.additionalProperty}'`;
    case 'type': return `${e.message}, not ${typeOf(e.data)}`;
    case 'enum': return `${e.message} ${JSON.stringify(e.params.allowedValues)}, not ${JSON.stringify(e.data)?.slice(0, 80)}`;
    default: return e.message;
  }
}

const branchValidators = new WeakMap();
function branchValidator(schema) {
  let v = branchValidators.get(schema);
  if (!v) {
    v = AJV.compile(schema);
    branchValidators.set(schema, v);
  }
  return v;
}

function dedupe(errors) {
  const seen = new Set();
  return errors.filter((r) => {
    const k = `${r.instancePath}\0${r.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Errors of obj against Stripe's components.schemas[kind] ([] when it conforms). */
export function validate(kind, obj, { prefix = '' } = {}) {
  let data = obj;
  if (EXTENSIONS_STRIPPED[kind] && obj && typeof obj === 'object') {
    data = { ...obj };
    for (const f of EXTENSION_FIELDS[kind]) delete data[f];
  }
  return dedupe(check(validatorFor(kind), data, prefix));
}

/** The objects a list's items may be: any schema of the file with an `object` enum. */
function schemaOfObject(name) {
  if (typeof name !== 'string') return null;
  if (SCHEMAS[name]?.properties?.object?.enum?.includes(name)) return name;
  // A few schemas are named after their resource (e.g. `issuing.card`).
  for (const [k, s] of Object.entries(SCHEMAS)) if (s.properties?.object?.enum?.includes(name)) return k;
  return null;
}

/**
 * Errors of a list page ({object:'list', data, has_more, url}) or a search
 * page ({object:'search_result', data, has_more, next_page, url,
 * total_count?}): the envelope, then each item by its `object` (a
 * payment_intent item against payment_intent, ...). `counts`, if given,
 * counts the items validated by kind.
 */
export function validateList(obj, { counts } = {}) {
  const kind = obj?.object === 'search_result' ? 'search_result' : 'list';
  const v = validatorFor(`switchyard:${kind}`);
  const errors = dedupe(check(v, obj, ''));
  if (Array.isArray(obj?.data)) {
    obj.data.forEach((item, i) => {
      const k = schemaOfObject(item?.object);
      if (!k) {
        errors.push({
          instancePath: `/data/${i}/object`, schemaPath: '', keyword: 'object', params: {},
          message: `is ${JSON.stringify(item?.object)}, not an object Stripe's description defines`,
          field: '/data/*/object',
        });
        return;
      }
      if (counts) counts[k] = (counts[k] ?? 0) + 1;
      for (const e of validate(k, item)) {
        const pe = { ...e, instancePath: `/data/${i}${e.instancePath}`, item: k };
        pe.field = `/data/*${e.field === '/' ? '' : e.field}`;
        errors.push(pe);
      }
    });
  }
  return errors;
}

/** Dispatches on obj.object: list, search_result, or the schema of that name. */
export function validateObject(obj, opts) {
  if (obj?.object === 'list' || obj?.object === 'search_result') return validateList(obj, opts);
  const k = schemaOfObject(obj?.object);
  if (!k) throw new Error(`not a Stripe object: ${JSON.stringify(obj?.object)}`);
  return validate(k, obj);
}

function resolve(s) {
  while (s && s.$ref) s = SCHEMAS[s.$ref.slice(REF_PREFIX.length)];
  return s;
}

/** The object schemas a (possibly anyOf) schema may stand for. */
function objectSchemas(s) {
  s = resolve(s);
  if (!s) return [];
  if (s.properties || s.additionalProperties) return [s];
  return [...(s.anyOf ?? []), ...(s.oneOf ?? [])].flatMap(objectSchemas);
}

/**
 * The fields of obj (nested objects too, as `/a/b`, arrays as `*`) that
 * Stripe's schema of `kind` does not name, leaving out Switchyard's
 * documented extensions at the top. Stripe's schemas allow them, so this is
 * information, not a violation.
 */
export function unknownFields(kind, obj) {
  const found = new Set();
  const walk = (schema, value, at) => {
    if (Array.isArray(value)) {
      const items = resolve(schema)?.items;
      if (items) value.forEach((v) => walk(items, v, `${at}/*`));
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const candidates = objectSchemas(schema);
    if (candidates.length !== 1) return; // ambiguous or not an object
    const s = candidates[0];
    for (const [k, v] of Object.entries(value)) {
      if (at === '' && EXTENSION_FIELDS[kind]?.includes(k)) continue;
      if (s.properties && k in s.properties) walk(s.properties[k], v, `${at}/${k}`);
      else if (s.additionalProperties && typeof s.additionalProperties === 'object') walk(s.additionalProperties, v, `${at}/*`);
      else if (!s.properties) continue;
      else found.add(`${at}/${k}`);
    }
  };
  walk(SCHEMAS[kind], obj, '');
  return [...found].sort();
}

/** Stripe's operation for a method and a path (a template or a concrete path). */
export function stripeOperation(method, p) {
  const m = method.toLowerCase();
  const bare = p.split('?')[0].replace(/\/+$/, '') || '/';
  if (SPEC.paths[bare]?.[m]) return { template: bare, op: SPEC.paths[bare][m] };
  const segs = bare.split('/');
  // Literal segments win over {params} (/v1/payment_intents/search is not
  // /v1/payment_intents/{intent}).
  let best = null;
  for (const [template, item] of Object.entries(SPEC.paths)) {
    if (!item[m]) continue;
    const t = template.split('/');
    if (t.length !== segs.length) continue;
    let literal = 0;
    let ok = true;
    for (let i = 0; i < t.length && ok; i++) {
      if (/^\{.+\}$/.test(t[i])) continue;
      if (t[i] === segs[i]) literal++;
      else ok = false;
    }
    if (ok && (!best || literal > best.literal)) best = { template, op: item[m], literal };
  }
  return best && { template: best.template, op: best.op };
}

/**
 * The names of the parameters Stripe's operation accepts: the properties of
 * its form request body for POST (top-level names, as `metadata` for
 * `metadata[k]`), its query parameters for GET and DELETE (`expand` for
 * `expand[]`). Path parameters are not included. null when Stripe has no
 * such operation.
 */
export function pathParams(method, p) {
  const found = stripeOperation(method, p);
  if (!found) return null;
  const { op } = found;
  const names = new Set();
  if (method.toUpperCase() === 'POST') {
    const body = op.requestBody?.content?.['application/x-www-form-urlencoded']?.schema;
    for (const k of Object.keys(resolve(body)?.properties ?? {})) names.add(k);
  } else {
    for (const prm of op.parameters ?? []) if (prm.in === 'query') names.add(prm.name);
  }
  return [...names].sort();
}
