import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventStore, hashNumber, hashString, partitionForKey } from '../../src/index.ts';
import { mulberry32 } from '../helpers/random.ts';

// Reference implementation written independently of the source: FNV-1a over bytes, then fmix32.
function fnv1aBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function utf16leBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    out[2 * i] = s.charCodeAt(i) & 0xff;
    out[2 * i + 1] = s.charCodeAt(i) >>> 8;
  }
  return out;
}

function float64leBytes(x: number): Uint8Array {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x, true);
  return new Uint8Array(view.buffer);
}

interface Keyed {
  key: string | number;
  id: number;
}

/** Partition index of every event held, read back through `query({ partition })`. */
function partitionOfIds(store: EventStore<Keyed>): Map<number, number> {
  const where = new Map<number, number>();
  for (let p = 0; p < store.partitions; p++) {
    for (const e of store.query({ partition: p })) where.set(e.id, p);
  }
  return where;
}

describe('partitioner', () => {
  it('hashes strings to fixed values, so a change of hash function is caught', () => {
    const expected: [string, number][] = [
      ['', 2872998923],
      ['a', 2448022055],
      ['orders', 3502484104],
      ['cpu', 3498010316],
      ['mem', 1300572598],
      ['ação', 94320182],
      ['user-42', 3490821851],
    ];
    for (const [key, hash] of expected) assert.equal(hashString(key), hash, `hashString(${key})`);
  });

  it('hashes numbers to fixed values, so a change of hash function is caught', () => {
    const expected: [number, number][] = [
      [0, 3138444313],
      [1, 2577657881],
      [-1, 1964555318],
      [42, 2373469114],
      [3.5, 3976141334],
      [1e15, 3032071795],
      [Number.POSITIVE_INFINITY, 1525660771],
    ];
    for (const [key, hash] of expected) assert.equal(hashNumber(key), hash, `hashNumber(${key})`);
  });

  it('maps keys to fixed partitions for 8 and 7 partitions', () => {
    const expected: [string | number, number, number][] = [
      ['', 3, 4],
      ['a', 7, 3],
      ['orders', 0, 0],
      ['cpu', 4, 3],
      ['mem', 6, 3],
      ['user-42', 3, 6],
      [0, 1, 4],
      [1, 1, 1],
      [-1, 6, 5],
      [42, 2, 2],
      [3.5, 6, 4],
    ];
    for (const [key, p8, p7] of expected) {
      assert.equal(partitionForKey(key, 8), p8, `partitionForKey(${String(key)}, 8)`);
      assert.equal(partitionForKey(key, 7), p7, `partitionForKey(${String(key)}, 7)`);
    }
  });

  it('is FNV-1a over UTF-16LE code units (strings) and float64 LE bytes (numbers), then fmix32', () => {
    for (const key of ['', 'x', 'orders/eu', 'ünïcødé', '😀']) {
      assert.equal(hashString(key), fnv1aBytes(utf16leBytes(key)), `string ${key}`);
    }
    for (const key of [1, -1, 0.1, 2 ** 53, -1e-300, Number.NEGATIVE_INFINITY]) {
      assert.equal(hashNumber(key), fnv1aBytes(float64leBytes(key)), `number ${key}`);
    }
  });

  it('hashes -0 like 0 and every NaN like one NaN', () => {
    assert.equal(hashNumber(-0), hashNumber(0));
    assert.equal(partitionForKey(-0, 13), partitionForKey(0, 13));
    const otherNaN = new Float64Array(new Uint32Array([1, 0x7ff80000]).buffer)[0]!;
    assert.ok(Number.isNaN(otherNaN));
    assert.equal(hashNumber(otherNaN), hashNumber(Number.NaN));
  });

  it('always gives partition 0 with one partition and a partition in range otherwise', () => {
    const rnd = mulberry32(1);
    for (let i = 0; i < 200; i++) {
      const key = i % 2 === 0 ? `k${Math.floor(rnd() * 1e9)}` : rnd() * 1e6 - 5e5;
      assert.equal(partitionForKey(key, 1), 0);
      const p = partitionForKey(key, 5);
      assert.ok(Number.isInteger(p) && p >= 0 && p < 5, `key ${key} -> ${p} (seed 1)`);
    }
  });

  it('spreads sequential keys over every partition roughly evenly', () => {
    const partitions = 8;
    for (const makeKey of [(i: number) => `sensor-${i}`, (i: number) => i]) {
      const counts = new Array<number>(partitions).fill(0);
      for (let i = 0; i < 8000; i++) counts[partitionForKey(makeKey(i), partitions)]!++;
      for (const c of counts) assert.ok(c > 700 && c < 1300, `counts ${counts.join(',')}`);
    }
  });

  it('routes the same key to the same partition for single and batch appends', () => {
    const partitions = 6;
    const keys: (string | number)[] = ['a', 'b', 'orders', 7, -3, 2.25, 'cpu', 0, -0];
    const single = new EventStore<Keyed>({ capacity: 600, partitions, partitionKey: (e) => e.key });
    const batch = new EventStore<Keyed>({ capacity: 600, partitions, partitionKey: (e) => e.key });
    const events: Keyed[] = [];
    for (let i = 0; i < 90; i++) events.push({ key: keys[i % keys.length]!, id: i });
    for (const e of events) assert.equal(single.tryAppend(e), true);
    // Large and small batches take the same routing.
    assert.equal(batch.tryAppendBatch(events.slice(0, 5)), 5);
    assert.equal(batch.tryAppendBatch(events.slice(5)), 85);
    const a = partitionOfIds(single);
    const b = partitionOfIds(batch);
    assert.equal(a.size, 90);
    for (const e of events) {
      const expected = partitionForKey(e.key, partitions);
      assert.equal(a.get(e.id), expected, `single append of key ${String(e.key)}`);
      assert.equal(b.get(e.id), expected, `batch append of key ${String(e.key)}`);
    }
  });

  it('routes the number keys 0 and -0 to one partition', () => {
    const store = new EventStore<Keyed>({ capacity: 64, partitions: 16, partitionKey: (e) => e.key });
    store.tryAppend({ key: 0, id: 1 });
    store.tryAppend({ key: -0, id: 2 });
    const where = partitionOfIds(store);
    assert.equal(where.get(1), where.get(2));
    assert.equal(where.get(1), partitionForKey(0, 16));
  });

  it('routes without a partition key round-robin over every partition', () => {
    const store = new EventStore<Keyed>({ capacity: 40, partitions: 4 });
    for (let i = 0; i < 10; i++) store.tryAppend({ key: 0, id: i });
    const where = partitionOfIds(store);
    for (let i = 0; i < 10; i++) assert.equal(where.get(i), i % 4, `event ${i}`);
  });
});
