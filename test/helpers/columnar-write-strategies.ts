// Deliberately broken variants of the columnar write protocol, for the mutation checks: the stress
// harness (columnar-harness.ts) must detect each of them. A worker installs one on its own store
// instance through TEST_HOOKS (fixtures/columnar-worker.ts); the store's append path never branches on them.

import { BatchWriter } from '../../src/columnar/batch-writer.ts';
import type { ColumnarPartition } from '../../src/columnar/columnar-partition.ts';
import type { ColumnArray } from '../../src/columnar/columns.ts';
import type { ColumnarStoreHandle } from '../../src/columnar/handle.ts';
import { controlIndex, F_CLAIM, H_STRIDE } from '../../src/columnar/layout.ts';
import { type Noise, NoisePoint } from '../../src/columnar/test-hooks.ts';

/** The write protocol a stress writer runs: the real one, or one of the planted bugs. */
export type WriteStrategy = 'correct' | 'publish-early' | 'racy-claim';

/** The writer of `strategy` for a store attached to `handle` (`undefined`: the store's own). */
export function strategyWriter(
  strategy: WriteStrategy,
  handle: ColumnarStoreHandle,
  noise: Noise | undefined,
): BatchWriter | undefined {
  switch (strategy) {
    case 'correct':
      return undefined;
    case 'publish-early':
      return new PublishEarlyWriter(noise);
    case 'racy-claim':
      return new RacyClaimWriter(handle, noise);
  }
}

/** Publishes a batch before its columns are written: a reader can see rows that are not there yet. */
export class PublishEarlyWriter extends BatchWriter {
  override write(part: ColumnarPartition, stage: readonly ColumnArray[], offset: number, n: number): boolean {
    const seq = part.sequencer;
    const s = this.claim(part, n);
    this.noise?.(NoisePoint.CLAIMED);
    if (!seq.gate(s, n)) return false;
    if (!seq.mark(s)) return false;
    const cap = seq.capacity;
    const slot = s % cap;
    seq.writeInteriors(s, slot, n);
    // The planted bug: publish and advance first, then write the columns.
    seq.publish(s);
    seq.advance();
    this.noise?.(NoisePoint.WRITTEN);
    const cols = part.columns;
    for (let k = 0; k < cols.length; k++) {
      const dst = cols[k]!;
      const src = stage[k]!;
      let sl = slot;
      for (let j = 0; j < n; j++) {
        dst[sl] = src[offset + j]!;
        if (++sl === cap) sl = 0;
      }
    }
    seq.advance();
    seq.retireFloor();
    seq.countAppended(n);
    return true;
  }
}

/** Claims with a plain read, then a store of CLAIM: two writers can take the same sequences. */
export class RacyClaimWriter extends BatchWriter {
  readonly #control: Int32Array;
  readonly #stride: number;

  constructor(handle: ColumnarStoreHandle, noise: Noise | undefined) {
    super(noise);
    this.#control = new Int32Array(handle.control);
    this.#stride = this.#control[H_STRIDE]!;
  }

  protected override claim(part: ColumnarPartition, n: number): number {
    const at = controlIndex(part.index, F_CLAIM, this.#stride);
    // Read the claim head, as the real claim does.
    const s = Atomics.load(this.#control, at);
    this.noise?.(NoisePoint.CLAIM_RACE);
    // Store the bumped claim without checking that nobody claimed in between (the planted bug).
    Atomics.store(this.#control, at, part.sequencer.wrap(s + n));
    return s;
  }
}
