// POST /streams/{name}: an append. The body is read (bounded) and parsed, then validated and applied
// by the registry in one synchronous step, and answered only once the journal holds it; a journal
// failure after the step answers that the outcome is unknown.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { crc32 } from 'node:zlib';
import { ErrorCode, EventStoreError } from '../../errors.js';
import type { AppendResult } from '../../protocol.js';
import { appendFormat, parseEvents, readBody } from './body.js';
import type { RouteContext } from './context.js';
import { badRequest, header, integerText, parseExpectedVersion, parseProducer } from './params.js';
import { problem, statusOf } from './problem.js';
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
    if (statusOf(err) === 409) await ctx.flush();
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

/**
 * Waits for the journal to hold a change already applied. If the journal fails, the change stays
 * applied and the journal retries it, so it may yet be kept or be lost in a crash: the answer says
 * the outcome is unknown (503 ES_ERR_OUTCOME_UNKNOWN), never that it was not made.
 */
export async function flushOrUnknown(ctx: RouteContext, what: 'append' | 'delete'): Promise<void> {
  try {
    await ctx.flush();
  } catch (err) {
    throw new EventStoreError(
      ErrorCode.OUTCOME_UNKNOWN,
      `the ${what} was applied but the journal could not write it (${(err as Error).message}); it becomes ` +
        'visible only once the journal has it, and a crash before that loses it: retry it with the same producer sequence, or read the stream to find out',
      { cause: err, details: { retryAfterSeconds: 1 } },
    );
  }
}
