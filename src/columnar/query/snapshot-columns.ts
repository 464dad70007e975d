// A copy of the rows a query matches, as fresh columns (what `snapshotColumns()` returns) or as row
// objects (`snapshot()`), oldest to newest within each partition, partitions in order. Any thread:
// rows are copied chunk by chunk into thread-local scratch and kept only once the chunk validated.

import type { ColumnarPartition } from '../columnar-partition.js';
import type { ColumnArray, ColumnarRow, ColumnSchema, ColumnSpec, ColumnViews } from '../columns.js';
import { scratchArray } from '../columns.js';
import type { KeyDictionary } from '../key-dictionary.js';
import { READABLE_MASK } from '../layout.js';
import { type Noise, NoisePoint } from '../test-hooks.js';
import { matches, type ResolvedQuery } from './query-options.js';
import { CHUNK, scan } from './scan.js';

/** A copy of the held rows as columns (key columns as ids; `keyOf(id)` gives the string). */
export interface ColumnarSnapshot<S extends ColumnSchema> {
  length: number;
  columns: ColumnViews<S>;
}

/** A copy of the rows of `parts` matching `r`, as one new typed array per column of `specs`. */
export function snapshotColumns<S extends ColumnSchema>(
  parts: readonly ColumnarPartition[],
  r: ResolvedQuery,
  specs: readonly ColumnSpec[],
  noise: Noise | undefined,
): ColumnarSnapshot<S> {
  let size = 1024;
  let out = specs.map((s) => scratchArray(s.type, size));
  let length = 0;
  const chunk = specs.map((s) => scratchArray(s.type, CHUNK));
  for (let p = r.first; p < r.end && !r.none; p++) {
    const part = parts[p]!;
    const seq = part.sequencer;
    const cols = part.columns;
    const view = part.views;
    scan(
      seq,
      noise,
      (a, n) => {
        // Copy the chunk's readable rows to the chunk scratch; validated by scan before use.
        let m = 0;
        let z = a;
        let slot = a % seq.capacity;
        const stamps = seq.stamps;
        for (let j = 0; j < n; j++) {
          if ((stamps[slot]! & READABLE_MASK) === z && matches(r, cols, view, slot)) {
            chunk[0]![m] = cols[0]![slot]!;
            if (noise !== undefined) noise(NoisePoint.READ_ROW);
            for (let c = 1; c < cols.length; c++) chunk[c]![m] = cols[c]![slot]!;
            m++;
          }
          if (++slot === seq.capacity) slot = 0;
          if (++z === seq.modulus) z = 0;
        }
        return m;
      },
      (m) => {
        if (length + m > size) {
          while (length + m > size) size *= 2;
          out = out.map((col, c) => {
            const bigger = scratchArray(specs[c]!.type, size);
            bigger.set(col.subarray(0, length));
            return bigger;
          });
        }
        for (let c = 0; c < out.length; c++) out[c]!.set(chunk[c]!.subarray(0, m), length);
        length += m;
      },
    );
  }
  const columns: Record<string, ColumnArray> = {};
  for (const s of specs) columns[s.name] = out[s.index]!.slice(0, length);
  return { length, columns: columns as unknown as ColumnViews<S> };
}

/** The rows of `snap` as objects, key columns as their strings. */
export function snapshotRows<S extends ColumnSchema>(
  snap: ColumnarSnapshot<S>,
  specs: readonly ColumnSpec[],
  keys: KeyDictionary,
): ColumnarRow<S>[] {
  const out: ColumnarRow<S>[] = new Array(snap.length);
  const cols = snap.columns as unknown as Record<string, ColumnArray>;
  for (let i = 0; i < snap.length; i++) {
    const row: Record<string, number | string> = {};
    for (const s of specs) {
      const v = cols[s.name]![i]!;
      row[s.name] = s.type === 'key' ? keys.keyOf(v)! : v;
    }
    out[i] = row as ColumnarRow<S>;
  }
  return out;
}
