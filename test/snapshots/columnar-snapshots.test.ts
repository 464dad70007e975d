import assert from 'node:assert/strict';
import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { NoisePoint, TEST_HOOKS } from '../../src/columnar/test-hooks.ts';
import {
  BinarySnapshotSerializer,
  type ColumnArray,
  ColumnarEventStore,
  type ColumnarEventStoreOptions,
  type ColumnarPartitionImage,
  ColumnarSnapshotSerializer,
  type ColumnSchema,
  ErrorCode,
  EventStore,
  FileSystemSnapshotStore,
  type SnapshotLogger,
  type SnapshotOptions,
} from '../../src/index.ts';
import type { AppenderData } from '../fixtures/columnar-appender.ts';
import { sequencerState } from '../helpers/columnar-control.ts';
import { collect, ready } from '../helpers/columnar-harness.ts';
import { checkRow, STRESS_COLUMNS, type StressSchema } from '../helpers/columnar-rows.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const COLUMNS = { value: 'f64', f: 'f32', n: 'i32', u: 'u32', label: 'key', host: 'key' } as const;
type Schema = { -readonly [K in keyof typeof COLUMNS]: (typeof COLUMNS)[K] };
type Row = { timestamp: number; value: number; f: number; n: number; u: number; label: string; host: string };

const storeOptions: ColumnarEventStoreOptions<Schema> = {
  columns: { ...COLUMNS },
  capacityPerPartition: 500,
  partitions: 3,
  partitionKey: 'label',
};

function row(i: number): Row {
  return {
    // Mostly increasing, with some late rows.
    timestamp: 10_000 + i * 3 - (i % 5 === 0 ? 40 : 0),
    value: ((i * 37) % 101) + 0.25,
    f: Math.fround(i / 7),
    n: (i % 13) - 6,
    u: Math.imul(i, 0x9e3779b1) >>> 0,
    label: i % 3 === 0 ? `ключ-${i % 7}` : `s${i % 7}`,
    host: `h${i % 4}`,
  };
}

function memoryLogger(): SnapshotLogger & { lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  return {
    lines,
    info: (_obj, msg = '') => lines.push({ level: 'info', msg }),
    warn: (_obj, msg = '') => lines.push({ level: 'warn', msg }),
    error: (_obj, msg = '') => lines.push({ level: 'error', msg }),
  };
}

function open<S extends ColumnSchema = Schema>(
  root: string,
  options: SnapshotOptions = {},
  compress = false,
  store: ColumnarEventStoreOptions<S> = storeOptions as unknown as ColumnarEventStoreOptions<S>,
  schemaVersion = 1,
) {
  const cs = ColumnarEventStore.create<S>(store);
  const logger = memoryLogger();
  const snapshotter = cs.configureSnapshots(
    { intervalMs: 0, minEventsBetweenSnapshots: 1_000_000, logger, ...options },
    new ColumnarSnapshotSerializer({ compress, schemaVersion }),
    new FileSystemSnapshotStore(root),
  );
  return { cs, snapshotter, logger };
}

/** Everything a user can observe through queries (topK ties ordered by key: ids may differ). */
function observe(cs: ColumnarEventStore<Schema>): unknown {
  const ranges = [{}, { from: 10_100, to: 10_900 }, { from: 10_500 }, { to: 10_300 }, { partition: 1 }];
  const byKey = <V>(m: Map<string, V>): [string, V][] => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return {
    snapshot: cs.snapshot(),
    size: cs.size,
    perRange: ranges.map((q) => [
      cs.count(q),
      cs.sum('value', q),
      cs.window('value', q),
      cs.window('f', q),
      cs.window('n', q),
      cs.window('u', q),
      cs.window('timestamp', q),
      byKey(cs.groupBy('label', 'value', q)),
      byKey(cs.groupBy('host', 'n', q)),
      cs.topK('host', 'value', 3, q).sort((a, b) => b.sum - a.sum || (a.key < b.key ? -1 : 1)),
      cs.count({ ...q, where: { host: 'h1' } }),
    ]),
  };
}

function appendRows(cs: ColumnarEventStore<Schema>, from: number, to: number, partition?: number): void {
  for (let i = from; i < to; i++) assert.ok(cs.tryAppend(row(i), partition));
}

async function snapFiles(root: string, p: number): Promise<string[]> {
  return (await readdir(join(root, String(p)))).filter((n) => n.endsWith('.snap')).sort();
}

