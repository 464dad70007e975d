// Console sample: a high-frequency temperature + humidity workload on an in-process EventStore with
// snapshots and the delta journal. Restores the data directory on start, prints a metrics line every
// second, and on SIGINT/SIGTERM (or --duration-ms) stops the producer, writes a final snapshot and
// prints the state it saved; the next start prints the same state line after its restore.

import { parseArgs } from 'node:util';
import { hashString, type JournalSyncPolicy } from 'lockfree-eventstore';
import { onStopSignals } from '../shared/stop-signals.ts';
import { fsyncOption, integerOption, runMain } from './cli-options.ts';
import {
  openSensorStore,
  SENSORS_DEFAULT_DATA_DIR,
  type SensorSummary,
  snapshotCounters,
  summarize,
} from './sensor-store.ts';
import { type NumberedReading, ReadingGenerator } from './workload.ts';

const USAGE = `Usage: npm run sample:sensors -- [options]
  --data-dir <dir>              snapshots and journal (default ${SENSORS_DEFAULT_DATA_DIR})
  --duration-ms <n>             stop after n ms (default: run until Ctrl-C / SIGTERM)
  --rate <n>                    readings per second, 0 = as fast as possible (default 20000)
  --devices <n>                 simulated devices (default 64)
  --partitions <n>              store partitions, fixed for a data directory (default 8)
  --capacity <n>                readings held in total (default 1000000)
  --snapshot-interval-ms <n>    snapshot time trigger (default 5000)
  --snapshot-every <n>          snapshot after this many readings (default 100000)
  --fsync <policy>              journal fsync: always | everysec | no (default everysec)`;

/** Largest batch appended (and journaled) in one step, so a catch-up never stalls the metrics line. */
const MAX_BATCH = 2_000;
/** Pacing tick: the rate is spread over ~100 small batches a second. */
const TICK_MS = 10;

interface Options {
  dataDir: string;
  durationMs: number | undefined;
  rate: number;
  devices: number;
  partitions: number;
  capacity: number;
  snapshotIntervalMs: number;
  snapshotEvery: number;
  fsync: JournalSyncPolicy;
}

function readOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      'duration-ms': { type: 'string' },
      rate: { type: 'string' },
      devices: { type: 'string' },
      partitions: { type: 'string' },
      capacity: { type: 'string' },
      'snapshot-interval-ms': { type: 'string' },
      'snapshot-every': { type: 'string' },
      fsync: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    process.exit(0);
  }
  const duration = values['duration-ms'];
  return {
    dataDir: values['data-dir'] ?? SENSORS_DEFAULT_DATA_DIR,
    durationMs: duration === undefined ? undefined : integerOption('--duration-ms', duration, 0, 0),
    rate: integerOption('--rate', values.rate, 20_000, 0),
    devices: integerOption('--devices', values.devices, 64, 1),
    partitions: integerOption('--partitions', values.partitions, 8, 1),
    capacity: integerOption('--capacity', values.capacity, 1_000_000, 1),
    snapshotIntervalMs: integerOption('--snapshot-interval-ms', values['snapshot-interval-ms'], 5_000, 0),
    snapshotEvery: integerOption('--snapshot-every', values['snapshot-every'], 100_000, 0),
    fsync: fsyncOption(values.fsync),
  };
}

/** The state line printed at exit and after a restore: equal lines mean equal held readings. */
function stateLine(s: SensorSummary): string {
  const { byDevice, ...totals } = s;
  // The per-device part is long; its hash still changes with any latest value or aggregate.
  return JSON.stringify({ ...totals, devicesHash: hashString(JSON.stringify(byDevice)) });
}

