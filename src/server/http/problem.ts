// Errors on the wire: the one table from error code to HTTP status, and the RFC 9457
// `application/problem+json` body every error response carries. Pure functions; no state.

import type { ServerResponse } from 'node:http';
import { ErrorCode, type ErrorCodeValue, EventStoreError } from '../errors.js';

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
  [ErrorCode.IDEMPOTENCY_CONFLICT]: 409,
  [ErrorCode.OFFSET_EVICTED]: 410,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCode.LIMIT_EXCEEDED]: 429,
  [ErrorCode.INTERNAL]: 500,
  [ErrorCode.JOURNAL_FAILED]: 503,
  [ErrorCode.SHUTTING_DOWN]: 503,
  [ErrorCode.SNAPSHOTS_FAILING]: 503,
  [ErrorCode.OUTCOME_UNKNOWN]: 503,
  [ErrorCode.INSUFFICIENT_STORAGE]: 507,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
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

/** An error answered as a problem: a code, a detail message, and extra members for the body. */
export class HttpProblem extends EventStoreError {
  readonly extra: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: ErrorCodeValue,
    detail: string,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(code, detail);
    this.extra = extra;
    this.headers = headers;
  }
}

/** Status of an error: its code's status, 500 for anything else. */
export function statusOf(err: unknown): number {
  if (err instanceof EventStoreError) return STATUS_BY_CODE[err.code] ?? 500;
  return 500;
}

/** The problem body of an error. Unexpected errors are reported without internals. */
export function problemBody(err: unknown): Record<string, unknown> {
  const status = statusOf(err);
  const known = err instanceof EventStoreError && STATUS_BY_CODE[err.code] !== undefined;
  const code = known ? (err as EventStoreError).code : ErrorCode.INTERNAL;
  const detail = known ? (err as Error).message : 'unexpected server error; see the server log';
  return {
    type: `urn:lockfree-eventstore:error:${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(err instanceof HttpProblem ? err.extra : {}),
  };
}

/** Writes `err` as an `application/problem+json` response (when no header was sent yet). */
export function sendProblem(res: ServerResponse, err: unknown, closeConnection = false): number {
  const body = problemBody(err);
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
    ...(err instanceof HttpProblem ? err.headers : {}),
  };
  if (closeConnection) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(payload);
  return status;
}
