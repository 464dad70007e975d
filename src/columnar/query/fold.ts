// The fold of a columnar query: count, sum, min and max of one column (or a count alone) over the
// rows that match, partition by partition. A query without `where` or `filter` runs through tight
// kernels, and over block summaries in a partition of two blocks or more; any other goes row by row.
// Any thread; every chunk read is validated before it counts (scan.ts, block-summaries.ts).

import type { ColumnarPartition } from '../columnar-partition.js';
import type { ColumnArray } from '../columns.js';
import type { Noise } from '../test-hooks.js';
import { Acc } from './accumulators.js';
import {
  type BlockStep,
  BlockSummaries,
  summariesOf,
  summariseBlock,
  walkBlocks,
} from './block-summaries.js';
import { foldAllKernel, foldKernel, sumAllKernel } from './kernels.js';
import { matches, type ResolvedQuery } from './query-options.js';
import { CHUNK, forEachMatch, forEachRun, scan } from './scan.js';

/**
 * Count/sum/min/max of column `column` (-1: count only) over the rows of `parts` matching `r`.
 * `minMax: false` (sum, average, count) lets the kernel skip min/max.
 */
export function fold(
  parts: readonly ColumnarPartition[],
  r: ResolvedQuery,
  column: number,
  minMax: boolean,
  noise: Noise | undefined,
): Acc {
  const total = new Acc();
  if (r.none) return total;
  const chunkAcc = new Acc();
  const simple = r.whereCols.length === 0 && r.filter === undefined;
  for (let p = r.first; p < r.end; p++) {
    const part = parts[p]!;
    const seq = part.sequencer;
    const cols = part.columns;
    const view = part.views;
    const stamps = seq.stamps;
    const ts = cols[0]!;
    const vs = column < 0 ? undefined : cols[column]!;
    const cap = seq.capacity;
    const { timed, from, to } = r;
    if (simple && cap >= 2 * CHUNK) {
      foldBlocks(part, r, ts, vs, column, minMax, total, noise);
      continue;
    }
    scan(
      seq,
      noise,
      (a, n) => {
        chunkAcc.reset();
        if (simple) {
          // Contiguous slot ranges (at most two: the chunk may wrap the ring) through a tight kernel.
          forEachRun(seq, a, n, (i0, i1, off) => {
            if (seq.allPublished) {
              if (minMax && vs !== undefined) foldAllKernel(ts, vs, i0, i1, from, to, chunkAcc);
              else sumAllKernel(ts, vs, i0, i1, timed, from, to, chunkAcc);
            } else foldKernel(stamps, ts, vs, i0, i1, off, from, to, chunkAcc);
          });
          return chunkAcc.count;
        }
        let count = 0;
        let sum = 0;
        let min = Number.POSITIVE_INFINITY;
        let max = Number.NEGATIVE_INFINITY;
        forEachMatch(
          seq,
          a,
          n,
          (slot) => matches(r, cols, view, slot),
          (slot) => {
            count++;
            if (vs !== undefined) {
              const v = vs[slot]!;
              sum += v;
              if (v < min) min = v;
              if (v > max) max = v;
            }
          },
        );
        chunkAcc.count = count;
        chunkAcc.sum = sum;
        chunkAcc.min = min;
        chunkAcc.max = max;
        return count;
      },
      () => total.add(chunkAcc),
    );
  }
  return total;
}

/**
 * The fold of one partition through walkBlocks: a block entirely outside the range adds nothing,
 * one entirely inside adds its summary, the rest is read. A block is summarised (count, sum, min,
 * max) on its second whole read, so a one-off query pays no extra pass.
 */
function foldBlocks(
  part: ColumnarPartition,
  r: ResolvedQuery,
  ts: ColumnArray,
  vs: ColumnArray | undefined,
  column: number,
  minMax: boolean,
  total: Acc,
  noise: Noise | undefined,
): void {
  const seq = part.sequencer;
  const summaries = summariesOf(part.foldSummaries, column, seq.capacity, (n) => new BlockSummaries(n));
  const chunkAcc = new Acc();
  const { timed, from, to } = r;
  // Folds slots [i, i + n) (sequences from z) into chunkAcc; `readable`: every row known published.
  const read = (i: number, n: number, z: number, readable: boolean): void => {
    if (readable) {
      if (minMax && vs !== undefined) foldAllKernel(ts, vs, i, i + n, from, to, chunkAcc);
      else sumAllKernel(ts, vs, i, i + n, timed, from, to, chunkAcc);
    } else foldKernel(seq.stamps, ts, vs, i, i + n, z - i, from, to, chunkAcc);
  };
  const visit = (s: BlockStep): boolean => {
    chunkAcc.reset();
    if (s.within === 1) {
      chunkAcc.count = summaries.count[s.b]!;
      chunkAcc.sum = summaries.sum[s.b]!;
      chunkAcc.min = summaries.min[s.b]!;
      chunkAcc.max = summaries.max[s.b]!;
      return false;
    }
    if (s.within === -1) return false;
    // A known block's rows were all readable when summarised, and still are (validated after).
    let made = false;
    if (s.seen && !s.known) {
      made = summariseBlock(
        seq.allPublished ? undefined : seq.stamps,
        ts,
        vs,
        s.slot,
        s.n,
        s.a,
        summaries,
        s.b,
      );
    }
    read(s.slot, s.n, s.a, seq.allPublished || s.known || made);
    return made;
  };
  walkBlocks(seq, summaries, r, noise, visit, () => total.add(chunkAcc));
}
