// The starred scenarios of the .NET original's test suite, rewritten for this API. Where the
// original test enshrined one of its bugs, the test here asserts the fixed behaviour instead.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  ErrorCode,
  EventStore,
  EventStoreBuilder,
  EventStoreError,
  partitionForKey,
} from '../../src/index.ts';

interface Order {
  id: number;
  amount: number;
  at: Date;
}

interface Metric {
  label: string;
  value: number;
  t: number;
}

const MINUTE = 60_000;
const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const minutesAgo = (m: number): Date => new Date(NOW - m * MINUTE);
const order = (id: number, amount: number, at: Date = new Date(NOW)): Order => ({ id, amount, at });
const amount = (o: Order): number => o.amount;
const orderStore = (partitions = 1, capacityPerPartition = 50): EventStore<Order> =>
  new EventStore<Order>({ capacityPerPartition, partitions, timestampSelector: (o) => o.at });

function hasCode(code: string) {
  return (err: unknown): boolean => err instanceof EventStoreError && err.code === code;
}

describe('upstream scenarios: options, construction and builder', () => {
  it('validates window options at construction, like the upstream Validate() of bucket count and width', () => {
    const sel = (o: Order) => o.at;
    for (const window of [
      { sizeMs: 40_000, bucketCount: 0, value: amount },
      { sizeMs: 0, bucketCount: 4, value: amount },
      { sizeMs: -1, bucketCount: 4, value: amount },
    ]) {
      assert.throws(
        () => new EventStore<Order>({ partitions: 1, capacity: 10, timestampSelector: sel, window }),
        hasCode(ErrorCode.INVALID_ARG),
      );
    }
    const ok = new EventStore<Order>({
      partitions: 1,
      capacity: 10,
      timestampSelector: sel,
      window: { sizeMs: 40_000, bucketCount: 4, value: amount },
    });
    assert.equal(ok.capacity, 10);
  });

  it('keeps a total capacity that partitions do not divide (upstream lost the remainder)', () => {
    const store = new EventStore<Order>({ capacity: 1000, partitions: 3 });
    assert.equal(store.capacity, 1000);
    assert.equal(store.partitions, 3);
    assert.equal(store.isEmpty, true);
    assert.equal(store.isFull, false);
  });

  it('refuses a capacity of zero or less (upstream silently gave one slot per partition)', () => {
    for (const capacity of [0, -5]) {
      assert.throws(() => new EventStore<Order>({ capacity, partitions: 2 }), hasCode(ErrorCode.INVALID_ARG));
    }
  });

  it('mirrors the fluent builder test: capacity 100 over 2 partitions is reported back', () => {
    const store = new EventStoreBuilder<Order>()
      .withCapacity(100)
      .withPartitions(2)
      .onDiscarded(() => {})
      .onCapacityReached(() => {})
      .withTimestampSelector({ getTimestamp: (o) => o.at })
      .create();
    assert.equal(store.capacity, 100);
    assert.equal(store.partitions, 2);
  });
});

