import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import {
  DEFAULT_BUCKET_COUNT,
  DEFAULT_CAPACITY_PER_PARTITION,
  ErrorCode,
  EventStore,
  EventStoreError,
  type EventStoreOptions,
  type GroupResult,
  partitionForKey,
  type QueryOptions,
} from '../../src/index.ts';
import { mulberry32 } from '../helpers/random.ts';

interface Ev {
  id: number;
  t: number;
  v: number;
  kind: string;
}

const ts = (e: Ev): number => e.t;
const val = (e: Ev): number => e.v;
const ids = (events: readonly Ev[]): number[] => events.map((e) => e.id);

function ev(id: number, t = id, v = id, kind = 'a'): Ev {
  return { id, t, v, kind };
}

const WINDOW_DISABLED_MESSAGE =
  'Window tracking is disabled. enableWindowTracking must be true to use window queries.';

/** Asserts that `fn` throws an EventStoreError with `code` and a message containing every `parts`. */
function throwsCode(fn: () => unknown, code: string, ...parts: string[]): EventStoreError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof EventStoreError, `expected an EventStoreError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.name, 'EventStoreError');
  for (const p of parts) assert.ok(caught.message.includes(p), `message "${caught.message}" names ${p}`);
  return caught;
}

function badOption(options: unknown, name: string): void {
  throwsCode(
    () => new EventStore<Ev>(options as EventStoreOptions<Ev>),
    ErrorCode.INVALID_ARG,
    `\`${name}\``,
  );
}

/** Fills partition `p` in reject mode and returns how many events fit. */
function slotsOf(store: EventStore<Ev>, p: number): number {
  let n = 0;
  while (store.tryAppend(ev(n), p)) n++;
  return n;
}

describe('EventStore options', () => {
  it('uses the documented defaults', () => {
    const store = new EventStore<Ev>();
    assert.equal(store.partitions, availableParallelism());
    assert.equal(DEFAULT_CAPACITY_PER_PARTITION, 100_000);
    assert.equal(DEFAULT_BUCKET_COUNT, 60);
    assert.equal(store.capacity, availableParallelism() * 100_000);
    assert.equal(store.size, 0);
    assert.equal(store.isEmpty, true);
    assert.equal(store.isFull, false);
    assert.equal(store.statistics.totalAppended, 0);
  });

  it('defaults to overwrite and to window tracking on', () => {
    const store = new EventStore<Ev>({ capacity: 1, partitions: 1, timestampSelector: ts });
    assert.equal(store.tryAppend(ev(1)), true);
    assert.equal(store.tryAppend(ev(2)), true);
    assert.deepEqual(ids(store.snapshot()), [2]);
    assert.equal(store.count({ from: 0 }), 1);
  });

  it('accepts every option with a valid value', () => {
    const store = new EventStore<Ev>({
      capacity: 10,
      partitions: 2,
      partitionKey: (e) => e.kind,
      overflow: 'reject',
      onEventDiscarded: () => {},
      onCapacityReached: () => {},
      timestampSelector: { getTimestamp: ts },
      enableWindowTracking: true,
      window: { sizeMs: 1000, bucketCount: 10, value: val },
      enableFalseSharingProtection: true,
    });
    assert.equal(store.capacity, 10);
    assert.equal(store.partitions, 2);
  });

  it('gives capacityPerPartition slots to every partition', () => {
    const store = new EventStore<Ev>({ capacityPerPartition: 3, partitions: 4, overflow: 'reject' });
    assert.equal(store.capacity, 12);
    for (let p = 0; p < 4; p++) assert.equal(slotsOf(store, p), 3, `partition ${p}`);
    assert.equal(store.isFull, true);
  });

  it('splits capacity exactly, giving the remainder to the first partitions', () => {
    const store = new EventStore<Ev>({ capacity: 10, partitions: 4, overflow: 'reject' });
    assert.equal(store.capacity, 10);
    assert.deepEqual(
      [0, 1, 2, 3].map((p) => slotsOf(store, p)),
      [3, 3, 2, 2],
    );
    assert.equal(store.size, 10);
    assert.equal(store.isFull, true);
  });

  it('accepts capacity equal to partitions (one slot each)', () => {
    const store = new EventStore<Ev>({ capacity: 5, partitions: 5 });
    assert.equal(store.capacity, 5);
  });

  it('rejects a bad capacity', () => {
    for (const bad of [0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10', null]) {
      badOption({ capacity: bad, partitions: 1 }, 'capacity');
    }
    badOption({ capacity: 3, partitions: 4 }, 'capacity');
  });

  it('rejects capacity together with capacityPerPartition', () => {
    badOption({ capacity: 10, capacityPerPartition: 5, partitions: 1 }, 'capacityPerPartition');
  });

  it('rejects a bad capacityPerPartition', () => {
    for (const bad of [0, -1, 2.5, 'x', 2 ** 31])
      badOption({ capacityPerPartition: bad }, 'capacityPerPartition');
  });

  it('rejects a bad partitions count', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, '2', 65_537]) badOption({ partitions: bad }, 'partitions');
  });

  it('rejects a non-function partitionKey, onEventDiscarded or onCapacityReached', () => {
    badOption({ partitionKey: 'kind' }, 'partitionKey');
    badOption({ onEventDiscarded: 1 }, 'onEventDiscarded');
    badOption({ onCapacityReached: {} }, 'onCapacityReached');
  });

  it('rejects an unknown overflow policy', () => {
    badOption({ overflow: 'drop' }, 'overflow');
    badOption({ overflow: 1 }, 'overflow');
  });

  it('rejects a timestampSelector that is neither a function nor an object with getTimestamp', () => {
    badOption({ timestampSelector: 5 }, 'timestampSelector');
    badOption({ timestampSelector: {} }, 'timestampSelector');
    badOption({ timestampSelector: { getTimestamp: 1 } }, 'timestampSelector');
    badOption({ timestampSelector: null }, 'timestampSelector');
  });

  it('rejects non-boolean flags', () => {
    badOption({ enableWindowTracking: 'yes' }, 'enableWindowTracking');
    badOption({ enableWindowTracking: 0 }, 'enableWindowTracking');
    badOption({ enableFalseSharingProtection: 1 }, 'enableFalseSharingProtection');
  });

  it('rejects a bad window option', () => {
    const base = { timestampSelector: ts };
    badOption({ ...base, window: 5 }, 'window');
    badOption({ ...base, window: null }, 'window');
    badOption({ ...base, window: [] }, 'window');
    for (const sizeMs of [0, -1, Number.POSITIVE_INFINITY, Number.NaN, '100', undefined]) {
      badOption({ ...base, window: { sizeMs, value: val } }, 'window.sizeMs');
    }
    for (const bucketCount of [0, -2, 1.5, 'x', 2_000_000]) {
      badOption({ ...base, window: { sizeMs: 100, bucketCount, value: val } }, 'window.bucketCount');
    }
    badOption({ ...base, window: { sizeMs: 100 } }, 'window.value');
    badOption({ window: { sizeMs: 100, value: val } }, 'timestampSelector');
    badOption({ ...base, enableWindowTracking: false, window: { sizeMs: 100, value: val } }, 'window');
  });

  it('rejects an unknown option by name and options that are not an object', () => {
    badOption({ capcity: 10 }, 'capcity');
    for (const bad of [5, 'x', null, []]) {
      throwsCode(() => new EventStore<Ev>(bad as EventStoreOptions<Ev>), ErrorCode.INVALID_ARG, '`options`');
    }
  });
});

