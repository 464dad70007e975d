// The request headers of the Durable Streams endpoint, parsed and validated: content types, expiry
// (`Stream-TTL`, `Stream-Expires-At`), `Stream-Closed`, `Stream-Seq` and the fork headers. Producer
// headers are the server's own (params.ts). Every refusal is ES_ERR_BAD_REQUEST naming what was
// received. Pure functions.

import type { IncomingMessage } from 'node:http';
import type { ForkRequest } from '../../streams/stream-create.js';
import { badRequest, header, validateStreamName } from '../params.js';
import { parsePosition } from './offsets.js';

/** The path prefix of the endpoint; a stream's name is the rest of the path. */
export const DURABLE_STREAMS_PREFIX = '/v1/stream/';

const CONTENT_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+\s*(;.*)?$/;
const NON_NEGATIVE = /^(0|[1-9][0-9]*)$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
/** Longest `Stream-Seq` taken (it is kept per stream and compared as a string). */
const MAX_SEQ_LENGTH = 256;

/** The request's `Content-Type` (trimmed), undefined when absent or empty; malformed: 400. */
export function contentTypeOf(req: IncomingMessage): string | undefined {
  const value = header(req, 'content-type')?.trim();
  if (value === undefined || value === '') return undefined;
  if (!CONTENT_TYPE.test(value)) {
    throw badRequest(
      `Content-Type ${JSON.stringify(value.slice(0, 100))} is not a media type like text/plain`,
    );
  }
  return value;
}

/** `Stream-TTL` (seconds, a non-negative integer without sign or leading zeros) and `Stream-Expires-At` (RFC 3339). */
export function parseExpiry(req: IncomingMessage): { ttlSeconds?: number; expiresAtMs?: number } {
  const ttl = header(req, 'stream-ttl');
  const expiresAt = header(req, 'stream-expires-at');
  if (ttl !== undefined && expiresAt !== undefined) {
    throw badRequest('Stream-TTL and Stream-Expires-At exclude each other; send one');
  }
  if (ttl !== undefined) {
    const seconds = Number(ttl);
    if (!NON_NEGATIVE.test(ttl) || !Number.isSafeInteger(seconds * 1000)) {
      throw badRequest(
        `Stream-TTL must be whole seconds (digits, no sign or leading zero), received ${JSON.stringify(ttl.slice(0, 40))}`,
      );
    }
    return { ttlSeconds: seconds };
  }
  if (expiresAt !== undefined) {
    const ms = Date.parse(expiresAt);
    if (!RFC3339.test(expiresAt) || !Number.isFinite(ms)) {
      throw badRequest(
        `Stream-Expires-At must be an RFC 3339 time like 2030-01-01T00:00:00Z, received ${JSON.stringify(expiresAt.slice(0, 60))}`,
      );
    }
    return { expiresAtMs: ms };
  }
  return {};
}

/** `Stream-Closed`: `true` closes, `false` or absent does not. */
export function parseClosed(req: IncomingMessage): boolean {
  const value = header(req, 'stream-closed')?.trim().toLowerCase();
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw badRequest(`Stream-Closed must be true or false, received ${JSON.stringify(value.slice(0, 40))}`);
}

/** `Stream-Seq`: 1-256 printable ASCII characters, compared as a string. */
export function parseStreamSeq(req: IncomingMessage): string | undefined {
  const value = header(req, 'stream-seq');
  if (value === undefined) return undefined;
  if (value.length === 0 || value.length > MAX_SEQ_LENGTH || !/^[\x20-\x7e]+$/.test(value)) {
    throw badRequest(`Stream-Seq must be 1-${MAX_SEQ_LENGTH} printable ASCII characters`);
  }
  return value;
}

/** The stream name of an endpoint path, or of an absolute URL of one. */
export function streamNameOf(path: string): string {
  let p = path;
  if (/^https?:\/\//i.test(p)) {
    try {
      p = new URL(p).pathname;
    } catch {
      throw badRequest(`${JSON.stringify(path.slice(0, 100))} is not a stream URL`);
    }
  }
  if (!p.startsWith(DURABLE_STREAMS_PREFIX)) {
    throw badRequest(
      `a stream is named by its path ${DURABLE_STREAMS_PREFIX}<name>, received ${JSON.stringify(p.slice(0, 100))}`,
    );
  }
  let name: string;
  try {
    name = decodeURIComponent(p.slice(DURABLE_STREAMS_PREFIX.length));
  } catch {
    throw badRequest('the stream name is not valid percent-encoding');
  }
  return validateStreamName(name);
}

/** The fork a `PUT` asks for (`Stream-Forked-From`, `Stream-Fork-Offset`, `Stream-Fork-Sub-Offset`), if any. */
export function parseFork(req: IncomingMessage): ForkRequest | undefined {
  const from = header(req, 'stream-forked-from');
  const offset = header(req, 'stream-fork-offset');
  const sub = header(req, 'stream-fork-sub-offset');
  if (from === undefined) {
    if (offset !== undefined || sub !== undefined) {
      throw badRequest('Stream-Fork-Offset and Stream-Fork-Sub-Offset need Stream-Forked-From');
    }
    return undefined;
  }
  const fork: ForkRequest = { source: streamNameOf(from.trim()), sub: 0 };
  if (offset !== undefined) {
    const at = parsePosition(offset.trim());
    if (at === undefined) {
      throw badRequest(
        `Stream-Fork-Offset ${JSON.stringify(offset.slice(0, 60))} is not an offset of this server`,
      );
    }
    fork.at = at;
  }
  if (sub !== undefined) {
    const n = Number(sub);
    if (!NON_NEGATIVE.test(sub) || !Number.isSafeInteger(n)) {
      throw badRequest(
        `Stream-Fork-Sub-Offset must be a non-negative integer, received ${JSON.stringify(sub.slice(0, 40))}`,
      );
    }
    fork.sub = n;
  }
  return fork;
}
