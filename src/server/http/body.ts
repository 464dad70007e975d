// Bounded request bodies and the parsing of append payloads (JSON value, JSON array, NDJSON).
// The reader counts bytes as they arrive and gives up past the limit without buffering the rest;
// the caller answers 413 and closes the connection.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../errors.js';
import { checkJsonText } from '../../json.js';
import { closeSoon } from './connections.js';
import { problem } from './problem.js';

/** Bytes of a refused body read and dropped after the 413 (so the client, done sending, reads it). */
function drainLimit(maxBytes: number): number {
  return Math.max(2 * maxBytes, 16 * 1024 * 1024);
}

/**
 * After a 413: reads and drops the rest of the request body, up to a bound, then closes the
 * connection once both the answer is written and the body is in. Most clients read the answer only
 * once they have sent their body, and a connection closed under a body still arriving is reset, which
 * loses the answer; a body past the bound is cut all the same.
 */
export function drainAndClose(req: IncomingMessage, res: ServerResponse, maxBytes: number): void {
  const socket = req.socket;
  const bound = drainLimit(maxBytes);
  let dropped = 0;
  let answered = res.writableFinished;
  let received = req.complete;
  const close = (): void => {
    if (answered && received) closeSoon(socket);
  };
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > bound) socket.destroy();
  });
  req.once('end', () => {
    received = true;
    close();
  });
  res.once('finish', () => {
    answered = true;
    close();
  });
  req.resume();
  close();
}

/**
 * Reads the whole body, or rejects with ES_ERR_PAYLOAD_TOO_LARGE as soon as it exceeds `maxBytes` (a
 * larger `Content-Length` is refused before reading). The caller answers 413 and then
 * {@link drainAndClose}s the connection.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = (): Error =>
    problem(ErrorCode.PAYLOAD_TOO_LARGE, `the request body is larger than ${maxBytes} bytes`, {
      maxBodyBytes: maxBytes,
    });
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const finish = (err: unknown, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err !== undefined) reject(err);
      else resolve(body!);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > maxBytes) {
        chunks.length = 0;
        finish(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(undefined, Buffer.concat(chunks, received));
    // The client left mid-body: nothing was appended and nobody reads the answer.
    const onError = (err: Error): void =>
      finish(problem(ErrorCode.BAD_REQUEST, `the request body was not received: ${err.message}`));
    const onAborted = (): void => finish(problem(ErrorCode.BAD_REQUEST, 'the client aborted the request'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(header: string | undefined): string {
  if (header === undefined) return '';
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}

export type AppendFormat = 'json' | 'ndjson';

/** The body format of an append, from its Content-Type; anything else is 415. */
export function appendFormat(header: string | undefined): AppendFormat {
  const type = mediaType(header);
  if (type === 'application/json') return 'json';
  if (type === 'application/x-ndjson' || type === 'application/ndjson') return 'ndjson';
  throw problem(
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    `appends take Content-Type application/json or application/x-ndjson, received ${type === '' ? 'none' : JSON.stringify(type.slice(0, 100))}`,
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw problem(ErrorCode.INVALID_JSON, `${where} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The events of an append body, and (for JSON bodies) their JSON text as one array, from the body bytes. */
export interface ParsedEvents {
  events: unknown[];
  /** Estimated heap bytes of the events (see `checkJsonText`). */
  heapBytes: number;
  /** UTF-8 JSON text of `events` as an array (a JSON body without its BOM, bracketed if needed). */
  json: Uint8Array | undefined;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];
const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');

/**
 * The events of an append body: a JSON value is one event, a JSON array is a batch, NDJSON is one event
 * per non-blank line. An empty body (or batch, unless `allowEmptyBatch`: then no events) is 400; bad
 * JSON or UTF-8 is 400 ES_ERR_INVALID_JSON; an event nested deeper than `maxJsonDepth` is 400
 * ES_ERR_JSON_TOO_DEEP, a number that does not survive the round trip 400
 * ES_ERR_UNREPRESENTABLE_NUMBER (checked on the bytes, before anything is stored).
 */
export function parseEvents(
  body: Buffer,
  format: AppendFormat,
  maxJsonDepth: number,
  allowEmptyBatch = false,
): ParsedEvents {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw problem(ErrorCode.INVALID_JSON, 'the request body is not valid UTF-8');
  }
  if (text.trim() === '') throw problem(ErrorCode.BAD_REQUEST, 'the request body is empty');
  if (format === 'json') {
    const value = parseJson(text, 'the request body');
    // The decoder dropped a byte-order mark from `text`; the bytes must lose it too to stay JSON.
    const bom = body.length >= 3 && UTF8_BOM.every((b, i) => body[i] === b);
    const json = bom ? body.subarray(3) : body;
    // A batch's array is one level above its events.
    const heapBytes = checkJsonText(
      json,
      Array.isArray(value) ? maxJsonDepth + 1 : maxJsonDepth,
      'the request body',
    );
    if (!Array.isArray(value))
      return { events: [value], heapBytes, json: Buffer.concat([OPEN, json, CLOSE]) };
    if (value.length === 0) {
      if (allowEmptyBatch) return { events: [], heapBytes: 0, json: undefined };
      throw problem(ErrorCode.BAD_REQUEST, 'the batch is an empty array');
    }
    return { events: value, heapBytes, json };
  }
  const events: unknown[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    events.push(parseJson(line, `NDJSON line ${i + 1}`));
  }
  const heapBytes = checkJsonText(body, maxJsonDepth, 'the NDJSON body');
  return { events, heapBytes, json: undefined };
}
