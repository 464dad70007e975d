// Server-side aggregation over a 1 M-event stream (`GET ?aggregate=true&field=valor`), latency p50 and
// p99, against what a Redis 7 user does without it: XRANGE the same 1 M entries (pages of 10,000)
// with ioredis and sum the field in the client. The event store server and redis-server each run in
// their own process on 127.0.0.1; this process is the client. Both are stopped at the end.
// LFES_BENCH_SMOKE=1: 20,000 events, few samples, no results file.

import { Redis } from 'ioredis';
import { LatencyRecorder, percentileRow } from './lib/latency.ts';
import { header } from './lib/machine.ts';
import { formatNs, printSection } from './lib/markdown.ts';
import { type Section, type Target, target, writeResults } from './lib/results.ts';
import { closeHttp, hasCommand, httpCall, serverEntry, startEventStore, startRedis } from './lib/service.ts';

const SMOKE = process.env.LFES_BENCH_SMOKE === '1';
const EVENTS = SMOKE ? 20_000 : 1_000_000;
const POST_BATCH = 10_000;
const REDIS_PAGE = 10_000;
const SERVER_SAMPLES = SMOKE ? 10 : 60;
const REDIS_SAMPLES = SMOKE ? 2 : 5;
const P50_LIMIT_MS = 20;
const GATEWAYS = 3;

if (!hasCommand('redis-server')) {
  console.error('redis-server is not installed (Debian: apt-get install -y redis-server)');
  process.exit(2);
}

const valor = (n: number): number => (n * 7919) % 1000;
let expectedSum = 0;
for (let n = 0; n < EVENTS; n++) expectedSum += valor(n);

const method =
  `One stream of ${EVENTS.toLocaleString('en')} events \`{ id, valor, gatewayId }\` (valor an integer 0–999) ` +
  `in the event store server (\`${serverEntry().label} --port 0` +
  ' --data-dir <fresh temp dir> ' +
  `--stream-capacity ${EVENTS}\`), loaded by POSTs of ${POST_BATCH.toLocaleString('en')}-event arrays; and the ` +
  "same entries in Redis 7 (redis-server --save '' --appendonly no; XADD evs * valor v gatewayId g via an " +
  'ioredis 5 pipeline). Timed from this client process on 127.0.0.1, one request at a time after 3 untimed ' +
  `warm-ups: GET /streams/{name}?aggregate=true&field=valor (${SERVER_SAMPLES} samples), and XRANGE of all ` +
  `entries in pages of ${REDIS_PAGE.toLocaleString('en')} with ioredis + summing valor in the client ` +
  `(${REDIS_SAMPLES} samples). Both answers (count and sum) are checked against the known total first. ` +
  "Client and server share the machine's 2 cores.";
const peers = [
  `Redis 7 XRANGE (pages of ${REDIS_PAGE.toLocaleString('en')}) of the same entries + client-side sum (ioredis 5)`,
];
const machine = header(`Service: aggregation over ${EVENTS.toLocaleString('en')} events`, method, peers);

const SERVER = 'lockfree-eventstore GET ?aggregate=true&field=valor';
const REDIS = 'Redis XRANGE all + client-side sum';
const serverLatency = new LatencyRecorder();
let firstQueryNs = 0;
let groupByP50Ns = 0;
const redisLatency = new LatencyRecorder();
const stops: (() => Promise<void>)[] = [];
let redisClient: Redis | undefined;

