// Runs samples/snapshot-sensors as its README says (`node --import tsx samples/snapshot-sensors/main.ts`): a short
// run, then a restart on the same data directory that must print the state the first run saved, and a
// kill -9 run after which every acknowledged reading must come back exactly once.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SENSORS_DEFAULT_DATA_DIR } from '../../samples/snapshot-sensors/sensor-store.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const children = new Set<ChildProcess>();

interface Run {
  child: ChildProcess;
  lines: () => string[];
  /** Resolves with the first line matching `re` (polling the output), or rejects after `timeoutMs`. */
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<RegExpExecArray>;
  exited: Promise<number | string>;
}

/** Runs the sample in the working directory `cwd` (where its default data directory goes). */
function startSensors(args: string[], cwd = root): Run {
  const main = join(root, 'samples/snapshot-sensors/main.ts');
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), main, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? -1);
    }),
  );
  const lines = (): string[] => out.split('\n');
  const waitFor = async (re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of lines()) {
        const m = re.exec(line);
        if (m !== null) return m;
      }
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(`no line matching ${re} in:\n${out}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { child, lines, waitFor, exited };
}

/** The `[STATE]` lines of a run, in order: after the restore, and at exit. */
function states(run: Run): string[] {
  return run.lines().filter((l) => l.startsWith('[STATE] '));
}

const common = ['--rate', '5000', '--devices', '16', '--snapshot-interval-ms', '500'];

after(async () => {
  for (const child of children) child.kill('SIGKILL');
});

describe('samples/snapshot-sensors', () => {
  it('restores on restart exactly the state it printed when it stopped', { timeout: 60_000 }, async () => {
    const dir = await tempDir('lfes-sensors-');
    const first = startSensors([...common, '--data-dir', dir, '--duration-ms', '2500']);
    assert.equal(await first.exited, 0, first.lines().join('\n'));
    assert.ok(first.lines().includes('[BOOT] partitions restored from snapshot: 0'));
    assert.ok(first.lines().some((l) => /^\[METRICS\] .*rate=\d+ ev\/s .*snapshots=\d+/.test(l)));
    const [, saved] = states(first);
    assert.ok(saved !== undefined, first.lines().join('\n'));
    const summary = JSON.parse(saved.slice('[STATE] '.length)) as {
      readings: number;
      devices: number;
      temperature: { count: number };
    };
    assert.ok(summary.readings > 0);
    assert.equal(summary.temperature.count, summary.readings);
    assert.equal(summary.devices, 16);

    const second = startSensors([...common, '--data-dir', dir, '--duration-ms', '300']);
    assert.equal(await second.exited, 0, second.lines().join('\n'));
    const restored = Number((await second.waitFor(/^\[BOOT\] partitions restored from snapshot: (\d+)$/))[1]);
    assert.ok(restored > 0 && restored <= 8, `restored ${restored}`);
    assert.equal(states(second)[0], saved);
    const boot = await second.waitFor(
      /readings held: (\d+), .*last seq: (\d+), missing: (\d+), duplicated: (\d+)/,
    );
    assert.deepEqual(boot.slice(1).map(Number), [summary.readings, summary.readings - 1, 0, 0]);
  });

  it('after kill -9 holds every acknowledged reading exactly once', { timeout: 60_000 }, async () => {
    const dir = await tempDir('lfes-sensors-');
    const run = startSensors([...common, '--data-dir', dir]);
    // Two metrics lines: the producer has journaled and acknowledged for a while.
    await run.waitFor(/^\[METRICS\] t=\d/);
    const acked = await run.waitFor(/^\[METRICS\] t=(?:[2-9]|\d\d).*acked-seq=(\d+)/);
    run.child.kill('SIGKILL');
    assert.equal(await run.exited, 'SIGKILL');
    const lastAcked = Math.max(
      ...run
        .lines()
        .map((l) => /acked-seq=(\d+)/.exec(l)?.[1])
        .filter((s) => s !== undefined)
        .map(Number),
    );
    assert.ok(lastAcked >= Number(acked[1]) && lastAcked > 0);

    const next = startSensors([...common, '--data-dir', dir, '--duration-ms', '300']);
    const boot = await next.waitFor(
      /readings held: (\d+), .*last seq: (\d+), missing: (\d+), duplicated: (\d+)/,
    );
    const [held, lastSeq, missing, duplicated] = boot.slice(1).map(Number);
    assert.equal(missing, 0);
    assert.equal(duplicated, 0);
    assert.ok(lastSeq! >= lastAcked, `last seq ${lastSeq} < acknowledged ${lastAcked}`);
    assert.equal(held, lastSeq! + 1);
    assert.equal(await next.exited, 0, next.lines().join('\n'));
  });

  it(`keeps its data in ${SENSORS_DEFAULT_DATA_DIR} by default, apart from the server's ./data`, {
    timeout: 60_000,
  }, async () => {
    const cwd = await tempDir('lfes-sensors-');
    const run = startSensors([...common, '--duration-ms', '300'], cwd);
    assert.equal(await run.exited, 0, run.lines().join('\n'));
    await run.waitFor(new RegExp(`^\\[RUN\\] data dir ${SENSORS_DEFAULT_DATA_DIR.replaceAll('.', '\\.')},`));
    const dir = join(cwd, SENSORS_DEFAULT_DATA_DIR);
    const files = await readdir(dir, { recursive: true });
    assert.ok(files.includes('journal'), `the journal is in ${dir}: ${files.join(', ')}`);
    assert.ok(
      files.some((f) => f.endsWith('.snap')),
      `the snapshots are in ${dir}: ${files.join(', ')}`,
    );
    assert.deepEqual(await readdir(cwd), ['sample-data'], 'nothing else is written, no ./data');
  });

  it('refuses a bad option with exit status 2 and says which', { timeout: 30_000 }, async () => {
    const run = startSensors(['--rate', 'fast']);
    assert.equal(await run.exited, 2);
    assert.ok(run.lines().some((l) => l.includes('--rate must be an integer >= 0, received "fast"')));
  });
});
