// SseWriter on a real node:http response and a real socket whose reader pauses: a full socket pauses
// the pump until 'drain'; a reader that resumes in time keeps its connection (even when more was
// written while paused); one that does not is dropped after stallMs.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SseWriter } from '../../src/server/http/sse-writer.ts';

const STALL_MS = 1_000;
const CHUNK = `data: ${'x'.repeat(64 * 1024)}\n\n`;

interface Probe {
  writer: SseWriter;
  pumps: number;
  /** While true, each pump writes chunks until the socket is full. */
  flood: boolean;
  /** Calls of onEnd. */
  ends: number;
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** A server whose one response is an SseWriter; the client socket is connected but never reads. */
async function open(): Promise<{ probe: Probe; socket: Socket; received: () => number }> {
  let resolveProbe: (p: Probe) => void = () => {};
  const ready = new Promise<Probe>((resolve) => (resolveProbe = resolve));
  const server = createServer((_req, res) => {
    const probe: Probe = { writer: undefined as unknown as SseWriter, pumps: 0, flood: false, ends: 0 };
    probe.writer = new SseWriter(res, {
      stallMs: STALL_MS,
      idleMs: 60_000,
      pump: () => {
        probe.pumps++;
        while (probe.flood && probe.writer.writable) probe.writer.write(CHUNK);
      },
      onIdle: () => {},
      onEnd: () => {
        probe.ends++;
      },
    });
    probe.writer.open({ 'content-type': 'text/event-stream' });
    resolveProbe(probe);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  let bytes = 0;
  socket.on('data', (c: Buffer) => (bytes += c.length));
  socket.pause();
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  return { probe: await ready, socket, received: () => bytes };
}

/**
 * Floods the connection until the kernel's buffers are full too: the writer stays paused (no 'drain'
 * for 150 ms).
 */
async function fill(probe: Probe): Promise<void> {
  probe.flood = true;
  probe.writer.pump();
  let pumps = -1;
  while (probe.pumps !== pumps || probe.writer.writable) {
    pumps = probe.pumps;
    await sleep(150);
  }
  probe.flood = false;
  assert.equal(probe.writer.writable, false, 'the socket filled up');
}

describe('SseWriter', () => {
  it('pauses on a full socket and pumps again on drain; a write while paused does not drop a reader that resumes', async () => {
    const { probe, socket, received } = await open();
    await fill(probe);
    const pumps = probe.pumps;
    probe.writer.write(CHUNK); // while paused: buffered, no second stall timer
    probe.writer.pump(); // not writable: does not run
    assert.equal(probe.pumps, pumps);
    socket.resume();
    for (let i = 0; i < 100 && probe.pumps === pumps; i++) await sleep(20);
    assert.equal(probe.pumps, pumps + 1, "'drain' pumped once");
    assert.equal(probe.writer.writable, true);
    await sleep(STALL_MS * 1.5);
    assert.equal(probe.ends, 0, 'a reader that resumed in time keeps its connection');
    assert.ok(received() > 0);
    probe.writer.end('event: bye\ndata: {}\n\n');
    assert.equal(probe.ends, 1);
    socket.destroy();
  });

  it('drops a reader that stays stalled past stallMs, once', async () => {
    const { probe, socket } = await open();
    await fill(probe);
    for (let i = 0; i < 200 && probe.ends === 0; i++) await sleep(20);
    assert.equal(probe.ends, 1, 'dropped');
    probe.writer.end(); // already ended: nothing more
    probe.writer.write(CHUNK);
    assert.equal(probe.ends, 1);
    assert.equal(probe.writer.ended, true);
    socket.destroy();
  });
});
