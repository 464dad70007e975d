// Idempotent producers of a stream: who may append next, which request is a retry of an acknowledged
// one, and the dedupe state each append leaves behind (the newest PRODUCER_WINDOW acknowledgements per
// producer id). Owned by the server's thread; the state is journaled and snapshotted with its stream.

import { ErrorCode, EventStoreError } from '../../errors.js';

/** One acknowledged append of a producer, kept for the dedupe window. */
export interface ProducerAck {
  seq: number;
  firstOffset: number;
  lastOffset: number;
  count: number;
  /** CRC-32 of the request body: a retry must send the same bytes. */
  hash: number;
}

/** Dedupe state of one producer id on one stream. */
export interface ProducerState {
  epoch: number;
  lastSeq: number;
  /** The newest acknowledged appends, oldest first, at most `PRODUCER_WINDOW`. */
  recent: ProducerAck[];
}

/** Identity of an idempotent producer request. */
export interface ProducerRequest {
  id: string;
  epoch: number;
  seq: number;
}

/** Appends remembered per producer and stream: a retry of one of them is acknowledged, not stored. */
export const PRODUCER_WINDOW = 5;

/**
 * What a producer's request is, given the producer's state on the stream (undefined: unknown):
 * `'append'` (store it; `fresh` for a new producer or epoch) or `'duplicate'` (a retry of the
 * acknowledged `ack`). Throws ES_ERR_PRODUCER_FENCED (an older epoch), ES_ERR_PRODUCER_SEQUENCE (a
 * gap, or older than the window) or ES_ERR_IDEMPOTENCY_CONFLICT (a retry with another body).
 */
export function checkProducer(
  state: ProducerState | undefined,
  request: ProducerRequest,
  hash: number,
  count: number,
): { kind: 'append'; fresh: boolean } | { kind: 'duplicate'; ack: ProducerAck } {
  if (state === undefined || request.epoch > state.epoch) return { kind: 'append', fresh: true };
  if (request.epoch < state.epoch) {
    throw new EventStoreError(
      ErrorCode.PRODUCER_FENCED,
      `producer ${JSON.stringify(request.id)} epoch ${request.epoch} is fenced by epoch ${state.epoch}`,
      { details: { currentEpoch: state.epoch } },
    );
  }
  if (request.seq <= state.lastSeq) {
    const ack = state.recent.find((a) => a.seq === request.seq);
    if (ack === undefined) {
      throw new EventStoreError(
        ErrorCode.PRODUCER_SEQUENCE,
        `producer sequence ${request.seq} is older than the dedupe window (last ${state.lastSeq}, window ${PRODUCER_WINDOW})`,
        { details: { expectedSeq: state.lastSeq + 1 } },
      );
    }
    if (ack.hash !== hash || ack.count !== count) {
      throw new EventStoreError(
        ErrorCode.IDEMPOTENCY_CONFLICT,
        `producer sequence ${request.seq} was already appended with a different body`,
        { details: { firstOffset: ack.firstOffset, lastOffset: ack.lastOffset } },
      );
    }
    return { kind: 'duplicate', ack };
  }
  if (request.seq !== state.lastSeq + 1) {
    throw new EventStoreError(
      ErrorCode.PRODUCER_SEQUENCE,
      `producer sequence ${request.seq} skips ahead; expected ${state.lastSeq + 1}`,
      { details: { expectedSeq: state.lastSeq + 1 } },
    );
  }
  return { kind: 'append', fresh: false };
}

/** Records an acknowledged append of producer `id` at `epoch`; the map keeps least recently used first. */
export function recordProducer(
  producers: Map<string, ProducerState>,
  id: string,
  epoch: number,
  ack: ProducerAck,
): void {
  let state = producers.get(id);
  if (state === undefined || state.epoch !== epoch) state = { epoch, lastSeq: ack.seq, recent: [] };
  producers.delete(id);
  producers.set(id, state);
  state.lastSeq = ack.seq;
  state.recent.push(ack);
  if (state.recent.length > PRODUCER_WINDOW) state.recent.shift();
}

/** Drops the least recently used producers past `max`; returns how many. */
export function trimProducers(producers: Map<string, ProducerState>, max: number): number {
  let dropped = 0;
  while (producers.size > max) {
    producers.delete(producers.keys().next().value as string);
    dropped++;
  }
  return dropped;
}

/** A copy of the producer states, for a snapshot (the live ones keep changing). */
export function copyProducers(producers: Map<string, ProducerState>): [string, ProducerState][] {
  const list: [string, ProducerState][] = [];
  for (const [id, p] of producers)
    list.push([id, { epoch: p.epoch, lastSeq: p.lastSeq, recent: p.recent.slice() }]);
  return list;
}