describe('upstream scenarios: append, partitioning and keys', () => {
  it('throws for an explicit partition of -1 or the partition count', () => {
    const store = new EventStore<Order>({ capacity: 40, partitions: 4 });
    for (const p of [-1, 4]) {
      assert.throws(() => store.tryAppend(order(1, 10), p), hasCode(ErrorCode.INVALID_ARG));
    }
    assert.equal(store.size, 0);
  });

  it('mirrors the many-producers test: 8 interleaved producers of 5,000 events into 4 x 1,000 slots', async () => {
    const store = new EventStore<{ producer: number; seq: number }>({
      capacityPerPartition: 1000,
      partitions: 4,
    });
    const producer = async (producerId: number): Promise<void> => {
      for (let seq = 0; seq < 5000; seq++) {
        store.tryAppend({ producer: producerId, seq });
        if (seq % 250 === 249) await nextTurn();
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, p) => producer(p)));
    assert.equal(store.size, 4000, 'exactly full, never more');
    assert.equal(store.isFull, true);
    assert.equal(store.statistics.totalAppended, 40_000);
    assert.equal(store.statistics.totalDiscarded, 36_000);
    for (let p = 0; p < 4; p++) {
      const held = store.query({ partition: p });
      assert.equal(held.length, 1000);
      const last = new Map<number, number>();
      for (const e of held) {
        assert.ok((last.get(e.producer) ?? -1) < e.seq, 'each producer keeps its order');
        last.set(e.producer, e.seq);
      }
    }
  });

  it('mirrors the stable key ids test: the same string key always routes to the same partition', () => {
    const a = new EventStore<Metric>({ capacity: 80, partitions: 8, partitionKey: (m) => m.label });
    const b = new EventStore<Metric>({ capacity: 80, partitions: 8, partitionKey: (m) => m.label });
    for (let i = 0; i < 10; i++) a.tryAppend({ label: 'cpu_usage', value: i, t: i });
    b.tryAppendBatch(Array.from({ length: 10 }, (_, i) => ({ label: 'cpu_usage', value: i, t: i })));
    const p = partitionForKey('cpu_usage', 8);
    assert.equal(a.count({ partition: p }), 10);
    assert.equal(b.count({ partition: p }), 10);
  });
});

describe('upstream scenarios: batches and ring buffer semantics', () => {
  it('appends a batch of 1..5 into capacity 3 with overwrite: returns 5 and holds 3, 4, 5', () => {
    const store = new EventStore<number>({ capacity: 3, partitions: 1 });
    assert.equal(store.tryAppendBatch([1, 2, 3, 4, 5]), 5);
    assert.equal(store.size, 3);
    assert.deepEqual(store.snapshot(), [3, 4, 5]);
  });

  it('reports the evicted events 1 and 2 when 1..5 go into capacity 3 (upstream reported 4 and 5)', () => {
    const discarded: number[] = [];
    const store = new EventStore<number>({
      capacity: 3,
      partitions: 1,
      onEventDiscarded: (e) => discarded.push(e),
    });
    for (let i = 1; i <= 5; i++) store.tryAppend(i);
    assert.equal(store.isFull, true);
    assert.equal(store.size, 3);
    assert.deepEqual(store.snapshot(), [3, 4, 5]);
    assert.deepEqual(discarded, [1, 2]);
  });

  it('mirrors the filtered view test: inclusive time bounds select 2, 3, 4, and a wrapped ring selects 3, 4, 5', () => {
    const t = NOW;
    const make = () =>
      new EventStore<{ v: number; t: number }>({ capacity: 5, partitions: 1, timestampSelector: (e) => e.t });
    const flat = make();
    for (let i = 1; i <= 5; i++) flat.tryAppend({ v: i, t: t + i });
    assert.deepEqual(
      flat.query({ from: t + 2, to: t + 4 }).map((e) => e.v),
      [2, 3, 4],
    );
    assert.deepEqual(flat.query({ from: t + 10, to: t + 20 }), []);
    const wrapped = make();
    for (let i = 1; i <= 7; i++) wrapped.tryAppend({ v: i, t: t + i });
    assert.deepEqual(
      wrapped.query({ from: t + 3, to: t + 5 }).map((e) => e.v),
      [3, 4, 5],
    );
  });
});

describe('upstream scenarios: views, snapshots and time selection', () => {
  it('mirrors the time-filtered snapshot views test: only the 2 of 4 events in range are returned', () => {
    const store = orderStore(2, 10);
    store.tryAppend(order(1, 10, minutesAgo(5)));
    store.tryAppend(order(2, 20, minutesAgo(3)));
    store.tryAppend(order(3, 30, minutesAgo(1)));
    store.tryAppend(order(4, 40, minutesAgo(6)));
    const inRange = store.query({ from: minutesAgo(4), to: new Date(NOW) });
    assert.deepEqual(inRange.map((o) => o.id).sort(), [2, 3]);
  });

  it('throws ES_ERR_TIMESTAMP_SELECTOR_REQUIRED for a time-filtered read and for purge without a selector', () => {
    const store = new EventStore<Order>({ capacity: 10, partitions: 1 });
    store.tryAppend(order(1, 10));
    assert.throws(
      () => store.query({ from: minutesAgo(6), to: minutesAgo(1) }),
      hasCode(ErrorCode.TIMESTAMP_SELECTOR_REQUIRED),
    );
    assert.throws(
      () => store.purge({ olderThan: new Date(NOW) }),
      hasCode(ErrorCode.TIMESTAMP_SELECTOR_REQUIRED),
    );
  });
});

