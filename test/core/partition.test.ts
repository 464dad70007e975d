import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Partition } from '../../src/core/partition.ts';
import { WindowBuckets } from '../../src/core/window-buckets.ts';
import { mulberry32 } from '../helpers/random.ts';

/** Held events, oldest first. */
function held<T>(p: Partition<T>): T[] {
  const out: T[] = [];
  for (let pos = 0; pos < p.size; pos++) out.push(p.items[p.slotAt(pos)] as T);
  return out;
}

/** Held times, oldest first. */
function heldTimes<T>(p: Partition<T>): number[] {
  const out: number[] = [];
  for (let pos = 0; pos < p.size; pos++) out.push(p.timestamps![p.slotAt(pos)]!);
  return out;
}

/** Appends like the store does in overwrite mode: evict first when full. */
function append<T>(p: Partition<T>, event: T, t = 0, v = 0): T | undefined {
  const evicted = p.size === p.capacity ? p.evictOldest() : undefined;
  p.push(event, t, v);
  return evicted;
}

function isSortedAsc(xs: number[]): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i]! < xs[i - 1]!) return false;
  return true;
}

describe('Partition', () => {
  it('wraps around the ring and keeps the newest events in order', () => {
    const p = new Partition<number>(3, false, undefined);
    const evicted: (number | undefined)[] = [];
    for (let i = 1; i <= 8; i++) evicted.push(append(p, i));
    assert.deepEqual(held(p), [6, 7, 8]);
    assert.deepEqual(evicted, [undefined, undefined, undefined, 1, 2, 3, 4, 5]);
    assert.equal(p.size, 3);
    assert.equal(p.head, 5);
    assert.equal(p.tail, 8);
    assert.equal(p.writeSlot, 8 % 3);
  });

  it('evicts the oldest event, returns it and frees its slot', () => {
    const p = new Partition<string>(4, false, undefined);
    for (const e of ['a', 'b', 'c']) p.push(e, 0, 0);
    const slot = p.slotAt(0);
    assert.equal(p.evictOldest(), 'a');
    assert.equal(p.items[slot], undefined);
    assert.deepEqual(held(p), ['b', 'c']);
    assert.equal(p.head, 1);
    assert.equal(p.tail, 3);
  });

  it('holds undefined in every free slot after wrapping and evicting', () => {
    const p = new Partition<number>(4, false, undefined);
    for (let i = 0; i < 6; i++) append(p, i);
    p.evictOldest();
    p.evictOldest();
    const heldSlots = new Set([p.slotAt(0), p.slotAt(1)]);
    for (let s = 0; s < 4; s++) {
      if (heldSlots.has(s)) assert.notEqual(p.items[s], undefined, `slot ${s}`);
      else assert.equal(p.items[s], undefined, `slot ${s}`);
    }
    assert.deepEqual(held(p), [4, 5]);
  });

  it('keeps counting its version after clear, so versions never go back', () => {
    const p = new Partition<number>(3, true, undefined);
    for (let i = 0; i < 5; i++) append(p, i, i);
    assert.equal(p.tail, 5);
    p.clear();
    assert.equal(p.size, 0);
    assert.equal(p.tail, 5);
    assert.equal(p.head, 5);
    assert.ok(p.items.every((x) => x === undefined));
    append(p, 10, 1);
    append(p, 11, 2);
    assert.equal(p.tail, 7);
    assert.deepEqual(held(p), [10, 11]);
    assert.deepEqual(heldTimes(p), [1, 2]);
  });

  it('forgets the time order on clear, so an older time afterwards still counts as sorted', () => {
    const p = new Partition<number>(4, true, undefined);
    append(p, 1, 100);
    p.clear();
    append(p, 2, 5);
    assert.equal(p.sorted, true);
    assert.equal(p.lastTs, 5);
  });

  it('detects time disorder and becomes sorted again once the disordered event is evicted', () => {
    const p = new Partition<number>(3, true, undefined);
    append(p, 1, 10);
    append(p, 2, 10);
    append(p, 3, 20);
    assert.equal(p.sorted, true, 'equal times count as sorted');
    append(p, 4, 15); // evicts t=10, held 10,20,15 -> disorder
    assert.equal(p.sorted, false);
    append(p, 5, 30); // held 20,15,30 -> still disorder
    assert.equal(p.sorted, false);
    append(p, 6, 40); // held 15,30,40 -> the event at 15 is now the oldest: sorted
    assert.deepEqual(heldTimes(p), [15, 30, 40]);
    assert.equal(p.sorted, true);
  });

  it('reports sorted exactly when the held times are non-decreasing, over random appends', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rnd = mulberry32(seed);
      const p = new Partition<number>(7, true, undefined);
      for (let i = 0; i < 300; i++) {
        append(p, i, Math.floor(rnd() * 50) + i / 4);
        if (rnd() < 0.05) p.clear();
        assert.equal(p.sorted, isSortedAsc(heldTimes(p)), `seed ${seed}, step ${i}`);
      }
    }
  });

  it('finds lowerBound and upperBound over a wrapped ring with duplicate times', () => {
    const p = new Partition<number>(6, true, undefined);
    for (const t of [1, 2, 3, 5, 5, 5, 7, 9, 9]) append(p, t, t);
    // held times: 5,5,5,7,9,9 (wrapped)
    assert.deepEqual(heldTimes(p), [5, 5, 5, 7, 9, 9]);
    assert.ok(p.slotAt(0) !== 0, 'the ring is wrapped');
    assert.equal(p.lowerBound(5), 0);
    assert.equal(p.upperBound(5), 3);
    assert.equal(p.lowerBound(6), 3);
    assert.equal(p.upperBound(6), 3);
    assert.equal(p.lowerBound(7), 3);
    assert.equal(p.upperBound(7), 4);
    assert.equal(p.lowerBound(9), 4);
    assert.equal(p.upperBound(9), 6);
    assert.equal(p.lowerBound(0), 0);
    assert.equal(p.upperBound(100), 6);
    assert.equal(p.lowerBound(100), 6);
    assert.equal(p.upperBound(9, 5), 6, 'respects lo');
    assert.equal(p.lowerBound(9, 0, 4), 4, 'respects hi');
  });

  it('agrees with a linear search for lowerBound and upperBound over random sorted data', () => {
    const seed = 42;
    const rnd = mulberry32(seed);
    const p = new Partition<number>(50, true, undefined);
    let t = 0;
    for (let i = 0; i < 173; i++) {
      t += Math.floor(rnd() * 3);
      append(p, i, t);
    }
    const times = heldTimes(p);
    for (let q = times[0]! - 2; q <= times.at(-1)! + 2; q++) {
      const lb = times.findIndex((x) => x >= q);
      const ub = times.findIndex((x) => x > q);
      assert.equal(p.lowerBound(q), lb === -1 ? times.length : lb, `lowerBound(${q}) seed ${seed}`);
      assert.equal(p.upperBound(q), ub === -1 ? times.length : ub, `upperBound(${q}) seed ${seed}`);
    }
  });

  it('purges a sorted prefix, keeping every newer event, order and version', () => {
    const p = new Partition<number>(5, true, undefined);
    for (let i = 1; i <= 7; i++) append(p, i, i * 10); // held 30..70
    assert.equal(
      p.purgeOlderThan(50, () => assert.fail('the time column is used')),
      2,
    );
    assert.deepEqual(held(p), [5, 6, 7]);
    assert.deepEqual(heldTimes(p), [50, 60, 70]);
    assert.equal(p.tail, 7);
    assert.equal(p.sorted, true);
    assert.equal(
      p.purgeOlderThan(50, (e) => e),
      0,
      'a time equal to the cutoff is kept',
    );
    append(p, 8, 80);
    assert.deepEqual(held(p), [5, 6, 7, 8]);
  });

  it('purges everything from a sorted partition and then accepts any time as sorted', () => {
    const p = new Partition<number>(4, true, undefined);
    for (let i = 1; i <= 3; i++) append(p, i, i * 10);
    assert.equal(
      p.purgeOlderThan(1000, (e) => e),
      3,
    );
    assert.equal(p.size, 0);
    assert.equal(p.tail, 3);
    append(p, 9, 1);
    assert.equal(p.sorted, true);
    assert.deepEqual(held(p), [9]);
  });

  it('purges from an unsorted partition every older event wherever it is, keeping the rest in order', () => {
    const p = new Partition<string>(6, true, undefined);
    const data: [string, number][] = [
      ['a', 50],
      ['b', 10],
      ['c', 60],
      ['d', 20],
      ['e', 70],
      ['f', 40],
    ];
    for (const [e, t] of data) append(p, e, t);
    assert.equal(p.sorted, false);
    assert.equal(
      p.purgeOlderThan(40, () => assert.fail('the time column is used')),
      2,
    );
    assert.deepEqual(held(p), ['a', 'c', 'e', 'f']);
    assert.deepEqual(heldTimes(p), [50, 60, 70, 40]);
    assert.equal(p.tail, 6);
    assert.equal(p.sorted, false);
    assert.equal(
      p.purgeOlderThan(55, (e) => e.length),
      2,
    );
    assert.deepEqual(held(p), ['c', 'e']);
    assert.equal(p.sorted, true, 'the survivors are in time order');
    append(p, 'g', 65);
    assert.equal(p.sorted, false, 'a later older time is disorder again');
    assert.deepEqual(held(p), ['c', 'e', 'g']);
  });

  it('purges a wrapped unsorted partition and keeps appending into the right slots', () => {
    const p = new Partition<number>(4, true, undefined);
    for (const t of [1, 2, 3, 4, 9, 5, 8]) append(p, t, t); // held 4,9,5,8 (wrapped, unsorted)
    assert.equal(
      p.purgeOlderThan(6, () => 0),
      2,
    );
    assert.deepEqual(held(p), [9, 8]);
    for (const t of [10, 11, 12]) append(p, t, t);
    assert.deepEqual(held(p), [8, 10, 11, 12]);
    assert.deepEqual(heldTimes(p), [8, 10, 11, 12]);
    assert.equal(p.tail, 10);
  });

  it('purges by the given time function when no time column is kept', () => {
    const p = new Partition<{ t: number }>(5, false, undefined);
    for (const t of [5, 1, 7, 3, 9]) append(p, { t });
    assert.equal(
      p.purgeOlderThan(5, (e) => e.t),
      2,
    );
    assert.deepEqual(
      held(p).map((e) => e.t),
      [5, 7, 9],
    );
  });

  it('returns 0 and changes nothing when purging an empty partition or removing nothing', () => {
    const p = new Partition<number>(3, true, undefined);
    assert.equal(
      p.purgeOlderThan(100, (e) => e),
      0,
    );
    append(p, 1, 20);
    append(p, 2, 10);
    assert.equal(
      p.purgeOlderThan(5, (e) => e),
      0,
    );
    assert.deepEqual(held(p), [1, 2]);
    assert.equal(p.head, 0);
  });

  it('keeps window buckets equal to the held events after an unsorted purge', () => {
    const b = new WindowBuckets(100, 10); // 10 ms buckets
    const p = new Partition<number>(6, true, b);
    for (const [t, v] of [
      [35, 1],
      [12, 2],
      [37, 3],
      [55, 4],
      [14, 5],
      [58, 6],
    ] as const) {
      append(p, v, t, v);
    }
    assert.equal(
      p.purgeOlderThan(36, () => 0),
      3,
    );
    assert.deepEqual(held(p), [3, 4, 6]);
    const at = (k: number) => {
      const s = b.slotOf(k);
      return { present: b.index[s] === k, count: b.count[s], sum: b.sum[s] };
    };
    assert.deepEqual(at(1), { present: true, count: 0, sum: 0 });
    assert.deepEqual(at(3), { present: true, count: 1, sum: 3 });
    assert.deepEqual(at(5), { present: true, count: 2, sum: 10 });
  });
});

