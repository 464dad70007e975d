import assert from 'node:assert/strict';
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { get, post, startServer } from '../helpers/server.ts';
import { spawnServer } from '../helpers/server-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { ndjson, runCli } from './run-cli.ts';

interface StoredEvent {
  offset: number;
  timestamp: number;
  data: unknown;
}

interface StreamsReport {
  shards: number;
  streams: { name: string; count: number; firstOffset: number; lastOffset: number }[];
  snapshots: { shard: number; version: number; file: string }[];
  journal: { segments: number; recordsReplayed: number; tornTailBytes: number };
  problems: string[];
  notes: string[];
}

/** Every file under `dir` with its size and modification time: what "nothing changed" compares. */
async function listing(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(dir, { recursive: true })) {
    const s = await stat(join(dir, name));
    out[name] = s.isDirectory() ? 'dir' : `${s.size} bytes, mtime ${s.mtimeMs}`;
  }
  return out;
}

/** Waits until a running server's directory stops changing (a snapshot round may still be going). */
async function settled(dir: string): Promise<Record<string, string>> {
  let last = await listing(dir);
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const now = await listing(dir);
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
  throw new Error(`${dir} kept changing`);
}

/**
 * Appends `count` requests of `batch` events `{ stream, n }` to `stream` (n counting from `first`),
 * as an idempotent producer when `producer` is given; returns the events sent.
 */
async function append(
  url: string,
  stream: string,
  count: number,
  batch = 1,
  producer?: string,
  first = 0,
): Promise<unknown[]> {
  const sent: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const events = Array.from({ length: batch }, (_, k) => ({ stream, n: first + sent.length + k }));
    const headers: Record<string, string> =
      producer === undefined
        ? {}
        : { 'producer-id': producer, 'producer-epoch': '0', 'producer-seq': String(i) };
    const r = await post(`${url}/streams/${stream}`, events, headers);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    sent.push(...events);
  }
  return sent;
}

async function streamsOf(
  dir: string,
): Promise<{ report: StreamsReport; stderr: string; status: number | null }> {
  const r = await runCli(['data', 'streams', '--json', dir]);
  assert.equal(r.stdout.split('\n').length, 2, `one JSON line: ${r.stdout}${r.stderr}`);
  return { report: JSON.parse(r.stdout) as StreamsReport, stderr: r.stderr, status: r.status };
}

async function eventsOf(dir: string, stream: string, ...options: string[]): Promise<StoredEvent[]> {
  const r = await runCli(['data', 'read', dir, stream, ...options]);
  assert.equal(r.status, 0, r.stderr);
  return ndjson(r.stdout) as StoredEvent[];
}

