// Public types of the in-process store: options, query options and aggregate results.
// Plain data shapes only; no behaviour lives here.

/** A point in time: epoch milliseconds or a `Date`. */
export type TimeInput = number | Date;

/** Extracts an event's time (epoch milliseconds or `Date`). */
export type TimestampSelectorFn<T> = (event: T) => TimeInput;

/** Object form of a timestamp selector, as in the .NET original (`IEventTimestampSelector`). */
export interface TimestampSelectorObject<T> {
  getTimestamp(event: T): TimeInput;
}

/** A timestamp selector: a function or an object with `getTimestamp`. */
export type TimestampSelector<T> = TimestampSelectorFn<T> | TimestampSelectorObject<T>;

/** Maps an event to the key that chooses its partition. Hashed with a stable hash (FNV-1a). */
export type PartitionKeySelector<T> = (event: T) => string | number;

/** What a full partition does with a new event. */
export type OverflowPolicy = 'overwrite' | 'reject';

/** Incremental per-partition time buckets that make window queries cost O(buckets). */
export interface WindowOptions<T> {
  /** Time span covered by the buckets, in milliseconds. */
  sizeMs: number;
  /**
   * Number of buckets spanning `sizeMs`; each is `sizeMs / bucketCount` wide.
   * @default 60
   */
  bucketCount?: number;
  /**
   * The numeric value aggregated by the buckets. `sum`, `average`, `min`, `max` and `window` called
   * without a selector (`store.sum({ from })`) aggregate it over the buckets; given a selector they use
   * the buckets only when it is this very function (another one, even a fresh arrow computing the
   * same value, is answered by a scan).
   */
  value: (event: T) => number;
}

/** Options of {@link EventStore}. Every option is validated once, at construction. */
export interface EventStoreOptions<T> {
  /** Total events held across all partitions, split exactly (the remainder goes to the first partitions). */
  capacity?: number;
  /**
   * Slots per partition, used when `capacity` is absent.
   * @default 100_000
   */
  capacityPerPartition?: number;
  /**
   * Number of partitions.
   * @default os.availableParallelism()
   */
  partitions?: number;
  /** Chooses the partition of an event by a stable hash of its key. Without it, appends go round-robin. */
  partitionKey?: PartitionKeySelector<T>;
  /**
   * `'overwrite'`: a full partition evicts its oldest event. `'reject'`: `tryAppend` returns `false`.
   * @default 'overwrite'
   */
  overflow?: OverflowPolicy;
  /** Called with each evicted event (the old one, not the new one). */
  onEventDiscarded?: (event: T) => void;
  /** Called once when the store first has to evict or reject, since creation or the last `clear()`. */
  onCapacityReached?: () => void;
  /** Event time; needed by time-window queries (`from`/`to`), the `window` option and `purge`. */
  timestampSelector?: TimestampSelector<T>;
  /**
   * When `false`, appends skip time tracking and queries given `from`/`to` throw
   * `ES_ERR_WINDOW_TRACKING_DISABLED`.
   * @default true
   */
  enableWindowTracking?: boolean;
  /** Incremental bucket aggregates for window queries (needs `timestampSelector`). */
  window?: WindowOptions<T>;
  /**
   * Pads shared counters onto separate cache lines. Meaningful for `ColumnarEventStore`; accepted here.
   * @default false
   */
  enableFalseSharingProtection?: boolean;
}

/** Options of every query. `from`/`to` are inclusive; an empty range (`from > to`) matches nothing. */
export interface QueryOptions<T> {
  /** Oldest event time included (epoch ms or `Date`). */
  from?: TimeInput;
  /** Newest event time included (epoch ms or `Date`). */
  to?: TimeInput;
  /** Keeps only the events for which it returns `true`. */
  filter?: (event: T) => boolean;
  /** Restricts the query to one partition. */
  partition?: number;
}

/** Count, sum, min, max and average of a set of values. `min`/`max`/`average` are `undefined` when empty. */
export interface WindowResult {
  count: number;
  sum: number;
  min: number | undefined;
  max: number | undefined;
  average: number | undefined;
}

/** Options of `purge`. */
export interface PurgeOptions {
  /** Events strictly older than this time are removed. */
  olderThan: TimeInput;
}
