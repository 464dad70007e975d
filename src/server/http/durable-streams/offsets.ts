// Offsets on the wire of the Durable Streams endpoint: opaque, lexicographically ordered strings
// `<event offset>_<byte in that event>`, each part zero-padded to 16 decimal digits
// (`0000000000000042_0000000000000000`), so comparing two as strings compares the positions. The byte
// part is 0 at every event boundary; a read of a byte stream that stops inside a large chunk resumes
// at a byte inside it. `-1` is the start of the stream and `now` its end. Pure functions.

import { ErrorCode, EventStoreError } from '../../../errors.js';
import type { Position } from '../../streams/stream-chain.js';

const DIGITS = 16;
const OFFSET = /^([0-9]{1,16})_([0-9]{1,16})$/;

/** The wire form of a position. */
export function formatOffset(offset: number, byte = 0): string {
  return `${String(offset).padStart(DIGITS, '0')}_${String(byte).padStart(DIGITS, '0')}`;
}

/** A position from its wire form, or undefined when `text` is not one (a 400 for the caller). */
export function parsePosition(text: string): Position | undefined {
  const m = OFFSET.exec(text);
  if (m === null) return undefined;
  const offset = Number(m[1]);
  const byte = Number(m[2]);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(byte)) return undefined;
  return { offset, byte };
}

/** A read's `offset` parameter: a position, the start (`-1`) or the end (`now`). */
export type OffsetParam = Position | 'start' | 'now';

/**
 * The `offset` query parameter: absent (undefined), `-1`, `now` or a position. Empty, repeated or
 * malformed (commas, spaces, paths, …): ES_ERR_BAD_REQUEST.
 */
export function parseOffsetParam(params: URLSearchParams): OffsetParam | undefined {
  const all = params.getAll('offset');
  if (all.length === 0) return undefined;
  const bad = (why: string): EventStoreError =>
    new EventStoreError(
      ErrorCode.BAD_REQUEST,
      `offset ${why}; it is -1 (the start), now (the end) or an offset this server returned, like ${formatOffset(0)}`,
    );
  if (all.length > 1) throw bad(`is given ${all.length} times`);
  const text = all[0]!;
  if (text === '-1') return 'start';
  if (text === 'now') return 'now';
  if (text === '') throw bad('is empty');
  const position = parsePosition(text);
  if (position === undefined) throw bad(`${JSON.stringify(text.slice(0, 60))} is not an offset`);
  return position;
}
