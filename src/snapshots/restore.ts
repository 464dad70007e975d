// Restore at boot: the newest valid snapshot of every partition, then the journal replayed on top. Also
// the one check of a snapshot file that a save's read-back and prune run too, so a file counted as saved
// is one that restore takes. Concurrency contract: runs on the snapshotter's thread, before the store's
// first append (the snapshotter checks that), so nothing else changes the store while it works.

import { ErrorCode, EventStoreError, hasErrorCode } from '../errors.js';
import { type ParsedSegment, parseSegment } from './journal-format.js';
import type { ResolvedSnapshotOptions } from './options.js';
import type { PartitionState, SnapshotMetadata, SnapshotSerializer, SnapshotStore } from './types.js';

/** The part of a store that restore works through (`SnapshotTarget` extends it). Not a public API. */
export interface RestoreTarget<T> {
  readonly partitions: number;
  version(partition: number): number;
  restore(partition: number, events: T[], version: number): void;
  /**
   * Throws ES_ERR_SNAPSHOT_CORRUPT when `restore(partition, events, version)` would refuse or fail on
   * this state (run on every file before it is restored, and on every save's read-back). Changes nothing.
   */
  check(partition: number, events: readonly T[], version: number): void;
  replayAppend(partition: number, sequence: number, event: T): 'applied' | 'skipped' | 'gap';
  /** Applies a journaled clear/purge to the partitions at the recorded versions; returns those changed. */
  replayClear(tails: readonly number[]): number[];
  replayPurge(olderThan: number, tails: readonly number[]): number[];
}

/** What a restore reports to the snapshotter's book-keeping as it goes. */
export interface RestoreListener<T> {
  /** `partition` was restored from the snapshot `state`. */
  restored(partition: number, state: PartitionState<T>): void;
  /** Journal segment `segment` was read; `touched`: the partitions its records changed. */
  segmentRead(segment: number, touched: Iterable<number>): void;
  /** The journal replay changed `partitions`: they now differ from their snapshot files. */
  replayed(partitions: ReadonlySet<number>): void;
}

/** A snapshot's name in logs and errors: `<partition>_<version>_<ms>`, as the file store names it. */
function describeMeta(meta: SnapshotMetadata): string {
  return `${meta.partition}_${meta.version}_${Math.trunc(meta.takenAtMs)}`;
}

/** Restores a store from its snapshot files and journal, and judges files the way restore does. */
export class Restorer<T> {
  /** Files moved aside as corrupt by restore and by the read-back of saves. */
  quarantined = 0;
  /** Temporary files of interrupted saves removed at restore. */
  swept = 0;
  /** Journal records applied by the replay. */
  replayed = 0;
  readonly #target: RestoreTarget<T>;
  readonly #serializer: SnapshotSerializer<T>;
  readonly #store: SnapshotStore;
  readonly #options: Readonly<ResolvedSnapshotOptions>;
  /** Snapshots verified restorable in this process (skips re-reading them when pruning). */
  readonly #knownValid = new Set<string>();

  constructor(
    target: RestoreTarget<T>,
    serializer: SnapshotSerializer<T>,
    store: SnapshotStore,
    options: Readonly<ResolvedSnapshotOptions>,
  ) {
    this.#target = target;
    this.#serializer = serializer;
    this.#store = store;
    this.#options = options;
  }

