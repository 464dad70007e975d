// Cheap hostile requests against a real server process: none may cost other clients their service
// or their data. Bounded counts and times; figures are printed for the record.

import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { EventStoreClient } from '../../src/client/index.ts';
import { ErrorCode } from '../../src/errors.ts';
import { eventually, exchange, openDescriptors, openSocket } from '../helpers/raw-http.ts';
import { get, post, problem } from '../helpers/server.ts';
import { type ServerProcess, spawnServer } from '../helpers/server-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function server(args: string[] = []): Promise<ServerProcess & { dir: string }> {
  const dir = await tempDir('lfes-abuse-');
  const s = await spawnServer(['--data-dir', dir, ...args]);
  cleanup.push(async () => {
    s.child.kill('SIGKILL');
    await s.exited;
  });
  return { ...s, dir };
}

interface Stats {
  connections: number;
  silentConnectionsCut: number;
  longPolls: number;
  tombstones: number;
  memory: { rssBytes: number; heldBytes: number; memoryBudgetBytes: number };
  persistence: { snapshotsSaved: number; snapshotFailures: number };
}

async function stats(url: string): Promise<Stats> {
  return (await get(`${url}/stats`)).body as unknown as Stats;
}

describe('connections', () => {
  it('gives way to new clients when --max-connections silent sockets are open: /health answers at once', async () => {
    const s = await server(['--max-connections', '50']);
    const silent: Socket[] = [];
    let cut = 0;
    for (let i = 0; i < 60; i++) {
      const socket = await openSocket(s.url);
      socket.on('error', () => {});
      socket.on('close', () => cut++);
      silent.push(socket);
    }
    const health = await get(`${s.url}/health`);
    assert.equal(health.status, 200);
    const st = await stats(s.url);
    assert.ok(st.connections <= 50, `open connections ${st.connections}`);
    assert.ok(st.silentConnectionsCut >= 11, `cut ${st.silentConnectionsCut}`);
    assert.ok(await eventually(() => cut >= 11, 2_000), `our side saw ${cut} closes`);
    console.log(`# silent sockets: 60 opened at max 50, ${st.silentConnectionsCut} cut, /health 200`);
    for (const socket of silent) socket.destroy();
  });

  it('cuts a connection that sends nothing within the headers timeout and frees its descriptor', async () => {
    const s = await server(['--headers-timeout-ms', '500']);
    const pid = s.child.pid!;
    const before = openDescriptors(pid);
    const sockets: Socket[] = [];
    let closed = 0;
    for (let i = 0; i < 100; i++) {
      const socket = await openSocket(s.url);
      socket.on('error', () => {});
      socket.on('close', () => closed++);
      sockets.push(socket);
    }
    assert.ok(
      await eventually(() => openDescriptors(pid) >= before + 100, 3_000),
      'the server accepted them',
    );
    assert.ok(await eventually(() => closed === 100, 5_000), `${closed} of 100 silent sockets cut`);
    assert.ok(
      await eventually(() => openDescriptors(pid) <= before + 2, 3_000),
      `descriptors ${openDescriptors(pid)}, before ${before}`,
    );
  });

  it('destroys the socket after a client error, even when the client never closes its side', async () => {
    const s = await server();
    const pid = s.child.pid!;
    const before = openDescriptors(pid);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => exchange(s.url, 'NOT HTTP AT ALL\r\n\r\n', 5_000)),
    );
    for (const a of answers) {
      assert.match(a.text, /^HTTP\/1\.1 400 /);
      assert.ok(a.closedByServer);
    }
    assert.ok(
      await eventually(() => openDescriptors(pid) <= before + 2, 3_000),
      `descriptors ${openDescriptors(pid)}, before ${before}`,
    );
  });

  it('counts long-polls toward the live-reader limit, so they cannot take every connection', async () => {
    const s = await server(['--max-connections', '40']); // live readers: 20
    assert.equal((await post(`${s.url}/streams/lp`, { n: 0 })).status, 201);
    const controller = new AbortController();
    const polls = Array.from({ length: 20 }, () =>
      fetch(`${s.url}/streams/lp?from=1&wait=20000`, { signal: controller.signal }).then(
        (r) => r.status,
        () => 0,
      ),
    );
    assert.ok(await eventually(async () => (await stats(s.url)).longPolls === 20, 5_000));
    problem(await get(`${s.url}/streams/lp?from=1&wait=20000`), 429, ErrorCode.LIMIT_EXCEEDED);
    problem(await get(`${s.url}/streams/lp`, { accept: 'text/event-stream' }), 429, ErrorCode.LIMIT_EXCEEDED);
    assert.equal((await get(`${s.url}/health`)).status, 200);
    // An append releases them all.
    assert.equal((await post(`${s.url}/streams/lp`, { n: 1 })).status, 201);
    assert.deepEqual(await Promise.all(polls), Array(20).fill(200));
    assert.equal((await stats(s.url)).longPolls, 0);
    controller.abort();
  });
});