describe('lockfree-eventstore data streams / data read', () => {
  it("lists the streams and prints the events of a running server's directory, changing nothing in it", async () => {
    // A first run leaves snapshots (its final one); the second, still running, adds journaled ops.
    const dir = await tempDir('lfes-cli-data-');
    const first = await startServer({ snapshotIntervalMs: 0 }, dir);
    await append(first.url, 'orders/eu', 12, 3);
    await append(first.url, 'gw/1', 1, 2500); // one request, more events than one captured op holds
    await first.close();
    const t = await startServer({ snapshotIntervalMs: 0 }, dir);
    try {
      await append(t.url, 'orders/eu', 1, 1, undefined, 36);
      await append(t.url, 'orders/us', 4, 1, 'p1');
      await append(t.url, 'tmp', 2);
      assert.equal((await fetch(`${t.url}/streams/tmp`, { method: 'DELETE' })).status, 200);
      const before = await settled(t.dataDir);
      assert.ok(
        Object.keys(before).some((f) => f.endsWith('.snap')) &&
          Object.keys(before).some((f) => f.endsWith('.journal')),
        `both snapshots and a journal: ${Object.keys(before).join(', ')}`,
      );

      const { report, status, stderr } = await streamsOf(t.dataDir);
      assert.equal(status, 0, stderr);
      const server = (await get(`${t.url}/streams`)).body as { streams: unknown[] };
      assert.deepEqual(report.streams, server.streams, 'the same streams as GET /streams');
      assert.deepEqual(
        report.streams.map((s) => [s.name, s.count]),
        [
          ['gw/1', 2500],
          ['orders/eu', 37],
          ['orders/us', 4],
        ],
      );
      assert.ok(report.snapshots.length > 0 && report.journal.recordsReplayed > 0, JSON.stringify(report));
      assert.deepEqual(report.problems, []);
      for (const stream of ['orders/eu', 'orders/us', 'gw/1']) {
        const page = (await get(`${t.url}/streams/${stream}?from=0&limit=10000`)).body as {
          events: unknown[];
        };
        assert.deepEqual(await eventsOf(t.dataDir, stream), page.events, stream);
      }
      const table = await runCli(['data', 'streams', t.dataDir]);
      assert.equal(table.status, 0);
      assert.deepEqual(table.stdout.split('\n').slice(0, 2), [
        'stream     events  first  last  capacity',
        'gw/1         2500      0  2499    100000',
      ]);
      assert.match(
        table.stderr,
        /^read .*: 8 shards, \d+ snapshots, \d+ journal segments, \d+ journaled ops replayed\n$/,
      );

      assert.deepEqual(await listing(t.dataDir), before, 'the data directory changed');
      assert.equal((await readFile(join(t.dataDir, 'server.lock'), 'utf8')).trim(), String(process.pid));
      await append(t.url, 'orders/eu', 1); // the server goes on
    } finally {
      await t.close();
    }
  });

  it('reads every acknowledged event after kill -9, dropping a torn journal tail without touching it', async () => {
    const dir = await tempDir('lfes-cli-data-');
    const p = await spawnServer(['--data-dir', dir, '--fsync', 'always']);
    const sent = {
      a: await append(p.url, 'a', 20, 2),
      b: await append(p.url, 'b', 3, 5),
    };
    p.child.kill('SIGKILL');
    assert.equal(await p.exited, 'SIGKILL');
    const segments = (await readdir(join(dir, 'journal'))).sort();
    const newest = join(dir, 'journal', segments[segments.length - 1]!);
    // A record cut short by the crash: a frame header announcing 100 bytes, and 10 of them.
    const torn = Buffer.alloc(18);
    torn.writeUInt32LE(100, 0);
    await appendFile(newest, torn);
    const before = await listing(dir);

    const { report, stderr, status } = await streamsOf(dir);
    assert.equal(status, 0, stderr);
    assert.equal(report.journal.tornTailBytes, 18);
    assert.match(stderr, /torn journal tail: 18 bytes dropped/);
    assert.deepEqual(
      report.streams.map((s) => [s.name, s.count]),
      [
        ['a', 40],
        ['b', 15],
      ],
    );
    for (const [stream, events] of Object.entries(sent)) {
      const read = await eventsOf(dir, stream);
      assert.deepEqual(
        read.map((e) => e.data),
        events,
      );
      assert.deepEqual(
        read.map((e) => e.offset),
        events.map((_, i) => i),
      );
    }
    assert.deepEqual(await listing(dir), before, 'the data directory changed');

    // The server's own restore of the same directory agrees.
    const t = await startServer({}, dir);
    try {
      const server = (await get(`${t.url}/streams`)).body as { streams: unknown[] };
      assert.deepEqual(report.streams, server.streams);
    } finally {
      await t.close();
    }
  });

  it('restores the snapshots, then replays the journal written after them', async () => {
    const dir = await tempDir('lfes-cli-data-');
    const first = await spawnServer(['--data-dir', dir]);
    const early = await append(first.url, 'orders', 5, 2);
    first.child.kill('SIGTERM'); // final snapshot
    assert.equal(await first.exited, 0);
    const second = await spawnServer(['--data-dir', dir, '--fsync', 'always']);
    const late = await append(second.url, 'orders', 3, 2, undefined, early.length);
    second.child.kill('SIGKILL');
    await second.exited;

    const { report, status, stderr } = await streamsOf(dir);
    assert.equal(status, 0, stderr);
    assert.ok(report.snapshots.length > 0, 'a snapshot was restored');
    assert.equal(report.journal.recordsReplayed, 3);
    const read = await eventsOf(dir, 'orders');
    assert.deepEqual(
      read.map((e) => e.data),
      [...early, ...late],
    );
  });

  it('keeps giving whole, ordered streams while the server appends and snapshots meanwhile', async () => {
    const t = await startServer({ snapshotIntervalMs: 0, snapshotEveryOps: 10 });
    let acked = 0;
    let stop = false;
    const writer = (async () => {
      for (let i = 0; i < 20_000 && !stop; i++) {
        const r = await post(`${t.url}/streams/live`, [{ n: i }]);
        assert.equal(r.status, 201);
        acked = i + 1;
      }
    })();
    try {
      while (acked < 50) await new Promise((resolve) => setTimeout(resolve, 20));
      for (let round = 0; round < 4; round++) {
        const ackedBefore = acked;
        const events = await eventsOf(t.dataDir, 'live');
        assert.ok(
          events.length >= ackedBefore,
          `round ${round}: ${events.length} events, ${ackedBefore} acknowledged`,
        );
        events.forEach((e, i) => {
          assert.equal(e.offset, i, `round ${round}`);
          assert.deepEqual(e.data, { n: i }, `round ${round}`);
        });
      }
    } finally {
      stop = true;
      await writer;
      await t.cleanup();
    }
  });

  it('reads from --from for --limit events, says which offsets were evicted, and refuses a stream it lacks', async () => {
    const t = await startServer({ streamCapacity: 5 });
    try {
      await append(t.url, 's', 8);
      await append(t.url, 'gone', 1);
      assert.equal((await fetch(`${t.url}/streams/gone`, { method: 'DELETE' })).status, 200);
      const offsets = async (...options: string[]) =>
        (await eventsOf(t.dataDir, 's', ...options)).map((e) => e.offset);
      assert.deepEqual(await offsets(), [3, 4, 5, 6, 7]);
      assert.deepEqual(await offsets('--from', '4', '--limit', '2'), [4, 5]);
      assert.deepEqual(await offsets('--from', '100'), []);
      assert.deepEqual(await offsets('--limit', '0'), []);
      const evicted = await runCli(['data', 'read', t.dataDir, 's', '--from', '1']);
      assert.equal(evicted.status, 0);
      assert.deepEqual(
        (ndjson(evicted.stdout) as StoredEvent[]).map((e) => e.offset),
        [3, 4, 5, 6, 7],
      );
      assert.match(evicted.stderr, /^offsets 1\.\.2 of s were evicted \(the stream holds 3\.\.7\)\n/);
      for (const name of ['gone', 'nope']) {
        const r = await runCli(['data', 'read', t.dataDir, name]);
        assert.equal(r.status, 1);
        assert.equal(r.stdout, '');
        assert.ok(r.stderr.startsWith(`stream "${name}" is not in ${t.dataDir}\n`), r.stderr);
      }
    } finally {
      await t.cleanup();
    }
  });

  it('reports ops lost behind a corrupt snapshot as a problem, and exits 1', async () => {
    const dir = await tempDir('lfes-cli-data-');
    let t = await startServer({}, dir);
    await append(t.url, 'a', 3);
    await t.close(); // snapshot of a's shard at op 4 (create + 3 batches)
    t = await startServer({}, dir);
    await append(t.url, 'a', 2);
    await t.close(); // snapshot at op 6; the journal before it is removed
    const shardDir = (await readdir(dir)).find((d) => /^\d+$/.test(d))!;
    const snaps = (await readdir(join(dir, shardDir))).sort(
      (x, y) => Number(x.split('_')[1]) - Number(y.split('_')[1]),
    );
    assert.equal(snaps.length, 2, snaps.join(', '));
    const newest = join(dir, shardDir, snaps[1]!);
    const bytes = await readFile(newest);
    bytes[bytes.length - 1]! ^= 0xff;
    await writeFile(newest, bytes);

    const { report, status, stderr } = await streamsOf(dir);
    assert.equal(status, 1, stderr);
    assert.deepEqual(
      report.streams.map((s) => [s.name, s.count]),
      [['a', 3]],
    );
    assert.equal(report.notes.length, 1);
    assert.match(
      report.notes[0]!,
      new RegExp(
        `^snapshot ${shardDir}/${snaps[1]} is not usable \\(invalid snapshot: payload checksum mismatch\\)$`,
      ),
    );
    assert.deepEqual(report.problems, [
      `shard ${shardDir} is restored up to op 4, but its snapshot at op 6 is not usable: ops 4..5 are lost`,
    ]);
    assert.match(stderr, /\n {2}problem: shard \d+ is restored up to op 4/);
  });

  it('says in one line that a data directory is missing or not a directory, and exits 1', async () => {
    for (const [dir, reason] of [
      ['/nonexistent/lfes-data', 'no such file or directory'],
      ['package.json', 'not a directory'],
    ]) {
      const r = await runCli(['data', 'streams', dir!]);
      assert.equal(r.status, 1);
      assert.equal(r.stderr, `data directory ${dir}: ${reason}\n`);
      assert.equal(r.stdout, '');
    }
    const empty = await streamsOf(await tempDir('lfes-cli-data-'));
    assert.equal(empty.status, 0);
    assert.deepEqual(empty.report.streams, []);
    assert.equal(empty.report.shards, 0);
  });
});
