// The route call without JSON (docs/js.md, "How route crosses the
// boundary"). scripts/build-pkg.sh copies this file into www/pkg and
// installs it on the Router class at the end of switchyard.js.
//
// `router.route(payment)` without options reads the payment's known fields
// itself and writes them into a scratch area of wasm memory: every string
// as an id of a table both sides keep (each string crosses once; the table
// is emptied when it holds MAX_STRINGS), the booleans as flags, the routing
// key as its UTF-8 bytes. Of the metadata, only the pairs the router's
// rules read are written (the others cannot change the decision, and an
// order number in metadata would otherwise fill the table). The router
// answers one number: the rule that decided and the split's or auth_rate's
// pick. The Decision of each number is read from the router once and
// copied for each call, so it is the same object the JSON path makes.
//
// Anything else - options, a card number (never kept in any table), a key
// the payment format does not have, a value of another type, a string that
// is not well-formed UTF-16 (JSON text cannot carry it), an object that is
// not plain, a getter that throws, a routing key too long, a payment the
// engine refuses - goes through the JSON path (the original method), whose
// errors are the binding's errors word for word.

const MAX_STRINGS = 4096;
// The scratch area's layout, in 32-bit words (crates/preview/src/lib.rs):
// the header, then the metadata pairs' ids. The routing key has its own
// area, of KEY_BYTES bytes (the longest routing key).
const HEADER = 9;
const KEY_BYTES = 1024;
const F_AMOUNT = 1;
const F_CARD = 2;
const F_BILLING = 4;
const F_OFF_SESSION = 8;
const F_OFF_SESSION_TRUE = 16;
const F_3DS = 32;
const F_3DS_TRUE = 64;
const F_METADATA = 128;

const own = Object.prototype.hasOwnProperty;
// An object JSON.stringify writes as its own enumerable properties: made
// by Object (or with no prototype), no toJSON. An array, a boxed
// primitive, a Date or a class instance is not. (`constructor` is read
// rather than the prototype: an inline-cached load, where
// Object.getPrototypeOf is a call.)
const isPlain = (v) =>
  v !== null &&
  typeof v === 'object' &&
  (v.constructor === Object || Object.getPrototypeOf(v) === null) &&
  v.toJSON === undefined;
// String.prototype.isWellFormed where the runtime has it (Node 20,
// Chromium 111, Firefox 119); a lone surrogate otherwise.
const wellFormed =
  typeof String.prototype.isWellFormed === 'function'
    ? (s) => s.isWellFormed()
    : (s) => !/\p{Surrogate}/u.test(s);

// Per router: its state in the glue, under a symbol.
const STATE = Symbol('switchyard.fastRoute');

/**
 * @param Router the binding's Router class
 * @param wasm `{ intern, reset, scratch, key, memory }`: the binding's
 *   __intern, __internReset, __fastScratch, __fastKey and __memory
 */
