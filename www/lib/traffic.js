// Traffic files for simulation: a JSON array of payments (rules.md, Payment
// input) or a CSV with one payment per row.
//
// CSV columns are the payment's field names, dotted for nested ones
// (`card.bin`, `billing.country`, `metadata.channel`); `_` works in place of
// the dot for the well-known groups (`card_bin`). Empty cells are absent
// fields. `amount` must be an integer (minor units); booleans accept
// true/false, yes/no, 1/0.
//
// Every payment gets a routing key: the file's own `routing_key`, or, when it
// has none, its position in the list as a decimal string ("0", "1", ...),
// the key Router.simulate itself gives a keyless payment. Simulation and the
// current-vs-draft comparison (which calls route() per payment) therefore
// pick the same split side for the same payment, every run, in every runtime.

export function keyForPosition(index) {
  return String(index);
}

/** Gives every payment without a routing key a deterministic one. Mutates. */
export function assignRoutingKeys(payments) {
  for (let k = 0; k < payments.length; k++) {
    const p = payments[k];
    if (p && typeof p === 'object' && (p.routing_key === undefined || p.routing_key === null || p.routing_key === '')) {
      p.routing_key = keyForPosition(k);
    }
  }
  return payments;
}

/** Splits CSV text into rows of cells (RFC 4180: quotes, "" escapes, CRLF). */
export function parseCsvRows(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // BOM
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      cell += c;
      i++;
      continue;
    }
    if (c === '"' && cell === '') {
      quoted = true;
      i++;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
      i++;
    } else if (c === '\n' || c === '\r') {
      row.push(cell);
      cell = '';
      if (!(row.length === 1 && row[0] === '')) rows.push(row);
      row = [];
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      cell += c;
      i++;
    }
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    if (!(row.length === 1 && row[0] === '')) rows.push(row);
  }
  return rows;
}

const BOOLEAN = new Set(['off_session', 'three_d_secure']);
const GROUPS = ['card', 'billing', 'metadata'];

function columnPath(header) {
  const h = header.trim();
  if (h.includes('.')) return h.split('.');
  for (const g of GROUPS) {
    if (h.startsWith(g + '_')) return [g, h.slice(g.length + 1)];
  }
  return [h];
}

function parseBool(s) {
  const v = s.trim().toLowerCase();
  if (['true', 'yes', '1', 'y'].includes(v)) return true;
  if (['false', 'no', '0', 'n'].includes(v)) return false;
  return s; // leave it: the engine reports the wrong type with its path
}

/** CSV text to payment objects. Throws Error with a line number on a bad amount. */
export function paymentsFromCsv(text) {
  const rows = parseCsvRows(text);
  if (rows.length === 0) return [];
  const paths = rows[0].map(columnPath);
  if (!paths.some((p) => p[0] === 'amount')) {
    throw new Error('the CSV needs a header row with at least "amount" and "currency" columns');
  }
  const out = [];
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r];
    const p = {};
    for (let c = 0; c < paths.length && c < row.length; c++) {
      const raw = row[c];
      if (raw === '') continue;
      const path = paths[c];
      let v = raw;
      if (path[0] === 'amount') {
        const t = raw.trim();
        if (!/^-?\d+$/.test(t)) throw new Error(`line ${r + 1}: amount "${raw}" is not a whole number of minor units`);
        v = Number(t);
      } else if (BOOLEAN.has(path[0])) {
        v = parseBool(raw);
      } else {
        v = raw.trim();
      }
      let target = p;
      for (let k = 0; k < path.length - 1; k++) {
        target = target[path[k]] ??= {};
      }
      target[path[path.length - 1]] = v;
    }
    out.push(p);
  }
  return out;
}

/** A file's text to payments, by content: a JSON array (or {payments: [...]}) or CSV. */
export function parseTraffic(text, name = '') {
  const t = text.trimStart();
  let payments;
  if (t.startsWith('[') || t.startsWith('{') || /\.json$/i.test(name)) {
    let v;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new Error(`${name || 'the file'} is not valid JSON: ${e.message}`);
    }
    if (v && !Array.isArray(v) && Array.isArray(v.payments)) v = v.payments;
    if (!Array.isArray(v)) throw new Error('a JSON traffic file is an array of payments');
    payments = v;
  } else {
    payments = paymentsFromCsv(text);
  }
  return assignRoutingKeys(payments);
}
