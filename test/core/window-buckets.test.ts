import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WindowBuckets } from '../../src/core/window-buckets.ts';
import { EventStore } from '../../src/index.ts';
import { mulberry32 } from '../helpers/random.ts';

interface Bucket {
  count: number;
  sum: number;
  min: number;
  max: number;
  dirty: number;
}

/** The aggregates of bucket `k`, or `undefined` when it is not present. */
function bucket(b: WindowBuckets, k: number): Bucket | undefined {
  if (!b.isPresent(k)) return undefined;
  const s = b.slotOf(k);
  return { count: b.count[s]!, sum: b.sum[s]!, min: b.min[s]!, max: b.max[s]!, dirty: b.dirty[s]! };
}

function totals(b: WindowBuckets, lo: number, hi: number) {
  const out = { count: 0, sum: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY };
  b.accumulate(lo, hi, out);
  return out;
}

interface Reading {
  t: number;
  v: number;
}

describe('WindowBuckets', () => {
  it('splits sizeMs into bucketCount buckets and numbers them by floor(t / width)', () => {
    const b = new WindowBuckets(1000, 5);
    assert.equal(b.widthMs, 200);
    assert.equal(b.bucketOf(0), 0);
    assert.equal(b.bucketOf(199), 0);
    assert.equal(b.bucketOf(200), 1);
    assert.equal(b.bucketOf(-1), -1);
    assert.equal(b.bucketOf(-200), -1);
    assert.equal(b.bucketOf(-201), -2);
  });

  it('gives the present buckets distinct slots in range, for negative bucket numbers too', () => {
    for (const head of [-9, -1, 0, 7, 1e12]) {
      const b = new WindowBuckets(1000, 5);
      b.add(head * 200 + 1, 1);
      const slots = [];
      for (let k = head - 4; k <= head; k++) {
        assert.ok(b.isPresent(k), `bucket ${k} should be present under head ${head}`);
        const s = b.slotOf(k);
        assert.ok(Number.isInteger(s) && s >= 0 && s < 5, `slot ${s} of bucket ${k} is out of range`);
        slots.push(s);
      }
      assert.equal(new Set(slots).size, 5, `head ${head}: slots ${slots.join(',')} collide`);
    }
  });

  it('starts with no bucket present', () => {
    const b = new WindowBuckets(100, 4);
    assert.equal(b.head, Number.NEGATIVE_INFINITY);
    assert.equal(b.isPresent(0), false);
    assert.deepEqual(totals(b, -10, 10), { count: 0, sum: 0, min: Infinity, max: -Infinity });
  });

  it('advances the head to the newest bucket and keeps the last bucketCount buckets present', () => {
    const b = new WindowBuckets(40, 4); // 10 ms buckets
    b.add(25, 1);
    assert.equal(b.head, 2);
    assert.equal(b.oldest, -1);
    assert.deepEqual(bucket(b, 2), { count: 1, sum: 1, min: 1, max: 1, dirty: 0 });
    assert.deepEqual(bucket(b, -1), { count: 0, sum: 0, min: Infinity, max: -Infinity, dirty: 0 });
    b.add(41, 2);
    assert.equal(b.head, 4);
    assert.equal(b.isPresent(0), false);
    assert.equal(b.isPresent(1), true);
    assert.deepEqual(bucket(b, 3), { count: 0, sum: 0, min: Infinity, max: -Infinity, dirty: 0 });
    assert.deepEqual(bucket(b, 4), { count: 1, sum: 2, min: 2, max: 2, dirty: 0 });
    assert.deepEqual(bucket(b, 2), { count: 1, sum: 1, min: 1, max: 1, dirty: 0 });
  });

  it('resets every bucket when the head jumps by bucketCount or more', () => {
    const b = new WindowBuckets(40, 4);
    for (let t = 0; t < 40; t += 5) b.add(t, 1);
    b.add(75, 9); // bucket 7: buckets 4..7 present, all the old ones gone
    assert.equal(b.head, 7);
    for (let k = 0; k <= 3; k++) assert.equal(b.isPresent(k), false, `bucket ${k}`);
    assert.deepEqual(totals(b, 4, 7), { count: 1, sum: 9, min: 9, max: 9 });
  });

  it('adds an out-of-order time into its own bucket without moving the head', () => {
    const b = new WindowBuckets(40, 4);
    b.add(35, 5);
    b.add(12, 7);
    b.add(18, 1);
    assert.equal(b.head, 3);
    assert.deepEqual(bucket(b, 1), { count: 2, sum: 8, min: 1, max: 7, dirty: 0 });
    assert.deepEqual(bucket(b, 3), { count: 1, sum: 5, min: 5, max: 5, dirty: 0 });
  });

  it('ignores an add older than the buckets cover', () => {
    const b = new WindowBuckets(40, 4);
    b.add(75, 1); // head 7, oldest 4
    b.add(39, 100); // bucket 3: too old
    b.add(40, 2); // bucket 4: the oldest present
    assert.equal(b.isPresent(3), false);
    assert.deepEqual(totals(b, -100, 100), { count: 2, sum: 3, min: 1, max: 2 });
  });

  it('subtracts a removal and empties the bucket when its last event is removed', () => {
    const b = new WindowBuckets(40, 4);
    b.add(11, 3);
    b.add(12, 5);
    b.remove(11, 3);
    assert.equal(bucket(b, 1)?.count, 1);
    assert.equal(bucket(b, 1)?.sum, 5);
    b.remove(12, 5);
    assert.deepEqual(bucket(b, 1), { count: 0, sum: 0, min: Infinity, max: -Infinity, dirty: 0 });
  });

  it('marks a bucket dirty only when a removal takes its min or max', () => {
    const b = new WindowBuckets(40, 4);
    for (const v of [1, 5, 9]) b.add(10, v);
    b.remove(10, 5);
    assert.equal(bucket(b, 1)?.dirty, 0, 'removing a middle value keeps min/max exact');
    b.remove(10, 9);
    assert.equal(bucket(b, 1)?.dirty, 1);
    b.setMinMax(1, 1, 1);
    assert.deepEqual(bucket(b, 1), { count: 1, sum: 1, min: 1, max: 1, dirty: 0 });
    b.add(10, 4);
    b.remove(10, 1);
    assert.equal(bucket(b, 1)?.dirty, 1);
  });

  it('ignores a removal for a bucket that is no longer present', () => {
    const b = new WindowBuckets(40, 4);
    b.add(5, 1);
    b.add(45, 2); // bucket 0 left the ring
    b.remove(5, 1);
    assert.deepEqual(totals(b, -100, 100), { count: 1, sum: 2, min: 2, max: 2 });
    b.remove(1000, 2); // newer than the head: ignored too
    assert.deepEqual(totals(b, -100, 100), { count: 1, sum: 2, min: 2, max: 2 });
  });

  it('accumulates only the present buckets of the asked range', () => {
    const b = new WindowBuckets(40, 4);
    b.add(5, 1);
    b.add(15, 2);
    b.add(25, 3);
    b.add(35, 4);
    assert.deepEqual(totals(b, 1, 2), { count: 2, sum: 5, min: 2, max: 3 });
    assert.deepEqual(totals(b, 3, 3), { count: 1, sum: 4, min: 4, max: 4 });
    assert.deepEqual(totals(b, -5, 10), { count: 4, sum: 10, min: 1, max: 4 });
  });

  it('forgets everything on reset and keeps the head on emptyPresent', () => {
    const b = new WindowBuckets(40, 4);
    b.add(15, 2);
    b.add(35, 4);
    b.emptyPresent();
    assert.equal(b.head, 3);
    assert.deepEqual(totals(b, 0, 3), { count: 0, sum: 0, min: Infinity, max: -Infinity });
    assert.equal(b.isPresent(0), true);
    b.add(15, 7);
    assert.deepEqual(bucket(b, 1), { count: 1, sum: 7, min: 7, max: 7, dirty: 0 });
    b.reset();
    assert.equal(b.head, Number.NEGATIVE_INFINITY);
    assert.equal(b.isPresent(1), false);
    b.add(-25, 1); // after a reset an older time starts a fresh ring
    assert.equal(b.head, -3);
    assert.deepEqual(bucket(b, -3), { count: 1, sum: 1, min: 1, max: 1, dirty: 0 });
  });

  it('matches a model of the present buckets over random adds and removes', () => {
    for (const seed of [11, 12, 13]) {
      const rnd = mulberry32(seed);
      const b = new WindowBuckets(100, 10);
      // Model: the readings each present bucket holds.
      const model = new Map<number, Reading[]>();
      let head = Number.NEGATIVE_INFINITY;
      const live: Reading[] = [];
      let now = 0;
      for (let step = 0; step < 400; step++) {
        if (live.length > 0 && rnd() < 0.3) {
          const [r] = live.splice(Math.floor(rnd() * live.length), 1);
          b.remove(r!.t, r!.v);
          const list = model.get(b.bucketOf(r!.t));
          if (list !== undefined) list.splice(list.indexOf(r!), 1);
        } else {
          now += Math.floor(rnd() * 8);
          const r = { t: now - Math.floor(rnd() * 60), v: Math.floor(rnd() * 100) - 50 };
          b.add(r.t, r.v);
          live.push(r);
          const k = b.bucketOf(r.t);
          if (k > head) {
            head = k;
            for (const key of [...model.keys()]) if (key <= head - 10) model.delete(key);
          }
          if (k > head - 10) model.set(k, [...(model.get(k) ?? []), r]);
        }
        assert.equal(b.head, head, `head, seed ${seed} step ${step}`);
        for (let k = b.oldest; k <= b.head; k++) {
          const got = bucket(b, k);
          const want = model.get(k) ?? [];
          const where = `bucket ${k}, seed ${seed} step ${step}`;
          assert.ok(got !== undefined, `${where} present`);
          assert.equal(got.count, want.length, `${where} count`);
          assert.equal(
            got.sum,
            want.reduce((a, r) => a + r.v, 0),
            `${where} sum`,
          );
          if (want.length > 0 && got.dirty === 0) {
            assert.equal(got.min, Math.min(...want.map((r) => r.v)), `${where} min`);
            assert.equal(got.max, Math.max(...want.map((r) => r.v)), `${where} max`);
          }
          if (want.length > 0 && got.dirty === 1) {
            assert.ok(got.min <= Math.min(...want.map((r) => r.v)), `${where} stale min is a lower bound`);
            assert.ok(got.max >= Math.max(...want.map((r) => r.v)), `${where} stale max is an upper bound`);
          }
        }
      }
    }
  });
});

