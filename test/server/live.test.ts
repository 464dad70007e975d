import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { get, post, type RunningServer, startServer } from '../helpers/server.ts';

let s: RunningServer;
before(async () => {
  s = await startServer({ stallMs: 500, heartbeatMs: 200, maxSubscribers: 3 });
});
after(async () => {
  await s.cleanup();
});

interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** Opens an SSE response and collects messages until `until` says stop (then aborts). */
async function collectSse(
  url: string,
  headers: Record<string, string>,
  until: (messages: SseMessage[]) => boolean,
): Promise<{ status: number; messages: SseMessage[]; body?: string }> {
  const ac = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ac.signal });
  if (res.status !== 200) return { status: res.status, messages: [], body: await res.text() };
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const messages: SseMessage[] = [];
  try {
    while (!until(messages)) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let sep = buffer.indexOf('\n\n');
      while (sep >= 0) {
        const block = buffer.slice(0, sep);
        buffer = buffer.slice(sep + 2);
        sep = buffer.indexOf('\n\n');
        const m: SseMessage = { event: 'message', data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) m.id = line.slice(4);
          else if (line.startsWith('event: ')) m.event = line.slice(7);
          else if (line.startsWith('data: ')) m.data = line.slice(6);
        }
        if (m.data !== '') messages.push(m);
      }
    }
  } finally {
    ac.abort();
  }
  return { status: res.status, messages };
}

