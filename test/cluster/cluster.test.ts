// Cluster mode on loopback: 3 nats-server nodes (JetStream, replicas 3) and store nodes started with
// `serve --cluster`. Writes on one node are read on the others at once, on a node that receives the
// log late too (a full page, a subscription, an eviction, a delete); Expected-Version races sent
// to different nodes have one winner per version, the same everywhere; a node started empty and a
// node restarted from its checkpoint reach the same digests; a node cut off from NATS refuses writes
// with 503 ES_ERR_LOG_UNAVAILABLE, marks its reads possibly stale, and recovers when NATS returns.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode } from '../../src/errors.ts';
import {
  convergedDigests,
  getJson,
  NatsCluster,
  NatsProxy,
  type NodeDigest,
  StoreNode,
  stopAll,
} from '../helpers/cluster.ts';
import { mulberry32 } from '../helpers/random.ts';
import { NATS_SERVER, systemProgram } from '../helpers/system-programs.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const nats = systemProgram(NATS_SERVER);

async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: r.status, headers: r.headers, body: (await r.json()) as Record<string, unknown> };
}

function assertSameDigests(digests: NodeDigest[], what: string): void {
  for (const d of digests.slice(1)) assert.deepEqual(d, digests[0], what);
}

describe('cluster mode', { timeout: 240_000 }, () => {
  let dir: string;
  let cluster: NatsCluster;
  const stores: StoreNode[] = [];

  before(async () => {
    if (nats.skip) return;
    nats.path();
    dir = await tempDir('lfes-cluster-');
    cluster = new NatsCluster(3, dir);
    await cluster.start();
    for (const id of ['a', 'b', 'c']) {
      const node = new StoreNode(id, `${dir}/store-${id}`, cluster.urls, ['--replicas', '3']);
      stores.push(node);
    }
    // One at a time: the first creates the log, the others find it.
    for (const s of stores) await s.start();
  });

  after(() => stopAll());

  it('answers a write on one node and shows it on every other node at once, with the log position', async (t) => {
    if (nats.skip) return t.skip(nats.skip);
    const [a, b, c] = stores as [StoreNode, StoreNode, StoreNode];
    const w = await post(`${a.url}/streams/ryw`, [{ n: 1 }, { n: 2 }]);
    assert.equal(w.status, 201, JSON.stringify(w.body));
    const position = Number(w.headers.get('es-log-position'));
    assert.ok(position > 0, 'an acknowledged write names the log position it was applied at');
    for (const node of [b, c]) {
      // No waiting between the write and the read: the read catches up with the log.
      const r = await getJson<{ events: { offset: number; data: unknown }[] }>(`${node.url}/streams/ryw`);
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.body.events.map((e) => [e.offset, e.data]),
        [
          [0, { n: 1 }],
          [1, { n: 2 }],
        ],
      );
      assert.ok(Number(r.headers.get('es-log-position')) >= position);
      assert.equal(r.headers.get('es-possibly-stale'), null);
    }
    const status = await getJson(`${b.url}/cluster`);
    assert.equal(status.body.node, 'b');
    assert.equal(status.body.connected, true);
  });

  it('shows every write acknowledged on another node to reads sent concurrently, round after round', async (t) => {
    if (nats.skip) return t.skip(nats.skip);
    // Concurrent reads on one node share catch-up rounds; each must still wait for a round that asked
    // the log after the read came in, however many rounds overlapped before. The reading node gets the
    // log 100 ms late, so a read that skipped the barrier would miss the write.
    const proxy = new NatsProxy(cluster.urls[0]!, { delayMs: 100 });
    await proxy.open();
    const slow = new StoreNode('slow-readers', `${dir}/store-slow-readers`, [proxy.url]);
    const a = stores[0]!;
    try {
      await slow.start();
      for (let i = 0; i < 15; i++) {
        const w = await post(`${a.url}/streams/ryw-concurrent`, { i });
        assert.equal(w.status, 201, JSON.stringify(w.body));
        const reads = await Promise.all(
          Array.from({ length: 6 }, () =>
            getJson<{ nextOffset: number }>(`${slow.url}/streams/ryw-concurrent?from=0&limit=1000`),
          ),
        );
        for (const r of reads) {
          assert.equal(r.body.nextOffset, i + 1, `round ${i}: a read missed an acknowledged write`);
        }
      }
    } finally {
      await slow.kill();
      await proxy.cut();
    }
  });

  it('answers every read on a node that receives the log late with the changes acknowledged elsewhere before it, full pages and subscriptions too', async (t) => {
    if (nats.skip) return t.skip(nats.skip);
    // The slow node gets the log and its answers from NATS 300 ms late: every read below is sent to it
    // right after another node acknowledged a change, well before the change reaches it.
    const proxy = new NatsProxy(cluster.urls[0]!, { delayMs: 300 });
    await proxy.open();
    const slow = new StoreNode('slow', `${dir}/store-slow`, [proxy.url]);
    const a = stores[0]!;
    const read = (query: string) => getJson<Record<string, unknown>>(`${slow.url}/streams/lag?${query}`);
    const write = async (events: unknown[], query = ''): Promise<number> => {
      const w = await post(`${a.url}/streams/lag${query}`, events);
      assert.equal(w.status, 201, JSON.stringify(w.body));
      return Number(w.headers.get('es-log-position'));
    };
    try {
      await slow.start();
      await write([0, 1], '?capacity=2');
      assert.deepEqual((await read('')).body.lastOffset, 1, 'the slow node has the stream');

      let position = await write([2]); // evicts offset 0
      const evicted = await read('from=0&limit=1'); // a full page on the slow node before it applies the write
      assert.equal(evicted.status, 410, `offset 0 was evicted: ${JSON.stringify(evicted.body)}`);
      assert.ok(Number(evicted.headers.get('es-log-position')) >= position);

      position = await write([3]); // evicts offset 1
      const aborted = new AbortController();
      const sub = await fetch(`${slow.url}/streams/lag?from=1`, {
        headers: { accept: 'text/event-stream' },
        signal: aborted.signal,
      });
      aborted.abort();
      assert.equal(sub.status, 410, 'a subscription from an evicted offset is refused');

      position = await write([4]);
      const page = await read('from=3&limit=1');
      assert.equal(page.status, 200);
      assert.deepEqual(
        [page.body.firstOffset, page.body.lastOffset, (page.body.events as { data: number }[])[0]!.data],
        [3, 4, 3],
        'a full page names the end another node acknowledged',
      );
      assert.ok(Number(page.headers.get('es-log-position')) >= position);

      const deleted = await fetch(`${a.url}/streams/lag`, { method: 'DELETE' });
      assert.equal(deleted.status, 200);
      const gone = await read('from=3&limit=1');
      assert.equal(gone.status, 404, `the stream another node deleted is gone: ${JSON.stringify(gone.body)}`);
      assert.ok(
        Number(gone.headers.get('es-log-position')) >= Number(deleted.headers.get('es-log-position')),
      );
    } finally {
      await slow.kill();
      await proxy.cut();
    }
  });

  it('gives Expected-Version races sent to different nodes exactly one winner per version, the same on every node', async (t) => {
    if (nats.skip) return t.skip(nats.skip);
    const seed = Number(process.env.LFES_CLUSTER_SEED ?? Date.now() % 1_000_000);
    const random = mulberry32(seed);
    const rounds = 12;
    const perNode = 3;
    const winners: string[] = [];
    try {
      for (let version = -1; version < rounds - 1; version++) {
        const tries = stores.flatMap((node, n) =>
          Array.from({ length: perNode }, (_, k) => ({
            node,
            id: `${node.id}-${n}-${k}-${Math.floor(random() * 1e6)}`,
          })),
        );
        const answers = await Promise.all(
          tries.map((x) =>
            post(`${x.node.url}/streams/race`, { by: x.id }, { 'expected-version': String(version) }),
          ),
        );
        const won = answers.filter((r) => r.status === 201);
        assert.equal(won.length, 1, `version ${version}: exactly one of ${tries.length} appends wins`);
        assert.equal(won[0]!.body.firstOffset, version + 1);
        for (const r of answers.filter((x) => x.status !== 201)) {
          assert.equal(r.status, 409);
          assert.equal(r.body.code, ErrorCode.WRONG_EXPECTED_VERSION);
          assert.equal(r.body.currentVersion, version + 1, 'every loser was refused after the winner');
        }
        winners.push(tries[answers.indexOf(won[0]!)]!.id);
      }
      for (const node of stores) {
        const r = await getJson<{ events: { data: { by: string } }[] }>(`${node.url}/streams/race`);
        assert.deepEqual(
          r.body.events.map((e) => e.data.by),
          winners,
          `node ${node.id} holds the winners in order`,
        );
      }
      assertSameDigests(await convergedDigests(stores.map((s) => s.url)), 'digests after the races');
    } catch (err) {
      (err as Error).message += ` (replay with LFES_CLUSTER_SEED=${seed})`;
      throw err;
    }
  });

  it('brings a node started empty, and a node killed -9 and restarted from its checkpoint, to identical digests', async (t) => {
    if (nats.skip) return t.skip(nats.skip);
    const [a, b] = stores as [StoreNode, StoreNode, StoreNode];
    for (let i = 0; i < 30; i++) {
      const w = await post(
        `${stores[i % 3]!.url}/streams/catch-up-${i % 4}`,
        Array.from({ length: 10 }, (_, k) => ({ i, k })),
      );
      assert.equal(w.status, 201);
    }
    // b checkpoints at close (SIGTERM), is killed -9 after more writes, and restarts from that checkpoint.
    assert.equal(await b.kill('SIGTERM'), 0);
    await b.start();
    const checkpoint = (await getJson(`${b.url}/cluster`)).body.startedFromCheckpoint as number;
    assert.ok(checkpoint > 0, 'b started from its checkpoint');
    for (let i = 0; i < 10; i++) assert.equal((await post(`${a.url}/streams/after-kill`, { i })).status, 201);
    assert.equal(await b.kill('SIGKILL'), 'SIGKILL');
    for (let i = 10; i < 20; i++)
      assert.equal((await post(`${a.url}/streams/after-kill`, { i })).status, 201);
    await b.start();
    const empty = new StoreNode('d', `${dir}/store-d`, cluster.urls);
    await empty.start();
    stores.push(empty);
    const digests = await convergedDigests(stores.map((s) => s.url));
    assertSameDigests(digests, 'every node, the empty one and the restarted one too');
    assert.ok(Object.keys(digests[0]!.streams).length >= 6);
    assert.equal((await getJson(`${empty.url}/cluster`)).body.startedFromCheckpoint, 0);
  });

  it('refuses writes with 503 ES_ERR_LOG_UNAVAILABLE on a node cut off from NATS, marks its reads, and recovers', async (t) => {
    if (nats.skip) return t.skip(nats.skip);
    const proxy = new NatsProxy(cluster.urls[0]!);
    await proxy.open();
    const node = new StoreNode('cut', `${dir}/store-cut`, [proxy.url]);
    await node.start();
    stores.push(node);
    assert.equal((await post(`${node.url}/streams/cut`, { before: true })).status, 201);
    await proxy.cut();
    // The client notices the closed socket at once; give its status event a moment.
    let refused: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 50 && refused === undefined; i++) {
      const r = await post(`${node.url}/streams/cut`, { during: i });
      if (r.status === 503) refused = r;
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(refused !== undefined, 'the cut-off node refuses writes');
    assert.equal(refused.body.code, ErrorCode.LOG_UNAVAILABLE);
    assert.equal(refused.headers.get('retry-after'), '1');
    const read = await getJson(`${node.url}/streams/cut`);
    assert.equal(read.status, 200);
    assert.equal(read.headers.get('es-possibly-stale'), 'true');
    // Meanwhile another node takes writes; the cut-off node sees them once it is back.
    assert.equal((await post(`${stores[0]!.url}/streams/cut`, { elsewhere: true })).status, 201);
    await proxy.open();
    let accepted = false;
    for (let i = 0; i < 100 && !accepted; i++) {
      const r = await post(`${node.url}/streams/cut`, { after: true });
      accepted = r.status === 201;
      if (!accepted) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(accepted, 'the node takes writes again once NATS is back');
    const events = await getJson<{ events: { data: Record<string, boolean> }[] }>(`${node.url}/streams/cut`);
    assert.deepEqual(
      events.body.events.map((e) => Object.keys(e.data)[0]),
      ['before', 'elsewhere', 'after'],
      'nothing refused was stored; the write made elsewhere meanwhile is there',
    );
    assertSameDigests(await convergedDigests(stores.map((s) => s.url)), 'after the cut');
    await proxy.cut();
    await node.kill();
  });
});
