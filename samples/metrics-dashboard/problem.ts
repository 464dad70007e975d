// HTTP answers of the dashboard: JSON bodies and RFC 9457 problems. Statuses come from the library's
// one code→status table (`STATUS_BY_CODE`), so the sample answers exactly like the store's server.

import { type ServerResponse, STATUS_CODES } from 'node:http';
import { ErrorCode, type ErrorCodeValue, EventStoreError } from 'lockfree-eventstore';
import { STATUS_BY_CODE } from 'lockfree-eventstore/server';

/** A client error answered as `application/problem+json`; `extra` members say which input failed. */
export class Problem extends EventStoreError {
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

  get status(): number {
    return STATUS_BY_CODE[this.code] ?? 500;
  }
}

/** A 400 about one named input (`field`), the shape of every validation failure. */
export function badInput(field: string, detail: string, extra: Record<string, unknown> = {}): Problem {
  return new Problem(ErrorCode.BAD_REQUEST, detail, { field, ...extra });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/**
 * Answers an error. Anything but a `Problem` is a bug: it is logged and answered 500 without details.
 * `close` ends the connection, for bodies that were not read to the end.
 */
export function sendProblem(res: ServerResponse, err: unknown, close = false): void {
  const problem =
    err instanceof Problem ? err : new Problem(ErrorCode.INTERNAL, 'unexpected server error; see the log');
  if (!(err instanceof Problem)) console.error('request failed:', err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({
    type: `urn:lockfree-eventstore:error:${problem.code}`,
    title: STATUS_CODES[problem.status] ?? 'Error',
    status: problem.status,
    detail: problem.message,
    code: problem.code,
    ...problem.extra,
  });
  res.writeHead(problem.status, {
    'content-type': 'application/problem+json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...problem.headers,
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}
