// Where a condition snippet may go in the draft, so that the text stays
// valid JSON: in place of a selected object inside the rule set (a
// condition), inside an array (an `all` or `any` list) with the commas it
// needs on either side, or as a missing value right after a key's colon.
// Any other selection (the whole rule set, part of a value) is never
// replaced: the snippet goes at its end, or nowhere.
// Anywhere else (outside the rule set, inside a string, between an
// object's keys) there is no place: `null`, and the page says where to put
// the cursor. Pure: the page and the Node tests use it alike.

/** The innermost container at `pos`, and whether `pos` is inside a string. */
function contextAt(text, pos) {
  const stack = [];
  let inString = false;
  for (let i = 0; i < pos; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') stack.push(c);
    else if (c === '}' || c === ']') stack.pop();
  }
  return { container: stack.at(-1) ?? null, inString };
}

function prevChar(text, pos) {
  for (let i = pos - 1; i >= 0; i--) if (!/\s/.test(text[i])) return text[i];
  return '';
}

function nextChar(text, pos) {
  for (let i = pos; i < text.length; i++) if (!/\s/.test(text[i])) return text[i];
  return '';
}

function parses(text) {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The insertion of `snippet` for the selection `start`..`end` of `text`:
 * `{ at, end, insert }` (replace `at`..`end` by `insert`, commas
 * included), or `null` when there is no place a condition can go. A draft
 * that was valid JSON stays valid.
 */
export function conditionInsertion(text, start, end, snippet) {
  const valid = parses(text);
  const keepsValid = (at, to, insert) => !valid || parses(text.slice(0, at) + insert + text.slice(to));
  if (start < end) {
    // A selected object inside the rule set (not the rule set itself):
    // replaced by the condition.
    const sel = text.slice(start, end);
    const lead = sel.length - sel.trimStart().length;
    const trail = sel.length - sel.trimEnd().length;
    const [a, b] = [start + lead, end - trail];
    const { container, inString } = contextAt(text, a);
    let isObject = false;
    try {
      const v = JSON.parse(text.slice(a, b));
      isObject = v !== null && typeof v === 'object' && !Array.isArray(v);
    } catch {
      isObject = false;
    }
    if (isObject && container !== null && !inString && keepsValid(a, b, snippet)) {
      return { at: a, end: b, insert: snippet };
    }
  }
  const caret = end;
  const { container, inString } = contextAt(text, caret);
  if (inString || container === null) return null;
  const p = prevChar(text, caret);
  const n = nextChar(text, caret);
  let insert;
  if (container === '[') {
    const lead = p === '[' || p === ',' ? '' : ', ';
    const trail = n === ']' || n === ',' || n === '' ? '' : ', ';
    insert = lead + snippet + trail;
  } else if (p === ':') {
    // A key whose value is missing (`"if": |`).
    insert = snippet + (n === '"' ? ', ' : '');
  } else {
    return null;
  }
  return keepsValid(caret, caret, insert) ? { at: caret, end: caret, insert } : null;
}
