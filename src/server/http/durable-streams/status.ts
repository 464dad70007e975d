// The Durable Streams endpoint's own status rules: the table from error code to status (the server's
// table, but for the producer refusals the protocol answers differently) and the protocol's headers
// that an error's details become. Everything else about errors is the server's problem answer
// (problem.ts). Pure.

import { ErrorCode, type EventStoreError } from '../../../errors.js';
import { STATUS_BY_CODE, type StatusTable } from '../problem.js';
import { formatOffset } from './offsets.js';

/**
 * Code -> status on `/v1/stream/{path}`: a fenced producer is `403` (not `409`), a new epoch that does
 * not begin at 0 is `400`; the rest as on every other route.
 */
export const DURABLE_STREAMS_STATUS: StatusTable = {
  ...STATUS_BY_CODE,
  [ErrorCode.PRODUCER_FENCED]: 403,
  [ErrorCode.PRODUCER_EPOCH_START]: 400,
  [ErrorCode.PRODUCER_SEQUENCE]: 409,
};

/**
 * The protocol headers of a refusal: `Stream-Closed` + `Stream-Next-Offset` for a closed stream,
 * `Producer-Epoch` for a fenced producer, `Producer-Expected-Seq` / `Producer-Received-Seq` for a gap.
 */
export function durableStreamsErrorHeaders(err: unknown): Record<string, string> {
  const e = err as EventStoreError;
  const d = e.details ?? {};
  switch (e.code) {
    case ErrorCode.STREAM_CLOSED:
      return { 'stream-closed': 'true', 'stream-next-offset': formatOffset(d.nextOffset as number) };
    case ErrorCode.PRODUCER_FENCED:
      return { 'producer-epoch': String(d.currentEpoch) };
    case ErrorCode.PRODUCER_SEQUENCE:
      return {
        'producer-expected-seq': String(d.expectedSeq),
        'producer-received-seq': String(d.receivedSeq),
      };
    default:
      return {};
  }
}
