// The block summaries of unfiltered folds (count, sum, min, max, average, window; a block is
// summarised on its second whole read): repeated queries that reuse, skip and re-read blocks agree
// with EventStore<object> while the ring wraps and is cleared; a block overwritten while a query uses its summary is re-read from its oldest intact row;
// and a summary is never reused after the sequence numbers have gone once around their modulus.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sequenceModulus } from '../../src/columnar/layout.ts';
import { NoisePoint, TEST_HOOKS } from '../../src/columnar/test-hooks.ts';
import { ColumnarEventStore, EventStore } from '../../src/index.ts';
import { mulberry32 } from '../helpers/random.ts';

interface Metric {
  timestamp: number;
  value: number;
  label: string;
}

const BLOCK = 4096;

describe('ColumnarEventStore block summaries', () => {
  for (const seed of [7, 8]) {
    it(`agree with EventStore over repeated queries while the ring wraps and is cleared (seed ${seed})`, () => {
      const rnd = mulberry32(seed);
      // Three whole blocks and a short one: aligned blocks, ragged ends and the ring's end.
      const capacity = 3 * BLOCK + 100;
      const columns = ColumnarEventStore.create({
        columns: { value: 'f64', label: 'key' },
        capacity,
        partitions: 1,
      });
      const objects = new EventStore<Metric>({
        capacity,
        partitions: 1,
        timestampSelector: (e) => e.timestamp,
      });
      const value = (e: Metric) => e.value;
      let clock = 1_000_000;
      for (let round = 0; round < 40; round++) {
        const n = 1 + Math.floor(rnd() * (round % 7 === 0 ? 3 * capacity : 5000));
        const batch: Metric[] = [];
        for (let i = 0; i < n; i++) {
          clock += Math.floor(rnd() * 3);
          // Mostly in time order, some late rows: block time bounds must stay exact.
          const late = rnd() < 0.01 ? Math.floor(rnd() * 5000) : 0;
          // Few keys mostly; now and then a burst of many, so some blocks hold too many to summarise.
          const keys = round % 5 === 4 ? 2000 : 12;
          batch.push({
            timestamp: clock - late,
            value: Math.round(rnd() * 1e6) / 64,
            label: `k${Math.floor(rnd() * keys)}`,
          });
        }
        columns.tryAppendBatch(batch);
        objects.tryAppendBatch(batch);
        if (round % 13 === 12) {
          columns.clear();
          objects.clear();
        }
        const span = Math.max(1, Math.floor(rnd() * 3 * capacity));
        const from = clock - Math.floor(rnd() * 2 * capacity);
        const queries = [{}, { from }, { to: from }, { from, to: from + span }, { from: clock + 1 }];
        for (let repeat = 0; repeat < 3; repeat++) {
          for (const q of queries) {
            const where = `round ${round}, query ${JSON.stringify(q)}, repeat ${repeat}`;
            assert.equal(columns.count(q), objects.count(q), where);
            assert.equal(columns.sum('value', q), objects.sum(value, q), where);
            assert.deepEqual(columns.window('value', q), objects.window(value, q), where);
            assert.equal(columns.average('value', q), objects.average(value, q), where);
            const g1 = columns.groupBy('label', 'value', q);
            const g2 = objects.groupBy((e) => e.label, value, q);
            assert.equal(g1.size, g2.size, where);
            for (const [k, g] of g2) assert.deepEqual(g1.get(k), g, `${where}, key ${k}`);
          }
        }
      }
    });
  }

  it('re-reads a summarised block that is overwritten while a query uses its summary', () => {
    const store = ColumnarEventStore.create({ columns: { v: 'f64' }, partitions: 1, capacity: 2 * BLOCK });
    const writer = ColumnarEventStore.attach(store.handle);
    const rows = 2 * BLOCK;
    store.tryAppendColumns({
      timestamp: Float64Array.from({ length: rows }, (_, i) => i),
      v: new Float64Array(rows).fill(1),
    });
    assert.equal(store.sum('v'), rows); // reads both blocks
    assert.equal(store.sum('v'), rows); // reads them again and summarises them
    assert.equal(store.sum('v'), rows); // from the summaries
    let lapped = false;
    store[TEST_HOOKS] = {
      noise: (at) => {
        if (at === NoisePoint.READ_CHUNK && !lapped) {
          lapped = true;
          for (let i = 0; i < 3; i++) writer.tryAppend({ timestamp: 100_000 + i, v: 1000 });
        }
      },
    };
    // Block 0 came from its summary, but three of its rows were overwritten before the validation:
    // the query reads on from the oldest intact row; the 1000s were published after it began.
    assert.equal(store.sum('v'), rows - 3);
    assert.equal(lapped, true);
    store[TEST_HOOKS] = undefined;
    assert.equal(store.sum('v'), rows - 3 + 3000);
    assert.equal(store.count({ to: 99_999 }), rows - 3);
  });

  it('re-reads a block whose group summary is in use when it is overwritten', () => {
    const store = ColumnarEventStore.create({
      columns: { v: 'f64', k: 'key' },
      partitions: 1,
      capacity: 2 * BLOCK,
    });
    const writer = ColumnarEventStore.attach(store.handle);
    const rows = 2 * BLOCK;
    const k = new Uint32Array(rows).fill(store.keyId('a'));
    store.tryAppendColumns({
      timestamp: Float64Array.from({ length: rows }, (_, i) => i),
      v: new Float64Array(rows).fill(1),
      k,
    });
    for (let i = 0; i < 3; i++) assert.equal(store.groupBy('k', 'v').get('a')?.count, rows); // then from summaries
    let lapped = false;
    store[TEST_HOOKS] = {
      noise: (at) => {
        if (at === NoisePoint.READ_CHUNK && !lapped) {
          lapped = true;
          for (let i = 0; i < 3; i++) writer.tryAppend({ timestamp: 100_000 + i, v: 1000, k: 'late' });
        }
      },
    };
    const groups = store.groupBy('k', 'v');
    assert.equal(lapped, true);
    assert.deepEqual(Object.fromEntries(groups), {
      a: { count: rows - 3, sum: rows - 3, min: 1, max: 1, average: 1 },
    });
    store[TEST_HOOKS] = undefined;
    assert.equal(store.groupBy('k', 'v').get('late')?.sum, 3000);
    assert.equal(store.groupBy('k', 'v', { to: 99_999 }).get('a')?.count, rows - 3);
  });

  it('does not reuse a summary once the sequence numbers went around their modulus', () => {
    const capacity = 2 * BLOCK;
    const store = ColumnarEventStore.create({ columns: { v: 'f64', k: 'key' }, partitions: 1, capacity });
    const modulus = sequenceModulus(capacity);
    const ts = Float64Array.from({ length: capacity }, (_, i) => i);
    const k = new Uint32Array(capacity).fill(store.keyId('x'));
    store.tryAppendColumns({ timestamp: ts, v: new Float64Array(capacity).fill(1), k });
    for (let i = 0; i < 2; i++) {
      // The second pass summarises both blocks at their first sequences.
      assert.equal(store.sum('v'), capacity);
      assert.equal(store.groupBy('k', 'v').get('x')?.sum, capacity);
    }
    // Exactly one modulus of rows later, every slot holds the same sequence number as before, with a
    // new value: a summary keyed by the sequence alone would answer the old sum.
    const twos = new Float64Array(capacity).fill(2);
    for (let appended = 0; appended < modulus; appended += capacity) {
      store.tryAppendColumns({ timestamp: ts, v: twos, k });
    }
    assert.equal(store.sum('v'), 2 * capacity);
    assert.equal(store.max('v'), 2);
    assert.deepEqual(store.groupBy('k', 'v').get('x'), {
      count: capacity,
      sum: 2 * capacity,
      min: 2,
      max: 2,
      average: 2,
    });
  });
});
