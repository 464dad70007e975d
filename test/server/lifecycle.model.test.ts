// Model-based lifecycle test of the real server process. Random sequences of appends (single events,
// JSON-array batches of 1-50 and of 1,001 events, NDJSON, Expected-Version, small `?capacity=`, idempotent
// producers with retries, epoch bumps, stale epochs, gaps and conflicts), deletes and re-creations,
// reads, and restarts (SIGTERM, kill -9, kill -9 right after a periodic snapshot, two restarts in a row,
// kill -9 during an append) run against `node dist/cli/main.js serve` on a fresh data directory and
// against a plain model (test/helpers/lifecycle-model.ts). Every answer must be the model's; after every
// restart and at the end the server must hold exactly the model's state: every stream with its offsets,
// capacity and tombstone, every acknowledged event at its offset with its data and receive time, nothing
// else, and every producer's state.
// LFES_LIFECYCLE_RUNS sets the number of sequences (default 100; 1,000 or more for a long run); a failure prints the seed and paths to
// replay it with LFES_LIFECYCLE_SEED, LFES_LIFECYCLE_PATH and LFES_LIFECYCLE_REPLAY_PATH (shrinking stops
// 10 minutes after the first failure). LFES_LIFECYCLE_CLI runs another build's dist/cli/main.js.
// The commands, the checks and the runner are shared with the cluster's lifecycle test
// (test/helpers/lifecycle-sequences.ts); this file adds the single server's configurations and target.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AppendCommand,
  bigBatch,
  commandArb,
  DeleteCommand,
  KillAfterSnapshotCommand,
  type LifecycleCommand,
  type LifecycleTarget,
  ProducerCommand,
  plain,
  RestartCommand,
  RestartTwiceCommand,
  request,
  runModel,
  runSequence,
  type SequenceConfig,
  SHORT_SNAPSHOT_INTERVAL_MS,
  type StoredEvent,
  sequenceArgs,
} from '../helpers/lifecycle-sequences.ts';
import { assertBuildIsCurrent, RestartableServer } from '../helpers/restartable-server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

// ---------------------------------------------------------------------------------------------------
// Server configurations and the target: one process at a time on the sequence's data directory

interface LifecycleConfig extends SequenceConfig {
  fsync: 'always' | 'everysec' | 'no';
}

function serveArgs(c: LifecycleConfig): string[] {
  return ['--fsync', c.fsync, ...sequenceArgs(c)];
}

const configArb: fc.Arbitrary<LifecycleConfig> = fc.record({
  fsync: fc.oneof(
    { weight: 2, arbitrary: fc.constant('always' as const) },
    { weight: 2, arbitrary: fc.constant('everysec' as const) },
    { weight: 1, arbitrary: fc.constant('no' as const) },
  ),
  snapshotIntervalMs: fc.constantFrom(SHORT_SNAPSHOT_INTERVAL_MS, undefined),
  streamCapacity: fc.constantFrom(undefined, 2_000, 40),
});

