// Append latency with the snapshotter running, and with the delta journal in each sync policy, against
// the same store with snapshots off; then the acknowledged latency (append + await flushJournal) per
// policy and group commit with concurrent producers. Appends are timed with process.hrtime.bigint()
// in fixed batches of 64 single tryAppend calls, inside a producer loop that yields to the event loop,
// so the snapshotter's work interleaves with it. Files go to a temporary directory, removed at the end. LFES_BENCH_SMOKE=1: tiny.

import { mkdtempSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BinarySnapshotSerializer,
  EventStore,
  FileSystemSnapshotStore,
  type JournalSyncPolicy,
  type SnapshotOptions,
  type Snapshotter,
} from '../src/index.ts';
import { LatencyRecorder, percentileRow } from './lib/latency.ts';
import { header } from './lib/machine.ts';
import { formatNs, formatRate, printSection } from './lib/markdown.ts';
import { latencyTarget, type Section, writeResults } from './lib/results.ts';
import { type Row, settleHeap } from './lib/run-tinybench.ts';

const SMOKE = process.env.LFES_BENCH_SMOKE === '1';
const CAPACITY = SMOKE ? 25_600 : 200_000; // multiples of BATCH
const PARTITIONS = 4;
const ROUNDS = SMOKE ? 2 : 4;
const ROUND_MS = SMOKE ? 200 : 1_500;
// The clock ticks in ~10 ns steps here, a third of one append: one timed call could not show a 2 %
// change. A timed batch of 64 calls resolves ~0.16 ns per append.
const BATCH = 64;
const YIELD_EVERY = 4 * BATCH;
const MIN_EVENTS = SMOKE ? 5_000 : 50_000;
const ACK_ROUNDS = SMOKE ? 1 : 3;
const ACK_MS = SMOKE ? 150 : 1_000;
const GROUP_PRODUCERS = [1, 4, 16, 64];

interface Reading {
  timestamp: number;
  value: number;
  key: string;
}

// Pre-built and never mutated (a snapshot capture holds references): twice the capacity, reused in turn.
const POOL = 2 * CAPACITY; // a multiple of BATCH
const pool: Reading[] = Array.from({ length: POOL }, (_, n) => ({
  timestamp: 1_700_000_000_000 + n,
  value: (n * 7919) % 1000,
  key: `sensor-${n % 64}`,
}));

const root = mkdtempSync(join(tmpdir(), 'lfes-bench-latency-'));
let dirs = 0;

/** Counts the snapshotter's warnings and errors (printed once at the end, and kept in the notes). */
const logged = new Map<string, number>();
const countingLogger = {
  info() {},
  warn(_obj: object, msg?: string) {
    logged.set(`warn: ${msg ?? ''}`, (logged.get(`warn: ${msg ?? ''}`) ?? 0) + 1);
  },
  error(obj: object, msg?: string) {
    logged.set(`error: ${msg ?? ''}`, (logged.get(`error: ${msg ?? ''}`) ?? 0) + 1);
    console.error(msg, obj);
  },
};

function snapshotOptions(journal: JournalSyncPolicy | undefined, busy: boolean): SnapshotOptions {
  return {
    // busy: a round every second at the latest and whenever 50,000 events were appended (checked every
    // 250 ms), so snapshots are being encoded and written for most of each measured round.
    intervalMs: busy ? 1_000 : 120_000,
    minEventsBetweenSnapshots: MIN_EVENTS,
    snapshotsToKeep: 2,
    logger: countingLogger,
    ...(journal === undefined ? {} : { journal: { enabled: true, syncPolicy: journal } }),
  };
}

