// Router.simulate(array): the payments as columns, one typed array or one
// string per field, so that a million payments cross into wasm in a few
// copies instead of one JSON text (crates/rules/src/columns.rs reads them).
//
// A payment is put in columns only when it is a plain object whose keys and
// values JSON.stringify would write exactly as read here; any other payment
// is flagged, and wasm reads that one from its JSON text (elementJson), as
// simulate(JSON.stringify(array)) would.

const MISSING = 0xffffffff; // a row without a value (columns.rs MISSING)
const ENCODER = new TextEncoder();

// Text columns, in the order lib.rs reads them (currency, card.number,
// card.bin, card.brand, card.country, card.funding, card.issuer,
// billing.country, capture_method, routing_key); metadata columns follow.
const NUMBER = 1, BIN = 2, ROUTING_KEY = 9, FIXED = 10;

/** High-cardinality strings: one string for the column, with each row's length. */
class Joined {
  constructor(n) {
    this.lens = null;
    this.n = n;
    this.text = '';
  }
  add(i, s) {
    if (this.lens === null) this.lens = new Uint32Array(this.n).fill(MISSING);
    this.text += s;
    this.lens[i] = s.length;
    return true;
  }
  // Flags rows whose text is not well-formed UTF-16 (a lone surrogate,
  // which JSON.stringify escapes and the JSON path refuses).
  finish(flagged) {
    if (this.lens === null || this.text.isWellFormed()) return;
    for (let i = 0, at = 0; i < this.n; i++) {
      const len = this.lens[i];
      if (len === MISSING) continue;
      if (!this.text.slice(at, at + len).isWellFormed()) flagged[i] = 1;
      at += len;
    }
  }
  kind() {
    return this.lens === null ? 0 : 1;
  }
}

/** Low-cardinality strings: an id per row (0: no value) into a dictionary. */
class Interned {
  constructor(n) {
    this.ids = null;
    this.n = n;
    this.map = new Map();
    this.dict = [];
  }
  add(i, s) {
    let id = this.map.get(s);
    if (id === undefined) {
      if (!s.isWellFormed()) return false;
      this.dict.push(s);
      id = this.dict.length;
      this.map.set(s, id);
    }
    if (this.ids === null) this.ids = new Uint32Array(this.n);
    this.ids[i] = id;
    return true;
  }
  finish() {
    this.map = null;
  }
  kind() {
    return this.ids === null ? 0 : 2;
  }
}

const KEYS = new Set(['amount', 'currency', 'card', 'billing', 'capture_method', 'off_session', 'three_d_secure', 'metadata', 'routing_key']);

/** An object JSON.stringify writes as its own enumerable keys. */
function plain(o) {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return false;
  const proto = Object.getPrototypeOf(o);
  return proto === Object.prototype || proto === null;
}

/**
 * The payments as columns, or undefined when the array as a whole is not
 * one to read this way (a toJSON on it, a getter that throws, ...).
 * `metaKeys`: the metadata keys the rules read, each a column.
 */
export function paymentColumns(payments, metaKeys) {
  try {
    if (!Array.isArray(payments) || 'toJSON' in payments || Object.prototype.toJSON !== undefined) return undefined;
    // for-in then sees a payment's own keys only, as JSON.stringify does.
    for (const _ in Object.prototype) return undefined;
    return new Columns(payments, metaKeys);
  } catch (_) {
    return undefined;
  }
}

