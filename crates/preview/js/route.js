// The route call without JSON (docs/js.md, "How route crosses the
// boundary"). scripts/build-pkg.sh copies this file into www/pkg and
// installs it on the Router class at the end of switchyard.js.
//
// `router.route(payment)` without options reads the payment's known fields
// itself: the amount as a number, every string as an id of a table both
// sides keep (each string crosses once; the table is emptied when it holds
// MAX_STRINGS), the booleans as flags, into one reused Uint32Array. The
// router answers one number: the rule that decided and the split's or
// auth_rate's pick. The Decision of each number is read from the router
// once and copied for each call, so it is the same object the JSON path
// makes. Anything else - options, a card
// number (never kept in any table), a key the payment format does not
// have, a value of another type, an object that is not plain, a getter
// that throws, a payment the engine refuses - goes through the JSON path
// (the original method), whose errors are the binding's errors word for
// word.

const MAX_STRINGS = 4096;
const HEADER = 10;
const F_AMOUNT = 1;
const F_CARD = 2;
const F_BILLING = 4;
const F_OFF_SESSION = 8;
const F_OFF_SESSION_TRUE = 16;
const F_3DS = 32;
const F_3DS_TRUE = 64;
const F_METADATA = 128;

const CARD_FIELDS = ['bin', 'brand', 'country', 'funding', 'issuer'];

const isPlain = (v) => {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

export function installFastRoute(Router, intern, reset) {
  const jsonRoute = Router.prototype.route;
  const strings = new Map();
  // Per router: the Decision of each (rule, pick) number seen.
  const decisions = new WeakMap();
  let ids = new Uint32Array(HEADER + 32);
  // Counts the table's resets: ids read before one are void.
  let generation = 0;

  const idOf = (s) => {
    let id = strings.get(s);
    if (id === undefined) {
      if (strings.size >= MAX_STRINGS) {
        strings.clear();
        reset();
        generation++;
      }
      id = intern(s);
      strings.set(s, id);
    }
    return id;
  };

  // The payment's fields into `ids`; the amount, the routing key and the
  // metadata pairs' count, or null when the JSON path must read it.
  function encode(p) {
    if (!isPlain(p)) return null;
    let flags = 0;
    let amount = 0;
    let key;
    let pairs = 0;
    ids.fill(0, 0, HEADER);
    for (const k in p) {
      if (!Object.prototype.hasOwnProperty.call(p, k)) return null;
      const v = p[k];
      if (v === undefined) continue; // JSON text leaves it out too
      switch (k) {
        case 'amount':
          if (typeof v !== 'number' || !Number.isFinite(v)) return null;
          amount = v;
          flags |= F_AMOUNT;
          break;
        case 'currency':
          if (typeof v !== 'string') return null;
          ids[1] = idOf(v);
          break;
        case 'card': {
          if (!isPlain(v)) return null;
          flags |= F_CARD;
          for (const c in v) {
            if (!Object.prototype.hasOwnProperty.call(v, c)) return null;
            const x = v[c];
            if (x === undefined) continue;
            const at = CARD_FIELDS.indexOf(c);
            // A card number never enters a table: the JSON path reads it.
            if (at < 0 || typeof x !== 'string') return null;
            ids[2 + at] = idOf(x);
          }
          break;
        }
        case 'billing': {
          if (!isPlain(v)) return null;
          flags |= F_BILLING;
          for (const c in v) {
            if (!Object.prototype.hasOwnProperty.call(v, c)) return null;
            const x = v[c];
            if (x === undefined) continue;
            if (c !== 'country' || typeof x !== 'string') return null;
            ids[7] = idOf(x);
          }
          break;
        }
        case 'capture_method':
          if (typeof v !== 'string') return null;
          ids[8] = idOf(v);
          break;
        case 'off_session':
          if (typeof v !== 'boolean') return null;
          flags |= F_OFF_SESSION | (v ? F_OFF_SESSION_TRUE : 0);
          break;
        case 'three_d_secure':
          if (typeof v !== 'boolean') return null;
          flags |= F_3DS | (v ? F_3DS_TRUE : 0);
          break;
        case 'metadata': {
          if (!isPlain(v)) return null;
          flags |= F_METADATA;
          for (const m in v) {
            if (!Object.prototype.hasOwnProperty.call(v, m)) return null;
            const x = v[m];
            if (x === undefined) continue;
            if (typeof x !== 'string') return null;
            const at = HEADER + 2 * pairs;
            if (at + 2 > ids.length) {
              const bigger = new Uint32Array(ids.length * 2);
              bigger.set(ids);
              ids = bigger;
            }
            ids[at] = idOf(m);
            ids[at + 1] = idOf(x);
            pairs++;
          }
          break;
        }
        case 'routing_key':
          if (typeof v !== 'string') return null;
          key = v;
          break;
        default:
          return null;
      }
    }
    ids[0] = flags;
    ids[9] = pairs;
    return { amount, key, pairs };
  }

  Router.prototype.route = function route(payment, options) {
    if (options !== undefined) return jsonRoute.call(this, payment, options);
    let enc;
    try {
      // A payment whose strings filled the table is read again (the table
      // then starts empty); one that fills it alone goes the JSON way.
      const before = generation;
      enc = encode(payment);
      if (generation !== before) {
        const again = generation;
        enc = encode(payment);
        if (generation !== again) enc = null;
      }
    } catch {
      enc = null; // a getter that throws: the JSON path reports it
    }
    if (enc === null) return jsonRoute.call(this, payment);
    const code = this.__routeIds(enc.amount, ids.subarray(0, HEADER + 2 * enc.pairs), enc.key);
    if (code < 0) return jsonRoute.call(this, payment);
    let known = decisions.get(this);
    if (known === undefined) {
      known = new Map();
      decisions.set(this, known);
    }
    let d = known.get(code);
    if (d === undefined) {
      d = this.__decisionAt(code);
      if (d === null) return jsonRoute.call(this, payment);
      known.set(code, d);
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
