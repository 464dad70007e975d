// Restarts keep every Durable Streams feature: seeded random sequences of protocol operations (JSON
// and byte streams, creates with initial data and closed, appends, producer appends and their
// retries, closes, forks at random offsets and sub-offsets, deletes of sources and forks) against a
// real `serve` process, with restarts interleaved (SIGTERM, kill -9, snapshots every 200 ms so that
// restarts meet both snapshots and journal replay). After every restart and at the end the server
// must hold exactly the model (test/helpers/durable-streams-model.ts). Then fixed cases for TTL and
// expiry across restarts. LFES_DS_MODEL_RUNS sets the number of sequences (default 3); the seed of a
// failing sequence is printed (LFES_DS_MODEL_SEED replays one).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkServer,
  DurableStreamsModel,
  type ModelStream,
  url,
} from '../../helpers/durable-streams-model.ts';
import { mulberry32 } from '../../helpers/random.ts';
import { type ServerProcess, spawnServer } from '../../helpers/server-process.ts';
import { removeTempDir, tempDir } from '../../helpers/temp-dir.ts';

const RUNS = Number(process.env.LFES_DS_MODEL_RUNS ?? 3);
const OPS = 60;
const SERVE_ARGS = ['--snapshot-interval-ms', '200', '--long-poll-timeout-ms', '500'];

async function restart(server: ServerProcess, dir: string, how: 'sigterm' | 'kill9'): Promise<ServerProcess> {
  server.child.kill(how === 'sigterm' ? 'SIGTERM' : 'SIGKILL');
  const code = await server.exited;
  if (how === 'sigterm') assert.equal(code, 0, 'SIGTERM exits 0');
  return spawnServer(['--data-dir', dir, ...SERVE_ARGS]);
}

async function put(base: string, name: string, headers: Record<string, string>, body?: Buffer | string) {
  const res = await fetch(url(base, name), {
    method: 'PUT',
    headers,
    ...(body === undefined ? {} : { body }),
  });
  await res.arrayBuffer();
  return res;
}

async function post(base: string, name: string, headers: Record<string, string>, body?: Buffer | string) {
  const res = await fetch(url(base, name), {
    method: 'POST',
    headers,
    ...(body === undefined ? {} : { body }),
  });
  await res.arrayBuffer();
  return res;
}

