// Public types of the snapshot subsystem: options, the captured state of a partition, and the two
// pluggable seams (serializer: bytes <-> state; snapshot store: where the bytes live).

/** Encodes one event to bytes and back. The default handles JSON-compatible values. */
export interface EventCodec<T> {
  /** Identifies the codec in snapshot and journal files; restoring with another codec is refused. */
  readonly name: string;
  encode(event: T): Uint8Array;
  decode(bytes: Uint8Array): T;
  /**
   * Optional: decodes many events at once (`count` events, each `lengths[i]` bytes at `starts[i]` of
   * `bytes`). Restore uses it when present; it must give the same result as `decode` per event.
   */
  decodeMany?(bytes: Uint8Array, starts: readonly number[], lengths: readonly number[]): T[];
}

/** The captured state of one partition, as saved and restored. */
export interface PartitionState<T> {
  /** Partition index. */
  partition: number;
  /** Partition count of the store that took the snapshot. */
  partitions: number;
  /** Logical append position of the partition: events ever appended to it. Never goes back. */
  version: number;
  /** Wall-clock time of the capture, epoch ms. */
  takenAtMs: number;
  /** Held events, oldest first. */
  events: T[];
}

/** Identifies one saved snapshot. */
export interface SnapshotMetadata {
  partition: number;
  version: number;
  takenAtMs: number;
}

/** Turns partition states into bytes (with format, schema and checksum) and back. */
export interface SnapshotSerializer<T> {
  /** The event codec, shared with the journal. */
  readonly codec: EventCodec<T>;
  /** Schema version written into every file; a mismatch on restore is an error. */
  readonly schemaVersion: number;
  serialize(state: PartitionState<T>): Promise<Uint8Array>;
  /** Throws `ES_ERR_SNAPSHOT_CORRUPT` for anything that is not a valid, complete snapshot. */
  deserialize(bytes: Uint8Array): Promise<PartitionState<T>>;
}

