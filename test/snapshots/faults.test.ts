// Fault injection into the snapshot subsystem on real filesystems, no mocks: a 1 MiB tmpfs for a
// genuinely full disk (short writes, then ENOSPC), and libfiu (fiu-run / fiu-ctrl, Debian package
// fiu-utils) for EIO from fsync, ENOSPC from pwrite and EIO from unlink and rename in a child process.
// libfiu has no failure point for link(2), which publishes a snapshot; the steps around it (fsync of the
// temp file, removal of the temp name, the directory fsync) are covered instead.
// A test whose tool is missing (no mount permission; no fiu-run, see test/helpers/system-programs.ts)
// is reported as skipped, never passed; under CI a missing fiu-run fails it instead.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { ErrorCode } from '../../src/index.ts';
import {
  type Child,
  eventOf,
  JOURNAL_CAPACITY,
  openStore,
  prefixMismatch,
  startFixture,
  tempFiles,
} from '../helpers/snapshot-crash.ts';
import { LIBFIU, systemProgram } from '../helpers/system-programs.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const mounts: string[] = [];
/** Processes started under fiu-run: libfiu leaves its control FIFOs behind, even on a normal exit. */
const fiuPids: number[] = [];
after(async () => {
  const fifoDir = process.env.TMPDIR ?? '/tmp';
  for (const pid of fiuPids) {
    for (const end of ['in', 'out']) await rm(join(fifoDir, `fiu-ctrl-${pid}.${end}`), { force: true });
  }
  for (const m of mounts) spawnSync('umount', [m]);
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** `fiu.skip`: why the libfiu tests are skipped (outside CI, without fiu-utils), else false. */
const fiu = systemProgram(LIBFIU);

const GOOD_EVENTS = 100;

/** Writes a good snapshot of GOOD_EVENTS events of partition 0; returns its name and bytes. */
async function goodSnapshot(root: string): Promise<{ name: string; bytes: Buffer }> {
  const { es, snapshotter } = openStore(root, 100_000, 1);
  for (let k = 0; k < GOOD_EVENTS; k++) es.tryAppend(eventOf(0, k), 0);
  assert.equal(await snapshotter.snapshotNow(), 1);
  const [name, ...others] = (await readdir(join(root, '0'))).filter((n) => n.endsWith('.snap'));
  assert.deepEqual(others, []);
  return { name: name!, bytes: await readFile(join(root, '0', name!)) };
}

/** Restores `root` in this process (no fault) and checks it holds exactly events 0..version-1. */
async function restoredVersion(root: string): Promise<{ version: number; swept: number }> {
  const { es, snapshotter } = openStore(root, 100_000, 1);
  await es.restoreFromSnapshots();
  const m = snapshotter.metrics();
  const version = Math.max(0, m.partitions[0]!.lastVersion);
  const mismatch = prefixMismatch(es.query({ partition: 0 }), 0, version, 100_000);
  assert.equal(mismatch, undefined, mismatch);
  return { version, swept: m.sweptTemporaryFiles };
}

/** The old snapshot is still there, byte for byte, and is the only file of the partition. */
async function assertOnlyGood(root: string, good: { name: string; bytes: Buffer }): Promise<void> {
  assert.deepEqual(await readdir(join(root, '0')), [good.name]);
  assert.ok((await readFile(join(root, '0', good.name))).equals(good.bytes), 'the old snapshot changed');
}

interface SaveResult {
  saved: number[];
  attempts: number[];
  version: number;
  failures: number;
  totalFailedJobs: number;
  tempNames: string[];
  snapshotEvents: string[];
  retries: { error: string; delayMs: number }[];
  errors: string[];
}

interface SaveRun {
  maxSaveAttempts: number;
  backoffBaseDelayMs: number;
  append: number;
  rounds: number;
  waitForGo?: boolean;
}

function startUnderFiu(args: string[], enable: string[]): Child {
  const child = startFixture(args, [fiu.path('fiu-run'), '-x', ...enable.flatMap((c) => ['-c', c])]);
  fiuPids.push(child.pid);
  return child;
}

async function result<R>(child: Child): Promise<R> {
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 30_000); // a hung child fails the test
  const code = await child.exited;
  clearTimeout(timer);
  const line = child.lines.find((l) => l.startsWith('result '));
  assert.ok(
    line !== undefined,
    `the child exited (${code}) without a result; stderr: ${child.stderr.slice(-2000)}`,
  );
  return JSON.parse(line.slice('result '.length)) as R;
}

function runSave(root: string, run: SaveRun, enable: string[]): Promise<SaveResult> {
  return result<SaveResult>(startUnderFiu(['save', root, JSON.stringify(run)], enable));
}

function fiuCtrl(pid: number, command: string): void {
  execFileSync(fiu.path('fiu-ctrl'), ['-c', command, String(pid)]);
}

describe('snapshot saves on a full disk (1 MiB tmpfs)', () => {
  it('fails the save after maxSaveAttempts, keeps the previous snapshot intact, leaves no temp file and keeps accepting appends', async (t: TestContext) => {
    const root = await tempDir();
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', root], { encoding: 'utf8' });
    if (mounted.status !== 0) {
      t.skip(`cannot mount a tmpfs (needs root): ${(mounted.stderr || String(mounted.error)).trim()}`);
      return;
    }
    mounts.push(root);
    const good = await goodSnapshot(root);
    const { es, snapshotter, logger } = openStore(root, 100_000, 1, {
      maxSaveAttempts: 3,
      backoffBaseDelayMs: 10,
    });
    await es.restoreFromSnapshots();
    const pad = 'x'.repeat(200);
    // ~2.3 MB of events: the next snapshot cannot fit in what is left of the 1 MiB.
    for (let k = GOOD_EVENTS; k < 10_000; k++) es.tryAppend({ ...eventOf(0, k), pad }, 0);
    let duringSave = 0;
    let saving = true;
    const save = snapshotter.snapshotNow().finally(() => {
      saving = false;
    });
    while (saving) {
      assert.equal(es.tryAppend({ ...eventOf(0, 10_000 + duringSave), pad }, 0), true);
      duringSave++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(await save, 0, 'the save cannot succeed on a full disk');
    const m = snapshotter.metrics();
    assert.equal(m.totalFailedJobs, 1);
    assert.equal(m.partitions[0]!.failures, 1);
    assert.equal(m.partitions[0]!.lastSaveAttempts, 3);
    const errors = logger.lines.filter((l) => /save failed/.test(l.msg)).map((l) => String(l.obj.error));
    assert.equal(errors.length, 3, 'two retries and the final failure are logged');
    for (const e of errors) assert.match(e, /ENOSPC|no space|short write/);
    assert.ok(duringSave > 0, 'no append ran while the save was failing');
    await assertOnlyGood(root, good);
    const { bavail, bsize } = await statfs(root);
    assert.ok(
      bavail * bsize >= 1024 * 1024 - good.bytes.length - 64 * 1024,
      `only ${bavail * bsize} bytes free: a failed temp file still holds space`,
    );
    assert.equal(
      (await restoredVersion(root)).version,
      GOOD_EVENTS,
      'a fresh restore returns the old snapshot',
    );
    console.log(
      `# T19 tmpfs ENOSPC: save failed after ${m.partitions[0]!.lastSaveAttempts} attempts, old snapshot intact, ` +
        `temp files left 0, appends accepted during the failing save ${duringSave}`,
    );
  });
});

describe('snapshot saves under libfiu faults', () => {
  const failing: [string, string, RegExp][] = [
    ['EIO from fsync', 'enable name=posix/io/sync/fsync,failinfo=5', /EIO/],
    ['ENOSPC from pwrite', 'enable name=posix/io/rw/pwrite,failinfo=28', /ENOSPC/],
  ];
  for (const [fault, enable, code] of failing) {
    it(`reports a save that meets ${fault} on every attempt, retrying each time with a new temp file, and keeps the old snapshot`, async (t: TestContext) => {
      if (fiu.skip) return t.skip(fiu.skip);
      const root = await tempDir();
      const good = await goodSnapshot(root);
      const r = await runSave(root, { maxSaveAttempts: 3, backoffBaseDelayMs: 5, append: 50, rounds: 1 }, [
        enable,
      ]);
      assert.deepEqual(r.saved, [0]);
      assert.deepEqual(r.attempts, [3]);
      assert.equal(r.failures, 1);
      assert.equal(r.totalFailedJobs, 1);
      assert.equal(r.retries.length, 2);
      for (const retry of r.retries) assert.match(retry.error, code);
      assert.equal(r.errors.length, 1);
      assert.match(r.errors[0]!, code);
      assert.equal(r.tempNames.length, 3, `one new temp file per attempt: ${r.tempNames.join(', ')}`);
      assert.deepEqual(r.snapshotEvents, [], 'no snapshot name was ever created');
      await assertOnlyGood(root, good);
      assert.deepEqual(await restoredVersion(root), { version: GOOD_EVENTS, swept: 0 });
      console.log(
        `# libfiu ${fault}: failures 1, attempts 3, distinct temp files 3, old snapshot intact, leaked temps 0`,
      );
    });
  }

  it('publishes the snapshot when the temp name cannot be removed after the link (unlink EIO), and the boot sweep removes it', async (t: TestContext) => {
    if (fiu.skip) return t.skip(fiu.skip);
    const root = await tempDir();
    const good = await goodSnapshot(root);
    const r = await runSave(root, { maxSaveAttempts: 3, backoffBaseDelayMs: 5, append: 50, rounds: 1 }, [
      'enable name=posix/io/dir/unlink,failinfo=5',
    ]);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.saved, [1]);
    assert.deepEqual(r.attempts, [1]);
    assert.equal(r.tempNames.length, 1);
    assert.deepEqual(await tempFiles(root), [join('0', r.tempNames[0]!)], 'the temp name is still there');
    assert.ok((await readFile(join(root, '0', good.name))).equals(good.bytes), 'the old snapshot changed');
    assert.deepEqual(await restoredVersion(root), { version: GOOD_EVENTS + 50, swept: 1 });
    assert.deepEqual(await tempFiles(root), []);
  });

  it('retries a save whose directory fsync fails after the link under a fresh temp file, never colliding with its own snapshot', async (t: TestContext) => {
    if (fiu.skip) return t.skip(fiu.skip);
    const root = await tempDir();
    await goodSnapshot(root);
    const rounds = 15;
    // Each fsync (temp file, then directory) fails with probability 0.3: some attempts fail after the
    // temp file was linked to the final name.
    const r = await runSave(root, { maxSaveAttempts: 25, backoffBaseDelayMs: 1, append: 10, rounds }, [
      'enable_random name=posix/io/sync/fsync,probability=0.3,failinfo=5',
    ]);
    for (const retry of r.retries) assert.doesNotMatch(retry.error, new RegExp(ErrorCode.SNAPSHOT_EXISTS));
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.saved, new Array(rounds).fill(1));
    const creations = new Map<string, number>();
    for (const n of r.snapshotEvents) creations.set(n, (creations.get(n) ?? 0) + 1);
    const republished = [...creations.values()].filter((c) => c > 1).length;
    assert.deepEqual(await restoredVersion(root), { version: GOOD_EVENTS + 10 * rounds, swept: 0 });
    assert.deepEqual(await tempFiles(root), []);
    console.log(
      `# libfiu random fsync EIO: ${rounds} saves, ${r.retries.length} retries, ` +
        `${republished} published then taken back after a failed directory fsync, all saved`,
    );
  });

  it('falls back past a corrupt newest snapshot even when it cannot be quarantined (rename EIO)', async (t: TestContext) => {
    if (fiu.skip) return t.skip(fiu.skip);
    const root = await tempDir();
    const good = await goodSnapshot(root);
    await writeFile(join(root, '0', `0_${GOOD_EVENTS + 50}_${Date.now()}.snap`), 'not a snapshot');
    const r = await result<{ outcome: string; version: number; count: number; logs: string[] }>(
      startUnderFiu(['restore', root], ['enable name=posix/io/dir/rename,failinfo=5']),
    );
    assert.equal(r.outcome, 'ok');
    assert.equal(r.version, GOOD_EVENTS);
    assert.equal(r.count, GOOD_EVENTS);
    assert.ok(r.logs.some((l) => /corrupt/.test(l)));
    assert.ok((await readFile(join(root, '0', good.name))).equals(good.bytes));
  });

  it('succeeds after a transient one-second fsync outage, with attempts > 1 and per-job backoff delays', async (t: TestContext) => {
    if (fiu.skip) return t.skip(fiu.skip);
    const root = await tempDir();
    const good = await goodSnapshot(root);
    const run: SaveRun = {
      maxSaveAttempts: 8,
      backoffBaseDelayMs: 100,
      append: 50,
      rounds: 1,
      waitForGo: true,
    };
    const child = startUnderFiu(['save', root, JSON.stringify(run)], []);
    let r: SaveResult;
    try {
      await child.waitFor((ls) => ls.includes('ready'), 'the child to restore');
      fiuCtrl(child.pid, 'enable name=posix/io/sync/fsync,failinfo=5');
      child.send('go');
      await sleep(1000);
      fiuCtrl(child.pid, 'disable name=posix/io/sync/fsync');
      r = await result<SaveResult>(child);
    } finally {
      await child.kill();
    }
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.saved, [1]);
    assert.ok(r.attempts[0]! > 1, `attempts ${r.attempts[0]}`);
    assert.equal(r.retries.length, r.attempts[0]! - 1);
    r.retries.forEach((retry, i) => {
      assert.match(retry.error, /EIO/);
      const nominal = 100 * 2 ** i;
      assert.ok(
        retry.delayMs >= 0.8 * nominal - 1 && retry.delayMs <= 1.2 * nominal + 1,
        `retry ${i + 1} waited ${retry.delayMs} ms, nominal ${nominal} ± 20 %`,
      );
    });
    assert.equal(r.tempNames.length, r.attempts[0]!, 'one new temp file per attempt');
    assert.ok((await readFile(join(root, '0', good.name))).equals(good.bytes));
    assert.deepEqual(await restoredVersion(root), { version: GOOD_EVENTS + 50, swept: 0 });
    console.log(
      `# T21 transient fsync outage: attempts ${r.attempts[0]}, delays ${r.retries.map((x) => x.delayMs).join('/')} ms, final success yes`,
    );
  });
});

