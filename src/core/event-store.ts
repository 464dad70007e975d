// EventStore<T>: the in-process store. Fixed capacity split over partitions, each a ring; appends
// route by a stable key hash or round-robin; queries fold over the rings in place.
// Concurrency contract: one JavaScript thread owns the store. An append or query is one synchronous
// step (no locks, no awaits), so every query sees exactly the appends that returned before it.
// For many threads at once, see ColumnarEventStore.

import {
  describe,
  ErrorCode,
  EventStoreError,
  ensureFunction,
  ensureInteger,
  ensureTime,
  invalidArg,
} from '../errors.js';
import { type JournalHook, restoreConfigured, Snapshotter } from '../snapshots/snapshotter.js';
import type { SnapshotOptions, SnapshotSerializer, SnapshotStore } from '../snapshots/types.js';
import { countIn, foldIn, visitIn } from './aggregations.js';
import { resolveOptions } from './options.js';
import { Partition } from './partition.js';
import { hashNumber, hashString } from './partitioner.js';
import { type ResolvedQuery, resolveQuery } from './query.js';
import { type GroupResult, Totals, toWindowResult } from './results.js';
import { snapshotTarget } from './snapshot-target.js';
import { EventStoreStatistics } from './statistics.js';
import type { EventStoreOptions, PurgeOptions, QueryOptions, TimeInput, WindowResult } from './types.js';
import { WindowBuckets } from './window-buckets.js';

/** Result of {@link EventStore.readVersions}. */
export interface VersionedRead<T> {
  /** Held events with versions in the requested range, oldest first. */
  events: T[];
  /** Oldest version the partition holds (its current version when it is empty). */
  firstVersion: number;
  /** Version after the last returned event: the `fromVersion` of the next page. */
  nextVersion: number;
}

/**
 * An in-memory, fixed-capacity, partitioned event store with functional aggregations.
 *
 * ```ts
 * const store = new EventStore<Order>({ capacity: 100_000, timestampSelector: (o) => o.timestamp });
 * store.tryAppend(order);
 * const total = store.sum((o) => o.valor, { from: Date.now() - 600_000 });
 * ```
 */
export class EventStore<T> implements Iterable<T> {
  readonly #parts: Partition<T>[];
  readonly #capacity: number;
  readonly #partitionKey: ((event: T) => string | number) | undefined;
  readonly #reject: boolean;
  /** `overwrite` with no `onEventDiscarded`: an eviction runs no user code. */
  readonly #quietOverwrite: boolean;
  readonly #onDiscarded: ((event: T) => void) | undefined;
  readonly #onCapacityReached: (() => void) | undefined;
  readonly #timestampOf: ((event: T) => TimeInput) | undefined;
  readonly #tracking: boolean;
  /** Times are computed and stored per event (a selector is set and tracking is on). */
  readonly #timeTracked: boolean;
  /**
   * No time tracking, no window, no partition key, no journal: an append computes nothing before
   * routing. Cleared when a journal is installed.
   */
  #untimedRoundRobin: boolean;
  readonly #windowValue: ((event: T) => number) | undefined;
  readonly #stats = new EventStoreStatistics();
  #roundRobin = 0;
  #capacityReached = false;
  #pendingError: unknown = undefined;
  #hasPendingError = false;
  // Reused per batch: times, values and partitions computed before anything is appended.
  #batchTimes = new Float64Array(0);
  #batchValues = new Float64Array(0);
  #batchPartitions = new Int32Array(0);
  /** A batch is using the buffers above; a nested batch (appended from a callback) gets its own. */
  #batchBusy = false;
  /** Set by the snapshotter when the delta journal is on: every change is recorded. */
  #journal: JournalHook<T> | undefined;
  #snapshotter: Snapshotter<T> | undefined;

