// The bounds that protect the service, against a real server process: JSON nesting depth, per-stream
// capacity and the memory budget of all rings, tombstones of deleted streams. Figures are printed.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ErrorCode } from '../../src/errors.ts';
import { stringifyJson } from '../../src/json.ts';
import { eventually } from '../helpers/raw-http.ts';
import { get, post, problem } from '../helpers/server.ts';
import { type ServerProcess, spawnServer } from '../helpers/server-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function server(args: string[] = [], dir?: string): Promise<ServerProcess & { dir: string }> {
  const d = dir ?? (await tempDir('lfes-limits-'));
  const s = await spawnServer(['--data-dir', d, ...args]);
  cleanup.push(async () => {
    s.child.kill('SIGKILL');
    await s.exited;
  });
  return { ...s, dir: d };
}

async function stop(s: ServerProcess): Promise<void> {
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
}

interface Stats {
  tombstones: number;
  memory: { rssBytes: number; heldBytes: number; memoryBudgetBytes: number };
  persistence: { snapshotsSaved: number; snapshotFailures: number };
}

async function stats(url: string): Promise<Stats> {
  return (await get(`${url}/stats`)).body as unknown as Stats;
}

function nested(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

async function ndjson(
  url: string,
  body: string,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

describe('JSON nesting depth', () => {
  it('refuses an event nested deeper than --max-json-depth on every ingest path, storing nothing', async () => {
    const s = await server();
    const deep = nested(5000);
    problem(await post(`${s.url}/streams/d`, deep), 400, ErrorCode.JSON_TOO_DEEP);
    problem(await post(`${s.url}/streams/d`, `[1,${deep}]`), 400, ErrorCode.JSON_TOO_DEEP);
    problem(await post(`${s.url}/streams/d`, `{"a":${nested(128)}}`), 400, ErrorCode.JSON_TOO_DEEP);
    problem(
      (await ndjson(`${s.url}/streams/d`, `{"a":1}\n${deep}\n`)) as never,
      400,
      ErrorCode.JSON_TOO_DEEP,
    );
    assert.equal((await get(`${s.url}/streams/d`)).status, 404);
    // At the limit: an event of depth 128, alone or in a batch (the batch's array is not counted).
    assert.equal((await post(`${s.url}/streams/d`, nested(128))).status, 201);
    assert.equal((await post(`${s.url}/streams/d`, `[${nested(128)}]`)).status, 201);
  });

  it('serves, snapshots and restores an event nested ~5,000 deep when the limit allows it', async () => {
    const s = await server(['--max-json-depth', '10000', '--snapshot-interval-ms', '200']);
    const deep = nested(5000);
    const event = nested(4999); // the body's outer array is the batch
    // Compared as text: node's assert recurses, and a value this deep overflows its stack.
    const text = (data: unknown): string => stringifyJson(data);
    assert.equal((await post(`${s.url}/streams/deep`, deep)).status, 201);
    assert.equal((await post(`${s.url}/streams/other`, { ok: true })).status, 201);
    const page = await get(`${s.url}/streams/deep?from=0`);
    assert.equal(page.status, 200);
    assert.ok(
      text((page.body.events as { data: unknown }[])[0]!.data) === event,
      'the JSON page holds the event',
    );
    const nd = await fetch(`${s.url}/streams/deep?from=0`, { headers: { accept: 'application/x-ndjson' } });
    assert.equal(nd.status, 200);
    assert.ok(
      text((JSON.parse((await nd.text()).trim()) as { data: unknown }).data) === event,
      'NDJSON holds it',
    );
    const sse = await fetch(`${s.url}/streams/deep?from=0`, { headers: { accept: 'text/event-stream' } });
    const reader = sse.body!.getReader();
    let received = '';
    while (!/data: .*\n\n/.test(received)) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      received += Buffer.from(chunk).toString();
    }
    await reader.cancel();
    assert.match(received, /id: 0\ndata: \{"offset":0/);
    assert.ok(received.includes(`"data":${event}}`), 'SSE holds it');
    assert.ok(
      await eventually(async () => (await stats(s.url)).persistence.snapshotsSaved >= 2, 10_000),
      'the shards of both streams are saved',
    );
    assert.equal((await stats(s.url)).persistence.snapshotFailures, 0);
    await stop(s);
    const again = await server(['--max-json-depth', '10000'], s.dir);
    const restored = ((await get(`${again.url}/streams/deep?from=0`)).body.events as { data: unknown }[])[0]!;
    assert.ok(text(restored.data) === event, 'restored after the restart');
    const del = await fetch(`${again.url}/streams/deep`, { method: 'DELETE' });
    assert.equal(del.status, 200);
  });
});

describe('capacity and the memory budget', () => {
  it('keeps one-event appends to 2,000 new streams of capacity 1,000,000 small in memory', async () => {
    const s = await server(['--max-streams', '3000']);
    const before = (await stats(s.url)).memory.rssBytes;
    for (let i = 0; i < 2000; i++) {
      const r = await post(`${s.url}/streams/cap-${i}?capacity=1000000`, { i });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const after = (await stats(s.url)).memory.rssBytes;
    console.log(
      `# 2000 streams of capacity 1e6 with one event: RSS ${(before / 2 ** 20).toFixed(0)} -> ${(after / 2 ** 20).toFixed(0)} MB`,
    );
    // Preallocated, this was ~16 MB per stream (the process died at ~410 streams, 4.2 GB).
    assert.ok(after - before < 300 * 2 ** 20, `RSS grew by ${after - before} bytes`);
    problem(await post(`${s.url}/streams/too-big?capacity=1000001`, { i: 0 }), 400, ErrorCode.BAD_REQUEST);
  });

  it('answers 507 past --memory-budget-bytes, keeps taking appends that evict, and frees room on delete', async () => {
    const budget = 20 * 1024 * 1024;
    const s = await server(['--memory-budget-bytes', String(budget), '--max-streams', '10000']);
    const blob = 'x'.repeat(100 * 1024);
    let stored = 0;
    let refused: { status: number; body: Record<string, unknown>; headers: Headers } | undefined;
    for (let i = 0; i < 1000 && refused === undefined; i++) {
      const r = await post(`${s.url}/streams/m-${i}?capacity=1`, { blob });
      if (r.status === 201) stored++;
      else refused = r;
    }
    assert.ok(refused !== undefined, 'the budget was reached');
    problem(refused, 507, ErrorCode.INSUFFICIENT_STORAGE);
    const st = await stats(s.url);
    console.log(
      `# budget ${budget} B: ${stored} events of 100 KB stored, held ${st.memory.heldBytes} B, RSS ${(st.memory.rssBytes / 2 ** 20).toFixed(0)} MB`,
    );
    assert.ok(st.memory.heldBytes <= budget);
    assert.ok(stored >= 150, `only ${stored} stored`);
    // A full stream (capacity 1) takes appends of the same size: each evicts as much as it adds.
    assert.equal((await post(`${s.url}/streams/m-0`, { blob })).status, 201);
    assert.equal((await post(`${s.url}/streams/m-0`, { blob })).status, 201);
    assert.equal((await post(`${s.url}/streams/m-0`, { blob })).status, 201);
    assert.equal((await fetch(`${s.url}/streams/m-1`, { method: 'DELETE' })).status, 200);
    assert.equal((await post(`${s.url}/streams/after-delete`, { blob })).status, 201);
    const held = (await stats(s.url)).memory.heldBytes;
    await stop(s);
    const again = await server(['--memory-budget-bytes', String(budget), '--max-streams', '10000'], s.dir);
    assert.equal((await stats(again.url)).memory.heldBytes, held, 'the charges survive the restart exactly');
  });
});

describe('tombstones', () => {
  it('bounds tombstones over 5,000 create/delete cycles and never reuses an offset of a forgotten name', async () => {
    const s = await server(['--max-streams', '10', '--max-tombstones', '100']);
    for (let i = 0; i < 5000; i++) {
      assert.equal((await post(`${s.url}/streams/t-${i}`, [{ i }, { i }])).status, 201);
      assert.equal((await fetch(`${s.url}/streams/t-${i}`, { method: 'DELETE' })).status, 200);
    }
    const st = await stats(s.url);
    console.log(`# 5000 create/delete cycles: ${st.tombstones} tombstones kept (max 100)`);
    assert.ok(st.tombstones <= 100);
    // t-0's tombstone was folded long ago: its offsets 0 and 1 are still never handed out again.
    const first = await post(`${s.url}/streams/t-0`, { again: true });
    assert.equal(first.status, 201);
    assert.ok((first.body.firstOffset as number) >= 2, `re-created at ${first.body.firstOffset}`);
    await stop(s);
    const again = await server(['--max-streams', '10', '--max-tombstones', '100'], s.dir);
    const second = await post(`${again.url}/streams/t-1`, { again: true });
    assert.ok(
      (second.body.firstOffset as number) >= 2,
      `after a restart, re-created at ${second.body.firstOffset}`,
    );
  });
});
