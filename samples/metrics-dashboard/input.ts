// Validation of the dashboard's public inputs: metric bodies and query parameters. Every failure is a
// 400 `ES_ERR_BAD_REQUEST` problem naming the `field` (and the batch `index`), so a client can tell
// which input to fix without parsing the message. Pure functions of their arguments.

import { ErrorCode } from 'lockfree-eventstore';
import { Problem } from '../shared/http.ts';
import type { MetricEvent, TimeRange } from './metrics-store.ts';

export const MAX_LABEL_LENGTH = 64;
export const MAX_METRICS_PER_REQUEST = 10_000;
/** The range of a JavaScript `Date`, in epoch milliseconds. */
const MAX_EPOCH_MS = 8.64e15;
// A date-time must carry its offset: a local time would be read in the server's time zone, and a
// query parameter and a body naming the same instant could disagree.
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/i;
const EPOCH_MS_TEXT = /^-?\d{1,16}(?:\.\d+)?$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** A 400 about one named input (`field`), the shape of every validation failure. */
export function badInput(field: string, detail: string, extra: Record<string, unknown> = {}): Problem {
  return new Problem(ErrorCode.BAD_REQUEST, detail, { extra: { field, ...extra } });
}

function show(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Epoch ms of an ISO 8601 date-time with an offset, or `undefined` when it is not one (or not a real date). */
function isoToEpochMs(text: string): number | undefined {
  const m = ISO_DATE_TIME.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second, offH, offM] = m.slice(1).map((g) => Number(g ?? 0));
  // Date.parse rolls 2024-02-30 over into March; a typo must not silently move a point.
  const valid =
    month! >= 1 &&
    month! <= 12 &&
    day! >= 1 &&
    day! <= daysInMonth(year!, month!) &&
    hour! <= 23 &&
    minute! <= 59 &&
    second! <= 59 &&
    offH! <= 23 &&
    offM! <= 59;
  const ms = Date.parse(text);
  return valid && Number.isFinite(ms) ? ms : undefined;
}

function epochMsOrUndefined(value: number): number | undefined {
  return Number.isFinite(value) && Math.abs(value) <= MAX_EPOCH_MS ? value : undefined;
}

/** A metric's time: epoch milliseconds (number) or an ISO 8601 string with an offset. */
function timestampOf(value: unknown): number | undefined {
  if (typeof value === 'number') return epochMsOrUndefined(value);
  if (typeof value === 'string') return isoToEpochMs(value);
  return undefined;
}

/** Whether `value` is a usable metric label: 1–64 characters, not blank, no control characters. */
export function isLabel(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length <= MAX_LABEL_LENGTH &&
    value.trim() !== '' &&
    !CONTROL_CHARS.test(value)
  );
}

const LABEL_RULE = `a non-blank string of at most ${MAX_LABEL_LENGTH} characters without control characters`;

function parseMetric(item: unknown, where: string, index: number | undefined, nowMs: number): MetricEvent {
  const at = index === undefined ? {} : { index };
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    throw badInput(
      'body',
      `${where} must be an object {label, value, timestamp?}, received ${show(item)}`,
      at,
    );
  }
  const { label, value, timestamp } = item as Record<string, unknown>;
  if (!isLabel(label))
    throw badInput('label', `${where}.label must be ${LABEL_RULE}, received ${show(label)}`, at);
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw badInput('value', `${where}.value must be a finite number, received ${show(value)}`, at);
  }
  if (timestamp === undefined || timestamp === null) return { label, value, timestampMs: nowMs };
  const timestampMs = timestampOf(timestamp);
  if (timestampMs === undefined) {
    throw badInput(
      'timestamp',
      `${where}.timestamp must be epoch milliseconds or an ISO 8601 date-time with an offset (Z or ±hh:mm), received ${show(timestamp)}`,
      at,
    );
  }
  return { label, value, timestampMs };
}

