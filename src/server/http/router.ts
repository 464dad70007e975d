// The HTTP routes: request parsing and validation (names, query parameters, headers), dispatch to the
// stream registry, and the replies. Runs on the server's thread; an append is validated and applied in
// one synchronous step and acknowledged only after the journal has it (`ctx.flush()`).

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { crc32 } from 'node:zlib';
import type { Logger } from 'pino';
import { ErrorCode } from '../errors.js';
import { stringifyJson } from '../json.js';
import type { SnapshotterMetrics } from '../snapshots/types.js';
import { appendFormat, drainAndClose, parseEvents, readBody } from './body.js';
import { allowedOrigin, type CorsPolicy, variesByOrigin } from './cors.js';
import { renderPrometheus, type ServerMetrics } from './metrics.js';
import { HttpProblem, sendProblem, statusOf } from './problem.js';
import { SseSubscription, type StartAt, writeNdjson } from './sse.js';
import type { Stream, StreamPage } from './stream.js';
import type { AppendResult, ProducerRequest, StreamRegistry } from './stream-registry.js';

/** Limits and timings the routes use (resolved server options). */
export interface RouteLimits {
  maxBodyBytes: number;
  maxJsonDepth: number;
  maxStreamCapacity: number;
  defaultReadLimit: number;
  maxReadLimit: number;
  maxWaitMs: number;
  maxSubscribers: number;
  heartbeatMs: number;
  stallMs: number;
  fsync: string;
  shards: number;
}

/** Something that holds a response open (SSE, long-poll) and can be ended at shutdown. */
export interface LiveResponse {
  stop(): void;
}

export interface RouteContext {
  readonly registry: StreamRegistry;
  readonly limits: RouteLimits;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly token: string | undefined;
  /** Browser origins allowed to call the server (CORS); none when undefined. */
  readonly cors: CorsPolicy | undefined;
  readonly live: Set<LiveResponse>;
  draining(): boolean;
  /** Age of the oldest change a failed snapshot save should have persisted; 0 when none is failing. */
  snapshotsFailingForMs(): number;
  /** Fail-closed mode: milliseconds snapshots have been failing, if past the threshold; 0 otherwise. */
  failClosedForMs(): number;
  /** Resolves when every change made so far is in the journal (immediately without persistence). */
  flush(): Promise<void>;
  snapshotMetrics(): SnapshotterMetrics | undefined;
  /** Open connections now. */
  connectionCount(): number;
}

const ALLOWED_HEADERS =
  'authorization, content-type, expected-version, producer-id, producer-epoch, producer-seq, last-event-id';
const EXPOSED_HEADERS = 'es-current-version, stream-first-offset, stream-last-offset, stream-next-offset';

const NAME_SEGMENT = /^[A-Za-z0-9._~-]+$/;
const MAX_NAME_LENGTH = 200;
const INTEGER = /^(0|[1-9][0-9]*)$/;

/** Validates a stream name; returns it or throws ES_ERR_INVALID_STREAM_NAME. */
export function validateStreamName(name: string): string {
  const bad = (why: string): HttpProblem =>
    new HttpProblem(
      ErrorCode.INVALID_STREAM_NAME,
      `stream name ${JSON.stringify(name.slice(0, 60))} ${why}; use 1-${MAX_NAME_LENGTH} letters, digits and ._-~/`,
    );
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) throw bad(`has ${name.length} characters`);
  for (const segment of name.split('/')) {
    if (segment === '') throw bad('has an empty segment');
    if (segment === '.' || segment === '..') throw bad('has a dot segment');
    if (!NAME_SEGMENT.test(segment)) throw bad('has a character outside the allowed set');
  }
  return name;
}

function badRequest(detail: string): HttpProblem {
  return new HttpProblem(ErrorCode.BAD_REQUEST, detail);
}

