// Validation of a `POST /sensor` body into a SensorReading. Pure: reports every bad field at once, each
// with a stable code, so a client can fix a request in one round trip. Timestamps must carry their
// zone (`Z` or an offset): a local time without one would be read in the server's zone.

import type { SensorReading } from '../snapshot-sensors/sensor-store.ts';

/** Stable codes of the 400 answers, one per kind of bad input. */
export const ReadingErrorCode = {
  NOT_AN_OBJECT: 'SENSOR_ERR_NOT_AN_OBJECT',
  DEVICE_ID: 'SENSOR_ERR_INVALID_DEVICE_ID',
  TEMPERATURE: 'SENSOR_ERR_INVALID_TEMPERATURE',
  HUMIDITY: 'SENSOR_ERR_INVALID_HUMIDITY',
  TIMESTAMP: 'SENSOR_ERR_INVALID_TIMESTAMP',
  UNKNOWN_FIELD: 'SENSOR_ERR_UNKNOWN_FIELD',
} as const;

export interface FieldError {
  /** The body member at fault; `''` for the body itself. */
  field: string;
  code: (typeof ReadingErrorCode)[keyof typeof ReadingErrorCode];
  detail: string;
}

export type ParsedReading = { ok: true; reading: SensorReading } | { ok: false; errors: FieldError[] };

/** Letters, digits and `._:-`: safe in the `Location` path without encoding. */
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const ISO_WITH_ZONE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/i;
export const TEMPERATURE_RANGE = { min: -100, max: 150 } as const;
/** A reading stamped further ahead of the server clock would stay the device's "latest" for too long. */
export const MAX_CLOCK_AHEAD_MS = 5 * 60_000;
const KNOWN_FIELDS = new Set(['deviceId', 'temperature', 'humidity', 'timestampUtc']);

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function inRange(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
}

/** Epoch ms of an ISO 8601 date-time with a zone, or undefined (also for impossible dates: Feb 30). */
function parseTimestamp(text: string): number | undefined {
  const m = ISO_WITH_ZONE.exec(text);
  if (m === null) return undefined;
  const [, year, month, day, hour, minute, second, offH, offM] = m;
  // Date.parse rolls 2024-02-30 over to March 1st; the calendar fields are checked here instead.
  const daysInMonth = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
  if (Number(year) < 1970) return;
  if (Number(month) < 1 || Number(month) > 12 || Number(day) < 1 || Number(day) > daysInMonth) return;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second ?? 0) > 59) return;
  if (Number(offH ?? 0) > 23 || Number(offM ?? 0) > 59) return;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

export function parseReading(body: unknown, nowMs: number): ParsedReading {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return {
      ok: false,
      errors: [
        {
          field: '',
          code: ReadingErrorCode.NOT_AN_OBJECT,
          detail: `the body must be a JSON object {deviceId, temperature, humidity, timestampUtc?}, received ${describe(body)}`,
        },
      ],
    };
  }
  const b = body as Record<string, unknown>;
  const errors: FieldError[] = [];
  if (typeof b.deviceId !== 'string' || !DEVICE_ID.test(b.deviceId)) {
    errors.push({
      field: 'deviceId',
      code: ReadingErrorCode.DEVICE_ID,
      detail: `deviceId must be a string of 1-64 letters, digits and ._:- (starting with a letter or digit), received ${describe(b.deviceId)}`,
    });
  }
  if (!inRange(b.temperature, TEMPERATURE_RANGE.min, TEMPERATURE_RANGE.max)) {
    errors.push({
      field: 'temperature',
      code: ReadingErrorCode.TEMPERATURE,
      detail: `temperature must be a number of degrees Celsius in [${TEMPERATURE_RANGE.min}, ${TEMPERATURE_RANGE.max}], received ${describe(b.temperature)}`,
    });
  }
  if (!inRange(b.humidity, 0, 100)) {
    errors.push({
      field: 'humidity',
      code: ReadingErrorCode.HUMIDITY,
      detail: `humidity must be a relative humidity in percent, a number in [0, 100], received ${describe(b.humidity)}`,
    });
  }
  let timestampMs = nowMs;
  if (b.timestampUtc !== undefined) {
    const parsed = typeof b.timestampUtc === 'string' ? parseTimestamp(b.timestampUtc) : undefined;
    if (parsed === undefined || parsed > nowMs + MAX_CLOCK_AHEAD_MS) {
      errors.push({
        field: 'timestampUtc',
        code: ReadingErrorCode.TIMESTAMP,
        detail: `timestampUtc must be an ISO 8601 date-time with Z or an offset (2024-05-01T12:00:00Z), at most ${MAX_CLOCK_AHEAD_MS / 60_000} minutes ahead of the server clock, received ${describe(b.timestampUtc)}`,
      });
    } else {
      timestampMs = parsed;
    }
  }
  for (const key of Object.keys(b)) {
    if (!KNOWN_FIELDS.has(key)) {
      errors.push({
        field: key,
        code: ReadingErrorCode.UNKNOWN_FIELD,
        detail: `unknown field ${describe(key)}; the fields are deviceId, temperature, humidity, timestampUtc`,
      });
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    reading: {
      deviceId: b.deviceId as string,
      temperature: b.temperature as number,
      humidity: b.humidity as number,
      timestampMs,
    },
  };
}
