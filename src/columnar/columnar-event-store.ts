// ColumnarEventStore: events of a fixed schema as typed-array columns in SharedArrayBuffers,
// appended and queried from any number of worker threads at once, without locks.
// Concurrency contract: every method may run on any thread holding an attached instance. Appends
// claim and publish once per batch (sequencer.ts); a query returns exactly the rows whose
// publication it observed through the partition cursor, minus rows the ring overwrote before the
// query read them (each chunk read is validated afterwards), never a torn or half-written row.
// Instances are thread-local wrappers (caches, scratch arrays); the buffers are the shared state.

import { hashString } from '../core/partitioner.js';
import type { GroupResult } from '../core/results.js';
import type { WindowResult } from '../core/types.js';
import { describe, ErrorCode, EventStoreError, ensureInteger, invalidArg } from '../errors.js';
import { resolveSnapshotOptions } from '../snapshots/options.js';
import { restoreConfigured, Snapshotter } from '../snapshots/snapshotter.js';
import type { SnapshotOptions, SnapshotSerializer, SnapshotStore } from '../snapshots/types.js';
import { BatchWriter } from './batch-writer.js';
import { ColumnarPartition } from './columnar-partition.js';
import type { ColumnarRow, ColumnSchema, ColumnSpec, KeyColumnOf, NumericColumnOf } from './columns.js';
import { type ColumnarStoreHandle, createHandle, type OpenedHandle, openHandle } from './handle.js';
import { KeyDictionary } from './key-dictionary.js';
import { claimSize, H_RR_SEED } from './layout.js';
import { type ColumnarEventStoreOptions, resolveColumnarOptions } from './options.js';
import { type ColumnarPartitionImage, PartitionImages } from './partition-image.js';
import type { Acc, GroupAcc } from './query/accumulators.js';
import { fold } from './query/fold.js';
import { type ColumnarTopEntry, group, groupResults, topEntries } from './query/group.js';
import {
  type ColumnarQueryOptions,
  keyColumnIndex,
  numericColumnIndex,
  type QuerySchema,
  resolveQuery,
} from './query/query-options.js';
import { type ColumnarSnapshot, snapshotColumns, snapshotRows } from './query/snapshot-columns.js';
import { RowStager } from './row-stager.js';
import type { Sequencer } from './sequencer.js';
import { type Noise, TEST_HOOKS } from './test-hooks.js';

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

/** What a test installs on one instance under {@link TEST_HOOKS}. */
export interface ColumnarTestHooks {
  /** Delays (or a simulated crash) at the protocol's noise points, for writers and readers. */
  noise?: Noise | undefined;
  /** The write half to use instead of a plain {@link BatchWriter}: a deliberately broken variant. */
  writer?: BatchWriter | undefined;
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
  readonly #schema: QuerySchema;
  readonly #parts: ColumnarPartition<S>[];
  readonly #keys: KeyDictionary;
  readonly #stats: ColumnarStatistics;
  readonly #capacity: number;
  readonly #partitionKeyCol: number;
  #roundRobin: number;
  #hooks: ColumnarTestHooks | undefined;
  /** A test's reader delays (see ColumnarTestHooks); `undefined` in production. */
  #noise: Noise | undefined;
  #writer = new BatchWriter();
  readonly #stager: RowStager;
  // Snapshots (thread-local to the thread that configured them).
  #snapshotter: Snapshotter<ColumnarPartitionImage> | undefined;

  private constructor(handle: ColumnarStoreHandle<S>, opened: OpenedHandle) {
    this.#handle = handle;
    this.#specs = opened.specs;
    const byName = new Map(this.#specs.map((s) => [s.name, s]));
    this.#partitionKeyCol =
      handle.partitionKey === null ? -1 : (byName.get(handle.partitionKey)?.index ?? -1);
    const { control: ctl, stride } = opened;
    this.#parts = opened.partitions.map(
      (layout, p) =>
        new ColumnarPartition<S>(p, ctl, stride, handle.rows, layout, this.#specs, handle.abortTimeoutMs),
    );
    this.#capacity = handle.capacities.reduce((a, b) => a + b, 0);
    this.#keys = KeyDictionary.attach(handle.keys, handle.abortTimeoutMs);
    this.#schema = {
      byName,
      keys: this.#keys,
      enableWindowTracking: handle.enableWindowTracking,
      partitions: this.#parts.length,
    };
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

  /**
   * Writes staged rows [0, n) to `partition`; else grouped by the partition key's hash (stable within
   * a partition); else round-robin, one claim-sized run per partition. Returns how many were written.
   */
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
    return this.#fold(numericColumnIndex(this.#schema, column), q, false).sum;
  }

