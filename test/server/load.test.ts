// Load and resource tests of the HTTP service against a real server process (reference/reliability.md
// §4.3, §4.5; cases T27, T31, T32, T33). Gateways are child processes
// (test/fixtures/gateway-load-child.ts) whose histories go through the linear-time checker.
//
// Knobs: LFES_LOAD_GATEWAYS (4), LFES_LOAD_EVENTS (events per gateway, 2000), LFES_LOAD_SEED.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EventStoreClient } from '../../src/client/index.ts';
import {
  type CheckResult,
  checkHistory,
  type FinalStream,
  type HistoryOp,
  NO_VIOLATIONS,
  violations,
} from '../helpers/history-checker.ts';
import { retryWhileAddressInUse } from '../helpers/ports.ts';
import { get, post, startServer } from '../helpers/server.ts';
import { type ServerProcess, spawnServer } from '../helpers/server-process.ts';
import { removeTempDir, tempDir } from '../helpers/temp-dir.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const GATEWAYS = Number(process.env.LFES_LOAD_GATEWAYS ?? 4);
const EVENTS = Number(process.env.LFES_LOAD_EVENTS ?? 2000);
const SEED = Number(process.env.LFES_LOAD_SEED ?? Date.now() % 1_000_000);
const STREAMS = ['load/orders', 'load/payments', 'load/audit'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Runs the gateway children to completion; returns every history op. */
async function runGateways(url: string, dir: string, deadlineMs: number, seed: number): Promise<HistoryOp[]> {
  const deadline = Date.now() + deadlineMs;
  const outs = await Promise.all(
    Array.from({ length: GATEWAYS }, (_, g) => {
      const out = join(dir, `history-gw${g}.jsonl`);
      const config = {
        url,
        gw: `gw${g}`,
        events: EVENTS,
        streams: STREAMS,
        workers: 6,
        seed: seed + g,
        deadline,
        out,
        shortTimeoutRate: 0.05,
      };
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/fixtures/gateway-load-child.ts', JSON.stringify(config)],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      return new Promise<string>((resolve, reject) =>
        child.on('exit', (code) => {
          if (code === 0) {
            console.log(`# ${output.trim()}`);
            resolve(out);
          } else reject(new Error(`gateway ${g} exited with ${code}: ${output}`));
        }),
      );
    }),
  );
  return outs.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as HistoryOp),
  );
}

async function finalState(url: string): Promise<Map<string, FinalStream>> {
  const client = new EventStoreClient(url);
  const final = new Map<string, FinalStream>();
  for (const s of await client.streams()) {
    const events: { offset: number; id: string }[] = [];
    for await (const e of client.read<{ id: string }>(s.name, { from: s.firstOffset })) {
      events.push({ offset: e.offset, id: e.data.id });
    }
    final.set(s.name, { firstOffset: s.firstOffset, events });
  }
  return final;
}

function report(label: string, history: HistoryOp[], r: CheckResult, seconds: number): void {
  const lat = history
    .filter((h) => h.op === 'append' && h.outcome.type === 'ok')
    .map((h) => h.tComplete - h.tInvoke)
    .sort((a, b) => a - b);
  const attempts = history.filter((h) => h.op === 'append').length;
  const unknown = history.filter((h) => h.op === 'append' && h.outcome.type === 'unknown').length;
  console.log(
    `# ${label}: seed ${SEED}, ${GATEWAYS} gateways, ${attempts} append attempts (${unknown} unknown), ` +
      `${r.ackedAppends} appends / ${r.ackedEvents} events acked, ${r.storedEvents} stored, ` +
      `${(attempts / seconds).toFixed(0)} req/s, p50 ${percentile(lat, 0.5).toFixed(1)} ms, ` +
      `p99 ${percentile(lat, 0.99).toFixed(1)} ms`,
  );
  console.log(`# ${label}: ${JSON.stringify(violations(r))}`);
}