describe('upstream scenarios: aggregations', () => {
  it('counts, sums, averages, mins and maxes 10, 20, 30 as 60, 20, 10 and 30', () => {
    const store = orderStore(4);
    for (const [id, a] of [
      [1, 10],
      [2, 20],
      [3, 30],
    ] as const) {
      store.tryAppend(order(id, a));
    }
    assert.equal(store.count(), 3);
    assert.equal(store.sum(amount), 60);
    assert.equal(store.average(amount), 20);
    assert.equal(store.min(amount), 10);
    assert.equal(store.max(amount), 30);
    assert.equal(store.sum(amount, { filter: (o) => o.amount >= 20 }), 50);
    const filtered = store.aggregate(
      () => ({ count: 0, sum: 0 }),
      (acc, o) => ({ count: acc.count + 1, sum: acc.sum + o.amount }),
      { filter: (o) => o.amount >= 20 },
    );
    assert.deepEqual(filtered, { count: 2, sum: 50 });
  });

  it('counts 1 event in a time window of [-4 min, -2 min]', () => {
    const store = orderStore();
    store.tryAppend(order(1, 10, minutesAgo(5)));
    store.tryAppend(order(2, 20, minutesAgo(3)));
    store.tryAppend(order(3, 30, minutesAgo(1)));
    assert.equal(store.count({ from: minutesAgo(4), to: minutesAgo(2) }), 1);
  });

  it('aggregates a window over out-of-order appends: count 2, sum 25, min 5, max 20, average 12.5', () => {
    for (const withBuckets of [false, true]) {
      const store = new EventStore<Order>({
        capacityPerPartition: 50,
        partitions: 1,
        timestampSelector: (o) => o.at,
        ...(withBuckets ? { window: { sizeMs: 10 * MINUTE, bucketCount: 10, value: amount } } : {}),
      });
      store.tryAppend(order(1, 10, minutesAgo(5)));
      store.tryAppend(order(2, 20, minutesAgo(3)));
      store.tryAppend(order(3, 5, minutesAgo(1)));
      store.tryAppend(order(4, 30, minutesAgo(6)));
      assert.deepEqual(
        store.window(amount, { from: minutesAgo(4), to: new Date(NOW) }),
        { count: 2, sum: 25, min: 5, max: 20, average: 12.5 },
        `with buckets: ${withBuckets}`,
      );
    }
  });

  it('aggregates a filtered window: amounts <= 20 over the last 10 minutes give 2, 25, 10, 15', () => {
    const store = orderStore();
    store.tryAppend(order(1, 10, minutesAgo(5)));
    store.tryAppend(order(2, 25, minutesAgo(3)));
    store.tryAppend(order(3, 15, minutesAgo(1)));
    const r = store.window(amount, {
      filter: (o) => o.amount <= 20,
      from: minutesAgo(10),
      to: new Date(NOW),
    });
    assert.deepEqual(r, { count: 2, sum: 25, min: 10, max: 15, average: 12.5 });
  });

  it('gives an empty window count 0, sum 0 and no min, max or average (upstream reported zeros)', () => {
    const store = orderStore();
    store.tryAppend(order(1, 10, minutesAgo(10)));
    assert.deepEqual(store.window(amount, { from: minutesAgo(5), to: new Date(NOW) }), {
      count: 0,
      sum: 0,
      min: undefined,
      max: undefined,
      average: undefined,
    });
  });

  it('aggregates a window across 4 partitions: 8 events, sum 360, min 10, max 80, average 45', () => {
    const store = orderStore(4);
    for (let i = 0; i < 8; i++) store.tryAppend(order(i, (i + 1) * 10, minutesAgo(i)));
    assert.deepEqual(store.window(amount, { from: minutesAgo(10), to: new Date(NOW) }), {
      count: 8,
      sum: 360,
      min: 10,
      max: 80,
      average: 45,
    });
  });

  it('sums every event of a large partition with no filter or range (upstream truncated to 4,096)', () => {
    const store = new EventStore<Order>({ capacity: 10_000, partitions: 1, timestampSelector: (o) => o.at });
    for (let i = 0; i < 10_000; i++) store.tryAppend(order(i, 1, new Date(NOW - i)));
    assert.equal(store.sum(amount), 10_000);
    assert.equal(store.count(), store.sum(amount), 'count and sum agree');
    assert.equal(store.window(amount).count, 10_000);
  });
});

