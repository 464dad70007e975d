// The hot loops of unfiltered queries over a contiguous slot range: fold (count/sum/min/max) with or
// without the per-row stamp check, a count-and-sum without min/max, and the group fold. Plain reads
// of the shared columns and stamps; the caller validates the range afterwards (scan.ts).

import type { ColumnArray } from '../columns.js';
import { READABLE_MASK } from '../layout.js';
import type { Acc, ChunkGroups } from './accumulators.js';

/**
 * Count/sum/min/max over slots [i0, i1) whose stamp reads sequence `i + off` (PUBLISHED or INTERIOR)
 * and whose time is in [from, to]. `vs` undefined: count only. The hot loop of every simple fold.
 */
export function foldKernel(
  stamps: Int32Array,
  ts: ColumnArray,
  vs: ColumnArray | undefined,
  i0: number,
  i1: number,
  off: number,
  from: number,
  to: number,
  acc: Acc,
): void {
  let count = 0;
  if (vs === undefined) {
    for (let i = i0; i < i1; i++) {
      if ((stamps[i]! & READABLE_MASK) !== i + off) continue;
      const t = ts[i]!;
      if (t >= from && t <= to) count++;
    }
    acc.count += count;
    return;
  }
  let sum = 0;
  let min = acc.min;
  let max = acc.max;
  for (let i = i0; i < i1; i++) {
    if ((stamps[i]! & READABLE_MASK) !== i + off) continue;
    const t = ts[i]!;
    if (t < from || t > to) continue;
    const v = vs[i]!;
    count++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  acc.count += count;
  acc.sum += sum;
  acc.min = min;
  acc.max = max;
}

/** {@link foldKernel} for a range known to hold only published rows: no stamp check. */
export function foldAllKernel(
  ts: ColumnArray,
  vs: ColumnArray | undefined,
  i0: number,
  i1: number,
  from: number,
  to: number,
  acc: Acc,
): void {
  let count = 0;
  if (vs === undefined) {
    for (let i = i0; i < i1; i++) {
      const t = ts[i]!;
      if (t >= from && t <= to) count++;
    }
    acc.count += count;
    return;
  }
  let sum = 0;
  let min = acc.min;
  let max = acc.max;
  for (let i = i0; i < i1; i++) {
    const t = ts[i]!;
    if (t < from || t > to) continue;
    const v = vs[i]!;
    count++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  acc.count += count;
  acc.sum += sum;
  acc.min = min;
  acc.max = max;
}

/**
 * Count and sum (no min/max) of the rows of slots [i0, i1) with a time in [from, to], all published.
 * Four partial sums break the chain of dependent additions (the limit of a one-accumulator loop);
 * the order of additions differs from a sequential sum, which only matters for inexact values.
 */
export function sumAllKernel(
  ts: ColumnArray,
  vs: ColumnArray | undefined,
  i0: number,
  i1: number,
  timed: boolean,
  from: number,
  to: number,
  acc: Acc,
): void {
  let count = 0;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = i0;
  if (!timed) {
    count = i1 - i0;
    if (vs !== undefined) {
      for (; i + 3 < i1; i += 4) {
        s0 += vs[i]!;
        s1 += vs[i + 1]!;
        s2 += vs[i + 2]!;
        s3 += vs[i + 3]!;
      }
      for (; i < i1; i++) s0 += vs[i]!;
    }
  } else if (vs === undefined) {
    for (; i < i1; i++) {
      const t = ts[i]!;
      if (t >= from && t <= to) count++;
    }
  } else {
    for (; i + 3 < i1; i += 4) {
      const t0 = ts[i]!;
      const t1 = ts[i + 1]!;
      const t2 = ts[i + 2]!;
      const t3 = ts[i + 3]!;
      if (t0 >= from && t0 <= to) {
        s0 += vs[i]!;
        count++;
      }
      if (t1 >= from && t1 <= to) {
        s1 += vs[i + 1]!;
        count++;
      }
      if (t2 >= from && t2 <= to) {
        s2 += vs[i + 2]!;
        count++;
      }
      if (t3 >= from && t3 <= to) {
        s3 += vs[i + 3]!;
        count++;
      }
    }
    for (; i < i1; i++) {
      const t = ts[i]!;
      if (t >= from && t <= to) {
        s0 += vs[i]!;
        count++;
      }
    }
  }
  acc.count += count;
  acc.sum += s0 + s1 + (s2 + s3);
}

/**
 * Folds (key id, value) of the readable rows of slots [i0, i1) with a time in [from, to] into `g`;
 * `off` is the sequence minus the slot, and `stamps` undefined means every row is known published.
 */
export function groupKernel(
  stamps: Int32Array | undefined,
  ts: ColumnArray,
  ks: ColumnArray,
  vs: ColumnArray,
  i0: number,
  i1: number,
  off: number,
  from: number,
  to: number,
  g: ChunkGroups,
): void {
  for (let i = i0; i < i1; i++) {
    // Without stamps every row of the range is published (see Sequencer.allPublished).
    if (stamps !== undefined && (stamps[i]! & READABLE_MASK) !== i + off) continue;
    const t = ts[i]!;
    if (t < from || t > to) continue;
    g.add(ks[i]!, vs[i]!);
  }
}