/**
 * The metrics of a parsed `POST /metrics` body: one object or an array of them. The whole body is
 * validated before anything is stored, so a rejected batch stores nothing. A metric without a
 * timestamp gets `nowMs`.
 */
export function parseMetrics(body: unknown, nowMs: number): MetricEvent[] {
  if (!Array.isArray(body)) return [parseMetric(body, 'metric', undefined, nowMs)];
  if (body.length === 0) throw badInput('body', 'the batch is an empty array');
  if (body.length > MAX_METRICS_PER_REQUEST) {
    throw new Problem(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `a batch holds at most ${MAX_METRICS_PER_REQUEST} metrics, received ${body.length}`,
      { extra: { maxMetrics: MAX_METRICS_PER_REQUEST } },
    );
  }
  return body.map((item, i) => parseMetric(item, `metrics[${i}]`, i, nowMs));
}

/** The required `label` query parameter. */
export function labelParam(params: URLSearchParams): string {
  const label = params.get('label');
  if (!isLabel(label)) throw badInput('label', `the query parameter label must be ${LABEL_RULE}`);
  return label;
}

/** The optional `label` query parameter. */
export function optionalLabelParam(params: URLSearchParams): string | undefined {
  return params.has('label') ? labelParam(params) : undefined;
}

/** An optional time query parameter: epoch milliseconds or an ISO 8601 date-time with an offset. */
export function timeParam(params: URLSearchParams, name: string): number | undefined {
  const text = params.get(name);
  if (text === null) return undefined;
  const ms = EPOCH_MS_TEXT.test(text) ? epochMsOrUndefined(Number(text)) : isoToEpochMs(text);
  if (ms === undefined) {
    throw badInput(
      name,
      `${name} must be epoch milliseconds or an ISO 8601 date-time with an offset, received ${show(text)}`,
    );
  }
  return ms;
}

/** A number query parameter in `(0, max]` (or `[min, max]` for integers), or `fallback` when absent. */
export function numberParam(
  params: URLSearchParams,
  name: string,
  rule: { fallback: number; max: number; min?: number; integer?: boolean },
): number {
  const text = params.get(name);
  if (text === null) return rule.fallback;
  const n = text.trim() === '' ? Number.NaN : Number(text);
  const min = rule.min ?? 0;
  const inRange = Number.isFinite(n) && (rule.min === undefined ? n > 0 : n >= min) && n <= rule.max;
  if (!inRange || (rule.integer === true && !Number.isInteger(n))) {
    const kind =
      rule.integer === true ? `an integer in [${min}, ${rule.max}]` : `a number in (0, ${rule.max}]`;
    throw badInput(name, `${name} must be ${kind}, received ${show(text)}`);
  }
  return n;
}

/**
 * `from`/`to`, or `minutes` back from `to` (or now). Both `from` and `minutes` is ambiguous: 400.
 * `defaultMinutes` closes the range when neither is given.
 */
export function rangeParams(
  params: URLSearchParams,
  nowMs: number,
  defaultMinutes: number | undefined,
  maxMinutes: number,
): TimeRange {
  const fromMs = timeParam(params, 'from');
  const toMs = timeParam(params, 'to');
  if (fromMs !== undefined && params.has('minutes')) {
    throw badInput('minutes', 'give either from or minutes, not both');
  }
  if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) {
    throw badInput('from', `from (${fromMs}) must not be after to (${toMs})`);
  }
  const range: TimeRange = {};
  if (toMs !== undefined) range.toMs = toMs;
  if (fromMs !== undefined) {
    range.fromMs = fromMs;
    return range;
  }
  if (!params.has('minutes') && defaultMinutes === undefined) return range;
  const minutes = numberParam(params, 'minutes', { fallback: defaultMinutes ?? 0, max: maxMinutes });
  const end = toMs ?? nowMs;
  return { fromMs: end - minutes * 60_000, toMs: end };
}
