// Stress harness of the columnar store: W writer workers × N self-checking rows, R live reader
// workers, seeded noise at the protocol's critical points, then a final audit from the main thread.
// Reports lost / duplicated / torn / out-of-order rows; the same harness runs the broken variants.

import { Worker } from 'node:worker_threads';
import { ColumnarEventStore } from '../../src/columnar/columnar-event-store.ts';
import type { CrasherData, InternerData, ReaderData, WriterData } from '../fixtures/columnar-worker.ts';
import { checkRow, STRESS_COLUMNS, type StressSchema } from './columnar-rows.ts';
import type { WriteStrategy } from './columnar-write-strategies.ts';

export const WORKER_URL = new URL('../fixtures/columnar-worker.ts', import.meta.url);
const BOOTSTRAP_URL = new URL('../fixtures/tsx-worker.mjs', import.meta.url);

/** Starts the fixture worker with `data` (through a bootstrap that registers tsx in the worker). */
export function startWorker(data: WriterData | ReaderData | CrasherData | InternerData): Worker {
  return new Worker(BOOTSTRAP_URL, { workerData: { ...data, fixture: WORKER_URL.href } });
}

/** Resolves when the worker reached its start barrier (it posts `{ ready: true }` there). */
export function ready(worker: Worker): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (m: { ready?: boolean }): void => {
      if (m.ready !== true) return;
      worker.off('message', onMessage);
      resolve();
    };
    worker.on('message', onMessage);
    worker.once('exit', () => resolve());
  });
}

/** Resolves with the worker's messages (except `ready`) when it exits; rejects on an error or a non-zero exit. */
export function collect<M>(worker: Worker): Promise<M[]> {
  return new Promise((resolve, reject) => {
    const messages: M[] = [];
    worker.on('message', (m: M & { ready?: boolean }) => {
      if (m.ready !== true) messages.push(m);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code === 0) resolve(messages);
      else reject(new Error(`worker exited with code ${code}`));
    });
  });
}

export interface TrialConfig {
  seed: number;
  writers: number;
  readers: number;
  rowsPerWriter: number;
  maxBatch: number;
  partitions: number;
  capacityPerPartition: number;
  /** Probability of noise at each critical point, for writers and readers. */
  noiseProbability: number;
  strategy: WriteStrategy;
  abortTimeoutMs: number;
}

export interface TrialResult {
  seed: number;
  acked: number;
  present: number;
  lost: number;
  duplicated: number;
  torn: number;
  outOfOrder: number;
  /** Rows present that no writer acknowledged. */
  phantom: number;
  liveTorn: number;
  liveOutOfOrder: number;
  liveGroupMismatch: number;
  /** Readers' answers (possibly from block summaries) that differ from a fresh read once writers stopped. */
  summaryMismatch: number;
  liveRowsChecked: number;
  abortedSlots: number;
  workerErrors: string[];
}

/** Whether a trial saw any violation of the contract. */
export function violated(r: TrialResult): boolean {
  return (
    r.lost +
      r.duplicated +
      r.torn +
      r.outOfOrder +
      r.phantom +
      r.liveTorn +
      r.liveOutOfOrder +
      r.liveGroupMismatch +
      r.summaryMismatch >
      0 || r.workerErrors.length > 0
  );
}

/** A one-line summary of a trial (printed with the seed on failure). */
export function describeTrial(c: TrialConfig, r: TrialResult): string {
  return (
    `seed=${c.seed} strategy=${c.strategy} W=${c.writers} R=${c.readers} cap=${c.capacityPerPartition}x${c.partitions} ` +
    `p=${c.noiseProbability}: acked=${r.acked} present=${r.present} lost=${r.lost} dup=${r.duplicated} ` +
    `torn=${r.torn} outOfOrder=${r.outOfOrder} phantom=${r.phantom} liveTorn=${r.liveTorn} ` +
    `liveOutOfOrder=${r.liveOutOfOrder} liveGroupMismatch=${r.liveGroupMismatch} summaryMismatch=${r.summaryMismatch} ` +
    `liveRows=${r.liveRowsChecked} aborted=${r.abortedSlots} errors=${r.workerErrors.length}`
  );
}

