// A snapshot counts as saved only when restore would take it: the save's read-back runs restore's own
// checks through the configured serializer, and prune judges older files the same way.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  BinarySnapshotSerializer,
  ColumnarEventStore,
  ErrorCode,
  EventStore,
  FileSystemSnapshotStore,
  type PartitionState,
  type SnapshotLogger,
} from '../../src/index.ts';
import { type Numbered, openCustomStore } from '../fixtures/custom-serializer.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const silent: SnapshotLogger = { info: () => {}, warn: () => {}, error: () => {} };

async function snapFiles(root: string, partition: number): Promise<string[]> {
  return (await readdir(join(root, String(partition)))).filter((f) => f.endsWith('.snap')).sort();
}

/** A BinarySnapshotSerializer that flips one payload byte of the files it writes while `broken`. */
class FlakySerializer extends BinarySnapshotSerializer<Numbered> {
  broken = false;
  override async serialize(state: PartitionState<Numbered>): Promise<Uint8Array> {
    const bytes = await super.serialize(state);
    if (this.broken) bytes[bytes.length - 1]! ^= 0xff;
    return bytes;
  }
}

describe('snapshot restorability', () => {
  it('never counts a save that restore would refuse: the older generation and the journal keep the data', async () => {
    const root = await tempDir();
    const open = () => {
      const store = new EventStore<Numbered>({ capacity: 100, partitions: 1 });
      const serializer = new FlakySerializer();
      const snapshotter = store.configureSnapshots(
        {
          intervalMs: 0,
          minEventsBetweenSnapshots: 1_000_000,
          snapshotsToKeep: 1,
          maxSaveAttempts: 1,
          journal: { enabled: true, syncPolicy: 'always' },
          logger: silent,
        },
        serializer,
        new FileSystemSnapshotStore(root),
      );
      return { store, snapshotter, serializer };
    };
    const first = open();
    await first.store.restoreFromSnapshots();
    first.store.tryAppend({ n: 1 });
    await first.snapshotter.flushJournal();
    assert.equal(await first.snapshotter.snapshotNow(), 1);
    first.store.tryAppend({ n: 2 });
    await first.snapshotter.flushJournal();
    first.serializer.broken = true;
    assert.equal(await first.snapshotter.snapshotNow(), 0, 'a save that does not read back is not counted');
    const m = first.snapshotter.metrics();
    assert.equal(m.partitions[0]!.successes, 1);
    assert.equal(m.partitions[0]!.failures, 1);
    assert.equal(m.quarantinedFiles, 1, 'the unreadable file is moved aside');
    assert.equal(m.partitions[0]!.lastVersion, 1, 'the last saved version is still the good one');
    assert.deepEqual(await snapFiles(root, 0), [(await snapFiles(root, 0))[0]!], 'one generation left');
    assert.match((await snapFiles(root, 0))[0]!, /^0_1_/, 'the good generation was not pruned');
    assert.ok((await readdir(join(root, 'journal'))).length > 0, 'the journal that covers n=2 is kept');
    // A crash now (no final snapshot): the restart restores both events.
    const second = open();
    await second.store.restoreFromSnapshots();
    assert.deepEqual(
      second.store.snapshot().map((e) => e.n),
      [1, 2],
    );
    await second.snapshotter.stop();
  });

  it('quarantines a file holding more events than its version appended, and restores the previous one', async () => {
    const root = await tempDir();
    const files = new FileSystemSnapshotStore(root);
    const serializer = new BinarySnapshotSerializer<Numbered>();
    const good = { partition: 0, partitions: 1, version: 1, takenAtMs: 1000, events: [{ n: 0 }] };
    const bad = {
      partition: 0,
      partitions: 1,
      version: 2,
      takenAtMs: 2000,
      events: [{ n: 0 }, { n: 1 }, { n: 2 }],
    };
    await files.save(good, await serializer.serialize(good));
    await files.save(bad, await serializer.serialize(bad));
    const store = new EventStore<Numbered>({ capacity: 10, partitions: 1 });
    const snapshotter = store.configureSnapshots({ intervalMs: 0, logger: silent }, serializer, files);
    assert.equal(await store.restoreFromSnapshots(), 1);
    assert.deepEqual(store.snapshot(), [{ n: 0 }]);
    assert.equal(snapshotter.metrics().quarantinedFiles, 1);
  });

  it('judges older generations through a user-written serializer across two processes, quarantining none', async () => {
    const root = await tempDir();
    const fixture = fileURLToPath(new URL('../fixtures/custom-serializer.ts', import.meta.url));
    const run = (
      first: number,
      count: number,
    ): { restored: number[]; quarantined: number; failures: number } => {
      const child = spawnSync(
        process.execPath,
        ['--import', 'tsx', fixture, root, String(first), String(count)],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(child.status, 0, child.stderr);
      const line = child.stdout.split('\n').find((l) => l.startsWith('result '));
      assert.ok(line !== undefined, child.stdout);
      return JSON.parse(line.slice('result '.length));
    };
    const one = run(0, 4);
    assert.deepEqual(one, { restored: [], quarantined: 0, failures: 0 });
    // The second process has not verified the first one's files: prune must read them through the
    // custom serializer (the built-in binary format would call them corrupt).
    const two = run(4, 3);
    assert.deepEqual(two, { restored: [0, 1, 2, 3], quarantined: 0, failures: 0 });
    assert.equal((await snapFiles(root, 0)).length, 3, 'snapshotsToKeep generations are kept');
    const { store, snapshotter } = openCustomStore(root);
    await store.restoreFromSnapshots();
    assert.deepEqual(
      store.snapshot().map((e) => e.n),
      [0, 1, 2, 3, 4, 5, 6],
    );
    await snapshotter.stop();
  });

  it('refuses an event serializer for a ColumnarEventStore when snapshots are configured', async () => {
    const store = ColumnarEventStore.create({
      columns: { value: 'f64' },
      capacityPerPartition: 16,
      partitions: 1,
    });
    assert.throws(
      () =>
        store.configureSnapshots(
          { intervalMs: 0 },
          new BinarySnapshotSerializer() as never,
          new FileSystemSnapshotStore(tmpdir()),
        ),
      (err: { code?: string; message?: string }) =>
        err.code === ErrorCode.INVALID_ARG && /ColumnarSnapshotSerializer/.test(err.message ?? ''),
    );
  });
});
