import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  ErrorCode,
  EventStoreClient,
  EventStoreError,
  EventStoreHttpError,
  type StreamEvent,
} from '../../src/client/index.ts';
import { retryWhileAddressInUse } from '../helpers/ports.ts';
import { type RunningServer, startServer } from '../helpers/server.ts';

let s: RunningServer;
let es: EventStoreClient;
before(async () => {
  s = await startServer({ heartbeatMs: 200 });
  es = new EventStoreClient(s.url);
});
after(async () => {
  await s.cleanup();
});

describe('EventStoreClient', () => {
  it('appends, appends batches and reads every page back in order', async () => {
    const a = await es.append('gateway/orders', { id: 'o-1', valor: 123 });
    assert.deepEqual(a, { stream: 'gateway/orders', firstOffset: 0, lastOffset: 0, count: 1 });
    const b = await es.appendBatch(
      'gateway/orders',
      Array.from({ length: 9 }, (_, i) => ({ id: `o-${i + 2}`, valor: i })),
    );
    assert.deepEqual([b.firstOffset, b.lastOffset, b.count], [1, 9, 9]);
    const seen: StreamEvent<{ id: string }>[] = [];
    for await (const ev of es.read<{ id: string }>('gateway/orders', { from: 0, limit: 3 })) seen.push(ev);
    assert.deepEqual(
      seen.map((e) => e.offset),
      Array.from({ length: 10 }, (_, i) => i),
    );
    assert.equal(seen[0]!.data.id, 'o-1');
    const tail: number[] = [];
    for await (const ev of es.read('gateway/orders', { from: 8 })) tail.push(ev.offset);
    assert.deepEqual(tail, [8, 9]);
  });

  it('aggregates, lists streams and reads stats', async () => {
    await es.appendBatch('agg', [
      { valor: 1, g: 'a' },
      { valor: 2, g: 'b' },
      { valor: 3, g: 'a' },
    ]);
    const r = await es.aggregate('agg', {
      field: 'valor',
      groupBy: 'g',
      from: new Date(Date.now() - 60_000),
    });
    assert.deepEqual([r.count, r.sum, r.min, r.max, r.average], [3, 6, 1, 3, 2]);
    assert.deepEqual(r.groups.a, { count: 2, sum: 4, min: 1, max: 3, average: 2 });
    const streams = await es.streams();
    assert.ok(streams.some((x) => x.name === 'agg' && x.count === 3 && x.nextOffset === 3));
    const stats = await es.stats();
    assert.equal(typeof stats.appendedEvents, 'number');
  });

  it('throws EventStoreError with the server code, status and problem members', async () => {
    await es.append('cas', 1);
    const err = await es.append('cas', 2, { expectedVersion: 5 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof EventStoreHttpError);
    assert.ok(err instanceof EventStoreError);
    assert.equal(err.name, 'EventStoreHttpError');
    assert.equal(err.code, ErrorCode.WRONG_EXPECTED_VERSION);
    assert.equal(err.status, 409);
    assert.equal(err.problem.currentVersion, 0);
    assert.equal(err.details.currentVersion, 0);
    assert.equal((await es.append('cas', 2, { expectedVersion: 0 })).firstOffset, 1);
    await assert.rejects(
      async () => {
        for await (const _ of es.read('missing')) void _;
      },
      { code: ErrorCode.STREAM_NOT_FOUND, status: 404 },
    );
    await assert.rejects(es.aggregate('cas', { field: 'v', from: 'not a date' }), {
      code: ErrorCode.BAD_REQUEST,
    });
  });

  it('reports an unreachable server as ES_ERR_NETWORK and an abort as the signal reason', async () => {
    const dead = new EventStoreClient('http://127.0.0.1:1');
    await assert.rejects(dead.append('x', 1), { code: ErrorCode.NETWORK, status: 0 });
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(es.append('x', 1, { signal: ac.signal }), { name: 'AbortError' });
    assert.equal(
      (await es.streams()).some((x) => x.name === 'x'),
      false,
    );
  });

  it('sends the bearer token', async () => {
    const t = await startServer({ token: 'tok' });
    try {
      await assert.rejects(new EventStoreClient(t.url).streams(), {
        code: ErrorCode.UNAUTHORIZED,
        status: 401,
      });
      assert.deepEqual(await new EventStoreClient(t.url, { token: 'tok' }).streams(), []);
    } finally {
      await t.cleanup();
    }
  });

  it('subscribes live and stops on abort', async () => {
    await es.appendBatch('sub', [0, 1, 2]);
    const ac = new AbortController();
    const got: number[] = [];
    setTimeout(() => void es.appendBatch('sub', [3, 4]), 100);
    await assert.rejects(
      (async () => {
        for await (const ev of es.subscribe<number>('sub', { from: 1, signal: ac.signal })) {
          got.push(ev.data);
          if (got.length === 4) ac.abort();
        }
      })(),
      { name: 'AbortError' },
    );
    assert.deepEqual(got, [1, 2, 3, 4]);
  });

  it('resumes a subscription across a server restart with no gap and no duplicate', async () => {
    const first = await startServer({ heartbeatMs: 200 });
    const port = Number(new URL(first.url).port);
    const client = new EventStoreClient(first.url);
    await client.appendBatch('resume', [0, 1, 2]);
    const ac = new AbortController();
    const got: number[] = [];
    let restarted: RunningServer | undefined;
    const consumer = (async () => {
      for await (const ev of client.subscribe<number>('resume', {
        from: 0,
        signal: ac.signal,
        reconnectDelayMs: 50,
        maxReconnectDelayMs: 200,
      })) {
        got.push(ev.offset);
        if (got.length === 6) ac.abort();
      }
    })().catch((e: unknown) => {
      if ((e as Error).name !== 'AbortError') throw e;
    });
    try {
      while (got.length < 3) await new Promise((r) => setTimeout(r, 20));
      await first.close(); // ends the subscription; the client reconnects with Last-Event-ID
      restarted = await retryWhileAddressInUse(() => startServer({ port, heartbeatMs: 200 }, first.dataDir));
      await new EventStoreClient(restarted.url).appendBatch('resume', [3, 4, 5]);
      await consumer;
      assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
    } finally {
      ac.abort();
      await restarted?.cleanup();
      await first.cleanup();
    }
  });

  it('reconnects a subscription that brings no data for idleTimeoutMs, without losing or repeating events', async () => {
    const quiet = await startServer({ heartbeatMs: 60_000 });
    try {
      let connections = 0;
      const counting: typeof fetch = (input, init) => {
        if ((init?.headers as Record<string, string> | undefined)?.accept === 'text/event-stream')
          connections++;
        return fetch(input, init);
      };
      const client = new EventStoreClient(quiet.url, { fetch: counting });
      await client.appendBatch('idle', [0, 1]);
      const ac = new AbortController();
      const got: number[] = [];
      setTimeout(() => void client.appendBatch('idle', [2, 3]), 900);
      await assert.rejects(
        (async () => {
          for await (const ev of client.subscribe<number>('idle', {
            from: 0,
            signal: ac.signal,
            idleTimeoutMs: 250,
            reconnectDelayMs: 20,
          })) {
            got.push(ev.offset);
            if (got.length === 4) ac.abort();
          }
        })(),
        { name: 'AbortError' },
      );
      assert.deepEqual(got, [0, 1, 2, 3]);
      assert.ok(connections >= 3, `${connections} connections`);
    } finally {
      await quiet.cleanup();
    }
  });

  it('is importable without Node-only modules', () => {
    for (const file of ['event-store-client.ts', 'errors.ts', 'index.ts']) {
      const src = readFileSync(new URL(`../../src/client/${file}`, import.meta.url), 'utf8');
      assert.doesNotMatch(src, /from 'node:|require\(|process\.|Buffer/, file);
    }
    const errors = readFileSync(new URL('../../src/errors.ts', import.meta.url), 'utf8');
    assert.doesNotMatch(errors, /from 'node:|process\.|Buffer/);
  });
});
