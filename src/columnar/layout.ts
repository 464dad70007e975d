// Memory layout of a ColumnarEventStore: three SharedArrayBuffers (control words, rows, keys), the
// named word offsets inside them, the slot stamp encoding and the modular sequence arithmetic.
// Pure constants and functions: no state. Every thread computes the same offsets from the same
// schema and capacities, so a handle (buffers + schema) is all another thread needs to attach.

/** Bytes of one cache line as padded by `enableFalseSharingProtection` (two 64-byte lines: adjacent-line prefetch). */
export const LINE_BYTES = 128;
/** Int32 words in one padded line. */
export const LINE_WORDS = LINE_BYTES / 4;

// ---------------------------------------------------------------------------------------------
// Control buffer (Int32Array): a header line, then per partition the hot counters.
//
//   word 0            32 (one line)
//   +--------+--------+--------+--------+--------+-----+
//   | MAGIC  |VERSION | PARTS  | STRIDE | RR_SEED| ... |   header line
//   +--------+--------+--------+--------+--------+-----+
//   partition p, field f lives at HEADER_WORDS + (p * PARTITION_FIELDS + f) * STRIDE
//     STRIDE = 1 (packed)  or  LINE_WORDS (enableFalseSharingProtection: each field on its own line)
//   +-------+--------+-------+---------+-------------+-------------+----------+
//   | CLAIM | CURSOR | FLOOR | ABORTED | APPENDED_LO | APPENDED_HI | ABORTING |   x partitions
//   +-------+--------+-------+---------+-------------+-------------+----------+
//   CLAIM    next sequence to hand out (writers: CAS per batch; readers: Atomics.add 0 to validate)
//   CURSOR   every sequence below it is published or aborted (advanced by CAS over slot stamps)
//   FLOOR    sequence at the last clear(); rows below it are hidden (NO_FLOOR when retired)
//   ABORTED  slots given up after a writer stalled between claim and publish
//   APPENDED rows published since creation, a 64-bit count in two words (LO carries into HI)
//   ABORTING abort attempts, bumped before any slot is aborted: while 0, every row below the
//            cursor is published, so queries may skip the per-row stamp check
// ---------------------------------------------------------------------------------------------

export const CONTROL_MAGIC = 0x45_53_43_31; // "ESC1"
export const LAYOUT_VERSION = 1;

export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_PARTITIONS = 2;
export const H_STRIDE = 3;
/** Round-robin seed: each attached instance takes the next value so threads start on different partitions. */
export const H_RR_SEED = 4;
export const HEADER_WORDS = LINE_WORDS;

export const F_CLAIM = 0;
export const F_CURSOR = 1;
export const F_FLOOR = 2;
export const F_ABORTED = 3;
export const F_APPENDED_LO = 4;
export const F_APPENDED_HI = 5;
export const F_ABORTING = 6;
export const PARTITION_FIELDS = 7;

/** Value of FLOOR when no clear() is in effect. */
export const NO_FLOOR = -1;

/** Word index of field `field` of partition `p`. */
export function controlIndex(p: number, field: number, stride: number): number {
  return HEADER_WORDS + (p * PARTITION_FIELDS + field) * stride;
}

/** Int32 words of the control buffer. */
export function controlWords(partitions: number, stride: number): number {
  return HEADER_WORDS + partitions * PARTITION_FIELDS * stride + stride;
}

// ---------------------------------------------------------------------------------------------
// Slot stamps (one Int32 per slot and partition). A stamp names the sequence that last used the
// slot and what state that sequence is in:
//
//    31 30 29                              0
//   +-----+---------------------------------+
//   |state|  sequence mod M  (30 bits)      |
//   +-----+---------------------------------+
//   state 00 PUBLISHED  first slot of a published batch (its INTERIOR slots follow it)
//         10 INTERIOR   later slot of a batch (written plainly; valid once the first slot is published)
//         01 CLAIMED    first slot of a batch being written
//         11 ABORTED    given up; the cursor steps over it one slot at a time
//   EMPTY = -1 (ABORTED with sequence 2^30-1, which no sequence ever takes)
//
// A row with sequence z is readable iff (stamp & 0x7fffffff) === z: bit 30 clear (PUBLISHED or
// INTERIOR) and the same sequence. One AND and one compare per row.
// ---------------------------------------------------------------------------------------------

export const SEQ_BITS = 30;
export const SEQ_MASK = (1 << SEQ_BITS) - 1;
export const STATE_CLAIMED = 1 << SEQ_BITS;
export const STATE_INTERIOR = (2 << SEQ_BITS) | 0;
export const STATE_ABORTED = (3 << SEQ_BITS) | 0;
export const STAMP_EMPTY = -1;
/** `(stamp & READABLE_MASK) === seq` tests "published or interior, of this sequence". */
export const READABLE_MASK = 0x7fffffff;

export function claimedStamp(seq: number): number {
  return STATE_CLAIMED | seq;
}
export function abortedStamp(seq: number): number {
  return STATE_ABORTED | seq;
}
// PUBLISHED(seq) is `seq` itself (state bits 00); INTERIOR(seq) is `STATE_INTERIOR | seq`, stored
// inline by the writer and read inline by advance() (sequencer.ts).

