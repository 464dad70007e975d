// Incremental time buckets of one partition: count, sum, min and max of the values of the events
// currently held, grouped by bucket number k = floor(t / widthMs). Owned and mutated by the partition's
// single thread; queries read them (and may repair a stale min/max) on the same thread.
//
//   bucket numbers:  head-B+1 ........................ head     (B = bucketCount; newer -> right)
//   slots:           [ k mod B ] one slot per number, `index[slot] === k` marks it present
//
// Invariant: for every present bucket k, its aggregates are exactly those of the held events whose
// bucket number is k. A bucket becomes present only when `head` advances past it, and every held event
// has a bucket number <= head, so a new bucket starts empty; evictions subtract from present buckets.
// Min/max cannot be un-merged: an eviction that removes the min or max marks the bucket `dirty`, and
// the partition recomputes it from the events before it is used (see Partition.repairBucket).

/** Aggregates of the present buckets whose numbers lie in a range. */
export interface BucketTotals {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** The time buckets of one partition (see the diagram above). */
export class WindowBuckets {
  readonly widthMs: number;
  readonly bucketCount: number;
  /** Newest bucket number seen; `-Infinity` when no bucket is present. */
  head = Number.NEGATIVE_INFINITY;
  /** Slot of bucket `head`. */
  headSlot = 0;
  readonly index: Float64Array;
  readonly count: Float64Array;
  readonly sum: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  readonly dirty: Uint8Array;

  constructor(sizeMs: number, bucketCount: number) {
    this.widthMs = sizeMs / bucketCount;
    this.bucketCount = bucketCount;
    this.index = new Float64Array(bucketCount).fill(Number.NaN);
    this.count = new Float64Array(bucketCount);
    this.sum = new Float64Array(bucketCount);
    this.min = new Float64Array(bucketCount).fill(Number.POSITIVE_INFINITY);
    this.max = new Float64Array(bucketCount).fill(Number.NEGATIVE_INFINITY);
    this.dirty = new Uint8Array(bucketCount);
  }

  /** Bucket number of a time. Every caller uses this one function, so edges agree exactly. */
  bucketOf(t: number): number {
    return Math.floor(t / this.widthMs);
  }

  /** Oldest present bucket number. */
  get oldest(): number {
    return this.head - this.bucketCount + 1;
  }

  /**
   * Slot of a present bucket number `k` (head - bucketCount < k <= head). Counted back from the
   * head's slot with one subtraction: a `%` on bucket numbers near 10^12 is a slow float modulo.
   */
  slotOf(k: number): number {
    const s = this.headSlot - (this.head - k);
    return s < 0 ? s + this.bucketCount : s;
  }

  add(t: number, v: number): void {
    const k = this.bucketOf(t);
    if (k > this.head) this.advance(k);
    else if (k <= this.head - this.bucketCount) return; // older than the buckets cover: scanned instead
    const s = this.slotOf(k);
    this.count[s]! += 1;
    this.sum[s]! += v;
    if (v < this.min[s]!) this.min[s] = v;
    if (v > this.max[s]!) this.max[s] = v;
  }

  remove(t: number, v: number): void {
    const k = this.bucketOf(t);
    if (k > this.head || k <= this.head - this.bucketCount) return;
    const s = this.slotOf(k);
    if (this.index[s] !== k) return;
    const n = this.count[s]! - 1;
    if (n === 0) {
      this.resetSlot(s, k);
      return;
    }
    this.count[s] = n;
    this.sum[s]! -= v;
    if (v <= this.min[s]! || v >= this.max[s]!) this.dirty[s] = 1;
  }

  /** Forgets every bucket (after `clear`). */
  reset(): void {
    this.head = Number.NEGATIVE_INFINITY;
    this.headSlot = 0;
    this.index.fill(Number.NaN);
    this.count.fill(0);
    this.sum.fill(0);
    this.min.fill(Number.POSITIVE_INFINITY);
    this.max.fill(Number.NEGATIVE_INFINITY);
    this.dirty.fill(0);
  }

  /** Empties the present buckets but keeps `head`, so the same numbers stay present (used by purge). */
  emptyPresent(): void {
    if (this.head === Number.NEGATIVE_INFINITY) return;
    for (let k = this.oldest; k <= this.head; k++) this.resetSlot(this.slotOf(k), k);
  }

  /** Whether bucket `k` is present (has a slot holding exactly its aggregates). */
  isPresent(k: number): boolean {
    return k <= this.head && k > this.head - this.bucketCount && this.index[this.slotOf(k)] === k;
  }

  /** Sets a bucket's min/max after the partition recomputed them from its events. */
  setMinMax(k: number, min: number, max: number): void {
    const s = this.slotOf(k);
    this.min[s] = min;
    this.max[s] = max;
    this.dirty[s] = 0;
  }

  /** Adds the aggregates of present buckets `lo..hi` (inclusive) into `out`. */
  accumulate(lo: number, hi: number, out: BucketTotals): void {
    for (let k = lo; k <= hi; k++) {
      const s = this.slotOf(k);
      if (this.index[s] !== k) continue;
      const n = this.count[s]!;
      if (n === 0) continue;
      out.count += n;
      out.sum += this.sum[s]!;
      if (this.min[s]! < out.min) out.min = this.min[s]!;
      if (this.max[s]! > out.max) out.max = this.max[s]!;
    }
  }

  private advance(k: number): void {
    const n = this.bucketCount;
    if (this.head === Number.NEGATIVE_INFINITY || k - this.head >= n) {
      // Every present bucket changes: lay out k - n + 1 .. k in slots 0 .. n - 1.
      for (let s = 0; s < n; s++) this.resetSlot(s, k - n + 1 + s);
      this.headSlot = n - 1;
    } else {
      let slot = this.headSlot;
      for (let j = this.head + 1; j <= k; j++) {
        slot = slot + 1 === n ? 0 : slot + 1;
        this.resetSlot(slot, j);
      }
      this.headSlot = slot;
    }
    this.head = k;
  }

  private resetSlot(s: number, k: number): void {
    this.index[s] = k;
    this.count[s] = 0;
    this.sum[s] = 0;
    this.min[s] = Number.POSITIVE_INFINITY;
    this.max[s] = Number.NEGATIVE_INFINITY;
    this.dirty[s] = 0;
  }
}
