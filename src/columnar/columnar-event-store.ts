// ColumnarEventStore: events of a fixed schema as typed-array columns in SharedArrayBuffers,
// appended and queried from any number of worker threads at once, without locks.
// Concurrency contract: every method may run on any thread holding an attached instance. Appends
// claim and publish once per batch (sequencer.ts); a query returns exactly the rows whose
// publication it observed through the partition cursor, minus rows the ring overwrote before the
// query read them (each chunk read is validated afterwards), never a torn or half-written row.
// Instances are thread-local wrappers (caches, scratch arrays); the buffers are the shared state.

import type { GroupResult } from '../core/event-store.js';
import { hashString } from '../core/partitioner.js';
import type { WindowResult } from '../core/types.js';
import {
  describe,
  ErrorCode,
  EventStoreError,
  ensureFunction,
  ensureInteger,
  ensureTime,
  invalidArg,
} from '../errors.js';
import { resolveSnapshotOptions } from '../snapshots/options.js';
import { restoreConfigured, type SnapshotTarget, Snapshotter } from '../snapshots/snapshotter.js';
import type { SnapshotOptions, SnapshotSerializer, SnapshotStore } from '../snapshots/types.js';
import { BatchWriter } from './batch-writer.js';
import { ColumnarPartition } from './columnar-partition.js';
import {
  COLUMN_ARRAYS,
  type ColumnArray,
  type ColumnarRow,
  type ColumnSchema,
  type ColumnSpec,
  type ColumnViews,
  type KeyColumnOf,
  type NumericColumnOf,
  scratchArray,
} from './columns.js';
import { type ColumnarStoreHandle, createHandle, type OpenedHandle, openHandle } from './handle.js';
import { KeyDictionary } from './key-dictionary.js';
import { claimSize, H_RR_SEED, NO_FLOOR, READABLE_MASK } from './layout.js';
import { type ColumnarEventStoreOptions, resolveColumnarOptions } from './options.js';
import { RowStager } from './row-stager.js';
import type { Sequencer } from './sequencer.js';
import type { ColumnarPartitionImage } from './snapshot-serializer.js';
import { type Noise, NoisePoint, TEST_HOOKS } from './test-hooks.js';

/** Options of every columnar query. `from`/`to` are inclusive epoch milliseconds (or Dates). */
export interface ColumnarQueryOptions<S extends ColumnSchema> {
  /** Oldest timestamp included. */
  from?: number | Date;
  /** Newest timestamp included. */
  to?: number | Date;
  /** Equality on key columns, all of which must hold: `{ label: 'cpu' }`. */
  where?: { [K in KeyColumnOf<S>]?: string };
  /**
   * Keeps the rows for which it returns `true`. Called with the partition's column arrays and the
   * row's slot (`cols.value[slot]`; key columns hold ids, compare with `store.keyId('cpu')`), so it
   * allocates nothing per row. It may see a row that validation later discards: keep it pure.
   */
  filter?: (cols: ColumnViews<S>, slot: number) => boolean;
  /** Restricts the query to one partition. */
  partition?: number;
}

/** One `topK` entry: a key and its group's aggregates. */
export interface ColumnarTopEntry extends GroupResult {
  key: string;
}

/** A copy of the held rows as columns (key columns as ids; `keyOf(id)` gives the string). */
export interface ColumnarSnapshot<S extends ColumnSchema> {
  length: number;
  columns: ColumnViews<S>;
}

/** Lifetime counters of a store, read live from the shared buffers (any thread sees the same). */
export class ColumnarStatistics {
  readonly #seqs: readonly Sequencer[];
  readonly #keys: KeyDictionary;

  constructor(seqs: readonly Sequencer[], keys: KeyDictionary) {
    this.#seqs = seqs;
    this.#keys = keys;
  }

  /**
   * Rows published since creation, by every thread (including rows later overwritten or cleared).
   * After `restoreFromSnapshots()` it starts from the restored partitions' versions.
   */
  get totalAppended(): number {
    let n = 0;
    for (const s of this.#seqs) n += s.appended;
    return n;
  }

  /** Slots given up because their writer stalled or died between claim and publish. */
  get abortedSlots(): number {
    let n = 0;
    for (const s of this.#seqs) n += s.abortedSlots;
    return n;
  }

  /** Distinct keys interned. */
  get keys(): number {
    return this.#keys.size;
  }
}

const QUERY_KEYS = new Set(['from', 'to', 'where', 'filter', 'partition']);
const WINDOW_TRACKING_DISABLED_MESSAGE =
  'Window tracking is disabled. enableWindowTracking must be true to use window queries.';
/** Rows read between two validations of a query. */
const CHUNK = 4096;

/** What a test installs on one instance under {@link TEST_HOOKS}. */
export interface ColumnarTestHooks {
  /** Delays (or a simulated crash) at the protocol's noise points, for writers and readers. */
  noise?: Noise | undefined;
  /** The write half to use instead of a plain {@link BatchWriter}: a deliberately broken variant. */
  writer?: BatchWriter | undefined;
}

interface ResolvedQuery {
  timed: boolean;
  from: number;
  to: number;
  /** Column indexes and key ids of `where`; `none` when a key is unknown (nothing can match). */
  whereCols: number[];
  whereIds: number[];
  none: boolean;
  filter: ((cols: never, slot: number) => boolean) | undefined;
  first: number;
  end: number;
}

/** Running count/sum/min/max of one chunk or query. */
class Acc {
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = Number.NEGATIVE_INFINITY;
  }
  add(o: Acc): void {
    this.count += o.count;
    this.sum += o.sum;
    if (o.min < this.min) this.min = o.min;
    if (o.max > this.max) this.max = o.max;
  }
}

/**
 * A struct-of-arrays event store in SharedArrayBuffers, lock-free across worker threads.
 *
 * ```ts
 * const store = ColumnarEventStore.create({ columns: { value: 'f64', label: 'key' }, partitions: 4 });
 * store.tryAppend({ timestamp: Date.now(), value: 0.93, label: 'cpu' });
 * worker.postMessage(store.handle);            // in the worker: ColumnarEventStore.attach(handle)
 * store.sum('value', { from, where: { label: 'cpu' } });
 * ```
 */
export class ColumnarEventStore<S extends ColumnSchema> {
  readonly #handle: ColumnarStoreHandle<S>;
  readonly #specs: ColumnSpec[];
  readonly #byName = new Map<string, ColumnSpec>();
  readonly #parts: ColumnarPartition<S>[];
  readonly #keys: KeyDictionary;
  readonly #stats: ColumnarStatistics;
  readonly #capacity: number;
  readonly #partitionKeyCol: number;
  readonly #tracking: boolean;
  #roundRobin: number;
  #hooks: ColumnarTestHooks | undefined;
  /** A test's reader delays (see ColumnarTestHooks); `undefined` in production. */
  #noise: Noise | undefined;
  #writer = new BatchWriter();
  /** Per partition, per value column: this thread's summaries of whole blocks (see #foldBlocks). */
  readonly #summaries: Map<number, BlockSummaries>[] = [];
  /** Per partition, per (key column, value column): this thread's group summaries (see #groupBlocks). */
  readonly #groupSummaries: Map<number, GroupBlockSummaries>[] = [];
  readonly #stager: RowStager;
  // Snapshots (thread-local to the thread that configured them).
  #snapshotter: Snapshotter<ColumnarPartitionImage> | undefined;
  /** Key id -> index into a capture's key list (-1: not used yet); reset after each capture. */
  #keyIndex = new Int32Array(0);

