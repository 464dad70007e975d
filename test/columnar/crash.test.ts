// A writer that dies between claim and publish (T12), in a real worker and in-thread, and readers
// paused inside a row while writers lap the ring (T11): the store keeps going after the bounded
// wait, counts the aborted slots, and never accepts a mixed row.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ColumnarEventStore } from '../../src/columnar/columnar-event-store.ts';
import { NoisePoint, TEST_HOOKS } from '../../src/columnar/test-hooks.ts';
import { collect, startWorker } from '../helpers/columnar-harness.ts';
import { checkRow, rowOf, STRESS_COLUMNS, type StressSchema } from '../helpers/columnar-rows.ts';

const ABORT_MS = 40;

function stressStore(capacity: number, partitions = 1): ColumnarEventStore<StressSchema> {
  return ColumnarEventStore.create<StressSchema>({
    columns: { ...STRESS_COLUMNS },
    partitions,
    capacityPerPartition: capacity,
    abortTimeoutMs: ABORT_MS,
  });
}

function rows(writer: number, first: number, n: number) {
  return Array.from({ length: n }, (_, k) => rowOf(writer, first + k));
}

function tornRows(store: ColumnarEventStore<StressSchema>): number {
  const s = store.snapshotColumns();
  const c = s.columns;
  let torn = 0;
  for (let i = 0; i < s.length; i++) {
    const label = store.keyOf(c.label[i]!) ?? '?';
    if (!checkRow(c.timestamp[i]!, c.value[i]!, c.writer[i]!, c.idx[i]!, c.chk[i]!, c.f[i]!, label)) torn++;
  }
  return torn;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** Polls `check` (sleeping between tries) until it returns true or `tries` run out. */
function eventually(check: () => boolean, tries = 200): boolean {
  for (let i = 0; i < tries; i++) {
    if (check()) return true;
    sleepMs(5);
  }
  return false;
}

describe('a writer that dies between claim and publish', () => {
  for (const crashAt of ['claimed', 'written'] as const) {
    it(`is aborted after the bounded wait when a worker exits ${crashAt === 'claimed' ? 'right after claiming' : 'after writing, before publishing'}`, async () => {
      const store = stressStore(64);
      const worker = startWorker({
        role: 'crasher',
        handle: store.handle,
        sync: new SharedArrayBuffer(8),
        seed: 1,
        noiseProbability: 0,
        strategy: 'correct',
        batchesBefore: 3,
        batchSize: 5,
        crashAt,
        writer: 9,
      });
      const messages = await collect<{ appended: number }>(worker);
      assert.equal(messages.length, 3, 'the worker appended 3 batches before dying');
      assert.equal(store.count(), 15, 'rows before the hole are visible; the hole hides nothing before it');

      // This thread keeps appending: the first rows land after the hole (invisible while the cursor
      // is stuck), then a query that saw the cursor stuck for the abort timeout aborts the hole.
      assert.equal(store.tryAppendBatch(rows(1, 0, 10), 0), 10);
      assert.equal(store.count(), 15);
      assert.ok(
        eventually(() => store.count() === 25),
        'rows after the hole become visible',
      );
      assert.equal(store.statistics.abortedSlots, 5);

      // Writers lap the ring over the aborted slots and go on.
      for (let b = 0; b < 40; b++) assert.equal(store.tryAppendBatch(rows(1, 10 + b * 8, 8), 0), 8);
      assert.equal(store.count(), 64);
      assert.equal(tornRows(store), 0);
      assert.equal(store.statistics.abortedSlots, 5);
      const s = store.snapshotColumns();
      assert.equal(s.columns.idx[s.length - 1], 10 + 40 * 8 - 1);
    });
  }

  it('lets a gated writer abort the hole when the ring laps onto it, without any query', async () => {
    const store = stressStore(32);
    const worker = startWorker({
      role: 'crasher',
      handle: store.handle,
      sync: new SharedArrayBuffer(8),
      seed: 2,
      noiseProbability: 0,
      strategy: 'correct',
      batchesBefore: 1,
      batchSize: 4,
      crashAt: 'written',
      writer: 9,
    });
    await collect(worker);
    let appended = 0;
    for (let b = 0; b < 30; b++) appended += store.tryAppendBatch(rows(1, b * 4, 4), 0);
    assert.equal(appended, 120, 'every later batch was appended');
    assert.equal(store.statistics.abortedSlots, 4);
    assert.equal(store.count(), 32);
    assert.equal(tornRows(store), 0);
  });

  it('recovers in one thread when an append throws between claim and mark, and between write and publish', () => {
    for (const point of [NoisePoint.CLAIMED, NoisePoint.WRITTEN]) {
      const store = stressStore(16);
      const crashing = ColumnarEventStore.attach(store.handle);
      crashing[TEST_HOOKS] = {
        noise: (at) => {
          if (at === point) throw new Error('simulated crash');
        },
      };
      assert.equal(store.tryAppendBatch(rows(1, 0, 3), 0), 3);
      assert.throws(() => crashing.tryAppendBatch(rows(2, 0, 3), 0), /simulated crash/);
      assert.equal(store.tryAppendBatch(rows(1, 3, 3), 0), 3);
      assert.equal(store.count(), 3, 'rows after the hole wait for it');
      sleepMs(ABORT_MS + 10);
      store.count(); // sees the cursor stuck: starts the clock
      sleepMs(ABORT_MS + 10);
      assert.equal(store.count(), 6, 'the hole is aborted and skipped');
      assert.equal(store.statistics.abortedSlots, 3);
      assert.deepEqual(
        Array.from(store.snapshotColumns().columns.idx),
        [0, 1, 2, 3, 4, 5],
        'the aborted rows are never returned',
      );
    }
  });
});

describe('a reader paused in the middle of a row while writers lap the ring', () => {
  it('never returns a row mixed from two appends: the overwritten rows are dropped and the rest re-read', () => {
    const store = stressStore(16);
    const writer = ColumnarEventStore.attach(store.handle);
    store.tryAppendBatch(rows(1, 0, 16), 0);
    let laps = 0;
    store[TEST_HOOKS] = {
      noise: (at) => {
        // Mid-row (after the timestamp, before the other columns), another writer overwrites the
        // five oldest slots, including the one being read.
        if (at === NoisePoint.READ_ROW && laps < 2) {
          laps++;
          writer.tryAppendBatch(rows(2, laps * 100, 5), 0);
        }
      },
    };
    const snap = store.snapshotColumns();
    store[TEST_HOOKS] = undefined;
    assert.equal(laps, 2, 'the reader was paused inside a row twice while its slot was overwritten');
    const c = snap.columns;
    for (let i = 0; i < snap.length; i++) {
      const label = store.keyOf(c.label[i]!) ?? '?';
      assert.ok(
        checkRow(c.timestamp[i]!, c.value[i]!, c.writer[i]!, c.idx[i]!, c.chk[i]!, c.f[i]!, label),
        `row ${i} is mixed`,
      );
    }
    // The query's window was rows 0..15 of writer 1; rows 0..9 were overwritten while it ran.
    assert.deepEqual(Array.from(c.writer), new Array(6).fill(1));
    assert.deepEqual(Array.from(c.idx), [10, 11, 12, 13, 14, 15]);
  });

  it('drops the overwritten part of a chunk from an aggregate and re-reads the rest', () => {
    const store = ColumnarEventStore.create({
      columns: { v: 'f64' },
      partitions: 1,
      capacityPerPartition: 8,
    });
    const writer = ColumnarEventStore.attach(store.handle);
    for (let i = 0; i < 8; i++) store.tryAppend({ timestamp: i, v: 1 });
    let lapped = false;
    store[TEST_HOOKS] = {
      noise: (at) => {
        if (at === NoisePoint.READ_CHUNK && !lapped) {
          lapped = true;
          for (let i = 0; i < 3; i++) writer.tryAppend({ timestamp: 100 + i, v: 1000 });
        }
      },
    };
    // The first read summed eight 1s, but three were overwritten before validation: the re-read
    // counts the five intact ones; the 1000s were published after the query began.
    assert.equal(store.sum('v'), 5);
    assert.equal(lapped, true);
    store[TEST_HOOKS] = undefined;
    assert.equal(store.sum('v'), 3005);
  });

  it('drops the overwritten part of a chunk from a groupBy and re-reads the rest', () => {
    const store = ColumnarEventStore.create({
      columns: { k: 'key', v: 'f64' },
      partitions: 1,
      capacityPerPartition: 8,
    });
    const writer = ColumnarEventStore.attach(store.handle);
    for (let i = 0; i < 8; i++) store.tryAppend({ timestamp: i, k: i < 4 ? 'a' : 'b', v: i });
    let lapped = false;
    store[TEST_HOOKS] = {
      noise: (at) => {
        if (at === NoisePoint.READ_CHUNK && !lapped) {
          lapped = true;
          // Overwrites rows 0..2 (key a) with a key interned after the query began.
          for (let i = 0; i < 3; i++) writer.tryAppend({ timestamp: 100 + i, k: 'late', v: 1000 });
        }
      },
    };
    const groups = store.groupBy('k', 'v');
    assert.equal(lapped, true);
    // The re-read keeps rows 3..7 only: a = {3}, b = {4, 5, 6, 7}; nothing of the dropped first read.
    assert.deepEqual(Object.fromEntries(groups), {
      a: { count: 1, sum: 3, min: 3, max: 3, average: 3 },
      b: { count: 4, sum: 22, min: 4, max: 7, average: 5.5 },
    });
    store[TEST_HOOKS] = undefined;
    assert.deepEqual(store.groupBy('k', 'v').get('late'), {
      count: 3,
      sum: 3000,
      min: 1000,
      max: 1000,
      average: 1000,
    });
  });
});
