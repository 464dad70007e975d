// The dashboard's data: metric events in one in-process `EventStore` from `lockfree-eventstore`, with
// window tracking and time buckets. Events are partitioned by label, so a per-label query reads one
// partition. Single-threaded: every query sees exactly the appends that returned before it.

import { EventStore, partitionForKey, type QueryOptions, type WindowResult } from 'lockfree-eventstore';

/** One measurement: a label (`cpu`), a value, and its time in epoch milliseconds. */
/** An inclusive time range in epoch ms; an absent bound is open. */
export interface TimeRange {
  fromMs?: number;
  toMs?: number;
}

export interface MetricEvent {
  label: string;
  value: number;
  timestampMs: number;
}

/** Count, sum, min, max and average; `null` (not `undefined`, which JSON drops) when nothing matched. */
export interface Aggregate {
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  average: number | null;
}

/** Per-label, per-bucket counts and sums over aligned buckets (`bucketStartMs[i]` opens bucket `i`). */
export interface BucketSeries {
  bucketMs: number;
  bucketStartMs: number[];
  labels: Map<string, { count: number[]; sum: number[] }>;
}

export interface MetricsStoreOptions {
  /** Events held across all partitions; the oldest of a partition is evicted when it is full. */
  capacity: number;
  /** Span of the store's window buckets and of the dashboard's default window. */
  windowSizeMs: number;
  /** Buckets over `windowSizeMs`; their width is also the charts' default bucket. */
  bucketCount: number;
  partitions?: number;
}

/** The window buckets only serve queries given this very function (see README "API"). */
const metricValue = (e: MetricEvent): number => e.value;

function toAggregate(r: WindowResult): Aggregate {
  return { count: r.count, sum: r.sum, min: r.min ?? null, max: r.max ?? null, average: r.average ?? null };
}

function timeQuery(range: TimeRange): QueryOptions<MetricEvent> {
  const q: QueryOptions<MetricEvent> = {};
  if (range.fromMs !== undefined) q.from = range.fromMs;
  if (range.toMs !== undefined) q.to = range.toMs;
  return q;
}

export class MetricsStore {
  readonly #store: EventStore<MetricEvent>;
  readonly windowSizeMs: number;
  readonly bucketWidthMs: number;

  constructor(options: MetricsStoreOptions) {
    this.windowSizeMs = options.windowSizeMs;
    this.bucketWidthMs = options.windowSizeMs / options.bucketCount;
    this.#store = new EventStore<MetricEvent>({
      capacity: options.capacity,
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
      // By label, not by record: hashing whole records would scatter a label over every partition.
      partitionKey: (e) => e.label,
      timestampSelector: (e) => e.timestampMs,
      enableWindowTracking: true,
      window: { sizeMs: options.windowSizeMs, bucketCount: options.bucketCount, value: metricValue },
    });
  }

  get size(): number {
    return this.#store.size;
  }

  get capacity(): number {
    return this.#store.capacity;
  }

  /** Appends a validated batch; returns how many were stored (all of them: the store overwrites). */
  append(metrics: readonly MetricEvent[]): number {
    return this.#store.tryAppendBatch(metrics);
  }

  /** Aggregate of one label's values in the range (inclusive bounds), reading only its partition. */
  ofLabel(label: string, range: TimeRange): Aggregate {
    return toAggregate(
      this.#store.window(metricValue, {
        ...timeQuery(range),
        partition: partitionForKey(label, this.#store.partitions),
        filter: (e) => e.label === label,
      }),
    );
  }

  /** Aggregate of every label in the range; without a filter the store answers from its buckets. */
  totals(range: TimeRange): Aggregate {
    return toAggregate(this.#store.window(metricValue, timeQuery(range)));
  }

  /** Aggregate per label in the range. */
  byLabel(range: TimeRange): Map<string, Aggregate> {
    const groups = this.#store.groupBy((e) => e.label, metricValue, timeQuery(range));
    return new Map([...groups].map(([label, g]) => [label, toAggregate(g)]));
  }

  /** The `k` labels with the largest sums in the range, ties by label. */
  top(k: number, range: TimeRange): Array<{ label: string } & Aggregate> {
    return [...this.byLabel(range)]
      .map(([label, a]) => ({ label, ...a }))
      .sort((a, b) => b.sum - a.sum || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0))
      .slice(0, k);
  }

  /**
   * Counts and sums per label and per bucket over `[fromMs, toMs]`. Buckets are aligned to multiples
   * of `bucketMs` since the epoch, so a point stays in the same bucket from one poll to the next.
   */
  series(fromMs: number, toMs: number, bucketMs: number): BucketSeries {
    const first = Math.floor(fromMs / bucketMs);
    const n = Math.floor(toMs / bucketMs) - first + 1;
    const bucketStartMs = Array.from({ length: n }, (_, i) => (first + i) * bucketMs);
    const labels = this.#store.aggregate(
      () => new Map<string, { count: number[]; sum: number[] }>(),
      (acc, e) => {
        let s = acc.get(e.label);
        if (s === undefined) {
          s = { count: new Array<number>(n).fill(0), sum: new Array<number>(n).fill(0) };
          acc.set(e.label, s);
        }
        const i = Math.floor(e.timestampMs / bucketMs) - first;
        s.count[i]!++;
        s.sum[i]! += e.value;
        return acc;
      },
      { from: fromMs, to: toMs },
    );
    return { bucketMs, bucketStartMs, labels };
  }
}
