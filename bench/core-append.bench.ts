// Append throughput of EventStore against the simplest rings a Node user could write or install,
// all fed the same pre-built event objects, in blocks, with rings already full (every append evicts).

import { CircularBuffer } from 'mnemonist';
import { EventStore } from '../src/index.ts';
import { header } from './lib/machine.ts';
import { printSection } from './lib/markdown.ts';
import { type Section, target, writeResults } from './lib/results.ts';
import { type BenchTask, runTinybench } from './lib/run-tinybench.ts';

interface Reading {
  timestamp: number;
  value: number;
  key: string;
}

const CAPACITY = 100_000;
const BLOCK = 10_000;
const POOL_BLOCKS = 20; // 200_000 events: twice the capacity, so a reused object was evicted long ago

const blocks: Reading[][] = [];
for (let b = 0; b < POOL_BLOCKS; b++) {
  const block: Reading[] = [];
  for (let i = 0; i < BLOCK; i++) {
    const n = b * BLOCK + i;
    block.push({ timestamp: n, value: (n * 7919) % 1000, key: `sensor-${n % 64}` });
  }
  blocks.push(block);
}

// Event time advances 1 ms per appended event across the whole run, so every store sees
// non-decreasing timestamps (the steady state of a live feed). Stamped before each call, untimed.
let clockMs = 1_700_000_000_000;

// push + shift is O(capacity) per event at this size (the array's elements are moved), so it gets
// short blocks: the per-call harness overhead stays negligible next to ~100 µs per event.
const SHORT_BLOCK = 100;
const shortBlocks = blocks.map((b) => b.slice(0, SHORT_BLOCK));

/** A task over `blocks`: each call appends the next block; `beforeEach` stamps it with fresh times. */
function blockTask(name: string, appendBlock: (block: Reading[]) => void, pool = blocks): BenchTask {
  let next = 0;
  let current = pool[0]!;
  return {
    name,
    opsPerCall: current.length,
    beforeEach: () => {
      current = pool[next]!;
      next = next + 1 === POOL_BLOCKS ? 0 : next + 1;
      for (let i = 0; i < current.length; i++) current[i]!.timestamp = clockMs++;
    },
    fn: () => appendBlock(current),
  };
}

/** Appends `CAPACITY` events before timing so every measured append evicts (steady state). */
function fill(append: (e: Reading) => void): void {
  for (let i = 0; i < CAPACITY; i++) append(blocks[(i / BLOCK) | 0]![i % BLOCK]!);
}

const timestampSelector = (e: Reading): number => e.timestamp;
const valueSelector = (e: Reading): number => e.value;

// Peers ---------------------------------------------------------------------------------------------

const ring: (Reading | undefined)[] = new Array<Reading | undefined>(CAPACITY).fill(undefined);
let ringIndex = 0;
const ringWrite = (block: Reading[]): void => {
  let i = ringIndex;
  for (let k = 0; k < block.length; k++) {
    ring[i] = block[k];
    i = i + 1 === CAPACITY ? 0 : i + 1;
  }
  ringIndex = i;
};
ringWrite(blocks[0]!);

const circular = new CircularBuffer<Reading>(Array, CAPACITY);
fill((e) => circular.push(e));

const shifted: Reading[] = [];
fill((e) => shifted.push(e));

// EventStore variants ---------------------------------------------------------------------------------

function store(options: ConstructorParameters<typeof EventStore<Reading>>[0]): EventStore<Reading> {
  const s = new EventStore<Reading>(options);
  fill((e) => s.tryAppend(e));
  return s;
}
const one = store({ capacity: CAPACITY, partitions: 1 });
const eight = store({ capacity: CAPACITY, partitions: 8 });
const timed = store({ capacity: CAPACITY, partitions: 1, timestampSelector });
const windowed = store({
  capacity: CAPACITY,
  partitions: 1,
  timestampSelector,
  window: { sizeMs: 60_000, bucketCount: 60, value: valueSelector },
});
const batchOne = store({ capacity: CAPACITY, partitions: 1 });
const batchEight = store({ capacity: CAPACITY, partitions: 8 });
const batchWindowed = store({
  capacity: CAPACITY,
  partitions: 1,
  timestampSelector,
  window: { sizeMs: 60_000, bucketCount: 60, value: valueSelector },
});

