import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BucketTotals, WindowBuckets } from '../../src/core/window-buckets.ts';
import { ErrorCode, EventStore, type QueryOptions, type WindowResult } from '../../src/index.ts';
import { mulberry32 } from '../helpers/random.ts';

interface Reading {
  t: number;
  v: number;
  tag: number;
}

/** Counts the events that `WindowBuckets.accumulate` contributes while `fn` runs. */
function eventsFromBuckets(fn: () => void): number {
  const accumulate = WindowBuckets.prototype.accumulate;
  let counted = 0;
  WindowBuckets.prototype.accumulate = function (
    this: WindowBuckets,
    lo: number,
    hi: number,
    out: BucketTotals,
  ) {
    const before = out.count;
    accumulate.call(this, lo, hi, out);
    counted += out.count - before;
  };
  try {
    fn();
  } finally {
    WindowBuckets.prototype.accumulate = accumulate;
  }
  return counted;
}

/** The filter/reduce a user would write by hand, over the events a store holds. */
function naiveWindow(events: readonly Reading[], q: QueryOptions<Reading>): WindowResult {
  const from = q.from === undefined ? Number.NEGATIVE_INFINITY : Number(q.from);
  const to = q.to === undefined ? Number.POSITIVE_INFINITY : Number(q.to);
  const values = events
    .filter((e) => e.t >= from && e.t <= to && (q.filter === undefined || q.filter(e)))
    .map((e) => e.v);
  if (values.length === 0) return { count: 0, sum: 0, min: undefined, max: undefined, average: undefined };
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    count: values.length,
    sum,
    min: Math.min(...values),
    max: Math.max(...values),
    average: sum / values.length,
  };
}