export async function runTrial(c: TrialConfig): Promise<TrialResult> {
  const store = ColumnarEventStore.create<StressSchema>({
    columns: { ...STRESS_COLUMNS },
    partitions: c.partitions,
    capacityPerPartition: c.capacityPerPartition,
    abortTimeoutMs: c.abortTimeoutMs,
    enableFalseSharingProtection: true,
  });
  const syncBuffer = new SharedArrayBuffer(8);
  const sync = new Int32Array(syncBuffer);
  const common = {
    handle: store.handle,
    sync: syncBuffer,
    seed: c.seed,
    noiseProbability: c.noiseProbability,
    strategy: c.strategy,
  };
  const errors: string[] = [];
  const writers = Array.from({ length: c.writers }, (_, w) =>
    startWorker({ ...common, role: 'writer', writer: w, rows: c.rowsPerWriter, maxBatch: c.maxBatch }),
  );
  const readers = Array.from({ length: c.readers }, (_, r) =>
    startWorker({ ...common, role: 'reader', reader: r }),
  );
  const writerDone = writers.map((w) =>
    collect<{ acks: number[] }>(w).catch((e: unknown) => {
      errors.push(String(e));
      return [] as { acks: number[] }[];
    }),
  );
  const readerDone = readers.map((w) =>
    collect<{
      torn: number;
      outOfOrder: number;
      rowsChecked: number;
      groupMismatch: number;
      summaryMismatch: number;
    }>(w).catch((e: unknown) => {
      errors.push(String(e));
      return [];
    }),
  );
  await Promise.all([...writers, ...readers].map(ready));
  // Release the start barrier.
  Atomics.store(sync, 0, 1);
  Atomics.notify(sync, 0);
  const writerMessages = await Promise.all(writerDone);
  // Tell the readers to finish after one more pass.
  Atomics.store(sync, 1, 1);
  const readerMessages = await Promise.all(readerDone);

  // Acknowledged rows per (writer, partition), in append order.
  const acked = new Map<string, number[]>();
  const ackedPerPartition = new Array<number>(c.partitions).fill(0);
  const ackedSet = new Set<number>();
  let ackedTotal = 0;
  writerMessages.forEach((msgs, w) => {
    for (const m of msgs) {
      for (let i = 0; i < m.acks.length; i += 3) {
        const p = m.acks[i]!;
        const first = m.acks[i + 1]!;
        const n = m.acks[i + 2]!;
        const key = `${w}/${p}`;
        let list = acked.get(key);
        if (list === undefined) acked.set(key, (list = []));
        for (let k = 0; k < n; k++) {
          list.push(first + k);
          ackedSet.add(w * 2 ** 24 + first + k);
        }
        ackedPerPartition[p]! += n;
        ackedTotal += n;
      }
    }
  });

  const r: TrialResult = {
    seed: c.seed,
    acked: ackedTotal,
    present: 0,
    lost: 0,
    duplicated: 0,
    torn: 0,
    outOfOrder: 0,
    phantom: 0,
    liveTorn: 0,
    liveOutOfOrder: 0,
    liveGroupMismatch: 0,
    summaryMismatch: 0,
    liveRowsChecked: 0,
    abortedSlots: store.statistics.abortedSlots,
    workerErrors: errors,
  };
  for (const msgs of readerMessages) {
    for (const m of msgs) {
      r.liveTorn += m.torn;
      r.liveOutOfOrder += m.outOfOrder;
      r.liveGroupMismatch += m.groupMismatch;
      r.summaryMismatch += m.summaryMismatch;
      r.liveRowsChecked += m.rowsChecked;
    }
  }

  // Final audit from this thread, after every worker exited.
  const seen = new Set<number>();
  for (let p = 0; p < c.partitions; p++) {
    const snap = store.snapshotColumns({ partition: p });
    const col = snap.columns;
    const present = new Map<number, number[]>();
    let rowsHere = 0;
    for (let i = 0; i < snap.length; i++) {
      const w = col.writer[i]!;
      const idx = col.idx[i]!;
      const label = store.keyOf(col.label[i]!) ?? '?';
      if (!checkRow(col.timestamp[i]!, col.value[i]!, w, idx, col.chk[i]!, col.f[i]!, label)) {
        r.torn++;
        continue;
      }
      const id = w * 2 ** 24 + idx;
      if (seen.has(id)) r.duplicated++;
      seen.add(id);
      if (!ackedSet.has(id)) r.phantom++;
      let list = present.get(w);
      if (list === undefined) present.set(w, (list = []));
      if (list.length > 0 && list[list.length - 1]! >= idx) r.outOfOrder++;
      list.push(idx);
      rowsHere++;
    }
    r.present += rowsHere;
    // Every acknowledged row still inside the ring's window must be present: per writer, the
    // present rows are exactly the newest acknowledged ones (a suffix), and the partition holds
    // min(capacity, acknowledged) rows when nothing was aborted.
    for (let w = 0; w < c.writers; w++) {
      const want = acked.get(`${w}/${p}`) ?? [];
      const have = present.get(w) ?? [];
      const suffix = want.slice(Math.max(0, want.length - have.length));
      for (let k = 0; k < have.length; k++) if (have[k] !== suffix[k]) r.lost++;
    }
    if (r.abortedSlots === 0) {
      const expected = Math.min(c.capacityPerPartition, ackedPerPartition[p]!);
      if (rowsHere < expected) r.lost += expected - rowsHere;
    }
  }
  return r;
}
