// Snapshot write throughput (serialize + save of a 1 M-event partition, gzip and not) and restore time
// of 1 M events, on the real filesystem under a temporary directory (removed at the end), next to
// plain fs writes and reads of the same bytes and a naive JSON file. ColumnarEventStore snapshots are
// measured too when the store has a snapshot API. LFES_BENCH_SMOKE=1: 50,000 events, no results file.

import { mkdtempSync, rmSync } from 'node:fs';
import { open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lib from '../src/index.ts';
import {
  BinarySnapshotSerializer,
  ColumnarEventStore,
  EventStore,
  FileSystemSnapshotStore,
  type PartitionState,
  type SnapshotOptions,
} from '../src/index.ts';
import { header } from './lib/machine.ts';
import { formatNs, printSection } from './lib/markdown.ts';
import { type Section, writeResults } from './lib/results.ts';
import { type Row, settleHeap } from './lib/run-tinybench.ts';

const SMOKE = process.env.LFES_BENCH_SMOKE === '1';
const EVENTS = SMOKE ? 50_000 : 1_000_000;
const REPS = SMOKE ? 2 : 3;
const KEYS = 64;
const RESTORE_LIMIT_S = 1.5;
const COLUMNAR_WRITE_MBPS = 150;
const COLUMNAR_RESTORE_LIMIT_S = 0.2;

interface Reading {
  timestamp: number;
  value: number;
  key: string;
}

const root = mkdtempSync(join(tmpdir(), 'lfes-bench-io-'));
const keys = Array.from({ length: KEYS }, (_, i) => `sensor-${i}`);
const makeEvent = (n: number): Reading => ({
  timestamp: 1_700_000_000_000 + n,
  value: (n * 7919) % 1000,
  key: keys[n % KEYS]!,
});

const quiet = { info() {}, warn: console.warn, error: console.error };
const options: SnapshotOptions = {
  intervalMs: 0,
  minEventsBetweenSnapshots: 1_000_000_000, // never by itself: only snapshotNow()
  snapshotsToKeep: 2,
  logger: quiet,
};

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Runs `fn` REPS times (after a full GC each), returns the median wall time in ms. */
async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < REPS; r++) {
    settleHeap();
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

/** A row whose operation is one byte: `bytes` moved in `ms`. */
const byteRow = (name: string, bytes: number, ms: number): Row => ({
  name,
  opsPerSec: (bytes * 1000) / ms,
  medianNs: (ms * 1e6) / bytes,
  rmePct: 0,
  samples: REPS,
});

/** A row whose operation is one whole restore, taking `ms`. */
const restoreRow = (name: string, ms: number): Row => ({
  name,
  opsPerSec: 1000 / ms,
  medianNs: ms * 1e6,
  rmePct: 0,
  samples: REPS,
});

const mbps = (row: Row): string => `${(row.opsPerSec / 1e6).toFixed(0)} MB/s`;

// The store being snapshotted --------------------------------------------------------------------------

const source = new EventStore<Reading>({ capacity: EVENTS, partitions: 1 });
for (let n = 0; n < EVENTS; n++) source.tryAppend(makeEvent(n));
let nextEvent = EVENTS;

const method =
  `EventStore<{ timestamp, value, key }> with 1 partition holding ${EVENTS.toLocaleString('en')} events ` +
  `(JSON about 60 bytes each, the default JsonEventCodec), written under ${tmpdir()} (ext4 on the VM's ` +
  'virtual disk). Write: snapshotNow() runs the whole save (capture, encode in slices, gzip level 1 in ' +
  'the thread pool when on, temp file write + fsync + read-back check + link + directory fsync, prune); ' +
  'one event is appended untimed before each so the partition has changed. MB/s is always the ' +
  'uncompressed snapshot size over the time (the rate of data snapshotted). Restore: a new store, ' +
  `configureSnapshots, restoreFromSnapshots() (read, checksum, gunzip, decode, refill). Median of ${REPS} ` +
  'runs each, after a full GC.';
const peers = [
  'fs.writeFile / fs.readFile of the same snapshot bytes (the limits; with and without fsync)',
  'a naive snapshot: JSON.stringify of the events array + writeFile, readFile + JSON.parse',
];
const m = header('Snapshot write and restore', method, peers);

const sections: Section[] = [];
const notes: string[] = [];

try {
  // Write -------------------------------------------------------------------------------------------------
  const variants = [
    { name: 'uncompressed', compress: false },
    { name: 'gzip', compress: true },
  ];
  const snapshotters = variants.map((v) => {
    const dir = join(root, v.name);
    const store = new EventStore<Reading>({ capacity: EVENTS, partitions: 1 });
    for (const e of source.snapshot()) store.tryAppend(e);
    const snapshotter = store.configureSnapshots(
      options,
      new BinarySnapshotSerializer<Reading>({ compress: v.compress }),
      new FileSystemSnapshotStore(dir, { fsyncDirectory: true }),
    );
    return { ...v, dir, store, snapshotter, serializer: new BinarySnapshotSerializer<Reading>(v) };
  });

  const state: PartitionState<Reading> = {
    partition: 0,
    partitions: 1,
    version: EVENTS,
    takenAtMs: Date.now(),
    events: source.snapshot(),
  };
  const plainBytes = await snapshotters[0]!.serializer.serialize(state);
  const gzipBytes = await snapshotters[1]!.serializer.serialize(state);
  const U = plainBytes.length;
  console.log(
    `snapshot of ${EVENTS.toLocaleString('en')} events: ${(U / 1e6).toFixed(1)} MB uncompressed, ` +
      `${(gzipBytes.length / 1e6).toFixed(1)} MB gzip`,
  );

  const writeRows: Row[] = [];
  for (const s of snapshotters) {
    await s.snapshotter.snapshotNow(); // warm-up, and the first file
    const ms = await timeMs(async () => {
      s.store.tryAppend(makeEvent(nextEvent++));
      const saved = await s.snapshotter.snapshotNow();
      if (saved !== 1) throw new Error(`snapshotNow saved ${saved} partitions, expected 1`);
    });
    writeRows.push(byteRow(`snapshotNow(), ${s.name} (whole save)`, U, ms));
  }
  for (const s of snapshotters) {
    const ms = await timeMs(() => s.serializer.serialize(state));
    writeRows.push(byteRow(`serialize only, ${s.name}`, U, ms));
  }
  const fsStore = new FileSystemSnapshotStore(join(root, 'save-only'), { fsyncDirectory: true });
  let version = 1;
  const saveMs = await timeMs(() =>
    fsStore.save({ partition: 0, version: version++, takenAtMs: Date.now() }, plainBytes),
  );
  writeRows.push(byteRow('FileSystemSnapshotStore.save only, uncompressed bytes', U, saveMs));
  const LIMIT = 'fs.writeFile of the same bytes (limit)';
  let peerFile = 0;
  const writeFileMs = await timeMs(() => writeFile(join(root, `peer-${peerFile++}.bin`), plainBytes));
  writeRows.push(byteRow(LIMIT, U, writeFileMs));
  const syncedMs = await timeMs(async () => {
    const fh = await open(join(root, `peer-${peerFile++}.bin`), 'wx');
    try {
      await fh.writeFile(plainBytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
  writeRows.push(byteRow('fs write + fsync of the same bytes (durable limit)', U, syncedMs));
  const naiveWriteMs = await timeMs(() =>
    writeFile(join(root, 'naive.json'), JSON.stringify(source.snapshot())),
  );
  writeRows.push(byteRow('naive: JSON.stringify(array) + fs.writeFile', U, naiveWriteMs));
  const write: Section = {
    title: `Snapshot write, ${EVENTS.toLocaleString('en')} events (bytes/s = uncompressed snapshot bytes per second)`,
    unit: 'byte',
    baseline: LIMIT,
    rows: writeRows,
  };
  sections.push(write);
  printSection(write);

  // Restore -----------------------------------------------------------------------------------------------
  for (const s of snapshotters) await s.snapshotter.stop();
  const restoreRows: Row[] = [];
  let checkedRestore = false;
  for (const s of snapshotters) {
    const ms = await timeMs(async () => {
      const store = new EventStore<Reading>({ capacity: EVENTS, partitions: 1 });
      store.configureSnapshots(
        options,
        new BinarySnapshotSerializer<Reading>({ compress: s.compress }),
        new FileSystemSnapshotStore(s.dir, { fsyncDirectory: true }),
      );
      const restored = await store.restoreFromSnapshots();
      if (restored !== 1 || store.size !== EVENTS) {
        throw new Error(`restore gave ${restored} partitions and ${store.size} events`);
      }
      if (!checkedRestore) {
        const a = store.snapshot();
        const b = s.store.snapshot();
        for (const i of [0, EVENTS >> 1, EVENTS - 1]) {
          if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) throw new Error(`restored event ${i} differs`);
        }
        checkedRestore = true;
      }
    });
    restoreRows.push(restoreRow(`restoreFromSnapshots(), ${s.name}`, ms));
  }
  for (const s of snapshotters) {
    const bytes = s.compress ? gzipBytes : plainBytes;
    const ms = await timeMs(async () => {
      const back = await s.serializer.deserialize(bytes);
      if (back.events.length !== EVENTS) throw new Error('deserialize lost events');
    });
    restoreRows.push(restoreRow(`deserialize only, ${s.name}`, ms));
  }
  const plainFile = join(root, 'peer-0.bin');
  const READ = 'fs.readFile of the uncompressed snapshot (limit)';
  restoreRows.push(restoreRow(READ, await timeMs(() => readFile(plainFile))));
  restoreRows.push(
    restoreRow(
      'naive: fs.readFile + JSON.parse(array)',
      await timeMs(async () => {
        const events = JSON.parse(await readFile(join(root, 'naive.json'), 'utf8')) as Reading[];
        if (events.length !== EVENTS) throw new Error('naive restore lost events');
      }),
    ),
  );
  const restore: Section = {
    title: `Restore of ${EVENTS.toLocaleString('en')} events into a new EventStore`,
    unit: 'restore',
    baseline: READ,
    rows: restoreRows,
  };
  sections.push(restore);
  printSection(restore);

  const worstRestoreMs = Math.max(...restoreRows.slice(0, 2).map((r) => r.medianNs / 1e6));
  const judged = EVENTS === 1_000_000;
  notes.push(
    `Snapshot of ${EVENTS.toLocaleString('en')} events: ${(U / 1e6).toFixed(1)} MB uncompressed, ` +
      `${(gzipBytes.length / 1e6).toFixed(1)} MB with gzip level 1. Whole save: ${mbps(writeRows[0]!)} ` +
      `uncompressed, ${mbps(writeRows[1]!)} with gzip (of uncompressed data).`,
    `Absolute target "restore of 1 M events ≤ ${RESTORE_LIMIT_S} s": ` +
      `${restoreRows
        .slice(0, 2)
        .map((r) => `${r.name} ${formatNs(r.medianNs)}`)
        .join(', ')} ` +
      `(${judged ? (worstRestoreMs <= RESTORE_LIMIT_S * 1000 ? 'reached' : 'missed') : 'smoke size: not judged'}).`,
  );

  // Columnar ------------------------------------------------------------------------------------------------
  notes.push(...(await columnar()));
} finally {
  rmSync(root, { recursive: true, force: true });
}

for (const n of notes) console.log(`\n${n}`);
if (SMOKE) console.log('\nBENCH_SMOKE=1: tiny sizes, results not written');
else
  writeResults({
    name: 'snapshot-io',
    title: 'Snapshot write and restore',
    method,
    peers,
    machine: m,
    sections,
    targets: [],
    notes,
  });

/**
 * ColumnarEventStore snapshots, when the store has `configureSnapshots` and the library exports
 * `ColumnarSnapshotSerializer` (looked up at run time, so this file runs with or without them).
 * Pushes a write section and a restore section; returns the notes.
 */
async function columnar(): Promise<string[]> {
  type ColumnarSnapshotter = { snapshotNow(): Promise<number>; stop(): Promise<void> };
  type Configurable = {
    configureSnapshots?: (
      options: SnapshotOptions,
      serializer: unknown,
      store: unknown,
    ) => ColumnarSnapshotter;
    restoreFromSnapshots?: () => Promise<number>;
    readonly size: number;
  };
  const create = () =>
    ColumnarEventStore.create({
      columns: { value: 'f64', key: 'key' },
      partitions: 1,
      capacityPerPartition: EVENTS,
      keyCapacity: 1024,
    });
  const probe = create() as unknown as Configurable;
  const Serializer = (lib as Record<string, unknown>).ColumnarSnapshotSerializer as
    | (new (o: {
        compress: boolean;
      }) => unknown)
    | undefined;
  const targets = `(targets: write ≥ ${COLUMNAR_WRITE_MBPS} MB/s, restore of 1 M rows ≤ ${COLUMNAR_RESTORE_LIMIT_S} s)`;
  if (
    typeof probe.configureSnapshots !== 'function' ||
    typeof probe.restoreFromSnapshots !== 'function' ||
    Serializer === undefined
  ) {
    console.log('\nColumnarEventStore has no snapshot API in this tree: columnar rows skipped');
    return [
      `ColumnarEventStore snapshots: not measured, the store has no \`configureSnapshots\` in this tree ${targets}; ` +
        'this file measures them once it has.',
    ];
  }
  const configure = (s: Configurable, dir: string, compress: boolean): ColumnarSnapshotter =>
    s.configureSnapshots!(
      options,
      new Serializer({ compress }),
      new FileSystemSnapshotStore(dir, { fsyncDirectory: true }),
    );

  /** A new store holding EVENTS rows (same values as the event store's). */
  const filled = () => {
    const cs = create();
    const BLOCK = 4096;
    const ts = new Float64Array(BLOCK);
    const value = new Float64Array(BLOCK);
    const key = new Uint32Array(BLOCK);
    const ids = keys.map((k) => cs.keyId(k));
    for (let n = 0; n < EVENTS; n += BLOCK) {
      const len = Math.min(BLOCK, EVENTS - n);
      for (let i = 0; i < len; i++) {
        ts[i] = 1_700_000_000_000 + n + i;
        value[i] = ((n + i) * 7919) % 1000;
        key[i] = ids[(n + i) % KEYS]!;
      }
      cs.tryAppendColumns({
        timestamp: ts.subarray(0, len),
        value: value.subarray(0, len),
        key: key.subarray(0, len),
      });
    }
    if (cs.size !== EVENTS) throw new Error(`columnar store holds ${cs.size} rows, expected ${EVENTS}`);
    return cs;
  };
  /** Size and path of the newest (largest version) snapshot file of partition 0 under `dir`. */
  const newest = async (dir: string): Promise<{ path: string; bytes: number }> => {
    const names = (await readdir(join(dir, '0'))).filter((n) => n.endsWith('.snap'));
    names.sort((a, b) => Number(b.split('_')[1]) - Number(a.split('_')[1]));
    const path = join(dir, '0', names[0]!);
    return { path, bytes: (await stat(path)).size };
  };

  const saves: { name: string; ms: number }[] = [];
  const restoreRows: Row[] = [];
  const sizes: Record<string, number> = {};
  let rawFile = '';
  let rawBytes = 0;
  for (const compress of [false, true]) {
    const name = compress ? 'gzip' : 'uncompressed';
    const dir = join(root, `columnar-${name}`);
    const cs = filled();
    const snap = configure(cs as unknown as Configurable, dir, compress);
    await snap.snapshotNow(); // warm-up, and the first file
    let n = EVENTS;
    const ms = await timeMs(async () => {
      cs.tryAppend({ timestamp: 1_700_000_000_000 + n, value: n % 1000, key: keys[n % KEYS]! });
      n++;
      const saved = await snap.snapshotNow();
      if (saved !== 1) throw new Error(`columnar snapshotNow saved ${saved} partitions, expected 1`);
    });
    await snap.stop();
    const file = await newest(dir);
    sizes[name] = file.bytes;
    if (!compress) {
      rawFile = file.path;
      rawBytes = file.bytes;
    }
    saves.push({ name: `ColumnarEventStore snapshotNow(), ${name} (whole save)`, ms });
    const restoreMs = await timeMs(async () => {
      const s = create() as unknown as Configurable;
      configure(s, dir, compress);
      const restored = await s.restoreFromSnapshots!();
      if (restored !== 1 || s.size !== EVENTS) throw new Error(`columnar restore gave ${s.size} rows`);
    });
    restoreRows.push(restoreRow(`ColumnarEventStore restoreFromSnapshots(), ${name}`, restoreMs));
  }
  // Rates over the uncompressed snapshot size, as for the event store.
  const writeRows = saves.map((x) => byteRow(x.name, rawBytes, x.ms));
  const bytes = await readFile(rawFile);
  const LIMIT = 'fs.writeFile of the same bytes (limit)';
  let peer = 0;
  const saveStore = new FileSystemSnapshotStore(join(root, 'columnar-save-only'), { fsyncDirectory: true });
  let version = 1;
  writeRows.push(
    byteRow(
      'FileSystemSnapshotStore.save only, same bytes',
      rawBytes,
      await timeMs(() => saveStore.save({ partition: 0, version: version++, takenAtMs: Date.now() }, bytes)),
    ),
  );
  writeRows.push(
    byteRow(LIMIT, rawBytes, await timeMs(() => writeFile(join(root, `columnar-peer-${peer++}.bin`), bytes))),
  );
  writeRows.push(
    byteRow(
      'fs write + fsync of the same bytes (durable limit)',
      rawBytes,
      await timeMs(async () => {
        const fh = await open(join(root, `columnar-peer-${peer++}.bin`), 'wx');
        try {
          await fh.writeFile(bytes);
          await fh.sync();
        } finally {
          await fh.close();
        }
      }),
    ),
  );
  const READ = 'fs.readFile of the uncompressed snapshot (limit)';
  restoreRows.push(restoreRow(READ, await timeMs(() => readFile(rawFile))));
  const write: Section = {
    title: `ColumnarEventStore snapshot write, ${EVENTS.toLocaleString('en')} rows (timestamp, f64 value, key)`,
    unit: 'byte',
    baseline: LIMIT,
    rows: writeRows,
  };
  const restore: Section = {
    title: `ColumnarEventStore restore of ${EVENTS.toLocaleString('en')} rows`,
    unit: 'restore',
    baseline: READ,
    rows: restoreRows,
  };
  sections.push(write, restore);
  printSection(write);
  printSection(restore);
  const judged = EVENTS === 1_000_000;
  const verdict = (ok: boolean) => (judged ? (ok ? 'reached' : 'missed') : 'smoke size: not judged');
  const rates = writeRows.slice(0, 2).map((r) => r.opsPerSec / 1e6);
  const restoreMs = restoreRows.slice(0, 2).map((r) => r.medianNs / 1e6);
  return [
    `Columnar snapshot of ${EVENTS.toLocaleString('en')} rows: ${(sizes.uncompressed! / 1e6).toFixed(1)} MB ` +
      `uncompressed, ${(sizes.gzip! / 1e6).toFixed(1)} MB with gzip level 1.`,
    `Absolute target "columnar snapshot write ≥ ${COLUMNAR_WRITE_MBPS} MB/s": ${rates[0]!.toFixed(0)} MB/s ` +
      `uncompressed (${verdict(rates[0]! >= COLUMNAR_WRITE_MBPS)}), ${rates[1]!.toFixed(0)} MB/s with gzip ` +
      `(${verdict(rates[1]! >= COLUMNAR_WRITE_MBPS)}).`,
    `Absolute target "restore of 1 M columnar rows ≤ ${COLUMNAR_RESTORE_LIMIT_S} s": ` +
      `${formatNs(restoreMs[0]! * 1e6)} uncompressed (${verdict(restoreMs[0]! <= COLUMNAR_RESTORE_LIMIT_S * 1000)}), ` +
      `${formatNs(restoreMs[1]! * 1e6)} with gzip (${verdict(restoreMs[1]! <= COLUMNAR_RESTORE_LIMIT_S * 1000)}).`,
  ];
}
