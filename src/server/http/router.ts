// The HTTP entry of every request: CORS, draining, authentication, the route table, and the one
// place where a failure becomes a problem answer. Runs on the server's thread; never throws.
//
//   GET /health                                    admin.ts (no token needed)
//   GET /streams  /stats  /metrics                 admin.ts
//   POST   /streams/{name}                         append.ts
//   GET    /streams/{name}  [?aggregate=…]         read.ts (page, long-poll, NDJSON, SSE, aggregation)
//   DELETE /streams/{name}                         admin.ts
//   PUT POST GET HEAD DELETE /v1/stream/{name}     durable-streams/ (the Durable Streams protocol)
//   GET /cluster  /cluster/digest                  cluster.ts (cluster mode)

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../errors.js';
import { listStreams, metrics, remove, stats } from './admin.js';
import { append } from './append.js';
import { drainAndClose } from './body.js';
import { catchUp, clusterRoute, stampPosition } from './cluster.js';
import type { RouteContext } from './context.js';
import { allowedOrigin, variesByOrigin } from './cors.js';
import { DURABLE_STREAMS_PREFIX, streamNameOf } from './durable-streams/headers.js';
import { handleDurableStreams, setDurableStreamsHeaders } from './durable-streams/routes.js';
import { DURABLE_STREAMS_STATUS, durableStreamsErrorHeaders } from './durable-streams/status.js';
import { header, onlyParams, validateStreamName } from './params.js';
import { problem, STATUS_BY_CODE, type StatusTable, sendProblem, statusOf } from './problem.js';
import { aggregate, read, subscribe } from './read.js';
import { sendJson } from './respond.js';

const ALLOWED_HEADERS =
  'authorization, content-type, expected-version, producer-id, producer-epoch, producer-seq, last-event-id, ' +
  'if-none-match, stream-seq, stream-ttl, stream-expires-at, stream-closed, stream-forked-from, ' +
  'stream-fork-offset, stream-fork-sub-offset';
const EXPOSED_HEADERS =
  'es-current-version, es-log-position, es-possibly-stale, stream-first-offset, stream-last-offset, stream-next-offset, stream-cursor, ' +
  'stream-up-to-date, stream-closed, stream-ttl, stream-expires-at, stream-sse-data-encoding, producer-epoch, ' +
  'producer-seq, producer-expected-seq, producer-received-seq, etag, location';

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

function methodNotAllowed(allow: string): Error {
  return problem(ErrorCode.METHOD_NOT_ALLOWED, `allowed methods: ${allow}`, { allow });
}

/** Handles one request; never throws (every failure becomes a problem response). */
export async function handleRequest(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteContext,
): Promise<void> {
  let route = 'other';
  res.on('finish', () => ctx.metrics.countRequest(route, res.statusCode));
  // The Durable Streams endpoint answers errors by its own status table, with its headers.
  const durableStreams = (req.url ?? '').startsWith(DURABLE_STREAMS_PREFIX);
  const table: StatusTable = durableStreams ? DURABLE_STREAMS_STATUS : STATUS_BY_CODE;
  if (durableStreams) setDurableStreamsHeaders(res);
  if (ctx.cors !== undefined) {
    const allowed = allowedOrigin(ctx.cors, header(req, 'origin'));
    if (allowed !== undefined) {
      res.setHeader('access-control-allow-origin', allowed);
      res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
    }
    if (variesByOrigin(ctx.cors)) res.setHeader('vary', 'origin');
  }
  stampPosition(res, ctx);
  try {
    if (ctx.cors !== undefined && req.method === 'OPTIONS') {
      // A CORS preflight: answered before authentication (browsers send no credentials with it).
      route = 'preflight';
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, HEAD, POST, PUT, DELETE',
        'access-control-allow-headers': ALLOWED_HEADERS,
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    if (ctx.draining()) {
      throw problem(ErrorCode.SHUTTING_DOWN, 'the server is shutting down', { retryAfterSeconds: 1 });
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
      throw problem(ErrorCode.UNAUTHORIZED, 'this server requires Authorization: Bearer <token>');
    }
    if (path === '/streams' || path === '/streams/') {
      route = 'streams';
      if (method !== 'GET') throw methodNotAllowed('GET, HEAD');
      onlyParams(params, ['prefix', 'limit', 'after'], 'GET /streams');
      await catchUp(res, ctx);
      listStreams(res, ctx, params);
      return;
    }
    if (path === '/cluster' || path === '/cluster/digest') {
      route = 'cluster';
      if (method !== 'GET') throw methodNotAllowed('GET, HEAD');
      onlyParams(params, [], `GET ${path}`);
      await clusterRoute(res, ctx, path);
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
      metrics(res, ctx);
      return;
    }
    if (durableStreams) {
      route = 'ds';
      // In a cluster, a protocol read first catches up with the log (read-your-writes across nodes).
      if (method === 'GET') await catchUp(res, ctx);
      await handleDurableStreams(req, res, ctx, streamNameOf(path), params, (r) => {
        route = r;
      });
      return;
    }
    if (path.startsWith('/streams/')) {
      let name: string;
      try {
        name = decodeURIComponent(path.slice('/streams/'.length));
      } catch {
        throw problem(ErrorCode.INVALID_STREAM_NAME, 'the stream name is not valid percent-encoding');
      }
      if (method === 'POST' || method === 'GET' || method === 'DELETE') validateStreamName(name);
      if (method === 'POST') {
        route = 'append';
        onlyParams(params, ['capacity'], 'an append');
        await append(req, res, ctx, name, params);
      } else if (method === 'GET') {
        const accept = header(req, 'accept') ?? '';
        if (params.has('aggregate')) {
          route = 'aggregate';
          onlyParams(params, ['aggregate', 'field', 'groupBy', 'from', 'to'], 'an aggregation');
          await aggregate(res, ctx, name, params);
        } else if (accept.includes('text/event-stream')) {
          route = 'subscribe';
          onlyParams(params, ['from'], 'a subscription');
          await subscribe(req, res, ctx, name, params);
        } else {
          route = 'read';
          onlyParams(params, ['from', 'limit', 'wait'], 'a read');
          await read(res, ctx, name, params, accept.includes('application/x-ndjson'));
        }
      } else if (method === 'DELETE') {
        route = 'delete';
        onlyParams(params, [], 'a delete');
        await remove(res, ctx, name);
      } else throw methodNotAllowed('GET, HEAD, POST, DELETE');
      return;
    }
    throw problem(ErrorCode.NOT_FOUND, `no route for ${JSON.stringify(path.slice(0, 100))}`);
  } catch (err) {
    stampPosition(res, ctx);
    const status = statusOf(err, table);
    if (status === 500)
      ctx.logger.error({ err, method: req.method, url: req.url?.slice(0, 300) }, 'request failed');
    if (status === 409) ctx.metrics.conflicts++;
    if (status === 413) {
      // Not `Connection: close`: node would close as soon as the answer is written, resetting a
      // client still sending its body (which then never reads the 413).
      sendProblem(res, err, false, table);
      drainAndClose(req, res, ctx.limits.maxBodyBytes);
      return;
    }
    sendProblem(res, err, ctx.draining(), table, durableStreams ? durableStreamsErrorHeaders(err) : {});
  }
}