describe('upstream scenarios: window tracking and buckets', () => {
  it('appends with tracking disabled but throws for every time-window query; with tracking enabled they answer', () => {
    const disabled = new EventStore<Order>({
      capacity: 10,
      partitions: 1,
      timestampSelector: (o) => o.at,
      enableWindowTracking: false,
    });
    const enabled = orderStore();
    for (const store of [disabled, enabled]) {
      for (let i = 0; i < 3; i++) assert.equal(store.tryAppend(order(i, 10, minutesAgo(i))), true);
    }
    const q = { from: minutesAgo(5), to: new Date(NOW) };
    const queries = [
      (s: EventStore<Order>) => s.count(q),
      (s: EventStore<Order>) => s.sum(amount, q),
      (s: EventStore<Order>) => s.average(amount, q),
      (s: EventStore<Order>) => s.min(amount, q),
      (s: EventStore<Order>) => s.max(amount, q),
      (s: EventStore<Order>) => s.window(amount, q),
    ];
    for (const run of queries) {
      assert.throws(() => run(disabled), hasCode(ErrorCode.WINDOW_TRACKING_DISABLED));
      assert.doesNotThrow(() => run(enabled));
    }
    assert.equal(enabled.count(q), 3);
  });

  it('mirrors the long-gap bucket reset: after a jump of 8 widths, [window start, far] holds 2 events summing 6', () => {
    const width = 10_000;
    const windowMs = 4 * width;
    const store = new EventStore<Order>({
      capacityPerPartition: 64,
      partitions: 1,
      timestampSelector: (o) => o.at,
      window: { sizeMs: windowMs, bucketCount: 4, value: amount },
    });
    const base = NOW - (NOW % width);
    const far = base + 8 * width;
    store.tryAppend(order(0, 1, new Date(base)));
    store.tryAppend(order(1, 2, new Date(far)));
    store.tryAppend(order(2, 4, new Date(far - windowMs)));
    const r = store.window(amount, { from: far - windowMs, to: far });
    assert.equal(r.count, 2);
    assert.equal(r.sum, 6);
  });

  it('mirrors the partial bucket boundary test: exact (2, 3), then (2, 4), then (3, 8) as the window slides', () => {
    const width = 10_000;
    const windowMs = 4 * width;
    const store = new EventStore<Order>({
      capacityPerPartition: 64,
      partitions: 1,
      timestampSelector: (o) => o.at,
      window: { sizeMs: windowMs, bucketCount: 4, value: amount },
    });
    const base = NOW - (NOW % width);
    const t2 = base + windowMs - 1;
    const slide = (end: number) => store.window(amount, { from: end - windowMs, to: end });
    store.tryAppend(order(10, 1, new Date(t2)));
    store.tryAppend(order(11, 2, new Date(t2 - windowMs)));
    const r1 = slide(t2);
    assert.deepEqual([r1.count, r1.sum], [2, 3]);
    const t3 = t2 + 2;
    store.tryAppend(order(12, 3, new Date(t3)));
    const r2 = slide(t3);
    assert.deepEqual([r2.count, r2.sum], [2, 4]);
    const t4 = t2 + width + 2;
    store.tryAppend(order(13, 4, new Date(t4)));
    const r3 = slide(t4);
    assert.deepEqual([r3.count, r3.sum], [3, 8]);
  });

  it('answers the caller selector even when window buckets are configured (upstream ignored it)', () => {
    const store = new EventStore<Order>({
      capacity: 10,
      partitions: 1,
      timestampSelector: (o) => o.at,
      window: { sizeMs: 10 * MINUTE, value: amount },
    });
    for (let i = 1; i <= 3; i++) store.tryAppend(order(i, i * 10, minutesAgo(i)));
    const q = { from: minutesAgo(10), to: new Date(NOW) };
    assert.equal(store.sum(amount, q), 60);
    assert.equal(
      store.sum((o) => o.id, q),
      6,
    );
  });

  it('tracks batches of more than 32 events in the window buckets (upstream skipped them)', () => {
    const store = new EventStore<Order>({
      capacity: 100,
      partitions: 2,
      timestampSelector: (o) => o.at,
      window: { sizeMs: 10 * MINUTE, bucketCount: 10, value: amount },
    });
    const batch = Array.from({ length: 80 }, (_, i) => order(i, 1, new Date(NOW - i * 1000)));
    assert.equal(store.tryAppendBatch(batch), 80);
    assert.equal(store.sum(amount, { from: NOW - 79_000, to: NOW }), 80);
    assert.equal(store.count({ from: NOW - 39_500, to: NOW }), 40);
  });
});

