// GET /streams/{name}: a page of events (JSON or NDJSON), a long-poll for the next ones, a live SSE
// subscription, or an aggregation. Readers see acknowledged events only; a stream that does not exist
// yet is waited for by long-polls (bounded by their wait) and subscriptions.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../errors.js';
import type { StreamPage } from '../../protocol.js';
import type { Stream } from '../streams/stream.js';
import { catchUp } from './cluster.js';
import type { LiveResponse, RouteContext } from './context.js';
import { SseSubscription, type StartAt, writeNdjson } from './live.js';
import { badRequest, header, integerText, parseFrom, parsePath, parseTime } from './params.js';
import { problem } from './problem.js';
import { sendJson } from './respond.js';

/**
 * The stream, or ES_ERR_STREAM_NOT_FOUND; a byte stream of the Durable Streams endpoint is
 * ES_ERR_CONTENT_TYPE_MISMATCH here (these routes read and write JSON events).
 */
export function streamOrThrow(ctx: RouteContext, name: string): Stream {
  const stream = ctx.registry.get(name);
  if (stream === undefined) {
    throw problem(ErrorCode.STREAM_NOT_FOUND, `stream ${JSON.stringify(name)} does not exist`);
  }
  if (!stream.json) {
    throw problem(
      ErrorCode.CONTENT_TYPE_MISMATCH,
      `stream ${JSON.stringify(name)} holds ${stream.config.contentType} bytes, not JSON events; read it under /v1/stream/`,
      { contentType: stream.config.contentType },
    );
  }
  return stream;
}

function evicted(stream: Stream, from: number): Error {
  return problem(
    ErrorCode.OFFSET_EVICTED,
    `offset ${from} of stream ${JSON.stringify(stream.name)} was evicted; the oldest offset held is ${stream.firstOffset}`,
    { firstOffset: stream.firstOffset, requestedOffset: from },
  );
}

/** A page of acknowledged events; with `wait`, a long-poll when there is nothing at `from` yet. */
export async function read(
  res: ServerResponse,
  ctx: RouteContext,
  name: string,
  params: URLSearchParams,
  ndjson: boolean,
): Promise<void> {
  const fromParam = parseFrom(params.get('from'));
  const limitParam = integerText('limit', params.get('limit'));
  const waitParam = integerText('wait', params.get('wait'));
  let wait = Math.min(waitParam ?? 0, ctx.limits.maxWaitMs);
  // In a cluster, the node first applies what the log holds (a change acknowledged by another node,
  // an eviction or a delete too, is then in the answer).
  await catchUp(res, ctx);
  let stream = ctx.registry.get(name);
  if (stream === undefined && wait > 0) {
    // A long-poll on a stream that does not exist yet waits for its creation, like a tail of a new
    // log (the rest of the wait then applies to its first events).
    const startedAt = Date.now();
    await longPoll(ctx, (done) => ctx.registry.whenCreated(name, done), res, wait);
    wait = Math.max(0, wait - (Date.now() - startedAt));
  }
  stream = streamOrThrow(ctx, name);
  const limit = Math.min(
    limitParam ?? (ndjson ? stream.capacity : ctx.limits.defaultReadLimit),
    ndjson ? stream.capacity : ctx.limits.maxReadLimit,
  );
  const from =
    fromParam === 'now' ? stream.committed : (fromParam ?? Math.min(stream.firstOffset, stream.committed));
  if (from < stream.firstOffset) throw evicted(stream, from);
  let page: StreamPage = stream.read(from, limit);
  if (page.events.length === 0 && wait > 0 && limit > 0) {
    const s = stream;
    await longPoll(ctx, (done) => s.onChange(() => (s.committed > from || s.deleted) && done()), res, wait);
    stream = streamOrThrow(ctx, name);
    if (from < stream.firstOffset) throw evicted(stream, from);
    page = stream.read(from, limit);
  }
  if (ndjson) {
    res.writeHead(200, {
      'content-type': 'application/x-ndjson',
      'cache-control': 'no-store',
      'stream-first-offset': String(page.firstOffset),
      'stream-last-offset': String(page.lastOffset),
      'stream-next-offset': String(page.nextOffset),
    });
    // A failed write (the client left or stalled, or an event that cannot be written) ends the
    // response: a reader never waits on a response that will not finish.
    await writeNdjson(res, page.events, ctx.limits.stallMs).catch(() => res.destroy());
    return;
  }
  sendJson(res, 200, { stream: name, ...page });
}