describe('EventStore appends and overflow', () => {
  it('evicts the oldest event when full and reports it to onEventDiscarded', () => {
    const discarded: number[] = [];
    const store = new EventStore<Ev>({
      capacity: 3,
      partitions: 1,
      onEventDiscarded: (e) => discarded.push(e.id),
    });
    for (let i = 1; i <= 5; i++) assert.equal(store.tryAppend(ev(i)), true);
    assert.deepEqual(ids(store.snapshot()), [3, 4, 5]);
    assert.deepEqual(discarded, [1, 2]);
    assert.equal(store.statistics.totalDiscarded, 2);
    assert.equal(store.statistics.totalAppended, 5);
    assert.equal(store.size, 3);
    assert.equal(store.isFull, true);
  });

  it('reports the evicted old events of a batch to onEventDiscarded', () => {
    const discarded: number[] = [];
    const store = new EventStore<Ev>({
      capacity: 3,
      partitions: 1,
      onEventDiscarded: (e) => discarded.push(e.id),
    });
    const batch = Array.from({ length: 50 }, (_, i) => ev(i + 1));
    assert.equal(store.tryAppendBatch(batch), 50);
    assert.deepEqual(ids(store.snapshot()), [48, 49, 50]);
    assert.deepEqual(
      discarded,
      Array.from({ length: 47 }, (_, i) => i + 1),
    );
  });

  it('returns false in reject mode when the partition is full and changes nothing', () => {
    const discarded: Ev[] = [];
    const store = new EventStore<Ev>({
      capacity: 2,
      partitions: 1,
      overflow: 'reject',
      onEventDiscarded: (e) => discarded.push(e),
    });
    assert.equal(store.tryAppend(ev(1)), true);
    assert.equal(store.tryAppend(ev(2)), true);
    assert.equal(store.tryAppend(ev(3)), false);
    assert.equal(store.tryAppend(ev(4)), false);
    assert.deepEqual(ids(store.snapshot()), [1, 2]);
    assert.equal(store.statistics.totalRejected, 2);
    assert.equal(store.statistics.totalAppended, 2);
    assert.equal(store.statistics.totalDiscarded, 0);
    assert.deepEqual(discarded, []);
  });

  it('rejects only in the full partition while others still accept', () => {
    const store = new EventStore<Ev>({ capacity: 4, partitions: 2, overflow: 'reject' });
    assert.equal(store.tryAppend(ev(1), 0), true);
    assert.equal(store.tryAppend(ev(2), 0), true);
    assert.equal(store.tryAppend(ev(3), 0), false);
    assert.equal(store.isFull, false, 'isFull means size === capacity, not any partition full');
    assert.equal(store.tryAppend(ev(4), 1), true);
    assert.equal(store.tryAppend(ev(5), 1), true);
    assert.equal(store.isFull, true);
  });

  it('appends a batch prefix in reject mode and returns its length', () => {
    const store = new EventStore<Ev>({ capacity: 3, partitions: 1, overflow: 'reject' });
    assert.equal(store.tryAppendBatch([ev(1), ev(2), ev(3), ev(4), ev(5)]), 3);
    assert.deepEqual(ids(store.snapshot()), [1, 2, 3]);
    assert.equal(store.statistics.totalRejected, 1);
    assert.equal(store.statistics.totalAppended, 3);
    assert.equal(store.tryAppendBatch([ev(6)]), 0);
  });

  it('stops a reject-mode batch at the first event that does not fit, even if later ones would', () => {
    const keyFor = (p: number): string => {
      for (let i = 0; ; i++) if (partitionForKey(`k${i}`, 2) === p) return `k${i}`;
    };
    const k0 = keyFor(0);
    const k1 = keyFor(1);
    const store = new EventStore<Ev>({
      capacity: 4,
      partitions: 2,
      overflow: 'reject',
      partitionKey: (e) => e.kind,
    });
    store.tryAppendBatch([ev(1, 1, 1, k0), ev(2, 2, 2, k0)]);
    const n = store.tryAppendBatch([ev(3, 3, 3, k1), ev(4, 4, 4, k0), ev(5, 5, 5, k1)]);
    assert.equal(n, 1);
    assert.deepEqual(ids(store.query({ partition: 1 })), [3]);
    assert.deepEqual(ids(store.query({ partition: 0 })), [1, 2]);
  });

  it('resumes round-robin after a rejected batch exactly as after the same appends one by one', () => {
    const opts: EventStoreOptions<Ev> = { capacity: 3, partitions: 2, overflow: 'reject' };
    const single = new EventStore<Ev>(opts);
    const batched = new EventStore<Ev>(opts);
    const events = [ev(1), ev(2), ev(3), ev(4), ev(5)];
    for (const e of events) if (!single.tryAppend(e)) break;
    assert.equal(batched.tryAppendBatch(events), 3);
    assert.deepEqual(ids(batched.snapshot()), ids(single.snapshot()));
    for (const store of [single, batched]) {
      store.clear();
      for (let i = 10; i < 13; i++) store.tryAppend(ev(i));
    }
    assert.deepEqual(ids(batched.query({ partition: 0 })), ids(single.query({ partition: 0 })));
    assert.deepEqual(ids(batched.query({ partition: 1 })), ids(single.query({ partition: 1 })));
  });

  it('validates a whole batch before appending any of it (a bad timestamp in the middle appends nothing)', () => {
    const store = new EventStore<Ev>({ capacity: 10, partitions: 2, timestampSelector: ts });
    store.tryAppend(ev(0));
    const bad = [ev(1), { id: 2, t: Number.NaN, v: 2, kind: 'a' }, ev(3), ev(4)];
    throwsCode(() => store.tryAppendBatch(bad), ErrorCode.INVALID_TIMESTAMP, '`timestampSelector`', 'NaN');
    assert.deepEqual(ids(store.snapshot()), [0]);
    assert.equal(store.statistics.totalAppended, 1);
    // Round-robin continues where it was: the next event goes to partition 1.
    store.tryAppend(ev(5));
    assert.deepEqual(ids(store.query({ partition: 1 })), [5]);
  });

  it('appends nothing from a batch holding an undefined event or a bad partition key', () => {
    const store = new EventStore<Ev>({ capacity: 10, partitions: 2, partitionKey: (e) => e.kind });
    const withHole = [ev(1), undefined as unknown as Ev, ev(3)];
    throwsCode(() => store.tryAppendBatch(withHole), ErrorCode.INVALID_ARG, '`events[1]`');
    const badKey = [ev(1), { id: 2, t: 2, v: 2, kind: {} as unknown as string }];
    throwsCode(() => store.tryAppendBatch(badKey), ErrorCode.INVALID_ARG, '`partitionKey`');
    assert.equal(store.size, 0);
  });

  it('rejects a batch that is not an array and returns 0 for an empty batch', () => {
    const store = new EventStore<Ev>({ capacity: 10, partitions: 2 });
    throwsCode(() => store.tryAppendBatch('abc' as unknown as Ev[]), ErrorCode.INVALID_ARG, '`events`');
    assert.equal(store.tryAppendBatch([]), 0);
    assert.equal(store.statistics.totalAppended, 0);
    assert.equal(store.statistics.lastAppendTime, undefined);
  });

  it('rejects an undefined event', () => {
    const store = new EventStore<Ev | undefined>({ capacity: 10, partitions: 2 });
    throwsCode(() => store.tryAppend(undefined), ErrorCode.INVALID_ARG, '`event`');
    assert.equal(store.size, 0);
  });

  it('accepts null and primitive events', () => {
    const store = new EventStore<number | null>({ capacity: 10, partitions: 1 });
    store.tryAppend(null);
    store.tryAppend(0);
    assert.deepEqual(store.snapshot(), [null, 0]);
  });

  it('appends to an explicit partition, single or batch', () => {
    const store = new EventStore<Ev>({ capacity: 12, partitions: 3, partitionKey: (e) => e.kind });
    store.tryAppend(ev(1), 2);
    assert.equal(store.tryAppendBatch([ev(2), ev(3)], 1), 2);
    assert.deepEqual(ids(store.query({ partition: 2 })), [1]);
    assert.deepEqual(ids(store.query({ partition: 1 })), [2, 3]);
    assert.deepEqual(ids(store.query({ partition: 0 })), []);
  });

  it('rejects a bad explicit partition without appending', () => {
    const store = new EventStore<Ev>({ capacity: 12, partitions: 3 });
    for (const bad of [-1, 3, 1.5, Number.NaN, '0', null]) {
      throwsCode(() => store.tryAppend(ev(1), bad as number), ErrorCode.INVALID_ARG, '`partition`');
      throwsCode(() => store.tryAppendBatch([ev(1)], bad as number), ErrorCode.INVALID_ARG, '`partition`');
      throwsCode(() => store.tryAppendBatch([], bad as number), ErrorCode.INVALID_ARG, '`partition`');
      throwsCode(() => store.count({ partition: bad as number }), ErrorCode.INVALID_ARG, '`partition`');
    }
    assert.equal(store.size, 0);
  });

  it('routes by partitionKey to partitionForKey(key, partitions)', () => {
    const store = new EventStore<Ev>({ capacity: 100, partitions: 5, partitionKey: (e) => e.kind });
    const kinds = ['cpu', 'mem', 'disk', 'net', 'gpu', 'io'];
    for (let i = 0; i < 30; i++) store.tryAppend(ev(i, i, i, kinds[i % kinds.length]!));
    for (let p = 0; p < 5; p++) {
      for (const e of store.query({ partition: p })) {
        assert.equal(partitionForKey(e.kind, 5), p, `kind ${e.kind}`);
      }
    }
    assert.equal(store.size, 30);
  });

  it('rejects a partitionKey result that is neither a string nor a number', () => {
    const store = new EventStore<Ev>({
      capacity: 10,
      partitions: 2,
      partitionKey: () => true as unknown as string,
    });
    throwsCode(() => store.tryAppend(ev(1)), ErrorCode.INVALID_ARG, '`partitionKey`', 'true');
    assert.equal(store.size, 0);
  });
});

