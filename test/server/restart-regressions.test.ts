// Small workloads across restarts of a real server process: each case is a reproduction of data that
// was acknowledged, snapshotted, and then refused at the next start (the snapshot header bounded a
// shard's captured ops by its version).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { get, post } from '../helpers/server.ts';
import { spawnServer } from '../helpers/server-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

async function stop(server: Awaited<ReturnType<typeof spawnServer>>, signal: 'SIGTERM' | 'SIGKILL') {
  server.child.kill(signal);
  return server.exited;
}

async function readAll(url: string, stream: string): Promise<unknown[]> {
  const out: unknown[] = [];
  let from = 0;
  for (;;) {
    const page = await get(`${url}/streams/${stream}?from=${from}&limit=10000`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    const events = page.body.events as { offset: number; data: unknown }[];
    for (const e of events) {
      assert.equal(e.offset, out.length);
      out.push(e.data);
    }
    if (events.length === 0) return out;
    from = page.body.nextOffset as number;
  }
}

describe('restarts after small and odd workloads', () => {
  it('restarts after SIGTERM following a single producer append, with the producer state', async () => {
    const dir = await tempDir('lfes-restart-');
    const one = await spawnServer(['--data-dir', dir]);
    const producer = { 'producer-id': 'p1', 'producer-epoch': '1', 'producer-seq': '0' };
    assert.equal((await post(`${one.url}/streams/a`, { x: 1 }, producer)).status, 201);
    assert.equal(await stop(one, 'SIGTERM'), 0);
    const two = await spawnServer(['--data-dir', dir]);
    assert.deepEqual(await readAll(two.url, 'a'), [{ x: 1 }]);
    const retry = await post(`${two.url}/streams/a`, { x: 1 }, producer);
    assert.equal(retry.status, 200, 'the retry is a duplicate after the restart');
    assert.equal(retry.body.firstOffset, 0);
    assert.equal(await stop(two, 'SIGTERM'), 0);
  });

  it('restarts after a single 1,001-event JSON array', async () => {
    const dir = await tempDir('lfes-restart-');
    const events = Array.from({ length: 1001 }, (_, i) => ({ i }));
    const one = await spawnServer(['--data-dir', dir]);
    assert.equal((await post(`${one.url}/streams/batch`, events)).status, 201);
    assert.equal(await stop(one, 'SIGTERM'), 0);
    const two = await spawnServer(['--data-dir', dir]);
    assert.deepEqual(await readAll(two.url, 'batch'), events);
    // Nothing written between two restarts.
    assert.equal(await stop(two, 'SIGTERM'), 0);
    const three = await spawnServer(['--data-dir', dir]);
    assert.deepEqual(await readAll(three.url, 'batch'), events);
    assert.equal(await stop(three, 'SIGTERM'), 0);
  });

  it('restarts after kill -9 right after a periodic snapshot', async () => {
    const dir = await tempDir('lfes-restart-');
    const one = await spawnServer(['--data-dir', dir, '--snapshot-interval-ms', '200']);
    const producer = { 'producer-id': 'p1', 'producer-epoch': '1', 'producer-seq': '0' };
    assert.equal((await post(`${one.url}/streams/k`, [{ a: 1 }, { a: 2 }], producer)).status, 201);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const stats = await get(`${one.url}/stats`);
      if (((stats.body.persistence as { snapshotsSaved: number }).snapshotsSaved ?? 0) > 0) break;
      assert.ok(Date.now() < deadline, 'no periodic snapshot within 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await stop(one, 'SIGKILL'), 'SIGKILL');
    const two = await spawnServer(['--data-dir', dir]);
    assert.deepEqual(await readAll(two.url, 'k'), [{ a: 1 }, { a: 2 }]);
    assert.equal(await stop(two, 'SIGTERM'), 0);
  });

  it('restarts after a single 1,000,000-event batch', async () => {
    const dir = await tempDir('lfes-restart-');
    const n = 1_000_000;
    const body = `[${Array.from({ length: n }, (_, i) => `{"i":${i}}`).join(',')}]`;
    const one = await spawnServer(['--data-dir', dir, '--max-body-bytes', String(64 * 1024 * 1024)]);
    const res = await post(`${one.url}/streams/big?capacity=${n}`, body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.count, n);
    assert.equal(await stop(one, 'SIGTERM'), 0);
    const two = await spawnServer(['--data-dir', dir]);
    const events = await readAll(two.url, 'big');
    assert.equal(events.length, n);
    for (let i = 0; i < n; i += 99_991) assert.deepEqual(events[i], { i });
    assert.deepEqual(events[n - 1], { i: n - 1 });
    assert.equal(await stop(two, 'SIGTERM'), 0);
  });
});
