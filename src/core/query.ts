// EventStore's query options, validated once per query into the range and partitions the query loops
// (aggregations.ts) take. Pure: reads the options, returns a new object; on the querying thread.

import { describe, ensureFunction, ensureInteger, invalidArg } from '../errors.js';
import type { Range } from './aggregations.js';
import { readTimeRange } from './results.js';
import type { QueryOptions } from './types.js';

const QUERY_KEYS = new Set(['from', 'to', 'filter', 'partition']);

/** A validated query: its range, filter and the partitions `[firstPartition, endPartition)` it reads. */
export interface ResolvedQuery<T> extends Range<T> {
  firstPartition: number;
  endPartition: number;
}

/**
 * Validates the query options of a store of `partitions` partitions. `tracking` and `hasTimestamps`
 * are the store's `enableWindowTracking` and whether it has a `timestampSelector` (see
 * {@link readTimeRange}). Throws ES_ERR_INVALID_ARG for an unknown key or a bad value.
 */
export function resolveQuery<T>(
  q: QueryOptions<T> | undefined,
  partitions: number,
  tracking: boolean,
  hasTimestamps: boolean,
): ResolvedQuery<T> {
  const r: ResolvedQuery<T> = {
    timed: false,
    from: Number.NEGATIVE_INFINITY,
    to: Number.POSITIVE_INFINITY,
    filter: undefined,
    firstPartition: 0,
    endPartition: partitions,
  };
  if (q === undefined) return r;
  if (typeof q !== 'object' || q === null) {
    throw invalidArg(
      `query options must be an object { from?, to?, filter?, partition? }, received ${describe(q)}`,
    );
  }
  for (const key in q) {
    if (!QUERY_KEYS.has(key)) throw invalidArg(`unknown query option \`${key}\``);
  }
  readTimeRange(q, r, tracking, hasTimestamps);
  if (q.filter !== undefined) r.filter = ensureFunction('filter', q.filter);
  if (q.partition !== undefined) {
    r.firstPartition = ensureInteger('partition', q.partition, 0, partitions - 1);
    r.endPartition = r.firstPartition + 1;
  }
  return r;
}
