// Append throughput of ColumnarEventStore: one thread (single rows, object batches, column blocks)
// against EventStore<object> and a bare typed-array write (the limit), then 1 and 2 writer workers
// appending at once, with and without a concurrent reader. LFES_BENCH_SMOKE=1: tiny sizes, no results file.

import { Worker } from 'node:worker_threads';
import { ColumnarEventStore, EventStore } from '../src/index.ts';
import { header } from './lib/machine.ts';
import { formatRate, printSection } from './lib/markdown.ts';
import { type Section, target, writeResults } from './lib/results.ts';
import { type BenchTask, type Row, runTinybench } from './lib/run-tinybench.ts';

const SMOKE = process.env.LFES_BENCH_SMOKE === '1';
const CAPACITY = SMOKE ? 8192 : 1 << 20;
const BLOCK = SMOKE ? 1024 : 4096;
const BLOCKS_PER_WORKER = SMOKE ? 100 : 5000;
const KEYS = 100;
const WORKER_ROWS = BLOCKS_PER_WORKER * (SMOKE ? 1024 : 4096);

interface Reading {
  timestamp: number;
  value: number;
  key: string;
}

// Inputs, built once: objects for the object paths, typed arrays for the column path.
const objects: Reading[] = [];
for (let i = 0; i < BLOCK; i++)
  objects.push({ timestamp: i, value: (i * 7919) % 1000, key: `sensor-${i % KEYS}` });

const columnar = ColumnarEventStore.create({
  columns: { value: 'f64', key: 'key' },
  partitions: 1,
  capacityPerPartition: CAPACITY,
});
const keyIds = new Uint32Array(BLOCK);
for (let i = 0; i < BLOCK; i++) keyIds[i] = columnar.keyId(objects[i]!.key);
const tsCol = new Float64Array(BLOCK);
const valueCol = new Float64Array(BLOCK);
for (let i = 0; i < BLOCK; i++) valueCol[i] = objects[i]!.value;

let clock = 1_700_000_000_000;
function stamp(): void {
  for (let i = 0; i < BLOCK; i++) {
    const t = clock++;
    objects[i]!.timestamp = t;
    tsCol[i] = t;
  }
}

// The limit: the same three columns written into plain typed arrays, one row at a time.
const limitTs = new Float64Array(CAPACITY);
const limitValue = new Float64Array(CAPACITY);
const limitKey = new Uint32Array(CAPACITY);
let limitAt = 0;

const eventStore = new EventStore<Reading>({
  capacity: CAPACITY,
  partitions: 1,
  timestampSelector: (e) => e.timestamp,
});

const LIMIT = 'typed-array write, 3 columns (limit)';
const COLUMNS = 'ColumnarEventStore.tryAppendColumns';
const BATCH = 'ColumnarEventStore.tryAppendBatch (objects)';
const SINGLE = 'ColumnarEventStore.tryAppend';
const ES_BATCH = 'EventStore<object>.tryAppendBatch';
const ES_SINGLE = 'EventStore<object>.tryAppend';

const task = (name: string, fn: () => void): BenchTask => ({
  name,
  fn,
  opsPerCall: BLOCK,
  beforeEach: stamp,
});
const tasks: BenchTask[] = [
  task(LIMIT, () => {
    for (let i = 0; i < BLOCK; i++) {
      limitTs[limitAt] = tsCol[i]!;
      limitValue[limitAt] = valueCol[i]!;
      limitKey[limitAt] = keyIds[i]!;
      limitAt = limitAt + 1 === CAPACITY ? 0 : limitAt + 1;
    }
  }),
  task(COLUMNS, () => {
    columnar.tryAppendColumns({ timestamp: tsCol, value: valueCol, key: keyIds });
  }),
  task(BATCH, () => {
    columnar.tryAppendBatch(objects);
  }),
  task(SINGLE, () => {
    for (let i = 0; i < BLOCK; i++) columnar.tryAppend(objects[i]!);
  }),
  task(ES_BATCH, () => {
    eventStore.tryAppendBatch(objects);
  }),
  task(ES_SINGLE, () => {
    for (let i = 0; i < BLOCK; i++) eventStore.tryAppend(objects[i]!);
  }),
];

const method =
  `tinybench 6 via bench/lib (3 rounds, pooled samples, median). One thread: each call appends a block ` +
  `of ${BLOCK} rows (timestamp f64, value f64, key of ${KEYS} strings) into a store of capacity ` +
  `${CAPACITY.toLocaleString('en')} (1 partition, overwriting once full); inputs pre-built, timestamps ` +
  'stamped untimed before each call. Workers: each writer appends ' +
  `${WORKER_ROWS.toLocaleString('en')} rows in blocks of ${BLOCK} to its own partition with ` +
  'tryAppendColumns; aggregate rows/s = all rows / (last end - first start); median of 3 runs.';
