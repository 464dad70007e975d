// The protocol's own npm client (@durable-streams/client) against the server: create, append,
// catch-up reads, live tails (long-poll and SSE), and an idempotent producer whose responses are
// lost on the way back (the request was applied, the client saw a network error and retried): every
// message is stored exactly once, in order.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createFetchWithBackoff, DurableStream, IdempotentProducer } from '@durable-streams/client';
import { type RunningServer, startServer } from '../../helpers/server.ts';

let server: RunningServer;
before(async () => {
  server = await startServer({ longPollTimeoutMs: 1_000 });
});
after(() => server.cleanup());

const streamUrl = (name: string): string => `${server.url}/v1/stream/${name}`;

/** Resolves with the first `count` JSON items a live tail of `handle` delivers after it starts. */
async function tail(
  handle: DurableStream,
  live: 'long-poll' | 'sse',
  count: number,
  write: () => Promise<void>,
) {
  const res = await handle.stream<{ n: number }>({ live, offset: 'now' });
  const items: { n: number }[] = [];
  const done = new Promise<void>((resolve) => {
    const unsubscribe = res.subscribeJson(async (batch) => {
      items.push(...batch.items);
      if (items.length >= count) {
        unsubscribe();
        res.cancel();
        resolve();
      }
    });
  });
  await write();
  await done;
  return items;
}

describe('the @durable-streams/client package against the server', () => {
  it('creates a JSON stream, appends values and reads them back in order', async () => {
    const handle = await DurableStream.create({
      url: streamUrl('client/json'),
      contentType: 'application/json',
    });
    for (let n = 0; n < 5; n++) await handle.append(JSON.stringify({ n }));
    const res = await handle.stream<{ n: number }>({ live: false });
    assert.deepEqual(
      await res.json(),
      [0, 1, 2, 3, 4].map((n) => ({ n })),
    );
    const head = await handle.head();
    assert.equal(head.exists, true);
    assert.equal(head.contentType, 'application/json');
  });

  it('appends text chunks to a byte stream and reads the text back', async () => {
    const handle = await DurableStream.create({ url: streamUrl('client/text'), contentType: 'text/plain' });
    await handle.append('hello ');
    await handle.append('wörld\n');
    await handle.append(new TextEncoder().encode('bytes too'));
    const res = await handle.stream({ live: false });
    assert.equal(await res.text(), 'hello wörld\nbytes too');
  });

  for (const live of ['long-poll', 'sse'] as const) {
    it(`tails new values live (${live}) from the end of the stream`, async () => {
      const handle = await DurableStream.create({
        url: streamUrl(`client/tail-${live}`),
        contentType: 'application/json',
      });
      await handle.append(JSON.stringify({ n: -1 })); // history the tail must not see
      const items = await tail(handle, live, 3, async () => {
        await new Promise((r) => setTimeout(r, 100));
        for (let n = 0; n < 3; n++) await handle.append(JSON.stringify({ n }));
      });
      assert.deepEqual(items, [{ n: 0 }, { n: 1 }, { n: 2 }]);
    });
  }

  it('stores every message of an idempotent producer exactly once when its responses are lost and retried', async () => {
    const handle = await DurableStream.create({
      url: streamUrl('client/producer'),
      contentType: 'application/json',
    });
    let posts = 0;
    let lost = 0;
    // Every third POST reaches the server and is applied, but its answer never reaches the client.
    const lossy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (init?.method === 'POST' && ++posts % 3 === 0) {
        await res.arrayBuffer();
        lost++;
        throw new TypeError('fetch failed (the response was lost)');
      }
      return res;
    };
    const errors: Error[] = [];
    const producer = new IdempotentProducer(handle, 'client-producer', {
      fetch: createFetchWithBackoff(lossy, { initialDelay: 5, maxDelay: 20, multiplier: 2 }),
      lingerMs: 1,
      maxInFlight: 1,
      onError: (err) => errors.push(err),
    });
    for (let n = 0; n < 40; n++) {
      producer.append(JSON.stringify({ n }));
      if (n % 4 === 3) await producer.flush();
    }
    await producer.flush();
    await producer.close();
    assert.deepEqual(errors, []);
    assert.ok(lost > 0, 'some responses were lost (the retries were exercised)');
    const res = await handle.stream<{ n: number }>({ live: false });
    const items = await res.json();
    assert.deepEqual(
      items,
      Array.from({ length: 40 }, (_, n) => ({ n })),
    );
    const stats = (await (await fetch(`${server.url}/stats`)).json()) as { duplicateAppends: number };
    assert.ok(
      stats.duplicateAppends >= lost,
      `${stats.duplicateAppends} retries were recognised as duplicates`,
    );
  });
});
