// Column schema of a ColumnarEventStore: the column types, their element sizes and typed-array
// constructors, validation of the user's `columns` option, and the typed-array views of one
// partition. Pure: no shared state; views are created per thread over the shared rows buffer.

import { describe, invalidArg } from '../errors.js';
import type { PartitionLayout } from './layout.js';

/** Storage type of a column. `key` holds an interned string as a `u32` id. */
export type ColumnType = 'f64' | 'f32' | 'i32' | 'u32' | 'key';

/** The user columns of a store: name → type. The `timestamp` column (f64, epoch ms) is implicit. */
export type ColumnSchema = Record<string, ColumnType>;

/** Typed array of a column type. */
export type ColumnArray = Float64Array | Float32Array | Int32Array | Uint32Array;

/** The typed array holding a column of type `C`. */
export type ColumnArrayOf<C extends ColumnType> = C extends 'f64'
  ? Float64Array
  : C extends 'f32'
    ? Float32Array
    : C extends 'i32'
      ? Int32Array
      : Uint32Array;

/** One partition's columns as typed arrays indexed by slot (what a `filter` receives). */
export type ColumnViews<S extends ColumnSchema> = { readonly timestamp: Float64Array } & {
  readonly [K in keyof S]: ColumnArrayOf<S[K]>;
};

/** An appended row: `timestamp` plus one value per column (a string for `key` columns). */
export type ColumnarRow<S extends ColumnSchema> = { timestamp: number } & {
  [K in keyof S]: S[K] extends 'key' ? string : number;
};

/** Names of the `key` columns of `S`. */
export type KeyColumnOf<S extends ColumnSchema> = {
  [K in keyof S]: S[K] extends 'key' ? K : never;
}[keyof S] &
  string;

/** Names of the numeric columns of `S`, plus `timestamp`. */
export type NumericColumnOf<S extends ColumnSchema> =
  | ({ [K in keyof S]: S[K] extends 'key' ? never : K }[keyof S] & string)
  | 'timestamp';

/**
 * Every column type. A type's index here is its code in columnar snapshot files
 * (snapshot-serializer.ts): append new types, never reorder.
 */
export const COLUMN_TYPES: readonly ColumnType[] = ['f64', 'f32', 'i32', 'u32', 'key'];
export const TIMESTAMP = 'timestamp';
/** Most user columns a store may have. */
export const MAX_COLUMNS = 64;

/** Bytes of one element of each column type (what a row costs per column, and a snapshot per value). */
export const ELEMENT_BYTES: Readonly<Record<ColumnType, number>> = { f64: 8, f32: 4, i32: 4, u32: 4, key: 4 };

/** A resolved column: name, type and index in the rows layout (timestamp is index 0). */
export interface ColumnSpec {
  name: string;
  type: ColumnType;
  index: number;
}

/** Validates `columns` and returns the full column list, timestamp first. */
export function resolveColumns(columns: unknown): ColumnSpec[] {
  if (typeof columns !== 'object' || columns === null || Array.isArray(columns)) {
    throw invalidArg(
      `\`columns\` must be an object of column name to 'f64' | 'f32' | 'i32' | 'u32' | 'key', received ${describe(columns)}`,
    );
  }
  const specs: ColumnSpec[] = [{ name: TIMESTAMP, type: 'f64', index: 0 }];
  for (const [name, type] of Object.entries(columns)) {
    if (name === TIMESTAMP) {
      throw invalidArg(
        '`columns.timestamp` is reserved: the timestamp column (f64, epoch ms) is always present',
      );
    }
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) {
      throw invalidArg(`\`columns\` names must be identifiers, received ${describe(name)}`);
    }
    if (typeof type !== 'string' || !(COLUMN_TYPES as readonly string[]).includes(type)) {
      throw invalidArg(
        `\`columns.${name}\` must be 'f64' or 'f32' or 'i32' or 'u32' or 'key', received ${describe(type)}`,
      );
    }
    specs.push({ name, type: type as ColumnType, index: specs.length });
  }
  if (specs.length - 1 > MAX_COLUMNS) {
    throw invalidArg(`\`columns\` must have at most ${MAX_COLUMNS} columns, received ${specs.length - 1}`);
  }
  return specs;
}

/** Bytes per element of each column, in order. */
export function columnBytes(specs: readonly ColumnSpec[]): number[] {
  return specs.map((s) => ELEMENT_BYTES[s.type]);
}

/** Bytes per row: the columns plus the 4 bytes of the slot stamp. */
export function bytesPerRow(specs: readonly ColumnSpec[]): number {
  return columnBytes(specs).reduce((a, b) => a + b, 4);
}

/** A typed-array view of one column of one partition. */
export function columnView(
  buffer: SharedArrayBuffer,
  type: ColumnType,
  byteOffset: number,
  length: number,
): ColumnArray {
  switch (type) {
    case 'f64':
      return new Float64Array(buffer, byteOffset, length);
    case 'f32':
      return new Float32Array(buffer, byteOffset, length);
    case 'i32':
      return new Int32Array(buffer, byteOffset, length);
    default:
      return new Uint32Array(buffer, byteOffset, length);
  }
}

/** Typed-array views of every column of one partition, in column order. */
export function partitionColumns(
  buffer: SharedArrayBuffer,
  specs: readonly ColumnSpec[],
  layout: PartitionLayout,
): ColumnArray[] {
  return specs.map((s) => columnView(buffer, s.type, layout.columnOffsets[s.index]!, layout.capacity));
}

/** The typed-array class of each column type (`key` columns hold u32 key ids). */
export const COLUMN_ARRAYS = {
  f64: Float64Array,
  f32: Float32Array,
  i32: Int32Array,
  u32: Uint32Array,
  key: Uint32Array,
} as const satisfies Record<ColumnType, new (length: number) => ColumnArray>;

/** A scratch typed array (thread-local, not shared) for staging values of a column type. */
export function scratchArray(type: ColumnType, length: number): ColumnArray {
  return new COLUMN_ARRAYS[type](length);
}
