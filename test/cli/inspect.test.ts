import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { post, startServer } from '../helpers/server.ts';
import { runCli } from './run-cli.ts';

/** Appends `count` events to `stream` in batches of `batch`; returns how many were acknowledged. */
async function append(url: string, stream: string, count: number, batch: number): Promise<number> {
  let acked = 0;
  for (let i = 0; i < count; i += batch) {
    const events = Array.from({ length: Math.min(batch, count - i) }, (_, k) => ({ n: i + k }));
    const r = await post(`${url}/streams/${stream}`, events);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    acked += events.length;
  }
  return acked;
}

describe('inspect of a server data directory', () => {
  it('reports the events and streams of server shard snapshots and journal segments, not only their ops', async () => {
    const t = await startServer({ snapshotIntervalMs: 0 });
    try {
      const streams: Record<string, number> = {
        'orders/eu': await append(t.url, 'orders/eu', 2500, 500), // captured as 3 append ops of <= 1000
        'orders/us': await append(t.url, 'orders/us', 40, 7),
        'gw/1': await append(t.url, 'gw/1', 1, 1),
        'gw/2': await append(t.url, 'gw/2', 12, 12),
      };
      const total = Object.values(streams).reduce((a, b) => a + b, 0);
      const ops = 4 /* creates */ + 5 + 6 + 1 + 1; /* one batch op per request */
      const journalDir = join(t.dataDir, 'journal');
      const segments = (await readdir(journalDir)).map((f) => join(journalDir, f));
      assert.ok(segments.length > 0);
      let journaled = 0;
      let appendRecords = 0;
      for (const segment of segments) {
        const r = await runCli(['journal', 'inspect', '--json', segment]);
        assert.equal(r.status, 0, r.stdout + r.stderr);
        const report = JSON.parse(r.stdout) as { details: Record<string, unknown> };
        assert.equal(report.details.content, 'server shard ops: append counts ops, not events');
        journaled += report.details.events as number;
        appendRecords += report.details.append as number;
      }
      assert.equal(journaled, total);
      assert.equal(appendRecords, ops);

      await t.server.close(); // final snapshot of every changed shard
      const files: string[] = [];
      for (const dir of await readdir(t.dataDir)) {
        if (!/^\d+$/.test(dir)) continue;
        for (const f of await readdir(join(t.dataDir, dir))) files.push(join(t.dataDir, dir, f));
      }
      assert.ok(files.length >= 2, `snapshots: ${files.join(', ')}`);
      let events = 0;
      let streamCount = 0;
      let opCount = 0;
      for (const file of files) {
        const r = await runCli(['snapshot', 'inspect', '--json', file]);
        assert.equal(r.status, 0, r.stdout + r.stderr);
        const { details } = JSON.parse(r.stdout) as { details: Record<string, number | string> };
        assert.equal(details.content, 'server shard: count is ops, not events');
        assert.equal(details.ops, details.count);
        events += details.events as number;
        streamCount += details.streams as number;
        opCount += details.count as number;
      }
      assert.equal(events, total);
      assert.equal(streamCount, Object.keys(streams).length);
      assert.equal(opCount, 4 + 3 + 1 + 1 + 1, 'a capture holds a create and one append op per 1000 events');
      const text = await runCli(['snapshot', 'inspect', ...files]);
      assert.equal(text.status, 0);
      assert.match(
        text.stdout,
        /\n {2}content: server shard: count is ops, not events\n {2}ops: \d+\n {2}streams: \d+\n {2}events: \d+\n/,
      );
    } finally {
      await t.cleanup();
    }
  });
});
