// Windowed aggregation over 1 M held events: sum and count over a time range, by EventStore's scan
// (binary search + fold over the range), by EventStore's `window` buckets (`sum(q)` without a
// selector, and `sum(value, q)` with the `window.value` function itself), by the windowed store given
// a fresh arrow (a scan: another function), and by a plain array `filter().reduce()`. Every answer is
// checked to be identical before anything is timed.

import { EventStore } from '../src/index.ts';
import { header } from './lib/machine.ts';
import { printSection } from './lib/markdown.ts';
import { type Section, type Target, target, writeResults } from './lib/results.ts';
import { type BenchTask, runTinybench } from './lib/run-tinybench.ts';

interface Reading {
  timestamp: number;
  value: number;
}

const EVENTS = 1_000_000;
const PARTITIONS = 4;
const BUCKETS = 1_000;
const RANDOM_RANGES = 8;
const SEED = 20_240_601;

/** mulberry32: a small seeded PRNG, so every run queries the same data and ranges. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const random = prng(SEED);
// Non-decreasing times (0–2 ms apart, so some share a millisecond) and integer values, so every sum
// is exact in float64 whatever the order of additions: the three answers must match to the bit.
const events: Reading[] = [];
let t = 1_700_000_000_000;
for (let i = 0; i < EVENTS; i++) {
  t += Math.floor(random() * 3);
  events.push({ timestamp: t, value: Math.floor(random() * 1000) });
}
const firstMs = events[0]!.timestamp;
const lastMs = events[EVENTS - 1]!.timestamp;
const spanMs = lastMs - firstMs;

interface Range {
  from: number;
  to: number;
}
const newest: Range = { from: lastMs - Math.floor(spanMs / 10), to: lastMs };
const ranges: Range[] = [];
for (let i = 0; i < RANDOM_RANGES; i++) {
  const a = firstMs + Math.floor(random() * (spanMs + 1));
  const b = firstMs + Math.floor(random() * (spanMs + 1));
  ranges.push({ from: Math.min(a, b), to: Math.max(a, b) });
}
const meanRangePct = Math.round(
  (100 * ranges.reduce((acc, r) => acc + (r.to - r.from), 0)) / RANDOM_RANGES / spanMs,
);

const timestampSelector = (e: Reading): number => e.timestamp;
const valueSelector = (e: Reading): number => e.value;

const scan = new EventStore<Reading>({ capacity: EVENTS, partitions: PARTITIONS, timestampSelector });
const windowed = new EventStore<Reading>({
  capacity: EVENTS,
  partitions: PARTITIONS,
  timestampSelector,
  // Buckets span everything held (1 % slack), so only the two partial edge buckets are scanned.
  window: { sizeMs: Math.ceil(spanMs * 1.01), bucketCount: BUCKETS, value: valueSelector },
});
scan.tryAppendBatch(events);
windowed.tryAppendBatch(events);

const naiveSum = (r: Range): number =>
  events.filter((e) => e.timestamp >= r.from && e.timestamp <= r.to).reduce((acc, e) => acc + e.value, 0);
const naiveCount = (r: Range): number =>
  events.filter((e) => e.timestamp >= r.from && e.timestamp <= r.to).length;
const scanSum = (r: Range): number => scan.sum(valueSelector, r);
const scanCount = (r: Range): number => scan.count(r);
const windowSum = (r: Range): number => windowed.sum(valueSelector, r);
const windowSumNoSelector = (r: Range): number => windowed.sum(r);
const windowSumFreshArrow = (r: Range): number => windowed.sum((e) => e.value, r);
const windowCount = (r: Range): number => windowed.count(r);

// Correctness first: a benchmark of wrong answers is worthless.
for (const r of [newest, ...ranges]) {
  const expected = { sum: naiveSum(r), count: naiveCount(r) };
  const got = {
    'scan sum': scanSum(r),
    'window sum': windowSum(r),
    'window sum(q) sum': windowSumNoSelector(r),
    'window fresh-arrow sum': windowSumFreshArrow(r),
    'scan count': scanCount(r),
    'window count': windowCount(r),
  };
  for (const [name, value] of Object.entries(got)) {
    const want = name.endsWith('sum') ? expected.sum : expected.count;
    if (value !== want) {
      throw new Error(
        `ANSWERS DIFFER for range [${r.from}, ${r.to}]: ${name} = ${value}, naive filter/reduce = ${want}`,
      );
    }
  }
}
const checked =
  `Checked before timing: for the newest 10 % and all ${RANDOM_RANGES} random ranges, scan, window ` +
  '(`sum(q)`, `sum(value, q)`, a fresh arrow) and naive give identical sums and counts.';
console.log(checked);

let sink = 0;
/** One task per implementation: each call answers every range in `rs`. */
function queryTask(name: string, rs: readonly Range[], query: (r: Range) => number): BenchTask {
  return {
    name,
    opsPerCall: rs.length,
    fn: () => {
      for (const r of rs) sink += query(r);
    },
  };
}

