// The query loops over one partition's ring. Nothing is copied: each loop walks the held slots in
// place, restricted to a time range by binary search when the partition's events are in time order,
// else by checking the time column per slot. Runs on the store's thread, between appends.
//
// Window buckets (when configured) answer the fully covered middle of a range in O(buckets); the
// partial edges and any part older than the buckets are scanned, so answers are exact, never estimated.

import type { Partition } from './partition.js';
import { type TimeRange, Totals } from './results.js';

/** A validated query: its time range in milliseconds and its filter. */
export interface Range<T> extends TimeRange {
  filter: ((event: T) => boolean) | undefined;
}

/** Positions `[start, end)` of a partition to visit, and whether each slot's time must still be checked. */
interface Span {
  start: number;
  end: number;
  check: boolean;
}

const span: Span = { start: 0, end: 0, check: false };

function resolveSpan<T>(part: Partition<T>, range: Range<T>): Span {
  span.start = 0;
  span.end = part.size;
  span.check = false;
  if (range.timed) {
    if (range.from > range.to) {
      span.end = 0;
    } else if (part.sorted) {
      span.start = part.lowerBound(range.from);
      span.end = part.upperBound(range.to, span.start);
    } else {
      span.check = true;
    }
  }
  return span;
}

/** Counts the events of `part` in `range`. */
export function countIn<T>(part: Partition<T>, range: Range<T>, useBuckets: boolean): number {
  // Buckets only for a partition out of time order: in order, the count is the two binary searches
  // below, cheaper than adding up bucket counts.
  if (useBuckets && range.filter === undefined && part.buckets !== undefined && !part.sorted) {
    const totals = new Totals();
    foldWithBuckets(part, range, undefined, totals, false);
    return totals.count;
  }
  const { start, end, check } = resolveSpan(part, range);
  const filter = range.filter;
  if (!check && filter === undefined) return end - start;
  const items = part.items;
  const ts = part.timestamps;
  const cap = part.capacity;
  const from = range.from;
  const to = range.to;
  let count = 0;
  let s = part.slotAt(start);
  for (let n = end - start; n > 0; n--) {
    const i = s;
    if (++s === cap) s = 0;
    if (check) {
      const t = ts![i]!;
      if (t < from || t > to) continue;
    }
    if (filter !== undefined && !filter(items[i] as T)) continue;
    count++;
  }
  return count;
}

/**
 * Adds count/sum/min/max of `selector` over the events of `part` in `range` into `out`.
 * `useValues`: `selector` is the `window.value` function, so the stored value column can be read
 * instead of calling it, and (without a filter) the buckets can answer the covered middle.
 */
export function foldIn<T>(
  part: Partition<T>,
  range: Range<T>,
  selector: (event: T) => number,
  useValues: boolean,
  out: Totals,
): void {
  if (useValues && range.filter === undefined && part.buckets !== undefined) {
    foldWithBuckets(part, range, selector, out, true);
    return;
  }
  const { start, end, check } = resolveSpan(part, range);
  foldSpan(part, start, end, check, range, useValues ? undefined : selector, out);
}

function foldSpan<T>(
  part: Partition<T>,
  start: number,
  end: number,
  check: boolean,
  range: Range<T>,
  selector: ((event: T) => number) | undefined,
  out: Totals,
): void {
  const items = part.items;
  const ts = part.timestamps;
  const vs = part.values;
  const cap = part.capacity;
  const filter = range.filter;
  const from = range.from;
  const to = range.to;
  let count = 0;
  let sum = 0;
  let min = out.min;
  let max = out.max;
  let s = part.slotAt(start);
  for (let n = end - start; n > 0; n--) {
    const i = s;
    if (++s === cap) s = 0;
    if (check) {
      const t = ts![i]!;
      if (t < from || t > to) continue;
    }
    let v: number;
    if (filter !== undefined || selector !== undefined) {
      const e = items[i] as T;
      if (filter !== undefined && !filter(e)) continue;
      v = selector !== undefined ? selector(e) : vs![i]!;
    } else {
      v = vs![i]!;
    }
    count++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  out.count += count;
  out.sum += sum;
  out.min = min;
  out.max = max;
}

/**
 * Bucket path (no filter): whole buckets strictly inside `(from, to)` come from the bucket
 * aggregates; the rest of the range is scanned. `selector` undefined means count only.
 */
function foldWithBuckets<T>(
  part: Partition<T>,
  range: Range<T>,
  selector: ((event: T) => number) | undefined,
  out: Totals,
  needMinMax: boolean,
): void {
  const b = part.buckets!;
  const { from, to } = range;
  if (range.timed && from > to) return;
  const size = part.size;
  if (size === 0) return;
  let lo = range.timed && from !== Number.NEGATIVE_INFINITY ? b.bucketOf(from) + 1 : b.oldest;
  let hi = range.timed && to !== Number.POSITIVE_INFINITY ? b.bucketOf(to) - 1 : b.head;
  if (lo < b.oldest) lo = b.oldest;
  if (hi > b.head) hi = b.head;
  if (lo > hi || b.head === Number.NEGATIVE_INFINITY) {
    if (selector === undefined && !needMinMax) {
      out.count += countIn(part, range, false);
      return;
    }
    const { start, end, check } = resolveSpan(part, range);
    foldSpan(part, start, end, check, range, undefined, out);
    return;
  }
  if (needMinMax) {
    for (let k = lo; k <= hi; k++) {
      const slot = b.slotOf(k);
      if (b.index[slot] === k && b.dirty[slot] === 1) part.repairBucket(k);
    }
  }
  b.accumulate(lo, hi, out);
  if (part.sorted) {
    const a = range.timed ? part.lowerBound(from) : 0;
    const z = range.timed ? part.upperBound(to, a) : size;
    const c = part.firstInBucket(lo);
    const d = part.firstInBucket(hi + 1);
    foldSpan(part, a, Math.min(z, c), false, range, undefined, out);
    foldSpan(part, Math.max(a, d), z, false, range, undefined, out);
    return;
  }
  // Unsorted: one pass over the time column, skipping what the buckets already counted.
  const ts = part.timestamps!;
  const vs = part.values!;
  const cap = part.capacity;
  let s = part.slotAt(0);
  for (let n = size; n > 0; n--) {
    const i = s;
    if (++s === cap) s = 0;
    const t = ts[i]!;
    if (range.timed && (t < from || t > to)) continue;
    const k = b.bucketOf(t);
    if (k >= lo && k <= hi) continue;
    const v = vs[i]!;
    out.count++;
    out.sum += v;
    if (v < out.min) out.min = v;
    if (v > out.max) out.max = v;
  }
}

/** Calls `visit` for each event of `part` in `range`, oldest first. */
export function visitIn<T>(part: Partition<T>, range: Range<T>, visit: (event: T) => void): void {
  const { start, end, check } = resolveSpan(part, range);
  const items = part.items;
  const ts = part.timestamps;
  const cap = part.capacity;
  const filter = range.filter;
  const from = range.from;
  const to = range.to;
  let s = part.slotAt(start);
  for (let n = end - start; n > 0; n--) {
    const i = s;
    if (++s === cap) s = 0;
    if (check) {
      const t = ts![i]!;
      if (t < from || t > to) continue;
    }
    const e = items[i] as T;
    if (filter !== undefined && !filter(e)) continue;
    visit(e);
  }
}
