// The cluster under faults, end to end: 3 nats-server nodes (replicas 3), 3 store nodes and nginx in
// front; 4 producer processes (idempotent producers, two per stream) append batches through nginx
// while a store node is killed -9 and restarted and then a NATS node is killed -9 and restarted. At
// the end every node holds identical state (a digest per stream: offsets, data, producer state) and
// every acknowledged event is present exactly once, at its acknowledged offset: lost 0, duplicated 0.
// LFES_CLUSTER_FAULT_MS sets the load's duration (default 20 s; the faults scale with it).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { EventStoreClient } from '../../src/client/index.ts';
import { convergedDigests, NatsCluster, StoreNode, startNginx, stopAll } from '../helpers/cluster.ts';
import { NATS_SERVER, NGINX, systemProgram } from '../helpers/system-programs.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const nats = systemProgram(NATS_SERVER);
const nginx = systemProgram(NGINX);
const skip = nats.skip || nginx.skip;
const root = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/cluster-producer.ts', import.meta.url));

const DURATION_MS = Number(process.env.LFES_CLUSTER_FAULT_MS ?? 20_000);
const BATCH = 20;

interface ProducerLine {
  ack?: { firstOffset: number; lastOffset: number; count: number; duplicate?: boolean };
  failed?: string;
  from: number;
  to: number;
  done?: boolean;
}

/** Runs one producer process to its end; resolves with its lines. */
function runProducer(url: string, id: string, stream: string): Promise<ProducerLine[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', FIXTURE, url, id, stream, String(BATCH), String(DURATION_MS)],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => {
      const lines = out
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as ProducerLine);
      if (code !== 0 || lines.at(-1)?.done !== true)
        reject(new Error(`producer ${id} exited ${code}: ${err}`));
      else resolve(lines.slice(0, -1));
    });
  });
}

describe('the cluster under faults', { timeout: 300_000 }, () => {
  let dir: string;
  let cluster: NatsCluster;
  const stores: StoreNode[] = [];
  let entry: string;

  before(async () => {
    if (skip) return;
    nats.path();
    nginx.path();
    dir = await tempDir('lfes-cluster-faults-');
    cluster = new NatsCluster(3, dir);
    await cluster.start();
    for (const id of ['s1', 's2', 's3']) {
      stores.push(
        new StoreNode(id, `${dir}/${id}`, cluster.urls, [
          '--replicas',
          '3',
          '--snapshot-interval-ms',
          '2000',
        ]),
      );
    }
    for (const s of stores) await s.start();
    entry = (await startNginx(stores, dir)).url;
  });

  after(() => stopAll());

  it('keeps every acknowledged event exactly once at its offset, on identical nodes, through kill -9 of a store node and a NATS node', async (t) => {
    if (skip) return t.skip(skip);
    const streams = ['faults/a', 'faults/a', 'faults/b', 'faults/b'];
    const producers = streams.map((stream, i) =>
      runProducer(entry, `p${i}`, stream).then((lines) => ({ id: `p${i}`, stream, lines })),
    );
    const step = DURATION_MS / 10;
    await sleep(2 * step);
    assert.equal(await stores[1]!.kill('SIGKILL'), 'SIGKILL');
    await sleep(step);
    await stores[1]!.start();
    await sleep(step);
    await cluster.nodes[0]!.kill('SIGKILL');
    await sleep(2 * step);
    await cluster.restart(0);
    const results = await Promise.all(producers);
    const loadEnded = Date.now();

    const digests = await convergedDigests(
      stores.map((s) => s.url),
      60_000,
    );
    const convergedMs = Date.now() - loadEnded;
    for (const d of digests.slice(1))
      assert.deepEqual(d.streams, digests[0]!.streams, 'every node holds the same state');

    // Every stream as one node holds it (the digests say the others hold the same).
    const held = new Map<string, Map<number, { p: string; n: number }>>();
    const client = new EventStoreClient(stores[0]!.url);
    for (const stream of new Set(streams)) {
      const byOffset = new Map<number, { p: string; n: number }>();
      for await (const e of client.read<{ p: string; n: number }>(stream, { from: 0 }))
        byOffset.set(e.offset, e.data);
      held.set(stream, byOffset);
    }
    let acknowledged = 0;
    let lost = 0;
    let failedBatches = 0;
    for (const { id, stream, lines } of results) {
      for (const line of lines) {
        if (line.ack === undefined) {
          failedBatches++;
          continue;
        }
        assert.equal(line.ack.count, line.to - line.from + 1);
        for (let n = line.from; n <= line.to; n++) {
          acknowledged++;
          const e = held.get(stream)!.get(line.ack.firstOffset + (n - line.from));
          if (e?.p !== id || e.n !== n) lost++;
        }
      }
    }
    let duplicated = 0;
    for (const byOffset of held.values()) {
      const seen = new Set<string>();
      for (const e of byOffset.values()) {
        const key = `${e.p}/${e.n}`;
        if (seen.has(key)) duplicated++;
        seen.add(key);
      }
    }
    const figures = {
      acknowledged,
      lost,
      duplicated,
      failedBatches,
      digestsEqual: true,
      position: digests[0]!.position,
      convergedMs,
    };
    t.diagnostic(JSON.stringify(figures));
    console.log(`cluster faults: ${JSON.stringify(figures)}`);
    assert.ok(acknowledged > 0, 'the load acknowledged events');
    assert.equal(lost, 0, 'no acknowledged event is lost or moved');
    assert.equal(duplicated, 0, 'no event is stored twice');
  });
});
