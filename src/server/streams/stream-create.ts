// A protocol create (`PUT /v1/stream/{name}`): a stream with a content type, an expiry, possibly
// closed, possibly a fork of another stream, possibly with initial data; or, when the stream exists
// with the same configuration, nothing (idempotent). Validated and recorded in one synchronous step
// through the registry's internals; refusals are domain errors and change nothing.
//
// A fork continues its source's offsets: offsets below its fork point `at` are read from the source
// (recursively), and its own events start at `at`. A byte fork may start inside one of the source's
// events (`Stream-Fork-Sub-Offset`): the first `cut` bytes of that event become the fork's own first
// event, copied at creation, so the fork never depends on a part of an event.

import { ErrorCode, EventStoreError } from '../../errors.js';
import { EVENT_OVERHEAD_BYTES } from './held-bytes.js';
import type { RegistryInternals } from './registry-internals.js';
import type { ShardOp } from './shard-ops.js';
import type { Stream } from './stream.js';
import { eventAt, type Position } from './stream-chain.js';
import { type ForkLink, mediaType, type StreamConfig, sameConfig } from './stream-config.js';

/** Where a fork starts in its source. */
export interface ForkRequest {
  /** Name of the source stream. */
  source: string;
  /** Position in the source to fork at (`Stream-Fork-Offset`); undefined: the source's end. */
  at?: Position | undefined;
  /** `Stream-Fork-Sub-Offset`: messages (JSON) or bytes past `at` that the fork also takes. */
  sub: number;
}

/** A protocol create, as the registry validates it. */
export interface CreateRequest {
  /** The stream's content type (a fork's: as given, else its source's). */
  contentType: string;
  /** Sliding expiry in seconds (`Stream-TTL`). A fork given neither expiry inherits its source's. */
  ttlSeconds?: number | undefined;
  /** Fixed expiry, epoch ms (`Stream-Expires-At`). */
  expiresAtMs?: number | undefined;
  /** Create the stream closed (`Stream-Closed: true`). */
  closed: boolean;
  fork?: ForkRequest | undefined;
  /** JSON streams: the initial messages (possibly none). */
  data?: unknown[] | undefined;
  /** Byte streams: the initial bytes as base64 (possibly empty). */
  bytes?: string | undefined;
  /** Estimated heap bytes of the initial data (its memory charge). */
  charge: number;
  /** Capacity of the new stream. @default the registry's `streamCapacity` */
  capacity?: number | undefined;
  /** Receive time, epoch ms. */
  timestamp: number;
  /** The JSON text of `data` as one array, if at hand (embedded in the journal record as is). */
  json?: Uint8Array | undefined;
}

/** The outcome of a create. */
export interface CreateResult {
  stream: string;
  /** False when the stream already existed with the same configuration. */
  created: boolean;
  /** The offset after the stream's last event. */
  nextOffset: number;
  closed: boolean;
  contentType: string;
}

function badFork(message: string): EventStoreError {
  return new EventStoreError(ErrorCode.BAD_REQUEST, message);
}

/** The fork point in `source` for `fork`, and the bytes of a partial event the fork takes. */
function resolveForkPoint(
  ctx: RegistryInternals,
  source: Stream,
  fork: ForkRequest,
): { at: number; cut: number; prefix?: Uint8Array } {
  const tail = source.next;
  const at = fork.at?.offset ?? tail;
  const byte = fork.at?.byte ?? 0;
  if (at > tail || (at === tail && byte > 0)) {
    throw badFork(`the fork offset is past the end of ${JSON.stringify(source.name)} (offset ${tail})`);
  }
  if (source.json) {
    if (byte !== 0) throw badFork('a JSON stream has no offsets inside a message');
    if (at + fork.sub > tail) {
      throw badFork(
        `the fork sub-offset ${fork.sub} goes past the ${tail - at} messages after the fork offset`,
      );
    }
    return { at: at + fork.sub, cut: 0 };
  }
  const cutAt = byte + fork.sub;
  if (cutAt === 0) return { at, cut: 0 };
  const chunk = at < tail ? eventAt(ctx.find, source, at) : undefined;
  if (!(chunk instanceof Uint8Array)) {
    throw badFork(
      `there is no message at the fork offset of ${JSON.stringify(source.name)} to take bytes of`,
    );
  }
  if (cutAt > chunk.length) {
    throw badFork(
      `the fork sub-offset ${cutAt} goes past the ${chunk.length} bytes of the message at the fork offset`,
    );
  }
  if (cutAt === chunk.length) return { at: at + 1, cut: 0 };
  return { at, cut: cutAt, prefix: chunk.subarray(0, cutAt) };
}

