// The routes of the sensors HTTP sample on node:http: POST /sensor (validated, acknowledged once the
// journal has the reading), GET /sensor/{deviceId}, GET /state, GET /metrics, GET /health. Every error
// is application/problem+json with a stable code; no input can throw past `handle`. Single-threaded:
// requests interleave on the event loop, and each append is one synchronous store step.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { type EventStore, partitionForKey, type Snapshotter } from 'lockfree-eventstore';
import { Problem, type ProblemCodes, readJsonBody, sendJson, sendProblem } from '../shared/http.ts';
import { type SensorReading, snapshotCounters, summarize } from '../snapshot-sensors/sensor-store.ts';
import { type FieldError, parseReading } from './parse-reading.ts';

/**
 * The default port: apart from `npm start` (7070), the gateway sample (7071, 8080-8083) and the
 * dashboard (7073), so every sample runs beside the others; not 5000 or 7000 (macOS AirPlay).
 */
export const SENSOR_API_DEFAULT_PORT = 7072;
/** The default data directory, apart from the server's `./data` and the console sample's. */
export const SENSOR_API_DEFAULT_DATA_DIR = './sample-data/sensors-api';

/** Stable codes of the answers that are not about one field of the reading (see parse-reading.ts). */
export const ApiErrorCode = {
  INVALID_JSON: 'SENSOR_ERR_INVALID_JSON',
  UNSUPPORTED_MEDIA_TYPE: 'SENSOR_ERR_UNSUPPORTED_MEDIA_TYPE',
  PAYLOAD_TOO_LARGE: 'SENSOR_ERR_PAYLOAD_TOO_LARGE',
  NOT_FOUND: 'SENSOR_ERR_NOT_FOUND',
  DEVICE_NOT_FOUND: 'SENSOR_ERR_DEVICE_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'SENSOR_ERR_METHOD_NOT_ALLOWED',
  SHUTTING_DOWN: 'SENSOR_ERR_SHUTTING_DOWN',
  JOURNAL_FAILED: 'SENSOR_ERR_JOURNAL_FAILED',
  INTERNAL: 'SENSOR_ERR_INTERNAL',
} as const;

/** The shared plumbing's answers (413, 415, bad JSON, 500) under this sample's codes. */
const CODES: ProblemCodes = {
  internal: ApiErrorCode.INTERNAL,
  invalidJson: ApiErrorCode.INVALID_JSON,
  unsupportedMediaType: ApiErrorCode.UNSUPPORTED_MEDIA_TYPE,
  payloadTooLarge: ApiErrorCode.PAYLOAD_TOO_LARGE,
};
const PROBLEM_TYPE = 'urn:snapshot-sensors-api:error:';

export interface SensorApiOptions {
  store: EventStore<SensorReading>;
  snapshotter: Snapshotter<SensorReading>;
  /** What the restore before listening returned, reported by GET /metrics. */
  restoredPartitions: number;
  /** Larger bodies are refused with 413 while they arrive. */
  maxBodyBytes: number;
}

export interface SensorApi {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** From now on new requests get 503; resolves when the requests in flight have finished. */
  drain(): Promise<void>;
}

const methodNotAllowed = (allow: string): Problem =>
  new Problem(ApiErrorCode.METHOD_NOT_ALLOWED, `this route answers ${allow} only`, {
    status: 405,
    headers: { allow },
  });

function fieldProblem(errors: FieldError[]): Problem {
  // The first field's code is the answer's code; `errors` lists every bad field with its own.
  return new Problem(errors[0]!.code, errors.map((e) => e.detail).join('; '), {
    status: 400,
    extra: { errors },
  });
}

export function createSensorApi(options: SensorApiOptions): SensorApi {
  const { store, snapshotter, restoredPartitions, maxBodyBytes } = options;
  const startedAtMs = Date.now();
  let accepted = 0;
  let draining = false;
  let inFlight = 0;
  let onIdle: (() => void) | undefined;

  const postSensor = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readJsonBody(req, { maxBytes: maxBodyBytes, codes: CODES });
    if (body === undefined) {
      throw new Problem(ApiErrorCode.INVALID_JSON, 'the request body is empty', { status: 400 });
    }
    const parsed = parseReading(body, Date.now());
    if (!parsed.ok) throw fieldProblem(parsed.errors);
    const { reading } = parsed;
    store.tryAppend(reading);
    try {
      // Answer only once the journal has the reading: an acknowledged reading survives kill -9.
      await snapshotter.flushJournal();
    } catch (err) {
      throw new Problem(
        ApiErrorCode.JOURNAL_FAILED,
        `the reading is not acknowledged, the journal failed: ${(err as Error).message}`,
        { status: 503, headers: { 'retry-after': '1' } },
      );
    }
    accepted++;
    sendJson(
      res,
      202,
      {
        accepted: true,
        deviceId: reading.deviceId,
        timestampUtc: new Date(reading.timestampMs).toISOString(),
      },
      { location: `/sensor/${reading.deviceId}` },
    );
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (draining) {
      throw new Problem(ApiErrorCode.SHUTTING_DOWN, 'the server is shutting down', {
        status: 503,
        headers: { 'retry-after': '1' },
      });
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const method = req.method ?? 'GET';
    if (path === '/sensor') {
      if (method !== 'POST') throw methodNotAllowed('POST');
      return postSensor(req, res);
    }
    if (path.startsWith('/sensor/')) {
      if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET');
      let id: string;
      try {
        id = decodeURIComponent(path.slice('/sensor/'.length));
      } catch {
        id = path.slice('/sensor/'.length);
      }
      // Only the device's own partition is read: the store places a device by this same hash.
      const device = summarize(store, {
        partition: partitionForKey(id, store.partitions),
        filter: (r) => r.deviceId === id,
      }).byDevice[id];
      if (device === undefined) {
        throw new Problem(
          ApiErrorCode.DEVICE_NOT_FOUND,
          `no reading of device ${JSON.stringify(id.slice(0, 100))}`,
          {
            status: 404,
          },
        );
      }
      return sendJson(res, 200, { deviceId: id, ...device });
    }
    const reads: Record<string, () => unknown> = {
      '/state': () => {
        const { byDevice, ...totals } = summarize(store);
        return { totals, devices: byDevice };
      },
      '/metrics': () => {
        const s = snapshotCounters(snapshotter);
        return {
          eventsStored: store.size,
          capacity: store.capacity,
          readingsAccepted: accepted,
          restoredPartitions,
          snapshotsWritten: s.written,
          snapshotsFailed: s.failed,
          lastSnapshotUtc: s.lastSnapshotUtc,
          journalRecordsReplayed: s.journalRecordsReplayed,
          journalFailures: s.journalFailures,
          uptimeMs: Date.now() - startedAtMs,
        };
      },
      '/health': () => ({ status: 'ok' }),
    };
    const read = reads[path];
    if (read === undefined) {
      throw new Problem(ApiErrorCode.NOT_FOUND, `no route for ${JSON.stringify(path.slice(0, 100))}`, {
        status: 404,
      });
    }
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET');
    sendJson(res, 200, read());
  };

  return {
    handle(req, res) {
      inFlight++;
      res.once('close', () => {
        if (--inFlight === 0) onIdle?.();
      });
      route(req, res).catch((err: unknown) => {
        sendProblem(res, err, {
          typePrefix: PROBLEM_TYPE,
          codes: CODES,
          close: draining,
          logPrefix: '[ERROR] ',
        });
      });
    },
    drain() {
      draining = true;
      if (inFlight === 0) return Promise.resolve();
      return new Promise((resolve) => {
        onIdle = resolve;
      });
    },
  };
}
