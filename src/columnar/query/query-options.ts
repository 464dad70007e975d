// Options of every columnar query, validated once per query into a ResolvedQuery (ES_ERR_INVALID_ARG
// naming the option; ES_ERR_WINDOW_TRACKING_DISABLED for `from`/`to` without window tracking), and
// the per-row test of a query with `where` or `filter`. Pure, per call; nothing shared is written
// (a `where` key is looked up, never interned).

import {
  describe,
  ErrorCode,
  EventStoreError,
  ensureFunction,
  ensureInteger,
  ensureTime,
  invalidArg,
} from '../../errors.js';
import type { ColumnArray, ColumnSchema, ColumnSpec, ColumnViews, KeyColumnOf } from '../columns.js';
import type { KeyDictionary } from '../key-dictionary.js';

/** Options of every columnar query. `from`/`to` are inclusive epoch milliseconds (or Dates). */
export interface ColumnarQueryOptions<S extends ColumnSchema> {
  /** Oldest timestamp included. */
  from?: number | Date;
  /** Newest timestamp included. */
  to?: number | Date;
  /** Equality on key columns, all of which must hold: `{ label: 'cpu' }`. */
  where?: { [K in KeyColumnOf<S>]?: string };
  /**
   * Keeps the rows for which it returns `true`. Called with the partition's column arrays and the
   * row's slot (`cols.value[slot]`; key columns hold ids, compare with `store.keyId('cpu')`), so it
   * allocates nothing per row. It may see a row that validation later discards: keep it pure.
   */
  filter?: (cols: ColumnViews<S>, slot: number) => boolean;
  /** Restricts the query to one partition. */
  partition?: number;
}

/** What a query is checked against: the store's columns, keys, window tracking and partitions. */
export interface QuerySchema {
  readonly byName: ReadonlyMap<string, ColumnSpec>;
  readonly keys: KeyDictionary;
  readonly enableWindowTracking: boolean;
  readonly partitions: number;
}

/** A validated query. */
export interface ResolvedQuery {
  timed: boolean;
  from: number;
  to: number;
  /** Column indexes and key ids of `where`; `none` when a key is unknown (nothing can match). */
  whereCols: number[];
  whereIds: number[];
  none: boolean;
  filter: ((cols: never, slot: number) => boolean) | undefined;
  /** The partitions read: [first, end). */
  first: number;
  end: number;
}

const QUERY_KEYS = new Set(['from', 'to', 'where', 'filter', 'partition']);
const WINDOW_TRACKING_DISABLED_MESSAGE =
  'Window tracking is disabled. enableWindowTracking must be true to use window queries.';

/** Validates query options `q` against `schema`. */
export function resolveQuery<S extends ColumnSchema>(
  q: ColumnarQueryOptions<S> | undefined,
  schema: QuerySchema,
): ResolvedQuery {
  const r: ResolvedQuery = {
    timed: false,
    from: Number.NEGATIVE_INFINITY,
    to: Number.POSITIVE_INFINITY,
    whereCols: [],
    whereIds: [],
    none: false,
    filter: undefined,
    first: 0,
    end: schema.partitions,
  };
  if (q === undefined) return r;
  if (typeof q !== 'object' || q === null) {
    throw invalidArg(
      `query options must be an object { from?, to?, where?, filter?, partition? }, received ${describe(q)}`,
    );
  }
  for (const key in q) {
    if (!QUERY_KEYS.has(key)) throw invalidArg(`unknown query option \`${key}\``);
  }
  if (q.from !== undefined || q.to !== undefined) {
    if (!schema.enableWindowTracking) {
      throw new EventStoreError(ErrorCode.WINDOW_TRACKING_DISABLED, WINDOW_TRACKING_DISABLED_MESSAGE);
    }
    r.timed = true;
    if (q.from !== undefined) r.from = ensureTime('from', q.from);
    if (q.to !== undefined) r.to = ensureTime('to', q.to);
  }
  if (q.where !== undefined) {
    const w = q.where as unknown;
    if (typeof w !== 'object' || w === null || Array.isArray(w)) {
      throw invalidArg(`\`where\` must be an object { keyColumn: 'key' }, received ${describe(w)}`);
    }
    for (const [name, key] of Object.entries(w)) {
      const s = schema.byName.get(name);
      if (s === undefined || s.type !== 'key') {
        throw invalidArg(`\`where\` keys must name 'key' columns, received ${describe(name)}`);
      }
      if (typeof key !== 'string') {
        throw invalidArg(`\`where.${name}\` must be a string, received ${describe(key)}`);
      }
      const id = schema.keys.lookup(key);
      if (id < 0) r.none = true;
      r.whereCols.push(s.index);
      r.whereIds.push(id);
    }
  }
  if (q.filter !== undefined) r.filter = ensureFunction('filter', q.filter);
  if (q.partition !== undefined) {
    r.first = ensureInteger('partition', q.partition, 0, schema.partitions - 1);
    r.end = r.first + 1;
  }
  return r;
}

/** The index of numeric column (or `timestamp`) `column`; ES_ERR_INVALID_ARG for any other name. */
export function numericColumnIndex(schema: QuerySchema, column: string): number {
  const s = schema.byName.get(column);
  if (s === undefined || s.type === 'key') {
    throw invalidArg(
      `the value column must name a numeric column or 'timestamp', received ${describe(column)}`,
    );
  }
  return s.index;
}

/** The index of key column `column`; ES_ERR_INVALID_ARG for any other name. */
export function keyColumnIndex(schema: QuerySchema, column: string): number {
  const s = schema.byName.get(column);
  if (s === undefined || s.type !== 'key') {
    throw invalidArg(`\`keyColumn\` must name a 'key' column, received ${describe(column)}`);
  }
  return s.index;
}

/** Whether the row in `slot` of a partition (its `cols`, and `view` for `filter`) matches `r`. */
export function matches(r: ResolvedQuery, cols: readonly ColumnArray[], view: object, slot: number): boolean {
  if (r.timed) {
    const t = cols[0]![slot]!;
    if (t < r.from || t > r.to) return false;
  }
  const wc = r.whereCols;
  for (let w = 0; w < wc.length; w++) if (cols[wc[w]!]![slot] !== r.whereIds[w]) return false;
  if (r.filter !== undefined && !(r.filter as (v: object, s: number) => boolean)(view, slot)) {
    return false;
  }
  return true;
}
