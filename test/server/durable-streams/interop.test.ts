// The Durable Streams endpoint and the /streams API over the same registry: a JSON-mode protocol
// stream and the /streams stream of the same name are one stream (same events, same offsets,
// server-side aggregation); byte streams are refused by the JSON routes with a clear code; ring
// capacity and eviction show through the protocol as 410; a chunk larger than one answer is read in
// pages that resume inside it.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { get, post, problem, type RunningServer, startServer } from '../../helpers/server.ts';

let server: RunningServer;
before(async () => {
  server = await startServer();
});
after(() => server.cleanup());

const ds = (name: string): string => `${server.url}/v1/stream/${name}`;
const offset = (n: number, byte = 0): string =>
  `${String(n).padStart(16, '0')}_${String(byte).padStart(16, '0')}`;

async function problemOf(
  res: Response,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

describe('the Durable Streams endpoint beside /streams', () => {
  it('serves a JSON protocol stream and the /streams stream of the same name as one stream', async () => {
    const put = await fetch(ds('shared/orders'), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '[{"valor":1,"g":"a"},{"valor":2,"g":"b"}]',
    });
    assert.equal(put.status, 201);
    const appended = await post(`${server.url}/streams/shared/orders`, { valor: 4, g: 'a' });
    assert.equal(appended.status, 201);
    assert.equal(appended.body.firstOffset, 2);
    const read = await fetch(`${ds('shared/orders')}?offset=${offset(1)}`);
    assert.deepEqual(await read.json(), [
      { valor: 2, g: 'b' },
      { valor: 4, g: 'a' },
    ]);
    assert.equal(read.headers.get('stream-next-offset'), offset(3));
    const page = await get(`${server.url}/streams/shared/orders?from=0`);
    assert.deepEqual(
      (page.body.events as { offset: number; data: unknown }[]).map((e) => [e.offset, e.data]),
      [
        [0, { valor: 1, g: 'a' }],
        [1, { valor: 2, g: 'b' }],
        [2, { valor: 4, g: 'a' }],
      ],
    );
    const agg = await get(`${server.url}/streams/shared/orders?aggregate=true&field=valor&groupBy=g`);
    assert.equal(agg.body.sum, 7);
    assert.deepEqual((agg.body.groups as Record<string, { count: number }>).a!.count, 2);
    // A /streams stream is a JSON protocol stream: PUT with application/json finds it as it is.
    await post(`${server.url}/streams/made/by-append`, { x: 1 });
    const again = await fetch(ds('made/by-append'), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(again.status, 200);
    assert.deepEqual(await (await fetch(ds('made/by-append'))).json(), [{ x: 1 }]);
  });

  it('refuses /streams reads and appends of a byte stream with ES_ERR_CONTENT_TYPE_MISMATCH, and lists it', async () => {
    await fetch(ds('bytes/log'), { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'raw' });
    problem(await get(`${server.url}/streams/bytes/log`), 409, 'ES_ERR_CONTENT_TYPE_MISMATCH');
    problem(await post(`${server.url}/streams/bytes/log`, { a: 1 }), 409, 'ES_ERR_CONTENT_TYPE_MISMATCH');
    const list = await get(`${server.url}/streams?prefix=bytes/`);
    assert.deepEqual(
      (list.body.streams as { name: string; count: number }[]).map((s) => [s.name, s.count]),
      [['bytes/log', 1]],
    );
    assert.equal(await (await fetch(ds('bytes/log'))).text(), 'raw');
  });

  it('refuses a /streams append to a closed stream with ES_ERR_STREAM_CLOSED', async () => {
    await fetch(ds('closed/json'), {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'stream-closed': 'true' },
    });
    problem(await post(`${server.url}/streams/closed/json`, { a: 1 }), 409, 'ES_ERR_STREAM_CLOSED');
  });

  it('answers 410 with the oldest offset held for an offset the ring evicted, and reads from -1 at the oldest held', async () => {
    const put = await fetch(`${ds('small/ring')}?capacity=3`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(put.status, 201);
    for (const chunk of ['a', 'b', 'c', 'd', 'e']) {
      await fetch(ds('small/ring'), {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: chunk,
      });
    }
    const evicted = await problemOf(await fetch(`${ds('small/ring')}?offset=${offset(0)}`));
    problem(evicted, 410, 'ES_ERR_OFFSET_EVICTED');
    assert.equal(evicted.body.firstOffset, 2);
    assert.equal(evicted.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(await (await fetch(`${ds('small/ring')}?offset=-1`)).text(), 'cde');
  });

  it('reads a chunk larger than one answer in pages that resume inside it', async () => {
    const big = Buffer.alloc(2_500_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
    await fetch(ds('big/chunk'), { method: 'PUT', headers: { 'content-type': 'application/octet-stream' } });
    const res = await fetch(ds('big/chunk'), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: big,
    });
    assert.equal(res.status, 204);
    const pages: Buffer[] = [];
    let at = '-1';
    const offsets: string[] = [];
    for (;;) {
      const page = await fetch(`${ds('big/chunk')}?offset=${at}`);
      pages.push(Buffer.from(await page.arrayBuffer()));
      at = page.headers.get('stream-next-offset')!;
      offsets.push(at);
      if (page.headers.get('stream-up-to-date') === 'true') break;
    }
    assert.deepEqual(offsets, [offset(0, 1_048_576), offset(0, 2_097_152), offset(1)]);
    assert.ok(Buffer.concat(pages).equals(big));
    assert.equal(
      (await fetch(`${ds('big/chunk')}?offset=${offset(0, 2_500_000)}`)).status,
      400,
      'not a position',
    );
  });
});
