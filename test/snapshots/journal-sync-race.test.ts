// A record made while the 'everysec' background fsync runs must still be written promptly: the
// pump is busy during that fsync, so the record has to be scheduled when the fsync ends (before,
// a lone append in that window waited for the next record or snapshot, up to a minute).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileSystemSnapshotStore } from '../../src/index.ts';
import { encodeAppendRecord, Journal } from '../../src/snapshots/journal.ts';
import type { JournalSegmentFile } from '../../src/snapshots/types.ts';
import { wrapSnapshotStore } from '../helpers/snapshot-store.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('Journal everysec', () => {
  it('writes a record made during the background fsync without waiting for another record', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lfes-journal-race-'));
    const alive = setInterval(() => {}, 50); // the journal's sync timer is unref'd
    try {
      let syncing: (() => void) | undefined;
      const fs = new FileSystemSnapshotStore(root);
      const store = wrapSnapshotStore(fs, {
        createJournalSegment: async (segment: number): Promise<JournalSegmentFile> => {
          const file = await fs.createJournalSegment(segment);
          return {
            segment,
            append: (d) => file.append(d),
            sync: async () => {
              syncing?.();
              await new Promise((r) => setTimeout(r, 100));
              await file.sync();
            },
            close: () => file.close(),
          };
        },
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
      await rm(root, { recursive: true, force: true });
    }
  });
});
