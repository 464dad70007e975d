// Public entry point of `lockfree-eventstore`: explicit named exports, then the exported types.

export type {
  ColumnarGroup,
  ColumnarQueryOptions,
  ColumnarSnapshot,
  ColumnarStoreHandle,
  ColumnarTopEntry,
} from './columnar/columnar-event-store.ts';
export { ColumnarEventStore, ColumnarStatistics } from './columnar/columnar-event-store.ts';
export type {
  ColumnArray,
  ColumnarRow,
  ColumnSchema,
  ColumnType,
  ColumnViews,
  KeyColumnOf,
  NumericColumnOf,
} from './columnar/columns.ts';
export type { ColumnarEventStoreOptions } from './columnar/options.ts';
export type { GroupResult, VersionedRead } from './core/event-store.ts';
export { EventStore } from './core/event-store.ts';
export { EventStoreBuilder } from './core/event-store-builder.ts';
export { DEFAULT_BUCKET_COUNT, DEFAULT_CAPACITY_PER_PARTITION } from './core/options.ts';
export { hashNumber, hashString, partitionForKey } from './core/partitioner.ts';
export { EventStoreStatistics } from './core/statistics.ts';
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
} from './core/types.ts';
export type { ErrorCodeValue } from './errors.ts';
export { ErrorCode, EventStoreError } from './errors.ts';
export { backoffDelayMs, MAX_BACKOFF_DELAY_MS } from './snapshots/backoff.ts';
export { JsonEventCodec, V8EventCodec } from './snapshots/codecs.ts';
export type {
  ColumnarImageColumn,
  ColumnarPartitionImage,
  ColumnarSnapshotSerializerOptions,
} from './snapshots/columnar-serializer.ts';
export { ColumnarSnapshotSerializer } from './snapshots/columnar-serializer.ts';
export type { FileSystemSnapshotStoreOptions } from './snapshots/file-system-snapshot-store.ts';
export { FileSystemSnapshotStore } from './snapshots/file-system-snapshot-store.ts';
export type { BinarySnapshotSerializerOptions } from './snapshots/serializer.ts';
export { BinarySnapshotSerializer } from './snapshots/serializer.ts';
export { Snapshotter } from './snapshots/snapshotter.ts';
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
} from './snapshots/types.ts';
