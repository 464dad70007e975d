// Aggregation over 1 M held rows (timestamp, f64 value, key of 100 strings): a time-filtered sum,
// groupBy over the 100 keys and topK, by ColumnarEventStore, by EventStore<object> and by a naive
// array filter/reduce; then the seed's two layout tables (value vs reference type, SoA vs AoS) with
// our numbers. Every answer is checked against the naive one before timing. LFES_BENCH_SMOKE=1: tiny sizes.

import { ColumnarEventStore, EventStore } from '../src/index.ts';
import { header } from './lib/machine.ts';
import { formatNs, printSection } from './lib/markdown.ts';
import { type Section, target, writeResults } from './lib/results.ts';
import { type BenchTask, runTinybench } from './lib/run-tinybench.ts';

const SMOKE = process.env.LFES_BENCH_SMOKE === '1';
const ROWS = SMOKE ? 20_000 : 1_000_000;
const KEYS = 100;

interface Reading {
  timestamp: number;
  value: number;
  key: string;
}

let seed = 20_261_127;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
}

// Integer values so that every sum is exact whatever the order of additions.
const events: Reading[] = [];
let clock = 1_700_000_000_000;
for (let i = 0; i < ROWS; i++) {
  clock += Math.floor(random() * 3);
  events.push({
    timestamp: clock,
    value: Math.floor(random() * 1000),
    key: `sensor-${Math.floor(random() * KEYS)}`,
  });
}
const first = events[0]!.timestamp;
const last = events[ROWS - 1]!.timestamp;
const from = first + Math.floor((last - first) / 4);
const to = last - Math.floor((last - first) / 4); // the middle half of the rows

const columnar = ColumnarEventStore.create({
  columns: { value: 'f64', key: 'key' },
  partitions: 1,
  capacityPerPartition: ROWS,
});
for (let i = 0; i < ROWS; i += 4096) columnar.tryAppendBatch(events.slice(i, i + 4096));
const objects = new EventStore<Reading>({
  capacity: ROWS,
  partitions: 1,
  timestampSelector: (e) => e.timestamp,
});
objects.tryAppendBatch(events);
const value = (e: Reading): number => e.value;
const keyOf = (e: Reading): string => e.key;

// Naive peers ------------------------------------------------------------------------------------------
const naiveSum = (): number =>
  events.filter((e) => e.timestamp >= from && e.timestamp <= to).reduce((a, e) => a + e.value, 0);
function naiveGroups(): Map<string, { count: number; sum: number; min: number; max: number }> {
  const groups = new Map<string, { count: number; sum: number; min: number; max: number }>();
  for (const e of events) {
    const g = groups.get(e.key);
    if (g === undefined) groups.set(e.key, { count: 1, sum: e.value, min: e.value, max: e.value });
    else {
      g.count++;
      g.sum += e.value;
      if (e.value < g.min) g.min = e.value;
      if (e.value > g.max) g.max = e.value;
    }
  }
  return groups;
}
const naiveTop = (): string[] =>
  [...naiveGroups().entries()]
    .sort((a, b) => b[1].sum - a[1].sum || (a[0] < b[0] ? -1 : 1))
    .slice(0, 10)
    .map(([k]) => k);

// A fresh attach has no block summaries: every call is a first query over the whole ring.
const coldSum = (): number => ColumnarEventStore.attach(columnar.handle).sum('value', { from, to });
// Answers must agree before anything is timed.
const want = naiveSum();
if (
  columnar.sum('value', { from, to }) !== want ||
  coldSum() !== want ||
  objects.sum(value, { from, to }) !== want
) {
  throw new Error('time-filtered sums disagree');
}
const wantGroups = naiveGroups();
const colGroups = columnar.groupBy('key', 'value');
for (const [k, g] of wantGroups) {
  const c = colGroups.get(k);
  if (c === undefined || c.sum !== g.sum || c.count !== g.count) throw new Error(`groupBy disagrees on ${k}`);
}
const topSums = columnar.topK('key', 'value', 10).map((t) => t.sum);
const wantTopSums = naiveTop().map((k) => wantGroups.get(k)!.sum);
if (JSON.stringify(topSums) !== JSON.stringify(wantTopSums)) throw new Error('topK disagrees');