/** A non-negative safe integer from text, or undefined when absent; 400 otherwise. */
function integerText(what: string, text: string | null | undefined): number | undefined {
  if (text === null || text === undefined) return undefined;
  const n = Number(text);
  if (!INTEGER.test(text) || !Number.isSafeInteger(n)) {
    throw badRequest(`${what} must be a non-negative integer, received ${JSON.stringify(text.slice(0, 40))}`);
  }
  return n;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function parseExpectedVersion(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  const n = Number(t);
  if (!/^(-1|0|[1-9][0-9]*)$/.test(t) || !Number.isSafeInteger(n)) {
    throw badRequest(
      `Expected-Version must be an integer >= -1 (the last offset expected, -1 for an empty stream), received ${JSON.stringify(t.slice(0, 40))}`,
    );
  }
  return n;
}

const PRODUCER_ID = /^[\x21-\x7e]{1,200}$/;

function parseProducer(req: IncomingMessage): ProducerRequest | undefined {
  const id = header(req, 'producer-id');
  const epoch = header(req, 'producer-epoch');
  const seq = header(req, 'producer-seq');
  if (id === undefined && epoch === undefined && seq === undefined) return undefined;
  if (id === undefined || epoch === undefined || seq === undefined) {
    throw badRequest('Producer-Id, Producer-Epoch and Producer-Seq must be sent together');
  }
  if (!PRODUCER_ID.test(id)) throw badRequest('Producer-Id must be 1-200 visible ASCII characters');
  return {
    id,
    epoch: integerText('Producer-Epoch', epoch.trim())!,
    seq: integerText('Producer-Seq', seq.trim())!,
  };
}

/** A time query parameter: epoch ms digits or an ISO 8601 date. */
function parseTime(what: string, text: string | null): number | undefined {
  if (text === null) return undefined;
  if (/^-?[0-9]+$/.test(text)) {
    const n = Number(text);
    if (Number.isSafeInteger(n)) return n;
  } else if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return ms;
  }
  throw badRequest(
    `${what} must be epoch milliseconds or an ISO 8601 date, received ${JSON.stringify(text.slice(0, 40))}`,
  );
}

/** A field path of `aggregate`: dot-separated keys. */
function parsePath(what: string, text: string | null): string[] | undefined {
  if (text === null) return undefined;
  if (text.length === 0 || text.length > 200 || text.split('.').some((k) => k === '')) {
    throw badRequest(`${what} must be a field name or a dotted path (a.b), 1-200 characters`);
  }
  return text.split('.');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = stringifyJson(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
  });
  res.end(payload);
}

function methodNotAllowed(allow: string): HttpProblem {
  return new HttpProblem(ErrorCode.METHOD_NOT_ALLOWED, `allowed methods: ${allow}`, {}, { allow });
}

const BEARER = /^\s*bearer\s+(\S+)\s*$/i;

/**
 * `Authorization: Bearer <token>` (the scheme in any case). The tokens are compared as SHA-256
 * digests of equal length in constant time, so the time taken tells nothing of the token's length.
 */
function authorized(req: IncomingMessage, token: string): boolean {
  const m = BEARER.exec(header(req, 'authorization') ?? '');
  const given = createHash('sha256')
    .update(m?.[1] ?? '')
    .digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected) && m !== null;
}

