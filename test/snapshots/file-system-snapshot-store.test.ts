import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCode, FileSystemSnapshotStore } from '../../src/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const bytes = (n: number, fill = 7): Uint8Array => new Uint8Array(n).fill(fill);

describe('FileSystemSnapshotStore', () => {
  it('saves under <root>/<partition>/<partition>_<version>_<takenAtMs>.snap and leaves no temp file', async () => {
    const root = await tempDir();
    const store = new FileSystemSnapshotStore(root, { fsyncDirectory: true });
    const { bytes: written } = await store.save(
      { partition: 3, version: 42, takenAtMs: 1000 },
      bytes(100_000),
    );
    assert.equal(written, 100_000);
    assert.deepEqual(await readdir(join(root, '3')), ['3_42_1000.snap']);
    assert.deepEqual(await readFile(join(root, '3', '3_42_1000.snap')), Buffer.from(bytes(100_000)));
  });

  it('refuses to overwrite an existing snapshot and cleans up its temp file', async () => {
    const root = await tempDir();
    const store = new FileSystemSnapshotStore(root);
    const meta = { partition: 0, version: 5, takenAtMs: 77 };
    await store.save(meta, bytes(10, 1));
    await assert.rejects(store.save(meta, bytes(10, 2)), { code: ErrorCode.SNAPSHOT_EXISTS });
    assert.deepEqual(await readdir(join(root, '0')), ['0_5_77.snap']);
    assert.deepEqual(await readFile(join(root, '0', '0_5_77.snap')), Buffer.from(bytes(10, 1)));
  });

  it('lists snapshots newest first (version, then time) and ignores temp and unknown files', async () => {
    const root = await tempDir();
    const store = new FileSystemSnapshotStore(root);
    for (const [v, t] of [
      [4, 35],
      [5, 40],
      [5, 45],
      [3, 50],
    ] as const) {
      await store.save({ partition: 1, version: v, takenAtMs: t }, bytes(4));
    }
    await writeFile(join(root, '1', '1_9_99.snap.123.1.abcd.tmp'), 'x');
    await writeFile(join(root, '1', 'readme.txt'), 'x');
    await writeFile(join(root, '1', '2_9_99.snap'), 'another partition');
    await mkdir(join(root, 'junk'));
    const list = await store.listSnapshots(1);
    assert.deepEqual(
      list.map((m) => [m.version, m.takenAtMs]),
      [
        [5, 45],
        [5, 40],
        [4, 35],
        [3, 50],
      ],
    );
    assert.deepEqual(await store.listPartitions(), [1]);
  });

  it('prunes to the N newest valid snapshots, quarantining invalid ones and never deleting the newest valid', async () => {
    const root = await tempDir();
    const store = new FileSystemSnapshotStore(root);
    for (let v = 1; v <= 6; v++) await store.save({ partition: 0, version: v, takenAtMs: v }, bytes(4, v));
    const invalid = new Set([6, 4]); // the newest file and one in the middle are corrupt
    const result = await store.prune(0, 2, async (m) => !invalid.has(m.version));
    assert.deepEqual(result, { kept: 2, deleted: 2, quarantined: 2 });
    const names = (await readdir(join(root, '0'))).sort();
    assert.deepEqual(
      names.filter((n) => n.endsWith('.snap')),
      ['0_3_3.snap', '0_5_5.snap'],
    );
    assert.equal(names.filter((n) => n.includes('.corrupt-')).length, 2);
  });

  it('sweeps temporary files left by interrupted saves', async () => {
    const root = await tempDir();
    const store = new FileSystemSnapshotStore(root);
    await store.save({ partition: 0, version: 1, takenAtMs: 1 }, bytes(4));
    await writeFile(join(root, '0', '0_2_2.snap.1.1.ab.tmp'), 'partial');
    await mkdir(join(root, 'journal'));
    await writeFile(join(root, 'journal', '000000000001.journal.tmp'), 'partial');
    assert.equal(await store.sweepTemporaryFiles(), 2);
    assert.deepEqual(await readdir(join(root, '0')), ['0_1_1.snap']);
  });

  it('creates, appends to, lists and deletes journal segments', async () => {
    const root = await tempDir();
    const store = new FileSystemSnapshotStore(root);
    const seg = await store.createJournalSegment(7);
    await seg.append(bytes(3, 1));
    await seg.append(bytes(2, 2));
    await seg.sync();
    await seg.close();
    await assert.rejects(store.createJournalSegment(7), { code: 'EEXIST' });
    assert.deepEqual(await store.listJournalSegments(), [7]);
    assert.deepEqual([...(await store.readJournalSegment(7))], [1, 1, 1, 2, 2]);
    await store.deleteJournalSegment(7);
    assert.deepEqual(await store.listJournalSegments(), []);
  });

  it('validates its root', () => {
    assert.throws(() => new FileSystemSnapshotStore(''), { code: ErrorCode.INVALID_ARG });
  });
});
