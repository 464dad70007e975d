// JSON text that every part of the store can keep and give back: a bounded nesting depth and numbers
// that survive the round trip, checked on the bytes a client sent (`checkJsonText`), and a writer that
// never fails on a parsed value however deep it is (`stringifyJson`). Pure functions, no state.

import { ErrorCode, EventStoreError } from './errors.js';

/** Default bound on the nesting depth of a stored JSON value. */
export const DEFAULT_MAX_JSON_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const MINUS = 0x2d;
const COMMA = 0x2c;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

function isDigit(b: number): boolean {
  return b >= ZERO && b <= NINE;
}

/**
 * A decimal number in a canonical form: significant digits without leading or trailing zeros, and
 * the power of ten of the first digit. `undefined` digits for zero.
 */
function canonical(text: string): { digits: string; exponent: number } {
  const m = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (m === null) return { digits: '', exponent: 0 };
  const intPart = m[1]!;
  const frac = m[2] ?? '';
  const exp = Number(m[3] ?? '0');
  const all = intPart + frac;
  const lead = all.search(/[1-9]/);
  if (lead < 0) return { digits: '', exponent: 0 };
  const digits = all.slice(lead).replace(/0+$/, '');
  return { digits, exponent: exp + intPart.length - 1 - lead };
}

/**
 * Whether the number token `text` (valid JSON number syntax) means exactly the value JSON gives back
 * after parsing it: finite, and its decimal value equal to the shortest decimal of the double it
 * parses to. `1e400` (Infinity) and 23-digit integers (digits lost) do not round-trip.
 */
export function numberRoundTrips(text: string): boolean {
  const value = Number(text);
  if (!Number.isFinite(value)) return false;
  const given = canonical(text);
  if (given.digits === '') return true; // a zero, whatever its spelling
  // Up to 15 significant digits within the normal range always come back unchanged.
  if (given.digits.length <= 15 && given.exponent > -307 && given.exponent < 308) return true;
  const back = canonical(String(value).replace('e+', 'e'));
  return back.digits === given.digits && back.exponent === given.exponent;
}

/** Bytes of heap a parsed value takes per array element or object property, on top of its text. */
const SLOT_BYTES = 8;
/** Bytes of heap an array or object takes for itself. */
const CONTAINER_BYTES = 32;

/**
 * Checks JSON text that already parsed: its nesting depth is at most `maxDepth` (arrays and objects
 * each add one level) and every number round-trips (see {@link numberRoundTrips}). Throws
 * ES_ERR_JSON_TOO_DEEP or ES_ERR_UNREPRESENTABLE_NUMBER naming the byte offset. `what` names the text
 * in messages ("the request body"). One pass; strings are skipped with `indexOf`.
 *
 * Returns an estimate of the heap bytes the parsed value takes: the text's length, plus a slot per
 * array element or property and a header per array or object (an array of small integers takes four
 * times its text; strings about their text).
 */
export function checkJsonText(bytes: Uint8Array, maxDepth: number, what: string): number {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = b.length;
  let depth = 0;
  let containers = 0;
  let items = 0;
  let i = 0;
  while (i < n) {
    const c = b[i]!;
    if (c === QUOTE) {
      // Skip the string: find a quote not escaped by an odd run of backslashes.
      let j = i + 1;
      for (;;) {
        j = b.indexOf(QUOTE, j);
        if (j < 0) return n; // unterminated: cannot happen for text that parsed
        let k = j - 1;
        while (b[k] === BACKSLASH) k--;
        if ((j - 1 - k) % 2 === 0) break;
        j++;
      }
      i = j + 1;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      containers++;
      items++;
      if (++depth > maxDepth) {
        throw new EventStoreError(
          ErrorCode.JSON_TOO_DEEP,
          `${what} nests arrays and objects deeper than ${maxDepth} levels (at byte ${i}); the limit is maxJsonDepth`,
        );
      }
      i++;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
      i++;
    } else if (c === MINUS || isDigit(c)) {
      const start = i;
      let simple = true; // digits only, at most 15 of them: always round-trips
      i++;
      while (i < n) {
        const d = b[i]!;
        if (isDigit(d)) {
          i++;
        } else if (d === DOT || d === 0x65 || d === 0x45 || d === 0x2b || d === MINUS) {
          simple = false;
          i++;
        } else break;
      }
      if (!simple || i - start > 15) {
        const text = b.toString('latin1', start, i);
        if (!numberRoundTrips(text)) {
          throw new EventStoreError(
            ErrorCode.UNREPRESENTABLE_NUMBER,
            `${what} has the number ${text.slice(0, 40)} (at byte ${start}), which a 64-bit float cannot hold exactly; send it as a string`,
          );
        }
      }
    } else {
      if (c === COMMA) items++;
      i++;
    }
  }
  return n + SLOT_BYTES * items + CONTAINER_BYTES * containers;
}

/**
 * `JSON.stringify` of a JSON-compatible value that also writes values nested too deep for the
 * engine's recursive stringifier (which throws a RangeError past a few thousand levels): such values
 * are written by an explicit stack instead. Same output as `JSON.stringify` for values made by
 * `JSON.parse`.
 */
export function stringifyJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return stringifyIteratively(value);
  }
}

type Frame =
  | { kind: 'array'; items: unknown[]; next: number }
  | { kind: 'object'; entries: [string, unknown][]; next: number };

function stringifyIteratively(root: unknown): string {
  const out: string[] = [];
  const stack: Frame[] = [];
  const open = (v: unknown, inArray: boolean): void => {
    if (v === null || v === undefined || typeof v === 'function' || typeof v === 'symbol') {
      if (inArray || v === null) out.push('null');
      return;
    }
    if (typeof v !== 'object') {
      out.push(JSON.stringify(v) ?? 'null');
      return;
    }
    if (Array.isArray(v)) {
      out.push('[');
      stack.push({ kind: 'array', items: v, next: 0 });
      return;
    }
    const entries = Object.entries(v as Record<string, unknown>).filter(
      ([, x]) => x !== undefined && typeof x !== 'function' && typeof x !== 'symbol',
    );
    out.push('{');
    stack.push({ kind: 'object', entries, next: 0 });
  };
  open(root, false);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.kind === 'array') {
      if (top.next === top.items.length) {
        out.push(']');
        stack.pop();
        continue;
      }
      if (top.next > 0) out.push(',');
      open(top.items[top.next++], true);
    } else {
      if (top.next === top.entries.length) {
        out.push('}');
        stack.pop();
        continue;
      }
      if (top.next > 0) out.push(',');
      const [key, v] = top.entries[top.next++]!;
      out.push(JSON.stringify(key), ':');
      open(v, false);
    }
  }
  return out.join('');
}
