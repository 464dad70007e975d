// Validation of EventStoreOptions, once, at construction: every bad value throws ES_ERR_INVALID_ARG
// naming the option, the expectation and the value received. The result is a plain resolved config.

import { availableParallelism } from 'node:os';
import {
  describe,
  ensureBoolean,
  ensureFunction,
  ensureInteger,
  ensureOneOf,
  ensurePositiveNumber,
  invalidArg,
} from '../errors.js';
import type { EventStoreOptions, OverflowPolicy, PartitionKeySelector, TimeInput } from './types.js';

/** Default slots per partition when neither `capacity` nor `capacityPerPartition` is given. */
export const DEFAULT_CAPACITY_PER_PARTITION = 100_000;
/** Default number of window buckets. */
export const DEFAULT_BUCKET_COUNT = 60;
/** Upper bound of slots in one partition (keeps typed-array columns allocatable). */
export const MAX_PARTITION_CAPACITY = 2 ** 30;
/** Upper bound of partitions. */
export const MAX_PARTITIONS = 65_536;

const KNOWN_OPTIONS = new Set([
  'capacity',
  'capacityPerPartition',
  'partitions',
  'partitionKey',
  'overflow',
  'onEventDiscarded',
  'onCapacityReached',
  'timestampSelector',
  'enableWindowTracking',
  'window',
  'enableFalseSharingProtection',
]);

/** {@link EventStoreOptions} validated: the capacity split per partition and the resolved selectors. */
export interface ResolvedOptions<T> {
  partitionCapacities: number[];
  capacity: number;
  partitionKey: PartitionKeySelector<T> | undefined;
  overflow: OverflowPolicy;
  onEventDiscarded: ((event: T) => void) | undefined;
  onCapacityReached: (() => void) | undefined;
  timestampOf: ((event: T) => TimeInput) | undefined;
  enableWindowTracking: boolean;
  window: { sizeMs: number; bucketCount: number; value: (event: T) => number } | undefined;
  enableFalseSharingProtection: boolean;
}

/** Splits `total` over `partitions` exactly: the remainder goes to the first partitions. */
export function splitCapacity(total: number, partitions: number): number[] {
  const base = Math.floor(total / partitions);
  const remainder = total - base * partitions;
  return Array.from({ length: partitions }, (_, i) => base + (i < remainder ? 1 : 0));
}

/**
 * Validates `partitions` and `capacity` / `capacityPerPartition` (shared by both stores): returns the
 * partition count and each partition's slots.
 */
export function resolvePartitioning(
  o: { partitions?: unknown; capacity?: unknown; capacityPerPartition?: unknown },
  defaultPerPartition: number,
  maxPerPartition: number,
): { partitions: number; capacities: number[] } {
  const partitions =
    o.partitions === undefined
      ? availableParallelism()
      : ensureInteger('partitions', o.partitions, 1, MAX_PARTITIONS);
  if (o.capacity !== undefined) {
    if (o.capacityPerPartition !== undefined) {
      throw invalidArg('`capacity` and `capacityPerPartition` are mutually exclusive; give one of them');
    }
    const total = ensureInteger('capacity', o.capacity, 1, maxPerPartition * partitions);
    if (total < partitions) {
      throw invalidArg(
        `\`capacity\` must be at least \`partitions\` (${partitions}) so every partition has a slot, received ${total}`,
      );
    }
    return { partitions, capacities: splitCapacity(total, partitions) };
  }
  const per =
    o.capacityPerPartition === undefined
      ? defaultPerPartition
      : ensureInteger('capacityPerPartition', o.capacityPerPartition, 1, maxPerPartition);
  return { partitions, capacities: new Array<number>(partitions).fill(per) };
}

/** Validates store options once, at construction; every bad value throws ES_ERR_INVALID_ARG. */
export function resolveOptions<T>(options: EventStoreOptions<T> | undefined): ResolvedOptions<T> {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArg(`\`options\` must be an object, received ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw invalidArg(`unknown option \`${key}\``);
  }
  const o = options;
  const { capacities: partitionCapacities } = resolvePartitioning(
    o,
    DEFAULT_CAPACITY_PER_PARTITION,
    MAX_PARTITION_CAPACITY,
  );
  const capacity = partitionCapacities.reduce((a, b) => a + b, 0);

  const partitionKey =
    o.partitionKey === undefined
      ? undefined
      : ensureFunction<PartitionKeySelector<T>>('partitionKey', o.partitionKey);
  const overflow =
    o.overflow === undefined ? 'overwrite' : ensureOneOf('overflow', o.overflow, ['overwrite', 'reject']);
  const onEventDiscarded =
    o.onEventDiscarded === undefined
      ? undefined
      : ensureFunction<(e: T) => void>('onEventDiscarded', o.onEventDiscarded);
  const onCapacityReached =
    o.onCapacityReached === undefined
      ? undefined
      : ensureFunction<() => void>('onCapacityReached', o.onCapacityReached);

  let timestampOf: ((event: T) => TimeInput) | undefined;
  const sel = o.timestampSelector as unknown;
  if (sel !== undefined) {
    if (typeof sel === 'function') {
      timestampOf = sel as (event: T) => TimeInput;
    } else if (
      typeof sel === 'object' &&
      sel !== null &&
      typeof (sel as { getTimestamp?: unknown }).getTimestamp === 'function'
    ) {
      const obj = sel as { getTimestamp(event: T): TimeInput };
      timestampOf = (event) => obj.getTimestamp(event);
    } else {
      throw invalidArg(
        `\`timestampSelector\` must be a function or an object with a getTimestamp(event) method, received ${describe(sel)}`,
      );
    }
  }

  const enableWindowTracking = ensureBoolean('enableWindowTracking', o.enableWindowTracking, true);
  const enableFalseSharingProtection = ensureBoolean(
    'enableFalseSharingProtection',
    o.enableFalseSharingProtection,
    false,
  );

  let window: ResolvedOptions<T>['window'];
  if (o.window !== undefined) {
    const w = o.window as unknown;
    if (typeof w !== 'object' || w === null || Array.isArray(w)) {
      throw invalidArg(
        `\`window\` must be an object { sizeMs, bucketCount?, value }, received ${describe(w)}`,
      );
    }
    const wo = w as { sizeMs?: unknown; bucketCount?: unknown; value?: unknown };
    const sizeMs = ensurePositiveNumber('window.sizeMs', wo.sizeMs);
    const bucketCount =
      wo.bucketCount === undefined
        ? DEFAULT_BUCKET_COUNT
        : ensureInteger('window.bucketCount', wo.bucketCount, 1, 1_000_000);
    const value = ensureFunction<(e: T) => number>('window.value', wo.value);
    if (timestampOf === undefined)
      throw invalidArg('`window` needs a `timestampSelector` (buckets group events by time)');
    if (!enableWindowTracking) throw invalidArg('`window` needs `enableWindowTracking: true`');
    window = { sizeMs, bucketCount, value };
  }

  return {
    partitionCapacities,
    capacity,
    partitionKey,
    overflow,
    onEventDiscarded,
    onCapacityReached,
    timestampOf,
    enableWindowTracking,
    window,
    enableFalseSharingProtection,
  };
}
