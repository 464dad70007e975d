import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ErrorCode } from '../src/errors.ts';
import { checkJsonText, numberRoundTrips, stringifyJson } from '../src/json.ts';

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

function deep(depth: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { k: v };
  return v;
}

describe('numberRoundTrips', () => {
  it('accepts numbers a 64-bit float holds exactly, in any spelling', () => {
    for (const t of [
      '0',
      '-0',
      '0.0',
      '1',
      '-1',
      '0.1',
      '1e22',
      '1E+22',
      '100000000000000000000000',
      '9007199254740991',
      '123456789012345',
      '1.5e-300',
      '5e-324',
      '1.7976931348623157e308',
      '0.30000000000000004',
    ]) {
      assert.ok(numberRoundTrips(t), t);
    }
  });

  it('refuses numbers that overflow, underflow or lose digits', () => {
    for (const t of [
      '1e400',
      '-1e400',
      '1e-400',
      '12345678901234567890123',
      '9007199254740993',
      '0.1000000000000000055511151231257827',
      '2e-324',
    ]) {
      assert.equal(numberRoundTrips(t), false, t);
    }
  });

  it('agrees with parse-then-print for random doubles (seeded)', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (d) => {
        const text = JSON.stringify(d);
        return numberRoundTrips(text);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});

describe('checkJsonText', () => {
  it('accepts a value exactly at the depth limit and refuses one level more, naming the byte', () => {
    assert.doesNotThrow(() => checkJsonText(bytes(JSON.stringify(deep(5))), 5, 'x'));
    const text = JSON.stringify(deep(6));
    let opened = 0;
    const sixth = [...text].findIndex((c) => (c === '[' || c === '{') && ++opened === 6);
    assert.throws(
      () => checkJsonText(bytes(text), 5, 'the body'),
      (err: { code?: string; message?: string }) =>
        err.code === ErrorCode.JSON_TOO_DEEP &&
        (err.message ?? '').includes(
          `the body nests arrays and objects deeper than 5 levels (at byte ${sixth})`,
        ),
    );
  });

  it('does not count brackets or braces inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ s: '[[[[{{{{\\"]]]]', t: '\\\\', u: '"[' });
    assert.doesNotThrow(() => checkJsonText(bytes(text), 1, 'x'));
  });

  it('refuses an unrepresentable number anywhere, but not digits inside strings', () => {
    assert.throws(
      () => checkJsonText(bytes('{"a":[1,2,{"b":1e400}]}'), 10, 'x'),
      (err: { code?: string }) => err.code === ErrorCode.UNREPRESENTABLE_NUMBER,
    );
    assert.throws(
      () => checkJsonText(bytes('[12345678901234567890123]'), 10, 'x'),
      (err: { code?: string }) => err.code === ErrorCode.UNREPRESENTABLE_NUMBER,
    );
    assert.doesNotThrow(() => checkJsonText(bytes('{"a":"1e400","12345678901234567890123":0}'), 10, 'x'));
  });

  it('agrees with a recursive depth count on random JSON (seeded)', () => {
    const depthOf = (v: unknown): number =>
      typeof v === 'object' && v !== null
        ? 1 + Math.max(0, ...Object.values(v as Record<string, unknown>).map(depthOf))
        : 0;
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 9 }), (v, limit) => {
        const text = JSON.stringify(v);
        let ok = true;
        try {
          checkJsonText(bytes(text), limit, 'x');
        } catch (err) {
          if ((err as { code?: string }).code !== ErrorCode.JSON_TOO_DEEP) throw err;
          ok = false;
        }
        return ok === depthOf(JSON.parse(text)) <= limit;
      }),
      { seed: 7, numRuns: 3000 },
    );
  });
});

describe('stringifyJson', () => {
  it('writes what JSON.stringify writes for parsed values (seeded)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => stringifyJson(v) === JSON.stringify(v)),
      { seed: 3, numRuns: 2000 },
    );
  });

  it('writes a value nested 100,000 levels deep, which JSON.stringify cannot', () => {
    const text = `${'['.repeat(50_000)}{"a":${'{"b":'.repeat(50_000)}1${'}'.repeat(50_001)}${']'.repeat(50_000)}`;
    const value = JSON.parse(text) as unknown;
    assert.throws(() => JSON.stringify(value), RangeError);
    assert.equal(stringifyJson(value), text);
  });
});
