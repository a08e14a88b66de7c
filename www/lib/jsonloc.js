// Where things are in a JSON text: maps RFC 6901 JSON Pointers to offsets.
//
// The engine reports every Issue with a JSON Pointer into the rule set
// (docs/engine.md, Issues). The editor shows it at its place, so it needs, for
// each pointer, where the value (and, for object members, its key) sits in the
// text the person typed. JSON.parse does not say, hence this small parser. It
// accepts exactly JSON (RFC 8259); on a syntax error it reports the offset.

/** Escapes one reference token (RFC 6901 section 3). */
export function escapeToken(token) {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Splits a pointer into unescaped tokens. "" is the whole document. */
export function splitPointer(pointer) {
  if (pointer === '' || pointer == null) return [];
  if (pointer[0] !== '/') return [pointer];
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

class JsonSyntaxError extends Error {
  constructor(message, offset) {
    super(message);
    this.offset = offset;
  }
}

/**
 * Parses `text` and indexes every value by its pointer.
 * Returns { ok: true, value, nodes } or { ok: false, error: { message, offset } , nodes }
 * where nodes is a Map pointer -> { start, end, keyStart?, keyEnd?, kind }.
 * On error, nodes holds what was indexed before the error.
 */
export function indexJson(text) {
  const nodes = new Map();
  let i = 0;
  const n = text.length;

  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) i++;
      else break;
    }
  };
  const fail = (msg, at = i) => {
    throw new JsonSyntaxError(msg, Math.min(at, n));
  };
  const describe = () => (i >= n ? 'end of text' : `'${text[i]}'`);

  function string() {
    const start = i;
    i++; // opening quote
    let out = '';
    while (true) {
      if (i >= n) fail('unterminated string', start);
      const c = text[i];
      if (c === '"') {
        i++;
        return out;
      }
      if (c === '\\') {
        const e = text[i + 1];
        const map = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e in map) {
          out += map[e];
          i += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else fail('invalid escape in string');
      } else if (text.charCodeAt(i) < 0x20) {
        fail('control character in string (write \\n for a line break)');
      } else {
        out += c;
        i++;
      }
    }
  }

  function value(ptr, keyStart, keyEnd) {
    ws();
    const start = i;
    const node = { start, end: start, kind: 'value' };
    if (keyStart !== undefined) {
      node.keyStart = keyStart;
      node.keyEnd = keyEnd;
    }
    nodes.set(ptr, node);
    if (i >= n) fail('expected a value, found end of text');
    const c = text[i];
    let v;
    if (c === '{') {
      node.kind = 'object';
      i++;
      v = {};
      ws();
      if (text[i] === '}') {
        i++;
      } else {
        while (true) {
          ws();
          if (text[i] !== '"') fail(`expected a "key" in double quotes, found ${describe()}`);
          const ks = i;
          const key = string();
          const ke = i;
          ws();
          if (text[i] !== ':') fail(`expected ':' after key "${key}", found ${describe()}`);
          i++;
          v[key] = value(ptr + '/' + escapeToken(key), ks, ke);
          ws();
          if (text[i] === ',') {
            i++;
            ws();
            if (text[i] === '}') fail("trailing comma before '}'");
            continue;
          }
          if (text[i] === '}') {
            i++;
            break;
          }
          fail(`expected ',' or '}' after a member, found ${describe()}`);
        }
      }
    } else if (c === '[') {
      node.kind = 'array';
      i++;
      v = [];
      ws();
      if (text[i] === ']') {
        i++;
      } else {
        while (true) {
          v.push(value(ptr + '/' + v.length));
          ws();
          if (text[i] === ',') {
            i++;
            ws();
            if (text[i] === ']') fail("trailing comma before ']'");
            continue;
          }
          if (text[i] === ']') {
            i++;
            break;
          }
          fail(`expected ',' or ']' after an element, found ${describe()}`);
        }
      }
    } else if (c === '"') {
      v = string();
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      if (!m) fail('invalid number');
      i += m[0].length;
      v = Number(m[0]);
    } else if (text.startsWith('true', i)) {
      i += 4;
      v = true;
    } else if (text.startsWith('false', i)) {
      i += 5;
      v = false;
    } else if (text.startsWith('null', i)) {
      i += 4;
      v = null;
    } else if (c === "'") {
      fail('strings take double quotes in JSON');
    } else {
      fail(`expected a value, found ${describe()}`);
    }
    node.end = i;
    return v;
  }

  try {
    const v = value('');
    ws();
    if (i < n) fail(`unexpected ${describe()} after the end of the rule set`);
    return { ok: true, value: v, nodes };
  } catch (e) {
    if (e instanceof JsonSyntaxError) return { ok: false, error: { message: e.message, offset: e.offset }, nodes };
    throw e;
  }
}

// Issue codes whose pointer names an object key: the key is the place to mark.
const KEY_CODES = new Set(['unknown_key', 'unknown_operator', 'operator_not_allowed']);

/**
 * Where to mark an Issue in the text: { start, end, exact }.
 * `exact` is false when the pointer does not exist in the text (a missing key):
 * the nearest existing ancestor is marked instead.
 */
export function placePointer(nodes, pointer, code) {
  const tokens = splitPointer(pointer);
  let exact = true;
  let node = null;
  for (let k = tokens.length; k >= 0; k--) {
    const p = k === 0 ? '' : '/' + tokens.slice(0, k).map(escapeToken).join('/');
    node = nodes.get(p);
    if (node) break;
    exact = false;
  }
  if (!node) return { start: 0, end: 0, exact: false };
  if (exact && KEY_CODES.has(code) && node.keyStart !== undefined) {
    return { start: node.keyStart, end: node.keyEnd, exact };
  }
  if (node.kind === 'object' || node.kind === 'array' || !exact) {
    // A container: mark its key (if any) and its opening bracket, not every line.
    const start = node.keyStart ?? node.start;
    return { start, end: node.start + 1, exact };
  }
  return { start: node.start, end: node.end, exact };
}

/** Line and column (both 1-based) of an offset. */
export function lineCol(text, offset) {
  let line = 1;
  let last = -1;
  for (let k = 0; k < offset && k < text.length; k++) {
    if (text.charCodeAt(k) === 10) {
      line++;
      last = k;
    }
  }
  return { line, col: offset - last };
}
