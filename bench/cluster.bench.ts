// Cluster mode against its engine: append throughput of 100-event batches through one store node
// (`serve --cluster`, the log replicated 1 and 3 times) vs raw JetStream publishes of the same bytes
// from the same process with the same number in flight; append latency (one request at a time) of a
// cluster node vs the single-node server (journal, fsync everysec); and the catch-up time of a new
// node, per million events. nats-server, the store nodes and the single-node server are separate
// processes on 127.0.0.1. LFES_BENCH_SMOKE=1: short runs, no results file.

import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsCluster, StoreNode, stopAll } from '../test/helpers/cluster.ts';
import { NATS_SERVER, systemProgram } from '../test/helpers/system-programs.ts';
import { LatencyRecorder, percentileRow } from './lib/latency.ts';
import { header } from './lib/machine.ts';
import { formatRate, printSection } from './lib/markdown.ts';
import { latencyTarget, type Section, type Target, target, writeResults } from './lib/results.ts';
import type { Row } from './lib/run-tinybench.ts';
import { startEventStore } from './lib/service.ts';

const SMOKE = process.env.LFES_BENCH_SMOKE === '1';
const SECONDS = SMOKE ? 1 : 5;
const IN_FLIGHT = 64;
const BATCH = 100;
const LATENCY_REQUESTS = SMOKE ? 50 : 2_000;
const CATCH_UP_GOAL_EVENTS = SMOKE ? 20_000 : 1_000_000;

const natsServer = systemProgram(NATS_SERVER);
if (natsServer.missing !== undefined) {
  console.error(natsServer.missing);
  process.exit(2);
}

const event = (n: number) => ({ id: `o-${n}`, valor: (n * 7919) % 1000, gatewayId: `gw-${n % 3}` });
const HUNDRED = JSON.stringify(Array.from({ length: BATCH }, (_, i) => event(i)));
const HUNDRED_BYTES = Buffer.from(HUNDRED);

const method =
  `${IN_FLIGHT} requests (or publishes) in flight from one process for ${SECONDS} s per peer after a 1 s warm-up; ` +
  `one 100-event JSON batch (${HUNDRED_BYTES.length} B) per request to 8 streams in turn, at the default stream ` +
  'capacity (100,000 events: in steady state appends evict, as in the single-node benchmark); ' +
  'rate = events acknowledged ÷ time. ' +
  `Latency: ${LATENCY_REQUESTS} appends of one batch, one at a time. Catch-up: an empty node started against the log, ` +
  'time until it listens (it listens once it has applied the whole log), scaled to 1 M events.';
const peers = [
  'store node, log R1 / R3',
  'raw JetStream publishes (@nats-io/jetstream) of the same bytes, R1 / R3',
  'single-node server (journal, fsync everysec)',
];
const m = header('Cluster mode', method, peers);

const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });

function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs `op` with `IN_FLIGHT` in flight for `seconds`; returns events per second. */
async function closedLoop(op: () => Promise<void>, seconds: number): Promise<number> {
  let done = 0;
  const endAt = performance.now() + seconds * 1_000;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < endAt) {
        await op();
        done++;
      }
    }),
  );
  return (done * BATCH) / ((performance.now() - startedAt) / 1_000);
}

function rateRow(name: string, eventsPerSec: number): Row {
  return { name, opsPerSec: eventsPerSec, medianNs: 1e9 / eventsPerSec, rmePct: 0, samples: 1 };
}

async function latency(url: string, name: string): Promise<Row> {
  const rec = new LatencyRecorder();
  for (let i = 0; i < LATENCY_REQUESTS; i++) {
    const t0 = process.hrtime.bigint();
    const status = await post(url, HUNDRED);
    rec.record(Number(process.hrtime.bigint() - t0));
    if (status !== 201) throw new Error(`${name}: append answered ${status}`);
  }
  return percentileRow(name, rec, 0.5);
}

