// Fluent construction of an EventStore, as in the .NET original. Each `with…` records one option;
// `create()` validates them all at once (the same validation as the constructor).

import { EventStore } from './event-store.js';
import type {
  EventStoreOptions,
  OverflowPolicy,
  PartitionKeySelector,
  TimestampSelector,
  WindowOptions,
} from './types.js';

/** Builds an {@link EventStore} step by step. */
export class EventStoreBuilder<T> {
  readonly #options: EventStoreOptions<T> = {};

  /** Total capacity across all partitions. */
  withCapacity(capacity: number): this {
    this.#options.capacity = capacity;
    return this;
  }

  /** Slots per partition (instead of a total capacity). */
  withCapacityPerPartition(capacityPerPartition: number): this {
    this.#options.capacityPerPartition = capacityPerPartition;
    return this;
  }

  /** Number of partitions. */
  withPartitions(partitions: number): this {
    this.#options.partitions = partitions;
    return this;
  }

  /** Routes events by a stable hash of this key. */
  withPartitionKey(partitionKey: PartitionKeySelector<T>): this {
    this.#options.partitionKey = partitionKey;
    return this;
  }

  /** What a full partition does: `'overwrite'` (default) or `'reject'`. */
  withOverflow(overflow: OverflowPolicy): this {
    this.#options.overflow = overflow;
    return this;
  }

  /** Called with each evicted event. */
  onDiscarded(callback: (event: T) => void): this {
    this.#options.onEventDiscarded = callback;
    return this;
  }

  /** Called once when the store first evicts or rejects. */
  onCapacityReached(callback: () => void): this {
    this.#options.onCapacityReached = callback;
    return this;
  }

  /** Event time, for window queries and purge. */
  withTimestampSelector(selector: TimestampSelector<T>): this {
    this.#options.timestampSelector = selector;
    return this;
  }

  /** Turns time tracking on (default) or off. */
  withEnableWindowTracking(enabled: boolean): this {
    this.#options.enableWindowTracking = enabled;
    return this;
  }

  /** Incremental window buckets. */
  withWindow(window: WindowOptions<T>): this {
    this.#options.window = window;
    return this;
  }

  /** Accepted for parity with ColumnarEventStore. */
  withFalseSharingProtection(enabled: boolean): this {
    this.#options.enableFalseSharingProtection = enabled;
    return this;
  }

  /** Validates the options and creates the store. */
  create(): EventStore<T> {
    return new EventStore<T>({ ...this.#options });
  }
}