describe('EventStore callbacks', () => {
  it('calls onCapacityReached once per fill cycle, and again after clear', () => {
    let reached = 0;
    const store = new EventStore<Ev>({
      capacity: 2,
      partitions: 1,
      onCapacityReached: () => reached++,
    });
    store.tryAppend(ev(1));
    store.tryAppend(ev(2));
    assert.equal(reached, 0, 'filling up is not yet reaching capacity');
    for (let i = 3; i < 10; i++) store.tryAppend(ev(i));
    assert.equal(reached, 1);
    store.clear();
    for (let i = 10; i < 12; i++) store.tryAppend(ev(i));
    assert.equal(reached, 1);
    store.tryAppend(ev(12));
    assert.equal(reached, 2);
  });

  it('calls onCapacityReached once when rejecting in reject mode', () => {
    let reached = 0;
    const store = new EventStore<Ev>({
      capacity: 1,
      partitions: 1,
      overflow: 'reject',
      onCapacityReached: () => reached++,
    });
    store.tryAppend(ev(1));
    assert.equal(store.tryAppendBatch([ev(2), ev(3)]), 0);
    store.tryAppend(ev(4));
    assert.equal(reached, 1);
  });

  it('calls both callbacks on the first eviction', () => {
    const calls: string[] = [];
    const store = new EventStore<Ev>({
      capacity: 2,
      partitions: 1,
      onEventDiscarded: (e) => calls.push(`discarded ${e.id}`),
      onCapacityReached: () => calls.push('reached'),
    });
    for (let i = 1; i <= 3; i++) store.tryAppend(ev(i));
    assert.deepEqual(calls, ['reached', 'discarded 1']);
  });

  it('throws ES_ERR_CALLBACK_FAILED with the cause after the append completed', () => {
    const boom = new Error('boom');
    const store = new EventStore<Ev>({
      capacity: 1,
      partitions: 1,
      onEventDiscarded: () => {
        throw boom;
      },
    });
    store.tryAppend(ev(1));
    const err = throwsCode(() => store.tryAppend(ev(2)), ErrorCode.CALLBACK_FAILED, 'boom');
    assert.equal(err.cause, boom);
    assert.deepEqual(ids(store.snapshot()), [2], 'the append completed');
    assert.equal(store.statistics.totalAppended, 2);
    assert.equal(store.statistics.totalDiscarded, 1);
  });

  it('completes a whole batch when a callback throws and then reports the first error', () => {
    let n = 0;
    const store = new EventStore<Ev>({
      capacity: 2,
      partitions: 1,
      onEventDiscarded: (e) => {
        n++;
        throw new Error(`discard ${e.id}`);
      },
    });
    const err = throwsCode(
      () => store.tryAppendBatch([ev(1), ev(2), ev(3), ev(4), ev(5)]),
      ErrorCode.CALLBACK_FAILED,
      'discard 1',
    );
    assert.ok(err.cause instanceof Error);
    assert.equal(err.cause.message, 'discard 1');
    assert.equal(n, 3, 'the callback is called for every eviction');
    assert.deepEqual(ids(store.snapshot()), [4, 5]);
    assert.equal(store.statistics.totalAppended, 5);
  });

  it('reports a throwing onCapacityReached in reject mode, the store unchanged', () => {
    const store = new EventStore<Ev>({
      capacity: 1,
      partitions: 1,
      overflow: 'reject',
      onCapacityReached: () => {
        throw 'not an Error';
      },
    });
    store.tryAppend(ev(1));
    const err = throwsCode(() => store.tryAppend(ev(2)), ErrorCode.CALLBACK_FAILED, 'not an Error');
    assert.equal(err.cause, 'not an Error');
    assert.deepEqual(ids(store.snapshot()), [1]);
    assert.equal(store.statistics.totalRejected, 1);
    // The error is reported once; the next append returns normally.
    assert.equal(store.tryAppend(ev(3)), false);
  });

  it('keeps a batch intact when a callback appends another batch to the same store', () => {
    let forwarded = false;
    const discarded: number[] = [];
    const store: EventStore<Ev> = new EventStore<Ev>({
      capacity: 4,
      partitions: 2,
      timestampSelector: ts,
      onEventDiscarded: (e) => {
        discarded.push(e.id);
        if (forwarded) return;
        forwarded = true;
        store.tryAppendBatch([ev(100), ev(101), ev(102)], 1);
      },
    });
    store.tryAppend(ev(1), 0);
    store.tryAppend(ev(2), 0);
    assert.equal(store.tryAppendBatch([ev(3), ev(4), ev(5), ev(6)], 0), 4);
    assert.deepEqual(ids(store.query({ partition: 0 })), [5, 6]);
    assert.deepEqual(ids(store.query({ partition: 1 })), [101, 102]);
    assert.deepEqual(ids(store.query({ from: 0, to: 10 })), [5, 6]);
    assert.deepEqual(discarded, [1, 100, 2, 3, 4]);
  });

  it('does not report purge or clear as discards', () => {
    const discarded: Ev[] = [];
    const store = new EventStore<Ev>({
      capacity: 10,
      partitions: 2,
      timestampSelector: ts,
      onEventDiscarded: (e) => discarded.push(e),
    });
    for (let i = 0; i < 6; i++) store.tryAppend(ev(i));
    store.purge({ olderThan: 3 });
    store.clear();
    assert.deepEqual(discarded, []);
    assert.equal(store.statistics.totalDiscarded, 0);
  });
});

