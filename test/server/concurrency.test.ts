import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventStoreClient } from '../../src/client/index.ts';
import { get, post, type RunningServer, startServer } from '../helpers/server.ts';

let s: RunningServer;
before(async () => {
  s = await startServer();
});
after(async () => {
  await s.cleanup();
});

describe('optimistic concurrency', () => {
  it('lets exactly one of 32 concurrent appends with the same Expected-Version win', async () => {
    await post(`${s.url}/streams/race`, [0, 1, 2]);
    const results = await Promise.all(
      Array.from({ length: 32 }, (_, i) =>
        post(`${s.url}/streams/race`, { writer: i }, { 'expected-version': '2' }),
      ),
    );
    const winners = results.filter((r) => r.status === 201);
    const losers = results.filter((r) => r.status === 409);
    assert.equal(winners.length, 1);
    assert.equal(losers.length, 31);
    assert.equal(winners[0]!.body.firstOffset, 3);
    for (const l of losers) {
      assert.equal(l.body.code, 'ES_ERR_WRONG_EXPECTED_VERSION');
      assert.equal(l.body.currentVersion, 3);
    }
    const read = await get(`${s.url}/streams/race`);
    assert.equal((read.body.events as unknown[]).length, 4, 'nothing else was written');
  });

  it('gives every concurrent append a distinct, contiguous offset range', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        post(
          `${s.url}/streams/many`,
          Array.from({ length: (i % 3) + 1 }, () => i),
        ),
      ),
    );
    const ranges = results
      .map((r) => [r.body.firstOffset as number, r.body.lastOffset as number])
      .sort((a, b) => a[0]! - b[0]!);
    let next = 0;
    for (const [first, last] of ranges) {
      assert.equal(first, next);
      next = last! + 1;
    }
  });
});

describe('idempotent producer retries', () => {
  it('stores an append once when the first attempt is aborted by the client after the server stored it', async () => {
    let calls = 0;
    // The first POST reaches the server, but its answer is withheld until the attempt times out.
    const lossy: typeof fetch = async (input, init) => {
      const isPost = init?.method === 'POST';
      const { signal, ...rest } = init ?? {};
      if (isPost) calls++;
      const res = await fetch(input, isPost && calls === 1 ? rest : (init ?? {}));
      if (isPost && calls === 1) {
        await new Promise((_, reject) => {
          if (signal?.aborted) reject(signal.reason);
          signal?.addEventListener('abort', () => reject(signal.reason));
        });
      }
      return res;
    };
    const client = new EventStoreClient(s.url, { fetch: lossy });
    const p = client.producer('gw-7', { epoch: 1, attemptTimeoutMs: 200, retryDelayMs: 10 });
    const first = await p.append('orders-idem', { id: 'o-1' });
    assert.equal(calls, 2, 'retried once');
    assert.equal(first.duplicate, true);
    assert.deepEqual([first.firstOffset, first.lastOffset], [0, 0]);
    const second = await p.append('orders-idem', { id: 'o-2' });
    assert.deepEqual([second.firstOffset, second.duplicate], [1, undefined]);
    const stored = await get(`${s.url}/streams/orders-idem`);
    assert.deepEqual(
      (stored.body.events as { data: { id: string } }[]).map((e) => e.data.id),
      ['o-1', 'o-2'],
    );
  });

  it('recovers the sequence when a failed append was stored after all', async () => {
    let calls = 0;
    // The first POST is stored but every attempt's answer is lost: the append fails as unknown.
    const lossy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (init?.method === 'POST' && ++calls <= 2) throw new TypeError('fetch failed');
      return res;
    };
    const client = new EventStoreClient(s.url, { fetch: lossy });
    const p = client.producer('gw-8', { epoch: 1, maxAttempts: 2, retryDelayMs: 5 });
    await assert.rejects(p.append('orders-unknown', { id: 'a' }), { code: 'ES_ERR_NETWORK' });
    const next = await p.append('orders-unknown', { id: 'b' });
    assert.equal(next.firstOffset, 1);
    const stored = await get(`${s.url}/streams/orders-unknown`);
    assert.deepEqual(
      (stored.body.events as { data: { id: string } }[]).map((e) => e.data.id),
      ['a', 'b'],
    );
  });
});
