// Options of ColumnarEventStore.create: validated once, like EventStore's (ES_ERR_INVALID_ARG naming
// the option and the value received), into a plain resolved config that a handle can carry.

import { resolvePartitioning } from '../core/options.js';
import { describe, ensureBoolean, ensureInteger, ensurePositiveNumber, invalidArg } from '../errors.js';
import { type ColumnSchema, type ColumnSpec, type KeyColumnOf, resolveColumns } from './columns.js';
import { MAX_COLUMNAR_PARTITION_CAPACITY } from './layout.js';

/** Default slots per partition when neither `capacity` nor `capacityPerPartition` is given. */
export const DEFAULT_COLUMNAR_CAPACITY_PER_PARTITION = 65_536;
/** Default number of distinct keys the shared dictionary holds. */
export const DEFAULT_KEY_CAPACITY = 65_536;
/** Default UTF-8 bytes of key text per key of `keyCapacity`. */
export const DEFAULT_KEY_BYTES_PER_KEY = 32;
/** Default time a writer may stall between claim and publish before its batch is aborted. */
export const DEFAULT_ABORT_TIMEOUT_MS = 1000;

/** Options of {@link ColumnarEventStore.create}. Every option is validated once, at creation. */
export interface ColumnarEventStoreOptions<S extends ColumnSchema> {
  /** The user columns, name → `'f64' | 'f32' | 'i32' | 'u32' | 'key'`. `timestamp` (f64, epoch ms) is implicit. */
  columns: S;
  /** Total rows held across all partitions, split exactly (the remainder goes to the first partitions). */
  capacity?: number;
  /**
   * Slots per partition, used when `capacity` is absent (at most 2^24).
   * @default 65_536
   */
  capacityPerPartition?: number;
  /**
   * Number of partitions (independent rings; writers contend only within one).
   * @default os.availableParallelism()
   */
  partitions?: number;
  /** A `key` column whose value chooses the partition (stable hash). Without it, appends go round-robin per thread. */
  partitionKey?: KeyColumnOf<S>;
  /**
   * When `false`, queries given `from`/`to` throw `ES_ERR_WINDOW_TRACKING_DISABLED`.
   * @default true
   */
  enableWindowTracking?: boolean;
  /**
   * Puts every hot shared counter on its own 128-byte line and aligns partitions to 128 bytes.
   * @default false
   */
  enableFalseSharingProtection?: boolean;
  /**
   * Distinct key strings the shared dictionary can hold (all `key` columns share it; at most 2^24).
   * @default 65_536
   */
  keyCapacity?: number;
  /**
   * Bytes of UTF-8 key text the dictionary can hold.
   * @default keyCapacity * 32
   */
  keyBytes?: number;
  /**
   * How long a batch may stay claimed but unpublished (its writer stalled or died) before a waiting
   * writer or a query aborts it. Must exceed any pause of a live writer inside an append.
   * @default 1000
   */
  abortTimeoutMs?: number;
}

/** The validated options (what a handle carries besides the buffers). */
export interface ResolvedColumnarOptions {
  specs: ColumnSpec[];
  schema: ColumnSchema;
  capacities: number[];
  partitionKey: string | null;
  enableWindowTracking: boolean;
  enableFalseSharingProtection: boolean;
  keyCapacity: number;
  keyBytes: number;
  abortTimeoutMs: number;
}

const KNOWN_OPTIONS = new Set([
  'columns',
  'capacity',
  'capacityPerPartition',
  'partitions',
  'partitionKey',
  'enableWindowTracking',
  'enableFalseSharingProtection',
  'keyCapacity',
  'keyBytes',
  'abortTimeoutMs',
]);

/** Validates the options of `ColumnarEventStore.create` (ES_ERR_INVALID_ARG naming the option). */
export function resolveColumnarOptions(options: unknown): ResolvedColumnarOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArg(`\`options\` must be an object { columns, ... }, received ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw invalidArg(`unknown option \`${key}\``);
  }
  const o = options as Record<string, unknown>;
  const specs = resolveColumns(o.columns);
  const schema: ColumnSchema = {};
  for (const s of specs.slice(1)) schema[s.name] = s.type;

  const { capacities } = resolvePartitioning(
    o,
    DEFAULT_COLUMNAR_CAPACITY_PER_PARTITION,
    MAX_COLUMNAR_PARTITION_CAPACITY,
  );

  let partitionKey: string | null = null;
  if (o.partitionKey !== undefined) {
    const pk = o.partitionKey;
    if (typeof pk !== 'string' || schema[pk] !== 'key') {
      throw invalidArg(`\`partitionKey\` must name a 'key' column, received ${describe(pk)}`);
    }
    partitionKey = pk;
  }
  const enableWindowTracking = ensureBoolean('enableWindowTracking', o.enableWindowTracking, true);
  const enableFalseSharingProtection = ensureBoolean(
    'enableFalseSharingProtection',
    o.enableFalseSharingProtection,
    false,
  );
  const keyCapacity =
    o.keyCapacity === undefined
      ? DEFAULT_KEY_CAPACITY
      : ensureInteger('keyCapacity', o.keyCapacity, 1, 1 << 24);
  const keyBytes =
    o.keyBytes === undefined
      ? keyCapacity * DEFAULT_KEY_BYTES_PER_KEY
      : ensureInteger('keyBytes', o.keyBytes, 1, 2 ** 30);
  const abortTimeoutMs =
    o.abortTimeoutMs === undefined ? DEFAULT_ABORT_TIMEOUT_MS : ensureAbortTimeoutMs(o.abortTimeoutMs);
  return {
    specs,
    schema,
    capacities,
    partitionKey,
    enableWindowTracking,
    enableFalseSharingProtection,
    keyCapacity,
    keyBytes,
    abortTimeoutMs,
  };
}

/** `abortTimeoutMs` must be a number of milliseconds above 0 and at most an hour (an option or a handle's). */
export function ensureAbortTimeoutMs(value: unknown): number {
  const ms = ensurePositiveNumber('abortTimeoutMs', value);
  if (ms > 3_600_000) throw invalidArg(`\`abortTimeoutMs\` must be at most 3600000, received ${ms}`);
  return ms;
}