/** An append-only journal file, opened by the snapshot store. */
export interface JournalSegmentFile {
  /** Segment number (grows by one per rotation). */
  readonly segment: number;
  /** Writes all of `data` at the end of the file (loops over short writes). */
  append(data: Uint8Array): Promise<void>;
  /** fsync. After a failure the segment must not be used again. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Where snapshot and journal bytes live. */
export interface SnapshotStore {
  /** Writes a snapshot atomically; never overwrites an existing one (a collision is an error). */
  save(meta: SnapshotMetadata, data: Uint8Array): Promise<{ bytes: number }>;
  /** Partition indexes that have a snapshot directory. */
  listPartitions(): Promise<number[]>;
  /** Snapshots of a partition, newest first (by version, then time). */
  listSnapshots(partition: number): Promise<SnapshotMetadata[]>;
  load(meta: SnapshotMetadata): Promise<Uint8Array>;
  /** Moves a corrupt snapshot aside (kept for inspection, never loaded again). */
  quarantine(meta: SnapshotMetadata): Promise<void>;
  /**
   * Keeps the `keep` newest snapshots that `isValid` accepts (newest first), quarantines invalid ones
   * met on the way, and deletes every snapshot older than the last one kept.
   */
  prune(
    partition: number,
    keep: number,
    isValid: (meta: SnapshotMetadata) => Promise<boolean>,
  ): Promise<{ kept: number; deleted: number; quarantined: number }>;
  /** Removes temporary files left by interrupted saves. Returns how many. */
  sweepTemporaryFiles(): Promise<number>;
  /** Journal segments present, oldest first. */
  listJournalSegments(): Promise<number[]>;
  readJournalSegment(segment: number): Promise<Uint8Array>;
  /**
   * Creates a new, empty segment file. `syncDirectory: false` skips the directory fsync that makes
   * the new name durable (the journal's 'no' policy never fsyncs). @default true
   */
  createJournalSegment(segment: number, syncDirectory?: boolean): Promise<JournalSegmentFile>;
  deleteJournalSegment(segment: number): Promise<void>;
}

/** How the journal reaches the disk before an append is acknowledged (like Redis `appendfsync`). */
export type JournalSyncPolicy = 'always' | 'everysec' | 'no';

/** Options of the delta journal. */
export interface JournalOptions {
  /** @default false */
  enabled?: boolean;
  /**
   * `'always'`: fsync before acknowledging (group commit). `'everysec'`: write before acknowledging,
   * fsync once a second. `'no'`: write before acknowledging, let the OS flush.
   * @default 'everysec'
   */
  syncPolicy?: JournalSyncPolicy;
}

/** Minimal logger (pino-compatible subset). */
export interface SnapshotLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Options of `configureSnapshots`. Validated when configured. */
export interface SnapshotOptions {
  /** @default true */
  enabled?: boolean;
  /** Time trigger; `0` disables it. @default 120_000 */
  intervalMs?: number;
  /** Event-count trigger; `0` disables it. @default 50_000 */
  minEventsBetweenSnapshots?: number;
  /**
   * With a journal, the event-count trigger also waits until the journal has grown, since the last
   * round, by this factor times the size of the saved snapshots the next round would rewrite (the
   * changed partitions'). A round rewrites each changed partition whole: with large events this keeps
   * snapshot writing to at most `1 / factor` of the journal's bytes instead of rewriting, say, 100 MB
   * every 50,000 appends of 1 KB. Restart replays at most about `factor` times the snapshots' size.
   * `0`: count only. The time trigger is not affected. @default 1
   */
  journalGrowthFactor?: number;
  /** @default 2 */
  maxConcurrentSnapshotJobs?: number;
  /** Snapshots kept per partition after a successful save (the newest valid one is never pruned). @default 3 */
  snapshotsToKeep?: number;
  /** @default 5 */
  maxSaveAttempts?: number;
  /** @default 100 */
  backoffBaseDelayMs?: number;
  /** @default 2 */
  backoffFactor?: number;
  /** Delete journal segments as soon as snapshots cover them. @default true */
  compactBeforeSnapshot?: boolean;
  /** Emit OpenTelemetry spans `snapshot.save` and `snapshot.prune`. @default false */
  enableLocalTracing?: boolean;
  /** `stop()` writes a last snapshot of every changed partition. @default true */
  finalSnapshotOnShutdown?: boolean;
  /** Start empty when every snapshot of a partition is corrupt, instead of failing the restore. @default false */
  allowEmptyRestore?: boolean;
  /** Delta journal of the events since the last snapshot. */
  journal?: JournalOptions;
  /** Where log lines go. @default warnings and errors to the console */
  logger?: SnapshotLogger;
}

/** Metrics of one partition. */
export interface PartitionSnapshotMetrics {
  partition: number;
  /** Version of the last saved snapshot (or the restored one); -1 before any. */
  lastVersion: number;
  /** Time of the last saved snapshot. */
  lastSnapshotAt: Date | undefined;
  successes: number;
  failures: number;
  /** Appends since the last saved snapshot. */
  eventsSinceLastSnapshot: number;
  /** Attempts used by the last save job. */
  lastSaveAttempts: number;
  /** Capture time of the oldest failed save that no successful save has replaced; undefined if none. */
  failingSince: Date | undefined;
}

/** Metrics of a {@link Snapshotter}. */
export interface SnapshotterMetrics {
  partitions: PartitionSnapshotMetrics[];
  /** Save jobs that failed after `maxSaveAttempts`. */
  totalFailedJobs: number;
  /** Corrupt snapshot files moved aside during restore. */
  quarantinedFiles: number;
  /** Temporary files removed by the boot sweep. */
  sweptTemporaryFiles: number;
  /** Journal records replayed by the last restore. */
  journalRecordsReplayed: number;
  /** Journal segments deleted because snapshots cover them. */
  journalSegmentsDeleted: number;
  /** Journal write or fsync failures. */
  journalFailures: number;
}
