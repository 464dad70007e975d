// One partition: a fixed-capacity ring of events plus optional parallel columns (event time, window
// value) and window buckets. Owned by one thread (the store's); nothing here is shared or awaited, so
// every read sees a complete state. The store decides routing, overflow policy and callbacks.
//
//   sequences:  head (oldest held) ......... tail (next to write) = the partition's version
//   slots:      items[(writeSlot - size + pos) mod capacity], pos 0 = oldest held event
//
// The ring grows with its content: `items` and the columns start small and double (up to
// `capacity`) when the write slot reaches their end. Until they reach `capacity` the ring has never
// wrapped (it cannot be full before), so the held events sit in slots [writeSlot - size, writeSlot)
// and growing only appends free slots.
//
// `disorderSeq` is the greatest sequence s whose time is below that of s - 1; the held events are in
// time order exactly when disorderSeq <= head, which lets range queries binary-search instead of scan.

import type { WindowBuckets } from './window-buckets.js';

/** Slots a ring allocates before its first append; it doubles from there up to its capacity. */
const INITIAL_SLOTS = 16;

function grown(column: Float64Array, size: number): Float64Array {
  const next = new Float64Array(size);
  next.set(column);
  return next;
}

/** One partition's ring: events, their times and window values, and its window buckets. */
export class Partition<T> {
  readonly capacity: number;
  /**
   * The ring (`capacity` slots once grown). Held slots contain events; free slots contain `undefined`
   * (so evicted events can be GC'd).
   */
  readonly items: (T | undefined)[];
  /** Event times in epoch ms, parallel to `items`; present when time tracking is on. */
  timestamps: Float64Array | undefined;
  /** `window.value` of each event, parallel to `items`; present with the `window` option. */
  values: Float64Array | undefined;
  readonly buckets: WindowBuckets | undefined;
  /** Sequence of the oldest held event. */
  head = 0;
  /** Sequence the next event gets: the number of events ever appended (the partition's version). */
  tail = 0;
  /** Slot the next event is written to. */
  writeSlot = 0;
  disorderSeq = -1;
  /** Time of the newest held (or last appended) event; `-Infinity` when empty. */
  lastTs = Number.NEGATIVE_INFINITY;
  /** Clears and purges that removed something: with `tail`, counts every change (for snapshots). */
  resets = 0;

  constructor(capacity: number, trackTime: boolean, buckets: WindowBuckets | undefined) {
    this.capacity = capacity;
    const allocated = Math.min(capacity, INITIAL_SLOTS);
    const items: (T | undefined)[] = [];
    for (let i = 0; i < allocated; i++) items.push(undefined); // packed, not holey
    this.items = items;
    this.timestamps = trackTime ? new Float64Array(allocated) : undefined;
    this.values = buckets !== undefined ? new Float64Array(allocated) : undefined;
    this.buckets = buckets;
  }

  /** Slots allocated so far (`capacity` once the ring has grown to its size). */
  get allocated(): number {
    return this.items.length;
  }

  /**
   * Makes room for `n` more writes from the write slot: grows the ring (doubling, at most to
   * `capacity`) while it has never wrapped. Cheap no-op once the ring has its full size.
   */
  reserve(n: number): void {
    const have = this.items.length;
    if (have === this.capacity || this.writeSlot + n <= have) return;
    let size = have;
    while (size < this.writeSlot + n && size < this.capacity) size *= 2;
    size = Math.min(size, this.capacity);
    for (let i = have; i < size; i++) this.items.push(undefined);
    if (this.timestamps !== undefined) this.timestamps = grown(this.timestamps, size);
    if (this.values !== undefined) this.values = grown(this.values, size);
  }

  get size(): number {
    return this.tail - this.head;
  }

  /** Whether held events are in non-decreasing time order (only meaningful with time tracking). */
  get sorted(): boolean {
    return this.disorderSeq <= this.head;
  }

  /** Physical slot of logical position `pos` (0 = oldest held). */
  slotAt(pos: number): number {
    const s = this.writeSlot - (this.tail - this.head) + pos;
    return s < 0 ? s + this.capacity : s >= this.capacity ? s - this.capacity : s;
  }

  /** Appends into a free slot. The caller evicts first when the partition is full. */
  push(event: T, t: number, v: number): void {
    if (this.writeSlot === this.items.length) this.reserve(1);
    const slot = this.writeSlot;
    this.items[slot] = event;
    const ts = this.timestamps;
    if (ts !== undefined) {
      ts[slot] = t;
      if (t < this.lastTs) this.disorderSeq = this.tail;
      this.lastTs = t;
      if (this.buckets !== undefined) {
        this.values![slot] = v;
        this.buckets.add(t, v);
      }
    }
    this.tail++;
    this.writeSlot = slot + 1 === this.capacity ? 0 : slot + 1;
  }

  /** `push` for a partition without time or value columns. */
  pushUntimed(event: T): void {
    if (this.writeSlot === this.items.length) this.reserve(1);
    const slot = this.writeSlot;
    this.items[slot] = event;
    this.tail++;
    this.writeSlot = slot + 1 === this.capacity ? 0 : slot + 1;
  }

  /** `overwriteOldest` for a partition without time or value columns. */
  overwriteOldestUntimed(event: T): T {
    const slot = this.writeSlot;
    const evicted = this.items[slot] as T;
    this.items[slot] = event;
    this.head++;
    this.tail++;
    this.writeSlot = slot + 1 === this.capacity ? 0 : slot + 1;
    return evicted;
  }

