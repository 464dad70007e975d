// Idempotent producers under the Durable Streams protocol's rules, which differ from the `/streams`
// ones (producers.ts): a new producer or a new epoch must begin at sequence 0, and every sequence at
// or below the last one is a duplicate whatever its body (no dedupe window, no body comparison). The
// state is the same `ProducerState` the stream keeps for both (recorded by `recordProducer`). Pure.

import { ErrorCode, EventStoreError } from '../../errors.js';
import type { ProducerRequest, ProducerState } from './producers.js';

/** What a protocol producer request is: to apply (`fresh`: a new producer or epoch), or a duplicate. */
export type ProtocolProducerCheck =
  | { kind: 'accept'; fresh: boolean }
  | {
      kind: 'duplicate';
      /** The highest sequence accepted so far for this producer and epoch. */
      lastSeq: number;
    };

/**
 * Checks `request` against the producer's state on the stream (undefined: unknown). Throws
 * ES_ERR_PRODUCER_FENCED (`currentEpoch`: an older epoch), ES_ERR_PRODUCER_EPOCH_START (a newer epoch
 * that does not begin at 0) or ES_ERR_PRODUCER_SEQUENCE (`expectedSeq`, `receivedSeq`: a gap, or an
 * unknown producer not starting at 0).
 */
export function checkProtocolProducer(
  state: ProducerState | undefined,
  request: ProducerRequest,
): ProtocolProducerCheck {
  const gap = (expectedSeq: number): EventStoreError =>
    new EventStoreError(
      ErrorCode.PRODUCER_SEQUENCE,
      `producer ${JSON.stringify(request.id)} sent sequence ${request.seq}; expected ${expectedSeq}`,
      { details: { expectedSeq, receivedSeq: request.seq } },
    );
  if (state === undefined) {
    if (request.seq !== 0) throw gap(0);
    return { kind: 'accept', fresh: true };
  }
  if (request.epoch < state.epoch) {
    throw new EventStoreError(
      ErrorCode.PRODUCER_FENCED,
      `producer ${JSON.stringify(request.id)} epoch ${request.epoch} is fenced by epoch ${state.epoch}`,
      { details: { currentEpoch: state.epoch } },
    );
  }
  if (request.epoch > state.epoch) {
    if (request.seq !== 0) {
      throw new EventStoreError(
        ErrorCode.PRODUCER_EPOCH_START,
        `producer ${JSON.stringify(request.id)} began epoch ${request.epoch} at sequence ${request.seq}; a new epoch begins at 0`,
        { details: { currentEpoch: state.epoch } },
      );
    }
    return { kind: 'accept', fresh: true };
  }
  if (request.seq <= state.lastSeq) return { kind: 'duplicate', lastSeq: state.lastSeq };
  if (request.seq !== state.lastSeq + 1) throw gap(state.lastSeq + 1);
  return { kind: 'accept', fresh: false };
}
