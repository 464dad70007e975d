// What a query reads and returns, shared by the stores: the time range of its options, the running
// totals of a fold and the result shapes built from them. Plain data and pure functions, called once
// per query (never per event), on the querying thread.

import { ErrorCode, EventStoreError, ensureTime } from '../errors.js';
import type { TimeInput, WindowResult } from './types.js';
import type { BucketTotals } from './window-buckets.js';

/** Running count/sum/min/max; min/max stay at ±Infinity while empty. */
export class Totals implements BucketTotals {
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
}

/** Aggregates of one `groupBy` group (never empty, so min/max/average are numbers). */
export interface GroupResult {
  count: number;
  sum: number;
  min: number;
  max: number;
  average: number;
}

/** The {@link WindowResult} of running totals: `min`/`max`/`average` are `undefined` when empty. */
export function toWindowResult(t: Readonly<BucketTotals>): WindowResult {
  if (t.count === 0) return { count: 0, sum: 0, min: undefined, max: undefined, average: undefined };
  return { count: t.count, sum: t.sum, min: t.min, max: t.max, average: t.sum / t.count };
}

/** A query's time range in epoch milliseconds, bounds included. */
export interface TimeRange {
  /** Whether `from` or `to` was given; when false, `from`/`to` are -Infinity/Infinity. */
  timed: boolean;
  from: number;
  to: number;
}

const WINDOW_TRACKING_DISABLED_MESSAGE =
  'Window tracking is disabled. enableWindowTracking must be true to use window queries.';

/**
 * Reads the `from`/`to` of query options into `range` (left as it is when neither is given). Throws
 * ES_ERR_WINDOW_TRACKING_DISABLED on a store created with `enableWindowTracking: false`,
 * ES_ERR_TIMESTAMP_SELECTOR_REQUIRED when the store has no event times (`hasTimestamps` false: an
 * `EventStore` without a `timestampSelector`), and ES_ERR_INVALID_ARG for a bound that is not a time.
 */
export function readTimeRange(
  q: { readonly from?: TimeInput | undefined; readonly to?: TimeInput | undefined },
  range: TimeRange,
  tracking: boolean,
  hasTimestamps = true,
): void {
  if (q.from === undefined && q.to === undefined) return;
  if (!tracking)
    throw new EventStoreError(ErrorCode.WINDOW_TRACKING_DISABLED, WINDOW_TRACKING_DISABLED_MESSAGE);
  if (!hasTimestamps) {
    throw new EventStoreError(
      ErrorCode.TIMESTAMP_SELECTOR_REQUIRED,
      'queries with `from`/`to` need a `timestampSelector`',
    );
  }
  range.timed = true;
  if (q.from !== undefined) range.from = ensureTime('from', q.from);
  if (q.to !== undefined) range.to = ensureTime('to', q.to);
}