describe('SSE subscriptions', () => {
  it('delivers stored and live events with id = offset', async () => {
    await post(`${s.url}/streams/live`, [0, 1, 2]);
    setTimeout(() => void post(`${s.url}/streams/live`, [3, 4]), 100);
    const r = await collectSse(`${s.url}/streams/live?from=1`, {}, (m) => m.length >= 4);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.messages.map((m) => [m.id, (JSON.parse(m.data) as { offset: number; data: number }).data]),
      [
        ['1', 1],
        ['2', 2],
        ['3', 3],
        ['4', 4],
      ],
    );
  });

  it('resumes after Last-Event-ID with no gap and no duplicate', async () => {
    await post(
      `${s.url}/streams/resume`,
      Array.from({ length: 10 }, (_, i) => i),
    );
    const first = await collectSse(`${s.url}/streams/resume`, {}, (m) => m.length >= 4);
    const lastId = first.messages.at(-1)!.id!;
    await post(`${s.url}/streams/resume`, [10, 11]);
    const rest = await collectSse(
      `${s.url}/streams/resume`,
      { 'last-event-id': lastId },
      (m) => m.at(-1)?.id === '11',
    );
    const offsets = [...first.messages, ...rest.messages].map((m) => Number(m.id));
    assert.deepEqual(
      offsets,
      Array.from({ length: 12 }, (_, i) => i),
    );
  });

  it('answers 410 for an evicted resume point and 400 for a bad Last-Event-ID', async () => {
    await post(`${s.url}/streams/sse-evict?capacity=2`, [0, 1]);
    await post(`${s.url}/streams/sse-evict`, [2, 3]);
    const r = await collectSse(`${s.url}/streams/sse-evict?from=0`, {}, () => true);
    assert.equal(r.status, 410);
    assert.equal((JSON.parse(r.body!) as { firstOffset: number }).firstOffset, 2);
    const bad = await collectSse(`${s.url}/streams/sse-evict`, { 'last-event-id': 'x' }, () => true);
    assert.equal(bad.status, 400);
  });

  it('ends with event: deleted when the stream is deleted', async () => {
    await post(`${s.url}/streams/sse-del`, [0]);
    setTimeout(() => void fetch(`${s.url}/streams/sse-del`, { method: 'DELETE' }), 100);
    const r = await collectSse(`${s.url}/streams/sse-del`, {}, (m) => m.some((x) => x.event === 'deleted'));
    assert.deepEqual(
      r.messages.map((m) => m.event),
      ['message', 'deleted'],
    );
  });

  it('disconnects a subscriber that stops reading instead of buffering without bound', async () => {
    const big = 'x'.repeat(100_000);
    await post(`${s.url}/streams/flood`, { big });
    const u = new URL(s.url);
    const socket = connect(Number(u.port), u.hostname);
    socket.pause(); // never reads
    socket.write(`GET /streams/flood HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    for (let i = 0; i < 12; i++) {
      await post(
        `${s.url}/streams/flood`,
        Array.from({ length: 20 }, () => ({ big })),
      );
    }
    // The client never reads, so it cannot see the close; the server reports the subscription ended.
    let live = 1;
    while (live > 0 && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 100));
      live = (await get(`${s.url}/stats`)).body.liveSubscribers as number;
    }
    socket.destroy();
    assert.equal(live, 0, 'the stalled subscriber was disconnected');
    assert.ok(Date.now() - t0 < 5000);
  });

  it('disconnects a Durable Streams SSE reader that stops reading instead of buffering without bound', async () => {
    const created = await fetch(`${s.url}/v1/stream/flood-ds`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(created.status, 201);
    const u = new URL(s.url);
    const socket = connect(Number(u.port), u.hostname);
    socket.pause(); // never reads
    socket.write(`GET /v1/stream/flood-ds?offset=-1&live=sse HTTP/1.1\r\nHost: x\r\n\r\n`);
    let live = 0;
    for (let i = 0; i < 50 && live === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      live = (await get(`${s.url}/stats`)).body.liveSubscribers as number;
    }
    assert.equal(live, 1, 'the tail is open');
    const t0 = Date.now();
    const chunk = new Uint8Array(1_000_000).fill(120);
    for (let i = 0; i < 12; i++) {
      const r = await fetch(`${s.url}/v1/stream/flood-ds`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: chunk,
      });
      assert.equal(r.status, 204);
    }
    while (live > 0 && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 100));
      live = (await get(`${s.url}/stats`)).body.liveSubscribers as number;
    }
    socket.destroy();
    assert.equal(live, 0, 'the stalled reader was disconnected');
  });

  it('answers 429 past maxSubscribers', async () => {
    await post(`${s.url}/streams/subs`, [0]);
    const acs = [new AbortController(), new AbortController(), new AbortController()];
    const open = await Promise.all(
      acs.map((ac) =>
        fetch(`${s.url}/streams/subs`, { headers: { accept: 'text/event-stream' }, signal: ac.signal }),
      ),
    );
    assert.deepEqual(
      open.map((r) => r.status),
      [200, 200, 200],
    );
    const extra = await get(`${s.url}/streams/subs`, { accept: 'text/event-stream' });
    assert.equal(extra.status, 429);
    assert.equal(extra.body.code, 'ES_ERR_LIMIT_EXCEEDED');
    for (const ac of acs) ac.abort();
  });
});

describe('HTTP hardening', () => {
  it('cuts a slow-loris connection by the headers timeout while other clients are served', async () => {
    const t = await startServer({ headersTimeoutMs: 1000, connectionsCheckingIntervalMs: 250 });
    try {
      const u = new URL(t.url);
      const socket = connect(Number(u.port), u.hostname);
      let received = '';
      socket.on('data', (c: Buffer) => (received += c.toString()));
      const t0 = Date.now();
      socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
      const trickle = setInterval(() => socket.writable && socket.write(`X-Slow-${Date.now()}: 1\r\n`), 200);
      const closedAfter = new Promise<number>((resolve) =>
        socket.on('close', () => resolve(Date.now() - t0)),
      );
      assert.equal((await get(`${t.url}/health`)).status, 200);
      const ms = await closedAfter;
      clearInterval(trickle);
      assert.ok(ms >= 900 && ms < 3000, `slow connection lived ${ms} ms`);
      assert.match(received, /^HTTP\/1\.1 408/);
    } finally {
      await t.cleanup();
    }
  });

  it('does not cut live reads with the request timeouts (they bound receiving the request only)', async () => {
    const t = await startServer({
      headersTimeoutMs: 500,
      requestTimeoutMs: 500,
      connectionsCheckingIntervalMs: 100,
    });
    try {
      await post(`${t.url}/streams/slow`, [0]);
      setTimeout(() => void post(`${t.url}/streams/slow`, [1]), 1200);
      const [sse, poll] = await Promise.all([
        collectSse(`${t.url}/streams/slow`, {}, (m) => m.length >= 2),
        get(`${t.url}/streams/slow?from=1&wait=3000`),
      ]);
      assert.deepEqual(
        sse.messages.map((m) => m.id),
        ['0', '1'],
      );
      assert.deepEqual(
        (poll.body.events as { offset: number }[]).map((e) => e.offset),
        [1],
      );
    } finally {
      await t.cleanup();
    }
  });

  it('refuses connections past maxConnections and serves again once they close', async () => {
    const t = await startServer({ maxConnections: 3 });
    try {
      const u = new URL(t.url);
      const held = await Promise.all(
        [0, 1, 2].map(
          () =>
            new Promise<Socket>((resolve) => {
              const sock = connect(Number(u.port), u.hostname, () => resolve(sock));
              sock.on('error', () => {});
            }),
        ),
      );
      for (const sock of held) sock.write('GET /health HTTP/1.1\r\nHost: x\r\n'); // admitted, unfinished
      await new Promise((r) => setTimeout(r, 50));
      await assert.rejects(fetch(`${t.url}/health`, { headers: { connection: 'close' } }));
      for (const sock of held) sock.destroy();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await fetch(`${t.url}/health`)).status, 200);
    } finally {
      await t.cleanup();
    }
  });

  it('answers malformed HTTP with 400 and keeps serving', async () => {
    const u = new URL(s.url);
    const socket = connect(Number(u.port), u.hostname);
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString()));
    socket.write('THIS IS NOT HTTP\r\n\r\n');
    await new Promise((resolve) => socket.on('close', resolve));
    assert.match(received, /^HTTP\/1\.1 400/);
    assert.equal((await get(`${s.url}/health`)).status, 200);
  });
});
