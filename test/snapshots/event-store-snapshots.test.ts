import assert from 'node:assert/strict';
import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  BinarySnapshotSerializer,
  ErrorCode,
  EventStore,
  type EventStoreOptions,
  FileSystemSnapshotStore,
  type SnapshotLogger,
  type SnapshotOptions,
  type SnapshotStore,
} from '../../src/index.ts';
import { wrapSnapshotStore } from '../helpers/snapshot-store.ts';
import { tempDir } from '../helpers/temp-dir.ts';

interface Reading {
  id: number;
  sensor: string;
  value: number;
  ts: number;
}

const value = (r: Reading): number => r.value;
const storeOptions: EventStoreOptions<Reading> = {
  capacityPerPartition: 1000,
  partitions: 3,
  partitionKey: (r) => r.sensor,
  timestampSelector: (r) => r.ts,
  window: { sizeMs: 1000, bucketCount: 10, value },
};

function reading(i: number): Reading {
  // Times mostly increase, with some late events, so both query paths are exercised.
  return { id: i, sensor: `s${i % 7}`, value: (i * 37) % 101, ts: 10_000 + i * 3 - (i % 5 === 0 ? 40 : 0) };
}

interface Logged {
  level: string;
  msg: string;
  obj: object;
}

function memoryLogger(): SnapshotLogger & { lines: Logged[] } {
  const lines: Logged[] = [];
  return {
    lines,
    info: (obj, msg = '') => lines.push({ level: 'info', msg, obj }),
    warn: (obj, msg = '') => lines.push({ level: 'warn', msg, obj }),
    error: (obj, msg = '') => lines.push({ level: 'error', msg, obj }),
  };
}

function open(
  root: string,
  options: SnapshotOptions = {},
  compress = false,
  store: SnapshotStore = new FileSystemSnapshotStore(root),
) {
  const es = new EventStore<Reading>(storeOptions);
  const logger = memoryLogger();
  const snapshotter = es.configureSnapshots(
    { intervalMs: 0, minEventsBetweenSnapshots: 1_000_000, logger, ...options },
    new BinarySnapshotSerializer({ compress }),
    store,
  );
  return { es, snapshotter, logger };
}

/** Everything a user can observe through queries. */
function observe(es: EventStore<Reading>): unknown {
  const ranges = [
    {},
    { from: 10_100, to: 10_900 },
    { from: 10_500 },
    { to: 10_300 },
    { partition: 1, from: 10_200 },
  ];
  return {
    snapshot: es.snapshot(),
    size: es.size,
    perRange: ranges.map((q) => [
      es.count(q),
      es.sum(value, q),
      es.window(value, q),
      es.window((r) => r.value, q),
      [...es.groupBy((r) => r.sensor, value, q)].sort(),
    ]),
  };
}