/** One random operation against the server and the model; asserts the server's answer. */
async function step(base: string, model: DurableStreamsModel, rnd: () => number, n: number): Promise<string> {
  const pick = <T>(list: T[]): T | undefined => list[Math.floor(rnd() * list.length)];
  const bytes = (len: number): Buffer =>
    Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256)));
  const r = rnd();
  const live = model.live();
  const open = live.filter((s) => !s.closed);
  if (r < 0.15 || live.length === 0) {
    const name = `m/s${n}`;
    const json = rnd() < 0.5;
    const closed = rnd() < 0.1;
    const initial = json
      ? Array.from({ length: Math.floor(rnd() * 3) }, (_, i) => ({ n, i }))
      : [bytes(Math.floor(rnd() * 5))];
    const contentType = json ? 'application/json' : 'application/octet-stream';
    const headers: Record<string, string> = { 'content-type': contentType };
    if (closed) headers['stream-closed'] = 'true';
    const body = json ? JSON.stringify(initial) : (initial[0] as Buffer);
    const res = await put(base, name, headers, body);
    assert.equal(res.status, 201, `create ${name}`);
    const events = json ? initial : (initial as Buffer[]).filter((b) => b.length > 0);
    model.streams.set(name, {
      name,
      json,
      contentType,
      events,
      closed,
      gone: false,
      deleted: false,
      producers: new Map(),
    });
    return `create ${name} ${contentType}${closed ? ' closed' : ''} ${events.length}`;
  }
  if (r < 0.5 && open.length > 0) {
    const s = pick(open)!;
    const data = s.json
      ? Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, i) => ({ n, i }))
      : [bytes(1 + Math.floor(rnd() * 40))];
    const close = rnd() < 0.08;
    const headers: Record<string, string> = { 'content-type': s.contentType };
    if (close) headers['stream-closed'] = 'true';
    const res = await post(base, s.name, headers, s.json ? JSON.stringify(data) : (data[0] as Buffer));
    assert.equal(res.status, 204, `append to ${s.name}`);
    s.events.push(...data);
    s.closed = close;
    return `append ${s.name} ${data.length}${close ? ' + close' : ''}`;
  }
  if (r < 0.62 && open.length > 0) {
    const s = pick(open)!;
    const id = pick(['p1', 'p2'])!;
    const seq = (s.producers.get(id) ?? -1) + 1;
    const headers = {
      'content-type': s.contentType,
      'producer-id': id,
      'producer-epoch': '0',
      'producer-seq': String(seq),
    };
    const value = s.json ? { n, id, seq } : bytes(8);
    const body = s.json ? JSON.stringify(value) : (value as Buffer);
    assert.equal((await post(base, s.name, headers, body)).status, 200, `producer append to ${s.name}`);
    s.events.push(value);
    s.producers.set(id, seq);
    assert.equal((await post(base, s.name, headers, body)).status, 204, `producer retry to ${s.name}`);
    return `producer ${id} seq ${seq} to ${s.name}`;
  }
  if (r < 0.68 && open.length > 0) {
    const s = pick(open)!;
    const res = await post(base, s.name, { 'stream-closed': 'true' });
    assert.equal(res.status, 204, `close ${s.name}`);
    s.closed = true;
    return `close ${s.name}`;
  }
  if (r < 0.82) {
    const source = pick(live)!;
    const name = `m/f${n}`;
    const at = Math.floor(rnd() * (source.events.length + 1));
    let inherited = source.events.slice(0, at);
    const headers: Record<string, string> = {
      'stream-forked-from': `/v1/stream/${source.name}`,
      'stream-fork-offset': `${String(at).padStart(16, '0')}_${'0'.repeat(16)}`,
    };
    if (at < source.events.length && rnd() < 0.4) {
      const next = source.events[at];
      if (source.json) {
        const sub = 1 + Math.floor(rnd() * (source.events.length - at));
        inherited = source.events.slice(0, at + sub);
        headers['stream-fork-sub-offset'] = String(sub);
      } else {
        const sub = 1 + Math.floor(rnd() * (next as Buffer).length);
        inherited = [...inherited, (next as Buffer).subarray(0, sub)];
        headers['stream-fork-sub-offset'] = String(sub);
      }
    }
    const res = await put(base, name, headers);
    assert.equal(res.status, 201, `fork ${name} of ${source.name} at ${at}`);
    model.streams.set(name, {
      name,
      json: source.json,
      contentType: source.contentType,
      events: [...inherited],
      closed: false,
      gone: false,
      deleted: false,
      source: source.name,
      producers: new Map(),
    });
    return `fork ${name} of ${source.name} at ${at} ${headers['stream-fork-sub-offset'] ?? ''}`;
  }
  if (r < 0.92) {
    const s = pick(live)!;
    const res = await fetch(url(base, s.name), { method: 'DELETE' });
    assert.equal(res.status, 204, `delete ${s.name}`);
    model.delete(s.name);
    return `delete ${s.name}${s.gone ? ' (kept for forks)' : ''}`;
  }
  await checkServer(base, model, `after op ${n}`);
  return 'check';
}

