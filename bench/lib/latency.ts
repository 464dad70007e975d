// Exact latency percentiles for benchmarks that time single operations themselves (with
// `process.hrtime.bigint()`): a 1 ns histogram below 64 µs plus a plain list of the rarer longer
// samples, so millions of samples cost a quarter of a megabyte and every percentile is exact.

import type { Row } from './run-tinybench.ts';

const DIRECT_NS = 65_536;

/** Collects durations in nanoseconds; percentiles are exact (nearest rank). */
export class LatencyRecorder {
  readonly #counts = new Uint32Array(DIRECT_NS);
  #long: number[] = [];
  #sortedLong = true;
  #n = 0;
  #sum = 0;

  /** Records one duration (ns, non-negative). */
  record(ns: number): void {
    this.#n++;
    this.#sum += ns;
    if (ns < DIRECT_NS) this.#counts[ns]!++;
    else {
      this.#long.push(ns);
      this.#sortedLong = false;
    }
  }

  /** Adds every sample of `other` (pooling rounds). */
  merge(other: LatencyRecorder): void {
    for (let i = 0; i < DIRECT_NS; i++) this.#counts[i]! += other.#counts[i]!;
    for (const ns of other.#long) this.#long.push(ns);
    this.#sortedLong = false;
    this.#n += other.#n;
    this.#sum += other.#sum;
  }

  get count(): number {
    return this.#n;
  }

  get meanNs(): number {
    return this.#n === 0 ? Number.NaN : this.#sum / this.#n;
  }

  /** The `q`-quantile (0 < q ≤ 1), nearest rank: the smallest sample with at least q·n samples ≤ it. */
  percentile(q: number): number {
    if (this.#n === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.#n));
    let seen = 0;
    for (let i = 0; i < DIRECT_NS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return i;
    }
    if (!this.#sortedLong) {
      this.#long.sort((a, b) => a - b);
      this.#sortedLong = true;
    }
    return this.#long[rank - seen - 1]!;
  }

  get maxNs(): number {
    return this.percentile(1);
  }
}

/** How {@link percentileRow} turns a recorded duration into a time per operation. */
export interface PercentileRowOptions {
  /** Subtracted from the recorded duration first, e.g. the timer's own cost. @default 0 */
  offsetNs?: number;
  /** Operations per recorded duration (a timed batch of several calls). @default 1 */
  opsPerSample?: number;
  /** The same recorder round by round: `±rme` becomes the 95 % margin of the percentile across rounds. */
  rounds?: readonly LatencyRecorder[];
}

/** A table row whose time per operation is one percentile of the pooled samples. */
export function percentileRow(
  name: string,
  pooled: LatencyRecorder,
  q: number,
  options: PercentileRowOptions = {},
): Row {
  const offset = options.offsetNs ?? 0;
  const ops = options.opsPerSample ?? 1;
  const perOp = (r: LatencyRecorder): number => Math.max(1, r.percentile(q) - offset) / ops;
  const ns = perOp(pooled);
  let rmePct = 0;
  const rounds = options.rounds ?? [];
  if (rounds.length > 1) {
    const xs = rounds.map(perOp);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
    rmePct = (100 * 1.96 * sd) / Math.sqrt(xs.length) / mean;
  }
  return { name, opsPerSec: 1e9 / ns, medianNs: ns, rmePct, samples: pooled.count };
}
