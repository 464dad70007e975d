// RowStager: one thread's staging area for appends. Rows (objects, a batch, or columns) are validated
// and their keys interned into thread-local scratch columns before anything is claimed, so a bad row
// throws ES_ERR_INVALID_ARG with nothing appended. Thread-local: only the owning thread touches the
// scratch; the key dictionary it interns into is shared (key-dictionary.ts).

import { describe, invalidArg } from '../errors.js';
import { type ColumnArray, type ColumnSpec, scratchArray } from './columns.js';
import type { KeyDictionary } from './key-dictionary.js';

/** Validates rows and stages them as columns (key columns as interned ids), ready for a BatchWriter. */
export class RowStager {
  /** One scratch array per column, timestamp first: staged rows at [0, n), gathered ones above half. */
  columns: ColumnArray[];
  /** The partition of each staged row (partitionKey routing). */
  parts: Int32Array = new Int32Array(0);
  /** Positions of the staged rows of one partition (partitionKey routing). */
  index: Int32Array = new Int32Array(0);
  readonly #specs: readonly ColumnSpec[];
  readonly #keys: KeyDictionary;

  constructor(specs: readonly ColumnSpec[], keys: KeyDictionary) {
    this.#specs = specs;
    this.#keys = keys;
    this.columns = specs.map((s) => scratchArray(s.type, 0));
  }

  /** Makes room for `n` rows, and as many again above them (for `gather`). */
  ensure(n: number): void {
    if (this.columns[0]!.length >= 2 * n) return;
    const size = 2 * 2 ** Math.ceil(Math.log2(Math.max(n, 16)));
    this.columns = this.#specs.map((s) => scratchArray(s.type, size));
    this.parts = new Int32Array(size);
    this.index = new Int32Array(size);
  }

  /** Validates `row` and stages it at position 0. */
  stageRow(row: unknown): void {
    this.ensure(1);
    this.#stageRow(row, 0, 'row');
  }

  /**
   * Validates `rows[0..n)` and stages them at [0, n), column by column (one property name per loop
   * keeps the loads monomorphic).
   */
  stageRows(rows: readonly unknown[], n: number): void {
    this.ensure(n);
    const stage = this.columns;
    const ts = stage[0]!;
    for (let i = 0; i < n; i++) {
      const row = rows[i] as { timestamp?: unknown } | null;
      if (typeof row !== 'object' || row === null) this.#stageRow(row as never, i, `rows[${i}]`);
      const t = (row as { timestamp?: unknown }).timestamp;
      if (typeof t !== 'number' || t - t !== 0) this.#stageRow(row as never, i, `rows[${i}]`);
      ts[i] = t as number;
    }
    const specs = this.#specs;
    for (let c = 1; c < specs.length; c++) {
      const s = specs[c]!;
      const name = s.name;
      const dst = stage[c]!;
      if (s.type === 'key') {
        const keys = this.#keys;
        for (let i = 0; i < n; i++) {
          const v = (rows[i] as Record<string, unknown>)[name];
          if (typeof v !== 'string') this.#stageRow(rows[i], i, `rows[${i}]`);
          dst[i] = keys.intern(v as string);
        }
      } else if (s.type === 'f64' || s.type === 'f32') {
        for (let i = 0; i < n; i++) {
          const v = (rows[i] as Record<string, unknown>)[name];
          if (typeof v !== 'number') this.#stageRow(rows[i], i, `rows[${i}]`);
          dst[i] = v as number;
        }
      } else {
        const signed = s.type === 'i32';
        for (let i = 0; i < n; i++) {
          const v = (rows[i] as Record<string, unknown>)[name];
          if (typeof v !== 'number' || (signed ? v !== (v | 0) : v !== v >>> 0)) {
            this.#number(v, s, `rows[${i}].${name}`);
          }
          dst[i] = v as number;
        }
      }
    }
  }

