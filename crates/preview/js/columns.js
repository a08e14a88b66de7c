// Router.simulate(array): the payments as columns, one typed array or one
// string per field, so that a million payments cross into wasm in a few
// copies instead of one JSON text (crates/rules/src/columns.rs reads them).
//
// A payment is put in columns only when it is a plain object whose keys and
// values JSON.stringify would write exactly as read here; any other payment
// is flagged, and wasm reads that one from its JSON text (elementJson), as
// simulate(JSON.stringify(array)) would.

const MISSING = 0xffffffff; // a row without a value (columns.rs MISSING)

// Text columns, in the order columns.rs reads them; metadata columns follow.
const CURRENCY = 0, NUMBER = 1, BIN = 2, BRAND = 3, COUNTRY = 4, FUNDING = 5, ISSUER = 6,
  BILLING_COUNTRY = 7, CAPTURE_METHOD = 8, ROUTING_KEY = 9, FIXED = 10;

/** High-cardinality strings: one string for the column, with each row's length. */
class Joined {
  constructor(n) {
    this.parts = [];
    this.lens = null;
    this.n = n;
    this.text = '';
  }
  add(i, s) {
    if (this.lens === null) this.lens = new Uint32Array(this.n).fill(MISSING);
    this.parts.push(s);
    this.lens[i] = s.length;
    return true;
  }
  // Joins the parts; flags rows whose text is not well-formed UTF-16 (a lone
  // surrogate, which JSON.stringify escapes and the JSON path refuses).
  finish(flagged) {
    if (this.lens === null) return;
    this.text = this.parts.join('');
    if (!this.text.isWellFormed()) {
      for (let i = 0, j = 0; i < this.n; i++) {
        if (this.lens[i] === MISSING) continue;
        if (!this.parts[j++].isWellFormed()) flagged[i] = 1;
      }
    }
    this.parts = null;
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
    const row = (p, i) => {
      if (!plain(p)) return false;
      for (const k in p) {
        const v = p[k];
        // JSON.stringify leaves out a key whose value is undefined.
        if (v === undefined) continue;
        switch (k) {
          case 'amount':
            // NaN and Infinity are written as null; fractions read back
            // from JSON text within an ulp: both go the JSON way.
            if (!Number.isInteger(v)) return false;
            amount[i] = v;
            break;
          case 'currency':
            if (typeof v !== 'string' || !currency.add(i, v)) return false;
            break;
          case 'card':
            if (!card(v, i)) return false;
            break;
          case 'billing':
            if (!billing(v, i)) return false;
            break;
          case 'capture_method':
            if (typeof v !== 'string' || !captureMethod.add(i, v)) return false;
            break;
          case 'off_session':
            if (!(offSession[i] = bool(v))) return false;
            break;
          case 'three_d_secure':
            if (!(threeDSecure[i] = bool(v))) return false;
            break;
          case 'metadata':
            if (!metadata(v, i)) return false;
            break;
          case 'routing_key':
            if (typeof v !== 'string') return false;
            routingKey.add(i, v);
            break;
          default:
            return false;
        }
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
  /** Column k's text: the rows' strings (joined) or the dictionary's (interned). */
  text(k) {
    const c = this.cols[k];
    return c === undefined ? '' : c instanceof Joined ? c.text : c.dict.join('');
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
