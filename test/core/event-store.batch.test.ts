// Stores whose appends run no user code (no selectors, no partition key, overwrite, no discard
// callback) take their own paths: tryAppend skips the time and value columns, tryAppendBatch writes
// each partition's share in one pass. Both must keep exactly the events a plain model keeps, and a
// batch must leave the counters and round-robin turn that appending one by one leaves.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EventStore, type EventStoreOptions } from '../../src/index.ts';

const SEED = process.env.LFES_BATCH_SEED === undefined ? undefined : Number(process.env.LFES_BATCH_SEED);

interface Setup {
  partitions: number;
  perPartition: number;
  withCapacityCallback: boolean;
  enableWindowTracking: boolean | undefined;
  steps: { batch: number; partition: number | undefined }[];
}

const setupArb: fc.Arbitrary<Setup> = fc.record({
  partitions: fc.integer({ min: 1, max: 5 }),
  perPartition: fc.integer({ min: 1, max: 9 }),
  withCapacityCallback: fc.boolean(),
  enableWindowTracking: fc.constantFrom(undefined, true, false),
  steps: fc.array(
    fc.record({
      batch: fc.integer({ min: 0, max: 40 }),
      partition: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined, freq: 3 }),
    }),
    { maxLength: 12 },
  ),
});

function stores(s: Setup): { batched: EventStore<number>; single: EventStore<number>; calls: number[] } {
  const calls = [0, 0];
  const make = (i: number): EventStore<number> => {
    const options: EventStoreOptions<number> = {
      partitions: s.partitions,
      capacityPerPartition: s.perPartition,
    };
    if (s.withCapacityCallback) options.onCapacityReached = () => calls[i]!++;
    if (s.enableWindowTracking !== undefined) {
      options.enableWindowTracking = s.enableWindowTracking;
      options.timestampSelector = (e) => e; // ignored for time when tracking is off
    }
    return new EventStore<number>(options);
  };
  return { batched: make(0), single: make(1), calls };
}

function partitionContents(store: EventStore<number>): number[][] {
  return Array.from({ length: store.partitions }, (_, p) => store.query({ partition: p }));
}

describe('EventStore appends without selectors or discard callbacks', () => {
  it('keep the newest events routed to each partition, and batches leave the same counters and round-robin turn as one-by-one appends', () => {
    let next = 0;
    const property = fc.property(setupArb, (s) => {
      const { batched, single, calls } = stores(s);
      // The model: round-robin (or the explicit partition) routing, each partition keeps its newest events.
      const model: number[][] = Array.from({ length: s.partitions }, () => []);
      let turn = 0;
      for (const step of s.steps) {
        const partition = step.partition === undefined ? undefined : step.partition % s.partitions;
        const events = Array.from({ length: step.batch }, () => next++);
        for (const e of events) {
          const p = partition ?? turn;
          if (partition === undefined) turn = (turn + 1) % s.partitions;
          model[p]!.push(e);
          if (model[p]!.length > s.perPartition) model[p]!.shift();
        }
        assert.equal(batched.tryAppendBatch(events, partition), events.length);
        for (const e of events) assert.equal(single.tryAppend(e, partition), true);
        assert.deepEqual(partitionContents(single), model, 'one by one vs model');
        assert.deepEqual(partitionContents(batched), model, 'batch vs model');
        assert.deepEqual(batched.snapshot(), single.snapshot());
        assert.equal(batched.size, single.size);
        assert.equal(batched.statistics.totalAppended, single.statistics.totalAppended);
        assert.equal(batched.statistics.totalDiscarded, single.statistics.totalDiscarded);
        assert.equal(calls[0], calls[1], 'onCapacityReached calls');
      }
      // The next round-robin append lands in the same partition in both stores.
      batched.tryAppend(-1);
      single.tryAppend(-1);
      assert.deepEqual(partitionContents(batched), partitionContents(single));
    });
    const details = fc.check(property, SEED === undefined ? { numRuns: 400 } : { numRuns: 400, seed: SEED });
    if (details.failed) {
      assert.fail(
        `${fc.defaultReportMessage(details) ?? ''}\nreplay: LFES_BATCH_SEED=${details.seed} node scripts/run-tests.mjs test/core/event-store.batch.test.ts`,
      );
    }
  });
});