/** Which sequence numbers the store holds: a restore after a crash must hold a prefix, exactly once. */
function checkSequences(readings: readonly NumberedReading[]): {
  last: number;
  missing: number;
  duplicated: number;
} {
  let last = -1;
  for (const r of readings) if (r.seq > last) last = r.seq;
  const seen = new Uint8Array(last + 1);
  let duplicated = 0;
  for (const r of readings) {
    if (seen[r.seq] === 1) duplicated++;
    seen[r.seq] = 1;
  }
  return { last, missing: last + 1 - (readings.length - duplicated), duplicated };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function main(): Promise<number> {
  let options: Options;
  try {
    options = readOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { store, snapshotter, restoredPartitions } = await openSensorStore<NumberedReading>({
    dataDir: options.dataDir,
    partitions: options.partitions,
    capacity: options.capacity,
    snapshotIntervalMs: options.snapshotIntervalMs,
    minEventsBetweenSnapshots: options.snapshotEvery,
    fsync: options.fsync,
  });
  // The stop handlers are in place before the first line a supervisor (or a user) may act on.
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return; // a signal during the stop after --duration-ms: the stop is under way
    stopping = true;
    console.log(`[STOP] ${why}: stopping the producer and writing a final snapshot`);
  };
  onStopSignals({
    onStop: stop,
    onRepeat: (signal) => {
      console.error(`[STOP] ${signal} again: exiting now; the journal holds every acknowledged reading`);
      process.exit(1);
    },
  });
  console.log(`[BOOT] partitions restored from snapshot: ${restoredPartitions}`);
  const boot = summarize(store);
  const seqs = checkSequences(store.snapshot());
  console.log(
    `[BOOT] readings held: ${store.size}, journal records replayed: ${snapshotCounters(snapshotter).journalRecordsReplayed}, ` +
      `last seq: ${seqs.last}, missing: ${seqs.missing}, duplicated: ${seqs.duplicated}`,
  );
  console.log(`[STATE] ${stateLine(boot)}`);
  console.log(
    `[RUN] data dir ${options.dataDir}, ${options.devices} devices, ${options.partitions} partitions, ` +
      `rate ${options.rate === 0 ? 'unbounded' : `${options.rate}/s`}, fsync ${options.fsync}`,
  );

  const resume: Record<string, { temperature: number; humidity: number }> = {};
  for (const [id, d] of Object.entries(boot.byDevice)) resume[id] = d.latest;
  const generator = new ReadingGenerator(options.devices, seqs.last + 1, resume);

  let appended = 0;
  let ackedSeq = seqs.last;
  const deadline =
    options.durationMs === undefined
      ? undefined
      : setTimeout(() => stop(`--duration-ms ${options.durationMs} elapsed`), options.durationMs);

  const startedAt = performance.now();
  let lastTick = { at: startedAt, appended: 0 };
  const metrics = setInterval(() => {
    const now = performance.now();
    const rate = ((appended - lastTick.appended) * 1000) / (now - lastTick.at);
    lastTick = { at: now, appended };
    const s = summarize(store);
    const snaps = snapshotCounters(snapshotter);
    console.log(
      `[METRICS] t=${((now - startedAt) / 1000).toFixed(1)}s rate=${Math.round(rate)} ev/s appended=${appended} ` +
        `held=${store.size} acked-seq=${ackedSeq} temperature-avg=${s.temperature.average?.toFixed(2) ?? '-'} ` +
        `humidity-avg=${s.humidity.average?.toFixed(2) ?? '-'} snapshots=${snaps.written} ` +
        `snapshot-failures=${snaps.failed} journal-failures=${snaps.journalFailures}`,
    );
  }, 1_000);

  let released = 0;
  while (!stopping) {
    let n = MAX_BATCH;
    if (options.rate > 0) {
      const due = Math.floor(((performance.now() - startedAt) * options.rate) / 1000);
      // More than a second behind (a slow disk, a busy machine): drop the debt rather than burst.
      if (due - released > options.rate) released = due - options.rate;
      n = Math.min(due - released, MAX_BATCH);
    }
    if (n > 0) {
      released += n;
      const now = Date.now();
      const batch = Array.from({ length: n }, () => generator.next(now));
      store.tryAppendBatch(batch);
      appended += n;
      try {
        await snapshotter.flushJournal();
        ackedSeq = batch[n - 1]!.seq; // in the journal: survives kill -9
      } catch (err) {
        // Not acknowledged yet; the journal writes these again on the next flush.
        console.error(`[WARN] journal flush failed: ${(err as Error).message}`);
      }
    }
    if (options.rate > 0 && n < MAX_BATCH) await sleep(TICK_MS);
    else await yieldToLoop();
  }

  clearTimeout(deadline);
  clearInterval(metrics);
  await snapshotter.stop();
  const snaps = snapshotCounters(snapshotter);
  console.log(
    `[EXIT] appended ${appended} readings in ${((performance.now() - startedAt) / 1000).toFixed(1)} s; ` +
      `held: ${store.size}; snapshots written: ${snaps.written}, failed: ${snaps.failed}`,
  );
  console.log(`[STATE] ${stateLine(summarize(store))}`);
  return snaps.failed === 0 ? 0 : 1;
}

runMain(main);
