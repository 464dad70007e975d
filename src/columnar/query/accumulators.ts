// The thread-local accumulators of queries: Acc (count/sum/min/max of a fold), ChunkGroups (the groups
// of one chunk while it is read) and GroupAcc (the groups of a whole groupBy). A chunk's accumulator
// is merged into the query's only after the chunk validated intact (scan.ts). Never shared.

import { CHUNK } from './scan.js';

/** Running count/sum/min/max of one chunk or query. */
export class Acc {
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  /** Empties it (a chunk about to be read). */
  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = Number.NEGATIVE_INFINITY;
  }

  /** Folds `o` in (a validated chunk into its query). */
  add(o: Acc): void {
    this.count += o.count;
    this.sum += o.sum;
    if (o.min < this.min) this.min = o.min;
    if (o.max > this.max) this.max = o.max;
  }
}

/**
 * The groups of one chunk while it is read: count, sum, min, max interleaved per key id (one cache
 * line per key), and the ids touched, so clearing and merging cost the keys seen, not all keys.
 */
export class ChunkGroups {
  data: Float64Array;
  readonly touched: Int32Array = new Int32Array(CHUNK);
  touchedCount = 0;

  constructor(keys: number) {
    this.data = new Float64Array(Math.max(1, keys) * 4);
  }

  /** Empties the groups touched since the last clear. */
  clear(): void {
    const d = this.data;
    for (let j = 0; j < this.touchedCount; j++) d[this.touched[j]!] = 0;
    this.touchedCount = 0;
  }

  /** Folds value `v` into key `id`'s group. */
  add(id: number, v: number): void {
    const k = id * 4;
    const d = k < this.data.length ? this.data : this.grow(k);
    const c = d[k]!;
    if (c === 0) {
      this.touched[this.touchedCount++] = k;
      d[k] = 1;
      d[k + 1] = v;
      d[k + 2] = v;
      d[k + 3] = v;
      return;
    }
    d[k] = c + 1;
    d[k + 1]! += v;
    if (v < d[k + 2]!) d[k + 2] = v;
    if (v > d[k + 3]!) d[k + 3] = v;
  }

  /** A key interned after the query began (its row was published meanwhile): room for index `k`. */
  grow(k: number): Float64Array {
    const b = new Float64Array(Math.max(k + 4, this.data.length * 2));
    b.set(this.data);
    this.data = b;
    return b;
  }
}

/** Dense per-key-id count/sum/min/max of a groupBy, grown when a newer key id shows up. */
export class GroupAcc {
  count: Float64Array;
  sum: Float64Array;
  min: Float64Array;
  max: Float64Array;

  constructor(size: number) {
    this.count = new Float64Array(size);
    this.sum = new Float64Array(size);
    this.min = new Float64Array(size).fill(Number.POSITIVE_INFINITY);
    this.max = new Float64Array(size).fill(Number.NEGATIVE_INFINITY);
  }

  /** Folds (id, count, sum, min, max) entries in, as made by summariseGroups. */
  mergeSparse(e: Float64Array): void {
    for (let j = 0; j < e.length; j += 5) {
      const id = e[j]!;
      if (id >= this.count.length) this.#grow(Math.max(id + 1, this.count.length * 2));
      this.count[id]! += e[j + 1]!;
      this.sum[id]! += e[j + 2]!;
      if (e[j + 3]! < this.min[id]!) this.min[id] = e[j + 3]!;
      if (e[j + 4]! > this.max[id]!) this.max[id] = e[j + 4]!;
    }
  }

  /** Folds a validated chunk's groups in and clears them. */
  merge(g: ChunkGroups): void {
    const d = g.data;
    let top = 0;
    for (let j = 0; j < g.touchedCount; j++) top = Math.max(top, g.touched[j]! / 4);
    if (g.touchedCount > 0 && top >= this.count.length) this.#grow(Math.max(top + 1, this.count.length * 2));
    for (let j = 0; j < g.touchedCount; j++) {
      const k = g.touched[j]!;
      const id = k / 4;
      this.count[id]! += d[k]!;
      this.sum[id]! += d[k + 1]!;
      if (d[k + 2]! < this.min[id]!) this.min[id] = d[k + 2]!;
      if (d[k + 3]! > this.max[id]!) this.max[id] = d[k + 3]!;
    }
    g.clear();
  }

  #grow(size: number): void {
    this.count = grow(this.count, size, 0);
    this.sum = grow(this.sum, size, 0);
    this.min = grow(this.min, size, Number.POSITIVE_INFINITY);
    this.max = grow(this.max, size, Number.NEGATIVE_INFINITY);
  }
}

/** `a` copied into a new array of `size`, the rest filled with `fill`. */
function grow(a: Float64Array, size: number, fill: number): Float64Array {
  const b = new Float64Array(size).fill(fill);
  b.set(a);
  return b;
}