describe('EventStore timestamps', () => {
  interface DatedEv {
    id: number;
    at: Date;
  }

  it('accepts a selector returning Date and queries bounded by Date or number', () => {
    const base = Date.UTC(2026, 0, 1);
    const store = new EventStore<DatedEv>({ capacity: 10, partitions: 2, timestampSelector: (e) => e.at });
    for (let i = 0; i < 5; i++) store.tryAppend({ id: i, at: new Date(base + i * 1000) });
    assert.equal(store.count({ from: new Date(base + 1000), to: new Date(base + 3000) }), 3);
    assert.equal(store.count({ from: base + 1000, to: base + 3000 }), 3);
    assert.equal(store.count({ from: base + 1001 }), 3);
    assert.deepEqual(
      store.query({ to: new Date(base + 1000) }).map((e) => e.id),
      [0, 1],
    );
  });

  it('accepts a selector object with getTimestamp', () => {
    const store = new EventStore<Ev>({
      capacity: 10,
      partitions: 1,
      timestampSelector: { getTimestamp: (e) => new Date(e.t) },
    });
    for (let i = 0; i < 5; i++) store.tryAppend(ev(i, i * 10));
    assert.equal(store.count({ from: 10, to: 30 }), 3);
    assert.equal(store.purge({ olderThan: new Date(20) }), 2);
  });

  it('rejects an invalid event time with ES_ERR_INVALID_TIMESTAMP and appends nothing', () => {
    const cases: unknown[] = [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '2026-01-01',
      new Date(Number.NaN),
      undefined,
      null,
    ];
    for (const t of cases) {
      const store = new EventStore<{ t: unknown }>({
        capacity: 10,
        partitions: 1,
        timestampSelector: (e) => e.t as number,
      });
      throwsCode(() => store.tryAppend({ t }), ErrorCode.INVALID_TIMESTAMP, '`timestampSelector`');
      assert.equal(store.size, 0, `time ${String(t)}`);
      assert.equal(store.statistics.totalAppended, 0);
    }
  });

  it('does not call the timestamp selector when window tracking is disabled', () => {
    const store = new EventStore<Ev>({
      capacity: 10,
      partitions: 1,
      enableWindowTracking: false,
      timestampSelector: () => assert.fail('not called on append'),
    });
    assert.equal(store.tryAppend(ev(1)), true);
  });

  it('rejects a window value that is not a finite number with ES_ERR_INVALID_VALUE', () => {
    const store = new EventStore<Ev>({
      capacity: 10,
      partitions: 1,
      timestampSelector: ts,
      window: { sizeMs: 100, value: val },
    });
    throwsCode(() => store.tryAppend(ev(1, 1, Number.NaN)), ErrorCode.INVALID_VALUE, '`window.value`');
    throwsCode(
      () => store.tryAppend({ id: 1, t: 1, v: '3' as unknown as number, kind: 'a' }),
      ErrorCode.INVALID_VALUE,
    );
    assert.equal(store.size, 0);
  });

  it('rejects invalid from/to with ES_ERR_INVALID_ARG naming the bound', () => {
    const store = new EventStore<Ev>({ capacity: 10, partitions: 1, timestampSelector: ts });
    throwsCode(() => store.count({ from: Number.NaN }), ErrorCode.INVALID_ARG, '`from`');
    throwsCode(() => store.count({ to: new Date(Number.NaN) }), ErrorCode.INVALID_ARG, '`to`');
    throwsCode(() => store.count({ to: '5' as unknown as number }), ErrorCode.INVALID_ARG, '`to`');
  });
});

