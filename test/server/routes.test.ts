import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { get, post, problem, type RunningServer, startServer } from '../helpers/server.ts';

let s: RunningServer;
before(async () => {
  s = await startServer({ maxBodyBytes: 4096, streamCapacity: 50, maxStreams: 20 });
});
after(async () => {
  await s.cleanup();
});

describe('POST /streams/{name}', () => {
  it('appends a JSON value, a JSON array as one batch, and NDJSON, with consecutive offsets', async () => {
    const one = await post(`${s.url}/streams/gw/orders`, { id: 'o-1', valor: 1 });
    assert.equal(one.status, 201);
    assert.deepEqual(one.body, { stream: 'gw/orders', firstOffset: 0, lastOffset: 0, count: 1 });
    const batch = await post(`${s.url}/streams/gw/orders`, [{ valor: 2 }, { valor: 3 }]);
    assert.deepEqual(batch.body, { stream: 'gw/orders', firstOffset: 1, lastOffset: 2, count: 2 });
    const nd = await post(`${s.url}/streams/gw/orders`, '{"valor":4}\n\n{"valor":5}\n', {
      'content-type': 'application/x-ndjson',
    });
    assert.deepEqual(nd.body, { stream: 'gw/orders', firstOffset: 3, lastOffset: 4, count: 2 });
    const read = await get(`${s.url}/streams/gw/orders`);
    assert.deepEqual(
      (read.body.events as { offset: number; data: { valor: number } }[]).map((e) => [
        e.offset,
        e.data.valor,
      ]),
      [
        [0, 1],
        [1, 2],
        [2, 3],
        [3, 4],
        [4, 5],
      ],
    );
  });

  it('accepts any JSON value as an event (strings, numbers, null)', async () => {
    const r = await post(`${s.url}/streams/values`, ['a', 1, null, { x: [1] }]);
    assert.equal(r.status, 201);
    const read = await get(`${s.url}/streams/values`);
    assert.deepEqual(
      (read.body.events as { data: unknown }[]).map((e) => e.data),
      ['a', 1, null, { x: [1] }],
    );
  });

  it('checks Expected-Version: -1 for a new stream, the last offset after that, 409 with the current version otherwise', async () => {
    assert.equal((await post(`${s.url}/streams/ev`, 1, { 'expected-version': '-1' })).status, 201);
    assert.equal((await post(`${s.url}/streams/ev`, 2, { 'expected-version': '0' })).status, 201);
    const stale = await post(`${s.url}/streams/ev`, 3, { 'expected-version': '0' });
    problem(stale, 409, 'ES_ERR_WRONG_EXPECTED_VERSION');
    assert.equal(stale.body.currentVersion, 1);
    assert.equal(stale.headers.get('es-current-version'), '1');
    problem(
      await post(`${s.url}/streams/ev-new`, 1, { 'expected-version': '3' }),
      409,
      'ES_ERR_WRONG_EXPECTED_VERSION',
    );
    assert.equal((await get(`${s.url}/streams/ev-new`)).status, 404, 'a refused append creates nothing');
    for (const bad of ['abc', '-2', '1.5', '', ' 1e3', '99999999999999999999']) {
      problem(await post(`${s.url}/streams/ev`, 1, { 'expected-version': bad }), 400, 'ES_ERR_BAD_REQUEST');
    }
  });

  it('answers 400 for an empty body, bad JSON, an empty batch, bad UTF-8 and a batch larger than the stream', async () => {
    problem(await post(`${s.url}/streams/bad`, ''), 400, 'ES_ERR_BAD_REQUEST');
    problem(await post(`${s.url}/streams/bad`, '   \n'), 400, 'ES_ERR_BAD_REQUEST');
    problem(await post(`${s.url}/streams/bad`, '{"a":'), 400, 'ES_ERR_INVALID_JSON');
    problem(await post(`${s.url}/streams/bad`, '[]'), 400, 'ES_ERR_BAD_REQUEST');
    problem(
      await post(`${s.url}/streams/bad`, '{"a":1}\nnope\n', { 'content-type': 'application/x-ndjson' }),
      400,
      'ES_ERR_INVALID_JSON',
    );
    const res = await fetch(`${s.url}/streams/bad`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Uint8Array([0x22, 0xff, 0x22]),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { code: string }).code, 'ES_ERR_INVALID_JSON');
    problem(
      await post(
        `${s.url}/streams/bad`,
        Array.from({ length: 51 }, (_, i) => i),
      ),
      400,
      'ES_ERR_BAD_REQUEST',
    );
    assert.equal((await get(`${s.url}/streams/bad`)).status, 404);
  });

  it('answers 415 for another or a missing content type', async () => {
    problem(
      await post(`${s.url}/streams/ct`, '1', { 'content-type': 'text/plain' }),
      415,
      'ES_ERR_UNSUPPORTED_MEDIA_TYPE',
    );
    const res = await fetch(`${s.url}/streams/ct`, { method: 'POST', body: new Uint8Array([0x31]) });
    assert.equal(res.status, 415);
    assert.equal(
      (await post(`${s.url}/streams/ct`, '1', { 'content-type': 'application/json; charset=utf-8' })).status,
      201,
    );
  });

  it('answers 413 for a body over the limit, declared or streamed, and appends nothing', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(5000) });
    problem(await post(`${s.url}/streams/big`, big), 413, 'ES_ERR_PAYLOAD_TOO_LARGE');
    // Chunked (no Content-Length): the server counts bytes as they arrive.
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${s.url}/streams/big`);
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(`[${'1,'.repeat(1000)}`);
      req.write(`${'1,'.repeat(2000)}1]`);
      req.end();
    });
    assert.equal(status, 413);
    assert.equal((await get(`${s.url}/streams/big`)).status, 404);
  });

  it('rejects bad stream names with 400', async () => {
    for (const name of [
      'a//b',
      'a/',
      'white%20space',
      'x'.repeat(201),
      'caf%C3%A9',
      '%E0%A4%A',
      'a%2F%2Fb',
    ]) {
      problem(await post(`${s.url}/streams/${name}`, 1), 400, 'ES_ERR_INVALID_STREAM_NAME');
    }
    // fetch resolves dot segments itself; node:http sends them as written.
    for (const name of ['..', 'a/./b', 'a/../b', '%2E%2E']) {
      const status = await new Promise<number>((resolve, reject) => {
        const u = new URL(s.url);
        const req = request(
          { host: u.hostname, port: u.port, path: `/streams/${name}`, method: 'GET' },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 400, name);
    }
    assert.equal((await post(`${s.url}/streams/${'y'.repeat(200)}`, 1)).status, 201);
    assert.equal((await post(`${s.url}/streams/A-z_0.9~x/y`, 1)).status, 201);
  });

  it('takes ?capacity= on the first append', async () => {
    assert.equal((await post(`${s.url}/streams/capped?capacity=2`, [1, 2, 3].slice(0, 2))).status, 201);
    assert.equal((await post(`${s.url}/streams/capped`, 3)).status, 201);
    const list = await get(`${s.url}/streams`);
    const capped = (list.body.streams as { name: string; capacity: number; count: number }[]).find(
      (x) => x.name === 'capped',
    );
    assert.deepEqual({ capacity: capped?.capacity, count: capped?.count }, { capacity: 2, count: 2 });
    problem(await post(`${s.url}/streams/capped2?capacity=0`, 1), 400, 'ES_ERR_BAD_REQUEST');
    problem(await post(`${s.url}/streams/capped2?capacity=x`, 1), 400, 'ES_ERR_BAD_REQUEST');
  });
});

describe('idempotent producers', () => {
  const h = (seq: number, epoch = 1, id = 'p1') => ({
    'producer-id': id,
    'producer-epoch': String(epoch),
    'producer-seq': String(seq),
  });

  it('acknowledges a retry with the original offsets and duplicate: true, and stores it once', async () => {
    const a = await post(`${s.url}/streams/prod`, { n: 1 }, h(0));
    assert.equal(a.status, 201);
    await post(`${s.url}/streams/prod`, '"other"', {});
    const retry = await post(`${s.url}/streams/prod`, { n: 1 }, h(0));
    assert.equal(retry.status, 200);
    assert.deepEqual(retry.body, {
      stream: 'prod',
      firstOffset: 0,
      lastOffset: 0,
      count: 1,
      duplicate: true,
    });
    const read = await get(`${s.url}/streams/prod`);
    assert.equal((read.body.events as unknown[]).length, 2);
  });

  it('refuses a gap, a sequence older than the window, a changed body and a lower epoch with 409', async () => {
    for (let seq = 0; seq < 7; seq++)
      assert.equal((await post(`${s.url}/streams/prod2`, seq, h(seq))).status, 201);
    const gap = await post(`${s.url}/streams/prod2`, 9, h(9));
    problem(gap, 409, 'ES_ERR_PRODUCER_SEQUENCE');
    assert.equal(gap.body.expectedSeq, 7);
    problem(await post(`${s.url}/streams/prod2`, 0, h(0)), 409, 'ES_ERR_PRODUCER_SEQUENCE');
    assert.equal(
      (await post(`${s.url}/streams/prod2`, 2, h(2))).status,
      200,
      'seq 2 is inside the window of 5',
    );
    problem(await post(`${s.url}/streams/prod2`, '"changed"', h(6)), 409, 'ES_ERR_IDEMPOTENCY_CONFLICT');
    assert.equal((await post(`${s.url}/streams/prod2`, '"new epoch"', h(0, 2))).status, 201);
    problem(await post(`${s.url}/streams/prod2`, '"zombie"', h(7, 1)), 409, 'ES_ERR_PRODUCER_FENCED');
    const read = await get(`${s.url}/streams/prod2`);
    assert.equal((read.body.events as unknown[]).length, 8);
  });

  it('requires all three producer headers, as integers', async () => {
    problem(await post(`${s.url}/streams/prod3`, 1, { 'producer-id': 'x' }), 400, 'ES_ERR_BAD_REQUEST');
    problem(await post(`${s.url}/streams/prod3`, 1, h(-1)), 400, 'ES_ERR_BAD_REQUEST');
    problem(
      await post(`${s.url}/streams/prod3`, 1, { ...h(0), 'producer-epoch': 'e' }),
      400,
      'ES_ERR_BAD_REQUEST',
    );
  });
});

describe('GET /streams/{name}', () => {
  it('pages with from and limit and reports first, last and next offsets', async () => {
    await post(
      `${s.url}/streams/page`,
      Array.from({ length: 10 }, (_, i) => ({ i })),
    );
    const r = await get(`${s.url}/streams/page?from=3&limit=4`);
    assert.equal(r.status, 200);
    assert.deepEqual(
      (r.body.events as { offset: number }[]).map((e) => e.offset),
      [3, 4, 5, 6],
    );
    assert.deepEqual([r.body.firstOffset, r.body.lastOffset, r.body.nextOffset], [0, 9, 7]);
    const end = await get(`${s.url}/streams/page?from=10`);
    assert.deepEqual([end.body.events, end.body.nextOffset], [[], 10]);
    const ev = (r.body.events as { timestamp: number }[])[0]!;
    assert.ok(Math.abs(ev.timestamp - Date.now()) < 60_000);
  });

  it('answers 400 for from/limit/wait that are not non-negative integers', async () => {
    for (const q of [
      'from=-1',
      'from=abc',
      'from=1.5',
      'limit=-3',
      'limit=x',
      'wait=-1',
      'from=1e3',
      'from=99999999999999999999',
    ]) {
      problem(await get(`${s.url}/streams/page?${q}`), 400, 'ES_ERR_BAD_REQUEST');
    }
  });

  it('answers 410 with the first offset held when asked for evicted offsets', async () => {
    await post(`${s.url}/streams/evict?capacity=3`, [0, 1, 2]);
    await post(`${s.url}/streams/evict`, [3, 4]);
    const r = await get(`${s.url}/streams/evict?from=1`);
    problem(r, 410, 'ES_ERR_OFFSET_EVICTED');
    assert.equal(r.body.firstOffset, 2);
    const ok = await get(`${s.url}/streams/evict`);
    assert.deepEqual(
      (ok.body.events as { data: number }[]).map((e) => e.data),
      [2, 3, 4],
    );
    assert.equal(ok.body.firstOffset, 2);
  });

  it('answers 404 for a stream that does not exist', async () => {
    problem(await get(`${s.url}/streams/nope`), 404, 'ES_ERR_STREAM_NOT_FOUND');
  });

  it('streams NDJSON with Accept: application/x-ndjson', async () => {
    const r = await get(`${s.url}/streams/page?from=8`, { accept: 'application/x-ndjson' });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /application\/x-ndjson/);
    assert.deepEqual(
      r.text
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { offset: number }).offset),
      [8, 9],
    );
    assert.equal(r.headers.get('stream-next-offset'), '10');
  });

  it('long-polls with wait until an append arrives', async () => {
    await post(`${s.url}/streams/lp`, 0);
    const t0 = Date.now();
    const pending = get(`${s.url}/streams/lp?from=1&wait=5000`);
    await new Promise((r) => setTimeout(r, 100));
    await post(`${s.url}/streams/lp`, 1);
    const r = await pending;
    assert.deepEqual(
      (r.body.events as { data: number }[]).map((e) => e.data),
      [1],
    );
    assert.ok(Date.now() - t0 < 4000);
    const t1 = Date.now();
    const empty = await get(`${s.url}/streams/lp?from=2&wait=200`);
    assert.deepEqual(empty.body.events, []);
    assert.ok(Date.now() - t1 >= 180);
  });
});

describe('aggregation', () => {
  it('computes count, sum, min, max, average and groups of a field, over a time range', async () => {
    await post(`${s.url}/streams/agg`, [
      { valor: 10, gatewayId: 'a' },
      { valor: 20, gatewayId: 'b' },
      { valor: 30, gatewayId: 'a' },
      { valor: 'not a number', gatewayId: 'a' },
      { other: 1 },
      { valor: 5 },
    ]);
    const r = await get(`${s.url}/streams/agg?aggregate=true&field=valor&groupBy=gatewayId`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      stream: 'agg',
      count: 4,
      sum: 65,
      min: 5,
      max: 30,
      average: 16.25,
      groups: {
        a: { count: 2, sum: 40, min: 10, max: 30, average: 20 },
        b: { count: 1, sum: 20, min: 20, max: 20, average: 20 },
      },
    });
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = await get(`${s.url}/streams/agg?aggregate=true&field=valor&from=${future}`);
    assert.deepEqual(none.body, {
      stream: 'agg',
      count: 0,
      sum: 0,
      min: null,
      max: null,
      average: null,
      groups: {},
    });
    const all = await get(`${s.url}/streams/agg?aggregate=true&field=valor&from=0&to=${Date.now() + 1000}`);
    assert.equal(all.body.count, 4);
  });

  it('answers 400 without a field or with bad times, 404 for a missing stream', async () => {
    problem(await get(`${s.url}/streams/agg?aggregate=true`), 400, 'ES_ERR_BAD_REQUEST');
    problem(
      await get(`${s.url}/streams/agg?aggregate=true&field=valor&from=yesterday`),
      400,
      'ES_ERR_BAD_REQUEST',
    );
    problem(await get(`${s.url}/streams/agg?aggregate=true&field=a..b`), 400, 'ES_ERR_BAD_REQUEST');
    problem(await get(`${s.url}/streams/none?aggregate=true&field=v`), 404, 'ES_ERR_STREAM_NOT_FOUND');
  });
});

describe('DELETE /streams/{name} and the other routes', () => {
  it('deletes a stream; a re-created stream continues its offsets', async () => {
    await post(`${s.url}/streams/del`, [1, 2, 3]);
    const del = await fetch(`${s.url}/streams/del`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.deepEqual(await del.json(), { stream: 'del', deleted: true, nextOffset: 3 });
    problem(await get(`${s.url}/streams/del`), 404, 'ES_ERR_STREAM_NOT_FOUND');
    const again = await fetch(`${s.url}/streams/del`, { method: 'DELETE' });
    assert.equal(again.status, 404);
    problem(
      await post(`${s.url}/streams/del`, 4, { 'expected-version': '-1' }),
      409,
      'ES_ERR_WRONG_EXPECTED_VERSION',
    );
    const re = await post(`${s.url}/streams/del`, 4, { 'expected-version': '2' });
    assert.deepEqual([re.status, re.body.firstOffset], [201, 3]);
  });

  it('serves /health, /streams, /stats and /metrics', async () => {
    assert.deepEqual((await get(`${s.url}/health`)).body, { status: 'ok' });
    const list = await get(`${s.url}/streams`);
    const orders = (list.body.streams as { name: string }[]).find((x) => x.name === 'gw/orders');
    assert.deepEqual(orders, {
      name: 'gw/orders',
      capacity: 50,
      count: 5,
      firstOffset: 0,
      lastOffset: 4,
      nextOffset: 5,
    });
    const stats = await get(`${s.url}/stats`);
    assert.equal(typeof stats.body.streams, 'number');
    assert.ok((stats.body.appendedEvents as number) > 0);
    assert.equal((stats.body.persistence as { fsync: string }).fsync, 'everysec');
    const metrics = await get(`${s.url}/metrics`);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(metrics.text, /^eventstore_appended_events_total \d+$/m);
    assert.match(metrics.text, /^eventstore_http_requests_total\{route="append",status="201"\} \d+$/m);
    assert.match(metrics.text, /^eventstore_journal_failures_total 0$/m);
  });

  it('answers 404 for unknown routes and 405 for wrong methods', async () => {
    problem(await get(`${s.url}/nope`), 404, 'ES_ERR_NOT_FOUND');
    const put = await fetch(`${s.url}/streams/x`, { method: 'PUT', body: '1' });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, HEAD, POST, DELETE');
    problem(await post(`${s.url}/health`, 1), 405, 'ES_ERR_METHOD_NOT_ALLOWED');
    problem(await post(`${s.url}/streams`, 1), 405, 'ES_ERR_METHOD_NOT_ALLOWED');
  });

  it('answers 429 past maxStreams', async () => {
    const list = await get(`${s.url}/streams`);
    const have = (list.body.streams as unknown[]).length;
    for (let i = have; i < 20; i++) assert.equal((await post(`${s.url}/streams/fill-${i}`, 1)).status, 201);
    problem(await post(`${s.url}/streams/one-too-many`, 1), 429, 'ES_ERR_LIMIT_EXCEEDED');
  });
});

describe('authentication', () => {
  it('requires the bearer token on every route but /health', async () => {
    const t = await startServer({ token: 's3cret' });
    try {
      assert.equal((await get(`${t.url}/health`)).status, 200);
      const r = await get(`${t.url}/streams`);
      problem(r, 401, 'ES_ERR_UNAUTHORIZED');
      assert.equal(r.headers.get('www-authenticate'), 'Bearer');
      problem(
        await post(`${t.url}/streams/a`, 1, { authorization: 'Bearer wrong' }),
        401,
        'ES_ERR_UNAUTHORIZED',
      );
      problem(await get(`${t.url}/metrics`, { authorization: 's3cret' }), 401, 'ES_ERR_UNAUTHORIZED');
      assert.equal((await post(`${t.url}/streams/a`, 1, { authorization: 'Bearer s3cret' })).status, 201);
    } finally {
      await t.cleanup();
    }
  });
});

describe('CORS', () => {
  it('answers preflights and exposes the stream headers when corsOrigin is set, and not otherwise', async () => {
    const t = await startServer({ corsOrigin: 'https://app.example', token: 't' });
    try {
      const pre = await fetch(`${t.url}/streams/a`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
      });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example');
      assert.match(pre.headers.get('access-control-allow-headers') ?? '', /expected-version/);
      const r = await post(`${t.url}/streams/a`, 1, { authorization: 'Bearer t' });
      assert.equal(r.headers.get('access-control-allow-origin'), 'https://app.example');
      assert.match(r.headers.get('access-control-expose-headers') ?? '', /es-current-version/);
    } finally {
      await t.cleanup();
    }
    const plain = await fetch(`${s.url}/streams/a`, { method: 'OPTIONS' });
    assert.equal(plain.status, 405);
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
  });
});

describe('shutdown', () => {
  it('answers 503 to an append that completes while the server drains, and keeps what was acknowledged', async () => {
    const t = await startServer();
    await post(`${t.url}/streams/s`, '"before"');
    const u = new URL(`${t.url}/streams/s`);
    const result = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write('"dur');
      setTimeout(() => {
        void t.server.close();
        setTimeout(() => req.end('ing"'), 50);
      }, 50);
    });
    const r = await result;
    assert.equal(r.status, 503);
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'ES_ERR_SHUTTING_DOWN');
    await t.close();
    const again = await startServer({}, t.dataDir);
    try {
      const read = await get(`${again.url}/streams/s`);
      assert.deepEqual(
        (read.body.events as { data: string }[]).map((e) => e.data),
        ['before'],
      );
    } finally {
      await again.cleanup();
    }
  });
});