describe('load through gateway processes (T32, T33)', () => {
  it(`T32: ${GATEWAYS} gateways × ${EVENTS} events pass the history checker`, async () => {
    const dir = await tempDir();
    const server = await spawnServer(['--data-dir', join(dir, 'data')]);
    try {
      const t0 = performance.now();
      const history = await runGateways(server.url, dir, 60_000, SEED);
      const seconds = (performance.now() - t0) / 1000;
      const r = checkHistory(history, await finalState(server.url), { clockSkewMs: 1 });
      report('T32', history, r, seconds);
      const msg = `seed ${SEED}: ${r.samples.join('; ')}`;
      assert.deepEqual(violations(r), NO_VIOLATIONS, msg);
      assert.equal(r.ackedEvents, GATEWAYS * EVENTS, msg);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      await removeTempDir(dir);
    }
  });

  it('T33: kill -9 of the server mid-load, restart on the same data dir: no acknowledged event lost, no duplicate, no offset reused', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    let server: ServerProcess = await spawnServer(['--data-dir', dataDir, '--snapshot-interval-ms', '500']);
    const port = new URL(server.url).port;
    try {
      const t0 = performance.now();
      const running = runGateways(server.url, dir, 45_000, SEED + 100);
      running.catch(() => {}); // awaited below; a gateway failing before then is reported there
      // Kill once some load went through (the gateways need ~1 s to start).
      const client = new EventStoreClient(server.url);
      const killAt = Date.now() + 20_000;
      for (;;) {
        const n = (await client.streams()).reduce((s, x) => s + x.count, 0);
        if (n >= (GATEWAYS * EVENTS) / 3 || Date.now() > killAt) break;
        await sleep(50);
      }
      server.child.kill('SIGKILL');
      assert.equal(await server.exited, 'SIGKILL');
      const killedAt = performance.now();
      const killedAtEpoch = performance.timeOrigin + killedAt;
      await sleep(300);
      // The gateways know this port: the new server takes it again (once whoever briefly held it lets go).
      server = await retryWhileAddressInUse(() => spawnServer(['--data-dir', dataDir, '--port', port]));
      console.log(`# T33: down for ${(performance.now() - killedAt).toFixed(0)} ms`);
      const history = await running;
      const seconds = (performance.now() - t0) / 1000;
      const r = checkHistory(history, await finalState(server.url), { clockSkewMs: 1 });
      report('T33', history, r, seconds);
      const ackedBeforeKill = history
        .filter((h) => h.op === 'append' && h.outcome.type === 'ok' && h.tComplete < killedAtEpoch)
        .reduce((n, h) => n + (h.op === 'append' ? h.ids.length : 0), 0);
      console.log(
        `# T33: ${ackedBeforeKill} events acknowledged before the kill (all of them in the final state)`,
      );
      const msg = `seed ${SEED + 100}: ${r.samples.join('; ')}`;
      assert.equal(r.lostAcked, 0, msg);
      assert.equal(r.duplicated, 0, msg);
      assert.equal(r.phantom, 0, msg);
      assert.equal(r.gaps, 0, msg);
      assert.equal(r.ackMismatch, 0, msg);
      assert.equal(r.realTimeViolations, 0, msg);
      assert.equal(r.ackedEvents, GATEWAYS * EVENTS, msg);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      await removeTempDir(dir);
    }
  });
});

