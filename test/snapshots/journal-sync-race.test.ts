// The 'everysec' background fsync and the pump: a record made while the fsync runs is written (and its
// flush resolves) without waiting for that fsync, and a failed background fsync abandons the file and
// rewrites every record it may not have covered into a new segment, so nothing written is lost.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FileSystemSnapshotStore } from '../../src/index.ts';
import { encodeAppendRecord, parseSegment } from '../../src/snapshots/journal-format.ts';
import { Journal } from '../../src/snapshots/journal-writer.ts';
import { wrapJournalSync } from '../helpers/snapshot-store.ts';
import { removeTempDir, tempDir } from '../helpers/temp-dir.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('Journal everysec', () => {
  it('writes a record made during the background fsync without waiting for another record', async () => {
    const root = await tempDir('lfes-journal-race-');
    const alive = setInterval(() => {}, 50); // the journal's sync timer is unref'd
    try {
      let syncing: (() => void) | undefined;
      const fs = new FileSystemSnapshotStore(root);
      const store = wrapJournalSync(fs, async (fsync) => {
        syncing?.();
        await new Promise((r) => setTimeout(r, 100));
        await fsync();
      });
      const journal = new Journal(
        store,
        'json',
        1,
        'everysec',
        1,
        () => {},
        async () => {},
      );
      journal.record(encodeAppendRecord(0, 0, text('0')), 0);
      await journal.flush(); // written; the periodic fsync comes within a second
      await new Promise<void>((r) => (syncing = r));
      journal.record(encodeAppendRecord(0, 1, text('1')), 0); // the pump is busy with the fsync
      const t0 = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((r) => (timer = setTimeout(r, 3_000)));
      await Promise.race([journal.flush(), late]);
      clearTimeout(timer);
      const ms = performance.now() - t0;
      assert.ok(ms < 900, `flush took ${ms.toFixed(0)} ms`);
      await journal.close();
    } finally {
      clearInterval(alive);
      await removeTempDir(root);
    }
  });

  it('acknowledges records written while the background fsync is still running', {
    timeout: 20_000,
  }, async () => {
    const root = await tempDir('lfes-journal-race-');
    const alive = setInterval(() => {}, 50);
    try {
      let entered: (() => void) | undefined;
      const gate: { release?: (() => void) | undefined } = {};
      const fs = new FileSystemSnapshotStore(root);
      const store = wrapJournalSync(fs, async (fsync) => {
        entered?.();
        await new Promise<void>((r) => (gate.release = r)); // held until the test lets it go
        await fsync();
      });
      const journal = new Journal(
        store,
        'json',
        1,
        'everysec',
        1,
        () => {},
        async () => {},
      );
      journal.record(encodeAppendRecord(0, 0, text('0')), 0);
      await journal.flush();
      await new Promise<void>((r) => (entered = r)); // the periodic fsync has begun and is held
      entered = undefined;
      for (let i = 1; i <= 20; i++) journal.record(encodeAppendRecord(0, i, text(String(i))), 0);
      await journal.flush(); // resolves although the fsync is still held
      assert.ok(gate.release !== undefined, 'the fsync is still running');
      gate.release();
      gate.release = undefined;
      const closing = journal.close(); // its final fsync is held too
      let held = gate.release as (() => void) | undefined;
      while (held === undefined) {
        await new Promise((r) => setTimeout(r, 5));
        held = gate.release;
      }
      held();
      await closing;
      const segment = parseSegment(await fs.readJournalSegment(1));
      assert.deepEqual(
        segment.records.map((r) => (r.type === 'append' ? r.sequence : -1)),
        Array.from({ length: 21 }, (_, i) => i),
      );
    } finally {
      clearInterval(alive);
      await removeTempDir(root);
    }
  });

  it('rewrites what a failed background fsync may have lost into a new segment', {
    timeout: 20_000,
  }, async () => {
    const root = await tempDir('lfes-journal-race-');
    const alive = setInterval(() => {}, 50);
    try {
      let failNext = false;
      let failed: (() => void) | undefined;
      const failures: unknown[] = [];
      const fs = new FileSystemSnapshotStore(root);
      const store = wrapJournalSync(fs, async (fsync) => {
        if (failNext) {
          failNext = false;
          failed?.();
          throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
        }
        await fsync();
      });
      const journal = new Journal(
        store,
        'json',
        1,
        'everysec',
        1,
        (e) => failures.push(e),
        async () => {},
      );
      for (let i = 0; i < 10; i++) journal.record(encodeAppendRecord(0, i, text(String(i))), 0);
      await journal.flush();
      failNext = true;
      await new Promise<void>((r) => (failed = r)); // the periodic fsync of segment 1 failed
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(failures.length, 1);
      for (let i = 10; i < 15; i++) journal.record(encodeAppendRecord(0, i, text(String(i))), 0);
      await journal.flush();
      await journal.close();
      // Segment 1 may hold records 0-9 or not (its fsync failed); segment 2 holds all of them again.
      const second = parseSegment(await fs.readJournalSegment(2));
      assert.deepEqual(
        second.records.map((r) => (r.type === 'append' ? r.sequence : -1)),
        Array.from({ length: 15 }, (_, i) => i),
      );
    } finally {
      clearInterval(alive);
      await removeTempDir(root);
    }
  });
});
