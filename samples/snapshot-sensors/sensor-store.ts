// The sensor store shared by the console sample and the HTTP API sample: an EventStore of readings
// partitioned by device, snapshotted with the delta journal into one data directory, and the summary
// of its state that both samples print or serve. One thread (the caller's event loop) appends, queries
// and snapshots; a summary is computed from the store itself, so after a restore it is the same.

import {
  BinarySnapshotSerializer,
  EventStore,
  FileSystemSnapshotStore,
  type JournalSyncPolicy,
  type QueryOptions,
  type Snapshotter,
} from 'lockfree-eventstore';

/** One reading of one device. Stored as-is (never mutated after the append: snapshots hold references). */
export interface SensorReading {
  deviceId: string;
  /** Degrees Celsius. */
  temperature: number;
  /** Relative humidity, percent. */
  humidity: number;
  /** Event time, epoch ms (UTC). */
  timestampMs: number;
}

/**
 * Where the console sample keeps its snapshots and journal by default (relative to the working
 * directory: the repository under `npm run`). Apart from the server's `./data`, so removing one of
 * them leaves the other.
 */
export const SENSORS_DEFAULT_DATA_DIR = './sample-data/sensors';

export interface SensorStoreOptions {
  /** Snapshots in `<dataDir>/<partition>/`, the journal in `<dataDir>/journal/`. */
  dataDir: string;
  /** Fixed for the life of a data directory: a restore refuses another partition count. */
  partitions: number;
  /** Readings held in total; a full partition evicts its oldest reading. */
  capacity: number;
  snapshotIntervalMs: number;
  minEventsBetweenSnapshots: number;
  fsync: JournalSyncPolicy;
}

export interface SensorStore<T extends SensorReading> {
  store: EventStore<T>;
  snapshotter: Snapshotter<T>;
  /** Partitions loaded from a snapshot file by the restore (the journal replay is not counted). */
  restoredPartitions: number;
}

/** Creates the store, restores the data directory (snapshots, then the journal) and starts snapshots. */
export async function openSensorStore<T extends SensorReading>(
  options: SensorStoreOptions,
): Promise<SensorStore<T>> {
  const store = new EventStore<T>({
    capacity: options.capacity,
    partitions: options.partitions,
    // A device always lands in the same partition, so its readings keep their order across restarts.
    partitionKey: (r) => r.deviceId,
    timestampSelector: (r) => r.timestampMs,
  });
  const snapshotter = store.configureSnapshots(
    {
      intervalMs: options.snapshotIntervalMs,
      minEventsBetweenSnapshots: options.minEventsBetweenSnapshots,
      journal: { enabled: true, syncPolicy: options.fsync },
    },
    new BinarySnapshotSerializer<T>({ compress: true }),
    new FileSystemSnapshotStore(options.dataDir),
  );
  const restoredPartitions = await store.restoreFromSnapshots();
  snapshotter.start();
  return { store, snapshotter, restoredPartitions };
}

/** Count, sum, min, max and average of one measured value; `null`s when there is no reading. */
export interface ValueStats {
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  average: number | null;
}

export interface DeviceState {
  readings: number;
  /** The reading with the latest event time (the later append on a tie). */
  latest: { temperature: number; humidity: number; timestampUtc: string };
  temperature: ValueStats;
  humidity: ValueStats;
}

export interface SensorSummary {
  readings: number;
  devices: number;
  temperature: ValueStats;
  humidity: ValueStats;
  /** Per device, sorted by device id. */
  byDevice: Record<string, DeviceState>;
}

interface Running {
  count: number;
  sum: number;
  min: number;
  max: number;
}

const emptyRunning = (): Running => ({ count: 0, sum: 0, min: Infinity, max: -Infinity });

function add(r: Running, v: number): void {
  r.count++;
  r.sum += v;
  if (v < r.min) r.min = v;
  if (v > r.max) r.max = v;
}

function stats(r: Running): ValueStats {
  if (r.count === 0) return { count: 0, sum: 0, min: null, max: null, average: null };
  return { count: r.count, sum: r.sum, min: r.min, max: r.max, average: r.sum / r.count };
}

interface DeviceRunning {
  latest: SensorReading;
  temperature: Running;
  humidity: Running;
}

/**
 * One pass over the held readings. The store visits partitions in index order and each partition
 * oldest first, the order a restore rebuilds, so the floating-point sums come out bit for bit the same.
 */
export function summarize<T extends SensorReading>(store: EventStore<T>, q?: QueryOptions<T>): SensorSummary {
  const temperature = emptyRunning();
  const humidity = emptyRunning();
  const devices = store.aggregate(
    () => new Map<string, DeviceRunning>(),
    (acc, r) => {
      add(temperature, r.temperature);
      add(humidity, r.humidity);
      let d = acc.get(r.deviceId);
      if (d === undefined) {
        acc.set(r.deviceId, (d = { latest: r, temperature: emptyRunning(), humidity: emptyRunning() }));
      }
      add(d.temperature, r.temperature);
      add(d.humidity, r.humidity);
      if (r.timestampMs >= d.latest.timestampMs) d.latest = r;
      return acc;
    },
    q,
  );
  const byDevice: Record<string, DeviceState> = {};
  for (const id of [...devices.keys()].sort()) {
    const d = devices.get(id)!;
    byDevice[id] = {
      readings: d.temperature.count,
      latest: {
        temperature: d.latest.temperature,
        humidity: d.latest.humidity,
        timestampUtc: new Date(d.latest.timestampMs).toISOString(),
      },
      temperature: stats(d.temperature),
      humidity: stats(d.humidity),
    };
  }
  return {
    readings: temperature.count,
    devices: devices.size,
    temperature: stats(temperature),
    humidity: stats(humidity),
    byDevice,
  };
}

export interface SnapshotCounters {
  /** Snapshot files saved by this process. */
  written: number;
  /** Save jobs that failed after every retry. */
  failed: number;
  /** Time of the newest snapshot saved or restored, ISO 8601; `null` before any. */
  lastSnapshotUtc: string | null;
  journalRecordsReplayed: number;
  journalFailures: number;
}

export function snapshotCounters<T>(snapshotter: Snapshotter<T>): SnapshotCounters {
  const m = snapshotter.metrics();
  let written = 0;
  let last: Date | undefined;
  for (const p of m.partitions) {
    written += p.successes;
    if (p.lastSnapshotAt !== undefined && (last === undefined || p.lastSnapshotAt > last)) {
      last = p.lastSnapshotAt;
    }
  }
  return {
    written,
    failed: m.totalFailedJobs,
    lastSnapshotUtc: last === undefined ? null : last.toISOString(),
    journalRecordsReplayed: m.journalRecordsReplayed,
    journalFailures: m.journalFailures,
  };
}