describe('oversized bodies against a server process (T27)', () => {
  it('a 100 MB streamed body is refused with 413 without growing the server, and limit+1 bytes too', async () => {
    const dir = await tempDir();
    const server = await spawnServer(['--data-dir', join(dir, 'data')]);
    const pid = server.child.pid!;
    try {
      const { hostname, port } = new URL(server.url);
      // Warm up the allocator a little so the baseline is not the bare startup.
      for (let i = 0; i < 20; i++) assert.equal((await get(`${server.url}/health`)).status, 200);
      const before = rssKb(pid);
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const total = 100 * 1024 * 1024;
      const { status, written } = await new Promise<{ status: number; written: number }>(
        (resolve, reject) => {
          let written = 0;
          let status = 0;
          const req = request(
            {
              host: hostname,
              port,
              method: 'POST',
              path: '/streams/x',
              headers: { 'content-type': 'application/json' },
            },
            (res) => {
              status = res.statusCode ?? 0;
              res.resume();
              res.on('end', () => resolve({ status, written }));
              res.on('error', () => resolve({ status, written }));
            },
          );
          req.on('error', (err: NodeJS.ErrnoException) => {
            // The server answers 413 and closes while the body is still coming: the close may reach
            // this client (EPIPE, ECONNRESET) before the answer is parsed. Either way it was cut.
            if (status !== 0) resolve({ status, written });
            else if (err.code === 'EPIPE' || err.code === 'ECONNRESET') resolve({ status: -1, written });
            else reject(err);
          });
          const pump = (): void => {
            while (written < total && status === 0 && !req.destroyed) {
              written += chunk.length;
              if (!req.write(chunk)) {
                req.once('drain', pump);
                return;
              }
            }
            if (written >= total) req.end();
          };
          pump();
        },
      );
      const after = rssKb(pid);
      const growthMb = (after - before) / 1024;
      console.log(
        `# T27: ${status === 413 ? '413' : 'connection cut'} after ${(written / 1048576).toFixed(1)} MB sent of 100 MB; server RSS ${(before / 1024).toFixed(1)} → ${(after / 1024).toFixed(1)} MB (+${growthMb.toFixed(1)} MB)`,
      );
      assert.ok(status === 413 || status === -1, `answered ${status}`);
      assert.ok(written < total, 'the server stopped the upload before its end');
      assert.ok(growthMb < 64, `RSS grew by ${growthMb} MB`);

      // limit + 1 bytes: with a Content-Length (refused before reading) and chunked (counted).
      const limit = 8 * 1024 * 1024;
      const big = `"${'b'.repeat(limit - 1)}"`; // limit + 1 bytes of valid JSON
      assert.equal(Buffer.byteLength(big), limit + 1);
      // The Content-Length alone is refused: send the headers, wait for the answer, never the body
      // (a body still in flight when the server closes could turn the answer into a reset).
      const declared = await new Promise<number>((resolve, reject) => {
        const req = request({
          host: hostname,
          port,
          method: 'POST',
          path: '/streams/x',
          headers: { 'content-type': 'application/json', 'content-length': String(limit + 1) },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        req.on('error', reject);
        req.flushHeaders();
      });
      assert.equal(declared, 413);
      const chunked = await new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: hostname,
            port,
            method: 'POST',
            path: '/streams/x',
            headers: { 'content-type': 'application/json' },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.write(big.slice(0, limit));
        req.end(big.slice(limit));
      });
      assert.equal(chunked, 413);
      // A body of exactly the limit is accepted.
      assert.equal((await post(`${server.url}/streams/y`, big.slice(0, limit - 1).concat('"'))).status, 201);

      assert.equal((await get(`${server.url}/health`)).status, 200);
      assert.equal((await get(`${server.url}/streams/x`)).status, 404);
      const stats = (await get(`${server.url}/stats`)).body as { events?: number };
      console.log(`# T27: events stored ${stats.events}, final RSS ${(rssKb(pid) / 1024).toFixed(1)} MB`);
      assert.equal(stats.events, 1);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      await removeTempDir(dir);
    }
  });
});