  private constructor(handle: ColumnarStoreHandle<S>, opened: OpenedHandle) {
    this.#handle = handle;
    this.#specs = opened.specs;
    for (const s of this.#specs) this.#byName.set(s.name, s);
    this.#tracking = handle.enableWindowTracking;
    this.#partitionKeyCol =
      handle.partitionKey === null ? -1 : (this.#byName.get(handle.partitionKey)?.index ?? -1);
    const { control: ctl, stride } = opened;
    this.#parts = opened.partitions.map(
      (layout, p) =>
        new ColumnarPartition<S>(p, ctl, stride, handle.rows, layout, this.#specs, handle.abortTimeoutMs),
    );
    this.#capacity = handle.capacities.reduce((a, b) => a + b, 0);
    this.#keys = KeyDictionary.attach(handle.keys, handle.abortTimeoutMs);
    this.#stats = new ColumnarStatistics(
      this.#parts.map((part) => part.sequencer),
      this.#keys,
    );
    // Take a round-robin start so that threads spread over the partitions.
    this.#roundRobin = (Atomics.add(ctl, H_RR_SEED, 1) >>> 0) % this.#parts.length;
    this.#stager = new RowStager(this.#specs, this.#keys);
  }

  /** Allocates a store (its shared buffers) on this thread. */
  static create<S extends ColumnSchema>(options: ColumnarEventStoreOptions<S>): ColumnarEventStore<S> {
    const handle = createHandle<S>(resolveColumnarOptions(options));
    return new ColumnarEventStore<S>(handle, openHandle(handle));
  }

  /** Wraps the buffers of `handle` (received through postMessage) on this thread. Allocates no rows. */
  static attach<S extends ColumnSchema>(handle: ColumnarStoreHandle<S>): ColumnarEventStore<S> {
    return new ColumnarEventStore<S>(handle, openHandle(handle));
  }

  /** The structured-clonable handle: post it to a worker and `attach` it there. */
  get handle(): ColumnarStoreHandle<S> {
    return this.#handle;
  }

  /** Total rows the store can hold (sum of the partitions' slots). */
  get capacity(): number {
    return this.#capacity;
  }

  /** Number of partitions. */
  get partitions(): number {
    return this.#parts.length;
  }

  /** The user columns (name → type); `timestamp` is implicit. */
  get columns(): S {
    return this.#handle.columns;
  }

  /** Rows visible now (what `count()` returns). */
  get size(): number {
    return this.count();
  }

  /** Lifetime counters, shared by every thread. */
  get statistics(): ColumnarStatistics {
    return this.#stats;
  }

  /** The id of `key` in the shared dictionary, interning it when new. */
  keyId(key: string): number {
    return this.#keys.intern(key);
  }

  /** The string of key id `id`, or `undefined` when no key has it. */
  keyOf(id: number): string | undefined {
    return this.#keys.keyOf(id);
  }

  /** The id of `key` when some thread interned it, else -1 (never interns). */
  lookupKey(key: string): number {
    return this.#keys.lookup(key);
  }

  // ----- appends ---------------------------------------------------------------------------------

  /**
   * Appends one row (to `partition`, else by `partitionKey`, else round-robin per thread). Returns
   * false only when the batch was aborted (its claim stalled past `abortTimeoutMs`). Throws
   * ES_ERR_INVALID_ARG for a malformed row (nothing is appended).
   */
  tryAppend(row: ColumnarRow<S>, partition?: number): boolean {
    this.#stager.stageRow(row);
    const p = this.#choosePartition(partition, 0);
    return this.#writer.write(this.#parts[p]!, this.#stager.columns, 0, 1);
  }

  /**
   * Appends rows in order and returns how many were appended: `rows[0..n)` (a batch stops at the
   * first aborted claim). Every row is validated and its keys interned before any is appended.
   * One claim and one publication per partition and run of up to `min(4096, capacity / 4)` rows of
   * that partition (`claimSize`, layout.ts); a longer run is split into several.
   */
  tryAppendBatch(rows: readonly ColumnarRow<S>[], partition?: number): number {
    if (!Array.isArray(rows)) throw invalidArg(`\`rows\` must be an array, received ${describe(rows)}`);
    if (partition !== undefined) this.#checkPartition(partition);
    const n = rows.length;
    if (n === 0) return 0;
    this.#stager.stageRows(rows, n);
    return this.#appendStagedBatch(n, partition);
  }

  /**
   * Appends rows given as columns: `{ timestamp: Float64Array, value: Float64Array, label: string[]
   * or Uint32Array of key ids }`, all of one length. The fastest form: numeric typed arrays of the
   * column's type are copied with `TypedArray.set`. Returns how many rows were appended (a prefix).
   */
  tryAppendColumns(
    columns: { timestamp: ArrayLike<number> } & {
      [K in keyof S]: S[K] extends 'key' ? readonly string[] | Uint32Array : ArrayLike<number>;
    },
    partition?: number,
  ): number {
    if (typeof columns !== 'object' || columns === null) {
      throw invalidArg(`\`columns\` must be an object of column arrays, received ${describe(columns)}`);
    }
    if (partition !== undefined) this.#checkPartition(partition);
    const n = this.#stager.stageColumns(columns);
    if (n === 0) return 0;
    return this.#appendStagedBatch(n, partition);
  }

  #appendStagedBatch(n: number, partition: number | undefined): number {
    const stage = this.#stager.columns;
    if (partition !== undefined) return this.#writer.writeRun(this.#parts[partition]!, stage, 0, n);
    if (this.#partitionKeyCol < 0) {
      // Round-robin: each claim-sized run goes to the next partition.
      let done = 0;
      while (done < n) {
        const p = this.#nextRoundRobin();
        const run = Math.min(n - done, claimSize(this.#parts[p]!.capacity));
        if (!this.#writer.write(this.#parts[p]!, stage, done, run)) return done;
        done += run;
      }
      return done;
    }
    // By key: group the rows of each partition (stable), then append partition by partition.
    const parts = this.#stager.parts;
    const keyIds = stage[this.#partitionKeyCol]!;
    const P = this.#parts.length;
    for (let i = 0; i < n; i++) parts[i] = hashString(this.#keys.keyOf(keyIds[i]!)!) % P;
    let done = 0;
    for (let p = 0; p < P; p++) {
      let m = 0;
      const index = this.#stager.index;
      for (let i = 0; i < n; i++) if (parts[i] === p) index[m++] = i;
      if (m === 0) continue;
      const half = stage[0]!.length >>> 1;
      if (m !== n) this.#stager.gather(index, m, half);
      const appended = this.#writer.writeRun(this.#parts[p]!, stage, m === n ? 0 : half, m);
      done += appended;
      if (appended < m) return done;
    }
    return done;
  }

  #choosePartition(partition: number | undefined, stagedRow: number): number {
    if (partition !== undefined) return this.#checkPartition(partition);
    if (this.#partitionKeyCol >= 0) {
      const id = this.#stager.columns[this.#partitionKeyCol]![stagedRow]!;
      return hashString(this.#keys.keyOf(id)!) % this.#parts.length;
    }
    return this.#nextRoundRobin();
  }

  #nextRoundRobin(): number {
    const p = this.#roundRobin;
    this.#roundRobin = p + 1 === this.#parts.length ? 0 : p + 1;
    return p;
  }

  #checkPartition(partition: unknown): number {
    return ensureInteger('partition', partition, 0, this.#parts.length - 1);
  }

  // ----- queries ---------------------------------------------------------------------------------

  /** Number of rows matching `q`. */
  count(q?: ColumnarQueryOptions<S>): number {
    return this.#fold(-1, q).count;
  }

  /** Sum of `column` over the rows matching `q`; 0 when none match. */
  sum(column: NumericColumnOf<S>, q?: ColumnarQueryOptions<S>): number {
    return this.#fold(this.#numericColumn(column), q, false).sum;
  }

  /** Average of `column` over the rows matching `q`; `undefined` when none match. */
  average(column: NumericColumnOf<S>, q?: ColumnarQueryOptions<S>): number | undefined {
    const a = this.#fold(this.#numericColumn(column), q, false);
    return a.count === 0 ? undefined : a.sum / a.count;
  }

  /** Smallest value of `column` over the rows matching `q`; `undefined` when none match. */
  min(column: NumericColumnOf<S>, q?: ColumnarQueryOptions<S>): number | undefined {
    const a = this.#fold(this.#numericColumn(column), q);
    return a.count === 0 ? undefined : a.min;
  }

  /** Largest value of `column` over the rows matching `q`; `undefined` when none match. */
  max(column: NumericColumnOf<S>, q?: ColumnarQueryOptions<S>): number | undefined {
    const a = this.#fold(this.#numericColumn(column), q);
    return a.count === 0 ? undefined : a.max;
  }

  /** Count, sum, min, max and average of `column` over the rows matching `q`, in one pass. */
  window(column: NumericColumnOf<S>, q?: ColumnarQueryOptions<S>): WindowResult {
    const a = this.#fold(this.#numericColumn(column), q);
    if (a.count === 0) return { count: 0, sum: 0, min: undefined, max: undefined, average: undefined };
    return { count: a.count, sum: a.sum, min: a.min, max: a.max, average: a.sum / a.count };
  }

  /** Aggregates of `valueColumn` per key of `keyColumn` over the rows matching `q`. */
  groupBy(
    keyColumn: KeyColumnOf<S>,
    valueColumn: NumericColumnOf<S>,
    q?: ColumnarQueryOptions<S>,
  ): Map<string, GroupResult> {
    const g = this.#group(keyColumn, valueColumn, q);
    const out = new Map<string, GroupResult>();
    for (let id = 0; id < g.count.length; id++) {
      const n = g.count[id]!;
      if (n === 0) continue;
      const sum = g.sum[id]!;
      out.set(this.#keys.keyOf(id)!, { count: n, sum, min: g.min[id]!, max: g.max[id]!, average: sum / n });
    }
    return out;
  }

  /** The `k` keys of `keyColumn` with the largest sum of `valueColumn`, by sum descending (ties: key order). */
  topK(
    keyColumn: KeyColumnOf<S>,
    valueColumn: NumericColumnOf<S>,
    k: number,
    q?: ColumnarQueryOptions<S>,
  ): ColumnarTopEntry[] {
    ensureInteger('k', k, 0);
    const g = this.#group(keyColumn, valueColumn, q);
    const ids: number[] = [];
    for (let id = 0; id < g.count.length; id++) if (g.count[id]! > 0) ids.push(id);
    const sum = g.sum;
    ids.sort((a, b) => sum[b]! - sum[a]! || a - b);
    const out: ColumnarTopEntry[] = [];
    for (let i = 0; i < ids.length && i < k; i++) {
      const id = ids[i]!;
      const n = g.count[id]!;
      out.push({
        key: this.#keys.keyOf(id)!,
        count: n,
        sum: sum[id]!,
        min: g.min[id]!,
        max: g.max[id]!,
        average: sum[id]! / n,
      });
    }
    return out;
  }

  /** A copy of every held row as objects: oldest→newest within each partition, partitions in order. */
  snapshot(): ColumnarRow<S>[] {
    const snap = this.snapshotColumns();
    const out: ColumnarRow<S>[] = new Array(snap.length);
    const cols = snap.columns as unknown as Record<string, ColumnArray>;
    const specs = this.#specs;
    for (let i = 0; i < snap.length; i++) {
      const row: Record<string, number | string> = {};
      for (const s of specs) {
        const v = cols[s.name]![i]!;
        row[s.name] = s.type === 'key' ? this.#keys.keyOf(v)! : v;
      }
      out[i] = row as ColumnarRow<S>;
    }
    return out;
  }

  /** A copy of every held row as columns (key columns hold ids), in `snapshot()` order. */
  snapshotColumns(q?: ColumnarQueryOptions<S>): ColumnarSnapshot<S> {
    const r = this.#resolve(q);
    const specs = this.#specs;
    let size = 1024;
    let out = specs.map((s) => scratchArray(s.type, size));
    let length = 0;
    const chunk = specs.map((s) => scratchArray(s.type, CHUNK));
    const noise = this.#noise;
    for (let p = r.first; p < r.end && !r.none; p++) {
      const part = this.#parts[p]!;
      const seq = part.sequencer;
      const cols = part.columns;
      const view = part.views;
      this.#scan(
        seq,
        (a, n) => {
          // Copy the chunk's readable rows to the chunk scratch; validated by #scan before use.
          let m = 0;
          let z = a;
          let slot = a % seq.capacity;
          const stamps = seq.stamps;
          for (let j = 0; j < n; j++) {
            if ((stamps[slot]! & READABLE_MASK) === z && this.#matches(r, cols, view, slot)) {
              chunk[0]![m] = cols[0]![slot]!;
              if (noise !== undefined) noise(NoisePoint.READ_ROW);
              for (let c = 1; c < cols.length; c++) chunk[c]![m] = cols[c]![slot]!;
              m++;
            }
            if (++slot === seq.capacity) slot = 0;
            if (++z === seq.modulus) z = 0;
          }
          return m;
        },
        (m) => {
          if (length + m > size) {
            while (length + m > size) size *= 2;
            out = out.map((col, c) => {
              const bigger = scratchArray(specs[c]!.type, size);
              bigger.set(col.subarray(0, length));
              return bigger;
            });
          }
          for (let c = 0; c < out.length; c++) out[c]!.set(chunk[c]!.subarray(0, m), length);
          length += m;
        },
      );
    }
    const columns: Record<string, ColumnArray> = {};
    for (const s of specs) columns[s.name] = out[s.index]!.slice(0, length);
    return { length, columns: columns as unknown as ColumnViews<S> };
  }

  /** Hides every row published so far, in every partition. Appends in flight may still land after it. */
  clear(): void {
    for (const part of this.#parts) part.sequencer.clear();
  }

  // ----- snapshots -------------------------------------------------------------------------------

  /**
   * Configures crash-safe snapshots of this store: each changed partition's columns written as raw
   * bytes (use {@link ColumnarSnapshotSerializer}). Call once, on one thread (the one that runs the
   * snapshotter); then `restoreFromSnapshots()` before any thread appends, and `start()` the returned
   * snapshotter. Appends from every thread are captured. The delta journal is not available for this
   * store (`journal.enabled` throws ES_ERR_INVALID_ARG). See docs/snapshots.md.
   */
  configureSnapshots(
    options: SnapshotOptions,
    serializer: SnapshotSerializer<ColumnarPartitionImage>,
    snapshotStore: SnapshotStore,
  ): Snapshotter<ColumnarPartitionImage> {
    if (this.#snapshotter !== undefined) {
      throw new EventStoreError(ErrorCode.INVALID_STATE, 'snapshots are already configured for this store');
    }
    if (serializer?.codec?.name !== 'columnar') {
      // An event serializer (BinarySnapshotSerializer) would save images it cannot restore.
      throw invalidArg(
        '`serializer` of a ColumnarEventStore must write partition images: use new ColumnarSnapshotSerializer(), ' +
          `received a serializer with the '${String(serializer?.codec?.name)}' codec`,
      );
    }
    if (resolveSnapshotOptions(options).journal.enabled) {
      throw invalidArg(
        'the delta journal is not available for ColumnarEventStore (appends come from many threads); ' +
          'remove `journal` from the snapshot options or set `journal.enabled: false`',
      );
    }
    for (const part of this.#parts) part.watchFloor();
    this.#snapshotter = new Snapshotter(this.#snapshotTarget(), options, serializer, snapshotStore);
    return this.#snapshotter;
  }

  /**
   * Restores every partition from its newest valid snapshot: writes the rows back and sets the
   * partition's cursor, so versions continue where the snapshot left off. Run it on the thread that
   * configured snapshots, before any thread appends (before handing `handle` to workers, or while
   * the attached ones are idle). Resolves with the number of partitions restored.
   */
  restoreFromSnapshots(): Promise<number> {
    return restoreConfigured(this.#snapshotter);
  }

  /**
   * A consistent copy of partition `p`'s published rows, through the validated read path of queries:
   * every row is one that was published before the cursor load, none torn. The rows are the
   * contiguous run of sequences that ends at that cursor (a run broken by an overwrite during the read
   * restarts after it). `version` is the cursor's unwrapped position.
   */
  #capture(p: number): { version: number; image: ColumnarPartitionImage } {
    const part = this.#parts[p]!;
    const seq = part.sequencer;
    const cols = part.columns;
    const specs = this.#specs;
    const cap = seq.capacity;
    const stamps = seq.stamps;
    let out: ColumnArray[] = [];
    let length = 0;
    let version = 0;
    this.#scan(
      seq,
      (a, n) => {
        let m = 0;
        let slot = a % cap;
        if (seq.allPublished) {
          // Every row of the range is published: copy whole slot ranges (two when the chunk wraps).
          for (let left = n; left > 0; ) {
            const len = Math.min(left, cap - slot);
            for (let c = 0; c < cols.length; c++) {
              out[c]!.set(cols[c]!.subarray(slot, slot + len), length + m);
            }
            m += len;
            left -= len;
            slot = 0;
          }
          return m;
        }
        let z = a;
        for (let j = 0; j < n; j++) {
          if ((stamps[slot]! & READABLE_MASK) === z) {
            for (let c = 0; c < cols.length; c++) out[c]![length + m] = cols[c]![slot]!;
            m++;
          }
          if (++slot === cap) slot = 0;
          if (++z === seq.modulus) z = 0;
        }
        return m;
      },
      (m) => {
        length += m;
      },
      {
        begin: (cursor, lo) => {
          version = part.position(cursor);
          const rows = seq.delta(cursor, lo);
          out = specs.map((s) => scratchArray(s.type, rows));
        },
        restart: () => {
          length = 0;
        },
      },
    );
    // Key columns: store ids -> indexes into the capture's own key list.
    const keys: string[] = [];
    const used: number[] = [];
    const size = this.#keys.size;
    if (this.#keyIndex.length < size) this.#keyIndex = new Int32Array(size).fill(-1);
    let index = this.#keyIndex;
    for (const s of specs) {
      if (s.type !== 'key') continue;
      const col = out[s.index]!;
      for (let i = 0; i < length; i++) {
        const id = col[i]!;
        if (id >= index.length) {
          const bigger = new Int32Array(Math.max(id + 1, index.length * 2)).fill(-1);
          bigger.set(index);
          this.#keyIndex = index = bigger;
        }
        let k = index[id]!;
        if (k < 0) {
          const key = this.#keys.keyOf(id);
          if (key === undefined) {
            throw new EventStoreError(
              ErrorCode.INVALID_STATE,
              `row of partition ${p} names unknown key id ${id}`,
            );
          }
          k = keys.length;
          keys.push(key);
          used.push(id);
          index[id] = k;
        }
        col[i] = k;
      }
    }
    for (const id of used) index[id] = -1;
    return {
      version,
      image: {
        columns: specs.map((s) => ({ name: s.name, type: s.type })),
        length,
        data: out.map((col) => col.subarray(0, length)),
        keys,
      },
    };
  }

  /**
   * Throws unless `image` is a partition image this store can restore at `version`: its columns are
   * this store's (else ES_ERR_SNAPSHOT_SCHEMA_MISMATCH), and every column is a typed array of the
   * right type holding `length` rows, every key index names a key, `length <= version` (else
   * ES_ERR_SNAPSHOT_CORRUPT). Changes nothing.
   */
  #checkImage(p: number, images: readonly ColumnarPartitionImage[], version: number): void {
    const bad = (why: string): EventStoreError =>
      new EventStoreError(ErrorCode.SNAPSHOT_CORRUPT, `invalid columnar snapshot of partition ${p}: ${why}`);
    if (images.length !== 1)
      throw bad(`a columnar snapshot holds exactly one image, received ${images.length}`);
    const image = images[0]!;
    const specs = this.#specs;
    if (
      typeof image !== 'object' ||
      image === null ||
      !Array.isArray(image.columns) ||
      !Array.isArray(image.data) ||
      !Array.isArray(image.keys) ||
      !Number.isSafeInteger(image.length) ||
      image.length < 0
    ) {
      throw bad('it is not a partition image (was it written by a ColumnarSnapshotSerializer?)');
    }
    const same =
      image.columns.length === specs.length &&
      image.columns.every((c, i) => c.name === specs[i]!.name && c.type === specs[i]!.type);
    if (!same) {
      const list = (cs: readonly { name: string; type: string }[]): string =>
        cs.map((c) => `${c.name} ${c.type}`).join(', ');
      throw new EventStoreError(
        ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
        `snapshot of partition ${p} has columns (${list(image.columns)}); this store has (${list(specs)})`,
      );
    }
    if (!Number.isSafeInteger(version) || version < image.length) {
      throw bad(`version ${version} is below the ${image.length} rows of the snapshot`);
    }
    specs.forEach((s, c) => {
      const col = image.data[c];
      if (!(col instanceof COLUMN_ARRAYS[s.type]) || col.length !== image.length) {
        throw bad(`column \`${s.name}\` does not hold ${image.length} ${s.type} rows`);
      }
      if (s.type !== 'key') return;
      for (let i = 0; i < col.length; i++) {
        if (col[i]! >= image.keys.length) {
          throw bad(`row ${i} of \`${s.name}\` names key ${col[i]} of ${image.keys.length}`);
        }
      }
    });
    if (!image.keys.every((k) => typeof k === 'string')) throw bad('a key is not a string');
  }

  /** Writes a restored image into partition `p` (see restoreFromSnapshots for when that is safe). */
  #restoreImage(p: number, image: ColumnarPartitionImage, version: number): void {
    this.#checkImage(p, [image], version);
    const specs = this.#specs;
    const part = this.#parts[p]!;
    const seq = part.sequencer;
    const cols = part.columns;
    const cap = seq.capacity;
    // A smaller ring keeps the newest rows.
    const keep = Math.min(image.length, cap);
    const skip = image.length - keep;
    const start = version - keep;
    const slot0 = start % cap;
    const first = Math.min(keep, cap - slot0);
    const ids = new Uint32Array(image.keys.length);
    image.keys.forEach((key, k) => {
      ids[k] = this.#keys.intern(key);
    });
    for (const s of specs) {
      const src = image.data[s.index]!;
      const dst = cols[s.index]!;
      if (s.type === 'key') {
        let slot = slot0;
        for (let i = skip; i < image.length; i++) {
          dst[slot] = ids[src[i]!]!;
          if (++slot === cap) slot = 0;
        }
      } else {
        dst.set(src.subarray(skip, skip + first), slot0);
        if (first < keep) dst.set(src.subarray(skip + first, image.length), 0);
      }
    }
    // One published batch per row (plain stores, published by restoreState's final store).
    const stamps = seq.stamps;
    let slot = slot0;
    let z = start % seq.modulus;
    for (let i = 0; i < keep; i++) {
      stamps[slot] = z;
      if (++slot === cap) slot = 0;
      if (++z === seq.modulus) z = 0;
    }
    seq.restoreState(version, keep);
    part.restoredAt(version);
  }

  /** The narrow view of this store that its snapshotter works through. */
  #snapshotTarget(): SnapshotTarget<ColumnarPartitionImage> {
    const parts = this.#parts;
    const noJournal = (): never => {
      throw new EventStoreError(ErrorCode.INVALID_STATE, 'ColumnarEventStore has no delta journal');
    };
    return {
      partitions: parts.length,
      version: (p) => parts[p]!.position(parts[p]!.sequencer.cursor),
      mutations: (p) => parts[p]!.mutations(),
      totalAppended: () => this.#stats.totalAppended,
      isPristine: () =>
        parts.every(
          ({ sequencer: s }) =>
            s.claimHead === 0 && s.appended === 0 && s.abortedSlots === 0 && s.floor === NO_FLOOR,
        ),
      capture: (p) => {
        const { version, image } = this.#capture(p);
        return { version, events: [image] };
      },
      check: (p, events, version) => this.#checkImage(p, events, version),
      restore: (p, events, version) => this.#restoreImage(p, events[0]!, version),
      replayAppend: noJournal,
      replayClear: noJournal,
      replayPurge: noJournal,
      setJournalHook: (hook) => {
        if (hook !== undefined) noJournal();
      },
    };
  }

  /**
   * Walks the readable range of one partition in chunks, oldest first: `read(a, n)` reads the rows
   * of sequences [a, a+n) into thread-local scratch and returns a result; after it, the chunk is
   * validated against CLAIM, and `commit(result)` runs only when no row of the chunk can have been
   * overwritten meanwhile. A chunk that was partly overwritten is re-read from its oldest intact row.
   * `range` (snapshot captures) learns the range read, and is told when rows were dropped so that
   * what it committed so far no longer joins up with what follows.
   */
  #scan(
    seq: Sequencer,
    read: (a: number, n: number) => number,
    commit: (result: number) => void,
    range?: { begin(cursor: number, lo: number): void; restart(): void },
  ): void {
    const c = seq.readRange();
    let a = seq.lo;
    range?.begin(c, a);
    const noise = this.#noise;
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

  #matches(r: ResolvedQuery, cols: ColumnArray[], view: ColumnViews<S>, slot: number): boolean {
    if (r.timed) {
      const t = cols[0]![slot]!;
      if (t < r.from || t > r.to) return false;
    }
    const wc = r.whereCols;
    for (let w = 0; w < wc.length; w++) if (cols[wc[w]!]![slot] !== r.whereIds[w]) return false;
    if (r.filter !== undefined && !(r.filter as (v: ColumnViews<S>, s: number) => boolean)(view, slot)) {
      return false;
    }
    return true;
  }

  /** `minMax: false` (sum, average, count) lets the kernel skip min/max. */
  #fold(column: number, q: ColumnarQueryOptions<S> | undefined, minMax = true): Acc {
    const r = this.#resolve(q);
    const total = new Acc();
    if (r.none) return total;
    const chunkAcc = new Acc();
    const simple = r.whereCols.length === 0 && r.filter === undefined;
    for (let p = r.first; p < r.end; p++) {
      const part = this.#parts[p]!;
      const seq = part.sequencer;
      const cols = part.columns;
      const view = part.views;
      const stamps = seq.stamps;
      const ts = cols[0]!;
      const vs = column < 0 ? undefined : cols[column]!;
      const cap = seq.capacity;
      const { timed, from, to } = r;
      if (simple && cap >= 2 * CHUNK) {
        this.#foldBlocks(p, seq, r, ts, vs, column, minMax, total);
        continue;
      }
      this.#scan(
        seq,
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
            (slot) => this.#matches(r, cols, view, slot),
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
  #walkBlocks(
    seq: Sequencer,
    index: BlockIndex,
    r: ResolvedQuery,
    visit: (step: BlockStep) => boolean,
    commit: (step: BlockStep) => void,
  ): void {
    const cap = seq.capacity;
    const noise = this.#noise;
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
   * The fold of one partition through #walkBlocks: a block entirely outside the range adds nothing,
   * one entirely inside adds its summary, the rest is read. A block is summarised (count, sum, min,
   * max) on its second whole read, so a one-off query pays no extra pass.
   */
  #foldBlocks(
    p: number,
    seq: Sequencer,
    r: ResolvedQuery,
    ts: ColumnArray,
    vs: ColumnArray | undefined,
    column: number,
    minMax: boolean,
    total: Acc,
  ): void {
    const summaries = this.#summariesOf(
      this.#summaries,
      p,
      column,
      seq.capacity,
      (n) => new BlockSummaries(n),
    );
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
    this.#walkBlocks(seq, summaries, r, visit, () => total.add(chunkAcc));
  }

  /** This thread's summaries of partition `p` under `key` (a column, or a column pair), made on first use. */
  #summariesOf<B extends BlockIndex>(
    all: Map<number, B>[],
    p: number,
    key: number,
    capacity: number,
    create: (blocks: number) => B,
  ): B {
    let byKey = all[p];
    if (byKey === undefined) all[p] = byKey = new Map();
    let s = byKey.get(key);
    if (s === undefined) byKey.set(key, (s = create(Math.ceil(capacity / CHUNK))));
    return s;
  }