describe('EventStore aggregations without a selector (window.value over the buckets)', () => {
  it('equal the scan with a fresh selector and a filter/reduce model, with out-of-order times, eviction and purge', () => {
    for (const seed of [101, 102, 103]) {
      const rnd = mulberry32(seed);
      const value = (e: Reading): number => e.v;
      const common = { capacity: 240, partitions: 3, timestampSelector: (e: Reading) => e.t };
      const store = new EventStore<Reading>({ ...common, window: { sizeMs: 1000, bucketCount: 10, value } });
      const plain = new EventStore<Reading>(common);
      let now = 1_700_000_000_000;
      let checks = 0;
      for (let step = 0; step < 1200; step++) {
        now += Math.floor(rnd() * 6);
        const make = (): Reading => ({
          t: now - Math.floor(rnd() * 400), // up to 4 buckets late: partitions go out of time order
          v: Math.floor(rnd() * 2001) - 1000,
          tag: Math.floor(rnd() * 4),
        });
        if (rnd() < 0.2) {
          const batch = Array.from({ length: 1 + Math.floor(rnd() * 12) }, make);
          store.tryAppendBatch(batch);
          plain.tryAppendBatch(batch);
        } else {
          const e = make();
          store.tryAppend(e);
          plain.tryAppend(e);
        }
        if (step === 700) {
          store.purge({ olderThan: now - 600 });
          plain.purge({ olderThan: now - 600 });
        }
        if (step % 20 !== 0) continue;
        const from = now - Math.floor(rnd() * 1500);
        const queries: QueryOptions<Reading>[] = [
          {},
          { from },
          { to: from + 300 },
          { from, to: from + Math.floor(rnd() * 1200) - 100 }, // sometimes from > to: matches nothing
          { from, to: now, filter: (e) => e.tag === 0 },
          { from: new Date(from), partition: Math.floor(rnd() * 3) },
        ];
        for (const q of queries) {
          const where = `seed ${seed} step ${step} query ${JSON.stringify(q)}`;
          const expected = naiveWindow(plain.snapshot(), q);
          assert.deepEqual(
            q.partition === undefined ? expected : plain.window((e) => e.v, q),
            store.window((e) => e.v, q),
            `scan, ${where}`,
          );
          const w = store.window(q);
          assert.deepEqual(
            w,
            store.window((e) => e.v, q),
            `window(q), ${where}`,
          );
          assert.deepEqual(w, store.window(value, q), `window(value, q), ${where}`);
          assert.equal(store.sum(q), w.sum, `sum(q), ${where}`);
          assert.equal(store.average(q), w.average, `average(q), ${where}`);
          assert.equal(store.min(q), w.min, `min(q), ${where}`);
          assert.equal(store.max(q), w.max, `max(q), ${where}`);
          checks++;
        }
        assert.deepEqual(
          store.window(),
          naiveWindow(plain.snapshot(), {}),
          `window(), seed ${seed} step ${step}`,
        );
      }
      assert.ok(store.statistics.totalDiscarded > 0, `seed ${seed}: the run never evicted`);
      assert.ok(checks > 300);
    }
  });

  it('answer from the buckets and never call window.value at query time, while a fresh arrow scans', () => {
    for (const late of [0, 250]) {
      let calls = 0;
      const value = (e: Reading): number => {
        calls++;
        return e.v;
      };
      const store = new EventStore<Reading>({
        capacity: 10_000,
        partitions: 2,
        timestampSelector: (e) => e.t,
        window: { sizeMs: 10_000, bucketCount: 100, value },
      });
      const rnd = mulberry32(7 + late);
      // 5000 events over 10 s; with `late`, every fourth one arrives up to `late` ms out of order.
      for (let i = 0; i < 5000; i++) {
        const t = i * 2 - (i % 4 === 0 ? Math.floor(rnd() * late) : 0);
        store.tryAppend({ t, v: i % 97, tag: 0 });
      }
      const q = { from: 1000, to: 9000 };
      calls = 0;
      let result: WindowResult | undefined;
      const bucketed = eventsFromBuckets(() => {
        result = store.window(q);
      });
      assert.equal(calls, 0, `late ${late}: window(q) called window.value`);
      assert.ok(result !== undefined && result.count > 3000, `late ${late}: ${JSON.stringify(result)}`);
      // Buckets of 100 ms: all but the two edge buckets come from the aggregates.
      assert.ok(
        bucketed >= result.count - 200,
        `late ${late}: only ${bucketed} of ${result.count} from buckets`,
      );
      for (const run of [
        () => store.sum(q),
        () => store.average(q),
        () => store.min(q),
        () => store.max(q),
      ]) {
        assert.ok(eventsFromBuckets(run) >= result.count - 200, `late ${late}: ${run.toString()}`);
      }
      assert.equal(calls, 0, `late ${late}: sum/average/min/max(q) called window.value`);
      assert.ok(eventsFromBuckets(() => store.window(value, q)) > 0, 'the window.value function itself');
      assert.equal(calls, 0);
      let fresh: WindowResult | undefined;
      const scanned = eventsFromBuckets(() => {
        fresh = store.window((e) => value(e), q);
      });
      assert.equal(scanned, 0, `late ${late}: a fresh arrow read the buckets`);
      assert.ok(calls >= result.count, `late ${late}: a fresh arrow ran ${calls} times`);
      assert.deepEqual(fresh, result);
    }
  });

  it('keeps the explicit form: a selector other than window.value aggregates that selector', () => {
    const store = new EventStore<Reading>({
      partitions: 1,
      timestampSelector: (e) => e.t,
      window: { sizeMs: 1000, value: (e) => e.v },
    });
    store.tryAppendBatch([
      { t: 10, v: 1, tag: 100 },
      { t: 20, v: 2, tag: 200 },
    ]);
    assert.equal(store.sum(), 3);
    assert.equal(
      store.sum((e) => e.tag),
      300,
    );
    assert.equal(store.max({ to: 15 }), 1);
    assert.equal(
      store.max((e) => e.tag, { to: 15 }),
      100,
    );
    assert.equal(store.average({ filter: (e) => e.tag > 100 }), 2);
  });

  it('throws ES_ERR_INVALID_ARG naming the missing `window` option on a store without one', () => {
    const store = new EventStore<Reading>({ partitions: 1, timestampSelector: (e) => e.t });
    store.tryAppend({ t: 1, v: 1, tag: 0 });
    for (const [name, call] of [
      ['sum', () => store.sum({ from: 0 })],
      ['average', () => store.average()],
      ['min', () => store.min({})],
      ['max', () => store.max({ to: 5 })],
      ['window', () => store.window({ from: 0 })],
    ] as const) {
      assert.throws(call, (err: Error & { code?: string }) => {
        assert.equal(err.code, ErrorCode.INVALID_ARG);
        assert.match(
          err.message,
          new RegExp(`^\`${name}\\(\\)\` without a \`selector\` aggregates \`window.value\``),
        );
        assert.match(err.message, /this store has no `window` option/);
        return true;
      });
    }
    assert.equal(
      store.sum((e) => e.v, { from: 0 }),
      1,
    );
  });

  it('refuses a selector that is neither a function nor left out', () => {
    const store = new EventStore<Reading>({
      partitions: 1,
      timestampSelector: (e) => e.t,
      window: { sizeMs: 1000, value: (e) => e.v },
    });
    const loose = store as unknown as { sum(a?: unknown, b?: unknown): number };
    for (const [a, b] of [
      [undefined, { from: 0 }],
      [null, undefined],
      ['v', undefined],
      [{ from: 0 }, { to: 1 }],
    ]) {
      assert.throws(() => loose.sum(a, b), {
        code: ErrorCode.INVALID_ARG,
        message: /^`selector` must be a function \(or omitted, with query options first\), received /,
      });
    }
    assert.throws(() => loose.sum({ form: 0 }), {
      code: ErrorCode.INVALID_ARG,
      message: /unknown query option `form`/,
    });
  });
});