describe('EventStore without window tracking or timestamps', () => {
  const queries: [string, (s: EventStore<Ev>, q: QueryOptions<Ev>) => unknown][] = [
    ['count', (s, q) => s.count(q)],
    ['sum', (s, q) => s.sum(val, q)],
    ['average', (s, q) => s.average(val, q)],
    ['min', (s, q) => s.min(val, q)],
    ['max', (s, q) => s.max(val, q)],
    ['window', (s, q) => s.window(val, q)],
    [
      'aggregate',
      (s, q) =>
        s.aggregate(
          () => 0,
          (a) => a + 1,
          q,
        ),
    ],
    ['groupBy', (s, q) => s.groupBy((e) => e.kind, val, q)],
    ['query', (s, q) => s.query(q)],
  ];

  it('throws ES_ERR_WINDOW_TRACKING_DISABLED with the documented message for every query given from or to', () => {
    const store = new EventStore<Ev>({
      capacity: 10,
      partitions: 2,
      timestampSelector: ts,
      enableWindowTracking: false,
    });
    for (let i = 0; i < 5; i++) assert.equal(store.tryAppend(ev(i)), true);
    for (const [name, run] of queries) {
      for (const q of [{ from: 0 }, { to: 10 }, { from: 0, to: new Date(10) }] as QueryOptions<Ev>[]) {
        const err = throwsCode(() => run(store, q), ErrorCode.WINDOW_TRACKING_DISABLED);
        assert.equal(err.message, WINDOW_DISABLED_MESSAGE, name);
      }
    }
  });

  it('answers queries without from/to when window tracking is disabled', () => {
    const store = new EventStore<Ev>({ capacity: 10, partitions: 2, enableWindowTracking: false });
    for (let i = 1; i <= 4; i++) store.tryAppend(ev(i));
    assert.equal(store.count(), 4);
    assert.equal(store.sum(val, { filter: (e) => e.v > 1 }), 9);
    assert.equal(store.max(val, { partition: 0 }), 3);
  });

  it('also throws ES_ERR_WINDOW_TRACKING_DISABLED when there is no selector either', () => {
    const store = new EventStore<Ev>({ capacity: 10, partitions: 1, enableWindowTracking: false });
    throwsCode(() => store.count({ from: 0 }), ErrorCode.WINDOW_TRACKING_DISABLED);
  });

  it('still purges with a timestamp selector when window tracking is disabled', () => {
    const store = new EventStore<Ev>({
      capacity: 10,
      partitions: 2,
      timestampSelector: ts,
      enableWindowTracking: false,
    });
    for (const t of [5, 1, 7, 3, 9, 2]) store.tryAppend(ev(t, t));
    assert.equal(store.purge({ olderThan: 5 }), 3);
    assert.deepEqual(ids(store.snapshot()), [5, 7, 9]);
  });

  it('throws ES_ERR_TIMESTAMP_SELECTOR_REQUIRED for from/to queries and purge without a selector', () => {
    const store = new EventStore<Ev>({ capacity: 10, partitions: 1 });
    store.tryAppend(ev(1));
    for (const [name, run] of queries) {
      const err = throwsCode(() => run(store, { from: 0 }), ErrorCode.TIMESTAMP_SELECTOR_REQUIRED);
      assert.ok(err.message.includes('`timestampSelector`'), `${name}: ${err.message}`);
    }
    throwsCode(() => store.purge({ olderThan: 0 }), ErrorCode.TIMESTAMP_SELECTOR_REQUIRED, '`purge`');
    assert.equal(store.size, 1);
  });
});

