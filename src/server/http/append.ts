// POST /streams/{name}: an append. The body is read (bounded) and parsed, then validated and applied
// by the registry in one synchronous step, and answered only once the journal holds it; a journal
// failure after the step answers that the outcome is unknown.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { crc32 } from 'node:zlib';
import { ErrorCode } from '../../errors.js';
import { appendFormat, parseEvents, readBody } from './body.js';
import { stampPosition } from './cluster.js';
import type { RouteContext } from './context.js';
import { badRequest, header, integerText, parseExpectedVersion, parseProducer } from './params.js';
import { problem } from './problem.js';
import { sendJson } from './respond.js';

export async function append(
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
  if (ctx.draining()) throw problem(ErrorCode.SHUTTING_DOWN, 'the server is shutting down');
  refuseWritesIfFailClosed(ctx);
  const result = await ctx.executor.execute(
    {
      type: 'append',
      stream: name,
      data: events,
      ...(expectedVersion === undefined ? {} : { expectedVersion }),
      ...(producer === undefined ? {} : { producer }),
      hash: producer === undefined ? 0 : crc32(body), // compared on producer retries only
      ...(capacity === undefined ? {} : { capacity }),
      timestamp: Date.now(),
      bytes: heapBytes,
    },
    json,
  );
  stampPosition(res, ctx);
  if (result.duplicate === true) ctx.metrics.duplicateAppends++;
  else {
    ctx.metrics.appendRequests++;
    ctx.metrics.appendedEvents += result.count;
  }
  sendJson(res, result.duplicate === true ? 200 : 201, result);
}

/** Fail-closed mode (like Redis' stop-writes-on-bgsave-error): appends wait until a snapshot succeeds. */
export function refuseWritesIfFailClosed(ctx: RouteContext): void {
  const failingMs = ctx.failClosedForMs();
  if (failingMs > 0) {
    throw problem(
      ErrorCode.SNAPSHOTS_FAILING,
      `snapshots have been failing for ${Math.round(failingMs)} ms; the server takes no changes until one succeeds (reads still work)`,
      { failingForMs: Math.round(failingMs), retryAfterSeconds: 1 },
    );
  }
}
