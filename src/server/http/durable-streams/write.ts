// PUT (create) and POST (append, close) on /v1/stream/{name}: headers and body parsed here, the
// change made by a command through the executor (locally or through a cluster's log), and answered
// once it is durable: 201/200 for a create, 204 for an append (200 when a producer's is accepted,
// 204 for its retry), with the protocol's headers.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../../errors.js';
import type { CreateCommand, WriteCommand } from '../../streams/commands.js';
import { DEFAULT_CONTENT_TYPE } from '../../streams/stream-config.js';
import { refuseWritesIfFailClosed } from '../append.js';
import { readBody } from '../body.js';
import { catchUp } from '../cluster.js';
import type { RouteContext } from '../context.js';
import { badRequest, header, integerText, parseProducer } from '../params.js';
import { problem } from '../problem.js';
import {
  contentTypeOf,
  DURABLE_STREAMS_PREFIX,
  parseClosed,
  parseExpiry,
  parseFork,
  parseStreamSeq,
} from './headers.js';
import { formatOffset } from './offsets.js';
import { parsePayload } from './payload.js';

/** Reads the body, then refuses the change if the server stopped taking changes meanwhile. */
async function body(req: IncomingMessage, ctx: RouteContext): Promise<Buffer> {
  const bytes = await readBody(req, ctx.limits.maxBodyBytes);
  if (ctx.draining()) throw problem(ErrorCode.SHUTTING_DOWN, 'the server is shutting down');
  refuseWritesIfFailClosed(ctx);
  return bytes;
}

/** The absolute URL of a stream, as the client reached this server (for `Location`). */
function locationOf(req: IncomingMessage, name: string): string {
  const proto = header(req, 'x-forwarded-proto')?.split(',')[0]?.trim() === 'https' ? 'https' : 'http';
  const host = header(req, 'host') ?? `${req.socket.localAddress}:${req.socket.localPort}`;
  return `${proto}://${host}${DURABLE_STREAMS_PREFIX}${name.split('/').map(encodeURIComponent).join('/')}`;
}

/** `PUT /v1/stream/{name}`: creates the stream, or finds it created with the same configuration. */
export async function createRoute(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteContext,
  name: string,
  params: URLSearchParams,
): Promise<void> {
  const given = contentTypeOf(req);
  const fork = parseFork(req);
  const expiry = parseExpiry(req);
  const closed = parseClosed(req);
  const capacity = integerText('capacity', params.get('capacity'));
  if (capacity !== undefined && (capacity < 1 || capacity > ctx.limits.maxStreamCapacity)) {
    throw badRequest(`capacity must be in [1, ${ctx.limits.maxStreamCapacity}], received ${capacity}`);
  }
  const bytes = await body(req, ctx);
  // A fork without a Content-Type has its source's (which decides how its initial body is read): in a
  // cluster, this node first applies what the log holds, so a source created on another node is seen.
  if (fork !== undefined && given === undefined) await catchUp(res, ctx);
  const contentType =
    given ??
    (fork === undefined ? undefined : ctx.registry.get(fork.source)?.config.contentType) ??
    DEFAULT_CONTENT_TYPE;
  const payload = parsePayload(bytes, contentType, ctx.limits.maxJsonDepth, true);
  const command: CreateCommand = {
    type: 'create',
    stream: name,
    contentType,
    closed,
    charge: payload.charge,
    timestamp: Date.now(),
  };
  if (expiry.ttlSeconds !== undefined) command.ttlSeconds = expiry.ttlSeconds;
  if (expiry.expiresAtMs !== undefined) command.expiresAtMs = expiry.expiresAtMs;
  if (fork !== undefined) command.fork = fork;
  if (payload.data !== undefined) command.data = payload.data;
  if (payload.bytes !== undefined) command.bytes = payload.bytes;
  if (capacity !== undefined) command.capacity = capacity;
  const result = await ctx.executor.execute(command, payload.json);
  const headers: Record<string, string> = {
    'content-type': result.contentType,
    'stream-next-offset': formatOffset(result.nextOffset),
    'content-length': '0',
  };
  if (result.created) headers.location = locationOf(req, name);
  if (result.closed) headers['stream-closed'] = 'true';
  res.writeHead(result.created ? 201 : 200, headers);
  res.end();
}

/** `POST /v1/stream/{name}`: appends the body (and closes with `Stream-Closed: true`), or only closes. */
export async function appendRoute(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteContext,
  name: string,
): Promise<void> {
  const given = contentTypeOf(req);
  const close = parseClosed(req);
  const seq = parseStreamSeq(req);
  const producer = parseProducer(req);
  const bytes = await body(req, ctx);
  const command: WriteCommand = { type: 'write', stream: name, close, charge: 0, timestamp: Date.now() };
  let json: Uint8Array | undefined;
  if (bytes.length === 0) {
    // A close without data ignores the Content-Type.
    if (!close)
      throw badRequest('the request body is empty; send data, or Stream-Closed: true to close the stream');
  } else {
    if (given === undefined) throw badRequest("an append needs a Content-Type (the stream's)");
    const payload = parsePayload(bytes, given, ctx.limits.maxJsonDepth, false);
    command.contentType = given;
    command.charge = payload.charge;
    if (payload.data !== undefined) command.data = payload.data;
    if (payload.bytes !== undefined) command.bytes = payload.bytes;
    json = payload.json;
  }
  if (seq !== undefined) command.seq = seq;
  if (producer !== undefined) command.producer = producer;
  const result = await ctx.executor.execute(command, json);
  const headers: Record<string, string> = { 'stream-next-offset': formatOffset(result.nextOffset) };
  if (result.closed) headers['stream-closed'] = 'true';
  if (result.producer !== undefined) {
    headers['producer-epoch'] = String(result.producer.epoch);
    headers['producer-seq'] = String(result.producer.seq);
  }
  if (result.duplicate) ctx.metrics.duplicateAppends++;
  else if (bytes.length > 0) {
    ctx.metrics.appendRequests++;
    ctx.metrics.appendedEvents += command.data?.length ?? 1;
  }
  // 200 only for a producer's accepted append: a retry, a close without data and a plain append are 204.
  res.writeHead(result.duplicate || producer === undefined || bytes.length === 0 ? 204 : 200, headers);
  res.end();
}

/** `DELETE /v1/stream/{name}`. */
export async function deleteRoute(res: ServerResponse, ctx: RouteContext, name: string): Promise<void> {
  await ctx.executor.execute({ type: 'delete', stream: name });
  res.writeHead(204);
  res.end();
}
