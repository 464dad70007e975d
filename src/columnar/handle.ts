// ColumnarStoreHandle: the three SharedArrayBuffers of a ColumnarEventStore and the schema that lays
// them out. `createHandle` allocates and initialises the buffers (before any other thread sees them);
// `openHandle` checks a handle received from another thread and derives everything from it alone.
// A handle is immutable and structured-clonable; the buffers it names are the store's shared state.

import { describe, invalidArg } from '../errors.js';
import { type ColumnSchema, type ColumnSpec, columnBytes, resolveColumns } from './columns.js';
import { KeyDictionary } from './key-dictionary.js';
import {
  CONTROL_MAGIC,
  controlWords,
  H_MAGIC,
  H_PARTITIONS,
  H_STRIDE,
  H_VERSION,
  LAYOUT_VERSION,
  LINE_BYTES,
  LINE_WORDS,
  layoutRows,
  type PartitionLayout,
  STAMP_EMPTY,
} from './layout.js';
import { ensureAbortTimeoutMs, type ResolvedColumnarOptions } from './options.js';
import { Sequencer } from './sequencer.js';

/** Everything another thread needs to attach: the shared buffers and the schema. Structured-clonable. */
export interface ColumnarStoreHandle<S extends ColumnSchema = ColumnSchema> {
  readonly kind: 'lockfree-eventstore/columnar';
  readonly version: number;
  readonly columns: S;
  readonly capacities: readonly number[];
  readonly partitionKey: string | null;
  readonly enableWindowTracking: boolean;
  readonly enableFalseSharingProtection: boolean;
  readonly keyCapacity: number;
  readonly keyBytes: number;
  readonly abortTimeoutMs: number;
  readonly control: SharedArrayBuffer;
  readonly rows: SharedArrayBuffer;
  readonly keys: SharedArrayBuffer;
}

/** What a thread derives from a handle to wrap its buffers. */
export interface OpenedHandle {
  /** The columns, timestamp first. */
  specs: ColumnSpec[];
  /** The control words. */
  control: Int32Array;
  /** Words between two fields of a partition's control words (1, or a line when padded). */
  stride: number;
  /** Where each partition's stamps and columns lie in the rows buffer. */
  partitions: PartitionLayout[];
}

/** Allocates and initialises the shared buffers of a new store, and the handle that names them. */
export function createHandle<S extends ColumnSchema>(o: ResolvedColumnarOptions): ColumnarStoreHandle<S> {
  const partitions = o.capacities.length;
  const stride = o.enableFalseSharingProtection ? LINE_WORDS : 1;
  const control = new SharedArrayBuffer(controlWords(partitions, stride) * 4);
  const ctl = new Int32Array(control);
  ctl[H_MAGIC] = CONTROL_MAGIC;
  ctl[H_VERSION] = LAYOUT_VERSION;
  ctl[H_PARTITIONS] = partitions;
  ctl[H_STRIDE] = stride;
  for (let p = 0; p < partitions; p++) Sequencer.initialize(ctl, p, stride);
  const layout = layoutRows(o.capacities, columnBytes(o.specs), rowAlignment(o.enableFalseSharingProtection));
  const rows = new SharedArrayBuffer(layout.byteLength);
  for (const pl of layout.partitions) new Int32Array(rows, pl.stampsOffset, pl.capacity).fill(STAMP_EMPTY);
  const keys = KeyDictionary.create(o.keyCapacity, o.keyBytes, o.abortTimeoutMs);
  return Object.freeze({
    kind: 'lockfree-eventstore/columnar',
    version: LAYOUT_VERSION,
    columns: Object.freeze({ ...o.schema }) as S,
    capacities: Object.freeze([...o.capacities]),
    partitionKey: o.partitionKey,
    enableWindowTracking: o.enableWindowTracking,
    enableFalseSharingProtection: o.enableFalseSharingProtection,
    keyCapacity: o.keyCapacity,
    keyBytes: o.keyBytes,
    abortTimeoutMs: o.abortTimeoutMs,
    control,
    rows,
    keys: keys.buffer,
  });
}

/**
 * Checks that `handle` is a ColumnarEventStore handle of this layout version whose buffers match its
 * schema and capacities, and returns what wrapping it takes. Throws ES_ERR_INVALID_ARG otherwise.
 */
export function openHandle(handle: ColumnarStoreHandle): OpenedHandle {
  if (typeof handle !== 'object' || handle === null || handle.kind !== 'lockfree-eventstore/columnar') {
    throw invalidArg(`\`handle\` must be a ColumnarEventStore handle, received ${describe(handle)}`);
  }
  if (
    !(handle.control instanceof SharedArrayBuffer) ||
    !(handle.rows instanceof SharedArrayBuffer) ||
    !(handle.keys instanceof SharedArrayBuffer)
  ) {
    throw invalidArg('`handle` buffers must be SharedArrayBuffers');
  }
  const specs = resolveColumns(handle.columns);
  ensureAbortTimeoutMs(handle.abortTimeoutMs);
  const control = new Int32Array(handle.control);
  if (control[H_MAGIC] !== CONTROL_MAGIC || control[H_VERSION] !== LAYOUT_VERSION) {
    throw invalidArg('`handle.control` is not a ColumnarEventStore control buffer of this version');
  }
  const layout = layoutRows(
    handle.capacities,
    columnBytes(specs),
    rowAlignment(handle.enableFalseSharingProtection),
  );
  if (layout.byteLength !== handle.rows.byteLength || control[H_PARTITIONS] !== handle.capacities.length) {
    throw invalidArg('`handle.rows` does not match the handle schema and capacities');
  }
  return { specs, control, stride: control[H_STRIDE]!, partitions: layout.partitions };
}

/** Alignment of every array in the rows buffer: a padded line with false-sharing protection. */
function rowAlignment(enableFalseSharingProtection: boolean): number {
  return enableFalseSharingProtection ? LINE_BYTES : 8;
}