/**
 * A long-poll's wait: resolves when `watch` calls its `done` (a commit past the reader's offset, a
 * creation), the wait ends, the client leaves or the server stops. Counted toward `maxSubscribers`.
 */
export async function longPoll(
  ctx: RouteContext,
  watch: (done: () => void) => () => void,
  res: ServerResponse,
  waitMs: number,
): Promise<void> {
  refuseIfLiveReadersFull(ctx);
  ctx.metrics.longPolls++;
  try {
    await new Promise<void>((resolve) => {
      const live: LiveResponse = { stop: () => done() };
      const off = watch(() => done());
      const timer = setTimeout(() => done(), waitMs);
      const done = (): void => {
        clearTimeout(timer);
        off();
        ctx.live.delete(live);
        res.off('close', done);
        resolve();
      };
      ctx.live.add(live);
      res.on('close', done);
    });
  } finally {
    ctx.metrics.longPolls--;
  }
}

/** SSE subscriptions and waiting long-polls share `maxSubscribers`, so they cannot take every connection. */
export function refuseIfLiveReadersFull(ctx: RouteContext): void {
  if (ctx.metrics.liveSubscribers + ctx.metrics.longPolls >= ctx.limits.maxSubscribers) {
    throw problem(
      ErrorCode.LIMIT_EXCEEDED,
      `the server has its maximum of ${ctx.limits.maxSubscribers} live readers (subscriptions and long-polls)`,
      { maxSubscribers: ctx.limits.maxSubscribers, retryAfterSeconds: 1 },
    );
  }
}

/** `Accept: text/event-stream`: a live subscription from `Last-Event-ID + 1`, `from`, or the oldest. */
export async function subscribe(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteContext,
  name: string,
  params: URLSearchParams,
): Promise<void> {
  const lastEventId = header(req, 'last-event-id')?.trim();
  // `-1`: the subscription began at offset 0 (its start was sent as `id: -1`) and has not delivered
  // an event yet.
  const resumeAfter =
    lastEventId === undefined
      ? undefined
      : lastEventId === '-1'
        ? -1
        : integerText('Last-Event-ID', lastEventId);
  const fromParam = parseFrom(params.get('from'));
  const start: StartAt = resumeAfter !== undefined ? resumeAfter + 1 : (fromParam ?? 'oldest');
  await catchUp(res, ctx);
  // An existing stream is checked now (a clear 410 instead of an event stream that ends at once); a
  // stream that does not exist yet is waited for by the subscription.
  const stream = ctx.registry.get(name) === undefined ? undefined : streamOrThrow(ctx, name);
  if (stream !== undefined && typeof start === 'number' && start < stream.firstOffset) {
    throw evicted(stream, start);
  }
  refuseIfLiveReadersFull(ctx);
  ctx.metrics.liveSubscribers++;
  const sub = new SseSubscription(
    res,
    {
      name,
      get: () => ctx.registry.get(name),
      whenCreated: (listener) => ctx.registry.whenCreated(name, listener),
    },
    start,
    { heartbeatMs: ctx.limits.heartbeatMs, stallMs: ctx.limits.stallMs },
    () => {
      ctx.metrics.liveSubscribers--;
      ctx.metrics.sseEventsSent += sub.sent;
      ctx.live.delete(sub);
    },
  );
  ctx.live.add(sub);
  sub.start();
}

const AGGREGATE_ON = new Set(['true', '1', 'yes', 'on', '']);

/** `?aggregate=true&field=…`: totals (and groups) of a numeric field, computed in the server. */
export async function aggregate(
  res: ServerResponse,
  ctx: RouteContext,
  name: string,
  params: URLSearchParams,
): Promise<void> {
  const flag = params.get('aggregate')!.toLowerCase();
  if (!AGGREGATE_ON.has(flag)) {
    throw badRequest(
      `aggregate must be true, 1, yes, on or empty to aggregate (leave it out to read events), received ${JSON.stringify(flag.slice(0, 40))}`,
    );
  }
  const field = parsePath('field', params.get('field'));
  if (field === undefined) throw badRequest('aggregate needs field=<numeric field of the events>');
  const groupBy = parsePath('groupBy', params.get('groupBy'));
  const from = parseTime('from', params.get('from'));
  const to = parseTime('to', params.get('to'));
  await catchUp(res, ctx);
  const stream = streamOrThrow(ctx, name);
  const range: { from?: number; to?: number } = {};
  if (from !== undefined) range.from = from;
  if (to !== undefined) range.to = to;
  sendJson(res, 200, { stream: name, ...stream.aggregate(field, groupBy, range) });
}
