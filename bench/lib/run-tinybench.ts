// Runs a list of tasks with tinybench and reduces each to one row: operations per second from the
// median sample, plus the relative margin of error. The tasks run in several rounds, in turn
// (A B C, A B C, …), and the samples of all rounds are pooled, so a burst of noise on a shared
// machine lands on every peer rather than on one; the median keeps GC pauses out of the figure.

import { Bench } from 'tinybench';

/** One thing to measure. `opsPerCall`: how many operations (events, queries) one call of `fn` does. */
export interface BenchTask {
  name: string;
  fn: () => unknown;
  /** @default 1 */
  opsPerCall?: number;
  /** Untimed, before every call of `fn` (e.g. to prepare the next block of input). */
  beforeEach?: () => void;
}

/** One measured task. Times are per operation, not per call. */
export interface Row {
  name: string;
  /** Operations per second, from the median call time. */
  opsPerSec: number;
  /** Median time of one operation, in nanoseconds. */
  medianNs: number;
  /** Relative margin of error of the mean call time (95 %), in percent. */
  rmePct: number;
  /** Calls measured, over all rounds. */
  samples: number;
}

export interface RunOptions {
  /** Time budget per task and round, in ms. @default 400 */
  timeMs?: number;
  /** Minimum calls per task and round. @default 16 */
  minIterations?: number;
  /** Rounds over all tasks; samples are pooled. @default 3 */
  rounds?: number;
  /** Warm-up time per task (first round only), in ms. @default 250 */
  warmupMs?: number;
}

function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The 95 % margin of the mean of `samples`, in percent of the mean (0 for fewer than 2). */
export function rmePct(samples: readonly number[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  let mean = 0;
  for (const s of samples) mean += s;
  mean /= n;
  let sq = 0;
  for (const s of samples) sq += (s - mean) ** 2;
  const sem = Math.sqrt(sq / (n - 1) / n);
  return (100 * 1.96 * sem) / mean;
}

/**
 * Runs a full GC (twice, so survivors are promoted) when node was started with --expose-gc, as
 * scripts/run-bench.mjs does: pre-built inputs then sit in old space like long-lived data, and no
 * task pays for the previous task's garbage.
 */
export function settleHeap(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return;
  gc();
  gc();
}

/** Measures `tasks` side by side and returns one row per task, in the order given. */
export function runTinybench(tasks: readonly BenchTask[], options: RunOptions = {}): Row[] {
  // LFES_BENCH_FILTER=<regex>: measure only the matching tasks (for a quick look; not for results files).
  const filter = process.env.LFES_BENCH_FILTER;
  if (filter !== undefined) tasks = tasks.filter((t) => new RegExp(filter).test(t.name));
  const rounds = options.rounds ?? 3;
  const pooled = new Map<string, number[]>(tasks.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    settleHeap();
    const bench = new Bench({
      time: options.timeMs ?? 400,
      iterations: options.minIterations ?? 16,
      warmup: true,
      warmupTime: round === 0 ? (options.warmupMs ?? 250) : 50,
      warmupIterations: round === 0 ? 8 : 2,
      retainSamples: true,
      throws: true,
    });
    for (const t of tasks) {
      bench.add(t.name, t.fn, t.beforeEach === undefined ? {} : { beforeEach: t.beforeEach });
    }
    for (const task of bench.runSync()) {
      const r = task.result;
      if (r.state !== 'completed') throw new Error(`task "${task.name}" did not complete: ${r.state}`);
      const into = pooled.get(task.name)!;
      for (const sample of r.latency.samples ?? []) into.push(sample);
    }
  }
  return tasks.map((t) => {
    const samples = pooled.get(t.name)!.sort((a, b) => a - b);
    const ops = t.opsPerCall ?? 1;
    const callMs = median(samples);
    return {
      name: t.name,
      opsPerSec: (ops * 1000) / callMs,
      medianNs: (callMs * 1e6) / ops,
      rmePct: rmePct(samples),
      samples: samples.length,
    };
  });
}

/** The row named `name`; throws when absent (a typo must not silently compare against nothing). */
export function rowOf(rows: readonly Row[], name: string): Row {
  const row = rows.find((r) => r.name === name);
  if (row === undefined) throw new Error(`no benchmark row named "${name}"`);
  return row;
}