// ---------------------------------------------------------------------------------------------
// Sequences are kept modulo M = capacity * laps, the largest multiple of the partition capacity
// below 2^30 - 1. slot = seq % capacity stays continuous across the wrap because M is a multiple of
// capacity. Comparisons use the signed distance `delta`, exact while two live sequences are less
// than M/2 apart (M/2 >= 31 * capacity with the capacity limit below).
// ---------------------------------------------------------------------------------------------

/** Largest partition capacity: keeps M >= 63 laps of the ring. */
export const MAX_COLUMNAR_PARTITION_CAPACITY = 1 << 24;
/** Largest batch claimed at once (bigger batches are split into claims of this size). */
export const MAX_CLAIM = 4096;

/** The sequence modulus of a partition of `capacity` slots. */
export function sequenceModulus(capacity: number): number {
  return Math.floor(SEQ_MASK / capacity) * capacity;
}

/** Rows claimed at once by one batch in a partition of `capacity` slots. */
export function claimSize(capacity: number): number {
  return Math.max(1, Math.min(MAX_CLAIM, capacity >>> 2));
}

// ---------------------------------------------------------------------------------------------
// Rows buffer: per partition, the stamps, then one typed array per column, each starting on an
// 8-byte boundary (a LINE_BYTES boundary with false-sharing protection).
//
//   partition 0                                  partition 1 ...
//   +-----------+--------------+-------+-----+   +----------
//   | STAMPS    | timestamp    | col 1 | ... |   | STAMPS ...
//   | i32 x cap | f64 x cap    | x cap |     |   |
//   +-----------+--------------+-------+-----+   +----------
// ---------------------------------------------------------------------------------------------

/** Byte offsets of one partition's arrays inside the rows buffer. */
export interface PartitionLayout {
  capacity: number;
  stampsOffset: number;
  /** Byte offset of each column, in schema order (timestamp first). */
  columnOffsets: number[];
}

/** Rounds `n` up to a multiple of `align` (a power of two). */
export function alignUp(n: number, align: number): number {
  return (n + align - 1) & ~(align - 1);
}

/** Lays out every partition; returns the layouts and the total bytes of the rows buffer. */
export function layoutRows(
  capacities: readonly number[],
  columnBytes: readonly number[],
  align: number,
): { partitions: PartitionLayout[]; byteLength: number } {
  let offset = 0;
  const partitions: PartitionLayout[] = [];
  for (const capacity of capacities) {
    offset = alignUp(offset, align);
    const stampsOffset = offset;
    offset += capacity * 4;
    const columnOffsets: number[] = [];
    for (const bytes of columnBytes) {
      offset = alignUp(offset, Math.max(align, 8));
      columnOffsets.push(offset);
      offset += capacity * bytes;
    }
    partitions.push({ capacity, stampsOffset, columnOffsets });
  }
  return { partitions, byteLength: alignUp(Math.max(offset, 8), 8) };
}

// ---------------------------------------------------------------------------------------------
// Keys buffer (Int32 words, then bytes): an open-addressing hash table of interned strings.
//
//   word 0                 32                      32 + 4*TABLE          + KEY_CAPACITY
//   +----------------------+-----------------------+----------------------+----------------+
//   | NEXT_ID ARENA_TOP    | table: TABLE entries  | ids: entry+1 of each | arena: UTF-8   |
//   | KEY_CAP TABLE ARENA  | [TAG OFFSET LEN ID]   | id (0 = not yet)     | bytes of keys  |
//   +----------------------+-----------------------+----------------------+----------------+
//   TAG: 0 EMPTY, 1 FILLING (claimed by CAS, being written), 2 DEAD (gave up), else hash | 3
// ---------------------------------------------------------------------------------------------

export const K_NEXT_ID = 0;
export const K_ARENA_TOP = 1;
export const K_KEY_CAPACITY = 2;
export const K_TABLE_SIZE = 3;
export const K_ARENA_BYTES = 4;
export const K_HEADER_WORDS = LINE_WORDS;
export const ENTRY_WORDS = 4;
export const E_TAG = 0;
export const E_OFFSET = 1;
export const E_LENGTH = 2;
export const E_ID = 3;
export const TAG_EMPTY = 0;
export const TAG_FILLING = 1;
export const TAG_DEAD = 2;

/** Word and byte offsets of the keys buffer. */
export interface KeysLayout {
  keyCapacity: number;
  tableSize: number;
  arenaBytes: number;
  tableWord: number;
  idsWord: number;
  arenaOffset: number;
  byteLength: number;
}

export function layoutKeys(keyCapacity: number, arenaBytes: number): KeysLayout {
  let tableSize = 1;
  while (tableSize < keyCapacity * 2) tableSize *= 2;
  const tableWord = K_HEADER_WORDS;
  const idsWord = tableWord + tableSize * ENTRY_WORDS;
  const arenaOffset = (idsWord + keyCapacity) * 4;
  return {
    keyCapacity,
    tableSize,
    arenaBytes,
    tableWord,
    idsWord,
    arenaOffset,
    byteLength: alignUp(arenaOffset + arenaBytes, 8),
  };
}