describe('upstream scenarios: statistics and callbacks', () => {
  it('mirrors the statistics callback test: totals count 1, 2, 3 appends, then a drop, then a batch of 5', () => {
    const store = new EventStore<number>({ capacity: 3, partitions: 1 });
    for (let i = 1; i <= 3; i++) {
      store.tryAppend(i);
      assert.equal(store.statistics.totalAppended, i);
      assert.equal(store.statistics.totalDiscarded, 0);
      assert.equal(store.statistics.totalRejected, 0);
    }
    store.tryAppend(4);
    assert.ok(store.statistics.totalDiscarded > 0);
    assert.equal(store.tryAppendBatch([5, 6, 7, 8, 9]), 5);
    assert.equal(store.statistics.totalAppended, 9);
    assert.ok(store.statistics.appendsPerSecond > 0, 'a real, positive rate right after appends');
    assert.ok(store.statistics.lastAppendTime instanceof Date);
  });

  it('fires onEventDiscarded and onCapacityReached on the 3rd append into capacity 2', () => {
    const discarded: number[] = [];
    let reached = 0;
    const store = new EventStore<number>({
      capacity: 2,
      partitions: 1,
      onEventDiscarded: (e) => discarded.push(e),
      onCapacityReached: () => reached++,
    });
    store.tryAppend(1);
    store.tryAppend(2);
    assert.equal(reached, 0);
    store.tryAppend(3);
    assert.deepEqual(discarded, [1]);
    assert.equal(reached, 1);
  });

  it('fires onCapacityReached once per fill cycle, not once per discarded event (upstream bug)', () => {
    let reached = 0;
    const store = new EventStore<number>({ capacity: 2, partitions: 1, onCapacityReached: () => reached++ });
    for (let i = 0; i < 20; i++) store.tryAppend(i);
    assert.equal(reached, 1);
  });

  it('reports a throwing callback after the write as ES_ERR_CALLBACK_FAILED and keeps working (upstream broke the append)', () => {
    let calls = 0;
    const store = new EventStore<number>({
      capacity: 1,
      partitions: 1,
      onEventDiscarded: () => {
        calls++;
        throw new Error('callback failure');
      },
    });
    store.tryAppend(1);
    assert.throws(() => store.tryAppend(2), hasCode(ErrorCode.CALLBACK_FAILED));
    assert.throws(() => store.tryAppend(3), hasCode(ErrorCode.CALLBACK_FAILED));
    assert.equal(calls, 2, 'the callback keeps being called');
    assert.deepEqual(store.snapshot(), [3]);
  });

  it('is full only when every slot is used (upstream: when any partition is full), and clear leaves it empty and not full', () => {
    const store = new EventStore<number>({ capacity: 4, partitions: 2 });
    store.tryAppend(1, 0);
    store.tryAppend(2, 0);
    assert.equal(store.isFull, false);
    store.tryAppend(3, 1);
    store.tryAppend(4, 1);
    assert.equal(store.isFull, true);
    store.clear();
    assert.equal(store.isEmpty, true);
    assert.equal(store.isFull, false);
  });
});

