import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, FileSystemSnapshotStore } from '../../src/index.ts';
import {
  encodeAppendRecord,
  encodeClearRecord,
  encodePurgeRecord,
  encodeSegmentHeader,
  parseSegment,
} from '../../src/snapshots/journal-format.ts';
import { Journal } from '../../src/snapshots/journal-writer.ts';
import { wrapJournalSync } from '../helpers/snapshot-store.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const ready = async (): Promise<void> => {};

function segmentBytes(): Buffer {
  return Buffer.concat([
    encodeSegmentHeader('json', 2),
    encodeAppendRecord(0, 0, text('"a"')),
    encodeAppendRecord(1, 0, text('"b"')),
    encodeClearRecord([1, 1]),
    encodePurgeRecord(123.5, [1, 1]),
    encodeAppendRecord(0, 1, text('"c"')),
  ]);
}

describe('journal segments', () => {
  it('parse back every record kind in order', () => {
    const parsed = parseSegment(segmentBytes());
    assert.equal(parsed.codecName, 'json');
    assert.equal(parsed.partitions, 2);
    assert.equal(parsed.droppedBytes, 0);
    assert.deepEqual(
      parsed.records.map((r) =>
        r.type === 'append' ? [r.type, r.partition, r.sequence, Buffer.from(r.event).toString()] : [r.type],
      ),
      [['append', 0, 0, '"a"'], ['append', 1, 0, '"b"'], ['clear'], ['purge'], ['append', 0, 1, '"c"']],
    );
    const purge = parsed.records[3]!;
    assert.ok(purge.type === 'purge');
    assert.equal(purge.olderThan, 123.5);
    assert.deepEqual(purge.tails, [1, 1]);
  });

  it('keep every complete record before a torn tail and report the dropped bytes', () => {
    const full = segmentBytes();
    const lastRecord = encodeAppendRecord(0, 1, text('"c"')).length;
    for (let cut = 1; cut < lastRecord; cut++) {
      const parsed = parseSegment(full.subarray(0, full.length - cut));
      assert.equal(parsed.records.length, 4, `cut ${cut}`);
      assert.equal(parsed.droppedBytes, lastRecord - cut);
    }
  });

  it('stop at a record whose checksum does not match', () => {
    const bytes = segmentBytes();
    bytes[bytes.length - 2]! ^= 0xff;
    assert.equal(parseSegment(bytes).records.length, 4);
  });

  it('reject a file that is not a journal segment', () => {
    assert.throws(() => parseSegment(Buffer.from('not a journal at all')), {
      code: ErrorCode.SNAPSHOT_CORRUPT,
    });
  });
});

describe('Journal', () => {
  for (const policy of ['always', 'everysec', 'no'] as const) {
    it(`writes every record before flush() resolves with syncPolicy '${policy}'`, async () => {
      const store = new FileSystemSnapshotStore(await tempDir());
      const journal = new Journal(store, 'json', 1, policy, 1, () => {}, ready);
      for (let i = 0; i < 100; i++) journal.record(encodeAppendRecord(0, i, text(String(i))), 0);
      await journal.flush();
      const parsed = parseSegment(await store.readJournalSegment(1));
      assert.equal(parsed.records.length, 100);
      await journal.close();
    });
  }

  it('group-commits concurrent flushes into few fsyncs', async () => {
    const root = await tempDir();
    let syncs = 0;
    const fs = new FileSystemSnapshotStore(root);
    const store = wrapJournalSync(fs, async (fsync) => {
      syncs++;
      await fsync();
    });
    const journal = new Journal(store, 'json', 1, 'always', 1, () => {}, ready);
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 500; i++) {
      journal.record(encodeAppendRecord(0, i, text(String(i))), 0);
      flushes.push(journal.flush());
    }
    await Promise.all(flushes);
    assert.ok(syncs <= 5, `500 flushes took ${syncs} fsyncs`);
    assert.equal(parseSegment(await fs.readJournalSegment(1)).records.length, 500);
    await journal.close();
  });

  it('after an fsync failure rejects the flush, abandons the file and rewrites the records into a new segment', async () => {
    const root = await tempDir();
    const fs = new FileSystemSnapshotStore(root);
    let failNextSync = true;
    let failures = 0;
    const store = wrapJournalSync(fs, async (fsync) => {
      if (failNextSync) {
        failNextSync = false;
        throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      }
      await fsync();
    });
    const journal = new Journal(store, 'json', 1, 'always', 1, () => failures++, ready);
    for (let i = 0; i < 10; i++) journal.record(encodeAppendRecord(0, i, text(String(i))), 0);
    await assert.rejects(journal.flush(), { code: ErrorCode.JOURNAL_FAILED });
    assert.equal(failures, 1);
    journal.record(encodeAppendRecord(0, 10, text('10')), 0);
    await journal.flush();
    const segments = await fs.listJournalSegments();
    assert.deepEqual(segments, [1, 2]);
    const second = parseSegment(await fs.readJournalSegment(2));
    assert.deepEqual(
      second.records.map((r) => (r.type === 'append' ? r.sequence : -1)),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    await journal.close();
  });

  it('starts a new segment on rotate() and reports closed segments covered once their partitions are saved', async () => {
    const store = new FileSystemSnapshotStore(await tempDir());
    const journal = new Journal(store, 'json', 2, 'always', 1, () => {}, ready);
    journal.record(encodeAppendRecord(0, 0, text('0')), 0);
    const round = journal.rotate();
    journal.record(encodeAppendRecord(1, 0, text('1')), 1);
    await journal.flush();
    assert.deepEqual(await store.listJournalSegments(), [1, 2]);
    assert.deepEqual(
      journal.coveredSegments(() => 0),
      [],
    );
    assert.deepEqual(
      journal.coveredSegments((p) => (p === 0 ? round : 0)),
      [1],
    );
    await journal.close();
  });
});
