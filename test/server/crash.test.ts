import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventStoreClient, type StreamEvent } from '../../src/client/index.ts';
import { spawnServer } from '../helpers/server-process.ts';
import { removeTempDir, tempDir } from '../helpers/temp-dir.ts';

interface Ack {
  id: string;
  offset: number;
}

/** Appends `{ id }` events (single and batches) from `writers` loops until `stop`; records every ack. */
async function load(url: string, stream: string, writers: number, stop: { now: boolean }) {
  const acked: Ack[] = [];
  const sent = new Set<string>();
  let failed = 0;
  let producerLast: { seq: number; body: string; first: number; last: number } | undefined;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; !stop.now; i++) {
        const batch = Array.from({ length: (i % 3) + 1 }, (_, k) => ({ id: `w${w}-${i}-${k}` }));
        for (const e of batch) sent.add(e.id);
        const body = JSON.stringify(batch);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (w === 0)
          Object.assign(headers, { 'producer-id': 'p0', 'producer-epoch': '1', 'producer-seq': String(i) });
        try {
          const res = await fetch(`${url}/streams/${stream}`, { method: 'POST', headers, body });
          if (res.status !== 201) {
            failed++;
            return;
          }
          const r = (await res.json()) as { firstOffset: number; lastOffset: number };
          for (const [k, e] of batch.entries()) acked.push({ id: e.id, offset: r.firstOffset + k });
          if (w === 0) producerLast = { seq: i, body, first: r.firstOffset, last: r.lastOffset };
        } catch {
          failed++;
          return; // the server is gone: the outcome of this request is unknown
        }
      }
    }),
  );
  return { acked, sent, failed, producerLast };
}

for (const fsync of ['everysec', 'always'] as const) {
  describe(`kill -9 of the server under load (fsync ${fsync})`, () => {
    it('loses no acknowledged append, duplicates nothing and reuses no offset after restart', async () => {
      const dir = await tempDir();
      try {
        const first = await spawnServer([
          '--data-dir',
          dir,
          '--fsync',
          fsync,
          '--snapshot-interval-ms',
          '300',
        ]);
        const stop = { now: false };
        const running = load(first.url, 'crash/orders', 8, stop);
        await new Promise((r) => setTimeout(r, 1500));
        first.child.kill('SIGKILL');
        stop.now = true;
        const { acked, sent, producerLast } = await running;
        assert.equal(await first.exited, 'SIGKILL');
        assert.ok(acked.length > 100, `only ${acked.length} acks before the kill`);

        const second = await spawnServer(['--data-dir', dir]);
        try {
          const client = new EventStoreClient(second.url);
          const stored: StreamEvent<{ id: string }>[] = [];
          for await (const e of client.read<{ id: string }>('crash/orders', { from: 0 })) stored.push(e);
          const byId = new Map<string, number>();
          let dup = 0;
          for (const e of stored) {
            if (byId.has(e.data.id)) dup++;
            byId.set(e.data.id, e.offset);
          }
          const lost = acked.filter((a) => byId.get(a.id) !== a.offset);
          const phantom = stored.filter((e) => !sent.has(e.data.id));
          const gaps = stored.filter((e, i) => e.offset !== i);
          const report = {
            acked: acked.length,
            stored: stored.length,
            lost: lost.length,
            dup,
            phantom: phantom.length,
            gaps: gaps.length,
          };
          console.log(`kill -9 under load (fsync ${fsync}): ${JSON.stringify(report)}`);
          assert.deepEqual(
            { lost: report.lost, dup, phantom: report.phantom, gaps: report.gaps },
            {
              lost: 0,
              dup: 0,
              phantom: 0,
              gaps: 0,
            },
          );
          const next = await client.append('crash/orders', { id: 'after-restart' });
          assert.equal(next.firstOffset, stored.length, 'offsets continue: none reused');
          if (producerLast !== undefined) {
            const res = await fetch(`${second.url}/streams/crash/orders`, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'producer-id': 'p0',
                'producer-epoch': '1',
                'producer-seq': String(producerLast.seq),
              },
              body: producerLast.body,
            });
            const body = (await res.json()) as {
              duplicate?: boolean;
              firstOffset: number;
              lastOffset: number;
            };
            assert.deepEqual(
              [body.duplicate, body.firstOffset, body.lastOffset],
              [true, producerLast.first, producerLast.last],
            );
          }
        } finally {
          second.child.kill('SIGTERM');
          assert.equal(await second.exited, 0, 'SIGTERM drains and exits 0');
        }
      } finally {
        await removeTempDir(dir);
      }
    });
  });
}

describe('SIGTERM under load', () => {
  it('drains, writes a final snapshot, exits 0, and keeps every acknowledged append', async () => {
    const dir = await tempDir();
    try {
      const first = await spawnServer(['--data-dir', dir, '--fsync', 'everysec']);
      const stop = { now: false };
      const running = load(first.url, 'term/orders', 4, stop);
      await new Promise((r) => setTimeout(r, 700));
      const t0 = Date.now();
      first.child.kill('SIGTERM');
      const code = await first.exited;
      const shutdownMs = Date.now() - t0;
      stop.now = true;
      const { acked } = await running;
      assert.equal(code, 0);
      const second = await spawnServer(['--data-dir', dir]);
      try {
        const stats = (await (await fetch(`${second.url}/stats`)).json()) as {
          persistence: { journalRecordsReplayed: number };
        };
        const client = new EventStoreClient(second.url);
        const ids = new Set<string>();
        for await (const e of client.read<{ id: string }>('term/orders', { from: 0 })) ids.add(e.data.id);
        const lost = acked.filter((a) => !ids.has(a.id)).length;
        console.log(
          `SIGTERM under load: ${JSON.stringify({ acked: acked.length, stored: ids.size, lost, shutdownMs, replayed: stats.persistence.journalRecordsReplayed })}`,
        );
        assert.equal(lost, 0);
        assert.equal(stats.persistence.journalRecordsReplayed, 0, 'the final snapshot covers everything');
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    } finally {
      await removeTempDir(dir);
    }
  });
});
