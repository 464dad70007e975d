// GET and HEAD on /v1/stream/{name}: a catch-up read from an offset (bounded, with ETag and
// If-None-Match), a long-poll (`live=long-poll`: waits for data, then 204 with the tail offset), and
// the stream's metadata (HEAD). SSE (`live=sse`) is sse.ts. Reads show acknowledged data only, and
// slide a TTL (HEAD does not).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Stream } from '../../streams/stream.js';
import { eventAt, type Position } from '../../streams/stream-chain.js';
import type { RouteContext } from '../context.js';
import { badRequest, header } from '../params.js';
import { longPoll } from '../read.js';
import { responseCursor } from './cursor.js';
import { formatOffset, type OffsetParam, parseOffsetParam } from './offsets.js';
import { rangeBody, readRange } from './read-range.js';
import { subscribeSse } from './sse.js';
import { readableStream, touchOnRead } from './stream-access.js';

/** Bytes of data one catch-up read or long-poll answers with at most (a larger message is sent whole). */
export const READ_BUDGET_BYTES = 1024 * 1024;

/** Where a read from `param` starts in `stream`; a position past the end or inside no chunk is 400. */
export function startPosition(ctx: RouteContext, stream: Stream, param: OffsetParam | undefined): Position {
  if (param === undefined || param === 'start')
    return { offset: ctx.registry.startOffset(stream.name), byte: 0 };
  if (param === 'now') return { offset: stream.committed, byte: 0 };
  if (param.offset > stream.committed) {
    throw badRequest(
      `offset ${formatOffset(param.offset, param.byte)} is past the end of the stream (${formatOffset(stream.committed)})`,
    );
  }
  if (param.byte > 0) {
    const chunk = eventAt((n) => ctx.registry.getAny(n), stream, param.offset);
    if (!(chunk instanceof Uint8Array) || param.byte >= chunk.length) {
      throw badRequest(`offset ${formatOffset(param.offset, param.byte)} is not a position in the stream`);
    }
  }
  return param;
}

/** `Cache-Control` of a read: historical data may be cached (privately when the server has a token); the tail not. */
function cacheControl(ctx: RouteContext, upToDate: boolean): string {
  if (upToDate) return 'no-store';
  return ctx.token === undefined ? 'public, max-age=60, stale-while-revalidate=300' : 'private, max-age=60';
}

function etagOf(stream: Stream, from: Position, next: Position, closed: boolean): string {
  const tag = `${stream.createdAt.toString(36)}:${from.offset}.${from.byte}:${next.offset}.${next.byte}`;
  return `"${tag}${closed ? ':c' : ''}"`;
}

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

/** `GET /v1/stream/{name}`: catch-up, long-poll or SSE. */
export async function readStream(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteContext,
  name: string,
  params: URLSearchParams,
): Promise<void> {
  const now = Date.now();
  let stream = readableStream(ctx, name, now);
  const param = parseOffsetParam(params);
  const live = params.get('live');
  if (live !== null && live !== 'long-poll' && live !== 'sse') {
    throw badRequest(`live must be long-poll or sse, received ${JSON.stringify(live.slice(0, 40))}`);
  }
  if (live !== null && param === undefined) {
    throw badRequest(`live=${live} needs an offset (-1 for the start, now for the end)`);
  }
  touchOnRead(ctx, stream, now);
  let from = startPosition(ctx, stream, param);
  if (live === 'sse') {
    subscribeSse(res, ctx, stream, from, params.get('cursor'));
    return;
  }
  const headers: Record<string, string> = {};
  if (live === 'long-poll') headers['stream-cursor'] = responseCursor(params.get('cursor'), now);
  let read = readRange(ctx, stream, from, READ_BUDGET_BYTES);
  if (live === 'long-poll' && read.upToDate && read.byteLength === 0) {
    if (!stream.closeCommitted) {
      const s = stream;
      const at = from.offset;
      await longPoll(
        ctx,
        (done) => s.onChange(() => (s.committed > at || s.closeCommitted || s.deleted) && done()),
        res,
        ctx.limits.longPollTimeoutMs,
      );
      stream = readableStream(ctx, name, Date.now());
      from = startPosition(ctx, stream, from);
      read = readRange(ctx, stream, from, READ_BUDGET_BYTES);
      headers['stream-cursor'] = responseCursor(params.get('cursor'), Date.now());
    }
    if (read.byteLength === 0) {
      // Nothing came (or the stream is closed at this offset): 204 with where to go on from.
      headers['stream-next-offset'] = formatOffset(read.next.offset, read.next.byte);
      headers['stream-up-to-date'] = 'true';
      if (stream.closeCommitted) headers['stream-closed'] = 'true';
      headers['cache-control'] = 'no-store';
      res.writeHead(204, headers);
      res.end();
      return;
    }
  }
  const closed = read.upToDate && stream.closeCommitted;
  headers['content-type'] = stream.config.contentType;
  headers['stream-next-offset'] = formatOffset(read.next.offset, read.next.byte);
  if (read.upToDate) headers['stream-up-to-date'] = 'true';
  if (closed) headers['stream-closed'] = 'true';
  if (param === 'now' && live === null) {
    headers['cache-control'] = 'no-store';
  } else {
    headers['cache-control'] = live === 'long-poll' ? 'no-store' : cacheControl(ctx, read.upToDate);
    headers.etag = etagOf(stream, from, read.next, closed);
    if (matches(header(req, 'if-none-match'), headers.etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
  }
  const body = rangeBody(stream, read);
  headers['content-length'] = String(body.length);
  res.writeHead(200, headers);
  res.end(body);
}

/** `HEAD /v1/stream/{name}`: the stream's metadata, without refreshing its TTL. */
export function headStream(res: ServerResponse, ctx: RouteContext, name: string): void {
  const stream = readableStream(ctx, name, Date.now());
  const headers: Record<string, string> = {
    'content-type': stream.config.contentType,
    'stream-next-offset': formatOffset(stream.committed),
    'cache-control': 'no-store',
  };
  if (stream.closeCommitted) headers['stream-closed'] = 'true';
  if (stream.config.ttlSeconds !== undefined) headers['stream-ttl'] = String(stream.config.ttlSeconds);
  if (stream.config.expiresAtMs !== undefined) {
    headers['stream-expires-at'] = new Date(stream.config.expiresAtMs).toISOString();
  }
  res.writeHead(200, headers);
  res.end();
}