  /**
   * Appends `events[start]`, `events[start + step]`, … (`count` of them) in order, each evicting the
   * oldest event when the partition is full, and returns how many were evicted. Only for partitions
   * without time or value columns (no time tracking), where an append is just a slot write.
   */
  pushStrided(events: readonly T[], start: number, step: number, count: number): number {
    this.reserve(count);
    const items = this.items;
    const capacity = this.capacity;
    let slot = this.writeSlot;
    for (let i = 0, j = start; i < count; i++, j += step) {
      items[slot] = events[j];
      slot = slot + 1 === capacity ? 0 : slot + 1;
    }
    this.writeSlot = slot;
    const evicted = Math.max(0, this.tail - this.head + count - capacity);
    this.tail += count;
    this.head += evicted;
    return evicted;
  }

  /**
   * In a full partition, replaces the oldest event with `event` and returns the evicted one: the same
   * as `evictOldest()` then `push()`, in one step (the oldest event's slot is the write slot).
   */
  overwriteOldest(event: T, t: number, v: number): T {
    const slot = this.writeSlot;
    const evicted = this.items[slot] as T;
    this.items[slot] = event;
    const ts = this.timestamps;
    if (ts !== undefined) {
      if (this.buckets !== undefined) {
        const values = this.values!;
        this.buckets.remove(ts[slot]!, values[slot]!);
        values[slot] = v;
        this.buckets.add(t, v);
      }
      ts[slot] = t;
      if (t < this.lastTs) this.disorderSeq = this.tail;
      this.lastTs = t;
    }
    this.head++;
    this.tail++;
    this.writeSlot = slot + 1 === this.capacity ? 0 : slot + 1;
    return evicted;
  }

  /** Removes and returns the oldest held event. The partition must not be empty. */
  evictOldest(): T {
    const slot = this.slotAt(0);
    const event = this.items[slot] as T;
    this.items[slot] = undefined;
    if (this.buckets !== undefined) this.buckets.remove(this.timestamps![slot]!, this.values![slot]!);
    this.head++;
    return event;
  }

  /** Empties the partition and sets its version, before a restore pushes the snapshot's events. */
  resetTo(version: number): void {
    this.clear();
    this.head = version;
    this.tail = version;
    this.writeSlot = 0;
    this.resets = 0;
  }

  /** Drops every held event. The version (`tail`) is kept: versions never go back. */
  clear(): void {
    if (this.tail !== this.head) this.resets++;
    for (let pos = 0, n = this.size; pos < n; pos++) this.items[this.slotAt(pos)] = undefined;
    this.head = this.tail;
    this.disorderSeq = -1;
    this.lastTs = Number.NEGATIVE_INFINITY;
    this.buckets?.reset();
  }

  /** First position in `[lo, hi)` whose time is >= `t` (held events must be sorted). */
  lowerBound(t: number, lo = 0, hi = this.size): number {
    const ts = this.timestamps!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ts[this.slotAt(mid)]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First position in `[lo, hi)` whose time is > `t` (held events must be sorted). */
  upperBound(t: number, lo = 0, hi = this.size): number {
    const ts = this.timestamps!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ts[this.slotAt(mid)]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First position whose bucket number is >= `k` (held events must be sorted). */
  firstInBucket(k: number): number {
    const ts = this.timestamps!;
    const b = this.buckets!;
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (b.bucketOf(ts[this.slotAt(mid)]!) < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Recomputes the min/max of bucket `k` from the held events after an eviction made them stale. */
  repairBucket(k: number): void {
    const b = this.buckets!;
    const ts = this.timestamps!;
    const vs = this.values!;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    const sorted = this.sorted;
    const start = sorted ? this.firstInBucket(k) : 0;
    const end = sorted ? this.firstInBucket(k + 1) : this.size;
    for (let pos = start; pos < end; pos++) {
      const s = this.slotAt(pos);
      if (!sorted && b.bucketOf(ts[s]!) !== k) continue;
      const v = vs[s]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    b.setMinMax(k, min, max);
  }

  /**
   * Removes the events whose time is below `cutoff`, keeping order and the version. `timeOf` supplies
   * times when no time column is kept. Returns the number removed.
   */
  purgeOlderThan(cutoff: number, timeOf: (event: T) => number): number {
    const n = this.size;
    if (n === 0) return 0;
    const ts = this.timestamps;
    if (ts !== undefined && this.sorted) {
      const drop = this.lowerBound(cutoff);
      for (let i = 0; i < drop; i++) this.evictOldest();
      if (this.size === 0) this.lastTs = Number.NEGATIVE_INFINITY;
      if (drop > 0) this.resets++;
      return drop;
    }
    const keptItems: T[] = [];
    const keptTs: number[] = [];
    const keptValues: number[] = [];
    for (let pos = 0; pos < n; pos++) {
      const s = this.slotAt(pos);
      const event = this.items[s] as T;
      const t = ts !== undefined ? ts[s]! : timeOf(event);
      if (t < cutoff) continue;
      keptItems.push(event);
      keptTs.push(t);
      if (this.values !== undefined) keptValues.push(this.values[s]!);
    }
    const removed = n - keptItems.length;
    if (removed === 0) return 0;
    this.resets++;
    for (let pos = 0; pos < n; pos++) this.items[this.slotAt(pos)] = undefined;
    this.head = this.tail - keptItems.length;
    this.buckets?.emptyPresent();
    this.disorderSeq = -1;
    this.lastTs = Number.NEGATIVE_INFINITY;
    for (let pos = 0; pos < keptItems.length; pos++) {
      const s = this.slotAt(pos);
      this.items[s] = keptItems[pos];
      if (ts !== undefined) {
        const t = keptTs[pos]!;
        ts[s] = t;
        if (t < this.lastTs) this.disorderSeq = this.head + pos;
        this.lastTs = t;
        if (this.buckets !== undefined) {
          const v = keptValues[pos]!;
          this.values![s] = v;
          this.buckets.add(t, v);
        }
      }
    }
    return removed;
  }
}