  /**
   * Validates rows given as columns (`{ timestamp, value, label }`, all of one length; key columns as
   * strings or known key ids) and stages them at [0, n). Returns n.
   */
  stageColumns(columns: object): number {
    const cols = columns as Record<string, ArrayLike<number> | readonly string[]>;
    const n = cols.timestamp?.length;
    if (typeof n !== 'number') throw invalidArg('`columns.timestamp` must be an array of numbers');
    if (n === 0) return 0;
    this.ensure(n);
    for (const s of this.#specs) {
      const src = cols[s.name];
      if (src === undefined || typeof src !== 'object' || src.length !== n) {
        throw invalidArg(`\`columns.${s.name}\` must be an array of length ${n}, received ${describe(src)}`);
      }
      const dst = this.columns[s.index]!;
      if (s.type === 'key') {
        if (src instanceof Uint32Array) {
          const known = this.#keys.size;
          for (let i = 0; i < n; i++) {
            if (src[i]! >= known) throw invalidArg(`\`columns.${s.name}[${i}]\` is not a known key id`);
          }
          dst.set(src);
        } else {
          const strs = src as readonly string[];
          for (let i = 0; i < n; i++) {
            const k = strs[i];
            if (typeof k !== 'string') {
              throw invalidArg(`\`columns.${s.name}[${i}]\` must be a string, received ${describe(k)}`);
            }
            dst[i] = this.#keys.intern(k);
          }
        }
      } else {
        const nums = src as ArrayLike<number>;
        if (ArrayBuffer.isView(nums)) {
          dst.set(nums);
        } else {
          for (let i = 0; i < n; i++) dst[i] = this.#number(nums[i], s, `columns.${s.name}[${i}]`);
        }
        if (s.index === 0) {
          for (let i = 0; i < n; i++) {
            const t = dst[i]!;
            if (t - t !== 0) throw invalidArg(`\`columns.timestamp[${i}]\` must be a finite number`);
          }
        }
      }
    }
    return n;
  }

  /** Copies staged rows `index[0..m)` to staging positions [half, half+m) (the upper half of the scratch). */
  gather(index: Int32Array, m: number, half: number): void {
    for (const col of this.columns) for (let j = 0; j < m; j++) col[half + j] = col[index[j]!]!;
  }

  /** Validates `row` (named `what` in errors) and stages it at position `i`. */
  #stageRow(row: unknown, i: number, what: string): void {
    if (typeof row !== 'object' || row === null) {
      throw invalidArg(`\`${what}\` must be an object { timestamp, ... }, received ${describe(row)}`);
    }
    const r = row as Record<string, unknown>;
    const t = r.timestamp;
    if (typeof t !== 'number' || t - t !== 0) {
      throw invalidArg(
        `\`${what}.timestamp\` must be a finite epoch-millisecond number, received ${describe(t)}`,
      );
    }
    const stage = this.columns;
    stage[0]![i] = t;
    const specs = this.#specs;
    for (let c = 1; c < specs.length; c++) {
      const s = specs[c]!;
      const v = r[s.name];
      if (s.type === 'key') {
        if (typeof v !== 'string') {
          throw invalidArg(`\`${what}.${s.name}\` must be a string, received ${describe(v)}`);
        }
        stage[c]![i] = this.#keys.intern(v);
      } else {
        stage[c]![i] = this.#number(v, s, `${what}.${s.name}`);
      }
    }
  }

  /** `v` as a value of numeric column `s`, or ES_ERR_INVALID_ARG naming it `what`. */
  #number(v: unknown, s: ColumnSpec, what: string): number {
    if (typeof v !== 'number') throw invalidArg(`\`${what}\` must be a number, received ${describe(v)}`);
    if (s.type === 'i32' && !(Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31)) {
      throw invalidArg(`\`${what}\` must be an i32 integer, received ${describe(v)}`);
    }
    if (s.type === 'u32' && !(Number.isInteger(v) && v >= 0 && v < 2 ** 32)) {
      throw invalidArg(`\`${what}\` must be a u32 integer, received ${describe(v)}`);
    }
    return v;
  }
}