const RING = 'array ring write (limit)';
const MNEMONIST = 'mnemonist CircularBuffer.push';
const DEFAULT = 'EventStore.tryAppend, 1 partition';
const BATCH = 'EventStore.tryAppendBatch, 1 partition';

const tasks: BenchTask[] = [
  blockTask(RING, ringWrite),
  blockTask(MNEMONIST, (block) => {
    for (let k = 0; k < block.length; k++) circular.push(block[k]!);
  }),
  blockTask(
    'array push + shift',
    (block) => {
      for (let k = 0; k < block.length; k++) {
        shifted.push(block[k]!);
        shifted.shift();
      }
    },
    shortBlocks,
  ),
  blockTask(DEFAULT, (block) => {
    for (let k = 0; k < block.length; k++) one.tryAppend(block[k]!);
  }),
  blockTask('EventStore.tryAppend, 8 partitions', (block) => {
    for (let k = 0; k < block.length; k++) eight.tryAppend(block[k]!);
  }),
  blockTask('EventStore.tryAppend, timestampSelector', (block) => {
    for (let k = 0; k < block.length; k++) timed.tryAppend(block[k]!);
  }),
  blockTask('EventStore.tryAppend, timestampSelector + window', (block) => {
    for (let k = 0; k < block.length; k++) windowed.tryAppend(block[k]!);
  }),
  blockTask(BATCH, (block) => batchOne.tryAppendBatch(block)),
  blockTask('EventStore.tryAppendBatch, 8 partitions', (block) => batchEight.tryAppendBatch(block)),
  blockTask('EventStore.tryAppendBatch, timestampSelector + window', (block) =>
    batchWindowed.tryAppendBatch(block),
  ),
];

const method =
  `tinybench 6, runSync; each call appends a block of ${BLOCK.toLocaleString('en')} pre-built events ` +
  `(the same objects for every peer, stamped 1 ms apart, untimed) into a full ring of capacity ` +
  `${CAPACITY.toLocaleString('en')}, so every append evicts (push + shift: ${SHORT_BLOCK} per call); 6 rounds of all tasks in turn, samples ` +
  'pooled; events/s from the median call. EventStore: overflow "overwrite", no partitionKey ' +
  '(round-robin), no callbacks; the window variant uses 60 buckets over 60 s.';
const peers = [
  'bare JS array ring write `ring[i] = e; i = i + 1 === cap ? 0 : i + 1` (the limit)',
  'mnemonist 0.40 CircularBuffer.push (overwrites the oldest when full)',
  'JS array push + shift at a fixed length',
];
const m = header('Core append throughput', method, peers);
const rows = runTinybench(tasks, { rounds: 6, timeMs: 200 });
const section: Section = {
  title: 'Append, steady state (every append evicts)',
  unit: 'event',
  baseline: RING,
  rows,
};
printSection(section);
console.log('');
const targets = [
  target(section, DEFAULT, RING, 0.5),
  target(section, DEFAULT, MNEMONIST, 1.0),
  target(section, BATCH, RING, 0.5),
  target(section, BATCH, MNEMONIST, 1.0),
];

// Sanity: every store really holds CAPACITY events, the newest last (nothing was skipped).
for (const s of [one, eight, timed, windowed, batchOne, batchEight, batchWindowed]) {
  if (s.size !== CAPACITY) throw new Error(`a store holds ${s.size} events, expected ${CAPACITY}`);
}

writeResults({
  name: 'core-append',
  title: 'Core append throughput',
  method,
  peers,
  machine: m,
  sections: [section],
  targets,
  notes: [],
});