class Columns {
  constructor(payments, metaKeys) {
    const n = payments.length;
    this.n = n;
    const amount = (this.amount = new Float64Array(n).fill(NaN));
    const flagged = (this.flagged = new Uint8Array(n));
    const offSession = (this.offSession = new Int8Array(n));
    const threeDSecure = (this.threeDSecure = new Int8Array(n));
    const cols = (this.cols = []);
    for (let k = 0; k < FIXED; k++) {
      cols.push(k === NUMBER || k === BIN || k === ROUTING_KEY ? new Joined(n) : new Interned(n));
    }
    const metaIndex = new Map();
    for (const key of metaKeys) {
      metaIndex.set(key, cols.length);
      cols.push(new Interned(n));
    }
    const [currency, number, bin, brand, country, funding, issuer, billingCountry, captureMethod, routingKey] = cols;

    const card = (c, i) => {
      if (!plain(c)) return false;
      for (const k in c) {
        const v = c[k];
        if (v === undefined) continue;
        if (typeof v !== 'string') return false;
        let col;
        switch (k) {
          case 'number': col = number; break;
          case 'bin': col = bin; break;
          case 'brand': col = brand; break;
          case 'country': col = country; break;
          case 'funding': col = funding; break;
          case 'issuer': col = issuer; break;
          default: return false;
        }
        if (!col.add(i, v)) return false;
      }
      return true;
    };
    const billing = (b, i) => {
      if (!plain(b)) return false;
      for (const k in b) {
        const v = b[k];
        if (v === undefined) continue;
        if (k !== 'country' || typeof v !== 'string' || !billingCountry.add(i, v)) return false;
      }
      return true;
    };
    const metadata = (m, i) => {
      if (!plain(m)) return false;
      for (const k in m) {
        const v = m[k];
        if (v === undefined) continue;
        if (typeof v !== 'string' || !k.isWellFormed()) return false;
        const j = metaIndex.get(k);
        if (j === undefined ? !v.isWellFormed() : !cols[j].add(i, v)) return false;
      }
      return true;
    };
    const bool = (v) => (v === true ? 2 : v === false ? 1 : 0);
    // Reads the known keys directly; a payment with more keys than values
    // read here has another key, or one whose value is undefined.
    const row = (p, i) => {
      if (!plain(p)) return false;
      let keys = 0;
      for (const _ in p) keys++;
      let known = 0;
      const a = p.amount;
      if (a !== undefined) {
        if (!Number.isInteger(a)) return false;
        amount[i] = a;
        known++;
      }
      const c = p.currency;
      if (c !== undefined) {
        if (typeof c !== 'string' || !currency.add(i, c)) return false;
        known++;
      }
      const cd = p.card;
      if (cd !== undefined) {
        if (!card(cd, i)) return false;
        known++;
      }
      const b = p.billing;
      if (b !== undefined) {
        if (!billing(b, i)) return false;
        known++;
      }
      const cm = p.capture_method;
      if (cm !== undefined) {
        if (typeof cm !== 'string' || !captureMethod.add(i, cm)) return false;
        known++;
      }
      const os = p.off_session;
      if (os !== undefined) {
        if (!(offSession[i] = bool(os))) return false;
        known++;
      }
      const t = p.three_d_secure;
      if (t !== undefined) {
        if (!(threeDSecure[i] = bool(t))) return false;
        known++;
      }
      const m = p.metadata;
      if (m !== undefined) {
        if (!metadata(m, i)) return false;
        known++;
      }
      const rk = p.routing_key;
      if (rk !== undefined) {
        if (typeof rk !== 'string') return false;
        routingKey.add(i, rk);
        known++;
      }
      // Other keys are fine only with undefined values (left out of JSON).
      if (keys !== known) {
        for (const k in p) if (p[k] !== undefined && !KEYS.has(k)) return false;
      }
      return true;
    };
    for (let i = 0; i < n; i++) {
      if (!row(payments[i], i)) flagged[i] = 1;
    }
    for (const c of cols) c.finish(flagged);
  }
  /** Column k: 0 no row has a value, 1 joined, 2 interned. */
  kind(k) {
    return this.cols[k]?.kind() ?? 0;
  }
  /**
   * Column k's text, UTF-8: the rows' strings (joined) or the dictionary's
   * (interned). TextEncoder, not a string argument: wasm-bindgen copies a
   * string character by character.
   */
  text(k) {
    const c = this.cols[k];
    return ENCODER.encode(c === undefined ? '' : c instanceof Joined ? c.text : c.dict.join(''));
  }
  /** UTF-16 lengths of the pieces of text(k). */
  lens(k) {
    const c = this.cols[k];
    if (c === undefined) return new Uint32Array(0);
    return c instanceof Joined ? c.lens ?? new Uint32Array(0) : Uint32Array.from(c.dict, (s) => s.length);
  }
  /** Interned column k's row ids. */
  ids(k) {
    const c = this.cols[k];
    return c instanceof Interned && c.ids !== null ? c.ids : new Uint32Array(0);
  }
}

/**
 * Payment i as JSON.stringify(payments) writes it (toJSON gets its index as
 * key, a missing one is null), or undefined when it cannot be written.
 */
export function elementJson(payments, i) {
  try {
    const t = JSON.stringify({ [i]: payments[i] });
    if (t === '{}') return 'null';
    return t.slice(`{"${i}":`.length, -1);
  } catch (_) {
    return undefined;
  }
}