describe('EventStore queries', () => {
  // Two partitions, round-robin: partition 0 gets ids 0,2,4,6,8; partition 1 gets 1,3,5,7,9.
  // Times are out of order within each partition.
  const times = [50, 10, 30, 70, 20, 40, 90, 60, 80, 0];
  const values = [5, 1, 3, 7, 2, 4, 9, 6, 8, 10];
  function sample(extra: Partial<EventStoreOptions<Ev>> = {}): EventStore<Ev> {
    const store = new EventStore<Ev>({ capacity: 20, partitions: 2, timestampSelector: ts, ...extra });
    for (let i = 0; i < 10; i++) store.tryAppend(ev(i, times[i]!, values[i]!, i % 3 === 0 ? 'x' : 'y'));
    return store;
  }
  const variants: [string, () => EventStore<Ev>][] = [
    ['scan', () => sample()],
    ['window buckets', () => sample({ window: { sizeMs: 40, bucketCount: 4, value: val } })],
  ];

  for (const [variant, make] of variants) {
    it(`counts, sums and averages with inclusive from/to over out-of-order times (${variant})`, () => {
      const store = make();
      const q = { from: 20, to: 60 };
      // times in [20, 60]: ids 0(50) 2(30) 4(20) 5(40) 7(60) -> values 5,3,2,4,6
      assert.equal(store.count(q), 5);
      assert.equal(store.sum(val, q), 20);
      assert.equal(store.average(val, q), 4);
      assert.equal(store.min(val, q), 2);
      assert.equal(store.max(val, q), 6);
      assert.deepEqual(store.window(val, q), { count: 5, sum: 20, min: 2, max: 6, average: 4 });
      assert.deepEqual(ids(store.query(q)), [0, 2, 4, 5, 7]);
      assert.equal(store.count({ from: 20 }), 8);
      assert.equal(store.count({ to: 20 }), 3);
      assert.equal(store.count({ from: 90, to: 90 }), 1);
    });

    it(`applies filter and partition options together with from/to (${variant})`, () => {
      const store = make();
      const isX = (e: Ev): boolean => e.kind === 'x'; // ids 0, 3, 6, 9
      assert.equal(store.count({ filter: isX }), 4);
      assert.equal(store.sum(val, { filter: isX }), 5 + 7 + 9 + 10);
      assert.equal(store.count({ filter: isX, from: 50 }), 3);
      assert.equal(store.sum(val, { filter: isX, to: 50 }), 15);
      assert.equal(store.count({ partition: 1 }), 5);
      assert.equal(store.sum(val, { partition: 1, from: 10, to: 60 }), 1 + 4 + 6);
      assert.deepEqual(ids(store.query({ partition: 0, filter: isX })), [0, 6]);
      assert.deepEqual(store.window(val, { partition: 0, from: 30, to: 80, filter: (e) => e.v > 3 }), {
        count: 2,
        sum: 5 + 8,
        min: 5,
        max: 8,
        average: 6.5,
      });
    });

    it(`returns sum 0 and undefined for the rest when nothing matches (${variant})`, () => {
      const store = make();
      for (const q of [{ from: 1000 }, { from: 60, to: 20 }, { filter: () => false }, { from: 11, to: 19 }]) {
        assert.equal(store.count(q), 0);
        assert.equal(store.sum(val, q), 0);
        assert.equal(store.average(val, q), undefined);
        assert.equal(store.min(val, q), undefined);
        assert.equal(store.max(val, q), undefined);
        assert.deepEqual(store.window(val, q), {
          count: 0,
          sum: 0,
          min: undefined,
          max: undefined,
          average: undefined,
        });
        assert.deepEqual(store.query(q), []);
        assert.equal(store.groupBy((e) => e.kind, val, q).size, 0);
        assert.equal(
          store.aggregate(
            () => 'seed',
            () => 'folded',
            q,
          ),
          'seed',
        );
      }
    });
  }

  it('answers every query on an empty store', () => {
    const store = new EventStore<Ev>({ capacity: 4, partitions: 2, timestampSelector: ts });
    assert.equal(store.count(), 0);
    assert.equal(store.sum(val), 0);
    assert.equal(store.min(val, { from: 0 }), undefined);
    assert.deepEqual(store.snapshot(), []);
    assert.deepEqual([...store], []);
  });

  it('groups by key with count, sum, min, max and average per group', () => {
    const store = sample();
    const groups = store.groupBy((e) => e.kind, val, { from: 0, to: 80 });
    // in range: all but id 6 (t 90). x: ids 0,3,9 -> 5,7,10; y: 1,2,4,5,7,8 -> 1,3,2,4,6,8
    const expected = new Map<string, GroupResult>([
      ['x', { count: 3, sum: 22, min: 5, max: 10, average: 22 / 3 }],
      ['y', { count: 6, sum: 24, min: 1, max: 8, average: 4 }],
    ]);
    assert.deepEqual(groups, expected);
    const byPartition = store.groupBy((e) => e.id % 2, val, { partition: 1 });
    assert.deepEqual([...byPartition.keys()], [1]);
  });

  it('aggregates oldest first within each partition, partitions in index order, calling seed once', () => {
    const store = sample();
    let seeds = 0;
    const order = store.aggregate(
      () => {
        seeds++;
        return [] as number[];
      },
      (acc, e) => {
        acc.push(e.id);
        return acc;
      },
    );
    assert.equal(seeds, 1);
    assert.deepEqual(order, [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]);
    assert.equal(
      store.aggregate(
        () => 0,
        (acc, e) => acc + e.v,
        { from: 40 },
      ),
      5 + 7 + 4 + 9 + 6 + 8,
    );
  });

  it('returns query results and snapshot in partition order, oldest first', () => {
    const store = sample();
    assert.deepEqual(ids(store.query()), [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]);
    assert.deepEqual(ids(store.snapshot()), [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]);
    const copy = store.snapshot();
    copy.length = 0;
    assert.equal(store.snapshot().length, 10, 'snapshot is a copy');
  });

  it('rejects bad query arguments with ES_ERR_INVALID_ARG', () => {
    const store = sample();
    throwsCode(
      () => store.count({ form: 1 } as unknown as QueryOptions<Ev>),
      ErrorCode.INVALID_ARG,
      '`form`',
    );
    throwsCode(() => store.count(5 as unknown as QueryOptions<Ev>), ErrorCode.INVALID_ARG, 'query options');
    throwsCode(
      () => store.count(null as unknown as QueryOptions<Ev>),
      ErrorCode.INVALID_ARG,
      'query options',
    );
    throwsCode(
      () => store.count({ filter: 1 } as unknown as QueryOptions<Ev>),
      ErrorCode.INVALID_ARG,
      '`filter`',
    );
    throwsCode(
      () => store.sum(undefined as unknown as (e: Ev) => number),
      ErrorCode.INVALID_ARG,
      '`selector`',
    );
    throwsCode(
      () => store.aggregate(0 as unknown as () => number, (a) => a),
      ErrorCode.INVALID_ARG,
      '`seed`',
    );
    throwsCode(
      () => store.aggregate(() => 0, 'x' as unknown as (a: number) => number),
      ErrorCode.INVALID_ARG,
      '`fold`',
    );
    throwsCode(
      () => store.groupBy(1 as unknown as (e: Ev) => string, val),
      ErrorCode.INVALID_ARG,
      '`keySelector`',
    );
    throwsCode(
      () => store.groupBy((e) => e.kind, 1 as unknown as (e: Ev) => number),
      ErrorCode.INVALID_ARG,
      '`valueSelector`',
    );
  });
});

