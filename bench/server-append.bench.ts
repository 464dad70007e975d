// The event store service under HTTP load: single-event appends against a node:http hello world (the
// limit), 100-event batch appends against Redis 7 XADD (unpipelined and pipelined 16), reads of pages
// of 1000 against Redis XRANGE COUNT 1000, and the same append handler on node:http and fastify 5 (the
// HTTP-layer decision). Every server and every load generator (wrk, redis-benchmark) is its own
// process on 127.0.0.1; all are stopped at the end. LFES_BENCH_SMOKE=1: 1 s runs, no results file.

import { header, type Machine } from './lib/machine.ts';
import { formatRate, printSection } from './lib/markdown.ts';
import { type Section, type Target, target, writeResults } from './lib/results.ts';
import { type Row, rmePct } from './lib/run-tinybench.ts';
import {
  closeHttp,
  hasCommand,
  httpCall,
  pooledRow,
  redisBenchmark,
  serverEntry,
  startEventStore,
  startHarness,
  startRedis,
  staticRequestScript,
  type WrkResult,
  wrk,
  wrkRound,
} from './lib/service.ts';

const SMOKE = process.env.LFES_BENCH_SMOKE === '1';
const ROUNDS = SMOKE ? 1 : 2;
const SECONDS = SMOKE ? 1 : 4;
const CONNECTIONS = 50;
const REDIS_N = SMOKE ? 20_000 : 300_000;
const REDIS_READ_N = SMOKE ? 1_000 : 5_000;
const BATCH = 100;
const PAGE = 1000;
const READ_STREAM_EVENTS = 100_000;
const BATCH_EVENTS_PER_S_GOAL = 1_000_000;

for (const cmd of ['wrk', 'redis-server', 'redis-benchmark']) {
  if (!hasCommand(cmd)) {
    console.error(`${cmd} is not installed (Debian: apt-get install -y wrk redis-server)`);
    process.exit(2);
  }
}

const event = (n: number) => ({ id: `o-${n}`, valor: (n * 7919) % 1000, gatewayId: `gw-${n % 3}` });
const ONE = JSON.stringify(event(1));
const HUNDRED = JSON.stringify(Array.from({ length: BATCH }, (_, i) => event(i)));

const method =
  `wrk 4 (-t1 -c${CONNECTIONS}, an untimed 1 s warm-up, then ${ROUNDS} rounds of ${SECONDS} s per peer, ` +
  'peers alternating round by round; ' +
  'rate = all requests ÷ all time) and redis-benchmark (-c 50) as separate processes on 127.0.0.1, ' +
  'against servers each in its own process: the event store is ' +
  `\`${serverEntry().label} ` +
  '--port 0 --data-dir <fresh temp dir>` with its defaults (journal written before each acknowledgement, ' +
  'fsync everysec). Single event: `{"id","valor","gatewayId"}` JSON (~45 bytes); batch: a JSON array of ' +
  `${BATCH} such events; reads: GET ?from=N&limit=${PAGE} at offsets spread over a stream of ` +
  `${READ_STREAM_EVENTS.toLocaleString('en')} events. Redis 7 (redis-server --save '' --appendonly no): ` +
  `XADD evs MAXLEN ~ 1000000 * ts 1 v 1 k 1, -n ${REDIS_N.toLocaleString('en')}, -P 1 and -P 16; ` +
  `XRANGE evs - + COUNT ${PAGE}. The load generators share the machine's 2 cores with the server they load, ` +
  'so every figure is lower than a server on its own cores would reach. the time per request/event is ' +
  '1 ÷ rate (a mean, not a median); ±rme is the 95 % margin of the rate across rounds.';
const peers = [
  'node:http hello world (reads the body, answers 200 "hello world"; the limit for one request)',
  'Redis 7 XADD (unpipelined, and pipelined 16) and XRANGE COUNT 1000 via redis-benchmark',
  'the same single-event append handler on node:http and on fastify 5 (a standalone harness)',
];
const machine: Machine = header('Service: appends and reads over HTTP', method, peers);

function rateRow(name: string, rates: readonly number[], opsPerRequest: number, samples: number): Row {
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  const rate = mean * opsPerRequest;
  return { name, opsPerSec: rate, medianNs: 1e9 / rate, rmePct: rmePct(rates), samples };
}

/** An untimed 1 s wrk run, so JIT warm-up and the first connections are not measured. */
async function warm(url: string, script: string): Promise<void> {
  await wrk(url, script, { connections: CONNECTIONS, durationS: 1 });
}

function load(label: string, url: string, script: string): Promise<WrkResult> {
  return wrkRound(label, url, script, { connections: CONNECTIONS, durationS: SECONDS, unit: 'req' });
}