const NAIVE = 'array filter + reduce (naive)';
const SCAN = 'EventStore scan';
const WINDOW = 'EventStore window buckets';
const WINDOW_NO_SELECTOR = 'EventStore window buckets, sum(q)';
const WINDOW_FRESH_ARROW = 'EventStore window store, fresh arrow (scan)';
function section(title: string, rs: readonly Range[], op: 'sum' | 'count'): Section {
  const tasks = [
    queryTask(NAIVE, rs, op === 'sum' ? naiveSum : naiveCount),
    queryTask(SCAN, rs, op === 'sum' ? scanSum : scanCount),
    queryTask(WINDOW, rs, op === 'sum' ? windowSum : windowCount),
  ];
  if (op === 'sum') {
    tasks.push(queryTask(WINDOW_NO_SELECTOR, rs, windowSumNoSelector));
    tasks.push(queryTask(WINDOW_FRESH_ARROW, rs, windowSumFreshArrow));
  }
  const rows = runTinybench(tasks, { rounds: 5, timeMs: 200, minIterations: 4 });
  const s: Section = { title, unit: 'query', baseline: NAIVE, rows };
  printSection(s);
  return s;
}

const method =
  `tinybench 6, runSync; ${EVENTS.toLocaleString('en')} events (non-decreasing times 0–2 ms apart, ` +
  `integer values, seed ${SEED}) held in ${PARTITIONS} partitions; each query is answered once per call ` +
  `(the ${RANDOM_RANGES} random ranges: all of them per call, the same for every implementation); ` +
  '5 rounds of all tasks in turn, samples pooled; queries/s from the median call. Scan: ' +
  '`timestampSelector`, no `window` (binary search on the sorted time column, then the selector over ' +
  `the range). Window: \`window: { sizeMs: span, bucketCount: ${BUCKETS}, value }\` and \`sum\` given ` +
  'that same `value` function (covered buckets from their aggregates, the two edges scanned); ' +
  '"sum(q)": the same store and path without a selector; "fresh arrow": the same store given ' +
  '`(e) => e.value`, a different function, so a scan. All answers checked identical before timing.';
const peers = [
  '`events.filter(inRange).reduce(add, 0)` and `events.filter(inRange).length` on a plain array',
];
const m = header('Core windowed aggregation', method, peers);
console.log(checked);

const sections = [
  section('sum over the newest 10 % of the time range', [newest], 'sum'),
  section('count over the newest 10 % of the time range', [newest], 'count'),
  section(
    `sum over ${RANDOM_RANGES} seeded random ranges (mean ${meanRangePct} % of the span)`,
    ranges,
    'sum',
  ),
  section(`count over the same ${RANDOM_RANGES} random ranges`, ranges, 'count'),
];
if (sink === 0) console.log(''); // keeps the answers observable

console.log('');
const targets: Target[] = [
  target(sections[0]!, WINDOW, NAIVE, 100, 'sum, newest 10 %'),
  target(sections[0]!, SCAN, NAIVE, 3, 'sum, newest 10 %'),
  target(sections[2]!, WINDOW, NAIVE, 100, 'sum, random ranges'),
  target(sections[2]!, SCAN, NAIVE, 3, 'sum, random ranges'),
];

writeResults({
  name: 'core-window',
  title: 'Core windowed aggregation',
  method,
  peers,
  machine: m,
  sections,
  targets,
  notes: [checked],
});