describe('EventStore window option', () => {
  const value = (e: Ev): number => e.v;

  function compareAll(a: EventStore<Ev>, b: EventStore<Ev>, q: QueryOptions<Ev>, where: string): void {
    assert.equal(a.count(q), b.count(q), `count ${where}`);
    assert.equal(a.sum(value, q), b.sum(value, q), `sum ${where}`);
    assert.equal(a.average(value, q), b.average(value, q), `average ${where}`);
    assert.equal(a.min(value, q), b.min(value, q), `min ${where}`);
    assert.equal(a.max(value, q), b.max(value, q), `max ${where}`);
    assert.deepEqual(a.window(value, q), b.window(value, q), `window ${where}`);
  }

  const configs: { seed: number; sizeMs: number; bucketCount?: number; start: number }[] = [
    { seed: 101, sizeMs: 200, bucketCount: 8, start: 1_000 },
    { seed: 202, sizeMs: 200, bucketCount: 8, start: 1_000 },
    { seed: 303, sizeMs: 90, bucketCount: 3, start: 0 },
    { seed: 404, sizeMs: 1000, bucketCount: 7, start: Date.UTC(2026, 0, 1) }, // non-integer width
    { seed: 505, sizeMs: 300, start: -20_000 }, // default bucket count, negative times
  ];
  for (const { seed, sizeMs, bucketCount, start } of configs) {
    it(`gives exactly the same answers as the scan path over random ranges, evictions, clear and purge (seed ${seed})`, () => {
      const rnd = mulberry32(seed);
      const int = (n: number): number => Math.floor(rnd() * n);
      const common: EventStoreOptions<Ev> = {
        capacity: 90,
        partitions: 3,
        timestampSelector: ts,
        partitionKey: (e) => e.kind,
      };
      const window = bucketCount === undefined ? { sizeMs, value } : { sizeMs, bucketCount, value };
      const fast = new EventStore<Ev>({ ...common, window });
      const plain = new EventStore<Ev>(common);
      let now = start;
      let id = 0;
      for (let round = 0; round < 60; round++) {
        const batch: Ev[] = [];
        for (let i = int(30); i > 0; i--) {
          now += int(6);
          // Mostly in order, sometimes late, sometimes far older than the buckets cover.
          const late = rnd() < 0.2 ? int(80) : rnd() < 0.03 ? 1000 + int(500) : 0;
          batch.push(ev(id++, now - late, int(201) - 100, `k${int(7)}`));
        }
        if (rnd() < 0.5) {
          for (const e of batch) {
            fast.tryAppend(e);
            plain.tryAppend(e);
          }
        } else {
          fast.tryAppendBatch(batch);
          plain.tryAppendBatch(batch);
        }
        const action = rnd();
        if (action < 0.05) {
          fast.clear();
          plain.clear();
          if (rnd() < 0.5) now -= 5_000; // times may go back after clear
        } else if (action < 0.15) {
          const cutoff = now - int(400);
          assert.equal(fast.purge({ olderThan: cutoff }), plain.purge({ olderThan: cutoff }), `seed ${seed}`);
        }
        for (let k = 0; k < 12; k++) {
          const from = now - int(700);
          const to = rnd() < 0.1 ? from - 1 : from + int(700);
          const q: QueryOptions<Ev> =
            k % 4 === 0
              ? { from }
              : k % 4 === 1
                ? { to }
                : k % 4 === 2
                  ? { from, to }
                  : { from: new Date(from), to };
          if (rnd() < 0.2) q.partition = int(3);
          if (rnd() < 0.1) q.filter = (e) => e.v > 0;
          compareAll(fast, plain, q, `${JSON.stringify(q)} round ${round} seed ${seed}`);
        }
        compareAll(fast, plain, {}, `whole store, round ${round} seed ${seed}`);
        assert.deepEqual(ids(fast.snapshot()), ids(plain.snapshot()), `snapshot seed ${seed}`);
      }
    });
  }

  it('answers exactly with a selector other than window.value, bypassing the buckets', () => {
    const store = new EventStore<Ev>({
      capacity: 10,
      partitions: 1,
      timestampSelector: ts,
      window: { sizeMs: 100, bucketCount: 10, value },
    });
    for (let i = 0; i < 10; i++) store.tryAppend(ev(i, i * 10, i));
    assert.equal(
      store.sum((e) => e.v * 2, { from: 10, to: 50 }),
      30,
    );
    assert.equal(store.sum(value, { from: 10, to: 50 }), 15);
    assert.equal(
      store.max((e) => -e.v, { from: 10, to: 50 }),
      -1,
    );
  });

  it('resets window buckets on clear, so older times afterwards are counted exactly', () => {
    const store = new EventStore<Ev>({
      capacity: 20,
      partitions: 1,
      timestampSelector: ts,
      window: { sizeMs: 100, bucketCount: 10, value },
    });
    for (let i = 0; i < 10; i++) store.tryAppend(ev(i, 10_000 + i * 10, 100));
    store.clear();
    for (let i = 0; i < 10; i++) store.tryAppend(ev(i, i * 10, i));
    assert.deepEqual(store.window(value), { count: 10, sum: 45, min: 0, max: 9, average: 4.5 });
    assert.deepEqual(store.window(value, { from: 0, to: 100_000 }), {
      count: 10,
      sum: 45,
      min: 0,
      max: 9,
      average: 4.5,
    });
    assert.equal(store.count({ from: 15, to: 85 }), 7);
  });

  it('tracks large batches in the window exactly like single appends', () => {
    const opts: EventStoreOptions<Ev> = {
      capacity: 500,
      partitions: 4,
      timestampSelector: ts,
      window: { sizeMs: 1000, bucketCount: 10, value },
    };
    const single = new EventStore<Ev>(opts);
    const batched = new EventStore<Ev>(opts);
    const events = Array.from({ length: 400 }, (_, i) => ev(i, i * 3, i % 17));
    for (const e of events) single.tryAppend(e);
    assert.equal(batched.tryAppendBatch(events), 400);
    for (const q of [{}, { from: 100, to: 900 }, { from: 0, to: 1199 }, { partition: 2, from: 300 }]) {
      assert.deepEqual(batched.window(value, q), single.window(value, q), JSON.stringify(q));
      assert.equal(batched.count(q), single.count(q), JSON.stringify(q));
    }
    assert.equal(
      batched.sum(value, { from: 0, to: 1199 }),
      events.reduce((a, e) => a + e.v, 0),
    );
  });
});

describe('EventStore iteration', () => {
  it('iterates in snapshot order', () => {
    const store = new EventStore<Ev>({ capacity: 9, partitions: 3 });
    for (let i = 0; i < 12; i++) store.tryAppend(ev(i));
    assert.deepEqual(ids([...store]), ids(store.snapshot()));
    assert.deepEqual(ids([...store]), [3, 6, 9, 4, 7, 10, 5, 8, 11]);
  });

  it('skips events evicted during iteration and does not visit events appended behind it', () => {
    const store = new EventStore<Ev>({ capacity: 5, partitions: 1 });
    for (let i = 1; i <= 5; i++) store.tryAppend(ev(i));
    const seen: number[] = [];
    for (const e of store) {
      seen.push(e.id);
      if (e.id === 1) {
        store.tryAppend(ev(6)); // evicts 1 (already visited)
        store.tryAppend(ev(7)); // evicts 2
        store.tryAppend(ev(8)); // evicts 3
      }
    }
    assert.deepEqual(seen, [1, 4, 5]);
  });

  it('visits events appended to a partition the iteration has not reached yet', () => {
    const store = new EventStore<Ev>({ capacity: 10, partitions: 2 });
    store.tryAppend(ev(1), 0);
    store.tryAppend(ev(2), 1);
    const seen: number[] = [];
    for (const e of store) {
      seen.push(e.id);
      if (e.id === 1) {
        store.tryAppend(ev(3), 0);
        store.tryAppend(ev(4), 1);
      }
    }
    assert.deepEqual(seen, [1, 2, 4]);
  });

  it('stops visiting a partition that is cleared during iteration', () => {
    const store = new EventStore<Ev>({ capacity: 10, partitions: 1 });
    for (let i = 1; i <= 4; i++) store.tryAppend(ev(i));
    const seen: number[] = [];
    for (const e of store) {
      seen.push(e.id);
      if (e.id === 2) store.clear();
    }
    assert.deepEqual(seen, [1, 2]);
  });
});