describe('Partition growth', () => {
  it('allocates a few slots at first and grows with its content, keeping order, times and buckets', () => {
    const buckets = new WindowBuckets(1000, 10);
    const p = new Partition<number>(1_000_000, true, buckets);
    assert.equal(p.allocated, 16);
    for (let i = 0; i < 100; i++) append(p, i, i, i);
    assert.equal(p.allocated, 128);
    assert.deepEqual(
      held(p),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.deepEqual(
      heldTimes(p),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.equal(p.values!.length, 128);
  });

  it('wraps only at its capacity, also after a clear and a batch that crosses the end', () => {
    const seed = 11;
    const rnd = mulberry32(seed);
    for (let trial = 0; trial < 50; trial++) {
      const capacity = 1 + Math.floor(rnd() * 200);
      const p = new Partition<number>(capacity, false, undefined);
      const model: number[] = [];
      let next = 0;
      for (let step = 0; step < 300; step++) {
        const r = rnd();
        if (r < 0.05) {
          p.clear();
          model.length = 0;
        } else if (r < 0.3) {
          const n = 1 + Math.floor(rnd() * capacity * 2);
          const batch = Array.from({ length: n }, () => next++);
          p.pushStrided(batch, 0, 1, n);
          model.push(...batch);
        } else {
          append(p, next);
          model.push(next++);
        }
        while (model.length > capacity) model.shift();
        assert.deepEqual(held(p), model, `seed ${seed} trial ${trial} step ${step}`);
        assert.ok(p.allocated <= capacity);
      }
    }
  });

  it('costs little memory for a large capacity that holds few events', () => {
    const before = process.memoryUsage().heapUsed;
    const parts: Partition<number>[] = [];
    for (let i = 0; i < 1000; i++) {
      const p = new Partition<number>(1_000_000, true, undefined);
      p.push(i, i, 0);
      parts.push(p);
    }
    const grownBy = process.memoryUsage().heapUsed - before;
    // Preallocated, 1000 rings of 1,000,000 slots would take ~16 GB; grown with content, a few hundred KB.
    assert.ok(grownBy < 50 * 1024 * 1024, `1000 near-empty rings grew the heap by ${grownBy} bytes`);
    assert.equal(parts.length, 1000);
  });
});