function snapshotted(
  capacity: number,
  journal: JournalSyncPolicy | undefined,
  busy: boolean,
): { store: EventStore<Reading>; snapshotter: Snapshotter<Reading> } {
  const store = new EventStore<Reading>({ capacity, partitions: PARTITIONS });
  const snapshotter = store.configureSnapshots(
    snapshotOptions(journal, busy),
    new BinarySnapshotSerializer<Reading>({ compress: true }),
    new FileSystemSnapshotStore(join(root, String(++dirs)), { fsyncDirectory: true }),
  );
  return { store, snapshotter };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const now = (): number => performance.now();

// Part 1: per-append latency ------------------------------------------------------------------------

interface Config {
  name: string;
  store: EventStore<Reading> | undefined; // undefined: the timer floor (nothing between the two reads)
  snapshotter: Snapshotter<Reading> | undefined;
  journal: boolean;
  next: number;
  appends: LatencyRecorder;
  stalls: LatencyRecorder;
  rounds: LatencyRecorder[];
  appended: number;
  producerMs: number;
  savesBefore: number;
  saves: number;
}

const OFF = 'snapshots off';
const ON = 'snapshots running';
const J_NO = "snapshots + journal 'no'";
const J_SEC = "snapshots + journal 'everysec'";
const J_ALWAYS = "snapshots + journal 'always'";
const FLOOR = 'timer only (floor)';

function config(name: string, journal: JournalSyncPolicy | undefined | 'off' | 'floor'): Config {
  let store: EventStore<Reading> | undefined;
  let snapshotter: Snapshotter<Reading> | undefined;
  if (journal === 'off') store = new EventStore<Reading>({ capacity: CAPACITY, partitions: PARTITIONS });
  else if (journal !== 'floor') ({ store, snapshotter } = snapshotted(CAPACITY, journal, true));
  return {
    name,
    store,
    snapshotter,
    journal: journal === 'always' || journal === 'everysec' || journal === 'no',
    next: 0,
    appends: new LatencyRecorder(),
    stalls: new LatencyRecorder(),
    rounds: [],
    appended: 0,
    producerMs: 0,
    savesBefore: 0,
    saves: 0,
  };
}

const configs: Config[] = [
  config(OFF, 'off'),
  config(ON, undefined),
  config(J_NO, 'no'),
  config(J_SEC, 'everysec'),
  config(J_ALWAYS, 'always'),
  config(FLOOR, 'floor'),
];

const successes = (c: Config): number =>
  c.snapshotter?.metrics().partitions.reduce((n, p) => n + p.successes, 0) ?? 0;

/**
 * The producer: appends from the pool for `ms` of wall time, timing each batch of BATCH single
 * tryAppend calls, and yields to the event loop (setImmediate) every YIELD_EVERY appends; the time a
 * yield takes is a "stall".
 */
async function produce(c: Config, ms: number, appends: LatencyRecorder): Promise<void> {
  const store = c.store;
  const hr = process.hrtime;
  let i = c.next;
  let n = 0;
  const start = now();
  const end = start + ms;
  while (now() < end) {
    for (let b = 0; b < YIELD_EVERY; b += BATCH) {
      // POOL is a multiple of BATCH, so a batch never wraps.
      if (store === undefined) {
        const t0 = hr.bigint();
        const t1 = hr.bigint();
        appends.record(Number(t1 - t0));
      } else {
        const t0 = hr.bigint();
        for (let k = i; k < i + BATCH; k++) store.tryAppend(pool[k]!);
        const t1 = hr.bigint();
        appends.record(Number(t1 - t0));
      }
      i = i + BATCH === POOL ? 0 : i + BATCH;
    }
    n += YIELD_EVERY;
    const y0 = hr.bigint();
    await tick();
    c.stalls.record(Number(hr.bigint() - y0));
  }
  c.producerMs += now() - start;
  c.appended += n;
  c.next = i;
}

/** Untimed: lets in-flight saves finish and snapshots the rest, so one config's work never spills into the next. */
async function quiesce(c: Config): Promise<void> {
  if (c.snapshotter === undefined) return;
  if (c.journal) await c.snapshotter.flushJournal();
  await c.snapshotter.snapshotNow();
}

async function latencyRounds(): Promise<void> {
  // Fill every store to capacity (every measured append evicts), write a first snapshot, warm up.
  for (const c of configs) {
    if (c.store !== undefined) {
      for (let k = 0; k < CAPACITY; k++) c.store.tryAppend(pool[k]!);
      c.next = CAPACITY;
    }
    c.snapshotter?.start();
    await quiesce(c);
    await produce(c, SMOKE ? 50 : 300, new LatencyRecorder());
    await quiesce(c);
    c.stalls = new LatencyRecorder();
    c.appended = 0;
    c.producerMs = 0;
  }
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the starting config each round, so no config always follows the same neighbour.
    for (let k = 0; k < configs.length; k++) {
      const c = configs[(round + k) % configs.length]!;
      settleHeap();
      const rec = new LatencyRecorder();
      const before = successes(c);
      await produce(c, ROUND_MS, rec);
      c.saves += successes(c) - before;
      await quiesce(c);
      c.rounds.push(rec);
      c.appends.merge(rec);
    }
    console.log(`round ${round + 1}/${ROUNDS} done`);
  }
}

