// Crash tests of the snapshot subsystem on the real filesystem: a child process snapshots (or
// journals) continuously and is killed with SIGKILL at seeded random moments, many times in a row on
// the same directory; after each kill a fresh store restores and the result is checked against the
// child's deterministic event sequence.
// LFES_CRASH_ITERATIONS, LFES_JOURNAL_ITERATIONS and LFES_CRASH_SEED tune a run.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JournalSyncPolicy } from '../../src/index.ts';
import { mulberry32 } from '../helpers/random.ts';
import {
  invalidSnapshots,
  JOURNAL_CAPACITY,
  openStore,
  prefixMismatch,
  SNAPSHOT_CAPACITY,
  SNAPSHOT_PARTITIONS,
  startFixture,
  tempFiles,
} from '../helpers/snapshot-crash.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const SEED = Number(process.env.LFES_CRASH_SEED ?? Date.now() % 2 ** 31);
const CRASH_ITERATIONS = Number(process.env.LFES_CRASH_ITERATIONS ?? 20);
const JOURNAL_ITERATIONS = Number(process.env.LFES_JOURNAL_ITERATIONS ?? 5);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const numbersAfter = (line: string): number[] => line.split(' ').slice(1).map(Number);

describe('snapshots under kill -9', () => {
  it('restores a valid, never-older generation holding an exact prefix after every kill during continuous snapshots, and sweeps every temp file', async () => {
    const root = await tempDir();
    const rnd = mulberry32(SEED);
    const where = (i: number): string => `seed ${SEED}, iteration ${i} (LFES_CRASH_SEED=${SEED} replays it)`;
    let previous = new Array<number>(SNAPSHOT_PARTITIONS).fill(0);
    let orphans = 0;
    let invalid = 0;
    let rounds = 0;
    for (let i = 0; i < CRASH_ITERATIONS; i++) {
      const child = startFixture(['snapshots', root]);
      try {
        await child.waitFor((ls) => ls.some((l) => l.startsWith('ready ')), 'the child to restore');
        const ready = numbersAfter(child.lines.find((l) => l.startsWith('ready '))!);
        assert.deepEqual(ready, previous, `the child restored other versions than the parent; ${where(i)}`);
        await sleep(50 + Math.floor(rnd() * 350));
      } finally {
        await child.kill();
      }

      const saved = child.lines.filter((l) => l.startsWith('saved ')).map(numbersAfter);
      rounds += saved.length;
      const left = await tempFiles(root);
      orphans += left.length;
      const bad = await invalidSnapshots(root);
      invalid += bad.length;
      assert.deepEqual(bad, [], `published snapshot files that do not validate; ${where(i)}`);

      const { es, snapshotter } = openStore(root, SNAPSHOT_CAPACITY, SNAPSHOT_PARTITIONS);
      await assert.doesNotReject(es.restoreFromSnapshots(), `restore threw; ${where(i)}`);
      const m = snapshotter.metrics();
      assert.equal(m.sweptTemporaryFiles, left.length, `temp files swept at boot; ${where(i)}`);
      assert.deepEqual(await tempFiles(root), [], `temp files left after the boot sweep; ${where(i)}`);
      assert.equal(m.quarantinedFiles, 0, `restore met a corrupt snapshot; ${where(i)}`);
      const restored: number[] = [];
      for (let p = 0; p < SNAPSHOT_PARTITIONS; p++) {
        const version = Math.max(0, m.partitions[p]!.lastVersion);
        restored.push(version);
        assert.ok(
          version >= previous[p]!,
          `partition ${p} went back from version ${previous[p]} to ${version}; ${where(i)}`,
        );
        const reported = Math.max(0, ...saved.map((s) => s[p]!));
        assert.ok(
          version >= reported,
          `partition ${p} restored version ${version}, below the saved version ${reported} the child reported; ${where(i)}`,
        );
        const mismatch = prefixMismatch(es.query({ partition: p }), p, version, SNAPSHOT_CAPACITY);
        assert.equal(mismatch, undefined, `${mismatch}; ${where(i)}`);
      }
      previous = restored;
    }
    assert.ok(rounds > 0, `no snapshot round completed in ${CRASH_ITERATIONS} runs; seed ${SEED}`);
    assert.ok(
      previous.every((v) => v > 0),
      `a partition was never snapshotted: ${previous}; seed ${SEED}`,
    );
    console.log(
      `# T15 kill -9 during snapshots: seed ${SEED}, iterations ${CRASH_ITERATIONS}, completed rounds ${rounds}, ` +
        `invalid generations 0/${CRASH_ITERATIONS} (files rejected: ${invalid}), temp files swept ${orphans}, ` +
        `left after sweep 0, final versions ${previous.join('/')}`,
    );
  });
});

describe('delta journal under kill -9', () => {
  const cases: [JournalSyncPolicy, number][] = [
    ['always', JOURNAL_ITERATIONS],
    ['everysec', 1],
    ['no', 1],
  ];
  for (const [policy, iterations] of cases) {
    it(`keeps every acknowledged append exactly once, in order, across ${iterations} kill(s) with syncPolicy '${policy}'`, async () => {
      const root = await tempDir();
      const rnd = mulberry32(SEED ^ policy.length);
      const where = (i: number): string => `seed ${SEED}, policy ${policy}, iteration ${i}`;
      let held = 0;
      let acked = 0;
      let replayed = 0;
      for (let i = 0; i < iterations; i++) {
        const child = startFixture(['journal', root, policy, String(SEED + i)]);
        try {
          await child.waitFor((ls) => ls.some((l) => l.startsWith('ready ')), 'the child to restore');
          const ready = numbersAfter(child.lines.find((l) => l.startsWith('ready '))!)[0];
          assert.equal(ready, held, `the child restored ${ready} events, the parent ${held}; ${where(i)}`);
          await child.waitFor((ls) => ls.some((l) => l.startsWith('ack ')), 'a first acknowledgement');
          await sleep(50 + Math.floor(rnd() * 350));
        } finally {
          await child.kill();
        }

        const acks = child.lines.filter((l) => l.startsWith('ack ')).map((l) => numbersAfter(l)[0]!);
        const lastAck = Math.max(...acks);
        acked += acks.length;
        assert.deepEqual(
          child.lines.filter((l) => l.startsWith('nack ')),
          [],
          `flushJournal rejected without a fault; ${where(i)}`,
        );

        const { es, snapshotter } = openStore(root, JOURNAL_CAPACITY, 1);
        await assert.doesNotReject(es.restoreFromSnapshots(), `restore threw; ${where(i)}`);
        const events = es.query({ partition: 0 });
        replayed += snapshotter.metrics().journalRecordsReplayed;
        assert.ok(
          events.length > lastAck,
          `acknowledged k=${lastAck} but only ${events.length} events restored (lost ${lastAck + 1 - events.length}); ${where(i)}`,
        );
        const mismatch = prefixMismatch(events, 0, events.length, JOURNAL_CAPACITY);
        assert.equal(mismatch, undefined, `${mismatch} (a gap, duplicate or reorder); ${where(i)}`);
        assert.ok(events.length >= held, `went back from ${held} to ${events.length} events; ${where(i)}`);
        assert.deepEqual(await tempFiles(root), [], `temp files left after the boot sweep; ${where(i)}`);
        held = events.length;
      }
      console.log(
        `# journal '${policy}' kill -9: seed ${SEED}, iterations ${iterations}, acknowledged batches ${acked}, ` +
          `acknowledged-but-lost 0, duplicates 0, events held ${held}, journal records replayed ${replayed}`,
      );
    });
  }
});
