// The Durable Streams endpoint in cluster mode: the public conformance suite against three store nodes
// (one NATS JetStream log, replicated 3 times) behind nginx, which sends each request to the next node
// in turn, so a stream is created on one node, appended to on another and read on a third; then every
// node must hold the same state (GET /cluster/digest covers the protocol's configuration too).

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { convergedDigests, NatsCluster, StoreNode, startNginx, stopAll } from '../helpers/cluster.ts';
import { MIN_CONFORMANCE_PASSED, runConformanceSuite } from '../helpers/conformance.ts';
import { NATS_SERVER, NGINX, systemProgram } from '../helpers/system-programs.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const nats = systemProgram(NATS_SERVER);
const nginx = systemProgram(NGINX);
const LONG_POLL_MS = 3_000;

describe('the Durable Streams endpoint of a cluster', { timeout: 15 * 60_000 }, () => {
  after(() => stopAll());

  it('passes the conformance suite through nginx in front of three nodes, which end with equal digests', async (t) => {
    if (nats.skip) return t.skip(nats.skip);
    if (nginx.skip) return t.skip(nginx.skip);
    const dir = await tempDir('lfes-cluster-ds-');
    const cluster = new NatsCluster(3, dir);
    await cluster.start();
    const args = ['--replicas', '3', '--cors-origin', '*', '--long-poll-timeout-ms', String(LONG_POLL_MS)];
    args.push('--max-streams', '20000');
    const stores = ['a', 'b', 'c'].map((id) => new StoreNode(id, `${dir}/store-${id}`, cluster.urls, args));
    for (const s of stores) await s.start();
    const front = await startNginx(stores, dir);

    const result = await runConformanceSuite(front.url, LONG_POLL_MS);
    assert.ok(result.total > 0, 'vitest reported no tests');
    assert.ok(
      result.filtered || result.passed >= MIN_CONFORMANCE_PASSED,
      `${result.passed} tests passed, expected at least ${MIN_CONFORMANCE_PASSED}`,
    );

    const digests = await convergedDigests(stores.map((s) => s.url));
    if (!result.filtered) {
      assert.ok(Object.keys(digests[0]!.streams).length > 100, 'the suite left its streams on every node');
    }
    for (const d of digests.slice(1)) assert.deepEqual(d, digests[0], 'every node holds the same state');
  });
});