let sink = 0;
const task = (name: string, fn: () => number, rowsPerCall = ROWS): BenchTask => ({
  name,
  fn: () => {
    sink += fn();
  },
  opsPerCall: rowsPerCall,
});

const COL_SUM = 'ColumnarEventStore.sum, from/to';
const COL_SUM_COLD = 'ColumnarEventStore.sum, from/to, first query (no block summaries yet)';
const ES_SUM = 'EventStore<object>.sum, from/to';
const NAIVE_SUM = 'array filter().reduce()';
const COL_GROUP = 'ColumnarEventStore.groupBy';
const COL_GROUP_COLD = 'ColumnarEventStore.groupBy, first query (no block summaries yet)';
const ES_GROUP = 'EventStore<object>.groupBy';
const NAIVE_GROUP = 'array loop into a Map';
const COL_TOP = 'ColumnarEventStore.topK(10)';
const ES_TOP = 'EventStore<object>.groupBy + sort';
const NAIVE_TOP = 'array loop into a Map + sort';
const runOptions = SMOKE ? { rounds: 1, timeMs: 50, warmupMs: 20 } : { rounds: 3, timeMs: 400 };

const sums = runTinybench(
  [
    task(COL_SUM, () => columnar.sum('value', { from, to })),
    task(COL_SUM_COLD, coldSum),
    task(ES_SUM, () => objects.sum(value, { from, to })),
    task(NAIVE_SUM, naiveSum),
  ],
  runOptions,
);
const groups = runTinybench(
  [
    task(COL_GROUP, () => columnar.groupBy('key', 'value').size),
    task(COL_GROUP_COLD, () => ColumnarEventStore.attach(columnar.handle).groupBy('key', 'value').size),
    task(ES_GROUP, () => objects.groupBy(keyOf, value).size),
    task(NAIVE_GROUP, () => naiveGroups().size),
  ],
  runOptions,
);
const tops = runTinybench(
  [
    task(COL_TOP, () => columnar.topK('key', 'value', 10).length),
    task(
      ES_TOP,
      () =>
        [...objects.groupBy(keyOf, value).entries()].sort((a, b) => b[1].sum - a[1].sum).slice(0, 10).length,
    ),
    task(NAIVE_TOP, () => naiveTop().length),
  ],
  runOptions,
);

// The seed's tables: the same sum over a layout of values vs references, struct of arrays vs array of structs.
const soaTs = new Float64Array(ROWS);
const soaValue = new Float64Array(ROWS);
const aosValues = new Float64Array(ROWS * 2); // [ts, value, ts, value, ...]: an array of value structs
for (let i = 0; i < ROWS; i++) {
  soaTs[i] = events[i]!.timestamp;
  soaValue[i] = events[i]!.value;
  aosValues[2 * i] = events[i]!.timestamp;
  aosValues[2 * i + 1] = events[i]!.value;
}
class ReadingClass {
  constructor(
    readonly timestamp: number,
    readonly value: number,
  ) {}
}
const instances = events.map((e) => new ReadingClass(e.timestamp, e.value));
const SOA = 'struct of arrays: Float64Array per column (value type)';
const layouts = runTinybench(
  [
    task(SOA, () => {
      let s = 0;
      for (let i = 0; i < ROWS; i++) {
        const t = soaTs[i]!;
        if (t >= from && t <= to) s += soaValue[i]!;
      }
      return s;
    }),
    task('array of structs: interleaved Float64Array (value type)', () => {
      let s = 0;
      for (let i = 0; i < 2 * ROWS; i += 2) {
        const t = aosValues[i]!;
        if (t >= from && t <= to) s += aosValues[i + 1]!;
      }
      return s;
    }),
    task('array of objects, plain literals (reference type)', () => {
      let s = 0;
      for (let i = 0; i < ROWS; i++) {
        const e = events[i]!;
        if (e.timestamp >= from && e.timestamp <= to) s += e.value;
      }
      return s;
    }),
    task('array of class instances (reference type)', () => {
      let s = 0;
      for (let i = 0; i < ROWS; i++) {
        const e = instances[i]!;
        if (e.timestamp >= from && e.timestamp <= to) s += e.value;
      }
      return s;
    }),
    task(COL_SUM, () => columnar.sum('value', { from, to })),
    task(COL_SUM_COLD, coldSum),
  ],
  runOptions,
);
if (sink === -1) console.log(sink);

