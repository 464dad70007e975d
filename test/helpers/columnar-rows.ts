// Self-checking rows for the columnar stress tests: every column is derived from (writer, idx), so a
// row mixing two appends, a half-written row or a never-written slot fails `checkRow` on sight.

/** Schema of the stress store. */
export const STRESS_COLUMNS = {
  value: 'f64',
  writer: 'u32',
  idx: 'i32',
  chk: 'i32',
  f: 'f32',
  label: 'key',
} as const;

export type StressSchema = { -readonly [K in keyof typeof STRESS_COLUMNS]: (typeof STRESS_COLUMNS)[K] };

export interface StressRow {
  timestamp: number;
  value: number;
  writer: number;
  idx: number;
  chk: number;
  f: number;
  label: string;
}

/** A check word of (writer, idx); never 0 for a real row. */
export function checkOf(writer: number, idx: number): number {
  let h = Math.imul(writer + 1, 0x9e3779b1) ^ Math.imul(idx + 7, 0x85ebca6b);
  h ^= h >>> 15;
  return h | 1;
}

export function labelOf(writer: number, idx: number): string {
  return `w${writer}-${idx % 7}`;
}

/** The row `idx` of writer `writer`. */
export function rowOf(writer: number, idx: number): StressRow {
  return {
    timestamp: 1_000_000 + idx * 2 + writer / 64,
    value: writer * 2 ** 32 + idx * 3 + 0.25,
    writer,
    idx,
    chk: checkOf(writer, idx),
    f: Math.fround((idx % 1000) + 0.5),
    label: labelOf(writer, idx),
  };
}

/** Rows `rowOf(writer, first)` … `rowOf(writer, first + n - 1)` as columns, for `tryAppendColumns`. */
export function columnsOf(writer: number, first: number, n: number) {
  const cols = {
    timestamp: new Float64Array(n),
    value: new Float64Array(n),
    writer: new Uint32Array(n),
    idx: new Int32Array(n),
    chk: new Int32Array(n),
    f: new Float32Array(n),
    label: [] as string[],
  };
  for (let k = 0; k < n; k++) {
    const r = rowOf(writer, first + k);
    cols.timestamp[k] = r.timestamp;
    cols.value[k] = r.value;
    cols.writer[k] = r.writer;
    cols.idx[k] = r.idx;
    cols.chk[k] = r.chk;
    cols.f[k] = r.f;
    cols.label.push(r.label);
  }
  return cols;
}

/** Whether the columns of one row are all those of `rowOf(writer, idx)`. */
export function checkRow(
  timestamp: number,
  value: number,
  writer: number,
  idx: number,
  chk: number,
  f: number,
  label: string,
): boolean {
  return (
    timestamp === 1_000_000 + idx * 2 + writer / 64 &&
    value === writer * 2 ** 32 + idx * 3 + 0.25 &&
    chk === checkOf(writer, idx) &&
    f === Math.fround((idx % 1000) + 0.5) &&
    label === labelOf(writer, idx)
  );
}