  constructor(options?: EventStoreOptions<T>) {
    const o = resolveOptions(options);
    this.#capacity = o.capacity;
    this.#partitionKey = o.partitionKey;
    this.#reject = o.overflow === 'reject';
    this.#quietOverwrite = !this.#reject && o.onEventDiscarded === undefined;
    this.#onDiscarded = o.onEventDiscarded;
    this.#onCapacityReached = o.onCapacityReached;
    this.#timestampOf = o.timestampOf;
    this.#tracking = o.enableWindowTracking;
    this.#timeTracked = o.timestampOf !== undefined && o.enableWindowTracking;
    this.#untimedRoundRobin = !this.#timeTracked && o.window === undefined && o.partitionKey === undefined;
    this.#windowValue = o.window?.value;
    const w = o.window;
    this.#parts = o.partitionCapacities.map(
      (cap) =>
        new Partition<T>(
          cap,
          this.#timeTracked,
          w === undefined ? undefined : new WindowBuckets(w.sizeMs, w.bucketCount),
        ),
    );
  }

  /** Events held now. */
  get size(): number {
    let n = 0;
    for (const p of this.#parts) n += p.size;
    return n;
  }

  /** Total events the store can hold (sum of the partitions' slots). */
  get capacity(): number {
    return this.#capacity;
  }

  /** Whether the store holds no event. */
  get isEmpty(): boolean {
    return this.size === 0;
  }

  /** Whether the store holds `capacity` events. */
  get isFull(): boolean {
    return this.size === this.#capacity;
  }

  /** Number of partitions. */
  get partitions(): number {
    return this.#parts.length;
  }

  /** Lifetime counters and the recent append rate. */
  get statistics(): EventStoreStatistics {
    return this.#stats;
  }

  /**
   * Appends one event, to `partition` if given, else to the partition of its key (or round-robin).
   * Returns `false` only when the partition is full and `overflow` is `'reject'`.
   */
  tryAppend(event: T, partition?: number): boolean {
    if (event === undefined) throw invalidArg('`event` must not be undefined');
    if (this.#untimedRoundRobin && partition === undefined) return this.#appendRoundRobin(event);
    const t = this.#timeTracked ? this.#timeOf(event) : 0;
    const v = this.#windowValue !== undefined ? this.#valueOf(event) : 0;
    const p = partition === undefined ? this.#route(event) : this.#checkPartition(partition);
    const journal = this.#journal;
    const encoded = journal?.encode(event);
    const part = this.#parts[p]!;
    const ok = this.#appendTo(part, event, t, v);
    if (ok) {
      if (journal !== undefined) journal.appended(p, part.tail - 1, encoded!);
      this.#stats.recordAppends(1);
    }
    if (this.#hasPendingError) this.#throwPending();
    return ok;
  }

  /**
   * Appends events in order (to `partition` if given) and returns how many were appended. Every event
   * is validated before any is appended. With `overflow: 'reject'` the batch stops at the first event
   * that does not fit: the return value `n` means `events[0..n)` were appended and the rest were not.
   */
  tryAppendBatch(events: readonly T[], partition?: number): number {
    if (!Array.isArray(events)) throw invalidArg(`\`events\` must be an array, received ${describe(events)}`);
    const n = events.length;
    if (partition !== undefined) this.#checkPartition(partition);
    if (n === 0) return 0;
    const journal = this.#journal;
    if (
      !this.#timeTracked &&
      this.#windowValue === undefined &&
      this.#partitionKey === undefined &&
      journal === undefined
    ) {
      return this.#appendBatchUnkeyed(events, n, partition);
    }
    const encoded: Uint8Array[] | undefined = journal === undefined ? undefined : new Array(n);
    const nested = this.#batchBusy;
    if (!nested && this.#batchTimes.length < n) {
      const size = 2 ** Math.ceil(Math.log2(n));
      this.#batchTimes = new Float64Array(size);
      this.#batchValues = new Float64Array(size);
      this.#batchPartitions = new Int32Array(size);
    }
    const times = nested ? new Float64Array(n) : this.#batchTimes;
    const values = nested ? new Float64Array(n) : this.#batchValues;
    const parts = nested ? new Int32Array(n) : this.#batchPartitions;
    const roundRobin = this.#roundRobin;
    this.#batchBusy = true;
    try {
      for (let i = 0; i < n; i++) {
        const e = events[i] as T;
        if (e === undefined) throw invalidArg(`\`events[${i}]\` must not be undefined`);
        times[i] = this.#timeTracked ? this.#timeOf(e) : 0;
        values[i] = this.#windowValue !== undefined ? this.#valueOf(e) : 0;
        parts[i] = partition === undefined ? this.#route(e) : partition;
        if (encoded !== undefined) encoded[i] = journal!.encode(e);
      }
    } catch (err) {
      this.#roundRobin = roundRobin;
      this.#batchBusy = nested;
      throw err;
    }
    let appended = 0;
    for (let i = 0; i < n; i++) {
      const part = this.#parts[parts[i]!]!;
      if (!this.#appendTo(part, events[i] as T, times[i]!, values[i]!)) {
        // Rejected: the events after this one were never attempted, so round-robin resumes exactly as
        // after the same events appended one by one (the refused event used its turn; the rest use none).
        if (partition === undefined && this.#partitionKey === undefined) {
          this.#roundRobin = (roundRobin + i + 1) % this.#parts.length;
        }
        break;
      }
      if (encoded !== undefined) journal!.appended(parts[i]!, part.tail - 1, encoded[i]!);
      appended++;
    }
    this.#batchBusy = nested;
    if (appended > 0) this.#stats.recordAppends(appended);
    if (this.#hasPendingError) this.#throwPending();
    return appended;
  }

  /** Number of events matching `q`. */
  count(q?: QueryOptions<T>): number {
    const r = this.#resolve(q);
    if (!r.timed && r.filter === undefined) {
      let n = 0;
      for (let p = r.firstPartition; p < r.endPartition; p++) n += this.#parts[p]!.size;
      return n;
    }
    let n = 0;
    const useBuckets = this.#windowValue !== undefined;
    for (let p = r.firstPartition; p < r.endPartition; p++) n += countIn(this.#parts[p]!, r, useBuckets);
    return n;
  }

  /**
   * Sum over the events matching `q`; 0 when none match. Without a selector it sums `window.value`
   * (the store needs the `window` option) and takes the window-bucket path; with a selector it
   * takes that path only when the selector is the very function given as `window.value`.
   *
   * ```ts
   * store.sum({ from: Date.now() - 60_000 });            // window.value, from the buckets
   * store.sum((o) => o.valor, { from: Date.now() - 60_000 }); // any selector, by a scan
   * ```
   */
  sum(q?: QueryOptions<T>): number;
  /** Sum of `selector` over the events matching `q`; 0 when none match. */
  sum(selector: (event: T) => number, q?: QueryOptions<T>): number;
  sum(selectorOrQuery?: ((event: T) => number) | QueryOptions<T>, q?: QueryOptions<T>): number {
    return this.#fold('sum', selectorOrQuery, q).sum;
  }

  /**
   * Average over the events matching `q`; `undefined` when none match. Without a selector it
   * averages `window.value` over the window buckets (see {@link EventStore.sum}).
   */
  average(q?: QueryOptions<T>): number | undefined;
  /** Average of `selector` over the events matching `q`; `undefined` when none match. */
  average(selector: (event: T) => number, q?: QueryOptions<T>): number | undefined;
  average(
    selectorOrQuery?: ((event: T) => number) | QueryOptions<T>,
    q?: QueryOptions<T>,
  ): number | undefined {
    const t = this.#fold('average', selectorOrQuery, q);
    return t.count === 0 ? undefined : t.sum / t.count;
  }

  /**
   * Smallest value over the events matching `q`; `undefined` when none match. Without a selector it
   * is the smallest `window.value`, from the window buckets (see {@link EventStore.sum}).
   */
  min(q?: QueryOptions<T>): number | undefined;
  /** Smallest `selector` value over the events matching `q`; `undefined` when none match. */
  min(selector: (event: T) => number, q?: QueryOptions<T>): number | undefined;
  min(selectorOrQuery?: ((event: T) => number) | QueryOptions<T>, q?: QueryOptions<T>): number | undefined {
    const t = this.#fold('min', selectorOrQuery, q);
    return t.count === 0 ? undefined : t.min;
  }

  /**
   * Largest value over the events matching `q`; `undefined` when none match. Without a selector it
   * is the largest `window.value`, from the window buckets (see {@link EventStore.sum}).
   */
  max(q?: QueryOptions<T>): number | undefined;
  /** Largest `selector` value over the events matching `q`; `undefined` when none match. */
  max(selector: (event: T) => number, q?: QueryOptions<T>): number | undefined;
  max(selectorOrQuery?: ((event: T) => number) | QueryOptions<T>, q?: QueryOptions<T>): number | undefined {
    const t = this.#fold('max', selectorOrQuery, q);
    return t.count === 0 ? undefined : t.max;
  }

  /**
   * Count, sum, min, max and average over the events matching `q`, in one pass. Without a selector it
   * aggregates `window.value` over the window buckets, in O(buckets) plus the partial buckets at the
   * range's edges (see {@link EventStore.sum}).
   *
   * ```ts
   * const store = new EventStore<Order>({
   *   timestampSelector: (o) => o.timestamp,
   *   window: { sizeMs: 600_000, value: (o) => o.valor },
   * });
   * store.window({ from: Date.now() - 600_000 }); // { count, sum, min, max, average } of o.valor
   * ```
   */
  window(q?: QueryOptions<T>): WindowResult;
  /** Count, sum, min, max and average of `selector` over the events matching `q`, in one pass. */
  window(selector: (event: T) => number, q?: QueryOptions<T>): WindowResult;
  window(selectorOrQuery?: ((event: T) => number) | QueryOptions<T>, q?: QueryOptions<T>): WindowResult {
    return toWindowResult(this.#fold('window', selectorOrQuery, q));
  }

  /**
   * Folds the events matching `q`, oldest first within each partition, partitions in index order.
   * `seed` is called once for the initial accumulator.
   */
  aggregate<A>(seed: () => A, fold: (acc: A, event: T) => A, q?: QueryOptions<T>): A {
    ensureFunction('seed', seed);
    ensureFunction('fold', fold);
    const r = this.#resolve(q);
    let acc = seed();
    const visit = (e: T): void => {
      acc = fold(acc, e);
    };
    for (let p = r.firstPartition; p < r.endPartition; p++) visitIn(this.#parts[p]!, r, visit);
    return acc;
  }

  /** Aggregates of `valueSelector` per key of `keySelector` over the events matching `q`. */
  groupBy<K>(
    keySelector: (event: T) => K,
    valueSelector: (event: T) => number,
    q?: QueryOptions<T>,
  ): Map<K, GroupResult> {
    ensureFunction('keySelector', keySelector);
    ensureFunction('valueSelector', valueSelector);
    const r = this.#resolve(q);
    const groups = new Map<K, GroupResult>();
    const visit = (e: T): void => {
      const key = keySelector(e);
      const v = valueSelector(e);
      const g = groups.get(key);
      if (g === undefined) {
        groups.set(key, { count: 1, sum: v, min: v, max: v, average: 0 });
        return;
      }
      g.count++;
      g.sum += v;
      if (v < g.min) g.min = v;
      if (v > g.max) g.max = v;
    };
    for (let p = r.firstPartition; p < r.endPartition; p++) visitIn(this.#parts[p]!, r, visit);
    for (const g of groups.values()) g.average = g.sum / g.count;
    return groups;
  }

  /** The events matching `q`: oldest→newest within each partition, partitions in index order. */
  query(q?: QueryOptions<T>): T[] {
    const r = this.#resolve(q);
    const out: T[] = [];
    const visit = (e: T): void => {
      out.push(e);
    };
    for (let p = r.firstPartition; p < r.endPartition; p++) visitIn(this.#parts[p]!, r, visit);
    return out;
  }

  /**
   * Positional read of one partition: the held events whose version (the partition's append sequence,
   * 0 for its first event ever) is in `[fromVersion, fromVersion + limit)`, oldest first.
   * `firstVersion` is the oldest version the partition still holds (its version when empty), so
   * `fromVersion < firstVersion` means events were evicted (or cleared); `nextVersion` is the version
   * after the last returned event (`max(fromVersion, firstVersion)` capped at the partition's version
   * when nothing is returned): pass it as the next `fromVersion` to page on. Versions of held events are
   * exact unless `purge` removed events out of time order (it then compacts the ring and the held
   * events take the versions just below the partition's version). O(returned events).
   */
  readVersions(partition: number, fromVersion: number, limit: number): VersionedRead<T> {
    const part = this.#parts[this.#checkPartition(partition)]!;
    ensureInteger('fromVersion', fromVersion, 0);
    ensureInteger('limit', limit, 0);
    const first = part.head;
    const start = Math.min(Math.max(fromVersion, first), part.tail);
    const end = Math.min(part.tail, start + limit);
    const events = new Array<T>(end - start);
    for (let seq = start; seq < end; seq++) events[seq - start] = part.items[part.slotAt(seq - first)] as T;
    return { events, firstVersion: first, nextVersion: end };
  }

  /** A copy of every held event: oldest→newest within each partition, partitions in index order. */
  snapshot(): T[] {
    const out: T[] = new Array<T>(this.size);
    let j = 0;
    for (const part of this.#parts) {
      for (let pos = 0, n = part.size; pos < n; pos++) out[j++] = part.items[part.slotAt(pos)] as T;
    }
    return out;
  }

  /**
   * Iterates the held events in `snapshot()` order, live: events evicted during the iteration are
   * skipped, events appended to a partition after the iteration reached it are not visited.
   */
  *[Symbol.iterator](): Iterator<T> {
    for (const part of this.#parts) {
      const end = part.tail;
      for (let seq = part.head; seq < end; seq++) {
        if (seq < part.head) seq = part.head; // evicted meanwhile
        if (seq >= end) break;
        const slot = part.slotAt(seq - part.head);
        yield part.items[slot] as T;
      }
    }
  }

  /** Removes every event. Versions and lifetime statistics continue; `onCapacityReached` re-arms. */
  clear(): void {
    const changed: number[] = [];
    this.#parts.forEach((part, p) => {
      if (part.size > 0) changed.push(p);
      part.clear();
    });
    this.#capacityReached = false;
    this.#journal?.cleared(
      this.#parts.map((part) => part.tail),
      changed,
    );
  }

  /** Alias of {@link clear}. */
  reset(): void {
    this.clear();
  }

  /**
   * Removes the events strictly older than `olderThan`, keeping order, partitions and all later
   * events. Needs a `timestampSelector`. Returns the number removed. Not reported as discards.
   */
  purge(options: PurgeOptions): number {
    if (typeof options !== 'object' || options === null) {
      throw invalidArg(`\`options\` must be an object { olderThan }, received ${describe(options)}`);
    }
    if (this.#timestampOf === undefined) {
      throw new EventStoreError(ErrorCode.TIMESTAMP_SELECTOR_REQUIRED, '`purge` needs a `timestampSelector`');
    }
    const cutoff = ensureTime('olderThan', options.olderThan);
    const timeOf = (e: T): number => this.#timeOf(e);
    if (!this.#timeTracked) {
      // No time column: check every event's time first, so a bad one throws before anything is removed.
      for (const part of this.#parts)
        for (let pos = 0; pos < part.size; pos++) timeOf(part.items[part.slotAt(pos)] as T);
    }
    let removed = 0;
    const changed: number[] = [];
    this.#parts.forEach((part, p) => {
      const n = part.purgeOlderThan(cutoff, timeOf);
      if (n > 0) changed.push(p);
      removed += n;
    });
    this.#journal?.purged(
      cutoff,
      this.#parts.map((part) => part.tail),
      changed,
    );
    return removed;
  }

  /**
   * Configures crash-safe snapshots (and optionally the delta journal) of this store. Call once;
   * then `restoreFromSnapshots()` before the first append, and `start()` the returned snapshotter.
   * See docs/snapshots.md.
   */
  configureSnapshots(
    options: SnapshotOptions,
    serializer: SnapshotSerializer<T>,
    snapshotStore: SnapshotStore,
  ): Snapshotter<T> {
    if (this.#snapshotter !== undefined) {
      throw new EventStoreError(ErrorCode.INVALID_STATE, 'snapshots are already configured for this store');
    }
    const target = snapshotTarget(this.#parts, {
      timeOf: (e) => (this.#timeTracked ? this.#timeOf(e) : 0),
      windowValueOf: (e) => (this.#windowValue !== undefined ? this.#valueOf(e) : 0),
      totalAppended: () => this.#stats.totalAppended,
      setJournalHook: (hook) => {
        this.#journal = hook;
        this.#untimedRoundRobin = false;
      },
    });
    this.#snapshotter = new Snapshotter<T>(target, options, serializer, snapshotStore);
    return this.#snapshotter;
  }

  /**
   * Restores every partition from its newest valid snapshot, then replays the journal. Must run before
   * the first append. Resolves with the number of partitions restored from a snapshot.
   */
  restoreFromSnapshots(): Promise<number> {
    return restoreConfigured(this.#snapshotter);
  }

  /**
   * `tryAppendBatch` when no selector runs (no time tracking, no window, no partition key): nothing
   * to compute ahead, so the events go straight in, with the same validation and round-robin result.
   */
  #appendBatchUnkeyed(events: readonly T[], n: number, partition: number | undefined): number {
    for (let i = 0; i < n; i++) {
      if (events[i] === undefined) throw invalidArg(`\`events[${i}]\` must not be undefined`);
    }
    const parts = this.#parts;
    const count = parts.length;
    const roundRobin = this.#roundRobin;
    if (partition === undefined) this.#roundRobin = (roundRobin + n) % count;
    if (this.#quietOverwrite && (this.#capacityReached || this.#onCapacityReached === undefined)) {
      // No user code can run before the batch is done, so each partition takes its share in one
      // pass: partition (roundRobin + k) % count gets events k, k + count, k + 2·count, …
      let discarded = 0;
      if (partition !== undefined) discarded = parts[partition]!.pushStrided(events, 0, 1, n);
      else {
        for (let k = 0; k < count && k < n; k++) {
          const share = Math.floor((n - 1 - k) / count) + 1;
          discarded += parts[(roundRobin + k) % count]!.pushStrided(events, k, count, share);
        }
      }
      if (discarded > 0) {
        this.#stats.totalDiscarded += discarded;
        this.#reachCapacity();
      }
      this.#stats.recordAppends(n);
      return n;
    }
    let p = partition ?? roundRobin;
    let appended = 0;
    for (let i = 0; i < n; i++) {
      if (!this.#appendTo(parts[p]!, events[i] as T, 0, 0)) {
        // Rejected: as in tryAppendBatch, the refused event used its turn and the rest use none.
        if (partition === undefined) this.#roundRobin = (roundRobin + i + 1) % count;
        break;
      }
      appended++;
      if (partition === undefined) p = p + 1 === count ? 0 : p + 1;
    }
    if (appended > 0) this.#stats.recordAppends(appended);
    if (this.#hasPendingError) this.#throwPending();
    return appended;
  }

  /**
   * `tryAppend` of a store that computes nothing per event (see `#untimedRoundRobin`), kept apart
   * so that V8 compiles this common path on its own, whatever other store configurations exist.
   */
  #appendRoundRobin(event: T): boolean {
    const p = this.#roundRobin;
    this.#roundRobin = p + 1 === this.#parts.length ? 0 : p + 1;
    const part = this.#parts[p]!;
    let ok = true;
    if (part.tail - part.head !== part.capacity) part.pushUntimed(event);
    else if (this.#quietOverwrite && this.#capacityReached) {
      part.overwriteOldestUntimed(event);
      this.#stats.totalDiscarded++;
    } else ok = this.#appendToFull(part, event, 0, 0);
    if (ok) this.#stats.recordAppends(1);
    if (this.#hasPendingError) this.#throwPending();
    return ok;
  }

  #appendTo(part: Partition<T>, event: T, t: number, v: number): boolean {
    if (part.tail - part.head !== part.capacity) {
      part.push(event, t, v);
      return true;
    }
    return this.#appendToFull(part, event, t, v);
  }

  #appendToFull(part: Partition<T>, event: T, t: number, v: number): boolean {
    if (this.#reject) {
      this.#stats.totalRejected++;
      this.#reachCapacity();
      return false;
    }
    const evicted = part.overwriteOldest(event, t, v);
    this.#stats.totalDiscarded++;
    if (!this.#capacityReached) this.#reachCapacity();
    if (this.#onDiscarded !== undefined) {
      try {
        this.#onDiscarded(evicted);
      } catch (err) {
        this.#fail(err);
      }
    }
    return true;
  }

  #reachCapacity(): void {
    if (this.#capacityReached) return;
    this.#capacityReached = true;
    if (this.#onCapacityReached !== undefined) {
      try {
        this.#onCapacityReached();
      } catch (err) {
        this.#fail(err);
      }
    }
  }

  #fail(err: unknown): void {
    if (this.#hasPendingError) return;
    this.#hasPendingError = true;
    this.#pendingError = err;
  }

  #throwPending(): never {
    const cause = this.#pendingError;
    this.#hasPendingError = false;
    this.#pendingError = undefined;
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new EventStoreError(
      ErrorCode.CALLBACK_FAILED,
      `a store callback threw (the append completed): ${detail}`,
      { cause },
    );
  }

  #route(event: T): number {
    const keyOf = this.#partitionKey;
    if (keyOf === undefined) {
      const p = this.#roundRobin;
      this.#roundRobin = p + 1 === this.#parts.length ? 0 : p + 1;
      return p;
    }
    const key = keyOf(event);
    if (typeof key === 'string') return hashString(key) % this.#parts.length;
    if (typeof key === 'number') return hashNumber(key) % this.#parts.length;
    throw invalidArg(`\`partitionKey\` must return a string or a number, received ${describe(key)}`);
  }

  #resolve(q: QueryOptions<T> | undefined): ResolvedQuery<T> {
    return resolveQuery(q, this.#parts.length, this.#tracking, this.#timestampOf !== undefined);
  }

  #checkPartition(partition: number): number {
    return ensureInteger('partition', partition, 0, this.#parts.length - 1);
  }

  #timeOf(event: T): number {
    const raw = this.#timestampOf!(event);
    const t = typeof raw === 'number' ? raw : raw instanceof Date ? raw.getTime() : Number.NaN;
    if (t - t !== 0) {
      throw new EventStoreError(
        ErrorCode.INVALID_TIMESTAMP,
        `\`timestampSelector\` must return a finite epoch-millisecond number or a valid Date, received ${describe(raw)}`,
      );
    }
    return t;
  }

  #valueOf(event: T): number {
    const v = this.#windowValue!(event);
    if (typeof v !== 'number' || v - v !== 0) {
      throw new EventStoreError(
        ErrorCode.INVALID_VALUE,
        `\`window.value\` must return a finite number, received ${describe(v)}`,
      );
    }
    return v;
  }

  /**
   * Folds a selector, or `window.value` when the first argument is query options (or absent).
   * Reading the stored value column, and the buckets without a filter, needs `window.value` itself:
   * another function computing the same numbers is indistinguishable from any other selector.
   */
  #fold(method: string, selectorOrQuery: unknown, q: QueryOptions<T> | undefined): Totals {
    let selector: (event: T) => number;
    let query = q;
    if (typeof selectorOrQuery === 'function') {
      selector = selectorOrQuery as (event: T) => number;
    } else if (q === undefined && (selectorOrQuery === undefined || isObject(selectorOrQuery))) {
      if (this.#windowValue === undefined) {
        throw invalidArg(
          `\`${method}()\` without a \`selector\` aggregates \`window.value\`, but this store has no \`window\` option: ` +
            `pass a selector, e.g. \`${method}((e) => e.value, q)\`, or configure \`window: { sizeMs, value }\``,
        );
      }
      selector = this.#windowValue;
      query = selectorOrQuery as QueryOptions<T> | undefined;
    } else {
      throw invalidArg(
        `\`selector\` must be a function (or omitted, with query options first), received ${describe(selectorOrQuery)}`,
      );
    }
    const r = this.#resolve(query);
    const useValues = selector === this.#windowValue;
    const totals = new Totals();
    for (let p = r.firstPartition; p < r.endPartition; p++)
      foldIn(this.#parts[p]!, r, selector, useValues, totals);
    return totals;
  }
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
