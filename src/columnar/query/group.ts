// The groupBy of a columnar query: per key of a key column, the count, sum, min and max of a value
// column over the rows that match; and the result shapes of groupBy and topK. Without `where` or
// `filter` it runs through the group kernel, over group summaries in a partition of two blocks or more.
// Any thread; every chunk read is validated before its groups count (scan.ts, block-summaries.ts).

import type { GroupResult } from '../../core/results.js';
import type { ColumnarPartition } from '../columnar-partition.js';
import type { ColumnArray } from '../columns.js';
import type { KeyDictionary } from '../key-dictionary.js';
import type { Noise } from '../test-hooks.js';
import { ChunkGroups, GroupAcc } from './accumulators.js';
import {
  type BlockStep,
  GroupBlockSummaries,
  summariesOf,
  summariseGroups,
  walkBlocks,
} from './block-summaries.js';
import { groupKernel } from './kernels.js';
import { matches, type ResolvedQuery } from './query-options.js';
import { CHUNK, forEachMatch, forEachRun, scan } from './scan.js';

/** One `topK` entry: a key and its group's aggregates. */
export interface ColumnarTopEntry extends GroupResult {
  key: string;
}

/**
 * The groups of value column `vc` by key column `kc` over the rows of `parts` matching `r`, as dense
 * per-key-id accumulators (`keyCount`: the keys interned when the query began; later ones grow them).
 */
export function group(
  parts: readonly ColumnarPartition[],
  r: ResolvedQuery,
  kc: number,
  vc: number,
  keyCount: number,
  noise: Noise | undefined,
): GroupAcc {
  const groups = new GroupAcc(keyCount);
  const chunk = new ChunkGroups(keyCount);
  const simple = r.whereCols.length === 0 && r.filter === undefined;
  for (let p = r.first; p < r.end && !r.none; p++) {
    const part = parts[p]!;
    const seq = part.sequencer;
    const cols = part.columns;
    const view = part.views;
    const stamps = seq.stamps;
    const ts = cols[0]!;
    const ks = cols[kc]!;
    const vs = cols[vc]!;
    const cap = seq.capacity;
    const { from, to } = r;
    if (simple && cap >= 2 * CHUNK) {
      const pair = kc * 4096 + vc;
      const summaries = summariesOf(part.groupSummaries, pair, cap, (n) => new GroupBlockSummaries(n));
      groupBlocks(part, r, ts, ks, vs, summaries, groups, chunk, noise);
      continue;
    }
    scan(
      seq,
      noise,
      (a, n) => {
        // Straight into per-chunk groups (dropped if the chunk turns out overwritten).
        chunk.clear();
        if (simple) {
          const readable = seq.allPublished ? undefined : stamps;
          forEachRun(seq, a, n, (i0, i1, off) =>
            groupKernel(readable, ts, ks, vs, i0, i1, off, from, to, chunk),
          );
        } else {
          forEachMatch(
            seq,
            a,
            n,
            (slot) => matches(r, cols, view, slot),
            (slot) => chunk.add(ks[slot]!, vs[slot]!),
          );
        }
        return 0;
      },
      () => groups.merge(chunk),
    );
  }
  return groups;
}

/**
 * The groupBy of one partition through walkBlocks, with group summaries (per block: each key's
 * count, sum, min and max over the whole block), made on a block's second whole read.
 */
function groupBlocks(
  part: ColumnarPartition,
  r: ResolvedQuery,
  ts: ColumnArray,
  ks: ColumnArray,
  vs: ColumnArray,
  summaries: GroupBlockSummaries,
  groups: GroupAcc,
  chunk: ChunkGroups,
  noise: Noise | undefined,
): void {
  const seq = part.sequencer;
  const { timed, from, to } = r;
  let fromSummary: Float64Array | undefined;
  let made: Float64Array | undefined;
  const visit = (s: BlockStep): boolean => {
    chunk.clear();
    fromSummary = undefined;
    made = undefined;
    if (s.within === 1) fromSummary = summaries.entries[s.b];
    if (s.within !== 0) return false;
    if (s.seen && !s.known) {
      const stamps = seq.allPublished ? undefined : seq.stamps;
      made = summariseGroups(stamps, ts, ks, vs, s.slot, s.n, s.a, chunk, summaries, s.b);
    }
    // Untimed, a block's groups are the query's; otherwise read the rows in [from, to].
    if (made !== undefined && !timed) fromSummary = made;
    else {
      const readable = seq.allPublished || s.known || made !== undefined;
      groupKernel(
        readable ? undefined : seq.stamps,
        ts,
        ks,
        vs,
        s.slot,
        s.slot + s.n,
        s.a - s.slot,
        from,
        to,
        chunk,
      );
    }
    return made !== undefined;
  };
  const commit = (s: BlockStep): void => {
    if (fromSummary !== undefined) {
      groups.mergeSparse(fromSummary);
      chunk.clear();
    } else groups.merge(chunk);
    if (made !== undefined) summaries.entries[s.b] = made;
  };
  walkBlocks(seq, summaries, r, noise, visit, commit);
}

/** The non-empty groups of `g` by key string. */
export function groupResults(g: GroupAcc, keys: KeyDictionary): Map<string, GroupResult> {
  const out = new Map<string, GroupResult>();
  for (let id = 0; id < g.count.length; id++) {
    const n = g.count[id]!;
    if (n === 0) continue;
    const sum = g.sum[id]!;
    out.set(keys.keyOf(id)!, { count: n, sum, min: g.min[id]!, max: g.max[id]!, average: sum / n });
  }
  return out;
}

/** The `k` non-empty groups of `g` with the largest sum, by sum descending (ties: key id order). */
export function topEntries(g: GroupAcc, k: number, keys: KeyDictionary): ColumnarTopEntry[] {
  const ids: number[] = [];
  for (let id = 0; id < g.count.length; id++) if (g.count[id]! > 0) ids.push(id);
  const sum = g.sum;
  ids.sort((a, b) => sum[b]! - sum[a]! || a - b);
  const out: ColumnarTopEntry[] = [];
  for (let i = 0; i < ids.length && i < k; i++) {
    const id = ids[i]!;
    const n = g.count[id]!;
    out.push({
      key: keys.keyOf(id)!,
      count: n,
      sum: sum[id]!,
      min: g.min[id]!,
      max: g.max[id]!,
      average: sum[id]! / n,
    });
  }
  return out;
}
