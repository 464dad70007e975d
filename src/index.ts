// Public entry point of `lockfree-eventstore`: an explicit list of named exports (no `export *`), by
// module, each module's types beside its values.

import type { GroupResult } from './core/results.js';

export { ColumnarEventStore, ColumnarStatistics } from './columnar/columnar-event-store.js';
export type {
  ColumnArray,
  ColumnarRow,
  ColumnSchema,
  ColumnType,
  ColumnViews,
  KeyColumnOf,
  NumericColumnOf,
} from './columnar/columns.js';
export type { ColumnarStoreHandle } from './columnar/handle.js';
export type { ColumnarEventStoreOptions } from './columnar/options.js';
export type { ColumnarImageColumn, ColumnarPartitionImage } from './columnar/partition-image.js';
export type { ColumnarTopEntry } from './columnar/query/group.js';
export type { ColumnarQueryOptions } from './columnar/query/query-options.js';
export type { ColumnarSnapshot } from './columnar/query/snapshot-columns.js';
export type { ColumnarSnapshotSerializerOptions } from './columnar/snapshot-serializer.js';
export { ColumnarSnapshotSerializer } from './columnar/snapshot-serializer.js';
export type { VersionedRead } from './core/event-store.js';
export { EventStore } from './core/event-store.js';
export { EventStoreBuilder } from './core/event-store-builder.js';
export { DEFAULT_BUCKET_COUNT, DEFAULT_CAPACITY_PER_PARTITION } from './core/options.js';
export { hashNumber, hashString, partitionForKey } from './core/partitioner.js';
export type { GroupResult } from './core/results.js';
export { EventStoreStatistics } from './core/statistics.js';
export type {
  EventStoreOptions,
  OverflowPolicy,
  PartitionKeySelector,
  PurgeOptions,
  QueryOptions,
  TimeInput,
  TimestampSelector,
  TimestampSelectorFn,
  TimestampSelectorObject,
  WindowOptions,
  WindowResult,
} from './core/types.js';
export type { ErrorCodeValue } from './errors.js';
export { ErrorCode, EventStoreError } from './errors.js';
export { backoffDelayMs, MAX_BACKOFF_DELAY_MS } from './snapshots/backoff.js';
export type { BinarySnapshotSerializerOptions } from './snapshots/binary-serializer.js';
export { BinarySnapshotSerializer } from './snapshots/binary-serializer.js';
export { JsonEventCodec, V8EventCodec } from './snapshots/codecs.js';
export type { FileSystemSnapshotStoreOptions } from './snapshots/file-system-snapshot-store.js';
export { FileSystemSnapshotStore } from './snapshots/file-system-snapshot-store.js';
export { Snapshotter } from './snapshots/snapshotter.js';
export type {
  EventCodec,
  JournalOptions,
  JournalSegmentFile,
  JournalSyncPolicy,
  PartitionSnapshotMetrics,
  PartitionState,
  SnapshotLogger,
  SnapshotMetadata,
  SnapshotOptions,
  SnapshotSerializer,
  SnapshotStore,
  SnapshotterMetrics,
} from './snapshots/types.js';

/** Aggregates of one group of `ColumnarEventStore.groupBy` (never empty): {@link GroupResult}. */
export type ColumnarGroup = GroupResult;