const dir = mkdtempSync(join(tmpdir(), 'lfes-bench-cluster-'));
const throughput: Section = {
  title: 'Append throughput, 100-event batches',
  unit: 'event',
  baseline: 'raw JetStream R3',
  rows: [],
  timeLabel: '1 ÷ rate',
};
const latencies: Section = {
  title: 'Append latency of one 100-event batch (p50)',
  unit: 'request',
  baseline: 'single node',
  rows: [],
  statistic: 'p50',
};
const catchUp: Section = {
  title: 'Catch-up of a new node',
  unit: 'event',
  baseline: 'catch-up',
  rows: [],
  timeLabel: '1 ÷ rate',
};
const notes: string[] = [];
try {
  for (const replicas of [1, 3]) {
    const nats = new NatsCluster(replicas, join(dir, `r${replicas}`));
    await nats.start();
    const node = new StoreNode('bench', join(dir, `r${replicas}`, 'store'), nats.urls, [
      ...['--replicas', String(replicas), '--memory-budget-bytes', String(8 * 1024 ** 3)],
      ...['--snapshot-interval-ms', '600000'],
    ]);
    await node.start();
    const nc = await connect({ servers: nats.urls });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: 'RAW',
      subjects: ['raw'],
      storage: StorageType.File,
      num_replicas: replicas,
    });
    const js = jetstream(nc);
    const streams = Array.from({ length: 8 }, (_, i) => `${node.url}/streams/bench-${i}`);
    let k = 0;
    const append = async (): Promise<void> => {
      const status = await post(streams[k++ % streams.length]!, HUNDRED);
      if (status !== 201) throw new Error(`append answered ${status}`);
    };
    const publish = async (): Promise<void> => {
      await js.publish('raw', HUNDRED_BYTES);
    };
    await closedLoop(append, 1);
    await closedLoop(publish, 1);
    // Alternate the peers so that neither gets the machine's quieter moments.
    const cluster = await closedLoop(append, SECONDS);
    const raw = await closedLoop(publish, SECONDS);
    throughput.rows.push(
      rateRow(`cluster R${replicas}`, cluster),
      rateRow(`raw JetStream R${replicas}`, raw),
    );
    console.log(
      `R${replicas}: cluster ${formatRate(cluster)} events/s, raw JetStream ${formatRate(raw)} events/s`,
    );
    if (replicas === 3) {
      latencies.rows.push(await latency(`${node.url}/streams/latency`, 'cluster R3'));
      // Catch-up: fill the log to the goal (already partly filled above), then start an empty node.
      const status = await fetch(`${node.url}/cluster`).then(
        (r) => r.json() as Promise<{ position: number }>,
      );
      let events = (status.position - 1) * BATCH;
      while (events < CATCH_UP_GOAL_EVENTS) {
        await closedLoop(append, 1);
        const s = await fetch(`${node.url}/cluster`).then((r) => r.json() as Promise<{ position: number }>);
        events = (s.position - 1) * BATCH;
      }
      const fresh = new StoreNode('fresh', join(dir, 'fresh'), nats.urls, [
        '--memory-budget-bytes',
        String(8 * 1024 ** 3),
      ]);
      const t0 = performance.now();
      await fresh.start();
      const seconds = (performance.now() - t0) / 1_000;
      catchUp.rows.push(rateRow('catch-up', events / seconds));
      notes.push(
        `A new node replayed ${events} events in ${seconds.toFixed(1)} s: ${((seconds * 1e6) / events).toFixed(1)} s per million events.`,
      );
      await fresh.kill();
    }
    await nc.close();
    await node.kill('SIGTERM');
    await nats.stop();
  }
  const single = await startEventStore(['--fsync', 'everysec']);
  latencies.rows.unshift(await latency(`${single.url}/streams/latency`, 'single node'));
  await single.stop();
} finally {
  agent.destroy();
  stopAll();
  rmSync(dir, { recursive: true, force: true });
}

for (const s of [throughput, latencies, catchUp]) printSection(s);
const targets: Target[] = [
  target(throughput, 'cluster R3', 'raw JetStream R3', 0.7),
  target(throughput, 'cluster R1', 'raw JetStream R1', 0.7),
  latencyTarget(latencies, 'cluster R3', 'single node', 3),
];
for (const n of notes) console.log(n);
if (!SMOKE) {
  writeResults({
    name: 'cluster',
    title: 'Cluster mode',
    method,
    peers,
    machine: m,
    sections: [throughput, latencies, catchUp],
    targets,
    notes,
  });
}
