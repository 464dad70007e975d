import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { get, post, startServer } from '../helpers/server.ts';
import { spawnServer } from '../helpers/server-process.ts';
import { removeTempDir, tempDir } from '../helpers/temp-dir.ts';

const producer = (seq: number, epoch = 7) => ({
  'producer-id': 'gw-1',
  'producer-epoch': String(epoch),
  'producer-seq': String(seq),
});

async function events(
  url: string,
  stream: string,
): Promise<{ offset: number; data: unknown; timestamp: number }[]> {
  const r = await get(`${url}/streams/${stream}?limit=10000`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.events as { offset: number; data: unknown; timestamp: number }[];
}

for (const fsync of ['everysec', 'always'] as const) {
  describe(`restart on the same data directory (fsync ${fsync})`, () => {
    it('keeps every event, continues offsets, and keeps producer dedupe, tombstones and capacities', async () => {
      const dir = await tempDir();
      try {
        // A tiny snapshot trigger: the restore combines snapshots and the journal.
        const opts = { fsync, snapshotEveryOps: 7, snapshotIntervalMs: 0 };
        const a = await startServer(opts, dir);
        for (let i = 0; i < 20; i++) await post(`${a.url}/streams/orders`, { i });
        const ack = await post(`${a.url}/streams/orders`, [{ p: 0 }, { p: 1 }], producer(0));
        assert.deepEqual([ack.body.firstOffset, ack.body.lastOffset], [20, 21]);
        await post(`${a.url}/streams/small?capacity=3`, [1, 2, 3, 4].slice(0, 3));
        await post(`${a.url}/streams/small`, 4);
        await post(`${a.url}/streams/gone`, [1, 2]);
        assert.equal((await fetch(`${a.url}/streams/gone`, { method: 'DELETE' })).status, 200);
        const before = await events(a.url, 'orders');
        await a.close();

        const b = await startServer(opts, dir);
        assert.deepEqual(await events(b.url, 'orders'), before, 'events, offsets and timestamps survive');
        const retry = await post(`${b.url}/streams/orders`, [{ p: 0 }, { p: 1 }], producer(0));
        assert.equal(retry.status, 200);
        assert.deepEqual(retry.body, {
          stream: 'orders',
          firstOffset: 20,
          lastOffset: 21,
          count: 2,
          duplicate: true,
        });
        const next = await post(`${b.url}/streams/orders`, { after: true });
        assert.equal(next.body.firstOffset, 22, 'offsets continue');
        const small = await events(b.url, 'small');
        assert.deepEqual(
          small.map((e) => [e.offset, e.data]),
          [
            [1, 2],
            [2, 3],
            [3, 4],
          ],
        );
        assert.equal((await post(`${b.url}/streams/small`, [5, 6, 7, 8])).status, 400, 'capacity 3 survives');
        assert.equal((await get(`${b.url}/streams/gone`)).status, 404);
        const re = await post(`${b.url}/streams/gone`, 3, { 'expected-version': '1' });
        assert.deepEqual([re.status, re.body.firstOffset], [201, 2], 'the tombstone keeps the next offset');
        await b.close();

        const c = await startServer(opts, dir);
        const after = await events(c.url, 'orders');
        assert.equal(after.length, 23);
        assert.deepEqual(
          after.map((e) => e.offset),
          Array.from({ length: 23 }, (_, i) => i),
        );
        await c.close();
      } finally {
        await removeTempDir(dir);
      }
    });
  });
}

describe('the data directory lock', () => {
  it('refuses a second server on a directory in use and takes over a stale lock', async () => {
    const dir = await tempDir();
    try {
      const a = await startServer({}, dir);
      await assert.rejects(startServer({}, dir), { code: 'ES_ERR_INVALID_STATE' });
      await a.close();
      await writeFile(`${dir}/server.lock`, '2147483646'); // a pid that does not run
      const b = await startServer({}, dir);
      await b.close();
    } finally {
      await removeTempDir(dir);
    }
  });
});

describe('journal records of JSON-array appends (the body spliced in)', () => {
  it('replay to exactly the values the live server held: BOM, whitespace, unicode, big numbers, producers', async () => {
    const dir = await tempDir();
    // No snapshot before the kill: the restart rebuilds everything from the journal alone.
    const args = ['--data-dir', dir, '--snapshot-interval-ms', '3600000'];
    let server = await spawnServer(args);
    try {
      const bodies = [
        '\uFEFF[{"a":1},{"b":[true,null]}]',
        // Numbers at the edges of what a double holds (1e400 and 2^53 + 1 are refused: see abuse.test.ts).
        ' [\n {"text":"caf\u00e9 \u2603 \ud83d\ude00","esc":"\\u00e9\\n\\"q\\""} ,\r\n 2.50, -0, 1.7976931348623157e308, "x"]\n',
        '[{"__proto__":{"polluted":1},"constructor":"c"}]',
        '[{"deep":[[[[{"k":9007199254740991,"tiny":5e-324}]]]]}]',
        '{"single":"object, not an array"}',
        '\uFEFF {"bom":"and a single object"} ',
      ];
      for (const body of bodies) {
        const r = await post(`${server.url}/streams/splice`, body);
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      const ack = await post(`${server.url}/streams/splice`, '[{"p":1},{"p":2}]', producer(0));
      assert.equal(ack.status, 201);
      const before = await events(server.url, 'splice');
      assert.equal(before.length, 13);
      server.child.kill('SIGKILL');
      await server.exited;
      server = await spawnServer(args);
      assert.deepEqual(await events(server.url, 'splice'), before);
      const retry = await post(`${server.url}/streams/splice`, '[{"p":1},{"p":2}]', producer(0));
      assert.equal(retry.status, 200, 'the producer retry is recognised after a journal-only restart');
      assert.equal(retry.body.firstOffset, ack.body.firstOffset);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      await removeTempDir(dir);
    }
  });
});