// Part 2: acknowledged appends ------------------------------------------------------------------------

interface AckRun {
  name: string;
  pooled: LatencyRecorder;
  rounds: LatencyRecorder[];
  /** One acknowledged append, measured; resolves when acknowledged. */
  once: (e: Reading) => Promise<void>;
  close: () => Promise<void>;
}

const A_NO = "tryAppend + await flushJournal(), 'no'";
const A_SEC = "tryAppend + await flushJournal(), 'everysec'";
const A_ALWAYS = "tryAppend + await flushJournal(), 'always'";
const A_WRITE = 'fs write of the record (limit of no/everysec)';
const A_SYNC = 'fs write + fsync of the record (limit of always)';
const RECORD_BYTES = 80; // about one framed journal record of these events

function journalRun(name: string, policy: JournalSyncPolicy): AckRun {
  const { store, snapshotter } = snapshotted(10_000, policy, false);
  snapshotter.start();
  return {
    name,
    pooled: new LatencyRecorder(),
    rounds: [],
    once: (e) => {
      store.tryAppend(e);
      return snapshotter.flushJournal();
    },
    close: () => snapshotter.stop(),
  };
}

async function fileRun(name: string, sync: boolean): Promise<AckRun> {
  const fh: FileHandle = await open(join(root, `peer-${sync ? 'sync' : 'write'}.log`), 'wx');
  const record = Buffer.alloc(RECORD_BYTES, 1);
  let position = 0;
  return {
    name,
    pooled: new LatencyRecorder(),
    rounds: [],
    once: async () => {
      await fh.write(record, 0, RECORD_BYTES, position);
      position += RECORD_BYTES;
      if (sync) await fh.sync();
    },
    close: () => fh.close(),
  };
}

async function ackLoop(run: AckRun, ms: number, rec: LatencyRecorder, start: number): Promise<number> {
  let i = start;
  let n = 0;
  const end = now() + ms;
  while (now() < end) {
    const e = pool[i]!;
    i = i + 1 === POOL ? 0 : i + 1;
    const t0 = process.hrtime.bigint();
    await run.once(e);
    rec.record(Number(process.hrtime.bigint() - t0));
    n++;
  }
  return n;
}

async function ackRounds(runs: AckRun[]): Promise<void> {
  for (const r of runs) await ackLoop(r, SMOKE ? 30 : 200, new LatencyRecorder(), 0); // warm-up
  for (let round = 0; round < ACK_ROUNDS; round++) {
    for (const r of runs) {
      settleHeap();
      const rec = new LatencyRecorder();
      await ackLoop(r, ACK_MS, rec, round * 1000);
      r.rounds.push(rec);
      r.pooled.merge(rec);
    }
  }
}

interface GroupResult {
  producers: number;
  appendsPerSec: number[];
  acks: LatencyRecorder;
}

/** N producers, each appending and awaiting its acknowledgement in a loop, on one 'always' journal. */
async function groupCommit(): Promise<GroupResult[]> {
  const { store, snapshotter } = snapshotted(10_000, 'always', false);
  snapshotter.start();
  const results: GroupResult[] = GROUP_PRODUCERS.map((producers) => ({
    producers,
    appendsPerSec: [],
    acks: new LatencyRecorder(),
  }));
  for (let round = 0; round < ACK_ROUNDS; round++) {
    for (const g of results) {
      settleHeap();
      let total = 0;
      const start = now();
      const end = start + ACK_MS;
      await Promise.all(
        Array.from({ length: g.producers }, async (_, w) => {
          let i = (w * 997) % POOL;
          while (now() < end) {
            const t0 = process.hrtime.bigint();
            store.tryAppend(pool[i]!);
            await snapshotter.flushJournal();
            g.acks.record(Number(process.hrtime.bigint() - t0));
            i = i + 1 === POOL ? 0 : i + 1;
            total++;
          }
        }),
      );
      g.appendsPerSec.push((total * 1000) / (now() - start));
    }
  }
  await snapshotter.stop();
  return results;
}

