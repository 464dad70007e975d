// A protocol append (`POST /v1/stream/{name}`): JSON messages or a byte chunk, possibly closing the
// stream, or a close without data; with the protocol's `Stream-Seq` writer coordination and its
// idempotent-producer rules (protocol-producers.ts). Validated and recorded in one synchronous step
// through the registry's internals; refusals are domain errors and change nothing.
//
// Order of the checks (the protocol's): the stream exists; a closed stream takes only retries of what
// was accepted (and fences stale epochs); the body's content type is the stream's; the producer;
// `Stream-Seq`; then capacity and the memory budget.

import { ErrorCode, EventStoreError } from '../../errors.js';
import { EVENT_OVERHEAD_BYTES } from './held-bytes.js';
import type { ProducerRequest } from './producers.js';
import { checkProtocolProducer } from './protocol-producers.js';
import type { RegistryInternals } from './registry-internals.js';
import type { ProducerRecord, ShardOp } from './shard-ops.js';
import { goneError, type Stream } from './stream.js';
import { mediaType } from './stream-config.js';

/** A protocol append or close, as the registry validates it. */
export interface WriteRequest {
  /** Content type of the body; undefined for a close without data. */
  contentType?: string | undefined;
  /** JSON streams: the messages (a body's top-level array split one level). */
  data?: unknown[] | undefined;
  /** Byte streams: the chunk as base64. */
  bytes?: string | undefined;
  /** The JSON text of `data` as one array, if at hand (embedded in the journal record as is). */
  json?: Uint8Array | undefined;
  /** Close the stream after this append (`Stream-Closed: true`). */
  close: boolean;
  /** `Stream-Seq`: must be greater, as a string, than the stream's last one. */
  seq?: string | undefined;
  producer?: ProducerRequest | undefined;
  /** Receive time, epoch ms. */
  timestamp: number;
  /** Estimated heap bytes of the data (its memory charge). */
  charge: number;
}

/** The outcome of a write. */
export interface WriteResult {
  stream: string;
  /** The offset after the stream's last event. */
  nextOffset: number;
  closed: boolean;
  /** A producer's retry of a write it already made: nothing was stored. */
  duplicate: boolean;
  /** The producer's epoch and its highest accepted sequence. */
  producer?: { epoch: number; seq: number };
}

function closedError(stream: Stream): EventStoreError {
  return new EventStoreError(ErrorCode.STREAM_CLOSED, `stream ${JSON.stringify(stream.name)} is closed`, {
    details: { nextOffset: stream.next },
  });
}

function duplicate(stream: Stream, producer: ProducerRequest, lastSeq: number): WriteResult {
  return {
    stream: stream.name,
    nextOffset: stream.next,
    closed: stream.closed,
    duplicate: true,
    producer: { epoch: producer.epoch, seq: lastSeq },
  };
}

/** The stream a write goes to, or the error that refuses it. */
function target(ctx: RegistryInternals, name: string, timestamp: number): Stream {
  const stream = ctx.find(name);
  if (stream === undefined || (!stream.gone && stream.expiredAt(timestamp))) {
    throw new EventStoreError(ErrorCode.STREAM_NOT_FOUND, `stream ${JSON.stringify(name)} does not exist`);
  }
  if (stream.gone) throw goneError(stream);
  return stream;
}

/**
 * Appends `req` to stream `name` (or closes it) under the protocol's rules. A producer's retry of an
 * accepted write returns `duplicate`. Throws ES_ERR_STREAM_NOT_FOUND, ES_ERR_STREAM_GONE,
 * ES_ERR_STREAM_CLOSED (`nextOffset`), ES_ERR_CONTENT_TYPE_MISMATCH, ES_ERR_PRODUCER_FENCED
 * (`currentEpoch`), ES_ERR_PRODUCER_EPOCH_START, ES_ERR_PRODUCER_SEQUENCE (`expectedSeq`,
 * `receivedSeq`), ES_ERR_STREAM_SEQ_CONFLICT (`lastSeq`), ES_ERR_BAD_REQUEST (more messages than the
 * capacity) or ES_ERR_INSUFFICIENT_STORAGE.
 */