describe('requests that break the rules', () => {
  it('answers a stored append with 201 and no second response when garbage follows on the connection', async () => {
    const s = await server();
    const request =
      'POST /streams/pipelined HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}' +
      'GARBAGE GARBAGE\r\n\r\n';
    const { text, closedByServer } = await exchange(s.url, request);
    assert.match(text, /^HTTP\/1\.1 201 /);
    assert.equal(text.match(/HTTP\/1\.1 /g)?.length, 1, `one response only:\n${text}`);
    assert.ok(closedByServer);
    const read = await get(`${s.url}/streams/pipelined`);
    assert.deepEqual(
      (read.body.events as { data: unknown }[]).map((e) => e.data),
      [{ a: 1 }],
    );
  });

  it('answers 413 to a body over --max-body-bytes, which the client reports and the producer does not retry', async () => {
    const s = await server(['--max-body-bytes', String(8 * 1024 * 1024)]);
    const es = new EventStoreClient(s.url);
    const big = { blob: 'x'.repeat(9 * 1024 * 1024) };
    for (let i = 0; i < 5; i++) {
      await assert.rejects(es.append('big', big), { code: ErrorCode.PAYLOAD_TOO_LARGE });
    }
    const producer = es.producer('p', { maxAttempts: 5, retryDelayMs: 10 });
    await assert.rejects(producer.append('big', big), { code: ErrorCode.PAYLOAD_TOO_LARGE });
    const metrics = (await get(`${s.url}/metrics`)).text;
    const refused = /eventstore_http_requests_total\{route="append",status="413"\} (\d+)/.exec(metrics);
    assert.equal(refused?.[1], '6', 'five appends and one producer attempt, no retry');
    assert.equal((await get(`${s.url}/streams/big`)).status, 404);
  });

  it('refuses an Expect: 100-continue upload over the limit before its body is sent', async () => {
    const s = await server(['--max-body-bytes', '1000']);
    const { text } = await exchange(
      s.url,
      'POST /streams/e HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n',
    );
    assert.match(text, /^HTTP\/1\.1 413 /);
    assert.doesNotMatch(text, /100 Continue/);
    // Under the limit, the client is told to go on.
    const ok = await exchange(
      s.url,
      'POST /streams/e HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
      1_000,
    );
    assert.match(ok.text, /^HTTP\/1\.1 100 Continue/);
  });

  it('refuses numbers a 64-bit float cannot hold instead of storing null or lost digits', async () => {
    const s = await server();
    for (const body of [
      '{"v":1e400}',
      '{"v":-1e400}',
      '{"v":12345678901234567890123}',
      '[{"v":1},{"v":1e999}]',
    ]) {
      problem(await post(`${s.url}/streams/num`, body), 400, ErrorCode.UNREPRESENTABLE_NUMBER);
    }
    const ndjson = await fetch(`${s.url}/streams/num`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: '{"v":1}\n{"v":1e400}\n',
    });
    assert.equal(ndjson.status, 400);
    assert.equal((await get(`${s.url}/streams/num`)).status, 404, 'nothing of those stored');
    assert.equal((await post(`${s.url}/streams/num`, '{"v":1e22,"w":0.1,"x":-0}')).status, 201);
  });

  it('takes the Bearer scheme in any case and answers HEAD /health', async () => {
    const s = await server(['--token', 'secret-token']);
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      assert.equal((await get(`${s.url}/streams`, { authorization: `${scheme} secret-token` })).status, 200);
    }
    for (const wrong of [
      'Bearer secret',
      'Bearer secret-token-and-more',
      'Basic secret-token',
      'secret-token',
    ]) {
      problem(await get(`${s.url}/streams`, { authorization: wrong }), 401, ErrorCode.UNAUTHORIZED);
    }
    const head = await fetch(`${s.url}/health`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });
});