const peers = [
  'bare typed-array write of the same 3 columns (the limit)',
  'EventStore<object> (same thread, object per event)',
];
const m = header('Columnar append throughput', method, peers);
const rows = runTinybench(
  tasks,
  SMOKE ? { rounds: 1, timeMs: 50, warmupMs: 20 } : { rounds: 3, timeMs: 400 },
);
const single: Section = { title: 'Append on one thread', unit: 'row', baseline: LIMIT, rows };
printSection(single);

// Multi-worker -------------------------------------------------------------------------------------

const BOOT = new URL('./columnar/tsx-worker.mjs', import.meta.url);
const SCRIPT = new URL('./columnar/append-worker.ts', import.meta.url).href;

interface Report {
  startMs: number;
  endMs: number;
  rows?: number;
  queries?: number;
}

async function runWorkers(writers: number, withReader: boolean): Promise<number> {
  const store = ColumnarEventStore.create({
    columns: { value: 'f64', key: 'key' },
    partitions: 2,
    capacityPerPartition: CAPACITY,
    enableFalseSharingProtection: true,
  });
  const syncBuffer = new SharedArrayBuffer(8);
  const sync = new Int32Array(syncBuffer);
  const spawn = (role: 'writer' | 'reader', partition: number): Worker =>
    new Worker(BOOT, {
      workerData: {
        script: SCRIPT,
        role,
        handle: store.handle,
        sync: syncBuffer,
        partition,
        rows: WORKER_ROWS,
        block: BLOCK,
      },
    });
  const ws = Array.from({ length: writers }, (_, i) => spawn('writer', i));
  const rs = withReader ? [spawn('reader', 0)] : [];
  const reports = [...ws, ...rs].map(
    (w) =>
      new Promise<Report>((resolve, reject) => {
        w.on('message', (msg: Report & { ready?: boolean }) => {
          if (msg.ready !== true) resolve(msg);
        });
        w.on('error', reject);
      }),
  );
  await Promise.all(
    [...ws, ...rs].map(
      (w) =>
        new Promise<void>((resolve) => {
          const on = (msg: { ready?: boolean }): void => {
            if (msg.ready === true) {
              w.off('message', on);
              resolve();
            }
          };
          w.on('message', on);
        }),
    ),
  );
  // Start everyone at once.
  Atomics.store(sync, 0, 1);
  Atomics.notify(sync, 0);
  const writerReports = await Promise.all(reports.slice(0, writers));
  // Stop the reader.
  Atomics.store(sync, 1, 1);
  await Promise.all(reports);
  await Promise.all([...ws, ...rs].map((w) => w.terminate()));
  const start = Math.min(...writerReports.map((r) => r.startMs));
  const end = Math.max(...writerReports.map((r) => r.endMs));
  if (store.statistics.totalAppended !== writers * WORKER_ROWS) throw new Error('rows went missing');
  return (writers * WORKER_ROWS) / ((end - start) / 1000);
}

function medianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const workerRows: Row[] = [];
for (const [writers, reader] of [
  [1, false],
  [2, false],
  [1, true],
  [2, true],
] as const) {
  const runs: number[] = [];
  for (let r = 0; r < (SMOKE ? 1 : 3); r++) runs.push(await runWorkers(writers, reader));
  const rate = medianOf(runs);
  const name = `${writers} writer worker${writers > 1 ? 's' : ''}${reader ? ' + 1 reader' : ''}`;
  workerRows.push({ name, opsPerSec: rate, medianNs: 1e9 / rate, rmePct: 0, samples: runs.length });
  console.log(`${name}: ${formatRate(rate)} rows/s`);
}
const multi: Section = {
  title: 'Append from worker threads (aggregate)',
  unit: 'row',
  baseline: '1 writer worker',
  rows: workerRows,
};
printSection(multi);

console.log('');
const targets = [
  target(single, COLUMNS, ES_BATCH, 1.0),
  target(multi, '2 writer workers', '1 writer worker', 1.6),
  target(multi, '2 writer workers + 1 reader', '1 writer worker + 1 reader', 1.6),
];
const columnsRate = rows.find((r) => r.name === COLUMNS)!.opsPerSec;
const notes = [
  `Absolute target "batch append ≥ 50 M rows/s on one thread": ${COLUMNS} measured ${formatRate(columnsRate)} rows/s ` +
    `(${columnsRate >= 50e6 ? 'reached' : 'missed'}).`,
  `This machine has ${m.cores} cores: with 2 writers and a reader, three threads share them.`,
];
for (const n of notes) console.log(n);
if (SMOKE) console.log('\nBENCH_SMOKE=1: tiny sizes, results not written');
else
  writeResults({
    name: 'columnar-append',
    title: 'Columnar append throughput',
    method,
    peers,
    machine: m,
    sections: [single, multi],
    targets,
    notes,
  });
