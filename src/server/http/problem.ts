// Errors on the wire: the one table from error code to HTTP status, and the RFC 9457
// `application/problem+json` body every error response carries, built from a domain error's code,
// message and details. The only place that turns errors into HTTP. Pure functions; no state.

import type { ServerResponse } from 'node:http';
import { ErrorCode, type ErrorCodeValue, EventStoreError } from '../../errors.js';

/** HTTP status of every code the server answers with. Codes not listed answer 500. */
export const STATUS_BY_CODE: Readonly<Partial<Record<ErrorCodeValue, number>>> = {
  [ErrorCode.INVALID_ARG]: 400,
  [ErrorCode.BAD_REQUEST]: 400,
  [ErrorCode.INVALID_JSON]: 400,
  [ErrorCode.INVALID_STREAM_NAME]: 400,
  [ErrorCode.JSON_TOO_DEEP]: 400,
  [ErrorCode.UNREPRESENTABLE_NUMBER]: 400,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.STREAM_NOT_FOUND]: 404,
  [ErrorCode.METHOD_NOT_ALLOWED]: 405,
  [ErrorCode.WRONG_EXPECTED_VERSION]: 409,
  [ErrorCode.PRODUCER_FENCED]: 409,
  [ErrorCode.PRODUCER_SEQUENCE]: 409,
  [ErrorCode.PRODUCER_EPOCH_START]: 400,
  [ErrorCode.IDEMPOTENCY_CONFLICT]: 409,
  [ErrorCode.STREAM_EXISTS]: 409,
  [ErrorCode.CONTENT_TYPE_MISMATCH]: 409,
  [ErrorCode.STREAM_CLOSED]: 409,
  [ErrorCode.STREAM_SEQ_CONFLICT]: 409,
  [ErrorCode.FORK_SOURCE_GONE]: 409,
  [ErrorCode.OFFSET_EVICTED]: 410,
  [ErrorCode.STREAM_GONE]: 410,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCode.LIMIT_EXCEEDED]: 429,
  [ErrorCode.INTERNAL]: 500,
  [ErrorCode.JOURNAL_FAILED]: 503,
  [ErrorCode.SHUTTING_DOWN]: 503,
  [ErrorCode.SNAPSHOTS_FAILING]: 503,
  [ErrorCode.LOG_UNAVAILABLE]: 503,
  [ErrorCode.OUTCOME_UNKNOWN]: 503,
  [ErrorCode.INSUFFICIENT_STORAGE]: 507,
};

/** An endpoint's table from code to status (every endpoint but the Durable Streams one uses STATUS_BY_CODE). */
export type StatusTable = Readonly<Partial<Record<ErrorCodeValue, number>>>;

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

/**
 * Details of a domain error that become response headers instead of problem members:
 * `retryAfterSeconds` -> `Retry-After` (a passing condition), `allow` -> `Allow` (405).
 */
const HEADER_DETAILS = new Set(['retryAfterSeconds', 'allow']);

/** Status of an error: its code's status in `table`, 500 for anything else. */
export function statusOf(err: unknown, table: StatusTable = STATUS_BY_CODE): number {
  if (err instanceof EventStoreError) return table[err.code] ?? 500;
  return 500;
}

/** A known error (one the table maps), or undefined for anything unexpected. */
function known(err: unknown, table: StatusTable = STATUS_BY_CODE): EventStoreError | undefined {
  return err instanceof EventStoreError && table[err.code] !== undefined ? err : undefined;
}

/**
 * The problem body of an error: its code, message and details (but those that become headers).
 * Unexpected errors are reported without internals.
 */
export function problemBody(err: unknown, table: StatusTable = STATUS_BY_CODE): Record<string, unknown> {
  const status = statusOf(err, table);
  const e = known(err, table);
  const body: Record<string, unknown> = {
    type: `urn:lockfree-eventstore:error:${e?.code ?? ErrorCode.INTERNAL}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail: e?.message ?? 'unexpected server error; see the server log',
    code: e?.code ?? ErrorCode.INTERNAL,
  };
  if (e !== undefined) {
    for (const [key, value] of Object.entries(e.details)) if (!HEADER_DETAILS.has(key)) body[key] = value;
  }
  return body;
}

/** The response headers an error's details call for. */
function problemHeaders(err: unknown): Record<string, string> {
  const e = known(err);
  if (e === undefined) return {};
  const headers: Record<string, string> = {};
  const d = e.details;
  if (d.retryAfterSeconds !== undefined) headers['retry-after'] = String(d.retryAfterSeconds);
  if (d.allow !== undefined) headers.allow = String(d.allow);
  if (e.code === ErrorCode.WRONG_EXPECTED_VERSION && d.currentVersion !== undefined) {
    headers['es-current-version'] = String(d.currentVersion);
  }
  if (e.code === ErrorCode.UNAUTHORIZED) headers['www-authenticate'] = 'Bearer';
  return headers;
}

/**
 * Writes `err` as an `application/problem+json` response (when no header was sent yet), its status
 * from `table`, with `headers` (an endpoint's own headers for the error's details) added.
 */
export function sendProblem(
  res: ServerResponse,
  err: unknown,
  closeConnection = false,
  table: StatusTable = STATUS_BY_CODE,
  endpointHeaders: Record<string, string> = {},
): number {
  const body = problemBody(err, table);
  const status = body.status as number;
  if (res.headersSent) {
    res.destroy();
    return status;
  }
  const payload = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    ...problemHeaders(err),
    ...(known(err, table) === undefined ? {} : endpointHeaders),
  };
  if (closeConnection) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(payload);
  return status;
}

/** A domain error of `code` with `details` (members of the problem, or headers, see above). */
export function problem(
  code: ErrorCodeValue,
  message: string,
  details: Record<string, unknown> = {},
): EventStoreError {
  return new EventStoreError(code, message, { details });
}