/** One server process on a new data directory. */
async function singleServer(config: LifecycleConfig): Promise<LifecycleTarget> {
  const dir = await tempDir('lfes-lifecycle-');
  const server = new RestartableServer(dir, serveArgs(config));
  return {
    cluster: false,
    nodes: [server],
    dispose: async () => {
      await server.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function runOne(config: LifecycleConfig, commands: LifecycleCommand[]): Promise<void> {
  return runSequence(config, commands, singleServer);
}

// ---------------------------------------------------------------------------------------------------
// Fixed cases: shapes that broke persistence before, named after their symptom

const ALWAYS: LifecycleConfig = { fsync: 'always', snapshotIntervalMs: undefined, streamCapacity: undefined };
const SNAPSHOTTING: LifecycleConfig = { ...ALWAYS, snapshotIntervalMs: SHORT_SNAPSHOT_INTERVAL_MS };

describe('the server process against the lifecycle model, with restarts', () => {
  before(() => assertBuildIsCurrent());

  it('restarts after SIGTERM following a single event', async () => {
    await runOne(ALWAYS, [
      new AppendCommand('orders', plain([{ id: 1 }], 'single'), undefined, 'none'),
      new RestartCommand('SIGTERM'),
    ]);
  });

  it('restarts after SIGTERM following a single producer append', async () => {
    for (const config of [ALWAYS, { ...SNAPSHOTTING, fsync: 'everysec' as const }]) {
      await runOne(config, [
        new ProducerCommand('orders', 'p0', 'next', plain([{ id: 1 }], 'single'), 1, 'none'),
        new RestartCommand('SIGTERM'),
        new ProducerCommand('orders', 'p0', 'retry', plain([{ id: 2 }], 'single'), 1, 'none'),
      ]);
    }
  });

  it('restarts after a single 1,001-event batch (SIGTERM and kill -9, JSON and NDJSON)', async () => {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      for (const format of ['array', 'ndjson'] as const) {
        await runOne({ ...ALWAYS, fsync: signal === 'SIGTERM' ? 'everysec' : 'always' }, [
          new AppendCommand('gw/eu-1', plain(bigBatch(7), format), undefined, 'none'),
          new RestartCommand(signal),
        ]);
      }
    }
  });

  it('restarts after kill -9 right after a periodic snapshot', async () => {
    for (const fsync of ['always', 'everysec'] as const) {
      await runOne({ ...SNAPSHOTTING, fsync }, [
        new ProducerCommand('s', 'p0', 'next', plain([{ id: 1 }, { id: 2 }]), 1, 'none'),
        new AppendCommand('orders', plain(bigBatch(3)), undefined, 'none'),
        new KillAfterSnapshotCommand('t/1', plain([{ id: 3 }], 'single'), 0),
        new ProducerCommand('s', 'p0', 'retry', plain([{ id: 4 }]), 1, 'none'),
      ]);
    }
  });

  it('restarts twice with nothing written between the restarts', async () => {
    for (const [a, b] of [
      ['SIGTERM', 'SIGTERM'],
      ['SIGKILL', 'SIGTERM'],
      ['SIGTERM', 'SIGKILL'],
    ] as const) {
      await runOne(SNAPSHOTTING, [
        new AppendCommand('a.b~c', plain([{ id: 1 }, { id: 2 }, { id: 3 }]), 2, 'none'),
        new ProducerCommand('a.b~c', 'p1', 'next', plain([{ id: 4 }], 'ndjson'), 2, 'none'),
        new DeleteCommand('orders'),
        new AppendCommand('orders', plain([{ id: 5 }], 'single'), undefined, 'right'),
        new DeleteCommand('orders'),
        new RestartTwiceCommand(a, b),
      ]);
    }
  });

  it('exits 0 with a final snapshot on a SIGTERM sent as soon as it prints its listening line', async () => {
    const dir = await tempDir('lfes-lifecycle-');
    const server = new RestartableServer(dir, serveArgs(ALWAYS));
    try {
      await server.start();
      const ack = await request(`${server.url}/streams/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"id":1}',
      });
      assert.equal(ack.status, 201, ack.text);
      assert.equal(await server.stop('SIGTERM'), 0);
      const codes: (number | string)[] = [];
      for (let i = 0; i < 10; i++) {
        await server.start();
        codes.push(await server.stop('SIGTERM')); // no request first: the signal follows the line at once
      }
      await server.start();
      const read = await request(`${server.url}/streams/orders`);
      assert.deepEqual(
        (read.body.events as StoredEvent[]).map((e) => e.data),
        [{ id: 1 }],
        'the event survives every stop',
      );
      assert.equal(await server.stop('SIGTERM'), 0);
      assert.deepEqual(codes, new Array(codes.length).fill(0), `exit statuses:\n${server.log}`);
    } finally {
      await server.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps every acknowledged event, offset and producer state over random lifecycles with restarts', async () => {
    await runModel({
      title: 'lifecycle model',
      envPrefix: 'LFES_LIFECYCLE',
      defaultRuns: 100,
      testFile: 'test/server/lifecycle.model.test.ts',
      configArb,
      commandArb: commandArb(),
      newTarget: singleServer,
    });
  });
});