describe('ColumnarEventStore snapshots', () => {
  for (const compress of [false, true]) {
    it(`restores into a new store with identical queries ${compress ? 'with' : 'without'} compression`, async () => {
      const root = await tempDir();
      const a = open(root, {}, compress);
      appendRows(a.cs, 0, 2500); // more than the 3 x 500 rings hold: they wrap
      assert.equal(await a.snapshotter.snapshotNow(), 3);
      const b = open(root, {}, compress);
      // Keys interned in another order first: ids differ, strings must not.
      b.cs.keyId('zzz');
      b.cs.keyId('h3');
      assert.equal(await b.cs.restoreFromSnapshots(), 3);
      assert.notEqual(b.cs.keyId('h3'), a.cs.keyId('h3'));
      assert.deepEqual(observe(b.cs), observe(a.cs));
      assert.deepEqual(
        b.snapshotter.metrics().partitions.map((m) => m.lastVersion),
        a.snapshotter.metrics().partitions.map((m) => m.lastVersion),
      );
      // Both stores go on identically: same slots evicted next.
      appendRows(a.cs, 2500, 2900);
      appendRows(b.cs, 2500, 2900);
      assert.deepEqual(observe(b.cs), observe(a.cs));
    });
  }

  it('restores a cleared partition (fewer rows than the ring) and keeps evicting like the original', async () => {
    const root = await tempDir();
    const a = open(root);
    appendRows(a.cs, 0, 1200);
    a.cs.clear();
    appendRows(a.cs, 1200, 1290);
    assert.equal(await a.snapshotter.snapshotNow(), 3);
    const b = open(root);
    assert.equal(await b.cs.restoreFromSnapshots(), 3);
    assert.deepEqual(observe(b.cs), observe(a.cs));
    for (const end of [1500, 2600]) {
      appendRows(a.cs, end - 300, end);
      appendRows(b.cs, end - 300, end);
      assert.deepEqual(observe(b.cs), observe(a.cs));
    }
  });

  it('continues versions after a restore, so new snapshots sort above the old ones', async () => {
    const root = await tempDir();
    const a = open(root, { snapshotsToKeep: 1 });
    appendRows(a.cs, 0, 30, 0);
    await a.snapshotter.snapshotNow();
    const b = open(root, { snapshotsToKeep: 1 });
    assert.equal(await b.cs.restoreFromSnapshots(), 1);
    assert.equal(sequencerState(b.cs, 0).cursor, 30);
    assert.equal(b.snapshotter.metrics().partitions[0]!.lastVersion, 30);
    appendRows(b.cs, 30, 31, 0);
    assert.equal(await b.snapshotter.snapshotNow(), 1);
    const files = await snapFiles(root, 0);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^0_31_\d+\.snap$/);
    const c = open(root);
    await c.cs.restoreFromSnapshots();
    assert.deepEqual(
      c.cs.snapshot().map((r) => r.u),
      Array.from({ length: 31 }, (_, i) => row(i).u),
    );
  });

  it('continues versions across the modular sequence wrap (past 2^32 too)', async () => {
    const root = await tempDir();
    const opts: ColumnarEventStoreOptions<Schema> = {
      columns: { ...COLUMNS },
      capacityPerPartition: 16,
      partitions: 1,
    };
    const seed = ColumnarEventStore.create<Schema>(opts);
    const M = sequencerState(seed, 0).modulus;
    appendRows(seed, 0, 8);
    const snap = seed.snapshotColumns();
    // A snapshot whose version is 5 short of the 4th wrap of the sequence modulus.
    const V = 4 * M - 5;
    const keys = [...new Set(snap.columns.label), ...new Set(snap.columns.host)].map((id) => seed.keyOf(id)!);
    const toIndex = (ids: Uint32Array): Uint32Array => ids.map((id) => keys.indexOf(seed.keyOf(id)!));
    const image: ColumnarPartitionImage = {
      columns: [
        { name: 'timestamp', type: 'f64' },
        ...Object.entries(COLUMNS).map(([name, type]) => ({ name, type })),
      ],
      length: snap.length,
      data: [
        snap.columns.timestamp,
        snap.columns.value,
        snap.columns.f,
        snap.columns.n,
        snap.columns.u,
        toIndex(snap.columns.label),
        toIndex(snap.columns.host),
      ] as ColumnArray[],
      keys,
    };
    const bytes = await new ColumnarSnapshotSerializer().serialize({
      partition: 0,
      partitions: 1,
      version: V,
      takenAtMs: Date.now(),
      events: [image],
    });
    await new FileSystemSnapshotStore(root).save({ partition: 0, version: V, takenAtMs: Date.now() }, bytes);

    const b = open(root, {}, false, opts);
    assert.equal(await b.cs.restoreFromSnapshots(), 1);
    assert.deepEqual(b.cs.snapshot(), seed.snapshot());
    assert.equal(sequencerState(b.cs, 0).cursor, V % M);
    appendRows(b.cs, 8, 18); // the raw cursor wraps past M to 5
    assert.equal(sequencerState(b.cs, 0).cursor, 5);
    assert.equal(await b.snapshotter.snapshotNow(), 1);
    assert.equal(b.snapshotter.metrics().partitions[0]!.lastVersion, V + 10);
    assert.ok(
      (await snapFiles(root, 0)).includes(
        `0_${V + 10}_${b.snapshotter.metrics().partitions[0]!.lastSnapshotAt!.getTime()}.snap`,
      ),
    );
    const c = open(root, {}, false, opts);
    await c.cs.restoreFromSnapshots();
    assert.equal(c.cs.size, 16);
    assert.deepEqual(c.cs.snapshot(), b.cs.snapshot());
    assert.equal(c.snapshotter.metrics().partitions[0]!.lastVersion, V + 10);
  });

  it('writes only the partitions that changed since their last snapshot', async () => {
    const root = await tempDir();
    const a = open(root);
    appendRows(a.cs, 1, 2, 0);
    appendRows(a.cs, 2, 3, 2);
    assert.equal(await a.snapshotter.snapshotNow(), 2);
    assert.equal(await a.snapshotter.snapshotNow(), 0);
    appendRows(a.cs, 3, 4, 2);
    assert.equal(await a.snapshotter.snapshotNow(), 1);
    a.cs.clear();
    assert.equal(await a.snapshotter.snapshotNow(), 2, 'a clear is a change (partition 1 never had a row)');
    assert.equal(await a.snapshotter.snapshotNow(), 0);
    assert.deepEqual(
      a.snapshotter.metrics().partitions.map((p) => p.successes),
      [2, 0, 3],
    );
    const b = open(root);
    await b.cs.restoreFromSnapshots();
    assert.equal(b.cs.size, 0);
    assert.equal(sequencerState(b.cs, 2).cursor, 2);
  });

  for (const damage of ['truncated', 'bit-flipped'] as const) {
    it(`falls back to the previous snapshot when the newest is ${damage}`, async () => {
      const root = await tempDir();
      const a = open(root, { snapshotsToKeep: 3 }, true);
      appendRows(a.cs, 0, 10, 0);
      await a.snapshotter.snapshotNow();
      appendRows(a.cs, 10, 20, 0);
      await a.snapshotter.snapshotNow();
      const files = await snapFiles(root, 0);
      assert.equal(files.length, 2);
      const newest = join(root, '0', files.find((f) => f.startsWith('0_20_'))!);
      if (damage === 'truncated') await truncate(newest, 100);
      else {
        const bytes = await readFile(newest);
        bytes[bytes.length - 7]! ^= 0x10;
        await writeFile(newest, bytes);
      }
      const b = open(root);
      assert.equal(await b.cs.restoreFromSnapshots(), 1);
      assert.deepEqual(
        b.cs.snapshot().map((r) => r.u),
        Array.from({ length: 10 }, (_, i) => row(i).u),
      );
      assert.equal(b.snapshotter.metrics().quarantinedFiles, 1);
      assert.equal(b.snapshotter.metrics().partitions[0]!.lastVersion, 10);
      assert.ok(b.logger.lines.some((l) => l.level === 'warn' && /corrupt/.test(l.msg)));
    });
  }

  it('refuses a snapshot of another schema', async () => {
    const root = await tempDir();
    const a = open(root);
    appendRows(a.cs, 0, 10, 0);
    await a.snapshotter.snapshotNow();
    const otherTypes = open<ColumnSchema>(root, {}, false, {
      columns: { ...COLUMNS, f: 'f64' },
      capacityPerPartition: 500,
      partitions: 3,
    });
    await assert.rejects(otherTypes.cs.restoreFromSnapshots(), { code: ErrorCode.SNAPSHOT_SCHEMA_MISMATCH });
    const { value: _drop, ...fewer } = COLUMNS;
    const otherColumns = open<ColumnSchema>(root, {}, false, {
      columns: { ...fewer },
      capacityPerPartition: 500,
      partitions: 3,
    });
    await assert.rejects(otherColumns.cs.restoreFromSnapshots(), {
      code: ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
    });
    const otherVersion = open(root, {}, false, storeOptions, 2);
    await assert.rejects(otherVersion.cs.restoreFromSnapshots(), {
      code: ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
    });
    // An EventStore's snapshot is not a columnar one.
    const eventRoot = await tempDir();
    const es = new EventStore<{ v: number }>({ capacityPerPartition: 10, partitions: 3 });
    const esSnap = es.configureSnapshots(
      { intervalMs: 0, minEventsBetweenSnapshots: 1 },
      new BinarySnapshotSerializer(),
      new FileSystemSnapshotStore(eventRoot),
    );
    es.tryAppend({ v: 1 });
    await esSnap.snapshotNow();
    const columnar = open(eventRoot);
    await assert.rejects(columnar.cs.restoreFromSnapshots(), { code: ErrorCode.SNAPSHOT_SCHEMA_MISMATCH });
    // Nothing was quarantined: the files are valid, just not this store's.
    assert.equal((await snapFiles(root, 0)).length, 1);
  });

  it('refuses the delta journal, a second configuration and a restore after appends', async () => {
    const root = await tempDir();
    const cs = ColumnarEventStore.create<Schema>(storeOptions);
    const serializer = new ColumnarSnapshotSerializer();
    const fs = new FileSystemSnapshotStore(root);
    await assert.rejects(cs.restoreFromSnapshots(), { code: ErrorCode.INVALID_STATE });
    assert.throws(() => cs.configureSnapshots({ journal: { enabled: true } }, serializer, fs), {
      code: ErrorCode.INVALID_ARG,
      message: /journal is not available for ColumnarEventStore/,
    });
    assert.throws(() => new ColumnarSnapshotSerializer({ compres: true } as never), {
      code: ErrorCode.INVALID_ARG,
    });
    const snapshotter = cs.configureSnapshots({ journal: { enabled: false } }, serializer, fs);
    assert.throws(() => cs.configureSnapshots({}, serializer, fs), { code: ErrorCode.INVALID_STATE });
    await assert.rejects(snapshotter.flushJournal(), { code: ErrorCode.INVALID_STATE });
    appendRows(cs, 0, 1);
    await assert.rejects(cs.restoreFromSnapshots(), { code: ErrorCode.INVALID_STATE });
  });

  it('captures a contiguous run of intact rows when the ring is lapped during the capture', async () => {
    const root = await tempDir();
    const opts: ColumnarEventStoreOptions<Schema> = {
      columns: { ...COLUMNS },
      capacityPerPartition: 16_384,
      partitions: 1,
    };
    const a = open(root, {}, false, opts);
    appendRows(a.cs, 0, 16_384);
    let chunks = 0;
    // After the first chunk was read and committed, and the second read but not yet validated, 6000
    // newer rows overwrite the oldest: both chunks' rows up to 6000 are gone, so the run restarts there.
    a.cs[TEST_HOOKS] = {
      noise: (point) => {
        if (point === NoisePoint.READ_CHUNK && ++chunks === 2) appendRows(a.cs, 16_384, 22_384);
      },
    };
    assert.equal(await a.snapshotter.snapshotNow(), 1);
    assert.ok(chunks > 2);
    const fileStore = new FileSystemSnapshotStore(root);
    const [meta] = await fileStore.listSnapshots(0);
    const state = await new ColumnarSnapshotSerializer().deserialize(await fileStore.load(meta!));
    assert.equal(state.version, 16_384, 'the version is the cursor the capture started from');
    const image = state.events[0]!;
    assert.equal(image.length, 16_384 - 6000);
    const u = image.data[4]!;
    for (let i = 0; i < image.length; i++) {
      if (u[i] !== row(6000 + i).u) assert.fail(`row ${i} is not row ${6000 + i}`);
    }
  });

  it('captures an exact prefix while worker threads append, and sees their appends as changes', async () => {
    const root = await tempDir();
    const P = 2;
    const store = ColumnarEventStore.create<StressSchema>({
      columns: { ...STRESS_COLUMNS },
      partitions: P,
      capacityPerPartition: 1 << 18,
      abortTimeoutMs: 30_000,
    });
    const fileStore = new FileSystemSnapshotStore(root, { fsyncDirectory: false });
    const serializer = new ColumnarSnapshotSerializer();
    const snapshotter = store.configureSnapshots(
      { intervalMs: 0, minEventsBetweenSnapshots: 1_000_000, snapshotsToKeep: 1000, logger: memoryLogger() },
      serializer,
      fileStore,
    );
    const syncBuffer = new SharedArrayBuffer(8);
    const sync = new Int32Array(syncBuffer);
    const start = (writer: number, partitions: number[], maxRows: number): Worker => {
      const data: AppenderData = {
        handle: store.handle,
        sync: syncBuffer,
        writer,
        partitions,
        maxRows,
        maxBatch: 8,
      };
      return new Worker(new URL('../fixtures/tsx-worker.mjs', import.meta.url), {
        workerData: { ...data, fixture: new URL('../fixtures/columnar-appender.ts', import.meta.url).href },
      });
    };
    const workers = [start(0, [0, 1], 100_000), start(1, [1, 0], 100_000)];
    const done = workers.map((w) => collect<{ appended: Record<number, number> }>(w));
    await Promise.all(workers.map(ready));
    Atomics.store(sync, 0, 1);
    Atomics.notify(sync, 0);
    let finished = false;
    void Promise.all(done).then(() => {
      finished = true;
    });
    // Snapshot rounds for as long as the workers append (they stop at maxRows; the flag is a backstop).
    let rounds = 0;
    const deadline = Date.now() + 8000;
    while (!finished && Date.now() < deadline) {
      if ((await snapshotter.snapshotNow()) > 0) rounds++;
      else await new Promise((resolve) => setTimeout(resolve, 2));
    }
    Atomics.store(sync, 1, 1);
    await Promise.all(done);
    assert.equal(store.statistics.abortedSlots, 0);
    await snapshotter.snapshotNow();
    assert.equal(await snapshotter.snapshotNow(), 0, 'nothing changed since the last round');

    let midFlight = 0;
    for (let p = 0; p < P; p++) {
      const final = store.snapshotColumns({ partition: p });
      assert.equal(snapshotter.metrics().partitions[p]!.lastVersion, final.length);
      const fc = final.columns;
      for (let i = 0; i < final.length; i++) {
        assert.ok(
          checkRow(
            fc.timestamp[i]!,
            fc.value[i]!,
            fc.writer[i]!,
            fc.idx[i]!,
            fc.chk[i]!,
            fc.f[i]!,
            store.keyOf(fc.label[i]!)!,
          ),
        );
      }
      for (const meta of await fileStore.listSnapshots(p)) {
        const state = await serializer.deserialize(await fileStore.load(meta));
        const image = state.events[0]!;
        const V = state.version;
        assert.equal(image.length, V, 'no row skipped: the capture holds every row up to its version');
        assert.ok(V <= final.length);
        if (V > 0 && V < final.length) midFlight++;
        for (const [c, name] of ['timestamp', ...Object.keys(STRESS_COLUMNS)].entries()) {
          const got = image.data[c]!;
          const want = (fc as unknown as Record<string, ColumnArray>)[name]!.subarray(0, V);
          if (name === 'label') {
            for (let i = 0; i < V; i++) {
              if (image.keys[got[i]!] !== store.keyOf(want[i]!)) assert.fail(`label of row ${i} differs`);
            }
          } else {
            assert.ok(
              Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(
                Buffer.from(want.buffer, want.byteOffset, want.byteLength),
              ),
              `column ${name} of partition ${p} at version ${V} is not a prefix of the final rows`,
            );
          }
        }
      }
    }
    assert.ok(midFlight > 0, `at least one capture was taken while the workers appended (${rounds} rounds)`);
    if (process.env.LFES_VERBOSE) console.log({ rounds, midFlight, rows: store.statistics.totalAppended });

    // An append from another thread is a change of exactly its partition.
    Atomics.store(sync, 1, 0);
    const one = start(2, [1], 5);
    const oneDone = collect(one);
    await ready(one);
    await oneDone;
    assert.equal(await snapshotter.snapshotNow(), 1);
    assert.equal(snapshotter.metrics().partitions[1]!.lastVersion, sequencerState(store, 1).cursor);
  });
});
