// ColumnarPartition: one partition of a ColumnarEventStore as one thread sees it: its Sequencer (the
// shared claim/cursor words and slot stamps), typed-array views of its columns in the shared rows
// buffer, and this thread's own bookkeeping about it: the block summaries of its queries and the
// positions handed to snapshots.
// Concurrency: the Sequencer and the column views reach shared memory under the protocol of
// sequencer.ts; every other field is thread-local, read and written only by the owning thread.

import type { ColumnArray, ColumnSchema, ColumnSpec, ColumnViews } from './columns.js';
import { partitionColumns } from './columns.js';
import { NO_FLOOR, type PartitionLayout } from './layout.js';
import type { BlockSummaries, GroupBlockSummaries } from './query/block-summaries.js';
import { Sequencer } from './sequencer.js';

/** One partition of a store on this thread: its sequencer, its columns, this thread's summaries and positions. */
export class ColumnarPartition<S extends ColumnSchema = ColumnSchema> {
  /** The partition's number in the store. */
  readonly index: number;
  readonly sequencer: Sequencer;
  /** The column arrays in schema order (timestamp first), indexed by slot. */
  readonly columns: ColumnArray[];
  /** The same arrays by column name (what a query's `filter` receives). */
  readonly views: ColumnViews<S>;
  /** This thread's summaries of whole blocks, per value column (query/fold.ts). */
  readonly foldSummaries = new Map<number, BlockSummaries>();
  /** This thread's group summaries, per (key column, value column) pair (query/group.ts). */
  readonly groupSummaries = new Map<number, GroupBlockSummaries>();
  /** The last unwrapped cursor position handed out, and the raw cursor it came from. */
  #lastPosition = 0;
  #lastRaw = 0;
  /** The clear() floor last seen by `mutations()`, and how many times it was seen to change. */
  #lastFloor = NO_FLOOR;
  #floorChanges = 0;

  /** Wraps partition `index` laid out at `layout` in `rows`, with its control words in `control`. */
  constructor(
    index: number,
    control: Int32Array,
    stride: number,
    rows: SharedArrayBuffer,
    layout: PartitionLayout,
    specs: readonly ColumnSpec[],
    abortTimeoutMs: number,
  ) {
    this.index = index;
    const stamps = new Int32Array(rows, layout.stampsOffset, layout.capacity);
    this.sequencer = new Sequencer(control, index, stride, layout.capacity, stamps, abortTimeoutMs);
    this.columns = partitionColumns(rows, specs, layout);
    const views: Record<string, ColumnArray> = {};
    for (const s of specs) views[s.name] = this.columns[s.index]!;
    this.views = Object.freeze(views) as unknown as ColumnViews<S>;
  }

  /** Slots of the ring. */
  get capacity(): number {
    return this.sequencer.capacity;
  }

  /**
   * The unwrapped position of raw cursor `raw` (see Sequencer.unwrap), never below the last one
   * handed out: a published count read with a carry in flight (2^32 low) is replaced by a step
   * forward from the last position.
   */
  position(raw: number): number {
    const seq = this.sequencer;
    let pos = seq.unwrap(raw);
    const last = this.#lastPosition;
    if (pos < last) pos = last + seq.wrap(raw - this.#lastRaw);
    this.#lastPosition = pos;
    this.#lastRaw = raw;
    return pos;
  }

  /** Makes `position` continue from `position` (a restore wrote the rows up to it). */
  restoredAt(position: number): void {
    this.#lastPosition = position;
    this.#lastRaw = position % this.sequencer.modulus;
  }

  /** Takes the floor now as the one `mutations()` compares against (before the first call). */
  watchFloor(): void {
    this.#lastFloor = this.sequencer.floor;
  }

  /**
   * A number that changes with every row the cursor passes (from any thread) and every clear() seen
   * since `watchFloor()`: the floor is read before the cursor, and both only move forward, so the
   * sum never repeats a value.
   */
  mutations(): number {
    const seq = this.sequencer;
    const floor = seq.floor;
    const pos = this.position(seq.cursor);
    if (floor !== this.#lastFloor) {
      this.#lastFloor = floor;
      // A clear before the first row hides nothing.
      if (pos > 0) this.#floorChanges += 1;
    }
    return pos + this.#floorChanges;
  }
}