/** Handles one request; never throws (every failure becomes a problem response). */
export async function handleRequest(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteContext,
): Promise<void> {
  let route = 'other';
  res.on('finish', () => ctx.metrics.countRequest(route, res.statusCode));
  if (ctx.cors !== undefined) {
    const allowed = allowedOrigin(ctx.cors, header(req, 'origin'));
    if (allowed !== undefined) {
      res.setHeader('access-control-allow-origin', allowed);
      res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
    }
    if (variesByOrigin(ctx.cors)) res.setHeader('vary', 'origin');
  }
  try {
    if (ctx.cors !== undefined && req.method === 'OPTIONS') {
      // A CORS preflight: answered before authentication (browsers send no credentials with it).
      route = 'preflight';
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, DELETE',
        'access-control-allow-headers': ALLOWED_HEADERS,
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    if (ctx.draining()) {
      throw new HttpProblem(
        ErrorCode.SHUTTING_DOWN,
        'the server is shutting down',
        {},
        { 'retry-after': '1' },
      );
    }
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
    // HEAD is GET without the body (node:http leaves the body out of HEAD answers).
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    if (path === '/health') {
      route = 'health';
      if (method !== 'GET') throw methodNotAllowed('GET, HEAD');
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (ctx.token !== undefined && !authorized(req, ctx.token)) {
      throw new HttpProblem(
        ErrorCode.UNAUTHORIZED,
        'this server requires Authorization: Bearer <token>',
        {},
        { 'www-authenticate': 'Bearer' },
      );
    }
    if (path === '/streams' || path === '/streams/') {
      route = 'streams';
      if (method !== 'GET') throw methodNotAllowed('GET, HEAD');
      onlyParams(params, ['prefix', 'limit', 'after'], 'GET /streams');
      listStreams(res, ctx, params);
      return;
    }
    if (path === '/stats') {
      route = 'stats';
      if (method !== 'GET') throw methodNotAllowed('GET, HEAD');
      sendJson(res, 200, stats(ctx));
      return;
    }
    if (path === '/metrics') {
      route = 'metrics';
      if (method !== 'GET') throw methodNotAllowed('GET, HEAD');
      const text = renderPrometheus({
        metrics: ctx.metrics,
        streams: ctx.registry.streamCount,
        events: ctx.registry.eventCount(),
        producersEvicted: ctx.registry.producersEvicted,
        snapshots: ctx.snapshotMetrics(),
        snapshotsFailingForMs: ctx.snapshotsFailingForMs(),
        failClosed: ctx.failClosedForMs() > 0,
      });
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(text);
      return;
    }
    if (path.startsWith('/streams/')) {
      let name: string;
      try {
        name = decodeURIComponent(path.slice('/streams/'.length));
      } catch {
        throw new HttpProblem(ErrorCode.INVALID_STREAM_NAME, 'the stream name is not valid percent-encoding');
      }
      if (method === 'POST') {
        route = 'append';
        onlyParams(params, ['capacity'], 'an append');
        await append(req, res, ctx, validateStreamName(name), params);
      } else if (method === 'GET') {
        validateStreamName(name);
        const accept = header(req, 'accept') ?? '';
        if (params.has('aggregate')) {
          route = 'aggregate';
          onlyParams(params, ['aggregate', 'field', 'groupBy', 'from', 'to'], 'an aggregation');
          aggregate(res, ctx, name, params);
        } else if (accept.includes('text/event-stream')) {
          route = 'subscribe';
          onlyParams(params, ['from'], 'a subscription');
          subscribe(req, res, ctx, name, params);
        } else {
          route = 'read';
          onlyParams(params, ['from', 'limit', 'wait'], 'a read');
          await read(res, ctx, name, params, accept.includes('application/x-ndjson'));
        }
      } else if (method === 'DELETE') {
        route = 'delete';
        onlyParams(params, [], 'a delete');
        await remove(res, ctx, validateStreamName(name));
      } else throw methodNotAllowed('GET, HEAD, POST, DELETE');
      return;
    }
    throw new HttpProblem(ErrorCode.NOT_FOUND, `no route for ${JSON.stringify(path.slice(0, 100))}`);
  } catch (err) {
    if (!(err instanceof HttpProblem) && (err as { code?: string }).code !== ErrorCode.JOURNAL_FAILED) {
      ctx.logger.error({ err, method: req.method, url: req.url?.slice(0, 300) }, 'request failed');
    }
    if (statusOf(err) === 409) ctx.metrics.conflicts++;
    if (err instanceof HttpProblem && err.code === ErrorCode.PAYLOAD_TOO_LARGE) {
      // Not `Connection: close`: node would close as soon as the answer is written, resetting a
      // client still sending its body (which then never reads the 413).
      sendProblem(res, err, false);
      drainAndClose(req, res, ctx.limits.maxBodyBytes);
      return;
    }
    sendProblem(res, err, ctx.draining());
  }
}

async function append(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteContext,
  name: string,
  params: URLSearchParams,
): Promise<void> {
  const format = appendFormat(header(req, 'content-type'));
  const expectedVersion = parseExpectedVersion(header(req, 'expected-version'));
  const producer = parseProducer(req);
  const capacity = integerText('capacity', params.get('capacity'));
  if (capacity !== undefined && (capacity < 1 || capacity > ctx.limits.maxStreamCapacity)) {
    throw badRequest(`capacity must be in [1, ${ctx.limits.maxStreamCapacity}], received ${capacity}`);
  }
  const body = await readBody(req, ctx.limits.maxBodyBytes);
  const { events, heapBytes, json } = parseEvents(body, format, ctx.limits.maxJsonDepth);
  if (ctx.draining()) throw new HttpProblem(ErrorCode.SHUTTING_DOWN, 'the server is shutting down');
  refuseWritesIfFailClosed(ctx);
  let result: AppendResult;
  try {
    result = ctx.registry.append(name, events, {
      expectedVersion,
      producer,
      hash: producer === undefined ? 0 : crc32(body), // compared on producer retries only
      capacity,
      timestamp: Date.now(),
      bytes: heapBytes,
      json,
    });
  } catch (err) {
    // A conflict names offsets or a version of appends that may still wait for the journal: it is
    // answered once they are acknowledged, like the appends themselves.
    if (err instanceof HttpProblem && statusOf(err) === 409) await ctx.flush();
    throw err;
  }
  const stream = ctx.registry.get(name);
  // Acknowledge only what the journal holds; the wait is shared by every append of this turn.
  await flushOrUnknown(ctx, 'append');
  stream?.commit(result.lastOffset + 1);
  if (result.duplicate === true) ctx.metrics.duplicateAppends++;
  else {
    ctx.metrics.appendRequests++;
    ctx.metrics.appendedEvents += result.count;
  }
  sendJson(res, result.duplicate === true ? 200 : 201, result);
}

function streamOrThrow(ctx: RouteContext, name: string): Stream {
  const stream = ctx.registry.get(name);
  if (stream === undefined) {
    throw new HttpProblem(ErrorCode.STREAM_NOT_FOUND, `stream ${JSON.stringify(name)} does not exist`);
  }
  return stream;
}

function evicted(stream: Stream, from: number): HttpProblem {
  return new HttpProblem(
    ErrorCode.OFFSET_EVICTED,
    `offset ${from} of stream ${JSON.stringify(stream.name)} was evicted; the oldest offset held is ${stream.firstOffset}`,
    { firstOffset: stream.firstOffset, requestedOffset: from },
  );
}

/** A `from` parameter: an offset, `now` (the end: only what comes next), or absent. */
function parseFrom(text: string | null): number | 'now' | undefined {
  if (text === 'now') return 'now';
  return integerText('from (an offset, or now)', text);
}

async function read(
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
  let stream = ctx.registry.get(name);
  let page: StreamPage | undefined;
  if (stream === undefined && wait > 0) {
    // A long-poll on a stream that does not exist yet waits for its creation, like a tail of a new
    // log (the rest of the wait then applies to its first events).
    const startedAt = Date.now();
    await longPoll(ctx, (done) => ctx.registry.whenCreated(name, done), res, wait);
    wait = Math.max(0, wait - (Date.now() - startedAt));
    stream = ctx.registry.get(name);
  }
  if (stream === undefined) {
    throw new HttpProblem(ErrorCode.STREAM_NOT_FOUND, `stream ${JSON.stringify(name)} does not exist`);
  }
  const limit = Math.min(
    limitParam ?? (ndjson ? stream.capacity : ctx.limits.defaultReadLimit),
    ndjson ? stream.capacity : ctx.limits.maxReadLimit,
  );
  const from =
    fromParam === 'now' ? stream.committed : (fromParam ?? Math.min(stream.firstOffset, stream.committed));
  if (from < stream.firstOffset) throw evicted(stream, from);
  page = stream.read(from, limit);
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
async function longPoll(
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
function refuseIfLiveReadersFull(ctx: RouteContext): void {
  if (ctx.metrics.liveSubscribers + ctx.metrics.longPolls >= ctx.limits.maxSubscribers) {
    throw new HttpProblem(
      ErrorCode.LIMIT_EXCEEDED,
      `the server has its maximum of ${ctx.limits.maxSubscribers} live readers (subscriptions and long-polls)`,
      { maxSubscribers: ctx.limits.maxSubscribers },
      { 'retry-after': '1' },
    );
  }
}

function subscribe(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteContext,
  name: string,
  params: URLSearchParams,
): void {
  const lastEventId = header(req, 'last-event-id')?.trim();
  // `-1`: the subscription was announced at offset 0 (`event: start` with `id: -1`) and has not
  // delivered an event yet.
  const resumeAfter =
    lastEventId === undefined
      ? undefined
      : lastEventId === '-1'
        ? -1
        : integerText('Last-Event-ID', lastEventId);
  const fromParam = parseFrom(params.get('from'));
  const start: StartAt = resumeAfter !== undefined ? resumeAfter + 1 : (fromParam ?? 'oldest');
  // An existing stream is checked now (a clear 410 instead of an event stream that ends at once); a
  // stream that does not exist yet is waited for by the subscription.
  const stream = ctx.registry.get(name);
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

function aggregate(res: ServerResponse, ctx: RouteContext, name: string, params: URLSearchParams): void {
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
  const stream = streamOrThrow(ctx, name);
  const range: { from?: number; to?: number } = {};
  if (from !== undefined) range.from = from;
  if (to !== undefined) range.to = to;
  sendJson(res, 200, { stream: name, ...stream.aggregate(field, groupBy, range) });
}

/** Fail-closed mode (like Redis' stop-writes-on-bgsave-error): changes wait until a snapshot succeeds. */
function refuseWritesIfFailClosed(ctx: RouteContext): void {
  const failingMs = ctx.failClosedForMs();
  if (failingMs > 0) {
    throw new HttpProblem(
      ErrorCode.SNAPSHOTS_FAILING,
      `snapshots have been failing for ${Math.round(failingMs)} ms; the server takes no changes until one succeeds (reads still work)`,
      { failingForMs: Math.round(failingMs) },
      { 'retry-after': '1' },
    );
  }
}

/**
 * Waits for the journal to hold a change already applied. If the journal fails, the change stays
 * applied and the journal retries it, so it may yet be kept or be lost in a crash: the answer says
 * the outcome is unknown (503 ES_ERR_OUTCOME_UNKNOWN), never that it was not made.
 */
async function flushOrUnknown(ctx: RouteContext, what: 'append' | 'delete'): Promise<void> {
  try {
    await ctx.flush();
  } catch (err) {
    throw new HttpProblem(
      ErrorCode.OUTCOME_UNKNOWN,
      `the ${what} was applied but the journal could not write it (${(err as Error).message}); it becomes ` +
        'visible only once the journal has it, and a crash before that loses it: retry it with the same producer sequence, or read the stream to find out',
      {},
      { 'retry-after': '1' },
    );
  }
}

/** A delete works in fail-closed mode: it is how an operator removes a stream that keeps saves failing. */
async function remove(res: ServerResponse, ctx: RouteContext, name: string): Promise<void> {
  const stream = ctx.registry.delete(name);
  if (stream === undefined) {
    throw new HttpProblem(ErrorCode.STREAM_NOT_FOUND, `stream ${JSON.stringify(name)} does not exist`);
  }
  await flushOrUnknown(ctx, 'delete');
  sendJson(res, 200, { stream: name, deleted: true, nextOffset: stream.next });
}

/** Refuses query parameters a route does not take (a misspelt `form=` would otherwise be ignored). */
function onlyParams(params: URLSearchParams, allowed: readonly string[], what: string): void {
  for (const key of params.keys()) {
    if (!allowed.includes(key)) {
      throw badRequest(
        `unknown query parameter ${JSON.stringify(key.slice(0, 40))}; ${what} takes ${allowed.length === 0 ? 'none' : allowed.join(', ')}`,
      );
    }
  }
}

/** Streams per `GET /streams` page when `limit` is not given, and at most. */
const LIST_LIMIT = 1_000;

/**
 * `GET /streams?prefix=&limit=&after=`: the streams whose name starts with `prefix`, by name, at most
 * `limit`, after the name `after`; `nextAfter` is the `after` of the next page (absent on the last).
 */
function listStreams(res: ServerResponse, ctx: RouteContext, params: URLSearchParams): void {
  const prefix = params.get('prefix') ?? '';
  const after = params.get('after');
  const limit = Math.min(integerText('limit', params.get('limit')) ?? LIST_LIMIT, LIST_LIMIT);
  if (limit === 0) throw badRequest('limit must be at least 1');
  const matching = ctx.registry
    .list()
    .filter((s) => s.name.startsWith(prefix) && (after === null || s.name > after));
  const page = matching.slice(0, limit).map((s) => ({
    name: s.name,
    capacity: s.capacity,
    count: s.committed - Math.min(s.firstOffset, s.committed),
    firstOffset: Math.min(s.firstOffset, s.committed),
    lastOffset: s.committed - 1,
    nextOffset: s.committed,
  }));
  const body: Record<string, unknown> = { streams: page };
  if (matching.length > limit) body.nextAfter = page[page.length - 1]!.name;
  sendJson(res, 200, body);
}

function stats(ctx: RouteContext): Record<string, unknown> {
  const m = ctx.metrics;
  const snap = ctx.snapshotMetrics();
  return {
    uptimeMs: Date.now() - m.startedAt,
    streams: ctx.registry.streamCount,
    events: ctx.registry.eventCount(),
    appendRequests: m.appendRequests,
    appendedEvents: m.appendedEvents,
    duplicateAppends: m.duplicateAppends,
    conflicts: m.conflicts,
    liveSubscribers: m.liveSubscribers,
    longPolls: m.longPolls,
    connections: ctx.connectionCount(),
    silentConnectionsCut: m.silentConnectionsCut,
    connectionsRefused: m.connectionsRefused,
    producersEvicted: ctx.registry.producersEvicted,
    tombstones: ctx.registry.tombstoneCount,
    persistence:
      snap === undefined
        ? { enabled: false }
        : {
            enabled: true,
            fsync: ctx.limits.fsync,
            shards: ctx.limits.shards,
            snapshotsSaved: snap.partitions.reduce((n, p) => n + p.successes, 0),
            snapshotFailures: snap.partitions.reduce((n, p) => n + p.failures, 0),
            journalFailures: snap.journalFailures,
            journalRecordsReplayed: snap.journalRecordsReplayed,
            snapshotsFailingForMs: Math.round(ctx.snapshotsFailingForMs()),
            failClosed: ctx.failClosedForMs() > 0,
          },
    memory: {
      rssBytes: process.memoryUsage.rss(),
      heldBytes: ctx.registry.heldBytes,
      memoryBudgetBytes: ctx.registry.options.memoryBudgetBytes,
    },
  };
}