/**
 * The configuration `req` asks for: a fork resolved against its source (or `link`, the fork point an
 * existing fork was made at), its expiry inherited from the source when it gives none.
 */
function wantedConfig(
  ctx: RegistryInternals,
  req: CreateRequest,
  source: Stream | undefined,
  link?: ForkLink,
): { config: StreamConfig; prefix?: Uint8Array | undefined } {
  const config: StreamConfig = { contentType: req.contentType };
  let ttlSeconds = req.ttlSeconds;
  let expiresAtMs = req.expiresAtMs;
  let prefix: Uint8Array | undefined;
  if (req.fork !== undefined && source !== undefined) {
    const point: { at: number; cut: number; prefix?: Uint8Array } =
      link ?? resolveForkPoint(ctx, source, req.fork);
    config.fork = { source: source.name, at: point.at, cut: point.cut };
    prefix = link === undefined ? point.prefix : undefined;
    if (ttlSeconds === undefined && expiresAtMs === undefined) {
      ttlSeconds = source.config.ttlSeconds;
      expiresAtMs = source.config.expiresAtMs;
    }
  }
  if (ttlSeconds !== undefined) config.ttlSeconds = ttlSeconds;
  if (expiresAtMs !== undefined) config.expiresAtMs = expiresAtMs;
  return { config, prefix };
}

/** Whether `req` asks for `existing` as it is (an idempotent re-create). */
function sameStream(ctx: RegistryInternals, existing: Stream, req: CreateRequest): boolean {
  if (existing.closed !== req.closed) return false;
  const link = existing.config.fork;
  if ((req.fork === undefined) !== (link === undefined)) return false;
  if (req.fork !== undefined && req.fork.source !== link?.source) return false;
  const source = req.fork === undefined ? undefined : ctx.find(req.fork.source);
  // Without a fork offset the fork was made at its source's end then, which is not its end now.
  const made = req.fork?.at === undefined && req.fork?.sub === 0 ? link : undefined;
  try {
    return sameConfig(wantedConfig(ctx, req, source, made).config, existing.config);
  } catch {
    return false; // the fork point asked for cannot be resolved any more: not the one made
  }
}

/**
 * Creates stream `name` as `req` asks, or returns `created: false` when it exists with the same
 * configuration (content type by media type, expiry, closure, fork). Throws ES_ERR_STREAM_EXISTS
 * (another configuration, or a deleted stream kept for its forks), ES_ERR_STREAM_NOT_FOUND (the fork's
 * source), ES_ERR_FORK_SOURCE_GONE, ES_ERR_CONTENT_TYPE_MISMATCH (a fork of another content type),
 * ES_ERR_BAD_REQUEST (a fork offset past the source's end, a bad sub-offset, more initial events
 * than the capacity), ES_ERR_LIMIT_EXCEEDED (`maxStreams`) or ES_ERR_INSUFFICIENT_STORAGE.
 */
