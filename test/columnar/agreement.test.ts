// The same events in EventStore<T> and in ColumnarEventStore give the same aggregates.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ColumnarEventStore, EventStore } from '../../src/index.ts';
import { mulberry32 } from '../helpers/random.ts';

interface Metric {
  timestamp: number;
  value: number;
  label: string;
}

function events(seed: number, n: number): Metric[] {
  const rnd = mulberry32(seed);
  return Array.from({ length: n }, () => ({
    // Out-of-order times on purpose: both stores must stay exact.
    timestamp: 10_000 + Math.floor(rnd() * 5000),
    value: Math.round(rnd() * 1e6) / 64,
    label: `k${Math.floor(rnd() * 12)}`,
  }));
}

describe('ColumnarEventStore and EventStore agree', () => {
  for (const seed of [1, 2, 3]) {
    it(`on count, sum, min, max, average, window and groupBy (seed ${seed}), including after overwrites`, () => {
      const all = events(seed, 3000);
      const capacity = 2048; // both keep the newest 2048 of one partition
      const objects = new EventStore<Metric>({
        capacity,
        partitions: 1,
        timestampSelector: (e) => e.timestamp,
      });
      const columns = ColumnarEventStore.create({
        columns: { value: 'f64', label: 'key' },
        capacity,
        partitions: 1,
      });
      objects.tryAppendBatch(all);
      columns.tryAppendBatch(all);
      const value = (e: Metric) => e.value;
      for (const q of [{}, { from: 11_000 }, { to: 12_500 }, { from: 12_000, to: 13_000 }]) {
        assert.equal(columns.count(q), objects.count(q));
        assert.equal(columns.sum('value', q), objects.sum(value, q));
        assert.equal(columns.min('value', q), objects.min(value, q));
        assert.equal(columns.max('value', q), objects.max(value, q));
        assert.equal(columns.average('value', q), objects.average(value, q));
        assert.deepEqual(columns.window('value', q), objects.window(value, q));
        const g1 = columns.groupBy('label', 'value', q);
        const g2 = objects.groupBy((e) => e.label, value, q);
        assert.equal(g1.size, g2.size);
        for (const [k, g] of g2) assert.deepEqual(g1.get(k), g);
        // The row-by-row path (a filter, and a where on the key column).
        const f1 = columns.groupBy('label', 'value', { ...q, filter: (c, s) => c.value[s]! > 5000 });
        const f2 = objects.groupBy((e) => e.label, value, { ...q, filter: (e) => e.value > 5000 });
        assert.deepEqual(new Map([...f1].sort()), new Map([...f2].sort()));
        const w1 = columns.groupBy('label', 'value', { ...q, where: { label: 'k3' } });
        const w2 = objects.groupBy((e) => e.label, value, { ...q, filter: (e) => e.label === 'k3' });
        assert.deepEqual(new Map([...w1].sort()), new Map([...w2].sort()));
      }
      assert.deepEqual(columns.snapshot(), objects.snapshot());
    });
  }
});
