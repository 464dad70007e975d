// The Snapshotter: decides when to snapshot, captures changed partitions, saves them with retries in
// a bounded number of concurrent jobs, prunes, and keeps the journal; restore at boot is restore.ts.
// Concurrency contract: it runs on the store's thread. A capture is one synchronous step (a copy of the
// partition's event references and version), so it is an exact prefix of the partition's history up to
// its version; serialization and I/O happen afterwards, asynchronously, so appends are never blocked by a
// save (they share the thread only with the ~4 ms encode slices).

import { type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { ErrorCode, EventStoreError, hasErrorCode, invalidArg } from '../errors.js';
import { backoffDelayMs } from './backoff.js';
import { encodeAppendRecord, encodeClearRecord, encodePurgeRecord } from './journal-format.js';
import { Journal } from './journal-writer.js';
import { type ResolvedSnapshotOptions, resolveSnapshotOptions } from './options.js';
import { Restorer, type RestoreTarget } from './restore.js';
import type {
  PartitionSnapshotMetrics,
  PartitionState,
  SnapshotMetadata,
  SnapshotOptions,
  SnapshotSerializer,
  SnapshotStore,
  SnapshotterMetrics,
} from './types.js';

/**
 * What a store exposes to its snapshotter: what restore works through, plus capture and the journal
 * hook. Implemented by EventStore, ColumnarEventStore and the server's registry; not a public API.
 */
export interface SnapshotTarget<T> extends RestoreTarget<T> {
  /** Changes (appends, clears, purges) of a partition since creation or restore. */
  mutations(partition: number): number;
  totalAppended(): number;
  /** Nothing appended, restored or replayed yet. */
  isPristine(): boolean;
  capture(partition: number): { version: number; events: T[] };
  setJournalHook(hook: JournalHook<T> | undefined): void;
}

/** Called by the store on every change when the journal is on. `encode` runs before the change. */
export interface JournalHook<T> {
  /** Name of the codec `encode` uses (`'json'`, `'v8'`): a store may build the same bytes itself. */
  readonly codecName: string;
  encode(event: T): Uint8Array;
  appended(partition: number, sequence: number, encoded: Uint8Array): void;
  /** `changed`: the partitions the clear/purge actually changed. */
  cleared(tails: readonly number[], changed: readonly number[]): void;
  purged(olderThan: number, tails: readonly number[], changed: readonly number[]): void;
}

interface Job<T> {
  state: PartitionState<T>;
  mutations: number;
  round: number;
}

interface PartitionBook {
  lastVersion: number;
  lastSnapshotAt: Date | undefined;
  successes: number;
  failures: number;
  lastSaveAttempts: number;
  /** Capture time of the oldest failed save not followed by a successful one (undefined: not failing). */
  failingSinceMs: number | undefined;
  /** `mutations()` value captured by the last saved snapshot. */
  savedMutations: number;
  /** Capture round of the last saved snapshot (journal segments closed before it are covered). */
  savedRound: number;
  /** Size of the last saved snapshot file (0: none saved by this process). */
  savedBytes: number;
  busy: boolean;
}

const TRIGGER_CHECK_MS = 250;

/**
 * A store's `restoreFromSnapshots()`: restores through its snapshotter, or rejects with
 * ES_ERR_INVALID_STATE when `configureSnapshots()` was not called first.
 */
export function restoreConfigured(snapshotter: Snapshotter<unknown> | undefined): Promise<number> {
  if (snapshotter === undefined) {
    return Promise.reject(
      new EventStoreError(
        ErrorCode.INVALID_STATE,
        'configureSnapshots() must be called before restoreFromSnapshots()',
      ),
    );
  }
  return snapshotter.restore();
}

/** Periodic, crash-safe snapshots (and the delta journal) of one store. */
export class Snapshotter<T> {
  readonly options: Readonly<ResolvedSnapshotOptions>;
  readonly #target: SnapshotTarget<T>;
  readonly #serializer: SnapshotSerializer<T>;
  readonly #store: SnapshotStore;
  readonly #books: PartitionBook[];
  readonly #queue: Job<T>[] = [];
  #running = 0;
  #idleWaiters: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #lastRoundAt = Date.now();
  #appendedAtLastRound = 0;
  /** The journal's `recordedBytes` when the last round started. */
  #journalBytesAtLastRound = 0;
  #round = 0;
  #journal: Journal | undefined;
  /** Segments of an earlier run with no live journal to track them: segment -> touched partitions. */
  readonly #staleSegments = new Map<number, Set<number>>();
  /** Journal segments whose deletion is in flight. */
  readonly #deletingSegments = new Set<number>();
  readonly #restorer: Restorer<T>;
  #restored = false;
  #ready: Promise<void> | undefined;
  #totalFailedJobs = 0;
  /** Files prune quarantined (restore and the read-back of saves count theirs in the restorer). */
  #prunedQuarantined = 0;
  #segmentsDeleted = 0;
  #journalFailures = 0;
  #stopped = false;

  constructor(
    target: SnapshotTarget<T>,
    options: SnapshotOptions,
    serializer: SnapshotSerializer<T>,
    store: SnapshotStore,
  ) {
    this.options = resolveSnapshotOptions(options);
    if (this.options.enabled) {
      if (typeof serializer?.serialize !== 'function' || typeof serializer.deserialize !== 'function') {
        throw invalidArg('`serializer` must implement serialize and deserialize');
      }
      if (typeof store?.save !== 'function' || typeof store.listSnapshots !== 'function') {
        throw invalidArg('`snapshotStore` must implement the SnapshotStore interface');
      }
    }
    this.#target = target;
    this.#serializer = serializer;
    this.#store = store;
    this.#restorer = new Restorer(target, serializer, store, this.options);
    this.#books = Array.from({ length: target.partitions }, () => ({
      lastVersion: -1,
      lastSnapshotAt: undefined,
      successes: 0,
      failures: 0,
      lastSaveAttempts: 0,
      failingSinceMs: undefined,
      savedMutations: 0,
      savedRound: 0,
      savedBytes: 0,
      busy: false,
    }));
    if (this.options.enabled && this.options.journal.enabled) this.#installJournal(1);
  }

  /** Starts the trigger timer (idempotent). */
  start(): void {
    if (!this.options.enabled || this.#timer !== undefined) return;
    this.#stopped = false;
    this.#lastRoundAt = Date.now();
    this.#appendedAtLastRound = this.#target.totalAppended();
    this.#journalBytesAtLastRound = this.#journal?.recordedBytes ?? 0;
    this.#timer = setInterval(
      () => this.#checkTriggers(),
      Math.min(TRIGGER_CHECK_MS, this.options.intervalMs || TRIGGER_CHECK_MS),
    );
    this.#timer.unref();
  }

  /**
   * Stops the timer, waits for running saves, writes a final snapshot of every changed partition
   * (`finalSnapshotOnShutdown`), and flushes and closes the journal.
   */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#stopped) return;
    this.#stopped = true;
    if (!this.options.enabled) return;
    if (this.options.finalSnapshotOnShutdown) await this.snapshotNow();
    else await this.#idle();
    if (this.#journal !== undefined) await this.#journal.close();
  }

  /**
   * Snapshots every changed partition now; resolves with the number saved when the jobs finish. Every
   * change made before the call is covered (if the saves succeed), also in partitions that were busy
   * with an earlier save at the call.
   */
  async snapshotNow(): Promise<number> {
    if (!this.options.enabled) return 0;
    const before = this.#books.reduce((n, b) => n + b.successes, 0);
    // A round skips partitions whose save is still running: that save captured an older state, so
    // those partitions are captured again once it has finished.
    const busyAtCall = this.#books.some((b) => b.busy);
    this.#runRound();
    await this.#idle();
    if (busyAtCall) {
      this.#runRound();
      await this.#idle();
    }
    return this.#books.reduce((n, b) => n + b.successes, 0) - before;
  }

  /**
   * Resolves when every append made before the call is in the journal (written, and fsynced with
   * `syncPolicy: 'always'`): the moment an append is acknowledged. Rejects with ES_ERR_JOURNAL_FAILED.
   */
  flushJournal(): Promise<void> {
    if (this.#journal === undefined) {
      return Promise.reject(new EventStoreError(ErrorCode.INVALID_STATE, 'the journal is not enabled'));
    }
    return this.#journal.flush();
  }

  /**
   * How long snapshots have been failing: the age of the oldest change that a failed save should have
   * persisted and no later save has (0 when every partition's latest save succeeded). Cheap.
   */
  failingForMs(nowMs: number = Date.now()): number {
    let since = Number.POSITIVE_INFINITY;
    for (const b of this.#books)
      if (b.failingSinceMs !== undefined && b.failingSinceMs < since) since = b.failingSinceMs;
    return since === Number.POSITIVE_INFINITY ? 0 : Math.max(0, nowMs - since);
  }

  /** Per-partition and overall metrics. Cheap: no partition is copied. */
  metrics(): SnapshotterMetrics {
    const partitions: PartitionSnapshotMetrics[] = this.#books.map((b, partition) => ({
      partition,
      lastVersion: b.lastVersion,
      lastSnapshotAt: b.lastSnapshotAt,
      successes: b.successes,
      failures: b.failures,
      eventsSinceLastSnapshot: Math.max(0, this.#target.version(partition) - Math.max(0, b.lastVersion)),
      lastSaveAttempts: b.lastSaveAttempts,
      failingSince: b.failingSinceMs === undefined ? undefined : new Date(b.failingSinceMs),
    }));
    return {
      partitions,
      totalFailedJobs: this.#totalFailedJobs,
      quarantinedFiles: this.#restorer.quarantined + this.#prunedQuarantined,
      sweptTemporaryFiles: this.#restorer.swept,
      journalRecordsReplayed: this.#restorer.replayed,
      journalSegmentsDeleted: this.#segmentsDeleted,
      journalFailures: this.#journalFailures,
    };
  }

  /**
   * Restores the newest valid snapshot of every partition, then replays the journal. Returns the number of
   * partitions restored from a snapshot. Must run before the first append.
   */
  async restore(): Promise<number> {
    if (!this.#target.isPristine()) {
      throw new EventStoreError(
        ErrorCode.INVALID_STATE,
        'restoreFromSnapshots() must run before the first append (it replaces the partitions)',
      );
    }
    if (!this.options.enabled) return 0;
    this.#restored = true;
    return this.#restorer.restore({
      restored: (p, state) => {
        const book = this.#books[p]!;
        book.lastVersion = state.version;
        book.lastSnapshotAt = new Date(state.takenAtMs);
        book.savedMutations = this.#target.mutations(p);
      },
      segmentRead: (segment, touched) => this.#adoptSegment(segment, touched),
      // Replayed partitions differ from their snapshot files: the next round must save them.
      replayed: (partitions) => {
        for (const p of partitions) this.#books[p]!.savedMutations = -1;
      },
    });
  }

  #adoptSegment(segment: number, touched: Iterable<number>): void {
    if (this.#journal !== undefined) this.#journal.adoptSegment(segment, touched);
    else this.#staleSegments.set(segment, new Set(touched));
  }

  #installJournal(firstSegment: number): void {
    const journal = new Journal(
      this.#store,
      this.#serializer.codec.name,
      this.#target.partitions,
      this.options.journal.syncPolicy,
      firstSegment,
      (err) => {
        this.#journalFailures++;
        this.options.logger.error(
          { error: (err as Error).message },
          'journal write failed; retrying into a new segment',
        );
      },
      () => this.#ensureReady(),
    );
    this.#journal = journal;
    const codec = this.#serializer.codec;
    this.#target.setJournalHook({
      codecName: codec.name,
      encode: (event) => codec.encode(event),
      appended: (partition, sequence, encoded) =>
        journal.record(encodeAppendRecord(partition, sequence, encoded), partition),
      cleared: (tails, changed) => journal.record(encodeClearRecord(tails), changed),
      purged: (olderThan, tails, changed) => journal.record(encodePurgeRecord(olderThan, tails), changed),
    });
  }

  /**
   * Before the first file is written: a store that was not restored must not write into a directory that
   * holds an earlier run's data (its versions would restart at 0 and shadow or be shadowed by the old ones).
   */
  #ensureReady(): Promise<void> {
    this.#ready ??= (async () => {
      if (this.#restored) return;
      const partitions = await this.#store.listPartitions();
      const segments = await this.#store.listJournalSegments();
      let snapshots = 0;
      for (const p of partitions) snapshots += (await this.#store.listSnapshots(p)).length;
      if (snapshots > 0 || segments.length > 0) {
        throw new EventStoreError(
          ErrorCode.INVALID_STATE,
          'the snapshot directory holds data from an earlier run; call restoreFromSnapshots() before appending',
        );
      }
    })();
    return this.#ready;
  }

  #checkTriggers(): void {
    const o = this.options;
    const byTime = o.intervalMs > 0 && Date.now() - this.#lastRoundAt >= o.intervalMs;
    const byCount =
      o.minEventsBetweenSnapshots > 0 &&
      this.#target.totalAppended() - this.#appendedAtLastRound >= o.minEventsBetweenSnapshots &&
      this.#journalGrewEnough();
    if (byTime || byCount) this.#runRound();
  }

  /**
   * Whether the journal has grown since the last round by `journalGrowthFactor` times the size of the
   * saved snapshots of the partitions the next round would rewrite (true without a journal).
   */
  #journalGrewEnough(): boolean {
    const factor = this.options.journalGrowthFactor;
    if (factor === 0 || this.#journal === undefined) return true;
    let rewrite = 0;
    for (let p = 0; p < this.#books.length; p++) {
      const book = this.#books[p]!;
      if (this.#target.mutations(p) !== book.savedMutations) rewrite += book.savedBytes;
    }
    return this.#journal.recordedBytes - this.#journalBytesAtLastRound >= factor * rewrite;
  }

  /** Captures every changed partition that has no job in flight, and queues the saves. */
  #runRound(): void {
    this.#lastRoundAt = Date.now();
    this.#appendedAtLastRound = this.#target.totalAppended();
    this.#journalBytesAtLastRound = this.#journal?.recordedBytes ?? 0;
    const changed: number[] = [];
    for (let p = 0; p < this.#books.length; p++) {
      const book = this.#books[p]!;
      if (!book.busy && this.#target.mutations(p) !== book.savedMutations) changed.push(p);
    }
    if (changed.length === 0) return;
    // Rotate first: records made before this line are covered by the captures below.
    this.#round = this.#journal !== undefined ? this.#journal.rotate() : this.#round + 1;
    const takenAtMs = Date.now();
    for (const p of changed) {
      // Read before the capture: a change another thread makes during the capture then leaves the
      // partition marked changed (saved again next round) instead of being recorded as saved.
      const mutations = this.#target.mutations(p);
      const { version, events } = this.#target.capture(p);
      this.#books[p]!.busy = true;
      this.#queue.push({
        state: { partition: p, partitions: this.#target.partitions, version, takenAtMs, events },
        mutations,
        round: this.#round,
      });
    }
    this.#drain();
  }

  #drain(): void {
    while (this.#running < this.options.maxConcurrentSnapshotJobs && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#running++;
      void this.#runJob(job).finally(() => {
        this.#running--;
        this.#books[job.state.partition]!.busy = false;
        this.#drain();
        if (this.#running === 0 && this.#queue.length === 0) {
          const waiters = this.#idleWaiters;
          this.#idleWaiters = [];
          for (const w of waiters) w();
        }
      });
    }
  }

  #idle(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #withSpan<R>(
    name: string,
    attributes: Record<string, number | string>,
    fn: (span: Span | undefined) => Promise<R>,
  ): Promise<R> {
    if (!this.options.enableLocalTracing) return fn(undefined);
    return trace.getTracer('lockfree-eventstore').startActiveSpan(name, { attributes }, async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  async #runJob(job: Job<T>): Promise<void> {
    const { state } = job;
    const p = state.partition;
    const book = this.#books[p]!;
    const meta: SnapshotMetadata = { partition: p, version: state.version, takenAtMs: state.takenAtMs };
    await this.#withSpan('snapshot.save', { partition: p, version: state.version }, async (span) => {
      let attempts = 0;
      let size = 0;
      try {
        await this.#ensureReady();
        const bytes = await this.#serializer.serialize(state);
        size = bytes.length;
        span?.setAttribute('bytes', bytes.length);
        for (;;) {
          attempts++;
          try {
            await this.#store.save(meta, bytes);
          } catch (err) {
            const fatal = hasErrorCode(err, ErrorCode.SNAPSHOT_EXISTS);
            if (fatal || attempts >= this.options.maxSaveAttempts) throw err;
            const delay = backoffDelayMs(
              attempts,
              this.options.backoffBaseDelayMs,
              this.options.backoffFactor,
            );
            this.options.logger.warn(
              { partition: p, attempt: attempts, delayMs: Math.round(delay), error: (err as Error).message },
              'snapshot save failed; retrying',
            );
            await new Promise((resolve) => setTimeout(resolve, delay));
            continue;
          }
          try {
            await this.#restorer.load(meta);
            break;
          } catch (err) {
            // Restore would refuse this file: it is never counted as saved, never prunes an older
            // generation and never lets a journal segment go. Not retried: the same state would be
            // written again the same way.
            if (hasErrorCode(err, ErrorCode.SNAPSHOT_CORRUPT)) await this.#restorer.quarantine(meta);
            throw err;
          }
        }
      } catch (err) {
        book.failures++;
        book.lastSaveAttempts = attempts;
        book.failingSinceMs ??= state.takenAtMs;
        this.#totalFailedJobs++;
        span?.setAttributes({ attempts, outcome: 'failure' });
        this.options.logger.error(
          { partition: p, version: state.version, attempts, error: (err as Error).message },
          'snapshot save failed',
        );
        return;
      }
      book.successes++;
      book.lastSaveAttempts = attempts;
      book.failingSinceMs = undefined;
      book.lastVersion = state.version;
      book.lastSnapshotAt = new Date(state.takenAtMs);
      book.savedMutations = job.mutations;
      book.savedRound = job.round;
      book.savedBytes = size;
      span?.setAttributes({ attempts, outcome: 'success' });
    });
    if (book.savedRound === job.round && book.lastVersion === state.version) {
      await this.#prune(p).catch((err: Error) =>
        this.options.logger.warn({ partition: p, error: err.message }, 'snapshot prune failed'),
      );
      if (this.options.compactBeforeSnapshot) {
        await this.#deleteCoveredSegments().catch((err: Error) =>
          this.options.logger.warn({ error: err.message }, 'journal segment delete failed'),
        );
      }
    }
  }

  async #prune(p: number): Promise<void> {
    await this.#withSpan('snapshot.prune', { partition: p }, async (span) => {
      const { kept, deleted, quarantined } = await this.#store.prune(p, this.options.snapshotsToKeep, (m) =>
        this.#restorer.isValid(m),
      );
      this.#prunedQuarantined += quarantined;
      span?.setAttributes({ kept, deleted });
    });
  }

  async #deleteCoveredSegments(): Promise<void> {
    const savedRound = (p: number): number => this.#books[p]?.savedRound ?? 0;
    const covered = this.#journal !== undefined ? this.#journal.coveredSegments(savedRound) : [];
    for (const [segment, touched] of this.#staleSegments) {
      if ([...touched].every((p) => savedRound(p) >= 1)) covered.push(segment);
    }
    for (const segment of covered) {
      // Two jobs finishing together can both find a segment covered: the first one deletes it.
      if (this.#deletingSegments.has(segment)) continue;
      this.#deletingSegments.add(segment);
      try {
        await this.#store.deleteJournalSegment(segment);
      } finally {
        this.#deletingSegments.delete(segment);
      }
      this.#journal?.forget(segment);
      this.#staleSegments.delete(segment);
      this.#segmentsDeleted++;
    }
  }
}
