// T01: one million sequential appends to one stream. Every acknowledgement's offset is its position,
// and the stream holds offsets 0..n-1 with no gap or duplicate, before and after a restart. Three
// paths: the registry's append (what the HTTP route calls, journal on) one event at a time, HTTP
// batches, and HTTP single-event appends (10,000 by default; LFES_T01_HTTP_SINGLE=1000000 runs the full
// million over HTTP, ~1.5 min here).

import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import { post, type RunningServer, startServer } from '../helpers/server.ts';

const N = 1_000_000;
const HTTP_SINGLE = Number(process.env.LFES_T01_HTTP_SINGLE ?? 10_000);

const running: RunningServer[] = [];
after(async () => {
  for (const s of running) await s.cleanup();
});

interface Page {
  events: { offset: number; data: { i: number } }[];
  nextOffset: number;
  firstOffset: number;
  lastOffset: number;
}

/** Reads the whole stream page by page; checks offsets 0..n-1 in order and data.i === offset. */
async function checkStream(url: string, stream: string, n: number): Promise<void> {
  let from = 0;
  let gaps = 0;
  let dups = 0;
  let wrongData = 0;
  for (;;) {
    const res = await fetch(`${url}/streams/${stream}?from=${from}&limit=10000`);
    assert.equal(res.status, 200);
    const page = (await res.json()) as Page;
    if (page.events.length === 0) break;
    for (const e of page.events) {
      if (e.offset > from) gaps++;
      if (e.offset < from) dups++;
      if (e.data.i !== e.offset) wrongData++;
      from = e.offset + 1;
    }
    assert.equal(page.nextOffset, from);
  }
  assert.deepEqual({ read: from, gaps, dups, wrongData }, { read: n, gaps: 0, dups: 0, wrongData: 0 });
}

async function restart(s: RunningServer): Promise<RunningServer> {
  await s.close();
  const again = await startServer({ streamCapacity: N + 1 }, s.dataDir);
  running.push(again);
  return again;
}

describe('1 M sequential appends to one stream (T01)', () => {
  it('through the registry, one event per append: each ack is its position; 0..n-1 after a restart', async (t: TestContext) => {
    let s = await startServer({ streamCapacity: N + 1 });
    running.push(s);
    const registry = s.server.store;
    let mismatched = 0;
    for (let i = 0; i < N; i++) {
      const ack = registry.append('t01/registry', [{ i }], { hash: i, timestamp: Date.now(), bytes: 8 });
      if (ack.firstOffset !== i || ack.lastOffset !== i || ack.count !== 1) mismatched++;
      if ((i & 0xffff) === 0xffff) await new Promise((r) => setImmediate(r)); // let the journal drain
    }
    assert.equal(mismatched, 0);
    // An HTTP append acknowledges everything before it (the journal is written in order).
    const last = await post(`${s.url}/streams/t01/registry`, { i: N });
    assert.equal(last.body.firstOffset, N);
    await checkStream(s.url, 't01/registry', N + 1);
    s = await restart(s);
    await checkStream(s.url, 't01/registry', N + 1);
    t.diagnostic(`registry: ${N + 1} appends, gaps 0, dups 0, every ack = its position, same after restart`);
  });

  it('over HTTP in batches of 1,000 events and one event at a time', async (t: TestContext) => {
    let s = await startServer({ streamCapacity: N + 1 });
    running.push(s);
    let mismatched = 0;
    const started = performance.now();
    for (let first = 0; first < N; first += 1_000) {
      const batch = Array.from({ length: 1_000 }, (_, k) => ({ i: first + k }));
      const ack = await post(`${s.url}/streams/t01/batches`, batch);
      if (ack.status !== 201 || ack.body.firstOffset !== first || ack.body.lastOffset !== first + 999) {
        mismatched++;
      }
    }
    const batchSeconds = (performance.now() - started) / 1000;
    assert.equal(mismatched, 0);
    const singleStarted = performance.now();
    for (let i = 0; i < HTTP_SINGLE; i++) {
      const ack = await post(`${s.url}/streams/t01/single`, { i });
      if (ack.status !== 201 || ack.body.firstOffset !== i) mismatched++;
    }
    const singleSeconds = (performance.now() - singleStarted) / 1000;
    assert.equal(mismatched, 0);
    await checkStream(s.url, 't01/batches', N);
    await checkStream(s.url, 't01/single', HTTP_SINGLE);
    s = await restart(s);
    await checkStream(s.url, 't01/batches', N);
    await checkStream(s.url, 't01/single', HTTP_SINGLE);
    const next = await post(`${s.url}/streams/t01/single`, { i: HTTP_SINGLE });
    assert.equal(
      next.body.firstOffset,
      HTTP_SINGLE,
      'the first append after the restart takes the next offset',
    );
    t.diagnostic(
      `HTTP: ${N} events in 1,000-event batches (${batchSeconds.toFixed(1)} s), ${HTTP_SINGLE} single ` +
        `appends (${singleSeconds.toFixed(1)} s); gaps 0, dups 0, every ack = its position, same after restart`,
    );
  });
});
