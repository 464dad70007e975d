// Runs samples/client-sample as its README says (`EVENTSTORE_URL=… tsx samples/client-sample/main.ts`)
// against a real `lockfree-eventstore serve` process, then reads the stream itself to check that the
// orders the sample reports are the orders stored; and once against a port where nothing listens.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EventStoreClient } from '../../src/client/index.ts';
import { refusedPort } from '../helpers/ports.ts';
import { type ServerProcess, spawnServer } from '../helpers/server-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

function runSample(url: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['--import', 'tsx', 'samples/client-sample/main.ts', ...args], {
    cwd: root,
    env: { ...process.env, EVENTSTORE_URL: url },
    timeout: 60_000,
  });
}

interface Order {
  id: string;
  valor: number;
  gatewayId: string;
}

describe('samples/client-sample', () => {
  let dataDir: string;
  let server: ServerProcess;

  before(async () => {
    dataDir = await tempDir('lfes-client-sample-');
    server = await spawnServer(['--data-dir', dataDir]);
  });

  after(async () => {
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('appends the orders, reads them back and matches the server aggregate', {
    timeout: 60_000,
  }, async () => {
    const stream = 'test/client-sample';
    const first = await runSample(server.url, ['--count', '120', '--stream', stream]);
    assert.match(first.stdout, /appended 120 orders in \d+ ms .*: offsets 0\.\.119, sum valor (\d+)/);
    const sent = Number(/sum valor (\d+)/.exec(first.stdout)![1]);
    assert.match(
      first.stdout,
      new RegExp(
        `read back 120 orders \\(offsets 0\\.\\.119\\) in \\d+ ms, sum valor ${sent}; this run's orders: 120, sum valor ${sent}`,
      ),
    );
    assert.match(
      first.stdout,
      new RegExp(`server aggregate: stream count 120, sum ${sent} \\(matches the read\\)`),
    );
    assert.match(first.stdout, /\[client\] ok in \d+ ms/);

    // A second run continues the offsets and checks its own orders among the first run's.
    const second = await runSample(server.url, ['--count', '30', '--stream', stream, '--concurrency', '1']);
    assert.match(second.stdout, /appended 30 orders .*: offsets 120\.\.149/);
    assert.match(second.stdout, /read back 150 orders \(offsets 0\.\.149\)/);
    assert.match(second.stdout, /this run \(groupBy gatewayId\): count 30, sum \d+ \(matches\)/);

    const events = [];
    for await (const ev of new EventStoreClient(server.url).read<Order>(stream, { from: 0 })) events.push(ev);
    assert.deepEqual(
      events.map((e) => e.offset),
      Array.from({ length: 150 }, (_, i) => i),
    );
    const runs = new Map<string, { count: number; sum: number; ids: Set<string> }>();
    for (const { data } of events) {
      assert.ok(Number.isInteger(data.valor) && data.valor >= 1 && data.valor < 5000);
      const r = runs.get(data.gatewayId) ?? { count: 0, sum: 0, ids: new Set<string>() };
      runs.set(data.gatewayId, r);
      r.count++;
      r.sum += data.valor;
      r.ids.add(data.id);
    }
    const [firstRun, secondRun] = [...runs.values()];
    assert.equal(runs.size, 2);
    assert.deepEqual([firstRun!.count, firstRun!.ids.size, firstRun!.sum], [120, 120, sent]);
    assert.deepEqual([secondRun!.count, secondRun!.ids.size], [30, 30]);
  });

  it('exits 1 with a clear message when no server listens', { timeout: 60_000 }, async () => {
    const dead = await refusedPort();
    try {
      const url = `http://127.0.0.1:${dead.port}`;
      await assert.rejects(runSample(url, ['--count', '5']), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr, new RegExp(`cannot reach the event store at ${url}: .*ECONNREFUSED`));
        return true;
      });
    } finally {
      await dead.release();
    }
  });
});