// Run -------------------------------------------------------------------------------------------------

const method =
  `EventStore<{ timestamp, value, key }> (capacity ${CAPACITY.toLocaleString('en')}, ${PARTITIONS} partitions, ` +
  'round-robin, full so every append evicts), events pre-built and never mutated. Latency: one producer ' +
  `times each batch of ${BATCH} single tryAppend calls with process.hrtime.bigint() (the clock steps ~10 ns, a ` +
  'third of one append, so a single call cannot resolve 2 %) and yields (setImmediate) every ' +
  `${YIELD_EVERY} ` +
  `appends, so the snapshotter's encode slices, gzip and file I/O interleave with it; ${ROUNDS} rounds of ` +
  `${ROUND_MS} ms per configuration, configurations in turn (starting config rotated each round), ` +
  'samples pooled, exact percentiles; between rounds (untimed) saves in flight finish and a full GC runs. ' +
  `Snapshots: BinarySnapshotSerializer({ compress: true }), FileSystemSnapshotStore (fsync, directory fsync) ` +
  `on ${tmpdir()} (ext4 here), intervalMs 1000, minEventsBetweenSnapshots ${MIN_EVENTS.toLocaleString('en')} ` +
  '(so saves run through most of each round). The budget compares times net of the timer floor ' +
  '(the same loop with nothing between the two clock reads). Acknowledged: one producer appends and ' +
  `awaits flushJournal() before the next append, ${ACK_ROUNDS} × ${ACK_MS} ms per policy (triggers ` +
  'at their defaults, 120 s / 50,000). Group commit: N such producers on one journal.';
const peers = [
  'the same store with snapshots off (latency budget peer)',
  `a bare fs write (and write + fsync) of ${RECORD_BYTES} bytes per acknowledgement (the limit of a journal ack)`,
];
const m = header('Snapshot and journal append latency', method, peers);