describe('EventStore snapshots', () => {
  for (const compress of [false, true]) {
    it(`restores into a new store with identical queries ${compress ? 'with' : 'without'} compression`, async () => {
      const root = await tempDir();
      const a = open(root, {}, compress);
      for (let i = 0; i < 2500; i++) a.es.tryAppend(reading(i));
      assert.equal(await a.snapshotter.snapshotNow(), 3);
      const b = open(root, {}, compress);
      assert.equal(await b.es.restoreFromSnapshots(), 3);
      assert.deepEqual(observe(b.es), observe(a.es));
    });
  }

  it('continues versions after a restore, so new snapshots sort above the old ones', async () => {
    const root = await tempDir();
    const a = open(root, { snapshotsToKeep: 1 });
    for (let i = 0; i < 30; i++) a.es.tryAppend(reading(i), 0);
    await a.snapshotter.snapshotNow();
    const b = open(root, { snapshotsToKeep: 1 });
    await b.es.restoreFromSnapshots();
    b.es.tryAppend(reading(30), 0);
    await b.snapshotter.snapshotNow();
    const files = (await readdir(join(root, '0'))).filter((n) => n.endsWith('.snap'));
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^0_31_\d+\.snap$/);
    const c = open(root);
    await c.es.restoreFromSnapshots();
    assert.deepEqual(
      c.es.query({ partition: 0 }).map((r) => r.id),
      Array.from({ length: 31 }, (_, i) => i),
    );
  });

  it('writes only the partitions that changed since their last snapshot', async () => {
    const root = await tempDir();
    const a = open(root);
    a.es.tryAppend(reading(1), 0);
    a.es.tryAppend(reading(2), 2);
    assert.equal(await a.snapshotter.snapshotNow(), 2);
    assert.equal(await a.snapshotter.snapshotNow(), 0);
    a.es.tryAppend(reading(3), 2);
    assert.equal(await a.snapshotter.snapshotNow(), 1);
    a.es.clear();
    assert.equal(await a.snapshotter.snapshotNow(), 2, 'a clear is a change');
    const m = a.snapshotter.metrics();
    assert.deepEqual(
      m.partitions.map((p) => p.successes),
      [2, 0, 3],
    );
  });

  it('captures an exact prefix while appends continue during the save', async () => {
    const root = await tempDir();
    const a = open(root);
    for (let i = 0; i < 500; i++) a.es.tryAppend(reading(i), 1);
    const saving = a.snapshotter.snapshotNow();
    for (let i = 500; i < 900; i++) a.es.tryAppend(reading(i), 1);
    await saving;
    const serializer = new BinarySnapshotSerializer<Reading>();
    const [file] = (await readdir(join(root, '1'))).filter((n) => n.endsWith('.snap'));
    const state = await serializer.deserialize(await readFile(join(root, '1', file!)));
    assert.equal(state.version, 500);
    assert.deepEqual(
      state.events.map((r) => r.id),
      Array.from({ length: 500 }, (_, i) => i),
    );
  });

  it('a snapshotNow() (and so stop()) made while a save runs covers the changes made after that save began', async () => {
    const root = await tempDir();
    const a = open(root);
    for (let i = 0; i < 600; i++) a.es.tryAppend(reading(i), 1);
    const first = a.snapshotter.snapshotNow(); // partition 1 is busy saving 600 events
    for (let i = 600; i < 610; i++) a.es.tryAppend(reading(i), 1);
    const second = a.snapshotter.snapshotNow();
    for (let i = 610; i < 620; i++) a.es.tryAppend(reading(i), 1);
    await a.snapshotter.stop();
    await first;
    assert.ok((await second) >= 1, 'the second call saved the partition again');
    const b = open(root);
    await b.es.restoreFromSnapshots();
    assert.deepEqual(
      b.es.snapshot().map((r) => r.id),
      Array.from({ length: 620 }, (_, i) => i),
      'the final snapshot of stop() holds every append made before it',
    );
  });

  it('falls back to the previous snapshot when the newest is truncated or bit-flipped, and says so', async () => {
    for (const damage of ['truncate', 'flip'] as const) {
      const root = await tempDir();
      const a = open(root, { snapshotsToKeep: 5 });
      for (let i = 0; i < 10; i++) a.es.tryAppend(reading(i), 0);
      await a.snapshotter.snapshotNow();
      for (let i = 10; i < 20; i++) a.es.tryAppend(reading(i), 0);
      await a.snapshotter.snapshotNow();
      const newest = (await readdir(join(root, '0'))).find((n) => n.startsWith('0_20_'))!;
      const path = join(root, '0', newest);
      if (damage === 'truncate') await truncate(path, 100);
      else {
        const bytes = await readFile(path);
        bytes[bytes.length - 3]! ^= 0x10;
        await writeFile(path, bytes);
      }
      const b = open(root);
      assert.equal(await b.es.restoreFromSnapshots(), 1);
      assert.equal(b.es.size, 10, damage);
      assert.equal(b.snapshotter.metrics().quarantinedFiles, 1);
      assert.ok(
        b.logger.lines.some((l) => l.level === 'warn' && /corrupt/.test(l.msg)),
        damage,
      );
      assert.ok((await readdir(join(root, '0'))).some((n) => n.includes('.corrupt-')));
    }
  });

  it('fails the restore clearly when every snapshot of a partition is corrupt, unless allowEmptyRestore', async () => {
    const root = await tempDir();
    const a = open(root);
    a.es.tryAppend(reading(1), 0);
    a.es.tryAppend(reading(2), 1);
    await a.snapshotter.snapshotNow();
    const [file] = await readdir(join(root, '0'));
    await writeFile(join(root, '0', file!), 'garbage');
    await assert.rejects(open(root).es.restoreFromSnapshots(), { code: ErrorCode.RESTORE_FAILED });
    // The corrupt file was quarantined by the failed attempt; plant another one for the second try.
    await writeFile(join(root, '0', '0_1_5.snap'), 'garbage');
    const c = open(root, { allowEmptyRestore: true });
    assert.equal(await c.es.restoreFromSnapshots(), 1);
    assert.equal(c.es.count({ partition: 0 }), 0);
    assert.equal(c.es.count({ partition: 1 }), 1);
  });

  it('refuses to restore after appends, to configure twice, and a partition count that does not match', async () => {
    const root = await tempDir();
    const a = open(root);
    a.es.tryAppend(reading(1), 2);
    await a.snapshotter.snapshotNow();
    await assert.rejects(a.es.restoreFromSnapshots(), { code: ErrorCode.INVALID_STATE });
    assert.throws(
      () => a.es.configureSnapshots({}, new BinarySnapshotSerializer(), new FileSystemSnapshotStore(root)),
      { code: ErrorCode.INVALID_STATE },
    );
    const fewer = new EventStore<Reading>({ ...storeOptions, partitions: 2 });
    fewer.configureSnapshots({}, new BinarySnapshotSerializer(), new FileSystemSnapshotStore(root));
    await assert.rejects(fewer.restoreFromSnapshots(), { code: ErrorCode.SNAPSHOT_SCHEMA_MISMATCH });
    await assert.rejects(new EventStore<Reading>(storeOptions).restoreFromSnapshots(), {
      code: ErrorCode.INVALID_STATE,
    });
  });

  it('does not write into a directory holding an earlier run without a restore', async () => {
    const root = await tempDir();
    const a = open(root);
    a.es.tryAppend(reading(1), 0);
    await a.snapshotter.snapshotNow();
    const b = open(root);
    b.es.tryAppend(reading(2), 0);
    assert.equal(await b.snapshotter.snapshotNow(), 0);
    assert.equal(b.snapshotter.metrics().totalFailedJobs, 1);
    assert.ok(b.logger.lines.some((l) => l.level === 'error' && /earlier run/.test(JSON.stringify(l.obj))));
  });

  it('validates snapshot options when configured', () => {
    const es = new EventStore<Reading>(storeOptions);
    const s = new BinarySnapshotSerializer<Reading>();
    const fs = new FileSystemSnapshotStore('unused');
    assert.throws(() => es.configureSnapshots({ intervalMs: 0, minEventsBetweenSnapshots: 0 }, s, fs), {
      code: ErrorCode.INVALID_ARG,
    });
    for (const bad of [
      { intervalMs: -1 },
      { maxConcurrentSnapshotJobs: 0 },
      { snapshotsToKeep: 0 },
      { maxSaveAttempts: 0 },
      { backoffBaseDelayMs: 0 },
      { journal: { syncPolicy: 'sometimes' } },
      { intervalMS: 5 },
    ]) {
      assert.throws(
        () => new EventStore<Reading>(storeOptions).configureSnapshots(bad as SnapshotOptions, s, fs),
        {
          code: ErrorCode.INVALID_ARG,
        },
      );
    }
  });

  it('snapshots on the event-count trigger once started', async () => {
    const root = await tempDir();
    const a = open(root, { minEventsBetweenSnapshots: 100 });
    a.snapshotter.start();
    for (let i = 0; i < 150; i++) a.es.tryAppend(reading(i));
    for (let waited = 0; a.snapshotter.metrics().partitions.every((p) => p.successes === 0); waited += 20) {
      assert.ok(waited < 10_000, 'no snapshot within 10 s of passing the event-count trigger');
      await new Promise((r) => setTimeout(r, 20));
    }
    await a.snapshotter.stop();
    const b = open(root);
    await b.es.restoreFromSnapshots();
    assert.equal(b.es.size, 150);
  });

  it('with a journal, holds count-triggered rounds until the journal has grown by journalGrowthFactor × the snapshots they would rewrite', async () => {
    const saved = (x: ReturnType<typeof open>): number =>
      x.snapshotter.metrics().partitions.reduce((n, p) => n + p.successes, 0);
    const waitForRound = async (x: ReturnType<typeof open>, before: number): Promise<void> => {
      for (let waited = 0; saved(x) === before; waited += 20) {
        assert.ok(waited < 10_000, 'no round within 10 s of passing the trigger');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const options = { minEventsBetweenSnapshots: 100, journal: { enabled: true } } as const;
    let next = 0;
    const append = (x: ReturnType<typeof open>, n: number): void => {
      for (const end = next + n; next < end; next++) x.es.tryAppend(reading(next));
    };
    for (const factor of [1, 0]) {
      next = 0;
      const root = await tempDir();
      const x = open(root, { ...options, journalGrowthFactor: factor });
      await x.es.restoreFromSnapshots();
      x.snapshotter.start();
      append(x, 3_000); // full rings: each partition's snapshot holds 1,000 events
      // The first round saves all three partitions (two saves run at once: wait for the third).
      for (let waited = 0; saved(x) < 3; waited += 20) {
        assert.ok(waited < 10_000, 'no first round within 10 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      const first = saved(x);
      assert.equal(first, 3);
      // 150 more appends pass the count trigger, but their journal records are a small part of the
      // ~3,000 events every partition's snapshot would rewrite.
      append(x, 150);
      await new Promise((r) => setTimeout(r, 1_000)); // four trigger checks
      if (factor === 0) {
        assert.ok(saved(x) > first, 'factor 0: the count trigger alone starts a round');
      } else {
        assert.equal(saved(x), first, 'factor 1: no round before the journal has grown enough');
        append(x, 3_000); // now the journal holds as many bytes as the snapshots
        await waitForRound(x, first);
      }
      await x.snapshotter.stop();
      const y = open(root, { journal: { enabled: true } });
      await y.es.restoreFromSnapshots();
      assert.deepEqual(observe(y.es), observe(x.es), 'what restarts is what was appended');
      await y.snapshotter.stop();
    }
    const other = await tempDir();
    assert.throws(() => open(other, { journalGrowthFactor: -1 }), {
      code: ErrorCode.INVALID_ARG,
      message: /journalGrowthFactor/,
    });
  });

  it('retries a failing save with per-job backoff and succeeds, without blocking appends', async () => {
    const root = await tempDir();
    const fs = new FileSystemSnapshotStore(root);
    let failuresLeft = 2;
    const flaky = wrapSnapshotStore(fs, {
      save: async (meta, data) => {
        if (failuresLeft-- > 0) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
        return fs.save(meta, data);
      },
    });
    const a = open(root, { backoffBaseDelayMs: 5, maxSaveAttempts: 5 }, false, flaky);
    a.es.tryAppend(reading(1), 0);
    const saving = a.snapshotter.snapshotNow();
    for (let i = 0; i < 1000; i++) assert.equal(a.es.tryAppend(reading(i), 1), true);
    assert.equal(await saving, 1);
    const p0 = a.snapshotter.metrics().partitions[0]!;
    assert.equal(p0.successes, 1);
    assert.equal(p0.lastSaveAttempts, 3);
    assert.equal(a.logger.lines.filter((l) => /retrying/.test(l.msg)).length, 2);
  });

  it('counts and logs a job that fails every attempt', async () => {
    const root = await tempDir();
    const broken = wrapSnapshotStore(new FileSystemSnapshotStore(root), {
      save: async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      },
    });
    const a = open(root, { backoffBaseDelayMs: 1, maxSaveAttempts: 3 }, false, broken);
    a.es.tryAppend(reading(1), 0);
    assert.equal(await a.snapshotter.snapshotNow(), 0);
    const m = a.snapshotter.metrics();
    assert.equal(m.totalFailedJobs, 1);
    assert.equal(m.partitions[0]!.failures, 1);
    assert.equal(m.partitions[0]!.lastSaveAttempts, 3);
    assert.ok(a.logger.lines.some((l) => l.level === 'error' && /snapshot save failed/.test(l.msg)));
  });

  it('keeps exactly snapshotsToKeep generations per partition', async () => {
    const root = await tempDir();
    const a = open(root, { snapshotsToKeep: 2 });
    for (let round = 0; round < 5; round++) {
      a.es.tryAppend(reading(round), 0);
      await a.snapshotter.snapshotNow();
    }
    await writeFile(join(root, '0', 'junk_1_2.snap'), 'stray');
    a.es.tryAppend(reading(9), 0);
    await a.snapshotter.snapshotNow();
    const snaps = (await readdir(join(root, '0'))).filter((n) => /^0_\d+_\d+\.snap$/.test(n)).sort();
    assert.equal(snaps.length, 2);
    assert.ok(snaps.some((n) => n.startsWith('0_6_')));
    assert.ok((await readdir(join(root, '0'))).includes('junk_1_2.snap'), 'stray files are left alone');
  });

  it('keeps valid compressed snapshots of an earlier run when pruning (they are read back, not quarantined)', async () => {
    const root = await tempDir();
    const a = open(root, { snapshotsToKeep: 3 }, true);
    for (let round = 0; round < 2; round++) {
      a.es.tryAppend(reading(round), 0);
      await a.snapshotter.snapshotNow();
    }
    const b = open(root, { snapshotsToKeep: 3 }, true);
    await b.es.restoreFromSnapshots();
    b.es.tryAppend(reading(7), 0);
    await b.snapshotter.snapshotNow();
    assert.equal(b.snapshotter.metrics().quarantinedFiles, 0);
    const names = await readdir(join(root, '0'));
    assert.equal(names.filter((n) => n.endsWith('.snap')).length, 3);
    assert.equal(names.filter((n) => n.includes('.corrupt-')).length, 0);
  });

  it('writes a final snapshot on stop', async () => {
    const root = await tempDir();
    const a = open(root);
    a.snapshotter.start();
    for (let i = 0; i < 20; i++) a.es.tryAppend(reading(i));
    await a.snapshotter.stop();
    const b = open(root);
    await b.es.restoreFromSnapshots();
    assert.deepEqual(observe(b.es), observe(a.es));
  });
});

describe('EventStore delta journal', () => {
  for (const syncPolicy of ['always', 'everysec', 'no'] as const) {
    it(`replays every flushed append after the last snapshot with syncPolicy '${syncPolicy}'`, async () => {
      const root = await tempDir();
      const a = open(root, { journal: { enabled: true, syncPolicy } });
      for (let i = 0; i < 300; i++) a.es.tryAppend(reading(i));
      await a.snapshotter.snapshotNow();
      for (let i = 300; i < 700; i++) a.es.tryAppend(reading(i));
      a.es.purge({ olderThan: 10_100 });
      a.es.tryAppendBatch([reading(700), reading(701)]);
      await a.snapshotter.flushJournal();
      // No stop(): the process "dies" here; only the snapshot and the journal are on disk.
      const b = open(root, { journal: { enabled: true, syncPolicy } });
      await b.es.restoreFromSnapshots();
      assert.deepEqual(observe(b.es), observe(a.es));
      assert.ok(b.snapshotter.metrics().journalRecordsReplayed >= 400);
    });
  }

  it('replays a clear so events from before it do not come back', async () => {
    const root = await tempDir();
    const a = open(root, { journal: { enabled: true, syncPolicy: 'always' } });
    for (let i = 0; i < 50; i++) a.es.tryAppend(reading(i));
    await a.snapshotter.snapshotNow();
    a.es.clear();
    a.es.tryAppend(reading(99), 0);
    await a.snapshotter.flushJournal();
    const b = open(root, { journal: { enabled: true } });
    await b.es.restoreFromSnapshots();
    assert.deepEqual(
      b.es.snapshot().map((r) => r.id),
      [99],
    );
  });

  it('restores from the journal alone when no snapshot was ever written', async () => {
    const root = await tempDir();
    const a = open(root, { journal: { enabled: true, syncPolicy: 'always' } });
    for (let i = 0; i < 40; i++) a.es.tryAppend(reading(i));
    await a.snapshotter.flushJournal();
    const b = open(root, { journal: { enabled: true } });
    assert.equal(await b.es.restoreFromSnapshots(), 0);
    assert.deepEqual(observe(b.es), observe(a.es));
  });

  it('journals a bulk load of 200,000 appends made between two journal writes', async () => {
    const root = await tempDir();
    const a = open(root, { journal: { enabled: true, syncPolicy: 'everysec' } });
    for (let i = 0; i < 200_000; i++) a.es.tryAppend(reading(i));
    await a.snapshotter.flushJournal();
    assert.equal(a.snapshotter.metrics().journalFailures, 0);
    const b = open(root, { journal: { enabled: true } });
    await b.es.restoreFromSnapshots();
    assert.deepEqual(observe(b.es), observe(a.es));
  });

  it('drops a torn last record and keeps everything before it', async () => {
    const root = await tempDir();
    const a = open(root, { journal: { enabled: true, syncPolicy: 'always' } });
    for (let i = 0; i < 10; i++) a.es.tryAppend(reading(i), 0);
    await a.snapshotter.flushJournal();
    const [segment] = await readdir(join(root, 'journal'));
    const path = join(root, 'journal', segment!);
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 5));
    const b = open(root, { journal: { enabled: true } });
    await b.es.restoreFromSnapshots();
    assert.deepEqual(
      b.es.snapshot().map((r) => r.id),
      [0, 1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.ok(b.logger.lines.some((l) => /torn/.test(l.msg)));
  });

  it('deletes journal segments once snapshots cover them', async () => {
    const root = await tempDir();
    const a = open(root, { journal: { enabled: true, syncPolicy: 'always' } });
    for (let i = 0; i < 30; i++) a.es.tryAppend(reading(i));
    await a.snapshotter.flushJournal();
    await a.snapshotter.snapshotNow();
    a.es.tryAppend(reading(31));
    await a.snapshotter.flushJournal();
    await a.snapshotter.snapshotNow();
    assert.ok(a.snapshotter.metrics().journalSegmentsDeleted >= 1);
    const segments = await readdir(join(root, 'journal'));
    assert.ok(segments.length <= 2, `segments left: ${segments.join(', ')}`);
    const b = open(root, { journal: { enabled: true } });
    await b.es.restoreFromSnapshots();
    assert.deepEqual(observe(b.es), observe(a.es));
  });

  it('appends nothing when the codec cannot encode the event', async () => {
    const root = await tempDir();
    const es = new EventStore<{ n: unknown }>({ capacity: 10, partitions: 1 });
    const snap = es.configureSnapshots(
      { intervalMs: 0, minEventsBetweenSnapshots: 10, journal: { enabled: true } },
      new BinarySnapshotSerializer(),
      new FileSystemSnapshotStore(root),
    );
    assert.throws(() => es.tryAppend({ n: 1n }), { code: ErrorCode.INVALID_ARG });
    assert.throws(() => es.tryAppendBatch([{ n: 1 }, { n: 2n }]), { code: ErrorCode.INVALID_ARG });
    assert.equal(es.size, 0);
    await snap.stop();
  });

  it('rejects flushJournal without a journal', async () => {
    const a = open(await tempDir());
    await assert.rejects(a.snapshotter.flushJournal(), { code: ErrorCode.INVALID_STATE });
  });
});
