// HTTP sample: sensor readings over node:http into an EventStore with snapshots and the journal.
// It restores the data directory before it listens, so the first request already sees the restored
// state; SIGTERM/SIGINT drains the requests in flight, writes a final snapshot and exits 0.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { onStopSignals } from '../shared/stop-signals.ts';
import { fsyncOption, integerOption, runMain } from '../snapshot-sensors/cli-options.ts';
import { openSensorStore, type SensorReading, snapshotCounters } from '../snapshot-sensors/sensor-store.ts';
import { createSensorApi, SENSOR_API_DEFAULT_DATA_DIR, SENSOR_API_DEFAULT_PORT } from './sensor-api.ts';

const USAGE = `Usage: npm run sample:sensors-api -- [options]
  --port <n>                    TCP port, 0 = any free one (default ${SENSOR_API_DEFAULT_PORT}, or env PORT)
  --host <addr>                 interface to bind (default 127.0.0.1, or env HOST)
  --data-dir <dir>              snapshots and journal (default ${SENSOR_API_DEFAULT_DATA_DIR}, or env DATA_DIR)
  --partitions <n>              store partitions, fixed for a data directory (default 8)
  --capacity <n>                readings held in total (default 1000000)
  --snapshot-interval-ms <n>    snapshot time trigger (default 10000)
  --snapshot-every <n>          snapshot after this many readings (default 50000)
  --fsync <policy>              journal fsync: always | everysec | no (default everysec)
  --max-body-bytes <n>          largest POST /sensor body (default 16384)`;

/** How long a shutdown waits for requests in flight before it cuts their connections. */
const DRAIN_TIMEOUT_MS = 5_000;

function readOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      partitions: { type: 'string' },
      capacity: { type: 'string' },
      'snapshot-interval-ms': { type: 'string' },
      'snapshot-every': { type: 'string' },
      fsync: { type: 'string' },
      'max-body-bytes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    process.exit(0);
  }
  const port = integerOption('--port', values.port ?? process.env.PORT, SENSOR_API_DEFAULT_PORT, 0);
  if (port > 65_535) throw new Error(`--port must be at most 65535, received ${port}`);
  return {
    port,
    host: values.host ?? process.env.HOST ?? '127.0.0.1',
    dataDir: values['data-dir'] ?? process.env.DATA_DIR ?? SENSOR_API_DEFAULT_DATA_DIR,
    partitions: integerOption('--partitions', values.partitions, 8, 1),
    capacity: integerOption('--capacity', values.capacity, 1_000_000, 1),
    snapshotIntervalMs: integerOption('--snapshot-interval-ms', values['snapshot-interval-ms'], 10_000, 0),
    minEventsBetweenSnapshots: integerOption('--snapshot-every', values['snapshot-every'], 50_000, 0),
    fsync: fsyncOption(values.fsync),
    maxBodyBytes: integerOption('--max-body-bytes', values['max-body-bytes'], 16_384, 1),
  };
}

async function main(): Promise<number> {
  let options: ReturnType<typeof readOptions>;
  try {
    options = readOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { store, snapshotter, restoredPartitions } = await openSensorStore<SensorReading>(options);
  console.log(`[BOOT] partitions restored from snapshot: ${restoredPartitions}`);
  console.log(
    `[BOOT] readings held: ${store.size}, journal records replayed: ${snapshotCounters(snapshotter).journalRecordsReplayed}`,
  );

  const api = createSensorApi({
    store,
    snapshotter,
    restoredPartitions,
    maxBodyBytes: options.maxBodyBytes,
  });
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, api.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  // The stop handlers are in place before the banner: a supervisor (or a test) may signal as soon as
  // it reads it, and a signal without a handler would kill the process without its final snapshot.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    onStopSignals({
      onStop: resolve,
      onRepeat: (again) => {
        console.error(`[STOP] ${again} again: exiting now; the journal holds every acknowledged reading`);
        process.exit(1);
      },
    });
  });
  console.log(`[BOOT] listening on http://${host}:${address.port} (data dir ${options.dataDir})`);

  const signal = await stopSignal;
  console.log(`[STOP] ${signal}: draining requests, then a final snapshot`);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    api.drain(),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DRAIN_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  server.closeAllConnections();
  await closed;
  await snapshotter.stop();
  const s = snapshotCounters(snapshotter);
  console.log(
    `[EXIT] readings held: ${store.size}; snapshots written: ${s.written}, failed: ${s.failed}; last snapshot ${s.lastSnapshotUtc ?? 'none'}`,
  );
  return s.failed === 0 ? 0 : 1;
}

runMain(main);