describe('a live reader that never reads (T31)', () => {
  it('stays bounded, is disconnected with its cursor, and a resume has no gap or duplicate', async () => {
    const s = await startServer({ stallMs: 1_500, streamCapacity: 200_000 });
    try {
      // Watch the server side of every SSE response (the per-connection buffer).
      const sse: import('node:http').ServerResponse[] = [];
      s.server.http.on('request', (req, res) => {
        if (String(req.headers.accept ?? '').includes('text/event-stream')) sse.push(res);
      });
      const stream = 'live/slow';
      assert.equal((await post(`${s.url}/streams/${stream}`, { id: 'e-0', pad: '' })).status, 201);
      const { hostname, port } = new URL(s.url);
      const socket = connect({ host: hostname, port: Number(port) });
      socket.pause();
      await new Promise<void>((r) => socket.once('connect', r));
      socket.write(`GET /streams/${stream}?from=0 HTTP/1.0\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
      let closedAt = 0;
      await sleep(100);
      assert.equal(sse.length, 1);
      const res = sse[0]!;
      res.on('close', () => (closedAt = performance.now()));

      // Append fast: batches of 200 events of ~1 KB until the subscriber is cut (or 30 MB).
      const pad = 'p'.repeat(1000);
      let maxBuffered = 0;
      let maxPostMs = 0;
      let appended = 1;
      const t0 = performance.now();
      while (closedAt === 0 && appended < 30_000 && performance.now() - t0 < 15_000) {
        const batch = Array.from({ length: 200 }, (_, k) => ({ id: `e-${appended + k}`, pad }));
        const tp = performance.now();
        const r = await post(`${s.url}/streams/${stream}`, batch);
        maxPostMs = Math.max(maxPostMs, performance.now() - tp);
        assert.equal(r.status, 201);
        appended += batch.length;
        maxBuffered = Math.max(maxBuffered, res.writableLength);
      }
      // Keep watching until the stall budget cuts it.
      while (closedAt === 0 && performance.now() - t0 < 20_000) {
        maxBuffered = Math.max(maxBuffered, res.writableLength);
        await sleep(20);
      }
      console.log(
        `# T31: ${appended} events (~${((appended * 1030) / 1048576).toFixed(1)} MB) appended, ` +
          `max server writableLength ${maxBuffered} bytes, disconnected after ${((closedAt - t0) / 1000).toFixed(1)} s, slowest append ${maxPostMs.toFixed(0)} ms`,
      );
      // A lone append made during the journal's background fsync used to wait for the next snapshot.
      assert.ok(maxPostMs < 10_000, `an append took ${maxPostMs} ms`);
      assert.ok(closedAt > 0, 'the stalled subscriber was not disconnected');
      assert.ok(maxBuffered <= 256 * 1024, `buffered ${maxBuffered} bytes`);

      // The subscriber now reads what reached it: its cursor is the last complete id.
      const received: number[] = [];
      await new Promise<void>((resolve) => {
        let text = '';
        socket.on('data', (c: Buffer) => {
          text += c.toString('latin1');
        });
        socket.on('close', () => {
          const body = text.slice(text.indexOf('\r\n\r\n') + 4);
          for (const m of body.matchAll(/id: (\d+)\ndata: [^\n]*\n\n/g)) {
            received.push(Number(m[1]));
          }
          resolve();
        });
        socket.resume();
      });
      assert.ok(received.length > 0);
      for (const [i, o] of received.entries()) assert.equal(o, i, `gap or duplicate before the cut at ${i}`);
      const cursor = received.at(-1)!;

      // Resume from the cursor with a normal client: the rest, once each.
      const client = new EventStoreClient(s.url);
      const ac = new AbortController();
      let next = cursor + 1;
      try {
        for await (const e of client.subscribe(stream, { from: cursor + 1, signal: ac.signal })) {
          assert.equal(e.offset, next++, 'gap or duplicate after the resume');
          if (e.offset === appended - 1) ac.abort();
        }
      } catch (err) {
        if (!ac.signal.aborted) throw err;
      }
      console.log(`# T31: cut at offset ${cursor}, resumed ${appended - 1 - cursor} events, gaps 0, dups 0`);
      assert.equal(next, appended);
      socket.destroy();
    } finally {
      await s.cleanup();
    }
  });
});
