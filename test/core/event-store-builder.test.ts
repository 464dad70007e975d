import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { ErrorCode, EventStore, EventStoreBuilder, EventStoreError } from '../../src/index.ts';

interface Ev {
  id: number;
  t: number;
  v: number;
  key: string;
}

const ev = (id: number, t = id, v = id, key = 'k'): Ev => ({ id, t, v, key });

function invalidArg(fn: () => unknown, name: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof EventStoreError);
    assert.equal(err.code, ErrorCode.INVALID_ARG);
    assert.ok(err.message.includes(`\`${name}\``), err.message);
    return true;
  });
}

describe('EventStoreBuilder', () => {
  it('creates a store with the defaults when no option is set', () => {
    const store = new EventStoreBuilder<Ev>().create();
    assert.ok(store instanceof EventStore);
    assert.equal(store.partitions, availableParallelism());
    assert.equal(store.capacity, availableParallelism() * 100_000);
    assert.equal(store.isEmpty, true);
  });

  it('reports back a total capacity and partition count', () => {
    const store = new EventStoreBuilder<Ev>().withCapacity(100).withPartitions(4).create();
    assert.equal(store.capacity, 100, 'the total, not per partition');
    assert.equal(store.partitions, 4);
  });

  it('sets slots per partition with withCapacityPerPartition', () => {
    const store = new EventStoreBuilder<Ev>().withCapacityPerPartition(5).withPartitions(3).create();
    assert.equal(store.capacity, 15);
  });

  it('returns the builder from every with method, so calls chain', () => {
    const b = new EventStoreBuilder<Ev>();
    const steps = [
      b.withCapacity(10),
      b.withPartitions(2),
      b.withPartitionKey((e) => e.key),
      b.withOverflow('reject'),
      b.onDiscarded(() => {}),
      b.onCapacityReached(() => {}),
      b.withTimestampSelector((e) => e.t),
      b.withEnableWindowTracking(true),
      b.withWindow({ sizeMs: 100, value: (e) => e.v }),
      b.withFalseSharingProtection(true),
    ];
    for (const step of steps) assert.equal(step, b);
    assert.equal(b.create().capacity, 10);
  });

  it('passes every option through to the store', () => {
    const discarded: number[] = [];
    let reached = 0;
    const store = new EventStoreBuilder<Ev>()
      .withCapacity(2)
      .withPartitions(1)
      .withPartitionKey((e) => e.key)
      .onDiscarded((e) => discarded.push(e.id))
      .onCapacityReached(() => reached++)
      .withTimestampSelector({ getTimestamp: (e) => e.t })
      .withWindow({ sizeMs: 100, bucketCount: 5, value: (e) => e.v })
      .create();
    for (let i = 1; i <= 4; i++) store.tryAppend(ev(i, i * 10));
    assert.deepEqual(discarded, [1, 2]);
    assert.equal(reached, 1);
    assert.equal(store.count({ from: 35 }), 1);
    assert.equal(
      store.sum((e) => e.v, { from: 0, to: 100 }),
      7,
    );
  });

  it('passes the reject overflow policy through', () => {
    const store = new EventStoreBuilder<Ev>()
      .withCapacity(1)
      .withPartitions(1)
      .withOverflow('reject')
      .create();
    assert.equal(store.tryAppend(ev(1)), true);
    assert.equal(store.tryAppend(ev(2)), false);
    assert.equal(store.statistics.totalRejected, 1);
  });

  it('builds a store that appends but refuses time-filtered queries when window tracking is off', () => {
    const store = new EventStoreBuilder<Ev>()
      .withCapacity(100)
      .withPartitions(2)
      .withPartitionKey((e) => e.key)
      .withTimestampSelector((e) => e.t)
      .withEnableWindowTracking(false)
      .create();
    for (let i = 0; i < 5; i++) assert.equal(store.tryAppend(ev(i, Date.now(), i, `key-${i}`)), true);
    assert.equal(store.count(), 5);
    assert.throws(
      () => store.count({ from: Date.now() - 60_000 }),
      (err: unknown) =>
        err instanceof EventStoreError &&
        err.code === ErrorCode.WINDOW_TRACKING_DISABLED &&
        err.message ===
          'Window tracking is disabled. enableWindowTracking must be true to use window queries.',
    );
  });

  it('validates the options on create, not before', () => {
    const b = new EventStoreBuilder<Ev>().withCapacity(-5);
    invalidArg(() => b.create(), 'capacity');
    invalidArg(() => new EventStoreBuilder<Ev>().withPartitions(0).create(), 'partitions');
    invalidArg(
      () => new EventStoreBuilder<Ev>().withCapacityPerPartition(1.5).create(),
      'capacityPerPartition',
    );
    invalidArg(
      () => new EventStoreBuilder<Ev>().withOverflow('drop' as unknown as 'reject').create(),
      'overflow',
    );
    invalidArg(
      () => new EventStoreBuilder<Ev>().withWindow({ sizeMs: 10, value: (e) => e.v }).create(),
      'window',
    );
    invalidArg(
      () => new EventStoreBuilder<Ev>().withCapacity(10).withCapacityPerPartition(5).create(),
      'capacityPerPartition',
    );
  });

  it('creates independent stores, unaffected by later builder calls', () => {
    const b = new EventStoreBuilder<Ev>().withCapacity(4).withPartitions(2);
    const first = b.create();
    b.withCapacity(8);
    const second = b.create();
    assert.equal(first.capacity, 4);
    assert.equal(second.capacity, 8);
    first.tryAppend(ev(1));
    assert.equal(second.size, 0);
  });
});