export function installFastRoute(Router, wasm) {
  const jsonRoute = Router.prototype.route;
  // String -> id; 0 for a string that is not well-formed.
  const strings = new Map();
  // Per header slot and for the metadata, the last string and its id: a
  // payment's currency, country or funding is mostly the last one's, and
  // comparing strings is several times cheaper than a Map lookup.
  // (Slots 1 to HEADER - 1 are the header's; then a metadata key's, a value's.)
  const META_KEY = HEADER;
  const META_VALUE = HEADER + 1;
  const lastString = new Array(HEADER + 2).fill(undefined);
  const lastId = new Uint32Array(HEADER + 2);
  const encoder = new TextEncoder();
  let capacity = HEADER + 64;
  let words = new Uint32Array(0);
  let bytes = new Uint8Array(0);
  // Counts the table's resets: ids read before one are void.
  let generation = 0;

  // The views of the scratch area, again after wasm memory grew (the old
  // ones are detached then, and read as empty).
  const attach = () => {
    const at = wasm.scratch(capacity);
    const memory = wasm.memory();
    words = new Uint32Array(memory.buffer, at, capacity);
    bytes = new Uint8Array(memory.buffer, wasm.key(), KEY_BYTES);
  };

  const idOf = (s) => {
    let id = strings.get(s);
    if (id === undefined) {
      if (strings.size >= MAX_STRINGS) {
        strings.clear();
        lastString.fill(undefined);
        wasm.reset();
        generation++;
      }
      id = wellFormed(s) ? wasm.intern(s) : 0;
      strings.set(s, id);
    }
    return id;
  };
  const idAt = (slot, s) => {
    if (lastString[slot] === s) return lastId[slot];
    const id = idOf(s);
    lastString[slot] = s;
    lastId[slot] = id;
    return id;
  };

  // A router's state, made at its first fast route.
  function newState(router) {
    const st = { reads: new Set(router.__metadataKeys()), decisions: new Map() };
    Object.defineProperty(router, STATE, { value: st });
    return st;
  }

  // Set by `encode`: the amount and the routing key.
  let amount = 0;
  let key;

  // The payment's fields into the scratch area; the number of metadata
  // pairs written, or -1 when the JSON path must read it.
  function encode(p, reads) {
    if (!isPlain(p)) return -1;
    const w = words;
    let flags = 0;
    let pairs = 0;
    amount = 0;
    key = undefined;
    for (let i = 1; i < HEADER; i++) w[i] = 0;
    for (const k in p) {
      if (!own.call(p, k)) return -1;
      const v = p[k];
      if (v === undefined) continue; // JSON text leaves it out too
      switch (k) {
        case 'amount':
          if (typeof v !== 'number' || !Number.isFinite(v)) return -1;
          amount = v;
          flags |= F_AMOUNT;
          break;
        case 'currency':
          if (typeof v !== 'string' || (w[1] = idAt(1, v)) === 0) return -1;
          break;
        case 'card': {
          if (!isPlain(v)) return -1;
          flags |= F_CARD;
          for (const c in v) {
            if (!own.call(v, c)) return -1;
            const x = v[c];
            if (x === undefined) continue;
            // A card number never enters a table: the JSON path reads it.
            const at = c === 'bin' ? 2 : c === 'brand' ? 3 : c === 'country' ? 4 : c === 'funding' ? 5 : c === 'issuer' ? 6 : 0;
            if (at === 0 || typeof x !== 'string' || (w[at] = idAt(at, x)) === 0) return -1;
          }
          break;
        }
        case 'billing': {
          if (!isPlain(v)) return -1;
          flags |= F_BILLING;
          for (const c in v) {
            if (!own.call(v, c)) return -1;
            const x = v[c];
            if (x === undefined) continue;
            if (c !== 'country' || typeof x !== 'string' || (w[7] = idAt(7, x)) === 0) return -1;
          }
          break;
        }
        case 'capture_method':
          if (typeof v !== 'string' || (w[8] = idAt(8, v)) === 0) return -1;
          break;
        case 'off_session':
          if (typeof v !== 'boolean') return -1;
          flags |= F_OFF_SESSION | (v ? F_OFF_SESSION_TRUE : 0);
          break;
        case 'three_d_secure':
          if (typeof v !== 'boolean') return -1;
          flags |= F_3DS | (v ? F_3DS_TRUE : 0);
          break;
        case 'metadata': {
          if (!isPlain(v)) return -1;
          flags |= F_METADATA;
          for (const m in v) {
            if (!own.call(v, m)) return -1;
            const x = v[m];
            if (x === undefined) continue;
            if (typeof x !== 'string') return -1;
            if (!reads.has(m)) {
              // Not interned, so checked here: JSON text cannot carry it.
              if (!wellFormed(m) || !wellFormed(x)) return -1;
              continue;
            }
            const at = HEADER + 2 * pairs;
            if (at + 2 > capacity) {
              // More pairs than the area holds: a larger one, and again.
              capacity *= 2;
              attach();
              return encode(p, reads);
            }
            if ((w[at] = idAt(META_KEY, m)) === 0 || (w[at + 1] = idAt(META_VALUE, x)) === 0) return -1;
            pairs++;
          }
          break;
        }
        case 'routing_key':
          if (typeof v !== 'string') return -1;
          key = v;
          break;
        default:
          return -1;
      }
    }
    w[0] = flags;
    return pairs;
  }

  // The routing key's UTF-8 bytes into the scratch area: their count, -1
  // for none, or -2 when the JSON path must read it (too long, or not
  // well-formed).
  function writeKey(k) {
    if (k === undefined) return -1;
    const n = k.length;
    if (n > KEY_BYTES) return -2;
    const b = bytes;
    for (let i = 0; i < n; i++) {
      const c = k.charCodeAt(i);
      if (c > 0x7f) {
        if (!wellFormed(k)) return -2;
        const { read, written } = encoder.encodeInto(k, b);
        return read === n ? written : -2;
      }
      b[i] = c;
    }
    return n;
  }

  Router.prototype.route = function route(payment, options) {
    if (options !== undefined) return jsonRoute.call(this, payment, options);
    const st = this[STATE] ?? newState(this);
    let pairs;
    try {
      if (words.length === 0) attach();
      // Interning may grow wasm memory (the views are then empty) or fill
      // the table (the ids read before are void): the payment is read
      // again; one that does either twice goes the JSON way.
      const before = generation;
      pairs = encode(payment, st.reads);
      if (pairs >= 0 && (generation !== before || words.length === 0)) {
        const again = generation;
        if (words.length === 0) attach();
        pairs = encode(payment, st.reads);
        if (generation !== again || words.length === 0) pairs = -1;
      }
    } catch {
      pairs = -1; // a getter that throws: the JSON path reports it
    }
    if (pairs < 0) return jsonRoute.call(this, payment);
    const keyLen = writeKey(key);
    if (keyLen === -2) return jsonRoute.call(this, payment);
    const code = this.__routeFast(amount, pairs, keyLen);
    if (code < 0) return jsonRoute.call(this, payment);
    let d = st.decisions.get(code);
    if (d === undefined) {
      d = this.__decisionAt(code);
      if (d === null) return jsonRoute.call(this, payment);
      st.decisions.set(code, d);
    }
    // A fresh object each time, as the JSON path gives: the caller may
    // change it.
    return d.action === 'decline'
      ? {
          action: d.action,
          processors: [],
          rule: d.rule,
          rule_index: d.rule_index,
          decline: { code: d.decline.code, message: d.decline.message },
        }
      : { action: d.action, processors: d.processors.slice(), rule: d.rule, rule_index: d.rule_index };
  };
}
