import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { BinarySnapshotSerializer, EventStore, FileSystemSnapshotStore } from '../../src/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname;
function runCli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8' });
}

async function storeWithSnapshots(root: string, enableLocalTracing: boolean) {
  const es = new EventStore<{ n: number }>({ capacity: 100, partitions: 2 });
  const snapshotter = es.configureSnapshots(
    {
      intervalMs: 0,
      minEventsBetweenSnapshots: 1000,
      enableLocalTracing,
      snapshotsToKeep: 1,
      journal: { enabled: true },
    },
    new BinarySnapshotSerializer({ compress: true }),
    new FileSystemSnapshotStore(root),
  );
  await es.restoreFromSnapshots();
  return { es, snapshotter };
}

describe('snapshot tracing', () => {
  it('emits snapshot.save and snapshot.prune spans with their attributes when enableLocalTracing is on', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(provider);
    try {
      const { es, snapshotter } = await storeWithSnapshots(await tempDir(), true);
      for (let i = 0; i < 10; i++) es.tryAppend({ n: i }, 0);
      await snapshotter.snapshotNow();
      es.tryAppend({ n: 10 }, 0);
      await snapshotter.snapshotNow();
      const spans = exporter.getFinishedSpans();
      const saves = spans.filter((s) => s.name === 'snapshot.save');
      const prunes = spans.filter((s) => s.name === 'snapshot.prune');
      assert.equal(saves.length, 2);
      assert.deepEqual(
        saves.map((s) => [
          s.attributes.partition,
          s.attributes.version,
          s.attributes.outcome,
          s.attributes.attempts,
        ]),
        [
          [0, 10, 'success', 1],
          [0, 11, 'success', 1],
        ],
      );
      assert.ok(saves.every((s) => typeof s.attributes.bytes === 'number' && s.attributes.bytes > 64));
      assert.deepEqual(
        prunes.map((s) => [s.attributes.kept, s.attributes.deleted]),
        [
          [1, 0],
          [1, 1],
        ],
      );
      await snapshotter.stop();
    } finally {
      trace.disable();
      await provider.shutdown();
    }
  });

  it('emits no span when enableLocalTracing is off', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(provider);
    try {
      const { es, snapshotter } = await storeWithSnapshots(await tempDir(), false);
      es.tryAppend({ n: 1 });
      await snapshotter.snapshotNow();
      assert.equal(
        snapshotter.metrics().partitions.reduce((n, p) => n + p.successes, 0),
        1,
      );
      assert.equal(exporter.getFinishedSpans().length, 0);
      await snapshotter.stop();
    } finally {
      trace.disable();
      await provider.shutdown();
    }
  });
});

describe('lockfree-eventstore snapshot inspect / journal inspect', () => {
  it('reports the header, count and a VALID verdict for a good snapshot, and exits 0', async () => {
    const root = await tempDir();
    const { es, snapshotter } = await storeWithSnapshots(root, false);
    for (let i = 0; i < 7; i++) es.tryAppend({ n: i }, 1);
    await snapshotter.snapshotNow();
    await snapshotter.stop();
    const [file] = await readdir(join(root, '1'));
    const r = runCli('snapshot', 'inspect', '--json', join(root, '1', file!));
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.kind, 'snapshot');
    assert.equal(report.valid, true);
    assert.equal(report.details.partition, 1);
    assert.equal(report.details.partitions, 2);
    assert.equal(report.details.count, 7);
    assert.equal(report.details.version, 7);
    assert.equal(report.details.compressed, true);
  });

  it('reports a corrupt snapshot as INVALID with the reason, and exits 1', async () => {
    const root = await tempDir();
    const { es, snapshotter } = await storeWithSnapshots(root, false);
    es.tryAppend({ n: 1 }, 0);
    await snapshotter.snapshotNow();
    await snapshotter.stop();
    const [file] = await readdir(join(root, '0'));
    const path = join(root, '0', file!);
    const bytes = (await import('node:fs')).readFileSync(path);
    bytes[bytes.length - 1]! ^= 0xff;
    await writeFile(path, bytes);
    const r = runCli('snapshot', 'inspect', path);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /INVALID/);
    assert.match(r.stdout, /checksum/);
  });

  it('reports the records of a journal segment and a torn tail', async () => {
    const root = await tempDir();
    const { es, snapshotter } = await storeWithSnapshots(root, false);
    for (let i = 0; i < 5; i++) es.tryAppend({ n: i }, 0);
    es.clear();
    await snapshotter.flushJournal();
    const [segment] = await readdir(join(root, 'journal'));
    const path = join(root, 'journal', segment!);
    let r = runCli('journal', 'inspect', '--json', path);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.details.append, 5);
    assert.equal(report.details.clear, 1);
    const bytes = (await import('node:fs')).readFileSync(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 3));
    r = runCli('journal', 'inspect', path);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /torn/);
    await snapshotter.stop().catch(() => {});
  });

  it('prints usage and exits 2 on a bad command line', () => {
    const r = runCli('snapshot', 'frobnicate');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /Usage:/);
  });
});
