// The routes of the sensors HTTP sample on node:http: POST /sensor (validated, acknowledged once the
// journal has the reading), GET /sensor/{deviceId}, GET /state, GET /metrics, GET /health. Every error
// is application/problem+json with a stable code; no input can throw past `handle`. Single-threaded:
// requests interleave on the event loop, and each append is one synchronous store step.

import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import { type EventStore, partitionForKey, type Snapshotter } from 'lockfree-eventstore';
import { type SensorReading, snapshotCounters, summarize } from '../snapshot-sensors/sensor-store.ts';
import { type FieldError, parseReading } from './parse-reading.ts';

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

class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

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

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function sendProblem(res: ServerResponse, err: unknown, closeConnection: boolean): void {
  const p =
    err instanceof Problem
      ? err
      : new Problem(500, ApiErrorCode.INTERNAL, 'unexpected server error; see the server log');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({
    type: `urn:snapshot-sensors-api:error:${p.code}`,
    title: STATUS_CODES[p.status] ?? 'Error',
    status: p.status,
    detail: p.message,
    code: p.code,
    ...p.extra,
  });
  res.writeHead(p.status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...(closeConnection ? { connection: 'close' } : {}),
    ...p.headers,
  });
  res.end(text);
}

const methodNotAllowed = (allow: string): Problem =>
  new Problem(405, ApiErrorCode.METHOD_NOT_ALLOWED, `this route answers ${allow} only`, {}, { allow });

/** Reads the body, giving up (without buffering the rest) as soon as it passes `maxBytes`. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = (): Problem =>
    new Problem(413, ApiErrorCode.PAYLOAD_TOO_LARGE, `the body is larger than ${maxBytes} bytes`, {
      maxBodyBytes: maxBytes,
    });
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > maxBytes) {
        req.off('data', onData);
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, received)));
    req.once('error', reject);
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseJsonBody(body: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new Problem(400, ApiErrorCode.INVALID_JSON, 'the body is not valid UTF-8');
  }
  if (text.trim() === '') throw new Problem(400, ApiErrorCode.INVALID_JSON, 'the body is empty');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Problem(
      400,
      ApiErrorCode.INVALID_JSON,
      `the body is not valid JSON: ${(err as Error).message}`,
    );
  }
}

function fieldProblem(errors: FieldError[]): Problem {
  // The first field's code is the answer's code; `errors` lists every bad field with its own.
  return new Problem(400, errors[0]!.code, errors.map((e) => e.detail).join('; '), { errors });
}

export function createSensorApi(options: SensorApiOptions): SensorApi {
  const { store, snapshotter, restoredPartitions, maxBodyBytes } = options;
  const startedAtMs = Date.now();
  let accepted = 0;
  let draining = false;
  let inFlight = 0;
  let onIdle: (() => void) | undefined;

  const postSensor = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
      throw new Problem(
        415,
        ApiErrorCode.UNSUPPORTED_MEDIA_TYPE,
        `POST /sensor takes Content-Type application/json, received ${type === '' ? 'none' : JSON.stringify(type.slice(0, 100))}`,
      );
    }
    const parsed = parseReading(parseJsonBody(await readBody(req, maxBodyBytes)), Date.now());
    if (!parsed.ok) throw fieldProblem(parsed.errors);
    const { reading } = parsed;
    store.tryAppend(reading);
    try {
      // Answer only once the journal has the reading: an acknowledged reading survives kill -9.
      await snapshotter.flushJournal();
    } catch (err) {
      throw new Problem(
        503,
        ApiErrorCode.JOURNAL_FAILED,
        `the reading is not acknowledged, the journal failed: ${(err as Error).message}`,
        {},
        { 'retry-after': '1' },
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
      throw new Problem(
        503,
        ApiErrorCode.SHUTTING_DOWN,
        'the server is shutting down',
        {},
        { 'retry-after': '1' },
      );
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
          404,
          ApiErrorCode.DEVICE_NOT_FOUND,
          `no reading of device ${JSON.stringify(id.slice(0, 100))}`,
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
      throw new Problem(404, ApiErrorCode.NOT_FOUND, `no route for ${JSON.stringify(path.slice(0, 100))}`);
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
        if (!(err instanceof Problem)) console.error('[ERROR] request failed:', err);
        // After a 413 the rest of the body was never read: the connection cannot carry another request.
        const unread = err instanceof Problem && err.status === 413;
        sendProblem(res, err, unread || draining);
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