  #group(keyColumn: string, valueColumn: string, q: ColumnarQueryOptions<S> | undefined): GroupAcc {
    const keySpec = this.#byName.get(keyColumn);
    if (keySpec === undefined || keySpec.type !== 'key') {
      throw invalidArg(`\`keyColumn\` must name a 'key' column, received ${describe(keyColumn)}`);
    }
    const vc = this.#numericColumn(valueColumn);
    const r = this.#resolve(q);
    const groups = new GroupAcc(this.#keys.size);
    const chunk = new ChunkGroups(this.#keys.size);
    const simple = r.whereCols.length === 0 && r.filter === undefined;
    for (let p = r.first; p < r.end && !r.none; p++) {
      const part = this.#parts[p]!;
      const seq = part.sequencer;
      const cols = part.columns;
      const view = part.views;
      const stamps = seq.stamps;
      const ts = cols[0]!;
      const ks = cols[keySpec.index]!;
      const vs = cols[vc]!;
      const cap = seq.capacity;
      const { from, to } = r;
      if (simple && cap >= 2 * CHUNK) {
        const pair = keySpec.index * 4096 + vc;
        const summaries = this.#summariesOf(
          this.#groupSummaries,
          p,
          pair,
          cap,
          (n) => new GroupBlockSummaries(n),
        );
        this.#groupBlocks(seq, r, ts, ks, vs, summaries, groups, chunk);
        continue;
      }
      this.#scan(
        seq,
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
              (slot) => this.#matches(r, cols, view, slot),
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
   * The groupBy of one partition through #walkBlocks, with group summaries (per block: each key's
   * count, sum, min and max over the whole block), made on a block's second whole read.
   */
  #groupBlocks(
    seq: Sequencer,
    r: ResolvedQuery,
    ts: ColumnArray,
    ks: ColumnArray,
    vs: ColumnArray,
    summaries: GroupBlockSummaries,
    groups: GroupAcc,
    chunk: ChunkGroups,
  ): void {
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
    this.#walkBlocks(seq, summaries, r, visit, commit);
  }

