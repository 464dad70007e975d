// BatchWriter: the write half of the ColumnarEventStore protocol. It moves staged rows into one
// partition one claim at a time: claim → gate → mark → write → publish → advance (the steps are
// Sequencer's; why each is needed is in docs/architecture.md, "ColumnarEventStore"). Thread-local and
// stateless but for a test's noise hook; what it changes is shared: the partition's control words,
// stamps and columns. Tests replace it (TEST_HOOKS) with deliberately broken variants.

import type { ColumnarPartition } from './columnar-partition.js';
import type { ColumnArray } from './columns.js';
import { claimSize } from './layout.js';
import { type Noise, NoisePoint } from './test-hooks.js';

/** Writes staged rows into a partition, one claim and one publication per run of up to `claimSize` rows. */
export class BatchWriter {
  /** A test's delays at the writer's noise points; `undefined` in production. */
  protected readonly noise: Noise | undefined;

  constructor(noise?: Noise) {
    this.noise = noise;
  }

  /**
   * Appends staged rows [offset, offset + n) of `stage` (one scratch array per column) to `part`, in
   * claims of `claimSize(capacity)` rows. Returns how many were appended: all of them, or the rows
   * before the first claim that was aborted.
   */
  writeRun(part: ColumnarPartition, stage: readonly ColumnArray[], offset: number, n: number): number {
    const run = claimSize(part.capacity);
    let done = 0;
    while (done < n) {
      const k = Math.min(n - done, run);
      if (!this.write(part, stage, offset + done, k)) return done;
      done += k;
    }
    return done;
  }

  /**
   * The claim → gate → mark → write → publish → advance path for staged rows [offset, offset + n)
   * into `part` (n ≤ the claim size). False when the batch was aborted (its claim stalled past
   * `abortTimeoutMs`, or another thread gave up on it): then none of its rows is visible.
   */
  write(part: ColumnarPartition, stage: readonly ColumnArray[], offset: number, n: number): boolean {
    const seq = part.sequencer;
    const noise = this.noise;
    const s = this.claim(part, n);
    if (noise !== undefined) noise(NoisePoint.CLAIMED);
    if (!seq.gate(s, n)) return false;
    if (!seq.mark(s)) return false;
    const cap = seq.capacity;
    const slot = s % cap;
    const first = Math.min(n, cap - slot);
    const cols = part.columns;
    for (let k = 0; k < cols.length; k++) {
      // A writer aborted while stalled stops writing into slots that are no longer its own.
      if (!seq.owns(s)) return false;
      const dst = cols[k]!;
      const src = stage[k]!;
      if (n <= 32) {
        // Small batches: an element loop avoids allocating two subarray views per column.
        let sl = slot;
        for (let j = 0; j < n; j++) {
          dst[sl] = src[offset + j]!;
          if (++sl === cap) sl = 0;
        }
      } else {
        dst.set(src.subarray(offset, offset + first), slot);
        if (first < n) dst.set(src.subarray(offset + first, offset + n), 0);
      }
    }
    if (!seq.owns(s)) return false;
    seq.writeInteriors(s, slot, n);
    if (noise !== undefined) noise(NoisePoint.WRITTEN);
    if (!seq.publish(s)) return false;
    seq.advance();
    seq.retireFloor();
    seq.countAppended(n);
    return true;
  }

  /** Claims `n` consecutive sequences of `part` and returns the first (a broken test variant overrides it). */
  protected claim(part: ColumnarPartition, n: number): number {
    return part.sequencer.claim(n);
  }
}