describe('Durable Streams across restarts', () => {
  for (let run = 0; run < RUNS; run++) {
    const seed = Number(process.env.LFES_DS_MODEL_SEED ?? 0x5eed + run * 7919);
    it(`keeps every stream, fork, closure and producer of a random sequence (seed ${seed})`, {
      timeout: 300_000,
    }, async () => {
      const rnd = mulberry32(seed);
      const dir = await tempDir('lfes-ds-model-');
      const model = new DurableStreamsModel();
      const log: string[] = [];
      let server = await spawnServer(['--data-dir', dir, ...SERVE_ARGS]);
      try {
        for (let n = 0; n < OPS; n++) {
          if (rnd() < 0.06) {
            const how = rnd() < 0.5 ? 'sigterm' : 'kill9';
            log.push(how);
            server = await restart(server, dir, how);
            await checkServer(server.url, model, `after ${how} at op ${n}`);
          }
          log.push(await step(server.url, model, rnd, n));
        }
        server = await restart(server, dir, 'kill9');
        await checkServer(server.url, model, 'after the final kill -9');
        // Producers' dedupe state survived: a retry of each last sequence is a duplicate.
        for (const s of model.live().filter((m: ModelStream) => !m.closed)) {
          for (const [id, seq] of s.producers) {
            const res = await fetch(url(server.url, s.name), {
              method: 'POST',
              headers: {
                'content-type': s.contentType,
                'producer-id': id,
                'producer-epoch': '0',
                'producer-seq': String(seq),
              },
              body: s.json ? '{"retry":true}' : 'retry',
            });
            assert.equal(res.status, 204, `retry of ${id} seq ${seq} on ${s.name} after restart`);
          }
        }
      } catch (err) {
        console.log(`seed ${seed} (replay: LFES_DS_MODEL_SEED=${seed}); operations:\n  ${log.join('\n  ')}`);
        throw err;
      } finally {
        server.child.kill('SIGKILL');
        await server.exited;
        await removeTempDir(dir);
      }
    });
  }

  it('expires streams by their TTL and expiry time across restarts, and a read before the restart still slides the TTL', {
    timeout: 120_000,
  }, async () => {
    const dir = await tempDir('lfes-ds-ttl-');
    let server = await spawnServer(['--data-dir', dir, ...SERVE_ARGS]);
    try {
      const created = Date.now();
      assert.equal(
        (await put(server.url, 'ttl/slide', { 'content-type': 'text/plain', 'stream-ttl': '6' }, 'a')).status,
        201,
      );
      assert.equal(
        (await put(server.url, 'ttl/idle', { 'content-type': 'text/plain', 'stream-ttl': '6' }, 'b')).status,
        201,
      );
      const expiresAt = new Date(created + 2_500).toISOString();
      assert.equal(
        (
          await put(
            server.url,
            'ttl/fixed',
            { 'content-type': 'text/plain', 'stream-expires-at': expiresAt },
            'c',
          )
        ).status,
        201,
      );
      await new Promise((r) => setTimeout(r, 3_500));
      const read = await fetch(url(server.url, 'ttl/slide'));
      assert.equal(await read.text(), 'a');
      const touchedAt = Date.now();
      // The read's TTL refresh is journaled: kill -9 right after it.
      await new Promise((r) => setTimeout(r, 100));
      server = await restart(server, dir, 'kill9');
      assert.equal(
        (await fetch(url(server.url, 'ttl/fixed'), { method: 'HEAD' })).status,
        404,
        'a fixed expiry passed during the restart',
      );
      // 6 s after the creation, 2.5 s after the read: only the stream that was read is alive.
      await new Promise((r) => setTimeout(r, Math.max(0, created + 6_500 - Date.now())));
      assert.ok(Date.now() < touchedAt + 6_000, 'the machine was too slow for this check');
      assert.equal(
        (await fetch(url(server.url, 'ttl/idle'), { method: 'HEAD' })).status,
        404,
        'the idle stream expired',
      );
      assert.equal(
        (await fetch(url(server.url, 'ttl/slide'), { method: 'HEAD' })).status,
        200,
        'the read slid the TTL',
      );
      server = await restart(server, dir, 'sigterm');
      assert.equal(
        (await fetch(url(server.url, 'ttl/idle'), { method: 'HEAD' })).status,
        404,
        'an expired stream stays expired',
      );
      await new Promise((r) => setTimeout(r, Math.max(0, touchedAt + 6_500 - Date.now())));
      assert.equal(
        (await fetch(url(server.url, 'ttl/slide'), { method: 'HEAD' })).status,
        404,
        'then it expired too',
      );
      // The name is free again: a new stream under it starts empty.
      assert.equal(
        (await put(server.url, 'ttl/slide', { 'content-type': 'application/json' }, '[1]')).status,
        201,
      );
      assert.equal(await (await fetch(url(server.url, 'ttl/slide'))).text(), '[1]');
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      await removeTempDir(dir);
    }
  });
});