const method =
  `tinybench 6 via bench/lib (3 rounds, pooled samples, median). ${ROWS.toLocaleString('en')} rows held ` +
  `(timestamp non-decreasing, integer value, key among ${KEYS} strings); ColumnarEventStore and ` +
  'EventStore<object> with 1 partition of exactly that capacity. The sum covers the middle half of the ' +
  'time span (both bounds inclusive); groupBy and topK cover every row. Rates are rows held ÷ query time ' +
  '(a repeated columnar sum or groupBy reads only the blocks its block summaries cannot answer; the ' +
  '"first query" rows attach a fresh instance per call, which has none); every answer is checked against ' +
  'the naive one first.';
const peers = ['EventStore<object> (objects in a ring)', 'naive JS array of objects (filter/reduce, Map)'];
const m = header('Columnar aggregation over 1 M rows', method, peers);
const sections: Section[] = [
  { title: 'Time-filtered sum', unit: 'row', baseline: NAIVE_SUM, rows: sums },
  { title: 'groupBy over 100 keys', unit: 'row', baseline: NAIVE_GROUP, rows: groups },
  { title: 'topK(10) by sum', unit: 'row', baseline: NAIVE_TOP, rows: tops },
  {
    title: 'Layouts: value vs reference type, SoA vs AoS (time-filtered sum)',
    unit: 'row',
    baseline: SOA,
    rows: layouts,
  },
];
for (const s of sections) printSection(s);
console.log('');
const targets = [
  target(sections[0]!, COL_SUM, ES_SUM, 1),
  target(sections[1]!, COL_GROUP, ES_GROUP, 1),
  target(sections[2]!, COL_TOP, ES_TOP, 1),
];
const sumRow = sums.find((r) => r.name === COL_SUM)!;
const coldRow = sums.find((r) => r.name === COL_SUM_COLD)!;
const groupRow = groups.find((r) => r.name === COL_GROUP)!;
const groupColdRow = groups.find((r) => r.name === COL_GROUP_COLD)!;
const groupColdMs = (groupColdRow.medianNs * ROWS) / 1e6;
const rowsPerNs = sumRow.opsPerSec / 1e9;
const groupMs = (groupRow.medianNs * ROWS) / 1e6;
const notes = [
  `Absolute target "time-filtered sum ≥ 1 row/ns": repeated queries ${rowsPerNs.toFixed(2)} rows/ns (${rowsPerNs >= 1 ? 'reached' : 'missed'}); ` +
    `a first query (no block summaries) ${(coldRow.opsPerSec / 1e9).toFixed(2)} rows/ns (${coldRow.opsPerSec >= 1e9 ? 'reached' : 'missed'}).`,
  `Absolute target "groupBy over 1 M rows ≤ 5 ms": repeated queries ${groupMs.toFixed(2)} ms per query over ${ROWS.toLocaleString('en')} rows, ${formatNs(groupRow.medianNs)} per row (${ROWS === 1_000_000 ? (groupMs <= 5 ? 'reached' : 'missed') : 'smoke size: not judged'}); ` +
    `a first query ${groupColdMs.toFixed(2)} ms (${ROWS === 1_000_000 ? (groupColdMs <= 5 ? 'reached' : 'missed') : 'smoke size: not judged'}).`,
];
for (const n of notes) console.log(n);
if (SMOKE) console.log('\nBENCH_SMOKE=1: tiny sizes, results not written');
else
  writeResults({
    name: 'columnar-aggregate',
    title: 'Columnar aggregation over 1 M rows',
    method,
    peers,
    machine: m,
    sections,
    targets,
    notes,
  });
