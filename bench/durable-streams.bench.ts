// The Durable Streams endpoint against the protocol's reference server (@durable-streams/server
// 0.3.7): appends of 1 KB JSON messages to one application/json stream over 50 connections (ours
// with its default journal, fsync everysec, vs the reference in memory; ours with --fsync always vs
// the reference file-backed, LMDB with an fsync per append), and catch-up reads of a whole stream
// (MB/s). Every server, wrk and the reader are separate processes on 127.0.0.1.
// LFES_BENCH_SMOKE=1: 1 s runs, a small stream, no results file.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { header, type Machine } from './lib/machine.ts';
import { printSection } from './lib/markdown.ts';
import { type Section, type Target, target, writeResults } from './lib/results.ts';
import type { Row } from './lib/run-tinybench.ts';
import {
  closeHttp,
  hasCommand,
  httpCall,
  pooledRow,
  serverEntry,
  startEventStore,
  startProcess,
  staticRequestScript,
  type WrkResult,
  wrk,
  wrkRound,
} from './lib/service.ts';

const SMOKE = process.env.LFES_BENCH_SMOKE === '1';
const ROUNDS = SMOKE ? 1 : 2;
const SECONDS = SMOKE ? 1 : 5;
const CONNECTIONS = 50;
const READ_MESSAGES = SMOKE ? 2_000 : 20_000;
const READERS = 4;
const PATH = '/v1/stream/bench';

if (!hasCommand('wrk')) {
  console.error('wrk is not installed (Debian: apt-get install -y wrk)');
  process.exit(2);
}

/** A JSON object of exactly 1,024 bytes. */
function message(n: number): string {
  const head = `{"id":"m-${n}","payload":"`;
  return `${head}${'x'.repeat(1024 - head.length - 2)}"}`;
}
const MESSAGE = message(1);
if (Buffer.byteLength(MESSAGE) !== 1024) throw new Error('the message is not 1 KB');

const method =
  `wrk 4 (-t1 -c${CONNECTIONS}, an untimed 1 s warm-up, then ${ROUNDS} rounds of ${SECONDS} s per peer, peers ` +
  'alternating round by round; rate = all requests ÷ all time) POSTing one 1,024-byte JSON object per request ' +
  `to one application/json stream (\`PUT ${PATH}\` first), and a Node catch-up reader (${READERS} loops reading ` +
  `the whole stream of ${READ_MESSAGES.toLocaleString('en')} such messages from offset -1, following ` +
  'Stream-Next-Offset until Stream-Up-To-Date; MB/s = bytes received ÷ time), each a separate process on ' +
  `127.0.0.1. The event store is \`${serverEntry().label} --port 0 --data-dir <fresh temp dir>\` ` +
  '(journal before every acknowledgement, fsync everysec, or --fsync always); the reference is ' +
  '`DurableStreamTestServer` of @durable-streams/server 0.3.7 in its own Node process, in memory or with ' +
  'a data directory (LMDB, fsync per append). The load generators share the 2 cores with the servers.';
const peers = [
  '@durable-streams/server 0.3.7 (the protocol reference server) in memory',
  '@durable-streams/server 0.3.7 file-backed (LMDB, an fsync per append)',
];
const machine: Machine = header('Durable Streams endpoint vs the reference server', method, peers);

function load(label: string, url: string, script: string): Promise<WrkResult> {
  return wrkRound(label, url, script, { connections: CONNECTIONS, durationS: SECONDS, unit: 'appends' });
}