  #numericColumn(column: string): number {
    const s = this.#byName.get(column);
    if (s === undefined || s.type === 'key') {
      throw invalidArg(
        `the value column must name a numeric column or 'timestamp', received ${describe(column)}`,
      );
    }
    return s.index;
  }

  #resolve(q: ColumnarQueryOptions<S> | undefined): ResolvedQuery {
    const r: ResolvedQuery = {
      timed: false,
      from: Number.NEGATIVE_INFINITY,
      to: Number.POSITIVE_INFINITY,
      whereCols: [],
      whereIds: [],
      none: false,
      filter: undefined,
      first: 0,
      end: this.#parts.length,
    };
    if (q === undefined) return r;
    if (typeof q !== 'object' || q === null) {
      throw invalidArg(
        `query options must be an object { from?, to?, where?, filter?, partition? }, received ${describe(q)}`,
      );
    }
    for (const key in q) {
      if (!QUERY_KEYS.has(key)) throw invalidArg(`unknown query option \`${key}\``);
    }
    if (q.from !== undefined || q.to !== undefined) {
      if (!this.#tracking) {
        throw new EventStoreError(ErrorCode.WINDOW_TRACKING_DISABLED, WINDOW_TRACKING_DISABLED_MESSAGE);
      }
      r.timed = true;
      if (q.from !== undefined) r.from = ensureTime('from', q.from);
      if (q.to !== undefined) r.to = ensureTime('to', q.to);
    }
    if (q.where !== undefined) {
      const w = q.where as unknown;
      if (typeof w !== 'object' || w === null || Array.isArray(w)) {
        throw invalidArg(`\`where\` must be an object { keyColumn: 'key' }, received ${describe(w)}`);
      }
      for (const [name, key] of Object.entries(w)) {
        const s = this.#byName.get(name);
        if (s === undefined || s.type !== 'key') {
          throw invalidArg(`\`where\` keys must name 'key' columns, received ${describe(name)}`);
        }
        if (typeof key !== 'string') {
          throw invalidArg(`\`where.${name}\` must be a string, received ${describe(key)}`);
        }
        const id = this.#keys.lookup(key);
        if (id < 0) r.none = true;
        r.whereCols.push(s.index);
        r.whereIds.push(id);
      }
    }
    if (q.filter !== undefined) r.filter = ensureFunction('filter', q.filter);
    if (q.partition !== undefined) {
      r.first = this.#checkPartition(q.partition);
      r.end = r.first + 1;
    }
    return r;
  }

  /**
   * Installs a test's noise and write-protocol variant on this instance (the writer is built here,
   * so no variant is ever branched on inside an append). Production code never sets it.
   */
  set [TEST_HOOKS](hooks: ColumnarTestHooks | undefined) {
    this.#hooks = hooks;
    this.#noise = hooks?.noise;
    this.#writer = hooks?.writer ?? new BatchWriter(hooks?.noise);
  }

  /** The hooks a test installed, if any. */
  get [TEST_HOOKS](): ColumnarTestHooks | undefined {
    return this.#hooks;
  }
}

