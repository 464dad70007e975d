// Worker of bench/columnar-append.bench.ts: a writer appends `rows` rows in column blocks to its own
// partition, or a reader runs time-filtered sums until told to stop. Reports its own start/end time.

import { parentPort, workerData } from 'node:worker_threads';
import { ColumnarEventStore, type ColumnarStoreHandle } from '../../src/index.ts';

type Schema = { value: 'f64'; key: 'key' };

interface Data {
  role: 'writer' | 'reader';
  handle: ColumnarStoreHandle<Schema>;
  sync: SharedArrayBuffer;
  partition: number;
  rows: number;
  block: number;
}

const d = workerData as Data;
const sync = new Int32Array(d.sync);
const store = ColumnarEventStore.attach(d.handle);
const keyIds = new Uint32Array(d.block);
for (let i = 0; i < d.block; i++) keyIds[i] = store.keyId(`sensor-${i % 100}`);
const timestamp = new Float64Array(d.block);
const value = new Float64Array(d.block);
for (let i = 0; i < d.block; i++) value[i] = (i * 7919) % 1000;

parentPort!.postMessage({ ready: true });
// Wait for the start signal.
while (Atomics.load(sync, 0) === 0) Atomics.wait(sync, 0, 0, 20);
const startMs = performance.timeOrigin + performance.now();
if (d.role === 'writer') {
  let t = 0;
  for (let done = 0; done < d.rows; done += d.block) {
    for (let i = 0; i < d.block; i++) timestamp[i] = t++;
    store.tryAppendColumns({ timestamp, value, key: keyIds }, d.partition);
  }
  parentPort!.postMessage({ startMs, endMs: performance.timeOrigin + performance.now(), rows: d.rows });
} else {
  let queries = 0;
  // Query until the stop flag is raised.
  while (Atomics.load(sync, 1) === 0) {
    store.sum('value', { from: 0 });
    queries++;
  }
  parentPort!.postMessage({ startMs, endMs: performance.timeOrigin + performance.now(), queries });
}