async function expectStatus(
  url: string,
  method: string,
  body: string | undefined,
  status: number,
): Promise<string> {
  const r = await httpCall(url, method, body);
  if (r.status !== status) throw new Error(`${method} ${url}: ${r.status} ${r.text.slice(0, 300)}`);
  return r.text;
}

const sections: Section[] = [];
const targets: Target[] = [];
const notes: string[] = [];
const stops: (() => Promise<void>)[] = [];

try {
  const es = await startEventStore();
  stops.push(es.stop);
  const hello = await startHarness('hello');
  stops.push(hello.stop);

  // Correct answers first.
  const one = JSON.parse(await expectStatus(`${es.url}/streams/bench-single`, 'POST', ONE, 201)) as {
    count: number;
  };
  const hundred = JSON.parse(await expectStatus(`${es.url}/streams/bench-batch`, 'POST', HUNDRED, 201)) as {
    count: number;
  };
  if (one.count !== 1 || hundred.count !== BATCH) throw new Error('append acknowledged the wrong count');
  const fill = JSON.stringify(Array.from({ length: 10_000 }, (_, i) => event(i)));
  for (let n = 0; n < READ_STREAM_EVENTS; n += 10_000) {
    await expectStatus(`${es.url}/streams/bench-read`, 'POST', fill, 201);
  }
  const page = JSON.parse(
    await expectStatus(`${es.url}/streams/bench-read?from=5000&limit=${PAGE}`, 'GET', undefined, 200),
  ) as {
    events: unknown[];
  };
  if (page.events.length !== PAGE) throw new Error(`a read page held ${page.events.length} events`);
  closeHttp();

  // 1. Single-event append vs the hello world ----------------------------------------------------------
  console.log('single-event append (POST, one event per request)');
  const singleScript = staticRequestScript('POST', '/streams/bench-single', ONE);
  const helloRuns: WrkResult[] = [];
  const singleRuns: WrkResult[] = [];
  await warm(hello.url, singleScript);
  await warm(es.url, singleScript);
  for (let r = 0; r < ROUNDS; r++) {
    helloRuns.push(await load('hello world', hello.url, singleScript));
    singleRuns.push(await load('event store', es.url, singleScript));
  }
  const HELLO = 'node:http hello world, same POST (limit)';
  const SINGLE = 'lockfree-eventstore POST one event';
  const single: Section = {
    title: `Single-event append, wrk -t1 -c${CONNECTIONS} (requests/s)`,
    unit: 'request',
    timeLabel: '1 ÷ rate',
    baseline: HELLO,
    rows: [pooledRow(HELLO, helloRuns, 1), pooledRow(SINGLE, singleRuns, 1)],
  };
  sections.push(single);
  printSection(single);
  targets.push(target(single, SINGLE, HELLO, 0.6));
  const p = (runs: WrkResult[]) =>
    `p50 ${(Math.max(...runs.map((r) => r.p50Us)) / 1000).toFixed(2)} ms, p99 ${(Math.max(...runs.map((r) => r.p99Us)) / 1000).toFixed(2)} ms`;
  notes.push(
    `Single-event append latency under ${CONNECTIONS} connections (worst round): ${p(singleRuns)}; hello world: ${p(helloRuns)}.`,
  );
  await hello.stop();

  // 2. 100-event batches vs Redis XADD -------------------------------------------------------------------
  console.log(`\n${BATCH}-event batch append (POST of a JSON array)`);
  const batchScript = staticRequestScript('POST', '/streams/bench-batch', HUNDRED);
  const batchRuns: WrkResult[] = [];
  await warm(es.url, batchScript);
  for (let r = 0; r < ROUNDS; r++) batchRuns.push(await load('event store batch', es.url, batchScript));

  // 3. Reads of pages of 1000 -----------------------------------------------------------------------------
  console.log(`\nreads (GET pages of ${PAGE})`);
  const pages = READ_STREAM_EVENTS / PAGE - 1;
  const readScript = `
local i = 0
request = function()
  i = (i + 37) % ${pages}
  return wrk.format("GET", "/streams/bench-read?from=" .. (i * ${PAGE}) .. "&limit=${PAGE}")
end`;
  const readRuns: WrkResult[] = [];
  await warm(es.url, readScript);
  for (let r = 0; r < ROUNDS; r++) readRuns.push(await load('event store read', es.url, readScript));
  await es.stop();

  // Redis -------------------------------------------------------------------------------------------------
  console.log('\nRedis 7 (redis-benchmark)');
  const redis = await startRedis();
  stops.push(redis.stop);
  const xadd = ['XADD', 'evs', 'MAXLEN', '~', '1000000', '*', 'ts', '1', 'v', '1', 'k', '1'];
  const p1: number[] = [];
  const p16: number[] = [];
  const xrange: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    p1.push(redisBenchmark(redis.port, ['-n', String(REDIS_N), '-c', '50', '-P', '1', ...xadd]));
    p16.push(redisBenchmark(redis.port, ['-n', String(REDIS_N), '-c', '50', '-P', '16', ...xadd]));
    xrange.push(
      redisBenchmark(redis.port, [
        '-n',
        String(REDIS_READ_N),
        '-c',
        '50',
        'XRANGE',
        'evs',
        '-',
        '+',
        'COUNT',
        String(PAGE),
      ]),
    );
    console.log(
      `  XADD P=1 ${formatRate(p1[r]!)}/s, P=16 ${formatRate(p16[r]!)}/s, XRANGE COUNT ${PAGE} ${formatRate(xrange[r]!)} req/s`,
    );
  }
  await redis.stop();

  const BATCHROW = `lockfree-eventstore POST ${BATCH}-event array`;
  const RP16 = 'Redis XADD, pipelined 16';
  const batch: Section = {
    title: `Batch append (events/s; the event store: ${BATCH} events per request)`,
    unit: 'event',
    timeLabel: '1 ÷ rate',
    baseline: RP16,
    rows: [
      pooledRow(BATCHROW, batchRuns, BATCH),
      rateRow(RP16, p16, 1, REDIS_N * ROUNDS),
      rateRow('Redis XADD, unpipelined', p1, 1, REDIS_N * ROUNDS),
    ],
  };
  sections.push(batch);
  printSection(batch);
  targets.push(target(batch, BATCHROW, RP16, 2));
  const batchRate = batch.rows[0]!.opsPerSec;
  notes.push(
    `Absolute target "batch append ≥ 1 M events/s": ${formatRate(batchRate)} events/s ` +
      `(${SMOKE ? 'smoke run: not judged' : batchRate >= BATCH_EVENTS_PER_S_GOAL ? 'reached' : 'missed'}).`,
  );

  const READROW = `lockfree-eventstore GET ?limit=${PAGE}`;
  const RXR = `Redis XRANGE COUNT ${PAGE}`;
  const read: Section = {
    title: `Reads of pages of ${PAGE} (events/s)`,
    unit: 'event',
    timeLabel: '1 ÷ rate',
    baseline: RXR,
    rows: [pooledRow(READROW, readRuns, PAGE), rateRow(RXR, xrange, PAGE, REDIS_READ_N * ROUNDS)],
  };
  sections.push(read);
  printSection(read);

  // 4. The HTTP layer: node:http vs fastify, same handler -----------------------------------------------
  console.log('\nHTTP layer: the same append handler on node:http and fastify 5');
  const nodeRuns: WrkResult[] = [];
  const fastifyRuns: WrkResult[] = [];
  const harnessScript = staticRequestScript('POST', '/streams/harness', ONE);
  const nodeH = await startHarness('node');
  stops.push(nodeH.stop);
  const fastifyH = await startHarness('fastify');
  stops.push(fastifyH.stop);
  for (const h of [nodeH, fastifyH]) {
    const reply = JSON.parse(await expectStatus(`${h.url}/streams/harness`, 'POST', ONE, 201)) as {
      count: number;
    };
    if (reply.count !== 1) throw new Error('harness append acknowledged the wrong count');
  }
  closeHttp();
  await warm(nodeH.url, harnessScript);
  await warm(fastifyH.url, harnessScript);
  for (let r = 0; r < ROUNDS; r++) {
    nodeRuns.push(await load('node:http handler', nodeH.url, harnessScript));
    fastifyRuns.push(await load('fastify handler', fastifyH.url, harnessScript));
  }
  const NODEH = 'append handler on node:http';
  const layer: Section = {
    title: 'HTTP layer: the same single-event append handler (standalone harness, no journal; requests/s)',
    unit: 'request',
    timeLabel: '1 ÷ rate',
    baseline: NODEH,
    rows: [pooledRow(NODEH, nodeRuns, 1), pooledRow('append handler on fastify 5', fastifyRuns, 1)],
  };
  sections.push(layer);
  printSection(layer);
} finally {
  closeHttp();
  for (const stop of stops.reverse()) await stop();
}

for (const n of notes) console.log(`\n${n}`);
if (SMOKE) console.log('\nBENCH_SMOKE=1: 1 s runs, results not written');
else
  writeResults({
    name: 'server-append',
    title: 'Service: appends and reads over HTTP',
    method,
    peers,
    machine,
    sections,
    targets,
    notes,
  });
