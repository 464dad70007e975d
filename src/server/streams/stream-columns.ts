// Typed columns of one stream for its aggregations: the receive times, a Float64Array per aggregated
// numeric field and an Int32Array of key ids per groupBy field, indexed by `offset % size`, where
// `size` is a power of two at least the events held (at most the capacity): columns grow with the
// stream, like its ring, and are rebuilt at the next size when it outgrows them. Built on a field's first aggregation and extended by later ones with the events
// acknowledged since, so a repeated aggregation folds typed arrays instead of reading every event's
// JSON object again. Owned by the server's thread. Events never change once stored, so a cached slot is
// valid until the ring reuses it, and only offsets the stream still holds are ever read.

import type { FieldAggregate, StoredEvent } from '../../protocol.js';

/** Reads a dotted path (`a.b`) of an event's data. */
export function fieldOf(data: unknown, path: readonly string[]): unknown {
  let v: unknown = data;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** The events with offsets in `[from, to)`, oldest first (all held by the stream). */
export type EventReader = (from: number, to: number) => StoredEvent[];

/** Columns kept per stream at most (least recently used dropped first). */
const MAX_COLUMNS = 8;
/** Events read from the ring per step while a column is filled. */
const FILL_CHUNK = 65_536;
/** No key id: the groupBy field is missing or not a string, number or boolean. */
const NO_KEY = -1;

/** One cached column: values for offsets `[from, upTo)`. */
interface Column<A extends Float64Array | Int32Array> {
  readonly data: A;
  from: number;
  upTo: number;
}

interface KeyColumn extends Column<Int32Array> {
  readonly ids: Map<string, number>;
  readonly names: string[];
}

export class StreamColumns {
  readonly #capacity: number;
  /** Slots of every column: `offset % #size` is an event's slot. */
  #size = 0;
  readonly #read: EventReader;
  #times: Column<Float64Array> | undefined;
  /** `v:<path>` numeric columns and `k:<path>` key columns; Map order = least recently used first. */
  readonly #columns = new Map<string, Column<Float64Array> | KeyColumn>();

  constructor(capacity: number, read: EventReader) {
    this.#capacity = capacity;
    this.#read = read;
  }

  /** Makes the columns hold `held` events: drops them for a larger size when they are too small. */
  #fit(held: number): void {
    if (held <= this.#size) return;
    let size = 1024;
    while (size < held) size *= 2;
    this.#size = Math.min(size, this.#capacity);
    this.#times = undefined;
    this.#columns.clear();
  }

  /**
   * Count, sum, min, max and average of the finite numbers at `field` over offsets `[first, end)`
   * whose receive time is in `[fromMs, toMs]`, overall and per `groupBy` value (events whose key is
   * not a string, number or boolean are left out of the groups).
   */
  aggregate(
    first: number,
    end: number,
    field: readonly string[],
    groupBy: readonly string[] | undefined,
    fromMs: number,
    toMs: number,
  ): FieldAggregate & { groups: Record<string, FieldAggregate> } {
    this.#fit(end - first);
    const timed = fromMs !== Number.NEGATIVE_INFINITY || toMs !== Number.POSITIVE_INFINITY;
    const times = timed ? this.#timeColumn(first, end).data : undefined;
    const values = this.#valueColumn(field, first, end).data;
    const keyColumn = groupBy === undefined ? undefined : this.#keyColumn(groupBy, first, end);
    const keys = keyColumn?.data;
    const groupCount = keyColumn?.names.length ?? 0;
    const gCount = new Float64Array(groupCount);
    const gSum = new Float64Array(groupCount);
    const gMin = new Float64Array(groupCount).fill(Number.POSITIVE_INFINITY);
    const gMax = new Float64Array(groupCount).fill(Number.NEGATIVE_INFINITY);
    let count = 0;
    let sum = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    const capacity = this.#size;
    // Two runs of slots (before and after the ring's wrap point) keep `%` out of the loop.
    let slot = first % capacity;
    let left = end - first;
    while (left > 0) {
      const stop = Math.min(capacity, slot + left);
      left -= stop - slot;
      for (; slot < stop; slot++) {
        const v = values[slot]!;
        if (Number.isNaN(v)) continue; // not a finite number
        if (times !== undefined) {
          const t = times[slot]!;
          if (t < fromMs || t > toMs) continue;
        }
        count++;
        sum += v;
        if (v < min) min = v;
        if (v > max) max = v;
        if (keys !== undefined) {
          const k = keys[slot]!;
          if (k === NO_KEY) continue;
          gCount[k]!++;
          gSum[k]! += v;
          if (v < gMin[k]!) gMin[k] = v;
          if (v > gMax[k]!) gMax[k] = v;
        }
      }
      slot = 0;
    }
    // No prototype: a group key such as `__proto__` is an ordinary key.
    const groups = Object.create(null) as Record<string, FieldAggregate>;
    for (let k = 0; k < groupCount; k++) {
      const n = gCount[k]!;
      if (n === 0) continue;
      groups[keyColumn!.names[k]!] = {
        count: n,
        sum: gSum[k]!,
        min: gMin[k]!,
        max: gMax[k]!,
        average: gSum[k]! / n,
      };
    }
    return {
      count,
      sum,
      min: count === 0 ? null : min,
      max: count === 0 ? null : max,
      average: count === 0 ? null : sum / count,
      groups,
    };
  }

  #timeColumn(first: number, end: number): Column<Float64Array> {
    this.#times ??= { data: new Float64Array(this.#size), from: first, upTo: first };
    this.#fill(this.#times, first, end, (e, slot, data) => {
      data[slot] = e.timestamp;
    });
    return this.#times;
  }

  #valueColumn(path: readonly string[], first: number, end: number): Column<Float64Array> {
    const column = this.#use(`v:${path.join('.')}`, () => ({
      data: new Float64Array(this.#size),
      from: first,
      upTo: first,
    })) as Column<Float64Array>;
    this.#fill(column, first, end, (e, slot, data) => {
      const v = fieldOf(e.data, path);
      data[slot] = typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN;
    });
    return column;
  }

  #keyColumn(path: readonly string[], first: number, end: number): KeyColumn {
    const name = `k:${path.join('.')}`;
    // Keys of evicted events stay in the dictionary; past twice the capacity it is rebuilt from the
    // held events, so a stream of ever-new keys cannot grow it without bound.
    const old = this.#columns.get(name) as KeyColumn | undefined;
    if (old !== undefined && old.names.length > 2 * this.#capacity) this.#columns.delete(name);
    const column = this.#use(name, () => ({
      data: new Int32Array(this.#size),
      from: first,
      upTo: first,
      ids: new Map<string, number>(),
      names: [] as string[],
    })) as KeyColumn;
    const { ids, names } = column;
    this.#fill(column, first, end, (e, slot, data) => {
      const k = fieldOf(e.data, path);
      if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'boolean') {
        data[slot] = NO_KEY;
        return;
      }
      const key = String(k);
      let id = ids.get(key);
      if (id === undefined) {
        id = names.length;
        ids.set(key, id);
        names.push(key);
      }
      data[slot] = id;
    });
    return column;
  }

  /** The column `name` (created if absent), marked most recently used; drops the least recent one. */
  #use(name: string, create: () => Column<Float64Array> | KeyColumn): Column<Float64Array> | KeyColumn {
    let column = this.#columns.get(name);
    if (column === undefined) {
      if (this.#columns.size >= MAX_COLUMNS) this.#columns.delete(this.#columns.keys().next().value!);
      column = create();
    } else {
      this.#columns.delete(name);
    }
    this.#columns.set(name, column);
    return column;
  }

  /** Extends `column` so it covers `[first, end)`, reading only the offsets it lacks. */
  #fill<A extends Float64Array | Int32Array>(
    column: Column<A>,
    first: number,
    end: number,
    set: (e: StoredEvent, slot: number, data: A) => void,
  ): void {
    // Offsets below `first` were evicted; a column that no longer reaches `first` (the ring lapped it)
    // is refilled from `first`.
    if (column.upTo < first || column.from > first) {
      column.from = first;
      column.upTo = first;
    }
    const capacity = this.#size;
    const data = column.data;
    for (let at = column.upTo; at < end; at += FILL_CHUNK) {
      const to = Math.min(end, at + FILL_CHUNK);
      const events = this.#read(at, to);
      for (let i = 0; i < events.length; i++) set(events[i]!, (at + i) % capacity, data);
    }
    if (end > column.upTo) column.upTo = end;
    column.from = Math.max(column.from, end - capacity);
  }
}