export function writeStream(ctx: RegistryInternals, name: string, req: WriteRequest): WriteResult {
  const stream = target(ctx, name, req.timestamp);
  const count = req.data?.length ?? (req.bytes === undefined ? 0 : 1);
  const producer = req.producer;
  if (stream.closed) {
    if (producer !== undefined) {
      try {
        const check = checkProtocolProducer(stream.producers.get(producer.id), producer);
        if (check.kind === 'duplicate') return duplicate(stream, producer, check.lastSeq);
      } catch (err) {
        if (err instanceof EventStoreError && err.code === ErrorCode.PRODUCER_FENCED) throw err;
      }
    } else if (count === 0) {
      // Closing a closed stream again: already so.
      return { stream: name, nextOffset: stream.next, closed: true, duplicate: false };
    }
    throw closedError(stream);
  }
  if (count > 0 && mediaType(req.contentType ?? '') !== mediaType(stream.config.contentType)) {
    throw new EventStoreError(
      ErrorCode.CONTENT_TYPE_MISMATCH,
      `stream ${JSON.stringify(name)} takes ${stream.config.contentType}, not ${req.contentType}`,
      { details: { contentType: stream.config.contentType } },
    );
  }
  let fresh = false;
  if (producer !== undefined) {
    const check = checkProtocolProducer(stream.producers.get(producer.id), producer);
    if (check.kind === 'duplicate') return duplicate(stream, producer, check.lastSeq);
    fresh = check.fresh;
  }
  if (req.seq !== undefined && stream.seq !== undefined && req.seq <= stream.seq) {
    throw new EventStoreError(
      ErrorCode.STREAM_SEQ_CONFLICT,
      `Stream-Seq ${JSON.stringify(req.seq)} is not greater than the last one, ${JSON.stringify(stream.seq)}`,
      { details: { lastSeq: stream.seq } },
    );
  }
  if (count > stream.capacity) {
    throw new EventStoreError(
      ErrorCode.BAD_REQUEST,
      `a batch of ${count} messages is larger than the stream's capacity ${stream.capacity}`,
    );
  }
  const first = stream.next;
  const record: ProducerRecord | undefined =
    producer === undefined
      ? undefined
      : {
          id: producer.id,
          epoch: producer.epoch,
          ack: { seq: producer.seq, firstOffset: first, lastOffset: first + count - 1, count, hash: 0 },
        };
  const t = req.timestamp;
  let op: ShardOp;
  if (req.data !== undefined && count > 0) {
    const each = Math.ceil(req.charge / count) + EVENT_OVERHEAD_BYTES;
    ctx.checkBudget(
      each * count,
      stream.held.oldest(Math.max(0, stream.store.size + count - stream.capacity)),
    );
    op = { kind: 'batch', stream: name, firstOffset: first, timestamp: t, chargeEach: each, data: req.data };
  } else if (req.bytes !== undefined) {
    const charge = req.charge + EVENT_OVERHEAD_BYTES;
    ctx.checkBudget(charge, stream.held.oldest(Math.max(0, stream.store.size + 1 - stream.capacity)));
    op = { kind: 'chunk', stream: name, offset: first, timestamp: t, charge, data: req.bytes };
  } else {
    op = { kind: 'close', stream: name, timestamp: t };
  }
  if (record !== undefined) op.producer = record;
  if (op.kind !== 'close') {
    if (req.close) op.close = true;
    if (req.seq !== undefined) op.seq = req.seq;
  }
  ctx.record(stream.shard, [op], req.json);
  if (fresh) ctx.trimProducers(stream);
  const result: WriteResult = {
    stream: name,
    nextOffset: stream.next,
    closed: stream.closed,
    duplicate: false,
  };
  if (producer !== undefined) result.producer = { epoch: producer.epoch, seq: producer.seq };
  return result;
}
