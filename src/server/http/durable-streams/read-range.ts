// One bounded read of a Durable Streams stream from a position: the JSON text of its messages (JSON
// streams) or its bytes (byte streams), up to a byte budget, through its fork chain (readPieces), and
// the position to read on from. A byte read may stop inside a chunk; a JSON read stops between
// messages (a message larger than the budget is still sent whole).

import { stringifyJson } from '../../../json.js';
import type { Stream } from '../../streams/stream.js';
import { type Position, readPieces } from '../../streams/stream-chain.js';
import type { RouteContext } from '../context.js';

/** What one read returns. */
export interface RangeRead {
  /** JSON streams: the JSON text of each message. */
  messages: string[];
  /** Byte streams: the chunks (the first and last possibly cut). */
  chunks: Uint8Array[];
  /** Bytes of `messages` (with separators) or `chunks`. */
  byteLength: number;
  /** Where the next read starts. */
  next: Position;
  /** The read reached the stream's acknowledged end. */
  upToDate: boolean;
}

/** Reads `stream` from `from` up to about `budget` bytes (see the file header). */
export function readRange(ctx: RouteContext, stream: Stream, from: Position, budget: number): RangeRead {
  const read: RangeRead = { messages: [], chunks: [], byteLength: 0, next: { ...from }, upToDate: false };
  const lookup = (name: string): Stream | undefined => ctx.registry.getAny(name);
  for (const piece of readPieces(lookup, stream, from)) {
    if (read.byteLength >= budget) return read;
    if (stream.json) {
      const text = stringifyJson(piece.data);
      read.messages.push(text);
      read.byteLength += Buffer.byteLength(text) + 1;
      read.next = { offset: piece.offset + 1, byte: 0 };
      continue;
    }
    const chunk = piece.data as Uint8Array;
    const room = budget - read.byteLength;
    if (chunk.length > room) {
      read.chunks.push(chunk.subarray(0, room));
      read.byteLength += room;
      read.next = { offset: piece.offset, byte: piece.byte + room };
      return read;
    }
    read.chunks.push(chunk);
    read.byteLength += chunk.length;
    read.next = { offset: piece.offset + 1, byte: 0 };
  }
  read.upToDate = true;
  return read;
}

/** The body of a catch-up read: a JSON array of the messages, or the bytes. */
export function rangeBody(stream: Stream, read: RangeRead): Buffer {
  if (stream.json) return Buffer.from(`[${read.messages.join(',')}]`);
  return Buffer.concat(read.chunks);
}
