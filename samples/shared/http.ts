// HTTP answers shared by the samples' node:http servers: JSON bodies, RFC 9457 problems and a request
// body reader with a byte limit. The codes default to the library's ES_ERR_* vocabulary (statuses
// from its `STATUS_BY_CODE`, so a sample answers like the store's server); a sample with codes of its
// own passes them in.

import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import { ErrorCode, type ErrorCodeValue } from 'lockfree-eventstore';
import { STATUS_BY_CODE } from 'lockfree-eventstore/server';

/** Optional parts of a {@link Problem}. */
export interface ProblemInit {
  /** The HTTP status; by default the library's status for an ES_ERR_* code, else 500. */
  status?: number;
  /** Members added to the problem body, e.g. which input failed. */
  extra?: Record<string, unknown>;
  /** Headers sent with the answer, e.g. `allow` or `retry-after`. */
  headers?: Record<string, string>;
}

/** An error answered as `application/problem+json`: thrown by a handler, sent by {@link sendProblem}. */
export class Problem extends Error {
  readonly code: string;
  readonly status: number;
  readonly extra: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: string, detail: string, init: ProblemInit = {}) {
    super(detail);
    this.code = code;
    this.status = init.status ?? STATUS_BY_CODE[code as ErrorCodeValue] ?? 500;
    this.extra = init.extra ?? {};
    this.headers = init.headers ?? {};
  }
}

/** The codes the shared plumbing answers with; a sample may name its own. */
export interface ProblemCodes {
  /** 500, anything thrown that is not a {@link Problem}. */
  internal: string;
  /** 400, a body that is not UTF-8 JSON (or was not received). */
  invalidJson: string;
  /** 415, a body that is not declared JSON. */
  unsupportedMediaType: string;
  /** 413, a body past the limit. */
  payloadTooLarge: string;
}

/** The library's codes, used unless a sample passes its own. */
export const ES_PROBLEM_CODES: ProblemCodes = {
  internal: ErrorCode.INTERNAL,
  invalidJson: ErrorCode.INVALID_JSON,
  unsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  payloadTooLarge: ErrorCode.PAYLOAD_TOO_LARGE,
};

/** Sends `body` as JSON with `status`; `headers` are added (or override the defaults). */
export function sendJson(
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

/** How {@link sendProblem} answers. */
export interface SendProblemOptions {
  /** The problem's `type` is this URI prefix followed by its code. */
  typePrefix?: string;
  /** The codes of this sample (only `internal` is used here). */
  codes?: ProblemCodes;
  /** Ends the connection after the answer (a 413 always does), e.g. while the server drains. */
  close?: boolean;
  /** Names the server in the log line of an unexpected error. */
  logPrefix?: string;
}

/**
 * Answers `err` as `application/problem+json` with type, title, status, detail, code and the extra
 * members. Anything but a {@link Problem} is a bug: it is logged and answered 500 without its details.
 * When the answer has already begun, the connection is cut instead; after a 413 it is closed.
 */
export function sendProblem(res: ServerResponse, err: unknown, options: SendProblemOptions = {}): void {
  const codes = options.codes ?? ES_PROBLEM_CODES;
  if (!(err instanceof Problem)) console.error(`${options.logPrefix ?? ''}request failed:`, err);
  const problem =
    err instanceof Problem ? err : new Problem(codes.internal, 'unexpected server error; see the server log');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({
    type: `${options.typePrefix ?? 'urn:lockfree-eventstore:error:'}${problem.code}`,
    title: STATUS_CODES[problem.status] ?? 'Error',
    status: problem.status,
    detail: problem.message,
    code: problem.code,
    ...problem.extra,
  });
  res.writeHead(problem.status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    // After a 413 the rest of the body was never read: the connection cannot carry another request.
    ...(options.close === true || problem.status === 413 ? { connection: 'close' } : {}),
    ...problem.headers,
  });
  res.end(text);
}

/** How {@link readJsonBody} reads. */
export interface ReadJsonOptions {
  /** A larger body is answered 413 as soon as it is declared or counted, without buffering the rest. */
  maxBytes: number;
  /** Refuse (415) a Content-Type other than `application/json` or `application/*+json`; default true. */
  requireJsonType?: boolean;
  /** The codes of this sample; the library's by default. */
  codes?: ProblemCodes;
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Reads the body, rejecting with 413 as soon as it passes `maxBytes` (declared or counted). */
function readBody(req: IncomingMessage, maxBytes: number, codes: ProblemCodes): Promise<Buffer> {
  const tooLarge = (): Problem =>
    new Problem(codes.payloadTooLarge, `the request body is larger than ${maxBytes} bytes`, {
      status: 413,
      extra: { maxBodyBytes: maxBytes },
    });
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > maxBytes) {
        // Stop buffering; the answer closes the connection.
        req.off('data', onData);
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, received)));
    req.once('error', (err) =>
      reject(
        new Problem(codes.invalidJson, `the request body was not received: ${err.message}`, { status: 400 }),
      ),
    );
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The parsed JSON body of `req`, or `undefined` when the body is empty or blank (each sample decides
 * what that means). Throws a {@link Problem}: 415 for another media type, 413 past `maxBytes`, 400
 * for bytes that are not UTF-8 JSON.
 */
export async function readJsonBody(req: IncomingMessage, options: ReadJsonOptions): Promise<unknown> {
  const codes = options.codes ?? ES_PROBLEM_CODES;
  const type = mediaType(req.headers['content-type']);
  if (
    options.requireJsonType !== false &&
    type !== 'application/json' &&
    !/^application\/[a-z0-9.+-]+\+json$/.test(type)
  ) {
    const path = (req.url ?? '/').split('?')[0]!.slice(0, 100);
    throw new Problem(
      codes.unsupportedMediaType,
      `${req.method} ${path} takes Content-Type application/json, received ${type === '' ? 'none' : JSON.stringify(type.slice(0, 100))}`,
      { status: 415 },
    );
  }
  const body = await readBody(req, options.maxBytes, codes);
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new Problem(codes.invalidJson, 'the request body is not valid UTF-8', { status: 400 });
  }
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Problem(codes.invalidJson, `the request body is not valid JSON: ${(err as Error).message}`, {
      status: 400,
    });
  }
}