/** The reference server in its own process: in memory, or file-backed in a fresh directory. */
async function startReference(mode: 'memory' | 'file'): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'lfes-bench-ds-ref-'));
  const proc = await startProcess(
    process.execPath,
    ['--import', 'tsx', 'bench/server/durable-streams-reference.ts', mode, dir],
    /reference listening on (http:\/\/\S+)/,
  );
  return {
    url: proc.match[1]!,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates the JSON stream and checks an append and a read answer as the protocol says. */
async function prepare(url: string, name: string): Promise<void> {
  const put = await httpCall(`${url}/v1/stream/${name}`, 'PUT', undefined, {
    'content-type': 'application/json',
  });
  if (put.status !== 201) throw new Error(`PUT ${url}: ${put.status} ${put.text.slice(0, 200)}`);
  const post = await httpCall(`${url}/v1/stream/${name}`, 'POST', MESSAGE, {
    'content-type': 'application/json',
  });
  if (post.status !== 204) throw new Error(`POST ${url}: ${post.status} ${post.text.slice(0, 200)}`);
  const get = await httpCall(`${url}/v1/stream/${name}?offset=-1`, 'GET');
  if (get.status !== 200 || JSON.stringify(JSON.parse(get.text)) !== `[${MESSAGE}]`) {
    throw new Error(`GET ${url}: ${get.status} ${get.text.slice(0, 200)}`);
  }
}

/** Appends `count` messages to the stream (batches of 1,000: a top-level array is split into messages). */
async function fill(url: string, name: string, count: number): Promise<void> {
  for (let n = 0; n < count; n += 1000) {
    const batch = `[${Array.from({ length: Math.min(1000, count - n) }, (_, i) => message(n + i)).join(',')}]`;
    const r = await httpCall(`${url}/v1/stream/${name}`, 'POST', batch, {
      'content-type': 'application/json',
    });
    if (r.status !== 204) throw new Error(`fill ${url}: ${r.status} ${r.text.slice(0, 200)}`);
  }
}

/** The catch-up reader in its own process; returns MB/s. */
async function readRate(label: string, url: string): Promise<{ mbPerS: number; reads: number }> {
  const proc = await startProcess(
    process.execPath,
    ['--import', 'tsx', 'bench/server/catch-up-reader.ts', url, String(SECONDS), String(READERS)],
    /READER_JSON (\{.*\})/,
    { timeoutMs: 120_000 },
  );
  const r = JSON.parse(proc.match[1]!) as { bytes: number; reads: number; seconds: number };
  await proc.stop();
  const mbPerS = r.bytes / 1e6 / r.seconds;
  console.log(`  ${label}: ${mbPerS.toFixed(1)} MB/s (${r.reads} whole-stream reads)`);
  if (r.reads === 0) throw new Error(`${label}: no complete read`);
  return { mbPerS, reads: r.reads };
}

const sections: Section[] = [];
const targets: Target[] = [];
const notes: string[] = [];
const stops: (() => Promise<void>)[] = [];
const script = staticRequestScript('POST', PATH, MESSAGE);

async function appendSection(
  title: string,
  ours: { url: string },
  reference: { url: string },
  oursName: string,
  refName: string,
  goal: number,
): Promise<void> {
  await prepare(ours.url, 'bench');
  await prepare(reference.url, 'bench');
  closeHttp();
  await wrk(ours.url, script, { connections: CONNECTIONS, durationS: 1 });
  await wrk(reference.url, script, { connections: CONNECTIONS, durationS: 1 });
  const oursRuns: WrkResult[] = [];
  const refRuns: WrkResult[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    refRuns.push(await load(refName, reference.url, script));
    oursRuns.push(await load(oursName, ours.url, script));
  }
  const section: Section = {
    title,
    unit: 'append',
    timeLabel: '1 ÷ rate',
    baseline: refName,
    rows: [pooledRow(refName, refRuns), pooledRow(oursName, oursRuns)],
  };
  sections.push(section);
  printSection(section);
  targets.push(target(section, oursName, refName, goal));
  const worst = (runs: WrkResult[]) =>
    `p50 ${(Math.max(...runs.map((r) => r.p50Us)) / 1000).toFixed(2)} ms, p99 ${(Math.max(...runs.map((r) => r.p99Us)) / 1000).toFixed(2)} ms`;
  notes.push(`${title}: latency (worst round) ${oursName} ${worst(oursRuns)}; ${refName} ${worst(refRuns)}.`);
}

try {
  // 1. Ours (fsync everysec) vs the reference in memory ---------------------------------------------------
  console.log('appends of 1 KB JSON messages: journal everysec vs the reference in memory');
  const ours = await startEventStore();
  stops.push(ours.stop);
  const memory = await startReference('memory');
  stops.push(memory.stop);
  await appendSection(
    `Appends of 1 KB JSON messages, wrk -t1 -c${CONNECTIONS} (appends/s)`,
    ours,
    memory,
    'lockfree-eventstore, journal fsync everysec',
    'reference server, in memory',
    1.5,
  );

  // 3. Catch-up reads --------------------------------------------------------------------------------------
  console.log(`\ncatch-up reads of ${READ_MESSAGES.toLocaleString('en')} messages`);
  await prepare(ours.url, 'read');
  await prepare(memory.url, 'read');
  await fill(ours.url, 'read', READ_MESSAGES - 1);
  await fill(memory.url, 'read', READ_MESSAGES - 1);
  closeHttp();
  const READ_REF = 'reference server, in memory';
  const READ_OURS = 'lockfree-eventstore';
  const refRead = await readRate(READ_REF, `${memory.url}/v1/stream/read`);
  const oursRead = await readRate(READ_OURS, `${ours.url}/v1/stream/read`);
  const mb = (r: { mbPerS: number; reads: number }, name: string): Row => ({
    name,
    opsPerSec: r.mbPerS,
    medianNs: 1e9 / r.mbPerS,
    rmePct: 0,
    samples: r.reads,
  });
  const read: Section = {
    title: `Catch-up reads of a whole stream, ${READERS} readers (MB/s)`,
    unit: 'MB',
    timeLabel: '1 ÷ rate',
    baseline: READ_REF,
    rows: [mb(refRead, READ_REF), mb(oursRead, READ_OURS)],
  };
  sections.push(read);
  printSection(read);
  await memory.stop();
  await ours.stop();

  // 2. Ours with --fsync always vs the reference file-backed ----------------------------------------------
  console.log('\nappends of 1 KB JSON messages: --fsync always vs the reference file-backed');
  const always = await startEventStore(['--fsync', 'always']);
  stops.push(always.stop);
  const file = await startReference('file');
  stops.push(file.stop);
  await appendSection(
    `Durable appends of 1 KB JSON messages, wrk -t1 -c${CONNECTIONS} (appends/s)`,
    always,
    file,
    'lockfree-eventstore, --fsync always',
    'reference server, file-backed',
    20,
  );
} finally {
  closeHttp();
  for (const stop of stops.reverse()) await stop();
}

for (const n of notes) console.log(`\n${n}`);
if (SMOKE) console.log('\nBENCH_SMOKE=1: 1 s runs, results not written');
else
  writeResults({
    name: 'durable-streams',
    title: 'Durable Streams endpoint vs the reference server',
    method,
    peers,
    machine,
    sections,
    targets,
    notes,
  });