describe('upstream scenarios: clear and purge', () => {
  it('clears the store to count 0, and reset does the same', () => {
    for (const wipe of ['clear', 'reset'] as const) {
      const store = orderStore();
      store.tryAppend(order(1, 10));
      store.tryAppend(order(2, 20));
      assert.equal(store.isEmpty, false);
      assert.equal(store.count(), 2);
      store[wipe]();
      assert.equal(store.isEmpty, true);
      assert.equal(store.count(), 0);
    }
  });

  it('resets window buckets on clear (upstream kept stale buckets)', () => {
    const store = new EventStore<Order>({
      capacity: 10,
      partitions: 1,
      timestampSelector: (o) => o.at,
      window: { sizeMs: 10 * MINUTE, value: amount },
    });
    store.tryAppend(order(1, 100, minutesAgo(1)));
    store.clear();
    store.tryAppend(order(2, 5, minutesAgo(2)));
    assert.deepEqual(store.window(amount, { from: minutesAgo(10), to: new Date(NOW) }), {
      count: 1,
      sum: 5,
      min: 5,
      max: 5,
      average: 5,
    });
  });

  it('purges events older than the cutoff (3 -> 2) and keeps only events at or after it', () => {
    const store = orderStore(4, 100);
    store.tryAppend(order(1, 10, minutesAgo(120)));
    store.tryAppend(order(2, 20, minutesAgo(30)));
    store.tryAppend(order(3, 30, minutesAgo(10)));
    const cutoff = minutesAgo(60);
    assert.equal(store.purge({ olderThan: cutoff }), 1);
    assert.equal(store.count(), 2);
    assert.ok(store.snapshot().every((o) => o.at.getTime() >= cutoff.getTime()));
  });

  it('purges without losing newer events beyond 4,096 per partition or moving events between partitions (upstream bugs)', () => {
    const store = new EventStore<Order>({
      capacity: 20_000,
      partitions: 2,
      timestampSelector: (o) => o.at,
      window: { sizeMs: MINUTE, value: amount },
    });
    for (let i = 0; i < 20_000; i++) store.tryAppend(order(i, 1, new Date(NOW + i)));
    const before0 = store.query({ partition: 0 }).filter((o) => o.id >= 1000);
    const appended = store.statistics.totalAppended;
    assert.equal(store.purge({ olderThan: new Date(NOW + 1000) }), 1000);
    assert.equal(store.size, 19_000);
    assert.deepEqual(store.query({ partition: 0 }), before0);
    assert.equal(store.statistics.totalAppended, appended, 'statistics are not reset');
    assert.equal(store.sum(amount, { from: NOW, to: NOW + 30_000 }), 19_000, 'buckets are not stale');
  });
});

describe('upstream scenarios: the metrics dashboard sums, on the store itself', () => {
  it('sums cpu over [-6 min, -2 min] as 30 and over the last 2 minutes as 30', () => {
    const store = new EventStore<Metric>({ capacity: 100, partitions: 2, timestampSelector: (m) => m.t });
    store.tryAppend({ label: 'cpu', value: 10, t: NOW - 5 * MINUTE });
    store.tryAppend({ label: 'cpu', value: 20, t: NOW - 3 * MINUTE });
    store.tryAppend({ label: 'cpu', value: 30, t: NOW - 1 * MINUTE });
    store.tryAppend({ label: 'mem', value: 99, t: NOW - 1 * MINUTE });
    const cpu = (m: Metric): boolean => m.label === 'cpu';
    const value = (m: Metric): number => m.value;
    assert.equal(store.sum(value, { filter: cpu, from: NOW - 6 * MINUTE, to: NOW - 2 * MINUTE }), 30);
    assert.equal(store.sum(value, { filter: cpu, from: NOW - 2 * MINUTE, to: NOW }), 30);
    assert.equal(store.count({ filter: cpu }), 3);
  });
});
