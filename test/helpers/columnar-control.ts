// What the columnar tests read of a store's shared words directly: a partition's cursor and claim
// head (loaded from the control buffer of its handle, as any thread would) and the stamp encoding.
// Read-only: these helpers never store into the buffers.

import type { ColumnarStoreHandle } from '../../src/columnar/handle.ts';
import {
  controlIndex,
  F_CLAIM,
  F_CURSOR,
  H_STRIDE,
  STATE_INTERIOR,
  sequenceModulus,
} from '../../src/columnar/layout.ts';

/** Cursor, claim head and sequence modulus of partition `p` of `store`, read from its handle. */
export function sequencerState(
  store: { readonly handle: ColumnarStoreHandle },
  p: number,
): { cursor: number; claimHead: number; modulus: number } {
  const { handle } = store;
  const capacity = handle.capacities[p];
  if (capacity === undefined) throw new RangeError(`no partition ${p}`);
  const ctl = new Int32Array(handle.control);
  const stride = ctl[H_STRIDE]!;
  return {
    // Acquire-load the cursor and the claim head, as the store's own threads do.
    cursor: Atomics.load(ctl, controlIndex(p, F_CURSOR, stride)),
    claimHead: Atomics.load(ctl, controlIndex(p, F_CLAIM, stride)),
    modulus: sequenceModulus(capacity),
  };
}

/** The stamp a writer stores in the later slots of a batch for sequence `seq` (INTERIOR). */
export function interiorStamp(seq: number): number {
  return STATE_INTERIOR | seq;
}
