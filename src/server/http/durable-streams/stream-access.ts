// How the Durable Streams handlers find a stream to read, and how a read refreshes a sliding TTL.
// Expiry is decided with this server's clock for reads (a stream answers 404 from the moment it
// expires, before the sweep removes it) and by the commands' own times for writes (the registry).

import { ErrorCode, EventStoreError } from '../../../errors.js';
import { goneError, type Stream } from '../../streams/stream.js';
import type { RouteContext } from '../context.js';

/** A read refreshes a TTL only once this share of it has passed since the last refresh (or write). */
const TOUCH_SHARE = 0.1;

/** The stream `name` to read at `nowMs`; throws ES_ERR_STREAM_NOT_FOUND or ES_ERR_STREAM_GONE. */
export function readableStream(ctx: RouteContext, name: string, nowMs: number): Stream {
  const stream = ctx.registry.getAny(name);
  if (stream !== undefined && !stream.gone && stream.expiredAt(nowMs)) {
    // Expired but not swept yet: gone already for readers; kept only if forks read it.
    if (ctx.registry.forkCount(name) > 0) throw goneError(stream);
    throw new EventStoreError(ErrorCode.STREAM_NOT_FOUND, `stream ${JSON.stringify(name)} has expired`);
  }
  if (stream === undefined) {
    throw new EventStoreError(ErrorCode.STREAM_NOT_FOUND, `stream ${JSON.stringify(name)} does not exist`);
  }
  if (stream.gone) throw goneError(stream);
  return stream;
}

/**
 * A read of `stream` at `nowMs` slides its TTL: a `touch` command, journaled like a write so every
 * restart (and every node of a cluster) expires the stream alike. To keep that to a few records per
 * TTL however often a stream is read, a read refreshes only once a tenth of the TTL has passed since
 * the last refresh or write, so a stream may expire up to a tenth of its TTL before `now + TTL`. The
 * read does not wait for it.
 */
export function touchOnRead(ctx: RouteContext, stream: Stream, nowMs: number): void {
  const ttl = stream.config.ttlSeconds;
  if (ttl === undefined || nowMs - stream.activeAt < ttl * 1000 * TOUCH_SHARE) return;
  ctx.executor.execute({ type: 'touch', stream: stream.name, timestamp: nowMs }).catch((err: unknown) => {
    ctx.logger.warn({ err, stream: stream.name }, 'a read could not refresh the stream TTL');
  });
}