describe('EventStore clear, reset and purge', () => {
  it('clears every event but keeps lifetime statistics', () => {
    const store = new EventStore<Ev>({ capacity: 4, partitions: 2 });
    for (let i = 0; i < 6; i++) store.tryAppend(ev(i));
    assert.equal(store.isFull, true);
    store.clear();
    assert.equal(store.size, 0);
    assert.equal(store.isEmpty, true);
    assert.equal(store.isFull, false);
    assert.deepEqual(store.snapshot(), []);
    assert.equal(store.count(), 0);
    assert.equal(store.statistics.totalAppended, 6);
    assert.equal(store.statistics.totalDiscarded, 2);
    store.tryAppend(ev(9));
    assert.deepEqual(ids(store.snapshot()), [9]);
  });

  it('resets like clear', () => {
    let reached = 0;
    const store = new EventStore<Ev>({ capacity: 1, partitions: 1, onCapacityReached: () => reached++ });
    store.tryAppend(ev(1));
    store.tryAppend(ev(2));
    store.reset();
    assert.equal(store.size, 0);
    store.tryAppend(ev(3));
    store.tryAppend(ev(4));
    assert.equal(reached, 2, 'reset re-arms onCapacityReached');
  });

  it('purges events strictly older than the cutoff, keeping order, partitions and every newer event', () => {
    const store = new EventStore<Ev>({ capacity: 20, partitions: 2, timestampSelector: ts });
    const times = [50, 10, 30, 70, 20, 40, 90, 60, 80, 0];
    for (let i = 0; i < 10; i++) store.tryAppend(ev(i, times[i]!));
    assert.equal(store.purge({ olderThan: 40 }), 4);
    assert.deepEqual(ids(store.query({ partition: 0 })), [0, 6, 8]);
    assert.deepEqual(ids(store.query({ partition: 1 })), [3, 5, 7]);
    assert.ok(store.snapshot().every((e) => e.t >= 40));
    assert.equal(store.purge({ olderThan: new Date(40) }), 0);
    assert.equal(store.purge({ olderThan: 1_000 }), 6);
    assert.equal(store.size, 0);
  });

  it('purges exactly in a partition holding many thousands of events', () => {
    const store = new EventStore<Ev>({ capacity: 20_000, partitions: 1, timestampSelector: ts });
    for (let i = 0; i < 20_000; i++) store.tryAppend(ev(i, i % 2 === 0 ? i : 20_000 - i));
    const expected = store.snapshot().filter((e) => e.t >= 10_000);
    const removed = store.purge({ olderThan: 10_000 });
    assert.equal(removed, 20_000 - expected.length);
    assert.deepEqual(ids(store.snapshot()), ids(expected));
  });

  it('does not change the statistics when purging', () => {
    const store = new EventStore<Ev>({ capacity: 10, partitions: 1, timestampSelector: ts });
    for (let i = 0; i < 5; i++) store.tryAppend(ev(i));
    store.purge({ olderThan: 3 });
    assert.equal(store.statistics.totalAppended, 5);
    assert.equal(store.statistics.totalDiscarded, 0);
  });

  it('rejects bad purge arguments with ES_ERR_INVALID_ARG', () => {
    const store = new EventStore<Ev>({ capacity: 10, partitions: 1, timestampSelector: ts });
    store.tryAppend(ev(1));
    throwsCode(
      () => store.purge(undefined as unknown as { olderThan: number }),
      ErrorCode.INVALID_ARG,
      '`options`',
    );
    throwsCode(
      () => store.purge({} as unknown as { olderThan: number }),
      ErrorCode.INVALID_ARG,
      '`olderThan`',
    );
    throwsCode(() => store.purge({ olderThan: Number.NaN }), ErrorCode.INVALID_ARG, '`olderThan`');
    assert.equal(store.size, 1);
  });

  it('keeps time queries exact after a purge of out-of-order events', () => {
    const store = new EventStore<Ev>({ capacity: 10, partitions: 1, timestampSelector: ts });
    for (const t of [40, 10, 50, 20, 60, 30]) store.tryAppend(ev(t, t));
    store.purge({ olderThan: 25 });
    assert.deepEqual(ids(store.query({ from: 30, to: 50 })), [40, 50, 30]);
    store.tryAppend(ev(5, 5));
    assert.deepEqual(ids(store.query({ to: 30 })), [30, 5]);
  });
});

describe('EventStore statistics', () => {
  it('starts at zero with no last append time and no rate', () => {
    const store = new EventStore<Ev>({ capacity: 4, partitions: 1 });
    const s = store.statistics;
    assert.equal(s.totalAppended, 0);
    assert.equal(s.totalDiscarded, 0);
    assert.equal(s.totalRejected, 0);
    assert.equal(s.lastAppendTime, undefined);
    assert.equal(s.appendsPerSecond, 0);
  });

  it('counts appends, discards and rejects, and reports a recent rate and time after appends', () => {
    const over = new EventStore<Ev>({ capacity: 4, partitions: 2 });
    for (let i = 0; i < 7; i++) over.tryAppend(ev(i));
    over.tryAppendBatch([ev(7), ev(8), ev(9)]);
    assert.equal(over.statistics.totalAppended, 10);
    assert.equal(over.statistics.totalDiscarded, 6);
    assert.equal(over.statistics.totalRejected, 0);
    assert.ok(over.statistics.appendsPerSecond > 0);
    const last = over.statistics.lastAppendTime;
    assert.ok(last instanceof Date);
    assert.ok(last.getTime() <= Date.now(), 'the last append is not in the future');
    assert.ok(last.getTime() > Date.UTC(2020, 0, 1), 'the last append is a wall-clock time');

    const reject = new EventStore<Ev>({ capacity: 2, partitions: 1, overflow: 'reject' });
    reject.tryAppendBatch([ev(1), ev(2), ev(3)]);
    reject.tryAppend(ev(4));
    assert.equal(reject.statistics.totalAppended, 2);
    assert.equal(reject.statistics.totalRejected, 2);
  });

  it('returns the same live statistics object', () => {
    const store = new EventStore<Ev>({ capacity: 4, partitions: 1 });
    const s = store.statistics;
    store.tryAppend(ev(1));
    assert.equal(s, store.statistics);
    assert.equal(s.totalAppended, 1);
  });
});
