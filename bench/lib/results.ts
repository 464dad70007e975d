// What a benchmark records: its tables (sections of rows, each relative to a baseline row) and its
// targets (a ratio between two rows measured in the same run, against a goal), written as JSON to
// bench/results/<name>.json so that bench/print-table.ts can rebuild BENCHMARKS.md from them.

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Machine } from './machine.ts';
import { type Row, rowOf } from './run-tinybench.ts';

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

/** One table: rows measured side by side; `ratio` columns are relative to the `baseline` row. */
export interface Section {
  title: string;
  /** What one operation is, e.g. "event" or "query". */
  unit: string;
  /** Name of the row every other row is compared to (ratio = row ops/s ÷ baseline ops/s). */
  baseline: string;
  rows: Row[];
  /** What `medianNs` holds when it is not the median, e.g. "p99" (shown in the table's header). */
  statistic?: string;
  /** What the time column holds for a throughput section whose time is not a median, e.g. "1 ÷ rate". */
  timeLabel?: string;
}

/** A goal stated as a ratio of two rows measured in one run: a floor on throughput, or a ceiling on time (latencyTarget). */
export interface Target {
  label: string;
  ratio: number;
  goal: number;
  reached: boolean;
}

export interface BenchResult {
  /** File stem: bench/<name>.bench.ts → bench/results/<name>.json. */
  name: string;
  title: string;
  method: string;
  peers: string[];
  machine: Machine;
  sections: Section[];
  targets: Target[];
  /** Free-form remarks printed under the tables (e.g. answers checked before timing). */
  notes: string[];
}

/**
 * Compares `row` to `baseline` within `section` (throughput ratio), prints "reached"/"missed" and
 * returns the target for the results file. `context` tells apart targets of several sections.
 */
export function target(
  section: Section,
  row: string,
  baseline: string,
  goal: number,
  context?: string,
): Target {
  const label = `${row} ≥ ${goal}× ${baseline}${context === undefined ? '' : ` (${context})`}`;
  const names = new Set(section.rows.map((r) => r.name));
  if (process.env.LFES_BENCH_FILTER !== undefined && !(names.has(row) && names.has(baseline))) {
    console.log(`target skipped (LFES_BENCH_FILTER) ${label}`);
    return { label, ratio: Number.NaN, goal, reached: false };
  }
  const ratio = rowOf(section.rows, row).opsPerSec / rowOf(section.rows, baseline).opsPerSec;
  const reached = ratio >= goal;
  console.log(`target ${reached ? 'REACHED' : 'MISSED '} ${label}: ${ratio.toFixed(2)}×`);
  return { label, ratio, goal, reached };
}

/**
 * A ceiling on time rather than a floor on throughput: `row`'s time (`medianNs`, or the section's
 * `statistic`) divided by `baseline`'s must be at most `limit` (e.g. 1.02 for "at most +2 %").
 */
export function latencyTarget(
  section: Section,
  row: string,
  baseline: string,
  limit: number,
  context?: string,
): Target {
  const stat = section.statistic ?? 'median';
  const label = `${row} ${stat} ≤ ${limit}× ${baseline}${context === undefined ? '' : ` (${context})`}`;
  const ratio = rowOf(section.rows, row).medianNs / rowOf(section.rows, baseline).medianNs;
  const reached = ratio <= limit;
  console.log(`target ${reached ? 'REACHED' : 'MISSED '} ${label}: ${ratio.toFixed(4)}×`);
  return { label, ratio, goal: limit, reached };
}

/** Writes bench/results/<name>.json and returns its path (not under LFES_BENCH_FILTER: partial runs are not results). */
export function writeResults(result: BenchResult): string | undefined {
  const path = join(RESULTS_DIR, `${result.name}.json`);
  if (process.env.LFES_BENCH_FILTER !== undefined) {
    console.log(`\nBENCH_FILTER is set: ${path} left unchanged (a partial run is not a result)`);
    return undefined;
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nresults written to ${path}`);
  return path;
}

/** Every results file, sorted by name. */
export function readAllResults(): BenchResult[] {
  let files: string[];
  try {
    files = readdirSync(RESULTS_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files.sort().map((f) => JSON.parse(readFileSync(join(RESULTS_DIR, f), 'utf8')) as BenchResult);
}