try {
  await latencyRounds();

  const floor = configs.find((c) => c.name === FLOOR)!;
  const floorNs = floor.appends.percentile(0.5);
  const measured = configs.filter((c) => c.name !== FLOOR);
  const rowsAt = (q: number, offset: number): Row[] =>
    measured.map((c) =>
      percentileRow(c.name, c.appends, q, { offsetNs: offset, opsPerSample: BATCH, rounds: c.rounds }),
    );
  const p50: Section = {
    title: `Per-append latency (batches of ${BATCH}), p50, net of the timer floor (${formatNs(floorNs)} per batch)`,
    unit: 'append',
    baseline: OFF,
    statistic: 'p50',
    rows: rowsAt(0.5, floorNs),
  };
  const p99: Section = {
    title: `Per-append latency (batches of ${BATCH}), p99, net of the timer floor`,
    unit: 'append',
    baseline: OFF,
    statistic: 'p99',
    rows: rowsAt(0.99, floorNs),
  };
  printSection(p50);
  printSection(p99);

  const f = (ns: number): string => formatNs(ns);
  const per = (c: Config, q: number): string => f(c.appends.percentile(q) / BATCH);
  const detail = [
    `| configuration | p50 | p99 | p99.9 | max batch of ${BATCH} | appends/s of producer time | stall at a yield p99 / max | saves done | batches |`,
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...configs.map(
      (c) =>
        `| ${c.name} | ${per(c, 0.5)} | ${per(c, 0.99)} | ${per(c, 0.999)} | ${f(c.appends.maxNs)} | ` +
        `${formatRate((c.appended * 1000) / c.producerMs)} | ${f(c.stalls.percentile(0.99))} / ${f(c.stalls.maxNs)} | ` +
        `${c.snapshotter === undefined ? '–' : c.saves} | ${formatRate(c.appends.count)} |`,
    ),
  ].join('\n');
  console.log(`\nPer-append times (batch time / ${BATCH}, timer included)\n\n${detail}`);

  console.log('\nacknowledged appends…');
  const ackRuns = [
    journalRun(A_NO, 'no'),
    journalRun(A_SEC, 'everysec'),
    journalRun(A_ALWAYS, 'always'),
    await fileRun(A_WRITE, false),
    await fileRun(A_SYNC, true),
  ];
  await ackRounds(ackRuns);
  for (const r of ackRuns) await r.close();
  const ackP50: Section = {
    title: 'Acknowledged append (append + await flushJournal), one producer, p50',
    unit: 'append',
    baseline: A_WRITE,
    statistic: 'p50',
    rows: ackRuns.map((r) => percentileRow(r.name, r.pooled, 0.5, { rounds: r.rounds })),
  };
  const ackP99: Section = {
    ...ackP50,
    title: 'Acknowledged append, one producer, p99',
    statistic: 'p99',
    rows: ackRuns.map((r) => percentileRow(r.name, r.pooled, 0.99, { rounds: r.rounds })),
  };
  printSection(ackP50);
  printSection(ackP99);

  console.log('\ngroup commit…');
  const groups = await groupCommit();
  const groupRows: Row[] = groups.map((g) => {
    const rates = [...g.appendsPerSec].sort((a, b) => a - b);
    const rate = rates[rates.length >> 1]!;
    return {
      name: `${g.producers} producer${g.producers === 1 ? '' : 's'} awaiting acks, 'always'`,
      opsPerSec: rate,
      medianNs: 1e9 / rate,
      rmePct: 0,
      samples: g.acks.count,
    };
  });
  const group: Section = {
    title: "Group commit: acknowledged appends/s, journal 'always' (median of rounds)",
    unit: 'append',
    baseline: groupRows[0]!.name,
    rows: groupRows,
  };
  printSection(group);
  const groupAcks = [
    '| producers | ack p50 | ack p99 | acks/s |',
    '|--:|--:|--:|--:|',
    ...groups.map(
      (g, k) =>
        `| ${g.producers} | ${f(g.acks.percentile(0.5))} | ${f(g.acks.percentile(0.99))} | ${formatRate(groupRows[k]!.opsPerSec)} |`,
    ),
  ].join('\n');
  console.log(`\n${groupAcks}\n`);

  const targets = [
    latencyTarget(p50, ON, OFF, 1.02, 'seed budget, net of timer'),
    latencyTarget(p99, ON, OFF, 1.02, 'seed budget, net of timer'),
  ];
  const on = configs.find((c) => c.name === ON)!;
  const off = configs.find((c) => c.name === OFF)!;
  const share = (on.appended / on.producerMs / (off.appended / off.producerMs)) * 100;
  const notes = [
    `**All configurations: time per append = time of a batch of ${BATCH} calls / ${BATCH}, timer included ` +
      `(floor ${formatNs(floorNs)} per batch at p50); max is the slowest whole batch**\n\n${detail}`,
    "A tryAppend is synchronous, so a save cannot interrupt one: the snapshotter's cost to a producer on " +
      'the same thread shows instead as waits at its yields (encode slices of ~8 ms) and as fewer appends ' +
      `per second of producer time: with snapshots running the producer made ${share.toFixed(0)} % of the appends ` +
      'it made with snapshots off. The journal encodes every event (JSON) and frames a record inside tryAppend, ' +
      'and takes the store off its default round-robin fast path.',
    `**Group commit, acknowledgement latency per producer**\n\n${groupAcks}`,
    `The machine is shared (2 vCPUs; other test suites may run at the same time); file I/O goes to ${tmpdir()}.`,
  ];
  if (logged.size > 0) {
    const lines = [...logged].map(([msg, n]) => `${msg} (${n}×)`).join('; ');
    console.log(`\nsnapshotter log lines: ${lines}`);
    notes.push(`Snapshotter log lines during the run: ${lines}.`);
  }
  if (SMOKE) console.log('\nBENCH_SMOKE=1: tiny sizes, results not written');
  else
    writeResults({
      name: 'snapshot-latency',
      title: 'Snapshot and journal append latency',
      method,
      peers,
      machine: m,
      sections: [p50, p99, ackP50, ackP99, group],
      targets,
      notes,
    });
} finally {
  for (const c of configs) await c.snapshotter?.stop();
  rmSync(root, { recursive: true, force: true });
}
