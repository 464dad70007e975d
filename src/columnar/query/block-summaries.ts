// Block summaries: one thread's count/sum/min/max (and per-key groups) of whole aligned blocks of
// CHUNK slots of a partition, so that a repeated unfiltered query reads only the blocks at the edges
// of its range and those written since. Thread-local (each thread keeps its own, in ColumnarPartition);
// a summary is trusted only under the rules of walkBlocks (docs/architecture.md, "Block summaries").

import type { ColumnArray } from '../columns.js';
import { READABLE_MASK } from '../layout.js';
import type { Sequencer } from '../sequencer.js';
import { type Noise, NoisePoint } from '../test-hooks.js';
import type { ChunkGroups } from './accumulators.js';
import { groupKernel } from './kernels.js';
import type { ResolvedQuery } from './query-options.js';
import { CHUNK } from './scan.js';

/**
 * The validity half of one thread's summaries of the aligned blocks of CHUNK slots of one partition:
 * `seqAt[b]` the first sequence of block `b` when summarised (-1: none), `appendedAt[b]` the
 * partition's published count read before that, `seenAt[b]` the first sequence when last read whole
 * without a summary, and the block's time bounds.
 */
export class BlockIndex {
  readonly seqAt: Float64Array;
  readonly seenAt: Float64Array;
  readonly appendedAt: Float64Array;
  readonly tmin: Float64Array;
  readonly tmax: Float64Array;

  constructor(blocks: number) {
    this.seqAt = new Float64Array(blocks).fill(-1);
    this.seenAt = new Float64Array(blocks).fill(-1);
    this.appendedAt = new Float64Array(blocks);
    this.tmin = new Float64Array(blocks);
    this.tmax = new Float64Array(blocks);
  }
}

/** What walkBlocks hands its visitor for one whole block or ragged end. */
export interface BlockStep {
  /** First sequence, first slot and length. */
  a: number;
  slot: number;
  n: number;
  /** Block index; `whole`: the step is the whole block. */
  b: number;
  whole: boolean;
  /** The block's summary is valid; `within` then says where its rows lie against [from, to]. */
  known: boolean;
  /** The block was read whole once before at this sequence: time to summarise it. */
  seen: boolean;
  within: -1 | 0 | 1;
}

/** Fold summaries: a whole block's count, sum, min and max. */
export class BlockSummaries extends BlockIndex {
  readonly count: Float64Array;
  readonly sum: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;

  constructor(blocks: number) {
    super(blocks);
    this.count = new Float64Array(blocks);
    this.sum = new Float64Array(blocks);
    this.min = new Float64Array(blocks);
    this.max = new Float64Array(blocks);
  }
}

/** Keys a block may hold and still be summarised (past it, the summary would cost more than a read). */
const MAX_SUMMARY_KEYS = 512;

/** Group summaries: per block, (key id, count, sum, min, max) for each key of the block. */
export class GroupBlockSummaries extends BlockIndex {
  readonly entries: (Float64Array | undefined)[];

  constructor(blocks: number) {
    super(blocks);
    this.entries = new Array(blocks).fill(undefined);
  }
}

/** This thread's summaries under `key` (a column, or a column pair) in `byKey`, made on first use. */
export function summariesOf<B extends BlockIndex>(
  byKey: Map<number, B>,
  key: number,
  capacity: number,
  create: (blocks: number) => B,
): B {
  let s = byKey.get(key);
  if (s === undefined) byKey.set(key, (s = create(Math.ceil(capacity / CHUNK))));
  return s;
}

/**
 * Walks `[lo, c)` of one partition by aligned blocks of CHUNK slots for a query without `where` or
 * `filter`, using this thread's block summaries (`index`). For each whole block or ragged end it
 * calls `visit`, which reads it or answers it from a summary (and may make a summary); then validates
 * it like any chunk read (dropped and read on from the oldest intact row if overwritten meanwhile),
 * calls `commit`, and only then marks a summary just made valid. A summary counts as `known` only if
 * it was made at this block's current first sequence and fewer than M/4 rows were published since
 * (so the same sequence value cannot be a later lap of the modulus). Rows never change between their
 * publication and the claim that overwrites them, so a block validated intact still holds what was
 * summarised (docs/architecture.md, "Block summaries").
 */