try {
  // The event store -------------------------------------------------------------------------------------
  const es = await startEventStore(['--stream-capacity', String(EVENTS)]);
  stops.push(es.stop);
  const stream = `${es.url}/streams/bench-aggregate`;
  for (let base = 0; base < EVENTS; base += POST_BATCH) {
    const events = [];
    for (let n = base; n < Math.min(EVENTS, base + POST_BATCH); n++) {
      events.push({ id: `o-${n}`, valor: valor(n), gatewayId: `gw-${n % GATEWAYS}` });
    }
    const r = await httpCall(stream, 'POST', JSON.stringify(events));
    if (r.status !== 201) throw new Error(`load: ${r.status} ${r.text.slice(0, 300)}`);
  }
  const aggregateUrl = `${stream}?aggregate=true&field=valor`;
  const aggregate = async (): Promise<void> => {
    const r = await httpCall(aggregateUrl);
    if (r.status !== 200) throw new Error(`aggregate: ${r.status} ${r.text.slice(0, 300)}`);
    const a = JSON.parse(r.text) as { count: number; sum: number };
    if (a.count !== EVENTS || a.sum !== expectedSum) {
      throw new Error(
        `aggregate answered count ${a.count}, sum ${a.sum}; expected ${EVENTS}, ${expectedSum}`,
      );
    }
  };
  // The first query of a field copies it into a typed column (once); later ones fold that column.
  const cold = process.hrtime.bigint();
  await aggregate();
  firstQueryNs = Number(process.hrtime.bigint() - cold);
  for (let i = 0; i < 2; i++) await aggregate();
  for (let i = 0; i < SERVER_SAMPLES; i++) {
    const t = process.hrtime.bigint();
    await aggregate();
    serverLatency.record(Number(process.hrtime.bigint() - t));
  }
  const grouped = `${aggregateUrl}&groupBy=gatewayId`;
  const groupedNs: number[] = [];
  for (let i = 0; i < SERVER_SAMPLES / 2; i++) {
    const t = process.hrtime.bigint();
    const r = await httpCall(grouped);
    groupedNs.push(Number(process.hrtime.bigint() - t));
    const g = JSON.parse(r.text) as { sum: number; groups: Record<string, { count: number }> };
    if (g.sum !== expectedSum || Object.keys(g.groups).length !== GATEWAYS) throw new Error('groupBy answer');
  }
  groupedNs.sort((a, b) => a - b);
  groupByP50Ns = groupedNs[groupedNs.length >> 1]!; // the first (cold: builds the key column) is included
  console.log(
    `server aggregate: first ${formatNs(firstQueryNs)}, p50 ${formatNs(serverLatency.percentile(0.5))}, ` +
      `p99 ${formatNs(serverLatency.percentile(0.99))}; groupBy=gatewayId p50 ${formatNs(groupByP50Ns)}`,
  );
  closeHttp();
  await es.stop();

  // Redis -----------------------------------------------------------------------------------------------
  const redis = await startRedis();
  stops.push(redis.stop);
  const client = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true });
  redisClient = client;
  await client.connect();
  for (let base = 0; base < EVENTS; base += POST_BATCH) {
    const pipe = client.pipeline();
    for (let n = base; n < Math.min(EVENTS, base + POST_BATCH); n++) {
      pipe.xadd('evs', '*', 'valor', String(valor(n)), 'gatewayId', `gw-${n % GATEWAYS}`);
    }
    await pipe.exec();
  }
  const rangeSum = async (): Promise<void> => {
    let count = 0;
    let sum = 0;
    let start = '-';
    for (;;) {
      const page = await client.xrange('evs', start, '+', 'COUNT', REDIS_PAGE);
      for (const [, fields] of page) {
        for (let f = 0; f < fields.length; f += 2) {
          if (fields[f] === 'valor') {
            sum += Number(fields[f + 1]);
            count++;
          }
        }
      }
      if (page.length < REDIS_PAGE) break;
      start = `(${page[page.length - 1]![0]}`;
    }
    if (count !== EVENTS || sum !== expectedSum) {
      throw new Error(
        `Redis XRANGE + sum gave count ${count}, sum ${sum}; expected ${EVENTS}, ${expectedSum}`,
      );
    }
  };
  await rangeSum(); // warm-up
  for (let i = 0; i < REDIS_SAMPLES; i++) {
    const t = process.hrtime.bigint();
    await rangeSum();
    redisLatency.record(Number(process.hrtime.bigint() - t));
  }
  console.log(
    `Redis XRANGE + sum: p50 ${formatNs(redisLatency.percentile(0.5))}, p99 ${formatNs(redisLatency.percentile(0.99))}`,
  );
} finally {
  closeHttp();
  redisClient?.disconnect();
  for (const stop of stops.reverse()) await stop();
}

const sections: Section[] = [];
for (const [stat, q] of [
  ['p50', 0.5],
  ['p99', 0.99],
] as const) {
  const s: Section = {
    title: `Sum of valor over ${EVENTS.toLocaleString('en')} events, ${stat} latency of one whole query`,
    unit: 'query',
    baseline: REDIS,
    statistic: stat,
    rows: [percentileRow(SERVER, serverLatency, q), percentileRow(REDIS, redisLatency, q)],
  };
  sections.push(s);
  printSection(s);
}
const targets: Target[] = [target(sections[0]!, SERVER, REDIS, 50, 'p50')];
const p50ms = serverLatency.percentile(0.5) / 1e6;
const notes = [
  `Absolute target "server aggregate over 1 M events p50 ≤ ${P50_LIMIT_MS} ms": ${formatNs(p50ms * 1e6)} ` +
    `(${SMOKE ? 'smoke size: not judged' : p50ms <= P50_LIMIT_MS ? 'reached' : 'missed'}); p99 ` +
    `${formatNs(serverLatency.percentile(0.99))} over ${SERVER_SAMPLES} queries. Redis p99 is the worst of ${REDIS_SAMPLES}.`,
  `The first aggregation of \`valor\` took ${formatNs(firstQueryNs)}: it copies the field of every held ` +
    'event into a typed column, which later queries fold (and extend with new events only). With ' +
    `\`&groupBy=gatewayId\` (${GATEWAYS} keys): p50 ${formatNs(groupByP50Ns)} over ${SERVER_SAMPLES / 2} queries, ` +
    'the first of them building the key column.',
];
for (const n of notes) console.log(`\n${n}`);
if (SMOKE) console.log('\nBENCH_SMOKE=1: small stream, results not written');
else
  writeResults({
    name: 'server-aggregate',
    title: `Service: aggregation over ${EVENTS.toLocaleString('en')} events`,
    method,
    peers,
    machine,
    sections,
    targets,
    notes,
  });
