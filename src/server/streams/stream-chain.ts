// Reading a stream through its fork chain: offsets below a fork's `at` are its source's (recursively),
// the rest its own. A position is an event offset plus a byte position inside that event (byte
// streams: a read may stop inside a large chunk and resume there). Reads see acknowledged events only
// (the stream's `committed` end), and an offset the ring has evicted is an error, never a silent gap.
// Synchronous; runs on the server's thread between appends.

import { ErrorCode, EventStoreError } from '../../errors.js';
import type { Stream } from './stream.js';

/** Finds a stream by name, live or deleted but kept for its forks. */
export type StreamLookup = (name: string) => Stream | undefined;

/** A position in a stream: the event `offset` and, in a byte stream, a byte inside that event. */
export interface Position {
  offset: number;
  byte: number;
}

/** One event as a reader meets it: a JSON value, or a byte chunk (cut at the read's start byte). */
export interface Piece {
  offset: number;
  /** Byte of the event where `data` begins (0 but for the first piece of a read inside a chunk). */
  byte: number;
  data: unknown;
}

/** Events read from a ring at a time. */
const READ_BATCH = 256;

/** ES_ERR_OFFSET_EVICTED for `offset` of `stream` (the stream whose ring no longer holds it). */
export function evictedError(stream: Stream, offset: number, firstOffset: number): EventStoreError {
  return new EventStoreError(
    ErrorCode.OFFSET_EVICTED,
    `offset ${offset} of stream ${JSON.stringify(stream.name)} was evicted; the oldest offset held is ${firstOffset}`,
    { details: { firstOffset, requestedOffset: offset } },
  );
}

/**
 * The stream that holds `offset` for a reader of `stream`, and the end (exclusive) of what that
 * stream may serve to this reader: its acknowledged end, cut at every fork point on the way down.
 */
function locate(lookup: StreamLookup, stream: Stream, offset: number): { holder: Stream; end: number } {
  let holder = stream;
  let end = stream.committed;
  for (;;) {
    const fork = holder.config.fork;
    if (fork === undefined || offset >= fork.at) return { holder, end };
    const source = lookup(fork.source);
    // A fork's source is kept (deleted or not) while the fork exists; missing means nothing below.
    if (source === undefined) return { holder, end };
    end = Math.min(end, fork.at);
    holder = source;
  }
}

/**
 * The events of `stream` from `from` to its acknowledged end, through its fork chain, in order.
 * Throws ES_ERR_OFFSET_EVICTED (details `firstOffset`) when an offset on the way was evicted.
 */
export function* readPieces(lookup: StreamLookup, stream: Stream, from: Position): Generator<Piece> {
  let offset = from.offset;
  let byte = from.byte;
  const end = stream.committed;
  while (offset < end) {
    const { holder, end: segmentEnd } = locate(lookup, stream, offset);
    const first = Math.min(holder.firstOffset, holder.committed);
    if (offset < first) {
      // Below a fork's inherited range there is nothing to read but what the ring lost.
      throw evictedError(holder, offset, first);
    }
    const stop = Math.min(segmentEnd, holder.committed, offset + READ_BATCH);
    // A source whose events below the fork point are not acknowledged yet (a fork made right after
    // an append): the read ends here for now, short of the end, so the reader comes back.
    if (stop <= offset) return;
    const events = holder.store.readVersions(0, offset - holder.base, stop - offset).events;
    for (const e of events) {
      let data = e.data;
      if (byte > 0 && data instanceof Uint8Array) data = data.subarray(byte);
      yield { offset: e.offset, byte, data };
      byte = 0;
    }
    offset = stop;
  }
}

/** The event at `offset` of `stream` through its fork chain (acknowledged or not), or undefined. */
export function eventAt(lookup: StreamLookup, stream: Stream, offset: number): unknown {
  let holder = stream;
  for (;;) {
    const fork = holder.config.fork;
    if (fork === undefined || offset >= fork.at) break;
    const source = lookup(fork.source);
    if (source === undefined) return undefined;
    holder = source;
  }
  if (offset < holder.firstOffset || offset >= holder.next) return undefined;
  return holder.store.readVersions(0, offset - holder.base, 1).events[0]?.data;
}
