// The validated read of one partition, shared by every query and by snapshot captures: the rows
// below the cursor, oldest first, in chunks read with plain loads into thread-local results, each
// chunk then validated against CLAIM and committed only if no row of it can have been overwritten
// meanwhile (docs/architecture.md, "ColumnarEventStore": a query's steps 1-3). Any thread; shared
// memory is reached only through the Sequencer and plain reads of the partition's columns.

import { READABLE_MASK } from '../layout.js';
import type { Sequencer } from '../sequencer.js';
import { type Noise, NoisePoint } from '../test-hooks.js';

/** Rows read between two validations of a query (and slots in a block of block summaries). */
export const CHUNK = 4096;

/**
 * Walks the readable range of one partition in chunks, oldest first: `read(a, n)` reads the rows
 * of sequences [a, a+n) into thread-local scratch and returns a result; after it, the chunk is
 * validated against CLAIM, and `commit(result)` runs only when no row of the chunk can have been
 * overwritten meanwhile. A chunk that was partly overwritten is re-read from its oldest intact row.
 * `range` (snapshot captures) learns the range read, and is told when rows were dropped so that
 * what it committed so far no longer joins up with what follows. `noise`: a test's delays.
 */
export function scan(
  seq: Sequencer,
  noise: Noise | undefined,
  read: (a: number, n: number) => number,
  commit: (result: number) => void,
  range?: { begin(cursor: number, lo: number): void; restart(): void },
): void {
  const c = seq.readRange();
  let a = seq.lo;
  range?.begin(c, a);
  while (seq.delta(c, a) > 0) {
    const b = seq.delta(c, a) > CHUNK ? seq.wrap(a + CHUNK) : c;
    for (;;) {
      const result = read(a, seq.delta(b, a));
      if (noise !== undefined) noise(NoisePoint.READ_CHUNK);
      const intact = seq.validate(a);
      if (intact === a) {
        commit(result);
        break;
      }
      a = intact;
      range?.restart();
      if (seq.delta(b, a) <= 0) break; // the whole chunk was overwritten while being read
    }
    if (seq.delta(b, a) > 0) a = b;
  }
}

/**
 * Calls `run(i0, i1, off)` for the contiguous slot ranges of sequences [a, a + n) (two when they wrap
 * the ring); `off` is the sequence minus the slot within a range.
 */
export function forEachRun(
  seq: Sequencer,
  a: number,
  n: number,
  run: (i0: number, i1: number, off: number) => void,
): void {
  let slot = a % seq.capacity;
  let z = a;
  for (let left = n; left > 0; ) {
    const len = Math.min(left, seq.capacity - slot);
    run(slot, slot + len, z - slot);
    left -= len;
    slot = 0;
    z = seq.wrap(z + len);
  }
}

/** Calls `row(slot)` for each readable row of sequences [a, a + n) that `matches`, oldest first. */
export function forEachMatch(
  seq: Sequencer,
  a: number,
  n: number,
  matches: (slot: number) => boolean,
  row: (slot: number) => void,
): void {
  const stamps = seq.stamps;
  let z = a;
  let slot = a % seq.capacity;
  for (let j = 0; j < n; j++) {
    if ((stamps[slot]! & READABLE_MASK) === z && matches(slot)) row(slot);
    if (++slot === seq.capacity) slot = 0;
    if (++z === seq.modulus) z = 0;
  }
}