  /** Average of `column` over the rows matching `q`; `undefined` when none match. */
  average(column: NumericColumnOf<S>, q?: ColumnarQueryOptions<S>): number | undefined {
    const a = this.#fold(numericColumnIndex(this.#schema, column), q, false);
    return a.count === 0 ? undefined : a.sum / a.count;
  }

  /** Smallest value of `column` over the rows matching `q`; `undefined` when none match. */
  min(column: NumericColumnOf<S>, q?: ColumnarQueryOptions<S>): number | undefined {
    const a = this.#fold(numericColumnIndex(this.#schema, column), q);
    return a.count === 0 ? undefined : a.min;
  }

  /** Largest value of `column` over the rows matching `q`; `undefined` when none match. */
  max(column: NumericColumnOf<S>, q?: ColumnarQueryOptions<S>): number | undefined {
    const a = this.#fold(numericColumnIndex(this.#schema, column), q);
    return a.count === 0 ? undefined : a.max;
  }

  /** Count, sum, min, max and average of `column` over the rows matching `q`, in one pass. */
  window(column: NumericColumnOf<S>, q?: ColumnarQueryOptions<S>): WindowResult {
    const a = this.#fold(numericColumnIndex(this.#schema, column), q);
    if (a.count === 0) return { count: 0, sum: 0, min: undefined, max: undefined, average: undefined };
    return { count: a.count, sum: a.sum, min: a.min, max: a.max, average: a.sum / a.count };
  }

  /** Aggregates of `valueColumn` per key of `keyColumn` over the rows matching `q`. */
  groupBy(
    keyColumn: KeyColumnOf<S>,
    valueColumn: NumericColumnOf<S>,
    q?: ColumnarQueryOptions<S>,
  ): Map<string, GroupResult> {
    return groupResults(this.#group(keyColumn, valueColumn, q), this.#keys);
  }

  /** The `k` keys of `keyColumn` with the largest sum of `valueColumn`, by sum descending (ties: key order). */
  topK(
    keyColumn: KeyColumnOf<S>,
    valueColumn: NumericColumnOf<S>,
    k: number,
    q?: ColumnarQueryOptions<S>,
  ): ColumnarTopEntry[] {
    ensureInteger('k', k, 0);
    return topEntries(this.#group(keyColumn, valueColumn, q), k, this.#keys);
  }

  /** A copy of every held row as objects: oldest→newest within each partition, partitions in order. */
  snapshot(): ColumnarRow<S>[] {
    return snapshotRows(this.snapshotColumns(), this.#specs, this.#keys);
  }

  /** A copy of every held row as columns (key columns hold ids), in `snapshot()` order. */
  snapshotColumns(q?: ColumnarQueryOptions<S>): ColumnarSnapshot<S> {
    return snapshotColumns(this.#parts, resolveQuery(q, this.#schema), this.#specs, this.#noise);
  }

  /** `minMax: false` (sum, average, count) lets the kernel skip min/max. */
  #fold(column: number, q: ColumnarQueryOptions<S> | undefined, minMax = true): Acc {
    return fold(this.#parts, resolveQuery(q, this.#schema), column, minMax, this.#noise);
  }

  /** The groups of `valueColumn` by `keyColumn` (checked in that order, then the query options). */
  #group(keyColumn: string, valueColumn: string, q: ColumnarQueryOptions<S> | undefined): GroupAcc {
    const kc = keyColumnIndex(this.#schema, keyColumn);
    const vc = numericColumnIndex(this.#schema, valueColumn);
    const r = resolveQuery(q, this.#schema);
    return group(this.#parts, r, kc, vc, this.#keys.size, this.#noise);
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
    const target = new PartitionImages(this.#specs, this.#keys).target(
      this.#parts,
      () => this.#stats.totalAppended,
      () => this.#noise,
    );
    this.#snapshotter = new Snapshotter(target, options, serializer, snapshotStore);
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
