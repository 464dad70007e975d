import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, EventStore } from '../../src/index.ts';

describe('EventStore.readVersions', () => {
  it('returns the events of a version range in append order with the next version to read', () => {
    const store = new EventStore<number>({ capacity: 10, partitions: 1 });
    store.tryAppendBatch([0, 1, 2, 3, 4]);
    assert.deepEqual(store.readVersions(0, 1, 3), { events: [1, 2, 3], firstVersion: 0, nextVersion: 4 });
    assert.deepEqual(store.readVersions(0, 3, 100), { events: [3, 4], firstVersion: 0, nextVersion: 5 });
    assert.deepEqual(store.readVersions(0, 5, 10), { events: [], firstVersion: 0, nextVersion: 5 });
    assert.deepEqual(store.readVersions(0, 9, 10), { events: [], firstVersion: 0, nextVersion: 5 });
    assert.deepEqual(store.readVersions(0, 0, 0), { events: [], firstVersion: 0, nextVersion: 0 });
  });

  it('reports evicted versions through firstVersion and starts at the oldest held event', () => {
    const store = new EventStore<number>({ capacity: 4, partitions: 1 });
    for (let i = 0; i < 10; i++) store.tryAppend(i);
    const r = store.readVersions(0, 2, 3);
    assert.equal(r.firstVersion, 6);
    assert.deepEqual(r.events, [6, 7, 8]);
    assert.equal(r.nextVersion, 9);
    assert.deepEqual(store.readVersions(0, 7, 10).events, [7, 8, 9]);
  });

  it('reads across the ring wrap and keeps versions after clear()', () => {
    const store = new EventStore<number>({ capacity: 3, partitions: 1 });
    for (let i = 0; i < 5; i++) store.tryAppend(i);
    assert.deepEqual(store.readVersions(0, 2, 3).events, [2, 3, 4]);
    store.clear();
    assert.deepEqual(store.readVersions(0, 0, 10), { events: [], firstVersion: 5, nextVersion: 5 });
    store.tryAppend(5);
    assert.deepEqual(store.readVersions(0, 5, 10), { events: [5], firstVersion: 5, nextVersion: 6 });
  });

  it('reads one partition of a partitioned store by its own versions', () => {
    const store = new EventStore<number>({ capacity: 8, partitions: 2 });
    store.tryAppendBatch([10, 11], 1);
    store.tryAppend(20, 0);
    assert.deepEqual(store.readVersions(1, 0, 10).events, [10, 11]);
    assert.deepEqual(store.readVersions(0, 0, 10).events, [20]);
  });

  it('rejects a bad partition, version or limit with ES_ERR_INVALID_ARG', () => {
    const store = new EventStore<number>({ capacity: 4, partitions: 1 });
    for (const args of [
      [1, 0, 1],
      [0, -1, 1],
      [0, 0.5, 1],
      [0, 0, -1],
      [0, 0, Number.NaN],
    ] as const) {
      assert.throws(
        () => store.readVersions(args[0], args[1], args[2]),
        (err: { code?: string }) => err.code === ErrorCode.INVALID_ARG,
      );
    }
  });
});