  /**
   * Sweeps the temporary files of interrupted saves, restores every partition from its newest valid
   * snapshot, then replays the journal. Returns the number of partitions restored from a snapshot.
   */
  async restore(listener: RestoreListener<T>): Promise<number> {
    this.swept += await this.#store.sweepTemporaryFiles();
    const P = this.#target.partitions;
    const onDisk = await this.#store.listPartitions();
    const extra = onDisk.filter((p) => p >= P);
    if (extra.length > 0) {
      throw new EventStoreError(
        ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
        `the snapshot directory has partition ${extra[0]} but the store has ${P} partitions; restore with the same partition count`,
      );
    }
    let restored = 0;
    for (const p of onDisk) {
      if (await this.#restorePartition(p, listener)) restored++;
    }
    await this.#replayJournal(listener);
    return restored;
  }

  /**
   * Loads a snapshot and runs every check that restoring it runs: the configured serializer decodes it
   * (its own format, checksums and codec), it belongs to this partition, partition count and version,
   * and the store accepts its content. Restore, the read-back after each save and prune all use this,
   * so a file counted as saved is one that restore takes.
   */
  async load(meta: SnapshotMetadata): Promise<PartitionState<T>> {
    const state = await this.#serializer.deserialize(await this.#store.load(meta));
    if (state.partitions !== this.#target.partitions) {
      throw new EventStoreError(
        ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
        `snapshot ${describeMeta(meta)} was taken for a store of ${state.partitions} partitions; this store has ${this.#target.partitions}`,
      );
    }
    if (state.partition !== meta.partition || state.version !== meta.version) {
      throw new EventStoreError(
        ErrorCode.SNAPSHOT_CORRUPT,
        `invalid snapshot: ${describeMeta(meta)} holds partition ${state.partition} version ${state.version}`,
      );
    }
    this.#target.check(meta.partition, state.events, state.version);
    this.#knownValid.add(describeMeta(meta));
    return state;
  }

  /** Whether restore would take this file, judged through the configured serializer (prune's judge). */
  async isValid(meta: SnapshotMetadata): Promise<boolean> {
    if (this.#knownValid.has(describeMeta(meta))) return true;
    try {
      await this.load(meta);
      return true;
    } catch (err) {
      if (hasErrorCode(err, ErrorCode.SNAPSHOT_CORRUPT)) return false;
      throw err;
    }
  }

  /** Moves a file aside; one that cannot be moved (EIO, EROFS) is logged and left, never loaded as good. */
  async quarantine(meta: SnapshotMetadata): Promise<void> {
    try {
      await this.#store.quarantine(meta);
      this.quarantined++;
    } catch (moveErr) {
      this.#options.logger.error(
        { partition: meta.partition, file: describeMeta(meta), error: (moveErr as Error).message },
        'corrupt snapshot could not be quarantined; left in place and skipped',
      );
    }
  }

  async #restorePartition(p: number, listener: RestoreListener<T>): Promise<boolean> {
    const candidates = await this.#store.listSnapshots(p);
    for (const meta of candidates) {
      let state: PartitionState<T>;
      try {
        state = await this.load(meta);
      } catch (err) {
        if (!hasErrorCode(err, ErrorCode.SNAPSHOT_CORRUPT)) throw err;
        this.#options.logger.warn(
          { partition: p, file: describeMeta(meta), error: err.message },
          'snapshot is corrupt; quarantined, falling back to the previous one',
        );
        await this.quarantine(meta);
        continue;
      }
      this.#target.restore(p, state.events, state.version);
      listener.restored(p, state);
      return true;
    }
    if (candidates.length === 0) return false;
    if (this.#options.allowEmptyRestore) {
      this.#options.logger.error(
        { partition: p },
        'every snapshot of the partition is corrupt; starting it empty',
      );
      return false;
    }
    throw new EventStoreError(
      ErrorCode.RESTORE_FAILED,
      `every snapshot of partition ${p} is corrupt (${candidates.length} quarantined); set allowEmptyRestore to start it empty`,
    );
  }

  async #replayJournal(listener: RestoreListener<T>): Promise<void> {
    const segments = await this.#store.listJournalSegments();
    const logger = this.#options.logger;
    const codec = this.#serializer.codec;
    const dirty = new Set<number>();
    const broken = new Set<number>();
    for (const segment of segments) {
      let parsed: ParsedSegment;
      try {
        parsed = parseSegment(await this.#store.readJournalSegment(segment));
      } catch (err) {
        if (!hasErrorCode(err, ErrorCode.SNAPSHOT_CORRUPT)) throw err;
        logger.warn({ segment, error: err.message }, 'journal segment header is unreadable; skipped');
        listener.segmentRead(segment, []);
        continue;
      }
      if (parsed.codecName !== codec.name || parsed.partitions !== this.#target.partitions) {
        throw new EventStoreError(
          ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
          `journal segment ${segment} was written with codec '${parsed.codecName}' and ${parsed.partitions} partitions; ` +
            `this store uses '${codec.name}' and ${this.#target.partitions}`,
        );
      }
      const touched = new Set<number>();
      for (const r of parsed.records) {
        if (r.type === 'append') {
          if (r.partition >= this.#target.partitions || broken.has(r.partition)) continue;
          let event: T;
          try {
            event = codec.decode(r.event);
          } catch (err) {
            logger.error(
              { segment, partition: r.partition, sequence: r.sequence, error: (err as Error).message },
              'journal record does not decode; later records of the partition are not replayed',
            );
            broken.add(r.partition);
            continue;
          }
          const outcome = this.#target.replayAppend(r.partition, r.sequence, event);
          if (outcome === 'applied') {
            touched.add(r.partition);
            this.replayed++;
          } else if (outcome === 'gap') {
            logger.error(
              {
                segment,
                partition: r.partition,
                sequence: r.sequence,
                version: this.#target.version(r.partition),
              },
              'journal has a gap; later records of the partition are not replayed',
            );
            broken.add(r.partition);
          }
        } else {
          const changed =
            r.type === 'clear'
              ? this.#target.replayClear(r.tails)
              : this.#target.replayPurge(r.olderThan, r.tails);
          for (const p of changed) touched.add(p);
          if (changed.length > 0) this.replayed++;
        }
      }
      if (parsed.droppedBytes > 0) {
        logger.warn(
          { segment, droppedBytes: parsed.droppedBytes },
          'journal segment ends with a torn record; dropped',
        );
      }
      for (const p of touched) dirty.add(p);
      listener.segmentRead(segment, touched);
    }
    listener.replayed(dirty);
  }
}