export function walkBlocks(
  seq: Sequencer,
  index: BlockIndex,
  r: ResolvedQuery,
  noise: Noise | undefined,
  visit: (step: BlockStep) => boolean,
  commit: (step: BlockStep) => void,
): void {
  const cap = seq.capacity;
  const c = seq.readRange();
  // Read before any block is read: a summary made now is stamped no later than its rows.
  const appended = seq.appended;
  const maxAge = seq.modulus / 4;
  const step: BlockStep = { a: 0, slot: 0, n: 0, b: 0, whole: false, known: false, seen: false, within: 0 };
  let a = seq.lo;
  while (seq.delta(c, a) > 0) {
    const left = seq.delta(c, a);
    const slot = a % cap;
    const offset = slot % CHUNK;
    const blockLen = Math.min(CHUNK, cap - (slot - offset));
    const b = (slot - offset) / CHUNK;
    const whole = offset === 0 && left >= blockLen;
    const age = appended - index.appendedAt[b]!;
    step.a = a;
    step.slot = slot;
    step.n = whole ? blockLen : Math.min(left, blockLen - offset);
    step.b = b;
    step.whole = whole;
    step.known = whole && index.seqAt[b] === a && age >= 0 && age < maxAge;
    step.seen = whole && index.seenAt[b] === a;
    // -1: the block's rows all lie outside [from, to]; 1: all inside; 0: some of each (or unknown).
    step.within = !step.known
      ? 0
      : r.timed && (index.tmax[b]! < r.from || index.tmin[b]! > r.to)
        ? -1
        : !r.timed || (r.from <= index.tmin[b]! && index.tmax[b]! <= r.to)
          ? 1
          : 0;
    const made = visit(step);
    if (noise !== undefined) noise(NoisePoint.READ_CHUNK);
    const intact = seq.validate(a);
    if (intact !== a) {
      a = intact; // overwritten meanwhile: read on from the oldest intact row
      continue;
    }
    commit(step);
    if (made) {
      index.seqAt[b] = a;
      index.appendedAt[b] = appended;
    } else if (whole && !step.known) {
      index.seenAt[b] = a;
    }
    a = seq.wrap(a + step.n);
  }
}

/**
 * Summarises slots [i0, i0 + n) (sequences from `z0`) into block `b` of `s`, without marking it
 * valid (the caller does, once the read is validated). Returns false, summarising nothing, when a row
 * is not readable (`stamps` undefined: every row is known published).
 */
export function summariseBlock(
  stamps: Int32Array | undefined,
  ts: ColumnArray,
  vs: ColumnArray | undefined,
  i0: number,
  n: number,
  z0: number,
  s: BlockSummaries,
  b: number,
): boolean {
  if (!allReadable(stamps, i0, n, z0)) return false;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  if (vs !== undefined) {
    for (let i = i0; i < i0 + n; i++) {
      const v = vs[i]!;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  setTimeBounds(ts, i0, n, s, b);
  s.count[b] = n;
  s.sum[b] = sum;
  s.min[b] = min;
  s.max[b] = max;
  return true;
}

/**
 * The groups of every row of slots [i0, i0 + n) (sequences from `z0`) as (id, count, sum, min, max)
 * entries, and the block's time bounds into `s` (not yet marked valid). Uses `scratch`. Undefined when
 * a row is not readable or the block holds more than MAX_SUMMARY_KEYS keys.
 */
export function summariseGroups(
  stamps: Int32Array | undefined,
  ts: ColumnArray,
  ks: ColumnArray,
  vs: ColumnArray,
  i0: number,
  n: number,
  z0: number,
  scratch: ChunkGroups,
  s: GroupBlockSummaries,
  b: number,
): Float64Array | undefined {
  if (!allReadable(stamps, i0, n, z0)) return undefined;
  scratch.clear();
  groupKernel(
    undefined,
    ts,
    ks,
    vs,
    i0,
    i0 + n,
    z0 - i0,
    Number.NEGATIVE_INFINITY,
    Number.POSITIVE_INFINITY,
    scratch,
  );
  const k = scratch.touchedCount;
  if (k > MAX_SUMMARY_KEYS) {
    scratch.clear();
    return undefined;
  }
  const d = scratch.data;
  const e = new Float64Array(5 * k);
  for (let j = 0; j < k; j++) {
    const at = scratch.touched[j]!;
    e[5 * j] = at / 4;
    e[5 * j + 1] = d[at]!;
    e[5 * j + 2] = d[at + 1]!;
    e[5 * j + 3] = d[at + 2]!;
    e[5 * j + 4] = d[at + 3]!;
  }
  scratch.clear();
  setTimeBounds(ts, i0, n, s, b);
  return e;
}

/** Whether every row of slots [i0, i0 + n) holds sequence z0 + (i - i0) (`stamps` undefined: known). */
function allReadable(stamps: Int32Array | undefined, i0: number, n: number, z0: number): boolean {
  if (stamps === undefined) return true;
  const off = z0 - i0;
  for (let i = i0; i < i0 + n; i++) if ((stamps[i]! & READABLE_MASK) !== i + off) return false;
  return true;
}

/** Records the time bounds of slots [i0, i0 + n) for block `b`, and marks its summary not (yet) valid. */
function setTimeBounds(ts: ColumnArray, i0: number, n: number, s: BlockIndex, b: number): void {
  let tmin = Number.POSITIVE_INFINITY;
  let tmax = Number.NEGATIVE_INFINITY;
  for (let i = i0; i < i0 + n; i++) {
    const t = ts[i]!;
    if (t < tmin) tmin = t;
    if (t > tmax) tmax = t;
  }
  s.seqAt[b] = -1; // valid only once the caller's validation succeeds
  s.tmin[b] = tmin;
  s.tmax[b] = tmax;
}