/**
 * Count/sum/min/max over slots [i0, i1) whose stamp reads sequence `i + off` (PUBLISHED or INTERIOR)
 * and whose time is in [from, to]. `vs` undefined: count only. The hot loop of every simple fold.
 */
function foldKernel(
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

/**
 * Calls `run(i0, i1, off)` for the contiguous slot ranges of sequences [a, a + n) (two when they wrap
 * the ring); `off` is the sequence minus the slot within a range.
 */
function forEachRun(
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
function forEachMatch(
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

/**
 * Folds (key id, value) of the readable rows of slots [i0, i1) with a time in [from, to] into `g`;
 * `off` is the sequence minus the slot, and `stamps` undefined means every row is known published.
 */
function groupKernel(
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

/**
 * The groups of one chunk while it is read: count, sum, min, max interleaved per key id (one cache
 * line per key), and the ids touched, so clearing and merging cost the keys seen, not all keys.
 */
class ChunkGroups {
  data: Float64Array;
  readonly touched = new Int32Array(CHUNK);
  touchedCount = 0;

  constructor(keys: number) {
    this.data = new Float64Array(Math.max(1, keys) * 4);
  }

  clear(): void {
    const d = this.data;
    for (let j = 0; j < this.touchedCount; j++) d[this.touched[j]!] = 0;
    this.touchedCount = 0;
  }

  /** Folds value `v` into key `id`'s group. */
  add(id: number, v: number): void {
    const k = id * 4;
    const d = k < this.data.length ? this.data : this.grow(k);
    const c = d[k]!;
    if (c === 0) {
      this.touched[this.touchedCount++] = k;
      d[k] = 1;
      d[k + 1] = v;
      d[k + 2] = v;
      d[k + 3] = v;
      return;
    }
    d[k] = c + 1;
    d[k + 1]! += v;
    if (v < d[k + 2]!) d[k + 2] = v;
    if (v > d[k + 3]!) d[k + 3] = v;
  }

  /** A key interned after the query began (its row was published meanwhile): room for index `k`. */
  grow(k: number): Float64Array {
    const b = new Float64Array(Math.max(k + 4, this.data.length * 2));
    b.set(this.data);
    this.data = b;
    return b;
  }
}

/**
 * The validity half of one thread's summaries of the aligned blocks of CHUNK slots of one partition:
 * `seqAt[b]` the first sequence of block `b` when summarised (-1: none), `appendedAt[b]` the
 * partition's published count read before that, `seenAt[b]` the first sequence when last read whole
 * without a summary, and the block's time bounds.
 */
class BlockIndex {
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

/** What #walkBlocks hands its visitor for one whole block or ragged end. */
interface BlockStep {
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
class BlockSummaries extends BlockIndex {
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

/**
 * Summarises slots [i0, i0 + n) (sequences from `z0`) into block `b` of `s`, without marking it
 * valid (the caller does, once the read is validated). Returns false, summarising nothing, when a row
 * is not readable (`stamps` undefined: every row is known published).
 */
function summariseBlock(
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

/** Keys a block may hold and still be summarised (past it, the summary would cost more than a read). */
const MAX_SUMMARY_KEYS = 512;

/** Group summaries: per block, (key id, count, sum, min, max) for each key of the block. */
class GroupBlockSummaries extends BlockIndex {
  readonly entries: (Float64Array | undefined)[];

  constructor(blocks: number) {
    super(blocks);
    this.entries = new Array(blocks).fill(undefined);
  }
}

/**
 * The groups of every row of slots [i0, i0 + n) (sequences from `z0`) as (id, count, sum, min, max)
 * entries, and the block's time bounds into `s` (not yet marked valid). Uses `scratch`. Undefined when
 * a row is not readable or the block holds more than MAX_SUMMARY_KEYS keys.
 */
function summariseGroups(
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

/** Dense per-key-id count/sum/min/max of a groupBy, grown when a newer key id shows up. */
class GroupAcc {
  count: Float64Array;
  sum: Float64Array;
  min: Float64Array;
  max: Float64Array;

  constructor(size: number) {
    this.count = new Float64Array(size);
    this.sum = new Float64Array(size);
    this.min = new Float64Array(size).fill(Number.POSITIVE_INFINITY);
    this.max = new Float64Array(size).fill(Number.NEGATIVE_INFINITY);
  }

  /** Folds (id, count, sum, min, max) entries in, as made by summariseGroups. */
  mergeSparse(e: Float64Array): void {
    for (let j = 0; j < e.length; j += 5) {
      const id = e[j]!;
      if (id >= this.count.length) this.#grow(Math.max(id + 1, this.count.length * 2));
      this.count[id]! += e[j + 1]!;
      this.sum[id]! += e[j + 2]!;
      if (e[j + 3]! < this.min[id]!) this.min[id] = e[j + 3]!;
      if (e[j + 4]! > this.max[id]!) this.max[id] = e[j + 4]!;
    }
  }

  /** Folds a validated chunk's groups in and clears them. */
  merge(g: ChunkGroups): void {
    const d = g.data;
    let top = 0;
    for (let j = 0; j < g.touchedCount; j++) top = Math.max(top, g.touched[j]! / 4);
    if (g.touchedCount > 0 && top >= this.count.length) this.#grow(Math.max(top + 1, this.count.length * 2));
    for (let j = 0; j < g.touchedCount; j++) {
      const k = g.touched[j]!;
      const id = k / 4;
      this.count[id]! += d[k]!;
      this.sum[id]! += d[k + 1]!;
      if (d[k + 2]! < this.min[id]!) this.min[id] = d[k + 2]!;
      if (d[k + 3]! > this.max[id]!) this.max[id] = d[k + 3]!;
    }
    g.clear();
  }

  #grow(size: number): void {
    this.count = grow(this.count, size, 0);
    this.sum = grow(this.sum, size, 0);
    this.min = grow(this.min, size, Number.POSITIVE_INFINITY);
    this.max = grow(this.max, size, Number.NEGATIVE_INFINITY);
  }
}

/**
 * Count and sum (no min/max) of the rows of slots [i0, i1) with a time in [from, to], all published.
 * Four partial sums break the chain of dependent additions (the limit of a one-accumulator loop);
 * the order of additions differs from a sequential sum, which only matters for inexact values.
 */
function sumAllKernel(
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

/** {@link foldKernel} for a range known to hold only published rows: no stamp check. */
function foldAllKernel(
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

function grow(a: Float64Array, size: number, fill: number): Float64Array {
  const b = new Float64Array(size).fill(fill);
  b.set(a);
  return b;
}