export function createStream(ctx: RegistryInternals, name: string, req: CreateRequest): CreateResult {
  const t = req.timestamp;
  let existing = ctx.find(name);
  if (existing !== undefined && !existing.gone && existing.expiredAt(t)) {
    ctx.remove(existing);
    existing = ctx.find(name);
  }
  if (existing?.gone === true) {
    throw new EventStoreError(
      ErrorCode.STREAM_EXISTS,
      `stream ${JSON.stringify(name)} was deleted but is kept for the streams forked from it; the name is free once they are deleted`,
      { details: { gone: true } },
    );
  }
  if (existing !== undefined) {
    if (!sameStream(ctx, existing, req)) {
      throw new EventStoreError(
        ErrorCode.STREAM_EXISTS,
        `stream ${JSON.stringify(name)} exists with another configuration (content type ${existing.config.contentType})`,
      );
    }
    return {
      stream: name,
      created: false,
      nextOffset: existing.next,
      closed: existing.closed,
      contentType: existing.config.contentType,
    };
  }
  if (ctx.streamCount() >= ctx.options.maxStreams) {
    throw new EventStoreError(
      ErrorCode.LIMIT_EXCEEDED,
      `the server holds its maximum of ${ctx.options.maxStreams} streams`,
    );
  }
  let source: Stream | undefined;
  if (req.fork !== undefined) {
    source = ctx.find(req.fork.source);
    if (source === undefined || (!source.gone && source.expiredAt(t))) {
      throw new EventStoreError(
        ErrorCode.STREAM_NOT_FOUND,
        `the fork source ${JSON.stringify(req.fork.source)} does not exist`,
        { details: { source: req.fork.source } },
      );
    }
    if (source.gone) {
      throw new EventStoreError(
        ErrorCode.FORK_SOURCE_GONE,
        `the fork source ${JSON.stringify(source.name)} was deleted (it is kept only for its existing forks)`,
        { details: { source: source.name } },
      );
    }
    if (mediaType(req.contentType) !== mediaType(source.config.contentType)) {
      throw new EventStoreError(
        ErrorCode.CONTENT_TYPE_MISMATCH,
        `a fork has its source's content type ${source.config.contentType}, not ${req.contentType}`,
        { details: { contentType: source.config.contentType } },
      );
    }
  }
  const { config, prefix } = wantedConfig(ctx, req, source);
  const capacity = req.capacity ?? ctx.options.streamCapacity;
  const first = config.fork?.at ?? ctx.nextOffsetFor(name);
  const create: ShardOp = {
    kind: 'create',
    stream: name,
    capacity,
    firstOffset: first,
    config,
    createdAt: t,
  };
  if (req.closed) create.closed = true;
  const ops: ShardOp[] = [create];
  let next = first;
  let charge = 0;
  if (prefix !== undefined) {
    const bytes = prefix.length + EVENT_OVERHEAD_BYTES;
    ops.push({
      kind: 'chunk',
      stream: name,
      offset: next++,
      timestamp: t,
      charge: bytes,
      data: Buffer.from(prefix).toString('base64'),
    });
    charge += bytes;
  }
  const count = req.data?.length ?? (req.bytes !== undefined && req.bytes !== '' ? 1 : 0);
  if (count + (prefix === undefined ? 0 : 1) > capacity) {
    throw new EventStoreError(
      ErrorCode.BAD_REQUEST,
      `${count} initial events do not fit the stream's capacity ${capacity}`,
    );
  }
  if (req.data !== undefined && req.data.length > 0) {
    const each = Math.ceil(req.charge / req.data.length) + EVENT_OVERHEAD_BYTES;
    ops.push({
      kind: 'batch',
      stream: name,
      firstOffset: next,
      timestamp: t,
      chargeEach: each,
      data: req.data,
    });
    next += req.data.length;
    charge += each * req.data.length;
  } else if (count === 1 && req.bytes !== undefined) {
    const bytes = req.charge + EVENT_OVERHEAD_BYTES;
    ops.push({ kind: 'chunk', stream: name, offset: next++, timestamp: t, charge: bytes, data: req.bytes });
    charge += bytes;
  }
  ctx.checkBudget(charge, 0);
  ctx.record(ctx.shardOf(name), ops, req.json);
  return {
    stream: name,
    created: true,
    nextOffset: next,
    closed: req.closed,
    contentType: config.contentType,
  };
}
