// Memory per held row of (timestamp, f64 value, key of 100 strings): ColumnarEventStore (shared
// buffers, exact) against EventStore<object> and a plain array of objects (measured heap growth
// after a full GC; run with --expose-gc, as scripts/run-bench.mjs does) and Redis' 31 B per entry.
// LFES_BENCH_SMOKE=1: 100 k rows, no results file.

import { ColumnarEventStore, EventStore } from '../src/index.ts';
import { header } from './lib/machine.ts';
import { writeResults } from './lib/results.ts';
import { settleHeap } from './lib/run-tinybench.ts';

const SMOKE = process.env.LFES_BENCH_SMOKE === '1';
const ROWS = SMOKE ? 100_000 : 1_000_000;
const KEYS = 100;
const REDIS_BYTES_PER_ENTRY = 31;

interface Reading {
  timestamp: number;
  value: number;
  key: string;
}

const keys = Array.from({ length: KEYS }, (_, i) => `sensor-${i}`);
const hasGc = typeof (globalThis as { gc?: unknown }).gc === 'function';

/** Heap growth, in bytes per row, of building what `build` returns (kept alive until measured). */
function heapPerRow(build: () => unknown): number {
  settleHeap();
  const before = process.memoryUsage().heapUsed;
  const kept = build();
  settleHeap();
  const after = process.memoryUsage().heapUsed;
  if (kept === undefined) throw new Error('nothing kept');
  return (after - before) / ROWS;
}

const makeEvent = (i: number): Reading => ({
  timestamp: 1_700_000_000_000 + i,
  value: (i * 7919) % 1000,
  key: keys[i % KEYS]!,
});

const arrayBytes = heapPerRow(() => Array.from({ length: ROWS }, (_, i) => makeEvent(i)));
const storeBytes = heapPerRow(() => {
  const s = new EventStore<Reading>({ capacity: ROWS, partitions: 1, timestampSelector: (e) => e.timestamp });
  for (let i = 0; i < ROWS; i++) s.tryAppend(makeEvent(i));
  return s;
});
const columnar = ColumnarEventStore.create({
  columns: { value: 'f64', key: 'key' },
  partitions: 1,
  capacityPerPartition: ROWS,
  keyCapacity: 1024,
});
const h = columnar.handle;
const sharedBytes = h.rows.byteLength + h.control.byteLength + h.keys.byteLength;
const columnarBytes = h.rows.byteLength / ROWS;
const fixedBytes = h.control.byteLength + h.keys.byteLength;

const method =
  `${ROWS.toLocaleString('en')} rows of (timestamp, f64 value, key among ${KEYS} strings), held at once. ` +
  'ColumnarEventStore: exact bytes of its rows SharedArrayBuffer divided by the rows, and of all its ' +
  'buffers (rows + control + a 1024-key dictionary). EventStore<object> and a JS array: growth of process.memoryUsage().heapUsed ' +
  `across building them, after a double full GC${hasGc ? '' : ' (NOT available: run with --expose-gc)'}; ` +
  'the key strings are shared, so they cost nothing per row. Redis: 31 B/entry as published for stream entries of this shape (quoted, not measured here).';
const peers = [
  'EventStore<object>',
  'JS array of objects',
  `Redis (${REDIS_BYTES_PER_ENTRY} B/entry, quoted)`,
];
const m = header('Columnar memory per row', method, peers);
const table = [
  '| layout | bytes per row |',
  '|---|--:|',
  `| ColumnarEventStore rows (8 B ts + 8 B value + 4 B key id + 4 B stamp) | ${columnarBytes.toFixed(1)} |`,
  `| ColumnarEventStore, all buffers (+ ${Math.round(fixedBytes / 1024)} KiB control and key dictionary) | ${(sharedBytes / ROWS).toFixed(1)} |`,
  `| EventStore<object> | ${storeBytes.toFixed(1)} |`,
  `| JS array of objects | ${arrayBytes.toFixed(1)} |`,
  `| Redis (quoted) | ${REDIS_BYTES_PER_ENTRY} |`,
].join('\n');
console.log(table);
const notes = [
  table,
  `Target "≤ 24 B/row": ColumnarEventStore ${columnarBytes.toFixed(1)} B/row (${columnarBytes <= 24 ? 'reached' : 'missed'}; ` +
    'the 4-byte slot stamp per row is what makes lock-free multi-writer publication and overwrite detection possible).',
];
console.log(notes[1]);
if (SMOKE) console.log('\nBENCH_SMOKE=1: tiny sizes, results not written');
else
  writeResults({
    name: 'columnar-memory',
    title: 'Columnar memory per row',
    method,
    peers,
    machine: m,
    sections: [],
    targets: [],
    notes,
  });