describe('WindowBuckets min/max repair through the store', () => {
  const value = (r: Reading): number => r.v;
  function stores() {
    const common = { capacity: 3, partitions: 1, timestampSelector: (r: Reading) => r.t };
    return {
      withWindow: new EventStore<Reading>({ ...common, window: { sizeMs: 100, bucketCount: 10, value } }),
      plain: new EventStore<Reading>(common),
    };
  }

  it('recomputes the min after the evicted event held the bucket min', () => {
    const { withWindow } = stores();
    for (const r of [
      { t: 1, v: 1 },
      { t: 2, v: 9 },
      { t: 3, v: 5 },
      { t: 15, v: 7 },
    ]) {
      withWindow.tryAppend(r);
    }
    assert.equal(withWindow.min(value), 5);
    assert.equal(withWindow.max(value), 9);
    assert.deepEqual(withWindow.window(value, { from: 0, to: 99 }), {
      count: 3,
      sum: 21,
      min: 5,
      max: 9,
      average: 7,
    });
  });

  it('recomputes the max after the evicted event held the bucket max, with times out of order', () => {
    const { withWindow } = stores();
    for (const r of [
      { t: 8, v: 50 },
      { t: 2, v: 3 },
      { t: 5, v: 4 },
      { t: 30, v: 1 },
    ]) {
      withWindow.tryAppend(r);
    }
    assert.equal(withWindow.max(value), 4);
    assert.equal(withWindow.max(value, { from: -50, to: 50 }), 4);
    assert.equal(withWindow.min(value, { to: 9 }), 3);
  });

  it('gives the same min and max as a store without buckets over a long random run', () => {
    const seed = 7;
    const rnd = mulberry32(seed);
    const { withWindow, plain } = stores();
    let now = 0;
    for (let i = 0; i < 500; i++) {
      now += Math.floor(rnd() * 4);
      const r = { t: now - Math.floor(rnd() * 25), v: Math.floor(rnd() * 1000) };
      withWindow.tryAppend(r);
      plain.tryAppend(r);
      const from = now - 120 + Math.floor(rnd() * 60);
      const to = from + Math.floor(rnd() * 100);
      assert.equal(withWindow.min(value), plain.min(value), `min, seed ${seed} step ${i}`);
      assert.equal(withWindow.max(value), plain.max(value), `max, seed ${seed} step ${i}`);
      assert.deepEqual(
        withWindow.window(value, { from, to }),
        plain.window(value, { from, to }),
        `window [${from}, ${to}], seed ${seed} step ${i}`,
      );
    }
  });
});