describe('delta journal under libfiu fsync EIO', () => {
  it("rejects flushJournal with ES_ERR_JOURNAL_FAILED while fsync fails and loses nothing acknowledged ('always')", async (t: TestContext) => {
    if (fiu.skip) return t.skip(fiu.skip);
    const root = await tempDir();
    const child = startUnderFiu(['journal', root, 'always', '7'], []);
    const acks = (ls: readonly string[]): number => ls.filter((l) => l.startsWith('ack ')).length;
    const nacks = (ls: readonly string[]): string[] => ls.filter((l) => l.startsWith('nack '));
    try {
      await child.waitFor((ls) => acks(ls) >= 20, '20 acknowledgements');
      fiuCtrl(child.pid, 'enable name=posix/io/sync/fsync,failinfo=5');
      await child.waitFor((ls) => nacks(ls).length >= 5, '5 rejected flushes');
      await sleep(200);
      fiuCtrl(child.pid, 'disable name=posix/io/sync/fsync');
      const before = acks(child.lines);
      await child.waitFor((ls) => acks(ls) >= before + 20, '20 acknowledgements after the outage');
    } finally {
      await child.kill();
    }
    const rejected = nacks(child.lines);
    for (const n of rejected) assert.match(n, new RegExp(`${ErrorCode.JOURNAL_FAILED}$`));
    const lastAck = Math.max(
      ...child.lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.split(' ')[1])),
    );
    const { es, snapshotter } = openStore(root, JOURNAL_CAPACITY, 1);
    await es.restoreFromSnapshots();
    const events = es.query({ partition: 0 });
    assert.ok(events.length > lastAck, `acknowledged k=${lastAck}, restored ${events.length} events`);
    const mismatch = prefixMismatch(events, 0, events.length, JOURNAL_CAPACITY);
    assert.equal(mismatch, undefined, mismatch);
    console.log(
      `# journal under fsync EIO: rejected flushes ${rejected.length} (all ${ErrorCode.JOURNAL_FAILED}), ` +
        `acknowledged batches ${acks(child.lines)}, acknowledged-but-lost 0, restored ${events.length} events, ` +
        `replayed ${snapshotter.metrics().journalRecordsReplayed}`,
    );
  });
});
